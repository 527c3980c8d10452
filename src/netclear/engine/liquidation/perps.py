"""Liquidation of standard and unified accounts' cross pools and of isolated positions (Hyperliquid docs
'Liquidations'-2.3): reduce-only IOC orders through the book with no fee, 20% at a time above the partial
threshold outside the cooldown, the limit never past the bankruptcy price; then the liquidator vault's
backstop below 2/3 of maintenance, or auto-deleveraging when equity is negative."""

from __future__ import annotations

from fractions import Fraction

from netclear.engine import ops
from netclear.engine.accounting import PoolKey, PositionValue
from netclear.engine.context import Ctx
from netclear.engine.liquidation import rules
from netclear.engine.liquidation.accounts import (
    NoLiquidationFee,
    move_cash,
    pool_of,
    record_liquidation,
    system_account,
    vault_address,
)
from netclear.engine.liquidation.adl import adl_pool, adl_position
from netclear.engine.state import Account
from netclear.fixedpoint import PX_SCALE, fmt_px, fmt_units, notional
from netclear.markets.registry import Perp


def liquidate_pools(ctx: Ctx, acct: Account) -> None:
    """Liquidate the cross pools, then the isolated positions, that :class:`AccountHealth` finds below
    maintenance. Right after the action's margin checks this reads the valuation they built (the
    fingerprint proves nothing changed since), so the test costs no revaluation."""
    h = ctx.health(acct)
    keys = h.liquidatable_pools()
    for key in keys:
        liquidate_cross(ctx, acct, key)
    if keys:
        h = ctx.health(acct)  # the cross liquidations traded: read again
    for iso in h.liquidatable_isolated():
        liquidate_isolated(ctx, acct, iso.value.perp)


def liquidate_cross(ctx: Ctx, acct: Account, key: PoolKey) -> None:
    pool = pool_of(ctx, acct, key)
    start_value, start_ntl = pool.account_value, pool.total_ntl
    liquidated: list[dict[str, str]] = []
    for pv in sorted(pool.positions, key=lambda p: (-p.abs_ntl, p.perp.asset)):
        pool = pool_of(ctx, acct, key)
        if not rules.pool_liquidatable(pool.account_value, pool.mm):
            break
        live = next((p for p in pool.positions if p.perp.asset == pv.perp.asset), None)
        if live is None:
            continue
        filled = market_liquidate(ctx, acct, live, pool.account_value)
        if filled:
            liquidated.append({"coin": pv.perp.name, "szi": fmt_units(filled, pv.perp.sz_decimals)})
    pool = pool_of(ctx, acct, key)
    cfg = ctx.reg.config.liquidation
    outcome = "market"
    if pool.positions and rules.backstop_due(pool.account_value, pool.mm, cfg.backstop_fraction):
        if pool.account_value >= 0:
            _backstop_cross(ctx, acct, key)
            outcome = "backstop"
        else:
            adl_pool(ctx, acct, key)
            outcome = "adl"
    if liquidated or outcome != "market":
        record_liquidation(
            ctx, acct, "Cross", start_value, start_ntl, liquidated, pool.token.wei_decimals, outcome
        )


def liquidate_isolated(ctx: Ctx, acct: Account, perp: Perp) -> None:
    v = ctx.valuer()
    pv = v.position_value(acct.positions[perp.asset], perp)
    start_margin = acct.positions[perp.asset].raw_usd + pv.ntl
    start_ntl = pv.abs_ntl
    filled = market_liquidate(ctx, acct, pv, start_margin)
    liquidated = [{"coin": perp.name, "szi": fmt_units(filled, perp.sz_decimals)}] if filled else []
    pos = acct.positions.get(perp.asset)
    outcome = "market"
    if pos is not None and pos.szi:
        pv = ctx.valuer().position_value(pos, perp)
        margin = pos.raw_usd + pv.ntl
        if rules.backstop_due(margin, pv.mm, ctx.reg.config.liquidation.backstop_fraction):
            if margin >= 0:
                _transfer_position(ctx, acct, system_account(ctx, vault_address(ctx, perp)), perp)
                outcome = "backstop"
            else:
                adl_position(ctx, acct, perp)
                outcome = "adl"
    if liquidated or outcome != "market":
        # like the cross path, the record carries the margin the liquidation started from ('Liquidations')
        record_liquidation(
            ctx, acct, "Isolated", start_margin, start_ntl, liquidated, perp.collateral.wei_decimals, outcome
        )


