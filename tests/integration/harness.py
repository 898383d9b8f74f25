"""Process and client plumbing for the integration tests.

- which broker is under test (thingport from THINGPORT_BIN, or the Mosquitto reference),
- BrokerProcess: start on a free port, capture its output, restart, stop with SIGTERM,
- process tracking (nothing outlives the test run), unique ids, free ports.
The clients (paho, mosquitto_pub/sub) are in mqtt_clients.py.

Nothing here sleeps to synchronise: waits are on events, queues or process exits, each with
a deadline.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Tuple, TypeVar

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Which broker

THINGPORT_BIN = os.environ.get("THINGPORT_BIN", "")
REFERENCE = os.environ.get("TP_REFERENCE", "")
IS_MOSQUITTO = not THINGPORT_BIN or REFERENCE == "mosquitto"
BROKER_KIND = "mosquitto" if IS_MOSQUITTO else "thingport"
MOSQUITTO_BIN = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
STDBUF = shutil.which("stdbuf")

STARTUP_TIMEOUT = 10.0  # s until the broker must be listening
STOP_TIMEOUT = 5.0      # s after SIGTERM before SIGKILL
WAIT = 5.0              # default bound for "this should happen promptly"

DENY_SUBSCRIBE = "test/nosubscribe"
# THINGPORT_TEST_STORE=postgres: every thingport under test keeps its identity and thing data in
# a fresh database of one PostgreSQL the run starts (pgserver.py); tests marked sqlite_only
# (they look at the SQLite files themselves) are left to the SQLite run.
TEST_STORE = os.environ.get("THINGPORT_TEST_STORE", "sqlite")
MAX_PACKET = 262144 + 65536 + 8  # thingport's default max_payload + the largest topic + header

_ids = itertools.count(1)


def unique_id(prefix: str = "it") -> str:
    """A client id unique across runs and processes, short enough for MQTT 3.1 brokers too."""
    return f"{prefix}-{os.getpid() % 10000}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


def poll_until(fetch: Callable[[], T], ok: Callable[[T], bool], timeout: float = WAIT,
               interval: float = 0.05) -> T:
    """fetch() until ok(value), at most `timeout` seconds: for state with no event to wait on
    (an API or a metric). Returns the value; fails with the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout}s"
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Broker process

_live_brokers: List["BrokerProcess"] = []
_live_procs: List[subprocess.Popen] = []
_registry_lock = threading.Lock()


def _track(proc: subprocess.Popen) -> None:
    with _registry_lock:
        _live_procs.append(proc)


def _untrack(proc: subprocess.Popen) -> None:
    with _registry_lock:
        if proc in _live_procs:
            _live_procs.remove(proc)


