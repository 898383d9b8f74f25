"""A device that never reports (docs/ota.md "Jobs"): with `timeoutMinutes` its attempt fails
(step -1) once it has been in progress that long, goes back to waiting while it has retries,
is sent the upgrade message again, and fails for good when they are spent. The server runs with
`[ota] timeout_unit_seconds = 1`, so that the job's minutes last a second each: no waiting for
minutes. A device that does report, in the same job, is not timed out.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

import harness
from harness import poll_until
from test_ota_mqtt_download import device

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")

TIMEOUT = 2  # "minutes", a second each here


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config":
            "[limits]\nconnect_rate = 0\n[ota]\ntimeout_unit_seconds = 1\n"}


def upgrade(c, timeout: float = 10) -> dict:
    return json.loads(c.get_where(lambda m: m.topic.startswith("/ota/device/upgrade/"),
                                  timeout=timeout).payload)


def test_a_silent_device_times_out_is_retried_then_fails(broker, api, made):
    pk = api.product("ota timeout")["productKey"]
    devs = sorted(api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                         {"prefix": "to", "count": 2}, 201)["devices"],
                  key=lambda d: d["deviceName"])
    silent, good = (device(broker, pk, d, made) for d in devs)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=b"fw" * 100,
                  headers={"Content-Type": "application/octet-stream"}).json
    job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                 {"firmwareId": fw["firmwareId"], "retries": 1, "timeoutMinutes": TIMEOUT},
                 201)["jobId"]
    url = f"/api/v1/products/{pk}/ota/jobs/{job}"
    assert api.ok("GET", url)["timeoutMinutes"] == TIMEOUT

    first = upgrade(silent)
    t_first = time.monotonic()
    upgrade(good)
    gdn = devs[1]["deviceName"]
    good.publish(f"/ota/device/progress/{pk}/{gdn}",
                 json.dumps({"id": "1", "params": {"step": "50", "desc": "half"}}), qos=1)
    # The timeout counts from the upgrade message (as Aliyun's timeoutInMinutes): the good one
    # completes well within it.
    good.publish(f"/ota/device/inform/{pk}/{gdn}",
                 json.dumps({"id": "2", "params": {"version": "2.0"}}), qos=1)
    # the silent one: timed out after TIMEOUT "minutes", back to waiting, sent it again
    second = upgrade(silent, timeout=TIMEOUT + 5)
    t_second = time.monotonic()
    assert second["data"]["version"] == first["data"]["version"] == "2.0"
    assert TIMEOUT - 0.5 <= t_second - t_first <= TIMEOUT + 3, t_second - t_first
    # its retry spent: failed for good, with -1 recorded
    done = poll_until(lambda: api.ok("GET", url), lambda j: j["state"] == "done",
                      timeout=TIMEOUT + 5)
    t_done = time.monotonic()
    assert done["counts"] == {"waiting": 0, "inProgress": 0, "succeeded": 1, "failed": 1,
                              "canceled": 0}, done["counts"]
    by = {d["deviceName"]: d for d in done["devices"]}
    s = by[devs[0]["deviceName"]]
    assert s["state"] == "failed" and s["progress"] == -1 and s["attempts"] == 2, s
    assert by[gdn]["state"] == "succeeded" and by[gdn]["attempts"] == 1, by[gdn]
    assert TIMEOUT - 0.5 <= t_done - t_second <= TIMEOUT + 3, t_done - t_second
    # no third message
    with pytest.raises(Exception):
        upgrade(silent, timeout=1.5)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("bad", ["0", "61", '"1"'])
def test_the_timeout_unit_is_bounded(tmp_path, bad):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/data"\n[http]\nlisten = ""\n'
                   f"[ota]\ntimeout_unit_seconds = {bad}\n")
    r = subprocess.run([harness.THINGPORT_BIN, "serve", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "ota.timeout_unit_seconds" in r.stderr, (r.stdout, r.stderr)
