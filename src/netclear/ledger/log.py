"""The action-log contract: records, snapshots, errors and the :class:`ActionLog` protocol.

Every accepted action is appended *before* it is applied and acknowledged, so the log is the truth and
the engine state is a cache of it. Each stored record carries a checksum chained to its predecessor
(:mod:`netclear.ledger.chain`); reading verifies the chain and raises :class:`LogCorruption` at the
first record that fails, so a damaged log is reported, never applied. Decisions (torn tail, fsync
level, rejected actions) are argued in ``docs/ledger.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from netclear.errors import NetclearError


class LogCorruption(NetclearError):
    """The log cannot be trusted from record ``seq`` on; ``reason`` says what was found."""

    code = "log_corruption"

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"log seq {seq}", reason)
        self.seq = seq
        self.reason = reason


class SnapshotDamaged(LogCorruption):
    """A stored snapshot fails its own checksum: the log itself is intact, start from an older one."""

    code = "snapshot_damaged"


class LogInUse(NetclearError):
    """Another writer holds the log: there is exactly one writer per log."""

    code = "log_in_use"

    def __init__(self, where: str) -> None:
        super().__init__(where, "another writer holds this log (one writer per log)")


class LogClosed(NetclearError):
    """The log was used after :meth:`ActionLog.close`."""

    code = "log_closed"

    def __init__(self) -> None:
        super().__init__("log", "the log is closed")


@dataclass(frozen=True, slots=True)
class Entry:
    """What a writer appends: the log assigns ``seq`` and the checksum."""

    time_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A stored record; ``checksum`` chains it to record ``seq - 1`` (see :mod:`.chain`)."""

    seq: int
    time_ms: int
    payload: bytes
    checksum: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Engine state after record ``seq`` (``0``: before the first record), opaque to the log."""

    seq: int
    state_hash: str
    blob: bytes


class ActionLog(Protocol):
    """A durable, append-only, hash-chained action log with one writer."""

    def append(self, entry: Entry) -> int:
        """Append one record; it is durable when this returns. Returns its sequence number."""
        ...

    def append_many(self, entries: Sequence[Entry]) -> range:
        """Append records in one durable transaction (all or none). Returns their sequence numbers."""
        ...

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        """Records ``seq``, ``seq + 1``, ... to the end, chain-verified as they are read.

        Raises :class:`LogCorruption` at the first bad record. Reading from ``1`` verifies the whole
        chain from its genesis; reading from ``n > 1`` trusts the stored checksum of record ``n - 1``.
        """
        ...

    def last_seq(self) -> int:
        """Sequence number of the last record; ``0`` for an empty log."""
        ...

    def save_snapshot(self, seq: int, state_hash: str, blob: bytes) -> Snapshot:
        """Store a snapshot taken after record ``seq`` (durably), bound to that record's checksum."""
        ...

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot, verified against its checksum and the log; ``None`` if there is none."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A value the log keeps beside its records (e.g. the configuration it was written under)."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store ``key = value`` durably; ``format`` and ``log_id`` are the log's own."""
        ...

    def close(self) -> None:
        """Release the connection and the writer lock (idempotent)."""
        ...


def verify_log(log: ActionLog) -> int:
    """Audit: verify the whole chain from genesis and the latest snapshot; return the last ``seq``."""
    last = 0
    for record in log.read_from(1):
        last = record.seq
    if last != log.last_seq():
        raise LogCorruption(last + 1, f"reading stopped at {last} but the log ends at {log.last_seq()}")
    log.latest_snapshot()
    return last
