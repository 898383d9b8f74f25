"""Overload without loss (issue 16): a QoS 1 message for a connected subscriber whose queue is at
its bound ([limits] offline_queue) is not dropped; its publisher's PUBACK waits until the message
is sent, and the publisher's socket is not read while too many PUBACKs wait ([limits]
max_inflight_in). A subscriber that acknowledges nothing for [limits] slow_consumer is closed, so
one stuck subscriber cannot hold its publishers forever. `overload = "drop"` is the old
behaviour, kept as the control that shows these tests can fail.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Dict, List, Set, Tuple

import pytest

import harness
import mqttraw
from apiclient import Api
from harness import BrokerProcess, poll_until
from test_durability import clients, make_broker

pytestmark = [
    pytest.mark.thingport_only(reason="thingport's [limits] overload"),
    pytest.mark.store_independent,
]

__all__ = ["clients", "make_broker"]  # fixtures, imported for pytest


# Exact counts need one worker: across workers, what a router sends before the subscriber's
# first queued message shows may pass the bound (kept, and acknowledged) before holding begins.
ONE_WORKER = "[server]\nworkers = 1\n"


def metric(b: BrokerProcess, name: str) -> float:
    return Api(b).metric(name)


def raw(b: BrokerProcess, clients: list, prefix: str, keepalive: int = 60) -> mqttraw.RawClient:
    c = mqttraw.RawClient(b.host, b.port)
    clients.append(c)
    assert c.connect(harness.unique_id(prefix), keepalive=keepalive)[1] == 0
    return c


def flood(b: BrokerProcess, clients: list, tag: str, n: int,
          keepalive: int = 60) -> Tuple[mqttraw.RawClient, mqttraw.RawClient]:
    """A raw subscriber at QoS 1 on a topic of its own, and a raw publisher that pipelines
    QoS 1 messages "m0".."m{n-1}" (packet ids 1..n) to it at once. Returns (sub, pub)."""
    topic = f"ovl/{harness.unique_id(tag)}"
    sub = raw(b, clients, "sub")
    assert sub.subscribe(1, [(topic, 1)]) == [1]
    pub = raw(b, clients, "pub", keepalive)
    pub.send(b"".join(mqttraw.publish(topic, f"m{i}", qos=1, mid=i + 1) for i in range(n)))
    return sub, pub


def pubacks(c: mqttraw.RawClient, timeout: float, want: int = 0) -> List[int]:
    """The packet ids of the PUBACKs that arrive within `timeout`, or as soon as `want` have
    (other packets fail)."""
    got: List[int] = []
    deadline = time.monotonic() + timeout
    while not want or len(got) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        try:
            p = c.read_packet(left)
        except TimeoutError:
            return got
        assert p.ptype == mqttraw.PUBACK, p
        got.append(p.mid())
    return got


@pytest.mark.parametrize("keepalive", [60, 0])
def test_a_publisher_is_held_back_and_released_in_order(make_broker, clients, keepalive):
    """Subscriber window 32 + queue bound 5: the 38th message is queued past the bound, so its
    PUBACK (and every later one) waits; the publisher's socket is not read meanwhile (no
    PINGRESP); once the subscriber acknowledges, every message arrives once, in order, and
    every PUBACK follows. A publisher without a keepalive (0: no deadline, so nothing else holds
    its link while it waits) is held the same and not dropped."""
    b = make_broker(ONE_WORKER + '[limits]\noffline_queue = 5\nmax_inflight_in = 10\n')
    n = 60
    sub, pub = flood(b, clients, "t", n, keepalive)
    first = pubacks(pub, 1.5)
    assert first == list(range(1, 38)), first
    pub.send(mqttraw.pingreq())
    with pytest.raises(TimeoutError):
        pub.read_packet(0.5)  # not read: 10 PUBACKs owed is max_inflight_in
    assert metric(b, "thingport_messages_held_total") > 0
    assert metric(b, 'thingport_messages_dropped_total{reason="queue_full"}') == 0

    got = []
    for _ in range(n):
        p = sub.read_publish(5)
        got.append(p.payload.decode())
        sub.send(mqttraw.puback(p.mid))
    assert got == [f"m{i}" for i in range(n)]
    rest: List[int] = []
    deadline = time.monotonic() + 5
    while len(rest) < n - 37 + 1 and time.monotonic() < deadline:
        p = pub.read_packet(5)
        rest.append(p.mid() if p.ptype == mqttraw.PUBACK else -1)  # -1: the PINGRESP
    assert sorted(m for m in rest if m > 0) == list(range(38, n + 1))
    assert [m for m in rest if m > 0] == list(range(38, n + 1)), "PUBACKs in PUBLISH order"
    assert -1 in rest, "the PINGREQ was read once the publisher went on"
    with pytest.raises(TimeoutError):
        sub.read_packet(0.3)  # nothing twice


def test_held_publishers_go_on_together_at_the_low_mark(make_broker, clients):
    """Queue bound 8, so its low mark is 2: with 32 messages in flight, 8 queued and 4 held past
    the bound, the held messages' PUBACKs wait until the queue is down to 2 (ten deliveries
    acknowledged), then the first two come together, and the last two as each is sent."""
    b = make_broker(ONE_WORKER + '[limits]\noffline_queue = 8\n')
    n = 44
    sub, pub = flood(b, clients, "l", n)
    assert pubacks(pub, 1.0) == list(range(1, 41))
    inflight = [sub.read_publish(5).mid for _ in range(32)]
    released: Dict[int, List[int]] = {}
    for k in range(1, 13):  # the k-th delivery acknowledged: the queue is down to 12 - k
        sub.send(mqttraw.puback(inflight[k - 1]))
        inflight.append(sub.read_publish(5).mid)
        released[k] = pubacks(pub, 0.1 if k < 10 else 2.0, want={10: 2, 11: 1, 12: 1}.get(k, 0))
    assert all(not released[k] for k in range(1, 10)), released
    assert released[10] == [41, 42], released
    assert released[11] == [43] and released[12] == [44], released
    assert pubacks(pub, 0.2) == []


def test_the_outbound_window_is_the_configured_one(make_broker, clients):
    """[limits] max_inflight_out = 4: a subscriber that acknowledges nothing gets 4 messages
    and no more; each PUBACK lets exactly one more go, in order, until all 10 arrived once."""
    b = make_broker('[limits]\nmax_inflight_out = 4\n')
    n = 10
    sub, pub = flood(b, clients, "w", n)
    assert sorted(pubacks(pub, 5, want=n)) == list(range(1, n + 1))
    window = [sub.read_publish(5) for _ in range(4)]
    with pytest.raises(TimeoutError):
        sub.read_packet(0.5)  # the fifth waits for an acknowledgement
    got = [p.payload.decode() for p in window]
    while len(got) < n:
        sub.send(mqttraw.puback(window.pop(0).mid))
        window.append(sub.read_publish(5))
        got.append(window[-1].payload.decode())
        if len(got) < n:
            with pytest.raises(TimeoutError):
                sub.read_packet(0.1)  # one acknowledgement, one more message
    assert got == [f"m{i}" for i in range(n)]


def test_drop_mode_drops_and_acknowledges(make_broker, clients):
    """The control: overload = "drop" acknowledges everything and loses what the queue could not
    hold (counted)."""
    b = make_broker(ONE_WORKER + '[limits]\noffline_queue = 5\noverload = "drop"\n')
    sub, pub = flood(b, clients, "d", 60)
    assert sorted(pubacks(pub, 5, want=60)) == list(range(1, 61))
    assert metric(b, 'thingport_messages_dropped_total{reason="queue_full"}') == 60 - 37


def test_a_publisher_is_not_held_by_its_own_subscription(make_broker, clients):
    """Held, it would not read the PUBACKs its own deliveries wait for: past the bound its own
    copy is dropped (counted) and it is acknowledged at once."""
    b = make_broker('[limits]\noffline_queue = 5\nmax_inflight_in = 10\n')
    topic = f"ovl/{harness.unique_id('o')}"
    echo = raw(b, clients, "echo")
    echo.subscribe(1, [(topic, 1)])
    n = 60
    echo.send(b"".join(mqttraw.publish(topic, f"m{i}", qos=1, mid=i + 1) for i in range(n)))
    acked, delivered = [], []
    deadline = time.monotonic() + 5
    while len(acked) < n and time.monotonic() < deadline:
        p = echo.read_packet(5)
        if p.ptype == mqttraw.PUBACK:
            acked.append(p.mid())
        else:
            delivered.append(p.publish().payload.decode())  # not acknowledged: stays in flight
    assert sorted(acked) == list(range(1, n + 1))
    assert delivered[:32] == [f"m{i}" for i in range(32)]
    assert metric(b, 'thingport_messages_dropped_total{reason="queue_full"}') == n - 37
    assert metric(b, "thingport_messages_held_total") == 0


def test_a_stuck_subscriber_is_closed_and_its_publishers_go_on(make_broker, clients):
    b = make_broker(ONE_WORKER + '[limits]\noffline_queue = 5\nslow_consumer = "2s"\n')
    topic = f"ovl/{harness.unique_id('s')}"
    before = metric(b, 'thingport_closes_total{reason="slow_consumer"}')
    stuck = raw(b, clients, "stuck")
    stuck.subscribe(1, [(topic, 1)])
    pub = raw(b, clients, "pub")
    pub.send(b"".join(mqttraw.publish(topic, f"m{i}", qos=1, mid=i + 1) for i in range(50)))
    assert len(pubacks(pub, 1.0)) == 37
    stuck.wait_closed(8)  # reads nothing, acknowledges nothing: closed within 2 s + the sweep
    assert metric(b, 'thingport_closes_total{reason="slow_consumer"}') == before + 1
    # Its clean session is gone; the held publisher is acknowledged and reads again.
    assert sorted(pubacks(pub, 5, want=13)) == list(range(38, 51))
    pub.send(mqttraw.pingreq())
    pub.expect(mqttraw.PINGRESP, 5)


def test_a_slow_but_live_subscriber_is_not_closed(make_broker, clients):
    """Acknowledging keeps a subscriber past its bound connected, however long it takes."""
    b = make_broker('[limits]\noffline_queue = 5\nslow_consumer = "1s"\n')
    topic = f"ovl/{harness.unique_id('l')}"
    sub = raw(b, clients, "slow")
    sub.subscribe(1, [(topic, 1)])
    pub = raw(b, clients, "pub")
    n = 80
    pub.send(b"".join(mqttraw.publish(topic, f"m{i}", qos=1, mid=i + 1) for i in range(n)))
    got = []
    for _ in range(n):
        p = sub.read_publish(5)
        got.append(p.payload.decode())
        time.sleep(0.04)  # 80 x 40 ms: past slow_consumer, but never silent for it
        sub.send(mqttraw.puback(p.mid))
    assert got == [f"m{i}" for i in range(n)]
    assert sorted(pubacks(pub, 5, want=n)) == list(range(1, n + 1))
    assert metric(b, 'thingport_closes_total{reason="slow_consumer"}') == 0


def fan_in(b: BrokerProcess, clients: list, publishers: int, each: int
           ) -> Tuple[Set[str], Set[str], Dict[str, int]]:
    """`publishers` raw clients each pipeline `each` QoS 1 messages to one slow subscriber.
    Returns (acknowledged, delivered, delivered counts)."""
    topic = f"ovl/{harness.unique_id('f')}"
    sub = raw(b, clients, "sub")
    sub.subscribe(1, [(f"{topic}/#", 1)])
    counts: Dict[str, int] = {}
    done = threading.Event()

    def consume() -> None:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 1.5:
            try:
                p = sub.read_publish(0.2)
            except TimeoutError:
                continue
            idle_since = time.monotonic()
            key = p.payload.decode()
            counts[key] = counts.get(key, 0) + 1
            if len(counts) % 50 == 0:
                time.sleep(0.02)  # slower than the publishers together
            sub.send(mqttraw.puback(p.mid))
        done.set()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    pubs = [raw(b, clients, f"p{i}") for i in range(publishers)]
    for i, p in enumerate(pubs):
        p.send(b"".join(mqttraw.publish(f"{topic}/{i}", f"{i}:{k}", qos=1, mid=k + 1)
                        for k in range(each)))
    acked: Set[str] = set()
    for i, p in enumerate(pubs):
        acked |= {f"{i}:{mid - 1}" for mid in pubacks(p, 20, want=each)}
    assert done.wait(30)
    return acked, set(counts), counts


def test_fan_in_across_workers_loses_nothing_acknowledged(make_broker, clients):
    """Four workers, eight publishers (spread over them), one slow subscriber: every message a
    publisher got a PUBACK for is delivered."""
    b = make_broker('[server]\nworkers = 4\n[limits]\noffline_queue = 20\n')
    acked, delivered, counts = fan_in(b, clients, 8, 300)
    assert len(acked) == 8 * 300
    assert acked <= delivered, f"{len(acked - delivered)} acknowledged and not delivered"
    assert metric(b, "thingport_messages_held_total") > 0
    assert metric(b, 'thingport_messages_dropped_total{reason="queue_full"}') == 0
    assert max(counts.values()) == 1, "each once (no reconnect, no retry)"


def test_fan_in_control_in_drop_mode_loses_acknowledged_messages(make_broker, clients):
    b = make_broker('[server]\nworkers = 4\n[limits]\noffline_queue = 20\noverload = "drop"\n')
    acked, delivered, _ = fan_in(b, clients, 8, 300)
    assert len(acked) == 8 * 300
    assert len(acked - delivered) > 0
    assert metric(b, 'thingport_messages_dropped_total{reason="queue_full"}') == \
        len(acked - delivered)


@pytest.mark.parametrize("line, why", [
    ('overload = "queue"', 'must be "backpressure" or "drop"'),
    ('slow_consumer = "0s"', "must be at least 1s"),
])
def test_overload_settings_are_checked(tmp_path, line, why):
    b = BrokerProcess(tmp_path / "b", thingport_config=f"[limits]\n{line}\n")
    with pytest.raises(harness.BrokerError):
        b.start()
    assert why in b.log.tail(20)
