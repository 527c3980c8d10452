"""The checksum chain: ``checksum[n] = blake2b(checksum[n-1] ‖ n ‖ time ‖ len ‖ payload)``.

``checksum[0]`` (the genesis) is derived from a random id the log draws when it is created, so records
cannot be spliced in from another log. A snapshot's checksum binds it to the checksum of the record it
was taken after. Verification checks, per record: the sequence number is the next one (a gap is a
deleted record, a smaller one a duplicate or reordering), the row is well formed, the checksum
matches (a flipped byte, a truncated payload, a swapped or replaced record), and time never goes
backwards.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from netclear.ledger.log import LogCorruption, LogRecord

DIGEST_SIZE = 32
INT64 = (-(2**63), 2**63 - 1)
_HEADER = struct.Struct(">qqQ")  # seq, time_ms, len(payload)

Row = tuple[object, object, object, object]
"""A stored row as a backend returns it: ``(seq, time_ms, payload, checksum)``, types unchecked."""


def genesis(log_id: bytes) -> bytes:
    """``checksum[0]`` of the log whose random id is ``log_id``."""
    return hashlib.blake2b(log_id, digest_size=DIGEST_SIZE, person=b"netclear-genesis").digest()


def record_checksum(prev: bytes, seq: int, time_ms: int, payload: bytes) -> bytes:
    h = hashlib.blake2b(prev, digest_size=DIGEST_SIZE, person=b"netclear-record")
    h.update(_HEADER.pack(seq, time_ms, len(payload)))
    h.update(payload)
    return h.digest()


def snapshot_checksum(log_checksum: bytes, seq: int, state_hash: str, blob: bytes) -> bytes:
    """Binds a snapshot to ``checksum[seq]`` of its log."""
    h = hashlib.blake2b(log_checksum, digest_size=DIGEST_SIZE, person=b"netclear-snap")
    encoded = state_hash.encode()
    h.update(_HEADER.pack(seq, len(encoded), len(blob)))
    h.update(encoded)
    h.update(blob)
    return h.digest()


def config_checksum(genesis_checksum: bytes, config: str) -> str:
    """Binds the configuration a log was written under to the log's genesis (stored beside it)."""
    h = hashlib.blake2b(genesis_checksum, digest_size=DIGEST_SIZE, person=b"netclear-config")
    h.update(config.encode())
    return h.hexdigest()


def _in_int64(value: int) -> bool:
    return INT64[0] <= value <= INT64[1]


@dataclass(slots=True)
class Chain:
    """The head of a chain: the last record's ``seq``, checksum and time (``0``, genesis, ``None``)."""

    seq: int
    checksum: bytes
    time_ms: int | None

    def copy(self) -> Chain:
        return Chain(self.seq, self.checksum, self.time_ms)

    def extend(self, time_ms: int, payload: bytes) -> LogRecord:
        """Build the next record (writer side); a time before the head's is a caller bug."""
        if not isinstance(payload, bytes):
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        if not _in_int64(time_ms):
            raise ValueError(f"time_ms {time_ms} is outside int64")
        if self.time_ms is not None and time_ms < self.time_ms:
            raise ValueError(f"time_ms {time_ms} is before the previous record's {self.time_ms}")
        seq = self.seq + 1
        record = LogRecord(seq, time_ms, payload, record_checksum(self.checksum, seq, time_ms, payload))
        self.seq, self.checksum, self.time_ms = seq, record.checksum, time_ms
        return record

    def verify(self, row: Row) -> LogRecord:
        """Check the next stored row against the head (reader side) and advance."""
        seq, time_ms, payload, checksum = row
        expected = self.seq + 1
        if not isinstance(seq, int) or seq < expected:
            raise LogCorruption(
                expected, f"found record {seq!r} where {expected} was expected (duplicate or out of order)"
            )
        if seq > expected:
            raise LogCorruption(expected, f"record is missing (the next stored record is {seq})")
        if isinstance(payload, memoryview | bytearray):
            payload = bytes(payload)
        if isinstance(checksum, memoryview | bytearray):
            checksum = bytes(checksum)
        if not (isinstance(time_ms, int) and isinstance(payload, bytes) and isinstance(checksum, bytes)):
            raise LogCorruption(seq, "malformed row (a field has the wrong type)")
        if not _in_int64(time_ms) or record_checksum(self.checksum, seq, time_ms, payload) != checksum:
            raise LogCorruption(
                seq, "checksum mismatch: the record is altered or torn, or its predecessor was replaced"
            )
        if self.time_ms is not None and time_ms < self.time_ms:
            raise LogCorruption(seq, f"time goes backwards ({time_ms} after {self.time_ms})")
        self.seq, self.checksum, self.time_ms = seq, checksum, time_ms
        return LogRecord(seq, time_ms, payload, checksum)
