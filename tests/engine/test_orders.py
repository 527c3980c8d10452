"""Orders through the engine: placement, matching, holds, margin checks, triggers, cancels, views.

Every amount is computed by hand in the comments from the hyperliquid preset (Hyperliquid docs 'Fees', tier
0): perps taker 0.045% / maker 0.015% on notional, in USDC; spot taker 0.07% / maker 0.04%, charged in the
token each side receives. BTC: szDecimals 5, max leverage 40 (default 20x cross); HYPE perp: szDecimals 2, max
10x (default 10x). Units: USDC wei 1e-8, HYPE wei 1e-8, BTC lots 1e-5, HYPE lots 1e-2. Tick rules, minimums,
maximum order value, TIF, triggers, STP and block ordering: Hyperliquid docs 'Order book'; margin checks at
placement and again for the resting side at each match: Hyperliquid docs 'Margining'.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from netclear.errors import InvalidAction
from tests.conftest import ALICE, BOB, CAROL, MAKER, fund_lender

USDC = 10**8  # USDC wei per USDC
HYPE_WEI = 10**8
T0 = 1_000
BTC, HYPE = 0, 159  # perp asset ids: their index in the preset's (mainnet) meta.universe
HYPE_SPOT = 10107  # @107 = 10000 + spot pair index


def usd(x: str | int) -> int:
    """USDC amount in wei, exact."""
    value = D(str(x)) * USDC
    assert value == value.to_integral_value()
    return int(value)


def new_exchange(**deposits: Any) -> Exchange:
    ex = Exchange("hyperliquid")
    ex.apply(
        A.SetPrices(oracle={"BTC": D(100000), "HYPE": D(40)}, spot={"@142": D(100000), "@107": D(40)}), at=T0
    )
    for user in (ALICE, BOB, CAROL, MAKER):
        ex.apply(A.Deposit(user=user, amount=D(deposits.get(user, 10_000))))
    return ex


def spec(
    asset: int | str,
    is_buy: bool,
    px: Any,
    sz: Any,
    tif: str = "Gtc",
    *,
    reduce_only: bool = False,
    cloid: str | None = None,
) -> O.OrderSpec:
    return O.OrderSpec(
        asset=asset,
        is_buy=is_buy,
        px=D(str(px)),
        sz=D(str(sz)),
        reduce_only=reduce_only,
        limit=O.LimitSpec(tif),  # type: ignore[arg-type]
        cloid=cloid,
    )


def trigger(
    asset: int | str,
    is_buy: bool,
    px: Any,
    sz: Any,
    trigger_px: Any,
    tpsl: str,
    *,
    is_market: bool = True,
    reduce_only: bool = True,
) -> O.OrderSpec:
    return O.OrderSpec(
        asset=asset,
        is_buy=is_buy,
        px=D(str(px)),
        sz=D(str(sz)),
        reduce_only=reduce_only,
        trigger=O.TriggerSpec(trigger_px=D(str(trigger_px)), is_market=is_market, tpsl=tpsl),  # type: ignore[arg-type]
    )


def place(
    ex: Exchange, user: str, *orders: O.OrderSpec, grouping: str = "na", at: int | None = None
) -> list[Any]:
    events = ex.apply(O.PlaceOrder(user=user, orders=list(orders), grouping=grouping), at=at)  # type: ignore[arg-type]
    return statuses_of(events)


def statuses_of(events: list[Any]) -> list[Any]:
    """The per-order statuses of an order action (its ``orderStatuses`` event)."""
    (ev,) = [e for e in events if e.kind == "orderStatuses"]
    out: list[Any] = ev.statuses
    return out


def order(
    ex: Exchange, user: str, asset: int | str, is_buy: bool, px: Any, sz: Any, tif: str = "Gtc", **kw: Any
) -> Any:
    return place(ex, user, spec(asset, is_buy, px, sz, tif, **kw))[0]


def cash(ex: Exchange, user: str) -> int:
    return ex.state.accounts[user].perp_cash.get("", 0)


def szi(ex: Exchange, user: str, asset: int = BTC) -> int:
    pos = ex.state.accounts[user].positions.get(asset)
    return 0 if pos is None else pos.szi


def sink(ex: Exchange) -> dict[int, int]:
    acct = ex.state.accounts.get(ex.config.fees.fee_sink.lower())
    return {} if acct is None else dict(acct.spot)


def fills(ex: Exchange, user: str) -> list[dict[str, Any]]:
    """The user's fills, oldest first (``userFills`` answers most recent first)."""
    out: list[dict[str, Any]] = views.info(ex, {"type": "userFills", "user": user})
    return out[::-1]


def status_of(ex: Exchange, user: str, oid: int | str) -> str:
    st = views.info(ex, {"type": "orderStatus", "user": user, "oid": oid})
    if st["status"] != "order":
        return str(st["status"])
    return str(st["order"]["status"])


def err(asset: int, message: str) -> dict[str, str]:
    return {"error": f"{message} asset={asset}"}


def to_spot(ex: Exchange, user: str, amount: Any) -> None:
    ex.apply(A.UsdClassTransfer(user=user, amount=D(str(amount)), to_perp=False))


CLOID_A = "0x" + "00" * 15 + "0a"
CLOID_B = "0x" + "00" * 15 + "0b"


# =========================================================================== GTC / IOC / ALO
def test_gtc_rests_then_fills_at_makers_price_with_fees_and_positions() -> None:
    ex = new_exchange()
    # ALICE rests a sell of 0.1 BTC at 101,000: hold = 0.1 x 101,000 / 20 = 505 USDC (Hyperliquid docs
    # 'Margining')
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    assert ex.state.accounts[ALICE].order_margin == {BTC: (0, usd(505))}
    # BOB's buy limit 102,000 crosses and trades at the maker's price 101,000 (price-time priority, 'Order
    # book')
    assert order(ex, BOB, "BTC", True, 102000, "0.1") == {
        "filled": {"totalSz": "0.1", "avgPx": "101000", "oid": 2}
    }
    # notional 0.1 x 101,000 = 10,100; taker 0.045% = 4.545, maker 0.015% = 1.515 (Hyperliquid docs 'Fees')
    assert cash(ex, ALICE) == usd(10_000) + usd(10_100) - usd("1.515")  # 20,098.485: short proceeds - fee
    assert cash(ex, BOB) == usd(10_000) - usd(10_100) - usd("4.545")  # -104.545: long cash leg - fee
    assert szi(ex, ALICE) == -10_000 and szi(ex, BOB) == 10_000  # -0.1 / +0.1 BTC in 1e-5 lots
    assert sink(ex) == {0: usd("6.06")}  # 4.545 + 1.515
    assert ex.state.accounts[ALICE].order_margin == {} and ex.state.accounts[BOB].order_margin == {}
    assert ex.state.accounts[ALICE].open_orders == 0 and len(ex.state.books[BTC]) == 0
    (fa,) = fills(ex, ALICE)
    (fb,) = fills(ex, BOB)
    assert (
        fa["px"],
        fa["sz"],
        fa["side"],
        fa["fee"],
        fa["oid"],
        fa["crossed"],
        fa["dir"],
        fa["closedPnl"],
    ) == ("101000", "0.1", "A", "1.515", 1, False, "Open Short", "0.0")
    assert (
        fb["px"],
        fb["sz"],
        fb["side"],
        fb["fee"],
        fb["oid"],
        fb["crossed"],
        fb["dir"],
        fb["closedPnl"],
    ) == ("101000", "0.1", "B", "4.545", 2, True, "Open Long", "0.0")
    assert fa["tid"] == fb["tid"] and fa["feeToken"] == "USDC"
    # BOB's account value at mark 100,000: -104.545 + 0.1 x 100,000 = 9,895.455 (Hyperliquid docs 'Info
    # endpoint: Perpetuals')
    ch = views.info(ex, {"type": "clearinghouseState", "user": BOB})
    assert ch["marginSummary"]["accountValue"] == "9895.455"

    # Closing half: ALICE bids 0.05 at 100,000 (closes her short: opening part 0, no hold), BOB sells IOC
    assert order(ex, ALICE, "BTC", True, 100000, "0.05") == {"resting": {"oid": 3}}
    assert ex.state.accounts[ALICE].order_margin in ({}, {BTC: (0, 0)})  # a closing order holds nothing
    assert order(ex, BOB, "BTC", False, 99000, "0.05", "Ioc") == {
        "filled": {"totalSz": "0.05", "avgPx": "100000", "oid": 4}
    }
    # notional 5,000: taker 2.25, maker 0.75; closed pnl ('Entry price and PnL', at the fill price, fees
    # apart): BOB long entry 101,000: (100,000 - 101,000) x 0.05 = -50; ALICE short: +50
    assert cash(ex, ALICE) == usd("20098.485") - usd(5_000) - usd("0.75")
    assert cash(ex, BOB) == usd("-104.545") + usd(5_000) - usd("2.25")
    assert szi(ex, ALICE) == -5_000 and szi(ex, BOB) == 5_000
    assert sink(ex) == {0: usd("9.06")}
    assert (fills(ex, BOB)[-1]["dir"], fills(ex, BOB)[-1]["closedPnl"]) == ("Close Long", "-50")
    assert (fills(ex, ALICE)[-1]["dir"], fills(ex, ALICE)[-1]["closedPnl"]) == ("Close Short", "50")
    assert fills(ex, ALICE)[-1]["startPosition"] == "-0.1"


