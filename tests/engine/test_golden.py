"""Golden tests: every worked number of Hyperliquid's docs, to the published digits.

Each test cites the section whose number it reproduces. Amounts are compared as decimal strings
(the views' wire format) or exact Fractions.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from netclear import views
from netclear.calculator.snapshot import build_state
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.engine.state import Mode
from netclear.lending.rates import borrow_rate, supply_rate
from netclear.margin import portfolio as pm
from netclear.margin import standard as std
from netclear.markets.registry import Registry, build_margin_table
from netclear.views.clearinghouse import clearinghouse_state
from tests.conftest import (
    ALICE,
    BOB,
    CAROL,
    LENDER,
    config_with,
    fund_lender,
    open_gates,
    set_collateral,
    set_perp,
)

D = Decimal


# --------------------------------------------------------------------------- 'Info endpoint: Perpetuals' /
# 'Info endpoint'
def _eth_doc_registry() -> Registry:
    # The doc sample's meta lists ETH with maxLeverage 50 (Hyperliquid docs 'Info endpoint' `meta` response).
    return Registry.from_config(
        config_with(mutate=lambda d: set_perp(d, "ETH", max_leverage=50, margin_table=None))
    )


def _eth_doc_state() -> dict:
    reg = _eth_doc_registry()
    portfolio = {
        "prices": {"ETH": "2985.9"},
        "balances": {"USDC": "13104.514502"},
        "positions": [
            {
                "coin": "ETH",
                "szi": "0.0335",
                "entryPx": "2986.3",
                "leverage": {"type": "isolated", "value": 20, "rawUsd": "-95.059824"},
            }
        ],
    }
    state, acct = build_state(reg, portfolio, Mode.STANDARD)
    from netclear.engine.accounting import Valuer

    return clearinghouse_state(Valuer(reg, state), acct, "")


def test_eth_isolated_example_position_fields() -> None:
    """Hyperliquid docs 'Info endpoint: Perpetuals' identities on the doc's ETH isolated long ('Info endpoint'
    clearinghouseState sample)."""
    ch = _eth_doc_state()
    pos = ch["assetPositions"][0]["position"]
    assert pos["coin"] == "ETH"
    assert pos["szi"] == "0.0335"
    assert pos["entryPx"] == "2986.3"
    assert pos["leverage"] == {"type": "isolated", "value": 20, "rawUsd": "-95.059824"}
    # positionValue = |szi| x markPx = 0.0335 x 2985.9
    assert pos["positionValue"] == "100.02765"
    # isolated marginUsed = rawUsd + szi x markPx = -95.059824 + 100.02765
    assert pos["marginUsed"] == "4.967826"
    # unrealizedPnl = szi x (markPx - entryPx) = 0.0335 x -0.4
    assert pos["unrealizedPnl"] == "-0.0134"
    # returnOnEquity = -0.0134 / (0.0335 x 2986.3 / 20) = -0.00267892...
    assert pos["returnOnEquity"] == "-0.0026789"
    assert pos["maxLeverage"] == 50


def test_eth_isolated_example_summaries_and_withdrawable() -> None:
    """Hyperliquid docs 'Info endpoint: Perpetuals': marginSummary = cross + isolated marginUsed; accountValue
    = totalRawUsd + ntl; 'Margining': withdrawable equals the cross account value when there are no cross
    positions."""
    ch = _eth_doc_state()
    assert ch["crossMarginSummary"] == {
        "accountValue": "13104.514502",
        "totalNtlPos": "0.0",
        "totalRawUsd": "13104.514502",
        "totalMarginUsed": "0.0",
    }
    assert ch["marginSummary"] == {
        "accountValue": "13109.482328",
        "totalNtlPos": "100.02765",
        "totalRawUsd": "13009.454678",
        "totalMarginUsed": "4.967826",
    }
    assert ch["crossMaintenanceMarginUsed"] == "0.0"
    assert ch["withdrawable"] == "13104.514502"


def test_eth_isolated_example_liquidation_price() -> None:
    """Hyperliquid docs 'Liquidations' formula with l = 1/(2 x 50): 2985.9 - (4.967826 - 1.0002765) / 0.0335 /
    0.99.

    The doc prints 2866.26936529; from the rounded mark 2985.9 the formula gives 2866.2693813...;
    the 1.6e-5 difference is the mark's rounding (Hyperliquid docs 'Info endpoint: Perpetuals' table, last
    row).
    """
    ch = _eth_doc_state()
    liq = Decimal(ch["assetPositions"][0]["position"]["liquidationPx"])
    exact = Decimal("2985.9") - (Decimal("4.967826") - Decimal("1.0002765")) / Decimal("0.0335") / Decimal(
        "0.99"
    )
    assert abs(liq - exact) < Decimal("1e-8")
    assert abs(liq - Decimal("2866.26936529")) < Decimal("0.00002")


# --------------------------------------------------------------------------- 'Margin tiers' tiers
def test_tier_deductions_tiered_10x() -> None:
    """Hyperliquid docs 'Margin tiers' [INF] example: table 51 "tiered 10x" (10x from 0, 5x from 3,000,000):
    mmr 5% then 10%, tier-1 deduction 3,000,000 x (0.10 - 0.05) = 150,000."""
    table = build_margin_table(51, "tiered 10x", [(Fraction(0), 10), (Fraction(3_000_000), 5)])
    assert [t.mmr for t in table.tiers] == [Fraction(1, 20), Fraction(1, 10)]
    assert table.tiers[1].deduction == 150_000
    unit = 10**8
    # 4,000,000 notional: 4M x 0.10 - 150,000 = 250,000
    assert std.maintenance_margin(4_000_000 * unit, table, unit) == 250_000 * unit
    # continuity at the bound: 3M x 0.05 = 150,000 = 3M x 0.10 - 150,000
    assert std.maintenance_margin(3_000_000 * unit, table, unit) == 150_000 * unit
    assert std.maintenance_margin(3_000_001 * unit, table, unit) == 150_000 * unit + unit // 10


def test_tier_deduction_btc_table() -> None:
    """Hyperliquid docs 'Margin tiers' BTC tiers (0-150M 40x, >150M 20x): deduction 150M x (1/40 - 1/80) =
    1,875,000; at 200M notional MM = 200M / 40 - 1.875M = 3,125,000."""
    reg = Registry.from_config(config_with())
    btc = reg.perp("BTC").table
    assert btc.tiers[1].deduction == 1_875_000
    unit = 10**8
    assert std.maintenance_margin(200_000_000 * unit, btc, unit) == 3_125_000 * unit
    # "maintenance margin is half of the initial margin at max leverage": 1/80 below the bound
    assert std.maintenance_margin(100_000 * unit, btc, unit) == 1_250 * unit


def test_withdrawable_identity_with_cross_position(hl: Exchange) -> None:
    """Hyperliquid docs 'Margining': withdrawable = accountValue - max(totalMarginUsed, 0.1 x totalNtlPos)."""
    hl.apply(A.SetPrices(oracle={"BTC": "100000"}), at=1)
    hl.apply(A.Deposit(user=ALICE, amount=D(5000)))
    hl.apply(A.Deposit(user=BOB, amount=D(5000)))
    hl.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=20))
    hl.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100000)))
    ch = views.info(hl, {"type": "clearinghouseState", "user": ALICE})
    # 20x on 20,000 notional: IM = 1,000 < 0.1 x 20,000 = 2,000 -> withdrawable = 5,000 - 2,000
    assert ch["crossMarginSummary"]["totalMarginUsed"] == "1000"
    assert ch["withdrawable"] == "3000"
    hl.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=True, leverage=5))
    # Bob is short 0.2 at 5x? leverage can only rise without margin; Bob opened at the default 20x.
    ch_bob = views.info(hl, {"type": "clearinghouseState", "user": BOB})
    # 5x: IM = 4,000 > 2,000 -> withdrawable = 5,000 - 4,000
    assert ch_bob["crossMarginSummary"]["totalMarginUsed"] == "4000"
    assert ch_bob["withdrawable"] == "1000"


# --------------------------------------------------------------------------- 'Portfolio margin' rates
def test_rate_curve_kink_values() -> None:
    """Hyperliquid docs 'Portfolio margin': 0.05 + 4.75 x max(0, U - 0.8): 5% up to the kink, 52.5% at 90%,
    100% at 100%."""
    curve = Registry.from_config(config_with()).pm.borrowable[0].curve  # type: ignore[union-attr]
    assert borrow_rate(curve, Fraction(0)) == Fraction(5, 100)
    assert borrow_rate(curve, Fraction(8, 10)) == Fraction(5, 100)
    assert borrow_rate(curve, Fraction(9, 10)) == Fraction(525, 1000)
    assert borrow_rate(curve, Fraction(1)) == Fraction(1)
    # utilization above 1 (interest outgrowing supply) is capped at the 100% rate
    assert borrow_rate(curve, Fraction(11, 10)) == Fraction(1)


def test_supply_rate_formula_doc_reserve_state() -> None:
    """Hyperliquid docs 'Portfolio margin' [verified]: supplyYearlyRate = 0.05 x 0.018322226 x 0.9 =
    0.00082450017."""
    assert supply_rate(Fraction(5, 100), Fraction(18322226, 10**9), Fraction(1, 10)) == Fraction(
        82450017, 10**11
    )


def _pm_borrower(ex: Exchange, user: str, hype: str = "1000", px: str = "40") -> None:
    ex.apply(A.Deposit(user=user, token="HYPE", amount=D(hype)))
    ex.apply(A.SetAbstraction(user=user, abstraction="portfolioMargin"))


def test_reserve_state_supply_rate_through_the_engine() -> None:
    """Hyperliquid docs 'Info endpoint' borrowLendReserveState sample: at utilization 0.018322226 the view
    reads borrowYearlyRate "0.05" and supplyYearlyRate "0.0008245002"."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"HYPE": "40"}, spot={"@107": "40"}), at=1000)
    fund_lender(ex, "1000")
    _pm_borrower(ex, ALICE)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("18.322226")))
    state = views.info(ex, {"type": "borrowLendReserveState", "token": 0})
    assert state["utilization"] == "0.018322226"
    assert state["borrowYearlyRate"] == "0.05"
    assert state["supplyYearlyRate"] == "0.0008245002"
    assert state["totalSupplied"] == "1000"
    assert state["totalBorrowed"] == "18.322226"
    assert state["balance"] == "981.677774"
    assert state["ltv"] == "0.0"


