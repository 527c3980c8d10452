"""Screening 1,000,000 portfolio-margin accounts per oracle tick (issue "Capital efficiency", part 4).

A random book of portfolio-margin accounts (HYPE and UBTC supplied as collateral, USDC borrowed, UETH
held, cross perps on BTC, ETH, HYPE and the xyz dex's BTC) is built in the engine's own state
(``--base`` accounts, exact), its arrays are built once, and tiled to ``--n`` accounts (``--n / --base``
disjoint copies). One tick moves every price; the script then times, in the same run:

* the vectorised screen under Hyperliquid's PMR and under the scenario model (``risk/vector.py``);
* the exact per-account path (``engine/pm_model.py``: ``pm_liquidatable`` per account, Fractions) on the
  ``--base`` accounts; a full exact pass over the tiled book repeats that work ``n / base`` times, so
  its time is ``copies x`` the measured one (stated as such);
* a numpy pass that only reads the arrays the screen reads (one ``sum`` each): the memory-bandwidth floor.

It checks that the screen flags every account the exact path liquidates (on the base book).
Run: ``python benchmarks/bench_margin_vector.py [--n 1000000 --base 10000]``.
"""

from __future__ import annotations

import argparse
import platform
import random
import time

import numpy as np

from netclear.config import parse_config, preset_data
from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.exchange import Exchange
from netclear.engine.state import Account, Mode, Position, Reserve
from netclear.fixedpoint import PX_SCALE, notional
from netclear.risk.vector import RiskBook, compiled_scenario_loop

PRICES = {"BTC": 100_000, "ETH": 3_500, "HYPE": 40, "xyz:BTC": 100_000}
SPOT = {"HYPE": 40, "UBTC": 100_000, "UETH": 3_500}


