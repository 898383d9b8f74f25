"""The gateway done-when (docs/protocol.md "Gateways"): a gateway over paho registers, adds and
logs in 100 sub-devices; their pack posts are answered 200 and each one's values read back
through the API; a property set and a sync service call through the API reach a sub-device
through the gateway (the service's reply reaches the API caller); logout and the gateway's loss
set the statuses (OFFLINE, seen by an application subscriber). Then the SDK's simulator,
`thingport-device --gateway --subs 1000`, logs 1000 in against the same server."""

from __future__ import annotations

import json
import re
import subprocess
import threading

import pytest

import harness
from sdkprobe import sanitizer_env, sdk_bin
from test_sub_sessions import SessionGateway
from test_thing import TSL, app_client
from test_topology import topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")

N = 100


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def chunks(seq, n):
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def ref(d: dict) -> dict:
    return {"productKey": d["productKey"], "deviceName": d["deviceName"]}


def test_a_gateway_with_100_sub_devices(broker, api, made):
    gw_pk = api.product("fleet hubs", nodeType="gateway")["productKey"]
    sub = api.product("fleet meters", nodeType="subdevice", dynamicRegistration=True)
    pk = sub["productKey"]
    api.ok("PUT", f"/api/v1/products/{pk}/tsl", {**TSL, "profile": {"productKey": pk}})
    names = [d["deviceName"] for d in api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                                              {"prefix": "fm", "count": N}, 201)["devices"]]
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    app = app_client(api, broker, pk, made)
    assert app.subscribe([(f"/as/mqtt/status/{pk}/#", 1)]) == [1]

    # Register (the secrets come from the platform), add, log in: 100 sub-devices.
    subs = []
    for part in chunks(names, 30):
        r = gw.call("register", [{"productKey": pk, "deviceName": dn} for dn in part])
        assert r["code"] == 200, r
        subs += r["data"]
    assert len(subs) == N and all(s["deviceSecret"] for s in subs)
    for part in chunks(subs, 30):
        assert gw.call("add", [topo_sign(s, "c") for s in part])["code"] == 200
    for part in chunks(subs, 50):
        r = gw.session("batch_login", {"deviceList": [topo_sign(s, "node") for s in part]})
        assert r["code"] == 200 and len(r["data"]) == 50, r
    online = set()
    while len(online) < N:
        m = json.loads(app.get().payload)
        assert m["status"] == "online", m
        online.add(m["deviceName"])
    assert online == set(names)

    # Each posts (two packs of 50), answered 200; each one's value is readable.
    gw.c.subscribe([(f"/sys/{gw.pk}/{gw.dn}/thing/event/property/pack/post_reply", 1)])
    for i, part in enumerate(chunks(subs, 50)):
        body = {"id": f"p{i}", "version": "1.0", "method": "thing.event.property.pack.post",
                "params": {"subDevices": [{"identity": ref(s), "properties": {
                    "humidity": {"value": j % 100, "time": 1700000000000 + j}}}
                    for j, s in enumerate(part, start=i * 50)]}}
        gw.c.publish(f"/sys/{gw.pk}/{gw.dn}/thing/event/property/pack/post", json.dumps(body), 1)
        r = json.loads(gw.c.get().payload)
        assert r["id"] == f"p{i}" and r["code"] == 200, r
    for j, s in enumerate(subs):
        props = api.ok("GET", f"/api/v1/products/{pk}/devices/{s['deviceName']}/properties")
        assert [(p["identifier"], p["value"]) for p in props["properties"]] == \
            [("humidity", j % 100)]

    # A property set and a sync service call through the API reach sub-device 0 through the
    # gateway; the service's reply reaches the API caller.
    dn = subs[0]["deviceName"]
    sys = f"/sys/{pk}/{dn}"
    assert gw.c.subscribe([(f"{sys}/thing/service/property/set", 1),
                           (f"{sys}/rrpc/request/+", 1)]) == [1, 1]
    base = f"/api/v1/products/{pk}/devices/{dn}"
    sent = api.ok("POST", f"{base}/properties", {"items": {"LightSwitch": 1}})
    m = gw.c.get()
    assert m.topic == f"{sys}/thing/service/property/set"
    got = json.loads(m.payload)
    assert got["id"] == sent["id"] and got["params"] == {"LightSwitch": 1}
    gw.c.publish(m.topic + "_reply", json.dumps({"id": got["id"], "code": 200, "data": {}}), 1)
    answer = {}
    caller = threading.Thread(target=lambda: answer.update(
        r=api.call("POST", f"{base}/services/GetStatus", {"input": {}, "timeoutMs": 8000})))
    caller.start()
    m = gw.c.get_where(lambda x: x.topic.startswith(f"{sys}/rrpc/request/"))
    rid = m.topic.rsplit("/", 1)[1]
    assert json.loads(m.payload)["method"] == "thing.service.GetStatus"
    gw.c.publish(f"{sys}/rrpc/response/{rid}",
                 json.dumps({"id": rid, "code": 200, "data": {"load": 42}}), 1)
    caller.join(10)
    r = answer["r"]
    assert r.status == 200 and r.json["data"] == {"load": 42}, r

    # Logout of one: OFFLINE, status message; the gateway's loss: all the others.
    assert gw.session("logout", ref(subs[0]))["code"] == 200
    m = json.loads(app.get().payload)
    assert (m["deviceName"], m["status"]) == (dn, "offline")
    assert api.ok("GET", base)["status"] == "OFFLINE"
    gw.c.disconnect()
    offline = set()
    while len(offline) < N - 1:
        m = json.loads(app.get().payload)
        assert m["status"] == "offline", m
        offline.add(m["deviceName"])
    assert offline == set(names) - {dn}
    listed = api.ok("GET", f"/api/v1/products/{pk}/devices?status=OFFLINE&limit=1000")
    assert len([d for d in listed["devices"]]) == N


@pytest.mark.sqlite_only
def test_the_simulator_logs_1000_sub_devices_in(broker, api, tmp_path):
    gw_pk = api.product("sim hubs", nodeType="gateway")["productKey"]
    pk = api.product("sim meters", nodeType="subdevice")["productKey"]
    gw = api.device(gw_pk)
    batch = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                   {"prefix": "sm", "count": 1000}, 201)
    path = tmp_path / "subs.json"
    path.write_text(json.dumps(batch))
    proc = subprocess.run(
        [sdk_bin("cli"), "--url", f"mqtt://127.0.0.1:{broker.port}", "--gateway",
         "--product-key", gw_pk, "--device-name", gw["deviceName"], "--device-secret",
         gw["deviceSecret"], "--batch", str(path), "--subs", "1000", "--count", "1",
         "--property", "humidity=50:1:0:100"],
        capture_output=True, text=True, env=sanitizer_env(), timeout=120)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    m = re.search(r"logged in 1000 sub-devices in [\d.]+ s: (\d+) logins/s", proc.stdout)
    assert m, proc.stdout
    print(f"simulator: {m.group(1)} sub-device logins/s")
    summary = json.loads(proc.stdout.split("summary ", 1)[1].splitlines()[0])
    assert summary["logged_in"] == 1000 and summary["replies"] == {"200": 20}, summary
    # the values are stored (one sub-device checked through the API)
    last, first = batch["devices"][-1]["deviceName"], batch["devices"][0]["deviceName"]
    props = api.ok("GET", f"/api/v1/products/{pk}/devices/{last}/properties")["properties"]
    assert [p["identifier"] for p in props] == ["humidity"]
    harness.poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/devices/{first}")["status"],
                       lambda s: s == "OFFLINE")
