"""The sequencer and replay, with a toy deterministic engine (a hash accumulator), on both backends."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest

from netclear.errors import InvalidAction
from netclear.ledger.log import Entry, Snapshot
from netclear.ledger.sequencer import Receipt, Rejection, ReplayResult, Sequencer, SequencerHalted, replay
from netclear.ledger.store import ChainedLog
from tests.ledger.helpers import OpenLog


class Toy:
    """State = a running hash of (time, action). ``reject*`` actions are rejected, ``boom`` is a bug.

    Like the real engine, the clock advances to ``time_ms`` before the action runs, even when the action
    is then rejected: a rejection changes state, which is why rejected actions are logged.
    """

    def __init__(self) -> None:
        self.state = b"\x00" * 32
        self.time_ms = 0

    def apply(self, action: bytes, time_ms: int) -> str:
        self.time_ms = max(self.time_ms, time_ms)
        if action == b"boom":
            raise KeyError("engine bug")
        if action.startswith(b"reject"):
            raise InvalidAction("action", "toy rejection")
        self.state = hashlib.blake2b(self.state + time_ms.to_bytes(8) + action, digest_size=32).digest()
        return self.state.hex()[:8]

    def state_hash(self) -> str:
        return hashlib.blake2b(self.state + self.time_ms.to_bytes(8), digest_size=16).hexdigest()

    def blob(self) -> bytes:
        return self.state + self.time_ms.to_bytes(8)

    def restore(self, snap: Snapshot) -> str:
        """Adopt the snapshot only if it restores to its recorded hash (the ``replay`` contract)."""
        state, time_ms = snap.blob[:32], int.from_bytes(snap.blob[32:])
        restored = hashlib.blake2b(state + time_ms.to_bytes(8), digest_size=16).hexdigest()
        if restored == snap.state_hash:
            self.state, self.time_ms = state, time_ms
        return restored


class Clock:
    """A clock that can be set, including backwards."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def identity(action: bytes) -> bytes:
    return action


def sequencer(log: ChainedLog, toy: Toy, clock: Callable[[], int]) -> Sequencer[bytes, str]:
    return Sequencer(log, toy.apply, identity, clock)


def actions(n: int) -> list[bytes]:
    return [b"reject %d" % i if i % 7 == 3 else b"act %d" % i for i in range(n)]


def drive(seq: Sequencer[bytes, str], clock: Clock, items: Sequence[bytes]) -> list[Receipt[str]]:
    """Submit singly and in batches, with the clock stepping forward and sometimes back."""
    out: list[Receipt[str]] = []
    i = 0
    while i < len(items):
        clock.now += (i * 37) % 11 - 3
        size = 1 + i % 5
        if size == 1:
            out.append(seq.submit(items[i]))
        else:
            out.extend(seq.submit_many(items[i : i + size]))
        i += size
    return out


def test_submit_logs_then_applies(open_log: OpenLog) -> None:
    log, toy, clock = open_log(), Toy(), Clock()
    seq = sequencer(log, toy, clock)
    r1 = seq.submit(b"act 1")
    assert (r1.seq, r1.time_ms) == (1, clock.now) and r1.accepted and r1.result == toy.state.hex()[:8]
    seqno, time_ms, result = seq.submit(b"reject me")
    assert (
        (seqno, time_ms) == (2, clock.now)
        and isinstance(result, Rejection)
        and isinstance(result.error, InvalidAction)
    )
    assert [(r.seq, r.payload) for r in log.read_from(1)] == [(1, b"act 1"), (2, b"reject me")]
    batch = seq.submit_many([b"a", b"b", b"c"])
    assert [r.seq for r in batch] == [3, 4, 5] and len({r.time_ms for r in batch}) == 1
    assert seq.submit_many([]) == []


def test_time_never_goes_backwards_even_across_restarts(open_log: OpenLog) -> None:
    log, clock = open_log(), Clock(5_000)
    seq = sequencer(log, Toy(), clock)
    assert seq.submit(b"a").time_ms == 5_000
    clock.now = 4_000
    assert seq.submit(b"b").time_ms == 5_000
    clock.now = 6_000
    assert seq.submit(b"c").time_ms == 6_000
    log.close()
    clock.now = 1_000  # restarted on a machine whose clock is behind
    restarted = sequencer(open_log(), Toy(), clock)
    assert (restarted.seq, restarted.last_time_ms) == (3, 6_000)
    assert restarted.submit(b"d")[:2] == (4, 6_000)
    times = [r.time_ms for r in restarted.log.read_from(1)]
    assert times == sorted(times) and times[-1] == 6_000


def test_snapshot_plus_tail_equals_full_replay(open_log: OpenLog) -> None:
    log, live, clock = open_log(), Toy(), Clock()
    seq = sequencer(log, live, clock)
    items = actions(300)
    receipts = drive(seq, clock, items[:170])
    seq.snapshot(lambda: (live.state_hash(), live.blob()))
    snap_seq = seq.seq
    receipts += drive(seq, clock, items[170:])
    rejected_live = sum(not r.accepted for r in receipts)
    assert rejected_live == sum(a.startswith(b"reject") for a in items) > 0
    log.close()

    log = open_log()
    full, from_snap = Toy(), Toy()
    r_full = replay(log, full.apply, identity)
    r_snap = replay(log, from_snap.apply, identity, from_snapshot=from_snap.restore)
    assert full.state_hash() == from_snap.state_hash() == live.state_hash()
    assert r_full == ReplayResult(300, receipts[-1].time_ms, 0, 300 - rejected_live, rejected_live)
    assert (r_snap.last_seq, r_snap.snapshot_seq, r_snap.last_time_ms) == (
        300,
        snap_seq,
        receipts[-1].time_ms,
    )
    assert r_snap.accepted + r_snap.rejected == 300 - snap_seq

    # the restarted sequencer carries on where replay stopped
    seq2 = sequencer(log, from_snap, clock)
    seq2.submit(b"after restart")
    live.apply(b"after restart", seq2.last_time_ms or 0)
    assert from_snap.state_hash() == live.state_hash()


