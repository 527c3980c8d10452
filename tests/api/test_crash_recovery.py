"""``netclear serve`` killed with SIGKILL while requests are in flight, restarted on the same log.

Every acknowledged action must be in the log (operator deposits by the ``seq`` they were answered
with, signed SDK orders by their signer and nonce), the hash chain must verify, and the restarted
server's state hash must equal a full replay by ``netclear replay --full``. A damaged log (a flipped
byte, a torn payload) must stop both ``serve`` and ``replay`` with a LogCorruption naming the record.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]

from netclear.engine import actions as A
from netclear.ledger.log import LogCorruption
from netclear.ledger.node import Node, open_log, replay

NETCLEAR = Path(sys.executable).with_name("netclear")
TOKEN = "t"
CYCLES = 8
ENV = os.environ | {"COLUMNS": "300", "NO_COLOR": "1"}  # rich: no wrapping, no colour codes

pytestmark = pytest.mark.skipif(not NETCLEAR.exists(), reason=f"{NETCLEAR} is not installed")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """One ``netclear serve`` subprocess on a fresh port."""

    def __init__(self, db: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = log.open("ab")
        self.proc = subprocess.Popen(
            [str(NETCLEAR), "serve", "--db", str(db), "--port", str(self.port), "--operator-token", TOKEN],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )

    def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"netclear serve exited with {self.proc.returncode}"
            try:
                r = requests.get(f"{self.url}/health", timeout=1)
                if r.status_code == 200:
                    return dict(r.json())
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError("netclear serve did not become healthy")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.out.close()


def cli_replay(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NETCLEAR), "replay", "--db", str(db), "--full"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )


def operator(url: str, path: str, body: dict[str, Any], timeout: float = 5) -> requests.Response:
    return requests.post(
        f"{url}/operator/{path}", json=body, headers={"authorization": f"Bearer {TOKEN}"}, timeout=timeout
    )


class RecordingExchange(Exchange):  # type: ignore[misc]
    """The SDK's Exchange, remembering the nonce of every action the server acknowledged ("ok")."""

    def __init__(self, *args: Any, acked: list[tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acked = acked

    def _post_action(self, action: Any, signature: Any, nonce: int) -> Any:
        resp = super()._post_action(action, signature, nonce)
        if isinstance(resp, dict) and resp.get("status") == "ok":
            self.acked.append((str(self.wallet.address).lower(), nonce))
        return resp


@dataclass
class Acks:
    deposits: dict[int, str] = field(default_factory=dict)  # seq -> user
    operator_seqs: set[int] = field(default_factory=set)
    signed: list[tuple[str, int]] = field(default_factory=list)  # (signer, nonce)
    lock: threading.Lock = field(default_factory=threading.Lock)


def stream(
    url: str,
    traders: list[LocalAccount],
    acks: Acks,
    stop: threading.Event,
    seed: int,
    errors: list[BaseException],
) -> None:
    """Operator deposits/prices and SDK orders from several threads until ``stop`` or the server dies.

    A connection error ends a thread quietly (the server was killed: that request is not
    acknowledged); anything else is appended to ``errors``.
    """
    rng = random.Random(seed)

    def guarded(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except (requests.RequestException, OSError):
                return  # the server was killed mid-request: not acknowledged
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        return run

    def deposits() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            user = "0x" + f"{rng.randrange(16**40):040x}"
            if i % 7 == 0:
                r = operator(url, "prices", {"oracle": {"ETH": str(3000 + rng.randrange(-20, 20))}})
            else:
                r = operator(url, "deposit", {"user": user, "amount": str(rng.randrange(1, 1000))})
            assert r.status_code == 200, r.text
            body = r.json()
            with acks.lock:
                acks.operator_seqs.add(body["seq"])
                if i % 7:
                    acks.deposits[body["seq"]] = user

    def trader(wallet: LocalAccount, is_buy: bool, seed: int) -> Any:
        local = random.Random(seed)

        def run() -> None:
            ex = RecordingExchange(wallet, url, acked=acks.signed)
            while not stop.is_set():
                px = 3000 + local.randrange(-30, 31)
                resp = ex.order("ETH", is_buy, 0.01, px, {"limit": {"tif": "Gtc"}})
                statuses = resp["response"]["data"]["statuses"] if resp["status"] == "ok" else []
                resting = [s["resting"]["oid"] for s in statuses if "resting" in s]
                if resting and local.random() < 0.5:
                    ex.cancel("ETH", resting[0])

        return run

    seeds = [rng.randrange(2**32) for _ in traders]
    threads = [threading.Thread(target=guarded(deposits), daemon=True)]
    for i, w in enumerate(traders):
        threads.append(threading.Thread(target=guarded(trader(w, i % 2 == 0, seeds[i])), daemon=True))
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join(timeout=15)
        if t.is_alive():
            errors.append(TimeoutError(f"{t.name} did not stop"))


def read_log(db: Path) -> tuple[int, dict[int, dict[str, Any]], set[tuple[str, int]]]:
    """(last seq, envelope by seq, (signer, nonce) of signed records): reading verifies the chain."""
    log = open_log(db)
    try:
        envelopes: dict[int, dict[str, Any]] = {}
        expected = 1
        for rec in log.read_from(1):
            assert rec.seq == expected
            envelopes[rec.seq] = json.loads(rec.payload)
            expected += 1
        assert log.last_seq() == expected - 1
    finally:
        log.close()
    signed = {(e["signer"], e["nonce"]) for e in envelopes.values() if e["signer"] is not None}
    return expected - 1, envelopes, signed


def replay_hash(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return dict(json.loads(out.strip().splitlines()[-1]))


# ------------------------------------------------------------------------------------------ kill / restart
def test_sigkill_loses_no_acknowledged_action(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    db, out = tmp_path / "crash.sqlite", tmp_path / "serve.log"
    traders: list[LocalAccount] = [Account.create() for _ in range(2)]
    acks = Acks()

    proc = Process(db, out)
    proc.wait_healthy()
    for w in traders:
        assert operator(proc.url, "deposit", {"user": w.address, "amount": "1000000"}).status_code == 200
    assert operator(proc.url, "prices", {"oracle": {"ETH": "3000"}}).status_code == 200

    last_seq = 0
    for cycle in range(CYCLES):
        stop = threading.Event()
        errors: list[BaseException] = []
        args = (proc.url, traders, acks, stop, rng.randrange(2**32), errors)
        streamer = threading.Thread(target=stream, args=args, daemon=True)
        streamer.start()
        time.sleep(rng.uniform(0.2, 0.7))
        proc.kill()  # SIGKILL with requests in flight
        stop.set()
        streamer.join(timeout=30)
        assert not streamer.is_alive()
        assert not errors, errors

        seq, envelopes, signed = read_log(db)  # verifies the hash chain
        context = f"cycle {cycle}, seed {seed}"
        assert seq > last_seq, f"{context}: nothing was logged"
        last_seq = seq
        with acks.lock:
            lost_ops = sorted(s for s in acks.operator_seqs if s > seq)
            lost_signed = [a for a in acks.signed if a not in signed]
            assert not lost_ops, f"{context}: acknowledged operator seqs missing from the log: {lost_ops}"
            assert not lost_signed, f"{context}: acknowledged signed actions missing: {lost_signed[:5]}"
            for s, user in acks.deposits.items():
                action = envelopes[s]["action"]
                assert (action["type"], action["user"]) == ("deposit", user), (context, s, action)

        # `netclear replay --full` re-derives the state from scratch, then the server restarts on the
        # same log (one after the other: a log has one opener)
        replayed = replay_hash(cli_replay(db))
        proc = Process(db, out)
        health = proc.wait_healthy()
        assert health["seq"] == seq == replayed["seq"], context
        assert health["stateHash"] == replayed["stateHash"], context

    try:
        # the restarted server is fully usable: the SDK trades on it
        ex = Exchange(traders[0], proc.url)
        assert ex.order("ETH", True, 0.01, 2000, {"limit": {"tif": "Gtc"}})["status"] == "ok"
        assert len(acks.signed) > CYCLES and len(acks.deposits) > CYCLES, "the stream made progress"
    finally:
        proc.kill()
    seq, _envelopes, _signed = read_log(db)
    log = open_log(db)
    try:
        assert replay(None, log, from_snapshot=False)[1] == seq
    finally:
        log.close()


# ------------------------------------------------------------------------------------------ damaged log
@pytest.fixture
def small_log(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "small.sqlite"
    node = Node("hyperliquid", open_log(db))
    for i in range(6):
        node.submit(A.Deposit(user="0x" + "ab" * 20, amount=Decimal(i + 1)))
    node.close()
    yield db


def tamper(db: Path, seq: int, how: str) -> None:
    conn = sqlite3.connect(db)
    try:
        (payload,) = conn.execute("SELECT payload FROM records WHERE seq = ?", (seq,)).fetchone()
        data = bytearray(payload)
        if how == "flip":
            data[len(data) // 2] ^= 0x01
        elif how == "torn":
            data = data[: len(data) // 2]
        conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (bytes(data), seq))
        conn.commit()
    finally:
        conn.close()


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(
    ("seq", "how"), [(6, "flip"), (6, "torn"), (3, "flip")], ids=["tail-flip", "torn-tail", "middle"]
)
def test_damaged_log_is_refused_naming_the_record(
    small_log: Path, tmp_path: Path, seq: int, how: str
) -> None:
    tamper(small_log, seq, how)

    with open_log(small_log) as log, pytest.raises(LogCorruption) as exc:
        Node(None, log)
    assert exc.value.seq == seq
    with open_log(small_log) as log, pytest.raises(LogCorruption) as exc:
        replay(None, log, from_snapshot=False)
    assert exc.value.seq == seq
    # nothing before the damage is lost: records 1..seq-1 still read
    assert [r.seq for r in _read_until_corrupt(small_log)] == list(range(1, seq))

    # the CLI: serve refuses to start, replay (full or from a snapshot) reports it (one at a time: a
    # log has one opener)
    port = str(free_port())
    commands = {
        "serve": ["serve", "--db", str(small_log), "--port", port, "--operator-token", TOKEN],
        "replay --full": ["replay", "--db", str(small_log), "--full"],
        "replay": ["replay", "--db", str(small_log)],
    }
    results = {}
    for name, args in commands.items():
        done = subprocess.run(
            [str(NETCLEAR), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=ENV,
            timeout=60,
        )
        results[name] = (done.stdout, done.returncode)
    for name, (text, rc) in results.items():  # serve too: a clear message, no traceback (issue 10)
        assert "Traceback" not in text, (name, text)
        assert rc == 2, (name, text)
        assert f"log seq {seq}" in text and "checksum mismatch" in squash(text), (name, text)
        assert "stateHash" not in text, name


def _read_until_corrupt(db: Path) -> list[Any]:
    log = open_log(db)
    out = []
    try:
        for rec in log.read_from(1):
            out.append(rec)
    except LogCorruption:
        pass
    finally:
        log.close()
    return out
