"""The C++ device SDK (sdk/) against the real thingport: a device triplet logs in over tcp, tls,
ws and wss (TLS verified against the development CA), publishes and receives; property sets,
service calls and RRPC reach its handlers and are answered; it reconnects after the server
restarts with nothing lost from its offline buffer. The simulator CLI and the examples run
against the server too.

Tests whose names end in `_answered_200` need the server's thing model to answer property posts
(post_reply); everything else is independent of that.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from apiclient import Api, b64
import harness
from harness import BrokerProcess, free_port, unique_id
from sdkprobe import Probe, probes, run_tool, sanitizer_env, sdk_bin  # noqa: F401
from transport_broker import broker, make_dev_certs  # noqa: F401  (module broker: all listeners)

pytestmark = pytest.mark.thingport_only(reason="Aliyun device login and thing topics")

SCHEME = {"tcp": "mqtt", "tls": "mqtts", "ws": "ws", "wss": "wss"}


def url_of(broker, kind: str) -> str:
    _, port = broker.endpoint(kind)
    return f"{SCHEME[kind]}://127.0.0.1:{port}" + ("/mqtt" if kind in ("ws", "wss") else "")


@pytest.fixture(scope="module")
def api(broker):
    return Api(broker)


@pytest.fixture(scope="module")
def product(api):
    return api.product("sdk tests")


@pytest.fixture
def device(api, product):
    """A fresh device (the platform allows 5 connects a minute per device)."""
    return api.device(product["productKey"])


def device_args(d) -> list:
    return ["--pk", d["productKey"], "--dn", d["deviceName"], "--ds", d["deviceSecret"]]


def subscribed(p: Probe, filter_: str, qos: int = 1) -> None:
    """SUBSCRIBE and wait for its SUBACK; SUBSCRIBEs are handled in order, so the ones the SDK
    sent before (thing helpers) are in place too."""
    at = p.mark()
    p.send(f"sub {filter_} {qos}")
    ev = p.wait_event("suback", after=at, filter=filter_)
    assert ev["error"] is None and ev["granted"] == qos, ev


@pytest.mark.parametrize("kind,method", [("tcp", "hmacsha256"), ("tls", "hmacsha1"),
                                         ("ws", "hmacmd5"), ("wss", "hmacsha256")])
def test_device_publishes_and_receives_over_each_transport(broker, device, probes,
                                                           client_factory, kind, method):
    pk, dn = device["productKey"], device["deviceName"]
    cloud = client_factory()
    assert cloud.subscribe(f"/{pk}/{dn}/user/update", 1) == [1]
    p = probes("--url", url_of(broker, kind), *device_args(device), "--ca", broker.ca,
               "--sign-method", method)
    st = p.connected()
    assert st["error"] is None
    subscribed(p, f"/{pk}/{dn}/user/get")
    p.send(f"pub /{pk}/{dn}/user/update 1 hello-{kind}")
    assert p.wait_event("published")["error"] is None  # PUBACK came back
    assert cloud.get().payload == f"hello-{kind}".encode()
    cloud.publish(f"/{pk}/{dn}/user/get", b"command", 1)
    m = p.wait_event("message", topic=f"/{pk}/{dn}/user/get")
    assert (m["payload"], m["qos"]) == ("command", 1)
    p.close()


def test_a_topic_the_device_may_not_use_is_refused_in_suback(broker, device, probes):
    p = probes("--url", url_of(broker, "tcp"), *device_args(device))
    p.connected()
    p.send(f"sub /{device['productKey']}/{device['deviceName']}/control 1")
    ev = p.wait_event("suback")
    assert ev["granted"] == 128 and ev["error"] == "subscription refused (SUBACK 0x80)", ev
    p.close()


def test_wrong_secret_is_reported_as_connack_4_and_backs_off(broker, device, probes):
    p = probes("--url", url_of(broker, "tcp"), "--pk", device["productKey"], "--dn",
               device["deviceName"], "--ds", "not-the-secret", "--backoff-ms", "2000")
    ev = p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting")
    assert (ev["category"], ev["value"]) == ("connack", 4), ev
    assert ev["retry_in_ms"] >= 1000
    p.close()


def test_tls_refuses_a_server_the_ca_did_not_sign(broker, device, probes, tmp_path):
    other = tmp_path / "other-ca"
    make_dev_certs(other)  # a different development CA
    p = probes("--url", url_of(broker, "tls"), *device_args(device), "--ca",
               str(other / "ca.pem"), "--backoff-ms", "2000")
    ev = p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting")
    assert "certificate verify failed" in ev["error"], ev
    assert not p.of("status") or all(e["state"] != "connected" for e in p.of("status"))
    p.close()


def test_property_set_reaches_the_handler_and_is_answered(broker, api, device, probes,
                                                          client_factory):
    pk, dn = device["productKey"], device["deviceName"]
    replies = client_factory()
    assert replies.subscribe(f"/sys/{pk}/{dn}/thing/service/property/set_reply", 1) == [1]
    p = probes("--url", url_of(broker, "tcp"), *device_args(device), "--thing")
    p.connected()
    subscribed(p, f"/{pk}/{dn}/user/get")
    request = {"id": "4242", "version": "1.0", "params": {"temperature": 30},
               "method": "thing.service.property.set"}
    api.ok("POST", "/api/v1/pub", {"productKey": pk,
                                   "topic": f"/sys/{pk}/{dn}/thing/service/property/set",
                                   "payload": b64(json.dumps(request)), "qos": 1})
    assert p.wait_event("set")["params"] == {"temperature": 30}
    reply = json.loads(replies.get().payload)
    assert reply["id"] == "4242" and reply["code"] == 200 and reply["data"] == {}, reply
    p.close()


def test_service_call_and_rrpc_are_answered(broker, device, probes, client_factory):
    pk, dn = device["productKey"], device["deviceName"]
    cloud = client_factory()
    assert cloud.subscribe([(f"/sys/{pk}/{dn}/thing/service/Reboot_reply", 1),
                            (f"/sys/{pk}/{dn}/rrpc/response/+", 1)]) == [1, 1]
    p = probes("--url", url_of(broker, "tcp"), *device_args(device), "--thing")
    p.connected()
    subscribed(p, f"/{pk}/{dn}/user/get")
    cloud.publish(f"/sys/{pk}/{dn}/thing/service/Reboot",
                  json.dumps({"id": 7, "version": "1.0", "params": {"delay": 3},
                              "method": "thing.service.Reboot"}), 1)
    ev = p.wait_event("service")
    assert (ev["identifier"], ev["params"]) == ("Reboot", {"delay": 3})
    got = cloud.get()
    assert got.topic == f"/sys/{pk}/{dn}/thing/service/Reboot_reply"
    reply = json.loads(got.payload)
    assert reply["id"] == 7 and reply["code"] == 200 and reply["data"] == {"echo": {"delay": 3}}

    cloud.publish(f"/sys/{pk}/{dn}/rrpc/request/1234567", b"ping", 1)
    assert p.wait_event("rrpc")["id"] == "1234567"
    got = cloud.get()
    assert (got.topic, got.payload) == (f"/sys/{pk}/{dn}/rrpc/response/1234567", b"pong:ping")
    p.close()


def thing_request(broker, device, probes, command: str, answer: str) -> dict:
    """A connected probe with the thing helpers sends `command`; its `answer` event."""
    p = probes("--url", url_of(broker, "tcp"), *device_args(device), "--thing")
    p.connected()
    p.send(command)
    ev = p.wait_event(answer, timeout=10)
    p.close()
    return ev


def test_post_properties_answered_200(broker, device, probes):
    """Needs the server's thing model wiring: the post_reply with code 200."""
    ev = thing_request(broker, device, probes, 'post {"temperature":21.5,"humidity":40}',
                       "post_reply")
    assert ev["error"] is None and ev["code"] == 200, ev


