"""One trip per message (issue 14): a message addressed to one device (an API pub with a
deviceName, the platform's reply to a thing post) is routed on the worker that holds the
device's session, so it is never passed from one worker to another on its way; a message for a
whole product still is, from whichever worker routed it. thingport_worker_handoffs_total counts
the passes. With four workers, a product-wide message lands on the device's own worker one time
in four, so 40 of them without a single pass would be a 1 in 10^24 chance."""

from __future__ import annotations

import json

import pytest

import aliyun
import mqttraw
from apiclient import Api, b64
from harness import WAIT

pytestmark = pytest.mark.thingport_only(reason="device routing is thingport's")

N = 40
HANDOFFS = "thingport_worker_handoffs_total"


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[server]\nworkers = 4\n"}


@pytest.fixture(scope="module")
def device(broker):
    api = Api(broker)
    pk = api.product("one trip")["productKey"]
    api.ok("PUT", f"/api/v1/products/{pk}/tsl", {
        "profile": {"productKey": pk},
        "properties": [{"identifier": "t", "name": "t", "accessMode": "rw",
                        "dataType": {"type": "int", "specs": {"min": "0", "max": "1000"}}}],
        "events": [], "services": []})
    d = api.device(pk)
    dn = d["deviceName"]
    c = mqttraw.RawClient(broker.host, broker.port, WAIT)
    creds = aliyun.device_credentials(pk, dn, d["deviceSecret"], client_id=f"{pk}.{dn}")
    assert c.connect(creds["client_id"], username=creds["username"],
                     password=creds["password"])[1] == 0
    assert c.subscribe(1, [(f"/{pk}/{dn}/user/get", 0),
                           (f"/sys/{pk}/{dn}/thing/event/property/post_reply", 0)]) == [0, 0]
    yield api, pk, dn, c
    c.close()


def receive(c: mqttraw.RawClient, topic: str, n: int) -> None:
    for _ in range(n):
        p = c.read_publish(WAIT)
        assert p.topic == topic, p


def pub(api: Api, pk: str, topic: str, dn: str | None) -> None:
    body = {"productKey": pk, "topic": topic, "payload": b64(b"x"), "qos": 0}
    if dn is not None:
        body["deviceName"] = dn
    api.ok("POST", "/api/v1/pub", body)


def test_api_pub_to_a_device_is_routed_where_the_device_lives(device):
    api, pk, dn, c = device
    topic = f"/{pk}/{dn}/user/get"
    before = api.metric(HANDOFFS)
    for _ in range(N):
        pub(api, pk, topic, dn)
    receive(c, topic, N)
    assert api.metric(HANDOFFS) == before


def test_a_product_wide_pub_is_routed_anywhere_and_passed_on(device):
    """The counter moves when a message does change workers: the test above could not pass by a
    counter that never counts."""
    api, pk, dn, c = device
    topic = f"/{pk}/{dn}/user/get"
    before = api.metric(HANDOFFS)
    for _ in range(N):
        pub(api, pk, topic, None)
    receive(c, topic, N)
    assert api.metric(HANDOFFS) > before


def test_thing_replies_go_straight_to_the_device(device):
    api, pk, dn, c = device
    before = api.metric(HANDOFFS)
    for i in range(N):
        c.send(mqttraw.publish(f"/sys/{pk}/{dn}/thing/event/property/post",
                               json.dumps({"id": str(i), "version": "1.0", "params": {"t": i},
                                           "method": "thing.event.property.post"})))
    for i in range(N):
        p = c.read_publish(WAIT)
        assert p.topic == f"/sys/{pk}/{dn}/thing/event/property/post_reply", p
        assert json.loads(p.payload)["id"] == str(i), p
        assert json.loads(p.payload)["code"] == 200, p
    assert api.metric(HANDOFFS) == before
