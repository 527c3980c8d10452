"""The sequencer: number, time-stamp and durably log each action, *then* apply it; and replay.

Order per action: assign ``time_ms = max(clock, last time)`` (time never goes backwards, across
restarts too), append to the log (durable on return, which also fixes ``seq``), call
``apply_fn(action, time_ms)``, return the receipt. A crash before the append returns loses only an
unacknowledged action; a crash after it replays the action on restart.

**Rejected actions are logged.** The append happens before the engine has seen the action, so a
rejection is known only once the record is durable. It stays in the log: the engine is deterministic
in ``(state, action, time_ms)``, so replay rejects it again identically, and a rejection may still
change state (the engine advances its clock to ``time_ms`` before running an action). ``replay``
counts rejections. An exception that is *not* a rejection (an engine bug) halts the sequencer
(:class:`SequencerHalted`); the state in memory is no longer trusted and replay will raise the same
exception, so the node stays down until the engine is fixed rather than run on a diverged state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from netclear.errors import NetclearError
from netclear.ledger.log import ActionLog, Entry, LogCorruption, Snapshot, SnapshotDamaged

_log = logging.getLogger("netclear.replay")

A = TypeVar("A")
R = TypeVar("R")

Rejects = type[BaseException] | tuple[type[BaseException], ...]


class SequencerHalted(NetclearError):
    """The sequencer stopped taking actions; restart (replay the log) to continue."""

    code = "sequencer_halted"

    def __init__(self, reason: str) -> None:
        super().__init__("sequencer", reason)


@dataclass(frozen=True, slots=True)
class Rejection:
    """The result of a logged action that the engine rejected (``error`` is what it raised)."""

    error: BaseException


class Receipt(NamedTuple, Generic[R]):
    """``(seq, time_ms, result)``; ``result`` is a :class:`Rejection` when the engine rejected it."""

    seq: int
    time_ms: int
    result: R | Rejection

    @property
    def accepted(self) -> bool:
        return not isinstance(self.result, Rejection)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    last_seq: int
    last_time_ms: int | None
    snapshot_seq: int
    """Sequence number of the snapshot replay started from (``0``: from the first record)."""
    accepted: int
    rejected: int


class Sequencer(Generic[A, R]):
    """One writer in front of ``log``; the engine state must already reflect every logged record.

    Start-up: ``replay(log, ...)`` first, then construct the sequencer on the same ``log``.
    """

    def __init__(
        self,
        log: ActionLog,
        apply_fn: Callable[[A, int], R],
        encode_fn: Callable[[A], bytes],
        clock_ms: Callable[[], int],
        *,
        rejects: Rejects = NetclearError,
        apply_lock: contextlib.AbstractContextManager[object] | None = None,
    ) -> None:
        self.log = log
        self.apply_lock: contextlib.AbstractContextManager[object] = apply_lock or contextlib.nullcontext()
        """Held while a logged batch is applied, not while it is appended: readers that take it
        see whole batches and never wait for the log's fsync (docs/ledger.md)."""
        self.apply_fn = apply_fn
        self.encode_fn = encode_fn
        self.clock_ms = clock_ms
        self.rejects = rejects
        self._lock = threading.RLock()
        self.lock = self._lock
        """Serialises appends, applies and snapshots (taken before ``apply_lock``, never after)."""
        self._halted: str | None = None
        self.seq = log.last_seq()
        self.last_time_ms: int | None = None
        if self.seq:
            last = next(iter(log.read_from(self.seq)), None)  # verifies the tail record
            if last is None or last.seq != self.seq:
                raise LogCorruption(self.seq, "the last record cannot be read")
            self.last_time_ms = last.time_ms

    @property
    def halted(self) -> str | None:
        """Why the sequencer halted, or ``None`` while it is running."""
        return self._halted

    def _halt(self, reason: str) -> SequencerHalted:
        self._halted = reason
        return SequencerHalted(reason)

    def submit(self, action: A) -> Receipt[R]:
        """Log ``action`` durably, apply it, and return ``(seq, time_ms, result)``."""
        return self.submit_many((action,))[0]

    def submit_many(self, actions: Sequence[A]) -> list[Receipt[R]]:
        """Group commit: one durable append for the batch (one timestamp), then apply in order."""
        with self._lock:
            if self._halted is not None:
                raise SequencerHalted(self._halted)
            if not actions:
                return []
            now = self.clock_ms()
            if not isinstance(now, int):
                raise TypeError(f"clock_ms returned {type(now).__name__}, not int milliseconds")
            time_ms = now if self.last_time_ms is None else max(now, self.last_time_ms)
            entries = [Entry(time_ms, self.encode_fn(action)) for action in actions]
            seqs = self._append(entries)
            with self.apply_lock:  # a reader holding it sees ``seq`` and the state agree
                self.seq, self.last_time_ms = seqs[-1], time_ms
                return [self._apply(action, seq, time_ms) for action, seq in zip(actions, seqs, strict=True)]

    def _append(self, entries: list[Entry]) -> range:
        before = self.seq
        try:
            seqs = self.log.append_many(entries)
        except BaseException as exc:
            try:
                unchanged = self.log.last_seq() == before
            except BaseException:
                unchanged = False
            if not unchanged:  # the batch may be durable but is not applied: memory != log
                raise self._halt(
                    f"append failed with an unknown outcome after seq {before}: {exc!r}"
                ) from exc
            raise
        if seqs.start != before + 1 or len(seqs) != len(entries):
            raise self._halt(f"log numbered the batch {seqs} after seq {before}: another writer?")
        return seqs

    def _apply(self, action: A, seq: int, time_ms: int) -> Receipt[R]:
        try:
            return Receipt(seq, time_ms, self.apply_fn(action, time_ms))
        except self.rejects as exc:
            return Receipt(seq, time_ms, Rejection(exc))
        except BaseException as exc:
            raise self._halt(f"apply raised a non-rejection at seq {seq}: {exc!r}") from exc

    def snapshot(self, capture: Callable[[], tuple[str, bytes]]) -> Snapshot:
        """Save ``capture() -> (state_hash, blob)`` as the snapshot after the current ``seq``."""
        with self._lock:
            if self._halted is not None:
                raise SequencerHalted(self._halted)
            state_hash, blob = capture()
            return self.log.save_snapshot(self.seq, state_hash, blob)


