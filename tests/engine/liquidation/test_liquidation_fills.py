"""Liquidation fills carry Hyperliquid's ``liquidation`` object (issue 9, defect 7).

Hyperliquid's websocket "Subscriptions" page (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/
api/websocket/subscriptions), ``WsFill.liquidation?: FillLiquidation`` with ``liquidatedUser``, ``markPx``
and ``method: "market" | "backstop"``; ``userFills`` (info) answers the same fill objects. Both sides of a
liquidation fill carry it; an ordinary fill has no such key.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from netclear import views
from netclear.api.ws import Subscription, render
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB, MAKER, config_with, fund_lender, open_gates, set_collateral
from tests.engine.liquidation import rest, set_marks

T0 = 1_000


def _liquidated() -> Exchange:
    """The PM account of test_pm_liquidation_finish: long 0.1 BTC from 100,000, sold by the liquidator at
    the 95,200 bid when BTC is marked 95,300."""

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
    rest(ex, MAKER, "BTC", True, 95_200, "0.1")
    set_marks(ex, {"BTC": 95_300})
    return ex


def test_market_liquidation_fills_carry_the_liquidation_object() -> None:
    ex = _liquidated()
    expected = {"liquidatedUser": ALICE, "markPx": "95300", "method": "market"}
    opening, closing = views.info(ex, {"type": "userFills", "user": ALICE})[::-1]
    assert "liquidation" not in opening  # the ordinary fill
    assert (closing["px"], closing["sz"], closing["dir"]) == ("95200", "0.1", "Close Long")
    assert closing["liquidation"] == expected
    [maker_fill] = views.info(ex, {"type": "userFills", "user": MAKER})
    assert maker_fill["liquidation"] == expected and maker_fill["tid"] == closing["tid"]
    # the websocket channels stream the same objects
    [fills_msg] = render(ex, Subscription({"type": "userFills", "user": ALICE}), snapshot=True)
    assert fills_msg["data"]["fills"][-1]["liquidation"] == expected
    events = Subscription({"type": "userEvents", "user": MAKER})
    render(ex, events, snapshot=True)
    events.cursor = 0
    [user_msg] = render(ex, events, snapshot=False)
    assert user_msg["channel"] == "user" and user_msg["data"]["fills"][0]["liquidation"] == expected


def test_backstop_takeover_records_backstop_fills() -> None:
    """The scenario of test_perp_liquidation.py::test_backstop_with_no_bids_vault_takes_position_and_equity:
    Alice long 0.1 BTC at 100,000 with 1,000 USDC, marked 90,700 with an empty book; the liquidator vault
    takes the position at the mark. Both sides get a fill at 90,700 marked ``backstop``: Alice closes the
    long (closed PnL 0.1 x (90,700 - 100,000) = -930), the vault opens it."""
    vault = "0x1000000000000000000000000000000000000001"
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=T0)
    ex.apply(A.Deposit(user=ALICE, amount=D(1_000)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    set_marks(ex, {"BTC": 90_700}, at=3_000)
    expected = {"liquidatedUser": ALICE, "markPx": "90700", "method": "backstop"}
    closing = views.info(ex, {"type": "userFills", "user": ALICE})[0]
    assert {k: closing[k] for k in ("px", "sz", "side", "dir", "closedPnl", "fee")} == {
        "px": "90700",
        "sz": "0.1",
        "side": "A",
        "dir": "Close Long",
        "closedPnl": "-930",
        "fee": "0.0",
    }
    assert closing["liquidation"] == expected
    [taken] = views.info(ex, {"type": "userFills", "user": vault})
    assert (taken["side"], taken["dir"], taken["tid"]) == ("B", "Open Long", closing["tid"])
    assert taken["liquidation"] == expected
