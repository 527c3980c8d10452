"""Portfolio-margin liquidation: backstop takeover, the backstop's TWAP and the lending bad-debt waterfall
(Hyperliquid docs 'Portfolio margin'; docs/rules/liquidation.md "Portfolio margin").

The FAQ account (Hyperliquid docs 'Portfolio margin FAQ', as in tests/engine/test_golden.py): pre-alpha preset
(HYPE the only collateral, LTV 0.5), 10 HYPE supplied at $50, 250 USDC borrowed and spent on 0.0025 UBTC (not
collateral there), a lender supplying 1,000 USDC. PMR = (20 + debt) / (HYPE value x 0.75) ('Portfolio margin',
the 20 USDC offset while something is borrowed). Takeover steps move 20% of the debt and collateral worth it
at ``oracle x (LTV + 2) / 3`` (= 5/6 of the oracle at LTV 0.5), full takeover past the full threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine import lending
from netclear.engine.exchange import Exchange
from netclear.engine.liquidation import twap as liq_twap
from netclear.fixedpoint import frac_ceil, frac_floor
from netclear.lending.rates import INDEX_SCALE, grow_index, growth_factor, value_of
from tests.conftest import ALICE, BOB, LENDER, MAKER, config_with, fund_lender, open_gates, set_collateral
from tests.engine.liquidation import assert_conserved, ledger_liquidations, rest, set_marks, usd

HYPE, UBTC, USDC_T = 150, 197, 0
BACKSTOP = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
MINUTE = 60_000
T0 = 1_000


def _faq_account(spot_maker_fee: str | None = None) -> Exchange:
    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")
        if spot_maker_fee is not None:
            d["fees"]["spot_tiers"][0]["maker"] = spot_maker_fee

    ex = Exchange(config_with("hyperliquid-prealpha", mutate=mutate))
    set_marks(ex, {"HYPE": 50}, at=T0, spot={"@107": 50, "@142": 100_000})
    fund_lender(ex, "1000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(250)))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D("0.0025")))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.0025"), px=D(100_000)))
    return ex


def _takeovers(ex: Exchange, user: str = ALICE) -> list[dict[str, Any]]:
    return [r for r in ex.state.history.liquidations.get(user, []) if r["kind"] == "pmTakeover"]


def _replay_steps(
    hype_wei: int, debt_wei: int, px: Fraction, pmr: Callable[[int, int], Fraction]
) -> tuple[int, int, int]:
    """The takeover loop by hand ('Portfolio margin'): while PMR > 0.95, move floor(20% of the debt) and
    ceil(HYPE x min(1, debt_taken / (HYPE value x (0.5 + 2) / 3))) of the collateral (debts round
    against the user: the collateral moved rounds up). Returns (HYPE left, debt left, steps)."""
    steps = 0
    while pmr(hype_wei, debt_wei) > Fraction(95, 100):
        debt_taken = Fraction(debt_wei, 10**8) / 5
        takeover_value = Fraction(hype_wei, 10**8) * px * Fraction(5, 6)
        share = min(Fraction(1), debt_taken / takeover_value)
        hype_wei -= frac_ceil(hype_wei * share)
        debt_wei -= frac_floor(Fraction(debt_wei, 5))
        steps += 1
    return hype_wei, debt_wei, steps


# --------------------------------------------------------------------------- FAQ $33 / $30
def test_faq_partial_takeover_at_33_carried_to_balances() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ', 'Portfolio margin' at $33: PMR (20 + 250) / (330 x 0.75) =
    1.0909 > 0.95; debt 250 between the partial (247.50) and full (275) thresholds -> 20% steps. Each step
    moves 0.2 x D of debt and 0.2 x D / 27.5 HYPE (collateral at 33 x 5/6); steps go on while (20 + D) /
    (24.75 x H) > 0.95: 15 steps, D = 250 x 0.8^15 = 8.796 USDC, H = 1.229 HYPE (the loop, with the engine's
    roundings). Balances: the user keeps H HYPE, D debt and her UBTC; the backstop holds the rest of both; the
    reserves do not move (a takeover moves claims and debts between accounts, no cash)."""
    ex = _faq_account()
    reserves_before = {t: r.clone() for t, r in ex.state.reserves.items()}
    set_marks(ex, {"HYPE": 33}, spot={"@107": 33})

    px = Fraction(33)

    def pmr(h: int, d: int) -> Fraction:
        return (20 + Fraction(d, 10**8)) / (Fraction(h, 10**8) * px * Fraction(3, 4))

    hype_left, debt_left, steps = _replay_steps(10 * 10**8, 250 * 10**8, px, pmr)
    assert steps == 15
    # 250 x 0.8^15 = 8.7960930222; each step takes floor(20%), so 2 wei more are left
    assert debt_left == 879_609_304
    # HYPE moved: sum of 0.2 x D_k / 27.5 over the 15 steps = (250 - D) / 27.5 = 241.2039 / 27.5 = 8.77105,
    # left 1.22895 HYPE; with the engine's wei roundings (collateral moved rounds up) 1.22894875
    assert hype_left == 122_894_875

    records = _takeovers(ex)
    assert len(records) == steps
    assert records[0]["health"] == "partial" and records[0]["collateralShare"] == "2/11"
    assert all(r["debtShare"] == "1/5" for r in records)
    alice = ex.state.accounts[ALICE]
    backstop = ex.state.accounts[BACKSTOP]
    v = ex.valuer()
    assert v.supplied(alice, HYPE) == hype_left
    assert v.borrowed(alice, USDC_T) == debt_left
    assert v.supplied(backstop, HYPE) == 10 * 10**8 - hype_left
    assert v.borrowed(backstop, USDC_T) == 250 * 10**8 - debt_left
    assert backstop.spot.get(USDC_T, 0) == 0
    assert alice.spot[UBTC] == 25_000_000  # 0.0025 UBTC (10 decimals)
    assert alice.spot.get(USDC_T, 0) == 0
    assert ex.state.reserves == reserves_before
    assert v.pm_legs(alice).ratio <= Fraction(95, 100)
    assert views.info(ex, {"type": "borrowLendUserState", "user": ALICE})["health"] == "healthy"
    assert_conserved(ex)


