"""What the official Aliyun device SDKs send and expect, replayed over plain TCP and over TLS with
a raw socket: the C SDK 3.x writes requests as {"id":"%d","version":"%s","params":%s,"method":
"%s"} and answers the platform's requests as {"id":"%s","code":%d,"data":%s}; the Python Linkkit
SDK (ext=1) takes sync services on /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/{identifier} and
answers there. Each test would fail without the change it names (issue 15)."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict

import pytest

import aliyun
import harness
import mqttraw
from apiclient import Api, b64
from harness import WAIT
from transport_broker import broker  # noqa: F401  (tcp, tls, ws, wss, auto)

pytestmark = pytest.mark.thingport_only(reason="the Aliyun device platform is thingport's")

TSL = {
    "profile": {"productKey": "x"},
    "properties": [{"identifier": "temperature", "name": "t", "accessMode": "rw",
                    "dataType": {"type": "float", "specs": {"min": "-40", "max": "120"}}}],
    "events": [{"identifier": "Error", "name": "e", "type": "error", "method": "thing.event.Error.post",
                "outputData": [{"identifier": "ErrorCode", "name": "c",
                                "dataType": {"type": "int", "specs": {"min": "0", "max": "100"}}}]}],
    "services": [{"identifier": "GetStatus", "name": "s", "callType": "sync",
                  "method": "thing.service.GetStatus", "inputData": [], "outputData": []}],
}


@pytest.fixture(scope="module")
def product(broker):  # noqa: F811
    api = Api(broker)
    pk = api.product("sdk replay")["productKey"]
    api.ok("PUT", f"/api/v1/products/{pk}/tsl", TSL)
    return api, pk


def device(broker, api: Api, pk: str, kind: str, extra: str = "") -> tuple:  # noqa: F811
    d = api.device(pk)
    host, port = broker.endpoint(kind)
    wrap = None
    if kind == "tls":
        wrap = lambda s: broker.tls_context().wrap_socket(s, server_hostname="localhost")  # noqa: E731
    c = mqttraw.RawClient(host, port, WAIT, wrap=wrap)
    creds = aliyun.device_credentials(pk, d["deviceName"], d["deviceSecret"],
                                      client_id=f"{pk}.{d['deviceName']}", extra=extra)
    c.send(mqttraw.connect(creds["client_id"], username=creds["username"],
                           password=creds["password"]))
    assert c.expect(mqttraw.CONNACK, WAIT).connack()[1] == 0
    return c, d["deviceName"]


def in_thread(fn) -> tuple:
    out: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(r=fn()))
    t.start()
    return t, out


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_event_post_as_the_c_sdk_sends_it(broker, product, kind):  # noqa: F811
    api, pk = product
    c, dn = device(broker, api, pk, kind)
    with c:
        topic = f"/sys/{pk}/{dn}/thing/event/Error/post"
        assert c.subscribe(1, [(topic + "_reply", 0)]) == [0]
        c.send(mqttraw.publish(topic, b'{"id":"3","version":"1.0","params":{"ErrorCode":0},'
                                      b'"method":"thing.event.Error.post"}', 1, mid=3))
        c.expect(mqttraw.PUBACK, WAIT)
        reply = json.loads(c.read_publish(WAIT).payload)
        assert (reply["id"], reply["code"]) == ("3", 200), reply
    ev = api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/events")["events"]
    assert [e["value"] for e in ev] == [{"ErrorCode": 0}]


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_sync_service_to_the_python_sdk_on_ext_rrpc(broker, product, kind):  # noqa: F811
    api, pk = product
    c, dn = device(broker, api, pk, kind, extra="ext=1")
    with c:
        assert c.subscribe(1, [(f"/ext/rrpc/+/sys/{pk}/{dn}/thing/service/+", 0)]) == [0]
        t, out = in_thread(lambda: api.call(
            "POST", f"/api/v1/products/{pk}/devices/{dn}/services/GetStatus",
            {"input": {}, "timeoutMs": 8000}))
        req = c.read_publish(WAIT)
        rid = req.topic.split("/")[3]
        assert req.topic == f"/ext/rrpc/{rid}/sys/{pk}/{dn}/thing/service/GetStatus"
        c.send(mqttraw.publish(req.topic, b'{"id":"' + rid.encode() + b'","code":200,"data":{}}', 0))
        t.join(WAIT)
    assert out["r"].status == 200 and out["r"].json["code"] == 200, out


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_rrpc_on_a_custom_topic(broker, product, kind):  # noqa: F811
    api, pk = product
    c, dn = device(broker, api, pk, kind)
    own = f"/{pk}/{dn}/user/get"
    with c:
        assert c.subscribe(1, [(f"/ext/rrpc/+{own}", 0)]) == [0]
        t, out = in_thread(lambda: api.call(
            "POST", f"/api/v1/products/{pk}/devices/{dn}/rrpc",
            {"payload": b64("ping"), "topic": own, "timeoutMs": 8000}))
        req = c.read_publish(WAIT)
        assert req.topic.endswith(own) and req.payload == b"ping"
        c.send(mqttraw.publish(req.topic, b"pong", 0))
        t.join(WAIT)
    assert out["r"].status == 200 and out["r"].json["payload"] == b64("pong"), out


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_property_get_as_the_c_sdk_answers_it(broker, product, kind):  # noqa: F811
    api, pk = product
    c, dn = device(broker, api, pk, kind)
    with c:
        assert c.subscribe(1, [(f"/sys/{pk}/{dn}/rrpc/request/+", 0)]) == [0]
        t, out = in_thread(lambda: api.call(
            "POST", f"/api/v1/products/{pk}/devices/{dn}/properties/get",
            {"identifiers": ["temperature"], "timeoutMs": 8000}))
        req = c.read_publish(WAIT)
        rid = req.topic.rsplit("/", 1)[1]
        assert json.loads(req.payload)["method"] == "thing.service.property.get"
        c.send(mqttraw.publish(f"/sys/{pk}/{dn}/rrpc/response/{rid}",
                               b'{"id":"' + rid.encode() + b'","code":200,"data":{"temperature":23.5}}',
                               0))
        t.join(WAIT)
    r = out["r"]
    assert r.status == 200 and r.json["data"] == {"temperature": 23.5} and b"23.5" in r.body, out
