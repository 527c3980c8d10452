"""The durable action log the server runs on (``ledger.actionlog`` / ``sqlite_log`` / ``pg_log`` and
``ledger.node``), on SQLite and on a throwaway PostgreSQL cluster.

Round trip, the hash chain against a flipped byte / a deleted row / reordered rows, group-commit
atomicity, snapshot + tail replay equal to a full replay, and the configuration binding.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from netclear.engine import actions as A
from netclear.errors import ConfigError
from netclear.ledger.actionlog import GENESIS, ActionLog, LogCorruption, Snapshot, chain_digest, make_records
from netclear.ledger.node import Node, open_log, replay

T0 = 1_767_225_600_000
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


# ------------------------------------------------------------------------------------------ PostgreSQL
def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in (f"/usr/local/bin/{name}", *sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))):
        if Path(candidate).exists():
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def actionlog_pg_cluster() -> Iterator[str]:
    """``initdb`` + ``pg_ctl start`` in a temporary directory, unix socket only; yields a base URL."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'netclear[pg]')")
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as an unprivileged user
        for name in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            break
        else:
            pytest.skip("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")
    base = Path(tempfile.mkdtemp(prefix="nc-pg-"))  # short: unix socket paths are limited to ~100 bytes
    if run_as:
        os.chown(base, run_as["user"], run_as["group"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    opts = f"-p {port} -k {base} -c listen_addresses='' -c fsync=off"

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, text=True, cwd=base, timeout=120, **run_as)

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        run(pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60", "-o", opts, "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, PermissionError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc} {detail}".strip())
    try:
        yield f"postgresql://postgres@/postgres?host={quote(str(base))}&port={port}"
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            **run_as,
        )
        shutil.rmtree(base, ignore_errors=True)


