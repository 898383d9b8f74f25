"""A throwaway PostgreSQL 15 server for tests (stdlib only); the twin of tests/store/pg_server.hpp.

PgServer: initdb into a fresh directory under /tmp, started on a free port of 127.0.0.1 (trust
authentication, superuser "thingport", fsync off), a fresh database per test
(create_database), taken away and brought back on the same port for fault tests (stop, start),
everything removed by close() (also at exit, and on leaving a `with` block). PostgreSQL refuses
to run as root: as root the server and its tools run as the `postgres` user. A watchdog process
stops the server and removes the directory should this process die without cleaning up.

    with PgServer() as pg:
        url = pg.create_database()  # postgresql://thingport@127.0.0.1:PORT/t1_1234

Binaries: /usr/lib/postgresql/15/bin, or the directory in THINGPORT_PG_BINDIR.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

BINDIR = Path(os.environ.get("THINGPORT_PG_BINDIR") or "/usr/lib/postgresql/15/bin")
SUPERUSER = "thingport"
START_ATTEMPTS = 5  # a free port taken by someone else before us
TOOL_TIMEOUT = 120.0
TAIL_LINES = 30

# Runs in its own session with stdin a pipe only we hold: EOF when we are gone, however we ended.
_WATCHDOG = 'read -r _; "$1" -D "$2/data" -m immediate -w stop; rm -rf -- "$2"'


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(text: str) -> str:
    return "\n".join(text.rstrip("\n").split("\n")[-TAIL_LINES:])


class PgServer:
    """One throwaway server. start() the first time runs initdb on a new port; later, it starts
    the same data directory on the same port again. Not for concurrent start/stop/close; url()
    and create_database() may be called from any thread."""

    def __init__(self, bindir: Optional[Path | str] = None, fsync: bool = False) -> None:
        """fsync=True: commits wait for the disk, as in production (benchmarks)."""
        self.bindir = Path(bindir) if bindir else BINDIR
        self.fsync = fsync
        self.dir: Optional[Path] = None
        self.port = 0
        self.running = False
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()
        self._owner = os.getpid()
        self._watchdog: Optional[subprocess.Popen] = None
        self._as: Dict[str, Any] = {}  # Popen arguments that make the tools run as `postgres`
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("PgServer: running as root and there is no `postgres` user")
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    # -- public ---------------------------------------------------------------------------------

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def start(self) -> "PgServer":
        """initdb and start on a free port the first time; start again on the same port after
        stop(). Waits until the server accepts connections. Raises RuntimeError with the tool's
        output and the log's tail."""
        if self.running:
            return self
        if self.dir is None:
            try:
                self._init()
                self._launch(pick_port=True)
            except BaseException:
                self.close()
                raise
        else:
            self._launch(pick_port=False)
        return self

    def stop(self) -> None:
        """Fast shutdown (open connections are cut); waits until the server is gone."""
        if not self.running:
            return
        error = self._run([self._tool("pg_ctl"), "-D", self._data(), "-m", "fast", "-w", "stop"])
        if error:
            raise RuntimeError(f"PgServer: cannot stop PostgreSQL: {error}")
        self.running = False

    def create_database(self) -> str:
        """A fresh, empty database (named t<n>_<pid>); returns its URL."""
        with self._counter_lock:
            name = f"t{next(self._counter)}_{os.getpid()}"
        args = [self._tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
                "-c", f"CREATE DATABASE {name}"]
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env, timeout=TOOL_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"PgServer: CREATE DATABASE {name} failed "
                               f"(psql exited with status {proc.returncode}): {proc.stdout}")
        return self.url(name)

    def psql(self, url: str, sql: str) -> str:
        """Runs `sql` on the database at `url` (psql, stops at the first error); its output."""
        args = [self._tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url,
                "-c", sql]
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TOOL_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"PgServer: psql failed ({proc.returncode}): {proc.stdout}")
        return proc.stdout

    def close(self) -> None:
        """Immediate shutdown, directory removed. Idempotent; a no-op in a forked child."""
        if os.getpid() != self._owner:
            return
        atexit.unregister(self.close)
        if self.dir is not None:
            try:
                self._stop_immediately()
            except OSError:
                pass  # the watchdog below is the last resort
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            if self._watchdog.stdin is not None:
                self._watchdog.stdin.close()
            self._watchdog = None

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- private --------------------------------------------------------------------------------

    def _tool(self, name: str) -> str:
        return str(self.bindir / name)

    def _data(self) -> str:
        assert self.dir is not None
        return str(self.dir / "data")

    def _init(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="thingport-pg-", dir="/tmp"))
        atexit.register(self.close)
        if self._as:
            os.chown(self.dir, self._as["user"], self._as["group"])
        os.chmod(self.dir, 0o700)
        self._watchdog = subprocess.Popen(
            ["/bin/sh", "-c", _WATCHDOG, "sh", self._tool("pg_ctl"), str(self.dir)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True, **self._as)
        initdb = [self._tool("initdb"), "-D", self._data(), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8"]
        error = self._run(initdb + ["--locale=C.UTF-8"])
        if error:
            shutil.rmtree(self._data(), ignore_errors=True)
            second = self._run(initdb + ["--no-locale"])
            if second:
                raise RuntimeError(f"PgServer: initdb failed with --locale=C.UTF-8: {error}\n"
                                   f"and with --no-locale: {second}")

    def _launch(self, pick_port: bool) -> None:
        assert self.dir is not None
        log = self.dir / "log"
        for attempt in range(1, START_ATTEMPTS + 1):
            if pick_port:
                self.port = _free_port()
            offset = log.stat().st_size if log.exists() else 0
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                       f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=200")
            error = self._run([self._tool("pg_ctl"), "-D", self._data(), "-o", options,
                               "-l", str(log), "-w", "start"])
            if not error:
                self.running = True
                return
            self._stop_immediately()  # pg_ctl may have given up on a server still coming up
            with open(log, "rb") as f:
                f.seek(offset)
                new_log = f.read().decode(errors="replace")
            if pick_port and attempt < START_ATTEMPTS and "Address already in use" in new_log:
                continue
            raise RuntimeError(f"PgServer: cannot start PostgreSQL on 127.0.0.1:{self.port}: "
                               f"{error}\nserver log ({log}):\n{_tail(new_log)}")

    def _stop_immediately(self) -> None:
        if Path(self._data(), "postmaster.pid").exists():
            self._run([self._tool("pg_ctl"), "-D", self._data(), "-m", "immediate", "-w",
                       "stop"])
        self.running = False

    def _run(self, args: List[str]) -> str:
        """Runs a tool as the server's user in the server's directory. Returns "" on exit
        status 0, else what happened and the output."""
        try:
            proc = subprocess.run(args, cwd=self.dir, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=TOOL_TIMEOUT, **self._as)
        except (OSError, subprocess.SubprocessError) as e:
            return f"{args[0]}: {e}"
        if proc.returncode == 0:
            return ""
        how = (f"exited with status {proc.returncode}" if proc.returncode > 0
               else f"was killed by signal {-proc.returncode}")
        return f"{args[0]} {how}\n{_tail(proc.stdout)}"


_shared: Optional[PgServer] = None
_shared_lock = threading.Lock()


def shared() -> PgServer:
    """The server of this test process, started on first use, closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server = PgServer()
            server.start()
            _shared = server
        return _shared
