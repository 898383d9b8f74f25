"""MQTT 3.1.1 interoperability: the behaviour the eclipse paho interoperability client tests
(paho.mqtt.testing, interoperability/client_test.py) check, written afresh for this suite.

Every negative check ("X is not delivered") publishes a marker after X and asserts the
receiver got nothing before the marker, instead of waiting to see that nothing comes.
"""

from __future__ import annotations

import queue
import time

import pytest

import mqttraw
from mqtt_clients import expect_nothing_then_marker, marker_payload
from harness import DENY_SUBSCRIBE, IS_MOSQUITTO, WAIT, unique_id

pytestmark = pytest.mark.store_independent


def read_until_types(c: mqttraw.RawClient, wanted: dict, timeout: float = WAIT) -> list:
    """Read packets until `wanted` ({ptype: count}) have all arrived, in any order; returns
    every packet read. Fails on an unexpected packet type."""
    need = dict(wanted)
    got = []
    deadline = time.monotonic() + timeout
    while any(need.values()):
        pkt = c.read_packet(max(deadline - time.monotonic(), 0.01))
        assert need.get(pkt.ptype), f"unexpected {pkt.name} while waiting for {need}: {pkt!r}"
        need[pkt.ptype] -= 1
        got.append(pkt)
    return got


# ---------------------------------------------------------------------------------------------
# Basics


def test_basic_connect_publish_subscribe_qos_0_1_2(client_factory, topic):
    c = client_factory()
    assert c.session_present is False, "clean session must not report a present session"
    assert c.subscribe(f"{topic}/x", 2) == [2]
    for q in (0, 1, 2):
        c.publish(f"{topic}/x", f"qos {q}", q)
    got = sorted((m.payload, m.qos, m.retain) for m in (c.get(), c.get(), c.get()))
    assert got == [(b"qos 0", 0, False), (b"qos 1", 1, False), (b"qos 2", 2, False)]
    expect_nothing_then_marker(c, c, f"{topic}/x")  # each exactly once
    c.disconnect()
    assert c.disconnect_rc == 0


@pytest.mark.parametrize("sub_qos", [0, 1, 2])
@pytest.mark.parametrize("pub_qos", [0, 1, 2])
def test_delivered_qos_is_min_of_publish_and_subscription(client_factory, topic, pub_qos,
                                                          sub_qos):
    sub = client_factory()
    assert sub.subscribe(f"{topic}/q", sub_qos) == [sub_qos]
    pub = client_factory()
    pub.publish(f"{topic}/q", b"payload \x00\xff binary", pub_qos)
    m = sub.get()
    assert (m.topic, m.payload, m.qos) == (f"{topic}/q", b"payload \x00\xff binary",
                                           min(pub_qos, sub_qos))


# ---------------------------------------------------------------------------------------------
# Retained messages


def test_retained_messages_set_receive_replace_and_clear(client_factory, topic):
    pub = client_factory()
    for q in (0, 1, 2):
        pub.publish(f"{topic}/r{q}", f"old {q}", q, retain=True)
    pub.publish(f"{topic}/r0", "new 0", 0, retain=True)  # replaces the first one
    # QoS 0 has no acknowledgement: the PUBACK of a later QoS 1 PUBLISH on the same connection
    # proves the server has handled it (one connection's packets are handled in order). Without
    # it, a subscriber on another connection can be served before the server reads "new 0".
    pub.publish(f"{topic}/fence", "", 1)

    sub = client_factory()
    assert sub.subscribe(f"{topic}/#", 2) == [2]
    got = {}
    for _ in range(3):
        m = sub.get()
        assert m.retain, f"a retained message delivered on subscribe must have RETAIN=1: {m!r}"
        got[m.topic] = (m.payload, m.qos)
    assert got == {f"{topic}/r0": (b"new 0", 0), f"{topic}/r1": (b"old 1", 1),
                   f"{topic}/r2": (b"old 2", 2)}
    expect_nothing_then_marker(sub, sub, f"{topic}/marker")  # no stale "old 0"

    # To an existing subscription a retained publish is delivered with RETAIN=0 [MQTT-3.3.1-9].
    pub.publish(f"{topic}/r1", "live", 1, retain=True)
    m = sub.get()
    assert (m.topic, m.payload, m.retain) == (f"{topic}/r1", b"live", False)
    sub.disconnect()

    # A retained message with an empty payload removes the retained message.
    for q in (0, 1, 2):
        pub.publish(f"{topic}/r{q}", b"", q, retain=True)
    fresh = client_factory()
    assert fresh.subscribe(f"{topic}/#", 2) == [2]
    expect_nothing_then_marker(fresh, fresh, f"{topic}/marker")


# ---------------------------------------------------------------------------------------------
# Client identifiers


