"""Issue 4: the thing model (Alink) over the real server. Devices (the Aliyun docs' Node example
with MQTT.js, paho) post properties and events and answer property sets, service calls and RRPC;
the HTTP API reads back what was stored and sends the downlinks; an application client receives
the forwarded posts (docs/protocol.md "Alink messages", "Thing models", "The cloud side", docs/http-api.md)."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

import aliyun
import harness
from apiclient import Api, b64
from mqtt_clients import MqttClient
from harness import WAIT

pytestmark = pytest.mark.thingport_only(reason="the thing model is thingport's")

JS = Path(__file__).resolve().parent.parent / "js"


def prop(identifier: str, data_type: Dict[str, Any], access: str = "rw") -> Dict[str, Any]:
    return {"identifier": identifier, "name": identifier, "accessMode": access, "required": False,
            "dataType": data_type}


def num(kind: str, lo: str, hi: str) -> Dict[str, Any]:
    return {"type": kind, "specs": {"min": lo, "max": hi, "step": "1"}}


# A thing model in the platform's export format (docs/protocol.md "Thing models").
TSL = {
    "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
    "profile": {"productKey": "x"},
    "properties": [
        prop("temperature", num("float", "-40", "120")),
        prop("humidity", num("int", "0", "100")),
        prop("LightSwitch", {"type": "bool", "specs": {"0": "off", "1": "on"}}),
        prop("Firmware", {"type": "text", "specs": {"length": "8"}}, access="r"),
        prop("Position", {"type": "struct", "specs": [
            {"identifier": "x", "name": "x", "dataType": num("int", "0", "10")},
            {"identifier": "y", "name": "y", "dataType": num("int", "0", "10")}]}),
        prop("Samples", {"type": "array", "specs": {"size": "3", "item": {"type": "int"}}}),
    ],
    "events": [
        {"identifier": "post", "name": "post", "type": "info", "method": "thing.event.property.post",
         "outputData": []},
        {"identifier": "HighTemp", "name": "HighTemp", "type": "alert",
         "method": "thing.event.HighTemp.post",
         "outputData": [{"identifier": "temp", "name": "temp", "dataType": num("float", "-40", "120")}]},
    ],
    "services": [
        {"identifier": "Reboot", "name": "Reboot", "callType": "async",
         "method": "thing.service.Reboot",
         "inputData": [{"identifier": "delay", "name": "delay", "dataType": num("int", "0", "60")}],
         "outputData": []},
        {"identifier": "GetStatus", "name": "GetStatus", "callType": "sync",
         "method": "thing.service.GetStatus", "inputData": [],
         "outputData": [{"identifier": "load", "name": "load", "dataType": num("int", "0", "100")}]},
    ],
}


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}



@pytest.fixture(scope="module")
def pk(api) -> str:
    pk = api.product("thing product")["productKey"]
    assert api.ok("PUT", f"/api/v1/products/{pk}/tsl", TSL)["productKey"] == pk
    return pk


class Device:
    """A paho device logged in with the triplet sign; Alink requests with bounded waits."""

    def __init__(self, broker, pk: str, dn: str, ds: str, ss: bool = False, extra: str = ""):
        self.pk, self.dn, self.ds = pk, dn, ds
        self.sys = f"/sys/{pk}/{dn}"
        cred = aliyun.device_credentials(pk, dn, ds, client_id=harness.unique_id("dev"), ss=ss,
                                         extra=extra)
        self.c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                            password=cred["password"])
        self.c.connect()
        self.next_id = 100

    def subscribe(self, *topics: str) -> None:
        assert self.c.subscribe([(t, 1) for t in topics]) == [1] * len(topics)

    def publish(self, topic: str, payload) -> None:
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        self.c.publish(topic, body, qos=1)

    def message_on(self, topic: str, timeout: float = WAIT) -> Any:
        m = self.c.get_where(lambda m: m.topic == topic, timeout)
        return json.loads(m.payload)

    def request(self, rest: str, params: Any, method: Optional[str] = None,
                raw: Optional[bytes] = None) -> Dict[str, Any]:
        """Publishes an Alink request on {sys}/{rest} and returns its reply (subscribed first)."""
        self.next_id += 1
        topic = f"{self.sys}/{rest}"
        self.subscribe(topic + "_reply")
        body = raw if raw is not None else {"id": str(self.next_id), "version": "1.0",
                                            "params": params,
                                            "method": method or rest.replace("/", ".")}
        self.publish(topic, body)
        return self.message_on(topic + "_reply")

    def close(self) -> None:
        self.c.close()


@pytest.fixture
def device_factory(api, broker, pk) -> Callable[..., Device]:
    made: List[Device] = []

    def make(ss: bool = False, product: Optional[str] = None, extra: str = "") -> Device:
        p = product or pk
        d = api.device(p)
        dev = Device(broker, p, d["deviceName"], d["deviceSecret"], ss=ss, extra=extra)
        made.append(dev)
        return dev

    yield make
    for d in made:
        d.close()


class DeviceRef:
    """Names a device for the API helpers below (a Device is one too)."""

    def __init__(self, pk: str, dn: str):
        self.pk, self.dn = pk, dn


def properties_of(api: Api, d: Any) -> Dict[str, Any]:
    r = api.ok("GET", f"/api/v1/products/{d.pk}/devices/{d.dn}/properties")
    assert (r["productKey"], r["deviceName"]) == (d.pk, d.dn)
    return {p["identifier"]: p for p in r["properties"]}


def wait_downlink(api: Api, d: Any, rid: str, outcome: str = "SUCCESS") -> Dict[str, Any]:
    """The downlink record once it has `outcome` (the thing thread records replies shortly
    after the device sent them); bounded."""
    return harness.poll_until(
        lambda: api.ok("GET", f"/api/v1/products/{d.pk}/devices/{d.dn}/downlinks/{rid}"),
        lambda rec: rec["outcome"] == outcome, interval=0.02)


def app_client(api: Api, broker, pk: str, made: List[MqttClient]) -> MqttClient:
    app = api.ok("POST", "/api/v1/apps", {"name": "backend", "products": [pk]}, 201)
    cred = aliyun.app_credentials(app["appKey"], app["appSecret"],
                                  client_id=harness.unique_id("app"))
    c = MqttClient(broker, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    made.append(c)
    return c.connect()


# --------------------------------------------------------------------------------------------
# the done-when: the docs' Node example device


def test_node_example_device(api, broker, pk):
    d = api.device(pk)
    dn = d["deviceName"]
    proc = subprocess.Popen(["node", str(JS / "aliyun_device.js"), broker.host, str(broker.port),
                             pk, dn, d["deviceSecret"], "thing"], cwd=JS, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    events: List[Dict[str, Any]] = []
    cv = threading.Condition()

    def read():
        for line in proc.stdout:
            with cv:
                events.append(json.loads(line))
                cv.notify_all()

    def wait_for(pred) -> Dict[str, Any]:
        with cv:
            assert cv.wait_for(lambda: any(pred(e) for e in events), WAIT), \
                f"events {events}; stderr {proc.stderr.read() if proc.poll() is not None else ''}"
            return next(e for e in events if pred(e))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sys_topic = f"/sys/{pk}/{dn}"
    try:
        posted = json.loads(wait_for(lambda e: e["event"] == "posted")["payload"])
        reply_ev = wait_for(lambda e: e.get("topic") == f"{sys_topic}/thing/event/property/post_reply")
        reply = json.loads(reply_ev["payload"])
        assert reply["code"] == 200 and reply["id"] == posted["id"], reply  # numeric id echoed
        assert reply["method"] == "thing.event.property.post"
        props = properties_of(api, DeviceRef(pk, dn))
        assert props["temperature"]["value"] == posted["params"]["temperature"]
        assert props["humidity"]["value"] == posted["params"]["humidity"]
        assert props["temperature"]["dataType"] == "float"
        # A property set from the API reaches it, and its reply is recorded.
        sent = api.ok("POST", f"/api/v1/products/{pk}/devices/{dn}/properties",
                      {"items": {"LightSwitch": 1}})
        got = wait_for(lambda e: e.get("topic") == f"{sys_topic}/thing/service/property/set")
        body = json.loads(got["payload"])
        assert body["id"] == sent["id"] and body["params"] == {"LightSwitch": 1}
        assert body["method"] == "thing.service.property.set"
        rec = wait_downlink(api, DeviceRef(pk, dn), sent["id"])
        assert rec["replyCode"] == 200 and rec["type"] == "property_set"
        api.ok("POST", "/api/v1/pub", {"productKey": pk, "deviceName": dn,
                                      "topic": f"/{pk}/{dn}/user/get", "payload": b64("bye")})
        assert proc.wait(WAIT) == 0, events
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(5)


# --------------------------------------------------------------------------------------------
# upstream


def test_property_values_checked_stored_and_forwarded(api, broker, pk, device_factory, made):
    app = app_client(api, broker, pk, made)
    app.subscribe(f"/{pk}/+/thing/event/property/post", 1)
    d = device_factory()
    t0 = int(time.time() * 1000)
    reply = d.request("thing/event/property/post", {
        "temperature": {"value": 23.6, "time": 1700000000123},
        "humidity": 150,                       # out of range: 6306
        "Unknown": 1,                          # not in the model: 6304
        "Position": {"x": 3, "y": 4},
        "Samples": [1, 2, 3],
        "Firmware": "v1.2.3-long",             # longer than 8 bytes: 6310
        "LightSwitch": 2,                      # bool: 6308
    })
    assert reply["code"] == 200 and reply["id"] == str(d.next_id), reply
    assert reply["data"] == {} and reply["message"] == "success"
    props = properties_of(api, d)
    assert set(props) == {"temperature", "Position", "Samples"}, props
    assert props["temperature"]["value"] == 23.6 and props["temperature"]["time"] == 1700000000123
    assert props["Position"]["value"] == {"x": 3, "y": 4}
    assert props["Samples"]["value"] == [1, 2, 3]
    fwd = json.loads(app.get_where(lambda m: m.topic == f"/{pk}/{d.dn}/thing/event/property/post")
                     .payload)
    assert (fwd["productKey"], fwd["deviceName"], fwd["requestId"]) == (pk, d.dn, str(d.next_id))
    assert set(fwd["items"]) == {"temperature", "Position", "Samples"}
    assert fwd["items"]["temperature"] == {"value": 23.6, "time": 1700000000123}
    failed = fwd["checkFailedData"]
    assert {k: v["code"] for k, v in failed.items()} == {
        "humidity": 6306, "Unknown": 6304, "Firmware": 6310, "LightSwitch": 6308}, failed
    assert fwd["gmtCreate"] >= t0

    # Struct members and array items are checked too; the rest of the post is still stored.
    reply = d.request("thing/event/property/post", {"Position": {"x": 99}, "Samples": [1, 2, 3, 4],
                                                     "humidity": 55})
    assert reply["code"] == 200
    props = properties_of(api, d)
    assert props["humidity"]["value"] == 55
    assert props["Position"]["value"] == {"x": 3, "y": 4}      # unchanged
    fwd = json.loads(app.get_where(lambda m: m.topic.endswith("/property/post") and
                                   "Position" in json.loads(m.payload)["checkFailedData"]).payload)
    assert fwd["checkFailedData"]["Position"]["code"] == 6306
    assert "Position.x" in fwd["checkFailedData"]["Position"]["message"]
    assert fwd["checkFailedData"]["Samples"]["code"] == 6324

    # History: both humidity posts that passed, newest first; a time range narrows it.
    d.request("thing/event/property/post", {"humidity": {"value": 60, "time": t0 + 60000}})
    hist = api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/properties/humidity/history")
    assert [v["value"] for v in hist["values"]] == [60, 55], hist
    ranged = api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/properties/humidity/history"
                           f"?from={t0 + 30000}&to={t0 + 60000}&limit=5")
    assert [v["value"] for v in ranged["values"]] == [60]
    assert api.call("GET", f"/api/v1/products/{pk}/devices/{d.dn}/properties/humidity/history"
                           "?from=5&to=1").status == 400


def test_events_and_batch_post(api, broker, pk, device_factory, made):
    app = app_client(api, broker, pk, made)
    app.subscribe(f"/{pk}/+/thing/event/+/post", 1)
    d = device_factory()
    t0 = int(time.time() * 1000) - 10000  # recent: older values fall to the retention (30 days)
    reply = d.request("thing/event/HighTemp/post", {"value": {"temp": 99.5}, "time": t0})
    assert reply["code"] == 200 and reply["method"] == "thing.event.HighTemp.post"
    ev = api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/events?identifier=HighTemp")
    assert ev["events"] == [{"identifier": "HighTemp", "type": "alert", "time": t0,
                             "value": {"temp": 99.5}}]
    fwd = json.loads(app.get_where(lambda m: m.topic == f"/{pk}/{d.dn}/thing/event/HighTemp/post")
                     .payload)
    assert fwd["identifier"] == "HighTemp" and fwd["value"] == {"temp": 99.5}
    assert fwd["type"] == "alert"
    # An event the model does not define is refused (6320) and not stored.
    assert d.request("thing/event/Nope/post", {"value": {}})["code"] == 6320
    assert len(api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/events")["events"]) == 1
    # Batch post: several values per property.
    reply = d.request("thing/event/property/batch/post", {"properties": {
        "humidity": [{"value": 10, "time": t0 + 1000}, {"value": 11, "time": t0 + 2000}]}})
    assert reply["code"] == 200, reply
    hist = api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/properties/humidity/history")
    assert [v["value"] for v in hist["values"]] == [11, 10]


def test_event_post_in_the_c_and_node_sdk_form(api, broker, pk, device_factory, made):
    """The C SDK 3.x (IOT_Linkkit_TriggerEvent) and the Node SDK (postEvent) put the event's
    output fields directly in params; the bytes below are what they send."""
    app = app_client(api, broker, pk, made)
    app.subscribe(f"/{pk}/+/thing/event/+/post", 1)
    d = device_factory()
    topic = f"{d.sys}/thing/event/HighTemp/post"
    d.subscribe(topic + "_reply")
    before = int(time.time() * 1000)
    d.publish(topic, b'{"id":"7","version":"1.0","params":{"temp":42.5},'
                     b'"method":"thing.event.HighTemp.post"}')
    reply = d.message_on(topic + "_reply")
    assert (reply["id"], reply["code"]) == ("7", 200), reply
    ev = api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/events?identifier=HighTemp")["events"]
    assert [e["value"] for e in ev] == [{"temp": 42.5}] and ev[0]["time"] >= before
    fwd = json.loads(app.get_where(lambda m: m.topic == f"/{pk}/{d.dn}/thing/event/HighTemp/post")
                     .payload)
    assert fwd["value"] == {"temp": 42.5}
    # params that are neither form: 460, nothing stored
    for bad in (b'[1]', b'"x"', b'{"value":[1]}'):
        d.publish(topic, b'{"id":"8","version":"1.0","params":' + bad + b'}')
        assert d.message_on(topic + "_reply")["code"] == 460
    assert len(api.ok("GET", f"/api/v1/products/{pk}/devices/{d.dn}/events")["events"]) == 1


def test_product_without_thing_model_takes_values_as_they_come(api, device_factory):
    other = api.product("no model")["productKey"]
    d = device_factory(product=other)
    reply = d.request("thing/event/property/post", {"anything": "goes", "n": 12345678901})
    assert reply["code"] == 200
    props = properties_of(api, d)
    assert props["anything"]["value"] == "goes" and props["n"]["value"] == 12345678901
    assert "dataType" not in props["anything"]


def test_api_prints_floats_as_devices_do(api, device_factory):
    other = api.product("floats")["productKey"]
    d = device_factory(product=other)
    assert d.request("thing/event/property/post", {"t": 23.5, "small": 0.001,
                                                    "big": 1.5e300})["code"] == 200
    raw = api.call("GET", f"/api/v1/products/{other}/devices/{d.dn}/properties").body
    # The values as written (not 2.35E1); the random productKey may hold "E1" itself.
    printed = re.findall(rb'"value":([^,}]+)', raw)
    assert b"23.5" in printed and b"0.001" in printed, raw
    assert not any(b"E" in v for v in printed if v != b"1.5e+300"), raw
    assert properties_of(api, d)["t"]["value"] == 23.5


def test_dsltemplate_desired_and_deviceinfo(api, pk, device_factory):
    d = device_factory()
    reply = d.request("thing/dsltemplate/get", {})
    assert reply["code"] == 200 and reply["data"] == TSL
    reply = d.request("thing/property/desired/get", ["temperature"])
    assert reply["code"] == 200 and reply["data"] == {}
    reply = d.request("thing/deviceinfo/update", [{"attrKey": "site", "attrValue": "lab"}])
    assert reply["code"] == 200
    assert d.request("thing/deviceinfo/update", {"attrKey": 1})["code"] == 460


def test_device_tags_read_and_set(api, pk, device_factory):
    d = device_factory()
    base = f"/api/v1/products/{pk}/devices/{d.dn}/tags"
    # the device reports a tag (thing.deviceinfo.update), the API shows it
    reply = d.request("thing/deviceinfo/update", [{"attrKey": "room", "attrValue": "kitchen"}])
    assert reply["code"] == 200, reply
    got = api.ok("GET", base)
    assert [(t["attrKey"], t["attrValue"]) for t in got["tags"]] == [("room", "kitchen")], got
    # an operator sets and replaces tags
    got = api.ok("PUT", base, {"tags": [{"attrKey": "floor", "attrValue": "2"},
                                        {"attrKey": "room", "attrValue": "hall"}]})
    assert [(t["attrKey"], t["attrValue"]) for t in got["tags"]] == [("floor", "2"),
                                                                   ("room", "hall")], got
    got = api.ok("DELETE", f"{base}?key=floor")
    assert [t["attrKey"] for t in got["tags"]] == ["room"]
    # bad input: refused whole, nothing stored
    for bad in ({"tags": []}, {"tags": [{"attrKey": "9bad", "attrValue": "x"}]},
                {"tags": [{"attrKey": "ok"}]}, {"tags": "room"}):
        assert api.call("PUT", base, bad).status == 400, bad
    assert [t["attrKey"] for t in api.ok("GET", base)["tags"]] == ["room"]
    assert api.call("DELETE", base).status == 400
    assert api.call("GET", f"/api/v1/products/{pk}/devices/nosuchdevice/tags").status == 404


def test_ntp_answer_times_are_sane(device_factory):
    d = device_factory()
    resp = f"/ext/ntp/{d.pk}/{d.dn}/response"
    d.subscribe(resp)
    before = int(time.time() * 1000)
    d.publish(f"/ext/ntp/{d.pk}/{d.dn}/request", {"deviceSendTime": str(before)})
    answer = d.message_on(resp)
    after = int(time.time() * 1000)
    assert answer["deviceSendTime"] == str(before)
    recv, send = int(answer["serverRecvTime"]), int(answer["serverSendTime"])
    assert isinstance(answer["serverRecvTime"], str)  # the same JSON type as sent
    assert before - 1000 <= recv <= send <= after + 1000, (before, answer, after)
    # A number comes back as a number.
    d.publish(f"/ext/ntp/{d.pk}/{d.dn}/request", {"deviceSendTime": 1234})
    answer = d.message_on(resp)
    assert answer["deviceSendTime"] == 1234 and isinstance(answer["serverSendTime"], int)


# --------------------------------------------------------------------------------------------
# downstream


@pytest.mark.parametrize("ss", [False, True], ids=["subscribed", "_ss=1"])
def test_property_set_and_services(api, pk, device_factory, ss):
    d = device_factory(ss=ss)
    if not ss:
        d.subscribe(f"{d.sys}/thing/service/property/set", f"{d.sys}/thing/service/+",
                    f"{d.sys}/rrpc/request/+")
    base = f"/api/v1/products/{pk}/devices/{d.dn}"
    # Property set
    sent = api.ok("POST", f"{base}/properties", {"items": {"LightSwitch": 1, "temperature": 21.5}})
    got = d.message_on(f"{d.sys}/thing/service/property/set")
    assert got["id"] == sent["id"] and got["params"] == {"LightSwitch": 1, "temperature": 21.5}
    d.publish(f"{d.sys}/thing/service/property/set_reply", {"id": got["id"], "code": 200,
                                                            "data": {}})
    rec = wait_downlink(api, d, sent["id"])
    assert rec["replyCode"] == 200 and rec["request"]["params"] == got["params"]
    # Async service: answered at once with the id; the device's reply is recorded.
    sent = api.ok("POST", f"{base}/services/Reboot", {"input": {"delay": 5}})
    assert sent["callType"] == "async"
    got = d.message_on(f"{d.sys}/thing/service/Reboot")
    assert got["id"] == sent["id"] and got["params"] == {"delay": 5}
    assert got["method"] == "thing.service.Reboot"
    d.publish(f"{d.sys}/thing/service/Reboot_reply", {"id": got["id"], "code": 200,
                                                      "data": {"rebooting": 1}})
    rec = wait_downlink(api, d, sent["id"])
    assert rec["reply"] == {"rebooting": 1} and rec["identifier"] == "Reboot"
    # Sync service: over RRPC; the HTTP answer carries the device's reply.
    answer: Dict[str, Any] = {}
    caller = threading.Thread(target=lambda: answer.update(
        r=api.call("POST", f"{base}/services/GetStatus", {"input": {}, "timeoutMs": 8000})))
    caller.start()
    req_msg = d.c.get_where(lambda m: m.topic.startswith(f"{d.sys}/rrpc/request/"))
    rid = req_msg.topic.rsplit("/", 1)[1]
    req = json.loads(req_msg.payload)
    assert req["id"] == rid and req["method"] == "thing.service.GetStatus"
    d.publish(f"{d.sys}/rrpc/response/{rid}", {"id": rid, "code": 200, "data": {"load": 7}})
    caller.join(WAIT)
    r = answer["r"]
    assert r.status == 200 and r.json["data"] == {"load": 7} and r.json["code"] == 200, r
    assert r.json["id"] == rid and r.json["callType"] == "sync"


def test_sync_service_to_an_ext_1_device_goes_on_the_ext_rrpc_topic(api, pk, device_factory):
    """The Python Linkkit SDK logs in with ext=1 and takes sync services only on
    /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/{identifier}, answering on that same topic."""
    d = device_factory(extra="ext=1")
    d.subscribe(f"/ext/rrpc/+{d.sys}/thing/service/+")
    base = f"/api/v1/products/{pk}/devices/{d.dn}"
    answer: Dict[str, Any] = {}
    caller = threading.Thread(target=lambda: answer.update(
        r=api.call("POST", f"{base}/services/GetStatus", {"input": {}, "timeoutMs": 8000})))
    caller.start()
    req_msg = d.c.get_where(lambda m: m.topic.startswith("/ext/rrpc/"))
    rid = req_msg.topic.split("/")[3]
    assert req_msg.topic == f"/ext/rrpc/{rid}{d.sys}/thing/service/GetStatus"
    req = json.loads(req_msg.payload)
    assert req["id"] == rid and req["method"] == "thing.service.GetStatus"
    d.publish(req_msg.topic, {"id": rid, "code": 200, "data": {"load": 9}})
    caller.join(WAIT)
    r = answer["r"]
    assert r.status == 200 and r.json["data"] == {"load": 9} and r.json["callType"] == "sync", r
    assert wait_downlink(api, d, rid)["type"] == "service"


def test_property_get_asks_the_device_synchronously(api, pk, device_factory):
    """POST .../properties/get: thing.service.property.get over RRPC; the HTTP answer is the
    device's get_reply, as the C SDK answers it ({"id","code":200,"data":{id:value}})."""
    d = device_factory()
    d.subscribe(f"{d.sys}/rrpc/request/+")
    base = f"/api/v1/products/{pk}/devices/{d.dn}"
    answer: Dict[str, Any] = {}
    caller = threading.Thread(target=lambda: answer.update(r=api.call(
        "POST", f"{base}/properties/get",
        {"identifiers": ["temperature", "LightSwitch"], "timeoutMs": 8000})))
    caller.start()
    req_msg = d.c.get_where(lambda m: m.topic.startswith(f"{d.sys}/rrpc/request/"))
    rid = req_msg.topic.rsplit("/", 1)[1]
    req = json.loads(req_msg.payload)
    assert req["method"] == "thing.service.property.get" and req["id"] == rid
    assert req["params"] == ["temperature", "LightSwitch"]
    d.publish(f"{d.sys}/rrpc/response/{rid}",
              b'{"id":"' + rid.encode() + b'","code":200,"data":{"temperature":21.5,"LightSwitch":1}}')
    caller.join(WAIT)
    r = answer["r"]
    assert r.status == 200 and r.json["data"] == {"temperature": 21.5, "LightSwitch": 1}, r
    assert b"21.5" in r.body
    # a device that never answers: 504 after the timeout, and no waiter is left behind
    r = api.call("POST", f"{base}/properties/get", {"identifiers": ["temperature"],
                                                    "timeoutMs": 1000})
    assert r.status == 504 and r.json["rrpcCode"] == "TIMEOUT", r
    # bad input
    assert api.call("POST", f"{base}/properties/get", {"identifiers": []}).status == 400
    assert api.call("POST", f"{base}/properties/get", {"identifiers": ["Nope"]}).status == 404
    assert api.call("POST", f"{base}/properties/get", {"identifiers": ["a/b"]}).status == 400
    d.close()
    # the close reaches the server asynchronously: wait until the device shows offline
    harness.poll_until(lambda: api.ok("GET", base)["status"], lambda st: st != "ONLINE")
    r = api.call("POST", f"{base}/properties/get", {"identifiers": ["temperature"]})
    assert r.status == 409 and r.json["rrpcCode"] == "OFFLINE", r


