"""Durable sessions (issue 8; docs/design.md "Promises" 3 and 4): persistent sessions, their
subscriptions and their unacknowledged QoS 1 messages survive a graceful restart and kill -9.

Every test runs its own thingport (it kills it); generic anonymous clients (harness default).
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Iterator, List, Set

import pytest

import mqtt_clients
import harness
import mqttraw
from apiclient import Api
from mqtt_clients import MqttClient
from harness import BrokerProcess

pytestmark = pytest.mark.thingport_only(reason="kills and restarts thingport with its data dir")


def kill9(b: BrokerProcess) -> None:
    """SIGKILL the server and wait for it: nothing gets a chance to flush."""
    assert b.proc is not None and b.proc.poll() is None, "broker not running"
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(5)
    harness._untrack(b.proc)
    for t in b._readers:
        t.join(2)
    b.log.add(f"=== killed with SIGKILL (exit code {b.proc.returncode})")


@pytest.fixture
def make_broker(tmp_path: Path):
    made: List[BrokerProcess] = []

    def make(config: str = "") -> BrokerProcess:
        b = BrokerProcess(tmp_path / f"b{len(made)}", thingport_config=config)
        made.append(b)
        b.start()
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def clients() -> Iterator[list]:
    made: list = []
    yield made
    for c in made:
        c.close()


def paho(b: BrokerProcess, clients: list, **kw) -> MqttClient:
    c = MqttClient(b, **kw)
    clients.append(c)
    return c.connect()


def raw(b: BrokerProcess, clients: list, client_id: str, **kw) -> mqttraw.RawClient:
    c = mqttraw.RawClient(b.host, b.port)
    clients.append(c)
    present, rc = c.connect(client_id, **kw)
    assert rc == 0
    c.session_present = present
    return c


def persistent_subscriber(b: BrokerProcess, clients: list, topic: str) -> str:
    """A clean_session=0 client subscribes to topic/# at QoS 1 and leaves; returns its id."""
    cid = harness.unique_id("dur")
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.subscribe(f"{topic}/#", 1) == [1]
    seen = b.log.mark()
    sub.disconnect()
    assert b.wait_client_closed(cid, seen), b.log.tail()
    return cid


def receive_seqs(sub: MqttClient, want: Set[int], timeout: float) -> Set[int]:
    """Sequence numbers received until `want` is covered (or the time is up)."""
    got: Set[int] = set()
    deadline = time.monotonic() + timeout
    while not want <= got and time.monotonic() < deadline:
        try:
            m = sub.get(min(0.5, max(0.01, deadline - time.monotonic())))
        except AssertionError:
            continue
        got.add(int(m.payload.decode().split(":")[1]))
    return got


def kill9_keeping_late_acks(b: BrokerProcess, pub: mqttraw.RawClient, acked: Set[int]) -> None:
    """SIGKILLs the server, then adds to `acked` (as mid - 1) the PUBACKs it wrote before it
    died: they still count, they were promises."""
    kill9(b)
    try:
        while True:
            pkt = pub.read_packet(2)
            if pkt.ptype == mqttraw.PUBACK:
                acked.add(pkt.mid() - 1)
    except (mqttraw.Closed, OSError, AssertionError, TimeoutError):
        pass


def publish_until_killed(b: BrokerProcess, topic: str, n: int, kill_after: int,
                         window: int = 16) -> Set[int]:
    """Publishes seq 0..n-1 at QoS 1 with up to `window` unacknowledged; SIGKILLs the server
    right after the kill_after-th PUBACK. Returns every seq that was PUBACKed (including acks
    already on their way when the kill came)."""
    pub = mqttraw.connected(b.host, b.port, harness.unique_id("pub"))
    acked: Set[int] = set()
    sent = 0
    try:
        while len(acked) < min(kill_after, n):
            while sent < n and sent - len(acked) < window:
                pub.send(mqttraw.publish(f"{topic}/x", f"seq:{sent}", qos=1, mid=sent + 1))
                sent += 1
            pkt = pub.expect(mqttraw.PUBACK, 10)
            acked.add(pkt.mid() - 1)
        kill9_keeping_late_acks(b, pub, acked)
    finally:
        pub.close()
        if b.alive():
            kill9(b)
    return acked


# ---------------------------------------------------------------------------------------------
# (a) offline persistent subscriber, server killed while a publisher sends


