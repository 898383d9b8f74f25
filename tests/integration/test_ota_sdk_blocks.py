"""The SDK's MQTT block download end to end (ota::download_blocks, docs/ota.md "MQTT block
download"): `thingport-device --ota` against `thingport serve`, a job with
"downloadProtocol":"mqtt". The device fetches the firmware in 1 KiB blocks (pacing itself), is
kicked half-way (the device disabled, then enabled again), reconnects, asks again at once for
the block after the last good one (not from the start, not after the reply timeout), checks
MD5 and SHA-256 and informs the new version: the job succeeds after one upgrade message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from harness import poll_until
from sdkprobe import sanitizer_env, sdk_bin

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")

BLOCK = 1024
SIZE = 120 * BLOCK + 77  # 121 blocks, the last one short
INTERVAL_MS = 25


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def test_the_sdk_downloads_in_blocks_and_resumes_after_a_reconnect(broker, api, tmp_path):
    pk = api.product("sdk ota blocks")["productKey"]
    dev = api.device(pk)
    dn = dev["deviceName"]
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"productKey": pk, "devices": [dev]}))
    data = os.urandom(SIZE)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=data,
                  headers={"Content-Type": "application/octet-stream"}).json
    sim = subprocess.Popen(
        [sdk_bin("cli"), "--url", f"mqtt://127.0.0.1:{broker.port}", "--batch", str(path),
         "--product-key", pk, "--ota", "1.0", "--ota-block-size", str(BLOCK),
         "--ota-block-interval", str(INTERVAL_MS), "--ota-dir", str(tmp_path / "dl"),
         "--duration", "60", "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sanitizer_env())
    try:
        poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/versions")["versions"],
                   lambda v: v == [{"module": "default", "version": "1.0", "devices": 1}],
                   timeout=20)
        t0 = time.monotonic()
        job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                     {"firmwareId": fw["firmwareId"], "devices": [dn],
                      "downloadProtocol": "mqtt", "retries": 0}, 201)["jobId"]
        # half-way (the device reports each 10%), cut its link
        at = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                        lambda j: j["devices"][0]["progress"] >= 20, timeout=20,
                        interval=0.02)["devices"][0]
        assert at["state"] == "inProgress" and at["progress"] < 100, at
        api.ok("POST", f"/api/v1/products/{pk}/devices/{dn}/disable")
        poll_until(lambda: api.show(pk, dn), lambda d: "clientId" not in d, timeout=10,
                   interval=0.02)  # its link closed (kicked)
        api.ok("POST", f"/api/v1/products/{pk}/devices/{dn}/enable")
        out, err = sim.communicate(timeout=60)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.communicate()
    took = time.monotonic() - t0
    assert sim.returncode == 0, (out[-3000:], err[-3000:])
    summary = json.loads(out.split("summary ", 1)[1].splitlines()[0])
    assert summary["upgraded"] == 1 and summary["downloadErrors"] == 0, summary
    assert summary["bytes"] == SIZE and summary["messages"] == 1, summary
    assert summary["blockResumes"] >= 1, summary
    m = re.search(r"blocks: (\d+) requests, (\d+) resumed, last at (\d+)", out)
    assert m, out[-3000:]
    requests, resumed, last = (int(x) for x in m.groups())
    blocks = -(-SIZE // BLOCK)
    # resumed from the last good block: a few requests asked again, not the file from 0
    assert last >= 2 * SIZE // 10 and last % BLOCK == 0, m.group(0)
    assert blocks < requests <= blocks + 2 * resumed + 2, m.group(0)

    done = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                      lambda j: j["state"] == "done", timeout=20)
    assert done["counts"]["succeeded"] == 1, done
    assert done["devices"][0]["attempts"] == 1 and done["devices"][0]["progress"] == 100
    versions = api.ok("GET", f"/api/v1/products/{pk}/devices/{dn}/ota/versions")
    assert versions["modules"][0]["version"] == "2.0"
    print(f"\nSDK MQTT blocks: {SIZE} bytes in {blocks} blocks of {BLOCK} ({INTERVAL_MS} ms "
          f"apart), {requests} requests, resumed at {last} after a reconnect; "
          f"job done {took:.1f} s after it was created")
