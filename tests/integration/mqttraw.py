"""A tiny MQTT 3.1.1 packet encoder/decoder and a raw-socket client for the integration tests.

Only what the tests need: build packets byte for byte (including malformed ones), read one
packet with a timeout, and tell whether the server closed the connection. No I/O policy beyond
bounded reads: every read has a timeout and every buffer a size limit.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Tuple, Union

# Control packet types (MQTT 3.1.1 §2.2.1).
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

TYPE_NAMES = {
    CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH", PUBACK: "PUBACK",
    PUBREC: "PUBREC", PUBREL: "PUBREL", PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE",
    SUBACK: "SUBACK", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK", PINGREQ: "PINGREQ",
    PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT",
}

MAX_PACKET = 4 * 1024 * 1024  # the most a test ever expects to read in one packet

Bytesish = Union[str, bytes]


def _b(s: Bytesish) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_remaining_length(n: int) -> bytes:
    """Variable byte integer (§2.2.3). Values above 268435455 are not representable."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"remaining length out of range: {n}")
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def mqtt_string(s: Bytesish) -> bytes:
    """A length-prefixed string; bytes are sent as given (lets tests send invalid UTF-8)."""
    data = _b(s)
    return struct.pack("!H", len(data)) + data


def fixed(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | (flags & 0x0F)]) + encode_remaining_length(len(body)) + body


def connect(client_id: Bytesish = "", clean_session: bool = True, keepalive: int = 60,
            will: Optional[Tuple[Bytesish, Bytesish, int, bool]] = None,
            username: Optional[Bytesish] = None, password: Optional[Bytesish] = None,
            protocol_name: Bytesish = "MQTT", protocol_level: int = 4) -> bytes:
    """CONNECT. will = (topic, payload, qos, retain)."""
    flags = 0
    if clean_session:
        flags |= 0x02
    payload = mqtt_string(client_id)
    if will is not None:
        wtopic, wpayload, wqos, wretain = will
        flags |= 0x04 | ((wqos & 3) << 3) | (0x20 if wretain else 0)
        payload += mqtt_string(wtopic) + mqtt_string(wpayload)
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    var = mqtt_string(protocol_name) + bytes([protocol_level, flags]) + struct.pack("!H", keepalive)
    return fixed(CONNECT, 0, var + payload)


def publish(topic: Bytesish, payload: Bytesish = b"", qos: int = 0, retain: bool = False,
            dup: bool = False, mid: Optional[int] = None) -> bytes:
    flags = (0x08 if dup else 0) | ((qos & 3) << 1) | (0x01 if retain else 0)
    body = mqtt_string(topic)
    if qos > 0:
        body += struct.pack("!H", 1 if mid is None else mid)
    body += _b(payload)
    return fixed(PUBLISH, flags, body)


def subscribe(mid: int, topics: Sequence[Tuple[Bytesish, int]], flags: int = 0x02) -> bytes:
    body = struct.pack("!H", mid)
    for filt, qos in topics:
        body += mqtt_string(filt) + bytes([qos])
    return fixed(SUBSCRIBE, flags, body)


def unsubscribe(mid: int, topics: Iterable[Bytesish]) -> bytes:
    body = struct.pack("!H", mid)
    for filt in topics:
        body += mqtt_string(filt)
    return fixed(UNSUBSCRIBE, 0x02, body)


def _ack(ptype: int, mid: int, flags: int = 0) -> bytes:
    return fixed(ptype, flags, struct.pack("!H", mid))


def puback(mid: int) -> bytes:
    return _ack(PUBACK, mid)


def pubrec(mid: int) -> bytes:
    return _ack(PUBREC, mid)


def pubrel(mid: int) -> bytes:
    return _ack(PUBREL, mid, 0x02)


def pubcomp(mid: int) -> bytes:
    return _ack(PUBCOMP, mid)


def pingreq() -> bytes:
    return fixed(PINGREQ, 0, b"")


def disconnect() -> bytes:
    return fixed(DISCONNECT, 0, b"")


# ---------------------------------------------------------------------------------------------
# Decoding


@dataclass
class Packet:
    ptype: int
    flags: int
    body: bytes

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.ptype, f"type{self.ptype}")

    # -- typed views (raise ValueError on a type mismatch or short body) --

    def mid(self) -> int:
        if len(self.body) < 2:
            raise ValueError(f"{self.name} too short for a packet id: {self.body!r}")
        return struct.unpack("!H", self.body[:2])[0]

    def connack(self) -> Tuple[bool, int]:
        """(session_present, return_code)"""
        self._expect(CONNACK)
        if len(self.body) != 2:
            raise ValueError(f"CONNACK body must be 2 bytes: {self.body!r}")
        return bool(self.body[0] & 0x01), self.body[1]

    def suback(self) -> Tuple[int, list]:
        """(mid, granted return codes)"""
        self._expect(SUBACK)
        return self.mid(), list(self.body[2:])

    def publish(self) -> "Publish":
        self._expect(PUBLISH)
        qos = (self.flags >> 1) & 3
        (tlen,) = struct.unpack("!H", self.body[:2])
        topic = self.body[2:2 + tlen]
        pos = 2 + tlen
        mid = None
        if qos > 0:
            (mid,) = struct.unpack("!H", self.body[pos:pos + 2])
            pos += 2
        return Publish(topic=topic.decode("utf-8", "replace"), payload=self.body[pos:], qos=qos,
                       retain=bool(self.flags & 1), dup=bool(self.flags & 8), mid=mid)

    def _expect(self, ptype: int) -> None:
        if self.ptype != ptype:
            raise ValueError(f"expected {TYPE_NAMES[ptype]}, got {self.name} ({self!r})")


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: Optional[int]