def test_ioc_partial_fill_drops_the_remainder() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    # IOC buy 0.3: 0.1 fills, 0.2 is canceled (Hyperliquid docs 'Order types' "IOC cancels the unfilled
    # remainder")
    assert order(ex, BOB, "BTC", True, 100000, "0.3", "Ioc") == {
        "filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 2}
    }
    assert len(ex.state.books[BTC]) == 0
    bob = ex.state.accounts[BOB]
    # the placement hold 0.3 x 100,000 / 20 = 1,500 is fully released
    assert bob.order_margin == {} and bob.open_orders == 0 and szi(ex, BOB) == 10_000
    assert cash(ex, BOB) == usd(10_000) - usd(10_000) - usd("4.5")  # taker fee 0.045% x 10,000
    assert views.info(ex, {"type": "openOrders", "user": BOB}) == []
    assert status_of(ex, BOB, 2) == "canceled"  # the remainder was canceled


def test_ioc_with_no_match_is_an_error_and_changes_nothing() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100100, "0.1")
    before = ex.state.accounts[BOB].clone()
    assert order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc") == err(
        BTC, "Order could not immediately match against any resting orders."
    )
    after = ex.state.accounts[BOB]
    assert after.perp_cash == before.perp_cash and after.positions == {} and after.order_margin == {}
    assert sink(ex) == {}
    assert ex.state.books[BTC].best_ask() == 100100 * 10**8


def test_alo_that_would_cross_is_rejected_with_the_bbo_and_one_that_does_not_rests() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", True, 99000, "0.1")
    # Hyperliquid docs 'Order types': "ALO is canceled instead of matching immediately"; the message
    # carries the bbo
    assert order(ex, CAROL, "BTC", True, 100000, "0.1", "Alo") == err(
        BTC, "Post only order would have immediately matched, bbo was 99000@100000."
    )
    assert ex.state.accounts[CAROL].order_margin == {} and ex.state.accounts[CAROL].open_orders == 0
    assert order(ex, CAROL, "BTC", True, 99500, "0.1", "Alo") == {"resting": {"oid": 4}}
    book = views.info(ex, {"type": "l2Book", "coin": "BTC"})
    assert book["levels"][0] == [{"px": "99500", "sz": "0.1", "n": 1}, {"px": "99000", "sz": "0.1", "n": 1}]
    assert book["levels"][1] == [{"px": "100000", "sz": "0.1", "n": 1}]
    # an ALO on an empty side rests as well
    assert order(ex, CAROL, "HYPE", True, 39, 1, "Alo") == {"resting": {"oid": 5}}


# =========================================================================== priority and walking the book
def test_price_time_priority_better_price_first_then_fifo() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100100, "0.1")  # oid 1, worse price
    order(ex, BOB, "BTC", False, 100000, "0.1")  # oid 2, best price, first
    order(ex, CAROL, "BTC", False, 100000, "0.1")  # oid 3, best price, second
    assert order(ex, MAKER, "BTC", True, 100100, "0.15", "Ioc") == {
        "filled": {"totalSz": "0.15", "avgPx": "100000", "oid": 4}
    }
    assert [f["sz"] for f in fills(ex, BOB)] == ["0.1"]  # BOB (first at 100,000) fully
    assert [f["sz"] for f in fills(ex, CAROL)] == ["0.05"]  # then CAROL
    assert fills(ex, ALICE) == []
    # the next taker finishes CAROL (0.05 at 100,000) then ALICE (0.05 at 100,100):
    # avgPx = (0.05 x 100,000 + 0.05 x 100,100) / 0.1 = 100,050
    assert order(ex, MAKER, "BTC", True, 100100, "0.1", "Ioc") == {
        "filled": {"totalSz": "0.1", "avgPx": "100050", "oid": 5}
    }
    assert [f["px"] for f in fills(ex, MAKER)] == ["100000", "100000", "100000", "100100"]
    assert ex.state.books[BTC].get(1) is not None and ex.state.books[BTC].get(1).sz == 5_000  # type: ignore[union-attr]


def test_walking_several_levels_avg_px_and_per_fill_fees() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", False, 100100, "0.2")
    order(ex, CAROL, "BTC", False, 100200, "0.3")
    # 0.1 @ 100,000 + 0.2 @ 100,100 + 0.15 @ 100,200 = 10,000 + 20,020 + 15,030 = 45,050 for 0.45
    # avgPx = 45,050 / 0.45 = 100,111.111...  (8 decimals in the status)
    assert order(ex, MAKER, "BTC", True, 100200, "0.45", "Ioc") == {
        "filled": {"totalSz": "0.45", "avgPx": "100111.11111111", "oid": 4}
    }
    # taker fee per fill: 4.5 + 9.009 + 6.7635 = 20.2725
    assert cash(ex, MAKER) == usd(10_000) - usd(45_050) - usd("20.2725")
    assert [f["fee"] for f in fills(ex, MAKER)] == ["4.5", "9.009", "6.7635"]
    assert szi(ex, MAKER) == 45_000
    # maker fees 0.015%: 1.5 + 3.003 + 2.2545 = 6.7575 -> sink 27.03
    assert sink(ex) == {0: usd("27.03")}
    assert views.info(ex, {"type": "l2Book", "coin": "BTC"})["levels"][1] == [
        {"px": "100200", "sz": "0.15", "n": 1}
    ]


# =========================================================================== reduce-only
def test_reduce_only_that_would_increase_is_rejected_and_larger_is_clamped() -> None:
    ex = new_exchange()
    assert order(ex, BOB, "BTC", True, 100000, "0.1", reduce_only=True) == err(
        BTC, "Reduce only order would increase position."
    )  # no position at all
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc")  # BOB long 0.1
    assert order(ex, BOB, "BTC", True, 100000, "0.1", reduce_only=True) == err(
        BTC, "Reduce only order would increase position."
    )  # a buy on a long
    carol_oid = order(ex, CAROL, "BTC", True, 99000, "0.5")["resting"]["oid"]  # a deep bid
    # reduce-only sell of 0.3 on a long of 0.1 is clamped to 0.1 (no $10 minimum for reduce-only, 'Order
    # book')
    st = order(ex, BOB, "BTC", False, 99000, "0.3", "Ioc", reduce_only=True)
    assert st["filled"]["totalSz"] == "0.1" and st["filled"]["avgPx"] == "99000"
    assert szi(ex, BOB) == 0 and BTC not in ex.state.accounts[BOB].positions
    assert ex.state.books[BTC].get(carol_oid).sz == 40_000  # type: ignore[union-attr]  # CAROL keeps 0.4
    # BOB: -10,000 - 4.5 (open) + 9,900 - 4.455 (close, taker 0.045% of 9,900) = -108.955 net
    assert cash(ex, BOB) == usd(10_000) - usd("108.955")
    assert fills(ex, BOB)[-1]["closedPnl"] == "-100"  # (99,000 - 100,000) x 0.1


def test_reduce_only_gtc_rests_at_the_position_size_without_hold() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc")
    assert order(ex, BOB, "BTC", False, 105000, "0.3", reduce_only=True) == {"resting": {"oid": 3}}
    ro = ex.state.books[BTC].get(3)
    assert ro is not None and ro.sz == 10_000 and ro.orig_sz == 30_000  # clamped to 0.1 of 0.3
    assert ex.state.accounts[BOB].order_margin in ({}, {BTC: (0, 0)})  # reduce-only holds nothing


# =========================================================================== self-trade prevention
def test_self_trade_prevention_expires_the_resting_order_without_fill_or_fee() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 100000, "0.1") == {"resting": {"oid": 1}}
    order(ex, BOB, "BTC", False, 100000, "0.1")  # oid 2, behind ALICE at the same price
    before = cash(ex, ALICE)
    # ALICE's own buy meets her resting sell first: Hyperliquid docs 'Order book' "Trades between the same
    # address cancel the resting order instead of causing a fill. No fees are deducted"; matching goes on to
    # BOB's order.
    assert order(ex, ALICE, "BTC", True, 100000, "0.1", "Ioc") == {
        "filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 3}
    }
    assert status_of(ex, ALICE, 1) == "selfTradeCanceled"
    assert [f["oid"] for f in fills(ex, ALICE)] == [3]  # only the trade with BOB
    assert cash(ex, ALICE) == before - usd(10_000) - usd("4.5")
    alice = ex.state.accounts[ALICE]
    assert alice.open_orders == 0 and alice.order_margin == {}

    # alone at the level: the IOC expires the resting order and then finds nothing
    order(ex, CAROL, "BTC", True, 99000, "0.1")  # oid 4
    assert order(ex, CAROL, "BTC", False, 99000, "0.1", "Ioc") == err(
        BTC, "Order could not immediately match against any resting orders."
    )
    assert status_of(ex, CAROL, 4) == "selfTradeCanceled"
    assert fills(ex, CAROL) == [] and cash(ex, CAROL) == usd(10_000)
    assert ex.state.accounts[CAROL].order_margin == {} and ex.state.accounts[CAROL].open_orders == 0
    assert sink(ex) == {0: usd("6")}  # only the ALICE-BOB trade: 4.5 + 1.5


