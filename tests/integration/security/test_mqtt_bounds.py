"""The bounds of what clients can make the server keep, set small so that reaching them is
quick: the retained store's count and bytes (security issue row 8), and the bytes queued for
offline sessions all together (row 11: one credential opening session after session)."""

from __future__ import annotations

import pytest

import harness
import mqttraw
from harness import WAIT

pytestmark = [
    pytest.mark.thingport_only(reason="thingport's bounds"),
    pytest.mark.store_independent,
]


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": """
[limits]
max_retained = 50
max_retained_bytes = "1MB"
offline_total_bytes = "1MB"
"""}


def test_the_retained_store_is_bounded_in_count_and_bytes(api, broker):
    base = harness.unique_id("ret")
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        for i in range(40):
            c.send(mqttraw.publish(f"{base}/{i}", b"r" * (250 * 1024), 1, retain=True, mid=i + 1))
            c.expect(mqttraw.PUBACK, WAIT)
    assert api.metric("thingport_retained_bytes") <= 1024 * 1024
    assert api.metric("thingport_retained_refused_total") >= 30
    assert api.metric("thingport_retained_messages") <= 50


def test_the_retained_store_is_bounded_in_count(api, broker):
    base = harness.unique_id("many")
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        for i in range(80):
            c.send(mqttraw.publish(f"{base}/{i}", b"small", 1, retain=True, mid=i + 1))
            c.expect(mqttraw.PUBACK, WAIT)
    assert api.metric("thingport_retained_messages") == 50
    # a replacement of a kept topic is still taken; a removal frees a place
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("retainer")) as c:
        c.send(mqttraw.publish(f"{base}/0", b"", 1, retain=True, mid=1))
        c.expect(mqttraw.PUBACK, WAIT)
    assert api.metric("thingport_retained_messages") == 49


def test_bytes_queued_for_offline_sessions_are_bounded_all_together(api, broker):
    """Four persistent sessions, each well under its own queue bound, together cannot hold more
    than [limits] offline_total_bytes (1 MB here): the rest is dropped and counted."""
    topic = harness.unique_id("offline")
    for i in range(4):
        with mqttraw.RawClient(broker.host, broker.port) as c:
            assert c.connect(f"{topic}-sub{i}", clean_session=False)[1] == 0
            assert c.subscribe(1, [(topic, 1)]) == [1]
            c.send(mqttraw.disconnect())
    dropped0 = api.metric('thingport_messages_dropped_total{reason="queue_full"}')
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("pub")) as p:
        for i in range(8):
            p.send(mqttraw.publish(topic, b"q" * (200 * 1024), 1, mid=i + 1))
            p.expect(mqttraw.PUBACK, WAIT)
    assert api.metric("thingport_offline_queued_bytes") <= 1024 * 1024
    assert api.metric('thingport_messages_dropped_total{reason="queue_full"}') >= dropped0 + 20
