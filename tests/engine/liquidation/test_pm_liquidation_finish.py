"""A portfolio-margin liquidation repays debt from the cash it frees, and leaves no dust (issue 9, defect 2).

Hyperliquid's portfolio-margin FAQ (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin):
"Deposits and realized profits are automatically applied as repayment against outstanding borrows". A
liquidation that closes perps realizes their PnL and releases their margin, so the cash it leaves repays
the debt as an ordinary close would. Takeover steps that would leave a debt below the minimum order value
(``orders.min_notional``, 10 USDC) take the whole remaining debt instead (docs/rules/liquidation.md).
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from typing import Any

from netclear import views
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.fixedpoint import frac_ceil
from tests.conftest import ALICE, BOB, MAKER, config_with, fund_lender, open_gates, set_collateral
from tests.engine.liquidation import assert_conserved, rest, set_marks, usd

HYPE, USDC_T = 150, 0
T0 = 1_000


def _pm_long_btc() -> Exchange:
    """Mainnet preset, HYPE at LTV 0.5, gates open. Alice under PM: 10 HYPE at 40 and 300 USDC, long
    0.1 BTC at 100,000 from Bob at 20x: IM 500 = her 300 + 200 auto-borrowed; USDC balance -9,500."""

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")

    ex = Exchange(config_with(mutate=mutate))
    set_marks(ex, {"HYPE": 40, "BTC": 100_000}, at=T0, spot={"@107": 40})
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.Deposit(user=ALICE, amount=D(300)))
    ex.apply(A.Deposit(user=BOB, amount=D(100_000)))
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    return ex


def test_cash_freed_by_a_pm_perp_liquidation_repays_the_debt() -> None:
    """BTC marked 95,300 (HYPE still 40): PMR = (20 + 95,300 x 0.1 / 80 + 200) / (-9,500 + 9,530 + 10 x 40
    x 0.75) = 339.125 / 330 = 1.028 > 0.95. The long is sold at the 95,200 bid: USDC balance -9,500 +
    9,520 = +20 against 200 of debt. That realized cash repays 20 of the debt (the FAQ's auto-repay):
    debt 180, balance 0; PMR (20 + 180) / (10 x 40 x 0.75) = 0.667, so no takeover follows."""
    ex = _pm_long_btc()
    rest(ex, MAKER, "BTC", True, 95_200, "0.1")
    set_marks(ex, {"BTC": 95_300})  # same millisecond: no interest accrues
    alice = ex.state.accounts[ALICE]
    v = ex.valuer()
    assert alice.positions == {}
    assert v.borrowed(alice, USDC_T) == usd(180)
    assert alice.spot.get(USDC_T, 0) == 0
    assert v.pm_legs(alice).ratio == Fraction(200, 300)
    assert not [r for r in ex.state.history.liquidations.get(ALICE, []) if r["kind"] == "pmTakeover"]
    state = views.info(ex, {"type": "borrowLendUserState", "user": ALICE})
    assert state["health"] == "healthy"  # 180 borrowed < 10 x 40 x 0.5 = 200 of borrowing power
    assert_conserved(ex)


def test_takeover_finishes_a_debt_below_the_minimum_order_value() -> None:
    """Pre-alpha preset (HYPE LTV 0.5, gates open): Alice supplies 10 HYPE at 40, borrows 5 USDC and spends
    it on UBTC (not collateral). HYPE falls to 3.4: PMR = (20 + 5) / (10 x 3.4 x 0.75) = 0.980 > 0.95,
    liquidatable because of the 20 USDC offset alone; the debt (5 of 34 of collateral) is far inside the
    partial band, so 20% steps would shrink it forever while the offset keeps the account liquidatable.
    5 USDC is below the 10 USDC minimum order value: the backstop takes the whole debt and HYPE worth it
    at 3.4 x (0.5 + 2) / 3 = 2.8333: ceil(10e8 x 5 / 28.333) = 176,470,589 wei, in one step. Alice is
    left without debt, 8.23529411 HYPE and a PMR of 0."""

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")

    ex = Exchange(config_with("hyperliquid-prealpha", mutate=mutate))
    set_marks(ex, {"HYPE": 40}, at=T0, spot={"@107": 40, "@142": 100_000})
    fund_lender(ex, "1000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(5)))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D("0.00005")))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.00005"), px=D(100_000)))
    alice = ex.state.accounts[ALICE]
    assert ex.valuer().borrowed(alice, USDC_T) == usd(5)

    set_marks(ex, {"HYPE": D("3.4")}, spot={"@107": D("3.4")})
    alice = ex.state.accounts[ALICE]
    v = ex.valuer()
    taken = frac_ceil(Fraction(10**9) * Fraction(5) / (Fraction(34, 10) * 10 * Fraction(5, 6)))
    assert taken == 176_470_589
    assert v.borrowed(alice, USDC_T) == 0
    assert v.supplied(alice, HYPE) == 10**9 - taken
    takeovers = [r for r in ex.state.history.liquidations.get(ALICE, []) if r["kind"] == "pmTakeover"]
    assert len(takeovers) == 1 and takeovers[0]["debtShare"] == "1"
    assert v.pm_legs(alice).ratio == 0
    assert views.info(ex, {"type": "borrowLendUserState", "user": ALICE})["health"] == "healthy"
    assert_conserved(ex)
