"""The HTTP API (docs/http-api.md) against the real server: products, topic classes, thing model,
devices (single and batch), status, enable/disable/delete, applications, pub, and the error
answers {"code","message"} of each class. HTTP-level behaviour (tokens, bad requests, limits,
metrics) is in test_api_http.py."""

from __future__ import annotations

import json
import socket

import pytest

import aliyun
from apiclient import b64
from mqtt_clients import MqttClient
from harness import WAIT, unique_id

pytestmark = pytest.mark.thingport_only(reason="the HTTP API is thingport's")


@pytest.fixture(scope="module")
def broker_settings():
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}



def connect_device(client_factory, pk, dn, ds, **kw) -> MqttClient:
    """An unconnected paho client that logs in as device pk/dn (closed at teardown)."""
    cred = aliyun.device_credentials(pk, dn, ds, **kw)
    return client_factory(connect=False, client_id=cred["client_id"],
                          username=cred["username"], password=cred["password"])


def error(r, status: int, *words: str):
    assert r.status == status, r
    body = r.json
    assert body["code"] == status and isinstance(body["message"], str), body
    for w in words:
        assert w in body["message"], body
    return body


# --------------------------------------------------------------------------------------------
# products


def test_create_and_read_products(api):
    p = api.product("lamps")
    assert set(p) >= {"productKey", "productSecret", "name"}
    assert p["name"] == "lamps" and len(p["productKey"]) == 11 and len(p["productSecret"]) == 32
    assert p["dynamicRegistration"] is False
    one = api.ok("GET", f"/api/v1/products/{p['productKey']}")
    assert one["productSecret"] == p["productSecret"] and one["name"] == "lamps"
    assert one["deviceCount"] == 0 and one["topics"] == [] and one["dynamicRegistration"] is False
    listed = api.ok("GET", "/api/v1/products?limit=1000")["products"]
    assert p["productKey"] in [x["productKey"] for x in listed]
    assert all("productSecret" not in x for x in listed)


def test_import_a_cloud_product(api):
    pk = "a1" + unique_id("")[-9:].replace("-", "x")
    p = api.product("imported", productKey=pk, productSecret="cloudSecret123",
                    dynamicRegistration=True)
    assert (p["productKey"], p["productSecret"], p["dynamicRegistration"]) == \
        (pk, "cloudSecret123", True)
    error(api.call("POST", "/api/v1/products", {"name": "again", "productKey": pk}), 409,
          "already exists")


def test_node_types(api):
    """A product is a plain device (default), a gateway or a sub-device product, set at creation
    and shown by every read."""
    made = {t: api.product(f"node {t}", nodeType=t) for t in ("device", "gateway", "subdevice")}
    plain = api.product("node default")
    assert plain["nodeType"] == "device"
    for t, p in made.items():
        assert p["nodeType"] == t
        assert api.ok("GET", f"/api/v1/products/{p['productKey']}")["nodeType"] == t
    listed = {p["productKey"]: p["nodeType"]
              for p in api.ok("GET", "/api/v1/products?limit=1000")["products"]}
    assert all(listed[p["productKey"]] == t for t, p in made.items())


@pytest.mark.parametrize("body,words", [
    ({}, ['missing field "name"']),
    ({"name": 5}, ['"name" must be a string']),
    ({"name": "x", "dynamicRegistration": "yes"}, ['"dynamicRegistration"']),
    ({"name": "x", "colour": "red"}, ['unknown field "colour"']),
    ({"name": "x", "productKey": "bad/key"}, ["productKey"]),
    ({"name": "x", "nodeType": "router"}, ["nodeType", "gateway"]),
    ({"name": "x", "nodeType": "Gateway"}, ["nodeType"]),
    ({"name": "x", "nodeType": 1}, ['"nodeType" must be a string']),
    ({"name": ""}, ["name"]),
    ([1, 2], ["JSON object"]),
])
def test_create_product_bad_input(api, body, words):
    error(api.call("POST", "/api/v1/products", body), 400, *words)


