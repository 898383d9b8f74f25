"""A gateway's authority over a sub-device ends with the sub-device's login (docs/protocol.md
"Gateways"): the filters its link holds on the sub-device's topics are dropped when the
sub-device logs out, leaves its topology, logs in through another gateway, is disabled, or
when the gateway's link goes. An application's downlink to the sub-device then reaches no
old gateway, not even after the sub-device logs in through it again (the gateway subscribes
anew, as the SDKs do after a login), nor after a restart of a persistent gateway session.
Every "nothing arrived" is proven by a marker the same application publishes after it."""

from __future__ import annotations

import json

import pytest

import aliyun
from harness import unique_id
from mqtt_clients import MqttClient, marker_payload
from test_sub_sessions import SessionGateway
from test_topology import topo_sign

pytestmark = pytest.mark.thingport_only(reason="Aliyun gateways")


class Hub(SessionGateway):
    """A SessionGateway that also holds its own property/set (the marker's topic)."""

    def __init__(self, broker, gw: dict, made: list):
        super().__init__(broker, gw, made)
        self.own = f"/sys/{self.pk}/{self.dn}/thing/service/property/set"
        assert self.c.subscribe([(self.own, 1)]) == [1]


def prop_set(pk: str, dn: str) -> str:
    return f"/sys/{pk}/{dn}/thing/service/property/set"


def set_body(value) -> str:
    return json.dumps({"id": "1", "version": "1.0", "method": "thing.service.property.set",
                       "params": {"Temperature": value}})


def app(api, broker, products: list, made: list) -> MqttClient:
    a = api.ok("POST", "/api/v1/apps", {"name": "revoker", "products": products}, 201)
    cred = aliyun.app_credentials(a["appKey"], a["appSecret"], client_id=unique_id("app"))
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    return c.connect()


def nothing_before_marker(hub: Hub, sender: MqttClient) -> None:
    """The sender's marker on the hub's own topic: whatever the broker routed to the hub from
    the sender's earlier publishes arrives before it (one publisher, QoS 1, in order)."""
    mark = marker_payload()
    sender.publish(hub.own, mark, qos=1)
    before = [m for m in hub.c.collect_until(hub.own, mark)
              if not m.topic.startswith("/ext/session/")]  # a reply redelivered on a new link
    assert not before, [(m.topic, m.payload) for m in before]


