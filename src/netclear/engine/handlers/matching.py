"""Placing one order: validation, the hold and margin check, matching in price-time priority with
the resting side re-checked at each fill, and the remainder resting or dropped (Hyperliquid docs 'Margining',
'Order book'; the steps are listed in ``orders.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netclear.book.orderbook import Decision, OrderBook, RestingOrder
from netclear.engine import order_json as oj
from netclear.engine import pm_model
from netclear.engine.context import Ctx
from netclear.engine.handlers.order_fees import FeeBook, trade_fees
from netclear.engine.handlers.order_holds import (
    book_of,
    closable_size,
    release_hold,
    release_part,
    require_order_margin,
    reserve_hold,
)
from netclear.engine.handlers.order_parsing import Parsed, parse_order
from netclear.engine.handlers.order_records import (
    order_error,
    record_status,
    resting_json,
    trigger_json,
)
from netclear.engine.handlers.settlement import settle_trade
from netclear.engine.handlers.tpsl import activate_children, cancel_children
from netclear.engine.order_actions import (
    OrderSpec,
)
from netclear.engine.state import Account, OrderInfo, TriggerOrder
from netclear.errors import InsufficientBalance, InsufficientMargin, InvalidAction, NetclearError
from netclear.fixedpoint import fmt_px, fmt_units
from netclear.markets.registry import Perp, SpotPair

_NO_MATCH = "Order could not immediately match against any resting orders."


def _open_order_limit(ctx: Ctx, acct: Account) -> None:
    if acct.open_orders >= ctx.reg.config.orders.max_open_orders:
        raise InvalidAction(
            "orders", f"Too many open orders (limit {ctx.reg.config.orders.max_open_orders})."
        )


def place(
    ctx: Ctx,
    acct: Account,
    spec: OrderSpec,
    fb: FeeBook,
    *,
    parent: int | None = None,
    grouping: str = "na",
    oid: int | None = None,
) -> tuple[dict[str, Any], int | None, bool]:
    """Place one order. Returns (status, oid, fully_filled)."""
    try:
        p = parse_order(ctx, spec)
    except NetclearError as exc:
        return {"error": exc.rule}, None, False
    if p.cloid is not None and _cloid_taken(ctx, acct.address, p.cloid):
        return order_error(p.asset, "Duplicate cloid."), None, False
    try:
        _open_order_limit(ctx, acct)
    except NetclearError as exc:
        return {"error": exc.rule}, None, False
    if oid is None:
        oid = ctx.state.next_oid
        ctx.state.next_oid += 1
    if p.trigger_px is not None:
        return _place_trigger(ctx, acct, p, oid, grouping, parent)
    return _place_limit(ctx, acct, p, oid, fb)


def _cloid_taken(ctx: Ctx, user: str, cloid: str) -> bool:
    for book in ctx.state.books.values():
        if book.find_by_cloid(user, cloid) is not None:
            return True
    return any(t.user == user and t.cloid == cloid for t in ctx.state.triggers.values())


def _place_trigger(
    ctx: Ctx, acct: Account, p: Parsed, oid: int, grouping: str, parent: int | None
) -> tuple[dict[str, Any], int, bool]:
    if p.is_spot:
        return order_error(p.asset, "Trigger orders are for perps only."), oid, False
    if grouping == "positionTpsl":
        pos = acct.positions.get(p.asset)
        if pos is None or pos.szi == 0:
            return order_error(p.asset, "No position for a position TP/SL."), oid, False
    t = TriggerOrder(
        oid,
        acct.address,
        p.asset,
        p.is_buy,
        p.sz,
        p.px,
        p.trigger_px or 0,
        p.is_market,
        p.tpsl or "sl",
        p.reduce_only,
        ctx.now,
        p.cloid,
        grouping,
        parent,
    )
    ctx.state.triggers[oid] = t
    acct.open_orders += 1
    record_status(ctx, acct.address, trigger_json(ctx, t), "waitingForFill" if parent is not None else "open")
    status: dict[str, Any] = {"resting": {"oid": oid}}
    if p.cloid:
        status["resting"]["cloid"] = p.cloid
    return status, oid, False


def _place_limit(
    ctx: Ctx, acct: Account, p: Parsed, oid: int, fb: FeeBook
) -> tuple[dict[str, Any], int, bool]:
    m = p.market
    tx = ctx.tx
    sz = p.sz
    if p.reduce_only:
        if isinstance(m, SpotPair):
            return order_error(p.asset, "Reduce only is for perps."), oid, False
        closable = closable_size(acct, m, p.is_buy)
        if closable == 0:
            return order_error(p.asset, "Reduce only order would increase position."), oid, False
        sz = min(sz, closable)
    book = book_of(ctx, p.asset)
    if p.tif == "Alo" and book.would_cross(p.is_buy, p.px):
        bid, ask = book.best_bid(), book.best_ask()
        bbo = f"{fmt_px(bid) if bid else '-'}@{fmt_px(ask) if ask else '-'}"
        return (
            order_error(p.asset, f"Post only order would have immediately matched, bbo was {bbo}."),
            oid,
            False,
        )
    if isinstance(m, Perp) and not ctx.valuer().has_price(m.asset):
        return order_error(p.asset, "No oracle price yet."), oid, False
    sp = tx.savepoint()
    info = reserve_hold(ctx, acct, p, sz)
    try:
        require_order_margin(ctx, acct, m, "order")
        pm_model.require_order(ctx.valuer(), acct, m, p.is_buy, sz, p.px, field="order")
    except NetclearError as exc:
        tx.rollback_to(sp)
        kind = "margin" if isinstance(exc, InsufficientMargin) else "balance"
        return order_error(p.asset, f"Insufficient {kind} to place order: {exc.rule}."), oid, False
    tx.release(sp)
    filled, quote_sum, stopped = match(ctx, acct, p, oid, sz, info, book, fb)
    remaining = sz - filled

    def order_view(sz_left: int) -> Mapping[str, Any]:
        """The order's status JSON with ``sz_left`` remaining, rendered when first read."""
        return oj.deferred_order_json(
            m, oid, acct.address, p.is_buy, p.px, sz_left, p.sz, ctx.now, p.cloid, p.reduce_only, p.tif
        )

    if remaining and stopped is not None:
        # The taker failed its own check at a fill: the maker it could not trade with still crosses, so the
        # remainder cannot rest; it is canceled ("marginCanceled", Hyperliquid docs 'Info endpoint'),
        # keeping the fills before it (docs/rules/orders.md 'Placement, in order' step 3).
        release_hold(acct, p.asset, p.is_buy, info, info.hold)
        record_status(ctx, acct.address, order_view(remaining), "marginCanceled")
        if filled:
            return _filled_status(p, m, oid, filled, quote_sum), oid, False
        if p.tif == "Ioc":  # an IOC that trades nothing answers as before (Hyperliquid's IOC wording)
            return order_error(p.asset, _NO_MATCH), oid, False
        return order_error(p.asset, stopped), oid, False
    if remaining and p.tif in ("Gtc", "Alo"):
        ro = RestingOrder(
            oid,
            acct.address,
            p.asset,
            p.is_buy,
            p.px,
            remaining,
            p.sz,
            ctx.now,
            p.cloid,
            p.reduce_only,
            p.tif,
            info,
        )
        book.add(ro)
        acct.open_orders += 1
        record_status(ctx, acct.address, order_view(remaining), "open")
        status: dict[str, Any] = {"resting": {"oid": oid}}
        if p.cloid:
            status["resting"]["cloid"] = p.cloid
        return status, oid, False
    release_hold(acct, p.asset, p.is_buy, info, info.hold)
    if filled == 0:
        record_status(ctx, acct.address, order_view(sz), "canceled")
        return (
            order_error(p.asset, _NO_MATCH),
            oid,
            False,
        )
    record_status(ctx, acct.address, order_view(0), "filled" if remaining == 0 else "canceled")
    return _filled_status(p, m, oid, filled, quote_sum), oid, remaining == 0


