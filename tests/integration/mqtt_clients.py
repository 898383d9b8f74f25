"""MQTT clients for the integration tests, each wait bounded and event driven:

- MqttClient: a paho (MQTT 3.1.1) client on its own network thread,
- expect_nothing_then_marker: "nothing arrives" proved by a marker that does,
- CliSub / run_cli / mosquitto_pub: mosquitto_sub and mosquitto_pub subprocesses with timeouts.

The brokers they talk to are harness.py's.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import paho.mqtt.client as paho

from harness import (MOSQUITTO_PUB, MOSQUITTO_SUB, STDBUF, WAIT, BrokerProcess, OutputLog,
                     _track, kill_process, unique_id)

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

        def marker(m: Msg) -> bool:
            if m.topic == topic and m.payload == payload:
                return True
            got.append(m)
            return False

        try:
            self.get_where(marker, timeout)
        except AssertionError:
            raise AssertionError(f"{self.client_id}: marker {topic} {payload!r} not received "
                                 f"within {timeout}s; got before it: {got!r}") from None
        return got

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
        self.stderr = OutputLog()
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