def test_reserve_state_at_ninety_percent_utilization() -> None:
    """Hyperliquid docs 'Portfolio margin': 52.5% borrow APY at 90% utilization; supply = 0.525 x 0.9 x 0.9 =
    0.42525."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"HYPE": "40"}, spot={"@107": "40"}), at=1000)
    fund_lender(ex, "1000")
    _pm_borrower(ex, ALICE)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("900")))
    state = views.info(ex, {"type": "borrowLendReserveState", "token": 0})
    assert state["utilization"] == "0.9"
    assert state["borrowYearlyRate"] == "0.525"
    assert state["supplyYearlyRate"] == "0.42525"


# --------------------------------------------------------------------------- 'Portfolio margin FAQ'
def _faq_exchange(preset: str = "hyperliquid") -> Exchange:
    """The FAQ uses LTV 50% for HYPE and BTC (Hyperliquid docs 'Portfolio margin FAQ' note)."""

    def mutate(d: dict) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")

    return Exchange(config_with(preset, mutate=mutate))


def test_faq_health_factor() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ': BTC 1 @ 80,000 x 50% + HYPE 200 @ 50 x 50% = 45,000; borrowed
    42,000 -> 107.14%."""
    ex = _faq_exchange()
    ex.apply(
        A.SetPrices(oracle={"BTC": "80000", "HYPE": "50"}, spot={"@142": "80000", "@107": "50"}), at=1000
    )
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="UBTC", amount=D(1)))
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(200)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(42000)))
    state = views.info(ex, {"type": "borrowLendUserState", "user": ALICE})
    assert Decimal(state["healthFactor"]) == Decimal("1.0714285714")  # 45,000 / 42,000
    assert f"{Decimal(state['healthFactor']) * 100:.2f}%" == "107.14%"
    assert state["health"] == "healthy"