def test_faq_full_takeover_at_30_carried_to_balances() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ' at $30: full threshold 300 x (0.5 + 0.5 x 2/3) = 250.00 reached
    -> the backstop takes all 10 HYPE and all 250 USDC of debt in one step; the user keeps only her UBTC
    (0.0025 x 100,000 = 250 USDC of value). The ledger records the account value before: 300 (HYPE) - 250 +
    250 (UBTC)."""
    ex = _faq_account()
    reserves_before = {t: r.clone() for t, r in ex.state.reserves.items()}
    set_marks(ex, {"HYPE": 30}, spot={"@107": 30})
    records = _takeovers(ex)
    assert records == [
        {
            "time": T0,
            "kind": "pmTakeover",
            "health": "full",
            "debtShare": "1",
            "collateralShare": "1",
            "debtValue": "250",
            "collateralValue": "300",
        }
    ]
    alice = ex.state.accounts[ALICE]
    backstop = ex.state.accounts[BACKSTOP]
    assert alice.supply_basis == {} and alice.borrow_basis == {}
    assert alice.spot[UBTC] == 25_000_000 and alice.spot.get(HYPE, 0) == 0 and alice.spot.get(USDC_T, 0) == 0
    assert backstop.is_system
    assert backstop.supply_basis == {HYPE: 10 * 10**8}
    assert backstop.borrow_basis == {USDC_T: 250 * 10**8}
    assert ex.state.reserves == reserves_before
    assert ledger_liquidations(ex, ALICE) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "0.0",
            "accountValue": "300",
            "leverageType": "Cross",
            "liquidatedPositions": [],
        }
    ]
    assert_conserved(ex)


# --------------------------------------------------------------------------- the backstop's TWAP
def _taken_at_30(bid_px: int, maker_fee: bool = False) -> Exchange:
    """Full takeover at $30 (t = 1 s), then the maker bids 10 HYPE at ``bid_px`` on HYPE/USDC (@107).

    Without ``maker_fee`` the spot maker fee is 0, so the TWAP sale's amounts are checked apart from the
    sale defect of ``test_backstop_twap_sale_is_a_real_fill`` (with a fee the fee vanishes)."""
    ex = _faq_account(spot_maker_fee=None if maker_fee else "0")
    set_marks(ex, {"HYPE": 30}, spot={"@107": 30})
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(1_000), to_perp=False))
    rest(ex, MAKER, "@107", True, bid_px, 10)
    assert ex.state.time_ms == T0 and ex.state.last_twap_ms == T0
    return ex


def _index_after(ms: int) -> int:
    """USDC borrow index after ``ms`` at 5% (utilization 250 / 1,000 = 25%, below the kink, 'Portfolio
    margin'): exp(0.05 x ms / year), rounded up (netclear.lending.rates)."""
    return grow_index(INDEX_SCALE, growth_factor(Fraction(1, 20), ms))


def test_backstop_twap_sells_half_in_ten_minutes_and_repays() -> None:
    """'Portfolio margin' "a TWAP with a half life of 10 minutes": 10 minutes after the takeover 1 - 2^-1 =
    1/2 of the 10 HYPE is sold: 5 HYPE at the 30 bid = 150 USDC (the backstop pays no fee; the maker's fee is
    0 here), and the 150 repays the debt. The debt grew by 10 minutes of 5% interest: basis left = 250e8 -
    floor(150e8 x 1e18 / index). Ten more minutes: half of the 5 left, 2.5 HYPE -> 75 USDC."""
    ex = _taken_at_30(30)
    ex.apply(A.AdvanceTime(), at=T0 + 10 * MINUTE)
    backstop = ex.state.accounts[BACKSTOP]
    v = ex.valuer()
    idx = _index_after(10 * MINUTE)
    assert ex.state.reserves[USDC_T].borrow_index == idx
    assert v.supplied(backstop, HYPE) == 5 * 10**8
    basis = 250 * 10**8 - 150 * 10**8 * INDEX_SCALE // idx
    assert backstop.borrow_basis[USDC_T] == basis
    assert v.borrowed(backstop, USDC_T) == value_of(basis, idx, debt=True)
    assert backstop.spot.get(USDC_T, 0) == 0 and backstop.spot.get(HYPE, 0) == 0
    maker = ex.state.accounts[MAKER]
    assert maker.spot[HYPE] == 5 * 10**8
    assert maker.spot[USDC_T] == usd(850)
    assert ex.state.reserves[USDC_T].cash == usd(750) + usd(150)
    assert_conserved(ex)

    ex.apply(A.AdvanceTime(), at=T0 + 20 * MINUTE)
    assert v.supplied(backstop := ex.state.accounts[BACKSTOP], HYPE) == 250_000_000  # 2.5 HYPE left
    assert ex.state.reserves[USDC_T].cash == usd(750) + usd(225)
    assert ex.state.accounts[MAKER].spot[HYPE] == 750_000_000
    assert backstop.borrow_basis[USDC_T] < basis
    assert_conserved(ex)


def test_backstop_twap_sale_is_a_real_fill() -> None:
    """The same 10-minute sale with the preset's 0.04% spot maker fee: a real fill leaves the maker's
    bid at 5 HYPE (hold 150), records the fill for both sides (backstop fee 0, maker fee 0.002 HYPE),
    credits the sink 0.002 HYPE and conserves every token."""
    ex = _taken_at_30(30, maker_fee=True)
    ex.apply(A.AdvanceTime(), at=T0 + 10 * MINUTE)
    maker = ex.state.accounts[MAKER]
    assert maker.spot[HYPE] == 499_800_000
    [resting] = list(ex.state.books[ex.registry.spot_by_name["@107"].asset].iter_orders())
    assert resting.sz == 500  # 5 HYPE left of the 10
    assert maker.spot_hold[USDC_T] == usd(150)
    assert ex.state.history.fills[MAKER][-1]["fee"] == "0.002"
    assert ex.state.history.fills[BACKSTOP][-1]["fee"] == "0.0"
    assert ex.state.accounts["0xfee0000000000000000000000000000000000000"].spot[HYPE] == 200_000
    assert_conserved(ex)


def test_backstop_twap_waits_for_bids() -> None:
    """With no bid nothing is sold: the HYPE stays supplied and the debt only accrues; once bids exist
    the next interval sells its share (the TWAP is on time elapsed since the last interval)."""
    ex = _faq_account(spot_maker_fee="0")
    set_marks(ex, {"HYPE": 30}, spot={"@107": 30})
    ex.apply(A.AdvanceTime(), at=T0 + 10 * MINUTE)
    backstop = ex.state.accounts[BACKSTOP]
    assert backstop.supply_basis == {HYPE: 10 * 10**8}
    assert backstop.borrow_basis == {USDC_T: 250 * 10**8}
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(1_000), to_perp=False))
    rest(ex, MAKER, "@107", True, 30, 10)
    ex.apply(A.AdvanceTime(), at=T0 + 20 * MINUTE)
    assert ex.valuer().supplied(ex.state.accounts[BACKSTOP], HYPE) == 5 * 10**8
    assert_conserved(ex)