def test_zero_length_client_id(raw_factory, topic):
    a = raw_factory()
    assert a.connect("", clean_session=True) == (False, 0)
    # A second anonymous-id client gets its own identity: it must not take over the first.
    b = raw_factory()
    assert b.connect("", clean_session=True) == (False, 0)
    assert a.subscribe(1, [(f"{topic}/z", 1)]) == [1]
    a.send(mqttraw.publish(f"{topic}/z", b"to myself", qos=1, mid=2))
    pkts = read_until_types(a, {mqttraw.PUBACK: 1, mqttraw.PUBLISH: 1})
    pub = next(p for p in pkts if p.ptype == mqttraw.PUBLISH).publish()
    assert (pub.topic, pub.payload) == (f"{topic}/z", b"to myself")
    a.send(mqttraw.puback(pub.mid))
    b.send(mqttraw.pingreq())
    b.expect(mqttraw.PINGRESP)

    # Zero-length id with CleanSession=0: CONNACK 2 (identifier rejected), then close
    # [MQTT-3.1.3-8].
    c = raw_factory()
    assert c.connect("", clean_session=False) == (False, 2)
    c.wait_closed(WAIT)


# ---------------------------------------------------------------------------------------------
# Will messages


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_will_published_on_abrupt_close(client_factory, raw_factory, topic, how):
    sub = client_factory()
    assert sub.subscribe(f"{topic}/will", 2) == [2]
    w = raw_factory(client_id=unique_id("will"), will=(f"{topic}/will", b"client died", 1, False))
    if how == "rst":
        w.abort()
    else:
        w.close()  # FIN without DISCONNECT
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (f"{topic}/will", b"client died", 1, False)


def test_will_retained_flag_is_kept(client_factory, raw_factory, topic):
    live = client_factory()
    assert live.subscribe(f"{topic}/will", 2) == [2]
    w = raw_factory(client_id=unique_id("will"), will=(f"{topic}/will", b"retained will", 1,
                                                        True))
    w.abort()
    # Published: a subscriber that was there gets it as a live message (retain 0)...
    m = live.get()
    assert (m.payload, m.retain) == (b"retained will", False)
    # ...and it is stored as retained: a subscription made afterwards still gets it.
    sub = client_factory()
    assert sub.subscribe(f"{topic}/will", 2) == [2]
    m = sub.get()
    assert (m.payload, m.retain) == (b"retained will", True)
    sub.publish(f"{topic}/will", b"", 0, retain=True)  # clean up the retained will


def test_will_not_published_on_clean_disconnect(client_factory, raw_factory, topic):
    sub = client_factory()
    assert sub.subscribe(f"{topic}/will", 2) == [2]
    w = raw_factory(client_id=unique_id("will"), will=(f"{topic}/will", b"must not appear", 1,
                                                        False))
    w.send(mqttraw.disconnect())
    w.wait_closed(WAIT)  # the server has processed the DISCONNECT
    expect_nothing_then_marker(sub, sub, f"{topic}/will")


# ---------------------------------------------------------------------------------------------
# Persistent sessions


def test_offline_messages_queued_for_persistent_session(client_factory, topic):
    cid = unique_id("offline")
    sub = client_factory(client_id=cid, clean_session=False)
    assert sub.session_present is False
    assert sub.subscribe(f"{topic}/q", 2) == [2]
    sub.disconnect()

    pub = client_factory()
    for q in (0, 1, 2):
        pub.publish(f"{topic}/q", f"offline qos {q}", q)

    back = client_factory(client_id=cid, clean_session=False)
    assert back.session_present is True, "CONNACK must report the stored session"
    mark = marker_payload()
    pub.publish(f"{topic}/q", mark, 1)  # same topic: must come after the queued QoS 1 message
    got = back.collect_until(f"{topic}/q", mark)
    payloads = [(m.payload, m.qos) for m in got]
    assert payloads.count((b"offline qos 1", 1)) >= 1, payloads
    if (b"offline qos 2", 2) not in payloads:  # QoS 2 vs QoS 1 order is not mandated
        m = back.get()
        payloads.append((m.payload, m.qos))
    assert payloads.count((b"offline qos 2", 2)) == 1, f"QoS 2 exactly once: {payloads}"
    # QoS 0 messages may be queued or dropped; nothing else may arrive.
    assert set(payloads) <= {(b"offline qos 0", 0), (b"offline qos 1", 1),
                             (b"offline qos 2", 2)}, payloads
    # The subscription survived too: a new message is delivered live.
    pub.publish(f"{topic}/q", "live", 1)
    assert back.get_where(lambda m: m.payload == b"live").qos == 1

    # Clean session discards it: reconnecting with CleanSession=1 reports no session.
    back.disconnect()
    clean = client_factory(client_id=cid, clean_session=True)
    assert clean.session_present is False


