"""Durability across process death: SIGKILL a writer at random moments, then audit the log.

A child process (``crash_worker.py``) appends records and reports each acknowledged (durable)
append through a pipe; the parent kills it with SIGKILL at a random moment (sometimes while it is
still opening the log), then reopens the log and checks that every acknowledged record is present,
byte for byte, and that the whole chain verifies from genesis. Repeated on the same log, so each
child also reopens a log whose previous writer was killed. The seed is in the failure message.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netclear.ledger.log import verify_log
from tests.ledger.crash_worker import expected_payload
from tests.ledger.helpers import Backend

KILLS = 30
WORKER = Path(__file__).with_name("crash_worker.py")


def run_and_kill(backend: Backend, rng: random.Random) -> set[int]:
    """Start a writer, kill it at a random moment, return the sequence numbers it acknowledged."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), *backend.worker_args(), str(rng.randrange(2**32))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = b""
    try:
        if rng.random() < 0.15:
            time.sleep(rng.uniform(0.0, 0.3))  # often mid start-up: opening, recovering, locking
        else:
            first = proc.stdout.readline()  # the writer is appending: kill it somewhere in the loop
            assert first, proc.stderr.read().decode()
            time.sleep(rng.uniform(0.0, 0.12))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lines = first + proc.stdout.read()
    stderr = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert not stderr, stderr
    acked: set[int] = set()
    for line in lines.decode().splitlines(keepends=True):
        if line.endswith("\n"):
            lo, hi = map(int, line.split())
            acked.update(range(lo, hi + 1))
    return acked


@pytest.mark.slow
def test_acknowledged_records_survive_sigkill(backend: Backend) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acked_total: set[int] = set()
    kills_mid_append = 0
    for kill in range(KILLS):
        acked = run_and_kill(backend, rng)
        acked_total |= acked
        kills_mid_append += bool(acked)
        with backend.open() as log:
            context = f"seed {seed}, kill {kill + 1}/{KILLS}"
            present = {}
            for record in log.read_from(1):  # verifies the whole chain, from genesis
                assert record.payload == expected_payload(record.seq), (
                    f"record {record.seq} altered ({context})"
                )
                assert record.time_ms == record.seq, context
                present[record.seq] = record
            assert len(present) == log.last_seq() == verify_log(log), context
            lost = sorted(acked_total - present.keys())
            assert not lost, f"acknowledged records lost: {lost[:10]} ({context})"
    assert kills_mid_append >= KILLS // 2, f"too few kills landed while appending (seed {seed})"