def test_the_sdk_writes_floats_as_devices_do(broker, device, probes, client_factory):
    """The SDK's property post carries 23.5 on the wire, not Boost's 2.35E1."""
    pk, dn = device["productKey"], device["deviceName"]
    app = client_factory()
    assert app.subscribe(f"/sys/{pk}/{dn}/thing/event/property/post", 1) == [1]
    thing_request(broker, device, probes, 'post {"temperature":23.5,"humidity":0.001}',
                  "post_reply")
    got = app.get_where(lambda m: m.topic.endswith("/thing/event/property/post"))
    assert b"23.5" in got.payload and b"0.001" in got.payload and b"E" not in got.payload, got


def test_ntp_sync_answered(broker, device, probes):
    """Needs the server's NTP answer on /ext/ntp/{pk}/{dn}/response."""
    ev = thing_request(broker, device, probes, "ntp", "ntp")
    assert ev["error"] is None and abs(ev["offset_ms"]) < 5000, ev  # same machine, same clock


def test_ntp_syncs_sent_in_the_same_millisecond_all_get_answers(broker, device, probes):
    """Requests are matched by deviceSendTime (ms): several sent back to back share it, and each
    must still get its own answer (none dropped, none left to time out)."""
    p = probes("--url", url_of(broker, "tcp"), *device_args(device), "--thing")
    p.connected()
    p.send("ntp 5")
    evs = p.wait_n("ntp", 5, timeout=8)
    assert all(e["error"] is None and abs(e["offset_ms"]) < 5000 for e in evs), evs
    p.close()