# =========================================================================== tick, lot, minimum, maximum
@pytest.mark.parametrize(
    ("asset", "px", "sz", "ok"),
    [
        ("BTC", "100001", "0.1", True),  # 6 significant figures, but an integer: always allowed
        ("BTC", "123456", "0.1", True),
        ("BTC", "12345.6", "0.1", False),  # 6 significant figures with a decimal
        ("BTC", "100000.5", "0.1", False),  # 7 significant figures
        ("BTC", "99999.5", "0.1", False),  # 6 significant figures
        ("BTC", "9999.5", "0.01", True),  # 5 significant figures, 1 decimal = 6 - szDecimals 5
        ("BTC", "1234.56", "0.01", False),  # 2 decimals > 6 - 5
        ("HYPE", "40.001", "1", True),  # 5 sig figs, 3 decimals <= 6 - 2
        ("HYPE", "40.0001", "1", False),  # 6 significant figures
        ("HYPE", "4.0001", "3", True),  # 4 decimals = 6 - 2
        ("HYPE", "1.00001", "10", False),  # 5 decimals > 4
        ("@107", "40.0001", "1", False),  # spot: still 5 significant figures
        ("@107", "0.012345", "1000", True),  # spot: 8 - szDecimals 2 = 6 decimals
        ("@107", "0.0012345", "10000", False),  # 7 decimals
    ],
)
def test_tick_rules(asset: str, px: str, sz: str, ok: bool) -> None:
    ex = new_exchange()
    to_spot(ex, ALICE, 5_000)
    st = order(ex, ALICE, asset, True, px, sz)
    if ok:
        assert "resting" in st, st
    else:
        assert "error" in st and ("significant figures" in st["error"] or "decimals" in st["error"]), st


def test_lot_size_too_many_decimals() -> None:
    ex = new_exchange()
    st = order(ex, ALICE, "BTC", True, 100000, "0.000001")  # szDecimals 5
    assert "error" in st and "more than 5 decimals" in st["error"]
    st = order(ex, ALICE, "HYPE", True, 40, "1.001")  # szDecimals 2
    assert "error" in st and "more than 2 decimals" in st["error"]


def test_minimum_order_value() -> None:
    ex = new_exchange()
    to_spot(ex, ALICE, 100)
    # Hyperliquid docs 'Tick and lot size': "Order must have minimum value of $10."
    assert order(ex, ALICE, "BTC", True, 99999, "0.0001") == {
        "error": "Order must have minimum value of $10."
    }
    assert "resting" in order(ex, ALICE, "BTC", True, 100000, "0.0001")  # exactly $10
    assert order(ex, ALICE, "HYPE", True, "39.99", "0.25") == {
        "error": "Order must have minimum value of $10."
    }
    # spot: "Order must have minimum value of 10 {quote_token}."
    assert order(ex, ALICE, "@107", True, "39.99", "0.25") == {
        "error": "Order must have minimum value of 10 USDC."
    }
    assert "resting" in order(ex, ALICE, "@107", True, 40, "0.25")


def test_maximum_order_value_by_leverage_band() -> None:
    ex = new_exchange(**{ALICE: 40_000_000})
    # Hyperliquid docs 'Order book': market orders $30M if max leverage >= 25 (BTC 40x), $2M for [10, 20)
    # (HYPE 10x); limit orders 10 x that. IOC counts as a market order.
    st = order(ex, ALICE, "HYPE", True, 40, "50001", "Ioc")  # 50,001 x 40 = 2,000,040 > 2,000,000
    assert "error" in st and "market order value exceeds the maximum of $2,000,000" in st["error"]
    st = order(ex, ALICE, "HYPE", True, 40, "500001")  # 20,000,040 > 20,000,000 limit maximum
    assert "error" in st and "limit order value exceeds the maximum of $20,000,000" in st["error"]
    assert "resting" in order(ex, ALICE, "HYPE", True, 40, "50001")  # a GTC of 2,000,040 is fine
    st = order(ex, ALICE, "BTC", False, 100000, "300.01", "Ioc")  # 30,001,000 > 30,000,000
    assert "error" in st and "$30,000,000" in st["error"]
    st = order(ex, ALICE, "BTC", False, 100000, "3000.01")  # 300,001,000 > 300,000,000
    assert "error" in st and "$300,000,000" in st["error"]
    assert "resting" in order(ex, ALICE, "BTC", False, 100000, "300")  # exactly 30M as a limit


# =========================================================================== holds
def test_spot_holds_quote_for_buys_and_base_for_sells_released_on_cancel_and_fill() -> None:
    ex = new_exchange(**{ALICE: 1_000, BOB: 1_000})
    to_spot(ex, ALICE, 1_000)
    to_spot(ex, BOB, 1_000)
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    buy = order(ex, ALICE, "@107", True, 39, 2)["resting"]["oid"]  # holds ceil(2 x 39) = 78 USDC
    order(ex, ALICE, "@107", False, 41, 3)  # holds 3 HYPE
    alice = ex.state.accounts[ALICE]
    assert alice.spot_hold == {0: usd(78), 150: 3 * HYPE_WEI}
    view = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    assert [(b["coin"], b["total"], b["hold"]) for b in view["balances"]] == [
        ("USDC", "1000", "78"),
        ("HYPE", "10", "3"),
    ]
    # free: 1,000 - 78 = 922 USDC and 10 - 3 = 7 HYPE; at the mid (39 + 41) / 2 = 40: 922 / 40 = 23.05 HYPE
    aad = views.info(ex, {"type": "activeAssetData", "user": ALICE, "coin": "@107"})
    assert aad["availableToTrade"] == ["922", "7"] and aad["maxTradeSzs"] == ["23.05", "7"]
    ex.apply(O.Cancel(user=ALICE, cancels=[O.CancelSpec(asset="@107", oid=buy)]))
    assert alice.spot_hold == {150: 3 * HYPE_WEI}  # the quote hold is gone
    # BOB buys 1 of ALICE's 3: her hold falls to 2 HYPE. Spot fees in the token received ('Fees'):
    # ALICE maker 0.04% x 41 USDC = 0.0164 USDC; BOB taker 0.07% x 1 HYPE = 0.0007 HYPE
    assert order(ex, BOB, "@107", True, 41, 1, "Ioc") == {"filled": {"totalSz": "1", "avgPx": "41", "oid": 3}}
    assert alice.spot_hold == {150: 2 * HYPE_WEI}
    assert alice.spot == {0: usd(1_041) - usd("0.0164"), 150: 9 * HYPE_WEI}
    assert order(ex, BOB, "@107", True, 41, 2, "Ioc")["filled"]["totalSz"] == "2"
    assert alice.spot_hold == {} and alice.open_orders == 0
    # ALICE: 1,041 - 0.0164 + 82 - 0.0328 = 1,122.9508 USDC, 7 HYPE; BOB: 1,000 - 123 = 877 USDC,
    # 3 - 0.0007 - 0.0014 = 2.9979 HYPE
    assert alice.spot == {0: usd("1122.9508"), 150: 7 * HYPE_WEI}
    assert ex.state.accounts[BOB].spot == {0: usd(877), 150: usd("2.9979")}
    assert sink(ex) == {0: usd("0.0492"), 150: usd("0.0021")}
    assert [f["fee"] for f in fills(ex, BOB)] == ["0.0007", "0.0014"]
    assert {f["feeToken"] for f in fills(ex, BOB)} == {"HYPE"} and fills(ex, ALICE)[0]["feeToken"] == "USDC"


def test_perp_hold_is_initial_margin_larger_side_per_asset() -> None:
    ex = new_exchange()
    alice = ex.state.accounts[ALICE]
    order(ex, ALICE, "BTC", True, 99000, "0.1")  # 0.1 x 99,000 / 20 = 495
    sell = order(ex, ALICE, "BTC", False, 101000, "0.2")["resting"]["oid"]  # 0.2 x 101,000 / 20 = 1,010
    order(ex, ALICE, "HYPE", True, 39, 10)  # 10 x 39 / 10 (HYPE 10x) = 39
    assert alice.order_margin == {BTC: (usd(495), usd(1010)), HYPE: (usd(39), 0)}
    v = ex.valuer()
    assert v.order_margin(alice, "") == usd(1010) + usd(39)  # the larger side per asset
    # available to trade: 10,000 - 1,049 = 8,951; max size 8,951 x 20 / 100,000 = 1.7902 BTC
    aad = views.info(ex, {"type": "activeAssetData", "user": ALICE, "coin": "BTC"})
    assert aad["availableToTrade"] == ["8951", "8951"] and aad["maxTradeSzs"] == ["1.7902", "1.7902"]
    ex.apply(O.Cancel(user=ALICE, cancels=[O.CancelSpec(asset="BTC", oid=sell)]))
    assert alice.order_margin == {BTC: (usd(495), 0), HYPE: (usd(39), 0)}
    # a partial fill of 0.05 of the 0.1 bid releases half its hold: 495 x 0.05 / 0.1 = 247.5
    order(ex, BOB, "BTC", False, 99000, "0.05", "Ioc")
    assert alice.order_margin[BTC] == (usd("247.5"), 0) and szi(ex, ALICE) == 5_000
    # a sell of 0.2 on a long of 0.05 opens only 0.15: hold 0.15 x 101,000 / 20 = 757.5
    sell = order(ex, ALICE, "BTC", False, 101000, "0.2")["resting"]["oid"]
    ro = ex.state.books[BTC].get(sell)
    assert ro is not None and ro.tag.opening_sz == 15_000 and ro.tag.hold == usd("757.5")  # type: ignore[attr-defined]
    assert alice.order_margin[BTC] == (usd("247.5"), usd("757.5"))
    order(ex, BOB, "BTC", False, 99000, "0.05", "Ioc")  # fills the rest of the bid
    assert alice.order_margin == {BTC: (0, usd("757.5")), HYPE: (usd(39), 0)}
    assert szi(ex, ALICE) == 10_000 and alice.open_orders == 2


