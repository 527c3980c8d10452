"""SQLite action log (the default: one file, no server).

WAL mode with ``synchronous=FULL``: a committed transaction is on disk when ``COMMIT`` returns, so an
acknowledged action survives power loss (``NORMAL`` would only survive a process crash; we log before
acknowledging, so we pay for FULL). SQLite commits atomically: a crash mid-write leaves the last
transaction either wholly present or wholly absent, never torn. Damage after the fact (a flipped
byte, a deleted row) is caught by the hash chain on read, or by SQLite itself, and reported as
:class:`~netclear.ledger.actionlog.LogCorruption`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from netclear.ledger.actionlog import GENESIS, LogCorruption, LogRecord, Snapshot, verify

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    payload BLOB NOT NULL,
    digest BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    state_hash TEXT NOT NULL,
    blob BLOB NOT NULL
);
"""


class SqliteLog:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LogCorruption(0, f"cannot open {self.path}: {exc}") from None

    def last(self) -> tuple[int, bytes]:
        row = self._db.execute("SELECT seq, digest FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))

    def append_many(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO log (seq, time_ms, payload, digest) VALUES (?, ?, ?, ?)",
                [(r.seq, r.time_ms, r.payload, r.digest) for r in records],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _digest_before(self, seq: int) -> bytes:
        if seq <= 1:
            return GENESIS
        row = self._db.execute("SELECT digest FROM log WHERE seq = ?", (seq - 1,)).fetchone()
        if row is None:
            raise LogCorruption(seq - 1, "record is missing")
        return bytes(row[0])

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        seq = max(seq, 1)
        try:
            prev = self._digest_before(seq)
            cur = self._db.execute(
                "SELECT seq, time_ms, payload, digest FROM log WHERE seq >= ? ORDER BY seq", (seq,)
            )
            yield from verify(iter(cur), seq - 1, prev)
        except sqlite3.DatabaseError as exc:
            raise LogCorruption(seq, f"database error: {exc}") from None

    def save_snapshot(self, snap: Snapshot) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO snapshots (seq, state_hash, blob) VALUES (?, ?, ?)",
            (snap.seq, snap.state_hash, snap.blob),
        )

    def latest_snapshot(self) -> Snapshot | None:
        row = self._db.execute(
            "SELECT seq, state_hash, blob FROM snapshots ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else Snapshot(int(row[0]), str(row[1]), bytes(row[2]))

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._db.close()
