"""Remote configuration (docs/ota.md "Remote configuration"): a product's configuration files
(raw upload, digests as hashlib computes them, 64 KiB bound, list and show), thing.config.get
answered in the SDKs' format with a signed link that downloads the file (Range too; a firmware
link cannot open it), a push to the product's devices at a set rate (offline devices counted,
push_reply codes recorded, the C SDK's brace-less failure reply too), and the official Node SDK's
getConfig and onConfig against it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

import aliyun
from apiclient import Api
from harness import BrokerProcess, poll_until
from mqtt_clients import MqttClient
from test_ota import kill9

pytestmark = pytest.mark.thingport_only(reason="Aliyun remote configuration topics and API")

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def upload(api: Api, pk: str, data: bytes):
    return api.call("POST", f"/api/v1/products/{pk}/configs", raw=data,
                    headers={"Content-Type": "application/octet-stream"})


def device(broker, pk: str, dev: dict, made: list) -> MqttClient:
    cred = aliyun.device_credentials(pk, dev["deviceName"], dev["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], clean_session=True, keepalive=60,
                   username=cred["username"], password=cred["password"])
    made.append(c)
    c.connect()
    c.subscribe(f"/sys/{pk}/{dev['deviceName']}/thing/config/#", qos=1)
    return c


def get_config(c: MqttClient, pk: str, dn: str, rid: str) -> dict:
    c.publish(f"/sys/{pk}/{dn}/thing/config/get",
              json.dumps({"id": rid, "version": "1.0", "method": "thing.config.get",
                          "params": {"configScope": "product", "getType": "file"}}), qos=0)
    m = c.get_where(lambda m: m.topic == f"/sys/{pk}/{dn}/thing/config/get_reply", timeout=10)
    return json.loads(m.payload)


def path_of(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return u.path + "?" + u.query


def test_upload_get_and_download(broker, api, made):
    pk = api.product("config files")["productKey"]
    dev = api.device(pk)
    dn = dev["deviceName"]
    c = device(broker, pk, dev, made)
    # no configuration yet: 404 in the reply
    none = get_config(c, pk, dn, "7")
    assert none["code"] == 404 and none["id"] == "7" and none["data"] == {}

    first = b'{"interval": 30}'
    data = json.dumps({"interval": 10, "servers": ["a", "b"] * 100}).encode()
    r1 = upload(api, pk, first)
    assert r1.status == 201, r1
    r = upload(api, pk, data)
    assert r.status == 201, r
    cfg = r.json
    assert cfg["size"] == len(data) and cfg["signMethod"] == "Sha256"
    assert cfg["sign"] == cfg["sha256"] == hashlib.sha256(data).hexdigest()
    assert cfg["md5"] == hashlib.md5(data).hexdigest()
    assert (broker.workdir / "data" / "config" / f"{cfg['configId']}.bin").read_bytes() == data
    listed = api.ok("GET", f"/api/v1/products/{pk}/configs")["configs"]
    assert [x["configId"] for x in listed] == [r1.json["configId"], cfg["configId"]]
    assert api.ok("GET", f"/api/v1/products/{pk}/configs/{cfg['configId']}")["size"] == len(data)
    assert api.call("GET", f"/api/v1/products/{pk}/configs/{'0' * 32}").status == 404
    assert upload(api, pk, b"x" * (64 * 1024 + 1)).status == 413
    assert upload(api, pk, b"").status == 400
    assert upload(api, "nosuchproduct", b"x").status == 404
    assert api.call("POST", f"/api/v1/products/{pk}/configs", raw=b"x", token=None).status == 401

    # thing.config.get: the newest configuration, as the SDKs read it
    got = get_config(c, pk, dn, "8")
    assert got["code"] == 200 and got["id"] == "8" and got["version"] == "1.0"
    d = got["data"]
    assert d["configId"] == cfg["configId"] and d["configSize"] == len(data)
    assert d["sign"] == cfg["sha256"] and d["signMethod"] == "Sha256" and d["getType"] == "file"
    path = path_of(d["url"])
    assert path.startswith(f"/ota/config/{cfg['configId']}?")
    whole = api.call("GET", path, token=None)
    assert whole.status == 200 and hashlib.sha256(whole.body).hexdigest() == cfg["sign"]
    a = api.call("GET", path, token=None, headers={"Range": "bytes=0-99"})
    b = api.call("GET", path, token=None, headers={"Range": "bytes=100-"})
    assert a.status == 206 and b.status == 206 and a.body + b.body == data
    # the same signature cannot open a firmware, nor another device's link
    assert api.call("GET", path.replace("/ota/config/", "/ota/firmware/"), token=None).status \
        in (403, 404)
    assert api.call("GET", path.replace(f"deviceName={dn}", "deviceName=other"),
                    token=None).status == 403
    # a device asks only for itself: another's topic is not answered
    c.publish(f"/sys/{pk}/other/thing/config/get", json.dumps({"id": "9", "params": {}}))
    with pytest.raises(AssertionError):
        c.get_where(lambda m: m.topic.endswith("get_reply"), timeout=0.5)

    # delete: the newest goes, devices are given the one before, its link and files are gone
    gone = f"/api/v1/products/{pk}/configs/{cfg['configId']}"
    assert api.ok("DELETE", gone) == {"configId": cfg["configId"], "deleted": True}
    assert api.call("DELETE", gone).status == 404
    assert api.call("GET", gone).status == 404
    assert api.call("GET", path, token=None).status == 404
    assert not (broker.workdir / "data" / "config" / f"{cfg['configId']}.bin").exists()
    assert not (broker.workdir / "data" / "config" / f"{cfg['configId']}.json").exists()
    assert get_config(c, pk, dn, "10")["data"]["configId"] == r1.json["configId"]


def test_push_at_a_rate_with_replies(broker, api, made):
    pk = api.product("config push")["productKey"]
    devs = [api.device(pk) for _ in range(6)]
    online = devs[:4]
    clients = {d["deviceName"]: device(broker, pk, d, made) for d in online}
    cfg = upload(api, pk, b"mode=eco\n").json
    start = time.monotonic()
    r = api.ok("POST", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push",
               {"ratePerMinute": 120}, 202)
    assert r["devices"] == 6
    pushes = {}
    for dn, c in clients.items():
        m = c.get_where(lambda m: m.topic.endswith("/thing/config/push"), timeout=10)
        assert m.topic == f"/sys/{pk}/{dn}/thing/config/push" and m.qos == 1
        pushes[dn] = json.loads(m.payload)
    elapsed = time.monotonic() - start
    # 2 a second, the first second's worth at once: 4 devices take at least ~1 s
    assert elapsed >= 0.8, elapsed
    for dn, p in pushes.items():
        assert p["method"] == "thing.config.push" and p["version"] == "1.0"
        assert p["params"]["configId"] == cfg["configId"] and p["params"]["configSize"] == 9
        assert p["params"]["sign"] == hashlib.sha256(b"mode=eco\n").hexdigest()
        assert api.call("GET", path_of(p["params"]["url"]), token=None).body == b"mode=eco\n"
    names = sorted(clients)
    for dn in names[:3]:
        clients[dn].publish(f"/sys/{pk}/{dn}/thing/config/push_reply",
                            json.dumps({"id": pushes[dn]["id"], "code": 200, "data": {}}), qos=1)
    # the C SDK's failure reply, as it sends it (no braces, the code a string)
    last = names[3]
    clients[last].publish(f"/sys/{pk}/{last}/thing/config/push_reply",
                          f'"id":{pushes[last]["id"]},"code":"400","data":{{}}', qos=1)
    view = poll_until(
        lambda: api.ok("GET", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push"),
        lambda v: v["counts"]["replied"] == 4 and v["state"] == "done")  # offline ones at the rate too
    assert view["ratePerMinute"] == 120
    assert view["counts"] == {"waiting": 0, "sent": 0, "offline": 2, "replied": 4}
    assert view["replyCodes"] == {"200": 3, "400": 1}
    by_name = {d["deviceName"]: d for d in view["devices"]}
    assert by_name[last]["code"] == 400
    assert api.call("POST", f"/api/v1/products/{pk}/configs/{'0' * 32}/push", {}).status == 404
    assert api.call("POST", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push",
                    {"ratePerMinute": 0}).status == 400


def test_a_push_resumes_after_kill9_without_sending_twice(tmp_path: Path):
    """The push's journal (data/config/<id>.push): after kill -9 the push shows what it had done
    (sent, replied with its code), gives its devices 10 s to come back, goes on with the devices
    it had not reached, and sends none of the others again."""
    b = BrokerProcess(tmp_path, thingport_config="[limits]\nconnect_rate = 0\n")
    b.start()
    made: list = []
    try:
        api = Api(b)
        pk = api.product("config resume")["productKey"]
        devs = sorted((api.device(pk) for _ in range(5)), key=lambda d: d["deviceName"])
        names = [d["deviceName"] for d in devs]
        clients = {d["deviceName"]: device(b, pk, d, made) for d in devs}
        cfg = upload(api, pk, b"mode=resume\n").json
        url = f"/api/v1/products/{pk}/configs/{cfg['configId']}/push"
        api.ok("POST", url, {"ratePerMinute": 60}, 202)
        # one a second (the first at once): wait for two, one of them replies, then kill
        first = {}
        for dn in names[:2]:
            m = clients[dn].get_where(lambda m: m.topic.endswith("/thing/config/push"), timeout=10)
            first[dn] = json.loads(m.payload)
        clients[names[0]].publish(f"/sys/{pk}/{names[0]}/thing/config/push_reply",
                                  json.dumps({"id": first[names[0]]["id"], "code": 200,
                                              "data": {}}), qos=1)
        poll_until(lambda: api.ok("GET", url), lambda v: v["counts"]["replied"] == 1)
        kill9(b)
        for c in made:
            c.close()
        made.clear()

        b.start()
        api = Api(b)
        view = api.ok("GET", url)
        by = {d["deviceName"]: d for d in view["devices"]}
        assert by[names[0]]["state"] == "replied" and by[names[0]]["code"] == 200, view
        done_before = {dn for dn, d in by.items() if d["state"] in ("sent", "replied")}
        assert set(names[:2]) <= done_before, view
        assert view["ratePerMinute"] == 60 and view["state"] == "running", view
        clients = {d["deviceName"]: device(b, pk, d, made) for d in devs}
        rest = [dn for dn in names if dn not in done_before]
        assert rest, view  # the kill came before the push reached every device
        for dn in rest:  # after the 10 s the devices have to come back, then one a second
            m = clients[dn].get_where(lambda m: m.topic.endswith("/thing/config/push"),
                                      timeout=25)
            assert json.loads(m.payload)["params"]["configId"] == cfg["configId"]
        done = poll_until(lambda: api.ok("GET", url), lambda v: v["state"] == "done", timeout=15)
        assert done["counts"]["sent"] + done["counts"]["replied"] == 5, done
        time.sleep(1.5)  # nothing more comes: the devices pushed before the kill are not again
        for dn in done_before:
            assert not [m for m in clients[dn].drain() if m.topic.endswith("/config/push")], dn
        # a deleted configuration takes its journal with it
        api.ok("DELETE", f"/api/v1/products/{pk}/configs/{cfg['configId']}")
        assert not (b.workdir / "data" / "config" / f"{cfg['configId']}.push").exists()
    finally:
        for c in made:
            c.close()
        b.stop_and_check()


def test_the_official_node_sdk_gets_and_is_pushed_a_configuration(broker, api):
    """tests/js/aliyun_config.js: the Node SDK's getConfig answered 200 with the newest
    configuration (downloaded, its SHA-256 the sign), then onConfig called by a push, which the
    script answers with push_reply 200."""
    pk = api.product("node config")["productKey"]
    dev = {**api.device(pk), "productKey": pk}
    data = b'{"led": "on"}'
    cfg = upload(api, pk, data).json
    keep = ("productKey", "deviceName", "deviceSecret")
    proc = subprocess.Popen(["node", str(JS / "aliyun_config.js"), broker.host, str(broker.port),
                             json.dumps({k: dev[k] for k in keep})],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        steps = {}
        for line in proc.stdout:
            event = json.loads(line)
            steps[event["step"]] = event
            if event["step"] == "getConfig":
                assert event["code"] == 200, event
                assert event["data"]["configId"] == cfg["configId"]
                assert event["sha256"] == event["data"]["sign"] == hashlib.sha256(data).hexdigest()
                api.ok("POST", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push", {}, 202)
            if event["step"] in ("onConfig", "timeout", "error"):
                break
        assert proc.wait(20) == 0, (steps, proc.stderr.read())
        assert steps["onConfig"]["params"]["configId"] == cfg["configId"]
        assert steps["onConfig"]["sha256"] == hashlib.sha256(data).hexdigest()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    view = poll_until(
        lambda: api.ok("GET", f"/api/v1/products/{pk}/configs/{cfg['configId']}/push"),
        lambda v: v["counts"]["replied"] == 1)
    assert view["replyCodes"] == {"200": 1}
