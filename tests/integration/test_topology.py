"""A gateway's sub-devices through the API (docs/http-api.md "Gateways"): GET, POST and DELETE
/api/v1/products/{pk}/devices/{dn}/topo with every refusal: not a gateway, not a sub-device,
unknown devices, names repeated or malformed, over 1500 (a sub-device another gateway holds
moves, as the cloud does); a
sub-device's status follows its own link; topology survives a restart and goes with a deleted
device. (The gateway's own MQTT topo and sub-device login messages are not built yet.)"""

from __future__ import annotations

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


def test_a_gateway_holds_at_most_1500(api, fleet):
    gw = fleet["gw"]
    hub = api.device(gw)["deviceName"]
    many_pk = api.product("many meters", nodeType="subdevice")["productKey"]
    names = [d["deviceName"] for d in
             api.ok("POST", f"/api/v1/products/{many_pk}/devices/batch",
                    {"prefix": "m", "count": 1501}, 201)["devices"]]
    for i in range(0, 1500, 100):
        api.ok("POST", topo(api, gw, hub), refs(*[(many_pk, n) for n in names[i:i + 100]]))
    error(api.call("POST", topo(api, gw, hub), refs((many_pk, names[1500]))), 409, "1500")
    assert len(subs(api, gw, hub)) == 1500


def test_topology_survives_a_restart_and_goes_with_deleted_devices(broker, api, fleet):
    gw, hub = fleet["gw"], fleet["hubs"][1]
    m = [d["deviceName"] for d in fleet["meters"]]
    api.ok("POST", topo(api, gw, hub), refs((fleet["sub"], m[3])))
    broker.restart()
    assert [dn for _, dn, _ in subs(api, gw, hub)] == [m[3]]
    api.ok("DELETE", f"/api/v1/products/{fleet['sub']}/devices/{m[3]}")
    assert subs(api, gw, hub) == []
