"""The admin commands of the `thingport` binary (README.md) end to end against a running
server: product/device/pub as clients of the HTTP API, and `sign`, whose output must let
mosquitto_pub log in as the device."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Dict, Optional

import pytest

import aliyun
from apiclient import Api, broker_data_dir, token_of
from mqtt_clients import MqttClient, run_cli
from harness import MOSQUITTO_PUB, THINGPORT_BIN, WAIT, free_port

pytestmark = pytest.mark.thingport_only(reason="the thingport CLI")


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def tp(*args: str, env: Optional[Dict[str, str]] = None, broker=None) -> subprocess.CompletedProcess:
    """Runs `thingport ARGS`; with `broker`, pointed at its API and data dir."""
    cmd = [THINGPORT_BIN, *args]
    if broker is not None:
        cmd += ["--api", f"http://127.0.0.1:{broker.http_port}", "--data",
                str(broker_data_dir(broker))]
    e = {k: v for k, v in os.environ.items() if not k.startswith("THINGPORT_")}
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, timeout=60, env=e, stdin=subprocess.DEVNULL)


def device_client(client_factory, pk: str, dn: str, ds: str) -> MqttClient:
    """A paho client logged in as device pk/dn (closed at teardown)."""
    cred = aliyun.device_credentials(pk, dn, ds)
    return client_factory(client_id=cred["client_id"], username=cred["username"],
                          password=cred["password"])


def ok_json(r: subprocess.CompletedProcess):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout {r.stdout!r}\nstderr {r.stderr!r}"
    return json.loads(r.stdout)


def fails(r: subprocess.CompletedProcess, code: int, *words: str) -> str:
    err = r.stderr.decode()
    assert r.returncode == code, f"exit {r.returncode}, expected {code}\n{r.stdout!r}\n{err}"
    for w in words:
        assert w in err, err
    return err


def test_product_create_prints_key_and_secret(broker):
    p = ok_json(tp("product", "create", "cli product", broker=broker))
    assert set(p) >= {"productKey", "productSecret"} and p["name"] == "cli product"
    shown = ok_json(tp("product", "show", p["productKey"], broker=broker))
    assert shown["productSecret"] == p["productSecret"]
    listed = ok_json(tp("product", "list", "--limit", "1000", broker=broker))
    assert p["productKey"] in [x["productKey"] for x in listed["products"]]
    assert p["nodeType"] == "device"
    gw = ok_json(tp("product", "create", "cli hub", "--node-type", "gateway", broker=broker))
    assert gw["nodeType"] == "gateway"
    fails(tp("product", "create", "x", "--node-type", "router", broker=broker), 2, "router")


def test_environment_variables(broker):
    env = {"THINGPORT_API": f"http://127.0.0.1:{broker.http_port}",
           "THINGPORT_TOKEN": token_of(broker)}
    p = ok_json(tp("product", "create", "from env", env=env))
    assert len(p["productKey"]) == 11
    fails(tp("product", "create", "x", env={**env, "THINGPORT_TOKEN": "wrong"}), 1, "token",
          "401")


def test_device_lifecycle(broker, client_factory):
    pk = ok_json(tp("product", "create", "lifecycle", broker=broker))["productKey"]
    d = ok_json(tp("device", "create", pk, "cli-dev-1", broker=broker))
    assert d == {"productKey": pk, "deviceName": "cli-dev-1", "deviceSecret": d["deviceSecret"]}
    gen = ok_json(tp("device", "create", pk, broker=broker))
    assert len(gen["deviceName"]) == 20
    listed = ok_json(tp("device", "list", pk, broker=broker))
    assert listed["total"] == 2 and {x["status"] for x in listed["devices"]} == {"UNACTIVE"}
    assert ok_json(tp("device", "show", pk, "cli-dev-1", broker=broker))["status"] == "UNACTIVE"

    dev = device_client(client_factory, pk, "cli-dev-1", d["deviceSecret"])
    assert ok_json(tp("device", "show", pk, "cli-dev-1", broker=broker))["status"] == "ONLINE"
    online = ok_json(tp("device", "list", pk, "--status", "ONLINE", broker=broker))
    assert [x["deviceName"] for x in online["devices"]] == ["cli-dev-1"]
    assert ok_json(tp("device", "disable", pk, "cli-dev-1", broker=broker))["status"] == "DISABLE"
    assert dev.disconnected.wait(WAIT), "disable must disconnect the device"
    assert ok_json(tp("device", "enable", pk, "cli-dev-1", broker=broker))["status"] == "OFFLINE"
    assert ok_json(tp("device", "delete", pk, "cli-dev-1", broker=broker))["deleted"] is True
    fails(tp("device", "show", pk, "cli-dev-1", broker=broker), 1, "not found", "404")


def test_device_batch(broker):
    pk = ok_json(tp("product", "create", "batch", broker=broker))["productKey"]
    r = ok_json(tp("device", "batch", pk, "--count", "20", "--prefix", "b", broker=broker))
    assert [x["deviceName"] for x in r["devices"]][:2] == ["b001", "b002"]
    assert ok_json(tp("device", "list", pk, "--limit", "5", broker=broker))["total"] == 20


def test_api_errors_reach_stderr(broker):
    pk = ok_json(tp("product", "create", "errors", broker=broker))["productKey"]
    ok_json(tp("device", "create", pk, "dup-dev", broker=broker))
    fails(tp("device", "create", pk, "dup-dev", broker=broker), 1, "already exists", "409")
    fails(tp("device", "create", "nosuchpk1", broker=broker), 1, "product nosuchpk1 not found")
    fails(tp("device", "create", pk, "a/b", broker=broker), 1, "deviceName", "400")
    fails(tp("device", "list", pk, "--status", "ASLEEP", broker=broker), 1, "status")


def test_unreachable_server_and_missing_token(broker, tmp_path):
    port = free_port()
    fails(tp("product", "create", "x", "--api", f"http://127.0.0.1:{port}", "--token", "t"), 2,
          "cannot reach the API", str(port))
    fails(tp("product", "create", "x", "--api", "https://127.0.0.1:1", "--token", "t"), 2, "--api")
    fails(tp("product", "create", "x", "--api", f"http://127.0.0.1:{broker.http_port}",
             "--data", str(tmp_path)), 2, "no admin token")


def test_pub_reaches_subscribers(broker, client_factory):
    pk = ok_json(tp("product", "create", "pub", broker=broker))["productKey"]
    d = ok_json(tp("device", "create", pk, "pub-dev", broker=broker))
    topic = f"/{pk}/pub-dev/user/get"
    watcher = client_factory()
    assert watcher.subscribe(topic, 1) == [1]
    dev = device_client(client_factory, pk, "pub-dev", d["deviceSecret"])
    assert dev.subscribe(topic, 1) == [1]
    r = ok_json(tp("pub", pk, "pub-dev", topic, "héllo {json}", "--qos", "1", broker=broker))
    assert isinstance(r["messageId"], int)
    got = dev.get()
    assert (got.topic, got.payload, got.qos) == (topic, "héllo {json}".encode(), 1)
    assert watcher.get().payload == "héllo {json}".encode()
    fails(tp("pub", pk, "pub-dev", f"/{pk}/pub-dev/user/update", "x", broker=broker), 1,
          "may not subscribe")
    r = tp("pub", pk, "pub-dev", topic, "x", "--qos", "2", broker=broker)
    assert r.returncode != 0


# --------------------------------------------------------------------------------------------
# sign


def test_sign_output_logs_in_with_mosquitto_pub(broker, client_factory):
    api = Api(broker)
    pk = api.product("signed")["productKey"]
    ds = api.device(pk, "sign-dev")["deviceSecret"]
    watcher = client_factory()
    watcher.subscribe(f"/{pk}/sign-dev/user/update", 1)

    js = ok_json(tp("sign", "--pk", pk, "--dn", "sign-dev", "--ds", ds, "--json"))
    cmd = [MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-V", "mqttv311",
           "-i", js["clientId"], "-u", js["username"], "-P", js["password"],
           "-t", f"/{pk}/sign-dev/user/update", "-m", "from-json", "-q", "1"]
    r = run_cli(cmd)
    assert r.returncode == 0, r
    assert watcher.get().payload == b"from-json"

    # the printed command, as a user would paste it into a shell
    text = tp("sign", "--pk", pk, "--dn", "sign-dev", "--ds", ds, "--method", "hmacsha1",
              "--client-id", "paste", "--timestamp", "1700000000000", "--port",
              str(broker.port), "--host", broker.host).stdout.decode()
    lines = text.splitlines()
    assert lines[0].startswith("clientId  paste|securemode=3,signmethod=hmacsha1,")
    assert lines[1] == f"username  sign-dev&{pk}"
    expect = aliyun.device_credentials(pk, "sign-dev", ds, client_id="paste")
    assert lines[2] == f"password  {expect['password']}"
    line = lines[3]
    assert line.startswith("mosquitto_pub ")
    r = subprocess.run(["sh", "-c", line.replace("mosquitto_pub", MOSQUITTO_PUB, 1)],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r
    assert watcher.get().payload == b"hello"


def test_sign_wrong_secret_is_refused_by_the_server(broker):
    api = Api(broker)
    pk = api.product("signed-bad")["productKey"]
    api.device(pk, "sign-dev")
    js = ok_json(tp("sign", "--pk", pk, "--dn", "sign-dev", "--ds", "not-the-secret", "--json"))
    r = run_cli([MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-V", "mqttv311",
                 "-i", js["clientId"], "-u", js["username"], "-P", js["password"],
                 "-t", f"/{pk}/sign-dev/user/update", "-m", "x"])
    assert r.returncode != 0


@pytest.mark.parametrize("args,word", [
    (["--pk", "pk", "--dn", "a/b", "--ds", "s"], "--dn"),
    (["--pk", "p+k", "--dn", "dev-1", "--ds", "s"], "--pk"),
    (["--pk", "pk", "--dn", "dev-1", "--ds", "s", "--method", "sha512"], "--method"),
    (["--pk", "pk", "--dn", "dev-1", "--ds", "s", "--timestamp", "soon"], "--timestamp"),
])
def test_sign_bad_input(args, word):
    fails(tp("sign", *args), 2, word)
