"""The device SDK's generic MQTT parts against Mosquitto (/usr/sbin/mosquitto, anonymous, on a
free loopback port): QoS 0/1 round trips through a small in-flight window, keepalive PINGREQs,
a persistent session (cleanSession=0), and an offline buffer delivered once the server appears.
"""

from __future__ import annotations

import time

import pytest

from harness import BrokerProcess, unique_id
from sdkprobe import probes  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.thingport_only(reason="tests the C++ SDK against Mosquitto"),
    pytest.mark.store_independent,
]


@pytest.fixture
def mosquitto(tmp_path):
    b = BrokerProcess(tmp_path / "mosquitto", kind="mosquitto")
    yield b
    b.stop_and_check()


def url(b: BrokerProcess) -> str:
    return f"mqtt://127.0.0.1:{b.port}"


def test_qos0_and_qos1_round_trip_in_order_through_a_small_window(mosquitto, probes):
    mosquitto.start()
    topic = f"tp/sdk/{unique_id('order')}"
    p = probes("--url", url(mosquitto), "--client-id", unique_id("sdk"), "--window", "4")
    p.connected()
    at = p.mark()
    p.send(f"sub {topic} 1")
    assert p.wait_event("suback", after=at)["granted"] == 1
    p.send(f"pubn {topic} 1 200 m")
    p.send(f"pubn {topic} 0 20 z")
    published = p.wait_n("published", 220, timeout=20, after=at)
    assert all(e["error"] is None for e in published)
    got = [e["payload"] for e in p.wait_n("message", 220, timeout=20, after=at)]
    assert [x for x in got if x.startswith("m-")] == [f"m-{i}" for i in range(200)]
    assert [x for x in got if x.startswith("z-")] == [f"z-{i}" for i in range(20)]
    st = p.stats()
    assert st["acked"] == 200 and st["retried"] == 0 and st["connects"] == 1, st
    p.close()


def test_keepalive_pings_keep_the_link(mosquitto, probes):
    mosquitto.start()
    cid = unique_id("ka")
    p = probes("--url", url(mosquitto), "--client-id", cid, "--keepalive", "1")
    p.connected()
    # Mosquitto drops a client silent for 1.5 x keepalive (its log is not flushed to us, so the
    # link surviving 4 keepalive periods with nothing else sent is the proof of the PINGREQs).
    deadline_mark = p.mark()
    time.sleep(4.0)  # the property under test is time passing
    assert p.mark() == deadline_mark, p.events[deadline_mark:]  # no disconnect, no reconnect
    assert p.stats()["attempts"] == 1
    p.close()


def test_persistent_session_gets_what_was_sent_while_offline(mosquitto, probes):
    mosquitto.start()
    cid = unique_id("persist")
    topic = f"tp/sdk/{cid}"
    first = probes("--url", url(mosquitto), "--client-id", cid, "--clean-session", "0")
    first.connected()
    first.send(f"sub {topic} 1")
    assert first.wait_event("suback")["granted"] == 1
    first.close()
    other = probes("--url", url(mosquitto), "--client-id", unique_id("pub"))
    other.connected()
    other.send(f"pub {topic} 1 while-you-were-away")
    assert other.wait_event("published")["error"] is None
    other.close()
    again = probes("--url", url(mosquitto), "--client-id", cid, "--clean-session", "0")
    st = again.connected()
    assert st["session_present"] is True
    m = again.wait_event("message", timeout=10)  # no SUBSCRIBE this time: the session's
    assert (m["topic"], m["payload"], m["qos"]) == (topic, "while-you-were-away", 1)
    again.close()


def test_offline_buffer_is_delivered_when_the_server_comes_up(mosquitto, probes):
    # mosquitto's port is chosen, not yet listening: the client starts offline
    topic = f"tp/sdk/{unique_id('late')}"
    p = probes("--url", url(mosquitto), "--client-id", unique_id("late"), "--backoff-ms", "200",
               "--backoff-max-ms", "400", "--per-minute", "0")
    ev = p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting")
    assert "refused" in ev["error"], ev
    p.send(f"sub {topic} 1")
    p.send(f"pubn {topic} 1 10 early")
    mosquitto.start()
    p.connected(timeout=10)
    assert [e["payload"] for e in p.wait_n("message", 10, timeout=10)] == \
        [f"early-{i}" for i in range(10)]
    assert all(e["error"] is None for e in p.wait_n("published", 10))
    p.close()