def test_broken_json_is_400(api):
    error(api.call("POST", "/api/v1/products", raw=b'{"name": "x"'), 400, "not valid JSON")
    error(api.call("POST", "/api/v1/products", raw=b"\xff\xfe"), 400)


def test_unknown_product_is_404(api):
    for path in ["/api/v1/products/nosuchpk1", "/api/v1/products/nosuchpk1/devices",
                 "/api/v1/products/nosuchpk1/devices/dev-1", "/api/v1/products/nosuchpk1/tsl",
                 "/api/v1/products/bad!key", "/api/v1/products/nosuchpk1/topics"]:
        error(api.call("GET", path), 404, "not found")
    error(api.call("POST", "/api/v1/products/nosuchpk1/devices", {}), 404, "product nosuchpk1")


def test_unknown_path_and_method(api):
    error(api.call("GET", "/api/v1/nothing"), 404)
    r = api.call("PUT", "/api/v1/products", {"name": "x"})
    error(r, 405)
    assert "POST" in r.headers["allow"] and "GET" in r.headers["allow"]


# --------------------------------------------------------------------------------------------
# topic classes and thing model


def test_topic_classes(api, client_factory):
    p = api.product("with topics")
    pk = p["productKey"]
    t = api.ok("POST", f"/api/v1/products/{pk}/topics",
               {"topic": "/${productKey}/${deviceName}/user/cmd", "access": "sub"}, 201)
    assert t["access"] == "sub"
    error(api.call("POST", f"/api/v1/products/{pk}/topics",
                   {"topic": "/${productKey}/${deviceName}/user/cmd", "access": "sub"}), 409)
    error(api.call("POST", f"/api/v1/products/{pk}/topics",
                   {"topic": "/${productKey}/${deviceName}/other", "access": "sub"}), 400,
          "invalid topic class")
    error(api.call("POST", f"/api/v1/products/{pk}/topics",
                   {"topic": "/${productKey}/${deviceName}/user/x", "access": "read"}), 400,
          "access")
    error(api.call("POST", "/api/v1/products/nosuchpk1/topics",
                   {"topic": "/${productKey}/${deviceName}/user/x", "access": "all"}), 404)
    assert api.ok("GET", f"/api/v1/products/{pk}")["topics"] == \
        [{"topic": "/${productKey}/${deviceName}/user/cmd", "access": "sub"}]
    # the new class is a topic the device may subscribe to, and so one the API may publish to
    d = api.device(pk, "cmd-dev")
    dev = connect_device(client_factory, pk, "cmd-dev", d["deviceSecret"]).connect()
    assert dev.subscribe(f"/{pk}/cmd-dev/user/cmd", 1) == [1]
    api.ok("POST", "/api/v1/pub", {"productKey": pk, "deviceName": "cmd-dev",
                                    "topic": f"/{pk}/cmd-dev/user/cmd", "payload": b64("go")})
    assert dev.get().payload == b"go"


TSL = {"schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
       "profile": {"productKey": "x"},
       "properties": [{"identifier": "LightSwitch", "dataType": {"type": "bool"}}],
       "events": [], "services": []}


def test_thing_model(api):
    pk = api.product("tsl")["productKey"]
    error(api.call("GET", f"/api/v1/products/{pk}/tsl"), 404, "no thing model")
    assert api.ok("PUT", f"/api/v1/products/{pk}/tsl", TSL)["productKey"] == pk
    assert api.ok("GET", f"/api/v1/products/{pk}/tsl") == TSL
    assert api.ok("GET", f"/api/v1/products/{pk}")["thingModel"] is True
    error(api.call("PUT", f"/api/v1/products/{pk}/tsl", raw=b"{nope"), 400, "not valid JSON")
    error(api.call("PUT", f"/api/v1/products/{pk}/tsl", [TSL]), 400, "object")
    error(api.call("PUT", f"/api/v1/products/{pk}/tsl", {"properties": {}}), 400, "properties")
    big = {"properties": [{"identifier": "p", "pad": "x" * (1024 * 1024)}]}
    error(api.call("PUT", f"/api/v1/products/{pk}/tsl", big), 413)
    error(api.call("PUT", "/api/v1/products/nosuchpk1/tsl", TSL), 404)
    assert api.ok("GET", f"/api/v1/products/{pk}/tsl") == TSL  # unchanged by the refusals