def test_downlink_refusals(api, pk, device_factory):
    d = device_factory()
    base = f"/api/v1/products/{pk}/devices/{d.dn}"

    def refused(method, path, body, status, text):
        r = api.call(method, path, body)
        assert r.status == status and text in r.json["message"], r
        assert r.json["code"] == status

    refused("POST", f"{base}/properties", {"items": {"Firmware": "x"}}, 400, "Firmware")   # read-only
    refused("POST", f"{base}/properties", {"items": {"Nope": 1}}, 404, "Nope")
    refused("POST", f"{base}/properties", {"items": {"humidity": "wet"}}, 400, "6306")
    refused("POST", f"{base}/properties", {"items": []}, 400, "items")
    refused("POST", f"{base}/properties", {"itemz": {}}, 400, "itemz")
    refused("POST", f"{base}/services/Nope", {}, 404, "Nope")
    refused("POST", f"{base}/services/Reboot", {"input": {"delay": 99}}, 400, "delay")
    refused("POST", f"{base}/rrpc", {"payload": "not base64!"}, 400, "base64")
    refused("POST", f"{base}/rrpc", {"payload": b64("x"), "timeoutMs": 500}, 400, "timeoutMs")
    refused("POST", f"{base}/rrpc", {"payload": b64("x"), "timeoutMs": 9000}, 400, "timeoutMs")
    refused("POST", f"/api/v1/products/{pk}/devices/nosuchdevice/rrpc", {"payload": b64("x")},
            404, "not found")
    refused("GET", f"{base}/downlinks/12345", None, 404, "not found")
    refused("GET", f"{base}/events?from=x", None, 400, "from")
    refused("GET", f"{base}/properties/bad-id!/history", None, 400, "identifier")
    r = api.call("POST", f"{base}/properties", raw=b"{not json")
    assert r.status == 400 and "JSON" in r.json["message"]


