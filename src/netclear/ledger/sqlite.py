"""SQLite action log: one file, no server, stdlib :mod:`sqlite3`.

* **WAL mode, ``synchronous=FULL``.** A commit appends frames to the write-ahead log and fsyncs it
  before ``COMMIT`` returns, so an acknowledged record survives process death *and* power loss or a
  kernel crash. ``NORMAL`` skips that fsync (it syncs only at checkpoints): still safe against process
  death, but the last commits can vanish on power loss, after they were acknowledged. We log before we
  acknowledge, so we pay for ``FULL`` (``synchronous`` is a parameter only so benchmarks can show the
  cost; see docs/ledger.md).
* **Torn writes.** A crash mid-commit leaves a WAL frame whose checksum or commit marker is
  missing; SQLite's recovery drops that uncommitted transaction on the next open. It was never
  acknowledged (we acknowledge after ``COMMIT`` returns), so dropping it is exact. Committed records
  that later fail verification are reported, never dropped (:class:`~netclear.ledger.log.LogCorruption`).
* **Acknowledged means recorded outside the WAL too.** After each commit the new chain head is
  written to ``<path>.head`` and fsynced (:mod:`netclear.ledger.headfile`); opening a log that ends
  before that head (a WAL cut, a flipped byte that makes SQLite drop frames, a deleted WAL) is
  refused with :class:`~netclear.ledger.log.LogCorruption` naming what is missing.
* **One writer.** An exclusive ``flock`` on ``<path>.lock`` (released by the kernel when the process
  dies); a second opener gets :class:`~netclear.ledger.log.LogInUse`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from netclear.ledger.chain import Row
from netclear.ledger.headfile import Head, HeadFile
from netclear.ledger.log import LogCorruption, LogInUse, LogRecord, Snapshot
from netclear.ledger.store import ChainedLog, SnapshotRow

FORMAT = "netclear-ledger/1"
_SYNC_LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
    " payload BLOB NOT NULL, checksum BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state_hash TEXT NOT NULL,"
    " blob BLOB NOT NULL, log_checksum BLOB NOT NULL, checksum BLOB NOT NULL)",
)
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
log = logging.getLogger("netclear.ledger")
_RECOVER = (
    "refusing to open it so that no acknowledged action is lost and no sequence number is reused."
    " Restore the database and its -wal file from a backup or replica (docs/ledger.md, 'Damaged logs')"
)


_ONE_STATEMENT = 1024
"""Most rows written by one ``INSERT`` (4 parameters each: far below SQLite's 32,766 variables)."""


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    return "INSERT INTO records (seq, time_ms, payload, checksum) VALUES " + ",".join(["(?,?,?,?)"] * rows)


def _lock(path: Path) -> int:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogInUse(str(path)) from None
    return fd


class SqliteLog(ChainedLog):
    """The action log in one SQLite file (created if absent)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "EXTRA", "NORMAL"] = "FULL",
        keep_snapshots: int = 2,
    ) -> None:
        super().__init__(keep_snapshots=keep_snapshots)
        self.path = Path(path)
        self._lock_fd = _lock(self.path)
        self._db: sqlite3.Connection | None = None
        self._headfile: HeadFile | None = None
        try:
            self._headfile = HeadFile(Path(f"{self.path}.head"), sync=synchronous != "NORMAL")
            recorded = self._headfile.read()
            if recorded is None and self._headfile.damaged():
                raise LogCorruption(0, f"the chain head file {self._headfile.path} is damaged; {_RECOVER}")
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            with self._guard(0):
                self._configure(synchronous)
                self._start(self._init_schema(recorded))
                self._check_head(recorded)
        except BaseException:
            self._release()
            raise

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    @contextlib.contextmanager
    def _guard(self, seq: int) -> Iterator[None]:
        """Report SQLite's own corruption errors as :class:`LogCorruption` at ``seq``."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") in _CORRUPT:
                raise LogCorruption(seq, f"SQLite: {exc} ({self.path})") from exc
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _configure(self, synchronous: str) -> None:
        db = self.db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OSError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        level = _SYNC_LEVELS[synchronous]
        db.execute(f"PRAGMA synchronous={level}")
        if db.execute("PRAGMA synchronous").fetchone()[0] != level:
            raise OSError(f"{self.path}: SQLite refused synchronous={synchronous}")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA cell_size_check=ON")

    def _init_schema(self, recorded: Head | None) -> bytes:
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if "log_id" not in meta:
                if db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None:
                    raise LogCorruption(0, "the log id is missing from a non-empty log")
                if recorded is not None and recorded.seq > 0:
                    raise self._refuse(
                        recorded.seq,
                        f"{self.path} holds no log but its head file says {recorded.seq} records were"
                        " acknowledged: the database or its write-ahead log was lost",
                    )
                meta = {"format": FORMAT, "log_id": secrets.token_hex(16)}
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        if meta.get("format") != FORMAT:
            raise LogCorruption(0, f"unknown log format {meta.get('format')!r} (expected {FORMAT!r})")
        try:
            return bytes.fromhex(str(meta["log_id"]))
        except ValueError:
            raise LogCorruption(0, "the log id is malformed") from None

    def _refuse(self, seq: int, what: str) -> LogCorruption:
        """The error for a log short of its acknowledged head; the WAL as found is kept aside first
        (closing the connection checkpoints the valid prefix and deletes the WAL)."""
        wal = Path(f"{self.path}-wal")
        kept = ""
        if wal.exists():
            with contextlib.suppress(OSError):
                shutil.copy2(wal, f"{wal}.refused")
                kept = f" (the write-ahead log as found is kept in {wal}.refused)"
        return LogCorruption(seq, f"{what}; {_RECOVER}{kept}")

    def _check_head(self, recorded: Head | None) -> None:
        """Refuse a log that ends before the head acknowledged in the sidecar, or diverges from it."""
        head = self._current_head()
        assert self._headfile is not None
        if recorded is not None:
            if recorded.genesis != self._genesis:
                raise self._refuse(0, f"the head file {self._headfile.path} belongs to another log")
            if head.seq < recorded.seq:
                raise self._refuse(
                    head.seq + 1,
                    f"the log ends at record {head.seq} but records up to {recorded.seq} were acknowledged"
                    f" (head file {self._headfile.path}): {recorded.seq - head.seq} committed records are"
                    f" missing, the write-ahead log {self.path}-wal was damaged or removed",
                )
            if self._checksum_at(recorded.seq, missing="record is missing") != recorded.checksum:
                raise self._refuse(
                    recorded.seq,
                    f"record {recorded.seq} differs from the acknowledged one (head file"
                    f" {self._headfile.path}): the log was rewritten",
                )
            if head.seq == recorded.seq:
                return
        elif head.seq > 0:
            log.warning(
                "%s has no chain head file: adopting its last record %d as acknowledged (%s)",
                self.path,
                head.seq,
                self._headfile.path,
            )
        self._headfile.write(Head(head.seq, head.checksum, self._genesis))

    # ------------------------------------------------------------------ primitives
    def _insert(self, records: Sequence[LogRecord]) -> None:
        """One transaction. Up to ``_ONE_STATEMENT`` rows it is a single multi-row ``INSERT`` in
        autocommit mode: SQLite wraps a statement outside ``BEGIN`` in its own transaction and
        commits it (with the WAL fsync of ``FULL``) before the statement returns (sqlite.org
        "Transactions", "Implicit versus explicit transactions"), all or nothing. That is one
        ``sqlite3_step``, so the writer thread gives up and re-takes Python's interpreter lock once
        per batch instead of once per row plus ``BEGIN`` and ``COMMIT``; under load each re-take
        waits for the busy event loop (docs/benchmarks.md, issue 12)."""
        if 0 < len(records) <= _ONE_STATEMENT:
            params: list[object] = []
            for r in records:
                params += (r.seq, r.time_ms, r.payload, r.checksum)
            self.db.execute(_insert_sql(len(records)), params)
        else:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO records (seq, time_ms, payload, checksum) VALUES (?, ?, ?, ?)",
                    [(r.seq, r.time_ms, r.payload, r.checksum) for r in records],
                )
        if records and self._headfile is not None:  # acknowledged only once the head is durable too
            self._headfile.write(Head(records[-1].seq, records[-1].checksum, self._genesis))

    def _fetch(self, first: int, limit: int) -> Sequence[Row]:
        with self._guard(first):
            return self.db.execute(
                "SELECT seq, time_ms, payload, checksum FROM records WHERE seq >= ? ORDER BY seq LIMIT ?",
                (first, limit),
            ).fetchall()

    def _row(self, seq: int) -> Row | None:
        with self._guard(seq):
            row: Row | None = self.db.execute(
                "SELECT seq, time_ms, payload, checksum FROM records WHERE seq = ?", (seq,)
            ).fetchone()
            return row

    def _last_row(self) -> Row | None:
        with self._guard(0):
            row: Row | None = self.db.execute(
                "SELECT seq, time_ms, payload, checksum FROM records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            return row

    def _put_snapshot(self, snap: Snapshot, log_checksum: bytes, checksum: bytes) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO snapshots (seq, state_hash, blob, log_checksum, checksum)"
                " VALUES (?, ?, ?, ?, ?)",
                (snap.seq, snap.state_hash, snap.blob, log_checksum, checksum),
            )
            db.execute(
                "DELETE FROM snapshots WHERE seq NOT IN"
                " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                (self.keep_snapshots,),
            )

    def _get_snapshot(self, below: int | None = None) -> SnapshotRow | None:
        with self._guard(0):
            row: SnapshotRow | None = self.db.execute(
                "SELECT seq, state_hash, blob, log_checksum, checksum FROM snapshots WHERE seq < ?"
                " ORDER BY seq DESC LIMIT 1",
                (2**62 if below is None else below,),
            ).fetchone()
            return row

    def _get_meta(self, key: str) -> str | None:
        with self._guard(0):
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _release(self) -> None:
        try:
            if self._db is not None:
                self._db.close()
        finally:
            self._db = None
            if self._headfile is not None:
                self._headfile.close()
                self._headfile = None
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1
