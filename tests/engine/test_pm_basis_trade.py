"""Issue "Markets": an account holding only HYPE buys BTC spot and shorts the BTC perp (a basis trade)
under portfolio margin. Every amount is computed by hand below from the hyperliquid preset:
fees perp 0.045% taker / 0.015% maker, spot 0.07% taker / 0.04% maker (Hyperliquid docs 'Fees', tier 0);
HYPE LTV 0.65, UBTC LTV 0.5 (Hyperliquid docs 'Portfolio margin'); BTC margin table 40x -> maintenance 1/80
(Hyperliquid docs 'Margin tiers'). The same orders from a standard account are rejected for margin.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB, MAKER, fund_lender

USDC = 10**8
UBTC_WEI = 10**10


def _setup() -> Exchange:
    ex = Exchange("hyperliquid")
    ex.apply(
        A.SetPrices(oracle={"BTC": D(100000), "HYPE": D(40)}, spot={"@142": D(100000), "@107": D(40)}),
        at=1_000,
    )
    fund_lender(ex, "1000000")
    ex.apply(A.Deposit(user=MAKER, amount=D(100000)))
    ex.apply(A.Deposit(user=MAKER, token="UBTC", amount=D(1)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(20000), to_perp=False))  # quote for spot
    ex.apply(
        O.PlaceOrder(
            user=MAKER,
            orders=[
                O.OrderSpec(asset="@142", is_buy=False, px=D(100000), sz=D("0.1"), limit=O.LimitSpec("Alo")),
                O.OrderSpec(asset="BTC", is_buy=True, px=D(100000), sz=D("0.1"), limit=O.LimitSpec("Alo")),
            ],
        ),
        at=2_000,
    )
    return ex


def _orders(ex: Exchange, user: str) -> list[dict]:  # type: ignore[type-arg]
    spot = ex.apply(
        O.PlaceOrder(
            user=user,
            orders=[
                O.OrderSpec(asset="@142", is_buy=True, px=D(100000), sz=D("0.1"), limit=O.LimitSpec("Ioc"))
            ],
        )
    )
    perp = ex.apply(
        O.PlaceOrder(
            user=user,
            orders=[
                O.OrderSpec(asset="BTC", is_buy=False, px=D(100000), sz=D("0.1"), limit=O.LimitSpec("Ioc"))
            ],
        )
    )
    return [spot[-1].statuses[0], perp[-1].statuses[0]]


def test_basis_trade_from_hype_only_under_portfolio_margin() -> None:
    ex = _setup()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(1000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=10))
    spot, perp = _orders(ex, ALICE)
    assert spot == {"filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 3}}
    assert perp == {"filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 4}}
    v = ex.valuer()
    alice = ex.state.accounts[ALICE]
    # Spot buy: 0.1 x 100,000 = 10,000 USDC borrowed (HYPE power 1000 x 40 x 0.65 = 26,000); the spot
    # taker fee is charged in the received token: 0.07% x 0.1 UBTC = 0.00007 UBTC -> 0.09993 UBTC held.
    # Perp short: IM 10,000 / 10 = 1,000 USDC borrowed at placement; taker fee 0.045% x 10,000 = 4.5 USDC
    # borrowed at the fill. Total borrowed 10,000 + 1,000 + 4.5 = 11,004.5 USDC.
    assert v.borrowed(alice, 0) == 11_004_5 * USDC // 10
    assert v.supplied(alice, 197) == 999_300_000  # 0.09993 UBTC, auto-supplied as collateral
    assert v.supplied(alice, 150) == 1000 * USDC  # HYPE collateral, 8 decimals
    # USDC cash: 10,000 borrowed - 10,000 paid + 10,000 short proceeds + 1,004.5 borrowed - 4.5 fee = 11,000
    assert alice.spot[0] == 11_000 * USDC
    pos = alice.positions[0]
    assert pos.szi == -10_000 and pos.leverage == 10  # -0.1 BTC in 1e-5 lots
    # Fees went to the sink; the maker paid 0.04% x 10,000 = 4 USDC (spot, in the quote it received)
    # and 0.015% x 10,000 = 1.5 USDC (perp).
    sink = ex.state.accounts[ex.config.fees.fee_sink.lower()]
    assert sink.spot[0] == (4_5 + 4_0 + 1_5) * USDC // 10  # 4.5 + 4 + 1.5 USDC
    assert sink.spot[197] == 700_000  # 0.00007 UBTC
    # PMR (Hyperliquid docs 'Portfolio margin'): requirement = 20 + 10,000 / 80 + 11,004.5 = 11,149.5;
    # liquidation value = 1,000 (USDC balance: 11,000 cash - 10,000 short notional)
    #   + 1000 x 40 x (0.5 + 0.5 x 0.65) + 0.09993 x 100,000 x (0.5 + 0.5 x 0.5) = 1,000 + 33,000 + 7,494.75
    legs = v.pm_legs(alice)
    assert legs.ratio == Fraction(111495, 10) / Fraction(4149475, 100)
    view = views.info(ex, {"type": "spotClearinghouseState", "user": ALICE})
    assert view["portfolioMarginRatio"] == "0.2686966423"
    usdc = next(b for b in view["balances"] if b["coin"] == "USDC")
    assert usdc["borrowed"] == "11004.5"
    assert usdc["hold"] == "1000"  # the short's initial margin
    # Health factor: (26,000 + 0.09993 x 100,000 x 0.5) / 11,004.5 = 30,996.5 / 11,004.5
    state = views.info(ex, {"type": "borrowLendUserState", "user": ALICE})
    assert D(state["healthFactor"]) == D("2.8167113454")


def test_same_basis_trade_from_a_standard_account_is_rejected_for_margin() -> None:
    ex = _setup()
    ex.apply(A.Deposit(user=BOB, token="HYPE", amount=D(1000)))
    ex.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=True, leverage=10))
    before = ex.state.accounts[BOB].clone()
    spot, perp = _orders(ex, BOB)
    assert "error" in spot and "Insufficient balance to place order" in spot["error"]
    assert "error" in perp and "Insufficient margin to place order" in perp["error"]
    after = ex.state.accounts[BOB]
    assert after.spot == before.spot and after.positions == {} and after.borrow_basis == {}
    # the maker's orders are untouched
    book = ex.state.books[10142]
    assert book.best_ask() == 100000 * 10**8