def test_rrpc_round_trip_timeout_and_offline(api, pk, device_factory, broker):
    d = device_factory()
    d.subscribe(f"{d.sys}/rrpc/request/+")
    base = f"/api/v1/products/{pk}/devices/{d.dn}"
    answer: Dict[str, Any] = {}
    caller = threading.Thread(target=lambda: answer.update(
        r=api.call("POST", f"{base}/rrpc", {"payload": b64(b"\x01ping"), "timeoutMs": 8000})))
    caller.start()
    req = d.c.get_where(lambda m: m.topic.startswith(f"{d.sys}/rrpc/request/"))
    assert req.payload == b"\x01ping"
    # The API thread is not held up while the RRPC waits.
    assert api.call("GET", "/healthz").status == 200
    rid = req.topic.rsplit("/", 1)[1]
    d.publish(f"{d.sys}/rrpc/response/{rid}", b"pong\xff")
    caller.join(WAIT)
    r = answer["r"]
    assert r.status == 200 and r.json == {"id": rid, "rrpcCode": "SUCCESS",
                                          "payload": b64(b"pong\xff")}, r
    assert wait_downlink(api, d, rid)["reply"] == b64(b"pong\xff")

    # Timeout: the device stays silent; 504 after about a second.
    start = time.monotonic()
    r = api.call("POST", f"{base}/rrpc", {"payload": b64("hello?"), "timeoutMs": 1000})
    took = time.monotonic() - start
    assert r.status == 504 and r.json["rrpcCode"] == "TIMEOUT" and r.json["code"] == 504, r
    assert 0.9 <= took < 5, took
    assert wait_downlink(api, d, r.json["id"], "TIMEOUT")["reply"] is None
    # A late reply changes nothing.
    d.publish(f"{d.sys}/rrpc/response/{r.json['id']}", b"late")
    assert d.request("thing/event/property/post", {"humidity": 1})["code"] == 200  # handled after
    assert wait_downlink(api, d, r.json["id"], "TIMEOUT")["reply"] is None

    # Offline: nobody to ask.
    d.close()
    other = api.device(pk)
    r = api.call("POST", f"/api/v1/products/{pk}/devices/{other['deviceName']}/rrpc",
                 {"payload": b64("x")})
    assert r.status == 409 and r.json["rrpcCode"] == "OFFLINE", r


