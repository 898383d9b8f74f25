"""The OTA done-when at scale (docs/ota.md "Jobs"): one `thingport-device --ota` process runs
1,000 devices; a job upgrades all of them at a set rate; a tenth report -2 on their first
message and are sent it again; every device downloads the firmware over HTTP with its signed
link and checks the digests, then informs the new version. At the end the counts add up
(1,000 succeeded, none failed; the failing tenth took two messages, the rest one) and no window
of the run saw more upgrade messages than the job's rate lets through. Prints the measured
download throughput and device rate."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from harness import poll_until
from sdkprobe import sanitizer_env, sdk_bin

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")

N = 1000
RATE = 12000  # a minute: 200 a second, so 1,100 messages take about 5 s
FAIL = 0.1
SIZE = 32 * 1024


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def most_in_window(times: list, width: float) -> int:
    """The most of `times` (seconds) in any window of `width` seconds."""
    times = sorted(times)
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - width:
            j += 1
        most = max(most, i - j + 1)
    return most


# The job's state is in the store: PostgreSQL would run the same statements; once is enough
# for 1,000 devices.
@pytest.mark.sqlite_only
def test_a_job_upgrades_1000_simulated_devices_at_its_rate(broker, api, tmp_path):
    pk = api.product("ota fleet")["productKey"]
    batch = api.ok("POST", f"/api/v1/products/{pk}/devices/batch",
                   {"prefix": "of", "count": N}, 201)
    path = tmp_path / "devices.json"
    path.write_text(json.dumps(batch))
    data = os.urandom(SIZE)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=data,
                  headers={"Content-Type": "application/octet-stream"})
    assert fw.status == 201, fw
    fw = fw.json

    started = time.time()
    sim = subprocess.Popen(
        [sdk_bin("cli"), "--url", f"mqtt://127.0.0.1:{broker.port}", "--batch", str(path),
         "--product-key", pk, "--ota", "1.0", "--ota-fail", str(FAIL), "--ota-workers", "4",
         "--ota-dir", str(tmp_path / "dl"), "--duration", "150"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sanitizer_env())
    try:
        # every device online and its inform stored before the job picks them by version
        poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/versions")["versions"],
                   lambda v: v == [{"module": "default", "version": "1.0", "devices": N}],
                   timeout=60)
        t0 = time.time()
        print(f"\n1000 devices online and informed in {t0 - started:.1f} s")
        job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                     {"firmwareId": fw["firmwareId"], "fromVersions": ["1.0"],
                      "ratePerMinute": RATE, "retries": 1}, 201)
        assert job["devices"] == N
        out, err = sim.communicate(timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.communicate()
    assert sim.returncode == 0, (out[-3000:], err[-3000:])
    summary = json.loads(out.split("summary ", 1)[1].splitlines()[0])
    failing = int(N * FAIL)
    assert summary["upgraded"] == N and summary["downloadErrors"] == 0, summary
    assert summary["simulatedFailures"] == failing, summary
    assert summary["messages"] == N + failing, summary
    assert summary["bytes"] == N * SIZE, summary

    j = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job['jobId']}"),
                   lambda j: j["state"] == "done", timeout=20)
    assert j["counts"] == {"waiting": 0, "inProgress": 0, "succeeded": N, "failed": 0,
                           "canceled": 0}, j["counts"]
    attempts = sorted(d["attempts"] for d in j["devices"])
    assert attempts == [1] * (N - failing) + [2] * failing
    assert all(d["progress"] == 100 for d in j["devices"])

    # The rate: a token bucket of a second's worth, refilled at RATE/60 a second. Over the
    # whole run (the server's last-sent times and the devices' receive times) and in any 5 s.
    per_s = RATE / 60
    sent = [d["sentAt"] / 1000 for d in j["devices"]]
    assert min(sent) >= t0 - 1
    for width in (1.0, 5.0):
        most = most_in_window(sent, width)
        assert most <= per_s * (width + 1) + 1, (width, most)
    per_second = summary["messagesPerSecond"]
    for i in range(len(per_second)):
        five = sum(per_second[i:i + 5])
        assert five <= per_s * 7 + 1, per_second  # 5 s, plus the burst, plus the buckets' edges
    assert summary["messageSeconds"] >= (N + failing - per_s) / per_s * 0.9, summary
    print(f"\nOTA fleet: {N} devices upgraded, {summary['messages']} upgrade messages in "
          f"{summary['messageSeconds']} s ({summary['devicesPerMinute']:.0f} devices/min at "
          f"ratePerMinute {RATE}); {summary['bytes'] / 1e6:.1f} MB downloaded in "
          f"{summary['downloadSeconds']} s = {summary['MBps']} MB/s over 4 threads; "
          f"job done {time.time() - t0:.1f} s after it was created")