def test_event_post_gets_its_reply(broker, device, probes):
    ev = thing_request(broker, device, probes, 'event Alarm {"level":3}', "event_reply")
    assert ev["error"] is None and isinstance(ev["code"], int) and ev["code"] > 0, ev


def test_shadow_report_and_desired_state_are_handled(broker, api, device, probes):
    pk, dn = device["productKey"], device["deviceName"]
    p = probes("--url", url_of(broker, "tcp"), *device_args(device), "--thing")
    p.connected()
    subscribed(p, f"/{pk}/{dn}/user/get")
    p.send('shadow {"color":"green"}')
    ev = p.wait_event("shadow_reply")
    assert ev["error"] is None and ev["reply"]["payload"]["status"] == "success", ev
    version = ev["reply"]["payload"]["version"]
    api.ok("PUT", f"/api/v1/products/{pk}/devices/{dn}/shadow",
           {"method": "update", "state": {"desired": {"color": "red"}}, "version": version + 1})
    ctl = p.wait_event("shadow_control")
    assert ctl["desired"] == {"color": "red"} and ctl["version"] == version + 1, ctl
    # The SDK reports the applied value and clears desired by itself: the stored shadow shows it.
    harness.poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/shadow"),
                       lambda doc: doc.get("state", {}).get("reported") == {"color": "red"}
                       and "desired" not in doc.get("state", {}), 10)
    at = p.mark()  # and a get from the device answers with it
    p.send("shadow_get")
    got = p.wait_event("shadow_reply", after=at)["reply"]
    assert got["payload"]["state"]["reported"] == {"color": "red"}, got
    assert "desired" not in got["payload"]["state"], got
    p.close()


# ---------------------------------------------------------------------------------------------
# Reconnect across a server restart


class FixedPortBroker(BrokerProcess):
    """thingport whose plain TCP listener keeps its port across restarts."""

    def __init__(self, workdir: Path, port: int):
        self.fixed_port = port
        super().__init__(workdir, kind="thingport")

    def _write_config(self) -> Path:
        path = super()._write_config()
        path.write_text(path.read_text().replace('tcp = "127.0.0.1:0"',
                                                 f'tcp = "127.0.0.1:{self.fixed_port}"', 1))
        return path


