"""In-process order throughput of the engine, layer by layer (issue "Markets" benchmark).

Streams, each measured in the same run:

* ``book``: the bare order book (``OrderBook.add`` / ``match`` / ``cancel``): no validation, no margin;
* ``engine``: ``Exchange.apply(PlaceOrder / Cancel)`` with validation, holds, margin checks at placement
  and at each match, settlement, fees, fills and history records;
* ``engine PM auto-borrow``: spot buys from portfolio-margin accounts that hold only HYPE, so every
  order borrows USDC in the same action.

Run: ``python benchmarks/bench_orders.py [--n 20000]``; prints orders/s and the ratio to the bare book.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from decimal import Decimal as D

from netclear.book.orderbook import OrderBook, RestingOrder
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.fixedpoint import PX_SCALE

MAKER = "0x" + "ee" * 20
TAKER = "0x" + "a1" * 20


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_book(n: int) -> dict[str, float]:
    book = OrderBook(0)
    t0 = time.perf_counter()
    for i in range(n):
        px = (90_000 - (i % 500)) * PX_SCALE
        book.add(RestingOrder(i + 1, MAKER, 0, True, px, 100, 100, i))
    adds = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        book.cancel(i + 1)
    cancels = _rate(n, time.perf_counter() - t0)
    for i in range(n):
        book.add(RestingOrder(i + 1, MAKER, 0, False, (100_000 + (i % 500)) * PX_SCALE, 100, 100, i))
    t0 = time.perf_counter()
    for i in range(n):
        book.match(TAKER, n + i + 1, True, 200_000 * PX_SCALE, 100)
    fills = _rate(n, time.perf_counter() - t0)
    return {"resting adds": adds, "cancels": cancels, "crossing fills": fills}


def _config() -> object:
    """The hyperliquid preset with the per-user open-order limit lifted, so one maker can rest n orders."""
    from netclear.config import parse_config, preset_data

    data = preset_data("hyperliquid")
    data.setdefault("orders", {})["max_open_orders"] = 10**7
    return parse_config(data)


def _exchange() -> Exchange:
    ex = Exchange(_config())  # type: ignore[arg-type]
    ex.apply(
        A.SetPrices(oracle={"BTC": D(100000), "HYPE": D(40)}, spot={"@142": D(100000), "@107": D(40)}),
        at=1_000,
    )
    ex.apply(A.Deposit(user=MAKER, amount=D(10**10)))
    ex.apply(A.Deposit(user=TAKER, amount=D(10**10)))
    return ex


def _order(asset: int | str, is_buy: bool, px: int, sz: str, tif: str = "Gtc") -> O.PlaceOrder:
    return O.PlaceOrder(
        user=MAKER if tif != "Ioc" else TAKER,
        orders=[O.OrderSpec(asset=asset, is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec(tif))],
    )


def bench_engine(n: int) -> dict[str, float]:
    ex = _exchange()
    t0 = time.perf_counter()
    for i in range(n):
        ex.apply(_order(0, True, 90_000 - (i % 500), "0.001"))
    adds = _rate(n, time.perf_counter() - t0)
    oids = [o.oid for o in ex.state.books[0].orders_of(MAKER)]
    t0 = time.perf_counter()
    for oid in oids:
        ex.apply(O.Cancel(user=MAKER, cancels=[O.CancelSpec(0, oid)]))
    cancels = _rate(len(oids), time.perf_counter() - t0)
    for i in range(n):
        ex.apply(_order(0, False, 100_000 + (i % 500), "0.001"))
    t0 = time.perf_counter()
    for _ in range(n):
        ex.apply(_order(0, True, 110_000, "0.001", "Ioc"))
    fills = _rate(n, time.perf_counter() - t0)
    return {"resting adds": adds, "cancels": cancels, "crossing fills": fills}


def bench_pm_borrow(n: int) -> float:
    ex = _exchange()
    ex.apply(A.Deposit(user="0x" + "1e" * 20, amount=D(10**8)))
    ex.apply(A.SetAbstraction(user="0x" + "1e" * 20, abstraction="unifiedAccount"))
    ex.apply(A.BorrowLend(user="0x" + "1e" * 20, operation="supply", token="USDC", amount=D(10**8)))
    ex.apply(A.Deposit(user=MAKER, token="UBTC", amount=D(1000)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(10**8), to_perp=False))
    users = ["0x" + f"{i:040x}" for i in range(1, 201)]
    for u in users:
        ex.apply(A.Deposit(user=u, token="HYPE", amount=D(10_000)))
        ex.apply(A.SetAbstraction(user=u, abstraction="portfolioMargin"))
    for _ in range(n):
        ex.apply(_order("@142", False, 100_000, "0.001"))
    t0 = time.perf_counter()
    for i in range(n):
        u = users[i % len(users)]
        ex.apply(
            O.PlaceOrder(
                user=u,
                orders=[
                    O.OrderSpec(
                        asset="@142", is_buy=True, px=D(100_000), sz=D("0.001"), limit=O.LimitSpec("Ioc")
                    )
                ],
            )
        )
    return _rate(n, time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    book = bench_book(args.n)
    engine = bench_engine(args.n)
    pm = bench_pm_borrow(max(1, args.n // 4))
    rows = []
    for k in ("resting adds", "cancels", "crossing fills"):
        rows.append((k, book[k], engine[k], engine[k] / book[k]))
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"{'stream':<18}{'book ops/s':>14}{'engine ops/s':>16}{'engine/book':>14}")
    for k, b, e, r in rows:
        print(f"{k:<18}{b:>14,.0f}{e:>16,.0f}{r:>14.3f}")
    print(f"{'PM auto-borrow':<18}{'':>14}{pm:>16,.0f}{pm / book['crossing fills']:>14.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"book": book, "engine": engine, "pm_auto_borrow": pm}, f, indent=2)


if __name__ == "__main__":
    main()
