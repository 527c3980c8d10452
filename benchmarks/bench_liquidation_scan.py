"""Liquidation scan on a large book: one oracle tick over N accounts (issue "Liquidation" benchmark).

Builds a synthetic book of N standard cross accounts (1-3 positions each over the hyperliquid
preset's perps, leverage 2-20x), moves every mark by -7%, and finds the liquidatable accounts two ways
in the same run:

* exact loop: ``Valuer`` per account (Python integers, the engine's own path);
* vectorised screen: ``RiskBook.screen`` (numpy), then the exact check on the flagged accounts only.

Both must return the same set. Run: ``python benchmarks/bench_liquidation_scan.py [--n 100000]``.
"""

from __future__ import annotations

import argparse
import platform
import random
import time

from netclear.engine.accounting import Valuer
from netclear.engine.exchange import Exchange
from netclear.engine.liquidation import rules
from netclear.engine.state import Account, Position
from netclear.fixedpoint import PX_SCALE, notional
from netclear.risk.vector import RiskBook

PRICES = {"BTC": 100_000, "ETH": 3_500, "SOL": 180, "XRP": 2.5, "HYPE": 40, "DOGE": 0.2, "ARB": 0.5}


def build(n: int, seed: int = 1) -> Exchange:
    ex = Exchange("hyperliquid")
    reg = ex.registry
    st = ex.state
    rng = random.Random(seed)
    for name, px in PRICES.items():
        a = reg.perp(name).asset
        st.prices.oracle[a] = st.prices.mark[a] = int(px * PX_SCALE)
    coins = list(PRICES)
    for i in range(n):
        acct = Account("0x" + f"{i + 1:040x}")
        equity = 0
        for name in rng.sample(coins, rng.randint(1, 3)):
            perp = reg.perp(name)
            px = st.prices.mark[perp.asset]
            usd = rng.randint(1_000, 200_000)
            lots = max(1, usd * PX_SCALE * 10**perp.sz_decimals // px)
            szi = lots if rng.random() < 0.5 else -lots
            lev = rng.randint(2, min(20, perp.max_leverage))
            acct.positions[perp.asset] = Position(perp.asset, szi, abs(szi) * px, True, lev)
            ntl = notional(szi, px, perp.sz_decimals, 8)
            acct.perp_cash[""] = acct.perp_cash.get("", 0) - ntl
            equity += abs(ntl) // lev
        acct.perp_cash[""] = acct.perp_cash.get("", 0) + equity
        st.accounts[acct.address] = acct
    return ex


def exact(ex: Exchange) -> set[str]:
    v = Valuer(ex.registry, ex.state)
    out = set()
    for address, acct in ex.state.accounts.items():
        for pool in v.cross_pools(acct).values():
            if pool.positions and rules.pool_liquidatable(pool.account_value, pool.mm):
                out.add(address)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    ex = build(args.n)
    t_build = time.perf_counter() - t0
    for a in list(ex.state.prices.mark):
        ex.state.prices.mark[a] = ex.state.prices.mark[a] * 93 // 100
    t0 = time.perf_counter()
    truth = exact(ex)
    t_exact = time.perf_counter() - t0
    rb = RiskBook(ex.registry)
    t0 = time.perf_counter()
    rb.build(ex.state)
    t_arrays = time.perf_counter() - t0
    marks = rb.marks_of(ex.state)
    t0 = time.perf_counter()
    flagged = rb.screen(marks)
    t_screen = time.perf_counter() - t0
    t0 = time.perf_counter()
    v = Valuer(ex.registry, ex.state)
    confirmed = {
        a
        for a in flagged
        if any(
            p.positions and rules.pool_liquidatable(p.account_value, p.mm)
            for p in v.cross_pools(ex.state.accounts[a]).values()
        )
    }
    t_confirm = time.perf_counter() - t0
    assert confirmed == truth, (len(confirmed), len(truth))
    print(
        f"machine: {platform.machine()} python {platform.python_version()}; {args.n:,} accounts, "
        f"{len(rb.pools.pos_size):,} positions, mark -7%: {len(truth):,} liquidatable"
    )  # type: ignore[union-attr]
    print(f"build book (setup)          {t_build:8.3f} s")
    print(f"exact loop over accounts    {t_exact:8.3f} s")
    print(f"vector arrays (per rebuild) {t_arrays:8.3f} s")
    print(f"vector screen (per tick)    {t_screen * 1000:8.1f} ms  ({len(flagged):,} flagged)")
    print(f"exact check of flagged      {t_confirm * 1000:8.1f} ms")
    print(f"tick: exact loop / (screen + confirm) = {t_exact / (t_screen + t_confirm):.1f}x")


if __name__ == "__main__":
    main()
