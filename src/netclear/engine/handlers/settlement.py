"""Trade settlement: the primitive the order books, ``SettleFill`` and liquidation call (Hyperliquid docs 'Info endpoint:
Perpetuals', 'Entry price and PnL').

A perp trade moves the cash leg ``-px * size`` (rawUsd falls on buys, rises on sells) and the
position; isolated positions follow the official ``ts-examples/LiquidationPx.tsx`` rules:

* opening or increasing: ``rawUsd += |px * sz| / leverage`` (margin moved from the account's pool)
  then ``rawUsd -= px * szi``;
* reducing: the released equity ``(rawUsd + px * szi) * closedSz / |pos|`` returns to the pool, then
  ``rawUsd -= px * closedSzi``; at zero size the remainder returns too.

A spot trade moves base and quote between the two balances. Fees are charged in the perp's
collateral, or for spot in the token each side receives, and go to the fee sink (docs/accounting.md).
Entry price and closed pnl are informational (Hyperliquid docs 'Entry price and PnL').
"""

from __future__ import annotations

from dataclasses import dataclass

from netclear.engine.context import Ctx
from netclear.engine.handlers import fills
from netclear.engine.leverage import leverage_of
from netclear.engine.solvency import require_margin, require_pool_margin
from netclear.engine.state import Account, MarketState, Mode, Position
from netclear.errors import InsufficientMargin, InvalidAction
from netclear.fixedpoint import PX_DECIMALS, notional
from netclear.margin import standard as std_rules
from netclear.markets.registry import Perp, SpotPair, Token


@dataclass(slots=True)
class SideResult:
    address: str
    start_szi: int
    opening: bool
    closed_pnl: int
    fee: int
    fee_token: Token


@dataclass(slots=True)
class Trade:
    tid: int
    asset: int
    coin: str
    sz: int
    px: int
    notional: int  # quote / collateral wei
    buyer: SideResult
    seller: SideResult


def fee_sink(ctx: Ctx) -> Account:
    acct = ctx.tx.account(ctx.reg.config.fees.fee_sink.lower())
    if not acct.is_system:
        acct.is_system = True
    return acct


def _pay_fee(ctx: Ctx, acct: Account, token: Token, fee: int, *, pool_dex: str | None) -> None:
    if fee == 0:
        return
    if acct.mode is Mode.STANDARD and pool_dex is not None:
        acct.perp_cash[pool_dex] = acct.perp_cash.get(pool_dex, 0) - fee
    else:
        acct.spot[token.index] = acct.spot.get(token.index, 0) - fee
    sink = fee_sink(ctx)
    sink.spot[token.index] = sink.spot.get(token.index, 0) + fee


def _pool_cash(acct: Account, perp: Perp, amount: int) -> None:
    """Add ``amount`` to the account's cross pool for this perp (dex cash or unified balance)."""
    if acct.mode is Mode.STANDARD:
        acct.perp_cash[perp.dex.name] = acct.perp_cash.get(perp.dex.name, 0) + amount
    else:
        t = perp.collateral.index
        acct.spot[t] = acct.spot.get(t, 0) + amount


