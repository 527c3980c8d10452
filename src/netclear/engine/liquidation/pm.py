"""Portfolio-margin liquidation (Hyperliquid docs 'Portfolio margin'): cross perps to the book first (limit at
the whole account's bankruptcy price), then the backstop's borrow takeover, fully past the full threshold,
else 20% of the debt at a time at ``oracle x (LTV + 2) / 3``; a bankrupt account's perps are deleveraged and
its cross margin handed to the backstop."""

from __future__ import annotations

from fractions import Fraction

from netclear.engine import events, lending, ops
from netclear.engine.context import Ctx
from netclear.engine.liquidation.accounts import (
    pm_positions,
    pm_value,
    pm_value_wei,
    record_liquidation,
    system_account,
)
from netclear.engine.liquidation.adl import Deleveraged, adl_close, cover_deficit
from netclear.engine.liquidation.perps import liquidate_cross, liquidate_isolated, market_liquidate
from netclear.engine.solvency import rebalance
from netclear.engine.state import Account, Mode
from netclear.fixedpoint import fmt_units, frac_ceil, frac_floor
from netclear.margin import portfolio as pm_rules

PM_STEP_LIMIT = 50


def _pm_liquidatable(ctx: Ctx, acct: Account) -> bool:
    """The preset's portfolio-margin test (Hyperliquid's PMR or the scenario model's), asked of
    :meth:`AccountHealth.pm`."""
    return ctx.health(acct).pm().liquidatable


def liquidate_pm(ctx: Ctx, acct: Account) -> None:
    pm = ctx.reg.pm
    if pm is None:
        return
    # Dexes whose collateral is not borrowable (e.g. USDH) are outside the PMR: their cross pool is
    # margined on its own, like a unified account's (docs/rules/portfolio-margin.md).
    for key in ctx.health(acct).liquidatable_pools():
        liquidate_cross(ctx, acct, key)
    if not _pm_liquidatable(ctx, acct):
        _liquidate_isolated_only(ctx, acct)
        return
    v = ctx.valuer()
    start_value = int(v.account_value_usdc(acct) * ctx.reg.quote.unit)
    start = {pv.perp.asset: pv for pv in pm_positions(ctx, acct)}
    sent: set[int] = set()
    liquidated: list[dict[str, str]] = []
    for pv in sorted(start.values(), key=lambda p: (-p.abs_ntl, p.perp.asset)):
        if not _pm_liquidatable(ctx, acct):
            break
        pos = acct.positions.get(pv.perp.asset)
        if pos is None:
            continue
        live = ctx.valuer().position_value(pos, pv.perp)
        # the bankruptcy price of the whole portfolio-margin account: its collateral counts ('Portfolio
        # margin')
        equity = pm_value_wei(ctx, acct, pv.perp.collateral)
        filled = market_liquidate(ctx, acct, live, max(equity, 0))
        if filled:
            sent.add(pv.perp.asset)
            liquidated.append({"coin": pv.perp.name, "szi": fmt_units(filled, pv.perp.sz_decimals)})
    if liquidated and not _pm_bankrupt(ctx, acct):
        # the close realized PnL and released margin: that cash repays the debt, as after an ordinary
        # close ("Deposits and realized profits are automatically applied as repayment", PM FAQ)
        rebalance(ctx.tx, ctx.reg, acct, gains=None, health=ctx.healths())
    outcome = "market"
    takeovers = 0
    if not _pm_bankrupt(ctx, acct):
        while acct.has_borrows() and _pm_liquidatable(ctx, acct):
            if takeovers >= PM_STEP_LIMIT or not _takeover_step(ctx, acct):
                break
            takeovers += 1
        if takeovers:
            outcome = "pmTakeover"
    if _pm_bankrupt(ctx, acct):
        sent |= _pm_deleverage(ctx, acct)
        outcome = "adl"
    if liquidated or outcome != "market":
        ntl = sum(v.to_usdc_wei(pv.perp.collateral, pv.abs_ntl) for a, pv in start.items() if a in sent)
        record_liquidation(
            ctx, acct, "Cross", start_value, ntl, liquidated, ctx.reg.quote.wei_decimals, outcome
        )
    _liquidate_isolated_only(ctx, acct)


def _pm_bankrupt(ctx: Ctx, acct: Account) -> bool:
    """'Auto-deleveraging' "a user's account value ... becomes negative", with cross perps still open."""
    return bool(pm_positions(ctx, acct)) and pm_value(ctx, acct) < 0


def _pm_deleverage(ctx: Ctx, acct: Account) -> set[int]:
    """A bankrupt portfolio-margin account (docs/rules/liquidation.md "Portfolio margin"):

    1. its cross perps are auto-deleveraged ('Auto-deleveraging') at :func:`rules.adl_price`;
    2. its open orders are cancelled and its whole cross margin (every spot balance outside the
       separately margined pools, every supply and every borrow) goes to the PM backstop: the user's
       collateral absorbs the loss first and the account is left with nothing ('Liquidations' "all cross
       positions and cross margin are transferred", 'Portfolio margin' takeover);
    3. the deficit, what the book is worth below zero, is paid to the backstop down the perp
       waterfall (vault, reserve buffer, the deleveraged counterparties, the vault).

    Returns the assets deleveraged.
    """
    pm = ctx.reg.pm
    assert pm is not None
    positions = sorted(pm_positions(ctx, acct), key=lambda p: p.perp.asset)
    ops.cancel_all_orders(ctx, acct)
    dl = Deleveraged()
    for pv in positions:
        adl_close(ctx, acct, pv.perp, dl)
    # the perp whose vault and collateral carry the deficit: the account's largest position
    perp = max(positions, key=lambda p: (p.abs_ntl, -p.perp.asset)).perp
    coll = perp.collateral
    v = ctx.valuer()
    value = pm_value(ctx, acct)
    own = _own_pool_tokens(ctx)
    holes = sum(
        (v.usdc_value(ctx.reg.tokens[t], bal) for t, bal in acct.spot.items() if bal < 0 and t not in own),
        Fraction(0),
    )
    assets = {pv.perp.asset for pv in positions}
    if value >= 0:  # cannot happen (the close is never better for the user than the mark): kept safe
        return assets
    price = v.token_price(coll)
    backstop = system_account(ctx, pm.backstop_address, Mode.PORTFOLIO)
    take_cross_margin(ctx, acct, backstop)
    deficit = frac_ceil(-value / price * coll.unit)
    user_collateral = frac_floor(max(Fraction(0), value - holes) / price * coll.unit)
    cover_deficit(ctx, acct, backstop, perp, deficit, dl, user_collateral)
    return assets


