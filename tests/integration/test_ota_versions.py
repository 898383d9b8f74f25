"""Firmware versions (docs/http-api.md "OTA"): what devices report on /ota/device/inform, in the
payloads the official C SDK sends (`{"id":"1","params":{"version":"..."}}` at every connect, and
with `"module"` for a named module), is kept per device and module and counted per product by
the API; a new report replaces the module's old one; a malformed report stores nothing and
leaves the device connected; versions survive a restart; deleting a device drops its versions.
"""

from __future__ import annotations

import json

import pytest

import aliyun
from harness import poll_until
from mqtt_clients import MqttClient

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics")


def device_client(broker, pk: str, d: dict, made: list) -> MqttClient:
    cred = aliyun.device_credentials(pk, d["deviceName"], d["deviceSecret"])
    c = MqttClient(broker, client_id=cred["client_id"], clean_session=True, keepalive=60,
                   username=cred["username"], password=cred["password"])
    made.append(c)
    return c.connect()


def inform(c: MqttClient, pk: str, dn: str, version: str, module: str | None = None,
           msg_id: str = "1") -> None:
    params = {"version": version}
    if module is not None:
        params["module"] = module
    c.publish(f"/ota/device/inform/{pk}/{dn}", json.dumps({"id": msg_id, "params": params}),
              qos=1)


def versions_of(api, pk: str, dn: str) -> dict:
    body = api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/ota/versions")
    return {m["module"]: m["version"] for m in body["modules"]}


def counts_of(api, pk: str) -> list:
    body = api.ok("GET", f"/api/v1/products/{pk}/ota/versions")
    return [(v["module"], v["version"], v["devices"]) for v in body["versions"]]


def test_versions_per_device_and_counts_per_product(broker, api, made):
    pk = api.product("ota versions")["productKey"]
    a, b = api.device(pk), api.device(pk)
    ca, cb = device_client(broker, pk, a, made), device_client(broker, pk, b, made)
    assert versions_of(api, pk, a["deviceName"]) == {}
    inform(ca, pk, a["deviceName"], "app-1.0.0")
    inform(ca, pk, a["deviceName"], "mcu-2.1", module="MCU")
    inform(cb, pk, b["deviceName"], "app-1.0.0")
    poll_until(lambda: counts_of(api, pk),
               lambda v: v == [("MCU", "mcu-2.1", 1), ("default", "app-1.0.0", 2)])
    # a new report of a module replaces the old one
    inform(cb, pk, b["deviceName"], "app-1.1.0", msg_id="2")
    poll_until(lambda: versions_of(api, pk, b["deviceName"]), lambda v: v == {"default": "app-1.1.0"})
    assert counts_of(api, pk) == [("MCU", "mcu-2.1", 1), ("default", "app-1.0.0", 1),
                                  ("default", "app-1.1.0", 1)]
    modules = api.ok("GET", f"/api/v1/products/{pk}/devices/{a['deviceName']}/ota/versions")
    assert modules["productKey"] == pk and modules["deviceName"] == a["deviceName"]
    assert all(m["reportedAt"] > 0 for m in modules["modules"])

    # malformed reports: nothing stored, the device stays connected and is served
    for bad in ('{"id":"3","params":{}}', '{"id":"3","params":{"version":""}}',
                '{"id":"3","params":{"version":"1","module":"no spaces"}}', "not json",
                json.dumps({"id": "3", "params": {"version": "v" * 65}})):
        ca.publish(f"/ota/device/inform/{pk}/{a['deviceName']}", bad, qos=1)
    inform(ca, pk, a["deviceName"], "app-1.2.0", msg_id="4")
    poll_until(lambda: versions_of(api, pk, a["deviceName"]),
               lambda v: v == {"default": "app-1.2.0", "MCU": "mcu-2.1"})
    assert ca.c.is_connected()

    # another device's topic is not its to report on (permissions)
    cb.publish(f"/ota/device/inform/{pk}/{a['deviceName']}",
               json.dumps({"id": "5", "params": {"version": "forged"}}), qos=0)
    broker.restart()
    assert versions_of(api, pk, a["deviceName"]) == {"default": "app-1.2.0", "MCU": "mcu-2.1"}
    assert versions_of(api, pk, b["deviceName"]) == {"default": "app-1.1.0"}

    api.ok("DELETE", f"/api/v1/products/{pk}/devices/{b['deviceName']}")
    assert counts_of(api, pk) == [("MCU", "mcu-2.1", 1), ("default", "app-1.2.0", 1)]


def test_unknown_product_and_device_are_404(api):
    pk = api.product("ota 404")["productKey"]
    assert api.call("GET", "/api/v1/products/nosuchpk01/ota/versions").status == 404
    assert api.call("GET", f"/api/v1/products/{pk}/devices/ghost/ota/versions").status == 404
    assert api.call("GET", f"/api/v1/products/{pk}/ota/versions", token=None).status == 401
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/versions")["versions"] == []
