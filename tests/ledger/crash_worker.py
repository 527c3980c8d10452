"""Child process for the crash test: append records forever, acknowledging each durable append.

``python crash_worker.py sqlite PATH SEED`` or ``python crash_worker.py postgres CONNINFO SCHEMA SEED``.
After an append returns, one line ``first last\\n`` goes to stdout (a single small ``write``, atomic on
a pipe): those sequence numbers are acknowledged. Record ``seq`` holds :func:`expected_payload` and
time ``seq``, so the parent can check every acknowledged record byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys

from netclear.ledger.log import Entry
from netclear.ledger.store import ChainedLog


def expected_payload(seq: int) -> bytes:
    """Deterministic, 16..~1000 bytes, different for every ``seq``."""
    digest = hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=16).digest()
    return digest * (1 + seq % 61)


def open_log(argv: list[str]) -> ChainedLog:
    if argv[0] == "sqlite":
        from netclear.ledger.sqlite import SqliteLog

        return SqliteLog(argv[1])
    from netclear.ledger.postgres import PostgresLog

    return PostgresLog(argv[1], schema=argv[2])


def main(argv: list[str]) -> None:
    rng = random.Random(int(argv[-1]))
    log = open_log(argv[:-1])
    out = sys.stdout.fileno()
    seq = log.last_seq()
    while True:
        size = 1 if rng.random() < 0.5 else rng.randint(2, 16)
        entries = [Entry(s, expected_payload(s)) for s in range(seq + 1, seq + size + 1)]
        seqs = log.append_many(entries)
        os.write(out, f"{seqs.start} {seqs.stop - 1}\n".encode())
        seq = seqs.stop - 1


if __name__ == "__main__":
    main(sys.argv[1:])