def test_reconnects_after_restart_and_loses_nothing_from_the_offline_buffer(tmp_path, probes):
    port = free_port()
    b = FixedPortBroker(tmp_path / "fixed", port)
    b.start()
    try:
        topic = f"tp/sdk/{unique_id('restart')}"
        p = probes("--url", f"mqtt://127.0.0.1:{port}", "--client-id", unique_id("sdk"),
                   "--clean-session", "0", "--backoff-ms", "300", "--backoff-max-ms", "1000")
        p.connected()
        subscribed(p, topic)
        b.stop_and_check()
        p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting"
               and e.get("error"), timeout=10)
        at = p.mark()
        p.send(f"pubn {topic} 1 20 offline")
        p.send(f"pubn {topic} 0 5 q0")
        p.wait_event("status", after=at, state="waiting")  # still offline, retrying
        assert not p.of("published"), "acknowledged while the server was down?"
        b.start()
        p.connected(after=at)
        published = p.wait_n("published", 25, timeout=15, after=at)
        assert all(e["error"] is None for e in published), published
        got = [e["payload"] for e in p.wait_n("message", 25, timeout=15, after=at)]
        assert [x for x in got if x.startswith("offline")] == [f"offline-{i}" for i in range(20)]
        assert sorted(x for x in got if x.startswith("q0")) == [f"q0-{i}" for i in range(5)]
        st = p.stats()
        assert st["connects"] == 2, st
        p.close()
    finally:
        b.stop_and_check()


# ---------------------------------------------------------------------------------------------
# The simulator CLI and the examples


def test_simulator_posts_random_walks_and_obeys_a_property_set(broker, api, device,
                                                               client_factory):
    pk, dn = device["productKey"], device["deviceName"]
    posts = client_factory()
    assert posts.subscribe(f"/sys/{pk}/{dn}/thing/event/property/post", 1) == [1]
    replies = client_factory()
    assert replies.subscribe(f"/sys/{pk}/{dn}/thing/service/property/set_reply", 1) == [1]
    proc = subprocess.Popen([sdk_bin("cli"), "--url", url_of(broker, "tcp"), "-p", pk, "-d", dn,
                             "-s", device["deviceSecret"], "--interval", "0.3", "--duration", "6",
                             "--verbose", "--property", "temperature=25:0.5",
                             "--property", "power=1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=sanitizer_env())
    try:
        first = json.loads(posts.get(timeout=10).payload)
        assert first["method"] == "thing.event.property.post" and first["version"] == "1.0"
        assert set(first["params"]) == {"temperature", "power"}, first  # --property replaces
        # the default temperature and humidity
        request = {"id": "9", "version": "1.0", "params": {"power": 0, "mode": "eco"},
                   "method": "thing.service.property.set"}
        api.ok("POST", "/api/v1/pub", {"productKey": pk,
                                       "topic": f"/sys/{pk}/{dn}/thing/service/property/set",
                                       "payload": b64(json.dumps(request)), "qos": 1})
        reply = json.loads(replies.get(timeout=10).payload)
        assert (reply["id"], reply["code"]) == ("9", 200), reply
        # obeyed: the next posts carry the new values
        after = posts.get_where(lambda m: json.loads(m.payload)["params"].get("mode") == "eco",
                                timeout=10)
        assert json.loads(after.payload)["params"]["power"] == 0
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"[{dn}] <- property/set" in out
    assert re.search(rf"\[{dn}\] -> thing/event/property/post id=\d+ ", out)
    summary = json.loads(out.rsplit("summary ", 1)[1])
    assert summary["devices"] == 1 and summary["sets"] == 1 and summary["posted"] >= 5, summary


def test_simulator_runs_many_devices_from_a_csv(broker, api, product, tmp_path, client_factory):
    pk = product["productKey"]
    devs = [api.device(pk) for _ in range(5)]
    csv = tmp_path / "devices.csv"
    csv.write_text("productKey,deviceName,deviceSecret\n" +
                   "".join(f"{d['productKey']},{d['deviceName']},{d['deviceSecret']}\n"
                           for d in devs))
    posts = client_factory()
    assert posts.subscribe(f"/sys/{pk}/+/thing/event/property/post", 1) == [1]
    r = run_tool([sdk_bin("cli"), "--url", url_of(broker, "ws"), "--csv", str(csv),
                  "--interval", "0.5", "--duration", "4"], timeout=40)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.rsplit("summary ", 1)[1])
    assert summary["devices"] == 5 and summary["posted"] >= 15, summary
    seen = set()
    deadline = time.monotonic() + 10
    while len(seen) < 5 and time.monotonic() < deadline:
        seen.add(posts.get(timeout=10).topic.split("/")[3])
    assert seen == {d["deviceName"] for d in devs}


def test_simulator_runs_a_product_batch_answered_200(broker, api, product, tmp_path):
    pk = product["productKey"]
    answer = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                    {"prefix": unique_id("b"), "count": 3}, 201)
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps(answer))
    r = run_tool([sdk_bin("cli"), "--url", url_of(broker, "tcp"), "--batch", str(batch), "-p", pk,
                  "--interval", "0.2", "--count", "2", "--require-replies"], timeout=40)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.rsplit("summary ", 1)[1])
    assert summary["devices"] == 3 and summary["replies"] == {"200": 6}, summary


