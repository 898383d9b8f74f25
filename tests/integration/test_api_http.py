"""The HTTP server itself: the admin token rules, /healthz, /metrics, the console page, and
requests that are broken, too large or sent in unusual ways (each refused with its status and
the server still serving)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import stat

import pytest

import harness
from apiclient import Api, broker_data_dir, raw_http, token_of
from harness import WAIT, BrokerProcess

pytestmark = pytest.mark.thingport_only(reason="the HTTP API is thingport's")



def raw_exchange(port: int, data: bytes, timeout: float = WAIT) -> bytes:
    return raw_http(port, data, timeout)


# --------------------------------------------------------------------------------------------
# token


def test_token_file_generated_once_with_mode_0600(broker):
    path = broker_data_dir(broker) / "admin.token"
    token = token_of(broker)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    printed = [l for l in broker.log.tail(10000).splitlines() if "admin token written to" in l]
    assert len(printed) == 1 and printed[0].endswith(token) and str(path) in printed[0]


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", "Bearer", "{token}",
                                  "Bearer {token}x"])
def test_api_needs_the_token(api, auth):
    headers = {} if auth is None else {"Authorization": auth.replace("{token}", api.token)}
    for method, path in [("GET", "/api/v1/products"), ("POST", "/api/v1/products"),
                         ("GET", "/api/v1/no/such/path"), ("POST", "/api/v1/pub")]:
        r = api.call(method, path, {"name": "x"}, token=None, headers=headers)
        assert r.status == 401, (method, path, r)
        assert r.json["code"] == 401 and r.json["message"]
        assert r.headers.get("www-authenticate") == "Bearer"


def test_token_scheme_is_case_insensitive(api):
    r = api.call("GET", "/api/v1/products", token=None,
                 headers={"Authorization": f"bearer {api.token}"})
    assert r.status == 200


def test_open_endpoints(api):
    r = api.call("GET", "/healthz", token=None)
    assert r.status == 200 and r.json == {"status": "ok"}
    r = api.call("GET", "/", token=None)
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert b"thingport" in r.body and b"sessionStorage" in r.body
    r = api.call("POST", "/auth/register/device", raw=b"", token=None)
    assert r.status == 200 and r.json["code"] == 460


def test_token_survives_restart_and_is_not_printed_again(broker):
    before = token_of(broker)
    broker.restart()
    assert token_of(broker) == before
    printed = [l for l in broker.log.tail(10000).splitlines() if "admin token written to" in l]
    assert len(printed) == 1
    assert Api(broker).call("GET", "/api/v1/products").status == 200


def test_configured_token(tmp_path):
    b = BrokerProcess(tmp_path, kind="thingport")
    text = b.config_path.read_text().replace("[http]\n", '[http]\ntoken = "configured-tok-1"\n')
    b.config_path.write_text(text)
    b.start()
    try:
        a = Api(b, token="configured-tok-1")
        assert a.call("GET", "/api/v1/products").status == 200
        assert a.call("GET", "/api/v1/products", token="other").status == 401
        assert not (broker_data_dir(b) / "admin.token").exists()
    finally:
        b.stop_and_check()


# --------------------------------------------------------------------------------------------
# metrics


def test_metrics(api, client_factory):
    pk = api.product("metrics")["productKey"]
    api.device(pk, "dev-1")
    c = client_factory()
    c.subscribe("it/metrics/#", 1)
    keeper = client_factory(client_id=harness.unique_id("keep"), clean_session=False)
    keeper.subscribe("it/metrics/#", 1)  # a stored session: the publish below is committed
    c.publish("it/metrics/x", b"1", qos=1)
    r = api.call("GET", "/metrics", token=None)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = int(value)
    for name in ["thingport_connections", "thingport_devices_online", "thingport_devices",
                 "thingport_messages_in_total", "thingport_connects_total",
                 "thingport_connect_refused_total", "thingport_publish_denied_total",
                 "thingport_sessions", "thingport_subscriptions",
                 "thingport_session_store_commits_total",
                 "thingport_session_store_commit_failures_total", "thingport_session_store_bytes",
                 "thingport_session_store_backlog", "thingport_thing_messages_total",
                 "thingport_thing_dropped_total", "thingport_thing_store_failures_total"]:
        assert name in values, name
        assert f"# TYPE {name} " in text
    assert values["thingport_connections"] >= 1
    assert values["thingport_devices"] >= 1
    assert values["thingport_messages_in_total"] >= 1
    assert values["thingport_subscriptions"] >= 1
    assert values["thingport_session_store_commits_total"] >= 1
    assert values["thingport_session_store_bytes"] > 0
    assert values["thingport_session_store_commit_failures_total"] == 0
    for reason in ["client_disconnect", "peer_closed", "protocol_error", "auth_failed",
                   "taken_over", "kicked", "server_shutdown"]:
        assert f'thingport_closes_total{{reason="{reason}"}}' in values, reason


# --------------------------------------------------------------------------------------------
# bad and unusual requests


def test_keep_alive_serves_several_requests(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=WAIT)
    try:
        for _ in range(3):
            conn.request("GET", "/api/v1/products", headers={"Authorization": f"Bearer {api.token}"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_expect_100_continue(api):
    body = b'{"name":"continued"}'
    head = (f"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", api.port), timeout=WAIT) as s:
        s.sendall(head)
        assert s.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 201"), out


@pytest.mark.parametrize("data,status", [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"GET / HTTP/9.9\r\n\r\n", b"400"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"400"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
    (b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n", b"413"),
    (b"\x00\x01\x02\x03\r\n\r\n", b"400"),
], ids=["garbage", "version", "content-length", "huge-header", "huge-body", "binary"])
def test_broken_requests_are_refused(api, data, status):
    out = raw_exchange(api.port, data)
    assert out.split(b" ", 2)[1] == status, out[:200]
    assert api.call("GET", "/healthz", token=None).status == 200


def test_canonical_paths_and_escapes_still_route(api, broker):
    pk = broker.demo["productKey"]
    assert api.call("GET", f"/api/v1/products/{pk}").status == 200
    # '@' escaped is canonical (a reserved character): routed, the device just does not exist
    assert api.call("GET", f"/api/v1/products/{pk}/devices/no%40such").status == 404
    # a path that only looks like /api once decoded twice is not under /api
    assert api.call("GET", "/%2561pi/v1/products", token=None).status == 404


def test_body_over_16_mib_is_413(api):
    big = b'{"name":"' + b"x" * (17 * 1024 * 1024) + b'"}'
    try:
        r = api.call("POST", "/api/v1/products", raw=big)
        assert r.status == 413 and r.json["code"] == 413
    except (ConnectionResetError, BrokenPipeError):
        pytest.fail("the connection was reset before the 413 could be read")
    assert api.call("GET", "/healthz", token=None).status == 200


def test_half_sent_request_and_abrupt_close(api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=WAIT) as s:
        s.sendall(b"POST /api/v1/products HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"na")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", api.port), timeout=WAIT):
            pass
    assert api.call("GET", "/healthz", token=None).status == 200
