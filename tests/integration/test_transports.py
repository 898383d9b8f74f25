"""Every transport (docs/protocol.md "Transports") with real clients: mosquitto_pub/sub over TLS, paho over tls,
ws and wss, MQTT.js over mqtts, ws and wss, and all of them through one `auto` port; the
transport reaches the broker (its close log line names it). Then hostile input on each handshake:
only that connection is closed, promptly, and everyone else keeps being served.

The server runs with every listener on port 0 and the certificates of `thingport cert dev`
(transport_broker.py); clients trust the development CA.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import time
from pathlib import Path

import pytest

import mqttraw
import wsraw
from mqtt_clients import MqttClient, marker_payload, mosquitto_pub, run_cli
from harness import WAIT, unique_id
from transport_broker import (TransportBroker, TransportClient, broker,  # noqa: F401
                              make_dev_certs, unique_topic)

pytestmark = [
    pytest.mark.thingport_only(reason="thingport's TLS, WebSocket and auto listeners"),
    pytest.mark.store_independent,
]

CLOSE_WITHIN = 5.0   # s: a bad connection is closed at least this promptly
CONNECT_TIMEOUT = 10.0  # s: the server's bound on a whole handshake
JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node") or "/usr/bin/node"


@pytest.fixture
def clients(broker):
    """clients(transport, **kw) -> a connected TransportClient; closed at teardown."""
    made = []

    def make(transport: str, **kw) -> TransportClient:
        c = TransportClient(broker, transport, **kw)
        made.append(c)
        return c.connect()

    yield make
    for c in made:
        c.close()


@pytest.fixture
def good(client_factory, topic) -> MqttClient:
    """A plain TCP client subscribed under this test's topic: it must be served throughout."""
    c = client_factory()
    assert c.subscribe(f"{topic}/#", 1) == [1]
    return c


def assert_served(good: MqttClient, topic: str) -> None:
    mark = marker_payload()
    good.publish(f"{topic}/good", mark, 1)
    assert good.collect_until(f"{topic}/good", mark) == []


def round_trip(c: MqttClient, topic: str, payload: bytes) -> None:
    assert c.subscribe(topic, 1) == [1]
    c.publish(topic, payload, 1)
    m = c.get()
    assert (m.topic, m.payload, m.qos) == (topic, payload, 1)


def assert_transport_logged(broker, client_id: str, kind: str) -> None:
    broker.wait_log(rf"close client={re.escape(client_id)} .*transport={kind} "
                    r"reason=client_disconnect")


# ---------------------------------------------------------------------------------------------
# Real clients over every transport


def test_every_listener_is_announced(broker):
    for kind in ("tcp", "tls", "ws", "wss", "auto"):
        host, port = broker.endpoint(kind)
        assert host == "127.0.0.1" and port > 0


@pytest.mark.parametrize("transport", ["tls", "ws", "wss",
                                       "auto_tcp", "auto_tls", "auto_ws", "auto_wss"])
def test_paho_round_trip_and_transport_kind(broker, clients, transport):
    # 100 KB: many TLS records, many WebSocket reads, one MQTT packet
    c = clients(transport)
    round_trip(c, unique_topic(transport), os.urandom(100_000))
    c.disconnect()
    assert_transport_logged(broker, c.client_id, c.kind)


@pytest.mark.parametrize("transport", ["ws", "wss", "auto_wss"])
@pytest.mark.parametrize("path", ["/", "/custom/path?x=1"])
def test_websocket_any_path(clients, transport, path):
    c = clients(transport, path=path)
    round_trip(c, unique_topic("path"), b"any path")


@pytest.mark.parametrize("listener", ["tls", "auto"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])  # DNS and IP subject alt names
def test_mosquitto_clients_over_tls(broker, cli_sub, listener, host):
    topic = unique_topic("cli")
    over = ["-h", host, "-p", str(broker.port_of(listener)), "--cafile", broker.ca]
    sub = cli_sub(*over, "-t", topic, "-q", "1", "-C", "1")
    sub.wait_subscribed()
    mosquitto_pub(broker, *over, "-t", topic, "-m", "over tls", "-q", "1")
    m = sub.next_message()
    assert (m.line, m.qos) == ("over tls", 1)
    assert sub.wait_exit() == 0