def test_snapshot_at_the_tail_and_at_zero(open_log: OpenLog) -> None:
    log, toy, clock = open_log(), Toy(), Clock()
    seq = sequencer(log, toy, clock)
    seq.snapshot(lambda: (toy.state_hash(), toy.blob()))  # seq 0
    fresh = Toy()
    assert replay(log, fresh.apply, identity, from_snapshot=fresh.restore) == ReplayResult(0, None, 0, 0, 0)
    drive(seq, clock, actions(20))
    seq.snapshot(lambda: (toy.state_hash(), toy.blob()))
    fresh = Toy()
    result = replay(log, fresh.apply, identity, from_snapshot=fresh.restore)
    assert (result.last_seq, result.snapshot_seq, result.accepted, result.rejected) == (20, 20, 0, 0)
    assert result.last_time_ms == seq.last_time_ms and fresh.state_hash() == toy.state_hash()


def test_snapshot_that_does_not_restore_to_its_hash_is_skipped(
    open_log: OpenLog, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10 defect 5: a bad latest snapshot falls back to the older one, then to a full replay."""
    log, toy, clock = open_log(), Toy(), Clock()
    seq = sequencer(log, toy, clock)
    drive(seq, clock, actions(5))
    seq.snapshot(lambda: (toy.state_hash(), toy.blob()))  # good, at 5
    drive(seq, clock, actions(5))
    seq.snapshot(lambda: ("not-the-hash", toy.blob()))  # bad, at 10
    fresh = Toy()
    result = replay(log, fresh.apply, identity, from_snapshot=fresh.restore)
    assert (result.snapshot_seq, result.last_seq, fresh.state_hash()) == (5, 10, toy.state_hash())
    assert "skipping snapshot 10" in caplog.text


def test_engine_bug_halts_and_replay_raises_it(open_log: OpenLog) -> None:
    log, toy, clock = open_log(), Toy(), Clock()
    seq = sequencer(log, toy, clock)
    seq.submit(b"a")
    with pytest.raises(SequencerHalted) as info:
        seq.submit(b"boom")
    assert isinstance(info.value.__cause__, KeyError) and seq.halted
    with pytest.raises(SequencerHalted):
        seq.submit(b"b")
    assert log.last_seq() == 2  # the action was durable before the engine saw it
    with pytest.raises(KeyError) as replayed:
        replay(log, Toy().apply, identity)
    assert "log record 2" in " ".join(getattr(replayed.value, "__notes__", []))


class FailingLog:
    """Wraps a log; the next append fails, after (``commit=True``) or before writing."""

    def __init__(self, log: ChainedLog) -> None:
        self.log = log
        self.fail: bool | None = None  # None: pass through; False: fail before writing; True: after

    def __getattr__(self, name: str) -> object:
        return getattr(self.log, name)

    def append_many(self, entries: Sequence[Entry]) -> range:
        fail, self.fail = self.fail, None
        if fail is None:
            return self.log.append_many(entries)
        if fail:
            self.log.append_many(entries)
        raise OSError("connection lost during COMMIT")


def test_failed_append_before_writing_leaves_the_sequencer_running(open_log: OpenLog) -> None:
    wrapped, toy = FailingLog(open_log()), Toy()
    seq: Sequencer[bytes, str] = Sequencer(wrapped, toy.apply, identity, Clock())  # type: ignore[arg-type]
    seq.submit(b"a")
    wrapped.fail = False
    with pytest.raises(OSError):
        seq.submit(b"b")
    assert seq.halted is None and seq.submit(b"c").seq == 2


def test_append_with_unknown_outcome_halts(open_log: OpenLog) -> None:
    wrapped, toy = FailingLog(open_log()), Toy()
    seq: Sequencer[bytes, str] = Sequencer(wrapped, toy.apply, identity, Clock())  # type: ignore[arg-type]
    seq.submit(b"a")
    wrapped.fail = True
    with pytest.raises(SequencerHalted, match="unknown outcome"):
        seq.submit(b"b")
    # restart: replay applies the committed-but-unacknowledged action
    fresh = Toy()
    assert replay(wrapped.log, fresh.apply, identity).last_seq == 2


def test_encode_failure_logs_nothing(open_log: OpenLog) -> None:
    log, toy = open_log(), Toy()

    def encode(action: bytes) -> bytes:
        if action == b"bad":
            raise ValueError("cannot encode")
        return action

    seq = Sequencer(log, toy.apply, encode, Clock())
    with pytest.raises(ValueError):
        seq.submit_many([b"ok", b"bad"])
    assert log.last_seq() == 0 and seq.halted is None and seq.submit(b"ok").seq == 1
