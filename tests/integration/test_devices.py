"""Devices logging in with the Aliyun triplet sign (docs/protocol.md "Logging in", "Topics", "The cloud side") against the real
server, with paho as the device and a generic (anonymous) client as the observer. Uses the demo
product and device that a fresh data dir gets."""

from __future__ import annotations

import json
import re
import time

import pytest

import aliyun
import mqttraw
from apiclient import Api
from mqtt_clients import MqttClient
from harness import WAIT, poll_until

pytestmark = pytest.mark.thingport_only(reason="Aliyun device login is thingport's")


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


@pytest.fixture
def demo(broker):
    assert set(broker.demo) >= {"productKey", "deviceName", "deviceSecret"}, broker.demo
    return broker.demo


def device(broker, demo, made, **kw) -> MqttClient:
    cred = aliyun.device_credentials(demo["productKey"], demo["deviceName"], demo["deviceSecret"],
                                     **kw)
    c = MqttClient(broker, client_id=cred["client_id"], clean_session=True, keepalive=60,
                   username=cred["username"], password=cred["password"])
    made.append(c)
    return c


def test_sign_oracle_matches_the_worked_example():
    c = aliyun.device_credentials("pk", "device", "secret", client_id="12345", timestamp="789")
    assert c["client_id"] == "12345|securemode=3,signmethod=hmacsha1,timestamp=789|"
    assert c["password"].upper() == "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"


@pytest.mark.parametrize("method", ["hmacsha1", "hmacsha256", "hmacmd5"])
def test_each_sign_method_connects(broker, demo, made, method):
    device(broker, demo, made, method=method).connect()


def test_upper_case_hex_and_no_timestamp(broker, demo, made):
    cred = aliyun.device_credentials(demo["productKey"], demo["deviceName"], demo["deviceSecret"],
                                     timestamp=None)
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"].upper())
    made.append(c)
    c.connect()


@pytest.mark.parametrize("mutate,rc", [
    (lambda c: {**c, "password": "0" * 40}, 4),                            # wrong sign
    (lambda c: {**c, "username": c["username"].replace("&", "")}, 4),      # no '&'
    (lambda c: {**c, "username": "nosuchdevice&" + c["username"].split("&")[1]}, 4),
    (lambda c: {**c, "username": c["username"].split("&")[0] + "&nosuchproduct"}, 4),
    (lambda c: {**c, "client_id": c["client_id"].rstrip("|")}, 2),         # unterminated block
    (lambda c: {**c, "client_id": "x" * 10000 + c["client_id"]}, 2),       # id too long
])
def test_refusals(broker, demo, made, mutate, rc):
    cred = mutate(aliyun.device_credentials(demo["productKey"], demo["deviceName"],
                                            demo["deviceSecret"]))
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    c.connect(expect_rc=rc)
    assert c.disconnected.wait(WAIT), "a refused client must be disconnected"


