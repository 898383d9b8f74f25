"""Process and client plumbing for the integration tests.

- which broker is under test (thingport from THINGPORT_BIN, or the Mosquitto reference),
- BrokerProcess: start on a free port, capture its output, restart, stop with SIGTERM,
- MqttClient: a paho (MQTT 3.1.1) client whose every wait is bounded and event driven,
- CliSub / run_cli: mosquitto_sub and mosquitto_pub subprocesses with timeouts.

Nothing here sleeps to synchronise: waits are on events, queues or process exits, each with
a deadline.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

import paho.mqtt.client as paho

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
MAX_PACKET = 262144 + 65536 + 8  # thingport's default max_payload + the largest topic + header

_ids = itertools.count(1)


def unique_id(prefix: str = "it") -> str:
    """A client id unique across runs and processes, short enough for MQTT 3.1 brokers too."""
    return f"{prefix}-{os.getpid() % 10000}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


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


class _OutputLog:
    """The last lines a process wrote, from reader threads; bounded."""

    def __init__(self, max_lines: int = 4000):
        self.lines: Deque[str] = collections.deque(maxlen=max_lines)
        self.lock = threading.Lock()
        self.grew = threading.Condition(self.lock)

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)
            self.grew.notify_all()

    def wait_for(self, text: str, timeout: float = 5.0, n: int = 1000) -> bool:
        """True once one of the last n lines contains text (woken by each new line)."""
        with self.lock:
            return self.grew.wait_for(lambda: any(text in l for l in list(self.lines)[-n:]),
                                      timeout)

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
                 mosquitto_config: str = "", persistence: bool = False):
        self.kind = kind
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # extra text appended to the generated config, per broker kind
        self.extra_config = thingport_config if kind == "thingport" else mosquitto_config
        self.persistence = persistence
        self.host = "127.0.0.1"
        self.port: int = 0
        self.http_port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.log = _OutputLog()
        self.starts = 0
        self._listeners: Dict[str, Tuple[str, int]] = {}
        # the demo device a fresh data dir gets: productKey, productSecret, deviceName, deviceSecret
        self.demo: Dict[str, str] = {}
        self._listen_cv = threading.Condition()
        self._readers: List[threading.Thread] = []
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
                f'deny_subscribe = ["{DENY_SUBSCRIBE}"]\n'
            )
            if self.extra_config:
                text += "\n" + self.extra_config.strip() + "\n"
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
        try:
            if self.kind == "thingport":
                self._wait_listening_lines()
            else:
                self._wait_port_open()
        except BaseException:
            self.stop()
            raise

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

    def restart(self) -> None:
        """Graceful stop (must exit 0) and start again with the same config and data."""
        self.stop_and_check()
        self.start()

    def __repr__(self) -> str:
        return f"<{self.kind} {self.host}:{self.port} pid={self.proc.pid if self.proc else None}>"


def live_brokers() -> List[BrokerProcess]:
    with _registry_lock:
        return list(_live_brokers)


# ---------------------------------------------------------------------------------------------
# paho client


@dataclass
class Msg:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int


class MqttClient:
    """paho MQTT 3.1.1 client on its own network thread; waits are bounded.

    Never reconnects by itself: tests decide when to reconnect.
    """

    def __init__(self, broker: BrokerProcess, client_id: Optional[str] = None,
                 clean_session: bool = True, keepalive: int = 60,
                 will: Optional[Tuple[str, Union[str, bytes], int, bool]] = None,
                 username: Optional[str] = None, password: Optional[str] = None):
        self.broker = broker
        self.client_id = unique_id("paho") if client_id is None else client_id
        self.clean_session = clean_session
        self.keepalive = keepalive
        self.messages: "queue.Queue[Msg]" = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack_rc: Optional[int] = None
        self.session_present: Optional[bool] = None
        self.disconnect_rc: Optional[int] = None
        self._acks: Dict[int, object] = {}
        self._acks_cv = threading.Condition()
        self._loop_started = False
        self.c = paho.Client(client_id=self.client_id, clean_session=clean_session,
                             protocol=paho.MQTTv311, reconnect_on_failure=False)
        if will is not None:
            wt, wp, wq, wr = will
            self.c.will_set(wt, wp, wq, wr)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe

    # -- callbacks (paho network thread) --

    def _on_connect(self, client, userdata, flags, rc):
        self.connack_rc = rc
        self.session_present = bool(flags.get("session present"))
        self.connected.set()

    def _on_disconnect(self, client, userdata, rc):
        self.disconnect_rc = rc
        self.connected.clear()
        self.disconnected.set()

    def _on_message(self, client, userdata, m):
        self.messages.put(Msg(m.topic, bytes(m.payload), m.qos, bool(m.retain), bool(m.dup),
                              m.mid))

    def _on_subscribe(self, client, userdata, mid, granted):
        with self._acks_cv:
            self._acks[mid] = list(granted)
            self._acks_cv.notify_all()

    def _on_unsubscribe(self, client, userdata, mid):
        with self._acks_cv:
            self._acks[mid] = True
            self._acks_cv.notify_all()

    def _wait_ack(self, mid: int, what: str, timeout: float):
        deadline = time.monotonic() + timeout
        with self._acks_cv:
            while mid not in self._acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.client_id}: no {what} for mid {mid} "
                                         f"within {timeout}s")
                self._acks_cv.wait(remaining)
            return self._acks.pop(mid)

    # -- actions --

    def connect(self, timeout: float = WAIT, expect_rc: int = 0) -> "MqttClient":
        self.connected.clear()
        self.disconnected.clear()
        self.connack_rc = None
        self.c.connect(self.broker.host, self.broker.port, keepalive=self.keepalive)
        if not self._loop_started:
            self.c.loop_start()
            self._loop_started = True
        deadline = time.monotonic() + timeout
        # A refused CONNACK is followed by the close at once: on_disconnect may clear
        # `connected` before this thread looks, so the CONNACK code is what counts.
        while not self.connected.is_set() and self.connack_rc is None:
            if self.disconnected.is_set() and self.connack_rc is None:
                raise AssertionError(f"{self.client_id}: connection closed before CONNACK")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.client_id}: no CONNACK within {timeout}s")
            self.connected.wait(0.05)
        assert self.connack_rc == expect_rc, \
            f"{self.client_id}: CONNACK rc {self.connack_rc}, expected {expect_rc}"
        return self

    def subscribe(self, topics: Union[str, Sequence[Tuple[str, int]]], qos: int = 0,
                  timeout: float = WAIT) -> List[int]:
        """Subscribe and wait for the SUBACK; returns the granted codes."""
        if isinstance(topics, str):
            rc, mid = self.c.subscribe(topics, qos)
        else:
            rc, mid = self.c.subscribe(list(topics))
        assert rc == paho.MQTT_ERR_SUCCESS, f"subscribe {topics!r} failed locally: {rc}"
        return self._wait_ack(mid, "SUBACK", timeout)

    def unsubscribe(self, topics: Union[str, List[str]], timeout: float = WAIT) -> None:
        rc, mid = self.c.unsubscribe(topics)
        assert rc == paho.MQTT_ERR_SUCCESS, f"unsubscribe {topics!r} failed locally: {rc}"
        self._wait_ack(mid, "UNSUBACK", timeout)

    def publish(self, topic: str, payload: Union[str, bytes] = b"", qos: int = 0,
                retain: bool = False, timeout: float = WAIT) -> None:
        """Publish and wait until done (QoS 0: written; 1: PUBACK; 2: PUBCOMP)."""
        info = self.c.publish(topic, payload, qos, retain)
        assert info.rc == paho.MQTT_ERR_SUCCESS, f"publish to {topic!r} failed locally: {info.rc}"
        info.wait_for_publish(timeout)
        assert info.is_published(), f"{self.client_id}: publish QoS {qos} to {topic!r} " \
                                    f"not completed within {timeout}s"

    def get(self, timeout: float = WAIT) -> Msg:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no message within {timeout}s") from None

    def get_where(self, pred: Callable[[Msg], bool], timeout: float = WAIT) -> Msg:
        """The first message satisfying pred (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.client_id}: expected message not received "
                                     f"within {timeout}s")
            m = self.get(remaining)
            if pred(m):
                return m

    def collect_until(self, topic: str, payload: bytes, timeout: float = WAIT) -> List[Msg]:
        """Messages received before the (topic, payload) marker; the marker is consumed."""
        got: List[Msg] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.client_id}: marker {topic} {payload!r} not received "
                                     f"within {timeout}s; got before it: {got!r}")
            m = self.get(remaining)
            if m.topic == topic and m.payload == payload:
                return got
            got.append(m)

    def drain(self) -> List[Msg]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def disconnect(self, timeout: float = WAIT) -> None:
        """Clean DISCONNECT; waits until paho has closed the socket."""
        if self.connected.is_set():
            self.c.disconnect()
            self.disconnected.wait(timeout)
        self.close()

    def close(self) -> None:
        if self._loop_started:
            try:
                if not self.disconnected.is_set():
                    self.c.disconnect()
            except Exception:
                pass
            self.c.loop_stop()
            self._loop_started = False
        try:
            if self.c.socket() is not None:
                self.c.socket().close()
        except Exception:
            pass