# =========================================================================== margin at placement and at match
def test_margin_check_at_placement() -> None:
    ex = new_exchange(**{ALICE: "499.99", BOB: 500})
    # Hyperliquid docs 'Margining': "position_size * mark_price / leverage" is required; 0.1 x 100,000 / 20 =
    # 500
    assert order(ex, ALICE, "BTC", True, 100000, "0.1") == err(
        BTC,
        "Insufficient margin to place order: dex main cross account value 499.99 is below its initial margin 500.",
    )
    assert order(ex, BOB, "BTC", True, 100000, "0.1") == {"resting": {"oid": 2}}  # exactly enough
    ex2 = new_exchange(**{ALICE: 1_000})
    to_spot(ex2, ALICE, 100)
    ex2.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    assert order(ex2, ALICE, "@107", True, 40, 3) == err(
        HYPE_SPOT, "Insufficient balance to place order: spot balance short of 20 USDC."
    )  # 3 x 40 = 120 > 100
    ex3 = new_exchange()
    ex3.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    assert order(ex3, ALICE, "@107", False, 40, 11) == err(
        HYPE_SPOT, "Insufficient balance to place order: spot balance short of 1 HYPE."
    )


def test_rejected_order_releases_its_hold() -> None:
    ex = new_exchange(**{ALICE: 100})
    st = order(ex, ALICE, "BTC", True, 100000, "0.1")  # needs 500
    assert "Insufficient margin" in st["error"]
    assert ex.state.accounts[ALICE].order_margin == {}  # fails: {0: (500 USDC, 0)} stays reserved
    # and so an order that fits is refused
    assert "resting" in order(ex, ALICE, "BTC", True, 100000, "0.01")  # needs 50


def test_rejected_spot_order_releases_its_hold() -> None:
    ex = new_exchange(**{ALICE: 100})
    to_spot(ex, ALICE, 100)
    st = order(ex, ALICE, "@107", True, 40, 3)  # needs 120 USDC
    assert "Insufficient balance" in st["error"]
    assert ex.state.accounts[ALICE].spot_hold == {}  # fails: {0: 120 USDC} stays reserved
    assert "resting" in order(ex, ALICE, "@107", True, 40, 2)


def test_maker_failing_its_margin_check_at_match_is_canceled_and_taker_goes_on() -> None:
    ex = new_exchange(**{ALICE: 600})
    # ALICE bids 0.1 at 100,000: hold 500 <= 600 at placement (Hyperliquid docs 'Margining')
    assert order(ex, ALICE, "BTC", True, 100000, "0.1") == {"resting": {"oid": 1}}
    order(ex, CAROL, "BTC", True, 99000, "0.1")  # oid 2, next level
    ex.apply(A.SetPrices(oracle={"BTC": D(90000)}, marks={"BTC": D(90000)}))
    # "again for the resting side at the matching of each order": buying 0.1 at 100,000 with mark 90,000
    # leaves ALICE 600 - 1.5 - 10,000 + 9,000 = -401.5 < IM 0.1 x 90,000 / 20 = 450: canceled, BOB goes on
    assert order(ex, BOB, "BTC", False, 99000, "0.2", "Ioc") == {
        "filled": {"totalSz": "0.1", "avgPx": "99000", "oid": 3}
    }
    assert status_of(ex, ALICE, 1) == "marginCanceled"
    alice = ex.state.accounts[ALICE]
    assert fills(ex, ALICE) == [] and alice.positions == {} and cash(ex, ALICE) == usd(600)
    assert alice.order_margin == {} and alice.open_orders == 0
    # BOB sold 0.1 to CAROL at 99,000: taker fee 4.455, maker fee 1.485
    assert cash(ex, BOB) == usd(10_000) + usd(9_900) - usd("4.455") and szi(ex, BOB) == -10_000
    assert cash(ex, CAROL) == usd(10_000) - usd(9_900) - usd("1.485") and szi(ex, CAROL) == 10_000
    assert sink(ex) == {0: usd("5.94")}
    assert ex.state.markets[BTC].open_interest == 10_000


def test_taker_failing_its_margin_check_at_match_stops_and_changes_nothing() -> None:
    ex = new_exchange(**{BOB: 600})
    order(ex, ALICE, "BTC", False, 100000, "0.1")  # oid 1
    ex.apply(A.SetPrices(oracle={"BTC": D(90000)}, marks={"BTC": D(90000)}))
    # placement hold 500 <= 600, but after the fill: 600 - 4.5 - 10,000 + 9,000 = -404.5 < IM 450
    st = order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc")
    assert "error" in st
    assert ex.state.accounts[BOB].positions == {} and cash(ex, BOB) == usd(600)
    assert ex.state.accounts[ALICE].positions == {} and cash(ex, ALICE) == usd(10_000)
    assert ex.state.books[BTC].get(1) is not None and sink(ex) == {}


def _holds_match_books(ex: Exchange) -> None:
    """Each account's ``order_margin`` is the sum of its resting perp orders' holds, per side."""
    want: dict[str, dict[int, list[int]]] = {}
    for asset, book in ex.state.books.items():
        for ro in book.iter_orders():
            if not ex.registry.is_spot_asset(asset):
                sides = want.setdefault(ro.user, {}).setdefault(asset, [0, 0])
                sides[0 if ro.is_buy else 1] += ro.tag.hold
    for address, acct in ex.state.accounts.items():
        have = {a: s for a, s in acct.order_margin.items() if any(s)}
        assert have == {a: tuple(s) for a, s in want.get(address, {}).items() if any(s)}, address


def test_gtc_taker_failing_its_margin_at_a_later_fill_keeps_earlier_fills_and_cancels_the_rest() -> None:
    """Regression (order state machine, TestOrderBooksTightMargin): a GTC taker that failed its check at a
    fill rested its remainder across the maker it could not trade with; the book refused it, the action
    was rolled back, but the self-trade expiry and the earlier fill had already left the book, so holds
    stayed reserved for orders that no longer rested (order_margin 744.6 vs the book's 743.6 USDC there).
    The remainder is now canceled ("marginCanceled", Hyperliquid docs 'Info endpoint' order statuses)."""
    ex = new_exchange(**{BOB: 600})
    assert order(ex, BOB, "BTC", False, 99000, "0.001") == {"resting": {"oid": 1}}  # hold 99 / 20 = 4.95
    order(ex, CAROL, "BTC", False, 99500, "0.001")  # oid 2, hold 4.975
    order(ex, ALICE, "BTC", False, 100000, "0.1")  # oid 3, hold 10,000 / 20 = 500
    ex.apply(A.SetPrices(oracle={"BTC": D(90000)}, marks={"BTC": D(90000)}))
    # BOB buys 0.101 at 100,000, GTC: hold ceil(10,100 / 20) = 505 on the buy side, larger than the
    # 4.95 ask, <= 600 (Hyperliquid docs 'Margining': checked at placement). Matching ('Order book'):
    # - his own ask at 99,000 is expired (self-trade prevention);
    # - 0.001 from CAROL at 99,500: fee 99.5 x 0.045% = 0.044775; value 600 - 0.044775 - 9.5 (mark 90,000)
    #   = 590.455225 >= IM 4.5 + the larger hold side (505 x 100 / 10,100 = 5 released, 500 left): fills;
    # - 0.1 from ALICE at 100,000: value 590.455225 - 4.5 - 1,000 = -414.044775 < IM 454.5 + 4.95 (the
    #   expired ask is released once matching ends): BOB fails.
    assert order(ex, BOB, "BTC", True, 100000, "0.101") == {
        "filled": {"totalSz": "0.001", "avgPx": "99500", "oid": 4}
    }
    assert status_of(ex, BOB, 1) == "selfTradeCanceled"
    assert status_of(ex, CAROL, 2) == "filled"
    assert status_of(ex, BOB, 4) == "marginCanceled"
    bob, alice, carol = (ex.state.accounts[u] for u in (BOB, ALICE, CAROL))
    # the hand-computed holds: BOB's buy remainder and expired ask hold nothing; ALICE's ask keeps 500
    assert bob.order_margin == {} and bob.open_orders == 0
    assert carol.order_margin == {} and carol.open_orders == 0
    assert alice.order_margin == {BTC: (0, usd(500))} and alice.open_orders == 1
    assert [ro.oid for ro in ex.state.books[BTC].iter_orders()] == [3]
    _holds_match_books(ex)
    # the fill stands: BOB long 0.001 (100 lots) for 99.5 + 0.044775; CAROL short, maker fee 0.014925
    assert szi(ex, BOB) == 100 and cash(ex, BOB) == usd(600) - usd("99.5") - usd("0.044775")
    assert szi(ex, CAROL) == -100 and cash(ex, CAROL) == usd(10_000) + usd("99.5") - usd("0.014925")
    assert sink(ex) == {0: usd("0.0597")}
    assert conservation_breaks(ex.state, ex.registry) == {}


