"""Hand-checkable risk-lab cases (issue 11 "What it must show"), on the shipped explicit scenario.

``pm-hedge-explicit``: one account with 300 HYPE and 2600 USDC opens a 0.5 BTC long at 20x against the
default market maker (under portfolio margin it first borrows 1000 USDC against the HYPE); BTC falls 100,000 -> 80,000 and HYPE 40 -> 25 linearly over 30 minutes, marks
pinned to the oracle. The expected minute is read from the margin calculator (``netclear.calculator.
evaluate``, docs/margin-calculator.md), fed the account exactly as the engine opened it, at each step's
prices: portfolio margin liquidates at the first step where PMR > 0.95 (Hyperliquid docs, "Portfolio
margin": "an account is liquidatable when its portfolio margin ratio exceeds 0.95"), standard margin at
the first step where the cross account value is below the maintenance margin (Hyperliquid docs,
"Liquidations"). The spiral case is written out in the test.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from netclear.calculator import evaluate
from netclear.engine import actions as A
from netclear.sim.runner import PathRun
from netclear.sim.scenario import load_scenario, parse_scenario
from tests.sim.helpers import calculator_input

ACCOUNT = "0x00000000000000000000000000000000000000a1"


def _first_step(regime: str) -> tuple[int, float | None]:
    """Run the scenario step by step; before each step, ask the margin calculator about the account as
    it stands, at the step's prices. Returns (first step the calculator flags, minute the run liquidated)."""
    sc = load_scenario("pm-hedge-explicit")
    run = PathRun(sc, 0, regime, "equalPositions")
    run.setup()
    mode = "portfolioMargin" if regime == "portfolioMargin" else "disabled"
    flagged = None
    for k in range(1, sc.steps + 1):
        prices = {c: run.step_prices(k)[c] for c in ("BTC", "HYPE")}
        if flagged is None:
            result = evaluate(calculator_input(run.ex, ACCOUNT, prices, mode))
            if regime == "portfolioMargin":
                pmr = Fraction(Decimal(result["portfolioMarginRatio"]))
                if pmr > Fraction(95, 100):
                    flagged = k
            elif result["standard"]["liquidatable"]:
                flagged = k
        run.step_index = k
        run.apply(A.AdvanceTime(), at=run.now_ms)
        run.quote(run.step_prices(k))
        run.apply(run.price_action(k))
        run.sweep_records()
        if flagged is None:
            assert ACCOUNT not in run.m.liquidated_accounts, (
                f"liquidated at step {k}, before the calculator said"
            )
    assert flagged is not None
    return flagged, run.m.liquidated_accounts.get(ACCOUNT)


def test_pm_account_liquidated_at_first_step_with_pmr_above_095() -> None:
    expected, minute = _first_step("portfolioMargin")
    assert minute == float(expected)
    assert 20 < expected < 30  # portfolio margin counts the HYPE: it survives well past standard margin


def test_same_account_under_standard_margin_at_the_standard_rule_step() -> None:
    expected, minute = _first_step("standard")
    assert minute == float(expected)
    # By hand: perp cash 2600 - 22.51125 fee (0.045% of 50,025, tier 0 taker); long 0.5 BTC from 100,050
    # (the maker's ask, 5 bps over 100,000). Liquidatable when 2577.48875 + 0.5 (P - 100,050) < P / 160
    # (BTC's maximum leverage 40: maintenance 1/80 of notional): P < 47,447.51125 / 0.49375 = 96,096.2;
    # P(m) = 100,000 - 2000 m / 3 is 96,666.7 at m = 5 and 96,000 at m = 6.
    assert expected == 6


def _spiral(depth: float | None) -> dict[str, float | None]:
    data = {
        "name": "spiral",
        "horizon_minutes": 4,
        "compare": ["standard"],
        "prices": {"BTC": [[0, 100000], [1, 98000], [4, 98000]]},
        "market_makers": [{"coins": ["BTC"], "level_notional": 1_000_000, "spot": False}],
        "accounts": [
            {
                "address": "0x" + "a1" * 20,
                "balances": {"USDC": "1000"},
                "positions": [{"coin": "BTC", "szi": "0.35", "leverage": {"type": "cross", "value": 40}}],
            },
            {
                "address": "0x" + "b2" * 20,
                "balances": {"USDC": "1231"},
                "positions": [{"coin": "BTC", "szi": "0.35", "leverage": {"type": "cross", "value": 40}}],
            },
        ],
    }
    if depth is not None:
        data["depth"] = [[0, 1], [1, depth]]
    r = PathRun(parse_scenario(data), 0, "standard", "equalPositions").run()
    return {a: info["liquidatedAtMinute"] for a, info in r["accounts"].items()}


def test_two_account_spiral_happens_with_a_thin_book_and_not_with_a_deep_one() -> None:
    """Both accounts are long 0.35 BTC from 100,050 (the market maker's ask, 5 bps). A holds 1000 USDC:
    liquidatable below (1000 - 15.76 - 35,017.5) / -0.345625 = 98,468 (maintenance 1/80); B holds 1231:
    below 97,800. The oracle drops to 98,000 at minute 1 and stays; marks come from the book.
    At minute 1 the mark is 98,049 (median of oracle + premium, the fresh ladder, its EMA): A goes, B
    does not. With the market maker's inner depth cut to 0.2% (2,000 USDC a level) A's liquidation
    sweeps the bids down to ~97,560 and the swept side is not refilled for a step, so at minute 2 the mark
    falls below 97,800 and B is liquidated: a spiral. With full depth A's sale fills at the first level,
    the mark stays near 98,000, and B survives the horizon."""
    a, b = "0x" + "a1" * 20, "0x" + "b2" * 20
    thin = _spiral(0.002)
    assert thin[a] == 1.0 and thin[b] == 2.0
    deep = _spiral(None)
    assert deep[a] == 1.0 and deep[b] is None
