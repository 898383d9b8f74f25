"""The SDK's OTA client end to end (sdk/examples/self_upgrade.cpp against `thingport serve`):
the device informs version 1.0, gets the job's upgrade message, downloads the firmware, checks
its size, MD5 and SHA-256, reports progress, restarts as 2.0 and informs it: the job succeeds.
Then downloads cut after 120,000 bytes each and resumed with Range (three requests, each from
where the file ended), the digests checked.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from apiclient import Api
from harness import poll_until
from sdkprobe import sanitizer_env, sdk_bin

pytestmark = pytest.mark.thingport_only(reason="Aliyun OTA topics and API")


@pytest.fixture(scope="module")
def broker_settings() -> dict:
    return {"thingport_config": "[limits]\nconnect_rate = 0\n"}


def drive(broker, api: Api, pk: str, dev: dict, fw: dict, tmp_path: Path, cut: int = 0):
    """Runs the SDK example as version 1.0; starts a job for it once it has informed. Returns
    its JSON lines, the job's id and the example's exit code."""
    args = [sdk_bin("self_upgrade"), f"mqtt://{broker.host}:{broker.port}", pk,
            dev["deviceName"], dev["deviceSecret"], "1.0", str(tmp_path)]
    if cut:
        args.append(str(cut))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=sanitizer_env())
    steps = []
    job = None
    try:
        for line in proc.stdout:
            steps.append(json.loads(line))
            if steps[-1]["step"] == "informed" and job is None:
                job = api.ok("POST", f"/api/v1/products/{pk}/ota/jobs",
                             {"firmwareId": fw["firmwareId"], "devices": [dev["deviceName"]]},
                             201)["jobId"]
        code = proc.wait(30)
        assert job is not None, (steps, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return steps, job, code


def run_upgrade(broker, api: Api, tmp_path: Path, data: bytes, cut: int = 0) -> list:
    pk = api.product(f"sdk ota {cut}")["productKey"]
    dev = api.device(pk)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=data,
                  headers={"Content-Type": "application/octet-stream"}).json
    steps, job, code = drive(broker, api, pk, dev, fw, tmp_path, cut)
    assert code == 0, steps
    done = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                      lambda j: j["state"] == "done")
    assert done["counts"]["succeeded"] == 1, done
    assert done["devices"][0]["progress"] == 100
    versions = api.ok("GET", f"/api/v1/products/{pk}/devices/{dev['deviceName']}/ota/versions")
    assert versions["modules"][0]["version"] == "2.0"
    assert (tmp_path / "firmware.bin").read_bytes() == data
    return steps


def test_the_sdk_example_upgrades_itself(broker, api, tmp_path):
    data = os.urandom(200_000)
    steps = run_upgrade(broker, api, tmp_path, data)
    by = {s["step"]: s for s in steps}
    assert by["upgrade"]["version"] == "2.0" and by["upgrade"]["size"] == len(data)
    assert by["downloaded"]["ok"] and by["downloaded"]["attempts"] == 1
    assert by["restarting"]["version"] == "2.0"
    informed = [s for s in steps if s["step"] == "informed"]
    assert [s["version"] for s in informed] == ["1.0", "2.0"]
    assert informed[1]["restarted"] is True


def test_a_cut_download_resumes_with_range(broker, api, tmp_path):
    data = os.urandom(300_000)
    steps = run_upgrade(broker, api, tmp_path, data, cut=120_000)
    d = next(s for s in steps if s["step"] == "downloaded")
    assert d["ok"] and d["bytes"] == len(data), d
    # each request is cut after 120,000 bytes: three, each resuming where the file ended
    assert d["attempts"] == 3 and d["firstStart"] == 0 and d["lastStart"] == 240_000, d


def test_a_digest_mismatch_is_reported_and_recorded(broker, api, tmp_path):
    """The firmware on disk no longer matches its digests (same size, other bytes): the SDK
    checks MD5 and SHA-256 after the download, reports step -3 and keeps its version; the job
    records the device failed with -3."""
    data = os.urandom(100_000)
    pk = api.product("sdk ota digest")["productKey"]
    dev = api.device(pk)
    fw = api.call("POST", f"/api/v1/products/{pk}/firmwares?version=2.0", raw=data,
                  headers={"Content-Type": "application/octet-stream"}).json
    stored = [p for p in (broker.workdir / "data" / "firmware").iterdir()
              if p.read_bytes() == data]
    assert len(stored) == 1, stored
    stored[0].write_bytes(bytes(b ^ 0xFF for b in data[:10]) + data[10:])
    steps, job, code = drive(broker, api, pk, dev, fw, tmp_path)
    assert code == 1, steps
    d = next(s for s in steps if s["step"] == "downloaded")
    assert not d["ok"] and d["bytes"] == len(data), d
    assert not any(s["step"] == "restarting" for s in steps), steps
    done = poll_until(lambda: api.ok("GET", f"/api/v1/products/{pk}/ota/jobs/{job}"),
                      lambda j: j["state"] == "done")
    assert done["counts"]["failed"] == 1 and done["counts"]["succeeded"] == 0, done
    assert done["devices"][0]["progress"] == -3, done["devices"][0]
    versions = api.ok("GET", f"/api/v1/products/{pk}/devices/{dev['deviceName']}/ota/versions")
    assert versions["modules"][0]["version"] == "1.0"
