"""Price ticks screened by the vector book (``engine/liquidation/screen.py``) liquidate exactly the accounts the
exhaustive check does.

Two exchanges hold the same random book (standard accounts with cross and isolated positions, unified
accounts, portfolio-margin accounts with supplied HYPE/UBTC and borrowed USDC); both apply the same
stream of random oracle moves and deposits through ``Exchange.apply``. One picks candidates with the
screen; the other checks every holder exactly after each tick (the old exhaustive path). The liquidation
events (as a set per action) must be identical, with the book both rebuilt at every tick and kept across
ticks (dirty accounts confirmed exactly)."""

from __future__ import annotations

import random
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine.actions import Deposit, SetPrices
from netclear.engine.exchange import Exchange
from netclear.engine.liquidation import screen as screen_mod
from netclear.engine.state import Account, ExchangeState, Mode, Position
from netclear.fixedpoint import PX_SCALE, notional

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from bench_margin_vector import build_pm_book

COINS = ["BTC", "ETH", "HYPE", "xyz:BTC"]
LIQUIDATION_EVENTS = {"liquidation", "adl", "pmTakeover", "badDebt"}


def _book(seed: int, model: str) -> Exchange:
    """PM accounts from the margin benchmark's builder, plus standard and unified holders."""
    ex = build_pm_book(25, seed=seed, model=model)
    reg, state = ex.registry, ex.state
    rng = random.Random(seed)
    usdc = reg.quote
    for i in range(60):
        mode = Mode.UNIFIED if rng.random() < 0.3 else Mode.STANDARD
        acct = Account("0x" + f"{10_000 + i:040x}", mode=mode)
        cross_cash = 0
        for name in rng.sample(["BTC", "ETH", "HYPE"], rng.randint(1, 3)):
            perp = reg.perp(name)
            px = state.prices.mark[perp.asset]
            lots = max(1, rng.randint(1_000, 50_000) * PX_SCALE * 10**perp.sz_decimals // px)
            szi = lots if rng.random() < 0.5 else -lots
            lev = rng.randint(3, min(20, perp.max_leverage))
            ntl = notional(szi, px, perp.sz_decimals, usdc.wei_decimals)
            margin = abs(ntl) // lev
            if rng.random() < 0.25:  # isolated: the position carries its own cash and margin
                acct.positions[perp.asset] = Position(
                    perp.asset, szi, abs(szi) * px, False, lev, margin - ntl
                )
            else:
                acct.positions[perp.asset] = Position(perp.asset, szi, abs(szi) * px, True, lev)
                cross_cash += margin - ntl
        if mode is Mode.UNIFIED:
            acct.spot[usdc.index] = cross_cash
        else:
            acct.perp_cash[""] = cross_cash
        state.accounts[acct.address] = acct
    return ex


def _exhaustive(state: ExchangeState, touched: set[str]) -> set[str]:
    return {a for a, acct in state.accounts.items() if acct.positions or acct.borrow_basis}


def _run(ex: Exchange, stream: list[SetPrices | Deposit]) -> list[list[tuple[str, str]]]:
    """Per action, its liquidation events (kind, user), sorted: an account that only becomes liquidatable
    through another's ADL in the same action is taken in a later round when it was not a candidate
    (``engine/liquidation/engine.run``), so the order within an action may differ, not what happens."""
    out = []
    for action in stream:
        events = ex.apply(action)
        out.append(sorted((e.kind, e.user or "") for e in events if e.kind in LIQUIDATION_EVENTS))
    return out


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    ticks=st.lists(st.lists(st.integers(-120, 120), min_size=4, max_size=4), min_size=1, max_size=4),
    model=st.sampled_from(["hyperliquid", "scenario"]),
    rebuild_every_tick=st.booleans(),
)
def test_screened_ticks_liquidate_what_the_exhaustive_check_does(
    seed: int, ticks: list[list[int]], model: str, rebuild_every_tick: bool
) -> None:
    screened, exhaustive = _book(seed, model), _book(seed, model)
    exhaustive.screen.candidates = _exhaustive  # type: ignore[method-assign]
    rng = random.Random(seed)
    stream: list[SetPrices | Deposit] = []
    px = {c: Decimal(screened.state.prices.oracle[screened.registry.perp(c).asset]) / PX_SCALE for c in COINS}
    holders = sorted(screened.state.accounts)
    for moves in ticks:
        for c, m in zip(COINS, moves, strict=True):
            px[c] = (px[c] * (1000 + m) / 1000).quantize(Decimal("0.01"))
        stream.append(SetPrices(oracle=dict(px), marks=dict(px)))
        # a deposit between ticks: the account's rows go stale, so it must be confirmed exactly
        stream.append(Deposit(user=rng.choice(holders), amount=Decimal(rng.randint(1, 3_000))))
    with pytest.MonkeyPatch.context() as mp:
        if rebuild_every_tick:
            mp.setattr(screen_mod, "REBUILD_MIN", 0)
            mp.setattr(screen_mod, "REBUILD_FRACTION", 0.0)
        got = _run(screened, stream)
    want = _run(exhaustive, stream)
    assert got == want
    # the states are not compared: an account made liquidatable by another's ADL within the same action is
    # taken at its sorted place in round 1 when it was a candidate, else in round 2, and the ADL and fill
    # amounts that follow can differ with that order (liquidation/engine.run)
    assert screened.screen.rebuilds >= 1


def test_a_large_move_liquidates_through_the_screen() -> None:
    # An account whose only position is a BTC long at 3x or more has lost more than its margin after BTC
    # -40% (margin = notional / leverage <= 33%), so it is under maintenance (Hyperliquid docs
    # 'Liquidations'): the screen must hand every one of them to the engine.
    ex = _book(3, "hyperliquid")
    btc = ex.registry.perp("BTC").asset
    longs = {
        a
        for a, acct in ex.state.accounts.items()
        if acct.mode is not Mode.PORTFOLIO and list(acct.positions) == [btc] and acct.positions[btc].szi > 0
    }
    assert longs
    px = Decimal(ex.state.prices.oracle[btc]) / PX_SCALE * Decimal("0.6")
    events = ex.apply(SetPrices(oracle={"BTC": px}, marks={"BTC": px}))
    liquidated = {e.user for e in events if e.kind == "liquidation"}
    assert longs <= liquidated
