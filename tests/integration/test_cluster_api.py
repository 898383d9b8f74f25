"""GET /api/v1/cluster on one node (docs/http-api.md): the same shape a cluster answers with,
one entry; the node's name from `[cluster] node` (or the host's name); its connections are live
counts. With `[cluster] nats` the nodes are several: test_cluster.py."""

from __future__ import annotations

import pytest

from harness import poll_until

pytestmark = pytest.mark.thingport_only(reason="thingport's HTTP API")


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": '[cluster]\nnode = "edge-7.lab_a"\n'}


def test_one_node_named_by_config_with_live_counts(api, client_factory):
    assert api.call("GET", "/api/v1/cluster", token=None).status == 401
    first = api.ok("GET", "/api/v1/cluster")
    assert [n["node"] for n in first["nodes"]] == ["edge-7.lab_a"]
    node = first["nodes"][0]
    assert node["state"] == "up"
    assert set(node) >= {"node", "state", "connections", "devicesOnline"}
    base = node["connections"]
    clients = [client_factory() for _ in range(3)]
    poll_until(lambda: api.ok("GET", "/api/v1/cluster")["nodes"][0]["connections"],
               lambda v: v == base + 3)
    for c in clients:
        c.close()
    poll_until(lambda: api.ok("GET", "/api/v1/cluster")["nodes"][0]["connections"],
               lambda v: v == base)