class Closed(Exception):
    """The server closed the connection (EOF or reset) while a packet was expected."""


def try_parse(buf: bytes) -> Optional[Tuple[Packet, int]]:
    """One packet from the front of buf, with the bytes it used; None if incomplete."""
    if len(buf) < 2:
        return None
    mult, value, i = 1, 0, 1
    while True:
        if i >= len(buf):
            return None
        byte = buf[i]
        value += (byte & 0x7F) * mult
        i += 1
        if not byte & 0x80:
            break
        mult *= 128
        if i > 4:
            raise ValueError("malformed remaining length from server")
    if value > MAX_PACKET:
        raise ValueError(f"server packet too large: {value}")
    if len(buf) < i + value:
        return None
    return Packet(buf[0] >> 4, buf[0] & 0x0F, bytes(buf[i:i + value])), i + value


# ---------------------------------------------------------------------------------------------
# Raw socket client


class RawClient:
    """A blocking socket with a read buffer. Every read takes a timeout."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, source: str = "",
                 wrap: Optional[Callable[[socket.socket], socket.socket]] = None):
        """source: the local address to connect from (loopback tests of per-address rules);
        wrap: e.g. an ssl context's wrap_socket, applied once connected."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if wrap is not None:
            self.sock = wrap(self.sock)
        self.buf = bytearray()
        self.closed = False

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def abort(self) -> None:
        """Close abruptly: no DISCONNECT, RST instead of FIN (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_some(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            raise Closed("connection reset by peer") from None
        if not data:
            raise Closed("EOF")
        return data

    def read_packet(self, timeout: float = 5.0) -> Packet:
        """The next packet. TimeoutError if none within timeout, Closed on EOF/reset."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = try_parse(self.buf)
            if parsed is not None:
                pkt, used = parsed
                del self.buf[:used]
                return pkt
            self.buf += self._recv_some(deadline)

    def expect(self, ptype: int, timeout: float = 5.0) -> Packet:
        pkt = self.read_packet(timeout)
        if pkt.ptype != ptype:
            raise AssertionError(f"expected {TYPE_NAMES[ptype]}, got {pkt.name}: {pkt!r}")
        return pkt

    def wait_closed(self, timeout: float, max_bytes: int = 1 << 20) -> bytes:
        """Read (and discard) until the server closes; returns what it sent meanwhile.

        Raises AssertionError if the connection is still open after timeout or the server
        sends more than max_bytes.
        """
        deadline = time.monotonic() + timeout
        got = bytearray(self.buf)
        self.buf.clear()
        while True:
            try:
                got += self._recv_some(deadline)
            except Closed:
                return bytes(got)
            except TimeoutError:
                raise AssertionError(
                    f"server did not close the connection within {timeout:.1f}s "
                    f"(received {bytes(got[:200])!r})") from None
            if len(got) > max_bytes:
                raise AssertionError(f"server sent more than {max_bytes} bytes instead of closing")

    # -- conveniences --

    def connect(self, client_id: Bytesish, timeout: float = 5.0, **kw) -> Tuple[bool, int]:
        """Send CONNECT, return (session_present, return_code) from the CONNACK."""
        self.send(connect(client_id, **kw))
        return self.expect(CONNACK, timeout).connack()

    def subscribe(self, mid: int, topics: Sequence[Tuple[Bytesish, int]],
                  timeout: float = 5.0) -> list:
        self.send(subscribe(mid, topics))
        pkt = self.expect(SUBACK, timeout)
        got_mid, codes = pkt.suback()
        assert got_mid == mid, f"SUBACK for mid {got_mid}, expected {mid}"
        return codes

    def read_publish(self, timeout: float = 5.0) -> Publish:
        return self.expect(PUBLISH, timeout).publish()


def connected(host: str, port: int, client_id: Bytesish, **kw) -> RawClient:
    """A RawClient that has been accepted (CONNACK 0)."""
    c = RawClient(host, port)
    try:
        _, rc = c.connect(client_id, **kw)
        assert rc == 0, f"CONNACK return code {rc} for {client_id!r}"
    except BaseException:
        c.close()
        raise
    return c
