"""Action-log throughput: durable appends (one per commit, and batched) and read + chain verification.

Run: ``.venv/bin/python benchmarks/bench_ledger.py [--single 2000] [--records 50000] [--payload 200]``
``[--repeat 3] [--no-pg | --pg-conninfo DSN]``. Prints records/s for each backend; every append is
durable when it returns (SQLite WAL + ``synchronous=FULL``, PostgreSQL ``fsync=on`` and
``synchronous_commit=on``). SQLite with ``synchronous=NORMAL`` is measured as the reference for
what ``FULL`` costs. Without ``--pg-conninfo`` a throwaway local PostgreSQL cluster is started
(:mod:`netclear.ledger.pgtemp`), connected over a unix socket. Each figure is the median of
``--repeat`` runs on a fresh log; payloads are random bytes (an encoded action is ~100-300 bytes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from netclear.ledger.log import Entry
from netclear.ledger.store import ChainedLog

Opener = Callable[[], ChainedLog]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def entries(n: int, size: int, rng: random.Random, t0: int = 1_700_000_000_000) -> list[Entry]:
    return [Entry(t0 + i, rng.randbytes(size)) for i in range(n)]


def timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = run()
    return count / (time.perf_counter() - start)


def bench_backend(name: str, opener: Opener, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    single = entries(args.single, args.payload, rng)
    bulk = entries(args.records, args.payload, rng)

    def append_single() -> float:
        with opener() as log:
            return timed(lambda: sum(1 for e in single if log.append(e)))

    def append_batched(batch: int) -> Callable[[], float]:
        def run() -> float:
            with opener() as log:

                def go() -> int:
                    for i in range(0, len(bulk), batch):
                        log.append_many(bulk[i : i + batch])
                    return len(bulk)

                return timed(go)

        return run

    def read_verify() -> float:
        with opener() as log:
            for i in range(0, len(bulk), 1000):
                log.append_many(bulk[i : i + 1000])
            return timed(lambda: sum(1 for _ in log.read_from(1)))

    cases: list[tuple[str, Callable[[], float]]] = [
        ("append, 1 record per commit", append_single),
        ("append_many, 10 per commit", append_batched(10)),
        ("append_many, 100 per commit", append_batched(100)),
        ("append_many, 1000 per commit", append_batched(1000)),
        ("read_from(1) + verify chain", read_verify),
    ]
    for label, case in cases:
        rate = statistics.median(case() for _ in range(args.repeat))
        print(f"  {name:<15} {label:<30} {rate:>12,.0f} records/s", flush=True)


def sqlite_opener(directory: Path, synchronous: Literal["FULL", "NORMAL"] = "FULL") -> Opener:
    from netclear.ledger.sqlite import SqliteLog

    def opener() -> ChainedLog:
        return SqliteLog(directory / f"{uuid.uuid4().hex}.sqlite", synchronous=synchronous)

    return opener


def pg_opener(conninfo: str) -> Opener:
    from netclear.ledger.postgres import PostgresLog

    def opener() -> ChainedLog:
        return PostgresLog(conninfo, schema=f"bench_{uuid.uuid4().hex[:12]}")

    return opener


@contextlib.contextmanager
def postgres(args: argparse.Namespace) -> Iterator[str | None]:
    if args.no_pg:
        yield None
    elif args.pg_conninfo:
        yield args.pg_conninfo
    else:
        from netclear.ledger.pgtemp import ClusterUnavailable, TempCluster

        try:
            cluster = TempCluster()
        except ClusterUnavailable as exc:
            print(f"  (PostgreSQL skipped: {exc})")
            yield None
            return
        with cluster:
            yield cluster.conninfo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--single", type=int, default=2000, help="records appended one per commit")
    parser.add_argument("--records", type=int, default=50_000, help="records for batched appends and reads")
    parser.add_argument("--payload", type=int, default=200, help="payload bytes per record")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--pg-conninfo", default="", help="use this server instead of a throwaway cluster")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"payload {args.payload} B, {args.single} single appends, {args.records} records batched/read")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-", dir=os.environ.get("BENCH_DIR")) as tmp:
        print(f"SQLite {sqlite3.sqlite_version}, files in {tmp}")
        bench_backend("sqlite FULL", sqlite_opener(Path(tmp)), args)
        bench_backend("sqlite NORMAL", sqlite_opener(Path(tmp), "NORMAL"), args)
    with postgres(args) as conninfo:
        if conninfo is not None:
            import psycopg

            with psycopg.connect(conninfo) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            print(f"PostgreSQL {row[0] if row else '?'} (psycopg {psycopg.__version__})")
            bench_backend("postgres", pg_opener(conninfo), args)


if __name__ == "__main__":
    main()
