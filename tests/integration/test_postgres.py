"""[store] backend = "postgres" against a real PostgreSQL 15 (pgserver.py) that these tests start,
stop and start again themselves (docs/store-format.md "PostgreSQL"): a server that is not there
yet at start (retried, then serving), one lost while serving (API writes 503, /healthz 503,
known devices still log in, thing posts answered with an Alink error, everything back by itself
with nothing acknowledged lost), a schema newer than the binary (refused), and `thingport store
copy` of a populated SQLite data dir with `store check` agreeing. The rest of the suite runs on
PostgreSQL too with THINGPORT_TEST_STORE=postgres (scripts/test.sh)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

import harness
from apiclient import Api
from harness import BrokerProcess, poll_until
from pgserver import PgServer
from test_thing import Device

pytestmark = [pytest.mark.thingport_only(reason="thingport's store backends"),
              pytest.mark.sqlite_only]  # each test runs its own PostgreSQL


@pytest.fixture
def pg():
    with PgServer() as server:
        yield server


def pg_broker(tmp_path: Path, url: str) -> BrokerProcess:
    return BrokerProcess(tmp_path / "tp", thingport_config=(
        '[limits]\nconnect_rate = 0\n[store]\nbackend = "postgres"\n'
        f'url = "{url}"\n'))


def post(dev: Device, value: int) -> dict:
    return dev.request("thing/event/property/post", {"Temp": value})


def test_unreachable_at_start_is_retried_then_served(tmp_path, pg):
    url = pg.create_database()
    pg.stop()
    b = pg_broker(tmp_path, url)
    b.launch()
    try:
        assert b.log.wait_for("retrying in", timeout=10), b.log.tail()
        assert b.log.wait_for("cannot connect to PostgreSQL at", timeout=0), b.log.tail()
        assert not b.log.wait_for("listening", timeout=0)
        pg.start()
        b.wait_started()  # the next attempt, at most 2 s later, finds it
    finally:
        b.stop_and_check()


def test_lost_while_serving_then_back_with_nothing_acknowledged_lost(tmp_path, pg):
    b = pg_broker(tmp_path, pg.create_database())
    b.start()
    try:
        api = Api(b)
        pk = api.product("pg product")["productKey"]
        d = api.device(pk)
        dev = Device(b, pk, d["deviceName"], d["deviceSecret"])
        assert post(dev, 1)["code"] == 200
        pg.stop()
        # API writes and /healthz say the store is unavailable.
        r = api.call("POST", "/api/v1/products", {"name": "while down"})
        assert r.status == 503, r
        assert api.call("GET", "/healthz", token=None).status == 503
        # A known device still logs in (its secret is in memory) ...
        dev2 = Device(b, pk, d["deviceName"], d["deviceSecret"])
        # ... and its post is not answered 200: it was not stored.
        reply = post(dev2, 2)
        assert reply["code"] != 200, reply
        pg.start()
        poll_until(lambda: api.call("GET", "/healthz", token=None).status, lambda s: s == 200,
                   timeout=10)
        assert api.call("POST", "/api/v1/products", {"name": "after"}).status == 201
        assert poll_until(lambda: post(dev2, 3)["code"], lambda c: c == 200, timeout=10) == 200
        props = api.ok("GET", f"/api/v1/products/{pk}/devices/{d['deviceName']}/properties")
        values = {p["identifier"]: p["value"] for p in props["properties"]}
        assert values["Temp"] == 3
        history = api.ok("GET", f"/api/v1/products/{pk}/devices/{d['deviceName']}"
                                "/properties/Temp/history")
        stored = sorted(v["value"] for v in history["values"])
        assert 1 in stored and 3 in stored and 2 not in stored, stored
        names = [p["name"] for p in api.ok("GET", "/api/v1/products")["products"]]
        assert "after" in names and "while down" not in names
        dev.close()
        dev2.close()
    finally:
        b.stop_and_check()


def test_a_newer_schema_is_refused_at_start(tmp_path, pg):
    url = pg.create_database()
    r = subprocess.run([harness.THINGPORT_BIN, "store", "migrate", "--url", url],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "schema version 6 (was 0)" in r.stdout, r.stdout + r.stderr
    pg.psql(url, "UPDATE thingport_schema SET version = version + 1")
    b = pg_broker(tmp_path, url)
    r = subprocess.run(b.command, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "newer than this build" in r.stderr, r.stderr


def test_configurations_a_node_kept_on_disk_move_to_the_store(tmp_path, pg):
    """Before the store kept remote configurations, a node kept them in data/config/ (a .bin and
    its .json index entry): at its next start they move to the store, which answers from then."""
    url = pg.create_database()
    b = pg_broker(tmp_path, url)
    b.start()
    try:
        pk = Api(b).product("kept on disk")["productKey"]
    finally:
        b.stop_and_check()
    data = b'{"interval": 60}'
    cid = "0123456789abcdef0123456789abcdef"
    config_dir = b.workdir / "data" / "config"
    (config_dir / f"{cid}.bin").write_bytes(data)
    (config_dir / f"{cid}.json").write_text(json.dumps({
        "configId": cid, "productKey": pk, "size": len(data),
        "md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
        "createdAt": 1700000000000}))
    b.start()
    try:
        listed = Api(b).ok("GET", f"/api/v1/products/{pk}/configs")["configs"]
        assert [c["configId"] for c in listed] == [cid]
        assert pg.psql(url, "SELECT encode(data, 'escape') FROM config_file").strip() == \
            data.decode()
        assert not (config_dir / f"{cid}.json").exists()
    finally:
        b.stop_and_check()


def test_store_copy_moves_a_sqlite_deployment_whole(tmp_path, pg):
    src = BrokerProcess(tmp_path / "sqlite", thingport_config="[limits]\nconnect_rate = 0\n")
    src.start()
    api = Api(src)
    name = "Robert'); DROP TABLE device;-- \"温度\""
    pk = api.product(name)["productKey"]
    d = api.device(pk)
    dev = Device(src, pk, d["deviceName"], d["deviceSecret"])
    for v in range(5):
        assert post(dev, v)["code"] == 200
    dev.close()
    batch = api.ok("POST", f"/api/v1/products/{pk}/devices/batch", {"prefix": "b", "count": 300},
                   201)
    before = api.show(pk, d["deviceName"])
    src.stop_and_check()

    url = pg.create_database()
    data = src.workdir / "data"
    r = subprocess.run([harness.THINGPORT_BIN, "store", "copy", "--from", str(data), "--to", url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "copy: ok" in r.stdout and "DIFFERENT" not in r.stdout
    assert "thing_property_history" in r.stdout
    # A second copy into the same database is refused: it is not empty.
    again = subprocess.run([harness.THINGPORT_BIN, "store", "copy", "--from", str(data), "--to",
                            url], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "not empty" in again.stderr
    check = subprocess.run([harness.THINGPORT_BIN, "store", "check", "--url", url],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "ok" in check.stdout, check.stdout + check.stderr
    assert subprocess.run([harness.THINGPORT_BIN, "store", "check", "--data", str(data)],
                          capture_output=True, timeout=60).returncode == 0

    b = pg_broker(tmp_path, url)
    b.start()
    try:
        api = Api(b)
        assert api.ok("GET", f"/api/v1/products/{pk}")["name"] == name
        after = api.show(pk, d["deviceName"])
        assert after["deviceSecret"] == before["deviceSecret"]
        assert after.get("firstOnline") == before.get("firstOnline")
        assert api.ok("GET", f"/api/v1/products/{pk}/devices?limit=1000")["total"] == 1 + len(
            batch["devices"])
        hist = api.ok("GET", f"/api/v1/products/{pk}/devices/{d['deviceName']}"
                             "/properties/Temp/history")
        assert sorted(v["value"] for v in hist["values"]) == [0, 1, 2, 3, 4]
        # The copied device logs in with its old secret and posts on.
        dev = Device(b, pk, d["deviceName"], d["deviceSecret"])
        assert post(dev, 9)["code"] == 200
        dev.close()
    finally:
        b.stop_and_check()