def test_gtc_taker_failing_its_margin_at_the_first_fill_rests_nothing() -> None:
    ex = new_exchange(**{BOB: 600})
    order(ex, ALICE, "BTC", False, 100000, "0.1")  # oid 1
    ex.apply(A.SetPrices(oracle={"BTC": D(90000)}, marks={"BTC": D(90000)}))
    # as the IOC above: hold 500 <= 600 at placement, -404.5 < IM 450 after the fill; a GTC must not rest
    # across ALICE's ask either
    st = order(ex, BOB, "BTC", True, 100000, "0.1")
    assert st["error"].startswith("Insufficient margin to fill order: ")
    assert status_of(ex, BOB, 2) == "marginCanceled"
    assert ex.state.accounts[BOB].order_margin == {} and ex.state.accounts[BOB].open_orders == 0
    assert ex.state.accounts[BOB].positions == {} and cash(ex, BOB) == usd(600)
    assert ex.state.accounts[ALICE].order_margin == {BTC: (0, usd(500))}
    assert [ro.oid for ro in ex.state.books[BTC].iter_orders()] == [1] and sink(ex) == {}
    _holds_match_books(ex)


def test_cancel_and_cancel_by_cloid() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    assert order(ex, ALICE, "BTC", False, 102000, "0.1", cloid=CLOID_A) == {
        "resting": {"oid": 2, "cloid": CLOID_A}
    }
    assert ex.state.accounts[ALICE].open_orders == 2
    never = "Order was never placed, already canceled, or filled."
    # BOB cannot cancel ALICE's order
    ev = ex.apply(O.Cancel(user=BOB, cancels=[O.CancelSpec(asset="BTC", oid=1)]))
    assert ev[-1].statuses == [err(BTC, never)]
    ev = ex.apply(
        O.Cancel(user=ALICE, cancels=[O.CancelSpec(asset="BTC", oid=1), O.CancelSpec(asset="BTC", oid=1)])
    )
    assert ev[-1].statuses == ["success", err(BTC, never)]
    assert status_of(ex, ALICE, 1) == "canceled"
    ev = ex.apply(O.CancelByCloid(user=ALICE, cancels=[O.CloidCancelSpec(asset="BTC", cloid=CLOID_A)]))
    assert ev[-1].statuses == ["success"]
    assert status_of(ex, ALICE, CLOID_A) == "canceled"
    alice = ex.state.accounts[ALICE]
    assert alice.open_orders == 0 and alice.order_margin == {} and len(ex.state.books[BTC]) == 0
    ev = ex.apply(O.CancelByCloid(user=ALICE, cancels=[O.CloidCancelSpec(asset="BTC", cloid=CLOID_B)]))
    assert ev[-1].statuses == [err(BTC, never)]
    with pytest.raises(InvalidAction):  # a cloid is "0x" + 32 hex digits
        ex.apply(O.CancelByCloid(user=ALICE, cancels=[O.CloidCancelSpec(asset="BTC", cloid="0x1234")]))
    st = order(ex, ALICE, "BTC", False, 102000, "0.1", cloid="0x" + "zz" * 16)
    assert st == {"error": "must be hexadecimal"}
    # a cloid is unique per user among live orders
    order(ex, ALICE, "BTC", False, 102000, "0.1", cloid=CLOID_B)
    assert order(ex, ALICE, "BTC", False, 103000, "0.1", cloid=CLOID_B) == err(BTC, "Duplicate cloid.")
    assert "resting" in order(ex, BOB, "BTC", False, 103000, "0.1", cloid=CLOID_B)  # another user may


def test_modify_is_cancel_and_replace_with_a_new_oid() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1", cloid=CLOID_A) == {
        "resting": {"oid": 1, "cloid": CLOID_A}
    }
    order(ex, BOB, "BTC", False, 101000, "0.1")  # oid 2, behind ALICE
    # shrink ALICE's order: the replacement gets oid 3 (Hyperliquid docs 'Order book': modifies are classed by
    # the new order; book/orderbook.py: cancel-and-replace, new oid, cloid kept) and loses its time priority
    ev = ex.apply(O.Modify(user=ALICE, oid=1, order=spec("BTC", False, 101000, "0.05", cloid=CLOID_A)))
    assert ev[-1].statuses == [{"resting": {"oid": 3, "cloid": CLOID_A}}]
    assert status_of(ex, ALICE, 1) == "canceled" and status_of(ex, ALICE, 3) == "open"
    assert ex.state.accounts[ALICE].order_margin == {BTC: (0, usd("252.5"))}  # 0.05 x 101,000 / 20
    assert ex.state.accounts[ALICE].open_orders == 1
    order(ex, CAROL, "BTC", True, 101000, "0.1", "Ioc")  # oid 4: fills BOB, now first in the queue
    assert [f["oid"] for f in fills(ex, BOB)] == [2] and fills(ex, ALICE) == []
    # modify by cloid, to a new price and size
    ev = ex.apply(O.Modify(user=ALICE, oid=CLOID_A, order=spec("BTC", False, 102000, "0.2", cloid=CLOID_A)))
    assert ev[-1].statuses == [{"resting": {"oid": 5, "cloid": CLOID_A}}]
    assert ex.state.accounts[ALICE].order_margin == {BTC: (0, usd(1020))}  # 0.2 x 102,000 / 20
    before = ex.state_hash()
    with pytest.raises(InvalidAction) as rejected:  # a single modify of no open order: rejected whole
        ex.apply(O.Modify(user=ALICE, oid=999, order=spec("BTC", False, 102000, "0.2")))
    assert {"error": rejected.value.rule} == err(BTC, "Cannot modify canceled or filled order.")
    assert ex.state_hash() == before
    # batchModify: both orders replaced, each with a new oid
    order(ex, ALICE, "BTC", True, 98000, "0.1")  # oid 6 (a failed modify allocates no oid)
    buy = views.info(ex, {"type": "openOrders", "user": ALICE})[-1]["oid"]
    ev = ex.apply(
        O.BatchModify(
            user=ALICE,
            modifies=[
                O.ModifySpec(oid=5, order=spec("BTC", False, 103000, "0.1")),
                O.ModifySpec(oid=buy, order=spec("BTC", True, 97000, "0.1")),
            ],
        )
    )
    new_sell, new_buy = (s["resting"]["oid"] for s in ev[-1].statuses)
    assert new_sell > buy and new_buy == new_sell + 1
    opens = views.info(ex, {"type": "openOrders", "user": ALICE})
    assert [(o["oid"], o["side"], o["limitPx"], o["sz"]) for o in opens] == [
        (new_sell, "A", "103000", "0.1"),
        (new_buy, "B", "97000", "0.1"),
    ]
    # holds follow: buy 0.1 x 97,000 / 20 = 485, sell 0.1 x 103,000 / 20 = 515
    assert ex.state.accounts[ALICE].order_margin == {BTC: (usd(485), usd(515))}
    assert ex.state.accounts[ALICE].open_orders == 2