# --------------------------------------------------------------------------------------------
# devices


def test_create_show_list_devices(api):
    pk = api.product("devices")["productKey"]
    d = api.device(pk, "dev-1")
    assert d["productKey"] == pk and d["deviceName"] == "dev-1" and len(d["deviceSecret"]) == 32
    gen = api.device(pk)
    assert len(gen["deviceName"]) == 20
    own = api.ok("POST", f"/api/v1/products/{pk}/devices",
                 {"deviceName": "dev-2", "deviceSecret": "mySecret"}, 201)
    assert own["deviceSecret"] == "mySecret"
    s = api.show(pk, "dev-1")
    assert s["status"] == "UNACTIVE" and s["enabled"] is True
    assert s["deviceSecret"] == d["deviceSecret"] and s["ip"] == ""
    assert s["firstOnline"] is None and isinstance(s["created"], int)
    listed = api.ok("GET", f"/api/v1/products/{pk}/devices")
    assert listed["total"] == 3
    assert sorted(x["deviceName"] for x in listed["devices"]) == \
        sorted(["dev-1", "dev-2", gen["deviceName"]])
    assert all(x["status"] == "UNACTIVE" for x in listed["devices"])
    page = api.ok("GET", f"/api/v1/products/{pk}/devices?offset=1&limit=1")
    assert (page["offset"], page["limit"], len(page["devices"])) == (1, 1, 1)
    assert api.ok("GET", f"/api/v1/products/{pk}")["deviceCount"] == 3


@pytest.mark.parametrize("body,status,words", [
    ({"deviceName": "dev-1"}, 409, ["already exists"]),
    ({"deviceName": "a/b+"}, 400, ["deviceName"]),
    ({"deviceName": "abc"}, 400, ["deviceName"]),
    ({"deviceName": 1234}, 400, ['"deviceName" must be a string']),
    ({"deviceName": "dev-9", "extra": True}, 400, ['unknown field "extra"']),
])
def test_create_device_refusals(api, body, status, words):
    pk = api.product("refusals")["productKey"]
    api.device(pk, "dev-1")
    error(api.call("POST", f"/api/v1/products/{pk}/devices", body), status, *words)
    assert api.ok("GET", f"/api/v1/products/{pk}/devices")["total"] == 1  # nothing half-written


def test_list_query_errors(api):
    pk = api.product("q")["productKey"]
    for q in ["limit=0", "limit=1001", "offset=-1", "limit=x", "status=SLEEPING"]:
        error(api.call("GET", f"/api/v1/products/{pk}/devices?{q}"), 400)