def kill_process(proc: subprocess.Popen, term_timeout: float = STOP_TIMEOUT) -> Optional[int]:
    """SIGTERM, then SIGKILL after term_timeout. Returns the exit code (None if unknown)."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(term_timeout)
            except subprocess.TimeoutExpired:
                try:  # our processes run in their own session: kill what they started too
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
                proc.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    finally:
        _untrack(proc)
    return proc.returncode


@atexit.register
def _kill_leftovers() -> None:
    """Last resort (e.g. Ctrl-C during a fixture): never leave a process we started running."""
    with _registry_lock:
        procs = list(_live_procs)
    for p in procs:
        if p.poll() is None:
            p.kill()


class OutputLog:
    """The last lines a process wrote, from reader threads; bounded."""

    def __init__(self, max_lines: int = 4000):
        self.lines: Deque[str] = collections.deque(maxlen=max_lines)
        self.added = 0  # lines ever added (mark())
        self.lock = threading.Lock()
        self.grew = threading.Condition(self.lock)

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)
            self.added += 1
            self.grew.notify_all()

    def mark(self) -> int:
        """Where the log is now: wait_for(..., since=mark()) looks only at lines added later."""
        with self.lock:
            return self.added

    def wait_for(self, text: str, timeout: float = 5.0, n: int = 1000,
                 since: Optional[int] = None) -> bool:
        """True once one of the last n lines (of those added after `since`, when given)
        contains text (woken by each new line)."""
        def found() -> bool:
            recent = list(self.lines)[-n:]
            if since is not None:
                newer = self.added - since
                recent = recent[-newer:] if newer > 0 else []
            return any(text in l for l in recent)
        with self.lock:
            return self.grew.wait_for(found, timeout)

    def tail(self, n: int = 300) -> str:
        with self.lock:
            return "\n".join(list(self.lines)[-n:])


class BrokerError(AssertionError):
    pass


_LISTEN_RE = re.compile(r"thingport: listening (\w+) (\S+)\s*$")
_DEMO_RE = re.compile(r"^  (productKey|productSecret|deviceName|deviceSecret) +(\S+)\s*$")


class BrokerProcess:
    """One broker under test. host/port are those of the plain MQTT/TCP listener.

    kind "thingport": THINGPORT_BIN serve --config <tmp>/thingport.toml, listeners on port 0,
    ports parsed from the "thingport: listening ..." lines.
    kind "mosquitto": mosquitto -c <tmp>/mosquitto.conf on a free port.

    restart() keeps the data directory (thingport) or persistence file (mosquitto, when
    persistence=True); thingport's port may change across a restart, so read .port again.
    """

    def __init__(self, workdir: Path, kind: str = BROKER_KIND, thingport_config: str = "",
                 mosquitto_config: str = "", persistence: bool = False,
                 deny_subscribe: Optional[List[str]] = None):
        self.kind = kind
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # extra text appended to the generated config, per broker kind
        self.extra_config = thingport_config if kind == "thingport" else mosquitto_config
        self.persistence = persistence
        # [auth] deny_subscribe of thingport's generated config
        self.deny_subscribe = [DENY_SUBSCRIBE] if deny_subscribe is None else deny_subscribe
        self.host = "127.0.0.1"
        self.port: int = 0
        self.http_port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.log = OutputLog()
        self.starts = 0
        self._listeners: Dict[str, Tuple[str, int]] = {}
        # the demo device a fresh data dir gets: productKey, productSecret, deviceName, deviceSecret
        self.demo: Dict[str, str] = {}
        self._listen_cv = threading.Condition()
        self._readers: List[threading.Thread] = []
        # the PostgreSQL database of this broker (kept across restarts), under TEST_STORE
        self.store_url = ""
        if kind == "thingport" and TEST_STORE == "postgres":
            import pgserver  # only this run needs PostgreSQL
            self.store_url = pgserver.shared().create_database()
        self.config_path = self._write_config()

    # -- config --

    def _write_config(self) -> Path:
        if self.kind == "thingport":
            data = self.workdir / "data"
            text = (
                f'data_dir = "{data}"\n'
                "[listeners]\n"
                'tcp = "127.0.0.1:0"\n'
                'ws = ""\n'
                "[http]\n"
                'listen = "127.0.0.1:0"\n'
                "[auth]\n"
                "allow_anonymous = true\n"
                f"deny_subscribe = [{', '.join(json.dumps(d) for d in self.deny_subscribe)}]\n"
            )
            extra = self.extra_config.strip()
            if self.store_url:
                keys = f'backend = "postgres"\nurl = "{self.store_url}"\n'
                if "[store]\n" in extra:
                    extra = extra.replace("[store]\n", "[store]\n" + keys, 1)
                else:
                    extra += "\n[store]\n" + keys
            if extra:
                text += "\n" + extra.strip() + "\n"
            path = self.workdir / "thingport.toml"
        else:
            acl = self.workdir / "acl"
            # Anonymous clients (the lines before any "user") may do anything but subscribe to
            # the deny-listed filter. "#" does not match topics starting with "$", hence $test.
            acl.write_text("topic readwrite #\n"
                           "topic readwrite $test/#\n"
                           f"topic deny {DENY_SUBSCRIBE}\n")
            self.port = free_port()
            text = (
                # as root, mosquitto would switch to user "mosquitto", who cannot read our tmp dir
                f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                f"acl_file {acl}\n"
                "log_dest stdout\n"
                "log_type all\n"
                "connection_messages true\n"
                # thingport refuses packets over [limits] max_payload (256 KiB) plus headers at
                # once; give the reference the same bound so oversize headers are refused early
                f"max_packet_size {MAX_PACKET}\n"
                # Mosquitto's de-duplication of overlapping subscriptions delivers at the QoS of
                # whichever subscription it finds first, not the maximum [MQTT-3.3.5-1]; with
                # this it sends one copy per subscription, which the spec also allows.
                "allow_duplicate_messages true\n"
            )
            if self.persistence:
                text += (f"persistence true\npersistence_location {self.workdir}/\n"
                         "persistence_file mosquitto.db\n")
            else:
                text += "persistence false\n"
            if self.extra_config:
                text += self.extra_config.strip() + "\n"
            path = self.workdir / "mosquitto.conf"
        path.write_text(text)
        return path

    # -- lifecycle --

    @property
    def command(self) -> List[str]:
        if self.kind == "thingport":
            return [THINGPORT_BIN, "serve", "--config", str(self.config_path)]
        return [MOSQUITTO_BIN, "-c", str(self.config_path)]

    def start(self) -> None:
        self.launch()
        try:
            self.wait_started()
        except BaseException:
            self.stop()
            raise

    def wait_started(self) -> None:
        """Until the broker listens (bounded by STARTUP_TIMEOUT); after launch()."""
        if self.kind == "thingport":
            self._wait_listening_lines()
        else:
            self._wait_port_open()

    def launch(self) -> None:
        """Starts the process and its output readers without waiting for it to listen."""
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        self.log.add(f"=== start #{self.starts}: {' '.join(self.command)}")
        with self._listen_cv:
            self._listeners.clear()
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=self.workdir, start_new_session=True)
        _track(self.proc)
        with _registry_lock:
            if self not in _live_brokers:
                _live_brokers.append(self)
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out", True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err", False), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream, tag: str, parse: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.add(f"[{tag}] {line}")
            if parse and self.kind == "thingport":
                d = _DEMO_RE.match(line)
                if d:
                    self.demo[d.group(1)] = d.group(2)
                m = _LISTEN_RE.search(line)
                if m:
                    host, _, port = m.group(2).rpartition(":")
                    with self._listen_cv:
                        self._listeners[m.group(1)] = (host.strip("[]"), int(port))
                        self._listen_cv.notify_all()
        stream.close()

    def _wait_listening_lines(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with self._listen_cv:
            while "tcp" not in self._listeners:
                remaining = deadline - time.monotonic()
                if self.proc.poll() is not None:
                    raise BrokerError(f"thingport exited with {self.proc.returncode} before "
                                      f"listening\n{self.log.tail()}")
                if remaining <= 0:
                    raise BrokerError("no 'thingport: listening tcp ...' line within "
                                      f"{STARTUP_TIMEOUT}s\n{self.log.tail()}")
                self._listen_cv.wait(min(remaining, 0.2))
            host, self.port = self._listeners["tcp"]
            self.host = "127.0.0.1" if host in ("0.0.0.0", "", "*") else host
            # The http line may come just after the tcp one; it is optional for the MQTT tests.
            http_deadline = time.monotonic() + 2.0
            while "http" not in self._listeners and time.monotonic() < http_deadline:
                self._listen_cv.wait(0.1)
            if "http" in self._listeners:
                self.http_port = self._listeners["http"][1]

    def _wait_port_open(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise BrokerError(f"{self.kind} exited with {self.proc.returncode} before "
                                  f"listening\n{self.log.tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise BrokerError(f"{self.kind} not accepting on {self.port} within "
                                      f"{STARTUP_TIMEOUT}s\n{self.log.tail()}") from None
                # polling a port that is not open yet: the only way to wait for mosquitto
                time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self) -> None:
        if not self.alive():
            rc = None if self.proc is None else self.proc.returncode
            raise BrokerError(f"{self.kind} is not running (exit code {rc})\n{self.log.tail()}")

    def stop(self) -> Optional[int]:
        """SIGTERM (SIGKILL after 5 s); returns the exit code."""
        if self.proc is None:
            return None
        was_running = self.proc.poll() is None
        t0 = time.monotonic()
        rc = kill_process(self.proc, STOP_TIMEOUT)
        for t in self._readers:
            t.join(2)
        self.log.add(f"=== stopped: exit code {rc} "
                     f"({'after SIGTERM' if was_running else 'had already exited'}, "
                     f"{time.monotonic() - t0:.2f}s)")
        with _registry_lock:
            if self in _live_brokers:
                _live_brokers.remove(self)
        return rc

    def stop_and_check(self) -> None:
        """Stop; fail unless the broker was still running and exited 0 on SIGTERM."""
        if self.proc is None:
            return
        was_running = self.proc.poll() is None
        rc = self.stop()
        if not was_running:
            raise BrokerError(f"{self.kind} died during the tests (exit code {rc})\n"
                              f"{self.log.tail()}")
        if rc != 0:
            why = (f" (still running {STOP_TIMEOUT:.0f}s after SIGTERM: killed)"
                   if rc == -signal.SIGKILL else "")
            raise BrokerError(f"{self.kind} exit code {rc} on SIGTERM, expected 0{why}\n"
                              f"{self.log.tail()}")

    def wait_client_closed(self, client_id: str, since: int, timeout: float = 5.0) -> bool:
        """True once thingport has logged closing a link of client_id after log mark `since`
        (taken before the disconnect: an earlier link of the same id does not count). The close
        and the session's detach run in one step on that link's worker, so a message published
        after this returns is queued for the session, never sent to the closing link (paho's
        disconnect() returns once its own socket is shut, before the server has read the
        DISCONNECT). Mosquitto logs nothing comparable: True at once."""
        if self.kind != "thingport":
            return True
        return self.log.wait_for(f"close client={client_id[:96]} addr=", timeout, since=since)

    def restart(self) -> None:
        """Graceful stop (must exit 0) and start again with the same config and data."""
        self.stop_and_check()
        self.start()

    def __repr__(self) -> str:
        return f"<{self.kind} {self.host}:{self.port} pid={self.proc.pid if self.proc else None}>"


def live_brokers() -> List[BrokerProcess]:
    with _registry_lock:
        return list(_live_brokers)