def test_collateral_exhausted_remaining_debt_written_off_down_the_waterfall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'Portfolio margin' + docs/rules/liquidation.md 'The loss waterfall', lending waterfall: the backstop's
    cash -> the reserve's protocol buffer -> suppliers through the supply index.

    Bids at $20: after 2 hours 1 - 2^-12 of the 10 HYPE is due: floor to lots 9.99 HYPE -> 199.8 USDC;
    one minute later the last 0.01 HYPE (one lot) -> 0.2 USDC. 200 repaid of 250 + interest: the
    collateral is exhausted and the rest is bad debt: 50 USDC + 2 h of interest on 250 (~0.0029).
    The buffer (10% of the interest, ~0.0003) pays first, all of it; the suppliers take the rest through
    the supply index: index' = (scaled_supply x index - rest x 1e18) // scaled_supply.
    The reserve's state at the write-off is captured with a spy so each layer is checked exactly."""
    seen: dict[str, Any] = {}
    original = liq_twap._write_off

    def spy(ctx: Any, backstop: Any, token: int) -> None:
        res = lending.reserve(ctx.tx, ctx.reg, token)
        seen.update(
            res=res.clone(),
            owed=value_of(backstop.borrow_basis.get(token, 0), res.borrow_index, debt=True),
            cash=backstop.spot.get(token, 0),
            basis=backstop.borrow_basis.get(token, 0),
        )
        original(ctx, backstop, token)

    monkeypatch.setattr(liq_twap, "_write_off", spy)
    ex = _taken_at_30(20)
    ex.apply(A.AdvanceTime(), at=T0 + 120 * MINUTE)
    backstop = ex.state.accounts[BACKSTOP]
    assert ex.valuer().supplied(backstop, HYPE) == 1_000_000  # one lot left
    assert ex.state.accounts[MAKER].spot[HYPE] == 999_000_000
    assert ex.state.reserves[USDC_T].cash == usd(750) + usd("199.8")
    assert "owed" not in seen  # collateral left: nothing written off yet
    ex.apply(A.AdvanceTime(), at=T0 + 121 * MINUTE)

    backstop = ex.state.accounts[BACKSTOP]
    assert backstop.supply_basis == {} and backstop.borrow_basis == {}
    res = ex.state.reserves[USDC_T]
    assert res.cash == usd(750) + usd(200)
    owed, before = seen["owed"], seen["res"]
    assert seen["cash"] == 0  # the sale proceeds already went to repayment
    assert usd(50) < owed < usd("50.01")
    buffer_layer = min(before.buffer_raw // INDEX_SCALE, owed)
    rest_layer = owed - buffer_layer
    assert 0 < buffer_layer < rest_layer
    [record] = [r for r in ex.state.history.liquidations[BACKSTOP] if r["kind"] == "badDebt"]
    wei = Fraction(1, 10**8)

    def amt(x: str) -> int:
        return int(Fraction(x) / wei)

    assert record["token"] == "USDC" and amt(record["amount"]) == owed
    wf = record["waterfall"]
    assert amt(wf["vault"]) == 0
    assert amt(wf["reserveBuffer"]) == buffer_layer
    assert amt(wf["socialized"]) == rest_layer
    assert res.buffer_raw == before.buffer_raw - buffer_layer * INDEX_SCALE
    assert res.buffer_raw < INDEX_SCALE  # the buffer is spent to the last whole wei
    assert res.supply_index == (before.scaled_supply * before.supply_index - rest_layer * INDEX_SCALE) // (
        before.scaled_supply
    )
    assert res.supply_index < INDEX_SCALE  # suppliers were haircut
    assert res.bad_debt == owed
    assert res.scaled_borrow == before.scaled_borrow - seen["basis"] == 0
    # the lender's claim fell by the socialized amount (up to index rounding)
    claim = ex.valuer().supplied(ex.state.accounts[LENDER], USDC_T)
    claim_before = value_of(before.scaled_supply, before.supply_index, debt=False)
    assert 0 <= claim_before - rest_layer - claim <= 1
    # solvency: cash + debts - claims - buffer >= 0 with only rounding dust
    dust = res.cash + 0 - claim - res.buffer_raw // INDEX_SCALE
    assert 0 <= dust <= 10
    assert_conserved(ex)


