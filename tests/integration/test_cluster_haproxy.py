"""A device behind HAProxy moves to the other node when its node dies or is drained
(docs/cluster.md "When a node dies", "Rolling upgrade"): Debian's HAProxy in TCP mode in front
of two nodes whose tcp listeners take a PROXY v2 header (`proxy_protocol = true`),
health-checked (check-send-proxy). A device (paho, from 127.0.0.31) connects through HAProxy
and lands on node B.
- Node B is killed (SIGKILL); the device's client reconnects to the same HAProxy address, which
  sends it to node A. Seen from node A: the device is ONLINE with its own address (not
  HAProxy's), its messages arrive before and after, and, back within the 5 s after which a node
  is down, it gets no `offline` status message at all.
- Node B is drained: it stops listening (HAProxy's check fails), closes the device's link
  (`offline` from B), and the device is back on node A through HAProxy (`online` from A).
Everything is started here, on free ports; each test starts its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as paho
import pytest

import aliyun
from apiclient import Api
from harness import free_port, poll_until, unique_id
from mqtt_clients import MqttClient
from natsserver import listener_port, two_nodes
from pgserver import PgServer
from test_proxy_protocol import HAProxy

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL

SOURCE = "127.0.0.31"  # the device's own address; HAProxy connects from 127.0.0.1


def haproxy_config(path: Path, front: int, first: int, second: int) -> Path:
    """deploy/haproxy.cfg's backend, made quick for a test: `balance first` (every link to the
    first server while it is up), checks every 200 ms, a refused connect redispatched."""
    check = "send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1"
    path.write_text(
        "global\n  maxconn 200\n"
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 60s\n"
        "  timeout server 60s\n  retries 3\n  option redispatch 1\n"
        f"frontend mqtt\n  bind 127.0.0.1:{front}\n  default_backend nodes\n"
        "backend nodes\n  balance first\n"
        f"  server b 127.0.0.1:{first} {check}\n"
        f"  server a 127.0.0.1:{second} {check}\n")
    return path


class Device:
    """A device over paho through HAProxy, from SOURCE, reconnecting by itself (paho's loop)."""

    def __init__(self, port: int, cred: dict):
        self.c = paho.Client(client_id=cred["client_id"], clean_session=True)
        self.c.username_pw_set(cred["username"], cred["password"])
        self.c.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.up = threading.Event()
        self.down = threading.Event()
        self.rcs = []
        self.up_at = 0.0

        def on_connect(client, userdata, flags, rc):
            self.rcs.append(rc)
            if rc == 0:
                self.up_at = time.monotonic()
                self.down.clear()
                self.up.set()

        def on_disconnect(client, userdata, rc):
            self.up.clear()
            self.down.set()

        self.c.on_connect = on_connect
        self.c.on_disconnect = on_disconnect
        self.c.connect("127.0.0.1", port, keepalive=30, bind_address=SOURCE)
        self.c.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def pg():
    """One PostgreSQL for the module's tests (each has a database of its own)."""
    with PgServer() as server:
        yield server


@contextlib.contextmanager
def two_nodes_behind_haproxy(tmp_path: Path, pg: PgServer):
    """(a, b, HAProxy's port, the TwoNodes); B is HAProxy's first server."""
    with two_nodes(tmp_path, behind_balancer=True, pg=pg) as t:
        front = free_port()
        h = HAProxy(haproxy_config(tmp_path / "haproxy.cfg", front, listener_port(t.b, "tcp"),
                                   listener_port(t.a, "tcp")), {"mqtt": front})
        try:
            yield t.a, t.b, front, t
        finally:
            h.stop()


def test_a_device_behind_haproxy_moves_when_its_node_dies(tmp_path: Path, pg: PgServer):
    with two_nodes_behind_haproxy(tmp_path, pg) as (a, b, front, t):
        _scenario(a, b, front, t.made)


def test_a_device_behind_haproxy_moves_when_its_node_drains(tmp_path: Path, pg: PgServer):
    with two_nodes_behind_haproxy(tmp_path, pg) as (a, b, front, t):
        t.check_b = True  # B drains, and still stops cleanly
        api, pk, dn, watcher, dev = _device_on_b(a, b, front, t.made)
        status_topic = f"/as/mqtt/status/{pk}/{dn}"
        r = Api(b).ok("POST", "/api/v1/cluster/drain", {"rate": 100})
        t0 = time.monotonic()
        assert r["started"] is True, r
        assert dev.down.wait(5), "the drain did not close the link"
        assert dev.up.wait(10), f"not back through HAProxy: {dev.rcs}"
        back = dev.up_at - t0
        # B's offline (its link closed) and A's online: both, in either order (two nodes).
        got = sorted(json.loads(watcher.get_where(lambda m: m.topic == status_topic,
                                                  timeout=5).payload)["status"]
                     for _ in range(2))
        assert got == ["offline", "online"], got
        update = f"/{pk}/{dn}/user/update"
        dev.publish(update, b"on A")
        assert watcher.get_where(lambda m: m.topic == update, timeout=5).payload == b"on A"
        view = api.show(pk, dn)
        assert view["status"] == "ONLINE" and view["ip"] == SOURCE, view
        assert Api(b).metric('thingport_closes_total{reason="draining"}') == 1
        print(f"\ndrain of node B -> the device back on node A through HAProxy: {back:.2f} s "
              f"(CONNACKs seen: {dev.rcs})")


def _device_on_b(a, b, front, made):
    """A device through HAProxy on node B, an application watching it on node A."""
    api = Api(a)
    pk = api.product("balanced product")["productKey"]
    d = api.device(pk)
    dn = d["deviceName"]
    app = api.ok("POST", "/api/v1/apps", {"name": "watcher", "products": [pk]}, 201)
    acred = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=unique_id("app"))
    # On A's listener without a PROXY header.
    direct = SimpleNamespace(host="127.0.0.1", port=listener_port(a, "auto"))
    watcher = MqttClient(direct, client_id=acred["client_id"], username=acred["username"],
                         password=acred["password"])
    made.append(watcher)
    watcher.connect()
    status_topic = f"/as/mqtt/status/{pk}/{dn}"
    update = f"/{pk}/{dn}/user/update"
    assert watcher.subscribe([(status_topic, 1), (update, 1)]) == [1, 1]

    # Through HAProxy to node B (the first server); B may not know the device for a moment
    # (the registry change crosses within 1 s): paho tries again.
    cred = aliyun.device_credentials(pk, dn, d["deviceSecret"], client_id=unique_id("dev"))
    dev = Device(front, cred)
    made.append(dev)
    assert dev.up.wait(5), f"no CONNACK 0 through HAProxy: {dev.rcs}"
    m = watcher.get_where(lambda m: m.topic == status_topic, timeout=5)
    assert json.loads(m.payload)["status"] == "online"
    nodes = poll_until(lambda: {n["node"]: n["connections"]
                                for n in api.ok("GET", "/api/v1/cluster")["nodes"]},
                       lambda n: n.get("node-b") == 1, timeout=5)
    assert nodes["node-a"] == 1, nodes  # the watcher
    view = Api(b).show(pk, dn)  # a node's API shows ONLINE for the devices it holds
    assert view["status"] == "ONLINE" and view["ip"] == SOURCE, view
    dev.publish(update, b"on B")
    assert watcher.get_where(lambda m: m.topic == update, timeout=5).payload == b"on B"
    return api, pk, dn, watcher, dev


