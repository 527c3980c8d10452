"""Shared ledger-test helpers: the backends under test, and deterministic records."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netclear.ledger.log import Entry
from netclear.ledger.store import ChainedLog

OpenLog = Callable[..., ChainedLog]


def payload(seq: int) -> bytes:
    return f"action-{seq}:".encode() + bytes(range(seq % 7, seq % 7 + 40))


def fill(log: ChainedLog, n: int, start_time: int = 1_700_000_000_000) -> None:
    """Records 1..n: singles and batches mixed; record ``k`` has ``payload(k)`` and time ``start+k//3``."""
    seq = log.last_seq()
    while seq < n:
        size = min(1 + seq % 4, n - seq)
        log.append_many([Entry(start_time + (seq + i + 1) // 3, payload(seq + i + 1)) for i in range(size)])
        seq += size


class Backend:
    """Opens the test's log and tampers with its rows behind the log's back."""

    name = ""

    def open(self, **kwargs: Any) -> ChainedLog:
        raise NotImplementedError

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Raw SQL with ``{records}``/``{snapshots}`` table names and ``?`` placeholders."""
        raise NotImplementedError

    def worker_args(self) -> list[str]:
        """How the crash worker (``crash_worker.py``) opens the same log."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self, **kwargs: Any) -> ChainedLog:
        from netclear.ledger.sqlite import SqliteLog

        return SqliteLog(self.path, **kwargs)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``statement`` on the database behind the log's back.

        A statement that changes rows also removes the chain-head sidecar (``<db>.head``), so that these
        tamper tests exercise the chain's own checks, as on PostgreSQL; the sidecar refuses such logs
        at open on its own (tests/ledger/test_damage.py)."""
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            rows = db.execute(statement.format(records="records", snapshots="snapshots"), params).fetchall()
            changed = db.total_changes
        finally:
            db.close()
        if changed:
            Path(f"{self.path}.head").unlink(missing_ok=True)
        return rows

    def worker_args(self) -> list[str]:
        return ["sqlite", str(self.path)]


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.schema = f"t_{uuid.uuid4().hex[:16]}"

    def open(self, **kwargs: Any) -> ChainedLog:
        from netclear.ledger.postgres import PostgresLog

        return PostgresLog(self.conninfo, schema=self.schema, **kwargs)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        text = statement.format(records=f"{self.schema}.records", snapshots=f"{self.schema}.snapshots")
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            cur = conn.execute(text.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def worker_args(self) -> list[str]:
        return ["postgres", self.conninfo, self.schema]