def test_property_set_to_an_offline_device_is_refused_not_left_pending(api, pk):
    other = api.device(pk)
    base = f"/api/v1/products/{pk}/devices/{other['deviceName']}"
    r = api.call("POST", f"{base}/properties", {"items": {"LightSwitch": 1}})
    assert r.status == 409 and r.json["rrpcCode"] == "OFFLINE", r
    rec = api.ok("GET", f"{base}/downlinks/{r.json['id']}")
    assert rec["outcome"] == "OFFLINE" and rec["type"] == "property_set", rec


def test_rrpc_on_a_custom_topic(api, pk, device_factory):
    """POST .../rrpc with "topic": the request goes on /ext/rrpc/{id}{topic} and the device answers
    on that same topic (once a 400 for every custom topic)."""
    d = device_factory()
    own = f"/{pk}/{d.dn}/user/get"
    d.subscribe(f"/ext/rrpc/+{own}")
    base = f"/api/v1/products/{pk}/devices/{d.dn}"
    answer: Dict[str, Any] = {}
    caller = threading.Thread(target=lambda: answer.update(r=api.call(
        "POST", f"{base}/rrpc", {"payload": b64(b"hi"), "timeoutMs": 8000, "topic": own})))
    caller.start()
    req = d.c.get_where(lambda m: m.topic.startswith("/ext/rrpc/") and m.topic.endswith(own))
    assert req.payload == b"hi"
    d.publish(req.topic, b"there")
    caller.join(WAIT)
    r = answer["r"]
    assert r.status == 200 and r.json["rrpcCode"] == "SUCCESS" and r.json["payload"] == b64("there"), r
    # topics that are not the device's own, or with wildcards, NUL, or over 128 bytes: 400
    for bad in (f"/{pk}/other/user/get", f"/{pk}/{d.dn}/user/+", f"/{pk}/{d.dn}/user/a\u0000",
                f"/{pk}/{d.dn}/user/" + "x" * 128):
        r = api.call("POST", f"{base}/rrpc", {"payload": b64("x"), "topic": bad})
        assert r.status == 400, (bad, r)


