"""The device SDK against servers that misbehave (issue 5, "Bad input"): a loopback fake closes
mid-CONNECT, sends garbage, never answers, or refuses with each CONNACK code 1..5. The client must
report a clear error (the probe prints the error code and category it got), back off, never
busy-loop (attempts counted by the fake over a window, CPU time of the waiting client), and not
crash (the probe exits 0 under ASan/UBSan). Also QoS 1 in-flight retry with DUP after a drop.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Callable, Iterator, List, Optional

import pytest

from sdkprobe import Probe, cpu_seconds

pytestmark = [
    pytest.mark.thingport_only(reason="tests the C++ SDK, not a broker"),
    pytest.mark.store_independent,
]


class FakeServer:
    """Accepts on 127.0.0.1:0; each connection is served by `behaviour(conn, index)` on its own
    thread. Counts connections and when they came."""

    def __init__(self, behaviour: Callable[[socket.socket, int], None]):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: List[float] = []
        self.received: List[bytes] = []
        self.lock = threading.Lock()
        self.closing = False
        self.conns: List[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted.append(time.monotonic())
                index = len(self.accepted) - 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        try:
            conn.settimeout(10)
            self.behaviour(conn, index)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def attempts(self) -> int:
        with self.lock:
            return len(self.accepted)

    def close(self) -> None:
        self.closing = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


def read_packet(conn: socket.socket) -> Optional[bytes]:
    """One whole MQTT packet (fixed header included), or None at EOF."""
    head = conn.recv(1)
    if not head:
        return None
    length, mult, raw = 0, 1, head
    while True:
        b = conn.recv(1)
        if not b:
            return None
        raw += b
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return raw + body


def accept_connect(conn: socket.socket) -> None:
    """Reads the CONNECT and answers CONNACK 0."""
    assert read_packet(conn)[0] == 0x10
    conn.sendall(bytes([0x20, 2, 0, 0]))


def packets_after_connack(conn: socket.socket) -> Iterator[bytes]:
    """Accepts the CONNECT, then yields each packet the client sends until it goes away."""
    accept_connect(conn)
    while (pkt := read_packet(conn)) is not None:
        yield pkt


def hold_open(conn: socket.socket, seconds: float = 30) -> None:
    """Keep the connection until the client goes away."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


DEVICE = ["--pk", "pk1", "--dn", "dev1", "--ds", "secret"]


@pytest.fixture
def fakes():
    made: List[FakeServer] = []
    probes: List[Probe] = []

    def make(behaviour) -> FakeServer:
        s = FakeServer(behaviour)
        made.append(s)
        return s

    make.probes = probes
    yield make
    for p in probes:
        if p.proc.poll() is None:
            p.kill()
    for s in made:
        s.close()


def start_probe(fakes, server: FakeServer, *extra: str) -> Probe:
    p = Probe("--url", server.url, *DEVICE, *extra)
    fakes.probes.append(p)
    return p


def waiting_error(p: Probe, after: int = 0, timeout: float = 10) -> dict:
    return p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting"
                  and e.get("error"), timeout, after)


def refusing(code: int, hold: float = 0):
    """A server answering every CONNECT with CONNACK `code`, then keeping the link `hold` s."""
    def refuse(conn, index):
        assert read_packet(conn)[0] == 0x10  # CONNECT
        conn.sendall(bytes([0x20, 2, 0, code]))
        if hold:
            hold_open(conn, hold)
    return refuse


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5])
def test_each_connack_refusal_is_reported_with_its_code(fakes, code):
    s = fakes(refusing(code, hold=5))
    p = start_probe(fakes, s, "--backoff-ms", "300", "--per-minute", "0")
    ev = waiting_error(p)
    assert ev["category"] == "connack" and ev["value"] == code, ev
    assert f"CONNACK {code}" in ev["error"]
    assert ev["retry_in_ms"] >= 150, ev  # backs off: half the initial delay at least
    p.close()