def test_faq_borrowing_power() -> None:
    """Hyperliquid docs 'Portfolio margin' FAQ: 10,000 collateral x $40 x 0.5 = 200,000 USDC of buying
    power."""
    ex = _faq_exchange()
    ex.apply(A.SetPrices(oracle={"HYPE": "40"}, spot={"@107": "40"}), at=1000)
    fund_lender(ex, "300000")
    _pm_borrower(ex, ALICE, hype="10000")
    v = ex.valuer()
    assert v.borrowing_power(ex.state.accounts[ALICE]) == 200_000
    before = ex.state_hash()
    with pytest.raises(Exception, match="LTV capacity 200000"):
        ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("200000.00000001")))
    assert ex.state_hash() == before
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(200000)))
    assert v.borrowed(ex.state.accounts[ALICE], 0) == 200_000 * 10**8


def test_faq_locked_collateral() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ': borrowing 100 USDC against HYPE (LTV 50%, $40) locks 100 /
    (0.5 x 40) = 5 HYPE."""
    assert pm.locked_collateral(Fraction(100), Fraction(1, 2), Fraction(40)) == 5
    ex = _faq_exchange()
    ex.apply(A.SetPrices(oracle={"HYPE": "40"}, spot={"@107": "40"}), at=1000)
    fund_lender(ex, "1000")
    _pm_borrower(ex, ALICE, hype="10")
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(100)))
    spot = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    hype = next(b for b in spot["balances"] if b["coin"] == "HYPE")
    assert hype["total"] == "10" and hype["supplied"] == "10"
    before = ex.state_hash()
    with pytest.raises(Exception, match="exceeds withdrawable 5"):
        ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D("5.00000001")))
    assert ex.state_hash() == before
    ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D(5)))  # available = total - locked = 5


def test_faq_partial_and_full_borrow_liquidation_thresholds() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ': 10 HYPE, LTV 50%, borrowed 10 x $50 x 0.5 = $250.
    At $33 the partial threshold $330 x 75% = $247.50 < $250 -> partial; the full one is $275.
    At $30 the full threshold $300 x (0.5 + 0.5 x 2/3) = $250.00 is reached -> full."""
    ltv, half, two_thirds = Fraction(1, 2), Fraction(1, 2), Fraction(2, 3)
    assert pm.borrow_liquidation_threshold(Fraction(330), ltv, half) == Fraction(495, 2)
    assert pm.borrow_liquidation_threshold(Fraction(330), ltv, two_thirds) == 275
    assert pm.borrow_health(Fraction(250), Fraction(330), ltv, half, two_thirds) == "partial"
    assert pm.borrow_liquidation_threshold(Fraction(300), ltv, two_thirds) == 250
    assert pm.borrow_health(Fraction(250), Fraction(300), ltv, half, two_thirds) == "full"
    assert pm.borrow_health(Fraction(250), Fraction(500), ltv, half, two_thirds) == "healthy"


