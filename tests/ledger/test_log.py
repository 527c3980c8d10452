"""The action log on both backends: round trip, the checksum chain against damage, snapshots, one writer."""

from __future__ import annotations

import pytest

from netclear.errors import NetclearError
from netclear.ledger.log import Entry, LogClosed, LogCorruption, LogInUse, LogRecord, verify_log
from netclear.ledger.store import ChainedLog
from tests.ledger.helpers import Backend, OpenLog, fill, payload


def read_all(log: ChainedLog, start: int = 1) -> list[LogRecord]:
    return list(log.read_from(start))


# ---------------------------------------------------------------------------------------------- basics
def test_round_trip(open_log: OpenLog) -> None:
    log = open_log()
    assert log.last_seq() == 0 and read_all(log) == []
    assert log.append(Entry(5, b"first")) == 1
    assert log.append_many([Entry(5, b"second"), Entry(7, b""), Entry(9, b"\x00" * 1000)]) == range(2, 5)
    assert log.append_many([]) == range(5, 5)
    records = read_all(log)
    assert [(r.seq, r.time_ms, r.payload) for r in records] == [
        (1, 5, b"first"),
        (2, 5, b"second"),
        (3, 7, b""),
        (4, 9, b"\x00" * 1000),
    ]
    assert all(len(r.checksum) == 32 for r in records)
    assert len({r.checksum for r in records}) == 4
    log.close()
    reopened = open_log()
    assert reopened.last_seq() == 4 and read_all(reopened) == records
    assert reopened.append(Entry(9, b"fifth")) == 5
    assert verify_log(reopened) == 5


def test_read_from_the_middle_and_past_the_end(open_log: OpenLog) -> None:
    log = open_log()
    log.page_size = 7  # exercise paging
    fill(log, 50)
    assert [r.seq for r in log.read_from(23)] == list(range(23, 51))
    assert [r.seq for r in log.read_from(0)] == list(range(1, 51))
    assert [r.seq for r in log.read_from(50)] == [50]
    assert list(log.read_from(51)) == [] and list(log.read_from(99)) == []
    assert all(r.payload == payload(r.seq) for r in log.read_from(1))


