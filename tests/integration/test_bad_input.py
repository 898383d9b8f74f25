"""Malformed and hostile input over raw sockets (docs/design.md "Promises" 5): the offending
connection is closed promptly, and everyone else keeps being served.

Each test has a good paho client connected before the bad input; afterwards it must still
publish to itself and receive, nothing from the bad connection may have been routed, and a
new client must still be accepted.
"""

from __future__ import annotations

import time

import pytest

import mqttraw
from mqtt_clients import MqttClient, marker_payload
from harness import WAIT, unique_id

pytestmark = pytest.mark.store_independent

CLOSE_WITHIN = 5.0  # s: a bad connection must be closed at least this promptly
ACCEPTED = bytes([0x20, 0x02, 0x00, 0x00])  # CONNACK, return code 0


@pytest.fixture
def good(client_factory, topic) -> MqttClient:
    """A connected client subscribed to everything under this test's prefix."""
    c = client_factory()
    assert c.subscribe(f"{topic}/#", 1) == [1]
    return c


def assert_still_served(broker, good: MqttClient, topic: str) -> None:
    """The good client publishes to itself, receiving that and nothing the bad connection
    sent; and a new connection is accepted."""
    mark = marker_payload()
    good.publish(f"{topic}/good", mark, 1)
    leaked = good.collect_until(f"{topic}/good", mark)
    assert not leaked, f"messages from the bad connection were routed: {leaked!r}"
    with mqttraw.RawClient(broker.host, broker.port) as fresh:
        assert fresh.connect(unique_id("fresh")) == (False, 0)
        fresh.send(mqttraw.disconnect())
    broker.assert_alive()


def send_and_expect_close(c: mqttraw.RawClient, data: bytes,
                          within: float = CLOSE_WITHIN) -> bytes:
    t0 = time.monotonic()
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        return b""  # already closed: fine
    got = c.wait_closed(within)
    assert time.monotonic() - t0 < within
    return got


def connected_raw(raw_factory) -> mqttraw.RawClient:
    return raw_factory(client_id=unique_id("bad"))


# ---------------------------------------------------------------------------------------------
# Before CONNECT


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00\x01garbage\x00\xff" * 8,   # type 15 (reserved) with junk
    b"\x00\x00\x00\x00",                        # type 0 (reserved)
    bytes(range(256)),
], ids=["junk", "zeros", "all-bytes"])
def test_garbage_bytes(broker, good, raw_factory, topic, data):
    c = raw_factory()
    got = send_and_expect_close(c, data)
    assert not got.startswith(ACCEPTED), f"garbage was accepted: {got!r}"
    assert_still_served(broker, good, topic)


def test_http_get_on_mqtt_port(broker, good, raw_factory, topic):
    c = raw_factory()
    send_and_expect_close(c, b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: it\r\n"
                             b"Accept: */*\r\n\r\n")
    assert_still_served(broker, good, topic)


def test_publish_as_first_packet(broker, good, raw_factory, topic):
    c = raw_factory()
    send_and_expect_close(c, mqttraw.publish(f"{topic}/bad", b"no CONNECT first", qos=0))
    assert_still_served(broker, good, topic)  # and it was not routed