def market_liquidate(ctx: Ctx, acct: Account, pv: PositionValue, equity: int) -> int:
    """Send one liquidation order for ``pv`` to the book; returns the lots filled ('Liquidations')."""
    perp, pos = pv.perp, pv.position
    cfg = ctx.reg.config.liquidation
    book = ctx.state.books.get(perp.asset)
    if book is None:
        return 0
    last = ctx.state.liquidation_cooldown.get(acct.address)
    in_cooldown = last is not None and ctx.now - last < cfg.cooldown_s * 1000
    partial_ntl = int(Fraction(cfg.partial_notional) * perp.collateral.unit)
    size = rules.liquidation_size(pos.szi, pv.ntl, partial_ntl, Fraction(cfg.partial_fraction), in_cooldown)
    is_buy = pos.szi < 0
    limit = _limit_price(ctx, perp, pv, equity, is_buy)
    if limit is None:
        return 0
    before = abs(pos.szi)
    ctx.liquidation = {"liquidatedUser": acct.address, "markPx": fmt_px(pv.mark), "method": "market"}
    try:
        fees = NoLiquidationFee(ctx, acct.address)
        ops.place_ioc(ctx, acct, perp, is_buy, limit, size, reduce_only=True, fees=fees)
    finally:
        ctx.liquidation = None
    after = abs(acct.positions[perp.asset].szi) if perp.asset in acct.positions else 0
    filled = before - after
    if filled and size < before:
        ctx.state.liquidation_cooldown[acct.address] = ctx.now
    return filled


def _limit_price(ctx: Ctx, perp: Perp, pv: PositionValue, equity: int, is_buy: bool) -> int | None:
    """IOC limit: no worse than the bankruptcy price of the position's margin, nor 10% from the mark."""
    unit = perp.collateral.unit
    mark = Fraction(pv.mark, PX_SCALE)
    szi = Fraction(pv.position.szi, 10**perp.sz_decimals)
    bk = rules.bankruptcy_price(mark, szi, Fraction(equity, unit))
    slip = Fraction(ctx.reg.config.orders.trigger_slippage)
    bound = mark * (1 + slip) if is_buy else mark * (1 - slip)
    px = min(bk, bound) if is_buy else max(bk, bound)
    if px <= 0:
        return None
    from netclear.markets.ticks import round_price_to_grid

    return round_price_to_grid(px * PX_SCALE, perp.sz_decimals, False, rounding="floor" if is_buy else "ceil")


def _transfer_position(ctx: Ctx, user: Account, vault: Account, perp: Perp) -> None:
    """Move one position (and, for isolated, its margin) to the vault at the mark ('Liquidations')."""
    pos = user.positions[perp.asset]
    mark = ctx.valuer().mark(perp.asset)
    size = pos.szi
    cash = notional(size, mark, perp.sz_decimals, perp.collateral.wei_decimals)
    isolated_cash = 0
    if not pos.is_cross:
        isolated_cash = pos.raw_usd + cash  # the isolated margin at the mark, owed to the vault
    # user closes at the mark, vault opens at the mark: no value changes hands in the trade itself
    buyer, seller = ops.transfer_position(ctx, user, vault, perp, size, mark)
    ctx.liquidation = {"liquidatedUser": user.address, "markPx": fmt_px(mark), "method": "backstop"}
    try:
        ops.record_transfer(ctx, perp, buyer, seller, abs(size), mark)
    finally:
        ctx.liquidation = None
    if not pos.is_cross:
        move_cash(user, vault, perp, isolated_cash)


def _backstop_cross(ctx: Ctx, acct: Account, key: PoolKey) -> None:
    """The vault takes every position of the pool and the pool's remaining equity ('Liquidations')."""
    pool = pool_of(ctx, acct, key)
    first = min(pool.positions, key=lambda p: p.perp.asset).perp
    for pv in sorted(pool.positions, key=lambda p: p.perp.asset):
        _transfer_position(ctx, acct, system_account(ctx, vault_address(ctx, pv.perp)), pv.perp)
    # what is left in the pool is its equity: it goes to the vault too (maintenance margin not returned,
    # 'Liquidations')
    equity = pool_of(ctx, acct, key).account_value
    if equity:
        move_cash(acct, system_account(ctx, vault_address(ctx, first)), first, equity)
