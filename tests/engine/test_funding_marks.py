"""Hourly funding and mark prices through the engine, computed by hand (Hyperliquid docs 'Robust price
indices', 'Funding').

Funding (Hyperliquid docs 'Funding', docs/rules/funding.md): premium = impact_price_difference / oracle with
impact_price_difference = max(impact_bid - oracle, 0) - max(oracle - impact_ask, 0); the impact prices are
the average execution prices of 20,000 USDC for BTC; P = the average of the 5-second samples over the hour;
F = P + clamp(0.0001 - P, -0.0005, 0.0005) is an 8-hour rate, each hour pays F / 8 capped at 4%/h, on
**oracle** notional, longs pay shorts when positive. Payers round up, receivers down; the dust goes to the
fee sink. Units: USDC wei 1e-8, BTC lots 1e-5.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB, MAKER

USDC = 10**8
HOUR = 3_600_000
T0 = 1_000
BTC, HYPE = 0, 159  # perp asset ids: index in mainnet meta.universe (BTC first, HYPE 159th)


def usd(x: str | int) -> int:
    value = D(str(x)) * USDC
    assert value == value.to_integral_value()
    return int(value)


def order(
    ex: Exchange, user: str, is_buy: bool, px: Any, sz: Any, tif: str = "Gtc", coin: str = "BTC"
) -> Any:
    events = ex.apply(
        O.PlaceOrder(
            user=user,
            orders=[
                O.OrderSpec(asset=coin, is_buy=is_buy, px=D(str(px)), sz=D(str(sz)), limit=O.LimitSpec(tif))
            ],  # type: ignore[arg-type]
        )
    )
    (ev,) = [e for e in events if e.kind == "orderStatuses"]
    return ev.statuses[0]


def cash(ex: Exchange, user: str) -> int:
    return ex.state.accounts[user].perp_cash.get("", 0)


def sink_usdc(ex: Exchange) -> int:
    acct = ex.state.accounts.get(ex.config.fees.fee_sink.lower())
    return 0 if acct is None else acct.spot.get(0, 0)


def setup(oracle: str = "100000", size: str = "1", deposit: int = 100_000) -> Exchange:
    """BOB long ``size`` BTC and ALICE short, traded at the oracle price; the book is left empty."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(oracle), "HYPE": D(40)}), at=T0)
    for user in (ALICE, BOB, MAKER):
        ex.apply(A.Deposit(user=user, amount=D(deposit)))
    assert "resting" in order(ex, ALICE, False, oracle, size)
    assert "filled" in order(ex, BOB, True, oracle, size, "Ioc")
    return ex


# =========================================================================== rates
def test_zero_premium_pays_interest_only_on_oracle_notional_with_dust_to_the_sink() -> None:
    ex = setup(oracle="100001", size="0.12345")
    # a mark different from the oracle: funding must use the oracle (Hyperliquid docs 'Funding' "not the mark
    # price")
    ex.apply(A.SetPrices(oracle={"BTC": D(100001)}, marks={"BTC": D(105000)}))
    assert ex.state.prices.mark[BTC] == 105000 * 10**8
    bob0, alice0, sink0 = cash(ex, BOB), cash(ex, ALICE), sink_usdc(ex)
    ex.apply(A.AdvanceTime(), at=HOUR)
    # empty book: no impact prices, premium 0 -> F = 0 + clamp(0.0001) = 0.0001, hourly 0.0001 / 8 = 0.0000125
    # BOB pays 0.12345 x 100,001 x 0.0000125 = 0.154314043125 USDC = 15,431,404.3125 wei -> 15,431,405 (up);
    # ALICE receives 15,431,404 (down); 1 wei of dust to the fee sink.
    # (On the mark it would be 0.12345 x 105,000 x 0.0000125 = 0.16202813.)
    assert cash(ex, BOB) - bob0 == -15_431_405
    assert cash(ex, ALICE) - alice0 == 15_431_404
    assert sink_usdc(ex) - sink0 == 1
    pos = views.info(ex, {"type": "clearinghouseState", "user": BOB})["assetPositions"][0]["position"]
    assert pos["cumFunding"] == {
        "allTime": "0.15431405",
        "sinceOpen": "0.15431405",
        "sinceChange": "0.15431405",
    }
    pos = views.info(ex, {"type": "clearinghouseState", "user": ALICE})["assetPositions"][0]["position"]
    assert pos["cumFunding"]["allTime"] == "-0.15431404"
    (rec,) = views.info(ex, {"type": "userFunding", "user": BOB})
    assert rec["time"] == HOUR
    assert rec["delta"] == {
        "type": "funding",
        "coin": "BTC",
        "usdc": "-0.15431405",
        "szi": "0.12345",
        "fundingRate": "0.0000125",
        "nSamples": None,
    }
    (rec,) = views.info(ex, {"type": "userFunding", "user": ALICE})
    assert (rec["delta"]["usdc"], rec["delta"]["szi"]) == ("0.15431404", "-0.12345")
    assert views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 0}) == [
        {"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0", "time": HOUR}
    ]
    assert views.info(ex, {"type": "metaAndAssetCtxs"})[1][BTC]["funding"] == "0.0000125"
    assert views.info(ex, {"type": "userFunding", "user": MAKER}) == []  # no position, no record