# --------------------------------------------------------------------------------------------
# shadow


def test_shadow_versions(api, pk, device_factory):
    d = device_factory()
    get = f"/shadow/get/{pk}/{d.dn}"
    d.subscribe(get)
    d.publish(f"/shadow/update/{pk}/{d.dn}", {"method": "update", "version": 1,
                                              "state": {"reported": {"color": "green"}}})
    ok = d.message_on(get)
    assert ok["method"] == "reply" and ok["payload"]["status"] == "success", ok
    assert ok["payload"]["version"] == 1
    d.publish(f"/shadow/update/{pk}/{d.dn}", {"method": "update", "version": 1,
                                              "state": {"reported": {"color": "red"}}})
    conflict = d.message_on(get)
    assert conflict["payload"]["status"] == "error"
    assert conflict["payload"]["content"]["errorcode"] == "409", conflict
    base = f"/api/v1/products/{pk}/devices/{d.dn}/shadow"
    shadow = api.ok("GET", base)
    assert shadow["version"] == 1 and shadow["state"]["reported"] == {"color": "green"}
    # The cloud desires; the device hears "control".
    assert api.ok("PUT", base, {"state": {"desired": {"color": "blue"}}, "version": 2})["version"] == 2
    control = d.message_on(get)
    assert control["method"] == "control" and control["payload"]["state"]["desired"] == {
        "color": "blue"}, control
    r = api.call("PUT", base, {"state": {"desired": {"color": "red"}}, "version": 2})
    assert r.status == 409 and "version" in r.json["message"], r
    r = api.call("PUT", base, {"state": {"reported": {"color": "red"}}})
    assert r.status == 400, r
    assert api.ok("GET", base)["state"]["desired"] == {"color": "blue"}