def _own_pool_tokens(ctx: Ctx) -> set[int]:
    """Collateral tokens of dexes margined apart from the PMR (not borrowable, e.g. USDH)."""
    return {d.collateral.index for d in ctx.reg.dexes if ctx.reg.borrowable(d.collateral.index) is None}


def take_cross_margin(ctx: Ctx, acct: Account, backstop: Account) -> None:
    """Move every balance of the account's cross margin to the backstop: spot balances (negative ones
    too) except the collateral of separately margined pools, supplies and borrows."""
    own = _own_pool_tokens(ctx)
    for token in sorted(acct.spot):
        if token in own:
            continue
        bal = acct.spot[token]
        amount = bal if bal < 0 else bal - acct.spot_hold.get(token, 0)
        if amount:
            acct.spot[token] = bal - amount
            backstop.spot[token] = backstop.spot.get(token, 0) + amount
        if acct.spot[token] == 0:
            del acct.spot[token]
    for token in sorted(acct.supply_basis):
        _move_supply(ctx, acct, backstop, token, Fraction(1))
    for token in sorted(acct.borrow_basis):
        _move_borrow(ctx, acct, backstop, token, Fraction(1))


def _liquidate_isolated_only(ctx: Ctx, acct: Account) -> None:
    for iso in ctx.health(acct).liquidatable_isolated():
        liquidate_isolated(ctx, acct, iso.value.perp)


def _takeover_step(ctx: Ctx, acct: Account) -> bool:
    """One backstop takeover ('Portfolio margin'): full past the full threshold, else 20% of the debt.

    Collateral is priced at ``oracle x (LTV + 2) / 3``; returns False when nothing could move. A debt
    worth less than the minimum order value (``orders.min_notional``) is taken whole, with
    collateral worth it at the takeover price: 20% steps would only shrink it towards dust while the
    ``min_borrow_offset`` keeps the account liquidatable (docs/rules/liquidation.md "Dust").
    """
    pm = ctx.reg.pm
    assert pm is not None
    v = ctx.valuer()
    coll = v.collateral_holdings(acct)
    borrowed = v.borrowed_value(acct)
    if borrowed <= 0:
        return False
    value = sum((c.value for c in coll), Fraction(0))
    ltv = sum((c.value * c.ltv for c in coll), Fraction(0)) / value if value else Fraction(0)
    health = pm_rules.borrow_health(
        borrowed, value, ltv, pm.partial_threshold_fraction, pm.full_threshold_fraction
    )
    full = health == "full" or value == 0
    finish = not full and borrowed < Fraction(ctx.reg.config.orders.min_notional)
    share = Fraction(1) if full or finish else pm.takeover_step
    backstop = system_account(ctx, pm.backstop_address, Mode.PORTFOLIO)
    debt_taken = borrowed * share
    # collateral worth debt_taken at the takeover price, spread by value; capped by what is there
    takeover_value = sum((c.value * (c.ltv + 2) / 3 for c in coll), Fraction(0))
    coll_share = Fraction(1) if full or takeover_value == 0 else min(Fraction(1), debt_taken / takeover_value)
    moved = False
    for c in coll:
        moved |= _move_supply(ctx, acct, backstop, c.token, coll_share)
    for token in sorted(acct.borrow_basis):
        moved |= _move_borrow(ctx, acct, backstop, token, share)
    if moved:
        ctx.emit(
            events.PmTakeover(
                user=acct.address, share=str(share), collateral_share=str(coll_share), health=health
            )
        )
        ctx.record(
            "liquidations",
            acct.address,
            {
                "time": ctx.now,
                "kind": "pmTakeover",
                "health": health,
                "debtShare": str(share),
                "collateralShare": str(coll_share),
                "debtValue": str(borrowed),
                "collateralValue": str(value),
            },
        )
    return moved


def _move_supply(ctx: Ctx, src: Account, dst: Account, token: int, share: Fraction) -> bool:
    basis = src.supply_basis.get(token, 0)
    move = basis if share >= 1 else frac_ceil(basis * share)
    move = min(move, basis)
    if move <= 0:
        return False
    src.supply_basis[token] = basis - move
    if src.supply_basis[token] == 0:
        del src.supply_basis[token]
    dst.supply_basis[token] = dst.supply_basis.get(token, 0) + move
    return True


def _move_borrow(ctx: Ctx, src: Account, dst: Account, token: int, share: Fraction) -> bool:
    lending.reserve(ctx.tx, ctx.reg, token)  # accrue first
    basis = src.borrow_basis.get(token, 0)
    move = basis if share >= 1 else frac_floor(basis * share)
    if move <= 0:
        return False
    src.borrow_basis[token] = basis - move
    if src.borrow_basis[token] == 0:
        del src.borrow_basis[token]
    dst.borrow_basis[token] = dst.borrow_basis.get(token, 0) + move
    return True
