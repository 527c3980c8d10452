"""Order-book throughput: resting adds, cancels and crossing matches on a book of ~10k orders.

Run: ``.venv/bin/python benchmarks/bench_book.py [--orders 10000] [--repeat 5]``. Prints ops/s for the
shipped price index (``bisect`` on a list, :mod:`netclear.book.side`) and, as the in-run baseline
(DESIGN "Performance targets"), the same book with a ``sortedcontainers.SortedList`` price index, and
their ratio. Each figure is the best of ``--repeat`` interleaved runs on freshly built books with the
garbage collector off while timing; the workload is seeded.

Scenarios:

* ``add``: rest N orders, both sides, prices within 500 ticks of the mid (about 10 orders a level);
* ``add_wide``: rest N orders each at its own price level spread over 100 x N ticks (worst case for a
  list index: every insert opens a level anywhere in the book);
* ``cancel``: cancel every order of an N-order book in random order;
* ``match``: alternate buy/sell takers, each about 2.5 maker orders in size, through a 2N-order book
  (N per side) until about N makers are consumed, with an ``on_match`` callback answering FILL as the
  clearinghouse would; reported per taker order and per fill.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable

from netclear.book import Decision, OrderBook, RestingOrder
from netclear.book.side import BookSide, PriceLevel

MID = 100_000 * 10**8  # 100,000.0 in 1e-8 units
TICK = 10**8  # $1 tick (5 significant figures at 100k, Hyperliquid docs 'Tick and lot size')
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20


class SortedListSide(BookSide):
    """Baseline: the same side with a ``SortedList`` price index (O(log n) inserts, slower top access)."""

    def __init__(self, is_buy: bool) -> None:
        from sortedcontainers import SortedList  # type: ignore[import-untyped]

        super().__init__(is_buy)
        self.keys = SortedList()

    def open_level(self, px: int) -> PriceLevel:
        level = self.levels[px] = PriceLevel(px)
        self.keys.add(px * self.sign)  # type: ignore[attr-defined]
        return level

    def drop_level(self, px: int) -> None:
        del self.levels[px]
        self.keys.remove(px * self.sign)


def make_book(index: str) -> OrderBook:
    book = OrderBook(0)
    if index == "sortedlist":
        book._bids = SortedListSide(True)
        book._asks = SortedListSide(False)
    return book


def resting_orders(n: int, spread_ticks: int, seed: int, first_oid: int = 1) -> list[RestingOrder]:
    """``n`` orders alternating bid/ask, sizes 1-100 lots, prices 1..spread_ticks ticks off the mid."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        is_buy = i % 2 == 0
        off = rng.randint(1, spread_ticks) * TICK
        sz = rng.randint(1, 100)
        px = MID - off if is_buy else MID + off
        out.append(RestingOrder(first_oid + i, ALICE, 0, is_buy, px, sz, sz, i))
    return out


def unique_level_orders(n: int, seed: int) -> list[RestingOrder]:
    rng = random.Random(seed)
    offs = rng.sample(range(1, 100 * n), n)
    out = []
    for i, off in enumerate(offs):
        is_buy = i % 2 == 0
        px = MID - off if is_buy else MID + off  # 1e-8 steps: the book itself has no tick rule
        out.append(RestingOrder(i + 1, ALICE, 0, is_buy, px, 10, 10, i))
    return out


def timed_pair(ours: Callable[[], float], base: Callable[[], float], repeat: int) -> tuple[float, float]:
    """Best ops/s of each over ``repeat`` interleaved runs, garbage collector off while timing.

    Each callable builds its own state, times its loop and returns ops/s. Interleaving keeps drift in
    machine load (shared CI boxes) from favouring one side.
    """
    best_ours = best_base = 0.0
    for _ in range(repeat):
        for fn, is_ours in ((ours, True), (base, False)):
            gc.collect()
            gc.disable()
            try:
                ops = fn()
            finally:
                gc.enable()
            if is_ours:
                best_ours = max(best_ours, ops)
            else:
                best_base = max(best_base, ops)
    return best_ours, best_base


def bench_add(index: str, n: int, wide: bool) -> Callable[[], float]:
    def run() -> float:
        orders = unique_level_orders(n, 7) if wide else resting_orders(n, 500, 7)
        book = make_book(index)
        add = book.add
        t0 = time.perf_counter()
        for o in orders:
            add(o)
        return n / (time.perf_counter() - t0)

    return run


def bench_cancel(index: str, n: int) -> Callable[[], float]:
    def run() -> float:
        orders = resting_orders(n, 500, 7)
        book = make_book(index)
        for o in orders:
            book.add(o)
        oids = [o.oid for o in orders]
        random.Random(3).shuffle(oids)
        cancel = book.cancel
        t0 = time.perf_counter()
        for oid in oids:
            cancel(oid)
        return n / (time.perf_counter() - t0)

    return run


def bench_match(index: str, n: int, out: dict[str, float]) -> Callable[[], float]:
    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        return Decision.FILL

    def run() -> float:
        orders = resting_orders(2 * n, 500, 7)
        book = make_book(index)
        for o in orders:
            book.add(o)
        n_takers = n * 2 // 5  # ~2.5 makers each -> ~n makers consumed
        rng = random.Random(5)
        sizes = [rng.randint(100, 150) for _ in range(n_takers)]  # mean maker size 50.5 lots
        match = book.match
        fills = 0
        t0 = time.perf_counter()
        for i, sz in enumerate(sizes):
            if i % 2 == 0:
                r = match(BOB, 10**9 + i, True, MID + 1000 * TICK, sz, on_match)
            else:
                r = match(BOB, 10**9 + i, False, MID - 1000 * TICK, sz, on_match)
            fills += len(r.fills)
        dt = time.perf_counter() - t0
        out[index] = max(out.get(index, 0.0), fills / dt)
        return n_takers / dt

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n, repeat = args.orders, args.repeat
    fills_per_s: dict[str, float] = {}
    scenarios: list[tuple[str, str, Callable[[str], Callable[[], float]]]] = [
        ("add", "orders", lambda ix: bench_add(ix, n, wide=False)),
        ("add_wide", "orders", lambda ix: bench_add(ix, n, wide=True)),
        ("cancel", "cancels", lambda ix: bench_cancel(ix, n)),
        ("match", "takers", lambda ix: bench_match(ix, n, fills_per_s)),
    ]
    rows: list[tuple[str, str, float, float]] = []
    for name, unit, make in scenarios:
        rows.append((name, unit, *timed_pair(make("bisect"), make("sortedlist"), repeat)))
    print(f"order book, {n} orders, best of {repeat}")
    print(f"{'scenario':<10} {'bisect ops/s':>14} {'SortedList ops/s':>17} {'ratio':>6}")
    for name, unit, ours, base in rows:
        print(f"{name:<10} {ours:>14,.0f} {base:>17,.0f} {ours / base:>6.2f}  ({unit})")
    ours_f, base_f = fills_per_s["bisect"], fills_per_s["sortedlist"]
    print(f"{'fills':<10} {ours_f:>14,.0f} {base_f:>17,.0f} {ours_f / base_f:>6.2f}  (maker fills in match)")


if __name__ == "__main__":
    main()
