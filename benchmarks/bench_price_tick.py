"""One price tick with N holders through ``Exchange.apply``: exhaustive exact check vs the vector screen.

The book is the liquidation-scan benchmark's (N standard cross accounts, 1-3 positions each over the
hyperliquid preset's perps, 2-20x). Each tick moves every oracle and mark by -1% (no account becomes
liquidatable, so the time is the candidate check itself, as on most ticks). In the same run:

* **before**: every holder of a repriced asset is handed to the liquidation engine and checked exactly
  (the exchange's candidate rule before ``engine/liquidation/screen.py``);
* **after, first tick**: the exchange builds the screen's arrays (once, then only when many accounts
  changed) and screens;
* **after, steady tick**: the book is kept; ``--dirty`` accounts received a deposit since the last tick,
  so they are confirmed exactly, the rest screened.

Run: ``python benchmarks/bench_price_tick.py [--n 100000 --dirty 100]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from decimal import Decimal

from bench_liquidation_scan import PRICES, build

from netclear.engine.actions import Deposit, SetPrices
from netclear.engine.exchange import Exchange
from netclear.engine.state import ExchangeState
from netclear.fixedpoint import PX_SCALE


def tick(ex: Exchange, factor: Decimal) -> SetPrices:
    reg, st = ex.registry, ex.state
    px = {c: Decimal(st.prices.oracle[reg.perp(c).asset]) / PX_SCALE * factor for c in PRICES}
    px = {c: p.quantize(Decimal(10) ** -min(6, max(0, 5 - p.adjusted()))) for c, p in px.items()}
    return SetPrices(oracle=px, marks=px)


def old_candidates(ex: Exchange) -> object:
    """The candidate rule before the screen: every holder of a repriced asset (all perps move here)."""

    def rule(state: ExchangeState, touched: set[str]) -> set[str]:
        return {a for a, acct in state.accounts.items() if acct.positions or acct.borrow_basis}

    return rule


def timed(ex: Exchange, action: SetPrices) -> tuple[float, int]:
    t0 = time.perf_counter()
    events = ex.apply(action)
    dt = time.perf_counter() - t0
    return dt, sum(e.kind == "liquidation" for e in events)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dirty", type=int, default=100)
    args = ap.parse_args()
    # warm the compiled screen loop (numba) on a small book, so no row pays the compile
    warm = build(100)
    warm.apply(tick(warm, Decimal("0.99")))

    before = build(args.n)
    before.screen.candidates = old_candidates(before)  # type: ignore[method-assign]
    t_before, liq_before = timed(before, tick(before, Decimal("0.99")))
    del before

    after = build(args.n)
    t_first, liq_first = timed(after, tick(after, Decimal("0.99")))
    addresses = sorted(after.state.accounts)
    step = max(1, len(addresses) // max(1, args.dirty))
    for a in addresses[::step][: args.dirty]:
        after.apply(Deposit(user=a, amount=Decimal(10)))
    t_steady, liq_steady = timed(after, tick(after, Decimal("0.99")))
    t_again, _ = timed(after, tick(after, Decimal("1.005")))
    assert liq_before == liq_first == liq_steady == 0
    print(
        f"machine: {platform.machine()} python {platform.python_version()}; {args.n:,} holders, "
        f"every perp -1% per tick, nothing liquidated; rebuilds {after.screen.rebuilds}"
    )
    print(f"before: every holder checked exactly     {t_before * 1000:9.1f} ms")
    print(f"after: first tick (builds the arrays)    {t_first * 1000:9.1f} ms")
    print(f"after: steady tick, {args.dirty} dirty accounts  {t_steady * 1000:9.1f} ms")
    print(f"after: next tick, +0.5% ({len(after.screen.dirty)} dirty)     {t_again * 1000:9.1f} ms")
    print(f"before / steady = {t_before / t_steady:.1f}x")


if __name__ == "__main__":
    main()