def apply_perp_side(
    ctx: Ctx, acct: Account, perp: Perp, delta: int, px: int, cash_leg: int, fee: int
) -> SideResult:
    """Apply a signed size change ``delta`` at ``px``; ``cash_leg`` is the signed cash (−px·delta)."""
    pos = acct.positions.get(perp.asset)
    if pos is None or pos.szi == 0:
        lev = leverage_of(acct, perp)
        pos = Position(perp.asset, 0, 0, lev.is_cross, lev.value, opened_ms=ctx.now)
        acct.positions[perp.asset] = pos
    start = pos.szi
    coll = perp.collateral
    same_side = start == 0 or (start > 0) == (delta > 0)
    close_sz = 0 if same_side else min(abs(delta), abs(start))
    open_sz = abs(delta) - close_sz
    close_cash = 0 if close_sz == 0 else (cash_leg * close_sz) // abs(delta)
    open_cash = cash_leg - close_cash
    closed_pnl = 0
    if close_sz:
        side = 1 if start > 0 else -1
        entry_part = pos.entry_ntl * close_sz // abs(start)
        # closed pnl (display): side * (px - entry) * closed size, in collateral wei
        pnl_raw = side * (px * close_sz - entry_part)
        closed_pnl = pnl_raw * coll.unit // (10 ** (perp.sz_decimals + PX_DECIMALS))
        if not pos.is_cross:
            equity = pos.raw_usd + notional(start, px, perp.sz_decimals, coll.wei_decimals)
            released = equity * close_sz // abs(start)
            pos.raw_usd -= released
            _pool_cash(acct, perp, released)
            pos.raw_usd += close_cash
        else:
            _pool_cash(acct, perp, close_cash)
        pos.entry_ntl -= entry_part
        pos.szi += close_sz if delta > 0 else -close_sz
        if pos.szi == 0:
            if not pos.is_cross and pos.raw_usd:
                _pool_cash(acct, perp, pos.raw_usd)
                pos.raw_usd = 0
            pos.entry_ntl = 0
    if open_sz:
        if pos.szi == 0:
            lev = leverage_of(acct, perp)
            pos.is_cross, pos.leverage = lev.is_cross, lev.value
            pos.opened_ms = ctx.now
            pos.funding_since_open = 0
            pos.funding_since_change = 0
        if not pos.is_cross:
            margin = -((-abs(open_cash)) // pos.leverage)
            pos.raw_usd += margin
            _pool_cash(acct, perp, -margin)
            pos.raw_usd += open_cash
        else:
            _pool_cash(acct, perp, open_cash)
        pos.entry_ntl += px * open_sz
        pos.szi += open_sz if delta > 0 else -open_sz
    if pos.szi == 0:
        del acct.positions[perp.asset]
    _pay_fee(ctx, acct, coll, fee, pool_dex=perp.dex.name)
    return SideResult(acct.address, start, open_sz > 0, closed_pnl, fee, coll)


def apply_spot_side(
    ctx: Ctx, acct: Account, pair: SpotPair, is_buy: bool, base_amt: int, quote_amt: int, fee: int
) -> SideResult:
    base, quote = pair.base, pair.quote
    sign = 1 if is_buy else -1
    acct.spot[base.index] = acct.spot.get(base.index, 0) + sign * base_amt
    acct.spot[quote.index] = acct.spot.get(quote.index, 0) - sign * quote_amt
    fee_token = base if is_buy else quote
    _pay_fee(ctx, acct, fee_token, fee, pool_dex=None)
    return SideResult(acct.address, 0, True, 0, fee, fee_token)


def settle_trade(
    ctx: Ctx,
    buyer: Account,
    seller: Account,
    market: Perp | SpotPair,
    sz: int,
    px: int,
    buyer_fee: int,
    seller_fee: int,
    *,
    check_buyer: bool = True,
    check_seller: bool = True,
    buyer_oid: int = 0,
    seller_oid: int = 0,
    taker_is_buyer: bool | None = None,
) -> Trade:
    """Settle ``sz`` lots at ``px`` between two accounts, all or nothing, and run the margin checks.

    Opening sides are checked after the trade ("margin checks run when a new order is opened, and
    again for the resting side at the matching", Hyperliquid docs 'Margining'); under portfolio margin the
    check auto-borrows the shortfall within LTV and caps. Spot balances may never go below their holds.
    """
    if buyer.address == seller.address:
        raise InvalidAction("seller", "buyer and seller must differ (self-trades are prevented)")
    if sz <= 0:
        raise InvalidAction("sz", "must be positive")
    tid = ctx.state.next_tid
    ctx.state.next_tid += 1
    ctx.at_risk.add(buyer.address)
    ctx.at_risk.add(seller.address)
    cleared = ctx.tx.cleared
    if cleared:  # both sides change now; a side's check below marks it again
        cleared.discard(buyer.address)
        cleared.discard(seller.address)
    if isinstance(market, SpotPair):
        base_amt = sz * 10 ** (market.base.wei_decimals - market.base.sz_decimals)
        quote_amt = notional(sz, px, market.base.sz_decimals, market.quote.wei_decimals, ceil=True)
        b = apply_spot_side(ctx, buyer, market, True, base_amt, quote_amt, buyer_fee)
        s = apply_spot_side(ctx, seller, market, False, base_amt, quote_amt, seller_fee)
        require_margin(
            ctx.tx,
            ctx.reg,
            buyer,
            tokens=[market.quote.index, market.base.index],
            field="buyer",
            health=ctx.healths(),
        )
        require_margin(
            ctx.tx,
            ctx.reg,
            seller,
            tokens=[market.base.index, market.quote.index],
            field="seller",
            health=ctx.healths(),
        )
        ntl = quote_amt
        usdc_ntl = (
            ntl if market.quote.index == ctx.reg.quote.index else ctx.valuer().to_usdc_wei(market.quote, ntl)
        )
        _add_volume(ctx, buyer, 0, usdc_ntl)
        _add_volume(ctx, seller, 0, usdc_ntl)
    else:
        coll = market.collateral
        ntl = notional(sz, px, market.sz_decimals, coll.wei_decimals, ceil=True)
        b = apply_perp_side(ctx, buyer, market, sz, px, -ntl, buyer_fee)
        s = apply_perp_side(ctx, seller, market, -sz, px, ntl, seller_fee)
        if check_buyer and b.opening:
            _check_perp_open(ctx, buyer, market, "buyer")
        if check_seller and s.opening:
            _check_perp_open(ctx, seller, market, "seller")
        usdc_ntl = ntl if coll.index == ctx.reg.quote.index else ctx.valuer().to_usdc_wei(coll, ntl)
        _add_volume(ctx, buyer, usdc_ntl, 0)
        _add_volume(ctx, seller, usdc_ntl, 0)
    trade = Trade(tid, market.asset, market.name, sz, px, ntl, b, s)
    fills.record_trade(ctx, trade, market, buyer_oid, seller_oid, taker_is_buyer)
    _market_stats(ctx, trade, market)
    return trade


def _market_stats(ctx: Ctx, trade: Trade, market: Perp | SpotPair) -> None:
    """Last trade price, day volume and open interest for ``metaAndAssetCtxs`` and the mark price."""
    ms = ctx.state.markets.get(market.asset)
    if ms is None:
        ms = ctx.state.markets[market.asset] = MarketState()
    day = ctx.now // 86_400_000
    if ms.day != day:
        ms.prev_day_px = ms.last_px if ms.last_px is not None else trade.px
        ms.day, ms.day_ntl_vlm, ms.day_base_vlm = day, 0, 0
    ms.last_px = trade.px
    ms.day_ntl_vlm += trade.notional
    ms.day_base_vlm += trade.sz
    if isinstance(market, Perp):
        b, s = trade.buyer.start_szi, trade.seller.start_szi
        ms.open_interest += (max(b + trade.sz, 0) - max(b, 0)) + (max(s - trade.sz, 0) - max(s, 0))


def record_transfer(ctx: Ctx, perp: Perp, buyer: SideResult, seller: SideResult, sz: int, px: int) -> None:
    """Fill records (a new ``tid``) for a position moved between two accounts off the book at ``px``, as
    the liquidator vault's takeover is (``ctx.liquidation`` marks it ``backstop``)."""
    tid = ctx.state.next_tid
    ctx.state.next_tid += 1
    ntl = notional(sz, px, perp.sz_decimals, perp.collateral.wei_decimals, ceil=True)
    fills.record_trade(ctx, Trade(tid, perp.asset, perp.name, sz, px, ntl, buyer, seller), perp, 0, 0, None)


def _check_perp_open(ctx: Ctx, acct: Account, perp: Perp, field: str) -> None:
    """The opening side's check at the fill (Hyperliquid docs 'Margining'): the margin tier its new
    notional falls in must allow its leverage, then its pool must carry the initial margin."""
    if acct.is_system:  # not margined (require_margin); only the tier rule, on this position alone
        pos = acct.positions.get(perp.asset)
        if pos is not None:
            coll = perp.collateral
            ntl = notional(pos.szi, ctx.valuer().mark(perp.asset), perp.sz_decimals, coll.wei_decimals)
            _check_tier(perp, abs(ntl), pos.leverage, field)
        return
    h = ctx.health(acct)
    pv = h.position_value(perp.asset)
    if pv is not None:
        _check_tier(perp, pv.abs_ntl, pv.position.leverage, field)
    if acct.mode is Mode.STANDARD:
        key = h.key(perp)
        require_pool_margin(h, key, field)
        pool = h.pool(key)
        if (
            not h.isolated
            and len(pool.positions) == h.cross_count()
            and not std_rules.below_maintenance(pool.account_value, pool.mm)
        ):
            # every position of the account is in this pool, which is above maintenance: the liquidation
            # test after the order can skip the account unless it changes again (Tx.cleared)
            ctx.tx.cleared.add(acct.address)
    else:
        require_margin(
            ctx.tx, ctx.reg, acct, tokens=[perp.collateral.index], field=field, health=ctx.healths()
        )


def _check_tier(perp: Perp, abs_ntl: int, leverage: int, field: str) -> None:
    """Only the position's notional picks its margin tier, whose maximum leverage it must respect
    (Hyperliquid docs 'Margin tiers')."""
    if len(perp.table.tiers) > 1:
        tier = perp.table.tier_for_wei(abs_ntl, perp.collateral.unit)
        if leverage > tier.max_leverage:
            raise InsufficientMargin(
                field, f"{perp.name} position of this size allows at most {tier.max_leverage}x (margin tier)"
            )


def _add_volume(ctx: Ctx, acct: Account, perp_ntl: int, spot_ntl: int) -> None:
    day = ctx.now // 86_400_000
    days = acct.volume_days
    p, s = days.get(day, (0, 0))
    days[day] = (p + perp_ntl, s + spot_ntl)
    horizon = day - 30
    if min(days) < horizon:
        for old in [d for d in days if d < horizon]:
            del days[old]
