"""A gateway's sub-devices through the API (docs/http-api.md "Gateways"): GET, POST and DELETE
/api/v1/products/{pk}/devices/{dn}/topo with every refusal: not a gateway, not a sub-device,
unknown devices, names repeated or malformed, over 1500 (a sub-device another gateway holds
moves, as the cloud does); a
sub-device's status follows its own link; topology survives a restart and goes with a deleted
device. Sub-device logins are test_sub_sessions.py's."""

from __future__ import annotations

import json

import pytest

import aliyun
from harness import poll_until
from mqtt_clients import MqttClient

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")


def topo(api, pk, dn):
    return f"/api/v1/products/{pk}/devices/{dn}/topo"


def subs(api, pk, dn) -> list:
    return [(s["productKey"], s["deviceName"], s["status"])
            for s in api.ok("GET", topo(api, pk, dn))["subDevices"]]


def refs(*devices) -> dict:
    return {"subDevices": [{"productKey": pk, "deviceName": dn} for pk, dn in devices]}


def error(r, status: int, *words: str) -> None:
    assert r.status == status, r
    for w in words:
        assert w in r.json["message"], r.json


@pytest.fixture(scope="module")
def fleet(api):
    gw_pk = api.product("hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("meters", nodeType="subdevice")["productKey"]
    plain_pk = api.product("lamps")["productKey"]
    return {"gw": gw_pk, "sub": sub_pk, "plain": plain_pk,
            "hubs": [api.device(gw_pk)["deviceName"] for _ in range(2)],
            "meters": [api.device(sub_pk) for _ in range(4)],
            "lamp": api.device(plain_pk)["deviceName"]}


def test_add_list_remove_and_status(broker, api, fleet, made):
    gw, hub = fleet["gw"], fleet["hubs"][0]
    m = [d["deviceName"] for d in fleet["meters"]]
    assert subs(api, gw, hub) == []
    added = api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[1]), (fleet["sub"], m[0])))
    assert [s["deviceName"] for s in added["subDevices"]] == sorted([m[0], m[1]])
    # adding one again changes nothing
    api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[0])))
    assert subs(api, gw, hub) == sorted([(fleet["sub"], m[0], "UNACTIVE"),
                                         (fleet["sub"], m[1], "UNACTIVE")])
    # a sub-device's status is its own (here: it logs in itself)
    d = fleet["meters"][0]
    cred = aliyun.device_credentials(fleet["sub"], d["deviceName"], d["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    c.connect()
    poll_until(lambda: dict((dn, st) for _, dn, st in subs(api, gw, hub)),
               lambda v: v[m[0]] == "ONLINE" and v[m[1]] == "UNACTIVE")
    removed = api.ok("DELETE", topo(api, gw, hub), refs((fleet["sub"], m[1])))
    assert [s["deviceName"] for s in removed["subDevices"]] == [m[0]]


def test_refusals(api, fleet):
    gw, hub, other = fleet["gw"], fleet["hubs"][0], fleet["hubs"][1]
    m = [d["deviceName"] for d in fleet["meters"]]
    api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[2])))
    # all or nothing: one unknown device and nothing moves
    error(api.call("POST", topo(api, gw, other), refs((fleet["sub"], m[2]),
                                                       (fleet["sub"], "ghost-device"))), 404)
    assert subs(api, gw, other) == []
    # another gateway taking a sub-device moves it, as the cloud does
    api.ok("POST", topo(api, gw, other), refs((fleet["sub"], m[2])))
    assert [dn for _, dn, _ in subs(api, gw, other)] == [m[2]]
    assert m[2] not in [dn for _, dn, _ in subs(api, gw, hub)]
    api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[2])))
    error(api.call("GET", topo(api, fleet["plain"], fleet["lamp"])), 409, "not a gateway")
    error(api.call("POST", topo(api, gw, other), refs((fleet["plain"], fleet["lamp"]))), 409,
          "not a sub-device")
    error(api.call("POST", topo(api, gw, other), refs((fleet["sub"], "ghost-device"))), 404,
          "ghost-device")
    error(api.call("GET", topo(api, gw, "ghost-hub")), 404)
    error(api.call("DELETE", topo(api, gw, other), refs((fleet["sub"], m[2]))), 404,
          "is not a sub-device of")
    for body, words in [({}, ["subDevices"]), ({"subDevices": []}, ["1 to 100"]),
                        ({"subDevices": [{"productKey": gw}]}, ["deviceName"]),
                        ({"subDevices": [{"productKey": gw, "deviceName": 5}]}, ["strings"]),
                        (refs((fleet["sub"], m[3]), (fleet["sub"], m[3])), ["twice"]),
                        ({"subDevices": refs((fleet["sub"], m[3]))["subDevices"] * 101},
                         ["1 to 100"]),
                        ({"subDevices": [], "extra": 1}, ["unknown field"])]:
        error(api.call("POST", topo(api, gw, other), body), 400, *words)
    assert api.call("GET", topo(api, gw, hub), token=None).status == 401


