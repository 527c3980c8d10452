"""Advancing the exchange clock over many hours at once (docs/rules/funding.md "Advancing the clock").

Between two actions books, oracles and positions cannot change, so an ``AdvanceTime`` many hours ahead
computes each perp's rate and each position's payment once and applies the hours' sum. These tests check
that this is the same as passing the hours one action at a time (hour-by-hour sampling, rates and payments),
and compute a 30-day advance by hand (Hyperliquid docs 'Funding': hourly rate F / 8, on oracle notional,
payers round up).
"""

from __future__ import annotations

import copy
from decimal import Decimal as D
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB, CAROL, MAKER, exchange, fund_lender, open_gates

HOUR = 3_600_000
DAY = 24 * HOUR
UNI = "0x" + "d0" * 20
PM = "0x" + "f0" * 20
BTC, ETH, HYPE = 0, 1, 159


def _order(ex: Exchange, user: str, coin: str, is_buy: bool, px: str, sz: str, tif: str = "Gtc") -> None:
    spec = O.OrderSpec(asset=coin, is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec(tif))  # type: ignore[arg-type]
    events = ex.apply(O.PlaceOrder(user=user, orders=[spec]))
    (ev,) = [e for e in events if e.kind == "orderStatuses"]
    assert "error" not in ev.statuses[0], ev


@cache
def _world() -> Exchange:
    """Positions of every kind, a BTC book whose premium changed in the middle of hour 2, a borrower.

    BOB long 1 BTC (cross, standard) against ALICE; CAROL long 0.5 ETH isolated against ALICE; UNI (unified
    account) short 10 HYPE against BOB; PM borrows 1,000 USDC from the lender under portfolio margin. The
    maker's BTC bid at 100,200 (impact bid above the oracle: premium 0.002) rests until 1:20, then only its
    ask at 100,300 (premium 0).
    """
    ex = exchange("hyperliquid", mutate=open_gates)
    ex.apply(
        A.SetPrices(oracle={"BTC": D(100000), "ETH": D(3000), "HYPE": D(40)}, spot={"@107": D(40)}), at=1_000
    )
    for user in (ALICE, BOB, CAROL, MAKER, UNI):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))
    ex.apply(A.SetAbstraction(user=UNI, abstraction="unifiedAccount"))
    ex.apply(A.UpdateLeverage(user=CAROL, asset="ETH", is_cross=False, leverage=10))
    _order(ex, ALICE, "BTC", False, "100000", "1")
    _order(ex, BOB, "BTC", True, "100000", "1", "Ioc")
    _order(ex, ALICE, "ETH", False, "3000", "0.5")
    _order(ex, CAROL, "ETH", True, "3000", "0.5", "Ioc")
    _order(ex, UNI, "HYPE", False, "40", "10")
    _order(ex, BOB, "HYPE", True, "40", "10", "Ioc")
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=PM, token="HYPE", amount=D(1000)))
    ex.apply(A.SetAbstraction(user=PM, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=PM, operation="borrow", token="USDC", amount=D(1000)))
    _order(ex, MAKER, "BTC", True, "100200", "0.3")
    _order(ex, MAKER, "BTC", False, "100300", "0.3")
    ex.apply(A.AdvanceTime(), at=HOUR + 10 * 60_000)
    (oid,) = [o.oid for o in ex.state.books[BTC].orders_of(MAKER) if o.is_buy]
    ex.apply(O.Cancel(user=MAKER, cancels=[O.CancelSpec(asset="BTC", oid=oid)]), at=HOUR + 20 * 60_000)
    return ex


def _copy(ex: Exchange) -> Exchange:
    return Exchange(ex.config, state=copy.deepcopy(ex.state))


def _seen(ex: Exchange) -> tuple[Any, ...]:
    """The state hash and every history a clock advance writes."""
    h = ex.state.history
    return ex.state_hash(), h.funding, h.funding_rates, h.interest, h.ledger


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 60 * HOUR), st.lists(st.integers(0, 60 * HOUR), max_size=6))
def test_one_advance_equals_the_same_hours_passed_one_action_at_a_time(span: int, cuts: list[int]) -> None:
    start = _world().state.time_ms
    at = start + span
    one, many = _copy(_world()), _copy(_world())
    one.apply(A.AdvanceTime(), at=at)
    for t in sorted({start + c for c in cuts if c < span} | {*range((start // HOUR + 1) * HOUR, at, HOUR)}):
        many.apply(A.AdvanceTime(), at=t)
    many.apply(A.AdvanceTime(), at=at)
    assert _seen(one) == _seen(many)


def test_thirty_days_at_once_by_hand() -> None:
    ex = _copy(_world())
    start = ex.state.time_ms  # 1:20
    bob_cash = ex.state.accounts[BOB].perp_cash[""]
    carol_raw = ex.state.accounts[CAROL].positions[ETH].raw_usd
    uni_usdc = ex.state.accounts[UNI].spot[0]
    ex.apply(A.AdvanceTime(), at=start + 30 * DAY)  # boundaries 2:00 .. 30 days later 1:00: 720 hours
    rates = views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 0})
    assert len(rates) == 721 and [r["time"] for r in rates[1:]] == [h * HOUR for h in range(2, 722)]
    # hour 2 (1:00-2:00): 240 samples (to 1:20) of P = 0.002, 480 of P = 0 -> P = 0.002 / 3;
    # F = P + clamp(0.0001 - P, +/-0.0005) = P - 0.0005 = 0.0015 / 9 = 1/6000; hourly 1/48000
    assert rates[1] == {
        "coin": "BTC",
        "fundingRate": "0.000020833333",
        "premium": "0.000666666667",
        "time": 2 * HOUR,
    }
    # every later hour: P = 0 -> interest only, 0.0001 / 8 = 0.0000125
    assert {(r["fundingRate"], r["premium"]) for r in rates[2:]} == {("0.0000125", "0.0")}
    # BOB long 1 BTC at oracle 100,000: 100,000 / 48,000 = 2.083333333.. -> pays 2.08333334 (up), then
    # 719 x 1.25; long 10 HYPE at 40: 720 x 0.005
    paid = 208_333_334 + 719 * 125_000_000 + 720 * 500_000
    assert bob_cash - ex.state.accounts[BOB].perp_cash[""] == paid
    # CAROL isolated long 0.5 ETH at 3,000: 720 x 0.01875 from her position's own margin
    assert carol_raw - ex.state.accounts[CAROL].positions[ETH].raw_usd == 720 * 1_875_000
    # UNI (unified) short 10 HYPE receives 720 x 0.005 in spot USDC
    assert ex.state.accounts[UNI].spot[0] - uni_usdc == 720 * 500_000
    funding = views.info(ex, {"type": "userFunding", "user": BOB, "startTime": 0})
    assert len([r for r in funding if r["delta"]["coin"] == "BTC"]) == 721  # hour 1 paid before
    assert views.info(ex, {"type": "metaAndAssetCtxs"})[1][BTC]["funding"] == "0.0000125"
    # one interest record per hour for the borrower and the lender
    assert len(views.info(ex, {"type": "userBorrowLendInterest", "user": PM, "startTime": start})) == 720