def test_close_mid_connect_backs_off_exponentially(fakes):
    def close_early(conn, index):
        conn.recv(3)  # part of the CONNECT, then hang up

    s = fakes(close_early)
    p = start_probe(fakes, s, "--backoff-ms", "200", "--backoff-max-ms", "5000",
                    "--per-minute", "0")
    ev = waiting_error(p)
    # EOF ("the server closed the connection") or, as the CONNECT was not all read, a reset
    assert "closed" in ev["error"] or "reset" in ev["error"], ev
    t0 = time.monotonic()
    time.sleep(3.0)  # a window over which attempts are counted (the property under test is time)
    n = s.attempts()
    # Delays 100-200, 200-400, 400-800, 800-1600 ms: at most 5 connections in ~3 s.
    # A client without backoff would make hundreds.
    assert 2 <= n <= 6, f"{n} connections in {time.monotonic() - t0:.1f}s"
    delays = [e["retry_in_ms"] for e in p.of("status") if e.get("state") == "waiting"]
    assert delays == sorted(delays) or delays[-1] > delays[0], delays  # growing
    p.close()


def test_at_most_five_connects_per_minute(fakes):
    """Even with a 10 ms backoff the platform's 5 connects/min/device limit is kept."""
    s = fakes(refusing(3))
    p = start_probe(fakes, s, "--backoff-ms", "10", "--backoff-max-ms", "10")
    p.wait(lambda e: e.get("event") == "status" and e.get("state") == "waiting"
           and e.get("retry_in_ms", 0) > 30000, timeout=15)
    time.sleep(1.0)  # would the client sneak in a 6th attempt?
    assert s.attempts() == 5, s.attempts()
    p.close()


def test_garbage_after_connect_is_a_protocol_error(fakes):
    def garbage(conn, index):
        read_packet(conn)
        conn.sendall(b"\xff\xff\xff\xff\xff\xff")  # type 15, then an endless length
        hold_open(conn, 5)

    s = fakes(garbage)
    p = start_probe(fakes, s, "--backoff-ms", "500", "--per-minute", "0")
    ev = waiting_error(p)
    assert ev["category"] == "mqtt", ev  # the codec's own error category names what was wrong
    p.close()


def test_wrong_first_packet_is_reported(fakes):
    def suback_first(conn, index):
        read_packet(conn)
        conn.sendall(bytes([0x90, 3, 0, 1, 0]))  # SUBACK instead of CONNACK
        hold_open(conn, 5)

    s = fakes(suback_first)
    p = start_probe(fakes, s, "--backoff-ms", "500", "--per-minute", "0")
    ev = waiting_error(p)
    assert ev["error"] == "the server sent an unexpected packet", ev
    p.close()


def test_server_that_never_answers_times_out_without_spinning(fakes):
    def silent(conn, index):
        hold_open(conn, 20)

    s = fakes(silent)
    p = start_probe(fakes, s, "--connect-timeout-ms", "700", "--backoff-ms", "1000",
                    "--per-minute", "0")
    ev = waiting_error(p)
    assert ev["error"] == "no CONNACK within the connect timeout", ev
    # While waiting on a silent server and backing off, the client is idle.
    cpu0 = cpu_seconds(p.proc.pid)
    time.sleep(2.0)
    used = cpu_seconds(p.proc.pid) - cpu0
    assert used < 0.5, f"client used {used:.2f}s CPU in 2s while waiting"
    assert s.attempts() <= 3
    p.close()


def test_unacknowledged_qos1_is_sent_again_with_dup_after_reconnect(fakes):
    seen = []
    done = threading.Event()

    def broker(conn, index):
        for pkt in packets_after_connack(conn):
            if pkt[0] & 0xF0 != 0x30:
                continue  # SUBSCRIBE, PINGREQ
            tlen = struct.unpack(">H", pkt[2:4])[0]
            pid = struct.unpack(">H", pkt[4 + tlen:6 + tlen])[0]
            seen.append((index, pkt[0], pid, pkt[6 + tlen:]))
            if index == 0:
                return  # drop the link with the PUBLISH unacknowledged
            conn.sendall(bytes([0x40, 2]) + struct.pack(">H", pid))  # PUBACK
            done.set()
            hold_open(conn, 10)
            return

    s = fakes(broker)
    p = start_probe(fakes, s, "--backoff-ms", "200", "--per-minute", "0")
    p.connected()
    p.send("pub /pk1/dev1/user/update 1 hello")
    ok = p.wait_event("published", timeout=10)
    assert ok["error"] is None, ok
    assert done.wait(5)
    (i0, flags0, pid0, body0), (i1, flags1, pid1, body1) = seen[:2]
    assert (i0, i1) == (0, 1)
    assert flags0 == 0x32 and flags1 == 0x3A, (hex(flags0), hex(flags1))  # QoS 1, then DUP too
    assert pid0 == pid1 and body0 == body1 == b"hello"
    st = p.stats()
    assert st["retried"] == 1 and st["acked"] == 1, st
    p.close()