def test_status_online_disable_enable_delete(api, client_factory):
    pk = api.product("status")["productKey"]
    ds = api.device(pk, "dev-1")["deviceSecret"]
    api.device(pk, "dev-2")
    dev = connect_device(client_factory, pk, "dev-1", ds, client_id="c-1").connect()
    s = api.show(pk, "dev-1")
    assert s["status"] == "ONLINE" and s["ip"] == "127.0.0.1" and s["transport"] == "tcp"
    assert s["clientId"].startswith("c-1|")
    online = api.ok("GET", f"/api/v1/products/{pk}/devices?status=ONLINE")
    assert [x["deviceName"] for x in online["devices"]] == ["dev-1"] and online["total"] == 1
    unactive = api.ok("GET", f"/api/v1/products/{pk}/devices?status=UNACTIVE")
    assert [x["deviceName"] for x in unactive["devices"]] == ["dev-2"]

    r = api.ok("POST", f"/api/v1/products/{pk}/devices/dev-1/disable")
    assert r["status"] == "DISABLE" and r["enabled"] is False
    assert dev.disconnected.wait(WAIT), "disabling must disconnect the device"
    again = connect_device(client_factory, pk, "dev-1", ds)
    again.connect(expect_rc=5)
    assert api.ok("GET", f"/api/v1/products/{pk}/devices?status=DISABLE")["total"] == 1

    r = api.ok("POST", f"/api/v1/products/{pk}/devices/dev-1/enable")
    assert r["enabled"] is True and r["status"] == "OFFLINE"
    dev2 = connect_device(client_factory, pk, "dev-1", ds).connect()
    assert api.show(pk, "dev-1")["status"] == "ONLINE"

    r = api.ok("DELETE", f"/api/v1/products/{pk}/devices/dev-1")
    assert r["deleted"] is True
    assert dev2.disconnected.wait(WAIT), "deleting must disconnect the device"
    error(api.call("GET", f"/api/v1/products/{pk}/devices/dev-1"), 404, "device")
    error(api.call("DELETE", f"/api/v1/products/{pk}/devices/dev-1"), 404)
    error(api.call("POST", f"/api/v1/products/{pk}/devices/dev-1/disable"), 404)
    connect_device(client_factory, pk, "dev-1", ds).connect(expect_rc=4)


# --------------------------------------------------------------------------------------------
# batch


def test_batch_by_prefix_and_names(api):
    pk = api.product("batch")["productKey"]
    r = api.ok("POST", f"/api/v1/products/{pk}/devices/batch", {"prefix": "lamp", "count": 12},
               201)
    names = [d["deviceName"] for d in r["devices"]]
    assert names == [f"lamp{i:02d}" for i in range(1, 13)]
    assert all(len(d["deviceSecret"]) == 32 for d in r["devices"])
    r = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
               {"deviceNames": ["x-0001", "x-0002"]}, 201)
    assert [d["deviceName"] for d in r["devices"]] == ["x-0001", "x-0002"]
    r = api.ok("POST", f"/api/v1/products/{pk}/devices/batch", {"count": 3}, 201)
    assert len(r["devices"]) == 3
    assert api.ok("GET", f"/api/v1/products/{pk}/devices")["total"] == 17


@pytest.mark.parametrize("body,status", [
    ({"prefix": "d", "count": 50001}, 400),
    ({"count": 0}, 400),
    ({"count": "10"}, 400),
    ({"prefix": "d"}, 400),
    ({"prefix": "bad/", "count": 2}, 400),
    ({"deviceNames": [f"n{i:06d}" for i in range(50001)]}, 400),
    ({"deviceNames": ["ok-01", "bad+name"]}, 400),
    ({"deviceNames": ["ok-01", 7]}, 400),
    ({"deviceNames": ["ok-01"], "count": 1}, 400),
    ({"deviceNames": ["dup-01", "dup-01"]}, 409),
    ({"deviceNames": ["new-01", "exists"]}, 409),
])
def test_batch_refusals_write_nothing(api, body, status):
    pk = api.product("batch refusals")["productKey"]
    api.device(pk, "exists")
    error(api.call("POST", f"/api/v1/products/{pk}/devices/batch", body), status)
    assert api.ok("GET", f"/api/v1/products/{pk}/devices")["total"] == 1


def test_batch_of_50000(api):
    pk = api.product("big")["productKey"]
    r = api.ok("POST", f"/api/v1/products/{pk}/devices/batch", {"prefix": "s", "count": 50000},
               201)
    assert len(r["devices"]) == 50000
    assert r["devices"][0]["deviceName"] == "s00001"
    assert r["devices"][-1]["deviceName"] == "s50000"
    assert len({d["deviceSecret"] for d in r["devices"]}) == 50000
    last = api.ok("GET", f"/api/v1/products/{pk}/devices?offset=49000&limit=1000")
    assert last["total"] == 50000 and len(last["devices"]) == 1000
    assert last["devices"][-1]["deviceName"] == "s50000"
    assert api.show(pk, "s25000")["deviceSecret"] == r["devices"][24999]["deviceSecret"]
    unactive = api.ok("GET", f"/api/v1/products/{pk}/devices?status=UNACTIVE&limit=5")
    assert unactive["total"] == 50000 and len(unactive["devices"]) == 5


