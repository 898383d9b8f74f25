"""A cluster of two thingport nodes on one NATS server and one PostgreSQL (docs/cluster.md):
messages cross nodes both ways (generic clients, an Aliyun-signed device, an application client
with a wildcard, API downlinks), retained messages reach a later subscriber on the other node,
one link per client id cluster-wide (takeover across nodes), a device disabled through one
node's API is closed on the other, logins are refused with CONNACK 3 while NATS is down and
accepted again once it is back, and a killed node shows as "down". Everything is started here,
on free ports; the module runs once (not again in the PostgreSQL pass)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import aliyun
from apiclient import Api, b64, token_of
from harness import poll_until, unique_id
from mqtt_clients import MqttClient, mosquitto_pub
from natsserver import NatsServer, start_node
from pgserver import PgServer

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("cluster")
    with NatsServer() as nats, PgServer() as pg:
        url = pg.create_database()
        a = start_node(root, "a", nats.url, url)
        b = start_node(root, "b", nats.url, url)
        try:
            yield {"a": a, "b": b, "nats": nats, "pg": pg, "pg_url": url}
        finally:
            b.stop()  # killed by the last test
            a.stop_and_check()  # exit 0 on SIGTERM, sanitizers clean


@pytest.fixture
def clients():
    made = []

    def make(broker, connect=True, **kw) -> MqttClient:
        c = MqttClient(broker, **kw)
        made.append(c)
        if connect:
            c.connect()
        return c

    yield make
    for c in made:
        c.close()


def until_received(receiver: MqttClient, send, topic: str, timeout: float = 3.0):
    """send() once and wait for `receiver` to get it: a SUBACK comes only once the receiving
    node's NATS subscription for the filter is at the server, so nothing is sent twice."""
    send()
    return receiver.get_where(lambda m: m.topic == topic, timeout=timeout)


def test_both_nodes_listed_up(cluster):
    for n in ("a", "b"):
        nodes = poll_until(lambda: Api(cluster[n]).ok("GET", "/api/v1/cluster")["nodes"],
                           lambda ns: len(ns) == 2, timeout=5)
        assert [x["node"] for x in nodes] == ["node-a", "node-b"]
        assert all(x["state"] == "up" for x in nodes), nodes
        assert all(set(x) >= {"node", "state", "connections"} for x in nodes)


def test_one_admin_token_for_the_cluster(cluster):
    """Behind a balancer any node may answer an operator: the nodes share the first node's
    admin token (kept in PostgreSQL); the second node wrote it into its own admin.token."""
    a, b = cluster["a"], cluster["b"]
    ta, tb = token_of(a), token_of(b)
    assert ta == tb
    assert Api(b, token=ta).call("GET", "/api/v1/products").status == 200
    assert Api(b, token="0" * 64).call("GET", "/api/v1/products").status == 401
    assert b.log.wait_for("admin token written to", timeout=1)
    assert tb in b.log.tail(10000)


def test_generic_clients_across_nodes_with_escaped_levels(cluster, clients):
    a, b = cluster["a"], cluster["b"]
    u = unique_id("x")
    sub = clients(b)
    assert sub.subscribe(f"cl/{u}/#", 1) == [1]
    # an empty level, a '.', a '*' and a space: each escaped in the subject and back
    topic = f"cl/{u}//a.b/*/x y"
    m = until_received(sub, lambda: mosquitto_pub(a, "-t", topic, "-m", "hello", "-q", "1"), topic)
    assert m.payload == b"hello" and m.qos == 1
    # the other way, QoS 0, one message each and in order
    sub_a = clients(a)
    assert sub_a.subscribe(f"back/{u}/+", 0) == [0]
    pub_b = clients(b)
    until_received(sub_a, lambda: pub_b.publish(f"back/{u}/warm", b"w", qos=1), f"back/{u}/warm")
    for i in range(50):
        pub_b.publish(f"back/{u}/n", str(i).encode(), qos=1)
    got = [sub_a.get_where(lambda m: m.topic == f"back/{u}/n").payload for _ in range(50)]
    assert got == [str(i).encode() for i in range(50)]
    api = Api(a)
    assert api.metric("thingport_cluster_messages_out_total") >= 1
    assert Api(b).metric("thingport_cluster_messages_in_total") >= 1


