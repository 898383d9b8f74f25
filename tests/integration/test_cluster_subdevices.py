"""A dead node's gateway and its sub-devices (docs/cluster.md "When a node dies"): two nodes; on
node B a gateway logs in 4 sub-devices (combine/batch_login) and logs one of them out again.
B is killed (SIGKILL). Node A, the survivor, sets the gateway and its 3 logged-in sub-devices
OFFLINE in one sweep: one status message each to an application on A, `status: OFFLINE` in A's
API; the sub-device that had logged out gets no second offline message. Everything is started
here, on free ports; the module runs once."""

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
from test_sub_sessions import SessionGateway
from test_topology import topo_sign

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL


def test_a_dead_nodes_gateway_takes_its_sub_devices_offline(tmp_path: Path):
    with two_nodes(tmp_path) as t:
        _scenario(t.a, t.b, t.made, t.count)


def _gateway_on(b, gw: dict, made: list) -> SessionGateway:
    """The gateway logged in on B, once B has heard of the device A's API made."""
    return until_made(lambda: SessionGateway(b, gw, made))


def _scenario(a, b, made, count):
    api = Api(a)
    gw_pk = api.product("cluster hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("cluster meters", nodeType="subdevice")["productKey"]
    meters = [{**api.device(sub_pk), "productKey": sub_pk} for _ in range(4)]
    gw_dev = {**api.device(gw_pk), "productKey": gw_pk}
    # The application on A sees both products' status messages.
    app = api.ok("POST", "/api/v1/apps", {"name": "watcher", "products": [gw_pk, sub_pk]}, 201)
    watcher = app_client_for(a, app, made)
    assert watcher.subscribe([(f"/as/mqtt/status/{gw_pk}/+", 1),
                              (f"/as/mqtt/status/{sub_pk}/+", 1)]) == [1, 1]

    gw = _gateway_on(b, gw_dev, made)
    assert gw.call("add", [topo_sign(m, "c") for m in meters])["code"] == 200
    r = gw.session("batch_login", {"deviceList": [topo_sign(m, "c") for m in meters]})
    assert r["code"] == 200 and len(r["data"]) == 4, r
    gone = meters[3]["deviceName"]
    assert gw.session("logout", {"productKey": sub_pk, "deviceName": gone})["code"] == 200
    names = {m["deviceName"] for m in meters[:3]} | {gw_dev["deviceName"]}
    seen = {}  # deviceName -> statuses in order
    while sum(len(v) for v in seen.values()) < 6:  # gateway + 4 sub-devices online, 1 offline
        m = json.loads(watcher.get(timeout=5).payload)
        seen.setdefault(m["deviceName"], []).append(m["status"])
    assert seen[gone] == ["online", "offline"], seen
    assert all(seen[n] == ["online"] for n in names), seen

    # Recorded on B's behalf in PostgreSQL: the gateway's link and its 3 sub-devices' logins.
    poll_until(lambda: (count("SELECT count(*) FROM cluster_link WHERE node = 'node-b'"),
                        count("SELECT count(*) FROM cluster_sub WHERE node = 'node-b'")),
               lambda n: n == (1, 3), timeout=5)

    os.kill(b.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    b.proc.wait(5)
    offline = {}
    while len(offline) < 4:
        m = json.loads(watcher.get(timeout=12).payload)
        assert m["deviceName"] not in offline, f"twice: {m}"
        assert m["deviceName"] in names, f"not on the dead node: {m}"
        assert m["status"] == "offline", m
        offline[m["deviceName"]] = time.monotonic() - t0
    print(f"\nkill -9 -> gateway and 3 sub-devices OFFLINE (status messages): "
          f"{min(offline.values()):.2f}-{max(offline.values()):.2f} s")
    for m in meters[:3] + [gw_dev]:
        # the shared store's status: written by A's status writer just after the message
        d = poll_until(
            lambda m=m: api.ok("GET",
                               f"/api/v1/products/{m['productKey']}/devices/{m['deviceName']}"),
            lambda d: d["status"] == "OFFLINE", timeout=3)
        assert d["lastOffline"] is not None and d["lastOffline"] >= d["lastOnline"], d
    assert api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{gone}")["status"] == "OFFLINE"
    assert a.log.wait_for("4 devices set offline", timeout=3), a.log.tail()
    # Nothing more: a marker status (a device logging in on A) comes next.
    assert count("SELECT count(*) FROM cluster_sub WHERE node = 'node-b'") == 0
    again = _gateway_on(a, gw_dev, made)
    m = json.loads(watcher.get(timeout=5).payload)
    assert (m["deviceName"], m["status"]) == (again.dn, "online"), m


def app_client_for(broker, app: dict, made: list):
    """An application client on `broker` with the credentials of `app` (made already)."""
    cred = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=unique_id("app"))
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    return c.connect()