def test_offline_buffer_is_bounded(fakes):
    s = fakes(refusing(5))
    p = start_probe(fakes, s, "--buffer", "3", "--backoff-ms", "1000", "--per-minute", "0")
    waiting_error(p)
    p.send("pubn /pk1/dev1/user/update 1 5 m")
    refused = p.wait_n("published", 2, timeout=5)
    assert {e["payload"] for e in refused} == {"m-3", "m-4"}, refused
    assert all(e["error"] == "offline publish buffer full" for e in refused), refused
    m = p.mark()
    p.close()
    # the 3 buffered ones fail with "stopped" when the client stops: nothing silently vanishes
    stopped = [e for e in p.events[m:] if e.get("event") == "published"]
    assert sorted(e["payload"] for e in stopped) == ["m-0", "m-1", "m-2"], p.events[m:]
    assert all(e["error"] == "client stopped" for e in stopped)


def test_huge_remaining_length_is_refused_from_the_fixed_header(fakes):
    """A PUBLISH announcing 256 MiB: the parser's size limit refuses it before any of it is read
    (nothing is buffered for it); the link is dropped with the codec's error."""
    def huge(conn, index):
        accept_connect(conn)
        conn.sendall(b"\x30\xff\xff\xff\x7f")  # remaining length 268435455, no body
        hold_open(conn, 5)

    s = fakes(huge)
    p = start_probe(fakes, s, "--backoff-ms", "1000", "--per-minute", "0")
    ev = waiting_error(p)
    assert ev["category"] == "mqtt" and ev["error"] == "packet too large", ev
    p.close()


def test_subscribes_owed_by_dropped_links_are_forgotten(fakes):
    """Links dropped before their SUBACK leave nothing waiting: the filter is subscribed again on
    the next link, and at stop the one SUBACK still owed (the live link's) fails once, not once
    per link that ever asked."""
    subscribes: List[int] = []
    third = threading.Event()

    def no_suback(conn, index):
        for pkt in packets_after_connack(conn):
            if pkt[0] != 0x82:
                continue
            subscribes.append(index)
            if index < 2:
                return  # drop the link, the SUBACK still owed
            third.set()
            hold_open(conn, 10)
            return

    s = fakes(no_suback)
    p = start_probe(fakes, s, "--backoff-ms", "200", "--per-minute", "0")
    p.connected()
    p.send("sub /pk1/dev1/user/get 1")
    assert third.wait(10), subscribes
    assert subscribes == [0, 1, 2], subscribes
    p.close()
    acks = p.of("suback")
    assert len(acks) == 1 and acks[0]["error"] == "client stopped", acks


def test_registration_against_a_silent_server_times_out(fakes):
    """register_device() is bounded by its timeout even when the server accepts and never
    answers (a blocking read would wait for the server)."""
    s = fakes(lambda conn, index: hold_open(conn, 20))
    t0 = time.monotonic()
    p = Probe("--url", "mqtt://127.0.0.1:1", "--pk", "pk1", "--dn", "dev1",
              "--register", f"http://127.0.0.1:{s.port}", "--product-secret", "ps",
              "--register-timeout-ms", "800")
    fakes.probes.append(p)
    ev = p.wait_event("registered", timeout=10)
    elapsed = ev["t"] - t0
    assert ev["error"] and "timeout" in ev["error"], ev
    assert ev["got_secret"] is False
    assert 0.7 <= elapsed < 5, elapsed
    p.close()
