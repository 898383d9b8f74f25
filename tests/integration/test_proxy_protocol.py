"""Behind a load balancer (docs/protocol.md "Behind a load balancer"): a real HAProxy in TCP mode
passes devices to listeners with `proxy_protocol = true`, in PROXY v1 (`send-proxy`) and v2
(`send-proxy-v2`, also in front of TLS). The device's address the API shows is the device's own,
not the balancer's. A connection without a valid header is closed before MQTT begins and
counted; so is every other way a connection ends before MQTT (TLS garbage on a plain listener),
so the open-connections gauge stays true.

The server listens on tcp and tls with PROXY required and on auto without; HAProxy is Debian's
(started here on free loopback ports, stopped at the end).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

import aliyun
import mqttraw
from apiclient import Api
from harness import WAIT, free_port, poll_until
from transport_broker import TransportBroker

pytestmark = pytest.mark.thingport_only(reason="thingport's PROXY protocol listeners")

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TransportBroker:
    b = TransportBroker(tmp_path_factory.mktemp("proxy-"), listeners=("tcp", "tls", "auto"),
                        proxy=("tcp", "tls"))
    try:
        b.start()
        yield b
    finally:
        b.stop_and_check()


@pytest.fixture(scope="module")
def api(broker) -> Api:
    return Api(broker)


class HAProxy:
    """haproxy -db with `config` and `env`, waited for until every port of `ports` accepts."""

    def __init__(self, config: Path, ports: dict, env: dict | None = None):
        self.ports = ports
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + WAIT
        for port in self.ports.values():
            while True:
                assert self.proc.poll() is None, self.proc.stdout.read().decode()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"haproxy not listening on {port}"
                    time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def haproxy_in_front_of(workdir: Path, broker: TransportBroker) -> HAProxy:
    """Frontends v1, v2 (to the tcp listener) and tls (v2, to the tls listener)."""
    ports = {"v1": free_port(), "v2": free_port(), "tls": free_port()}
    tcp, tls = broker.port_of("tcp"), broker.port_of("tls")
    backends = {"v1": (tcp, "send-proxy"), "v2": (tcp, "send-proxy-v2"),
                "tls": (tls, "send-proxy-v2")}
    text = ("global\n  maxconn 200\n"
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
            "  timeout server 60s\n")
    for name, port in ports.items():
        server_port, how = backends[name]
        text += (f"frontend f_{name}\n  bind 127.0.0.1:{port}\n  default_backend b_{name}\n"
                 f"backend b_{name}\n  server thingport 127.0.0.1:{server_port} {how}\n")
    config = workdir / "haproxy.cfg"
    config.write_text(text)
    return HAProxy(config, ports)


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory, broker) -> HAProxy:
    h = haproxy_in_front_of(tmp_path_factory.mktemp("haproxy-"), broker)
    yield h
    h.stop()


def new_device(api: Api, broker: TransportBroker) -> dict:
    """A device of its own (the login rate limit is per device): productKey, deviceName,
    deviceSecret."""
    return api.device(broker.demo["productKey"])


class Device:
    """A new device over paho, connected from `source` (a loopback address of its own) through
    `port`; `tls_ca` for TLS. view() is what the API shows of it."""

    def __init__(self, api: Api, broker: TransportBroker, port: int, source: str,
                 tls_ca: str = ""):
        self.api = api
        self.d = d = new_device(api, broker)
        cred = aliyun.device_credentials(d["productKey"], d["deviceName"], d["deviceSecret"])
        self.c = paho.Client(client_id=cred["client_id"], clean_session=True)
        self.c.username_pw_set(cred["username"], cred["password"])
        if tls_ca:
            self.c.tls_set(ca_certs=tls_ca)
        self.connected = threading.Event()
        self.rc = None

        def on_connect(client, userdata, flags, rc):
            self.rc = rc
            self.connected.set()

        self.c.on_connect = on_connect
        self.c.connect("127.0.0.1", port, keepalive=60, bind_address=source)
        self.c.loop_start()
        assert self.connected.wait(WAIT), "no CONNACK through haproxy"
        assert self.rc == 0, f"CONNACK {self.rc}"
        self.local_port = self.c.socket().getsockname()[1]

    def view(self) -> dict:
        return self.api.show(self.d["productKey"], self.d["deviceName"])

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.mark.parametrize("front,source", [("v1", "127.0.0.21"), ("v2", "127.0.0.22"),
                                          ("tls", "127.0.0.23")])
def test_the_device_address_is_the_devices_own_through_haproxy(broker, api, haproxy, front,
                                                               source):
    dev = Device(api, broker, haproxy.ports[front], source,
                 tls_ca=broker.ca if front == "tls" else "")
    try:
        view = poll_until(dev.view, lambda v: v["status"] == "ONLINE")
        assert view["ip"] == source  # HAProxy itself connects from 127.0.0.1
        transport = "tls" if front == "tls" else "tcp"
        assert view["transport"] == transport
    finally:
        dev.close()
    # The close line names the device's address and port, as the header gave them.
    broker.wait_log(rf"close client=.* addr={source}:{dev.local_port} transport={transport}")


def test_a_connection_without_a_header_is_closed_before_mqtt_and_counted(broker, api):
    before = api.metric('thingport_closes_total{reason="proxy_refused"}')
    with mqttraw.RawClient("127.0.0.1", broker.port_of("tcp")) as c:
        c.send(mqttraw.connect("no-header"))
        with pytest.raises(mqttraw.Closed):
            c.read_packet(timeout=5.0)  # no CONNACK: closed at the first byte
    # A forged-looking header that is not one: refused as well.
    with mqttraw.RawClient("127.0.0.1", broker.port_of("tcp")) as c:
        c.send(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n" + mqttraw.connect("bad-header"))
        with pytest.raises(mqttraw.Closed):
            c.read_packet(timeout=5.0)
    poll_until(lambda: api.metric('thingport_closes_total{reason="proxy_refused"}'),
               lambda v: v == before + 2)
    broker.wait_log(r"tcp listener: no PROXY header from 127\.0\.0\.1")


def test_a_direct_client_with_a_header_of_its_own_is_served_from_that_address(broker, api):
    """The header is believed from whoever connects: a proxy listener must be reachable by the
    balancer only (docs/protocol.md says so). This shows what the header does, byte for byte."""
    d = new_device(api, broker)
    cred = aliyun.device_credentials(d["productKey"], d["deviceName"], d["deviceSecret"])
    with mqttraw.RawClient("127.0.0.1", broker.port_of("tcp")) as c:
        c.send(b"PROXY TCP4 127.0.0.44 127.0.0.1 40000 1883\r\n")
        present, rc = c.connect(cred["client_id"], username=cred["username"],
                                password=cred["password"])
        assert rc == 0
        view = poll_until(lambda: api.show(d["productKey"], d["deviceName"]),
                          lambda v: v["status"] == "ONLINE")
        assert view["ip"] == "127.0.0.44"


def test_a_header_cut_short_holds_nothing_and_others_are_served(broker, api, haproxy):
    """Half a header then silence: the connection waits at most the connect timeout; meanwhile
    a device through HAProxy is served."""
    with mqttraw.RawClient("127.0.0.1", broker.port_of("tcp")) as stuck:
        stuck.send(b"PROXY TCP4 127.0.0.9 ")
        dev = Device(api, broker, haproxy.ports["v2"], "127.0.0.25")
        dev.close()
        with pytest.raises(mqttraw.Closed):
            stuck.read_packet(timeout=15.0)  # the 10 s connect timeout, not forever


def test_connections_that_end_before_mqtt_leave_the_gauge_true(broker, api):
    """TLS garbage and an unknown first byte on the auto listener (no PROXY there), a refused
    header on tcp: each is counted as a close, so thingport_connections returns to where it was."""
    base = api.metric("thingport_connections")
    failed = api.metric('thingport_closes_total{reason="handshake_failed"}')
    auto = broker.port_of("auto")
    for junk in (b"\x16\x03\x01\x00\x05hello", b"\xff\xff"):
        with socket.create_connection(("127.0.0.1", auto), timeout=5.0) as s:
            s.sendall(junk)
            deadline = time.monotonic() + 5.0
            try:
                while s.recv(4096):  # a TLS alert may come first; then EOF (or a reset)
                    assert time.monotonic() < deadline, "not closed"
            except ConnectionResetError:
                pass
    poll_until(lambda: api.metric('thingport_closes_total{reason="handshake_failed"}'),
               lambda v: v == failed + 2)
    poll_until(lambda: api.metric("thingport_connections"), lambda v: v == base)


def test_the_deploy_example_runs_as_written(broker, api):
    """deploy/haproxy.cfg, unchanged, with its three nodes all pointed at this server: devices
    reach it over MQTT and MQTT over TLS with their own addresses, and HAProxy's health checks
    (LOCAL headers) are not refused."""
    refused = 'thingport_closes_total{reason="proxy_refused"}'
    before = api.metric(refused)
    ports = {"mqtt": free_port(), "mqtts": free_port()}
    env = {"MQTT_BIND": f"127.0.0.1:{ports['mqtt']}", "MQTTS_BIND": f"127.0.0.1:{ports['mqtts']}",
           "NODE_A": "127.0.0.1", "NODE_B": "127.0.0.1", "NODE_C": "127.0.0.1",
           "NODE_MQTT_PORT": str(broker.port_of("tcp")),
           "NODE_MQTTS_PORT": str(broker.port_of("tls"))}
    h = HAProxy(ROOT / "deploy" / "haproxy.cfg", ports, env)
    try:
        for port, source, ca in ((ports["mqtt"], "127.0.0.26", ""),
                                 (ports["mqtts"], "127.0.0.27", broker.ca)):
            dev = Device(api, broker, port, source, tls_ca=ca)
            try:
                view = poll_until(dev.view,
                                  lambda v: v["status"] == "ONLINE" and v["ip"] == source)
                assert view["transport"] == ("tls" if ca else "tcp")
            finally:
                dev.close()
        # HAProxy's health checks (a LOCAL header, then a close) reach both listeners of every
        # server line: wait until at least one round of six has been accepted and closed.
        checks = 'thingport_closes_total{reason="peer_closed"}'
        seen = api.metric(checks)
        poll_until(lambda: api.metric(checks), lambda v: v >= seen + 6, timeout=10)
    finally:
        h.stop()
    assert api.metric(refused) == before