def test_mosquitto_refuses_a_server_it_does_not_trust(broker, tmp_path):
    # the server presents the dev chain; a client trusting another CA must not get through
    make_dev_certs(tmp_path / "other")
    r = run_cli(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port_of("tls")),
                 "--cafile", str(tmp_path / "other" / "ca.pem"), "-t", "x", "-m", "y"])
    assert r.returncode != 0


def mqttjs(url: str, topic: str, *args: str) -> dict:
    script = JS_DIR / "roundtrip.js"
    if not (JS_DIR / "node_modules" / "mqtt").is_dir():
        pytest.fail("MQTT.js is not installed: run scripts/deps.sh (npm ci --prefix tests/js)")
    r = run_cli([NODE, str(script), url, topic, *args], timeout=25)
    lines = r.stdout.decode().strip().splitlines()
    assert lines, f"MQTT.js printed nothing: rc {r.returncode} {r.stderr.decode()[-2000:]}"
    out = json.loads(lines[-1])
    assert r.returncode == 0 and out["ok"], f"MQTT.js over {url}: {out}"
    return out


@pytest.mark.parametrize("scheme,listener,path", [
    ("mqtts", "tls", ""), ("ws", "ws", "/mqtt"), ("wss", "wss", "/mqtt"),
    ("mqtt", "auto", ""), ("mqtts", "auto", ""), ("ws", "auto", "/"), ("wss", "auto", "/mqtt"),
])
def test_mqttjs(broker, scheme, listener, path):
    url = f"{scheme}://127.0.0.1:{broker.port_of(listener)}{path}"
    out = mqttjs(url, unique_topic("js"), "--ca", broker.ca, "--size", "70000")
    assert out["bytes"] == 70000


def test_mqttjs_mqtt31_offers_subprotocol_mqttv31(broker):
    mqttjs(f"ws://127.0.0.1:{broker.port_of('ws')}/mqtt", unique_topic("v31"), "--v31")


@pytest.mark.parametrize("offered,chosen", [
    (("mqtt",), "mqtt"), (("mqttv3.1",), "mqttv3.1"), (("chat", "mqttv3.1", "mqtt"), "mqttv3.1"),
])
def test_websocket_subprotocol_echoed(broker, offered, chosen):
    with wsraw.WsRaw("127.0.0.1", broker.port_of("ws")) as w:
        assert w.upgrade(protocols=offered) == 101
        assert w.headers.get("sec-websocket-protocol") == chosen


