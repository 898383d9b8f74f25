"""Attacks on the HTTP API (security issue rows 1, 6, 7 and 17), each performed against the real
server over real sockets: an encoded path around the token check, idle connections that lock
everyone out, big bodies without a token, and JSON bodies with a key given twice."""

from __future__ import annotations

import json
import socket
import time

import pytest

from apiclient import Api, raw_http
from harness import WAIT, BrokerProcess, poll_until

pytestmark = pytest.mark.thingport_only(reason="the HTTP API is thingport's")


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def metric(api: Api, name: str, source: str = "127.0.0.1") -> float:
    answer = raw_http(api.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                      source=source)
    text = answer.partition(b"\r\n\r\n")[2].decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


# -- row 1: the token check and the router read one parsed path ---------------------------------

ENCODED = [
    "/%61pi/v1/products", "/ap%69/v1/products", "/api/v1/%70roducts", "/api%2fv1/products",
    "//api/v1/products", "/api//v1/products", "/api/./v1/products", "/x/../api/v1/products",
    "/%2e/api/v1/products", "/api/v1/products/",
]


@pytest.mark.parametrize("path", ["/%61pi/v1/products", "/ap%69/v1/products",
                                  "/%61%70%69/v1/products"])
def test_encoded_path_never_reaches_an_endpoint_without_the_token(api, broker, path):
    answer = raw_http(api.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                      .encode())
    assert status_of(answer) in (400, 401, 404), answer[:300]
    assert broker.demo["productKey"].encode() not in answer


@pytest.mark.parametrize("path", ENCODED)
def test_non_canonical_paths_are_refused_even_with_the_token(api, path):
    r = api.call("GET", path)
    assert r.status == 400 and "non-canonical" in r.json["message"], r


def test_an_encoded_path_cannot_create_a_product(api):
    before = len(api.ok("GET", "/api/v1/products?limit=1000"))
    answer = raw_http(api.port, b'POST /%61pi/v1/products HTTP/1.1\r\nHost: x\r\n'
                      b'Content-Type: application/json\r\nContent-Length: 13\r\n'
                      b'Connection: close\r\n\r\n{"name":"x1"}')
    assert status_of(answer) == 400
    assert len(api.ok("GET", "/api/v1/products?limit=1000")) == before


# -- row 6: idle connections from one address -----------------------------------------------------

def test_idle_connections_from_one_address_do_not_lock_out_another(api):
    refused_before = metric(api, 'thingport_http_refused_total{reason="per_address"}')
    idle = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", api.port), timeout=WAIT)
            idle.append(s)
        # the server has seen all of them: the per-address refusals are counted
        poll_until(lambda: metric(api, 'thingport_http_refused_total{reason="per_address"}',
                                  source="127.0.0.3"),
                   lambda v: v >= refused_before + 300 - 64)
        # another address is served while they are open
        answer = raw_http(api.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                          b"\r\n\r\n", source="127.0.0.2")
        assert status_of(answer) == 200, answer[:200]
    finally:
        for s in idle:
            s.close()
    # and the first address again once they are gone
    poll_until(lambda: api.call("GET", "/healthz", token=None).status, lambda s: s == 200)


# -- row 7: a body is read only after the token is checked ----------------------------------------

def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_big_bodies_without_the_token_are_refused_from_the_header(api, broker):
    """32 connections each announce 16 MiB and send the first MiB: each gets its 401 at once
    (the server does not wait for, nor keep, the body) and the server does not grow."""
    rss0 = rss_kib(broker.proc.pid)
    head = (b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 16777216\r\n\r\n")
    chunk = b"x" * (1024 * 1024)
    socks = []
    try:
        for _ in range(32):
            s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
            s.sendall(head)
            try:
                s.sendall(chunk)
            except OSError:
                pass  # the server may already have answered and closed
            socks.append(s)
        for s in socks:
            answer = b""
            deadline = time.monotonic() + 5
            while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
                try:
                    part = s.recv(4096)
                except (socket.timeout, ConnectionResetError):
                    break
                if not part:
                    break
                answer += part
            assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    finally:
        for s in socks:
            s.close()
    grown_mib = (rss_kib(broker.proc.pid) - rss0) / 1024
    assert grown_mib < 64, f"RSS grew {grown_mib:.0f} MiB"
    assert metric(api, 'thingport_http_refused_total{reason="unauthorized"}') >= 32


def test_open_endpoints_take_only_small_bodies(api):
    answer = raw_http(api.port, b"POST /auth/register/device HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1048576\r\n\r\n")
    assert status_of(answer) == 413


# -- row 17: a key given twice ---------------------------------------------------------------------

@pytest.mark.parametrize("body,key", [
    (b'{"name":"a","name":"b"}', "name"),
    (b'{"name":"a","dynamicRegistration":true,"dynamicRegistration":false}', "dynamicRegistration"),
])
def test_duplicate_json_keys_are_refused(api, body, key):
    r = api.call("POST", "/api/v1/products", raw=body, headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    assert "duplicate" in r.json["message"] and key in r.json["message"]


def test_nested_duplicate_keys_are_refused(api, broker):
    pk, dn = broker.demo["productKey"], broker.demo["deviceName"]
    body = b'{"items":{"a":1,"a":2}}'
    r = api.call("POST", f"/api/v1/products/{pk}/devices/{dn}/properties", raw=body,
                 headers={"Content-Type": "application/json"})
    assert r.status == 400 and "duplicate" in r.json["message"], r
