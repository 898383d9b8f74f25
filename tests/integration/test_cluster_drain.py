"""`thingport node drain` (docs/cluster.md "Rolling upgrade"): two nodes; 50 clients on node B;
B is drained at 25 links a second with the CLI. B stops listening for MQTT (a new connection is
refused, so a balancer's health check fails; a CONNECT already on its way gets CONNACK 3), its
links close paced from the first one (close k at first + k/25 s: 1.96 s from the first to the
last, no burst at the start), every client logs in again on node A, and both nodes'
GET /api/v1/cluster show B as "draining". Everything is started here, on free ports; the
module runs once."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from apiclient import Api
from harness import THINGPORT_BIN, poll_until, unique_id
from mqtt_clients import MqttClient, run_cli
from natsserver import two_nodes

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL

CLIENTS = 50
RATE = 25  # links a second: close k at first + k/25 s, the last 49/25 = 1.96 s after the first
IDEAL = (CLIENTS - 1) / RATE
# Seen by the clients, the closes are a little late, each by its own amount (the client's network
# thread, a loaded machine): the spread may look shorter by EARLY_MARGIN, and be longer by up to
# LATE_MARGIN (the pacer never catches up with a burst, so a stall only lengthens the drain).
EARLY_MARGIN = 0.25
LATE_MARGIN = 1.5


def test_drain_moves_the_links_at_the_rate(tmp_path: Path):
    with two_nodes(tmp_path) as t:
        t.check_b = True  # B drains, and still stops cleanly
        _scenario(t.a, t.b, t.made)


def _scenario(a, b, made):
    api_a, api_b = Api(a), Api(b)
    closed_at = {}  # client id -> when its link on B closed

    def watch(c: MqttClient) -> MqttClient:
        inner = c.c.on_disconnect

        def on_disconnect(client, userdata, rc):
            closed_at.setdefault(c.client_id, time.monotonic())
            inner(client, userdata, rc)
        c.c.on_disconnect = on_disconnect
        return c

    on_b = []
    for _ in range(CLIENTS):
        c = watch(MqttClient(b, client_id=unique_id("drain")))
        made.append(c)
        c.connect()
        on_b.append(c)

    r = run_cli([THINGPORT_BIN, "node", "drain", "--rate", str(RATE),
                 "--api", f"http://127.0.0.1:{b.http_port}", "--token", api_b.token])
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    assert b"draining" in r.stdout, r.stdout

    # B stops listening at once: a new connection is refused.
    poll_until(lambda: _refused(b.port), lambda refused: refused, timeout=2)
    assert b.log.wait_for("the MQTT listeners are closed", timeout=1), b.log.tail()
    states = {n["node"]: n["state"] for n in api_b.ok("GET", "/api/v1/cluster")["nodes"]}
    assert states == {"node-a": "up", "node-b": "draining"}, states

    # Each client whose link closed logs in again on A (what a balancer would do for it).
    moved = []
    deadline = time.monotonic() + 15
    while len(moved) < CLIENTS:
        assert time.monotonic() < deadline, f"{len(moved)} of {CLIENTS} moved to A"
        for c in on_b:
            if c.client_id in closed_at and c.client_id not in {m.client_id for m in moved}:
                again = MqttClient(a, client_id=c.client_id)
                made.append(again)
                again.connect()
                moved.append(again)
        on_b[0].disconnected.wait(0.05)
    times = sorted(closed_at.values())
    spread = times[-1] - times[0]
    busiest = max(sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times))
    first_half = sum(1 for t in times if t - times[0] < IDEAL / 2)
    print(f"\n{CLIENTS} links drained at {RATE}/s: first close {times[0] - t0:.2f} s after the "
          f"command, spread {spread:.2f} s (ideal {IDEAL:.2f} s), at most {busiest} in 1 s, "
          f"{first_half} in the first half")
    assert IDEAL - EARLY_MARGIN <= spread <= IDEAL + LATE_MARGIN, f"spread {spread:.2f} s"
    assert times[0] - t0 < 1.0, f"first close {times[0] - t0:.2f} s after the command"
    # No burst: at most the rate (+2 for the clients' jitter) in any one second, and about half
    # of the links in the first half of the drain (a burst at the start would put more there).
    assert busiest <= RATE + 2, f"{busiest} closes within 1 s"
    assert first_half <= CLIENTS // 2 + 3, f"{first_half} closes in the first {IDEAL / 2:.2f} s"

    assert all(m.connected.is_set() for m in moved)
    poll_until(lambda: api_b.metric('thingport_closes_total{reason="draining"}'),
               lambda n: n == CLIENTS, timeout=3)
    poll_until(lambda: {n["node"]: n["state"] for n in api_a.ok("GET", "/api/v1/cluster")["nodes"]},
               lambda s: s == {"node-a": "up", "node-b": "draining"}, timeout=3)
    # Asked again: still draining, the first rate kept.
    repeat = api_b.ok("POST", "/api/v1/cluster/drain", {"rate": 1000})
    assert repeat["started"] is False and repeat["state"] == "draining"
    assert api_b.call("POST", "/api/v1/cluster/drain", {"rate": 0}).status == 400


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True
