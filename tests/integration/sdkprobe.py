"""The C++ device SDK's binaries for the integration tests, and a driver for the probe.

Binaries come from the build that made the server: THINGPORT_BIN=<build>/src/app/thingport gives
<build>/sdk/; THINGPORT_SDK_BUILD=<dir> overrides it (a separate build of the SDK).

Probe (sdk/tests/probe.cpp): one SDK client; commands on stdin, one JSON event per stdout line.
Waits are on its events, each with a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

import pytest

import harness
from harness import WAIT, kill_process

Event = Dict[str, object]


def sdk_dir() -> Path:
    d = os.environ.get("THINGPORT_SDK_BUILD")
    if d:
        return Path(d)
    assert harness.THINGPORT_BIN, "THINGPORT_BIN (or THINGPORT_SDK_BUILD) must name the build"
    return Path(harness.THINGPORT_BIN).resolve().parents[2] / "sdk"


def sdk_bin(name: str) -> str:
    paths = {"probe": "tests/thingport-device-probe", "cli": "thingport-device",
             "aliyun_device": "examples/example-aliyun_device",
             "gateway": "examples/example-gateway",
             "self_upgrade": "examples/example-self_upgrade"}
    p = sdk_dir() / paths[name]
    assert p.exists(), f"{p} is not built (cmake --build ... --target {p.name})"
    return str(p)


def sanitizer_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


class Probe:
    def __init__(self, *args: str):
        self.args = [sdk_bin("probe"), *args]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=sanitizer_env(),
                                     start_new_session=True)
        harness._track(self.proc)
        self.events: List[Event] = []
        self.stderr: List[str] = []
        self._cv = threading.Condition()
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "unparsed", "line": line}
            ev["t"] = time.monotonic()
            with self._cv:
                self.events.append(ev)
                self._cv.notify_all()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def mark(self) -> int:
        with self._cv:
            return len(self.events)

    def wait(self, pred: Callable[[Event], bool], timeout: float = WAIT, after: int = 0) -> Event:
        """The first event at index >= after for which pred holds."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ev in self.events[after:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._threads[0].is_alive():
                    raise AssertionError(f"no matching probe event within {timeout}s; "
                                         f"events: {self.events[-30:]}\nstderr: "
                                         f"{''.join(self.stderr)[-3000:]}")
                self._cv.wait(min(left, 0.2))

    def wait_event(self, kind: str, timeout: float = WAIT, after: int = 0, **fields) -> Event:
        return self.wait(lambda e: e.get("event") == kind and
                         all(e.get(k) == v for k, v in fields.items()), timeout, after)

    def wait_n(self, kind: str, n: int, timeout: float = WAIT, after: int = 0) -> List[Event]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                got = [e for e in self.events[after:] if e.get("event") == kind]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {n} {kind} events within {timeout}s; "
                                         f"last events: {self.events[-20:]}")
                self._cv.wait(min(left, 0.2))

    def of(self, kind: str) -> List[Event]:
        with self._cv:
            return [e for e in self.events if e.get("event") == kind]

    def connected(self, timeout: float = 15.0, after: int = 0) -> Event:
        return self.wait_event("status", timeout, after, state="connected")

    def stats(self) -> Event:
        at = self.mark()
        self.send("stats")
        return self.wait_event("stats", after=at)

    def close(self, timeout: float = 15.0) -> int:
        """quit; the probe must exit 0 (ASan leak check included)."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_process(self.proc, 1)
                raise AssertionError(f"probe did not exit within {timeout}s of quit; "
                                     f"events: {self.events[-20:]}")
        for t in self._threads:
            t.join(5)
        harness._untrack(self.proc)
        rc = self.proc.returncode
        assert rc == 0, f"probe exit code {rc}\nstderr: {''.join(self.stderr)[-4000:]}"
        return rc

    def kill(self) -> None:
        kill_process(self.proc, 2)


def run_tool(args: List[str], timeout: float) -> subprocess.CompletedProcess:
    """Runs an SDK binary to completion (bounded), with the sanitizer settings."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=sanitizer_env())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (to show a waiting client is not spinning)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def probes():
    """probes(*args) -> a running Probe; killed at teardown if a test did not close it."""
    made: List[Probe] = []

    def make(*args: str) -> Probe:
        p = Probe(*args)
        made.append(p)
        return p

    yield make
    for p in made:
        if p.proc.poll() is None:
            p.kill()
