"""A NATS server for the cluster tests (docs/cluster.md): nats-server on a free loopback port
with its own temp dir, started, stopped (SIGTERM) or killed (SIGKILL) and started again on the
same port. Several can form a NATS cluster (routes, `cluster_of`); a monitoring port tells which
clients are connected to which server. Waits are on its "Server is ready" log line, with a
deadline."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Iterator, List, Optional

from apiclient import Api
from harness import BrokerProcess, OutputLog, _track, free_port, kill_process, poll_until
from pgserver import PgServer

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, port: Optional[int] = None, cluster_port: Optional[int] = None,
                 routes: Optional[List[int]] = None, jetstream: bool = True) -> None:
        self.port = port or free_port()
        self.cluster_port = cluster_port  # with routes: a member of a NATS cluster
        self.routes = routes or []
        self.jetstream = jetstream
        self.monitor_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tp-nats-"))
        self.proc: Optional[subprocess.Popen] = None
        self.log = OutputLog()
        self._readers: List[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "NatsServer":
        assert self.proc is None or self.proc.poll() is not None, "nats-server already running"
        self.log = OutputLog()
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "--pid",
                str(self.dir / "pid"), "-m", str(self.monitor_port), "-n", f"tp-{self.port}"]
        if self.jetstream:  # (retained messages), its files here: kept across a restart
            args += ["-js", "-sd", str(self.dir / "js")]
        if self.cluster_port:
            args += ["--cluster_name", "tp", "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                     "--routes", ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)]
        self.proc = subprocess.Popen(
            args,
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        _track(self.proc)
        t = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        t.start()
        self._readers = [t]
        if not self.log.wait_for("Server is ready", timeout=timeout):
            self.stop()
            raise AssertionError(f"nats-server not ready within {timeout}s:\n{self.log.tail()}")
        return self

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.log.add(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def stop(self) -> None:
        if self.proc is not None:
            kill_process(self.proc)
            for t in self._readers:
                t.join(2)

    def kill(self) -> None:
        """SIGKILL: the server vanishes without closing anything cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
            for t in self._readers:
                t.join(2)

    def client_names(self) -> List[str]:
        """The names of the clients connected to this server (its monitoring /connz)."""
        url = f"http://127.0.0.1:{self.monitor_port}/connz"
        with urllib.request.urlopen(url, timeout=2) as r:
            return [c.get("name", "") for c in json.load(r).get("connections") or []]

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def cluster_of(n: int) -> List[NatsServer]:
    """n servers that route to each other (not started)."""
    cports = [free_port() for _ in range(n)]
    return [NatsServer(cluster_port=cports[i], routes=[p for j, p in enumerate(cports) if j != i])
            for i in range(n)]


def stream_messages(servers: List["NatsServer"]) -> Optional[int]:
    """Messages in the retained stream, the most any live server's monitoring sees (a replica
    may lag); None before the stream exists."""
    most = None
    for s in servers:
        if s.proc is None or s.proc.poll() is not None:
            continue
        url = f"http://127.0.0.1:{s.monitor_port}/jsz?streams=true"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                doc = json.load(r)
        except OSError:
            continue
        for acc in doc.get("account_details") or []:
            for st in acc.get("stream_detail") or []:
                if st.get("name") == "THINGPORT_RETAINED":
                    n = int(st["state"]["messages"])
                    most = n if most is None else max(most, n)
    return most


def node_config(name: str, nats_urls: str, pg_url: str, replicas: int = 1) -> str:
    """thingport.toml of a cluster node `name` on the NATS URLs and a PostgreSQL store."""
    return (f'[cluster]\nnats = "{nats_urls}"\nnode = "{name}"\nreplicas = {replicas}\n'
            f'[store]\nbackend = "postgres"\nurl = "{pg_url}"\n'
            '[limits]\nconnect_rate = 0\n')


def start_node(root: Path, name: str, nats_urls: str, pg_url: str,
               behind_balancer: bool = False, replicas: int = 1) -> BrokerProcess:
    """Cluster node `node-{name}` (data dir root/name) started on the NATS URLs and PostgreSQL.
    behind_balancer: its tcp listener takes a PROXY header first (a balancer's), and an `auto`
    listener (no header) serves the test's own clients."""
    node = BrokerProcess(root / name,
                         thingport_config=node_config(f"node-{name}", nats_urls, pg_url, replicas))
    if behind_balancer:
        text = node.config_path.read_text()
        plain = 'tcp = "127.0.0.1:0"\n'
        assert plain in text, text
        node.config_path.write_text(text.replace(
            plain, 'tcp = { address = "127.0.0.1:0", proxy_protocol = true }\n'
                   'auto = "127.0.0.1:0"\n', 1))
    node.start()
    return node


def listener_port(node: BrokerProcess, kind: str) -> int:
    """The port of the node's `kind` listener, from its "listening" line."""
    with node._listen_cv:
        assert node._listen_cv.wait_for(lambda: kind in node._listeners, 5), node.log.tail()
        return node._listeners[kind][1]


class TwoNodes:
    """Nodes `a` and `b` on one NATS server (`nats`) and one PostgreSQL database (`pg`, `url`);
    `made`: clients closed at the end; check_b: B must still run at the end and stop cleanly
    (else, when it still runs, it is killed: a test that killed or froze it failed half-way)."""

    def __init__(self, a: BrokerProcess, b: BrokerProcess, pg, url: str,
                 nats: "NatsServer") -> None:
        self.a, self.b, self.pg, self.url, self.nats = a, b, pg, url, nats
        self.made: list = []
        self.check_b = False

    def count(self, sql: str) -> int:
        """A `SELECT count(*) ...` on the cluster's database."""
        return int(self.pg.psql(self.url, sql).strip())


@contextlib.contextmanager
def two_nodes(root: Path, behind_balancer: bool = False,
              pg: Optional[PgServer] = None) -> Iterator[TwoNodes]:
    """NATS, PostgreSQL and two cluster nodes (node-a, node-b), all stopped at the end: the
    clients first, then B, then A (exit 0 on SIGTERM, sanitizers clean). Yields once A lists both
    nodes up; on a failure both nodes' log tails are printed. `pg`: a PostgreSQL server already
    running (a database of its own is made on it), else one is started here."""
    with NatsServer() as nats, contextlib.ExitStack() as stack:
        if pg is None:
            pg = stack.enter_context(PgServer())
        url = pg.create_database()
        a = start_node(root, "a", nats.url, url, behind_balancer)
        b = start_node(root, "b", nats.url, url, behind_balancer)
        t = TwoNodes(a, b, pg, url, nats)
        try:
            poll_until(lambda: [n["state"] for n in Api(a).ok("GET", "/api/v1/cluster")["nodes"]],
                       lambda s: s == ["up", "up"], timeout=5)
            yield t
        except BaseException:
            print(f"--- node A:\n{a.log.tail()}\n--- node B:\n{b.log.tail()}")
            raise
        finally:
            for c in t.made:
                c.close()
            if t.check_b:
                b.stop_and_check()
            else:
                if b.proc is not None and b.proc.poll() is None:
                    os.kill(b.proc.pid, signal.SIGKILL)
                    b.proc.wait(5)
                b.stop()
            a.stop_and_check()


def until_made(make, timeout: float = 5.0):
    """make() again until it does not fail an assertion (a node refuses a device it has not
    heard of yet: registry changes cross within 1 s); its result."""
    def attempt():
        try:
            return make()
        except AssertionError:
            return None
    return poll_until(attempt, lambda made: made is not None, timeout=timeout)