def _faq_account() -> Exchange:
    """The FAQ account (pre-alpha: HYPE the only collateral at LTV 0.5): 10 HYPE, $250 borrowed at
    $50 and spent on UBTC (not collateral there), so the account holds 10 HYPE and owes $250."""
    ex = _faq_exchange("hyperliquid-prealpha")
    ex.apply(A.SetPrices(oracle={"HYPE": "50"}, spot={"@107": "50", "@142": "100000"}), at=1000)
    fund_lender(ex, "1000")
    _pm_borrower(ex, ALICE, hype="10")
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(250)))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D("0.0025")))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.0025"), px=D(100000)))
    spot = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    assert Decimal(spot["portfolioMarginRatio"]) == Decimal(270) / Decimal(375)  # (20 + 250) / (500 x 0.75)
    return ex


def test_faq_partial_borrow_liquidation_at_33() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ', 'Portfolio margin' at $33: PMR = 270 / (330 x 0.75) = 1.0909 >
    0.95, debt $250 between the partial ($247.50) and full ($275) thresholds -> the backstop takes 20% of the
    debt at a time. Collateral is taken at oracle x (LTV + 2) / 3 = 33 x 5/6: step 1 moves $50 of debt and 50
    / (330 x 5/6) = 2/11 of the HYPE; step 2 moves $40 and 40 / (270 x 5/6) = 8/45 of what is left; steps go
    on until PMR <= 0.95."""
    ex = _faq_account()
    ex.apply(A.SetPrices(oracle={"HYPE": "33"}, spot={"@107": "33"}))
    steps = [r for r in ex.state.history.liquidations[ALICE] if r["kind"] == "pmTakeover"]
    # step 1 starts in the partial band; after it the debt (200) is under the partial threshold (202.5)
    # but the PMR, with its 20 USDC offset, is still above 0.95, so 20% steps go on (Hyperliquid docs
    # 'Portfolio margin')
    assert steps[0]["health"] == "partial" and steps[1]["health"] == "healthy"
    assert [s["debtShare"] for s in steps] == ["1/5"] * len(steps)
    assert steps[0]["collateralShare"] == "2/11"
    # 8/45 up to the wei rounding of step 1 (the moved collateral basis rounds up, against the user)
    assert abs(Fraction(steps[1]["collateralShare"]) - Fraction(8, 45)) < Fraction(1, 10**8)
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    debt = Fraction(v.borrowed(alice, 0), 10**8)
    assert abs(debt - 250 * Fraction(4, 5) ** len(steps)) < Fraction(1, 10**6)
    spot = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    assert Decimal(spot["portfolioMarginRatio"]) <= Decimal("0.95")
    assert views.info(ex, {"type": "borrowLendUserState", "user": ALICE})["health"] == "healthy"
    backstop = ex.state.accounts[ex.registry.pm.backstop_address]  # type: ignore[union-attr]
    assert v.borrowed(backstop, 0) + v.borrowed(alice, 0) >= 250 * 10**8  # debt moved, not erased


def test_faq_full_borrow_liquidation_at_30() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ' at $30: the full threshold $300 x (0.5 + 0.5 x 2/3) = $250.00
    is reached, so the backstop takes all 10 HYPE and the whole $250 debt; the user keeps the UBTC it
    bought."""
    ex = _faq_account()
    ex.apply(A.SetPrices(oracle={"HYPE": "30"}, spot={"@107": "30"}))
    steps = [r for r in ex.state.history.liquidations[ALICE] if r["kind"] == "pmTakeover"]
    assert len(steps) == 1 and steps[0]["health"] == "full" and steps[0]["debtShare"] == "1"
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    assert v.borrowed(alice, 0) == 0 and v.supplied(alice, 150) == 0
    assert alice.spot[197] == 25_000_000  # 0.0025 UBTC stays with the user
    backstop = ex.state.accounts[ex.registry.pm.backstop_address]  # type: ignore[union-attr]
    assert v.supplied(backstop, 150) == 10 * 10**8
    assert v.borrowed(backstop, 0) == 250 * 10**8


