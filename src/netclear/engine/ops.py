"""The engine operations liquidation may call: a small public surface over the action handlers.

The liquidation modules (:mod:`netclear.engine.liquidation`) decide *what* to do to an account; the
operations here are *how* the exchange does it, each delegating to the handler that owns it, so the
liquidation code never reaches into handler internals (order parsing, the matcher's arguments, the
settlement's side bookkeeping). Every operation runs inside the caller's transaction (``ctx.tx``) and
writes its fills and events to the caller's ``ctx`` like any other trade.

The operations are the ones Hyperliquid's liquidation procedure needs (Hyperliquid docs 'Liquidations',
'Auto-deleveraging'): a market (IOC) order sent to the book on the liquidated user's behalf, the liquidator
vault's takeover of a position at the mark, a direct trade between two accounts at a set price (ADL),
cancelling every open order of an account, and an order id for the engine's own orders.
"""

from __future__ import annotations

from netclear.engine.context import Ctx
from netclear.engine.handlers import orders
from netclear.engine.handlers import settlement as _settlement
from netclear.engine.handlers.matching import match
from netclear.engine.handlers.order_fees import FeeBook
from netclear.engine.handlers.order_parsing import Parsed
from netclear.engine.handlers.settlement import SideResult, Trade
from netclear.engine.state import Account, OrderInfo
from netclear.fixedpoint import notional
from netclear.markets.registry import Perp, SpotPair

__all__ = [
    "FeeBook",
    "SideResult",
    "Trade",
    "cancel_all_orders",
    "next_order_id",
    "place_ioc",
    "record_transfer",
    "settle_trade",
    "transfer_position",
]


def next_order_id(ctx: Ctx) -> int:
    """Take the next order id from the exchange's counter (shared with users' orders)."""
    oid = ctx.state.next_oid
    ctx.state.next_oid += 1
    return oid


def place_ioc(
    ctx: Ctx,
    acct: Account,
    market: Perp | SpotPair,
    is_buy: bool,
    px: int,
    sz: int,
    *,
    reduce_only: bool,
    fees: FeeBook,
) -> int:
    """Send an immediate-or-cancel limit order of ``sz`` lots at ``px`` (``PX_SCALE`` units) for ``acct``
    to the market's book, with a fresh order id, and return the lots filled; nothing rests. ``fees`` rates
    each side (liquidation passes one that exempts the liquidated user). No book: nothing fills."""
    book = ctx.state.books.get(market.asset)
    if book is None:
        return 0
    oid = next_order_id(ctx)
    p = Parsed(market, is_buy, px, sz, reduce_only, "Ioc", None, False, None, None)
    filled, _, _ = match(ctx, acct, p, oid, sz, OrderInfo(), book, fees)
    return filled


def transfer_position(
    ctx: Ctx, src: Account, dst: Account, perp: Perp, size: int, px: int
) -> tuple[SideResult, SideResult]:
    """Move ``size`` (signed, ``src``'s side) of ``perp`` from ``src`` to ``dst`` at ``px`` with no fee: ``src``
    closes and ``dst`` opens at the same price, so no value changes hands in the trade itself. Returns
    the (buyer, seller) sides for :func:`record_transfer`."""
    cash = notional(size, px, perp.sz_decimals, perp.collateral.wei_decimals)
    src_side = _settlement.apply_perp_side(ctx, src, perp, -size, px, cash, 0)
    dst_side = _settlement.apply_perp_side(ctx, dst, perp, size, px, -cash, 0)
    return (dst_side, src_side) if size > 0 else (src_side, dst_side)


def record_transfer(ctx: Ctx, perp: Perp, buyer: SideResult, seller: SideResult, sz: int, px: int) -> None:
    """Fill records (a new trade id) for a position moved off the book by :func:`transfer_position`."""
    _settlement.record_transfer(ctx, perp, buyer, seller, sz, px)


def settle_trade(
    ctx: Ctx,
    buyer: Account,
    seller: Account,
    market: Perp | SpotPair,
    sz: int,
    px: int,
    *,
    check_margin: bool,
) -> Trade:
    """Settle ``sz`` lots at ``px`` between two accounts off the book with no fee (as ADL trades), with or
    without the opening sides' margin checks; records the fills like any trade."""
    return _settlement.settle_trade(
        ctx, buyer, seller, market, sz, px, 0, 0, check_buyer=check_margin, check_seller=check_margin
    )


def cancel_all_orders(ctx: Ctx, acct: Account) -> int:
    """Cancel every resting and trigger order of ``acct``; returns how many were cancelled."""
    return orders.cancel_all(ctx, acct)