def test_device_and_app_across_nodes(cluster, clients):
    a, b = cluster["a"], cluster["b"]
    api = Api(a)
    pk = api.product("cluster product")["productKey"]
    d = api.device(pk, "dev-1")
    app = api.ok("POST", "/api/v1/apps", {"name": "consumer", "products": [pk]}, 201)
    cred = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=unique_id("app"))
    # created through A: B learns of the device and the app within a second
    dcred = aliyun.device_credentials(pk, "dev-1", d["deviceSecret"], client_id=unique_id("d"))
    dev = poll_until(lambda: _try_connect(clients, b, dcred), lambda c: c is not None, timeout=3)
    assert dev.subscribe(f"/{pk}/dev-1/user/get", 1) == [1]
    listener = poll_until(lambda: _try_connect(clients, a, cred), lambda c: c is not None,
                          timeout=3)
    assert listener.subscribe(f"/{pk}/+/user/update", 1) == [1]
    # device on B -> application client (wildcard) on A
    m = until_received(listener, lambda: dev.publish(f"/{pk}/dev-1/user/update", b"r", qos=1),
                       f"/{pk}/dev-1/user/update")
    assert m.payload == b"r"
    # API of A -> device on B
    topic = f"/{pk}/dev-1/user/get"
    m = until_received(dev, lambda: api.ok("POST", "/api/v1/pub", {
        "productKey": pk, "topic": topic, "payload": b64("cmd"), "qos": 1}), topic)
    assert m.payload == b"cmd"


def _try_connect(clients, broker, cred):
    c = clients(broker, connect=False, client_id=cred["client_id"], username=cred["username"],
                password=cred["password"])
    try:
        c.connect(timeout=2)
        return c
    except AssertionError:
        c.close()
        return None


def test_retained_reaches_a_later_subscriber_on_the_other_node(cluster, clients):
    a, b = cluster["a"], cluster["b"]
    topic = f"ret/{unique_id('r')}"
    mosquitto_pub(a, "-t", topic, "-m", "kept", "-r", "-q", "1")
    api_b = Api(b)
    poll_until(lambda: api_b.metric("thingport_retained_messages"), lambda v: v >= 1, timeout=3)

    def got_retained():
        c = clients(b)
        c.subscribe(topic, 1)
        try:
            return c.get(timeout=0.5)
        except AssertionError:
            return None
        finally:
            c.close()

    m = poll_until(got_retained, lambda m: m is not None, timeout=3)
    assert m.payload == b"kept" and m.retain


def test_one_link_per_client_id_across_nodes(cluster, clients):
    a, b = cluster["a"], cluster["b"]
    cid = unique_id("same")
    first = clients(a, client_id=cid)
    t0 = time.monotonic()
    clients(b, client_id=cid)
    assert first.disconnected.wait(1.5), "the link on node A was not closed"
    took = time.monotonic() - t0
    assert took < 1.5
    assert a.log.wait_for(f"client={cid}", timeout=2)
    assert a.log.wait_for("reason=taken_over", timeout=2)


def test_a_device_moved_to_the_other_node_stays_online(cluster, clients):
    """A takeover across nodes is no status change: the old node closes its link as
    `taken_over_elsewhere` and sends no `offline` (which, landing after the new node's `online`,
    would be the last word); both nodes' API show the device ONLINE."""
    a, b = cluster["a"], cluster["b"]
    api_a, api_b = Api(a), Api(b)
    pk = api_a.product("move product")["productKey"]
    d = api_a.device(pk, "dev-m")
    app = api_a.ok("POST", "/api/v1/apps", {"name": "mover", "products": [pk]}, 201)
    acred = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=unique_id("app"))
    watcher = poll_until(lambda: _try_connect(clients, b, acred), lambda c: c is not None,
                         timeout=3)
    assert watcher.subscribe(f"/as/mqtt/status/{pk}/+", 1) == [1]
    dcred = aliyun.device_credentials(pk, "dev-m", d["deviceSecret"], client_id=unique_id("m"))
    first = _try_connect(clients, a, dcred)
    assert first is not None
    m = watcher.get_where(lambda m: m.topic.startswith("/as/mqtt/status/"), timeout=3)
    assert json.loads(m.payload)["status"] == "online"
    url = f"/api/v1/products/{pk}/devices/dev-m"
    # A's online write is in the shared store: B's API, which holds no link, says ONLINE too
    poll_until(lambda: api_b.ok("GET", url), lambda v: v["status"] == "ONLINE", timeout=3)
    assert "clientId" not in api_b.ok("GET", url)  # the link's fields: only where it is

    second = poll_until(lambda: _try_connect(clients, b, dcred), lambda c: c is not None,
                        timeout=3)
    assert first.disconnected.wait(1.5), "the device's link on node A was not closed"
    m = watcher.get_where(lambda m: m.topic.startswith("/as/mqtt/status/"), timeout=3)
    assert json.loads(m.payload)["status"] == "online"
    # no offline follows, from either node
    time.sleep(1.0)
    later = [json.loads(x.payload)["status"] for x in watcher.drain()
             if x.topic.startswith("/as/mqtt/status/")]
    assert later == [], later
    shown_a = poll_until(lambda: api_a.ok("GET", url),
                         lambda v: v["lastCloseReason"] == "taken_over_elsewhere", timeout=3)
    assert shown_a["status"] == "ONLINE", shown_a
    shown_b = api_b.ok("GET", url)
    assert shown_b["status"] == "ONLINE" and shown_b["clientId"] == dcred["client_id"], shown_b
    assert shown_b["lastOnline"] >= shown_b["lastOffline"] if shown_b["lastOffline"] else True
    # and when it leaves for good, both say OFFLINE
    second.disconnect()
    m = watcher.get_where(lambda m: m.topic.startswith("/as/mqtt/status/"), timeout=3)
    assert json.loads(m.payload)["status"] == "offline"
    for api in (api_a, api_b):
        poll_until(lambda: api.ok("GET", url), lambda v: v["status"] == "OFFLINE", timeout=3)


