"""The engine operations liquidation calls (engine/ops.py), each against hand-worked numbers: BTC at
100,000, szDecimals 5 (1 lot = 0.00001 BTC), taker fee 0.045%, maker 0.015% (Hyperliquid docs 'Fees')."""

from __future__ import annotations

from netclear.engine import ops
from netclear.engine.context import Ctx
from netclear.engine.exchange import Exchange
from netclear.engine.tx import Tx
from netclear.fixedpoint import PX_SCALE
from tests.conftest import ALICE, BOB, CAROL
from tests.engine.test_orders import BTC, cash, new_exchange, order, szi, usd


def _ctx(ex: Exchange) -> Ctx:
    return Ctx(Tx(ex.state), ex.registry)


def test_place_ioc_takes_an_order_id_fills_against_the_book_and_rests_nothing() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    ctx = _ctx(ex)
    perp = ex.registry.perp("BTC")
    bob = ctx.tx.account(BOB)
    filled = ops.place_ioc(
        ctx, bob, perp, True, 102000 * PX_SCALE, 4_000, reduce_only=False, fees=ops.FeeBook(ctx)
    )
    assert filled == 4_000 and ex.state.next_oid == 3  # the IOC took oid 2
    # 0.04 BTC at the maker's 101,000 = 4,040 USDC; taker fee 0.045% = 1.818
    assert szi(ex, BOB) == 4_000 and cash(ex, BOB) == usd(10_000) - usd(4_040) - usd("1.818")
    (rest,) = ex.state.books[BTC].orders_of(ALICE)
    assert rest.sz == 6_000 and not list(ex.state.books[BTC].orders_of(BOB))
    bob_fill = next(r for k, u, r in ctx.records if k == "fills" and u == BOB)
    assert (bob_fill["px"], bob_fill["sz"], bob_fill["oid"], bob_fill["crossed"]) == (
        "101000",
        "0.04",
        2,
        True,
    )


def test_place_ioc_without_a_book_fills_nothing_and_takes_no_order_id() -> None:
    ex = new_exchange()
    ctx = _ctx(ex)
    eth = ex.registry.perp("ETH")
    assert eth.asset not in ex.state.books
    fees = ops.FeeBook(ctx)
    assert (
        ops.place_ioc(ctx, ctx.tx.account(BOB), eth, True, 4000 * PX_SCALE, 100, reduce_only=True, fees=fees)
        == 0
    )
    assert ops.next_order_id(ctx) == 1 and ops.next_order_id(ctx) == 2


def test_transfer_position_moves_it_at_the_price_with_no_fee() -> None:
    ex = new_exchange()
    order(ex, ALICE, "BTC", False, 100000, "0.1")
    order(ex, BOB, "BTC", True, 100000, "0.1")
    alice_cash, carol_cash = cash(ex, ALICE), cash(ex, CAROL)
    ctx = _ctx(ex)
    perp = ex.registry.perp("BTC")
    alice, carol = ctx.tx.account(ALICE), ctx.tx.account(CAROL)
    buyer, seller = ops.transfer_position(ctx, alice, carol, perp, -10_000, 100_000 * PX_SCALE)
    # ALICE's short of 0.1 closes by buying at 100,000 (pays 10,000), CAROL opens it (receives 10,000)
    assert (buyer.address, seller.address, buyer.fee, seller.fee) == (ALICE, CAROL, 0, 0)
    assert szi(ex, ALICE) == 0 and szi(ex, CAROL) == -10_000
    assert cash(ex, ALICE) == alice_cash - usd(10_000) and cash(ex, CAROL) == carol_cash + usd(10_000)
    ops.record_transfer(ctx, perp, buyer, seller, 10_000, 100_000 * PX_SCALE)
    fills = {u: r for k, u, r in ctx.records if k == "fills"}
    assert (fills[ALICE]["dir"], fills[CAROL]["dir"], fills[CAROL]["fee"]) == (
        "Close Short",
        "Open Short",
        "0.0",
    )


def test_settle_trade_off_the_book_charges_no_fee_and_cancel_all_counts_the_orders() -> None:
    ex = new_exchange()
    ctx = _ctx(ex)
    perp = ex.registry.perp("BTC")
    trade = ops.settle_trade(
        ctx, ctx.tx.account(BOB), ctx.tx.account(CAROL), perp, 1_000, 100_000 * PX_SCALE, check_margin=False
    )
    # 0.01 BTC at 100,000 = 1,000 USDC each way, no fee
    assert trade.notional == usd(1_000) and (trade.buyer.fee, trade.seller.fee) == (0, 0)
    assert cash(ex, BOB) == usd(9_000) and cash(ex, CAROL) == usd(11_000)
    order(ex, ALICE, "BTC", False, 105000, "0.01")
    order(ex, ALICE, "BTC", True, 95000, "0.01")
    ctx = _ctx(ex)
    assert ops.cancel_all_orders(ctx, ctx.tx.account(ALICE)) == 2
    assert not list(ex.state.books[BTC].orders_of(ALICE))
