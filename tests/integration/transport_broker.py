"""thingport with every transport listening (tcp, tls, ws, wss, auto on port 0) and the
development certificates `thingport cert dev` writes, for test_transports.py and test_browser.py.

    from transport_broker import broker  # noqa: F401  (the module's broker fixture)

The fixture replaces conftest's `broker` for the importing module, so client_factory,
raw_factory and cli_sub keep working against its plain TCP port.
"""

from __future__ import annotations

import re
import ssl
import time
from pathlib import Path
from typing import Iterable, Tuple

import paho.mqtt.client as paho
import pytest

import mqtt_clients
import harness
from mqtt_clients import MqttClient
from harness import WAIT, BrokerProcess, unique_id

KINDS = ("tcp", "tls", "ws", "wss", "auto")


def make_dev_certs(data: Path, *hosts: str) -> None:
    args = [harness.THINGPORT_BIN, "cert", "dev", "--data", str(data)]
    for h in hosts:
        args += ["--host", h]
    r = mqtt_clients.run_cli(args, timeout=20)
    assert r.returncode == 0, f"{args!r}: {r.returncode}\n{r.stdout!r}\n{r.stderr!r}"


class TransportBroker(BrokerProcess):
    """thingport serving every transport; `endpoint(kind)` gives each one's (host, port).
    `ca` is the development CA clients trust, `data` the data directory."""

    def __init__(self, workdir: Path, listeners_extra: str = "",
                 listeners: Iterable[str] = KINDS, proxy: Iterable[str] = ()):
        """proxy: the listeners that take a PROXY header from a load balancer first."""
        self._wanted = tuple(listeners)
        self._proxy = tuple(proxy)
        self._extra = listeners_extra
        super().__init__(workdir, kind="thingport")

    def __enter__(self) -> "TransportBroker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_and_check()

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def ca(self) -> str:
        return str(self.data / "ca.pem")

    def _write_config(self) -> Path:
        make_dev_certs(self.data)
        # a listener left out is turned off explicitly (ws, tls and wss have default ports)
        def listener(k: str) -> str:
            address = '"127.0.0.1:0"' if k in self._wanted else '""'
            if k in self._proxy:
                return f"{k} = {{ address = {address}, proxy_protocol = true }}\n"
            return f"{k} = {address}\n"
        listeners = "".join(listener(k) for k in KINDS)
        text = (f'data_dir = "{self.data}"\n'
                "[listeners]\n" + listeners + self._extra.strip() + "\n" +
                "[tls]\n"
                'cert = "server.pem"\n'   # relative to data_dir
                'key = "server.key"\n'
                "[http]\n"
                'listen = "127.0.0.1:0"\n'
                "[auth]\n"
                "allow_anonymous = true\n"
                f'deny_subscribe = ["{harness.DENY_SUBSCRIBE}"]\n'
                "[log]\n"
                'level = "debug"\n')
        path = self.workdir / "thingport.toml"
        path.write_text(text)
        return path

    def endpoint(self, kind: str, timeout: float = WAIT) -> Tuple[str, int]:
        """(host, port) of the listener of this kind, from its 'thingport: listening' line."""
        with self._listen_cv:
            if not self._listen_cv.wait_for(lambda: kind in self._listeners, timeout):
                raise AssertionError(f"no 'thingport: listening {kind} ...' line\n"
                                     f"{self.log.tail()}")
            return self._listeners[kind]

    def port_of(self, kind: str) -> int:
        return self.endpoint(kind)[1]

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)

    def wait_log(self, pattern: str, timeout: float = WAIT) -> str:
        """The first output line matching the regex; polls the captured output (the server
        writes it asynchronously and there is no event to wait on)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log.tail(4000).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no output line matching {pattern!r} within {timeout}s\n"
                                     f"{self.log.tail(60)}")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TransportBroker:
    b = TransportBroker(tmp_path_factory.mktemp("transports-"))
    try:
        b.start()
        yield b
    finally:
        b.stop_and_check()


class TransportClient(MqttClient):
    """The paho wrapper of harness.py over any transport: kind tcp|tls|ws|wss, or auto_tcp,
    auto_tls, auto_ws, auto_wss for the auto port."""

    def __init__(self, broker: TransportBroker, transport: str, path: str = "/mqtt",
                 subprotocol_v31: bool = False, **kw):
        super().__init__(broker, **kw)
        listener, _, inner = transport.partition("_")
        self.listener = listener
        inner = inner or listener
        self.kind = inner
        self.port = broker.port_of(listener)
        if inner in ("ws", "wss"):
            proto = paho.MQTTv31 if subprotocol_v31 else paho.MQTTv311
            self.c = _rebuild(self, transport="websockets", protocol=proto)
            self.c.ws_set_options(path=path)
        if inner in ("tls", "wss"):
            self.c.tls_set(ca_certs=broker.ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)

    def connect(self, timeout: float = WAIT, expect_rc: int = 0) -> "TransportClient":
        # MqttClient.connect dials broker.port (plain TCP): dial this transport's port instead
        real = self.broker
        self.broker = _At(real.host, self.port)
        try:
            return super().connect(timeout, expect_rc)
        finally:
            self.broker = real


class _At:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port


def _rebuild(c: MqttClient, **kw) -> paho.Client:
    """A paho client like c's (callbacks, id, session) with other transport options."""
    n = paho.Client(client_id=c.client_id, clean_session=c.clean_session,
                    reconnect_on_failure=False, **kw)
    for cb in ("on_connect", "on_disconnect", "on_message", "on_subscribe", "on_unsubscribe"):
        setattr(n, cb, getattr(c.c, cb))
    return n


def transport_client(broker: TransportBroker, transport: str, made: list, **kw) -> TransportClient:
    c = TransportClient(broker, transport, **kw)
    made.append(c)
    return c.connect()


def unique_topic(prefix: str) -> str:
    return f"tp/{prefix}/{unique_id('t')}"
