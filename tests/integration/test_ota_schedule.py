"""A job that starts at a time (docs/ota.md "Jobs", `scheduleTime`): until then it shows as
`scheduled`, sends nothing and a device asking is told of no upgrade; at its time it runs as any
job. Times outside now..30 days ahead are refused. The CLI's `ota start --at` sets it, and
`ota status --watch` draws the job's advance as a bar until it ends; `ota upload` draws its
bytes."""

from __future__ import annotations

import calendar
import json
import os
import re
import subprocess
import time

import pytest

import harness
from harness import poll_until
from test_ota_mqtt_download import device
from test_ota_timeout import upgrade

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")

DELAY_MS = 3000


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def firmware(api, pk: str, version: str = "2.0") -> str:
    return api.call("POST", f"/api/v1/products/{pk}/firmwares?version={version}",
                    raw=b"fw" * 100,
                    headers={"Content-Type": "application/octet-stream"}).json["firmwareId"]


def ask(c, pk: str, dn: str, id_: str) -> dict:
    c.publish(f"/sys/{pk}/{dn}/thing/ota/firmware/get",
              json.dumps({"id": id_, "version": "1.0", "params": {"module": "default"},
                          "method": "thing.ota.firmware.get"}), qos=0)
    return json.loads(c.get_where(lambda m: m.topic.endswith("/get_reply") and
                                  json.loads(m.payload)["id"] == id_).payload)


def test_a_scheduled_job_sends_nothing_before_its_time(broker, api, made):
    pk = api.product("ota schedule")["productKey"]
    d = api.device(pk)
    dn = d["deviceName"]
    c = device(broker, pk, d, made)
    c.subscribe(f"/sys/{pk}/{dn}/thing/ota/firmware/get_reply", qos=0)
    fw = firmware(api, pk)
    at = int(time.time() * 1000) + DELAY_MS
    job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                 {"firmwareId": fw, "scheduleTime": at}, 201)["jobId"]
    url = f"/api/v1/products/{pk}/ota/jobs/{job}"
    j = api.ok("GET", url)
    assert j["state"] == "scheduled" and j["scheduleTime"] == at, j
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/jobs")["jobs"][0]["state"] == "scheduled"
    # asking before the time: no upgrade yet
    assert ask(c, pk, dn, "1")["data"] == {}
    c.publish(f"/ota/device/request/{pk}/{dn}",
              json.dumps({"id": "2", "params": {"version": "1.0", "module": "default"}}), qos=1)
    with pytest.raises(Exception):
        upgrade(c, timeout=max(0.1, at / 1000 - time.time() - 0.5))
    assert time.time() * 1000 < at  # the silence above was before its time
    j = api.ok("GET", url)
    assert j["counts"]["waiting"] == 1 and j["devices"][0]["attempts"] == 0, j
    # at its time it runs
    up = upgrade(c, timeout=DELAY_MS / 1000 + 5)
    assert time.time() * 1000 >= at - 50  # sent at its time, not before (clock granularity)
    assert up["data"]["version"] == "2.0", up
    assert api.ok("GET", url)["state"] == "running"
    assert ask(c, pk, dn, "3")["data"]["version"] == "2.0"
    c.publish(f"/ota/device/inform/{pk}/{dn}",
              json.dumps({"id": "4", "params": {"version": "2.0"}}), qos=1)
    done = poll_until(lambda: api.ok("GET", url), lambda j: j["state"] == "done")
    assert done["counts"]["succeeded"] == 1 and done["scheduleTime"] == at, done


def test_a_job_without_a_time_shows_none_and_a_scheduled_one_can_be_canceled(api):
    pk = api.product("ota schedule cancel")["productKey"]
    api.device(pk)
    fw = firmware(api, pk)
    now = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs", {"firmwareId": fw}, 201)["jobId"]
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{now}")["scheduleTime"] is None
    later = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                   {"firmwareId": fw, "scheduleTime": int(time.time() * 1000) + 3_600_000},
                   201)["jobId"]
    url = f"/api/v1/products/{pk}/ota/jobs/{later}"
    assert api.ok("GET", url)["state"] == "scheduled"
    assert api.ok("POST", url + "/cancel")["state"] == "canceled"
    j = api.ok("GET", url)
    assert j["state"] == "canceled" and j["counts"]["canceled"] == 1, j


