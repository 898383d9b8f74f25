"""The server refuses what it cannot do, at start, with the file, the key and the reason: unknown
keys, keys of features not built yet, invalid values, a taken port. Exit codes: 2 for a usage
error on the command line, 1 for everything refused at start, 0 for --help and --version."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

import harness
from harness import BrokerProcess

pytestmark = pytest.mark.thingport_only(reason="thingport's command line and config")


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([harness.THINGPORT_BIN, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def serve_with(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n[http]\nlisten = ""\n' + text)
    return run("serve", "--config", str(cfg))


@pytest.mark.parametrize("text,key,words", [
    ('[limits]\nmax_paylod = 5\n', "limits.max_paylod", "unknown key"),
    ('[store]\nbackend = "postgres"\n', "store.url", "required"),
    ('[store]\nbackend = "mysql"\n', "store.backend", "must be"),
    ('[cluster]\nnats = "nats://127.0.0.1:4222"\n', "cluster.nats", "postgres"),
    ('[cluster]\nnats = "127.0.0.1:4222"\n', "cluster.nats", "nats://host:port"),
    ('[log]\nlevel = "verbose"\n', "log.level", "unknown level"),
    ('[listeners]\ntcp = "127.0.0.1:99999"\n', "listeners.tcp", "bad port"),
    ('[limits]\nmax_payload = -1\n', "limits.max_payload", "out of range"),
    ('[limits]\nmax_outbound = "lots"\n', "limits.max_outbound", "bad size"),
    ('[server]\nworkers = 100000\n', "server.workers", ""),
    ('[limits]\nmax_inflight_out = 2000\n', "limits.max_inflight_out", "1..1024"),
], ids=["unknown-key", "postgres-no-url", "backend", "cluster", "cluster-url", "log-level", "port",
        "negative", "size", "workers", "inflight-out"])
def test_bad_config_is_refused_with_file_key_and_reason(tmp_path, text, key, words):
    r = serve_with(tmp_path, text)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "bad.toml" in r.stderr and key in r.stderr and words in r.stderr, r.stderr
    assert "listening" not in r.stdout


@pytest.mark.parametrize("text,key,words", [
    ('[listeners]\ntcp = { address = "127.0.0.1:0", proxy = true }\n', "listeners.tcp.proxy",
     "unknown key"),
    ('[listeners]\ntls = { proxy_protocol = true }\n', "listeners.tls.address", "missing"),
    ('[listeners]\nws = { address = "127.0.0.1:0", proxy_protocol = "yes" }\n',
     "listeners.ws.proxy_protocol", "expected true or false"),
    ('[listeners]\nauto = { address = "127.0.0.1:99999", proxy_protocol = true }\n',
     "listeners.auto", "bad port"),
    ('[listeners]\ntcp = 1883\n', "listeners.tcp", "expected"),
    ('[cluster]\nnode = "a b"\n', "cluster.node", "letters, digits"),
    ('[cluster]\nnode = "a"\nmembers = 3\n', "cluster.members", "unknown key"),
    ('[cluster]\nreplicas = 7\n', "cluster.replicas", "1..5"),
    ('[cluster]\nreplicas = 0\n', "cluster.replicas", "1..5"),
], ids=["unknown", "no-address", "not-bool", "port", "number", "node-name", "cluster-key",
        "replicas-7", "replicas-0"])
def test_a_bad_listener_or_cluster_key_is_refused(tmp_path, text, key, words):
    r = serve_with(tmp_path, text)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "bad.toml" in r.stderr and key in r.stderr and words in r.stderr, r.stderr
    assert "listening" not in r.stdout


def test_a_taken_port_names_the_listener_and_exits_1(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        r = serve_with(tmp_path, f'[listeners]\ntcp = "127.0.0.1:{port}"\nws = ""\ntls = ""\n'
                                 'wss = ""\n')
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"tcp on 127.0.0.1:{port}" in r.stderr and "in use" in r.stderr, r.stderr


def test_version_help_and_usage_errors():
    v = run("--version")
    assert v.returncode == 0 and v.stdout.startswith("thingport ") and "(" in v.stdout, v
    for cmd in (["--help"], ["serve", "--help"], ["product", "--help"], ["device", "--help"],
                ["store", "check", "--help"], ["cert", "dev", "--help"]):
        h = run(*cmd)
        assert h.returncode == 0 and "Usage" in h.stdout, (cmd, h.stdout, h.stderr)
    for cmd in (["serve", "--no-such-flag"], ["no-such-command"], []):
        u = run(*cmd)
        assert u.returncode == 2, (cmd, u.returncode, u.stderr)


def test_cmake_install_gives_a_working_binary(tmp_path):
    build = Path(harness.THINGPORT_BIN).resolve().parents[2]
    if not (build / "cmake_install.cmake").exists():
        pytest.fail(f"{build} is not a CMake build directory")
    r = subprocess.run(["cmake", "--install", str(build), "--prefix", str(tmp_path / "inst")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    installed = tmp_path / "inst" / "bin" / "thingport"
    v = subprocess.run([str(installed), "--version"], capture_output=True, text=True, timeout=20)
    assert v.returncode == 0 and v.stdout.startswith("thingport "), v
    os.makedirs(tmp_path / "d", exist_ok=True)
    c = subprocess.run([str(installed), "store", "check", "--data", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60)
    assert "no database" in c.stderr, c  # it ran, and looked where it was told


def test_run_script_leaves_a_running_mosquitto_running(tmp_path):
    """scripts/run.sh on a machine where Mosquitto already serves: the script installs nothing
    test-only, stops nothing, and reports the taken port; Mosquitto keeps serving."""
    mosq = BrokerProcess(tmp_path / "mosquitto", kind="mosquitto")
    mosq.start()
    try:
        cfg = tmp_path / "run.toml"
        cfg.write_text(f'data_dir = "{tmp_path}/data"\n[http]\nlisten = ""\n'
                       f'[listeners]\ntcp = "127.0.0.1:{mosq.port}"\nws = ""\ntls = ""\nwss = ""\n')
        env = dict(os.environ, THINGPORT_BIN=str(Path(harness.THINGPORT_BIN).resolve()))
        r = subprocess.run([str(Path(__file__).resolve().parents[2] / "scripts" / "run.sh"), "--config", str(cfg)],
                           capture_output=True, text=True, timeout=300, env=env,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert f"tcp on 127.0.0.1:{mosq.port}" in r.stderr and "in use" in r.stderr, r.stderr
        assert mosq.proc is not None and mosq.proc.poll() is None, "mosquitto was stopped"
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosq.port),
                                "-t", "still/here", "-C", "1", "-W", "10"],
                               stdout=subprocess.PIPE, text=True)
        try:
            deadline = 20
            while sub.poll() is None and deadline > 0:
                subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosq.port),
                                "-t", "still/here", "-m", "alive"], timeout=10, check=True)
                try:
                    sub.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    deadline -= 1
            out, _ = sub.communicate(timeout=10)
        finally:
            if sub.poll() is None:
                sub.kill()
        assert out.strip() == "alive", out
    finally:
        mosq.stop()
