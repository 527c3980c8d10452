"""The read-only info types the dashboard adds (docs/views.md "netclear extensions"), from hand-worked numbers.

* ``marginModes`` on the basis trade of tests/engine/test_pm_basis_trade.py (every number worked there from
  the hyperliquid preset and the Hyperliquid Docs "Portfolio margin" page) and on a standard long worked below;
* ``liquidations`` on the full market liquidation of tests/engine/liquidation/test_perp_liquidation.py;
* ``borrowLendReserveParams``: the stablecoin curve ``0.05 + 4.75 x max(0, U - 0.8)``, supply rate
  ``borrow x U x (1 - 0.1)`` (Hyperliquid Docs "Portfolio margin", interest; docs/rules/lending.md).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.errors import InvalidAction
from tests.conftest import ALICE, BOB, MAKER
from tests.engine.liquidation import rest, set_marks
from tests.engine.test_pm_basis_trade import _orders, _setup


def _basis_trade() -> Exchange:
    ex = _setup()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(1000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=10))
    _orders(ex, ALICE)
    return ex


def test_margin_modes_of_a_portfolio_margin_basis_trade() -> None:
    """PM (the account's own mode, valued live): requirement 20 + 10,000/80 + 11,004.5 = 11,149.5;
    liquidation value 1,000 + 33,000 (1000 HYPE x 40 x 0.825) + 7,494.75 (0.09993 UBTC x 100,000 x 0.75)
    = 41,494.75; PMR = 0.2686966423, the same string as spotClearinghouseState; available
    0.95 x 41,494.75 = 39,420.0125.

    Standard and unified (the same holdings, the debt repaid from USDC): USDC 11,000 - 11,004.5 = -4.5
    with the short's -0.1 x 100,000 -> pool value -10,004.5 against maintenance 125: liquidatable; the
    UBTC and HYPE (9,993 + 40,000) are not collateral there. Capital freed by PM:
    (39,420.0125 - 11,149.5) - (-10,004.5 - 125) = 38,400.0125."""
    ex = _basis_trade()
    out = views.info(ex, {"type": "marginModes", "user": ALICE})
    assert out["mode"] == "portfolioMargin"
    pm = out["portfolioMargin"]
    spot = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    assert pm["portfolioMarginRatio"] == spot["portfolioMarginRatio"] == "0.2686966423"
    assert (pm["maintenanceRequirement"], pm["marginAvailable"]) == ("11149.5", "39420.0125")
    assert pm["worstLeg"] == "USDC" and pm["liquidationRatio"] == "0.95"
    [leg] = pm["legs"]
    assert {k: leg[k] for k in ("requirement", "offset", "crossMaintenance", "borrowed")} == {
        "requirement": "11149.5",
        "offset": "20",
        "crossMaintenance": "125",
        "borrowed": "11004.5",
    }
    assert {k: leg[k] for k in ("liquidationValue", "balance", "supplied", "collateralTerm")} == {
        "liquidationValue": "41494.75",
        "balance": "1000",
        "supplied": "0.0",
        "collateralTerm": "40494.75",
    }
    terms = {c["token"]: c["term"] for c in leg["collateral"]}
    assert terms == {"HYPE": "33000", "UBTC": "7494.75"}
    std = out["standard"]
    assert (std["maintenanceRequirement"], std["marginAvailable"], std["liquidatable"]) == (
        "125",
        "-10004.5",
        True,
    )
    assert std["spotValueNotCollateral"] == "49993"
    assert out["unifiedAccount"]["unifiedAccountRatio"] == "Infinity"
    assert out["comparison"] == {
        "capitalFreedByPortfolioMargin": "38400.0125",
        "capitalFreedByUnifiedAccount": "0.0",
    }


def test_margin_modes_of_a_standard_long() -> None:
    """Alice: 1,000 USDC, long 0.1 BTC at 100,000, mark 100,000 (cash 1,000 - 10,000 = -9,000).

    Standard (live): value 1,000, maintenance 10,000 / 80 = 125, excess 875. Unified: the same pool, ratio
    125 / 1,000 = 0.125, excess 875 (freed 0). PM: the USDC leg has no borrow (no 20 offset), requirement
    125 against liquidation value 1,000 -> PMR 0.125; available 0.95 x 1,000 = 950, excess 825: PM counts
    only 95% of the value, so against standard it frees 825 - 875 = -50."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    out = views.info(ex, {"type": "marginModes", "user": ALICE})
    assert out["mode"] == "disabled"
    ch = views.info(ex, {"type": "clearinghouseState", "user": ALICE})
    std = out["standard"]
    assert std["marginAvailable"] == ch["marginSummary"]["accountValue"] == "1000"
    assert std["maintenanceRequirement"] == ch["crossMaintenanceMarginUsed"] == "125"
    assert std["excessMargin"] == out["unifiedAccount"]["excessMargin"] == "875"
    assert out["unifiedAccount"]["unifiedAccountRatio"] == "0.125"
    assert out["portfolioMargin"]["portfolioMarginRatio"] == "0.125"
    assert out["portfolioMargin"]["excessMargin"] == "825"
    assert out["portfolioMargin"]["legs"][0]["offset"] == "0.0"
    assert out["comparison"] == {
        "capitalFreedByPortfolioMargin": "-50",
        "capitalFreedByUnifiedAccount": "0.0",
    }
    empty = views.info(ex, {"type": "marginModes", "user": "0x" + "99" * 20})
    assert (
        empty["standard"]["maintenanceRequirement"] == "0.0" and empty["portfolioMargin"]["worstLeg"] is None
    )


def test_liquidation_feed_lists_a_market_liquidation_with_its_mark() -> None:
    """tests/engine/liquidation/test_perp_liquidation.py (a): Alice long 0.1 BTC from 100,000 with 1,000 USDC is
    market-liquidated at mark 91,000 (notional 0.1 x 91,000 = 9,100, value 100) into the maker's bid."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    for user, amount in ((ALICE, 1000), (BOB, 1_000_000), (MAKER, 1_000_000)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    assert views.info(ex, {"type": "liquidations"})["events"] == []
    rest(ex, MAKER, "BTC", True, 90_900, "0.1", at=2_000)
    set_marks(ex, {"BTC": 91_000}, at=3_000)
    out = views.info(ex, {"type": "liquidations", "limit": 10})
    [event] = out["events"]
    assert event | {"positions": None} == {
        "time": 3_000,
        "user": ALICE,
        "method": "market",
        "leverageType": "Cross",
        "notional": "9100",
        "accountValue": "100",
        "coins": ["BTC"],
        "markPx": "91000",
        "positions": None,
    }
    assert event["positions"] == [{"coin": "BTC", "szi": "0.1", "markPx": "91000"}]
    assert out["totals"] == {"count": 1, "byMethod": {"market": {"count": 1, "notional": "9100"}}}
    vault = next(b for b in out["backstops"] if b["role"] == "liquidator vault")
    assert vault == {
        "role": "liquidator vault",
        "address": "0x1000000000000000000000000000000000000001",
        "accountValue": "0.0",
        "openPositions": 0,
    }
    with pytest.raises(InvalidAction, match="limit"):
        views.info(ex, {"type": "liquidations", "limit": 0})


def test_reserve_params_sample_the_engine_curve_and_mark_today() -> None:
    """Utilization after the basis trade: 11,004.5 / 1,000,000 = 0.0110045 (as allBorrowLendReserveStates
    says). Curve: 0.05 flat to the kink 0.8, then 0.05 + 4.75 x 0.1 = 0.525 at 0.9 and 1.0 at 1;
    supply at 0.9: 0.525 x 0.9 x 0.9 = 0.42525; at the kink 0.05 x 0.8 x 0.9 = 0.036."""
    ex = _basis_trade()
    params = {p["name"]: p for p in views.info(ex, {"type": "borrowLendReserveParams"})}
    usdc = params["USDC"]
    state = dict(views.info(ex, {"type": "allBorrowLendReserveStates"}))[0]
    assert usdc["utilization"] == state["utilization"] == "0.0110045"
    assert usdc["borrowYearlyRate"] == state["borrowYearlyRate"]
    points = {u: (b, s) for u, b, s in usdc["borrowable"]["curvePoints"]}
    assert points["0.9"] == ("0.525", "0.42525")
    assert points["0.8"] == ("0.05", "0.036")
    assert points["1"] == ("1", "0.9")
    assert usdc["borrowable"]["curve"] == {"base": "0.05", "kink": "0.8", "slope": "4.75"}
    hype = params["HYPE"]
    assert "borrowable" not in hype and hype["collateral"]["ltv"] == "0.65"
    assert hype["collateral"]["liquidationThreshold"] == "0.825"  # 0.5 + 0.5 x 0.65


def test_liquidation_feed_shows_a_backstop_and_the_vault_equity() -> None:
    """tests/engine/liquidation/test_perp_liquidation.py (c): Alice long 0.1 BTC from 100,000 with 1,000 USDC,
    mark 90,700, empty book: equity 70 < 2/3 x 9,070 / 80 -> the liquidator vault takes the position at
    the mark and the 70 of equity: vault value -9,070 + 70 + 0.1 x 90,700 = 70, one open position."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    set_marks(ex, {"BTC": 90_700}, at=3_000)
    out = views.info(ex, {"type": "liquidations"})
    [event] = out["events"]
    assert (event["method"], event["notional"], event["accountValue"]) == ("backstop", "9070", "70")
    assert event["coins"] == [] and event["markPx"] is None  # nothing went through the book
    vault = out["backstops"][0]
    assert (vault["role"], vault["accountValue"], vault["openPositions"]) == ("liquidator vault", "70", 1)
    assert out["totals"]["byMethod"] == {"backstop": {"count": 1, "notional": "9070"}}


def test_margin_modes_of_a_unified_builder_dex_position_laid_out_for_standard() -> None:
    """Unified Alice: 10,000 USDC, long 1 xyz:XYZ100 at 20,000 with 10x cross, mark 20,000 (maintenance
    1/40 of 20,000 = 500, the 20x table). Unified (live): value 10,000 - 20,000 + 20,000 = 10,000, ratio
    500 / 10,000 = 0.05. As standard (docs/margin-calculator.md "Live accounts"): dex xyz keeps the cash leg
    -20,000 plus the initial margin 2,000 = -18,000 (value 2,000 >= 500, not liquidatable); the main dex
    holds the rest, -10,000 + 18,000 = 8,000: available 8,000 + 2,000 = 10,000, excess 9,500."""
    from netclear.engine.state import Mode
    from netclear.views.margin_sections import as_mode

    ex = Exchange("hyperliquid")
    set_marks(ex, {"xyz:XYZ100": 20_000}, at=1_000)
    for user, amount in ((ALICE, 10_000), (BOB, 1_000_000)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
        ex.apply(A.SetAbstraction(user=user, abstraction="unifiedAccount"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="xyz:XYZ100", is_cross=True, leverage=10))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="xyz:XYZ100", sz=D("1"), px=D(20_000)))
    _, std = as_mode(ex.registry, ex.state, ex.state.accounts[ALICE], Mode.STANDARD)
    assert std.perp_cash == {"xyz": -18_000 * 10**8, "": 8_000 * 10**8} and std.spot == {}
    out = views.info(ex, {"type": "marginModes", "user": ALICE})
    assert out["unifiedAccount"]["unifiedAccountRatio"] == "0.05"
    s = out["standard"]
    assert (s["maintenanceRequirement"], s["marginAvailable"], s["excessMargin"]) == ("500", "10000", "9500")
    assert s["liquidatable"] is False
    assert out["comparison"]["capitalFreedByUnifiedAccount"] == "0.0"


def test_liquidation_feed_survives_a_snapshot_from_before_the_feed() -> None:
    """A state pickled before ``History.liquidation_feed`` existed (an older snapshot) has that slot unset:
    the view reads it as empty and the engine creates it at the next liquidation."""
    import pickle

    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    old = pickle.loads(pickle.dumps(ex.state))
    del old.history.liquidation_feed
    restored = Exchange("hyperliquid", state=old)
    assert views.info(restored, {"type": "liquidations"})["events"] == []
    set_marks(restored, {"BTC": 90_700}, at=3_000)
    assert [e["method"] for e in views.info(restored, {"type": "liquidations"})["events"]] == ["backstop"]