@pytest.mark.parametrize("value", [
    "soon", 1.5, -1, 0,
    "past",  # ten minutes ago
    "far",  # 31 days ahead
])
def test_a_bad_schedule_time_is_refused(api, value):
    pk = api.product("ota schedule bad")["productKey"]
    api.device(pk)
    fw = firmware(api, pk)
    now = int(time.time() * 1000)
    if value == "past":
        value = now - 600_000
    elif value == "far":
        value = now + 31 * 24 * 3_600_000
    r = api.call("POST", f"/api/v1/products/{pk}/ota/jobs",
                 {"firmwareId": fw, "scheduleTime": value})
    assert r.status == 400, (r.status, r.json)
    assert "scheduleTime" in r.json["message"], r.json
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/jobs")["jobs"] == []


def test_cli_start_at_and_watch_a_job_to_its_end(broker, api, made, tmp_path):
    pk = api.product("ota schedule cli")["productKey"]
    devs = sorted(api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                         {"prefix": "cw", "count": 3}, 201)["devices"],
                  key=lambda d: d["deviceName"])
    clients = [device(broker, pk, d, made) for d in devs]
    conn = ["--api", f"http://127.0.0.1:{broker.http_port}", "--data",
            str(broker.workdir / "data")]

    def tp(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        r = subprocess.run([harness.THINGPORT_BIN, "ota", *args, *conn], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
        return r

    f = tmp_path / "fw.bin"
    f.write_bytes(os.urandom(3 * 1024 * 1024))
    up = tp("upload", pk, str(f), "--version", "3.0")
    assert "upload: 100% (3145728 of 3145728 bytes)" in up.stderr, up.stderr
    fw = json.loads(up.stdout)["firmwareId"]

    # --at: ISO 8601 UTC or epoch milliseconds; anything else is a usage error
    r = tp("start", pk, fw, "--at", "tomorrow", code=2)
    assert "--at" in r.stderr
    when = time.gmtime(time.time() + 7200)
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", when)
    later = json.loads(tp("start", pk, fw, "--at", iso).stdout)["jobId"]
    j = api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{later}")
    assert j["state"] == "scheduled" and j["scheduleTime"] == _utc_ms(iso), j
    tp("cancel", pk, later)

    at = int(time.time() * 1000) + 1500
    job = json.loads(tp("start", pk, fw, "--at", str(at)).stdout)["jobId"]
    assert api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}")["scheduleTime"] == at
    watch = subprocess.Popen([harness.THINGPORT_BIN, "ota", "status", pk, job, "--watch",
                              "--watch-limit", "60", *conn],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for i, (d, c) in enumerate(zip(devs, clients)):
            assert upgrade(c)["data"]["version"] == "3.0"
            time.sleep(1.3)  # the watcher draws each state
            c.publish(f"/ota/device/inform/{pk}/{d['deviceName']}",
                      json.dumps({"id": str(i), "params": {"version": "3.0"}}), qos=1)
            poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                       lambda j, n=i + 1: j["counts"]["succeeded"] == n)
        out, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.returncode == 0, err
    assert json.loads(out)["state"] == "done"
    bars = re.findall(r"job: \[([#.]{30})\] +(\d+)% (\d+)/3 .*?(scheduled|running|done)", err)
    pcts = [int(p) for _, p, _, _ in bars]
    assert pcts == sorted(pcts) and pcts[-1] == 100 and bars[-1][3] == "done", err
    assert pcts[0] == 0 and any(0 < p < 100 for p in pcts), err
    assert all(bar.count("#") == int(p) * 30 // 100 for bar, p, _, _ in bars), err


def _utc_ms(iso: str) -> int:
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) * 1000