def test_modify_into_a_crossing_price_trades_like_a_new_order() -> None:
    ex = new_exchange()
    order(ex, BOB, "BTC", True, 100000, "0.1")  # oid 1
    order(ex, ALICE, "BTC", False, 101000, "0.1")  # oid 2
    ev = ex.apply(O.Modify(user=ALICE, oid=2, order=spec("BTC", False, 100000, "0.1")))
    assert ev[-1].statuses == [{"filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 3}}]
    assert szi(ex, ALICE) == -10_000 and szi(ex, BOB) == 10_000
    assert fills(ex, ALICE)[0]["crossed"] is True  # the replacement is the taker


# =========================================================================== triggers
def _long_bob(ex: Exchange, sz: str = "0.1") -> None:
    order(ex, ALICE, "BTC", False, 100000, sz)
    order(ex, BOB, "BTC", True, 100000, sz, "Ioc")


def test_stop_market_fires_on_mark_and_executes_as_ioc_at_mark_with_10pct_slippage() -> None:
    ex = new_exchange()
    _long_bob(ex)  # BOB long 0.1 at 100,000 (oids 1, 2)
    st = place(ex, BOB, trigger("BTC", False, 95000, "0.1", 95000, "sl"))[0]
    assert st == {"resting": {"oid": 3}}
    (fo,) = views.info(ex, {"type": "frontendOpenOrders", "user": BOB})
    assert (fo["isTrigger"], fo["triggerCondition"], fo["orderType"], fo["triggerPx"]) == (
        True,
        "Price below 95000",
        "Stop Market",
        "95000",
    )
    assert ex.state.accounts[BOB].open_orders == 1
    order(ex, CAROL, "BTC", True, 84889, "0.05")  # oid 4: at the IOC limit
    order(ex, CAROL, "BTC", True, 84888, "0.1")  # oid 5: one tick below it
    ex.apply(A.SetPrices(oracle={"BTC": D(95500)}, marks={"BTC": D(95500)}))
    assert (
        3 in ex.state.triggers
    )  # mark 95,500 > trigger 95,000: not yet (Hyperliquid docs 'Order book': triggers on mark)
    ev = ex.apply(A.SetPrices(oracle={"BTC": D(94321)}, marks={"BTC": D(94321)}))
    # fired: IOC sell at mark x 0.9 = 84,888.9 -> SDK rounding to 5 significant figures = 84,889
    # (Hyperliquid docs 'Take profit and stop loss orders (TP/SL)', Market orders (SDK));
    # it takes CAROL's 0.05 at 84,889 and not 84,888: the remainder is dropped
    (trig,) = [e for e in ev if e.kind == "triggered"]
    assert (trig.oid, trig.status) == (3, {"filled": {"totalSz": "0.05", "avgPx": "84889", "oid": 3}})
    assert 3 not in ex.state.triggers and ex.state.accounts[BOB].open_orders == 0
    assert szi(ex, BOB) == 5_000
    # BOB cash: 10,000 deposit - 10,000 - 4.5 (open) + 4,244.45 - 1.9100025 (taker 0.045% of 0.05 x 84,889)
    assert cash(ex, BOB) == usd("4238.0399975")
    last = fills(ex, BOB)[-1]
    assert (last["px"], last["sz"], last["dir"], last["closedPnl"], last["oid"], last["crossed"]) == (
        "84889",
        "0.05",
        "Close Long",
        "-755.55",
        3,
        True,
    )  # closed pnl (84,889 - 100,000) x 0.05
    assert ex.state.books[BTC].get(5) is not None and ex.state.books[BTC].get(5).sz == 10_000  # type: ignore[union-attr]


def test_take_profit_limit_fires_as_gtc_at_its_limit_price() -> None:
    ex = new_exchange()
    _long_bob(ex)
    st = place(ex, BOB, trigger("BTC", False, 104000, "0.1", 105000, "tp", is_market=False))[0]
    oid = st["resting"]["oid"]
    (fo,) = views.info(ex, {"type": "frontendOpenOrders", "user": BOB})
    assert (fo["triggerCondition"], fo["orderType"]) == ("Price above 105000", "Take Profit Limit")
    ex.apply(A.SetPrices(oracle={"BTC": D(104900)}, marks={"BTC": D(104900)}))
    assert oid in ex.state.triggers
    ex.apply(A.SetPrices(oracle={"BTC": D(105000)}, marks={"BTC": D(105000)}))
    # fired: a GTC sell 0.1 at 104,000 with no bid rests on the book under the trigger's oid
    assert oid not in ex.state.triggers
    assert views.info(ex, {"type": "l2Book", "coin": "BTC"})["levels"][1] == [
        {"px": "104000", "sz": "0.1", "n": 1}
    ]
    assert status_of(ex, BOB, oid) == "open"
    (oo,) = views.info(ex, {"type": "openOrders", "user": BOB})
    assert (oo["oid"], oo["limitPx"], oo["side"], oo["reduceOnly"]) == (oid, "104000", "A", True)
    assert ex.state.accounts[BOB].open_orders == 1
    order(ex, CAROL, "BTC", True, 104000, "0.1", "Ioc")
    assert szi(ex, BOB) == 0 and status_of(ex, BOB, oid) == "filled"
    # closed pnl (104,000 - 100,000) x 0.1 = 400; maker fee 0.015% x 10,400 = 1.56
    assert (fills(ex, BOB)[-1]["closedPnl"], fills(ex, BOB)[-1]["fee"]) == ("400", "1.56")


def test_position_tpsl_uses_the_position_size_when_it_fires() -> None:
    ex = new_exchange()
    st = place(ex, BOB, trigger("BTC", False, 90000, "0.1", 95000, "sl"), grouping="positionTpsl")[0]
    assert st == err(BTC, "No position for a position TP/SL.")
    _long_bob(ex)  # long 0.1
    st = place(ex, BOB, trigger("BTC", False, 90000, "0.1", 95000, "sl"), grouping="positionTpsl")[0]
    oid = st["resting"]["oid"]
    _long_bob(ex, "0.05")  # long 0.15 now
    order(ex, CAROL, "BTC", True, 90000, "0.2")
    ev = ex.apply(A.SetPrices(oracle={"BTC": D(94000)}, marks={"BTC": D(94000)}))
    # IOC at 94,000 x 0.9 = 84,600 for the whole position 0.15 (not the 0.1 it was placed with)
    (trig,) = [e for e in ev if e.kind == "triggered"]
    assert trig.status == {"filled": {"totalSz": "0.15", "avgPx": "90000", "oid": oid}}
    assert szi(ex, BOB) == 0


def test_normal_tpsl_children_wait_for_the_parent_and_die_with_it() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.05")  # oid 1
    sts = place(
        ex,
        BOB,
        spec("BTC", True, 100000, "0.1"),
        trigger("BTC", False, 90000, "0.1", 95000, "sl"),
        trigger("BTC", False, 110000, "0.1", 110000, "tp"),
        grouping="normalTpsl",
    )
    # the parent takes oid 2 and fills 0.05, resting 0.05; the children 3 and 4 wait for it
    assert sts == [{"resting": {"oid": 2}}, {"resting": {"oid": 3}}, {"resting": {"oid": 4}}]
    assert szi(ex, BOB) == 5_000
    assert ex.state.triggers[3].parent == 2 and ex.state.triggers[4].parent == 2
    assert ex.state.accounts[BOB].open_orders == 3
    order(ex, MAKER, "BTC", True, 90000, "0.2")  # liquidity for the stop
    ex.apply(A.SetPrices(oracle={"BTC": D(94000)}, marks={"BTC": D(94000)}))
    assert 3 in ex.state.triggers and szi(ex, BOB) == 5_000  # inactive until the parent fully fills
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}, marks={"BTC": D(100000)}))
    order(ex, CAROL, "BTC", False, 100000, "0.05", "Ioc")  # fills the parent's rest
    assert szi(ex, BOB) == 10_000 and ex.state.triggers[3].parent is None
    ex.apply(A.SetPrices(oracle={"BTC": D(94000)}, marks={"BTC": D(94000)}))
    assert 3 not in ex.state.triggers and szi(ex, BOB) == 0  # the stop sold 0.1 at 90,000

    # a parent that errors takes its children with it (an ALO that would cross)
    ex2 = new_exchange()
    order(ex2, ALICE, "BTC", False, 100000, "0.05")
    sts = place(
        ex2,
        BOB,
        spec("BTC", True, 100000, "0.1", "Alo"),
        trigger("BTC", False, 90000, "0.1", 95000, "sl"),
        grouping="normalTpsl",
    )
    assert "error" in sts[0]
    assert ex2.state.triggers == {} and ex2.state.accounts[BOB].open_orders == 0
    assert status_of(ex2, BOB, sts[1]["resting"]["oid"]) == "canceled"


# =========================================================================== schedule cancel
def test_schedule_cancel_cancels_everything_when_the_time_passes() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 101000, "0.1")
    order(ex, ALICE, "HYPE", True, 39, 10)
    order(ex, BOB, "BTC", False, 102000, "0.1")
    with pytest.raises(InvalidAction):  # at least 5 s ahead
        ex.apply(O.ScheduleCancel(user=ALICE, time=T0 + 4_999))
    ex.apply(O.ScheduleCancel(user=ALICE, time=T0 + 5_000))
    ex.apply(A.AdvanceTime(), at=T0 + 4_999)
    assert ex.state.accounts[ALICE].open_orders == 2
    ex.apply(A.AdvanceTime(), at=T0 + 5_000)
    alice = ex.state.accounts[ALICE]
    assert alice.open_orders == 0 and alice.order_margin == {}
    assert status_of(ex, ALICE, 1) == "scheduledCancel" and status_of(ex, ALICE, 2) == "scheduledCancel"
    assert ex.state.accounts[BOB].open_orders == 1  # only ALICE's switch
    # clearing the switch (time None) keeps later orders alive
    order(ex, BOB, "BTC", False, 103000, "0.1")
    ex.apply(O.ScheduleCancel(user=BOB, time=T0 + 20_000))
    ex.apply(O.ScheduleCancel(user=BOB, time=None))
    ex.apply(A.AdvanceTime(), at=T0 + 30_000)
    assert ex.state.accounts[BOB].open_orders == 2


