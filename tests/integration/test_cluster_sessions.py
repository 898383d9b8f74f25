"""Persistent sessions move with their clients between nodes (docs/cluster.md "Sessions move
with their clients"): a client with cleanSession=0 that logs in on node B after node A held its
session gets it there (CONNACK session present, its subscriptions, the QoS 1 messages queued for
it while it was away, in order), and A no longer has it; back on A it moves back; a client that
logs in with cleanSession=1 has its session deleted on the other node; a drained node's sessions
move with their clients. Two nodes, one NATS server and one PostgreSQL, started here on free
ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from apiclient import Api, b64
from harness import THINGPORT_BIN, poll_until, unique_id
from mqtt_clients import MqttClient, run_cli
from natsserver import two_nodes, until_made

JS = Path(__file__).resolve().parents[1] / "js"

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    with two_nodes(tmp_path_factory.mktemp("sessions")) as t:
        t.check_b = True  # drained by the last test, still stops cleanly
        # B has heard A too (a claim waits for the nodes known up)
        poll_until(lambda: [n["state"] for n in Api(t.b).ok("GET", "/api/v1/cluster")["nodes"]],
                   lambda s: s == ["up", "up"], timeout=5)
        yield t


def client(t, node, cid: str, clean: bool = False) -> MqttClient:
    c = MqttClient(node, client_id=cid, clean_session=clean)
    t.made.append(c)
    return c.connect()


def subscribed_and_gone(t, node, topic_filter: str) -> str:
    """A persistent client subscribes to `topic_filter` (QoS 1) on `node` and disconnects: its
    client id."""
    cid = unique_id("p")
    first = client(t, node, cid)
    assert first.session_present is False
    assert first.subscribe(topic_filter, 1) == [1]
    seen = node.log.mark()
    first.disconnect()
    assert node.wait_client_closed(cid, seen), node.log.tail()
    return cid


def received(c: MqttClient, topic: str, n: int, timeout: float = 3) -> list:
    return [c.get_where(lambda m: m.topic == topic, timeout=timeout).payload for _ in range(n)]


def reaches(t, receiver: MqttClient, topic: str, payload: bytes) -> None:
    """A QoS 1 message published on node A to `topic` reaches `receiver`."""
    client(t, t.a, unique_id("pub"), clean=True).publish(topic, payload, qos=1)
    assert receiver.get_where(lambda m: m.topic == topic, timeout=3).payload == payload


def queue_for(publisher: MqttClient, topic: str, n: int) -> list:
    payloads = [f"m{i}".encode() for i in range(n)]
    for p in payloads:
        publisher.publish(topic, p, qos=1)  # PUBACK: queued for the offline session
    return payloads


def test_a_session_moves_to_the_node_its_client_logs_in_to(nodes):
    t = nodes
    a, b = t.a, t.b
    u = unique_id("mv")
    cid = subscribed_and_gone(t, a, f"mv/{u}/#")
    pub_a = client(t, a, unique_id("pub"), clean=True)
    sent = queue_for(pub_a, f"mv/{u}/q", 5)

    on_b = client(t, b, cid)
    assert on_b.session_present is True, "the session did not come with the client to B"
    assert received(on_b, f"mv/{u}/q", len(sent)) == sent  # every queued message, in order
    assert Api(b).metric("thingport_cluster_sessions_moved_in_total") == 1
    assert Api(a).metric("thingport_cluster_sessions_moved_out_total") == 1
    # B holds its subscription now: a message published on A crosses to it
    pub_a.publish(f"mv/{u}/live", b"after", qos=1)
    assert on_b.get_where(lambda m: m.topic == f"mv/{u}/live", timeout=3).payload == b"after"

    # and it moves back: queued on B while away, delivered on A
    on_b.disconnect()
    pub_b = client(t, b, unique_id("pub"), clean=True)
    back = queue_for(pub_b, f"mv/{u}/b", 3)
    again = client(t, a, cid)
    assert again.session_present is True
    assert received(again, f"mv/{u}/b", len(back)) == back
    assert Api(a).metric("thingport_cluster_sessions_moved_in_total") == 1
    assert Api(b).metric("thingport_cluster_sessions_moved_out_total") == 1


def test_a_large_session_moves_in_parts(nodes):
    """200 queued messages of 8 KiB (1.6 MB: more than one NATS message may carry) move in
    several parts, every one of them, in order."""
    t = nodes
    u = unique_id("big")
    cid = subscribed_and_gone(t, t.a, f"big/{u}")
    pub = client(t, t.a, unique_id("pub"), clean=True)
    sent = [f"{i:04d}".encode() + bytes(8188) for i in range(200)]
    for p in sent:
        pub.publish(f"big/{u}", p, qos=1)
    on_b = client(t, t.b, cid)
    assert on_b.session_present is True
    assert received(on_b, f"big/{u}", len(sent), timeout=5) == sent


def test_an_online_client_taken_over_brings_its_session(nodes):
    t = nodes
    u = unique_id("on")
    cid = unique_id("online")
    first = client(t, t.a, cid)
    assert first.subscribe(f"on/{u}", 1) == [1]
    second = client(t, t.b, cid)
    assert first.disconnected.wait(2), "the link on A was not closed"
    assert second.session_present is True
    reaches(t, second, f"on/{u}", b"x")


def test_a_clean_login_elsewhere_deletes_the_session(nodes):
    t = nodes
    cid = subscribed_and_gone(t, t.a, f"cl/{unique_id('cl')}")
    fresh = client(t, t.b, cid, clean=True)
    fresh.disconnect()
    # A deleted it: a persistent login on A finds none (and nothing moves from B: clean)
    def present():
        c = client(t, t.a, cid)
        c.disconnect()
        return c.session_present
    assert poll_until(present, lambda p: p is False, timeout=3) is False


def sdk_device(node, dev: dict, *args: str) -> dict:
    """tests/js/aliyun_session.js on `node`: its last event."""
    keep = ("productKey", "deviceName", "deviceSecret")
    proc = subprocess.run(["node", str(JS / "aliyun_session.js"), node.host, str(node.port),
                           json.dumps({k: dev[k] for k in keep}), *args],
                          capture_output=True, text=True, timeout=30)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, (events, proc.stderr)
    return events[-1]


def test_the_official_node_sdk_finds_its_session_on_the_other_node(nodes):
    """The Aliyun Node SDK keeps its session (clean: false): it subscribes on A and leaves;
    three QoS 1 downlinks through A's API wait in its session there; it comes back through B
    and gets them, in order, without subscribing again."""
    t = nodes
    api_a = Api(t.a)
    pk = api_a.product("sdk session")["productKey"]
    dev = {**api_a.device(pk), "productKey": pk}
    last = sdk_device(t.a, dev, "subscribe")
    assert last == {"event": "subscribed", "error": None}, last
    topic = f"/{pk}/{dev['deviceName']}/user/get"
    sent = [f"down-{i}" for i in range(3)]
    for p in sent:
        api_a.ok("POST", "/api/v1/pub", {"productKey": pk, "deviceName": dev["deviceName"],
                                         "topic": topic, "payload": b64(p), "qos": 1})
    # B knows the device once the registry change crossed (within 1 s)
    last = until_made(lambda: sdk_device(t.b, dev, "receive", "3"))
    assert last == {"event": "received", "payloads": sent}, last


def test_sessions_of_a_drained_node_move_with_their_clients(nodes):
    t = nodes
    u = unique_id("dr")
    cid = unique_id("drained")
    on_b = client(t, t.b, cid)
    assert on_b.subscribe(f"dr/{u}", 1) == [1]
    r = run_cli([THINGPORT_BIN, "node", "drain", "--rate", "100",
                 "--api", f"http://127.0.0.1:{t.b.http_port}", "--token", Api(t.b).token])
    assert r.returncode == 0, r.stderr
    assert on_b.disconnected.wait(3), "the drain did not close the link"
    on_a = client(t, t.a, cid)
    assert on_a.session_present is True
    reaches(t, on_a, f"dr/{u}", b"moved")


def test_a_killed_nodes_session_comes_to_its_client_from_postgresql(tmp_path: Path):
    """Node B dies (kill -9) with five QoS 1 messages acknowledged to their publisher and queued
    in a persistent session there (in B's rows in PostgreSQL). Its client logs in on A: A finds
    B's lock free (B is not running) and takes the session over before the CONNACK: session
    present, the five messages in order. B, started again, has nothing of it left."""
    with two_nodes(tmp_path) as t:
        poll_until(lambda: [n["state"] for n in Api(t.b).ok("GET", "/api/v1/cluster")["nodes"]],
                   lambda s: s == ["up", "up"], timeout=5)
        u = unique_id("back")
        cid = subscribed_and_gone(t, t.b, f"back/{u}")
        pub = client(t, t.b, unique_id("pub"), clean=True)
        sent = queue_for(pub, f"back/{u}", 5)  # PUBACKed: committed to B's rows (sync)
        os.kill(t.b.proc.pid, signal.SIGKILL)
        t.b.proc.wait(5)
        t.b.stop()
        on_a = client(t, t.a, cid)
        assert on_a.session_present is True, "the dead node's session did not come"
        assert received(on_a, f"back/{u}", len(sent), timeout=5) == sent
        assert t.a.log.wait_for(f"session {cid} taken over from node node-b", timeout=3)
        assert Api(t.a).metric("thingport_cluster_sessions_taken_over_total") == 1
        assert Api(t.a).metric("thingport_cluster_taken_over_messages_total") == 5
        reaches(t, on_a, f"back/{u}", b"after")  # its subscription is A's now
        t.b.start()
        assert t.b.log.wait_for("0 persistent sessions loaded", timeout=5), t.b.log.tail()
        t.check_b = True  # B, restarted, stops cleanly


def test_a_dead_nodes_sessions_are_swept_to_a_survivor(tmp_path: Path):
    """Node B dies with two offline persistent sessions holding queued messages and is not
    started again. Once A has not heard B for 1.5 s and finds B's lock free, A takes every
    session B left; their clients, logging in on A later, find them (session present) with
    their messages."""
    with two_nodes(tmp_path) as t:
        poll_until(lambda: [n["state"] for n in Api(t.b).ok("GET", "/api/v1/cluster")["nodes"]],
                   lambda s: s == ["up", "up"], timeout=5)
        u = unique_id("sw")
        cids = [subscribed_and_gone(t, t.b, f"sw/{u}/{i}") for i in range(2)]
        pub = client(t, t.b, unique_id("pub"), clean=True)
        sent = [queue_for(pub, f"sw/{u}/{i}", 3) for i in range(2)]
        os.kill(t.b.proc.pid, signal.SIGKILL)
        t.b.proc.wait(5)
        t.b.stop()
        assert t.a.log.wait_for("node node-b is not running and its 2 persistent sessions are "
                                "here now", timeout=10), t.a.log.tail()
        assert Api(t.a).metric("thingport_cluster_sessions_taken_over_total") == 2
        for i, cid in enumerate(cids):
            on_a = client(t, t.a, cid)
            assert on_a.session_present is True
            assert received(on_a, f"sw/{u}/{i}", 3, timeout=5) == sent[i]