def test_backstop_cash_pays_before_the_buffer_and_suppliers() -> None:
    """The first lending layer is the backstop's own cash: 30 USDC deposited to the backstop after the
    takeover repays its debt at once (250 -> 220, 'Portfolio margin' automatic repayment), so the later
    write-off is about 20 (+ interest) and the suppliers' haircut shrinks by the 30."""
    ex = _taken_at_30(20)
    ex.apply(A.Deposit(user=BACKSTOP, amount=D(30)))
    assert ex.state.accounts[BACKSTOP].borrow_basis == {USDC_T: 220 * 10**8}
    ex.apply(A.AdvanceTime(), at=T0 + 120 * MINUTE)
    ex.apply(A.AdvanceTime(), at=T0 + 121 * MINUTE)
    res = ex.state.reserves[USDC_T]
    assert usd(20) < res.bad_debt < usd("20.01")
    # the lender earned 90% of the interest and lost the bad debt beyond the buffer (10% of the same
    # interest): 1,000 + 0.9 I - (20 + I - 0.1 I) = 980, up to index rounding
    claim = ex.valuer().supplied(ex.state.accounts[LENDER], USDC_T)
    assert abs(claim - usd(980)) <= 10
    assert_conserved(ex)


# --------------------------------------------------------------------------- PM account with perps
def _pm_with_perp(hype: str, usdc: str | None) -> Exchange:
    """Mainnet preset with HYPE at LTV 0.5 (the FAQ's), gates open; Alice under PM with ``hype`` HYPE
    (and ``usdc``) long 0.1 BTC at 100,000 from Bob at 20x (IM 500, auto-borrowed past her USDC)."""

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")

    ex = Exchange(config_with(mutate=mutate))
    set_marks(ex, {"HYPE": 40, "BTC": 100_000}, at=T0, spot={"@107": 40})
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(hype)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    if usdc is not None:
        ex.apply(A.Deposit(user=ALICE, amount=D(usdc)))
    ex.apply(A.Deposit(user=BOB, amount=D(100_000)))
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    return ex


