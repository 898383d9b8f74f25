#!/usr/bin/python3
"""Cross-node figures of a two-node thingport cluster (docs/cluster.md), on loopback: one
nats-server, one PostgreSQL, two nodes, all started here on free ports.

- QoS 0 rate: mosquitto_pub -l sends N messages to one node, mosquitto_sub receives them on
  the same node (one node) or on the other (cross node); msg/s from the first send to the last
  receipt, and how many arrived.
- takeover: a client id connected on node A connects again on node B; the time from the
  CONNECT to B to A's link closing (median of 10).
- logins: CONNECT to CONNACK on node B for a clean session, a persistent one that no node held,
  and a persistent one moving from the other node with 5 QoS 1 messages queued (100 each;
  docs/cluster.md "Sessions move with their clients").
- durable QoS 1 pairs: thingport-load, 100 pairs with persistent subscribers, durability
  "sync", 5 s, on node A (its sessions in PostgreSQL) and on a node without [cluster] (its
  sessions in sessions.db), same run.
- node loss (last: node B is killed): 50 persistent clients with 5 QoS 1 messages queued each
  on B, 50 more offline for good; kill -9 of B; the 50 log in on A one after the other
  (CONNECT to CONNACK, session present, their messages), and the time from the kill until A
  has taken all 100 sessions over (docs/cluster.md "When a node never comes back").

  THINGPORT_BIN=build/release/src/app/thingport \
  THINGPORT_LOAD=build/release/bench/load/thingport-load python3 bench/cluster/cross_node.py [N]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))

from apiclient import Api  # noqa: E402
from harness import MOSQUITTO_PUB, MOSQUITTO_SUB, BrokerProcess, unique_id  # noqa: E402
from mqtt_clients import MqttClient  # noqa: E402
from natsserver import NatsServer  # noqa: E402
from pgserver import PgServer  # noqa: E402


def rate(sub_node: BrokerProcess, pub_node: BrokerProcess, n: int, payload: bytes) -> tuple:
    base = f"bench/{unique_id('r')}"
    sub = subprocess.Popen([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(sub_node.port), "-t",
                            f"{base}/#", "-v", "-q", "0", "-i", unique_id("s")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # warm up until the subscription reaches the publishing node (through NATS)
        deadline = time.monotonic() + 10
        warm = subprocess.Popen(["sh", "-c", f"while :; do {MOSQUITTO_PUB} -p {pub_node.port} "
                                 f"-t {base}/w -m w; done"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while not sub.stdout.readline().startswith(f"{base}/w".encode()):
                assert time.monotonic() < deadline, "no warm-up message"
        finally:
            warm.kill()
            warm.wait()
        lines = tempfile.NamedTemporaryFile(delete=False)
        lines.write((payload + b"\n") * n)
        lines.close()
        t0 = time.monotonic()
        pub = subprocess.Popen([MOSQUITTO_PUB, "-p", str(pub_node.port), "-t", f"{base}/m", "-l",
                                "-q", "0", "-i", unique_id("p")], stdin=open(lines.name, "rb"))
        got, last = 0, t0
        prefix = f"{base}/m ".encode()
        sub_deadline = t0 + 60
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(sub.stdout, selectors.EVENT_READ)
        while got < n and time.monotonic() < sub_deadline:
            # stop 2 s after the publisher ended with nothing more coming
            if not sel.select(timeout=2.0) and pub.poll() is not None:
                break
            line = sub.stdout.readline()
            if line.startswith(prefix):
                got += 1
                last = time.monotonic()
        pub.wait(30)
        return got, got / (last - t0) if last > t0 else 0.0
    finally:
        sub.kill()
        sub.wait()


def takeover(a: BrokerProcess, b: BrokerProcess, rounds: int = 10) -> list:
    times = []
    for _ in range(rounds):
        cid = unique_id("same")
        first = MqttClient(a, client_id=cid).connect()
        second = MqttClient(b, client_id=cid)
        t0 = time.monotonic()
        second.connect()
        assert first.disconnected.wait(5), "not taken over"
        times.append((time.monotonic() - t0) * 1000)
        first.close()
        second.close()
    return times


def logins(a: BrokerProcess, b: BrokerProcess, rounds: int = 100) -> dict:
    def timed(node, cid, clean):
        c = MqttClient(node, client_id=cid, clean_session=clean)
        t0 = time.monotonic()
        c.connect()
        return c, (time.monotonic() - t0) * 1000

    out = {"clean session": [], "persistent, held by no node": [],
           "persistent, moved with 5 queued": []}
    for _ in range(rounds):
        for label, clean in (("clean session", True), ("persistent, held by no node", False)):
            c, ms = timed(b, unique_id("l"), clean)
            out[label].append(ms)
            c.close()
    cid, topic = unique_id("mv"), f"bench/{unique_id('mv')}"
    c, _ = timed(a, cid, False)
    c.subscribe(topic, 1)
    c.disconnect()
    c.close()
    nodes = (a, b)
    pubs = [MqttClient(n).connect() for n in nodes]
    for i in range(rounds):
        held = i % 2  # the node that holds the session now
        for _ in range(5):
            pubs[held].publish(topic, b"x", qos=1)
        c, ms = timed(nodes[1 - held], cid, False)
        assert c.session_present, "the session did not move"
        for _ in range(5):
            c.get(timeout=5)
        out["persistent, moved with 5 queued"].append(ms)
        c.disconnect()
        c.close()
    for p in pubs:
        p.close()
    return out


def durable_pairs(node: BrokerProcess, seconds: int = 5) -> dict:
    """thingport-load's QoS 1 pairs with persistent subscribers on `node`: its JSON line."""
    load = os.environ.get("THINGPORT_LOAD",
                          str(Path(__file__).resolve().parents[2] /
                              "build/release/bench/load/thingport-load"))
    r = subprocess.run([load, "--port", str(node.port), "--scenario", "pairs", "--publishers",
                        "100", "--qos", "1", "--persistent", "--inflight", "16", "--duration",
                        str(seconds), "--warmup", "1", "--id-prefix", unique_id("dp")],
                       capture_output=True, text=True, timeout=seconds + 60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def node_loss(a: BrokerProcess, b: BrokerProcess, n: int = 50, idle: int = 50) -> dict:
    """Kills b; the figures of its sessions coming to a (see the module's docstring)."""
    topic = f"loss/{unique_id('nl')}"
    cids = []
    for i in range(n + idle):
        cid = unique_id("nl")
        c = MqttClient(b, client_id=cid, clean_session=False).connect()
        c.subscribe(f"{topic}/{i}", 1)
        c.disconnect()
        c.close()
        cids.append(cid)
    pub = MqttClient(b).connect()
    for i in range(n + idle):
        for k in range(5):
            pub.publish(f"{topic}/{i}", f"{k}".encode(), qos=1)
    pub.close()
    os.kill(b.proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    b.proc.wait(5)
    out = {"connack_ms": [], "present": 0, "messages": 0}
    for i, cid in enumerate(cids[:n]):
        c = MqttClient(a, client_id=cid, clean_session=False)
        t0 = time.monotonic()
        c.connect()
        out["connack_ms"].append((time.monotonic() - t0) * 1000)
        out["present"] += 1 if c.session_present else 0
        for _ in range(5):
            c.get_where(lambda m, t=f"{topic}/{i}": m.topic == t, timeout=5)  # raises if not
            out["messages"] += 1
        c.close()
    api = Api(a)
    while api.metric("thingport_cluster_sessions_taken_over_total") < n + idle:
        assert time.monotonic() - killed < 30, "the sweep did not take the sessions over"
        time.sleep(0.02)
    out["all_taken_s"] = time.monotonic() - killed
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    payload = b"x" * 64
    root = Path(tempfile.mkdtemp(prefix="tp-bench-cluster-"))
    with NatsServer() as nats, PgServer() as pg:
        url = pg.create_database()
        nodes = []
        for name in ("node-a", "node-b"):
            cfg = (f'[cluster]\nnats = "{nats.url}"\nnode = "{name}"\n'
                   f'[store]\nbackend = "postgres"\nurl = "{url}"\n')
            nodes.append(BrokerProcess(root / name, thingport_config=cfg))
            nodes[-1].start()
        a, b = nodes
        try:
            for label, s, p in (("one node", a, a), ("cross node", b, a)):
                got, r = rate(s, p, n, payload)
                print(f"QoS 0, {len(payload)} B, {label}: {got}/{n} received, {r:,.0f} msg/s")
            t = takeover(a, b)
            print(f"takeover across nodes: median {statistics.median(t):.1f} ms, "
                  f"max {max(t):.1f} ms over {len(t)}")
            for label, ms in logins(a, b).items():
                ms.sort()
                print(f"CONNECT to CONNACK, {label}: median {statistics.median(ms):.1f} ms, "
                      f"p90 {ms[len(ms) * 9 // 10]:.1f} ms, max {ms[-1]:.1f} ms over {len(ms)}")
            alone = BrokerProcess(root / "alone")
            alone.start()
            try:
                for label, node in (("node A, sessions in PostgreSQL", a),
                                    ("one node without [cluster], sessions.db", alone)):
                    r = durable_pairs(node)
                    print(f"QoS 1 pairs, 100 persistent, sync, {label}: "
                          f"{r['msgs_per_s']:,.0f} msg/s, p50 {r['lat_us']['p50'] / 1000:.1f} ms, "
                          f"p99 {r['lat_us']['p99'] / 1000:.1f} ms, lost {r['lost']}")
            finally:
                alone.stop()
            loss = node_loss(a, b)
            ms = sorted(loss["connack_ms"])
            print(f"after kill -9 of node B: {len(ms)} persistent logins on A, CONNECT to CONNACK "
                  f"median {statistics.median(ms):.1f} ms, p90 {ms[len(ms) * 9 // 10]:.1f} ms, "
                  f"max {ms[-1]:.1f} ms; session present {loss['present']}/{len(ms)}; "
                  f"{loss['messages']}/{len(ms) * 5} queued messages received; all "
                  f"{len(ms) + 50} of B's sessions on A {loss['all_taken_s']:.2f} s after the kill")
        finally:
            for x in nodes:
                x.stop()


if __name__ == "__main__":
    main()
