""":class:`ChainedLog`: the :class:`~netclear.ledger.log.ActionLog` logic over a few storage primitives.

A backend (SQLite, PostgreSQL) only stores and fetches rows; sequence numbers, checksums, verification
and snapshot binding live here, once. The chain head (last ``seq``, checksum, time) is cached; after a
failed write it is forgotten and re-read from storage, so a rolled-back or half-known commit never
leaves a stale head behind. Instances are thread-safe (one lock); the one-writer rule across
processes is the backend's lock.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Self

from netclear.ledger.chain import DIGEST_SIZE, Chain, Row, config_checksum, genesis, snapshot_checksum
from netclear.ledger.log import Entry, LogClosed, LogCorruption, LogRecord, Snapshot, SnapshotDamaged

RESERVED_META = frozenset({"format", "log_id", "config_checksum"})
"""Meta keys the log writes itself; :meth:`ChainedLog.set_meta` refuses them."""

SnapshotRow = tuple[object, object, object, object, object]
"""``(seq, state_hash, blob, log_checksum, checksum)`` as stored."""


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return None


def _trusted_head(row: Row, seq: int) -> Chain:
    """A chain head from a stored row taken on trust (its own checksum is not re-derived)."""
    stored_seq, time_ms, _, checksum = row
    digest = _as_bytes(checksum)
    if stored_seq != seq or not isinstance(time_ms, int) or digest is None or len(digest) != DIGEST_SIZE:
        raise LogCorruption(seq, "malformed row (a field has the wrong type or size)")
    return Chain(seq, digest, time_ms)


class ChainedLog(ABC):
    """Sequence numbers, the checksum chain and snapshots, over a backend's primitives."""

    page_size = 2048
    """Rows fetched per query while reading (the reader holds no lock or transaction between pages)."""

    def __init__(self, *, keep_snapshots: int = 2) -> None:
        if keep_snapshots < 1:
            raise ValueError("keep_snapshots must be at least 1")
        self.keep_snapshots = keep_snapshots
        self._mutex = threading.RLock()
        self._genesis = b""
        self._head: Chain | None = None
        self._closed = False

    # ------------------------------------------------------------------ backend primitives
    @abstractmethod
    def _insert(self, records: Sequence[LogRecord]) -> None:
        """Store ``records`` in one transaction, durable when this returns."""

    @abstractmethod
    def _fetch(self, first: int, limit: int) -> Sequence[Row]:
        """Up to ``limit`` rows with ``seq >= first``, in ``seq`` order."""

    @abstractmethod
    def _row(self, seq: int) -> Row | None: ...

    @abstractmethod
    def _last_row(self) -> Row | None: ...

    @abstractmethod
    def _put_snapshot(self, snap: Snapshot, log_checksum: bytes, checksum: bytes) -> None:
        """Store a snapshot durably and drop all but the newest ``keep_snapshots``."""

    @abstractmethod
    def _get_snapshot(self, below: int | None = None) -> SnapshotRow | None:
        """The stored snapshot with the highest ``seq`` (below ``below`` when given)."""

    @abstractmethod
    def _get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def _set_meta(self, key: str, value: str) -> None:
        """Store ``key = value`` durably (insert or replace)."""

    @abstractmethod
    def _release(self) -> None:
        """Close the connection and release the writer lock."""

    # ------------------------------------------------------------------ helpers
    def _start(self, log_id: bytes) -> None:
        """Called by the backend once storage is open: fixes the genesis and loads the head."""
        self._genesis = genesis(log_id)
        self._load_head()

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosed()

    def _load_head(self) -> Chain:
        row = self._last_row()
        if row is None:
            head = Chain(0, self._genesis, None)
        else:
            if not isinstance(row[0], int) or row[0] < 1:
                raise LogCorruption(0, f"malformed sequence number {row[0]!r}")
            head = _trusted_head(row, row[0])
        self._head = head
        return head

    def _current_head(self) -> Chain:
        self._check_open()
        return self._head if self._head is not None else self._load_head()

    def _checksum_at(self, seq: int, *, missing: str) -> bytes:
        if seq == 0:
            return self._genesis
        row = self._row(seq)
        if row is None:
            raise LogCorruption(seq, missing)
        return _trusted_head(row, seq).checksum

    # ------------------------------------------------------------------ ActionLog
    def last_seq(self) -> int:
        with self._mutex:
            return self._current_head().seq

    def append(self, entry: Entry) -> int:
        return self.append_many((entry,)).start

    def append_many(self, entries: Sequence[Entry]) -> range:
        with self._mutex:
            head = self._current_head()
            work = head.copy()
            records = [work.extend(e.time_ms, e.payload) for e in entries]
            if records:
                try:
                    self._insert(records)
                except BaseException:
                    self._head = None  # the outcome is storage's to tell: re-read before the next use
                    raise
                self._head = work
            return range(head.seq + 1, work.seq + 1)

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        with self._mutex:
            self._check_open()
            first = max(seq, 1)
            if first == 1:
                chain = Chain(0, self._genesis, None)
            elif first - 1 > self._current_head().seq:
                return iter(())
            else:
                row = self._row(first - 1)
                if row is None:
                    raise LogCorruption(first - 1, "record is missing")
                chain = _trusted_head(row, first - 1)
        return self._pages(chain)

    def _pages(self, chain: Chain) -> Iterator[LogRecord]:
        while True:
            with self._mutex:
                self._check_open()
                rows = self._fetch(chain.seq + 1, self.page_size)
            for row in rows:
                yield chain.verify(row)
            if len(rows) < self.page_size:
                return

    def save_snapshot(self, seq: int, state_hash: str, blob: bytes) -> Snapshot:
        if not isinstance(state_hash, str) or not isinstance(blob, bytes):
            raise TypeError("state_hash must be str and blob bytes")
        with self._mutex:
            last = self._current_head().seq
            if not 0 <= seq <= last:
                raise ValueError(f"snapshot seq {seq} is outside the log (0..{last})")
            log_checksum = self._checksum_at(seq, missing="record is missing")
            snap = Snapshot(seq, state_hash, blob)
            self._put_snapshot(snap, log_checksum, snapshot_checksum(log_checksum, seq, state_hash, blob))
            return snap

    def latest_snapshot(self) -> Snapshot | None:
        with self._mutex:
            self._check_open()
            row = self._get_snapshot()
            return None if row is None else self._verified_snapshot(row)

    def snapshots(self) -> Iterator[Snapshot | SnapshotDamaged]:
        """Every stored snapshot, newest first: verified, or the :class:`LogCorruption` it fails with
        (start-up falls back to an older snapshot, then to a full replay; docs/ledger.md)."""
        below: int | None = None
        while True:
            with self._mutex:
                self._check_open()
                row = self._get_snapshot(below)
                if row is None:
                    return
                seq = row[0]
                if not isinstance(seq, int):
                    yield SnapshotDamaged(0, "malformed snapshot row")
                    return
                try:
                    found: Snapshot | SnapshotDamaged = self._verified_snapshot(row)
                except SnapshotDamaged as exc:
                    found = exc
            yield found
            below = seq

    def _verified_snapshot(self, row: SnapshotRow) -> Snapshot:
        with self._mutex:
            seq, state_hash, blob_v, log_v, sum_v = row
            blob, log_checksum, checksum = _as_bytes(blob_v), _as_bytes(log_v), _as_bytes(sum_v)
            if not isinstance(seq, int) or not isinstance(state_hash, str):
                raise SnapshotDamaged(seq if isinstance(seq, int) else 0, "malformed snapshot row")
            if blob is None or log_checksum is None or checksum is None:
                raise SnapshotDamaged(seq, "malformed snapshot row")
            if snapshot_checksum(log_checksum, seq, state_hash, blob) != checksum:
                raise SnapshotDamaged(seq, "snapshot checksum mismatch: the snapshot was altered or torn")
            missing = (
                f"snapshot is after the end of the log ({self._current_head().seq}): committed records were lost"
                if seq > self._current_head().seq
                else "record is missing"
            )
            if self._checksum_at(seq, missing=missing) != log_checksum:
                raise LogCorruption(
                    seq, "snapshot does not match the log at this record: the log was rewritten"
                )
            return Snapshot(seq, state_hash, blob)

    def get_meta(self, key: str) -> str | None:
        """A stored value; ``config`` is checked against its checksum (bound to the genesis)."""
        with self._mutex:
            self._check_open()
            value = self._get_meta(key)
            if (
                key == "config"
                and value is not None
                and self._get_meta("config_checksum") != config_checksum(self._genesis, value)
            ):
                raise LogCorruption(
                    0,
                    "the stored configuration (meta config) does not match its checksum: it was"
                    " edited or damaged; the log replays only under the configuration it was written"
                    " under (restore it from a backup)",
                )
            return value

    def set_meta(self, key: str, value: str) -> None:
        if key in RESERVED_META:
            raise ValueError(f"meta key {key!r} belongs to the log itself")
        with self._mutex:
            self._check_open()
            if key == "config":  # the checksum first: a crash in between leaves no unchecked config
                self._set_meta("config_checksum", config_checksum(self._genesis, value))
            self._set_meta(key, value)

    def close(self) -> None:
        with self._mutex:
            if not self._closed:
                self._closed = True
                self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
