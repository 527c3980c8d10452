"""The chain-head sidecar: the last acknowledged ``(seq, checksum)`` kept outside SQLite's files.

SQLite recovers a damaged write-ahead log by dropping every frame from the first bad one on
(sqlite.org "Write-Ahead Logging", section "The WAL File": frames after a checksum mismatch are
ignored). That is right for a torn, unacknowledged commit, but a WAL cut or flipped *later* drops
commits that were acknowledged, silently. So after every commit the log writes its new head to
``<db>.head`` and fsyncs it before the commit is acknowledged; on open, a log that ends before the
recorded head, or whose record at that ``seq`` has another checksum, or that belongs to another
genesis, is refused (:class:`~netclear.ledger.log.LogCorruption`) instead of being served short.

The file has two fixed 128-byte slots written alternately, each
``magic | seq | checksum | genesis | blake2b tag``: a write torn by a crash spoils at most the slot
being written, and the reader takes the valid slot with the higher ``seq``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from netclear.ledger.chain import DIGEST_SIZE

MAGIC = b"NCHEAD01"
_BODY = struct.Struct(f">8sq{DIGEST_SIZE}s{DIGEST_SIZE}s")
_TAG_SIZE = 16
SLOT = 128
assert _BODY.size + _TAG_SIZE <= SLOT


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    checksum: bytes
    genesis: bytes


def _tag(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_TAG_SIZE, person=b"netclear-head").digest()


def _encode(head: Head) -> bytes:
    body = _BODY.pack(MAGIC, head.seq, head.checksum, head.genesis)
    return (body + _tag(body)).ljust(SLOT, b"\0")


def _decode(slot: bytes) -> Head | None:
    if len(slot) < _BODY.size + _TAG_SIZE:
        return None
    body, tag = slot[: _BODY.size], slot[_BODY.size : _BODY.size + _TAG_SIZE]
    if _tag(body) != tag:
        return None
    magic, seq, checksum, genesis = _BODY.unpack(body)
    return Head(seq, checksum, genesis) if magic == MAGIC and seq >= 0 else None


class HeadFile:
    """``<db>.head``, open for the life of the log (its writer holds the log's lock)."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = path
        self.sync = sync
        """Sync each head write (``O_DSYNC``; the log's ``synchronous=NORMAL`` reference mode skips it, like
        SQLite's own WAL syncs)."""
        self.existed = path.exists()
        dsync = os.O_DSYNC if sync else 0  # each write durable on return, as write + fdatasync
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | dsync, 0o644)
        if not self.existed:  # full size now, so later writes change no metadata (fdatasync suffices)
            os.pwrite(self._fd, b"\0" * (2 * SLOT), 0)
            os.fsync(self._fd)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._next_slot = 0

    def read(self) -> Head | None:
        """The newest intact head, or ``None`` if the file has none (new, or both slots damaged)."""
        data = os.pread(self._fd, 2 * SLOT, 0)
        slots = [(_decode(data[i * SLOT : (i + 1) * SLOT]), i) for i in (0, 1)]
        heads = [(h, i) for h, i in slots if h is not None]
        if not heads:
            return None
        head, slot = max(heads, key=lambda hi: hi[0].seq)
        self._next_slot = 1 - slot  # never overwrite the newest intact head
        return head

    def damaged(self) -> bool:
        """True when the file has a non-zero byte but no intact slot."""
        data = os.pread(self._fd, 2 * SLOT, 0)
        return data.strip(b"\0") != b"" and self.read() is None

    def write(self, head: Head) -> None:
        """Write ``head`` into its slot: durable when this returns. The file is opened ``O_DSYNC``
        when ``sync`` (POSIX ``open``: a write completes as with synchronized I/O data integrity,
        what ``fdatasync`` gives), so this is one system call, one release of the interpreter lock."""
        data = _encode(head)
        if os.pwrite(self._fd, data, self._next_slot * SLOT) != SLOT:
            raise OSError(f"{self.path}: short write of the chain head")
        self._next_slot = 1 - self._next_slot

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
