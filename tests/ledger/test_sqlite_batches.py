"""SQLite batches (issue 12 item 7): a batch is one multi-row ``INSERT`` in autocommit mode up to
``_ONE_STATEMENT`` rows (one interpreter-lock hand-off per commit), an explicit transaction beyond;
both all or nothing. The chain-head file is written with ``O_DSYNC`` (one system call, durable)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from netclear.ledger import sqlite as S
from netclear.ledger.chain import Chain
from netclear.ledger.headfile import HeadFile
from netclear.ledger.log import Entry, verify_log
from netclear.ledger.sqlite import SqliteLog
from tests.ledger.helpers import payload


@pytest.mark.parametrize("size", [1, 7, S._ONE_STATEMENT, S._ONE_STATEMENT + 5])
def test_batches_of_every_size_are_stored_and_verify(tmp_path: Path, size: int) -> None:
    path = tmp_path / "b.sqlite"
    with SqliteLog(path) as log:
        assert log.append_many([Entry(s, payload(s)) for s in range(1, size + 1)]) == range(1, size + 1)
        assert log.append_many([Entry(size + 1, payload(size + 1))]) == range(size + 1, size + 2)
    with SqliteLog(path) as log:  # reopened: the head file and the rows agree
        assert verify_log(log) == size + 1
        assert [r.payload for r in log.read_from(1)] == [payload(s) for s in range(1, size + 2)]
        assert not log.db.in_transaction


@pytest.mark.parametrize("size", [5, S._ONE_STATEMENT + 5])
def test_a_batch_that_fails_midway_leaves_nothing(tmp_path: Path, size: int) -> None:
    """A row that cannot be stored (here a sequence number already taken) rolls back the whole
    batch, the rows before it too, in both paths; the log stays usable."""
    with SqliteLog(tmp_path / "f.sqlite") as log:
        log.append_many([Entry(s, payload(s)) for s in range(1, 4)])
        head = Chain(3, log._current_head().checksum, 3)
        records = [head.extend(3 + i, payload(3 + i)) for i in range(1, size + 1)]
        broken = [*records[:-1], records[1]]  # the last row repeats seq 5
        with pytest.raises(sqlite3.IntegrityError):
            log._insert(broken)
        assert log.db.execute("SELECT count(*) FROM records").fetchone()[0] == 3
        assert not log.db.in_transaction
        log._head = None  # as append_many does after a failed insert
        assert log.append_many([Entry(4, payload(4))]) == range(4, 5)
        assert verify_log(log) == 4


def test_the_head_file_is_written_with_o_dsync(tmp_path: Path) -> None:
    synced = HeadFile(tmp_path / "a.head")
    relaxed = HeadFile(tmp_path / "b.head", sync=False)  # the NORMAL reference mode
    try:
        assert fcntl.fcntl(synced._fd, fcntl.F_GETFL) & os.O_DSYNC == os.O_DSYNC
        assert fcntl.fcntl(relaxed._fd, fcntl.F_GETFL) & os.O_DSYNC == 0
    finally:
        synced.close()
        relaxed.close()
