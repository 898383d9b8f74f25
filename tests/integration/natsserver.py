"""A NATS server for the cluster tests (docs/cluster.md): nats-server on a free loopback port
with its own temp dir, started, stopped (SIGTERM) and started again on the same port. Waits are
on its "Server is ready" log line, with a deadline."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import List, Optional

from harness import OutputLog, _track, free_port, kill_process

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tp-nats-"))
        self.proc: Optional[subprocess.Popen] = None
        self.log = OutputLog()
        self._readers: List[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "NatsServer":
        assert self.proc is None or self.proc.poll() is not None, "nats-server already running"
        self.log = OutputLog()
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "--pid", str(self.dir / "pid")],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        _track(self.proc)
        t = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        t.start()
        self._readers = [t]
        if not self.log.wait_for("Server is ready", timeout=timeout):
            self.stop()
            raise AssertionError(f"nats-server not ready within {timeout}s:\n{self.log.tail()}")
        return self

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.log.add(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def stop(self) -> None:
        if self.proc is not None:
            kill_process(self.proc)
            for t in self._readers:
                t.join(2)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