@pytest.mark.parametrize("after_connect", [False, True], ids=["first-packet", "connected"])
def test_five_byte_remaining_length(broker, good, raw_factory, topic, after_connect):
    c = connected_raw(raw_factory) if after_connect else raw_factory()
    # Remaining length is at most 4 bytes [MQTT-2.2.3]; the 4th byte here has its
    # continuation bit set and a 5th follows.
    ptype = 0x30 if after_connect else 0x10
    send_and_expect_close(c, bytes([ptype, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)
    assert_still_served(broker, good, topic)


@pytest.mark.parametrize("after_connect", [False, True], ids=["connect", "publish"])
def test_header_claiming_256_megabytes(broker, good, raw_factory, topic, after_connect):
    """Only the fixed header of a 268435455-byte packet is sent: the server must refuse it from
    the header (over the packet limit) rather than wait for, or buffer, the body."""
    c = connected_raw(raw_factory) if after_connect else raw_factory()
    header = bytes([0x30 if after_connect else 0x10]) + mqttraw.encode_remaining_length(
        268_435_455)
    t0 = time.monotonic()
    send_and_expect_close(c, header, within=3.0)
    assert time.monotonic() - t0 < 3.0
    assert_still_served(broker, good, topic)


@pytest.mark.slow
@pytest.mark.thingport_only(reason="Mosquitto 2.0.11 has no CONNECT timeout: a socket that "
                                   "never sends CONNECT stays open (measured > 20 s)")
def test_silent_socket_without_connect_is_closed(broker, good, raw_factory, topic):
    c = raw_factory()
    t0 = time.monotonic()
    c.wait_closed(12.0)  # thingport's connect timeout is 10 s
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.0, f"closed after {elapsed:.2f}s: too eager for a CONNECT timeout"
    assert_still_served(broker, good, topic)


def test_connect_with_bad_protocol_name(broker, good, raw_factory, topic):
    c = raw_factory()
    # A wrong protocol name: the server may disconnect, and must not go on as MQTT 3.1.1
    # [MQTT-3.1.2-1]; a refusing CONNACK before the close is tolerated, acceptance is not.
    got = send_and_expect_close(c, mqttraw.connect(unique_id("bad"), protocol_name="MQTX"))
    assert not got.startswith(ACCEPTED), f"accepted protocol name MQTX: {got!r}"
    assert_still_served(broker, good, topic)


def test_connect_with_unsupported_protocol_level(broker, good, raw_factory, topic):
    c = raw_factory()
    # Level 9: CONNACK 1 (unacceptable protocol level), then close [MQTT-3.1.2-2].
    got = send_and_expect_close(c, mqttraw.connect(unique_id("bad"), protocol_level=9))
    assert got == bytes([0x20, 0x02, 0x00, 0x01]), got
    assert_still_served(broker, good, topic)


# ---------------------------------------------------------------------------------------------
# On a connected link


def test_second_connect(broker, good, raw_factory, topic):
    c = connected_raw(raw_factory)
    send_and_expect_close(c, mqttraw.connect(unique_id("again")))
    assert_still_served(broker, good, topic)


@pytest.mark.parametrize("wild", ["+", "#", "a/+/b", "a/#"])
def test_publish_with_wildcard_in_topic(broker, good, raw_factory, topic, wild):
    c = connected_raw(raw_factory)
    # Routed anywhere, it would match the good client's "<topic>/#" as a literal name.
    send_and_expect_close(c, mqttraw.publish(f"{topic}/{wild}", b"wildcard topic", qos=1))
    assert_still_served(broker, good, topic)


@pytest.mark.parametrize("bad", [
    b"\xff",                # never valid in UTF-8
    b"\xc0\xaf",            # overlong encoding of "/"
    b"\xed\xa0\x80",        # UTF-16 surrogate U+D800 [MQTT-1.5.3-1]
    b"\x00",                # U+0000 [MQTT-1.5.3-2]
    b"\xe2\x82",            # truncated sequence
], ids=["ff", "overlong", "surrogate", "nul", "truncated"])
def test_publish_with_invalid_utf8_topic(broker, good, raw_factory, topic, bad):
    c = connected_raw(raw_factory)
    send_and_expect_close(c, mqttraw.publish(topic.encode() + b"/x" + bad, b"bad topic", qos=1))
    assert_still_served(broker, good, topic)


def test_subscribe_with_no_topics(broker, good, raw_factory, topic):
    c = connected_raw(raw_factory)
    # SUBSCRIBE with a packet id and an empty payload [MQTT-3.8.3-3].
    send_and_expect_close(c, mqttraw.fixed(mqttraw.SUBSCRIBE, 0x02, b"\x00\x07"))
    assert_still_served(broker, good, topic)


def test_subscribe_with_reserved_flags_wrong(broker, good, raw_factory, topic):
    c = connected_raw(raw_factory)
    # SUBSCRIBE flags must be 0010 [MQTT-3.8.1-1].
    send_and_expect_close(c, mqttraw.subscribe(3, [(f"{topic}/#", 0)], flags=0x00))
    assert_still_served(broker, good, topic)


def test_publish_with_qos_3(broker, good, raw_factory, topic):
    c = connected_raw(raw_factory)
    send_and_expect_close(c, mqttraw.publish(f"{topic}/q3", b"qos 3", qos=3, mid=9))
    assert_still_served(broker, good, topic)


# ---------------------------------------------------------------------------------------------
# Awkward but valid: packets split into single bytes, and many packets in one write


def test_fragmented_packets_are_reassembled(broker, good, raw_factory, topic):
    c = raw_factory()
    data = (mqttraw.connect(unique_id("frag")) + mqttraw.subscribe(1, [(f"{topic}/frag", 1)]))
    for i in range(len(data)):
        c.send(data[i:i + 1])
        time.sleep(0.002)  # spread the bytes over separate segments
    assert c.expect(mqttraw.CONNACK).connack() == (False, 0)
    assert c.expect(mqttraw.SUBACK).suback() == (1, [1])
    good.publish(f"{topic}/frag", "after fragments", 1)
    p = c.read_publish()
    assert (p.topic, p.payload) == (f"{topic}/frag", b"after fragments")
    assert good.get().payload == b"after fragments"  # its own "<topic>/#" matched as well
    assert_still_served(broker, good, topic)


def test_batched_packets_in_one_write(broker, raw_factory, topic):
    c = raw_factory()
    c.send(mqttraw.connect(unique_id("batch"))
           + mqttraw.subscribe(1, [(f"{topic}/batch", 1)])
           + b"".join(mqttraw.publish(f"{topic}/batch", f"m{i}".encode(), qos=1, mid=10 + i)
                      for i in range(5))
           + mqttraw.pingreq())
    assert c.expect(mqttraw.CONNACK).connack() == (False, 0)
    assert c.expect(mqttraw.SUBACK).suback() == (1, [1])
    pubacks, publishes, pingresp = [], [], 0
    deadline = time.monotonic() + WAIT
    while len(pubacks) < 5 or len(publishes) < 5 or not pingresp:
        pkt = c.read_packet(max(deadline - time.monotonic(), 0.01))
        if pkt.ptype == mqttraw.PUBACK:
            pubacks.append(pkt.mid())
        elif pkt.ptype == mqttraw.PUBLISH:
            p = pkt.publish()
            publishes.append(p.payload)
            c.send(mqttraw.puback(p.mid))
        elif pkt.ptype == mqttraw.PINGRESP:
            pingresp += 1
        else:
            raise AssertionError(f"unexpected {pkt!r}")
    assert pubacks == [10, 11, 12, 13, 14]
    assert publishes == [f"m{i}".encode() for i in range(5)]  # in order [MQTT-4.6.0-6]