def _scenario(a, b, front, made):
    api, pk, dn, watcher, dev = _device_on_b(a, b, front, made)
    status_topic = f"/as/mqtt/status/{pk}/{dn}"
    update = f"/{pk}/{dn}/user/update"

    # B dies; the device's client reconnects to the same HAProxy address and lands on A.
    os.kill(b.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    b.proc.wait(5)
    assert dev.down.wait(5), "the link through HAProxy did not break"
    assert dev.up.wait(10), f"not back through HAProxy: {dev.rcs}"
    back = dev.up_at - t0
    m = watcher.get_where(lambda m: m.topic == status_topic, timeout=5)
    assert json.loads(m.payload)["status"] == "online", m.payload
    dev.publish(update, b"on A")
    assert watcher.get_where(lambda m: m.topic == update, timeout=5).payload == b"on A"
    view = api.show(pk, dn)
    assert view["status"] == "ONLINE" and view["ip"] == SOURCE, view
    print(f"\nkill -9 of node B -> the device back on node A through HAProxy: {back:.2f} s")

    # After A's sweep of B (5 s after the kill) the device is still ONLINE, with no offline
    # status message: A found it had logged in again (on A) before the sweep.
    assert a.log.wait_for("node node-b is down", timeout=10), a.log.tail()
    assert a.log.wait_for("1 logged in again elsewhere", timeout=3), a.log.tail()
    dev.publish(update, b"marker")
    for m in watcher.collect_until(update, b"marker", timeout=5):
        assert m.topic != status_topic, m.payload
    assert api.show(pk, dn)["status"] == "ONLINE"


class Publisher:
    """A clean-session publisher through HAProxy sending QoS 1 as fast as 20 in flight allow,
    `topic`, payloads "<n>", until its link breaks (it never reconnects: a message resent on
    another node is not one its first node acknowledged). `acked`: the numbers PUBACKed."""

    def __init__(self, port: int, topic: str):
        self.c = paho.Client(client_id=unique_id("pub"), clean_session=True,
                             protocol=paho.MQTTv311, reconnect_on_failure=False)
        self.c.max_inflight_messages_set(20)
        self.topic = topic
        self.acked: set = set()
        self.sent = 0
        self._mids: dict = {}
        self._early: set = set()
        self._lock = threading.Lock()
        self.broken = threading.Event()
        self.c.on_publish = self._on_publish
        self.c.on_disconnect = lambda client, userdata, rc: self.broken.set()
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = threading.Event()

    def _on_publish(self, client, userdata, mid):
        with self._lock:  # never held while calling paho: its thread calls this
            n = self._mids.pop(mid, None)
            if n is None:
                self._early.add(mid)  # acknowledged before _run recorded it
            else:
                self.acked.add(n)

    def _run(self):
        while not self._stop.is_set() and not self.broken.is_set():
            n = self.sent
            info = self.c.publish(self.topic, str(n).encode(), qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                break
            self.sent += 1
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked.add(n)
                else:
                    self._mids[info.mid] = n
            time.sleep(0.002)

    def start(self):
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.c.disconnect()
        self.c.loop_stop()


def test_persistent_subscribers_behind_haproxy_keep_every_acknowledged_message(
        tmp_path: Path, pg: PgServer):
    """Four persistent subscribers and four QoS 1 publishers, all through HAProxy on node B. B is
    killed (SIGKILL) while they publish. Every subscriber reconnects through HAProxy, lands on
    node A and finds its session (CONNACK session present), and receives every message B
    acknowledged to a publisher, counted one by one (a message may come twice: QoS 1)."""
    with two_nodes_behind_haproxy(tmp_path, pg) as (a, b, front, t):
        poll_until(lambda: [n["state"] for n in Api(b).ok("GET", "/api/v1/cluster")["nodes"]],
                   lambda s: s == ["up", "up"], timeout=5)
        via = SimpleNamespace(host="127.0.0.1", port=front)
        u = unique_id("loss")
        topics = [f"loss/{u}/{i}" for i in range(4)]
        subs = []
        for topic in topics:
            s = MqttClient(via, client_id=unique_id("sub"), clean_session=False)
            t.made.append(s)
            s.connect()
            assert s.subscribe(topic, 1) == [1]
            subs.append(s)
        poll_until(lambda: {n["node"]: n["connections"]
                            for n in Api(a).ok("GET", "/api/v1/cluster")["nodes"]},
                   lambda n: n.get("node-b") == 4, timeout=5)
        pubs = [Publisher(front, topic) for topic in topics]
        t.made.extend(pubs)
        for p in pubs:
            p.start()
        poll_until(lambda: min(len(p.acked) for p in pubs), lambda n: n >= 100, timeout=10)
        os.kill(b.proc.pid, signal.SIGKILL)
        b.proc.wait(5)
        for p in pubs:
            assert p.broken.wait(5), "a publisher's link through HAProxy did not break"
            p.close()
        for s in subs:
            assert s.disconnected.wait(5), "a subscriber's link through HAProxy did not break"

        got = []
        for s, topic in zip(subs, topics):
            before = [int(m.payload) for m in s.drain() if m.topic == topic]
            again = MqttClient(via, client_id=s.client_id, clean_session=False)
            t.made.append(again)
            poll_until(lambda: _connects(again), lambda ok: ok, timeout=10)
            assert again.session_present is True, "the session of the dead node did not come"
            got.append((s, again, set(before)))
        for (s, again, seen), p, topic in zip(got, pubs, topics):
            missing = set(p.acked) - seen
            deadline = time.monotonic() + 15
            while missing and time.monotonic() < deadline:
                with contextlib.suppress(AssertionError):
                    m = again.get_where(lambda m: m.topic == topic, timeout=1)
                    missing.discard(int(m.payload))
            assert not missing, (f"{topic}: {len(missing)} of {len(p.acked)} acknowledged "
                                 f"messages lost, e.g. {sorted(missing)[:10]}")
        acked = sum(len(p.acked) for p in pubs)
        taken = Api(a).metric("thingport_cluster_sessions_taken_over_total")
        assert taken == 4, taken
        print(f"\nkill -9 of node B under 4 QoS 1 publishers: {acked} messages acknowledged, "
              f"every one received after the subscribers moved to node A")


def _connects(c: MqttClient) -> bool:
    """Connects `c` (through HAProxy, which may still send it to the dead node for a moment)."""
    try:
        c.connect(timeout=3)
        return True
    except (AssertionError, OSError):
        return False