def test_disable_on_one_node_kicks_the_device_on_the_other(cluster, clients):
    a, b = cluster["a"], cluster["b"]
    api = Api(a)
    pk = api.product("kick product")["productKey"]
    d = api.device(pk, "dev-k")
    cred = aliyun.device_credentials(pk, "dev-k", d["deviceSecret"], client_id=unique_id("k"))
    dev = poll_until(lambda: _try_connect(clients, b, cred), lambda c: c is not None, timeout=3)
    api.ok("POST", f"/api/v1/products/{pk}/devices/dev-k/disable")
    assert dev.disconnected.wait(1.5), "the device's link on node B was not closed"
    again = clients(b, connect=False, client_id=cred["client_id"], username=cred["username"],
                    password=cred["password"])
    again.connect(expect_rc=5)  # node B's directory knows it is disabled
    api.ok("POST", f"/api/v1/products/{pk}/devices/dev-k/enable")
    back = poll_until(lambda: _try_connect(clients, b, cred), lambda c: c is not None, timeout=3)
    # deleted through A: closed on B, and B no longer knows it (CONNACK 4: unknown device)
    api.ok("DELETE", f"/api/v1/products/{pk}/devices/dev-k")
    assert back.disconnected.wait(1.5), "the deleted device's link on node B was not closed"
    gone = clients(b, connect=False, client_id=cred["client_id"], username=cred["username"],
                   password=cred["password"])
    gone.connect(expect_rc=4)


def test_logins_refused_while_nats_is_down_then_back(cluster, clients):
    a, nats = cluster["a"], cluster["nats"]
    nats.stop()
    assert a.log.wait_for("NATS unreachable", timeout=5), a.log.tail()
    refused = clients(a, connect=False)
    refused.connect(expect_rc=3)
    assert Api(a).metric("thingport_cluster_linked") == 0
    nats.start()
    assert a.log.wait_for("back on NATS", timeout=5), a.log.tail()
    clients(a)  # accepted again
    assert Api(a).metric("thingport_cluster_linked") == 1


def test_a_node_stopped_cleanly_leaves_the_list_at_once(cluster, tmp_path):
    """SIGTERM: its last heartbeat says it left, so the others stop listing it well before the
    5 s after which a silent node would show as "down"."""
    a = cluster["a"]
    api = Api(a)
    c = start_node(tmp_path, "c", cluster["nats"].url, cluster["pg_url"])

    def names():
        return [n["node"] for n in api.ok("GET", "/api/v1/cluster")["nodes"]]
    poll_until(names, lambda ns: ns == ["node-a", "node-b", "node-c"], timeout=5)
    c.stop_and_check()
    poll_until(names, lambda ns: ns == ["node-a", "node-b"], timeout=3)


def test_a_killed_node_shows_down(cluster):
    a, b = cluster["a"], cluster["b"]
    api = Api(a)
    poll_until(lambda: [n["state"] for n in api.ok("GET", "/api/v1/cluster")["nodes"]],
               lambda s: s == ["up", "up"], timeout=5)
    b.proc.kill()
    b.proc.wait(5)
    nodes = poll_until(lambda: api.ok("GET", "/api/v1/cluster")["nodes"],
                       lambda ns: [n["state"] for n in ns] == ["up", "down"], timeout=8)
    assert [n["node"] for n in nodes] == ["node-a", "node-b"]
