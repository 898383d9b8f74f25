"""Idle plain-TCP links parked off the I/O library (docs/performance.md, memory per idle
connection): a link with no input or output lately gives its socket to its worker's own epoll
set, so it holds no per-socket reactor state and no pending read. Parking must change nothing a
client sees: input wakes it (PUBLISH, PUBACK, PINGREQ, a closed socket), output wakes it
(deliveries), its keepalive still closes it, and a server stop closes it cleanly.
"""

from __future__ import annotations

import time

import pytest

import harness
import mqttraw
from apiclient import Api
from harness import BrokerProcess, poll_until
from test_durability import clients, make_broker

pytestmark = [
    pytest.mark.thingport_only(reason="thingport's parked links"),
    pytest.mark.store_independent,
]

__all__ = ["clients", "make_broker"]  # fixtures, imported for pytest


def parked(b: BrokerProcess) -> float:
    return Api(b).metric("thingport_connections_parked")


def raw(b: BrokerProcess, clients: list, prefix: str, **kw) -> mqttraw.RawClient:
    c = mqttraw.RawClient(b.host, b.port)
    clients.append(c)
    assert c.connect(harness.unique_id(prefix), **kw)[1] == 0
    return c


def test_parked_links_take_input_and_output_as_before(make_broker, clients):
    b = make_broker()
    topic = f"park/{harness.unique_id('t')}"
    sub = raw(b, clients, "sub")
    assert sub.subscribe(1, [(topic, 1)]) == [1]
    pub = raw(b, clients, "pub")
    poll_until(lambda: parked(b), lambda n: n == 2, timeout=5)  # both quiet: parked

    # output wakes the subscriber, input (PUBLISH, then PUBACK) wakes both
    pub.send(mqttraw.publish(topic, b"one", qos=1, mid=7))
    assert pub.read_packet(5).mid() == 7
    p = sub.read_publish(5)
    assert p.payload == b"one"
    sub.send(mqttraw.puback(p.mid))
    # a burst of QoS 0 and QoS 1 messages, in order, each once
    pub.send(b"".join(mqttraw.publish(topic, f"m{i}", qos=i % 2, mid=100 + i) for i in range(50)))
    got = []
    for _ in range(50):
        p = sub.read_publish(5)
        got.append(p.payload.decode())
        if p.qos:
            sub.send(mqttraw.puback(p.mid))
    assert got == [f"m{i}" for i in range(50)]
    assert [pub.read_packet(5).mid() for _ in range(25)] == list(range(101, 150, 2))
    # a link that was busy stays with the I/O library; its next input after a quiet second parks
    # it again
    time.sleep(1.1)
    for c in (sub, pub):
        c.send(mqttraw.pingreq())
        c.expect(mqttraw.PINGRESP, 5)
    poll_until(lambda: parked(b), lambda n: n == 2, timeout=5)
    # a PINGREQ to a parked link is answered
    sub.send(mqttraw.pingreq())
    sub.expect(mqttraw.PINGRESP, 5)
    with pytest.raises(TimeoutError):
        sub.read_packet(0.3)  # nothing twice


def test_a_parked_link_closed_by_its_peer_sends_its_will(make_broker, clients):
    b = make_broker()
    will_topic = f"park/will/{harness.unique_id('w')}"
    watcher = raw(b, clients, "watch")
    assert watcher.subscribe(1, [(will_topic, 0)]) == [0]
    doomed = raw(b, clients, "doomed", will=(will_topic, b"gone", 0, False))
    poll_until(lambda: parked(b), lambda n: n == 2, timeout=5)
    doomed.close()  # a FIN, no DISCONNECT: the will goes
    assert watcher.read_publish(5).payload == b"gone"
    poll_until(lambda: Api(b).metric("thingport_connections"), lambda n: n == 1, timeout=5)


def test_a_parked_link_still_times_out(make_broker, clients):
    b = make_broker("[limits]\nkeepalive_min = 1\n")
    silent = raw(b, clients, "silent", keepalive=1)
    poll_until(lambda: parked(b), lambda n: n == 1, timeout=5)
    silent.wait_closed(4)  # 1.5 x 1 s without a packet, parked all along
    poll_until(lambda: parked(b), lambda n: n == 0, timeout=5)


def test_a_server_stop_closes_parked_links(tmp_path, clients):
    b = BrokerProcess(tmp_path / "b")
    b.start()
    links = [raw(b, clients, f"idle{i}") for i in range(20)]
    poll_until(lambda: parked(b), lambda n: n == 20, timeout=5)
    b.stop_and_check()  # exit 0 on SIGTERM, sanitizers clean
    for c in links:
        c.wait_closed(3)