# =========================================================================== block ordering
def test_block_orders_alo_then_cancels_then_gtc_ioc() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")  # oid 1
    block: list[tuple[A.Action, int | None]] = [
        (O.PlaceOrder(user=BOB, orders=[spec("BTC", True, 100000, "0.1", "Ioc")]), None),
        (O.Cancel(user=ALICE, cancels=[O.CancelSpec(asset="BTC", oid=1)]), None),
        (O.PlaceOrder(user=CAROL, orders=[spec("BTC", False, 100000, "0.1", "Alo")]), None),
    ]
    assert [O.block_class(a) for a, _ in block] == [2, 1, 0]
    results = ex.apply_block(block)
    # Hyperliquid docs 'Order book' block ordering: CAROL's ALO rests first (class 0), ALICE's cancel succeeds
    # (class 1), and BOB's IOC (class 2) then trades with CAROL. In proposer order BOB would have traded with
    # ALICE.
    carol, alice, bob = results[2], results[1], results[0]
    assert isinstance(carol, list) and carol[-1].statuses == [{"resting": {"oid": 2}}]
    assert isinstance(alice, list) and alice[-1].statuses == ["success"]
    assert isinstance(bob, list) and bob[-1].statuses == [
        {"filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 3}}
    ]
    assert szi(ex, CAROL) == -10_000 and szi(ex, BOB) == 10_000 and szi(ex, ALICE) == 0
    assert status_of(ex, ALICE, 1) == "canceled"
    # the same actions one by one in proposer order give the other outcome
    ex2 = new_exchange()
    order(ex2, ALICE, "BTC", False, 100000, "0.1")
    for action, _ in block:
        ex2.apply(action)
    assert szi(ex2, ALICE) == -10_000 and szi(ex2, CAROL) == 0 and status_of(ex2, CAROL, 3) == "open"


# =========================================================================== views
def test_views_book_orders_and_statuses() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")  # oid 1
    order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc")  # oid 2: fills oid 1
    order(ex, MAKER, "BTC", True, 99000, "0.1")  # oid 3
    order(ex, CAROL, "BTC", True, 99000, "0.2")  # oid 4, same level
    order(ex, MAKER, "BTC", True, 98000, "0.2")  # oid 5
    order(ex, MAKER, "BTC", False, 101000, "0.3", cloid=CLOID_A)  # oid 6
    order(ex, MAKER, "BTC", False, 102000, "0.1")  # oid 7
    ex.apply(O.Cancel(user=MAKER, cancels=[O.CancelSpec(asset="BTC", oid=7)]))
    book = views.info(ex, {"type": "l2Book", "coin": "BTC"})
    assert book["coin"] == "BTC" and book["time"] == T0
    assert book["levels"] == [
        [{"px": "99000", "sz": "0.3", "n": 2}, {"px": "98000", "sz": "0.2", "n": 1}],
        [{"px": "101000", "sz": "0.3", "n": 1}],
    ]
    assert views.info(ex, {"type": "allMids"})["BTC"] == "100000"  # (99,000 + 101,000) / 2
    opens = views.info(ex, {"type": "openOrders", "user": MAKER})
    assert opens == [
        {
            "coin": "BTC",
            "limitPx": "99000",
            "oid": 3,
            "side": "B",
            "sz": "0.1",
            "timestamp": T0,
            "origSz": "0.1",
            "cloid": None,
            "reduceOnly": False,
        },
        {
            "coin": "BTC",
            "limitPx": "98000",
            "oid": 5,
            "side": "B",
            "sz": "0.2",
            "timestamp": T0,
            "origSz": "0.2",
            "cloid": None,
            "reduceOnly": False,
        },
        {
            "coin": "BTC",
            "limitPx": "101000",
            "oid": 6,
            "side": "A",
            "sz": "0.3",
            "timestamp": T0,
            "origSz": "0.3",
            "cloid": CLOID_A,
            "reduceOnly": False,
        },
    ]
    front = views.info(ex, {"type": "frontendOpenOrders", "user": MAKER})
    assert [(o["oid"], o["orderType"], o["tif"], o["isTrigger"], o["triggerCondition"]) for o in front] == [
        (3, "Limit", "Gtc", False, "N/A"),
        (5, "Limit", "Gtc", False, "N/A"),
        (6, "Limit", "Gtc", False, "N/A"),
    ]
    # a partial fill: origSz stays, sz falls
    order(ex, BOB, "BTC", False, 99000, "0.15", "Ioc")  # 0.1 from MAKER (oid 3), 0.05 from CAROL (oid 4)
    (carol,) = views.info(ex, {"type": "openOrders", "user": CAROL})
    assert (carol["sz"], carol["origSz"]) == ("0.15", "0.2")
    st = views.info(ex, {"type": "orderStatus", "user": MAKER, "oid": 6})
    assert (
        st["status"] == "order"
        and st["order"]["status"] == "open"
        and st["order"]["order"]["cloid"] == CLOID_A
    )
    assert (
        views.info(ex, {"type": "orderStatus", "user": MAKER, "oid": CLOID_A})["order"]["order"]["oid"] == 6
    )
    assert status_of(ex, MAKER, 3) == "filled" and status_of(ex, ALICE, 1) == "filled"
    assert status_of(ex, BOB, 2) == "filled"
    assert status_of(ex, MAKER, 7) == "canceled"
    assert views.info(ex, {"type": "orderStatus", "user": MAKER, "oid": 999}) == {"status": "unknownOid"}
    assert views.info(ex, {"type": "orderStatus", "user": BOB, "oid": 6}) == {
        "status": "unknownOid"
    }  # not BOB's


def test_meta_and_asset_ctxs_open_interest_volume_mark_and_impact_prices() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", True, 100000, "0.1", "Ioc")  # BOB +0.1, ALICE -0.1: OI 0.1, volume 10,000
    order(ex, CAROL, "BTC", True, 99000, "0.04")
    order(ex, BOB, "BTC", False, 99000, "0.04", "Ioc")  # BOB 0.06, CAROL 0.04: OI 0.1, volume + 3,960
    order(ex, ALICE, "BTC", True, 99500, "0.06")
    order(ex, BOB, "BTC", False, 99500, "0.06", "Ioc")  # BOB 0, ALICE -0.04: OI 0.04, volume + 5,970
    # a book for the impact prices (BTC impact notional 20,000, Hyperliquid docs 'Funding')
    order(ex, MAKER, "BTC", True, 99000, "0.1")
    order(ex, MAKER, "BTC", True, 98000, "0.2")
    order(ex, MAKER, "BTC", False, 100000, "0.1")
    order(ex, MAKER, "BTC", False, 101000, "0.2")
    meta, ctxs = views.info(ex, {"type": "metaAndAssetCtxs"})
    assert meta["universe"][BTC]["name"] == "BTC"
    btc = ctxs[BTC]
    assert btc["openInterest"] == "0.04"
    assert btc["dayNtlVlm"] == "19930"  # 10,000 + 3,960 + 5,970
    assert btc["markPx"] == "100000" and btc["oraclePx"] == "100000" and btc["midPx"] == "99500"
    # impact bid: 9,900 at 99,000 then 10,100 at 98,000: 20,000 / (0.1 + 10,100 / 98,000)
    #   = 1,960,000,000 / 19,900 = 98,492.462311557... (rounded down for a sell)
    # impact ask: 10,000 at 100,000 then 10,000 at 101,000: 20,000 x 101,000 / 20,100
    #   = 100,497.512437810... (rounded up for a buy)
    assert btc["impactPxs"] == ["98492.46231155", "100497.51243782"]
    assert ctxs[HYPE]["openInterest"] == "0.0" and ctxs[HYPE]["impactPxs"] is None


def test_active_asset_data_standard_account() -> None:
    ex = new_exchange()
    # free 10,000 at 20x and mark 100,000: 10,000 x 20 / 100,000 = 2 BTC each way
    aad = views.info(ex, {"type": "activeAssetData", "user": ALICE, "coin": "BTC"})
    assert aad["leverage"] == {"type": "cross", "value": 20}
    assert aad["availableToTrade"] == ["10000", "10000"] and aad["maxTradeSzs"] == ["2", "2"]
    assert aad["markPx"] == "100000"
    _long_bob(ex)  # BOB long 0.1 at 100,000, paid 4.5 fee
    aad = views.info(ex, {"type": "activeAssetData", "user": BOB, "coin": "BTC"})
    # free = 9,995.5 - IM 0.1 x 100,000 / 20 = 9,495.5; open 9,495.5 x 20 / 100,000 = 1.89910 BTC;
    # selling may also close the 0.1 long: 1.9991
    assert aad["availableToTrade"] == ["9495.5", "9495.5"] and aad["maxTradeSzs"] == ["1.8991", "1.9991"]


PM_USER = "0x" + "d4" * 20


def _pm_exchange() -> Exchange:
    ex = new_exchange()
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=PM_USER, token="HYPE", amount=D(1000)))
    ex.apply(A.SetAbstraction(user=PM_USER, abstraction="portfolioMargin"))
    return ex


