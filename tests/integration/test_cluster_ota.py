"""OTA in a cluster of two nodes (docs/cluster.md "OTA jobs"): each node sends the job's
upgrade messages to the devices linked to it, at the job's rate divided by the nodes up, so
that the two together keep `ratePerMinute` (before, each node sent at the whole rate: twice it);
a node that cannot tell how many nodes are up (NATS unreachable) sends nothing. A firmware
uploaded to one node is served by the other (its bytes and the links' secret are in PostgreSQL),
and so is a remote configuration file.
Everything is started here, on free ports; the module runs once (not again in the PostgreSQL
pass)."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.parse
from pathlib import Path

import pytest

import aliyun
from apiclient import Api
from mqtt_clients import MqttClient
from natsserver import two_nodes, until_made
from test_ota_mqtt_download import reply, request
from harness import poll_until
from pgserver import PgServer
from test_ota import upload
from test_remote_config import get_config
from test_remote_config import upload as upload_config

pytestmark = [pytest.mark.thingport_only(reason="thingport's cluster over NATS"),
              pytest.mark.sqlite_only]  # starts its own NATS and PostgreSQL

RATE = 120  # a minute: 2 a second for the cluster, 1 a second for each of the two nodes


def linked(t, node, pk: str, d: dict, topics: list) -> MqttClient:
    """Device d linked to `node` (again until that node knows it), subscribed to `topics`."""
    cred = aliyun.device_credentials(pk, d["deviceName"], d["deviceSecret"])

    def connect():
        c = MqttClient(node, client_id=cred["client_id"], username=cred["username"],
                       password=cred["password"])
        try:
            c.connect(timeout=2)
        except AssertionError:
            c.close()
            raise
        t.made.append(c)
        assert c.subscribe([(topic, 1) for topic in topics]) == [1] * len(topics)
        return c
    return until_made(connect)


def test_a_jobs_rate_holds_for_the_cluster(tmp_path: Path):
    with PgServer() as pg, two_nodes(tmp_path, pg=pg) as t:
        api = Api(t.a)
        pk = api.product("cluster ota")["productKey"]
        devs = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                      {"prefix": "co", "count": 8}, 201)["devices"]
        clients = {d["deviceName"]: linked(t, t.a if i % 2 == 0 else t.b, pk, d,
                                           [f"/ota/device/upgrade/{pk}/{d['deviceName']}"])
                   for i, d in enumerate(devs)}
        time.sleep(1.0)  # past the schedule's 500 ms online grace
        fw = upload(api, pk, b"fw" * 100, "version=2.0").json
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


CHUNK = 1 << 20  # the store keeps a firmware's bytes in chunks of 1 MiB


def fetch(node, path: str, headers=None) -> tuple:
    """(status, body) of a download link's GET on `node`, with no admin token (as a device)."""
    r = Api(node).call("GET", path, token=None, headers=headers)
    return r.status, r.body


def test_a_firmware_uploaded_to_one_node_is_served_by_the_other(tmp_path: Path):
    with PgServer() as pg, two_nodes(tmp_path, pg=pg) as t:
        api = Api(t.a)
        pk = api.product("cluster firmware")["productKey"]
        devs = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                      {"prefix": "cf", "count": 2}, 201)["devices"]
        web, blocks = sorted(devs, key=lambda d: d["deviceName"])
        clients = {d["deviceName"]: linked(t, t.b, pk, d,
                                           [f"/ota/device/upgrade/{pk}/{d['deviceName']}",
                                            f"/sys/{pk}/{d['deviceName']}/thing/file/"
                                            "download_reply"])
                   for d in (web, blocks)}
        data = os.urandom(2 * CHUNK + 4321)  # three chunks, the last one short
        fw = upload(api, pk, data, "version=2.0").json
        assert fw["sha256"] == hashlib.sha256(data).hexdigest()
        fid = fw["firmwareId"]
        assert (t.a.workdir / "data" / "firmware" / f"{fid}.bin").exists()
        assert not (t.b.workdir / "data" / "firmware" / f"{fid}.bin").exists()
        assert t.count(f"SELECT count(*) FROM ota_firmware_chunk WHERE firmware_id = '{fid}'") == 3
        jobs = [api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                       {"firmwareId": fid, "devices": [d["deviceName"]],
                        "downloadProtocol": protocol}, 201)["jobId"]
                for d, protocol in ((web, "https"), (blocks, "mqtt"))]

        # HTTP: the link node B sent its device, answered by B from the store, whole and in a
        # range across two chunks; the same link is good on node A (one secret for both)
        up = json.loads(clients[web["deviceName"]].get_where(
            lambda m: m.topic.startswith("/ota/device/upgrade/"), timeout=15).payload)["data"]
        url = urllib.parse.urlsplit(up["url"])
        assert url.port == t.b.http_port, up["url"]
        link = f"{url.path}?{url.query}"
        assert fetch(t.b, link) == (200, data)
        status, part = fetch(t.b, link, {"Range": f"bytes={CHUNK - 10}-{CHUNK + 9}"})
        assert (status, part) == (206, data[CHUNK - 10:CHUNK + 10])
        assert fetch(t.a, link) == (200, data)
        assert fetch(t.b, link.replace("sign=", "sign=0"))[0] == 403

        # MQTT blocks from node B, one of them across two chunks
        c = clients[blocks["deviceName"]]
        u = json.loads(c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"),
                                   timeout=15).payload)["data"]
        assert u["dProtocol"] == "mqtt" and u["size"] == len(data)
        for rid, offset in ((1, 0), (2, CHUNK - 100), (3, len(data) - 50)):
            request(c, pk, blocks["deviceName"], rid, u["streamId"], offset, 1000)
            h, block = reply(c)
            assert h["code"] == 200 and h["id"] == str(rid), h
            assert block == data[offset:offset + 1000]

        # deleted through node B: its bytes leave the store
        api_b = Api(t.b)
        for job in jobs:
            api_b.ok("POST", f"/api/v1/products/{pk}/ota/jobs/{job}/cancel")
        api_b.ok("DELETE", f"/api/v1/products/{pk}/firmwares/{fid}")
        assert t.count(f"SELECT count(*) FROM ota_firmware_chunk WHERE firmware_id = '{fid}'") == 0
        assert fetch(t.b, link)[0] == 404
        # and node A, told over NATS, removes the file it kept
        poll_until(lambda: (t.a.workdir / "data" / "firmware" / f"{fid}.bin").exists(),
                   lambda there: not there, timeout=5)


