"""Action log, replay and signed-order throughput (issue "Durable action log and API" benchmarks).

Measured in one run, each against a baseline from the same run:

1. log append + apply (SQLite WAL FULL, and PostgreSQL when ``--pg DSN`` is given), batches of B
   actions per transaction, vs applying the same stream with no log;
2. replay speed: re-deriving the state from the SQLite log (actions/s), vs the same apply loop;
3. signed orders over loopback: clients post pre-signed ``order`` actions (signed with the SDK's own
   signing function) to ``/exchange`` on a running server, p50/p99 latency and orders/s, vs posting a
   trivial ``/info`` request to the same server (``netclear serve`` in its own process).

Run: ``python benchmarks/bench_api.py [--n 5000] [--pg postgresql://...|auto]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import requests

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.ledger.node import Node, Submission, open_log, replay

USERS = ["0x" + f"{i:040x}" for i in range(1, 51)]


def stream(n: int) -> list[A.Action]:
    """Deposits then resting orders spread over 50 users (a realistic mix for a log)."""
    out: list[A.Action] = [A.SetPrices(oracle={"BTC": D(100000)})]
    out += [A.Deposit(user=u, amount=D(1_000_000)) for u in USERS]
    for i in range(n):
        u = USERS[i % len(USERS)]
        px = D(90_000 + (i % 900))
        out.append(
            O.PlaceOrder(
                user=u,
                orders=[O.OrderSpec(asset=0, is_buy=True, px=px, sz=D("0.001"), limit=O.LimitSpec("Alo"))],
            )
        )
    return out


def _config() -> Any:
    from netclear.config import parse_config, preset_data

    data = preset_data("hyperliquid")
    data.setdefault("orders", {})["max_open_orders"] = 10**7
    return parse_config(data)


def bench_apply(actions: list[A.Action]) -> float:
    ex = Exchange(_config())
    t0 = time.perf_counter()
    for i, a in enumerate(actions):
        ex.apply(a, at=1_000 + i)
    return len(actions) / (time.perf_counter() - t0)


def bench_log(actions: list[A.Action], url: str, batch: int) -> float:
    clock = iter(range(1_000, 10**12))
    if url.startswith("host="):  # a libpq keyword conninfo (the throwaway cluster of --pg auto)
        from netclear.ledger.postgres import PostgresLog

        log: Any = PostgresLog(url, schema=f"bench_{batch}")
    else:
        log = open_log(url)
    node = Node(_config(), log, clock=lambda: next(clock), snapshot_every=0)
    t0 = time.perf_counter()
    for i in range(0, len(actions), batch):
        node.submit_many([Submission(a) for a in actions[i : i + batch]])
    rate = len(actions) / (time.perf_counter() - t0)
    node.close()
    return rate


def bench_replay(url: str) -> tuple[float, int]:
    with open_log(url) as log:
        t0 = time.perf_counter()
        _, seq = replay(None, log, from_snapshot=False)
        return seq / (time.perf_counter() - t0), seq


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AUTH = ("--operator-token", "bench")


def bench_http(n: int, clients: int, *, src: str | None = None, accounts: int = 0) -> dict[str, float]:
    import eth_account
    import loopback

    # the server runs in its own process (`netclear serve`, as a user runs it), so the client threads
    # below do not share its interpreter lock
    tmp = tempfile.mkdtemp()
    port = _free_port()
    netclear = Path(sys.executable).with_name("netclear")
    env = dict(os.environ)
    if src is not None:  # `--baseline-src`: the same benchmark against another checkout's code
        env["PYTHONPATH"] = src
    server = subprocess.Popen(
        [str(netclear), "serve", "--db", str(Path(tmp) / "api.sqlite"), "--port", str(port), *AUTH],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    loopback.wait_until_serving(url, server, 60, "netclear serve")
    op = {"authorization": "Bearer bench"}
    requests.post(url + "/operator/prices", json={"oracle": {"BTC": "100000"}}, headers=op, timeout=10)
    if accounts:  # other accounts on the exchange: per-request work must not grow with them

        def fund(i: int) -> None:
            requests.post(
                url + "/operator/deposit",
                json={"user": "0x" + f"{0xB000000 + i:040x}", "amount": "1000"},
                headers=op,
                timeout=60,
            )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(fund, range(accounts)))
    wallets = [eth_account.Account.create() for _ in range(clients)]
    for w in wallets:
        requests.post(
            url + "/operator/deposit", json={"user": w.address, "amount": "10000000"}, headers=op, timeout=10
        )
    bodies = loopback.alo_bids(wallets, n)

    def run(kind: str) -> tuple[list[float], float]:
        lat: list[float] = []

        def worker(k: int) -> list[float]:
            s = requests.Session()
            out = []
            for body in bodies[k]:
                t = time.perf_counter()
                if kind == "order":
                    r = s.post(url + "/exchange", json=body, timeout=30).json()
                    assert r.get("status") == "ok", r
                else:
                    s.post(
                        url + "/info",
                        json={"type": "userAbstraction", "user": wallets[k].address},
                        timeout=30,
                    )
                out.append(time.perf_counter() - t)
            return out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for part in pool.map(worker, range(clients)):
                lat.extend(part)
        return lat, n / (time.perf_counter() - t0)

    base_lat, base_rate = run("info")
    lat, rate = run("order")
    server.terminate()
    server.wait(timeout=30)
    q = statistics.quantiles
    return {
        "orders/s": rate,
        "order p50 ms": q(lat, n=100)[49] * 1000,
        "order p99 ms": q(lat, n=100)[98] * 1000,
        "info/s": base_rate,
        "info p50 ms": q(base_lat, n=100)[49] * 1000,
        "info p99 ms": q(base_lat, n=100)[98] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument(
        "--pg",
        default=None,
        help="PostgreSQL DSN (or 'auto': a throwaway local cluster) to include PostgreSQL",
    )
    ap.add_argument("--accounts", type=int, default=0, help="extra funded accounts before the HTTP run")
    ap.add_argument(
        "--baseline-src",
        default=None,
        help="another checkout's src/ (e.g. the previous commit): run the HTTP benchmark against both, "
        "alternating, and print the ratio",
    )
    ap.add_argument("--http-only", action="store_true", help="only the signed-orders benchmark")
    args = ap.parse_args()
    if args.http_only:
        bench_http_pair(args)
        return
    actions = stream(args.n)
    print(f"machine: {platform.machine()} python {platform.python_version()}; {len(actions):,} actions")
    apply_rate = bench_apply(actions)
    print(f"apply only (baseline)                 {apply_rate:10,.0f} actions/s")
    tmp = tempfile.mkdtemp()
    for batch in (1, args.batch):
        url = str(Path(tmp) / f"log{batch}.sqlite")
        rate = bench_log(actions, url, batch)
        print(
            f"SQLite log+apply, batch {batch:<4}          {rate:10,.0f} actions/s  ({rate / apply_rate:.2f}x apply)"
        )
    if args.pg:
        with contextlib.ExitStack() as stack:
            dsn = args.pg
            if dsn == "auto":
                from netclear.ledger.pgtemp import TempCluster

                dsn = stack.enter_context(TempCluster()).conninfo
            for batch in (1, args.batch):
                rate = bench_log(actions, dsn, batch)
                print(
                    f"PostgreSQL log+apply, batch {batch:<4}      {rate:10,.0f} actions/s  ({rate / apply_rate:.2f}x apply)"
                )
    rate, seq = bench_replay(str(Path(tmp) / f"log{args.batch}.sqlite"))
    print(
        f"replay from SQLite ({seq:,} actions)     {rate:10,.0f} actions/s  ({rate / apply_rate:.2f}x apply)"
    )
    bench_http_pair(args)


def _show(label: str, http: dict[str, float]) -> None:
    print(
        f"{label}signed orders over loopback  {http['orders/s']:10,.0f} orders/s  p50 {http['order p50 ms']:.1f} ms  p99 {http['order p99 ms']:.1f} ms"
    )
    print(
        f"{label}/info userAbstraction        {http['info/s']:10,.0f} req/s     p50 {http['info p50 ms']:.1f} ms  p99 {http['info p99 ms']:.1f} ms"
    )


def bench_http_pair(args: argparse.Namespace) -> None:
    n = min(args.n, 2000)
    if args.baseline_src is None:
        _show("", bench_http(n, args.clients, accounts=args.accounts))
        return
    rates: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(2):  # alternate, so drift on a shared machine hits both alike
        for label, src in (("before", args.baseline_src), ("after", None)):
            http = bench_http(n, args.clients, src=src, accounts=args.accounts)
            _show(f"[{label}] ", http)
            rates[label].append(http["orders/s"])
    ratio = statistics.median(rates["after"]) / statistics.median(rates["before"])
    print(f"signed orders/s after / before: {ratio:.2f}x ({args.accounts:,} extra accounts)")


if __name__ == "__main__":
    main()
