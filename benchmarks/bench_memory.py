"""Memory kept per action at steady state (issue "Hardening", defect 10).

Two accounts trade 0.01 ETH back and forth (a resting Gtc order, then a crossing Ioc), so every
action adds fills, order-status records and a public trade. After a warm-up long enough for every
bounded history list to reach its cap (2,000 per user, 10,000 trades per coin), the memory still held
(``tracemalloc``, traced from the start) is measured over more actions and divided by their number.

Run: ``python benchmarks/bench_memory.py [--warmup 12000] [--measure 3000]`` (each is a number of
buy/sell pairs, two actions each).
"""

from __future__ import annotations

import argparse
import platform
import tracemalloc
from decimal import Decimal as D

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange

A_USER, B_USER = "0x" + "aa" * 20, "0x" + "bb" * 20


def order(user: str, buy: bool, tif: str) -> O.PlaceOrder:
    spec = O.OrderSpec(asset="ETH", is_buy=buy, px=D(3000), sz=D("0.01"), limit=O.LimitSpec(tif))  # type: ignore[arg-type]
    return O.PlaceOrder(user=user, orders=[spec])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warmup", type=int, default=12_000)
    parser.add_argument("--measure", type=int, default=3_000)
    args = parser.parse_args()
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"ETH": D(3000)}), at=1_000)
    for u in (A_USER, B_USER):
        ex.apply(A.Deposit(user=u, amount=D(10_000_000)), at=1_000)
    now = [2_000]

    def run(pairs: int) -> None:
        for i in range(pairs):
            buy = i % 2 == 0
            ex.apply(order(A_USER, buy, "Gtc"), at=now[0])
            ex.apply(order(B_USER, not buy, "Ioc"), at=now[0] + 1)
            now[0] += 2

    tracemalloc.start()
    run(args.warmup)
    before = tracemalloc.get_traced_memory()[0]
    run(args.measure)
    after = tracemalloc.get_traced_memory()[0]
    print(f"{platform.machine()}, Python {platform.python_version()}")
    print(f"bytes kept per action: {(after - before) / (2 * args.measure):.0f}")
    print(f"fills kept for one user: {len(ex.state.history.fills[A_USER])}")


if __name__ == "__main__":
    main()
