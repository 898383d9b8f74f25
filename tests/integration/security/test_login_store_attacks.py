"""Attacks on logins and on the data dir (security issue rows 5, 12 and 16), against the real
server: wrong signs that lock out the rightful device or tell existing devices from unknown
ones, database files others can read, and an emptied database taken for a fresh start."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

import aliyun
import harness
import mqttraw
from apiclient import Api, broker_data_dir
from harness import WAIT, BrokerProcess

pytestmark = pytest.mark.thingport_only(reason="thingport's device logins and data dir")


def login_code(broker: BrokerProcess, pk: str, dn: str, secret: str, source: str) -> int:
    creds = aliyun.device_credentials(pk, dn, secret, client_id=harness.unique_id("c"))
    with mqttraw.RawClient(broker.host, broker.port, WAIT, source=source) as c:
        c.send(mqttraw.connect(creds["client_id"], username=creds["username"],
                               password=creds["password"]))
        return c.expect(mqttraw.CONNACK, WAIT).connack()[1]


# -- row 5: failed logins are limited by source, not by device -------------------------------------

def test_wrong_signs_from_one_address_do_not_lock_out_the_device(api, broker):
    pk = api.product("lockout")["productKey"]
    d = api.device(pk)
    dn, ds = d["deviceName"], d["deviceSecret"]
    for _ in range(8):
        assert login_code(broker, pk, dn, "0" * 32, "127.0.0.21") == 4
    # the rightful device, from its own address, gets in
    assert login_code(broker, pk, dn, ds, "127.0.0.22") == 0


def test_refusals_do_not_tell_existing_devices_from_unknown_ones(api, broker):
    pk = api.product("oracle")["productKey"]
    dn = api.device(pk)["deviceName"]
    existing = [login_code(broker, pk, dn, "0" * 32, "127.0.0.31") for _ in range(7)]
    unknown = [login_code(broker, pk, "nosuchdevice", "0" * 32, "127.0.0.32") for _ in range(7)]
    assert existing == unknown, (existing, unknown)


def test_a_source_that_keeps_failing_is_refused_whoever_it_names(api, broker):
    pk = api.product("guesser")["productKey"]
    d = api.device(pk)
    codes = [login_code(broker, pk, f"guess{i}", "0" * 32, "127.0.0.41") for i in range(12)]
    assert codes[:10] == [4] * 10 and codes[10:] == [5, 5], codes
    # even a correct sign from that address waits, while the device is welcome elsewhere
    assert login_code(broker, pk, d["deviceName"], d["deviceSecret"], "127.0.0.41") == 5
    assert login_code(broker, pk, d["deviceName"], d["deviceSecret"], "127.0.0.42") == 0
    text = api.call("GET", "/metrics", token=None).body.decode()
    assert 'thingport_connect_refused_by_code_total{code="5"}' in text


# -- row 12: the data dir is the owner's alone -----------------------------------------------------

def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_data_dir_and_databases_are_private(broker):
    data = broker_data_dir(broker)
    assert mode(data) == 0o700, oct(mode(data))
    files = [p for p in data.iterdir() if p.is_file()]
    assert any(p.name == "sessions.db" for p in files)
    if harness.TEST_STORE == "sqlite":
        assert any(p.name == "identity.db" for p in files)
    for p in files:
        assert mode(p) & 0o077 == 0, f"{p.name} is {oct(mode(p))}"


def test_loose_modes_left_by_a_copy_are_tightened_at_start(tmp_path):
    b = BrokerProcess(tmp_path / "loose")
    b.start()
    b.stop_and_check()
    data = broker_data_dir(b)
    os.chmod(data, 0o755)
    os.chmod(data / "sessions.db", 0o644)
    b.start()
    try:
        assert mode(data) == 0o700
        assert mode(data / "sessions.db") == 0o600
    finally:
        b.stop_and_check()


# -- row 16: an emptied database is not a fresh start ----------------------------------------------

def start_refused(b: BrokerProcess, what: str) -> str:
    """Runs the server on b's config; it must exit 1 by itself within 20 s. Its output."""
    p = subprocess.Popen(b.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail(f"the server started on an empty {what}:\n" + out[-2000:])
    assert p.returncode == 1, out
    return out


@pytest.mark.parametrize("name", ["identity.db", "sessions.db"])
def test_an_empty_database_refuses_to_start(tmp_path, name):
    b = BrokerProcess(tmp_path / "empty")
    b.start()
    b.stop_and_check()
    data = broker_data_dir(b)
    (data / name).write_bytes(b"")
    for extra in ("-wal", "-shm"):
        (data / (name + extra)).unlink(missing_ok=True)
    out = start_refused(b, name)
    assert name in out and "empty" in out, out
    if name == "identity.db":
        assert "demo-device" not in out  # no new demo device made and printed
    assert (data / name).stat().st_size == 0  # and nothing written over it


def test_an_empty_sessions_db_refuses_before_anything_is_made(tmp_path):
    # identity.db missing (a first run) but sessions.db emptied: the refusal must come before
    # identity.db is created with a new demo device, not after.
    b = BrokerProcess(tmp_path / "empty-sessions")
    data = Path(b.workdir) / "data"
    data.mkdir(mode=0o700)
    (data / "sessions.db").write_bytes(b"")
    out = start_refused(b, "sessions.db")
    assert "sessions.db" in out and "empty" in out, out
    assert "demo-device" not in out, out
    assert not (data / "identity.db").exists(), "nothing is created before the refusal"


# -- row 9: the latest properties of a device are read a page at a time ----------------------------

def test_properties_are_paged(api, broker):
    from test_mqtt_attacks import device_client, new_device

    pk = api.product("no model, paged")["productKey"]
    d = new_device(api, pk)
    dn = d["deviceName"]
    post = f"/sys/{pk}/{dn}/thing/event/property/post"
    with device_client(broker, pk, dn, d["deviceSecret"]) as c:
        assert c.expect(mqttraw.CONNACK).connack()[1] == 0
        assert c.subscribe(1, [(post + "_reply", 0)]) == [0]
        params = ",".join(f'"q{i}":{i}' for i in range(5))
        c.send(mqttraw.publish(post, f'{{"id":"1","version":"1.0","params":{{{params}}}}}', 1,
                               mid=1))
        while True:
            pkt = c.read_packet(WAIT)
            if pkt.ptype == mqttraw.PUBLISH:
                break
    path = f"/api/v1/products/{pk}/devices/{dn}/properties"
    everything = api.ok("GET", path)
    assert len(everything["properties"]) == 5  # no limit: one answer as before
    page = api.ok("GET", path + "?offset=1&limit=2")
    assert (page["offset"], page["limit"]) == (1, 2)
    assert [p["identifier"] for p in page["properties"]] == \
        [p["identifier"] for p in everything["properties"]][1:3]
    past = api.ok("GET", path + "?offset=10&limit=2")
    assert past["properties"] == []
    assert api.call("GET", path + "?limit=100000").status == 400  # the page size is bounded
