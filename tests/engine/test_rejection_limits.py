"""Rejections name the rule that bound them, with its numbers (issue 9, defect 4).

Pre-alpha preset (``hyperliquid-prealpha.toml``, Hyperliquid's portfolio-margin page
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin): USDC borrowable with a user
borrow cap of 1,000 and a global cap of 1,000,000; HYPE the only collateral at LTV 0.5 with a user
supply cap of 200 HYPE.
"""

from __future__ import annotations

from decimal import Decimal as D

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.errors import InsufficientBalance
from tests.conftest import ALICE, BOB, MAKER, config_with, fund_lender, open_gates
from tests.engine.liquidation import rest, set_marks


def _order(user: str, asset: str, is_buy: bool, px: str, sz: str) -> O.PlaceOrder:
    spec = O.OrderSpec(asset=asset, is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec("Gtc"))
    return O.PlaceOrder(user=user, orders=[spec])


def test_auto_borrow_shortfall_names_the_user_borrow_cap_and_every_limit() -> None:
    """Alice supplies 200 HYPE at 40 (8,000 of collateral, 4,000 of borrowing power at LTV 0.5) and buys
    0.5 BTC at 100,000 at the default 20x: initial margin 2,500 USDC, none of it in cash. Auto-borrow is
    bound by the 1,000 USDC user cap (LTV allows 4,000, the reserve holds 100,000, the global cap
    1,000,000): short of 1,500. After that borrow, what is left: LTV 3,000, user cap 0, global cap 999,000,
    reserve 99,000."""
    ex = Exchange(config_with("hyperliquid-prealpha", mutate=open_gates))
    set_marks(ex, {"HYPE": 40, "BTC": 100_000}, at=1_000, spot={"@107": 40})
    fund_lender(ex, "100000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(200)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    rest(ex, MAKER, "BTC", False, 100_000, 1)
    [status] = ex.apply(_order(ALICE, "BTC", True, "100000", "0.5"))[-1].statuses
    error = status["error"]
    assert "short of 1500 USDC" in error, error
    assert "bound by the user borrow cap of 1000 USDC" in error, error
    for part in (
        "LTV capacity left 3000 USDC",
        "user borrow cap left 0.0 USDC",
        "global borrow cap left 999000 USDC",
        "reserve liquidity 99000 USDC",
    ):
        assert part in error, (part, error)
    assert ex.state.accounts[ALICE].borrow_basis == {}  # rejected whole


def test_standard_mode_supply_explains_that_usdc_sits_in_the_perp_balance() -> None:
    """In standard mode a deposit lands in the perp balance (Hyperliquid's "Account abstraction modes"
    page): supplying it first needs a usdClassTransfer to spot."""
    ex = Exchange("hyperliquid")
    ex.apply(A.Deposit(user=BOB, amount=D(1000)))
    try:
        ex.apply(A.BorrowLend(user=BOB, operation="supply", token="USDC", amount=D(500)))
    except InsufficientBalance as exc:
        assert exc.field == "amount"
        assert "perp balance" in exc.rule and "1000 USDC" in exc.rule, exc.rule
        assert "usdClassTransfer" in exc.rule, exc.rule
    else:
        raise AssertionError("supply from an empty spot balance must be refused")


def test_negative_order_size_names_the_field() -> None:
    ex = Exchange("hyperliquid")
    set_marks(ex, {"ETH": 3500}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    [size] = ex.apply(_order(ALICE, "ETH", True, "3000", "-1"))[-1].statuses
    assert size == {"error": "Order has invalid size: s (size) must be positive, got -1."}
    [price] = ex.apply(_order(ALICE, "ETH", True, "-3000", "1"))[-1].statuses
    assert price == {"error": "Order has invalid price: p (price) must be positive, got -3000."}
