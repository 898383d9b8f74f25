"""An OTA job in a cluster of two nodes (docs/cluster.md "OTA jobs"): each node sends the job's
upgrade messages to the devices linked to it, at the job's rate divided by the nodes up, so
that the two together keep `ratePerMinute` (before, each node sent at the whole rate: twice it);
a node that cannot tell how many nodes are up (NATS unreachable) sends nothing.
Everything is started here, on free ports; the module runs once (not again in the PostgreSQL
pass)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import aliyun
from apiclient import Api
from mqtt_clients import MqttClient
from natsserver import two_nodes, until_made
from pgserver import PgServer

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL

RATE = 120  # a minute: 2 a second for the cluster, 1 a second for each of the two nodes


def test_a_jobs_rate_holds_for_the_cluster(tmp_path: Path):
    with PgServer() as pg, two_nodes(tmp_path, pg=pg) as t:
        api = Api(t.a)
        pk = api.product("cluster ota")["productKey"]
        devs = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                      {"prefix": "co", "count": 8}, 201)["devices"]
        clients = {}
        for i, d in enumerate(devs):
            node = t.a if i % 2 == 0 else t.b
            cred = aliyun.device_credentials(pk, d["deviceName"], d["deviceSecret"])

            def connect(node=node, cred=cred, dn=d["deviceName"]):
                c = MqttClient(node, client_id=cred["client_id"], username=cred["username"],
                               password=cred["password"])
                try:
                    c.connect(timeout=2)
                except AssertionError:
                    c.close()
                    raise
                t.made.append(c)
                assert c.subscribe(f"/ota/device/upgrade/{pk}/{dn}", 1) == [1]
                return c
            clients[d["deviceName"]] = until_made(connect)
        time.sleep(1.0)  # past the schedule's 500 ms online grace
        fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=b"fw" * 100,
                      headers={"Content-Type": "application/octet-stream"}).json
        # While NATS is unreachable a node cannot know its share of the rate: it sends nothing
        # (the devices stay linked to it meanwhile).
        t.nats.stop()
        for n in (t.a, t.b):
            assert n.log.wait_for("NATS unreachable", timeout=5), n.log.tail()
        api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
               {"firmwareId": fw["firmwareId"], "ratePerMinute": RATE}, 201)
        for c in clients.values():
            with pytest.raises(AssertionError):
                c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"), timeout=0.25)
        t.nats.start()
        got = {}
        for dn, c in clients.items():
            m = c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"), timeout=15)
            assert json.loads(m.payload)["data"]["version"] == "2.0"
            got[dn] = time.monotonic()  # in name order: each at or after its arrival
        times = sorted(got.values())
        spread = times[-1] - times[0]
        # 8 messages at 2 a second (a node's first one at once): at least ~3 s from the first to
        # the last; each node at the whole rate would have sent them all within ~1.5 s
        assert spread >= 2.4, f"8 messages within {spread:.2f}s: over the job's rate"
        assert spread <= 8, spread
        print(f"\n8 upgrade messages at ratePerMinute {RATE} on two nodes: {spread:.2f}s "
              f"first to last")
