"""A job is static (docs/ota.md "Jobs"): a device of the job that is offline when the job starts
stays `waiting`, is sent nothing while away, and gets its upgrade message once it comes online;
the job is `running` until then, and completes when it informs the new version."""

from __future__ import annotations

import json

import pytest

from harness import poll_until
from test_ota_mqtt_download import device
from test_ota_timeout import upgrade

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def test_a_device_online_later_gets_its_upgrade(broker, api, made):
    pk = api.product("ota static")["productKey"]
    online, away = sorted(api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                                 {"prefix": "st", "count": 2}, 201)["devices"],
                          key=lambda d: d["deviceName"])
    first = device(broker, pk, online, made)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=b"fw" * 100,
                  headers={"Content-Type": "application/octet-stream"}).json
    job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs", {"firmwareId": fw["firmwareId"]},
                 201)["jobId"]
    url = f"/api/v1/products/{pk}/ota/jobs/{job}"
    assert upgrade(first)["data"]["version"] == "2.0"
    first.publish(f"/ota/device/inform/{pk}/{online['deviceName']}",
                  json.dumps({"id": "1", "params": {"version": "2.0"}}), qos=1)
    j = poll_until(lambda: api.ok("GET", url), lambda j: j["counts"]["succeeded"] == 1)
    assert j["state"] == "running" and j["counts"]["waiting"] == 1, j
    by = {d["deviceName"]: d for d in j["devices"]}
    assert by[away["deviceName"]]["state"] == "waiting", by
    assert by[away["deviceName"]].get("attempts", 0) == 0, by

    later = device(broker, pk, away, made)
    up = upgrade(later)
    assert up["data"]["version"] == "2.0" and up["data"]["size"] == 200, up
    later.publish(f"/ota/device/inform/{pk}/{away['deviceName']}",
                  json.dumps({"id": "2", "params": {"version": "2.0"}}), qos=1)
    done = poll_until(lambda: api.ok("GET", url), lambda j: j["state"] == "done")
    assert done["counts"]["succeeded"] == 2 and done["counts"]["failed"] == 0, done
