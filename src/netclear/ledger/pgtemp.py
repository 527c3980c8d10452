"""A throwaway PostgreSQL cluster for tests and benchmarks.

``initdb`` into a temporary directory, then the server on a free port, reachable only through a unix
socket in that directory; :meth:`TempCluster.stop` shuts it down and deletes the directory.
PostgreSQL refuses to run as root; under root the server runs as ``run_as`` (``nobody``).

The server is started as a child of this process (not daemonised by ``pg_ctl``) and, on Linux, is
told to quit when this process dies (``PR_SET_PDEATHSIG``), so a test run killed by a timeout does not
leave a server behind; directories left by such runs are swept after an hour. ``initdb --no-sync``
skips flushing the fresh cluster's files (nothing to protect yet); the server runs with ``fsync=on``
and data checksums, so commit timings are real.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PREFIX = "netclear-pg-"
_PR_SET_PDEATHSIG = 1
_SERVER_OPTS = ("-c", "listen_addresses=", "-c", "fsync=on")


class ClusterUnavailable(RuntimeError):
    """PostgreSQL server binaries (or a user to run them as) are missing on this machine."""


def find_pg_binary(name: str) -> str | None:
    """``name`` on ``PATH``, else in the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _quit_with_parent() -> None:
    """In the server's process, before exec: SIGQUIT (immediate shutdown) when our parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def _alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def sweep_stale(max_age_s: float = 3600.0) -> None:
    """Delete cluster directories of dead runs (no live server) older than ``max_age_s``."""
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > max_age_s and not _alive(
                path / "data" / "postmaster.pid"
            ):
                shutil.rmtree(path, ignore_errors=True)


class TempCluster:
    """``with TempCluster() as pg: PostgresLog(pg.conninfo)``."""

    def __init__(self, *, run_as: str = "nobody") -> None:
        initdb, postgres = find_pg_binary("initdb"), find_pg_binary("postgres")
        if initdb is None or postgres is None:
            raise ClusterUnavailable("PostgreSQL server binaries (initdb, postgres) are not installed")
        self._initdb, self._postgres = initdb, postgres
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(run_as)
            except KeyError:
                raise ClusterUnavailable(
                    f"running as root and there is no user {run_as!r} to run postgres as"
                ) from None
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self.base: Path | None = None
        self.port = 0
        self._server: subprocess.Popen[bytes] | None = None

    @property
    def conninfo(self) -> str:
        assert self.base is not None, "the cluster is not started"
        return f"host={self.base} port={self.port} user=postgres dbname=postgres"

    def start(self, timeout_s: float = 60.0) -> Self:
        sweep_stale()
        self.base = base = Path(tempfile.mkdtemp(prefix=PREFIX))
        if self._user:
            os.chown(base, self._user["user"], self._user["group"])
        self.port = free_port()
        data, log = base / "data", base / "server.log"
        try:
            subprocess.run(
                [
                    self._initdb,
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "-k",
                    "--no-sync",
                ],
                check=True,
                cwd=base,
                capture_output=True,
                **self._user,
            )
            with open(log, "wb") as out:
                self._server = subprocess.Popen(
                    [self._postgres, "-D", str(data), "-k", str(base), "-p", str(self.port), *_SERVER_OPTS],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=base,
                    preexec_fn=_quit_with_parent if sys.platform == "linux" else None,
                    **self._user,
                )
            self._wait_ready(data / "postmaster.pid", timeout_s)
        except (subprocess.CalledProcessError, TimeoutError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            detail += log.read_bytes()[-2000:] if log.exists() else b""
            self.stop()
            raise RuntimeError(
                f"could not start a throwaway PostgreSQL: {exc}\n{detail.decode(errors='replace')}"
            ) from exc
        return self

    def _wait_ready(self, pid_file: Path, timeout_s: float) -> None:
        """Until ``postmaster.pid`` says ``ready`` (its 8th line; what ``pg_ctl -w`` waits for)."""
        assert self._server is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise OSError(f"postgres exited with status {self._server.returncode}")
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            time.sleep(0.02)
        raise TimeoutError(f"postgres not ready after {timeout_s} s")

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then delete the cluster."""
        server, self._server = self._server, None
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self) -> Self:
        return self if self.base is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
