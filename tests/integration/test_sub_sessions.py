"""Sub-device sessions over a gateway's link (docs/protocol.md "Gateways"): combine/login and
combine/logout on /ext/session/{pk}/{dn}/combine/..., with every refusal; a logged-in
sub-device's messages go through the gateway (its posts stored as the sub-device's, the replies
and downlinks delivered to the gateway); it is ONLINE while logged in and goes OFFLINE on
logout or with the gateway's link; the official Node SDK's gateway does all of it."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from pathlib import Path

import pytest

import aliyun
from harness import poll_until
from mqtt_clients import MqttClient
from test_topology import Gateway, topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")

JS = Path(__file__).resolve().parents[1] / "js"


class SessionGateway(Gateway):
    """A Gateway that also logs sub-devices in and out."""

    def __init__(self, broker, gw: dict, made: list):
        super().__init__(broker, gw, made)
        self.c.subscribe([(f"/ext/session/{self.pk}/{self.dn}/combine/{op}_reply", 1)
                          for op in ("login", "logout", "batch_login", "batch_logout")])

    def session(self, op: str, params) -> dict:
        self.n += 1
        body = {"id": str(self.n), "version": "1.0", "params": params}
        topic = f"/ext/session/{self.pk}/{self.dn}/combine/{op}"
        self.c.publish(topic, json.dumps(body), qos=1)
        m = self.c.get()
        assert m.topic == topic + "_reply", m.topic
        reply = json.loads(m.payload)
        assert reply["id"] == str(self.n), reply
        return reply


def status(api, pk: str, dn: str) -> str:
    return api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}")["status"]


@pytest.fixture
def fleet(broker, api, made):
    gw_pk = api.product("session hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("session meters", nodeType="subdevice")["productKey"]
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    meters = [{**api.device(sub_pk), "productKey": sub_pk} for _ in range(3)]
    assert gw.call("add", [topo_sign(meters[0], "node"), topo_sign(meters[1], "c")])["code"] == 200
    return {"gw": gw, "sub_pk": sub_pk, "meters": meters}


def test_login_refusals(api, fleet):
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    assert gw.session("login", topo_sign(meters[2], "node"))["code"] == 6401  # not in its topo
    bad = topo_sign(meters[0], "c")
    bad["sign"] = "0" * 40
    assert gw.session("login", bad)["code"] == 401
    assert gw.session("login", dict(topo_sign(meters[0], "c"), deviceName="ghost-1"))["code"] \
        == 6100
    assert gw.session("login", {"productKey": sub_pk, "deviceName": meters[0]["deviceName"]}
                      )["code"] == 460
    assert gw.session("login", [topo_sign(meters[0], "c")])["code"] == 460
    api.ok("POST", f"/api/v1/products/{sub_pk}/devices/{meters[1]['deviceName']}/disable")
    assert gw.session("login", topo_sign(meters[1], "c"))["code"] == 6204
    assert status(api, sub_pk, meters[0]["deviceName"]) == "UNACTIVE"


def test_a_logged_in_sub_device_speaks_through_its_gateway(broker, api, fleet, made):
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    dn = meters[0]["deviceName"]
    post = f"/sys/{sub_pk}/{dn}/thing/event/property/post"
    body = json.dumps({"id": "7", "version": "1.0", "params": {"Temperature": 21.5},
                       "method": "thing.event.property.post"})
    # Before login the gateway may not use the sub-device's topics: refused, nothing stored.
    assert gw.c.subscribe([(post + "_reply", 1)]) == [128]
    gw.c.publish(post, body, qos=1)
    r = gw.session("login", topo_sign(meters[0], "node"))
    assert r["code"] == 200 and r["data"] == {"productKey": sub_pk, "deviceName": dn}, r
    assert api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{dn}/properties")["properties"] == []
    view = api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{dn}")
    assert view["status"] == "ONLINE" and view["ip"] == "127.0.0.1"

    # Its post, through the gateway, is stored as its own and answered to the gateway.
    assert gw.c.subscribe([(post + "_reply", 1),
                           (f"/sys/{sub_pk}/{dn}/thing/service/property/set", 1)]) == [1, 1]
    gw.c.publish(post, body, qos=1)
    m = gw.c.get()
    assert m.topic == post + "_reply" and json.loads(m.payload)["code"] == 200
    props = api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{dn}/properties")["properties"]
    assert [(p["identifier"], p["value"]) for p in props] == [("Temperature", 21.5)]
    # A downlink to it reaches the gateway.
    api.ok("POST", f"/api/v1/products/{sub_pk}/devices/{dn}/properties",
           {"items": {"Temperature": 30}})
    m = gw.c.get()
    assert m.topic == f"/sys/{sub_pk}/{dn}/thing/service/property/set"
    assert json.loads(m.payload)["params"] == {"Temperature": 30}

    # Another device (the sub-device's own product, its own link) cannot speak for it.
    other = meters[2]
    cred = aliyun.device_credentials(sub_pk, other["deviceName"], other["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    c.connect()
    assert c.subscribe([(post + "_reply", 1)]) == [128]

    # Logout: OFFLINE, and its topics are the gateway's no more.
    r = gw.session("logout", {"productKey": sub_pk, "deviceName": dn})
    assert r["code"] == 200
    assert status(api, sub_pk, dn) == "OFFLINE"
    gw.c.publish(post, body.replace("21.5", "99"), qos=1)
    assert gw.session("logout", {"productKey": sub_pk, "deviceName": dn})["code"] == 200
    props = api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{dn}/properties")["properties"]
    assert [p["value"] for p in props] == [21.5]


def test_sub_devices_go_offline_with_their_gateways_link(api, fleet):
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    for d, style in ((meters[0], "node"), (meters[1], "c")):
        assert gw.session("login", topo_sign(d, style))["code"] == 200
    assert [status(api, sub_pk, d["deviceName"]) for d in meters[:2]] == ["ONLINE", "ONLINE"]
    gw.c.close()
    poll_until(lambda: [status(api, sub_pk, d["deviceName"]) for d in meters[:2]],
               lambda v: v == ["OFFLINE", "OFFLINE"])


def test_batch_login_is_all_or_nothing(api, fleet):
    """combine/batch_login {"deviceList":[...]} (1 to 50): one refusal logs none in and names
    the sub-device; combine/batch_logout takes the same devices out."""
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    names = [d["deviceName"] for d in meters]
    r = gw.session("batch_login", {"deviceList": [topo_sign(meters[0], "node"),
                                                  topo_sign(meters[2], "c")]})
    assert r["code"] == 6401 and r["data"] == [{"productKey": sub_pk, "deviceName": names[2]}]
    assert status(api, sub_pk, names[0]) == "UNACTIVE"
    assert gw.session("batch_login", {"deviceList": []})["code"] == 460
    assert gw.session("batch_login", {"deviceList": [topo_sign(meters[0], "c")] * 51}
                      )["code"] == 460
    r = gw.session("batch_login", {"deviceList": [topo_sign(meters[0], "node"),
                                                  topo_sign(meters[1], "c")]})
    assert r["code"] == 200 and sorted(d["deviceName"] for d in r["data"]) == sorted(names[:2])
    assert [status(api, sub_pk, n) for n in names[:2]] == ["ONLINE", "ONLINE"]
    r = gw.session("batch_logout", [{"productKey": sub_pk, "deviceName": n} for n in names[:2]])
    assert r["code"] == 200 and len(r["data"]) == 2
    assert [status(api, sub_pk, n) for n in names[:2]] == ["OFFLINE", "OFFLINE"]
    assert gw.session("batch_logout", [])["code"] == 460


def test_leaving_the_topology_or_being_disabled_ends_the_session(api, fleet):
    """A sub-device deleted from its gateway's topology (over the link or the API), or
    disabled, is logged out at once: OFFLINE, and the gateway may not use its topics."""
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    a, b = meters[0]["deviceName"], meters[1]["deviceName"]
    for d, style in ((meters[0], "node"), (meters[1], "c")):
        assert gw.session("login", topo_sign(d, style))["code"] == 200
    assert gw.call("delete", [{"productKey": sub_pk, "deviceName": a}])["code"] == 200
    assert status(api, sub_pk, a) == "OFFLINE"
    assert gw.c.subscribe([(f"/sys/{sub_pk}/{a}/thing/service/property/set", 1)]) == [128]
    assert status(api, sub_pk, b) == "ONLINE"
    # Disabled: the gateway hears thing/disable on the sub-device's topic (as the C SDK's
    # gateway handles it), then the session ends.
    assert gw.c.subscribe([(f"/sys/{sub_pk}/{b}/thing/disable", 1)]) == [1]
    api.ok("POST", f"/api/v1/products/{sub_pk}/devices/{b}/disable")
    notice = gw.c.get_where(lambda m: m.topic == f"/sys/{sub_pk}/{b}/thing/disable")
    assert json.loads(notice.payload)["method"] == "thing.disable"
    poll_until(lambda: status(api, sub_pk, b), lambda s: s == "DISABLE")
    assert gw.c.subscribe([(f"/sys/{sub_pk}/{b}/thing/service/property/set", 1)]) == [128]
    api.ok("POST", f"/api/v1/products/{sub_pk}/devices/{b}/enable")
    assert status(api, sub_pk, b) == "OFFLINE", "logged out, not just hidden"

    assert gw.call("add", [topo_sign(meters[0], "c")])["code"] == 200
    assert gw.session("login", topo_sign(meters[0], "c"))["code"] == 200
    api.ok("DELETE", f"/api/v1/products/{fleet['gw'].pk}/devices/{gw.dn}/topo",
           {"subDevices": [{"productKey": sub_pk, "deviceName": a}]})
    assert status(api, sub_pk, a) == "OFFLINE"


def test_the_official_node_sdk_gateway_logs_a_sub_device_in(broker, api):
    """tests/js/aliyun_gateway.js: the official Node SDK's gateway.regiestSubDevice (the
    pre-created device's secret), gateway.addTopo, gateway.getTopo (the sub-device listed),
    gateway.login, subDevice.postProps and gateway.logout, each answered 200; the post is stored
    as the sub-device's, which is ONLINE in between and OFFLINE after."""
    gw_pk = api.product("node hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("node meters", nodeType="subdevice",
                         dynamicRegistration=True)["productKey"]
    g = {**api.device(gw_pk), "productKey": gw_pk}
    s = {**api.device(sub_pk), "productKey": sub_pk}
    keep = ("productKey", "deviceName", "deviceSecret")
    proc = subprocess.Popen(["node", str(JS / "aliyun_gateway.js"), broker.host, str(broker.port),
                             json.dumps({k: g[k] for k in keep}),
                             json.dumps({k: s[k] for k in keep})],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        steps = {}
        for line in proc.stdout:
            event = json.loads(line)
            steps[event["step"]] = event
            if event["step"] == "postProps":
                assert status(api, sub_pk, s["deviceName"]) == "ONLINE"
            if event["step"] in ("logout", "timeout", "error"):
                break
        assert proc.wait(20) == 0, (steps, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [steps[k]["code"] for k in ("regiestSubDevice", "addTopo", "getTopo", "login",
                                       "postProps", "logout")] == [200] * 6, steps
    reg = steps["regiestSubDevice"]["data"]
    assert [(d["productKey"], d["deviceName"], d["deviceSecret"]) for d in reg] == \
        [(sub_pk, s["deviceName"], s["deviceSecret"])], reg
    topo = steps["getTopo"]["data"]
    assert [(d["productKey"], d["deviceName"]) for d in topo] == [(sub_pk, s["deviceName"])], topo
    assert steps["login"]["data"] == {"productKey": sub_pk, "deviceName": s["deviceName"]}
    props = api.ok("GET", f"/api/v1/products/{sub_pk}/devices/{s['deviceName']}/properties")
    assert [(p["identifier"], p["value"]) for p in props["properties"]] == [("Temperature", 21.5)]
    assert status(api, sub_pk, s["deviceName"]) == "OFFLINE"


def test_a_synchronous_call_to_a_sub_device_is_answered_through_its_gateway(api, fleet):
    """POST .../properties/get (thing.service.property.get over RRPC) for a logged-in
    sub-device reaches the gateway on the sub-device's rrpc/request topic; the gateway's
    rrpc/response is the API's answer. An API pub to the sub-device reaches the gateway too."""
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    dn = meters[0]["deviceName"]
    sys = f"/sys/{sub_pk}/{dn}"
    assert gw.session("login", topo_sign(meters[0], "node"))["code"] == 200
    assert gw.c.subscribe([(f"{sys}/rrpc/request/+", 0), (f"/{sub_pk}/{dn}/user/get", 1)]) \
        == [0, 1]
    answer: dict = {}
    caller = threading.Thread(target=lambda: answer.update(r=api.call(
        "POST", f"/api/v1/products/{sub_pk}/devices/{dn}/properties/get",
        {"identifiers": ["Temperature"], "timeoutMs": 8000})))
    caller.start()
    req = gw.c.get_where(lambda m: m.topic.startswith(f"{sys}/rrpc/request/"))
    rid = req.topic.rsplit("/", 1)[1]
    assert json.loads(req.payload)["method"] == "thing.service.property.get"
    gw.c.publish(f"{sys}/rrpc/response/{rid}",
                 json.dumps({"id": rid, "code": 200, "data": {"Temperature": 20.5}}), qos=0)
    caller.join(10)
    r = answer["r"]
    assert r.status == 200 and r.json["data"] == {"Temperature": 20.5}, r

    api.ok("POST", "/api/v1/pub", {"productKey": sub_pk, "deviceName": dn,
                                   "topic": f"/{sub_pk}/{dn}/user/get",
                                   "payload": base64.b64encode(b"hello").decode(), "qos": 1})
    m = gw.c.get_where(lambda m: m.topic == f"/{sub_pk}/{dn}/user/get")
    assert m.payload == b"hello"


def test_a_deleted_sub_device_is_announced_to_its_gateway(api, fleet):
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    dn = meters[2]["deviceName"]
    assert gw.call("add", [topo_sign(meters[2], "c")])["code"] == 200
    assert gw.session("login", topo_sign(meters[2], "c"))["code"] == 200
    assert gw.c.subscribe([(f"/sys/{sub_pk}/{dn}/thing/delete", 1)]) == [1]
    api.ok("DELETE", f"/api/v1/products/{sub_pk}/devices/{dn}")
    notice = gw.c.get_where(lambda m: m.topic == f"/sys/{sub_pk}/{dn}/thing/delete")
    assert json.loads(notice.payload)["method"] == "thing.delete"
    poll_until(lambda: gw.c.subscribe([(f"/sys/{sub_pk}/{dn}/thing/delete", 1)]),
               lambda codes: codes == [128])
    assert [s["deviceName"] for s in api.ok("GET", f"/api/v1/products/{gw.pk}/devices/{gw.dn}/topo")
            ["subDevices"]] == sorted(d["deviceName"] for d in meters[:2])


def test_a_pack_post_stores_the_gateways_and_its_sub_devices_values(api, fleet):
    """thing.event.property.pack.post: the gateway's own properties and events and each
    logged-in sub-device's, stored as each device's, answered once; a sub-device not logged
    in through this gateway refuses the whole pack (6401) and nothing is stored."""
    gw, meters, sub_pk = fleet["gw"], fleet["meters"], fleet["sub_pk"]
    a, b = meters[0]["deviceName"], meters[1]["deviceName"]
    topic = f"/sys/{gw.pk}/{gw.dn}/thing/event/property/pack/post"
    assert gw.c.subscribe([(topic + "_reply", 1)]) == [1]
    assert gw.session("login", topo_sign(meters[0], "node"))["code"] == 200

    def pack(n: int, subs: list) -> dict:
        body = {"id": str(n), "version": "1.0", "method": "thing.event.property.pack.post",
                "params": {"properties": {"Uptime": {"value": n, "time": 1700000000000}},
                           "subDevices": subs}}
        gw.c.publish(topic, json.dumps(body), qos=1)
        m = gw.c.get_where(lambda m: m.topic == topic + "_reply")
        return json.loads(m.payload)

    def values(pk: str, dn: str) -> dict:
        props = api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/properties")["properties"]
        return {p["identifier"]: p["value"] for p in props}

    refused = pack(1, [{"identity": {"productKey": sub_pk, "deviceName": a},
                        "properties": {"Temperature": 20}},
                       {"identity": {"productKey": sub_pk, "deviceName": b},
                        "properties": {"Temperature": 21}}])
    assert refused["code"] == 6401 and refused["id"] == "1", refused
    assert values(gw.pk, gw.dn) == {} and values(sub_pk, a) == {}

    ok = pack(2, [{"identity": {"productKey": sub_pk, "deviceName": a},
                   "properties": {"Temperature": {"value": 22.5, "time": 1700000000000},
                                  "Humidity": 40}}])
    assert ok["code"] == 200 and ok["id"] == "2", ok
    assert values(gw.pk, gw.dn) == {"Uptime": 2}
    assert values(sub_pk, a) == {"Temperature": 22.5, "Humidity": 40}
    assert pack(3, "not a list")["code"] == 460
