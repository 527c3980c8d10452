"""Holds of resting orders and the margin check at placement (Hyperliquid docs 'Margining': margin is checked
"when a new order is opened, and again for the resting side at the matching"): perp orders reserve their
opening initial margin, spot orders their balance; reduce-only parts reserve nothing."""

from __future__ import annotations

from netclear.book.orderbook import OrderBook
from netclear.engine.context import Ctx
from netclear.engine.handlers.order_parsing import Market, Parsed, market_rules
from netclear.engine.solvency import require_margin, require_pool_margin
from netclear.engine.state import Account, Mode, OrderInfo
from netclear.fixedpoint import notional
from netclear.markets.registry import Perp, SpotPair


def book_of(ctx: Ctx, asset: int) -> OrderBook:
    book = ctx.state.books.get(asset)
    if book is None:
        book = ctx.state.books[asset] = OrderBook(asset)
    return book


def closable_size(acct: Account, perp: Perp, is_buy: bool) -> int:
    pos = acct.positions.get(perp.asset)
    if pos is None or pos.szi == 0 or (pos.szi > 0) == is_buy:
        return 0
    return abs(pos.szi)


def reserve_hold(ctx: Ctx, acct: Account, p: Parsed, sz: int) -> OrderInfo:
    """Reserve what ``sz`` of the order needs while it is live (Hyperliquid docs 'Margining',
    docs/rules/orders.md)."""
    m = p.market
    if isinstance(m, SpotPair):
        if p.is_buy:
            hold = notional(sz, p.px, m.base.sz_decimals, m.quote.wei_decimals, ceil=True)
            token = m.quote.index
        else:
            hold = sz * 10 ** (m.base.wei_decimals - m.base.sz_decimals)
            token = m.base.index
        acct.spot_hold[token] = acct.spot_hold.get(token, 0) + hold
        return OrderInfo(hold=hold, hold_token=token)
    if p.reduce_only:
        return OrderInfo(hold=0, opening_sz=0)
    opening = max(0, sz - closable_size(acct, m, p.is_buy))
    r = market_rules(ctx.reg, m)
    setting = acct.leverage.get(m.asset)  # leverage_of, with the default's value cached per market
    lev = setting.value if setting else r.default_leverage
    # ceil(notional(opening, px, ceil=True) / lev) in one ceiling division: ceil(ceil(a/b)/c) = ceil(a/(b*c))
    hold = -((-opening * p.px * r.hold_scale) // (r.hold_den * lev))
    asset = m.asset
    buy, sell = acct.order_margin.get(asset, (0, 0))
    acct.order_margin[asset] = (buy + hold, sell) if p.is_buy else (buy, sell + hold)
    return OrderInfo(hold=hold, opening_sz=opening)


def release_hold(acct: Account, asset: int, is_buy: bool, info: OrderInfo, amount: int) -> None:
    """Give back ``amount`` of an order's hold."""
    if amount <= 0:
        return
    info.hold -= amount
    if info.hold_token >= 0:
        left = acct.spot_hold.get(info.hold_token, 0) - amount
        if left:
            acct.spot_hold[info.hold_token] = left
        else:
            acct.spot_hold.pop(info.hold_token, None)
        return
    buy, sell = acct.order_margin.get(asset, (0, 0))
    buy, sell = (buy - amount, sell) if is_buy else (buy, sell - amount)
    if buy or sell:
        acct.order_margin[asset] = (buy, sell)
    else:
        acct.order_margin.pop(asset, None)


def release_part(acct: Account, asset: int, is_buy: bool, info: OrderInfo, part: int, remaining: int) -> None:
    """Release the hold of ``part`` lots out of ``remaining`` (the last part releases the rest)."""
    amount = info.hold if part >= remaining else info.hold * part // remaining
    release_hold(acct, asset, is_buy, info, amount)


def require_order_margin(ctx: Ctx, acct: Account, m: Market, field: str) -> None:
    if isinstance(m, SpotPair):
        require_margin(
            ctx.tx, ctx.reg, acct, tokens=[m.quote.index, m.base.index], field=field, health=ctx.healths()
        )
    elif acct.mode is Mode.STANDARD:
        if not acct.is_system:  # the one pool the order's hold went to (require_margin's standard check)
            h = ctx.health(acct)
            require_pool_margin(h, h.key(m), field)
    else:
        require_margin(ctx.tx, ctx.reg, acct, tokens=[m.collateral.index], field=field, health=ctx.healths())