def _filled_status(p: Parsed, m: Perp | SpotPair, oid: int, filled: int, quote_sum: int) -> dict[str, Any]:
    status: dict[str, Any] = {
        "filled": {
            "totalSz": fmt_units(filled, m.sz_decimals),
            "avgPx": fmt_px(average_px(quote_sum, filled)),
            "oid": oid,
        }
    }
    if p.cloid:
        status["filled"]["cloid"] = p.cloid
    return status


def average_px(quote_sum: int, filled: int) -> int:
    """The volume-weighted average price ``quote_sum / filled`` in price units (8 decimals), rounded half
    to even: the ``avgPx`` of a filled status."""
    q, r = divmod(quote_sum, filled)
    twice = 2 * r
    if twice > filled or (twice == filled and q & 1):
        q += 1
    return q


def match(
    ctx: Ctx, acct: Account, p: Parsed, oid: int, sz: int, info: OrderInfo, book: OrderBook, fb: FeeBook
) -> tuple[int, int, str | None]:
    """Match against the book; returns (filled lots, Σ px x lots, why the taker failed its check at a fill
    or None). A taker that fails stops matching with the maker it could not trade with still in the book."""
    if not book.would_cross(p.is_buy, p.px):
        return 0, 0, None  # nothing to trade with (and no own order to expire: it would have crossed)
    tx = ctx.tx
    m = p.market
    state = {"left": sz, "filled": 0, "quote": 0}
    stopped: list[str] = []

    def on_match(maker: RestingOrder, offered: int) -> Decision | int:
        fill_sz = offered
        maker_acct = tx.account(maker.user)
        minfo = maker.tag if isinstance(maker.tag, OrderInfo) else OrderInfo()
        if maker.reduce_only and isinstance(m, Perp):
            closable = closable_size(maker_acct, m, maker.is_buy)
            if closable == 0:
                drop_order(ctx, maker_acct, maker, minfo, "reduceOnlyCanceled")
                return Decision.CANCEL_MAKER
            fill_sz = min(fill_sz, closable)
        sp = tx.savepoint()
        release_part(acct, m.asset, p.is_buy, info, fill_sz, state["left"])
        release_part(maker_acct, m.asset, maker.is_buy, minfo, fill_sz, maker.sz)
        buyer, seller = (acct, maker_acct) if p.is_buy else (maker_acct, acct)
        bfee, sfee = trade_fees(fb, m, acct, maker_acct, p.is_buy, fill_sz, maker.px)
        try:
            settle_trade(
                ctx,
                buyer,
                seller,
                m,
                fill_sz,
                maker.px,
                bfee,
                sfee,
                check_buyer=not (p.is_buy and p.reduce_only),
                check_seller=not (not p.is_buy and p.reduce_only),
                buyer_oid=oid if p.is_buy else maker.oid,
                seller_oid=maker.oid if p.is_buy else oid,
                taker_is_buyer=p.is_buy,
            )
        except (InsufficientMargin, InsufficientBalance) as exc:
            tx.rollback_to(sp)  # the order holds too: they are journaled like the rest of the state
            maker_side = "buyer" if maker.is_buy else "seller"
            if exc.field == maker_side:
                drop_order(ctx, maker_acct, maker, minfo, "marginCanceled")
                return Decision.CANCEL_MAKER
            kind = "margin" if isinstance(exc, InsufficientMargin) else "balance"
            stopped.append(f"Insufficient {kind} to fill order: {exc.rule}.")
            return Decision.STOP
        tx.release(sp)
        state["left"] -= fill_sz
        state["filled"] += fill_sz
        state["quote"] += fill_sz * maker.px
        if fill_sz == maker.sz:
            maker_acct.open_orders -= 1
            record_status(ctx, maker.user, resting_json(ctx, maker, 0), "filled")  # stays deferred
            activate_children(ctx, maker.oid)
            return Decision.FILL
        # a reduce-only maker cut to its position trades only that part and keeps its place
        return Decision.FILL if fill_sz == offered else fill_sz

    result = book.match(acct.address, oid, p.is_buy, p.px, sz, on_match)
    for expired in result.expired:
        owner = tx.account(expired.user)
        einfo = expired.tag if isinstance(expired.tag, OrderInfo) else OrderInfo()
        release_hold(owner, expired.asset, expired.is_buy, einfo, einfo.hold)
        owner.open_orders -= 1
        record_status(ctx, expired.user, resting_json(ctx, expired), "selfTradeCanceled")
    return state["filled"], state["quote"], stopped[0] if stopped else None


def drop_order(ctx: Ctx, owner: Account, ro: RestingOrder, info: OrderInfo, status: str) -> None:
    """A resting order leaves without trading (canceled by the engine): release its hold."""
    release_hold(owner, ro.asset, ro.is_buy, info, info.hold)
    owner.open_orders -= 1
    record_status(ctx, ro.user, resting_json(ctx, ro), status)
    cancel_children(ctx, ro.oid)