def test_time_never_goes_backwards_and_payload_is_bytes(open_log: OpenLog) -> None:
    log = open_log()
    log.append(Entry(100, b"a"))
    with pytest.raises(ValueError, match="before the previous"):
        log.append_many([Entry(100, b"b"), Entry(99, b"c")])
    with pytest.raises(TypeError):
        log.append(Entry(100, "text"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="int64"):
        log.append(Entry(2**63, b"x"))
    assert log.last_seq() == 1 and [r.payload for r in log.read_from(1)] == [b"a"]


def test_one_writer(open_log: OpenLog, backend: Backend) -> None:
    log = open_log()
    kwargs = {"lock_wait_s": 0.2} if backend.name == "postgres" else {}
    with pytest.raises(LogInUse) as info:
        open_log(**kwargs)
    assert isinstance(info.value, NetclearError)
    log.close()
    assert open_log(**kwargs).last_seq() == 0


def test_closed_log_refuses_use(open_log: OpenLog) -> None:
    log = open_log()
    log.close()
    log.close()  # idempotent
    with pytest.raises(LogClosed):
        log.append(Entry(1, b"x"))
    with pytest.raises(LogClosed):
        log.last_seq()


# ---------------------------------------------------------------------------------------------- damage
def corruption_at(log: ChainedLog, start: int = 1) -> LogCorruption:
    with pytest.raises(LogCorruption) as info:
        for _ in log.read_from(start):
            pass
    return info.value


def damaged(
    open_log: OpenLog, backend: Backend, statement: str, params: tuple[object, ...] = ()
) -> ChainedLog:
    log = open_log()
    fill(log, 20)
    log.close()
    backend.execute(statement, params)
    return open_log()


def test_flipped_byte_is_detected(open_log: OpenLog, backend: Backend) -> None:
    flipped = bytearray(payload(11))
    flipped[5] ^= 0x01
    log = damaged(open_log, backend, "UPDATE {records} SET payload = ? WHERE seq = 11", (bytes(flipped),))
    err = corruption_at(log)
    assert err.seq == 11 and "checksum mismatch" in err.reason
    assert "log seq 11" in str(err)
    # records before the damage are still readable; nothing at or after it is handed out
    good: list[int] = []
    with pytest.raises(LogCorruption):
        good.extend(r.seq for r in log.read_from(1))
    assert good == list(range(1, 11))


def test_flipped_time_is_detected(open_log: OpenLog, backend: Backend) -> None:
    log = damaged(open_log, backend, "UPDATE {records} SET time_ms = time_ms + 1 WHERE seq = 4")
    assert corruption_at(log).seq == 4


def test_deleted_middle_record_is_detected(open_log: OpenLog, backend: Backend) -> None:
    log = damaged(open_log, backend, "DELETE FROM {records} WHERE seq = 9")
    err = corruption_at(log)
    assert err.seq == 9 and "missing" in err.reason
    assert [r.seq for r in log.read_from(12)] == list(range(12, 21))  # read_from(n) trusts record n - 1
    with pytest.raises(LogCorruption) as info:
        log.read_from(10)  # anchored on the deleted record
    assert info.value.seq == 9


def test_truncated_payload_is_detected(open_log: OpenLog, backend: Backend) -> None:
    log = damaged(
        open_log,
        backend,
        "UPDATE {records} SET payload = substr(payload, 1, length(payload) - 3) WHERE seq = 7",
    )
    assert corruption_at(log).seq == 7


def test_torn_final_record_is_detected(open_log: OpenLog, backend: Backend) -> None:
    """A committed last record that fails verification is reported, not dropped (docs/ledger.md)."""
    log = damaged(open_log, backend, "UPDATE {records} SET payload = substr(payload, 1, 4) WHERE seq = 20")
    err = corruption_at(log)
    assert err.seq == 20
    assert log.last_seq() == 20  # still there: recovery refuses rather than truncating it


def test_reordered_records_are_detected(open_log: OpenLog, backend: Backend) -> None:
    log = open_log()
    fill(log, 20)
    log.close()
    rows = backend.execute(
        "SELECT seq, time_ms, payload, checksum FROM {records} WHERE seq IN (5, 6) ORDER BY seq"
    )
    for (seq, *_), (_, time_ms, data, checksum) in zip(rows, reversed(rows), strict=True):
        backend.execute(
            "UPDATE {records} SET time_ms = ?, payload = ?, checksum = ? WHERE seq = ?",
            (time_ms, data, checksum, seq),
        )
    assert corruption_at(open_log()).seq == 5


def test_replaced_record_with_recomputed_checksum_breaks_the_next_link(
    open_log: OpenLog, backend: Backend
) -> None:
    """Rewriting a record *and* its own checksum still breaks the chain at the following record."""
    from netclear.ledger.chain import record_checksum

    log = open_log()
    fill(log, 20)
    prev = next(iter(log.read_from(12))).checksum
    log.close()
    forged = b"forged"
    backend.execute(
        "UPDATE {records} SET payload = ?, checksum = ? WHERE seq = 13",
        (forged, record_checksum(prev, 13, 1_700_000_000_004, forged)),
    )
    err = corruption_at(open_log())
    assert err.seq == 14 and "checksum mismatch" in err.reason


# ---------------------------------------------------------------------------------------------- snapshots
def test_snapshots_round_trip_and_are_pruned(open_log: OpenLog, backend: Backend) -> None:
    log = open_log(keep_snapshots=2)
    assert log.latest_snapshot() is None
    log.save_snapshot(0, "empty", b"")
    fill(log, 10)
    log.save_snapshot(5, "h5", b"state-5")
    log.save_snapshot(10, "h10", b"state-10" * 1000)
    snap = log.latest_snapshot()
    assert snap is not None and (snap.seq, snap.state_hash, snap.blob) == (10, "h10", b"state-10" * 1000)
    assert [row[0] for row in backend.execute("SELECT seq FROM {snapshots} ORDER BY seq")] == [5, 10]
    with pytest.raises(ValueError, match="outside the log"):
        log.save_snapshot(11, "h", b"")
    log.close()
    assert open_log().latest_snapshot() == snap


def test_tampered_snapshot_is_detected(open_log: OpenLog, backend: Backend) -> None:
    log = open_log()
    fill(log, 10)
    log.save_snapshot(8, "h8", b"state-8")
    log.close()
    backend.execute("UPDATE {snapshots} SET blob = ? WHERE seq = 8", (b"state-9",))
    with pytest.raises(LogCorruption) as info:
        open_log().latest_snapshot()
    assert info.value.seq == 8 and "snapshot checksum" in info.value.reason


def test_snapshot_of_a_rewritten_log_is_detected(open_log: OpenLog, backend: Backend) -> None:
    log = open_log()
    fill(log, 10)
    log.save_snapshot(8, "h8", b"state-8")
    log.close()
    backend.execute("UPDATE {records} SET checksum = ? WHERE seq = 8", (b"\x01" * 32,))
    with pytest.raises(LogCorruption) as info:
        open_log().latest_snapshot()
    assert info.value.seq == 8 and "rewritten" in info.value.reason


def test_tail_truncated_below_a_snapshot_is_detected(open_log: OpenLog, backend: Backend) -> None:
    """Losing the tail is invisible to the chain alone; a snapshot past the end gives it away."""
    log = open_log()
    fill(log, 10)
    log.save_snapshot(9, "h9", b"state-9")
    log.close()
    backend.execute("DELETE FROM {records} WHERE seq >= 8")
    log = open_log()
    assert verify_log_fails(log).seq == 9


def verify_log_fails(log: ChainedLog) -> LogCorruption:
    with pytest.raises(LogCorruption) as info:
        verify_log(log)
    assert "committed records were lost" in info.value.reason
    return info.value
