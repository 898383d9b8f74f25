"""Attacks over MQTT (security issue rows 2, 3, 4, 8, 10, 13, 14 and 15), each performed against
the real server over real sockets: forged wills, clients that never read, log floods, retained
floods, oversized CONNECTs, denied filters widened by wildcards, guessed client ids and
subscription floods. The server runs with its default bounds (test_mqtt_bounds.py sets small
ones)."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest

import aliyun
import harness
import mqttraw
from apiclient import Api
from harness import WAIT, BrokerProcess, poll_until

pytestmark = pytest.mark.thingport_only(reason="thingport's bounds and device policy")


def device_client(broker: BrokerProcess, pk: str, dn: str, ds: str, **kw) -> mqttraw.RawClient:
    c = mqttraw.RawClient(broker.host, broker.port)
    creds = aliyun.device_credentials(pk, dn, ds)
    c.send(mqttraw.connect(creds["client_id"], username=creds["username"],
                           password=creds["password"], **kw))
    return c


def new_device(api: Api, pk: str) -> dict:
    return api.device(pk)


# -- row 2: a will is authorized as the PUBLISH it stands for --------------------------------------

@pytest.mark.parametrize("kind", ["property_set", "status"])
def test_a_will_on_another_products_topic_refuses_the_connect(api, broker, kind):
    attacker_pk = api.product("will attacker")["productKey"]
    attacker = new_device(api, attacker_pk)
    victim_pk = api.product("will victim")["productKey"]
    victim = new_device(api, victim_pk)
    topic = (f"/sys/{victim_pk}/{victim['deviceName']}/thing/service/property/set"
             if kind == "property_set" else f"/as/mqtt/status/{victim_pk}/{victim['deviceName']}")
    # someone listening on the victim's topic (a generic client may subscribe to it here)
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("watch")) as watch:
        assert watch.subscribe(1, [(topic, 1)]) == [1]
        denied0 = api.metric("thingport_will_denied_total")
        c = device_client(broker, attacker_pk, attacker["deviceName"], attacker["deviceSecret"],
                          will=(topic, '{"id":"1","params":{"Power":1}}', 1, True))
        with c:
            _, rc = c.expect(mqttraw.CONNACK).connack()
            assert rc == 5, "a will on another product's topic must refuse the CONNECT"
            c.wait_closed(WAIT)
        assert api.metric("thingport_will_denied_total") == denied0 + 1
        # nothing came through: a marker published after it is the first thing the watcher sees
        with mqttraw.connected(broker.host, broker.port, harness.unique_id("mark")) as m:
            m.send(mqttraw.publish(topic, b"marker", 0))
        p = watch.read_publish(WAIT)
        assert p.payload == b"marker"
    # the same device with a will on its own topic is accepted
    own = f"/{attacker_pk}/{attacker['deviceName']}/user/update"
    with device_client(broker, attacker_pk, attacker["deviceName"], attacker["deviceSecret"],
                       will=(own, b"gone", 0, False)) as c:
        assert c.expect(mqttraw.CONNACK).connack()[1] == 0


# -- row 3: one outbound bound per connection, whatever fills it -----------------------------------

def flood_without_reading(broker: BrokerProcess, packet: bytes, total: int) -> int:
    """Sends `packet` repeatedly (never reading) until `total` bytes or the server closes.
    Returns the bytes sent."""
    c = mqttraw.connected(broker.host, broker.port, harness.unique_id("flood"))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    chunk = packet * (65536 // len(packet))
    sent = 0
    c.sock.settimeout(WAIT)
    try:
        while sent < total:
            c.sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    finally:
        c.abort()
    return sent


@pytest.mark.parametrize("kind", ["pingreq", "qos1_publish"])
def test_a_client_that_never_reads_is_closed_as_a_slow_consumer(api, broker, kind):
    slow0 = api.metric('thingport_closes_total{reason="slow_consumer"}')
    packet = (mqttraw.pingreq() if kind == "pingreq"
              else mqttraw.publish("flood/x", b"", 1, mid=7))
    total = 64 * 1024 * 1024
    sent = flood_without_reading(broker, packet, total)
    assert sent < total, "the server kept reading from a client that never reads its answers"
    poll_until(lambda: api.metric('thingport_closes_total{reason="slow_consumer"}'),
               lambda v: v >= slow0 + 1)


# -- row 4: log lines a client can cause are rate-limited ------------------------------------------

def test_refused_publishes_do_not_flood_the_log(api, broker):
    pk = api.product("log flood")["productKey"]
    d = new_device(api, pk)
    suppressed0 = api.metric("thingport_log_lines_suppressed_total")
    lines0 = sum(1 for l in list(broker.log.lines) if "topic_denied" in l)
    with device_client(broker, pk, d["deviceName"], d["deviceSecret"]) as c:
        assert c.expect(mqttraw.CONNACK).connack()[1] == 0
        topic = "/elsewhere/" + "t" * 2000
        c.send(mqttraw.publish(topic, b"x", 0) * 3000)
        c.send(mqttraw.pingreq())
        c.expect(mqttraw.PINGRESP, WAIT)
    poll_until(lambda: api.metric("thingport_log_lines_suppressed_total"),
               lambda v: v >= suppressed0 + 2000)
    logged = [l for l in list(broker.log.lines) if "topic_denied" in l]
    assert len(logged) - lines0 < 200, f"{len(logged) - lines0} lines for 3000 refusals"
    assert all(len(l) < 600 for l in logged[lines0:]), "the 2 KB topic went into the log whole"


# -- row 8: retained messages have bounds ----------------------------------------------------------

def test_retained_messages_on_thing_topics_are_not_kept(api, broker):
    pk = api.product("retain sys")["productKey"]
    d = new_device(api, pk)
    kept0 = api.metric("thingport_retained_messages")
    denied0 = api.metric("thingport_retain_denied_total")
    with device_client(broker, pk, d["deviceName"], d["deviceSecret"]) as c:
        assert c.expect(mqttraw.CONNACK).connack()[1] == 0
        for i in range(20):
            c.send(mqttraw.publish(f"/sys/{pk}/{d['deviceName']}/thing/event/property/post",
                                   b'{"id":"%d","params":{}}' % i, 1, retain=True, mid=i + 1))
            c.expect(mqttraw.PUBACK, WAIT)
    # a later subscriber gets no retained copy: the first thing it sees is a fresh marker
    topic = f"/sys/{pk}/{d['deviceName']}/thing/event/property/post"
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("late")) as late:
        assert late.subscribe(1, [(topic, 0)]) == [0]
        with mqttraw.connected(broker.host, broker.port, harness.unique_id("mark")) as m:
            m.send(mqttraw.publish(topic, b"marker", 0))
        got = late.read_publish(WAIT)
        assert (got.payload, got.retain) == (b"marker", False)
    assert api.metric("thingport_retained_messages") == kept0
    assert api.metric("thingport_retain_denied_total") == denied0 + 20


# -- row 10: strangers get a small packet before their CONNECT is accepted -------------------------

def test_an_oversized_unfinished_connect_is_refused_at_once(broker):
    socks = []
    try:
        for _ in range(50):
            s = socket.create_connection((broker.host, broker.port), timeout=WAIT)
            # CONNECT announcing 320 KiB, of which 20 KiB are sent
            s.sendall(bytes([0x10]) + mqttraw.encode_remaining_length(320 * 1024) +
                      b"\x00\x04MQTT\x04\x02\x00\x3c" + b"\x00" * (20 * 1024))
            socks.append(s)
        for s in socks:
            s.settimeout(3)
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                pytest.fail("the server is still holding an oversized, unfinished CONNECT")
            assert data in (b"", b"\x20\x02\x00\x02"), data  # closed (or CONNACK 2, then closed)
    finally:
        for s in socks:
            s.close()


# -- row 14: assigned client ids cannot be named by others -----------------------------------------

def test_client_ids_in_the_assigned_space_are_refused(broker):
    with mqttraw.RawClient(broker.host, broker.port) as victim:
        assert victim.connect("")[1] == 0
        for n in (1, 2, 3, 10, 100):
            with mqttraw.RawClient(broker.host, broker.port) as guess:
                assert guess.connect(f"$auto/{n}")[1] == 2
        victim.send(mqttraw.pingreq())
        victim.expect(mqttraw.PINGRESP, WAIT)  # still connected


# -- row 15: subscriptions per generic client ------------------------------------------------------

def test_subscriptions_per_generic_client_are_bounded(api, broker):
    with mqttraw.connected(broker.host, broker.port, harness.unique_id("subs")) as c:
        codes = []
        for batch in range(24):
            codes += c.subscribe(batch + 1, [(f"many/{batch}/{i}", 0) for i in range(50)])
        assert codes.count(0x80) == 1200 - 1000  # [limits] max_subscriptions = 1000
        assert codes[:1000] == [0] * 1000


# -- row 13: deny_subscribe with wildcards --------------------------------------------------------

@pytest.fixture(scope="module")
def deny_broker(tmp_path_factory):
    b = BrokerProcess(tmp_path_factory.mktemp("deny-"), deny_subscribe=["/sys/#", "secret/#"])
    try:
        b.start()
        yield b
    finally:
        b.stop_and_check()


def test_deny_subscribe_covers_filters_inside_and_filters_overlapping(deny_broker):
    b = deny_broker
    with mqttraw.connected(b.host, b.port, harness.unique_id("sub")) as c:
        assert c.subscribe(1, [("/sys/+/+/thing/#", 1)]) == [0x80]
        assert c.subscribe(2, [("secret/+", 1)]) == [0x80]
        assert c.subscribe(3, [("secret/#", 1)]) == [0x80]
        assert c.subscribe(4, [("#", 1)]) == [1]  # granted, but the denied part is held back
        with mqttraw.connected(b.host, b.port, harness.unique_id("pub")) as p:
            p.send(mqttraw.publish("secret/plans", b"no", 0))
            p.send(mqttraw.publish("/sys/pk/dn/thing/event/property/post", b"no", 0))
            p.send(mqttraw.publish("public/marker", b"yes", 0))
        got = c.read_publish(WAIT)
        assert (got.topic, got.payload) == ("public/marker", b"yes")


# -- row 9: property identifiers a device without a thing model can make the server keep ----------

def test_property_identifiers_per_device_are_bounded(api, broker):
    pk = api.product("no model")["productKey"]
    d = new_device(api, pk)
    dn = d["deviceName"]
    post = f"/sys/{pk}/{dn}/thing/event/property/post"
    refused0 = api.metric("thingport_thing_properties_refused_total")
    codes = []
    with device_client(broker, pk, dn, d["deviceSecret"]) as c:
        assert c.expect(mqttraw.CONNACK).connack()[1] == 0
        assert c.subscribe(1, [(post + "_reply", 0)]) == [0]
        for m in range(6):
            params = ",".join(f'"p{m}_{i}":{i}' for i in range(200))
            body = f'{{"id":"{m}","version":"1.0","params":{{{params}}}}}'
            c.send(mqttraw.publish(post, body, 1, mid=m + 1))
            while True:
                pkt = c.read_packet(WAIT * 3)
                if pkt.ptype == mqttraw.PUBLISH:
                    codes.append(json.loads(pkt.publish().payload)["code"])
                    break
    assert codes[:5] == [200] * 5 and codes[5] != 200, codes  # [thing] max_properties = 1000
    props = api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/properties")
    items = props if isinstance(props, list) else props.get("items", props.get("properties", []))
    assert len(items) == 1000
    assert api.metric("thingport_thing_properties_refused_total") == refused0 + 1


# -- rows 11 and 15: persistent sessions per credential --------------------------------------------

def app_session(broker: BrokerProcess, app: dict, client_id: str) -> int:
    creds = aliyun.app_credentials(app["appKey"], app["appSecret"], client_id=client_id)
    with mqttraw.RawClient(broker.host, broker.port) as c:
        c.send(mqttraw.connect(creds["client_id"], clean_session=False, username=creds["username"],
                               password=creds["password"]))
        rc = c.expect(mqttraw.CONNACK, WAIT).connack()[1]
        if rc == 0:
            c.send(mqttraw.disconnect())
        return rc


def test_persistent_sessions_per_app_credential_are_bounded(api, broker):
    pk = api.product("sessions")["productKey"]
    app = api.ok("POST", "/api/v1/apps", {"name": "many sessions", "products": [pk]}, 201)
    base = harness.unique_id("s").replace("-", "")
    codes = [app_session(broker, app, f"{base}{i}") for i in range(101)]
    assert codes[:100] == [0] * 100 and codes[100] == 5, codes[95:]  # max_app_sessions = 100
    # an existing session is taken again without using up another place
    assert app_session(broker, app, f"{base}7") == 0