# --------------------------------------------------------------------------------------------
# applications


def test_apps(api):
    p1, p2 = api.product("a1")["productKey"], api.product("a2")["productKey"]
    a = api.ok("POST", "/api/v1/apps", {"name": "backend", "products": [p2, p1]}, 201)
    assert set(a) >= {"appKey", "appSecret", "name", "products"}
    assert a["name"] == "backend" and sorted(a["products"]) == sorted([p1, p2])
    assert a["appKey"] in [x["appKey"] for x in api.ok("GET", "/api/v1/apps?limit=1000")["apps"]]
    assert api.ok("GET", f"/api/v1/apps/{a['appKey']}")["appSecret"] == a["appSecret"]
    error(api.call("POST", "/api/v1/apps", {"name": "x", "products": ["nosuchpk1"]}), 404)
    error(api.call("POST", "/api/v1/apps", {"name": "x", "products": p1}), 400, "products")
    error(api.call("POST", "/api/v1/apps", {"products": [p1]}), 400, "name")
    error(api.call("GET", "/api/v1/apps/nosuchapp"), 404)


def test_app_client_receives_device_messages(api, client_factory):
    pk = api.product("app-fed")["productKey"]
    ds = api.device(pk, "dev-1")["deviceSecret"]
    a = api.ok("POST", "/api/v1/apps", {"name": "consumer", "products": [pk]}, 201)
    cred = aliyun.app_credentials(a["appKey"], a["appSecret"])
    app = client_factory(client_id=cred["client_id"], username=cred["username"],
                         password=cred["password"])
    assert app.subscribe(f"/{pk}/+/user/update", 1) == [1]
    assert app.subscribe(f"/as/mqtt/status/{pk}/+", 1) == [1]
    assert app.subscribe([("#", 1), ("/otherproduct/+/user/update", 1)]) == [128, 128]
    dev = connect_device(client_factory, pk, "dev-1", ds).connect()
    dev.publish(f"/{pk}/dev-1/user/update", b"reading", qos=1)
    got = {}
    while len(got) < 2:  # the status event and the reading, in either order
        m = app.get()
        got[m.topic] = m.payload
    assert got[f"/{pk}/dev-1/user/update"] == b"reading"
    assert json.loads(got[f"/as/mqtt/status/{pk}/dev-1"])["status"] == "online"
    # The application commands the device on a topic the device may subscribe to.
    assert dev.subscribe(f"/{pk}/dev-1/user/get", 1) == [1]
    app.publish(f"/{pk}/dev-1/user/get", b"command", qos=1)
    assert dev.get().payload == b"command"
    dev.disconnect()
    status = app.get_where(lambda m: m.topic == f"/as/mqtt/status/{pk}/dev-1")
    assert json.loads(status.payload)["status"] == "offline"


# --------------------------------------------------------------------------------------------
# pub


def test_pub_reaches_a_device_and_a_generic_subscriber(api, client_factory):
    pk = api.product("pub")["productKey"]
    ds = api.device(pk, "dev-1")["deviceSecret"]
    topic = f"/{pk}/dev-1/user/get"
    watcher = client_factory()
    assert watcher.subscribe(topic, 1) == [1]  # allow_anonymous: a generic client may
    dev = connect_device(client_factory, pk, "dev-1", ds).connect()
    assert dev.subscribe(topic, 1) == [1]
    payload = bytes(range(256))
    r = api.ok("POST", "/api/v1/pub", {"productKey": pk, "deviceName": "dev-1", "topic": topic,
                                        "payload": b64(payload), "qos": 1})
    assert isinstance(r["messageId"], int)
    got = dev.get()
    assert (got.topic, got.payload, got.qos) == (topic, payload, 1)
    assert watcher.get().payload == payload
    # without deviceName: any topic some device of the product may subscribe to
    api.ok("POST", "/api/v1/pub", {"productKey": pk, "topic": topic, "payload": b64("all")})
    assert dev.get().payload == b"all"