def test_a_configuration_uploaded_to_one_node_is_answered_by_the_other(tmp_path: Path):
    with PgServer() as pg, two_nodes(tmp_path, pg=pg) as t:
        api, api_b = Api(t.a), Api(t.b)
        pk = api.product("cluster config")["productKey"]
        d, on_a, off = sorted((api.device(pk) for _ in range(3)), key=lambda x: x["deviceName"])
        dn = d["deviceName"]
        c = linked(t, t.b, pk, d, [f"/sys/{pk}/{dn}/thing/config/#"])
        c_a = linked(t, t.a, pk, on_a, [f"/sys/{pk}/{on_a['deviceName']}/thing/config/#"])
        data = b'{"interval": 5, "servers": ["a", "b"]}' * 50
        cfg = upload_config(api, pk, data).json
        cid = cfg["configId"]
        # node B hears of it (a registry change over NATS) and answers its device
        got = poll_until(lambda: get_config(c, pk, dn, "1"),
                         lambda r: r["code"] == 200, timeout=5)
        assert got["data"]["configId"] == cid and got["data"]["sign"] == cfg["sha256"]
        url = urllib.parse.urlsplit(got["data"]["url"])
        assert url.port == t.b.http_port
        config_dir = t.b.workdir / "data" / "config"
        assert not (config_dir / f"{cid}.bin").exists()
        assert fetch(t.b, f"{url.path}?{url.query}") == (200, data)
        assert (config_dir / f"{cid}.bin").read_bytes() == data  # kept from the store
        assert [x["configId"] for x in api_b.ok("GET", f"/api/v1/products/{pk}/configs")
                ["configs"]] == [cid]
        # a push started on A reaches the device on B too, whose reply A records; the device
        # linked nowhere is offline
        push = f"/api/v1/products/{pk}/configs/{cid}/push"
        assert api.ok("POST", push, {"ratePerMinute": 600}, 202)["devices"] == 3
        for client, name, code in ((c, dn, 200), (c_a, on_a["deviceName"], 400)):
            m = client.get_where(lambda m: m.topic.endswith("/thing/config/push"), timeout=10)
            assert json.loads(m.payload)["params"]["configId"] == cid
            client.publish(f"/sys/{pk}/{name}/thing/config/push_reply",
                           json.dumps({"id": json.loads(m.payload)["id"], "code": code,
                                       "data": {}}), qos=1)
        view = poll_until(lambda: api.ok("GET", push), lambda v: v["state"] == "done" and
                          v["counts"]["replied"] == 2, timeout=5)
        assert view["counts"] == {"waiting": 0, "sent": 0, "offline": 1, "replied": 2}
        assert view["replyCodes"] == {"200": 1, "400": 1}
        assert {x["deviceName"]: x["state"] for x in view["devices"]}[off["deviceName"]] == \
            "offline"
        metrics = api_b.call("GET", "/metrics").body.decode()
        assert "\nthingport_config_replies_unforwarded_total 0\n" in metrics

        # deleted through B: gone on A too
        api_b.ok("DELETE", f"/api/v1/products/{pk}/configs/{cid}")
        poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/configs")["configs"],
                   lambda v: v == [], timeout=5)
        # its file goes just after its entry (outside the index's lock)
        poll_until(lambda: (t.a.workdir / "data" / "config" / f"{cid}.bin").exists(),
                   lambda there: not there, timeout=5)
        assert t.count("SELECT count(*) FROM config_file") == 0
