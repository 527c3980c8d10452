"""The engine under the ``hyperliquid-scenario-pm`` preset (issue "Capital efficiency"): placement checks,
auto-borrow and the liquidation test use the scenario model (docs/margin-models.md), while the
``hyperliquid`` preset keeps Hyperliquid's PMR. Figures by hand from the preset: BTC shock 12%, HYPE 25%,
USDC de-peg 5%, minimum 0.5% (BTC) / 1% (HYPE) of gross, basis 1%, initial = 1.25 x maintenance;
fees tier 0: perp taker 0.045%, spot taker 0.07% (Hyperliquid fee schedule,
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees)."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine import pm_model
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from tests.conftest import ALICE, MAKER, config_with, fund_lender, open_gates

USDC = 10**8


def _exchange(preset: str) -> Exchange:
    ex = Exchange(config_with(preset, mutate=open_gates))
    ex.apply(
        A.SetPrices(oracle={"BTC": D(100000), "HYPE": D(40)}, spot={"@142": D(100000), "@107": D(40)}),
        at=1_000,
    )
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    ex.apply(A.Deposit(user=MAKER, token="UBTC", amount=D(2)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(400_000), to_perp=False))
    ex.apply(
        O.PlaceOrder(
            user=MAKER,
            orders=[
                O.OrderSpec(asset="@142", is_buy=False, px=D(100000), sz=D(1), limit=O.LimitSpec("Alo")),
                O.OrderSpec(asset="BTC", is_buy=True, px=D(100000), sz=D(1), limit=O.LimitSpec("Alo")),
            ],
        ),
        at=2_000,
    )
    return ex


def _ioc(ex: Exchange, user: str, asset: str, is_buy: bool, px: str, sz: str) -> dict[str, Any]:
    events = ex.apply(
        O.PlaceOrder(
            user=user,
            orders=[O.OrderSpec(asset=asset, is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec("Ioc"))],
        )
    )
    status: dict[str, Any] = events[-1].statuses[0]
    return status


def _hype_short(ex: Exchange) -> dict[str, Any]:
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=20))
    return _ioc(ex, ALICE, "BTC", False, "100000", "0.2")


def test_hype_collateralised_short_accepted_by_hl_pm_refused_by_scenario() -> None:
    # 100 HYPE (4,000 USDC) and a 0.2 BTC short (20,000) at 20x: Hyperliquid borrows the 1,000 initial
    # margin + 9 fee within LTV (100 x 40 x 0.65 = 2,600) and the PMR is low, so it fills.
    hl = _exchange("hyperliquid")
    assert "filled" in _hype_short(hl)
    # Scenario: HYPE -25% = 1,000; BTC +12% = 2,400; de-peg 5% x 1,009 = 50.45; maintenance 3,450.45,
    # initial 4,313.06 > equity 4,000 - 9 fee: refused, nothing changes.
    ex = _exchange("hyperliquid-scenario-pm")
    status = _hype_short(ex)
    assert "error" in status and "Insufficient margin" in status["error"]
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {} and alice.borrow_basis == {}
    assert "scenario initial margin" in status["error"] and "HYPE -25%" in status["error"]
    assert conservation_breaks(ex.state, ex.registry) == {}


def test_a_smaller_hype_collateralised_short_fills_with_the_requirement_computed_by_hand() -> None:
    ex = _exchange("hyperliquid-scenario-pm")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=20))
    assert "filled" in _ioc(ex, ALICE, "BTC", False, "100000", "0.1")
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    # IM 10,000 / 20 = 500 and the 4.5 fee are borrowed: 504.5 USDC
    assert v.borrowed(alice, 0) == 5045 * USDC // 10
    result, equity = pm_model.scenario_result(v, alice)
    # HYPE 1,000 + BTC 0.12 x 10,000 = 1,200 + de-peg 0.05 x 504.5 = 25.225 -> 2,225.225
    assert result.maintenance == Fraction(2_225_225, 1000)
    assert equity == 4_000 - Fraction(45, 10)
    health = pm_model.pm_health(v, alice)
    assert health.model == "scenario" and not health.liquidatable
    view = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    ratio = Fraction(95, 100) * result.maintenance / equity
    assert D(view["portfolioMarginRatio"]) == D(ratio.numerator / ratio.denominator).quantize(D("1e-10"))


def test_basis_trade_on_usdc_refused_by_hl_pm_accepted_by_scenario() -> None:
    # 25,000 USDC buys 1 UBTC at 100,000. Hyperliquid: the 75,070 USDC to borrow (incl. the 0.07% fee
    # is taken in UBTC, so 75,000) exceeds LTV capacity (no collateral yet): refused.
    hl = _exchange("hyperliquid")
    hl.apply(A.Deposit(user=ALICE, amount=D(25_000)))
    hl.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    assert "error" in _ioc(hl, ALICE, "@142", True, "100000", "1")
    # Scenario: the naked spot long needs 1.25 x (0.12 x 99,930 + 0.05 x 75,000) = 1.25 x 15,741.6 =
    # 19,677 <= 25,000 (the fee leaves 0.9993 UBTC): it fills; then the hedge brings it to basis charges.
    ex = _exchange("hyperliquid-scenario-pm")
    ex.apply(A.Deposit(user=ALICE, amount=D(25_000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=40))
    assert "filled" in _ioc(ex, ALICE, "@142", True, "100000", "1")
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    result, _ = pm_model.scenario_result(v, alice)
    assert result.maintenance == Fraction(12) / 100 * Fraction(99_930) + Fraction(5, 100) * 75_000
    assert "filled" in _ioc(ex, ALICE, "BTC", False, "100000", "0.9993")
    result, equity = pm_model.scenario_result(v := ex.valuer(), ex.state.accounts[ALICE])
    (unit,) = result.units
    assert unit.net == 0 and unit.grid_loss == 0
    # minimum 0.5% x 2 x 99,930 = 999.3; basis 1% x 99,930 = 999.3; de-peg on the borrow
    assert unit.minimum == Fraction(9993, 10) and unit.basis == Fraction(9993, 10)
    borrowed = Fraction(v.borrowed(ex.state.accounts[ALICE], 0), USDC)
    assert result.maintenance == Fraction(19986, 10) + borrowed / 20
    assert equity >= result.initial
    assert conservation_breaks(ex.state, ex.registry) == {}


def _liquidation_setup(preset: str) -> Exchange:
    ex = _exchange(preset)
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=20))
    assert "filled" in _ioc(ex, ALICE, "BTC", False, "100000", "0.1")
    # the maker offers BTC at 120,000 so a liquidation can buy the short back
    ex.apply(
        O.PlaceOrder(
            user=MAKER,
            orders=[O.OrderSpec(asset="BTC", is_buy=False, px=D(120000), sz=D(1), limit=O.LimitSpec("Alo"))],
        )
    )
    ex.apply(A.SetPrices(oracle={"BTC": D(120000)}, marks={"BTC": D(120000)}, spot={"@142": D(120000)}))
    return ex


@pytest.mark.parametrize("preset", ["hyperliquid", "hyperliquid-scenario-pm"])
def test_liquidation_follows_the_preset_model(preset: str) -> None:
    # BTC +20%: the short loses 2,000, equity 4,000 - 4.5 - 2,000 = 1,995.5.
    # Scenario: BTC 0.12 x 12,000 = 1,440 + HYPE 1,000 + de-peg on ~1,504.5 borrowed > 1,995.5 ->
    # liquidatable; the short is bought back at 120,000.
    # Hyperliquid PMR: (20 + 150 + ~1,504.5) / (0 + 4,000 x 0.825) = 0.51 -> not liquidatable.
    ex = _liquidation_setup(preset)
    alice = ex.state.accounts[ALICE]
    if preset == "hyperliquid":
        assert alice.positions.get(0) is not None and alice.positions[0].szi == -10_000
        assert not pm_model.pm_liquidatable(ex.valuer(), alice)
    else:
        assert 0 not in alice.positions or alice.positions[0].szi == 0
        assert not pm_model.pm_liquidatable(ex.valuer(), alice)
        ledger = views.info(ex, {"type": "userNonFundingLedgerUpdates", "user": ALICE})
        assert any(u["delta"]["type"] == "liquidation" for u in ledger)
    assert conservation_breaks(ex.state, ex.registry) == {}


def test_withdrawal_and_explicit_borrow_are_held_to_the_scenario_initial_requirement() -> None:
    from netclear.errors import InsufficientMargin

    ex = _exchange("hyperliquid-scenario-pm")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=20))
    assert "filled" in _ioc(ex, ALICE, "BTC", False, "100000", "0.1")
    before = ex.state_hash()
    # Withdrawing 90 HYPE leaves 400 USDC of HYPE: equity ~395.5 against an initial requirement of
    # 1.25 x (100 + 1,200 + 25.225) = 1,656.5: refused, nothing changes.
    with pytest.raises(InsufficientMargin, match="scenario initial requirement"):
        ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D(90)))
    # Borrowing 50,000 USDC adds a de-peg charge of 2,500: initial 1.25 x 4,725.2 = 5,906.5 > 3,995.5.
    with pytest.raises(InsufficientMargin, match="scenario initial requirement"):
        ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(50_000)))
    assert ex.state_hash() == before
    # 5 HYPE can go: equity 3,795.5 vs initial 1.25 x (950 + 1,200 + 25.225) = 2,719.0
    ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D(5)))
    assert conservation_breaks(ex.state, ex.registry) == {}


def test_concentration_add_on_from_the_order_book_depth() -> None:
    """``depth_source = "book"``: the depth is the notional resting within the unit's shock (12% for BTC)
    on the side a liquidation would hit, over the unit's perp and spot books."""
    from netclear.margin import scenario as sc

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        d["portfolio_margin"]["scenario"]["depth_source"] = "book"

    ex = Exchange(config_with("hyperliquid-scenario-pm", mutate=mutate))
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}, spot={"@142": D(100000)}), at=1_000)
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    ex.apply(A.Deposit(user=MAKER, token="UBTC", amount=D(2)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(400_000), to_perp=False))
    ex.apply(
        O.PlaceOrder(
            user=MAKER,
            orders=[
                O.OrderSpec(asset="@142", is_buy=False, px=D(100000), sz=D("0.5"), limit=O.LimitSpec("Alo")),
                # bids: 0.1 BTC at 100,000 counts (>= 88,000); 1 BTC at 80,000 is outside the shock
                O.OrderSpec(asset="BTC", is_buy=True, px=D(100000), sz=D("0.1"), limit=O.LimitSpec("Alo")),
                O.OrderSpec(asset="BTC", is_buy=True, px=D(80000), sz=D(1), limit=O.LimitSpec("Alo")),
                # asks: 0.2 BTC at 110,000 counts (<= 112,000); 1 at 120,000 does not
                O.OrderSpec(asset="BTC", is_buy=False, px=D(110000), sz=D("0.2"), limit=O.LimitSpec("Alo")),
                O.OrderSpec(asset="BTC", is_buy=False, px=D(120000), sz=D(1), limit=O.LimitSpec("Alo")),
            ],
        ),
        at=2_000,
    )
    v = ex.valuer()
    # spot ask 0.5 UBTC at 100,000 (50,000) adds to the asks
    assert pm_model.book_depths(v, {"BTC"}) == {"BTC": sc.Depth(Fraction(10_000), Fraction(72_000))}
    ex.apply(A.Deposit(user=ALICE, amount=D(20_000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    assert "filled" in _ioc(ex, ALICE, "@142", True, "100000", "0.5")
    # Alice's buy took the spot ask: bids 10,000 and asks 22,000 remain. Net long 0.49965 UBTC (the fee
    # is paid in UBTC) = 49,965: concentration 5% x (49,965 - 10,000) = 1,998.25 on top of the grid
    # loss 12% x 49,965 = 5,995.8 and the de-peg charge 5% x 30,000 borrowed = 1,500.
    result, _ = pm_model.scenario_result(ex.valuer(), ex.state.accounts[ALICE])
    assert result.concentration == Fraction(199825, 100)
    assert result.maintenance == Fraction(59958, 10) + Fraction(199825, 100) + 1_500
