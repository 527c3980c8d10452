"""The vectorised revaluation of portfolio-margin accounts against the exact path (DESIGN "risk/"): on
random books and random ticks, the scenario requirement and equity equal ``engine/pm_model.py``'s to
float rounding, collateral is repriced with the tick (the PMR's collateral term moves with HYPE/UBTC),
and the screen never misses an account the exact path would liquidate, under either model."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.state import Mode
from netclear.risk.vector import RiskBook

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_margin_vector import build_pm_book, exact_liquidatable, tick

COINS = ["BTC", "ETH", "HYPE", "xyz:BTC"]


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    moves=st.lists(st.integers(-450, 450), min_size=4, max_size=4),
    model=st.sampled_from(["scenario", "hyperliquid", "scenario-book"]),
)
def test_screen_and_scenario_equal_the_exact_path(seed: int, moves: list[int], model: str) -> None:
    # "scenario-book": depth from the (here empty) order books, so every net exposure is concentrated
    ex = build_pm_book(
        120, seed=seed, model=model.split("-")[0], depth_source="book" if "book" in model else "config"
    )
    rb = RiskBook(ex.registry)
    rb.build(ex.state)  # arrays at the build prices
    tick(ex, dict(zip(COINS, moves, strict=True)))
    marks = rb.marks_of(ex.state)
    # scenario requirement and equity per account, vector vs exact
    maint, equity = rb.scenario(marks)
    v = Valuer(ex.registry, ex.state)
    for i, owner in enumerate(rb.pm.owners):
        result, eq = pm_model.scenario_result(v, ex.state.accounts[owner])
        assert abs(maint[i] - float(result.maintenance)) <= 1e-9 * max(1.0, float(result.maintenance)) + 1e-6
        assert abs(equity[i] - float(eq)) <= 1e-9 * max(1.0, abs(float(eq))) + 1e-6
    truth = exact_liquidatable(ex)
    flagged = set(rb.screen(marks))
    assert truth <= flagged
    # anything flagged beyond the exact answer sits on the boundary (float tolerance only)
    for owner in flagged - truth:
        h = pm_model.pm_health(v, ex.state.accounts[owner])
        assert abs(float(h.ratio) - 0.95) < 1e-6, (owner, float(h.ratio))


def test_collateral_is_repriced_with_the_tick() -> None:
    # A HYPE-collateralised borrower: after HYPE -40% the PMR's collateral term falls by 40%; the
    # arrays built before the tick must see it (the old screen held it at build prices).
    ex = build_pm_book(300, seed=7, model="hyperliquid")
    rb = RiskBook(ex.registry)
    rb.build(ex.state)
    tick(ex, {"HYPE": -400})
    marks = rb.marks_of(ex.state)
    req, value = rb.hl_pm(marks)
    v = Valuer(ex.registry, ex.state)
    checked = 0
    for j, a in enumerate(rb.pm.leg_acct):
        acct = ex.state.accounts[rb.pm.owners[a]]
        legs = v.pm_legs(acct)
        leg = next(x for x in legs.legs if x.token == 0) if any(x.token == 0 for x in legs.legs) else None
        if leg is None or rb.pm.leg_px[j] != 1.0:
            continue
        from netclear.margin import portfolio as pm_rules

        exact_req = pm_rules.maintenance_requirement(leg, ex.registry.pm.min_borrow_offset)  # type: ignore[union-attr]
        exact_lv = pm_rules.liquidation_value(leg, legs.collateral)
        assert abs(req[j] - float(exact_req)) <= 1e-6 * max(1.0, float(exact_req))
        assert abs(value[j] - float(exact_lv)) <= 1e-6 * max(1.0, abs(float(exact_lv)))
        checked += 1
    assert checked > 100
    assert all(ex.state.accounts[o].mode is Mode.PORTFOLIO for o in rb.pm.owners)


def test_tiled_book_screens_the_same_accounts() -> None:
    ex = build_pm_book(200, seed=11)
    rb = RiskBook(ex.registry)
    rb.build(ex.state)
    tick(ex, {"BTC": 150, "HYPE": -300})
    marks = rb.marks_of(ex.state)
    one = rb.screen(marks)
    three = rb.tiled(3).screen(marks)
    assert three == sorted(f"t{k:06d}:{o}" for k in range(3) for o in one)
    assert three == sorted(three) and one == sorted(one)
    m1, e1 = rb.scenario(marks)
    m3, e3 = rb.tiled(3).scenario(marks)
    assert (m3[: len(m1)] == m1).all() and (e3[-len(e1) :] == e1).all()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6), moves=st.lists(st.integers(-450, 450), min_size=4, max_size=4))
def test_compiled_loops_equal_the_numpy_passes(seed: int, moves: list[int]) -> None:
    import pytest

    from netclear.risk.vector import compiled_scenario_loop

    if compiled_scenario_loop() is None:
        pytest.skip("numba (the fast extra) is not installed")
    ex = build_pm_book(150, seed=seed)
    rb = RiskBook(ex.registry)
    rb.build(ex.state)
    tick(ex, dict(zip(COINS, moves, strict=True)))
    marks = rb.marks_of(ex.state)
    fused = rb.scenario_hits(marks, fused=True)
    plain = rb.scenario_hits(marks, fused=False)
    assert (fused == plain).all()
    assert {rb.pm.owners[i] for i in fused.nonzero()[0]} >= exact_liquidatable(ex)
    for model in ("scenario", "hyperliquid"):
        a = rb.screen_accounts(marks, model=model, fused=True)
        b = rb.screen_accounts(marks, model=model, fused=False)
        assert (a == b).all(), model
