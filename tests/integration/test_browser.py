"""A real browser as an MQTT client: headless Debian Chromium opens tests/browser/index.html,
whose MQTT.js (browser bundle) connects over ws and wss, subscribes, publishes to itself, and
shows what it receives in the DOM. The test publishes one more message per connection from a
plain TCP client (later: from the HTTP API) and the page must show it.
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
from transport_broker import broker, unique_topic  # noqa: F401

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


def test_browser_page_over_ws_and_wss(broker, client_factory, tmp_path):
    if not (ROOT / "tests" / "js" / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run scripts/deps.sh")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/deps.sh")
    topic = unique_topic("browser")
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
        sender = client_factory()
        for name in ("ws", "wss"):
            sender.publish(f"{topic}/{name}/external", want[name], 1)
        last = next_line(lines, 25, "result", err)
        result = json.loads(last)
        assert result["ok"], result
        for name in ("ws", "wss"):
            assert result[name] == [f"hello from the page over {name}", want[name]], result
        assert proc.wait(10) == 0
    finally:
        harness.kill_process(proc, 5)
