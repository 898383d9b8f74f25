"""A minimal WebSocket client (RFC 6455) over a raw or TLS socket, for the tests that need
control over every byte: split and batched frames, text frames, huge frame headers, half-sent
upgrades. Every read takes a timeout.
"""

from __future__ import annotations

import base64
import os
import ssl
import struct
import time
from typing import Dict, List, Optional, Sequence, Tuple

import mqttraw
from mqttraw import Closed, Packet

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True,
          length: Optional[int] = None) -> bytes:
    """One frame; `length` overrides the length in the header (for lying headers)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def upgrade_request(path: str = "/mqtt", protocols: Sequence[str] = ("mqtt",),
                    extra: Optional[Dict[str, str]] = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
             "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class WsRaw(mqttraw.RawClient):
    """RawClient's socket and read buffer, speaking WebSocket: send() writes raw bytes (the
    upgrade, hand-made frames), send_mqtt() a binary frame, read_packet() reads MQTT packets
    out of binary frames."""

    def __init__(self, host: str, port: int, tls_ca: Optional[str] = None, timeout: float = 5.0):
        super().__init__(host, port, timeout)
        if tls_ca is not None:
            self.sock = ssl.create_default_context(cafile=tls_ca).wrap_socket(
                self.sock, server_hostname="localhost")
        self.mqtt = bytearray()     # binary payload not parsed into MQTT packets yet
        self.status: Optional[int] = None
        self.headers: Dict[str, str] = {}

    def _recv_some(self, deadline: float) -> bytes:
        try:
            return super()._recv_some(deadline)
        except ssl.SSLError as e:  # a TLS peer gone without close_notify
            raise Closed(str(e)) from None

    def send_mqtt(self, data: bytes) -> None:
        self.send(frame(BINARY, data))

    def upgrade(self, path: str = "/mqtt", protocols: Sequence[str] = ("mqtt",),
                extra: Optional[Dict[str, str]] = None, timeout: float = 5.0) -> int:
        """Sends the upgrade and reads the answer's head; returns its status code."""
        self.send(upgrade_request(path, protocols, extra))
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv_some(deadline)
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip()
                        for k, _, v in (l.partition(":") for l in lines[1:])}
        return self.status

    def read_frame(self, timeout: float = 5.0) -> Tuple[bool, int, bytes]:
        """(fin, opcode, payload) of the next frame from the server (never masked)."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.buf
            if len(b) >= 2:
                n, pos = b[1] & 0x7F, 2
                if n == 126 and len(b) >= 4:
                    n, pos = struct.unpack("!H", b[2:4])[0], 4
                elif n == 127 and len(b) >= 10:
                    n, pos = struct.unpack("!Q", b[2:10])[0], 10
                if n < 126 or pos > 2:
                    if len(b) >= pos + n:
                        fin, op, payload = bool(b[0] & 0x80), b[0] & 0x0F, bytes(b[pos:pos + n])
                        del b[:pos + n]
                        return fin, op, payload
            self.buf += self._recv_some(deadline)

    def read_packet(self, timeout: float = 5.0) -> Packet:
        """The next MQTT packet, from binary frames; answers nothing itself."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = mqttraw.try_parse(self.mqtt)
            if parsed is not None:
                pkt, used = parsed
                del self.mqtt[:used]
                return pkt
            fin, op, payload = self.read_frame(max(0.0, deadline - time.monotonic()))
            if op == CLOSE:
                raise Closed(f"close frame {payload!r}")
            assert op in (BINARY, 0), f"server sent opcode {op:#x}"
            self.mqtt += payload

    def wait_closed(self, timeout: float = 5.0) -> List[Tuple[int, bytes]]:
        """Reads frames until the server closes the TCP connection; returns (opcode, payload)
        of each. AssertionError if it is still open after timeout."""
        deadline = time.monotonic() + timeout
        got: List[Tuple[int, bytes]] = []
        while True:
            try:
                _, op, payload = self.read_frame(max(0.0, deadline - time.monotonic()))
                got.append((op, payload))
                if op == CLOSE:  # answer like a client would, so the server closes at once
                    try:
                        self.send(frame(CLOSE, payload[:2]))
                    except OSError:
                        pass
            except Closed:
                return got
            except TimeoutError:
                raise AssertionError(f"server did not close within {timeout}s; frames: "
                                     f"{got!r}, unparsed {bytes(self.buf[:100])!r}") from None


def close_code(frames: List[Tuple[int, bytes]]) -> Optional[int]:
    """The status code of the first close frame among frames, if any."""
    for op, payload in frames:
        if op == CLOSE and len(payload) >= 2:
            return struct.unpack("!H", payload[:2])[0]
    return None