def build_pm_book(n: int, seed: int = 1, model: str = "scenario", depth_source: str = "config") -> Exchange:
    """``n`` random portfolio-margin accounts written straight into the state (reserves at index 1)."""
    data = preset_data("hyperliquid-scenario-pm")
    data["portfolio_margin"]["model"] = model
    data["portfolio_margin"]["scenario"]["depth_source"] = depth_source
    ex = Exchange(parse_config(data, source="bench"))
    reg, st = ex.registry, ex.state
    rng = random.Random(seed)
    for name, px in PRICES.items():
        a = reg.perp(name).asset
        st.prices.oracle[a] = st.prices.mark[a] = px * PX_SCALE
    for name, px in SPOT.items():
        tok = reg.token_by_name[name]
        assert tok.spot_pair is not None
        st.prices.spot[tok.spot_pair] = px * PX_SCALE
    usdc = reg.quote
    reserves: dict[int, Reserve] = {}

    def res(token: int) -> Reserve:
        return reserves.setdefault(token, st.reserves.setdefault(token, Reserve(token)))

    for i in range(n):
        acct = Account("0x" + f"{i + 1:040x}", mode=Mode.PORTFOLIO)
        for name in rng.sample(["HYPE", "UBTC"], rng.randint(0, 2)):
            tok = reg.token_by_name[name]
            qty = int(rng.uniform(0.1, 1.0) * 20_000 / SPOT[name] * tok.unit)
            acct.supply_basis[tok.index] = qty
            res(tok.index).scaled_supply += qty
            res(tok.index).cash += qty
        if rng.random() < 0.3:
            tok = reg.token_by_name["UETH"]
            acct.spot[tok.index] = int(rng.uniform(0.5, 3) * tok.unit)
        cash = rng.randint(500, 20_000) * usdc.unit
        for name in rng.sample(list(PRICES), rng.randint(0, 3)):
            perp = reg.perp(name)
            px = st.prices.mark[perp.asset]
            usd = rng.randint(1_000, 60_000)
            lots = max(1, usd * PX_SCALE * 10**perp.sz_decimals // px)
            szi = lots if rng.random() < 0.5 else -lots
            acct.positions[perp.asset] = Position(perp.asset, szi, abs(szi) * px, True, rng.randint(2, 10))
            cash -= notional(szi, px, perp.sz_decimals, usdc.wei_decimals)
        borrow = rng.randint(0, 15_000) * usdc.unit if acct.supply_basis else 0
        if borrow:
            acct.borrow_basis[usdc.index] = borrow
            res(usdc.index).scaled_borrow += borrow
            cash += borrow
        acct.spot[usdc.index] = cash
        st.accounts[acct.address] = acct
    return ex


def tick(ex: Exchange, moves: dict[str, int]) -> None:
    """Move each perp's oracle and mark, and the spot price of the token that follows it, by ``move``
    per mille (the token's borrow_oracle_price, a median of the three, moves by the same factor)."""
    reg, st = ex.registry, ex.state
    for name, move in moves.items():
        a = reg.perp(name).asset
        st.prices.oracle[a] = st.prices.oracle[a] * (1000 + move) // 1000
        st.prices.mark[a] = st.prices.mark[a] * (1000 + move) // 1000
        for tok in reg.tokens.values():
            if tok.perp == name and tok.spot_pair is not None and tok.spot_pair in st.prices.spot:
                st.prices.spot[tok.spot_pair] = st.prices.spot[tok.spot_pair] * (1000 + move) // 1000


def exact_liquidatable(ex: Exchange) -> set[str]:
    v = Valuer(ex.registry, ex.state)
    return {
        a
        for a, acct in ex.state.accounts.items()
        if acct.mode is Mode.PORTFOLIO and pm_model.pm_liquidatable(v, acct)
    }


def read_only(rb: RiskBook, model: str) -> float:
    """Touch once (``sum``) every array the screen of ``model`` reads: the memory-traffic floor."""
    p, m = rb.pools, rb.pm
    assert p is not None
    c = rb._static()
    if model == "scenario":
        arrays = [
            c["pm_pos_au"], c["pm_pos_asset"], c["pm_pos_qty"], m.spot_au, m.spot_token, m.spot_qty,
            m.au_acct, m.au_shock, m.au_min, m.au_basis, m.au_conc, m.au_depth_long, m.au_depth_short, m.equity_const, m.depeg,
            m.acct, p.cash, c["std_pos"], p.pm_pool,
        ]  # fmt: skip
    else:
        arrays = [
            p.cash, p.pos_pool, p.pos_asset, p.pos_size, p.pm_pool, p.acct, m.acct, m.leg_acct, m.leg_pool,
            m.leg_px, m.leg_req, m.leg_value, m.leg_cap, m.pair_leg, m.pair_token, m.pair_qty,
        ]  # fmt: skip
    return float(sum(float(np.sum(a)) for a in arrays))


def best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--base", type=int, default=10_000)
    args = ap.parse_args()
    copies = max(1, args.n // args.base)
    has_numba = compiled_scenario_loop() is not None
    for model in ("hyperliquid", "scenario"):
        ex = build_pm_book(args.base, model=model)
        rb = RiskBook(ex.registry)
        t0 = time.perf_counter()
        rb.build(ex.state)
        t_build = time.perf_counter() - t0
        tick(ex, {"BTC": 120, "ETH": -90, "HYPE": -200, "xyz:BTC": 125})
        marks = rb.marks_of(ex.state)
        t0 = time.perf_counter()
        truth = exact_liquidatable(ex)
        t_exact = time.perf_counter() - t0
        flagged = set(rb.screen(marks, model=model))
        assert truth <= flagged, (model, len(truth - flagged))
        big = rb.tiled(copies)
        t_screen = best(lambda big=big, model=model, marks=marks: big.screen(marks, model=model))
        t_numpy = best(
            lambda big=big, model=model, marks=marks: big.screen_accounts(marks, model=model, fused=False)
        )
        t_read = best(lambda big=big, model=model: read_only(big, model))
        print(
            f"{model}: base {args.base:,} exact accounts ({len(truth):,} liquidatable after the tick, {len(flagged):,} "
            f"flagged), tiled x{copies} = {len(big.pm.owners):,} accounts, {len(big.pools.pos_size):,} positions"  # type: ignore[union-attr]
        )
        print(
            f"  exact per-account path, {args.base:,} accounts   {t_exact:9.3f} s  -> x{copies}: {t_exact * copies:.1f} s"
        )
        print(
            f"  screen, owner list (default path)          {t_screen * 1000:9.1f} ms  exact / screen = {t_exact * copies / t_screen:,.0f}x"
        )
        print(
            f"  array pass, numpy                          {t_numpy * 1000:9.1f} ms  / read-only = {t_numpy / t_read:.1f}x"
        )
        if has_numba:
            t_fused = best(
                lambda big=big, model=model, marks=marks: big.screen_accounts(marks, model=model, fused=True)
            )
            a = big.screen_accounts(marks, model=model, fused=True)
            assert (a == big.screen_accounts(marks, model=model, fused=False)).all()
            print(
                f"  array pass, numba loop                     {t_fused * 1000:9.1f} ms  / read-only = {t_fused / t_read:.1f}x; "
                f"numpy / numba = {t_numpy / t_fused:.1f}x"
            )
        print(f"  read-only pass over the same arrays        {t_read * 1000:9.1f} ms")
        print(f"  array build per {args.base:,} accounts (not per tick) {t_build:.3f} s")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()} numpy {np.__version__}"
    )


if __name__ == "__main__":
    main()