@pytest.mark.parametrize("change,status,words", [
    ({"topic": "/{pk}/dev-1/user/+"}, 400, ["topic"]),
    ({"topic": "/{pk}/dev-1/user/update"}, 400, ["may not subscribe"]),
    ({"topic": "/{pk}/other-dev/user/get"}, 400, ["may not subscribe"]),
    ({"topic": "/elsewhere"}, 400, []),
    ({"payload": "not base64!"}, 400, ["base64"]),
    ({"payload": 5}, 400, ['"payload" must be a string']),
    ({"qos": 2}, 400, ["qos"]),
    ({"qos": "1"}, 400, ["qos"]),
    ({"deviceName": "nosuchdev"}, 404, ["device"]),
    ({"productKey": "nosuchpk1"}, 404, ["product"]),
    ({"payload": None}, 400, ['missing field "payload"']),
    ({"retain": True}, 400, ['unknown field "retain"']),
    ({"payload": "A" * (350 * 1024 // 3 * 4)}, 413, []),
])
def test_pub_refusals(api, change, status, words):
    pk = api.product("pub refusals")["productKey"]
    api.device(pk, "dev-1")
    body = {"productKey": pk, "deviceName": "dev-1", "topic": f"/{pk}/dev-1/user/get",
            "payload": b64("x"), "qos": 0}
    for k, v in change.items():
        body[k] = v.replace("{pk}", pk) if isinstance(v, str) and k == "topic" else v
    error(api.call("POST", "/api/v1/pub", body), status, *words)


# --------------------------------------------------------------------------------------------
# dynamic registration over HTTP (docs/protocol.md "Dynamic registration"): HTTP 200 with the platform's code


def register(api, pk, dn, secret, method="hmacsha256", random="r123"):
    sign = aliyun.hmac_hex(method, secret, f"deviceName{dn}productKey{pk}random{random}")
    form = f"productKey={pk}&deviceName={dn}&random={random}&sign={sign}&signMethod={method}"
    r = api.call("POST", "/auth/register/device", raw=form.encode(), token=None,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r
    return r.json


def test_http_dynamic_registration(api, client_factory):
    p = api.product("dynreg", dynamicRegistration=True)
    pk, ps = p["productKey"], p["productSecret"]
    ds = api.device(pk, "reg-1")["deviceSecret"]
    r = register(api, pk, "reg-1", ps)
    assert r == {"code": 200, "message": "success",
                 "data": {"productKey": pk, "deviceName": "reg-1", "deviceSecret": ds}}
    assert register(api, pk, "reg-1", ps, method="hmacmd5")["code"] == 200
    assert register(api, pk, "reg-1", "wrong")["code"] == 6600
    assert register(api, pk, "no-such-dev", ps)["code"] == 6100
    connect_device(client_factory, pk, "reg-1", ds).connect().disconnect()
    assert register(api, pk, "reg-1", ps)["code"] == 6289  # already active
    off = api.product("no dynreg")
    api.device(off["productKey"], "reg-1")
    assert register(api, off["productKey"], "reg-1", off["productSecret"])["code"] == 6288
    r = api.call("POST", "/auth/register/device", raw=b"productKey=%zz", token=None)
    assert r.status == 200 and r.json["code"] == 460


def test_the_node_is_named_after_the_host_by_default(api):
    nodes = api.ok("GET", "/api/v1/cluster")["nodes"]
    assert [n["node"] for n in nodes] == [socket.gethostname()]