# --------------------------------------------------------------------------- 'Portfolio margin' carry trade
def test_carry_trade_auto_borrow() -> None:
    """Hyperliquid docs 'Portfolio margin': 1 BTC spot + 1 BTC-USDC perp short at 10x with BTC at 100k; the
    trader pays interest only on the 1/10 initial margin (10k borrowed); at 150k PM has borrowed 50k USDC
    against the BTC; back at 100k the excess unrealized profit repays down to the 10k margin borrow."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": "100000"}, spot={"@142": "100000"}), at=1000)
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=ALICE, token="UBTC", amount=D(1)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=10))
    ex.apply(A.Deposit(user=CAROL, amount=D(1000000)))
    ex.apply(A.SettleFill(buyer=CAROL, seller=ALICE, asset="BTC", sz=D(1), px=D(100000)))
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    assert v.borrowed(alice, 0) == 10_000 * 10**8
    # marks given with the oracle: with no book the mark would lean on the stale last trade (Hyperliquid docs
    # 'Robust price indices')
    ex.apply(A.SetPrices(oracle={"BTC": "150000"}, marks={"BTC": "150000"}, spot={"@142": "150000"}))
    assert v.borrowed(alice, 0) == 50_000 * 10**8
    ex.apply(A.SetPrices(oracle={"BTC": "100000"}, marks={"BTC": "100000"}, spot={"@142": "100000"}))
    assert v.borrowed(alice, 0) == 10_000 * 10**8
    # the same short in standard mode, collateralised by USDC only, cannot be opened without USDC
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D(1)))
    before = ex.state_hash()
    with pytest.raises(Exception, match="initial margin"):
        ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D(1), px=D(100000)))
    assert ex.state_hash() == before
    assert LENDER in ex.state.accounts