# (bids, asks) of MAKER as (px, sz) with the oracle at 100,000; expected P, hourly rate, BOB's payment
CASES = [
    pytest.param(
        [(100020, "0.2")],
        [(100100, "0.2")],
        "0.0002",
        "0.0000125",
        "1.25",
        id="premium-inside-the-clamp-band",
        # impact bid 100,020 (0.2 x 100,020 = 20,004 >= 20,000): P = 20 / 100,000 = 0.0002;
        # F = 0.0002 + clamp(-0.0001) = 0.0001 -> hourly 0.0000125; 1 x 100,000 x 0.0000125 = 1.25
    ),
    pytest.param(
        [(100200, "0.2")],
        [(100300, "0.2")],
        "0.002",
        "0.0001875",
        "18.75",
        id="premium-beyond-the-clamp",
        # P = 200 / 100,000 = 0.002; F = 0.002 + clamp(-0.0019 -> -0.0005) = 0.0015 -> hourly 0.0001875
    ),
    pytest.param(
        [(99700, "0.2")],
        [(99800, "0.21")],
        "-0.002",
        "-0.0001875",
        "-18.75",
        id="negative-premium-shorts-pay",
        # impact ask 99,800: P = -200 / 100,000; F = -0.002 + clamp(0.0021 -> 0.0005) = -0.0015
    ),
    pytest.param(
        [(150000, "0.14")],
        [(160000, "0.14")],
        "0.5",
        "0.04",
        "4000",
        id="capped-at-4pct-per-hour",
        # P = 50,000 / 100,000 = 0.5; F = 0.4995; F / 8 = 0.0624375 > 0.04 -> 0.04; 100,000 x 0.04
    ),
    pytest.param(
        [(40000, "0.6")],
        [(50000, "0.41")],
        "-0.5",
        "-0.04",
        "-4000",
        id="capped-at-minus-4pct-per-hour",
        # impact ask 50,000 (0.41 x 50,000 = 20,500): P = -0.5; F = -0.4995; F / 8 < -0.04 -> -0.04
    ),
]


@pytest.mark.parametrize(("bids", "asks", "premium", "rate", "paid"), CASES)
def test_hourly_funding_from_impact_prices(
    bids: list[tuple[int, str]], asks: list[tuple[int, str]], premium: str, rate: str, paid: str
) -> None:
    ex = setup()
    for px, sz in bids:
        assert "resting" in order(ex, MAKER, True, px, sz)
    for px, sz in asks:
        assert "resting" in order(ex, MAKER, False, px, sz)
    bob0, alice0, sink0 = cash(ex, BOB), cash(ex, ALICE), sink_usdc(ex)
    ex.apply(A.AdvanceTime(), at=HOUR)
    # every 5-second slot of the hour saw this book (Hyperliquid docs 'Funding' "sampled every 5 seconds")
    (hist,) = views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 0})
    assert hist == {"coin": "BTC", "fundingRate": rate, "premium": premium, "time": HOUR}
    # 1 BTC long pays 1 x oracle 100,000 x rate to the 1 BTC short, exactly: no dust
    assert cash(ex, BOB) - bob0 == -usd(paid)
    assert cash(ex, ALICE) - alice0 == usd(paid)
    assert sink_usdc(ex) == sink0
    assert ex.state.accounts[MAKER].perp_cash[""] == usd(100_000)  # resting orders pay no funding


def test_premium_is_averaged_over_the_hours_samples() -> None:
    ex = setup()
    order(ex, MAKER, True, 100200, "0.2")  # P = 0.002 while it rests
    order(ex, MAKER, False, 100300, "0.2")
    # cancel everything at 30 minutes: slots 1..360 (5 s .. 1,800 s) saw P = 0.002, slots 361..720 P = 0
    ex.apply(
        O.Cancel(user=MAKER, cancels=[O.CancelSpec(asset="BTC", oid=3), O.CancelSpec(asset="BTC", oid=4)]),
        at=HOUR // 2,
    )
    bob0 = cash(ex, BOB)
    ex.apply(A.AdvanceTime(), at=HOUR)
    # P = 0.001; F = 0.001 + clamp(-0.0009 -> -0.0005) = 0.0005; hourly 0.0000625; 100,000 x that = 6.25
    (hist,) = views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 0})
    assert (hist["premium"], hist["fundingRate"]) == ("0.001", "0.0000625")
    assert cash(ex, BOB) - bob0 == -usd("6.25")


def test_funding_every_hour_and_cum_funding_accumulates() -> None:
    ex = setup()
    bob0 = cash(ex, BOB)
    ex.apply(A.AdvanceTime(), at=3 * HOUR + 10)  # three hour boundaries pass: three payments of 1.25
    assert cash(ex, BOB) - bob0 == -usd("3.75")
    assert [r["time"] for r in views.info(ex, {"type": "userFunding", "user": BOB})] == [
        HOUR,
        2 * HOUR,
        3 * HOUR,
    ]
    assert len(views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 0})) == 3
    pos = views.info(ex, {"type": "clearinghouseState", "user": BOB})["assetPositions"][0]["position"]
    assert pos["cumFunding"]["allTime"] == "3.75"
    # the funding view filters by time
    assert len(views.info(ex, {"type": "fundingHistory", "coin": "BTC", "startTime": 2 * HOUR})) == 2


