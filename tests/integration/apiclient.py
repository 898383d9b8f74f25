"""A small client of thingport's HTTP API for the tests (stdlib http.client: no requests)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

from harness import BrokerProcess

TIMEOUT = 60.0  # a 50,000-device batch takes a few seconds under the sanitizers


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def token_of(broker: BrokerProcess) -> str:
    """The admin token a fresh data dir gets (data/admin.token)."""
    return (broker_data_dir(broker) / "admin.token").read_text().strip()


def broker_data_dir(broker: BrokerProcess) -> Path:
    return Path(broker.workdir) / "data"


def b64(data: Union[str, bytes]) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def raw_http(port: int, data: bytes, timeout: float = 5.0, source: str = "127.0.0.1") -> bytes:
    """Sends bytes to the HTTP port (from `source`), returns what the server answered until it
    closed, reset, or went quiet for `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


class Api:
    def __init__(self, broker: BrokerProcess, token: Optional[str] = None):
        self.broker = broker
        self.token = token_of(broker) if token is None else token

    @property
    def port(self) -> int:
        assert self.broker.http_port, "no 'thingport: listening http ...' line"
        return self.broker.http_port

    def call(self, method: str, path: str, body: Any = None, token: Optional[str] = "default",
             raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Reply:
        """body: JSON-encoded unless raw bytes are given. token "default": the admin token;
        None: no Authorization header; any other string: that token."""
        h = dict(headers or {})
        if token == "default":
            token = self.token
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Reply(r.status, r.read(), {k.lower(): v for k, v in r.getheaders()})
        finally:
            conn.close()

    def metric(self, name: str) -> float:
        """The value of the /metrics series `name` (with its labels, if any); 0 when the server
        has no such series (a counter it does not keep counts as none)."""
        text = self.call("GET", "/metrics", token=None).body.decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    # -- shortcuts that expect success --

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.call(method, path, body)
        assert r.status == status, f"{method} {path}: {r!r}"
        return r.json

    def product(self, name: str = "test product", **extra: Any) -> Dict[str, Any]:
        return self.ok("POST", "/api/v1/products", {"name": name, **extra}, 201)

    def device(self, pk: str, dn: Optional[str] = None) -> Dict[str, Any]:
        body = {} if dn is None else {"deviceName": dn}
        return self.ok("POST", f"/api/v1/products/{pk}/devices", body, 201)

    def show(self, pk: str, dn: str) -> Dict[str, Any]:
        return self.ok("GET", f"/api/v1/products/{pk}/devices/{dn}")