@pytest.fixture
def fleet(broker, api, made):
    gw_pk = api.product("revoke hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("revoke meters", nodeType="subdevice")["productKey"]
    hubs = [Hub(broker, {**api.device(gw_pk), "productKey": gw_pk}, made) for _ in range(2)]
    meter = {**api.device(sub_pk), "productKey": sub_pk}
    assert hubs[0].call("add", [topo_sign(meter, "c")])["code"] == 200
    return {"hubs": hubs, "meter": meter, "pk": sub_pk,
            "app": app(api, broker, [gw_pk, sub_pk], made)}


def logged_in_and_subscribed(hub: Hub, meter: dict) -> str:
    assert hub.session("login", topo_sign(meter, "c"))["code"] == 200
    topic = prop_set(meter["productKey"], meter["deviceName"])
    assert hub.c.subscribe([(topic, 1)]) == [1]
    return topic


def delivered(hub: Hub, sender: MqttClient, topic: str, value) -> None:
    sender.publish(topic, set_body(value), qos=1)
    m = hub.c.get_where(lambda m: m.topic == topic)
    assert json.loads(m.payload)["params"] == {"Temperature": value}


def test_logout_ends_the_gateways_subscriptions(fleet):
    a, meter, sender = fleet["hubs"][0], fleet["meter"], fleet["app"]
    topic = logged_in_and_subscribed(a, meter)
    delivered(a, sender, topic, 1)
    r = a.session("logout", {"productKey": meter["productKey"], "deviceName": meter["deviceName"]})
    assert r["code"] == 200
    sender.publish(topic, set_body(2), qos=1)
    nothing_before_marker(a, sender)
    assert a.c.subscribe([(topic, 1)]) == [128]
    # Logged in again: the old filter is gone, the gateway subscribes anew.
    assert a.session("login", topo_sign(meter, "c"))["code"] == 200
    sender.publish(topic, set_body(3), qos=1)
    nothing_before_marker(a, sender)
    assert a.c.subscribe([(topic, 1)]) == [1]
    delivered(a, sender, topic, 4)


def test_batch_logout_ends_each_ones_subscriptions_and_no_others(api, fleet):
    a, sender, pk = fleet["hubs"][0], fleet["app"], fleet["pk"]
    meters = [fleet["meter"]] + [{**api.device(pk), "productKey": pk} for _ in range(2)]
    assert a.call("add", [topo_sign(m, "c") for m in meters[1:]])["code"] == 200
    topics = [logged_in_and_subscribed(a, m) for m in meters]
    r = a.session("batch_logout", [{"productKey": pk, "deviceName": m["deviceName"]}
                                   for m in meters[:2]])
    assert r["code"] == 200 and len(r["data"]) == 2, r
    for t in topics[:2]:
        sender.publish(t, set_body(5), qos=1)
    nothing_before_marker(a, sender)
    assert a.c.subscribe([(t, 1) for t in topics[:2]]) == [128, 128]
    delivered(a, sender, topics[2], 6)  # the one still logged in keeps its filter


def test_a_login_through_another_gateway_moves_the_downlinks(fleet):
    a, b, meter, sender = fleet["hubs"][0], fleet["hubs"][1], fleet["meter"], fleet["app"]
    topic = logged_in_and_subscribed(a, meter)
    # Moved to b's topology (the newer topo.add wins) and logged in there.
    assert b.call("add", [topo_sign(meter, "node")])["code"] == 200
    assert b.session("login", topo_sign(meter, "node"))["code"] == 200
    assert b.c.subscribe([(topic, 1)]) == [1]
    delivered(b, sender, topic, 5)
    nothing_before_marker(a, sender)
    assert a.c.subscribe([(topic, 1)]) == [128]


def test_a_topo_delete_ends_the_gateways_subscriptions(fleet):
    a, meter, sender = fleet["hubs"][0], fleet["meter"], fleet["app"]
    topic = logged_in_and_subscribed(a, meter)
    r = a.call("delete", [{"productKey": meter["productKey"], "deviceName": meter["deviceName"]}])
    assert r["code"] == 200
    sender.publish(topic, set_body(6), qos=1)
    nothing_before_marker(a, sender)
    # back in its topology and logged in: the filter did not survive
    assert a.call("add", [topo_sign(meter, "c")])["code"] == 200
    assert a.session("login", topo_sign(meter, "c"))["code"] == 200
    sender.publish(topic, set_body(7), qos=1)
    nothing_before_marker(a, sender)


def test_a_disabled_sub_device_is_the_gateways_no_more(api, fleet):
    a, meter, sender = fleet["hubs"][0], fleet["meter"], fleet["app"]
    pk, dn = meter["productKey"], meter["deviceName"]
    topic = logged_in_and_subscribed(a, meter)
    assert a.c.subscribe([(f"/sys/{pk}/{dn}/thing/disable", 1)]) == [1]
    api.ok("POST", f"/api/v1/products/{pk}/devices/{dn}/disable")
    a.c.get_where(lambda m: m.topic == f"/sys/{pk}/{dn}/thing/disable")  # its last notice
    api.ok("POST", f"/api/v1/products/{pk}/devices/{dn}/enable")
    assert a.session("login", topo_sign(meter, "c"))["code"] == 200
    sender.publish(topic, set_body(8), qos=1)
    nothing_before_marker(a, sender)


@pytest.mark.sqlite_only
def test_a_persistent_gateway_session_loses_them_too(broker, api, made):
    """clean_session=0: the sub-device's filters leave the stored session with its logout, so
    the gateway's next link (after a restart too) holds only its own."""
    gw_pk = api.product("durable hubs", nodeType="gateway")["productKey"]
    sub_pk = api.product("durable meters", nodeType="subdevice")["productKey"]
    gw = {**api.device(gw_pk), "productKey": gw_pk}
    meter = {**api.device(sub_pk), "productKey": sub_pk}
    cred = aliyun.device_credentials(gw_pk, gw["deviceName"], gw["deviceSecret"])

    def link() -> Hub:
        hub = Hub.__new__(Hub)
        hub.pk, hub.dn, hub.n = gw_pk, gw["deviceName"], 0
        hub.c = MqttClient(broker, client_id=cred["client_id"], clean_session=False,
                           username=cred["username"], password=cred["password"])
        made.append(hub.c)
        hub.c.connect()
        hub.own = prop_set(gw_pk, gw["deviceName"])
        hub.c.subscribe([(hub.own, 1)] + [
            (f"/ext/session/{gw_pk}/{gw['deviceName']}/combine/{op}_reply", 1)
            for op in ("login", "logout")] + [
            (f"/sys/{gw_pk}/{gw['deviceName']}/thing/topo/{op}_reply", 1) for op in ("add",)])
        return hub

    hub = link()
    assert hub.call("add", [topo_sign(meter, "c")])["code"] == 200
    topic = logged_in_and_subscribed(hub, meter)
    assert hub.session("logout", {"productKey": sub_pk, "deviceName": meter["deviceName"]}
                       )["code"] == 200
    hub.c.disconnect()
    broker.restart()
    hub = link()
    assert hub.c.session_present
    sender = app(api, broker, [gw_pk, sub_pk], made)
    # (the logout's reply may come again first: its PUBACK can trail the DISCONNECT)
    login = f"/ext/session/{gw_pk}/{gw['deviceName']}/combine/login"
    hub.c.publish(login, json.dumps({"id": "9", "version": "1.0",
                                     "params": topo_sign(meter, "c")}), qos=1)
    reply = hub.c.get_where(lambda m: m.topic == login + "_reply")
    assert json.loads(reply.payload)["code"] == 200
    sender.publish(topic, set_body(9), qos=1)
    nothing_before_marker(hub, sender)


def test_the_sub_devices_own_login_ends_the_gateways_subscriptions(broker, fleet, made):
    a, meter, sender = fleet["hubs"][0], fleet["meter"], fleet["app"]
    topic = logged_in_and_subscribed(a, meter)
    cred = aliyun.device_credentials(meter["productKey"], meter["deviceName"],
                                     meter["deviceSecret"])
    own = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                     password=cred["password"])
    made.append(own)
    own.connect()  # the newer login wins: its own link
    own.disconnect()
    assert a.session("login", topo_sign(meter, "c"))["code"] == 200
    sender.publish(topic, set_body(10), qos=1)
    nothing_before_marker(a, sender)