def replay(
    log: ActionLog,
    apply_fn: Callable[[A, int], object],
    decode_fn: Callable[[bytes], A],
    *,
    from_snapshot: Callable[[Snapshot], str] | None = None,
    rejects: Rejects = NetclearError,
) -> ReplayResult:
    """Re-apply the log to a fresh engine; the result says where it ended.

    ``from_snapshot``: given a snapshot, rebuild the engine from its blob **only if** the rebuilt
    state's hash is the recorded one, and return that hash; replay then starts after the snapshot.
    A snapshot that fails its checksum, cannot be rebuilt or hashes differently is skipped with a
    warning for the next older one, then for a full replay (docs/ledger.md "Start-up"). Without
    ``from_snapshot``, or with no usable snapshot, replay starts from the first record. The whole
    chain is read from its genesis either way (records before the snapshot are verified by hash,
    not applied), so damage anywhere in the log stops start-up. Rejections are counted and
    skipped, as they were live; any other exception propagates (with a note naming the record), as
    does :class:`LogCorruption`.
    """
    start, last_time = 1, None
    if from_snapshot is not None:
        for snapshot in _snapshots(log):
            if isinstance(snapshot, SnapshotDamaged):
                _log.warning("skipping a damaged snapshot: %s", snapshot)
                continue
            try:
                restored = from_snapshot(snapshot)
            except Exception as exc:  # an unreadable blob: fall back, the log has everything
                _log.warning("skipping snapshot %d: it cannot be restored (%r)", snapshot.seq, exc)
                continue
            if restored != snapshot.state_hash:
                _log.warning(
                    "skipping snapshot %d: state hash %s but the restored state hashes to %s",
                    snapshot.seq,
                    snapshot.state_hash,
                    restored,
                )
                continue
            start = snapshot.seq + 1
            break
    seq, accepted, rejected = start - 1, 0, 0
    for record in log.read_from(1):
        if record.seq < start:  # in the snapshot: verified by the chain, not applied
            last_time = record.time_ms
            continue
        try:
            apply_fn(decode_fn(record.payload), record.time_ms)
            accepted += 1
        except rejects:
            rejected += 1
        except BaseException as exc:
            exc.add_note(f"while replaying log record {record.seq}")
            raise
        seq, last_time = record.seq, record.time_ms
    if seq != log.last_seq():
        raise LogCorruption(seq + 1, f"replay stopped at {seq} but the log ends at {log.last_seq()}")
    return ReplayResult(seq, last_time, start - 1, accepted, rejected)


def _snapshots(log: ActionLog) -> Iterator[Snapshot | SnapshotDamaged]:
    """Newest first; a log without ``snapshots()`` (a plain :class:`ActionLog`) offers its latest."""
    every = getattr(log, "snapshots", None)
    if every is not None:
        yield from every()
        return
    try:
        latest = log.latest_snapshot()
    except SnapshotDamaged as exc:
        yield exc
        return
    if latest is not None:
        yield latest