@pytest.mark.parametrize("run", range(4))
def test_acknowledged_messages_survive_kill9(make_broker, clients, run):
    rnd = random.Random(1000 + run)
    n = 200
    b = make_broker()
    topic = f"dur/{harness.unique_id('k')}"
    cid = persistent_subscriber(b, clients, topic)
    acked = publish_until_killed(b, topic, n, kill_after=rnd.randint(1, n))
    assert acked, "nothing was acknowledged before the kill"
    b.start()
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.session_present, "the persistent session survives kill -9"
    got = receive_seqs(sub, acked, timeout=15)
    lost = sorted(acked - got)
    assert not lost, f"{len(lost)} acknowledged messages lost after kill -9: {lost[:20]}"


# ---------------------------------------------------------------------------------------------
# (b) messages in flight to an online subscriber that never acknowledges


def test_inflight_messages_come_again_with_dup_after_kill9(make_broker, clients):
    b = make_broker()
    topic = f"dur/{harness.unique_id('f')}"
    cid = harness.unique_id("inflight")
    sub = raw(b, clients, cid, clean_session=False)
    assert sub.subscribe(1, [(f"{topic}/#", 1)]) == [1]
    pub = paho(b, clients)
    for i in range(10):
        pub.publish(f"{topic}/x", f"seq:{i}", qos=1)
    first = [sub.read_publish() for _ in range(10)]
    assert [p.payload for p in first] == [f"seq:{i}".encode() for i in range(10)]
    assert not any(p.dup for p in first)
    kill9(b)
    b.start()
    again = raw(b, clients, cid, clean_session=False)
    assert again.session_present
    resent = [again.read_publish() for _ in range(10)]
    assert [p.payload for p in resent] == [p.payload for p in first]
    assert all(p.dup for p in resent), "unacknowledged messages are resent with DUP"
    assert [p.mid for p in resent] == [p.mid for p in first], "with their packet ids"
    for p in resent:
        again.send(mqttraw.puback(p.mid))
    # Acknowledged now: a graceful restart does not bring them back. The server closing after
    # the DISCONNECT shows it read the PUBACKs before it (a stop may close a link with input
    # still unread: those messages would rightly come again).
    again.send(mqttraw.disconnect())
    assert again.wait_closed(5) == b""
    b.restart()
    third = raw(b, clients, cid, clean_session=False)
    assert third.session_present
    third.send(mqttraw.pingreq())
    assert third.read_packet().ptype == mqttraw.PINGRESP, "nothing left to resend"


def test_messages_acknowledged_while_a_commit_syncs_leave_nothing_in_the_store(make_broker,
                                                                              clients):
    """An online persistent subscriber acknowledges most QoS 1 messages before the commit that
    would store them: the writer leaves those entries (and their messages) out of the
    transaction (docs/store-format.md "Who writes, and when"). Every message still arrives once
    and every publish is acknowledged; after a restart nothing comes again and the store holds
    no message."""
    b = make_broker()
    topic = f"dur/{harness.unique_id('c')}"
    cid = harness.unique_id("online")
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.subscribe(f"{topic}/#", 1) == [1]
    n, window = 600, 64
    pub = mqttraw.connected(b.host, b.port, harness.unique_id("pub"))
    clients.append(pub)
    acked: Set[int] = set()
    sent = 0
    while len(acked) < n:
        while sent < n and sent - len(acked) < window:
            pub.send(mqttraw.publish(f"{topic}/x", f"seq:{sent}", qos=1, mid=sent + 1))
            sent += 1
        acked.add(pub.expect(mqttraw.PUBACK, 10).mid() - 1)
    got = receive_seqs(sub, set(range(n)), timeout=15)
    assert got == set(range(n))
    api = Api(b)
    submitted = api.metric("thingport_session_store_operations_total")
    cancelled = harness.poll_until(
        lambda: api.metric("thingport_session_store_operations_cancelled_total"),
        lambda v: v > 0, timeout=5)
    print(f"\n{n} messages: {cancelled:.0f} of {submitted:.0f} store operations cancelled")
    assert cancelled <= submitted
    # Acknowledged by the subscriber too: once its link is closed (the PUBACKs before its
    # DISCONNECT read), a restart brings none of them back.
    sub.disconnect()
    harness.poll_until(lambda: api.metric("thingport_connections"), lambda v: v == 1, timeout=5)
    b.restart()
    assert b.log.wait_for("1 persistent sessions loaded: 1 subscriptions, 0 messages, "
                          "0 queued or in flight", timeout=10), b.log.tail()
    again = raw(b, clients, cid, clean_session=False)
    assert again.session_present
    again.send(mqttraw.pingreq())
    assert again.read_packet().ptype == mqttraw.PINGRESP, "nothing left to resend"