def test_pm_perps_market_liquidated_first_then_takeover() -> None:
    """Hyperliquid docs 'Portfolio margin' / docs order: perps first, then the borrow takeover if still
    liquidatable.

    Alice: 10 HYPE at 40 + 300 USDC; long 0.1 BTC at 20x: IM 500 = her 300 + 200 borrowed;
    USDC balance 300 + 200 - 10,000 = -9,500. Mark BTC 95,300 and HYPE 25 together:
    PMR = (20 + 95,300 x 0.1 / 80 + 200) / (-9,500 + 9,530 + 10 x 25 x 0.75) = 339.125 / 217.5 = 1.559.
    The perp goes first: limit the account's bankruptcy price 95,300 - 80 / 0.1 = 94,500 (value 30 +
    250 - 200 = 80, docs/rules/liquidation.md), filled at the 95,200 bid -> USDC balance
    -9,500 + 9,520 = 20, which repays 20 of the debt (the FAQ's auto-repay of realized profits): D = 180,
    balance 0. Still PMR = 200 / 187.5 = 1.067 > 0.95 with debt 180 below the partial band (187.5 ..
    208.3): 20% steps, each moving 0.2 x D of debt and 0.2 x D / (25 x 5/6) HYPE, until
    (20 + D) / (18.75 x H) <= 0.95: 9 steps, D = 180 x 0.8^9 = 24.16, H = 2.51964115."""
    ex = _pm_with_perp("10", "300")
    alice = ex.state.accounts[ALICE]
    assert ex.valuer().borrowed(alice, USDC_T) == usd(200)
    assert alice.spot[USDC_T] == -usd(9_500)
    rest(ex, MAKER, "BTC", True, 95_200, "0.1")
    set_marks(ex, {"BTC": 95_300, "HYPE": 25}, spot={"@107": 25})

    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    fill = ex.state.history.fills[ALICE][-1]
    assert (fill["px"], fill["sz"], fill["fee"]) == ("95200", "0.1", "0.0")
    assert alice.spot.get(USDC_T, 0) == 0  # the 20 realized repaid debt

    px = Fraction(25)

    def pmr(h: int, d: int) -> Fraction:
        return (20 + Fraction(d, 10**8)) / (Fraction(h, 10**8) * px * Fraction(3, 4))

    hype_left, debt_left, steps = _replay_steps(10 * 10**8, 180 * 10**8, px, pmr)
    assert (hype_left, debt_left, steps) == (251_964_115, 2_415_919_104, 9)
    records = _takeovers(ex)
    assert len(records) == 9
    assert [r["health"] for r in records] == ["healthy"] * 9
    v = ex.valuer()
    assert v.supplied(alice, HYPE) == hype_left
    assert v.borrowed(alice, USDC_T) == debt_left
    backstop = ex.state.accounts[BACKSTOP]
    assert v.supplied(backstop, HYPE) == 10 * 10**8 - hype_left
    assert v.borrowed(backstop, USDC_T) == 180 * 10**8 - debt_left
    assert v.pm_legs(alice).ratio <= Fraction(95, 100)
    delta = ledger_liquidations(ex, ALICE)[-1]
    assert delta["liquidatedPositions"] == [{"coin": "BTC", "szi": "0.1"}]
    # value before: USDC -9,500 + 9,530 = 30, HYPE 250, debt 200 -> 80
    assert delta["accountValue"] == "80"
    assert_conserved(ex)


