"""Cost of the dashboard's /info reads against the number of accounts (issue "web dashboard").

Builds two exchanges through ``Exchange.apply``: one with ``--small`` funded accounts and one with
``--large``; in both, the same ``--liquidated`` accounts open a 0.1 BTC long at 100,000 with 1,000 USDC
and a move of BTC to 90,700 hands them all to the liquidator vault (docs/rules/liquidation.md), so the
liquidation feed holds the same records. Then times each info body one dashboard refresh sends, per
call, against ``clearinghouseState`` of one user (a Hyperliquid view, the baseline) in the same run.

A read that listed every account would grow with the account count; the ratio large / small shows that
none does. Run: ``python benchmarks/bench_dashboard.py [--small 1000 --large 100000 --liquidated 1000]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from decimal import Decimal
from typing import Any

from netclear import views
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange

BOB = "0x" + "b0" * 20


def user(i: int) -> str:
    return "0x" + f"{i + 1:040x}"


def build(n: int, liquidated: int) -> Exchange:
    ex = Exchange("hyperliquid")
    btc = {"BTC": Decimal(100_000)}
    ex.apply(A.SetPrices(oracle=btc, marks=btc), at=1_000)
    ex.apply(A.Deposit(user=BOB, amount=Decimal(10**9)))
    for i in range(n):
        ex.apply(A.Deposit(user=user(i), amount=Decimal(1000)))
    for i in range(liquidated):
        ex.apply(A.SettleFill(buyer=user(i), seller=BOB, asset="BTC", sz=Decimal("0.1"), px=Decimal(100_000)))
    moved = {"BTC": Decimal(90_700)}
    ex.apply(A.SetPrices(oracle=moved, marks=moved), at=2_000)
    return ex


BODIES: dict[str, dict[str, Any]] = {
    "clearinghouseState (baseline)": {"type": "clearinghouseState", "user": user(0)},
    "spotClearinghouseState": {"type": "spotClearinghouseState", "user": user(0)},
    "marginModes": {"type": "marginModes", "user": user(0)},
    "liquidations (limit 200)": {"type": "liquidations", "limit": 200},
    "borrowLendReserveParams": {"type": "borrowLendReserveParams"},
    "metaAndAssetCtxs": {"type": "metaAndAssetCtxs"},
    "spotMetaAndAssetCtxs": {"type": "spotMetaAndAssetCtxs"},
}


def per_call_us(ex: Exchange, body: dict[str, Any], min_s: float = 0.3) -> float:
    views.info(ex, body)
    calls, start = 0, time.perf_counter()
    while True:
        views.info(ex, body)
        calls += 1
        took = time.perf_counter() - start
        if took >= min_s:
            return took / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--liquidated", type=int, default=1_000)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, CPython {platform.python_version()}")
    exchanges: dict[int, Exchange] = {}
    for n in (args.small, args.large):
        start = time.perf_counter()
        exchanges[n] = ex = build(n, args.liquidated)
        feed = views.info(ex, {"type": "liquidations", "limit": 1})["totals"]["count"]
        print(f"{n} accounts, {feed} liquidation records: built in {time.perf_counter() - start:.1f} s")
    # interleaved, best of five rounds: on a shared machine the load moves between measurements
    results: dict[int, dict[str, float]] = {n: {} for n in exchanges}
    for _ in range(5):
        for name, body in BODIES.items():
            for n, ex in exchanges.items():
                us = per_call_us(ex, body, 0.2)
                results[n][name] = min(us, results[n].get(name, us))
    base = "clearinghouseState (baseline)"
    print(
        f"| info body | µs/call, {args.small:,} accounts | µs/call, {args.large:,} | large / small | / baseline |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in BODIES:
        s, large = results[args.small][name], results[args.large][name]
        ratio = large / results[args.large][base]
        print(f"| `{name}` | {s:,.0f} | {large:,.0f} | {large / s:.2f} | {ratio:.1f} |")


if __name__ == "__main__":
    main()
