"""Reads do not wait for the log's fsync, and see nothing that is not yet durable (issue 12, item 7).

Node.submit_many holds the node lock only while it applies a logged batch (docs/ledger.md); a log
whose append is held open stands in for a slow fsync.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from netclear.engine import actions as A
from netclear.ledger.log import Entry
from netclear.ledger.node import Node, Submission
from netclear.ledger.sqlite import SqliteLog

ALICE = "0x" + "a1" * 20


class SlowLog(SqliteLog):
    """Appends wait for ``release`` (a stalled fsync) once ``stall`` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.stall = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def append_many(self, entries: Sequence[Entry]) -> range:
        if self.stall:
            self.entered.set()
            assert self.release.wait(10)
        return super().append_many(entries)


def test_reads_proceed_during_a_stalled_append(tmp_path: Path) -> None:
    log = SlowLog(tmp_path / "log.sqlite")
    node = Node("hyperliquid", log, clock=lambda: 1_767_225_600_000, snapshot_every=0)
    node.submit(A.Deposit(user=ALICE, amount=Decimal(100)))

    def balance() -> int:
        return int(node.read(lambda ex: ex.state.accounts[ALICE].perp_cash.get("", 0)))

    before, seq = balance(), node.seq
    assert before > 0 and seq == 1
    log.stall = True
    done: list[object] = []
    writer = threading.Thread(
        target=lambda: done.append(node.submit_many([Submission(A.Deposit(user=ALICE, amount=Decimal(50)))]))
    )
    writer.start()
    assert log.entered.wait(10)
    # the append has not returned: a read is answered at once, from the state before the batch
    reader = threading.Thread(target=lambda: done.extend((balance(), node.read(lambda ex: node.seq))))
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "a read waited for the log's fsync"
    assert done == [before, seq]  # the state and its seq agree: the batch is not visible yet
    log.release.set()
    writer.join(10)
    assert balance() == before * 3 // 2  # 100 + 50, in the same units: applied once durable
    assert node.seq == seq + 1
    node.close()


def test_a_log_written_with_the_retired_config_keys_still_opens(tmp_path: Path) -> None:
    import json

    from netclear.config import resolve

    data = json.loads(resolve("hyperliquid").model_dump_json())
    data["funding"]["mark_ema_s"] = 150  # what logs recorded before issue 12 removed these keys
    data["orders"] |= {"perp_max_decimals": 6, "spot_max_decimals": 8, "market_slippage": "0.05"}
    with SqliteLog(tmp_path / "old.sqlite") as log:
        log.set_meta("config", json.dumps(data))
    with SqliteLog(tmp_path / "old.sqlite") as log:
        node = Node("hyperliquid", log, clock=lambda: 1_767_225_600_000, snapshot_every=0)
        assert node.config == resolve("hyperliquid")