def test_pm_liquidation_ledger_reports_the_liquidated_notional() -> None:
    """Hyperliquid docs 'Liquidations': liquidatedNtlPos is the liquidated notional, 0.1 x 95,300 = 9,530
    here."""
    ex = _pm_with_perp("10", "300")
    rest(ex, MAKER, "BTC", True, 95_200, "0.1")
    set_marks(ex, {"BTC": 95_300, "HYPE": 25}, spot={"@107": 25})
    assert ledger_liquidations(ex, ALICE)[-1]["liquidatedNtlPos"] == "9530"


def test_pm_perp_with_negative_usdc_pool_is_sold_before_collateral_is_taken() -> None:
    """Alice: 25 HYPE at 40 (borrowing power 500) and no USDC; long 0.1 BTC at 20x, IM 500 borrowed:
    USDC balance 500 - 10,000 = -9,500. Mark BTC 93,000, HYPE 40: USDC pool -9,500 + 9,300 = -200
    (no borrowing power left to cover it), PMR = (20 + 116.25 + 500) / (-200 + 25 x 40 x 0.75) = 1.1633.
    The account is solvent (1,000 of HYPE against 500 of debt and a 200 pool deficit). Sold at the
    92,500 bid the pool is -250 and PMR (20 + 500) / (-250 + 750) = 1.04; then 20% steps bring it under
    0.95 after 5 steps (debt 500 x 0.8^5 = 163.84). The IOC limit is the bankruptcy price of the whole
    account (value -200 + 1,000 - 500 = 300): 93,000 - 300 / 0.1 = 90,000, so the bid fills."""
    ex = _pm_with_perp("25", None)
    rest(ex, MAKER, "BTC", True, 92_500, "0.1")
    set_marks(ex, {"BTC": 93_000, "HYPE": 40}, spot={"@107": 40})
    alice = ex.state.accounts[ALICE]
    v = ex.valuer()
    assert alice.positions == {}
    assert ex.state.history.fills[ALICE][-1]["px"] == "92500"
    assert v.pm_legs(alice).ratio <= Fraction(95, 100)
    assert len(_takeovers(ex)) == 5