def test_redelivery_of_unacknowledged_qos_1_and_2_with_dup(client_factory, raw_factory, topic):
    cid = unique_id("redeliver")
    r = raw_factory(client_id=cid, clean_session=False)
    assert r.subscribe(1, [(f"{topic}/r", 2)]) == [2]
    pub = client_factory()
    pub.publish(f"{topic}/r", "one", 1)
    pub.publish(f"{topic}/r", "two", 2)
    first = {p.payload: p for p in (r.read_publish(), r.read_publish())}
    assert set(first) == {b"one", b"two"}
    assert not first[b"one"].dup and not first[b"two"].dup
    assert (first[b"one"].qos, first[b"two"].qos) == (1, 2)
    r.abort()  # no PUBACK, no PUBREC, no DISCONNECT

    r2 = raw_factory()
    assert r2.connect(cid, clean_session=False) == (True, 0)
    again = {p.payload: p for p in (r2.read_publish(), r2.read_publish())}
    assert set(again) == {b"one", b"two"}
    for payload, qos in ((b"one", 1), (b"two", 2)):
        p = again[payload]
        assert p.dup, f"re-sent PUBLISH must have DUP=1 [MQTT-3.3.1-1]: {p!r}"
        assert p.qos == qos
        assert p.mid == first[payload].mid, "re-sent with its original packet id [MQTT-4.4.0-1]"
    r2.send(mqttraw.puback(again[b"one"].mid))
    r2.send(mqttraw.pubrec(again[b"two"].mid))
    assert r2.expect(mqttraw.PUBREL).mid() == again[b"two"].mid
    r2.send(mqttraw.pubcomp(again[b"two"].mid))
    # Acknowledged: nothing else is re-sent, the next packet is our PINGRESP.
    r2.send(mqttraw.pingreq())
    r2.expect(mqttraw.PINGRESP)
    r2.send(mqttraw.disconnect())
    r2.wait_closed(WAIT)

    # ... and not re-sent on the next reconnect either.
    r3 = raw_factory()
    assert r3.connect(cid, clean_session=True) == (False, 0)
    r3.send(mqttraw.pingreq())
    r3.expect(mqttraw.PINGRESP)


def test_redelivery_of_pubrel_after_reconnect(client_factory, raw_factory, topic):
    cid = unique_id("pubrel")
    r = raw_factory(client_id=cid, clean_session=False)
    assert r.subscribe(1, [(f"{topic}/r", 2)]) == [2]
    client_factory().publish(f"{topic}/r", "three", 2)
    p = r.read_publish()
    assert (p.payload, p.qos) == (b"three", 2)
    r.send(mqttraw.pubrec(p.mid))
    assert r.expect(mqttraw.PUBREL).mid() == p.mid
    r.abort()  # PUBCOMP never sent

    r2 = raw_factory()
    assert r2.connect(cid, clean_session=False) == (True, 0)
    rel = r2.read_packet()
    assert rel.ptype == mqttraw.PUBREL, \
        f"after PUBREC the server re-sends PUBREL, not the PUBLISH [MQTT-4.4.0-1]: {rel!r}"
    assert rel.mid() == p.mid and rel.flags == 0x02
    r2.send(mqttraw.pubcomp(p.mid))
    r2.send(mqttraw.pingreq())
    r2.expect(mqttraw.PINGRESP)
    r2.send(mqttraw.disconnect())


# ---------------------------------------------------------------------------------------------
# Subscriptions


@pytest.mark.parametrize("qos_hash,qos_plus", [(2, 1), (1, 2)])
def test_overlapping_subscriptions(client_factory, raw_factory, topic, qos_hash, qos_plus):
    # A raw subscriber sees the PUBLISH packets in the order the server sends them (paho would
    # hand over a QoS 2 message only after PUBREL, behind a later QoS 1 marker).
    c = raw_factory(client_id=unique_id("overlap"))
    assert c.subscribe(1, [(f"{topic}/#", qos_hash), (f"{topic}/+", qos_plus)]) == [qos_hash,
                                                                                   qos_plus]
    pub = client_factory()
    pub.publish(f"{topic}/a", "overlap", 2)
    mark = marker_payload()
    pub.publish(f"{topic}/marker", mark, 1)
    got = []
    while True:
        p = c.read_publish()
        if p.topic == f"{topic}/marker":
            break
        got.append(p)
    assert all((p.topic, p.payload) == (f"{topic}/a", b"overlap") for p in got), got
    qos = sorted(p.qos for p in got)
    # MQTT-3.3.5-1: one message at the maximum QoS of the matching subscriptions, or one per
    # subscription, each at that subscription's QoS. (Mosquitto's default de-duplication takes
    # the QoS of the "+" subscription and breaks this; the reference config turns it off.)
    assert qos in ([2], [1, 2]), f"overlapping delivery: {got!r}"


