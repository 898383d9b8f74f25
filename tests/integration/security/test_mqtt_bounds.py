"""The bounds of what clients can make the server keep, set small so that reaching them is
quick: the retained store's count and bytes (security issue row 8)."""

from __future__ import annotations

import pytest

import harness
import mqttraw
from apiclient import Api
from harness import WAIT

pytestmark = pytest.mark.thingport_only(reason="thingport's bounds")


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": """
[limits]
max_retained = 50
max_retained_bytes = "1MB"
"""}


def metric(api: Api, name: str) -> float:
    text = api.call("GET", "/metrics", token=None).body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0  # not there (a server without the counter): counts as none


def test_the_retained_store_is_bounded_in_count_and_bytes(api, broker):
    base = harness.unique_id("ret")
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        for i in range(40):
            c.send(mqttraw.publish(f"{base}/{i}", b"r" * (250 * 1024), 1, retain=True, mid=i + 1))
            c.expect(mqttraw.PUBACK, WAIT)
    assert metric(api, "thingport_retained_bytes") <= 1024 * 1024
    assert metric(api, "thingport_retained_refused_total") >= 30
    assert metric(api, "thingport_retained_messages") <= 50




def test_the_retained_store_is_bounded_in_count(api, broker):
    base = harness.unique_id("many")
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        for i in range(80):
            c.send(mqttraw.publish(f"{base}/{i}", b"small", 1, retain=True, mid=i + 1))
            c.expect(mqttraw.PUBACK, WAIT)
    assert metric(api, "thingport_retained_messages") == 50
    # a replacement of a kept topic is still taken; a removal frees a place
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        c.send(mqttraw.publish(f"{base}/0", b"", 1, retain=True, mid=1))
        c.expect(mqttraw.PUBACK, WAIT)
    assert metric(api, "thingport_retained_messages") == 49