def test_bankrupt_pm_account_perps_are_deleveraged() -> None:
    """Mainnet preset (HYPE LTV 0.65), gates open. Alice under PM with 100 HYPE at 40 (4,000 USDC of
    collateral, 2,600 of borrowing power) shorts 0.2 BTC at 100,000 to Bob (20x: IM 1,000 borrowed).
    BTC squeezes to 130,000 with no asks: the short loses 6,000 > 4,000 of collateral: the account value
    is negative, so ('Auto-deleveraging') the short must be closed against the opposite side (Bob, long 0.2)
    and the deficit go down the waterfall; Alice must not be left with an open position and negative value.

    By hand: the squeeze first borrows the 1,600 of power left (margin sharing): USDC balance 20,000 +
    1,000 + 1,600 = 22,600, debt 2,600. The short is closed against Bob at 130,000 (the current mark is
    worse for the short than the previous 100,000, rules.adl_price): balance -3,400, so the account is
    worth -3,400 + 4,000 - 2,600 = -2,000. The backstop takes the whole cross margin (100 HYPE, the 2,600
    debt, the -3,400 balance): Alice's collateral net of debt, 1,400, absorbs first; the 2,000 deficit
    (plus a second's interest) is paid to the backstop by the reserve buffer (a few wei) and Bob, the
    only deleveraged counterparty (no vault capital), so the backstop is left at net 0."""
    ex = Exchange(config_with(mutate=open_gates))
    set_marks(ex, {"HYPE": 40, "BTC": 100_000}, at=T0, spot={"@107": 40})
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.Deposit(user=BOB, amount=D(100_000)))
    ex.apply(A.SettleFill(buyer=BOB, seller=ALICE, asset="BTC", sz=D("0.2"), px=D(100_000)))
    assert ex.valuer().borrowed(ex.state.accounts[ALICE], USDC_T) == usd(1_000)
    set_marks(ex, {"BTC": 130_000}, at=T0 + 1_000)
    alice = ex.state.accounts[ALICE]
    assert_conserved(ex)
    assert alice.positions == {}
    assert ex.valuer().account_value_usdc(alice) >= 0
    assert ex.state.accounts[BOB].positions == {}  # Bob deleveraged
    assert alice.spot == {} and alice.supply_basis == {} and alice.borrow_basis == {}
    [rec] = [r for r in ex.state.history.liquidations[ALICE] if r["kind"] == "perpDeficit"]
    wf = rec["waterfall"]
    deficit = usd(rec["deficit"])
    assert usd(2_000) <= deficit < usd("2000.01")
    assert usd("1399.99") < usd(wf["userCollateral"]) <= usd(1_400)
    assert wf["vault"] == "0.0" and set(wf["socializedTo"]) == {BOB}
    assert usd(wf["reserveBuffer"]) + usd(wf["socialized"]) == deficit
    assert ex.state.accounts[BOB].perp_cash[""] == usd(106_000) - usd(wf["socialized"])
    backstop = ex.state.accounts[BACKSTOP]
    assert ex.valuer().supplied(backstop, HYPE) == 100 * 10**8
    assert abs(ex.valuer().account_value_usdc(backstop)) < Fraction(1, 10**6)
    assert ledger_liquidations(ex, ALICE)[-1]["liquidatedNtlPos"] == "26000"