# --------------------------------------------------------------------------------------------
# bad input


def test_bad_device_input_gets_codes_and_stores_nothing(api, broker, pk, device_factory):
    d = device_factory()
    post = "thing/event/property/post"
    assert d.request(post, None, raw=b"{not json")["code"] == 6207
    assert d.request(post, ["wrong", "shape"])["code"] == 460
    assert d.request(post, {f"p{i}": i for i in range(201)})["code"] == 6106
    deep = b'{"id":"1","params":{"humidity":' + b"[" * 5000 + b"]" * 5000 + b"}}"
    assert d.request(post, None, raw=deep)["code"] == 6207
    assert d.request("thing/no/such/thing", {})["code"] == 6300
    assert properties_of(api, d) == {}  # nothing stored half-way
    # No reply when the device asks for none (Link SDK 4's sys.ack = 0), and none to a reply.
    d.subscribe(f"{d.sys}/{post}_reply")
    d.publish(f"{d.sys}/{post}", {"id": "77", "params": {"humidity": 5}, "sys": {"ack": 0}})
    d.publish(f"{d.sys}/{post}", {"id": "78", "params": {"humidity": 6}})
    assert d.message_on(f"{d.sys}/{post}_reply")["id"] == "78"
    assert properties_of(api, d)["humidity"]["value"] == 6
    # 10 MB of nested arrays: over the payload limit, the connection is closed; the server
    # serves on.
    d.c.c.publish(f"{d.sys}/{post}", b"[" * (5 << 20) + b"]" * (5 << 20), qos=0)
    assert d.c.disconnected.wait(WAIT)
    broker.assert_alive()
    assert device_factory().request(post, {"humidity": 7})["code"] == 200