def test_a_gateway_holds_at_most_1500(broker, api, fleet, made):
    gw = fleet["gw"]
    hub_dev = api.device(gw)
    hub = hub_dev["deviceName"]
    many_pk = api.product("many meters", nodeType="subdevice")["productKey"]
    devices = api.ok("POST", f"/api/v1/products/{many_pk}/devices/batch",
                     {"prefix": "m", "count": 1501}, 201)["devices"]
    names = [d["deviceName"] for d in devices]
    for i in range(0, 1500, 100):
        api.ok("POST", topo(api, gw, hub), refs(*[(many_pk, n) for n in names[i:i + 100]]))
    error(api.call("POST", topo(api, gw, hub), refs((many_pk, names[1500]))), 409, "1500")
    # the limit plus one over the gateway's own link: the Alink code the SDKs know, nothing added
    link = Gateway(broker, {**hub_dev, "productKey": gw}, made)
    assert link.call("add", [topo_sign({**devices[1500], "productKey": many_pk}, "c")])["code"] \
        == 460
    assert len(subs(api, gw, hub)) == 1500


def test_topology_survives_a_restart_and_goes_with_deleted_devices(broker, api, fleet):
    gw, hub = fleet["gw"], fleet["hubs"][1]
    m = [d["deviceName"] for d in fleet["meters"]]
    api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[3])))
    broker.restart()
    assert [dn for _, dn, _ in subs(api, gw, hub)] == [m[3]]
    api.ok("DELETE", f"/api/v1/products/{fleet['sub']}/devices/{m[3]}")
    assert subs(api, gw, hub) == []


# ---- the gateway's own link: thing.topo.add / get / delete ------------------------------------

def topo_sign(d: dict, style: str) -> dict:
    """A sub-device's entry of thing.topo.add as each official SDK writes it: the C SDK
    (clientId "pk.dn", lowercase "signmethod", timestamp a string) and the Node SDK (clientId
    "pk&dn", "signMethod", timestamp a number)."""
    pk, dn = d["productKey"], d["deviceName"]
    cid, ts = (f"{pk}.{dn}", "123456") if style == "c" else (f"{pk}&{dn}", 1700000000000)
    content = f"clientId{cid}deviceName{dn}productKey{pk}timestamp{ts}"  # Node: ts is a number
    entry = {"productKey": pk, "deviceName": dn, "clientId": cid, "timestamp": ts,
             "sign": aliyun.hmac_hex("hmacsha1", d["deviceSecret"], content)}
    entry["signmethod" if style == "c" else "signMethod"] = "hmacSha1" if style == "c" else "hmacsha1"
    return entry


class Gateway:
    """A gateway device over paho, subscribed to its topo and sub/register replies."""

    def __init__(self, broker, gw: dict, made: list):
        self.pk, self.dn = gw["productKey"], gw["deviceName"]
        cred = aliyun.device_credentials(self.pk, self.dn, gw["deviceSecret"])
        self.c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                            password=cred["password"])
        made.append(self.c)
        self.c.connect()
        self.c.subscribe([(f"/sys/{self.pk}/{self.dn}/thing/topo/{op}_reply", 1)
                          for op in ("add", "delete", "get")] +
                         [(f"/sys/{self.pk}/{self.dn}/thing/sub/register_reply", 1)])
        self.n = 0

    def call(self, op: str, params, ack: bool = True) -> dict | None:
        self.n += 1
        group = "sub" if op == "register" else "topo"
        body = {"id": str(self.n), "version": "1.0", "params": params,
                "method": f"thing.{group}.{op}"}
        if not ack:
            body["sys"] = {"ack": 0}
        self.c.publish(f"/sys/{self.pk}/{self.dn}/thing/{group}/{op}", json.dumps(body), qos=1)
        if not ack:
            return None
        m = self.c.get()
        assert m.topic == f"/sys/{self.pk}/{self.dn}/thing/{group}/{op}_reply", m.topic
        reply = json.loads(m.payload)
        assert reply["id"] == str(self.n) and reply["method"] == f"thing.{group}.{op}", reply
        return reply


def names(reply: dict) -> list:
    return sorted(d["deviceName"] for d in reply["data"])


