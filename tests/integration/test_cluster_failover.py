"""A dead node's devices and wills (docs/cluster.md "When a node dies"): two nodes; on node B a
generic client with a will, a signed device with a will, and a second device (with a will) that
logs in again on node A while B is frozen (SIGSTOP). B is then killed (SIGKILL). Node A, the
survivor, publishes the first two wills once each, sets the first device OFFLINE (the status
message to an application, lastOffline in the API), and leaves the device that moved ONLINE
without its will. Everything is started here, on free ports; the module runs once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

import aliyun
from apiclient import Api
from harness import poll_until, unique_id
from mqtt_clients import MqttClient
from natsserver import two_nodes, until_made

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL


def test_a_dead_nodes_wills_and_devices(tmp_path: Path):
    with two_nodes(tmp_path) as t:
        def client(broker, **kw) -> MqttClient:
            c = MqttClient(broker, **kw)
            t.made.append(c)
            return c

        _scenario(t.a, t.b, client,
                  lambda node: t.count(f"SELECT count(*) FROM cluster_link WHERE node = '{node}'"))


def _connect_device(client, broker, cred, will):
    def connect():
        c = client(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"], will=will)
        try:
            return c.connect(timeout=2)
        except AssertionError:
            c.close()
            raise
    return until_made(connect, timeout=3)


def _scenario(a, b, client, links):
    api = Api(a)
    pk = api.product("failover product")["productKey"]
    d1 = api.device(pk, "dev-1")
    d2 = api.device(pk, "dev-2")
    app = api.ok("POST", "/api/v1/apps", {"name": "watcher", "products": [pk]}, 201)
    acred = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=unique_id("app"))
    watcher = client(a, client_id=acred["client_id"], username=acred["username"],
                     password=acred["password"])
    poll_until(lambda: _try(watcher.connect), lambda ok: ok, timeout=3)
    assert watcher.subscribe(f"/as/mqtt/status/{pk}/+", 1) == [1]
    assert watcher.subscribe(f"/{pk}/+/user/update", 1) == [1]
    u = unique_id("w")
    will_topic = f"wills/{u}"
    sub = client(a)
    sub.connect()
    assert sub.subscribe(f"wills/{u}", 1) == [1]

    # On B: a generic client with a will, device 1 and device 2 (each with a will).
    client(b, client_id=unique_id("g"), will=(will_topic, b"gone", 1, False)).connect()
    c1 = aliyun.device_credentials(pk, "dev-1", d1["deviceSecret"], client_id=unique_id("d1"))
    c2 = aliyun.device_credentials(pk, "dev-2", d2["deviceSecret"], client_id=unique_id("d2"))
    _connect_device(client, b, c1, (f"/{pk}/dev-1/user/update", b"will-1", 1, False))
    _connect_device(client, b, c2, (f"/{pk}/dev-2/user/update", b"will-2", 1, False))
    online = set()
    while len(online) < 2:
        m = watcher.get_where(lambda m: m.topic.startswith(f"/as/mqtt/status/{pk}/"), timeout=3)
        assert json.loads(m.payload)["status"] == "online", m.payload
        online.add(m.topic)

    # A link's record is written just after its CONNACK (docs/cluster.md): wait for B's three.
    poll_until(lambda: links("node-b"), lambda n: n == 3, timeout=5)

    # B freezes; device 2 logs in again on A (B cannot close its old link: it is frozen).
    os.kill(b.proc.pid, signal.SIGSTOP)
    moved = _connect_device(client, a, c2, (f"/{pk}/dev-2/user/update", b"will-2", 1, False))
    m = watcher.get_where(lambda m: m.topic == f"/as/mqtt/status/{pk}/dev-2", timeout=3)
    assert json.loads(m.payload)["status"] == "online"
    poll_until(lambda: links("node-a"), lambda n: n == 1, timeout=5)  # device 2's
    os.kill(b.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    b.proc.wait(5)

    # The generic client's will, once: a marker published after it comes next.
    w = sub.get_where(lambda m: m.topic == will_topic, timeout=12)
    took_will = time.monotonic() - t0
    assert w.payload == b"gone" and w.qos == 1
    # Device 1: its will and its offline status message, both once.
    got = {}
    others = []  # anything else the application got meanwhile
    while len(got) < 2:
        m = watcher.get_where(lambda m: m.topic in (f"/as/mqtt/status/{pk}/dev-1",
                                                   f"/{pk}/dev-1/user/update")
                              or bool(others.append(m)), timeout=5)
        assert m.topic not in got, f"twice: {m.topic}"
        got[m.topic] = m.payload
    took_offline = time.monotonic() - t0
    assert got[f"/{pk}/dev-1/user/update"] == b"will-1"
    status = json.loads(got[f"/as/mqtt/status/{pk}/dev-1"])
    assert status["status"] == "offline" and status["deviceName"] == "dev-1"
    # Stored: A's API shows the device's lastOffline after its lastOnline.
    dev1 = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/devices/dev-1"),
                      lambda d: d["lastOffline"] is not None and d["lastOnline"] is not None
                      and d["lastOffline"] >= d["lastOnline"], timeout=3)
    assert dev1["status"] == "OFFLINE"
    print(f"\nkill -9 -> will on node A: {took_will:.2f} s; "
          f"-> device OFFLINE (status message): {took_offline:.2f} s")

    # Markers: nothing of the dead node came twice, and device 2 (moved) got no will and no
    # offline status.
    marker = client(a)
    marker.connect()
    marker.publish(will_topic, b"marker", qos=1)
    assert sub.get_where(lambda m: m.topic == will_topic, timeout=3).payload == b"marker"
    assert a.log.wait_for("node node-b is down", timeout=3), a.log.tail()
    assert a.log.wait_for("1 logged in again elsewhere", timeout=1), a.log.tail()
    end = f"/{pk}/dev-2/user/update"
    moved.publish(end, b"marker", qos=1)
    for m in others + watcher.collect_until(end, b"marker", timeout=3):
        assert m.topic != f"/as/mqtt/status/{pk}/dev-2", m.payload
        assert m.payload != b"will-2", m.topic
        assert m.topic != f"/as/mqtt/status/{pk}/dev-1", m.payload  # once only
    assert api.ok("GET", f"/api/v1/products/{pk}/devices/dev-2")["status"] == "ONLINE"


def _try(connect) -> bool:
    try:
        connect(timeout=2)
        return True
    except AssertionError:
        return False