def marker_payload() -> bytes:
    return f"marker-{uuid.uuid4().hex}".encode()


def expect_nothing_then_marker(receiver: MqttClient, publisher: MqttClient, topic: str,
                               timeout: float = WAIT) -> None:
    """Publish a marker from publisher to topic (receiver is subscribed to it) and assert the
    receiver got nothing before it. Replaces "wait and see that nothing arrives": anything the
    broker had routed to the receiver before the marker arrives first."""
    mark = marker_payload()
    # QoS 2 (delivered at the subscription's QoS): paho hands a QoS 2 message over only on
    # PUBREL, so a QoS 0/1 marker could overtake an earlier QoS 2 message; a QoS 2 one cannot.
    publisher.publish(topic, mark, qos=2)
    before = receiver.collect_until(topic, mark, timeout)
    assert not before, f"{receiver.client_id} received unexpected messages: {before!r}"


# ---------------------------------------------------------------------------------------------
# mosquitto_pub / mosquitto_sub


def broker_args(broker: BrokerProcess) -> List[str]:
    return ["-h", broker.host, "-p", str(broker.port), "-V", "mqttv311"]


def run_cli(args: Sequence[str], timeout: float = 10.0,
            input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    """Run a CLI client to completion (killed after timeout: subprocess.run does that)."""
    try:
        return subprocess.run(list(args), input=input, capture_output=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{args[0]} did not finish within {timeout}s: {args!r}\n"
                             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}") from None


def mosquitto_pub(broker: BrokerProcess, *args: str, timeout: float = 10.0) -> str:
    """mosquitto_pub with the broker's address; asserts exit code 0; returns its stderr."""
    cmd = [MOSQUITTO_PUB, *broker_args(broker), *args]
    r = run_cli(cmd, timeout)
    assert r.returncode == 0, f"{cmd!r} exit {r.returncode}\n{r.stdout!r}\n{r.stderr!r}"
    return r.stderr.decode("utf-8", "replace")


_PUBLISH_DEBUG_RE = re.compile(
    r"received PUBLISH \(d(\d), q(\d), r(\d), m(\d+), '(.*)', \.\.\. \((\d+) bytes\)\)")
_PUBREL_DEBUG_RE = re.compile(r"received PUBREL \(Mid: (\d+)\)")


@dataclass
class CliPublish:
    """A message printed by mosquitto_sub -d: flags from its debug line, then the printed line.
    qos is -1 if the printed line could not be paired with a debug line."""
    dup: bool
    qos: int
    retain: bool
    topic: str
    line: str = ""


class CliSub:
    """A running `mosquitto_sub -d ...`; its stdout is parsed on a thread.

    With -d, mosquitto_sub prints "Client ... received SUBACK" once subscribed, which says when
    it is safe to publish, and "received PUBLISH (d0, q1, r0, m1, 'topic', ...)" for each
    message. The message itself is printed right after that (QoS 0/1) or after the matching
    "received PUBREL (Mid: n)" (QoS 2), so messages are paired with their flags by packet id.
    """

    def __init__(self, broker: BrokerProcess, *args: str):
        self.cmd = [MOSQUITTO_SUB, *broker_args(broker), "-d", *args]
        # mosquitto_sub does not flush its debug lines on a pipe: line-buffer its stdout
        prefix = [STDBUF, "-oL"] if STDBUF else []
        self.messages: "queue.Queue[Optional[CliPublish]]" = queue.Queue()
        self.subscribed = threading.Event()
        self.eof = threading.Event()
        self.all_lines: List[str] = []
        self.stderr = _OutputLog()
        self.proc = subprocess.Popen(prefix + self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        _track(self.proc)
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        to_print: Optional[CliPublish] = None        # the next printed line belongs to this
        awaiting_pubrel: Dict[int, CliPublish] = {}  # QoS 2 messages by packet id
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.all_lines.append(line)
            if line.startswith("Client "):
                if "received SUBACK" in line:
                    self.subscribed.set()
                m = _PUBLISH_DEBUG_RE.search(line)
                if m:
                    pub = CliPublish(dup=m.group(1) == "1", qos=int(m.group(2)),
                                     retain=m.group(3) == "1", topic=m.group(5))
                    if pub.qos == 2:
                        awaiting_pubrel[int(m.group(4))] = pub
                    else:
                        to_print = pub
                m = _PUBREL_DEBUG_RE.search(line)
                if m and int(m.group(1)) in awaiting_pubrel:
                    to_print = awaiting_pubrel.pop(int(m.group(1)))
            elif line.startswith("Subscribed (mid"):
                pass
            else:
                pub = to_print or CliPublish(dup=False, qos=-1, retain=False, topic="")
                to_print = None
                pub.line = line
                self.messages.put(pub)
        self.eof.set()
        self.subscribed.set()  # wake waiters; wait_subscribed checks eof
        self.messages.put(None)

    def _read_err(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr.add(raw.decode("utf-8", "replace").rstrip("\n"))

    def describe(self) -> str:
        return (f"{self.cmd!r} rc={self.proc.poll()}\nstdout:\n" + "\n".join(self.all_lines)
                + "\nstderr:\n" + self.stderr.tail())

    def wait_subscribed(self, timeout: float = WAIT) -> None:
        if not self.subscribed.wait(timeout):
            raise AssertionError(f"mosquitto_sub: no SUBACK within {timeout}s: "
                                 f"{self.describe()}")
        if not any("received SUBACK" in l for l in list(self.all_lines)):
            raise AssertionError(f"mosquitto_sub exited before SUBACK: {self.describe()}")

    def next_message(self, timeout: float = WAIT) -> CliPublish:
        try:
            pub = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"mosquitto_sub: no message within {timeout}s: "
                                 f"{self.describe()}") from None
        if pub is None:
            self.messages.put(None)
            raise AssertionError(f"mosquitto_sub exited before the next message: "
                                 f"{self.describe()}")
        return pub

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mosquitto_sub still running after {timeout}s: "
                                 f"{self.describe()}") from None
        finally:
            for t in self._threads:
                t.join(2)

    def stop(self) -> Optional[int]:
        return kill_process(self.proc, 3.0)