def test_a_gateway_manages_its_topology_over_its_own_link(broker, api, made):
    gw_pk = api.product("link hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("link meters", nodeType="subdevice")["productKey"]
    plain_pk = api.product("link lamps")["productKey"]
    gw = Gateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    m = [{**api.device(sub_pk), "productKey": sub_pk} for _ in range(3)]

    assert gw.call("get", {})["data"] == []
    r = gw.call("add", [topo_sign(m[0], "c"), topo_sign(m[1], "node")])
    assert r["code"] == 200 and names(r) == sorted([m[0]["deviceName"], m[1]["deviceName"]])
    assert [s["deviceName"] for s in api.ok("GET", topo(api, gw_pk, gw.dn))["subDevices"]] == \
        sorted([m[0]["deviceName"], m[1]["deviceName"]])

    # refusals: nothing added by any of them
    bad = topo_sign(m[2], "c")
    bad["sign"] = "0" * 40
    assert gw.call("add", [bad])["code"] == 401
    lamp = {**api.device(plain_pk), "productKey": plain_pk}
    assert gw.call("add", [topo_sign(lamp, "c")])["code"] == 400
    ghost = dict(topo_sign(m[2], "c"), deviceName="ghost-meter")
    assert gw.call("add", [ghost])["code"] == 6100
    assert gw.call("add", [{"productKey": sub_pk}])["code"] == 460
    assert gw.call("add", [topo_sign(m[2], "c")] * 31)["code"] == 460
    assert gw.call("add", {"productKey": sub_pk})["code"] == 460
    assert names(gw.call("get", {})) == sorted([m[0]["deviceName"], m[1]["deviceName"]])

    # delete: only its own; sys.ack 0 is done without a reply
    pair = [{"productKey": sub_pk, "deviceName": m[2]["deviceName"]}]
    assert gw.call("delete", pair)["code"] == 6100
    r = gw.call("delete", [{"productKey": sub_pk, "deviceName": m[1]["deviceName"]}])
    assert r["code"] == 200 and names(r) == [m[1]["deviceName"]]
    gw.call("add", [topo_sign(m[2], "node")], ack=False)
    poll_until(lambda: names(gw.call("get", {})),
               lambda v: v == sorted([m[0]["deviceName"], m[2]["deviceName"]]))

    # a device that is not a gateway is refused
    plain = Gateway(broker, lamp, made)
    assert plain.call("get", {})["code"] == 400


def test_a_gateway_registers_sub_devices(broker, api, made):
    """thing.sub.register: a subdevice product with dynamic registration on gets its pre-created
    devices' secrets answered, and the device logs in with that secret. A gateway cannot grow
    the registry: a device nobody created is 6100 and stays uncreated."""
    gw_pk = api.product("reg hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("reg meters", nodeType="subdevice", dynamicRegistration=True)["productKey"]
    closed_pk = api.product("closed meters", nodeType="subdevice")["productKey"]
    plain_pk = api.product("reg lamps", dynamicRegistration=True)["productKey"]
    gw = Gateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    pre = api.device(sub_pk, "pre-made-1")
    unknown = gw.call("register", [{"productKey": sub_pk, "deviceName": "fresh-1"}])
    assert unknown["code"] == 6100, unknown
    assert api.call("GET", f"/api/v1/products/{sub_pk}/devices/fresh-1").status == 404
    api.device(sub_pk, "fresh-1")

    r = gw.call("register", [{"productKey": sub_pk, "deviceName": "fresh-1"},
                             {"productKey": sub_pk, "deviceName": "pre-made-1"}])
    assert r["code"] == 200, r
    got = {d["deviceName"]: d for d in r["data"]}
    assert set(got) == {"fresh-1", "pre-made-1"}
    assert got["pre-made-1"]["deviceSecret"] == pre["deviceSecret"]
    assert all(len(d["iotId"]) > 0 and d["productKey"] == sub_pk for d in r["data"])
    shown = api.ok("GET", f"/api/v1/products/{sub_pk}/devices/fresh-1")
    assert shown["deviceSecret"] == got["fresh-1"]["deviceSecret"]
    # the new secret logs in at once (the directory knows the device)
    cred = aliyun.device_credentials(sub_pk, "fresh-1", got["fresh-1"]["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    c.connect()
    poll_until(lambda: api.ok("GET", f"/api/v1/products/{sub_pk}/devices/fresh-1")["status"],
               lambda s: s == "ONLINE")

    one = [{"productKey": sub_pk, "deviceName": "fresh-1"}]
    assert gw.call("register", one)["code"] == 6289  # logged in already
    assert gw.call("register", [{"productKey": closed_pk, "deviceName": "x-1234"}])["code"] == 6288
    assert gw.call("register", [{"productKey": plain_pk, "deviceName": "x-1234"}])["code"] == 400
    assert gw.call("register", [{"productKey": "NoSuchPk001", "deviceName": "x-1234"}])["code"] \
        == 6250
    assert gw.call("register", [])["code"] == 460