def test_funding_uses_the_oracle_at_the_hour_not_the_trade_price() -> None:
    ex = setup()
    ex.apply(A.SetPrices(oracle={"BTC": D(120000)}, marks={"BTC": D(80000)}), at=HOUR - 1)
    bob0 = cash(ex, BOB)
    ex.apply(A.AdvanceTime(), at=HOUR)
    # 1 BTC x oracle 120,000 x 0.0000125 = 1.5 (not 100,000 traded, not 80,000 mark)
    assert cash(ex, BOB) - bob0 == -usd("1.5")


# =========================================================================== mark price
def test_mark_is_the_oracle_rounded_to_the_price_grid_without_a_book() -> None:
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D("100000.123"), "HYPE": D("40.1235")}), at=T0)
    # Hyperliquid docs 'Robust price indices' with only input 1 (oracle + an EMA with no value yet) -> the
    # oracle, rounded half up onto the grid (docs/rules/mark-price.md): BTC >= 100,000 has integer ticks; HYPE
    # (szDecimals 2) 5 sig figs
    assert ex.state.prices.mark[BTC] == 100000 * 10**8
    assert ex.state.prices.mark[HYPE] == 40_124 * 10**5
    ctx = views.info(ex, {"type": "metaAndAssetCtxs"})[1]
    assert (ctx[BTC]["markPx"], ctx[BTC]["oraclePx"]) == ("100000", "100000.123")
    assert (ctx[HYPE]["markPx"], ctx[HYPE]["oraclePx"]) == ("40.124", "40.1235")
    ex.apply(A.SetPrices(oracle={"BTC": D("99999.95"), "HYPE": D("40.1234")}), at=T0 + 3_000)
    assert ex.state.prices.mark[BTC] == 100000 * 10**8  # 99,999.95 -> 5 significant figures: 100,000
    assert ex.state.prices.mark[HYPE] == 40_123 * 10**5


@pytest.mark.parametrize("oracle", [100000, 98000])
def test_mark_with_a_book_is_the_median_of_bid_ask_last(oracle: int) -> None:
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}), at=T0)
    for user in (BOB, MAKER):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))
    order(ex, MAKER, False, 100500, "0.1")
    order(ex, BOB, True, 100500, "0.1", "Ioc")  # last trade 100,500
    order(ex, MAKER, True, 99000, "0.1")  # best bid
    order(ex, MAKER, False, 101000, "0.1")  # best ask
    ex.apply(A.SetPrices(oracle={"BTC": D(oracle)}), at=T0 + 3_000)
    # Hyperliquid docs 'Robust price indices' inputs: (1) oracle + EMA150(mid - oracle) = oracle + (100,000 -
    # oracle) = 100,000 (one sample); (2) median(99,000, 101,000, 100,500) = 100,500; no external mids, so
    # with exactly two inputs the 30 s EMA of (2) = 100,500 is added: median(100,000, 100,500, 100,500) =
    # 100,500 for either oracle
    assert ex.state.prices.mark[BTC] == 100500 * 10**8
    assert views.info(ex, {"type": "metaAndAssetCtxs"})[1][BTC]["markPx"] == "100500"


def test_explicit_marks_override_the_computed_mark() -> None:
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}), at=T0)
    ex.apply(A.Deposit(user=MAKER, amount=D(100_000)))
    order(ex, MAKER, True, 99000, "0.1")
    order(ex, MAKER, False, 101000, "0.1")
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}, marks={"BTC": D(97000)}), at=T0 + 3_000)
    assert ex.state.prices.mark[BTC] == 97000 * 10**8
    assert ex.state.prices.oracle[BTC] == 100000 * 10**8
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}), at=T0 + 6_000)  # without marks: computed again
    assert ex.state.prices.mark[BTC] == 100000 * 10**8  # median(oracle + EMA(0), 100,000, 100,000)


def test_isolated_position_pays_funding_from_its_own_margin() -> None:
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}), at=T0)
    for user in (ALICE, BOB):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))
    ex.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=False, leverage=10))
    order(ex, ALICE, False, 100000, "1")
    order(ex, BOB, True, 100000, "1", "Ioc")
    pos = ex.state.accounts[BOB].positions[BTC]
    raw0, cash0 = pos.raw_usd, cash(ex, BOB)
    ex.apply(A.AdvanceTime(), at=HOUR)
    # 1 x 100,000 x 0.0000125 = 1.25 comes out of the isolated rawUsd, not the cross balance (Hyperliquid docs
    # 'Info endpoint: Perpetuals')
    assert pos.raw_usd - raw0 == -usd("1.25") and cash(ex, BOB) == cash0
    assert cash(ex, ALICE) - 0 == usd(100_000) + usd(100_000) - usd(15) + usd("1.25")  # 0.015% maker fee
