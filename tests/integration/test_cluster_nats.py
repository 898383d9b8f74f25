"""A cluster of two thingport nodes on a NATS cluster of three servers (routes), each node given
all three URLs (docs/cluster.md): a nats-server killed with SIGKILL under a node makes that node
move to another server, and messages keep crossing between the nodes both ways; a retained
message, kept by JetStream with three replicas, is read back by a node started after the kill.
Everything is
started here, on free ports; the module runs once (not again in the PostgreSQL pass)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apiclient import Api
from harness import BrokerProcess, poll_until, unique_id
from mqtt_clients import MqttClient
from natsserver import cluster_of, node_config, stream_messages
from pgserver import PgServer

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS servers and PostgreSQL


def crosses(sender: MqttClient, receiver: MqttClient, topic: str, timeout: float = 5.0) -> float:
    """Publishes on `topic` until `receiver` gets one (interest spreads over the NATS routes
    asynchronously); the seconds it took."""
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < timeout:
        n += 1
        sender.publish(topic, f"m{n}".encode(), qos=1)
        try:
            receiver.get_where(lambda m: m.topic == topic, timeout=0.2)
            return time.monotonic() - start
        except AssertionError:
            continue
    raise AssertionError(f"nothing crossed on {topic} within {timeout}s")


def test_a_killed_nats_server_does_not_stop_the_cluster(tmp_path: Path):
    servers = cluster_of(3)
    made, nodes = [], []
    with PgServer() as pg:
        try:
            for s in servers:
                s.start()
            urls = ",".join(s.url for s in servers)
            url = pg.create_database()
            a = BrokerProcess(tmp_path / "a",
                              thingport_config=node_config("node-a", urls, url, replicas=3))
            nodes.append(a)
            a.start()
            b = BrokerProcess(tmp_path / "b",
                              thingport_config=node_config("node-b", urls, url, replicas=3))
            nodes.append(b)
            b.start()
            api = Api(a)
            poll_until(lambda: [n["state"] for n in api.ok("GET", "/api/v1/cluster")["nodes"]],
                       lambda s: s == ["up", "up"], timeout=5)

            def client(broker) -> MqttClient:
                c = MqttClient(broker, client_id=unique_id("n"))
                made.append(c)
                c.connect()
                return c

            on_a, on_b = client(a), client(b)
            assert on_a.subscribe("nk/to-a", 1) == [1]
            assert on_b.subscribe("nk/to-b", 1) == [1]
            crosses(on_a, on_b, "nk/to-b")
            crosses(on_b, on_a, "nk/to-a")
            # a retained message: in JetStream (R3) once the stream is there (a fresh NATS
            # cluster elects its JetStream leader within seconds; the nodes retry)
            for node in (a, b):
                assert node.log.wait_for("JetStream keeps the retained messages (stream "
                                         "THINGPORT_RETAINED, 3 replicas)", timeout=30), \
                    node.log.tail()
            poll_until(lambda: stream_messages(servers), lambda n: n is not None, timeout=10)
            on_a.publish("nk/kept", b"r3", qos=1, retain=True)
            poll_until(lambda: stream_messages(servers), lambda n: n == 1, timeout=10)
            # the server node-a is on goes away
            under_a = poll_until(
                lambda: [s for s in servers if "thingport node-a" in s.client_names()],
                lambda l: len(l) == 1, timeout=5)[0]
            killed = time.monotonic()
            under_a.kill()
            assert a.log.wait_for("NATS unreachable", timeout=5), a.log.tail()
            assert a.log.wait_for("back on NATS", timeout=10), a.log.tail()
            back = time.monotonic() - killed
            took_b = crosses(on_a, on_b, "nk/to-b", timeout=10)
            took_a = crosses(on_b, on_a, "nk/to-a", timeout=10)
            print(f"node-a back on NATS {back:.2f}s after the kill; a->b in {took_b:.2f}s, b->a in {took_a:.2f}s")
            # nodes still see each other; new logins work on both
            client(a), client(b)
            assert [n["state"] for n in api.ok("GET", "/api/v1/cluster")["nodes"]] == ["up", "up"]
            # a node started now, with one NATS server of three gone, reads the retained
            # message back from the two replicas left
            c = BrokerProcess(tmp_path / "c",
                              thingport_config=node_config("node-c", urls, url, replicas=3))
            nodes.append(c)
            c.start()
            poll_until(lambda: Api(c).metric("thingport_cluster_retained_loaded_total"),
                       lambda v: v >= 1, timeout=15)
            late = client(c)
            assert late.subscribe("nk/kept", 1) == [1]
            m = late.get_where(lambda m: m.topic == "nk/kept", timeout=5)
            assert m.payload == b"r3" and m.retain
            c.stop_and_check()
            b.stop_and_check()
            a.stop_and_check()
        finally:
            for c in made:
                c.close()
            for n in nodes:
                n.stop()
            for s in servers:
                s.close()

