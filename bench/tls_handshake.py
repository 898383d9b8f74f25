#!/usr/bin/env python3
"""TLS handshake rate of thingport's tls listener, on loopback.

Opens N connections (bounded), each: TCP connect, full TLS handshake (no session resumption),
then an MQTT CONNECT/CONNACK unless --no-mqtt, then close; C client threads in parallel.
Reports handshakes per second and latency percentiles. Client and server share the machine's
cores, so the figure is a floor for the server alone.

  bench/tls_handshake.py [--bin PATH] [-n 2000] [-c 4] [--tls 1.2|1.3] [--no-mqtt]
  bench/tls_handshake.py --port PORT --ca CA.pem ...   # against a running server

Without --port it starts `thingport serve` itself (certificates from `thingport cert dev`,
a tls listener on 127.0.0.1:0) and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONNECT = bytes([0x10, 0x0E, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x3C, 0x00, 0x02]) \
    + b"hs"  # MQTT 3.1.1, clean session, keepalive 60, client id "hs"


def start_server(binary: str, workdir: Path):
    data = workdir / "data"
    subprocess.run([binary, "cert", "dev", "--data", str(data)], check=True,
                   stdout=subprocess.DEVNULL)
    cfg = workdir / "thingport.toml"
    cfg.write_text(f'data_dir = "{data}"\n[listeners]\ntcp = "127.0.0.1:0"\ntls = "127.0.0.1:0"\n'
                   'ws = ""\nwss = ""\n[tls]\ncert = "server.pem"\nkey = "server.key"\n'
                   '[http]\nlisten = "127.0.0.1:0"\n[auth]\nallow_anonymous = true\n'
                   '[log]\nlevel = "warn"\n')
    proc = subprocess.Popen([binary, "serve", "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    for raw in iter(proc.stdout.readline, b""):
        m = re.search(rb"thingport: listening tls \S+:(\d+)", raw)
        if m:
            threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
            return proc, int(m.group(1)), str(data / "ca.pem")
        if time.monotonic() > deadline:
            break
    proc.kill()
    sys.exit("thingport did not announce a tls listener")


def run(port: int, ca: str, n: int, conc: int, version: str, mqtt: bool):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = (
        ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2)
    counter = iter(range(n))
    lock = threading.Lock()
    lat: list = []
    errors: list = []

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            t0 = time.perf_counter()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname="localhost") as t:
                        if mqtt:
                            t.sendall(CONNECT)
                            if t.recv(4)[:1] != b"\x20":
                                raise RuntimeError("no CONNACK")
                lat.append(time.perf_counter() - t0)
            except Exception as e:  # counted and shown, the run goes on
                errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("THINGPORT_BIN", "build/release/src/app/thingport"))
    ap.add_argument("--port", type=int)
    ap.add_argument("--ca")
    ap.add_argument("-n", type=int, default=2000, help="connections (at most 100000)")
    ap.add_argument("-c", type=int, default=4, help="client threads")
    ap.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    ap.add_argument("--no-mqtt", action="store_true", help="handshake only, no CONNECT")
    a = ap.parse_args()
    n = max(1, min(a.n, 100000))
    proc = None
    with tempfile.TemporaryDirectory(prefix="tp-tls-bench-") as tmp:
        if a.port:
            port, ca = a.port, a.ca
        else:
            proc, port, ca = start_server(a.bin, Path(tmp))
        try:
            run(port, ca, min(50, n), a.c, a.tls, not a.no_mqtt)  # warm up
            secs, lat, errors = run(port, ca, n, a.c, a.tls, not a.no_mqtt)
        finally:
            if proc:
                proc.terminate()
                proc.wait(10)
    lat.sort()
    ok = len(lat)
    print(f"TLS {a.tls}{'' if a.no_mqtt else ' + MQTT CONNECT'}: {ok}/{n} connections, "
          f"{a.c} client threads, {secs:.2f} s -> {ok / secs:.0f} handshakes/s")
    if ok:
        pct = lambda p: lat[min(ok - 1, int(p * ok))] * 1000  # noqa: E731
        print(f"latency ms: p50 {pct(0.5):.2f}  p99 {pct(0.99):.2f}  "
              f"mean {statistics.mean(lat) * 1000:.2f}")
    if errors:
        print(f"{len(errors)} errors, first: {errors[0]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
