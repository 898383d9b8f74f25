"""The broker driven by the Mosquitto command-line clients (mosquitto_pub / mosquitto_sub),
plus session takeover seen from paho.

mosquitto_sub runs with -d: its "received SUBACK" line says when it is safe to publish and its
"received PUBLISH (d0, q1, r0, ...)" lines give the delivered QoS and retain flag.
"""

from __future__ import annotations

import pytest

from mqtt_clients import marker_payload, mosquitto_pub
from harness import WAIT, unique_id


def test_sub_verbose_wildcard_receives_pub(broker, cli_sub, topic):
    sub = cli_sub("-t", f"{topic}/a/#", "-v", "-C", "1")
    sub.wait_subscribed()
    mosquitto_pub(broker, "-t", f"{topic}/a/b", "-m", "hi")
    m = sub.next_message()
    assert m.line == f"{topic}/a/b hi"
    assert (m.qos, m.retain) == (0, False)
    assert sub.wait_exit() == 0  # -C 1: exits after one message


@pytest.mark.parametrize("qos", [1, 2])
def test_qos_1_and_2(broker, cli_sub, topic, qos):
    sub = cli_sub("-t", f"{topic}/q", "-q", str(qos), "-C", "2")
    sub.wait_subscribed()
    mosquitto_pub(broker, "-t", f"{topic}/q", "-m", f"at qos {qos}", "-q", str(qos))
    # A higher publish QoS is downgraded to the subscription's.
    mosquitto_pub(broker, "-t", f"{topic}/q", "-m", "at qos 2", "-q", "2")
    first, second = sub.next_message(), sub.next_message()
    assert (first.line, first.qos) == (f"at qos {qos}", qos)
    assert (second.line, second.qos) == ("at qos 2", qos)
    assert sub.wait_exit() == 0


def test_retained_set_received_and_cleared(broker, cli_sub, topic):
    t = f"{topic}/state"
    mosquitto_pub(broker, "-t", t, "-m", "on", "-r", "-q", "1")

    # A later subscriber gets it at once, flagged retained.
    late = cli_sub("-t", t, "-v", "-C", "1", "-W", "10")
    m = late.next_message()
    assert (m.line, m.retain, m.qos) == (f"{t} on", True, 0)
    assert late.wait_exit() == 0

    # -r -n (empty payload) clears it: the next subscriber's first message is a live marker.
    mosquitto_pub(broker, "-t", t, "-r", "-n", "-q", "1")
    fresh = cli_sub("-t", t, "-v", "-C", "1", "-W", "10")
    fresh.wait_subscribed()
    mark = marker_payload().decode()
    mosquitto_pub(broker, "-t", t, "-m", mark, "-q", "1")
    m = fresh.next_message()
    assert (m.line, m.retain) == (f"{t} {mark}", False), "cleared retained message still sent"
    assert fresh.wait_exit() == 0


def test_wildcards_plus_and_hash(broker, cli_sub, topic):
    plus = cli_sub("-t", f"{topic}/+/temp", "-v", "-q", "1", "-C", "2")
    hash_ = cli_sub("-t", f"{topic}/#", "-v", "-q", "1", "-C", "4")
    plus.wait_subscribed()
    hash_.wait_subscribed()
    # Published one after the other at QoS 1 (each mosquitto_pub returns after its PUBACK), so
    # a wrong match for "+" would show up among the first two lines.
    for t in ("a/b/temp", "a/hum", "a/temp", "b/temp"):
        mosquitto_pub(broker, "-t", f"{topic}/{t}", "-m", t, "-q", "1")
    assert [plus.next_message().line for _ in range(2)] == [
        f"{topic}/a/temp a/temp", f"{topic}/b/temp b/temp"]
    assert [hash_.next_message().line for _ in range(4)] == [
        f"{topic}/{t} {t}" for t in ("a/b/temp", "a/hum", "a/temp", "b/temp")]
    assert plus.wait_exit() == 0
    assert hash_.wait_exit() == 0


def test_persistent_session_gets_message_sent_while_away(broker, cli_sub, topic):
    cid = unique_id("clisub")
    t = f"{topic}/p"
    # -c: clean session off; -E: exit once the subscription is acknowledged.
    first = cli_sub("-c", "-i", cid, "-q", "1", "-t", t, "-E")
    first.wait_subscribed()
    assert first.wait_exit() == 0

    mosquitto_pub(broker, "-t", t, "-m", "sent while away", "-q", "1")

    back = cli_sub("-c", "-i", cid, "-q", "1", "-t", t, "-v", "-C", "1", "-W", "10")
    m = back.next_message()
    assert (m.line, m.qos, m.retain) == (f"{t} sent while away", 1, False)
    assert back.wait_exit() == 0

    # Received and acknowledged: a third connection of the session gets nothing stale.
    again = cli_sub("-c", "-i", cid, "-q", "1", "-t", t, "-v", "-C", "1", "-W", "10")
    again.wait_subscribed()
    mark = marker_payload().decode()
    mosquitto_pub(broker, "-t", t, "-m", mark, "-q", "1")
    assert again.next_message().line == f"{t} {mark}"
    assert again.wait_exit() == 0


def test_session_takeover_paho(client_factory, topic):
    cid = unique_id("takeover")
    first = client_factory(client_id=cid)
    assert first.subscribe(f"{topic}/t", 1) == [1]
    second = client_factory(client_id=cid)
    assert first.disconnected.wait(WAIT), "first connection not closed on takeover"
    assert first.disconnect_rc != 0, "the first client did not disconnect by itself"
    # The new connection works.
    assert second.subscribe(f"{topic}/t", 1) == [1]
    second.publish(f"{topic}/t", "to the new connection", 1)
    m = second.get()
    assert (m.topic, m.payload) == (f"{topic}/t", b"to the new connection")
    assert first.messages.empty(), "the old connection received a message after takeover"


def test_session_takeover_by_mosquitto_sub(broker, client_factory, cli_sub, topic):
    cid = unique_id("takeover")
    first = client_factory(client_id=cid)
    sub = cli_sub("-i", cid, "-t", f"{topic}/t", "-v", "-C", "1")
    sub.wait_subscribed()
    assert first.disconnected.wait(WAIT), "paho connection not closed on takeover"
    mosquitto_pub(broker, "-t", f"{topic}/t", "-m", "taken", "-q", "1")
    assert sub.next_message().line == f"{topic}/t taken"
    assert sub.wait_exit() == 0
