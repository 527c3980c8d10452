"""The vectorised screen must flag every account the exact engine would liquidate (DESIGN "risk/":
vectorised paths are tested against the exact path)."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine.accounting import Valuer
from netclear.engine.liquidation import rules
from netclear.risk.vector import RiskBook

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_liquidation_scan import build


def _exact(ex) -> set[str]:  # type: ignore[no-untyped-def]
    v = Valuer(ex.registry, ex.state)
    return {
        a
        for a, acct in ex.state.accounts.items()
        if any(
            p.positions and rules.pool_liquidatable(p.account_value, p.mm)
            for p in v.cross_pools(acct).values()
        )
    }


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), moves=st.lists(st.integers(-30, 30), min_size=7, max_size=7))
def test_screen_is_a_superset_of_the_exact_answer(seed: int, moves: list[int]) -> None:
    ex = build(300, seed=seed)
    for a, move in zip(sorted(ex.state.prices.mark), moves, strict=False):
        ex.state.prices.mark[a] = ex.state.prices.mark[a] * (100 + move) // 100
    rb = RiskBook(ex.registry)
    rb.build(ex.state)
    flagged = set(rb.screen(rb.marks_of(ex.state)))
    truth = _exact(ex)
    assert truth <= flagged
    # the float tolerance is tiny: anything flagged but not liquidatable sits on the boundary
    v = Valuer(ex.registry, ex.state)
    for a in flagged - truth:
        pools = v.cross_pools(ex.state.accounts[a]).values()
        assert any(p.positions and p.account_value - p.mm <= max(1, p.mm) // 10**6 for p in pools)


def test_revalue_matches_exact_equity_and_maintenance() -> None:
    ex = build(200, seed=3)
    rb = RiskBook(ex.registry)
    pools = rb.build(ex.state)
    equity, mm = rb.revalue(rb.marks_of(ex.state))
    v = Valuer(ex.registry, ex.state)
    for i, owner in enumerate(pools.owners):
        pool = v.cross_pools(ex.state.accounts[owner])[""]
        assert abs(equity[i] - pool.account_value / 1e8) < 1e-6 * max(1.0, abs(equity[i]))
        assert abs(mm[i] - pool.mm / 1e8) < 1e-6 * max(1.0, mm[i])