def test_websocket_packets_span_frames_and_frames_carry_packets(broker):
    topic = unique_topic("frames")
    with wsraw.WsRaw("127.0.0.1", broker.port_of("ws")) as w:
        assert w.upgrade() == 101
        connect = mqttraw.connect(unique_id("frames"))
        # CONNECT in three fragments of one message
        w.send(wsraw.frame(wsraw.BINARY, connect[:3], fin=False))
        w.send(wsraw.frame(0x0, connect[3:9], fin=False))
        w.send(wsraw.frame(0x0, connect[9:], fin=True))
        assert w.read_packet().connack() == (False, 0)
        # SUBSCRIBE, PUBLISH and PINGREQ in one frame
        w.send_mqtt(mqttraw.subscribe(1, [(topic, 0)]) + mqttraw.publish(topic, b"one") +
                    mqttraw.pingreq())
        assert w.read_packet().suback() == (1, [0])
        got = [w.read_packet(), w.read_packet()]
        assert sorted(p.name for p in got) == ["PINGRESP", "PUBLISH"]
        # one PUBLISH split over two messages, with a ping in between
        pub = mqttraw.publish(topic, b"two" * 1000)
        w.send_mqtt(pub[:1500])
        w.send(wsraw.frame(wsraw.PING, b"between"))
        assert w.read_frame()[1:] == (wsraw.PONG, b"between")
        w.send_mqtt(pub[1500:])
        assert w.read_packet().publish().payload == b"two" * 1000
        # a close from the client is answered, then the server closes
        w.send(wsraw.frame(wsraw.CLOSE, b"\x03\xe8"))
        assert wsraw.close_code(w.wait_closed(CLOSE_WITHIN)) == 1000


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_versions_and_ciphers(broker):
    port = broker.port_of("tls")

    def handshake(version, ciphers=None):
        ctx = ssl.create_default_context(cafile=broker.ca)
        ctx.minimum_version = ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                return t.version(), t.cipher()[0]

    assert handshake(ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"
    version, cipher = handshake(ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and \
        ("GCM" in cipher or "CHACHA20" in cipher)
    with pytest.raises(ssl.SSLError, match=r"(?i)protocol.version|unsupported protocol"):
        handshake(ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):  # no CBC or RSA key exchange on 1.2
        handshake(ssl.TLSVersion.TLSv1_2, "AES128-SHA:ECDHE-ECDSA-AES128-SHA")


# ---------------------------------------------------------------------------------------------
# Hostile input: one connection closed, everyone else served


def raw(broker, kind: str) -> mqttraw.RawClient:
    return mqttraw.RawClient("127.0.0.1", broker.port_of(kind))


@pytest.mark.parametrize("data", [
    mqttraw.connect("plain-on-tls"),                          # MQTT where TLS is expected
    b"\x16\x03\x01\x00\x40" + b"\xa5" * 64,                   # a handshake record of garbage
    bytes(range(256)) * 4,                                     # noise
], ids=["plain_connect", "garbage_handshake", "noise"])
@pytest.mark.parametrize("kind", ["tls", "wss"])
def test_tls_port_refuses_non_tls(broker, good, topic, kind, data):
    with raw(broker, kind) as c:
        c.send(data)
        got = c.wait_closed(CLOSE_WITHIN)
    assert not got.startswith(b"\x20"), "a CONNACK came back over a TLS port"
    assert got == b"" or got[0] == 0x15, f"expected at most a TLS alert, got {got[:20]!r}"
    assert_served(good, topic)


@pytest.mark.parametrize("data", [b"\x00\x01\x02", b"PUT / HTTP/1.1\r\n\r\n", b"\x30\x00"])
def test_auto_port_closes_on_unknown_first_byte(broker, good, topic, data):
    with raw(broker, "auto") as c:
        c.send(data)
        assert c.wait_closed(CLOSE_WITHIN) == b""
    assert_served(good, topic)


@pytest.mark.parametrize("kind", ["ws", "auto"])
@pytest.mark.parametrize("protocols,status", [((), 400), (("chat",), 400), (("MQTT",), 400)])
def test_websocket_upgrade_without_mqtt_subprotocol_refused(broker, good, topic, kind,
                                                            protocols, status):
    with wsraw.WsRaw("127.0.0.1", broker.port_of(kind)) as w:
        assert w.upgrade(protocols=protocols) == status
        w.wait_closed(CLOSE_WITHIN)
    assert_served(good, topic)


def test_plain_http_on_websocket_port_refused(broker, good, topic):
    with raw(broker, "ws") as c:
        c.send(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.wait_closed(CLOSE_WITHIN).startswith(b"HTTP/1.1 400")
    assert_served(good, topic)


def test_upgrade_headers_over_8k_closed(broker, good, topic):
    with raw(broker, "ws") as c:
        c.send(wsraw.upgrade_request(extra={"X-Pad": "a" * 9000}))
        assert b" 101 " not in c.wait_closed(CLOSE_WITHIN)
    assert_served(good, topic)


@pytest.mark.parametrize("kind", ["ws", "wss"])
def test_websocket_text_frame_closes(broker, good, topic, kind):
    ca = broker.ca if kind == "wss" else None
    with wsraw.WsRaw("127.0.0.1", broker.port_of(kind), tls_ca=ca) as w:
        assert w.upgrade() == 101
        w.send_mqtt(mqttraw.connect(unique_id("text")))
        assert w.read_packet().connack() == (False, 0)
        w.send(wsraw.frame(wsraw.TEXT, mqttraw.publish(f"{topic}/leak", b"text")))
        assert wsraw.close_code(w.wait_closed(CLOSE_WITHIN)) == 1003  # unsupported data
    assert_served(good, topic)  # and nothing from the text frame was routed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_websocket_100mb_frame_header_closes_without_allocating(broker, good, topic):
    before = rss_kib(broker.proc.pid)
    with wsraw.WsRaw("127.0.0.1", broker.port_of("ws")) as w:
        assert w.upgrade() == 101
        w.send(wsraw.frame(wsraw.BINARY, b"\x10", fin=True, length=100 * 1024 * 1024))
        assert wsraw.close_code(w.wait_closed(CLOSE_WITHIN)) == 1009  # message too big
    assert rss_kib(broker.proc.pid) - before < 20 * 1024
    assert_served(good, topic)


@pytest.mark.slow
def test_half_finished_handshakes_time_out(broker, good, topic):
    """Upgrades and TLS handshakes left half done are closed at the connect timeout (10 s);
    meanwhile others are served."""
    half = {
        "ws_half_upgrade": (raw(broker, "ws"), b"GET /mqtt HTTP/1.1\r\nHost: x\r\n"),
        "tls_silent": (raw(broker, "tls"), b""),
        "tls_half_hello": (raw(broker, "tls"), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        "wss_silent": (raw(broker, "wss"), b""),
        "auto_silent": (raw(broker, "auto"), b""),
        "auto_half_upgrade": (raw(broker, "auto"), b"GET / HTTP/1.1\r\n"),
    }
    t0 = time.monotonic()
    for c, data in half.values():
        if data:
            c.send(data)
    assert_served(good, topic)
    for name, (c, _) in half.items():
        with c:
            remaining = t0 + CONNECT_TIMEOUT + 4 - time.monotonic()
            c.wait_closed(max(remaining, 0.1))
        assert time.monotonic() - t0 > CONNECT_TIMEOUT - 1, f"{name}: closed before the timeout"
    assert_served(good, topic)


# ---------------------------------------------------------------------------------------------
# Servers of their own: origin check, certificate reload


def test_websocket_origins(tmp_path):
    with TransportBroker(tmp_path, listeners=("tcp", "ws"),
                         listeners_extra='ws_origins = ["http://good.example"]') as b:
        for origin, status in [("http://good.example", 101), ("HTTP://GOOD.EXAMPLE", 101),
                               ("http://evil.example", 403), (None, 101)]:
            with wsraw.WsRaw("127.0.0.1", b.port_of("ws")) as w:
                extra = {"Origin": origin} if origin else {}
                assert w.upgrade(extra=extra) == status, origin


def test_sighup_reloads_certificate_and_keeps_connections(tmp_path):
    with TransportBroker(tmp_path, listeners=("tcp", "tls")) as b:
        reload_while_connected(b)


def reload_while_connected(b: TransportBroker) -> None:
    old_ca = b.workdir / "old-ca.pem"
    shutil.copy(b.ca, old_ca)
    topic = unique_topic("reload")
    kept = TransportClient(b, "tls").connect()
    try:
        assert kept.subscribe(topic, 1) == [1]
        # a broken file is refused, and the current certificate stays
        (b.data / "server.pem").write_text("not a certificate\n")
        b.proc.send_signal(signal.SIGHUP)
        b.wait_log(r"SIGHUP: TLS reload failed, keeping the current certificate")
        # a new CA and server certificate
        for f in ("ca.pem", "ca.key"):
            (b.data / f).unlink()
        make_dev_certs(b.data)
        b.proc.send_signal(signal.SIGHUP)
        b.wait_log(r"SIGHUP: TLS certificate and key reloaded")

        with pytest.raises(ssl.SSLCertVerificationError):
            ctx = ssl.create_default_context(cafile=str(old_ca))
            with socket.create_connection(("127.0.0.1", b.port_of("tls")), timeout=WAIT) as s:
                ctx.wrap_socket(s, server_hostname="localhost")
        fresh = TransportClient(b, "tls").connect()  # trusts the new ca.pem
        try:
            fresh.publish(topic, b"after reload", 1)
        finally:
            fresh.disconnect()
        assert kept.get().payload == b"after reload"  # connected before the reload, still served
    finally:
        kept.close()