class Store:
    """One empty log location (a SQLite file or a PostgreSQL schema) and raw SQL behind the log's back."""

    def __init__(
        self, url: str, table: str, raw: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
    ) -> None:
        self.url, self.table, self._raw = url, table, raw
        self.opened: list[ActionLog] = []

    def open(self) -> ActionLog:
        log = open_log(self.url)
        self.opened.append(log)
        return log

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """``statement`` with ``{log}`` for the table and ``?`` placeholders."""
        return self._raw(statement.format(log=self.table), params)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "actions.sqlite"

        def raw_sqlite(statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            db = sqlite3.connect(path, isolation_level=None)
            try:
                return db.execute(statement, params).fetchall()
            finally:
                db.close()

        s = Store(str(path), "log", raw_sqlite)
    else:
        import psycopg

        base = request.getfixturevalue("actionlog_pg_cluster")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{base}&options={quote(f'-csearch_path={schema}')}"

        def raw_pg(statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            with psycopg.connect(url, autocommit=True) as conn:
                cur = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
                return cur.fetchall() if cur.description else []

        s = Store(url, "netclear_log", raw_pg)
    yield s
    for log in s.opened:
        with contextlib.suppress(Exception):  # closed by the test already
            log.close()


def fill(log: ActionLog, n: int) -> list[tuple[int, bytes]]:
    """Append records 1..n in batches of 1..3 (group commits); returns their (time, payload)."""
    items = [
        (T0 + i // 2, f"payload-{i}:".encode() + bytes(range(i % 5, i % 5 + 30))) for i in range(1, n + 1)
    ]
    done = 0
    while done < n:
        batch = items[done : done + 1 + done % 3]
        last_seq, last_digest = log.last()
        log.append_many(make_records(last_seq, last_digest, batch))
        done += len(batch)
    return items


def corrupt_at(log: ActionLog, start: int = 1) -> int:
    with pytest.raises(LogCorruption) as exc:
        list(log.read_from(start))
    return exc.value.seq


# ------------------------------------------------------------------------------------------ records
def test_round_trip(store: Store) -> None:
    log = store.open()
    assert log.last() == (0, GENESIS) and list(log.read_from(1)) == []
    items = fill(log, 12)
    records = list(log.read_from(1))
    assert [(r.seq, r.time_ms, r.payload) for r in records] == [
        (i + 1, t, p) for i, (t, p) in enumerate(items)
    ]
    prev = GENESIS
    for r in records:
        assert r.digest == chain_digest(prev, r.seq, r.time_ms, r.payload)
        prev = r.digest
    assert log.last() == (12, records[-1].digest)
    assert list(log.read_from(7)) == records[6:] and list(log.read_from(0)) == records
    assert list(log.read_from(13)) == []
    log.append_many([])
    assert log.last()[0] == 12

    log.set_meta("k", "v1")
    log.set_meta("k", "v2")
    assert log.get_meta("k") == "v2" and log.get_meta("missing") is None
    log.save_snapshot(Snapshot(5, "h5", b"\x00blob5"))
    log.save_snapshot(Snapshot(9, "h9", b"blob9"))
    log.close()

    reopened = store.open()
    assert list(reopened.read_from(1)) == records and reopened.last()[0] == 12
    assert reopened.get_meta("k") == "v2"
    assert reopened.latest_snapshot() == Snapshot(9, "h9", b"blob9")


def test_group_commit_is_all_or_nothing(store: Store) -> None:
    log = store.open()
    fill(log, 3)
    last_seq, last_digest = log.last()
    batch = make_records(last_seq, last_digest, [(T0, b"a"), (T0, b"b")])
    with pytest.raises(Exception):  # noqa: B017 - sqlite3 or psycopg IntegrityError: seq 4 twice
        log.append_many([*batch, batch[0]])
    assert log.last() == (last_seq, last_digest)  # the whole transaction rolled back
    assert [r.seq for r in log.read_from(1)] == [1, 2, 3]
    log.append_many(batch)  # and the log is still usable
    assert [r.seq for r in store.open().read_from(1)] == [1, 2, 3, 4, 5]


# ------------------------------------------------------------------------------------------ damage
def test_flipped_byte_is_detected(store: Store) -> None:
    fill(store.open(), 8)
    (payload,) = store.sql("SELECT payload FROM {log} WHERE seq = ?", (5,))[0]
    flipped = bytearray(bytes(payload))
    flipped[3] ^= 0x40
    store.sql("UPDATE {log} SET payload = ? WHERE seq = ?", (bytes(flipped), 5))
    log = store.open()
    assert corrupt_at(log) == 5
    assert [r.seq for r in _until_corrupt(log)] == [1, 2, 3, 4]  # nothing after the damage is yielded
    assert corrupt_at(log, 5) == 5


def test_altered_time_digest_and_torn_payload_are_detected(store: Store) -> None:
    fill(store.open(), 6)
    store.sql("UPDATE {log} SET time_ms = time_ms + 1 WHERE seq = ?", (2,))
    assert corrupt_at(store.open()) == 2
    store.sql("UPDATE {log} SET time_ms = time_ms - 1 WHERE seq = ?", (2,))
    assert [r.seq for r in store.open().read_from(1)] == list(range(1, 7))  # repaired

    (digest,) = store.sql("SELECT digest FROM {log} WHERE seq = ?", (4,))[0]
    store.sql("UPDATE {log} SET digest = ? WHERE seq = ?", (bytes(32), 4))
    assert corrupt_at(store.open()) == 4
    store.sql("UPDATE {log} SET digest = ? WHERE seq = ?", (bytes(digest), 4))

    (payload,) = store.sql("SELECT payload FROM {log} WHERE seq = ?", (6,))[0]
    store.sql("UPDATE {log} SET payload = ? WHERE seq = ?", (bytes(payload)[:-3], 6))  # a torn tail
    assert corrupt_at(store.open()) == 6


def test_deleted_middle_row_is_detected(store: Store) -> None:
    fill(store.open(), 8)
    store.sql("DELETE FROM {log} WHERE seq = ?", (4,))
    log = store.open()
    assert corrupt_at(log) == 4
    assert corrupt_at(log, 5) == 4  # reading from just after the hole names the hole too


def test_reordered_rows_are_detected(store: Store) -> None:
    fill(store.open(), 8)
    rows = {
        seq: (t, bytes(p), bytes(d))
        for seq, t, p, d in store.sql("SELECT seq, time_ms, payload, digest FROM {log} WHERE seq IN (3, 4)")
    }
    for seq, other in ((3, 4), (4, 3)):
        t, p, d = rows[other]
        store.sql("UPDATE {log} SET time_ms = ?, payload = ?, digest = ? WHERE seq = ?", (t, p, d, seq))
    assert corrupt_at(store.open()) == 3


# ------------------------------------------------------------------------------------------ node
def actions() -> list[A.Action]:
    out: list[A.Action] = [
        A.SetPrices(oracle={"ETH": Decimal(3500), "BTC": Decimal(100_000)}),
        A.Deposit(user=ALICE, amount=Decimal(10_000)),
        A.Deposit(user=BOB, amount=Decimal(5_000)),
        A.UsdSend(user=ALICE, destination=BOB, amount=Decimal(100)),
        A.UsdSend(user=BOB, destination=ALICE, amount=Decimal(10**9)),  # rejected: logged, replayed the same
    ]
    for i in range(10):
        out.append(A.Deposit(user=ALICE if i % 2 else BOB, amount=Decimal(i + 1)))
    return out


def clock() -> Callable[[], int]:
    ticks = iter(range(T0, T0 + 10**9, 250))
    return lambda: next(ticks)


def test_snapshot_plus_tail_equals_full_replay(store: Store) -> None:
    log = store.open()
    node = Node("hyperliquid", log, clock=clock(), snapshot_every=0)
    acts = actions()
    outcomes = [node.submit(a) for a in acts[:8]]
    assert [o.seq for o in outcomes] == list(range(1, 9))
    assert outcomes[4].error is not None  # the rejected send
    snap = node.snapshot()
    assert snap.seq == 8 and snap.state_hash == node.exchange.state_hash()
    for a in acts[8:]:
        node.submit(a)
    live = (node.seq, node.exchange.state_hash())

    full_ex, full_seq = replay(None, store.open(), from_snapshot=False)
    snap_ex, snap_seq = replay(None, store.open(), from_snapshot=True)
    assert (full_seq, full_ex.state_hash()) == live == (snap_seq, snap_ex.state_hash())
    restarted = Node(None, store.open())
    assert restarted.replayed == len(acts) - 8  # only the tail after the snapshot
    assert (restarted.seq, restarted.exchange.state_hash()) == live
    # the restarted node goes on where the old one stopped
    assert restarted.submit(A.Deposit(user=ALICE, amount=Decimal(1))).seq == live[0] + 1


def test_automatic_snapshots_and_group_commit(store: Store) -> None:
    from netclear.ledger.node import Submission

    node = Node("hyperliquid", store.open(), clock=clock(), snapshot_every=4)
    outs = node.submit_many([Submission(a) for a in actions()[:6]])  # one transaction, one timestamp
    assert [o.seq for o in outs] == list(range(1, 7)) and len({o.time_ms for o in outs}) == 1
    first = node.log.latest_snapshot()
    assert first is not None and first.seq == 6  # the batch crossed seq 4
    for a in actions()[6:]:
        node.submit(a)
    assert node.seq == 15
    snap = node.log.latest_snapshot()
    assert snap is not None and snap.seq == 12 and snap.state_hash != first.state_hash
    restarted = Node(None, store.open())
    assert restarted.replayed == 3 and restarted.exchange.state_hash() == node.exchange.state_hash()


def test_tampered_snapshot_is_refused(store: Store) -> None:
    node = Node("hyperliquid", store.open(), clock=clock(), snapshot_every=0)
    for a in actions()[:4]:
        node.submit(a)
    snap = node.snapshot()
    other = Node("hyperliquid", open_log(":memory:"), clock=clock(), snapshot_every=0)
    other.submit(A.Deposit(user=BOB, amount=Decimal(1)))
    forged = Snapshot(snap.seq, snap.state_hash, other.snapshot().blob)  # another state, the old hash
    node.log.save_snapshot(forged)
    with pytest.raises(LogCorruption) as exc:
        Node(None, store.open())
    assert exc.value.seq == snap.seq
    # a full replay ignores snapshots and still works
    assert replay(None, store.open(), from_snapshot=False)[0].state_hash() == node.exchange.state_hash()


def test_log_is_bound_to_its_configuration(store: Store) -> None:
    with pytest.raises(ConfigError):
        Node(None, store.open())  # an empty log needs a preset
    node = Node("hyperliquid", store.open(), clock=clock())
    node.submit(A.Deposit(user=ALICE, amount=Decimal(5)))
    with pytest.raises(ConfigError, match="hyperliquid"):
        Node("hyperliquid-prealpha", store.open())
    with pytest.raises(ConfigError):
        replay("hyperliquid-prealpha", store.open(), from_snapshot=False)
    same = Node("hyperliquid", store.open())  # the same preset, given explicitly, is fine
    assert same.exchange.state_hash() == node.exchange.state_hash()
    assert Node(None, store.open()).config.preset.name == "hyperliquid"


def test_deleted_first_row_is_detected(store: Store) -> None:
    node = Node("hyperliquid", store.open(), clock=clock())
    for a in actions()[:5]:
        node.submit(a)
    store.sql("DELETE FROM {log} WHERE seq = ?", (1,))
    with pytest.raises(LogCorruption) as exc:
        Node(None, store.open())
    assert exc.value.seq == 1


def _until_corrupt(log: ActionLog) -> list[Any]:
    out = []
    try:
        for rec in log.read_from(1):
            out.append(rec)
    except LogCorruption:
        pass
    return out
