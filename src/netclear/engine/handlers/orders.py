"""Orders: placement, matching, cancels, modifies, triggers (research §1.2, §4).

Placement of a limit order, in order:

1. validation: tick and lot rules, $10 minimum, maximum order value, open-order limit, reduce-only;
2. the margin check at placement: the order's initial margin (perps, opening part) or balance
   (spot) is reserved as a *hold* and the account must carry it; under portfolio margin a shortfall
   is auto-borrowed against collateral within LTV and caps, and the order is refused when caps stop
   the borrow (the fall-back to non-PM behaviour, research §3.2);
3. matching in price-time priority; each fill settles through
   :func:`~netclear.engine.handlers.trading.settle_trade` inside a savepoint, and the resting side's
   margin is checked again "at the matching of each order" (research §1.2): a maker that fails is
   canceled and matching goes on; a taker that fails stops;
4. the remainder rests (GTC, ALO) keeping its hold, or is dropped (IOC).

Each order of a batch stands alone: its status is ``resting`` / ``filled`` / ``error`` like the
``/exchange`` response. Book changes happen only through the book's own match and add, after the
accounts of a fill have been settled, so no order leaves the book and the accounts out of step.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from netclear.book.orderbook import Decision, OrderBook, RestingOrder
from netclear.engine.context import Ctx
from netclear.engine.handlers.modes import leverage_of
from netclear.engine.handlers.trading import settle_trade
from netclear.engine.order_actions import (
    BatchModify,
    Cancel,
    CancelByCloid,
    Modify,
    OrderSpec,
    PlaceOrder,
    ScheduleCancel,
)
from netclear.engine.solvency import require_margin
from netclear.engine.state import Account, Mode, OrderInfo, TriggerOrder
from netclear.errors import InsufficientBalance, InsufficientMargin, InvalidAction, NetclearError
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE, fmt_decimal, fmt_px, fmt_units, notional, to_units
from netclear.markets import fees as fee_rules
from netclear.markets import ticks
from netclear.markets.registry import Perp, SpotPair

Market = Perp | SpotPair
SCHEDULE_CANCEL_MIN_DELAY_MS = 5_000


# ---------------------------------------------------------------------------- parsing
@dataclass(slots=True)
class Parsed:
    market: Market
    is_buy: bool
    px: int
    sz: int
    reduce_only: bool
    tif: str | None
    trigger_px: int | None
    is_market: bool
    tpsl: str | None
    cloid: str | None

    @property
    def asset(self) -> int:
        return self.market.asset

    @property
    def is_spot(self) -> bool:
        return isinstance(self.market, SpotPair)


def market_of(ctx: Ctx, asset: int | str, field: str = "asset") -> Market:
    reg = ctx.reg
    if isinstance(asset, int) and not isinstance(asset, bool):
        return reg.spot_pair(asset, field=field) if reg.is_spot_asset(asset) else reg.perp(asset, field=field)
    if isinstance(asset, str):
        if asset in reg.spot_by_name:
            return reg.spot_by_name[asset]
        return reg.perp(asset, field=field)
    raise InvalidAction(field, f"unknown asset {asset!r}")


def _check_cloid(cloid: str | None) -> None:
    if cloid is None:
        return
    if not (isinstance(cloid, str) and len(cloid) == 34 and cloid.startswith("0x")):
        raise InvalidAction("cloid", "must be a 16-byte hex string like 0x1234...")
    try:
        int(cloid, 16)
    except ValueError:
        raise InvalidAction("cloid", "must be hexadecimal") from None


def parse_order(ctx: Ctx, spec: OrderSpec) -> Parsed:
    """Validate one order spec against the tick, lot and size rules (research §4)."""
    market = market_of(ctx, spec.asset)
    is_spot = isinstance(market, SpotPair)
    szd = market.sz_decimals
    if (spec.limit is None) == (spec.trigger is None):
        raise InvalidAction("t", "an order is either a limit or a trigger order")
    px = to_units(spec.px, PX_DECIMALS, field="p")
    sz = to_units(spec.sz, szd, field="s")
    if sz <= 0:
        raise InvalidAction("s", "Order has invalid size.")
    if px <= 0:
        raise InvalidAction("p", "Order has invalid price.")
    ticks.validate_price(px, szd, is_spot, field="p")
    _check_cloid(spec.cloid)
    trigger_px = None
    tpsl = None
    is_market = False
    tif = None
    if spec.trigger is not None:
        trigger_px = to_units(spec.trigger.trigger_px, PX_DECIMALS, field="triggerPx")
        if trigger_px <= 0:
            raise InvalidAction("triggerPx", "Order has invalid trigger price.")
        ticks.validate_price(trigger_px, szd, is_spot, field="triggerPx")
        tpsl = spec.trigger.tpsl
        is_market = spec.trigger.is_market
    else:
        assert spec.limit is not None
        tif = "Ioc" if spec.limit.tif == "FrontendMarket" else spec.limit.tif
    if not spec.reduce_only:
        quote = market.quote.name if isinstance(market, SpotPair) else None
        ticks.check_min_notional(
            px, sz, szd, min_notional=Fraction(ctx.reg.config.orders.min_notional), quote=quote, field="s"
        )
    if isinstance(market, Perp):
        ticks.check_max_order_value(px, sz, szd, market.max_leverage, tif == "Ioc" or is_market, field="s")
        if market.is_delisted and not spec.reduce_only:
            raise InvalidAction("a", f"{market.name} is delisted: reduce-only orders only")
    return Parsed(market, spec.is_buy, px, sz, spec.reduce_only, tif, trigger_px, is_market, tpsl, spec.cloid)


# ---------------------------------------------------------------------------- books and holds
def book_of(ctx: Ctx, asset: int) -> OrderBook:
    book = ctx.state.books.get(asset)
    if book is None:
        book = ctx.state.books[asset] = OrderBook(asset)
    return book


def _closable(acct: Account, perp: Perp, is_buy: bool) -> int:
    pos = acct.positions.get(perp.asset)
    if pos is None or pos.szi == 0 or (pos.szi > 0) == is_buy:
        return 0
    return abs(pos.szi)


def _reserve(ctx: Ctx, acct: Account, p: Parsed, sz: int) -> OrderInfo:
    """Reserve what ``sz`` of the order needs while it is live (research §1.2, docs/rules/orders.md)."""
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
    opening = max(0, sz - _closable(acct, m, p.is_buy))
    lev = leverage_of(acct, m).value
    hold = -((-notional(opening, p.px, m.sz_decimals, m.collateral.wei_decimals, ceil=True)) // lev)
    buy, sell = acct.order_margin.get(m.asset, (0, 0))
    acct.order_margin[m.asset] = (buy + hold, sell) if p.is_buy else (buy, sell + hold)
    return OrderInfo(hold=hold, opening_sz=opening)


def _release(acct: Account, asset: int, is_buy: bool, info: OrderInfo, amount: int) -> None:
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


def _release_part(
    acct: Account, asset: int, is_buy: bool, info: OrderInfo, part: int, remaining: int
) -> None:
    """Release the hold of ``part`` lots out of ``remaining`` (the last part releases the rest)."""
    amount = info.hold if part >= remaining else info.hold * part // remaining
    _release(acct, asset, is_buy, info, amount)


def _require(ctx: Ctx, acct: Account, m: Market, field: str) -> None:
    if isinstance(m, SpotPair):
        require_margin(ctx.tx, ctx.reg, acct, tokens=[m.quote.index, m.base.index], field=field)
    elif acct.mode is Mode.STANDARD:
        require_margin(ctx.tx, ctx.reg, acct, dexes=[m.dex.name], field=field)
    else:
        require_margin(ctx.tx, ctx.reg, acct, tokens=[m.collateral.index], field=field)


# ---------------------------------------------------------------------------- status records
def order_json(
    ctx: Ctx,
    *,
    oid: int,
    user: str,
    m: Market,
    is_buy: bool,
    px: int,
    sz: int,
    orig_sz: int,
    time: int,
    cloid: str | None,
    reduce_only: bool,
    tif: str | None,
    trigger: TriggerOrder | None = None,
    order_type: str = "Limit",
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    szd = m.sz_decimals
    out: dict[str, Any] = {
        "coin": m.name,
        "side": "B" if is_buy else "A",
        "limitPx": fmt_px(px),
        "sz": fmt_units(sz, szd),
        "oid": oid,
        "timestamp": time,
        "origSz": fmt_units(orig_sz, szd),
        "triggerCondition": "N/A",
        "isTrigger": trigger is not None,
        "triggerPx": "0.0",
        "children": children or [],
        "isPositionTpsl": False,
        "reduceOnly": reduce_only,
        "orderType": order_type,
        "tif": tif,
        "cloid": cloid,
    }
    if trigger is not None:
        out["triggerPx"] = fmt_px(trigger.trigger_px)
        out["isPositionTpsl"] = trigger.position_tpsl
        side = "above" if _fires_above(trigger) else "below"
        out["triggerCondition"] = f"Price {side} {fmt_px(trigger.trigger_px)}"
        out["orderType"] = ("Take Profit " if trigger.tpsl == "tp" else "Stop ") + (
            "Market" if trigger.is_market else "Limit"
        )
        out["tif"] = None
    return out


def record_status(ctx: Ctx, user: str, order: dict[str, Any], status: str) -> None:
    ctx.record("orders", user, {"order": order, "status": status, "statusTimestamp": ctx.now})


def _resting_json(ctx: Ctx, ro: RestingOrder) -> dict[str, Any]:
    m = market_of(ctx, ro.asset)
    info = ro.tag if isinstance(ro.tag, OrderInfo) else OrderInfo()
    return order_json(
        ctx,
        oid=ro.oid,
        user=ro.user,
        m=m,
        is_buy=ro.is_buy,
        px=ro.px,
        sz=ro.sz,
        orig_sz=ro.orig_sz,
        time=ro.time,
        cloid=ro.cloid,
        reduce_only=ro.reduce_only,
        tif=ro.tif,
        order_type=info.order_type,
    )


def _trigger_json(ctx: Ctx, t: TriggerOrder) -> dict[str, Any]:
    m = market_of(ctx, t.asset)
    return order_json(
        ctx,
        oid=t.oid,
        user=t.user,
        m=m,
        is_buy=t.is_buy,
        px=t.limit_px,
        sz=t.sz,
        orig_sz=t.sz,
        time=t.time,
        cloid=t.cloid,
        reduce_only=t.reduce_only,
        tif=None,
        trigger=t,
    )


# ---------------------------------------------------------------------------- fees
class FeeBook:
    """Fee rates per user (14-day weighted volume tier, research §4 Fees: "assessed daily (UTC)").

    The tier uses the 14 completed UTC days before today, so it is cached per (master, market kind,
    day) in the state's derived ``fee_cache``.
    """

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def rates(self, acct: Account, is_spot: bool) -> fee_rules.FeeRates:
        ctx = self.ctx
        master = ctx.state.accounts.get(acct.master, acct) if acct.master else acct
        day = ctx.now // 86_400_000
        key = (master.address, is_spot, day)
        cache = ctx.state.fee_cache
        r = cache.get(key)
        if r is None:
            if len(cache) > 100_000:
                cache.clear()
            cfg = ctx.reg.config.fees
            perp_v = spot_v = 0
            for d, (p_v, s_v) in master.volume_days.items():
                if day - cfg.volume_window_days <= d < day:
                    perp_v += p_v
                    spot_v += s_v
            volume = (perp_v + Fraction(cfg.spot_volume_weight) * spot_v) / ctx.reg.quote.unit
            tiers = ctx.reg.spot_fee_tiers if is_spot else ctx.reg.perp_fee_tiers
            r = cache[key] = fee_rules.user_fee_rates(fee_rules.fee_tier(tiers, volume))
        return r


def _fees(
    fb: FeeBook, m: Market, taker: Account, maker: Account, taker_is_buyer: bool, sz: int, px: int
) -> tuple[int, int]:
    """(buyer_fee, seller_fee): perps in collateral on notional; spot in the token each side receives."""
    is_spot = isinstance(m, SpotPair)
    t_rate, m_rate = fb.rates(taker, is_spot).taker, fb.rates(maker, is_spot).maker
    b_rate, s_rate = (t_rate, m_rate) if taker_is_buyer else (m_rate, t_rate)
    if isinstance(m, SpotPair):
        base = sz * 10 ** (m.base.wei_decimals - m.base.sz_decimals)
        quote = notional(sz, px, m.base.sz_decimals, m.quote.wei_decimals, ceil=True)
        return fee_rules.fee_amount(base, b_rate), fee_rules.fee_amount(quote, s_rate)
    ntl = notional(sz, px, m.sz_decimals, m.collateral.wei_decimals, ceil=True)
    return fee_rules.fee_amount(ntl, b_rate), fee_rules.fee_amount(ntl, s_rate)


# ---------------------------------------------------------------------------- placement
def _error(p_asset: int | str, message: str) -> dict[str, Any]:
    return {"error": f"{message} asset={p_asset}"}


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
        return _error(p.asset, "Duplicate cloid."), None, False
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
        return _error(p.asset, "Trigger orders are for perps only."), oid, False
    if grouping == "positionTpsl":
        pos = acct.positions.get(p.asset)
        if pos is None or pos.szi == 0:
            return _error(p.asset, "No position for a position TP/SL."), oid, False
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
    record_status(
        ctx, acct.address, _trigger_json(ctx, t), "waitingForFill" if parent is not None else "open"
    )
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
            return _error(p.asset, "Reduce only is for perps."), oid, False
        closable = _closable(acct, m, p.is_buy)
        if closable == 0:
            return _error(p.asset, "Reduce only order would increase position."), oid, False
        sz = min(sz, closable)
    book = book_of(ctx, p.asset)
    if p.tif == "Alo" and book.would_cross(p.is_buy, p.px):
        bid, ask = book.best_bid(), book.best_ask()
        bbo = f"{fmt_px(bid) if bid else '-'}@{fmt_px(ask) if ask else '-'}"
        return _error(p.asset, f"Post only order would have immediately matched, bbo was {bbo}."), oid, False
    if isinstance(m, Perp) and not ctx.valuer().has_price(m.asset):
        return _error(p.asset, "No oracle price yet."), oid, False
    sp = tx.savepoint()
    info = _reserve(ctx, acct, p, sz)
    try:
        _require(ctx, acct, m, "order")
    except NetclearError as exc:
        tx.rollback_to(sp)
        kind = "margin" if isinstance(exc, InsufficientMargin) else "balance"
        return _error(p.asset, f"Insufficient {kind} to place order: {exc.rule}."), oid, False
    tx.release(sp)
    filled, quote_sum = _match(ctx, acct, p, oid, sz, info, book, fb)
    remaining = sz - filled

    def order_view(sz_left: int) -> dict[str, Any]:
        return order_json(
            ctx,
            oid=oid,
            user=acct.address,
            m=m,
            is_buy=p.is_buy,
            px=p.px,
            sz=sz_left,
            orig_sz=p.sz,
            time=ctx.now,
            cloid=p.cloid,
            reduce_only=p.reduce_only,
            tif=p.tif,
        )

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
    _release(acct, p.asset, p.is_buy, info, info.hold)
    if filled == 0:
        record_status(ctx, acct.address, order_view(sz), "canceled")
        return _error(p.asset, "Order could not immediately match against any resting orders."), oid, False
    record_status(ctx, acct.address, order_view(0), "filled" if remaining == 0 else "canceled")
    avg = Fraction(quote_sum, filled)
    status = {
        "filled": {
            "totalSz": fmt_units(filled, m.sz_decimals),
            "avgPx": fmt_decimal(avg / PX_SCALE, 8),
            "oid": oid,
        }
    }
    if p.cloid:
        status["filled"]["cloid"] = p.cloid
    return status, oid, remaining == 0


def _match(
    ctx: Ctx, acct: Account, p: Parsed, oid: int, sz: int, info: OrderInfo, book: OrderBook, fb: FeeBook
) -> tuple[int, int]:
    """Match against the book; returns (filled lots, Σ px x lots)."""
    tx = ctx.tx
    m = p.market
    state = {"left": sz, "filled": 0, "quote": 0}

    def on_match(maker: RestingOrder, offered: int) -> Decision | int:
        fill_sz = offered
        maker_acct = tx.account(maker.user)
        minfo = maker.tag if isinstance(maker.tag, OrderInfo) else OrderInfo()
        if maker.reduce_only and isinstance(m, Perp):
            closable = _closable(maker_acct, m, maker.is_buy)
            if closable == 0:
                _drop(ctx, maker_acct, maker, minfo, "reduceOnlyCanceled")
                return Decision.CANCEL_MAKER
            fill_sz = min(fill_sz, closable)
        sp = tx.savepoint()
        holds = (info.hold, minfo.hold)
        _release_part(acct, m.asset, p.is_buy, info, fill_sz, state["left"])
        _release_part(maker_acct, m.asset, maker.is_buy, minfo, fill_sz, maker.sz)
        buyer, seller = (acct, maker_acct) if p.is_buy else (maker_acct, acct)
        bfee, sfee = _fees(fb, m, acct, maker_acct, p.is_buy, fill_sz, maker.px)
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
            tx.rollback_to(sp)
            info.hold, minfo.hold = holds  # order holds live outside the Tx
            maker_side = "buyer" if maker.is_buy else "seller"
            if exc.field == maker_side:
                _drop(ctx, maker_acct, maker, minfo, "marginCanceled")
                return Decision.CANCEL_MAKER
            return Decision.STOP
        tx.release(sp)
        state["left"] -= fill_sz
        state["filled"] += fill_sz
        state["quote"] += fill_sz * maker.px
        if fill_sz == maker.sz:
            maker_acct.open_orders -= 1
            record_status(ctx, maker.user, {**_resting_json(ctx, maker), "sz": "0.0"}, "filled")
            _activate_children(ctx, maker.oid)
            return Decision.FILL
        # a reduce-only maker cut to its position trades only that part and keeps its place
        return Decision.FILL if fill_sz == offered else fill_sz

    result = book.match(acct.address, oid, p.is_buy, p.px, sz, on_match)
    for expired in result.expired:
        owner = tx.account(expired.user)
        einfo = expired.tag if isinstance(expired.tag, OrderInfo) else OrderInfo()
        _release(owner, expired.asset, expired.is_buy, einfo, einfo.hold)
        owner.open_orders -= 1
        record_status(ctx, expired.user, _resting_json(ctx, expired), "selfTradeCanceled")
    return state["filled"], state["quote"]


def _drop(ctx: Ctx, owner: Account, ro: RestingOrder, info: OrderInfo, status: str) -> None:
    """A resting order leaves without trading (canceled by the engine): release its hold."""
    _release(owner, ro.asset, ro.is_buy, info, info.hold)
    owner.open_orders -= 1
    record_status(ctx, ro.user, _resting_json(ctx, ro), status)
    _cancel_children(ctx, ro.oid)


# ---------------------------------------------------------------------------- triggers and tpsl groups
def _fires_above(t: TriggerOrder) -> bool:
    """Sell TP and buy SL fire when the mark rises to the trigger; sell SL and buy TP when it falls."""
    return (t.tpsl == "tp") != t.is_buy


def trigger_due(t: TriggerOrder, mark: int) -> bool:
    return mark >= t.trigger_px if _fires_above(t) else mark <= t.trigger_px


def _activate_children(ctx: Ctx, parent: int) -> None:
    for t in ctx.state.triggers.values():
        if t.parent == parent:
            t.parent = None
            record_status(ctx, t.user, _trigger_json(ctx, t), "open")


def _cancel_children(ctx: Ctx, parent: int) -> None:
    for oid in [o for o, t in ctx.state.triggers.items() if t.parent == parent]:
        t = ctx.state.triggers.pop(oid)
        ctx.tx.account(t.user).open_orders -= 1
        record_status(ctx, t.user, _trigger_json(ctx, t), "canceled")


def run_triggers(ctx: Ctx, assets: set[int], fb: FeeBook | None = None) -> None:
    """Fire trigger orders whose mark condition holds (research §4 Triggers: TP/SL trigger on mark).

    A market trigger becomes an IOC at the mark with the 10% slippage tolerance; a limit trigger a GTC
    at its limit price. ``positionTpsl`` orders take the position's size at the time they fire.
    """
    if not ctx.state.triggers:
        return
    fb = fb or FeeBook(ctx)
    due = []
    for oid in sorted(ctx.state.triggers):
        t = ctx.state.triggers[oid]
        if t.parent is not None or t.asset not in assets:
            continue
        mark = ctx.state.prices.mark.get(t.asset)
        if mark is not None and trigger_due(t, mark):
            due.append(t)
    slip = Fraction(ctx.reg.config.orders.trigger_slippage)
    for t in due:
        if ctx.state.triggers.pop(t.oid, None) is None:
            continue
        acct = ctx.tx.account(t.user)
        acct.open_orders -= 1
        record_status(ctx, t.user, _trigger_json(ctx, t), "triggered")
        perp = ctx.reg.perps[t.asset]
        sz = t.sz
        if t.position_tpsl or t.reduce_only:
            closable = _closable(acct, perp, t.is_buy)
            if closable == 0:
                continue
            sz = closable if t.position_tpsl else min(sz, closable)
        if t.is_market:
            mark = ctx.state.prices.mark[t.asset]
            px = ticks.slippage_price(mark, t.is_buy, slip, perp.sz_decimals, False)
            tif: Literal["Gtc", "Ioc"] = "Ioc"
        else:
            px, tif = t.limit_px, "Gtc"
        from netclear.engine.order_actions import LimitSpec

        spec = OrderSpec(
            asset=t.asset,
            is_buy=t.is_buy,
            px=_dec(px),
            sz=_dec_sz(sz, perp.sz_decimals),
            reduce_only=t.reduce_only or t.position_tpsl,
            limit=LimitSpec(tif=tif),
            cloid=None,
        )
        status, _, _ = place(ctx, acct, spec, fb, oid=t.oid)
        ctx.emit("triggered", t.user, oid=t.oid, status=status)


def _dec(px: int) -> Any:
    from decimal import Decimal

    return Decimal(px).scaleb(-PX_DECIMALS)


def _dec_sz(sz: int, szd: int) -> Any:
    from decimal import Decimal

    return Decimal(sz).scaleb(-szd)


# ---------------------------------------------------------------------------- cancels
def cancel_oid(ctx: Ctx, acct: Account, asset: int, oid: int, status: str = "canceled") -> bool:
    book = ctx.state.books.get(asset)
    ro = book.get(oid) if book is not None else None
    if ro is not None and ro.user == acct.address:
        assert book is not None
        book.cancel(oid)
        info = ro.tag if isinstance(ro.tag, OrderInfo) else OrderInfo()
        _drop(ctx, acct, ro, info, status)
        return True
    t = ctx.state.triggers.get(oid)
    if t is not None and t.user == acct.address and t.asset == asset:
        del ctx.state.triggers[oid]
        acct.open_orders -= 1
        record_status(ctx, acct.address, _trigger_json(ctx, t), status)
        return True
    return False


def cancel_all(ctx: Ctx, acct: Account, status: str = "canceled") -> int:
    n = 0
    for asset in sorted(ctx.state.books):
        for ro in list(ctx.state.books[asset].orders_of(acct.address)):
            n += cancel_oid(ctx, acct, asset, ro.oid, status)
    for oid in sorted(o for o, t in ctx.state.triggers.items() if t.user == acct.address):
        t = ctx.state.triggers[oid]
        n += cancel_oid(ctx, acct, t.asset, oid, status)
    return n


def _oid_for_cloid(ctx: Ctx, user: str, asset: int, cloid: str) -> int | None:
    book = ctx.state.books.get(asset)
    ro = book.find_by_cloid(user, cloid) if book is not None else None
    if ro is not None:
        return ro.oid
    for t in ctx.state.triggers.values():
        if t.user == user and t.cloid == cloid and t.asset == asset:
            return t.oid
    return None


# ---------------------------------------------------------------------------- action handlers
def place_orders(ctx: Ctx, a: PlaceOrder) -> None:
    acct = ctx.existing_account(a.user)
    if acct.is_system:
        raise InvalidAction("user", "system accounts trade only through the engine")
    if not a.orders:
        raise InvalidAction("orders", "no orders given")
    if a.grouping == "positionTpsl" and any(spec.trigger is None for spec in a.orders):
        raise InvalidAction("grouping", "positionTpsl orders are trigger orders")
    # Everything that can reject the action whole is checked above: from here on each order only gets
    # a status, so books and triggers (which live outside the transaction) never need undoing.
    fb = FeeBook(ctx)
    statuses: list[dict[str, Any]] = []
    if a.grouping == "normalTpsl":
        parent_spec, children = a.orders[0], a.orders[1:]
        if parent_spec.trigger is not None or any(c.trigger is None for c in children):
            raise InvalidAction("grouping", "normalTpsl: a limit parent followed by trigger children")
        parent_oid = ctx.state.next_oid
        ctx.state.next_oid += 1
        child_oids = []
        for child in children:
            st, coid, _ = place(ctx, acct, child, fb, parent=parent_oid, grouping="normalTpsl")
            statuses.append(st)
            if coid is not None and coid in ctx.state.triggers:
                child_oids.append(coid)
        st, _, filled = place(ctx, acct, parent_spec, fb, oid=parent_oid)
        statuses.insert(0, st)
        if "error" in st:
            _cancel_children(ctx, parent_oid)
        elif filled:
            _activate_children(ctx, parent_oid)
    else:
        for spec in a.orders:
            st, _, _ = place(ctx, acct, spec, fb, grouping=a.grouping)
            statuses.append(st)
    ctx.emit("orderStatuses", acct.address, statuses=statuses)


def cancel(ctx: Ctx, a: Cancel) -> None:
    acct = ctx.existing_account(a.user)
    markets = [market_of(ctx, c.asset, f"cancels[{i}].asset") for i, c in enumerate(a.cancels)]
    for i, c in enumerate(a.cancels):
        if isinstance(c.oid, bool) or not isinstance(c.oid, int):
            raise InvalidAction(f"cancels[{i}].oid", "must be an order id")
    statuses: list[Any] = []
    for c, m in zip(a.cancels, markets, strict=True):
        ok = cancel_oid(ctx, acct, m.asset, c.oid)
        statuses.append(
            "success" if ok else _error(m.asset, "Order was never placed, already canceled, or filled.")
        )
    ctx.emit("orderStatuses", acct.address, statuses=statuses)


def cancel_by_cloid(ctx: Ctx, a: CancelByCloid) -> None:
    acct = ctx.existing_account(a.user)
    markets = [market_of(ctx, c.asset, f"cancels[{i}].asset") for i, c in enumerate(a.cancels)]
    for c in a.cancels:
        _check_cloid(c.cloid)
    statuses: list[Any] = []
    for c, m in zip(a.cancels, markets, strict=True):
        oid = _oid_for_cloid(ctx, acct.address, m.asset, c.cloid)
        ok = oid is not None and cancel_oid(ctx, acct, m.asset, oid)
        statuses.append(
            "success" if ok else _error(m.asset, "Order was never placed, already canceled, or filled.")
        )
    ctx.emit("orderStatuses", acct.address, statuses=statuses)


def _modify_one(ctx: Ctx, acct: Account, ref: int | str, spec: OrderSpec, fb: FeeBook) -> dict[str, Any]:
    m = market_of(ctx, spec.asset)
    if isinstance(ref, str):
        _check_cloid(ref)
        oid = _oid_for_cloid(ctx, acct.address, m.asset, ref)
    else:
        oid = ref
    if oid is None or not cancel_oid(ctx, acct, m.asset, oid, status="canceled"):
        return _error(m.asset, "Cannot modify canceled or filled order.")
    # Hyperliquid modifies by cancel-and-replace: the new order gets a new oid (docs/rules/orders.md).
    status, _, _ = place(ctx, acct, spec, fb)
    return status


def _is_open_order_of(ctx: Ctx, acct: Account, asset: int, ref: int | str) -> bool:
    oid = _oid_for_cloid(ctx, acct.address, asset, ref) if isinstance(ref, str) else ref
    if oid is None:
        return False
    book = ctx.state.books.get(asset)
    ro = book.get(oid) if book is not None else None
    if ro is not None:
        return ro.user == acct.address
    t = ctx.state.triggers.get(oid)
    return t is not None and t.user == acct.address and t.asset == asset


def modify(ctx: Ctx, a: Modify) -> None:
    """A single modify of an order that is not open is rejected as a whole (the wire answers
    ``{"status": "err"}``), so it changes nothing, not even the action count."""
    acct = ctx.existing_account(a.user)
    _check_modify(ctx, a.oid, a.order, "modify")
    asset = market_of(ctx, a.order.asset).asset
    if not _is_open_order_of(ctx, acct, asset, a.oid):
        raise InvalidAction("oid", _error(asset, "Cannot modify canceled or filled order.")["error"])
    st = _modify_one(ctx, acct, a.oid, a.order, FeeBook(ctx))
    ctx.emit("orderStatuses", acct.address, statuses=[st])


def _check_modify(ctx: Ctx, ref: object, spec: OrderSpec, where: str) -> None:
    market_of(ctx, spec.asset, f"{where}.order.asset")
    if isinstance(ref, str):
        _check_cloid(ref)
    elif isinstance(ref, bool) or not isinstance(ref, int):
        raise InvalidAction(f"{where}.oid", "an order id or a cloid")


def batch_modify(ctx: Ctx, a: BatchModify) -> None:
    acct = ctx.existing_account(a.user)
    for i, mod in enumerate(a.modifies):
        _check_modify(ctx, mod.oid, mod.order, f"modifies[{i}]")
    fb = FeeBook(ctx)
    statuses = [_modify_one(ctx, acct, m.oid, m.order, fb) for m in a.modifies]
    ctx.emit("orderStatuses", acct.address, statuses=statuses)


def schedule_cancel(ctx: Ctx, a: ScheduleCancel) -> None:
    acct = ctx.existing_account(a.user)
    if a.time is None:
        ctx.state.scheduled_cancels.pop(acct.address, None)
    else:
        if isinstance(a.time, bool) or a.time < ctx.now + SCHEDULE_CANCEL_MIN_DELAY_MS:
            raise InvalidAction("time", "must be at least 5 seconds after the current time")
        ctx.state.scheduled_cancels[acct.address] = a.time
    ctx.emit("scheduleCancel", acct.address, time=a.time)


def run_scheduled_cancels(ctx: Ctx, now: int) -> None:
    for user in sorted(u for u, t in ctx.state.scheduled_cancels.items() if t <= now):
        del ctx.state.scheduled_cancels[user]
        acct = ctx.tx.account(user)
        cancel_all(ctx, acct, status="scheduledCancel")