@pytest.mark.parametrize("keepalive,rc", [(10, 2), (29, 2), (30, 0), (1200, 0), (1201, 2)])
def test_keepalive_range(broker, demo, made, keepalive, rc):
    cred = aliyun.device_credentials(demo["productKey"], demo["deviceName"], demo["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], keepalive=keepalive,
                   username=cred["username"], password=cred["password"])
    made.append(c)
    c.connect(expect_rc=rc)


def test_permissions_on_subscribe(broker, demo, made):
    pk, dn = demo["productKey"], demo["deviceName"]
    c = device(broker, demo, made).connect()
    granted = c.subscribe([(f"/{pk}/{dn}/user/get", 1), (f"/{pk}/{dn}/control", 1),
                           (f"/{pk}/otherdevice/user/get", 1), (f"/sys/{pk}/{dn}/thing/#", 2),
                           ("#", 0), (f"/sys/{pk}/+/thing/#", 0)])
    assert granted == [1, 128, 128, 1, 128, 128]


def test_too_many_filters_in_one_subscribe(broker, demo, made):
    pk, dn = demo["productKey"], demo["deviceName"]
    c = device(broker, demo, made).connect()
    filters = [(f"/sys/{pk}/{dn}/thing/event/e{i}/post_reply", 0) for i in range(10)]
    assert c.subscribe(filters) == [0] * 8 + [128, 128]


def test_publish_permissions(broker, demo, made, client_factory):
    pk, dn = demo["productKey"], demo["deviceName"]
    watcher = client_factory()
    watcher.subscribe(f"/{pk}/#", 1)
    c = device(broker, demo, made).connect()
    # A refused QoS 1 publish is still acknowledged (the link stays) and goes nowhere.
    c.publish(f"/{pk}/{dn}/user/get", b"denied", qos=1)
    c.publish(f"/{pk}/otherdevice/user/update", b"denied", qos=1)
    c.publish(f"/{pk}/{dn}/user/update", b"allowed", qos=1)
    got = watcher.get()
    assert (got.topic, got.payload) == (f"/{pk}/{dn}/user/update", b"allowed")
    assert c.connected.is_set()


def test_qos2_publish_closes_a_device(broker, demo, made):
    pk, dn = demo["productKey"], demo["deviceName"]
    c = device(broker, demo, made).connect()
    c.c.publish(f"/{pk}/{dn}/user/update", b"x", qos=2)
    assert c.disconnected.wait(WAIT)


def test_second_login_kicks_the_first(broker, demo, made):
    first = device(broker, demo, made, client_id="one").connect()
    second = device(broker, demo, made, client_id="two").connect()
    assert first.disconnected.wait(WAIT), "the older link must be closed"
    assert second.connected.is_set()


def test_ss_delivers_system_topics_without_subscribe(broker, demo, made, client_factory):
    pk, dn = demo["productKey"], demo["deviceName"]
    dev = device(broker, demo, made, ss=True).connect()
    cloud = client_factory()
    cloud.subscribe(f"/sys/{pk}/{dn}/thing/service/+", 1)
    cloud.publish(f"/sys/{pk}/{dn}/thing/service/property/set",
                  json.dumps({"id": "1", "params": {"LightSwitch": 1}}), qos=1)
    got = dev.get()
    assert got.topic == f"/sys/{pk}/{dn}/thing/service/property/set"
    cloud.publish(f"/sys/{pk}/{dn}/thing/service/Reboot", b'{"id":"2"}', qos=1)
    assert dev.get().topic == f"/sys/{pk}/{dn}/thing/service/Reboot"
    # The device's own reply reaches the cloud side but does not come back to the device.
    dev.publish(f"/sys/{pk}/{dn}/thing/service/Reboot_reply", b'{"id":"2","code":200}', qos=1)
    assert cloud.get_where(lambda m: m.topic.endswith("Reboot_reply")).payload.startswith(b'{"id"')
    cloud.publish(f"/sys/{pk}/{dn}/thing/service/property/set", b'{"id":"3"}', qos=1)
    nxt = dev.get()
    assert nxt.payload == b'{"id":"3"}', f"own reply echoed: {nxt}"


def test_without_ss_nothing_is_delivered_unasked(broker, demo, made, client_factory):
    pk, dn = demo["productKey"], demo["deviceName"]
    dev = device(broker, demo, made).connect()
    dev.subscribe(f"/{pk}/{dn}/user/get", 1)
    cloud = client_factory()
    cloud.publish(f"/sys/{pk}/{dn}/thing/service/property/set", b"{}", qos=1)
    cloud.publish(f"/{pk}/{dn}/user/get", b"marker", qos=1)
    assert dev.get().payload == b"marker"


def test_status_events(broker, demo, made, client_factory):
    pk, dn = demo["productKey"], demo["deviceName"]
    app = client_factory()
    app.subscribe(f"/as/mqtt/status/{pk}/+", 1)
    dev = device(broker, demo, made).connect()
    on = json.loads(app.get_where(lambda m: b'"online"' in m.payload).payload)
    assert on["status"] == "online" and on["productKey"] == pk and on["deviceName"] == dn
    assert on["clientIp"] == "127.0.0.1"
    # the cloud's format: iotId, local and UTC times of the change
    assert set(on) == {"status", "iotId", "productKey", "deviceName", "time", "utcTime",
                       "lastTime", "utcLastTime", "clientIp"}, on
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", on["time"]), on
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", on["utcTime"]), on
    shown = Api(broker).ok("GET", f"/api/v1/products/{pk}/devices/{dn}")
    assert len(on["iotId"]) == 24 and on["iotId"] == shown["iotId"], (on, shown)
    dev.disconnect()
    off = json.loads(app.get_where(lambda m: b'"offline"' in m.payload).payload)
    assert off["status"] == "offline" and off["deviceName"] == dn
    assert off["iotId"] == on["iotId"]


def test_last_close_reason_is_shown(broker, made):
    api = Api(broker)
    pk = api.product("close reasons")["productKey"]
    d = api.device(pk)
    path = f"/api/v1/products/{pk}/devices/{d['deviceName']}"
    assert api.ok("GET", path)["lastCloseReason"] is None
    first = device(broker, d, made, client_id="one").connect()
    second = device(broker, d, made, client_id="two").connect()  # takes the first one over
    assert first.disconnected.wait(WAIT)
    poll_until(lambda: api.ok("GET", path)["lastCloseReason"], lambda r: r == "taken_over")
    second.disconnect()
    poll_until(lambda: api.ok("GET", path)["lastCloseReason"], lambda r: r == "client_disconnect")


def test_device_topic_limits(broker, demo, made):
    pk, dn = demo["productKey"], demo["deviceName"]
    c = device(broker, demo, made).connect()
    long_topic = f"/sys/{pk}/{dn}/thing/event/" + "x" * 130 + "/post_reply"
    assert c.subscribe([(long_topic, 0)]) == [128]


def test_malformed_login_packets_do_not_hurt_others(broker, demo, made):
    ok = device(broker, demo, made).connect()
    raw = mqttraw.RawClient(broker.host, broker.port)
    try:
        raw.send(bytes([0x10, 0x05, 0x00, 0x04, ord("M"), ord("Q"), ord("T")]))
        raw.wait_closed(WAIT)
    finally:
        raw.close()
    time.sleep(0.1)
    assert ok.connected.is_set()