def test_unsubscribe(client_factory, topic):
    c = client_factory()
    assert c.subscribe([(f"{topic}/a", 1), (f"{topic}/b", 1)]) == [1, 1]
    c.unsubscribe(f"{topic}/a")
    c.unsubscribe(f"{topic}/never-subscribed")  # still answered with UNSUBACK [MQTT-3.10.4-5]
    pub = client_factory()
    pub.publish(f"{topic}/a", "after unsubscribe", 1)
    pub.publish(f"{topic}/b", "still subscribed", 1)
    before = c.collect_until(f"{topic}/b", b"still subscribed")
    assert not before, f"delivered after UNSUBACK: {before!r}"
    c.unsubscribe(f"{topic}/b")
    c.subscribe(f"{topic}/c", 1)
    pub.publish(f"{topic}/b", "b after unsubscribe", 1)
    expect_nothing_then_marker(c, pub, f"{topic}/c")


@pytest.mark.thingport_only(reason="Mosquitto 2.0 answers an ACL-denied SUBSCRIBE with the "
                                   "granted QoS (and then never delivers), not SUBACK 0x80")
def test_subscribe_failure(client_factory, topic):
    c = client_factory()
    granted = c.subscribe([(DENY_SUBSCRIBE, 2), (f"{topic}/ok", 1)])
    assert granted == [0x80, 1]
    # The link stays up and the allowed subscription works.
    c.publish(f"{topic}/ok", "fine", 1)
    m = c.get()
    assert (m.topic, m.payload) == (f"{topic}/ok", b"fine")
    c.publish(DENY_SUBSCRIBE, "must not be delivered", 1)
    expect_nothing_then_marker(c, c, f"{topic}/ok")


def test_dollar_topics_not_matched_by_leading_wildcards(client_factory, topic):
    dollar = f"$test/{unique_id('d')}"
    wild = client_factory()
    assert wild.subscribe([("#", 1), ("+/+", 1), ("+/#", 1)]) == [1, 1, 1]
    exact = client_factory()
    assert exact.subscribe(dollar, 1) == [1]
    pub = client_factory()
    pub.publish(dollar, "dollar", 1)
    # The message exists and is routed to an explicit $ subscription ...
    m = exact.get()
    assert (m.topic, m.payload) == (dollar, b"dollar")
    # ... but not to filters starting with a wildcard [MQTT-4.7.2-1].
    mark = marker_payload()
    pub.publish(f"{topic}/marker", mark, 1)
    got = wild.collect_until(f"{topic}/marker", mark)
    assert not [g for g in got if g.topic.startswith("$")], got


# ---------------------------------------------------------------------------------------------
# Keepalive


@pytest.mark.slow
def test_keepalive_silent_client_disconnected_and_will_published(client_factory, raw_factory,
                                                                  topic):
    keepalive = 5
    sub = client_factory()
    assert sub.subscribe(f"{topic}/will", 1) == [1]
    pinger = raw_factory(client_id=unique_id("ping"), keepalive=keepalive)
    t0 = time.monotonic()
    silent = raw_factory(client_id=unique_id("silent"), keepalive=keepalive,
                         will=(f"{topic}/will", b"keepalive expired", 1, False))
    # Spec: disconnect after 1.5 x keepalive without a packet [MQTT-3.1.2-24]; 2.5 s margin.
    # Mosquitto 2.0.11 checks keepalives only every ~6 s (measured: keepalive 5 -> ~12 s,
    # 2 -> ~6 s), so the reference gets that much more slack; thingport gets the spec bound.
    limit = 1.5 * keepalive + (8.5 if IS_MOSQUITTO else 2.5)
    # Wait for the will; meanwhile the other client pings every 2 s (this test is about time).
    next_ping = t0 + 2
    while True:
        now = time.monotonic()
        if now > t0 + limit:
            raise AssertionError(f"silent client's will not published within {limit}s")
        try:
            m = sub.messages.get(timeout=max(0.0, min(next_ping, t0 + limit) - now))
            break
        except queue.Empty:
            if time.monotonic() >= next_ping:
                pinger.send(mqttraw.pingreq())
                pinger.expect(mqttraw.PINGRESP)
                next_ping += 2
    elapsed = time.monotonic() - t0
    assert (m.topic, m.payload) == (f"{topic}/will", b"keepalive expired")
    assert elapsed >= keepalive - 0.5, f"disconnected after {elapsed:.1f}s, before the keepalive"
    silent.wait_closed(2)
    # The client that kept pinging is still connected.
    pinger.send(mqttraw.pingreq())
    pinger.expect(mqttraw.PINGRESP)
