"""A gateway's subscription bound grows with its sub-devices (docs/protocol.md "Gateways"): a
device link holds 100 explicit subscriptions, a gateway's 20 more per sub-device logged in
through it. A paho gateway logs 50 sub-devices in and subscribes each one's usual topics one by
one, as the C SDK 3.x does: every SUBACK granted; past 100 + 20 x 50 the next filter gets 0x80,
counted in /metrics; a logout takes the sub-device's filters away and the bound is 20 lower."""

from __future__ import annotations

import pytest

from test_sub_sessions import SessionGateway
from test_topology import topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")

N = 50
OWN = 8  # the filters Gateway and SessionGateway subscribe at start


def usual(pk: str, dn: str) -> list[str]:
    """The downlinks the C SDK 3.x subscribes per sub-device."""
    base = f"/sys/{pk}/{dn}/thing/"
    return [base + "service/property/set", base + "service/+", base + "event/+/post_reply",
            base + "deviceinfo/update_reply", base + "deviceinfo/delete_reply"]


def test_gateway_bound_grows_with_its_sub_devices(broker, api, made):
    gw_pk = api.product("bound hubs", nodeType="gateway")["productKey"]
    pk = api.product("bound meters", nodeType="subdevice")["productKey"]
    subs = [{**d, "productKey": pk} for d in api.ok(
        "POST", f"/api/v1/products/{pk}/devices/batch", {"prefix": "bm", "count": N},
        201)["devices"]]
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    for i in range(0, N, 25):  # thing.topo.add takes 1 to 30
        assert gw.call("add", [topo_sign(s, "c") for s in subs[i:i + 25]])["code"] == 200
    r = gw.session("batch_login", {"deviceList": [topo_sign(s, "node") for s in subs]})
    assert r["code"] == 200 and len(r["data"]) == N, r

    for s in subs:  # one SUBSCRIBE per filter, as the C SDK
        for f in usual(pk, s["deviceName"]):
            assert gw.c.subscribe([(f, 1)]) == [1], f
    held = OWN + 5 * N
    bound = 100 + 20 * N
    # Fill up to the bound with more of the sub-devices' service topics, 8 filters a packet.
    extra = [f"/sys/{pk}/{subs[i % N]['deviceName']}/thing/service/svc{i}"
             for i in range(bound - held)]
    for i in range(0, len(extra), 8):
        part = extra[i:i + 8]
        assert gw.c.subscribe([(f, 1) for f in part]) == [1] * len(part)
    denied = api.metric("thingport_subscribe_denied_total")
    over = f"/sys/{pk}/{subs[0]['deviceName']}/thing/service/one_more"
    assert gw.c.subscribe([(over, 1)]) == [128]
    assert api.metric("thingport_subscribe_denied_total") == denied + 1
    # a filter already held is granted again (it adds nothing)
    assert gw.c.subscribe([(extra[-1], 1)]) == [1]

    # A logout takes the sub-device's filters (5 usual, 17 extra) and 20 of the bound: two
    # more fit, on another sub-device's topics; its own are refused (not logged in).
    s = subs[0]
    assert gw.session("logout", {"productKey": pk, "deviceName": s["deviceName"]})["code"] == 200
    assert gw.c.subscribe([(over, 1)]) == [128]
    after = [f"/sys/{pk}/{subs[1]['deviceName']}/thing/service/after{i}" for i in range(3)]
    assert gw.c.subscribe([(after[0], 1), (after[1], 1)]) == [1, 1]
    assert gw.c.subscribe([(after[2], 1)]) == [128]
    # Logged in again: 20 more; its filters must be subscribed anew.
    assert gw.session("login", topo_sign(s, "c"))["code"] == 200
    assert gw.c.subscribe([(over, 1)]) == [1]
    assert gw.c.subscribe([(f, 1) for f in usual(pk, s["deviceName"])]) == [1] * 5


def test_one_subscribe_grants_its_first_8_filters(broker, api, made):
    """8 filters per SUBSCRIBE (docs/protocol.md), for a gateway as for any device: a 12-filter
    packet of a logged-in sub-device's topics gets 8 grants, then 0x80 for the other 4."""
    gw_pk = api.product("eight hubs", nodeType="gateway")["productKey"]
    pk = api.product("eight meters", nodeType="subdevice")["productKey"]
    sub = {**api.device(pk), "productKey": pk}
    gw = SessionGateway(broker, {**api.device(gw_pk), "productKey": gw_pk}, made)
    assert gw.call("add", [topo_sign(sub, "c")])["code"] == 200
    assert gw.session("login", topo_sign(sub, "node"))["code"] == 200
    filters = [(f"/sys/{pk}/{sub['deviceName']}/thing/service/s{i}", 1) for i in range(12)]
    assert gw.c.subscribe(filters) == [1] * 8 + [128] * 4
    # The limit is per packet: the 9th in a packet of its own is granted.
    assert gw.c.subscribe(filters[8:9]) == [1]
