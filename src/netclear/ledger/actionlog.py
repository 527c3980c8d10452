"""The durable action log: records, the hash chain, and the backend protocol.

Every accepted action gets a sequence number and a timestamp and is appended *before* it is applied
and acknowledged (DESIGN "ledger/"). Each record carries ``digest = blake2b(prev_digest ‖ seq ‖ time
‖ payload)``: reading verifies the chain, so a flipped byte, a missing or reordered record, or a
truncated payload is reported as :class:`LogCorruption` with its sequence number and is never
applied. Backends (SQLite by default, PostgreSQL optionally) store the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from netclear.errors import NetclearError

GENESIS = b"\x00" * 32


class LogCorruption(NetclearError):
    """The log cannot be trusted from ``seq`` on; ``rule`` says what was found."""

    code = "log_corruption"

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"log[{seq}]", reason)
        self.seq = seq


def chain_digest(prev: bytes, seq: int, time_ms: int, payload: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    h.update(prev)
    h.update(seq.to_bytes(8, "big"))
    h.update(time_ms.to_bytes(8, "big", signed=True))
    h.update(len(payload).to_bytes(8, "big"))
    h.update(payload)
    return h.digest()


@dataclass(frozen=True, slots=True)
class LogRecord:
    seq: int
    time_ms: int
    payload: bytes
    digest: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    state_hash: str
    blob: bytes


class ActionLog(Protocol):
    """What a log backend offers. ``append_many`` is one durable transaction (group commit)."""

    def last(self) -> tuple[int, bytes]:
        """(last sequence number, its digest); (0, GENESIS) when empty."""
        ...

    def append_many(self, records: Sequence[LogRecord]) -> None: ...

    def read_from(self, seq: int) -> Iterator[LogRecord]:
        """Records with sequence >= ``seq``, in order, chain-verified (raises :class:`LogCorruption`)."""
        ...

    def save_snapshot(self, snap: Snapshot) -> None: ...

    def latest_snapshot(self) -> Snapshot | None: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...


def verify(
    records: Iterator[tuple[int, int, bytes, bytes]], prev_seq: int, prev_digest: bytes
) -> Iterator[LogRecord]:
    """Check sequence continuity and the hash chain of raw rows ``(seq, time, payload, digest)``."""
    expected = prev_seq + 1
    prev = prev_digest
    for seq, time_ms, payload, digest in records:
        if seq != expected:
            raise LogCorruption(expected, f"record {expected} is missing (next stored is {seq})")
        payload = bytes(payload)
        digest = bytes(digest)
        if chain_digest(prev, seq, time_ms, payload) != digest:
            raise LogCorruption(seq, "checksum mismatch: the record or its predecessor was altered or torn")
        yield LogRecord(seq, time_ms, payload, digest)
        prev = digest
        expected += 1


def make_records(prev_seq: int, prev_digest: bytes, items: Sequence[tuple[int, bytes]]) -> list[LogRecord]:
    """Chain ``(time_ms, payload)`` items after ``(prev_seq, prev_digest)``."""
    out = []
    prev = prev_digest
    seq = prev_seq
    for time_ms, payload in items:
        seq += 1
        prev = chain_digest(prev, seq, time_ms, payload)
        out.append(LogRecord(seq, time_ms, payload, prev))
    return out