def test_bankrupt_pm_account_non_collateral_spot_absorbs_first_and_is_sold_by_the_twap() -> None:
    """The same squeeze with 0.25 UETH (not collateral, not borrowable) also held: the whole cross margin
    is the user's collateral ('Portfolio margin' perps and spot margined together), so the UETH, worth 1,000,
    counts before anybody else pays: value -2,000 + 1,000 = -1,000 is the deficit and the user's own assets
    net of debt cover 4,000 + 1,000 - 2,600 = 2,400. The backstop takes the UETH with the rest and sells it by
    the same TWAP ('Portfolio margin'): 10 minutes later half of it, 0.125 UETH, at the 4,000 bid = 500
    USDC."""
    ueth = 221
    ex = Exchange(config_with(mutate=open_gates))
    set_marks(ex, {"HYPE": 40, "BTC": 100_000, "ETH": 4_000}, at=T0, spot={"@107": 40, "@151": 4_000})
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(100)))
    ex.apply(A.Deposit(user=ALICE, token="UETH", amount=D("0.25")))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.Deposit(user=BOB, amount=D(100_000)))
    ex.apply(A.SettleFill(buyer=BOB, seller=ALICE, asset="BTC", sz=D("0.2"), px=D(100_000)))
    set_marks(ex, {"BTC": 130_000}, at=T0 + 1_000)
    alice = ex.state.accounts[ALICE]
    assert (
        alice.positions == {} and alice.spot == {} and alice.supply_basis == {} and alice.borrow_basis == {}
    )
    [rec] = [r for r in ex.state.history.liquidations[ALICE] if r["kind"] == "perpDeficit"]
    assert usd(1_000) <= usd(rec["deficit"]) < usd("1000.01")
    assert usd("2399.99") < usd(rec["waterfall"]["userCollateral"]) <= usd(2_400)
    backstop = ex.state.accounts[BACKSTOP]
    assert backstop.spot[ueth] == 25 * 10**7  # 0.25 UETH (9 decimals)
    assert abs(ex.valuer().account_value_usdc(backstop)) < Fraction(1, 10**6)
    assert_conserved(ex)

    ex.apply(A.Deposit(user=MAKER, amount=D(10_000)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(10_000), to_perp=False))
    rest(ex, MAKER, "@151", True, 4_000, 1)
    usdc_before = ex.state.accounts[BACKSTOP].spot[USDC_T]
    ex.apply(A.AdvanceTime(), at=T0 + 1_000 + 10 * MINUTE)
    backstop = ex.state.accounts[BACKSTOP]
    assert backstop.spot[ueth] == 125 * 10**6
    assert backstop.spot[USDC_T] == usdc_before + usd(500)  # still below 0: nothing repaid yet
    assert_conserved(ex)


def test_interest_alone_makes_a_borrower_liquidatable_at_the_hourly_index() -> None:
    """Debt grows with time, not only with prices (Hyperliquid docs 'Portfolio margin': interest accrues
    continuously and is indexed hourly). The FAQ account at HYPE $38: PMR (20 + 250) / (10 x 38 x 0.75 = 285)
    = 0.9474, healthy. Utilization 250 / 1,000 = 25% -> borrow rate 5% a year ('Portfolio margin' curve). 60
    days later the debt is 250 x e^(0.05 x 60/365) = 252.07 and PMR (20 + 252.07) / 285 = 0.9546 > 0.95: the
    account is liquidated when the clock crosses the hour, though no action touched it."""
    ex = _faq_account()
    set_marks(ex, {"HYPE": 38}, at=T0 + 1, spot={"@107": 38})
    alice = ex.state.accounts[ALICE]
    assert ex.valuer().pm_legs(alice).ratio == Fraction(270, 285)
    assert _takeovers(ex) == []
    day = 86_400_000
    ex.apply(A.AdvanceTime(), at=T0 + 60 * day)
    assert _takeovers(ex), "the borrower was not checked at the hourly index"
    assert _takeovers(ex)[0]["time"] == T0 + 60 * day
    assert ex.valuer().pm_legs(ex.state.accounts[ALICE]).ratio <= Fraction(95, 100)
    assert_conserved(ex)