def test_simulator_done_when_posts_answered_200(broker):
    """Issue 5's done-when: the simulator and the demo device of a fresh server; every post gets
    a post_reply with code 200 (needs the thing model wiring)."""
    d = broker.demo
    r = run_tool([sdk_bin("cli"), "--url", url_of(broker, "tcp"), "-p", d["productKey"], "-d",
                  d["deviceName"], "-s", d["deviceSecret"], "--interval", "0.3", "--count", "3",
                  "--require-replies", "--verbose"], timeout=40)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.rsplit("summary ", 1)[1])
    assert summary["replies"] == {"200": 3}, summary


def test_example_device_posts_answered_200(broker):
    """The C++ rewrite of the docs' Node device with the demo device (needs post_reply)."""
    d = broker.demo
    r = run_tool([sdk_bin("aliyun_device"), url_of(broker, "tls"), d["productKey"],
                  d["deviceName"], d["deviceSecret"], "2", broker.ca, "0.3"], timeout=40)
    assert r.returncode == 0, r.stderr
    assert len(re.findall(r"post_reply id=\d+ code=200", r.stdout)) == 2, r.stdout
    assert "done: 2 posts answered with 200" in r.stdout


def test_example_device_receives_commands(broker, device, client_factory):
    pk, dn = device["productKey"], device["deviceName"]
    cloud = client_factory()
    assert cloud.subscribe(f"/sys/{pk}/{dn}/thing/event/property/post", 1) == [1]
    proc = subprocess.Popen([sdk_bin("aliyun_device"), url_of(broker, "wss"), pk, dn,
                             device["deviceSecret"], "4", broker.ca, "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=sanitizer_env())
    try:
        post = json.loads(cloud.get(timeout=10).payload)  # connected, subscribed, posting
        assert set(post["params"]) == {"temperature", "humidity"}
        cloud.publish(f"/{pk}/{dn}/user/get", b"open-valve", 1)
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"command on /{pk}/{dn}/user/get: open-valve" in out, out
    assert out.count("post {") == 4


def test_gateway_example_speaks_for_its_sub_devices(broker, api, client_factory):
    gw_pk = api.product("example hubs", nodeType="gateway")["productKey"]
    pk = api.product("example meters", nodeType="subdevice")["productKey"]
    gw = api.device(gw_pk)
    devs = [api.device(pk) for _ in range(3)]
    posts = client_factory()
    assert posts.subscribe(f"/{pk}/+/thing/event/property/post", 1) == [1]  # forwarded
    proc = subprocess.Popen([sdk_bin("gateway"), url_of(broker, "tcp"), "0.2", "2",
                             f"{gw_pk}:{gw['deviceName']}:{gw['deviceSecret']}"] +
                            [f"{pk}:{d['deviceName']}:{d['deviceSecret']}" for d in devs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=sanitizer_env())
    try:
        got = [json.loads(posts.get(timeout=10).payload) for _ in range(6)]
        assert sorted(g["items"]["reading"]["value"] for g in got) == [1, 1, 1, 2, 2, 2]
        assert {g["deviceName"] for g in got} == {d["deviceName"] for d in devs}
        out, err = proc.communicate(timeout=40)  # replies or reply timeouts end it
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    for d in devs:
        assert len(re.findall(rf"^{d['deviceName']} post \d: code 200$", out, re.M)) == 2, out
    assert "logout: code 200" in out, out
    assert f"topo: {len(devs)} sub-devices" in out, out  # thing.topo.get
    for d in devs:
        assert api.ok("GET", f"/api/v1/products/{pk}/devices/{d['deviceName']}")["status"] \
            == "OFFLINE"


# ---------------------------------------------------------------------------------------------
# Dynamic registration over HTTP and over MQTT


def test_dynamic_registration_over_http_then_login(broker, api, probes):
    prod = api.product("sdk self-registering", dynamicRegistration=True)
    dev = api.device(prod["productKey"])
    http = f"http://127.0.0.1:{broker.http_port}"
    bad = probes("--url", url_of(broker, "tcp"), "--pk", prod["productKey"], "--dn",
                 dev["deviceName"], "--register", http, "--product-secret", "wrong")
    ev = bad.wait_event("registered")
    assert ev["error"] is None and ev["code"] == 6600 and not ev["got_secret"], ev
    bad.close()
    p = probes("--url", url_of(broker, "tcp"), "--pk", prod["productKey"], "--dn",
               dev["deviceName"], "--register", http, "--product-secret", prod["productSecret"])
    ev = p.wait_event("registered")
    assert ev["error"] is None and ev["code"] == 200 and ev["got_secret"], ev
    assert p.connected()["error"] is None  # logged in with the secret it was given
    p.close()


@pytest.mark.parametrize("kind", ["tls", "wss"])
def test_dynamic_registration_over_mqtt_then_login(broker, api, probes, kind):
    """register_device() with an mqtts:// or wss:// URL: authType=register, the secret read from
    /ext/register; the device then logs in with it. A wrong product secret is CONNACK 4."""
    prod = api.product(f"sdk mqtt self-registering {kind}", dynamicRegistration=True)
    dev = api.device(prod["productKey"])
    url = url_of(broker, kind)
    args = ("--url", url, "--ca", broker.ca, "--pk", prod["productKey"], "--dn", dev["deviceName"],
            "--register", url)
    bad = probes(*args, "--product-secret", "wrong")
    ev = bad.wait_event("registered")
    assert (ev["category"], ev["value"], ev["got_secret"]) == ("connack", 4, False), ev
    bad.close()
    p = probes(*args, "--product-secret", prod["productSecret"])
    ev = p.wait_event("registered")
    assert ev["error"] is None and ev["code"] == 200 and ev["got_secret"], ev
    assert p.connected()["error"] is None  # logged in with the secret it was given
    p.close()
    # Now active: the platform does not hand the secret out again (CONNACK 5).
    again = probes(*args, "--product-secret", prod["productSecret"])
    ev = again.wait_event("registered")
    assert (ev["category"], ev["value"], ev["got_secret"]) == ("connack", 5, False), ev
    again.close()


def test_dynamic_registration_over_plain_mqtt_is_refused_with_connack_2(broker, api, probes):
    prod = api.product("sdk mqtt self-registering plain", dynamicRegistration=True)
    dev = api.device(prod["productKey"])
    url = url_of(broker, "tcp")
    p = probes("--url", url, "--pk", prod["productKey"], "--dn", dev["deviceName"],
               "--register", url, "--product-secret", prod["productSecret"])
    ev = p.wait_event("registered")
    assert (ev["category"], ev["value"], ev["got_secret"]) == ("connack", 2, False), ev
    p.close()