def test_active_asset_data_portfolio_margin_includes_borrowable_capacity() -> None:
    ex = _pm_exchange()
    # Hyperliquid docs 'Portfolio margin': orders under PM auto-borrow "up to token_balance *
    # borrow_oracle_price * ltv": 1,000 HYPE x 40 x 0.65 = 26,000 USDC with no USDC at all; 26,000 x 20 /
    # 100,000 = 5.2 BTC
    aad = views.info(ex, {"type": "activeAssetData", "user": PM_USER, "coin": "BTC"})
    assert aad["availableToTrade"] == ["26000", "26000"] and aad["maxTradeSzs"] == ["5.2", "5.2"]
    aad = views.info(ex, {"type": "activeAssetData", "user": PM_USER, "coin": "HYPE"})
    assert aad["availableToTrade"] == ["26000", "26000"] and aad["maxTradeSzs"] == [
        "6500",
        "6500",
    ]  # x10 / 40
    # a resting bid borrows its hold (0.1 x 100,000 / 20 = 500) at placement; capacity left 25,500
    assert order(ex, PM_USER, "BTC", True, 100000, "0.1") == {"resting": {"oid": 1}}
    v = ex.valuer()
    assert v.borrowed(ex.state.accounts[PM_USER], 0) == usd(500)
    aad = views.info(ex, {"type": "activeAssetData", "user": PM_USER, "coin": "BTC"})
    assert aad["availableToTrade"] == ["25500", "25500"] and aad["maxTradeSzs"] == ["5.1", "5.1"]


def test_active_asset_data_spot_under_portfolio_margin() -> None:
    ex = _pm_exchange()
    aad = views.info(ex, {"type": "activeAssetData", "user": PM_USER, "coin": "@107"})
    # buy side: 26,000 USDC borrowable (Hyperliquid docs 'Portfolio margin'), 26,000 / 40 = 650 HYPE; sell
    # side: 1,000 HYPE held
    assert aad["availableToTrade"] == ["26000", "1000"] and aad["maxTradeSzs"] == ["650", "1000"]


def test_pm_account_spot_orders_auto_borrow_and_sell_supplied_collateral() -> None:
    """What the view above should reflect: the orders go through (Hyperliquid docs 'Portfolio margin')."""
    ex = _pm_exchange()
    to_spot(ex, BOB, 1_000)
    ex.apply(A.Deposit(user=BOB, token="HYPE", amount=D(100)))
    order(ex, BOB, "@107", False, 40, 50)
    # 5 HYPE x 40 = 200 USDC, all borrowed; taker fee 0.07% x 5 = 0.0035 HYPE in the HYPE received
    assert order(ex, PM_USER, "@107", True, 40, 5, "Ioc")["filled"]["totalSz"] == "5"
    v = ex.valuer()
    pm = ex.state.accounts[PM_USER]
    assert v.borrowed(pm, 0) == usd(200)
    assert v.supplied(pm, 150) == usd("1004.9965")  # the HYPE bought is supplied as collateral too


def test_candle_snapshot_ohlcv_from_fills() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    place(ex, BOB, spec("BTC", True, 100000, "0.1", "Ioc"), at=61_000)  # 100,000 x 0.1
    order(ex, ALICE, "BTC", False, 100500, "0.2")
    place(ex, BOB, spec("BTC", True, 100500, "0.2", "Ioc"), at=62_000)  # 100,500 x 0.2
    order(ex, CAROL, "BTC", True, 99800, "0.05")
    place(ex, BOB, spec("BTC", False, 99800, "0.05", "Ioc"), at=63_000)  # 99,800 x 0.05
    order(ex, ALICE, "BTC", False, 100200, "0.05")
    place(ex, CAROL, spec("BTC", True, 100200, "0.05", "Ioc"), at=121_000)  # 100,200 x 0.05
    one = views.info(
        ex,
        {
            "type": "candleSnapshot",
            "req": {"coin": "BTC", "interval": "1m", "startTime": 0, "endTime": 200_000},
        },
    )
    assert one == [
        {
            "t": 60_000,
            "T": 119_999,
            "s": "BTC",
            "i": "1m",
            "o": "100000",
            "c": "99800",
            "h": "100500",
            "l": "99800",
            "v": "0.35",
            "n": 3,
        },
        {
            "t": 120_000,
            "T": 179_999,
            "s": "BTC",
            "i": "1m",
            "o": "100200",
            "c": "100200",
            "h": "100200",
            "l": "100200",
            "v": "0.05",
            "n": 1,
        },
    ]
    (five,) = views.info(
        ex, {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "5m", "startTime": 0}}
    )
    assert (five["t"], five["T"], five["o"], five["h"], five["l"], five["c"], five["v"], five["n"]) == (
        0,
        299_999,
        "100000",
        "100500",
        "99800",
        "100200",
        "0.4",
        4,
    )
    # the time filter: only the trade at 121,000
    (late,) = views.info(
        ex, {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": 100_000}}
    )
    assert late["n"] == 1


# =========================================================================== atomicity of rejected actions
def test_rejected_cancel_batch_changes_nothing() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    with pytest.raises(InvalidAction):  # the second cancel names an unknown asset: the whole action fails
        ex.apply(
            O.Cancel(
                user=ALICE, cancels=[O.CancelSpec(asset="BTC", oid=1), O.CancelSpec(asset="NOPE", oid=1)]
            )
        )
    alice = ex.state.accounts[ALICE]
    assert alice.open_orders == 1 and alice.order_margin == {BTC: (0, usd(505))}  # restored
    assert ex.state.books[BTC].get(1) is not None  # fails: the order left the book


def test_rejected_cancel_by_cloid_batch_changes_nothing() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 101000, "0.1", cloid=CLOID_A)
    with pytest.raises(InvalidAction):
        ex.apply(
            O.CancelByCloid(
                user=ALICE,
                cancels=[
                    O.CloidCancelSpec(asset="BTC", cloid=CLOID_A),
                    O.CloidCancelSpec(asset="BTC", cloid="0x12"),
                ],
            )
        )
    assert ex.state.books[BTC].find_by_cloid(ALICE, CLOID_A) is not None


def test_rejected_position_tpsl_batch_leaves_no_trigger() -> None:
    ex = new_exchange()
    _long_bob(ex)
    with pytest.raises(InvalidAction):  # "positionTpsl orders are trigger orders"
        place(
            ex,
            BOB,
            trigger("BTC", False, 90000, "0.1", 95000, "sl"),
            spec("BTC", False, 101000, "0.1"),
            grouping="positionTpsl",
        )
    assert ex.state.accounts[BOB].open_orders == 0
    assert ex.state.triggers == {}  # fails: a ghost trigger with an oid the next order will reuse


def test_pm_account_with_a_spot_bid_and_a_long_can_cancel_its_perp_bid() -> None:
    ex = _pm_exchange()
    ex.apply(
        A.Deposit(user=PM_USER, amount=D(30_000))
    )  # supplied as idle USDC (Hyperliquid docs 'Portfolio margin')
    pm = ex.state.accounts[PM_USER]
    assert order(ex, PM_USER, "@107", True, 39, 500) == {"resting": {"oid": 1}}  # holds 19,500 USDC
    order(ex, MAKER, "BTC", False, 100000, "0.1")
    assert "filled" in order(ex, PM_USER, "BTC", True, 100000, "0.1", "Ioc")  # long 0.1
    assert order(ex, PM_USER, "BTC", True, 90000, "0.1") == {"resting": {"oid": 4}}  # holds 450
    assert pm.order_margin == {BTC: (usd(450), 0)} and pm.spot_hold == {0: usd(19_500)}
    # releasing 450 of order margin makes rebalance's free = spot + ntl - im - hold = 450 > 0, and it tries
    # to supply min(450, spot 10,450) although spot - hold = 10,450 - 19,500 < 0: nothing is idle
    events = ex.apply(O.Cancel(user=PM_USER, cancels=[O.CancelSpec(asset="BTC", oid=4)]))
    assert statuses_of(events) == ["success"]
    assert pm.order_margin == {} and pm.open_orders == 1 and pm.spot_hold == {0: usd(19_500)}


def test_active_asset_data_spot_of_a_unified_account_is_its_pools_free_balance() -> None:
    """A unified account's USDC is one balance for spot and perps (Hyperliquid docs 'Account abstraction
    modes'), so what a spot buy can use is the USDC pool's free balance, the number the engine's margin
    check decides on, not the raw spot entry.

    Bob (unified, 10,000 USDC) buys 0.1 BTC at 100,000 as taker: spot USDC 10,000 - 10,000 - 4.5 fee
    (0.045%) = -4.5. At mark 101,000 the pool is worth -4.5 + 10,100 = 10,095.5, less initial margin
    10,100 / 20 = 505: 9,590.5 USDC to trade; at the @107 mid 40 that is 239.7625 HYPE (sz 2 decimals:
    239.76)."""
    ex = new_exchange()
    ex.apply(A.SetAbstraction(user=BOB, abstraction="unifiedAccount"))
    _long_bob(ex)
    ex.apply(A.SetPrices(oracle={"BTC": D(101000)}, marks={"BTC": D(101000)}), at=T0 + 1_000)
    assert ex.state.accounts[BOB].spot[0] == -usd("4.5")
    aad = views.info(ex, {"type": "activeAssetData", "user": BOB, "coin": "@107"})
    assert aad["availableToTrade"] == ["9590.5", "0.0"]
    assert aad["maxTradeSzs"][0] == "239.76"
    # and the engine agrees: a buy of 239 HYPE at 40 (9,560 USDC) is accepted
    assert "error" not in order(ex, BOB, "@107", True, 40, 239)
