"""A real browser as an MQTT client: headless Debian Chromium opens tests/browser/index.html,
whose MQTT.js (browser bundle) connects over ws and wss, subscribes, publishes to itself, and
shows what it receives in the DOM. The test publishes one more message per connection from a
HTTP API (POST /api/v1/pub) and the page must show it.
tests/browser/drive.js drives the page with playwright-core.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

import harness
from apiclient import Api, b64
from transport_broker import broker  # noqa: F401

pytestmark = pytest.mark.thingport_only(reason="thingport's ws and wss listeners")

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "browser" / "drive.js"
NODE = shutil.which("node") or "/usr/bin/node"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def next_line(lines: "queue.Queue[str]", timeout: float, what: str, err: Path) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"driver: no {what} within {timeout}s\n"
                             f"{err.read_text(errors='replace')[-3000:]}") from None


def test_browser_page_over_ws_and_wss(broker, tmp_path):
    if not (ROOT / "tests" / "js" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run scripts/deps.sh")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/deps.sh")
    # The page listens under a device's custom topic class, so the cloud side can reach it through
    # POST /api/v1/pub (which only sends to topics some device of the product may subscribe to).
    api = Api(broker)
    pk = api.product("browser page")["productKey"]
    api.ok("POST", f"/api/v1/products/{pk}/topics",
           {"topic": "/${productKey}/${deviceName}/user/#", "access": "sub"}, 201)
    api.device(pk, "page-device")
    topic = f"/{pk}/page-device/user/{harness.unique_id('b')}"
    want = {"ws": f"to the page over ws {harness.unique_id('m')}",
            "wss": f"to the page over wss {harness.unique_id('m')}"}
    cmd = [NODE, str(DRIVER),
           "--ws", f"ws://127.0.0.1:{broker.port_of('ws')}/mqtt",
           "--wss", f"wss://localhost:{broker.port_of('wss')}/",
           "--cert", str(broker.data / "server.pem"),
           "--topic", topic, "--expect-ws", want["ws"], "--expect-wss", want["wss"]]
    err = tmp_path / "driver.stderr"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "CHROMIUM": CHROMIUM})
    harness._track(proc)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.decode().rstrip("\n"))
                                     for l in iter(proc.stdout.readline, b"")] + [lines.put("")],
                     daemon=True).start()
    try:
        # Chromium starts, the page connects both ways and receives its own messages
        first = next_line(lines, 30, "READY", err)
        assert first == "READY", f"driver: {first!r}\n{err.read_text(errors='replace')[-3000:]}"
        for name in ("ws", "wss"):
            api.ok("POST", "/api/v1/pub", {"productKey": pk, "topic": f"{topic}/{name}/external",
                                           "payload": b64(want[name]), "qos": 1})
        last = next_line(lines, 25, "result", err)
        result = json.loads(last)
        assert result["ok"], result
        for name in ("ws", "wss"):
            assert result[name] == [f"hello from the page over {name}", want[name]], result
        assert proc.wait(10) == 0
    finally:
        harness.kill_process(proc, 5)
