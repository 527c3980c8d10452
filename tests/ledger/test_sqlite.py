"""SQLite-specific: damage to the file itself, a torn WAL tail, and the pragmas the log relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netclear.ledger.log import Entry, LogCorruption, verify_log
from netclear.ledger.sqlite import SqliteLog
from tests.ledger.helpers import fill, payload


def test_wal_and_full_sync(tmp_path: Path) -> None:
    with SqliteLog(tmp_path / "l.sqlite") as log:
        assert log.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_flipped_byte_in_the_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with SqliteLog(path) as log:
        fill(log, 60)
    raw = bytearray(path.read_bytes())  # closed: the WAL is checkpointed into the main file
    at = raw.index(payload(37)) + 20
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))
    with SqliteLog(path) as log, pytest.raises(LogCorruption) as info:
        verify_log(log)
    assert info.value.seq == 37


def test_torn_wal_tail_is_an_uncommitted_transaction(tmp_path: Path) -> None:
    """A crash mid-commit tears the last WAL frame: SQLite drops that transaction, the rest verifies.

    The dropped record's ``COMMIT`` had not returned, so it was never acknowledged.
    """
    live, crashed = tmp_path / "live.sqlite", tmp_path / "crashed.sqlite"
    log = SqliteLog(live)
    for seq in range(1, 11):
        log.append(Entry(seq, payload(seq)))
    shutil.copy(live, crashed)  # a "crash": copy the files while the writer is still open
    shutil.copy(f"{live}-wal", f"{crashed}-wal")
    log.close()
    wal = Path(f"{crashed}-wal")
    wal.write_bytes(wal.read_bytes()[:-100])
    with SqliteLog(crashed) as recovered:
        assert recovered.last_seq() == 9 and verify_log(recovered) == 9
        assert recovered.append(Entry(10, b"after recovery")) == 10
        assert verify_log(recovered) == 10


def test_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"this is not an SQLite file" * 200)
    with pytest.raises(LogCorruption) as info:
        SqliteLog(path)
    assert info.value.seq == 0
    path.unlink()  # the failed open released its writer lock:
    SqliteLog(path).close()