def test_tsl_is_checked(api):
    p = api.product("tsl check")["productKey"]
    nested = {"properties": [prop("Outer", {"type": "struct", "specs": [
        {"identifier": "inner", "name": "inner", "dataType": {"type": "struct", "specs": []}}]})]}
    r = api.call("PUT", f"/api/v1/products/{p}/tsl", nested)
    assert r.status == 400 and r.json["code"] == 400
    assert "properties[0].dataType.specs[0]" in r.json["message"], r
    bad_range = {"properties": [prop("t", num("int", "10", "1"))]}
    r = api.call("PUT", f"/api/v1/products/{p}/tsl", bad_range)
    assert r.status == 400 and "properties[0].dataType.specs" in r.json["message"], r
    reserved = {"properties": [prop("value", num("int", "0", "1"))]}
    assert api.call("PUT", f"/api/v1/products/{p}/tsl", reserved).status == 400
    assert api.call("GET", f"/api/v1/products/{p}/tsl").status == 404  # nothing stored


def test_new_tsl_applies_at_once(api, broker, device_factory):
    p = api.product("tsl swap")["productKey"]
    api.ok("PUT", f"/api/v1/products/{p}/tsl", {"properties": [prop("level", num("int", "0", "5"))]})
    d = device_factory(product=p)
    d.request("thing/event/property/post", {"level": 9})
    assert properties_of(api, d) == {}
    api.ok("PUT", f"/api/v1/products/{p}/tsl", {"properties": [prop("level", num("int", "0", "10"))]})
    d.request("thing/event/property/post", {"level": 9})
    assert properties_of(api, d)["level"]["value"] == 9