# ---------------------------------------------------------------------------------------------
# (c) subscriptions survive restarts


@pytest.mark.parametrize("how", ["graceful", "kill9"])
def test_subscriptions_survive_restart(make_broker, clients, how):
    b = make_broker()
    topic = f"dur/{harness.unique_id('s')}"
    cid = persistent_subscriber(b, clients, topic)
    pub = paho(b, clients)
    # Its PUBACK comes after the commit that holds the message, and so the subscription,
    # written before it by the same session.
    pub.publish(f"{topic}/a", "seq:1", qos=1)
    pub.close()
    if how == "graceful":
        b.restart()
    else:
        kill9(b)
        b.start()
    pub = paho(b, clients)
    pub.publish(f"{topic}/a", "seq:2", qos=1)  # queued for the offline session
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.session_present
    assert receive_seqs(sub, {1, 2}, 5) == {1, 2}
    # Online now, never subscribed again: still subscribed.
    pub.publish(f"{topic}/b", "seq:3", qos=1)
    assert receive_seqs(sub, {3}, 5) == {3}


# ---------------------------------------------------------------------------------------------
# (d) cleanSession=1 deletes what was stored


def test_clean_session_deletes_stored_state(make_broker, clients):
    b = make_broker()
    topic = f"dur/{harness.unique_id('c')}"
    cid = persistent_subscriber(b, clients, topic)
    pub = paho(b, clients)
    pub.publish(f"{topic}/a", "seq:1", qos=1)
    clean = paho(b, clients, client_id=cid, clean_session=True)
    assert not clean.session_present
    clean.disconnect()
    b.restart()
    back = paho(b, clients, client_id=cid, clean_session=False)
    assert not back.session_present, "the session was deleted by cleanSession=1"
    pub = paho(b, clients)
    pub.publish(f"{topic}/a", "seq:2", qos=1)
    back.subscribe(f"{topic}/marker", 1)
    # No old subscription, no queue.
    mqtt_clients.expect_nothing_then_marker(back, pub, f"{topic}/marker")


# ---------------------------------------------------------------------------------------------
# (e) bounds: queue length and expiry


BOUNDED = '[limits]\noffline_queue = 5\noffline_ttl = "2s"\n'


def test_offline_queue_keeps_the_oldest_and_counts_drops(make_broker, clients):
    b = make_broker(BOUNDED)
    topic = f"dur/{harness.unique_id('q')}"
    cid = persistent_subscriber(b, clients, topic)
    pub = paho(b, clients)
    for i in range(10):
        pub.publish(f"{topic}/a", f"seq:{i}", qos=1)
    assert b.log.wait_for("queue full"), "drops are logged per session"
    kill9(b)
    b.start()
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.session_present
    got = receive_seqs(sub, set(range(5)), 5)
    assert got == set(range(5))
    # The 5 newest were dropped.
    mqtt_clients.expect_nothing_then_marker(sub, paho(b, clients), f"{topic}/marker")


def test_expired_messages_are_not_delivered(make_broker, clients):
    b = make_broker(BOUNDED)
    topic = f"dur/{harness.unique_id('e')}"
    cid = persistent_subscriber(b, clients, topic)
    pub = paho(b, clients)
    for i in range(3):
        pub.publish(f"{topic}/a", f"seq:{i}", qos=1)
    pub.close()
    b.restart()
    time.sleep(2.5)  # the TTL itself: nothing to wait on but the clock
    sub = paho(b, clients, client_id=cid, clean_session=False)
    assert sub.session_present
    # Expired messages are dropped.
    mqtt_clients.expect_nothing_then_marker(sub, paho(b, clients), f"{topic}/marker")


# ---------------------------------------------------------------------------------------------
# Bad input: a damaged session database stops the server before it listens


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_session_database_refuses_to_start(make_broker, clients, damage):
    b = make_broker()
    topic = f"dur/{harness.unique_id('d')}"
    persistent_subscriber(b, clients, topic)
    pub = paho(b, clients)
    for i in range(50):
        pub.publish(f"{topic}/a", "x" * 4000, qos=1)
    pub.close()
    b.stop()
    db = b.workdir / "data" / "sessions.db"
    if damage == "garbage":
        db.write_bytes(b"\x42" * 8192)
    else:
        with open(db, "r+b") as f:
            f.truncate(db.stat().st_size // 3)
    with pytest.raises(harness.BrokerError):
        b.start()
    assert b.proc.returncode not in (0, None)
    assert str(db) in b.log.tail(50), "the message names the file"
