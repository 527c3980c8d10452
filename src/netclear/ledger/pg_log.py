"""PostgreSQL action log (psycopg 3), same rows and guarantees as :mod:`netclear.ledger.sqlite_log`.

A transaction committed with the default ``synchronous_commit = on`` is durable when ``COMMIT``
returns. Install with ``pip install 'netclear[pg]'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from netclear.ledger.actionlog import GENESIS, LogCorruption, LogRecord, Snapshot, verify

_SCHEMA = """
CREATE TABLE IF NOT EXISTS netclear_log (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    digest BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS netclear_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS netclear_snapshots (
    seq BIGINT PRIMARY KEY,
    state_hash TEXT NOT NULL,
    blob BYTEA NOT NULL
);
"""


class PostgresLog:
    def __init__(self, dsn: str) -> None:
        import psycopg

        self._pg: Any = psycopg
        self._db: Any = psycopg.connect(dsn, autocommit=False)
        with self._db.transaction():
            self._db.execute(_SCHEMA)

    def last(self) -> tuple[int, bytes]:
        with self._db.transaction():
            row = self._db.execute(
                "SELECT seq, digest FROM netclear_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))

    def append_many(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        with self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO netclear_log (seq, time_ms, payload, digest) VALUES (%s, %s, %s, %s)",
                [(r.seq, r.time_ms, r.payload, r.digest) for r in records],
            )

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        seq = max(seq, 1)
        with self._db.transaction():
            if seq > 1:
                row = self._db.execute(
                    "SELECT digest FROM netclear_log WHERE seq = %s", (seq - 1,)
                ).fetchone()
                if row is None:
                    raise LogCorruption(seq - 1, "record is missing")
                prev = bytes(row[0])
            else:
                prev = GENESIS
            rows = self._db.execute(
                "SELECT seq, time_ms, payload, digest FROM netclear_log WHERE seq >= %s ORDER BY seq", (seq,)
            ).fetchall()
        yield from verify(iter(rows), seq - 1, prev)

    def save_snapshot(self, snap: Snapshot) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO netclear_snapshots (seq, state_hash, blob) VALUES (%s, %s, %s) "
                "ON CONFLICT (seq) DO UPDATE SET state_hash = EXCLUDED.state_hash, blob = EXCLUDED.blob",
                (snap.seq, snap.state_hash, snap.blob),
            )

    def latest_snapshot(self) -> Snapshot | None:
        with self._db.transaction():
            row = self._db.execute(
                "SELECT seq, state_hash, blob FROM netclear_snapshots ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else Snapshot(int(row[0]), str(row[1]), bytes(row[2]))

    def get_meta(self, key: str) -> str | None:
        with self._db.transaction():
            row = self._db.execute("SELECT value FROM netclear_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO netclear_meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    def close(self) -> None:
        self._db.close()
