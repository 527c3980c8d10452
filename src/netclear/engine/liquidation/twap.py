"""The PM backstop's TWAP (Hyperliquid docs 'Portfolio margin': a 10-minute half-life through the spot books)
and the lending bad-debt waterfall: the backstop's balance, the reserve's protocol buffer, then a haircut of
suppliers through the supply index."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from netclear.book.orderbook import OrderBook
from netclear.engine import events, lending, ops
from netclear.engine.context import Ctx
from netclear.engine.liquidation import rules
from netclear.engine.liquidation.accounts import NoLiquidationFee, Waterfall
from netclear.engine.state import Account
from netclear.fixedpoint import fmt_units
from netclear.lending.rates import INDEX_SCALE, value_of
from netclear.markets.registry import Token


def run_backstop_twap(ctx: Ctx, now_ms: int) -> None:
    """The PM backstop converts taken collateral into the debt asset over time: a TWAP with a
    10-minute half-life through the spot books ('Portfolio margin'), then repays; debt left with no collateral
    is bad debt and goes down the lending waterfall."""
    pm = ctx.reg.pm
    state = ctx.state
    if pm is None:
        return
    last = state.last_twap_ms
    state.last_twap_ms = now_ms
    address = pm.backstop_address
    if address not in state.accounts:
        return
    backstop = ctx.tx.account(address)
    spot_tokens = _spot_inventory(ctx, backstop)
    if not (backstop.supply_basis or backstop.borrow_basis or spot_tokens):
        return
    frac = rules.twap_fraction(now_ms - last, pm.twap_half_life_s) if last else 0
    for token in sorted(pm.collateral):
        params = pm.collateral[token]
        held = ctx.valuer().supplied(backstop, token)
        if held <= 0 or not frac:
            continue
        amount = _twap_amount(params.token, held, frac)
        if amount <= 0:
            continue
        lending.withdraw(ctx.tx, ctx.reg, backstop, params.token, None if amount >= held else amount)
        _sell_spot(ctx, backstop, token, amount)
    for token in spot_tokens:
        # other assets taken over from a bankrupt account's cross margin (pm.take_cross_margin)
        held = backstop.spot.get(token, 0) - backstop.spot_hold.get(token, 0)
        amount = _twap_amount(ctx.reg.tokens[token], held, frac) if frac else 0
        if amount > 0:
            _sell_spot(ctx, backstop, token, amount)
    for token in sorted(backstop.borrow_basis):
        cash = backstop.spot.get(token, 0)
        owed = ctx.valuer().borrowed(backstop, token)
        if cash > 0 and owed > 0:
            lending.repay(ctx.tx, ctx.reg, backstop, ctx.reg.tokens[token], None if cash >= owed else cash)
    if not any(ctx.valuer().supplied(backstop, t) for t in pm.collateral) and not _spot_inventory(
        ctx, backstop
    ):
        for token in sorted(backstop.borrow_basis):
            _write_off(ctx, backstop, token)


def _twap_amount(tok: Token, held: int, frac: Decimal | int) -> int:
    """This interval's share of ``held`` (all of it once one lot or less is left), in whole lots."""
    lot: int = 10 ** (tok.wei_decimals - tok.sz_decimals)
    amount = held if held <= lot else int(held * frac)
    return amount - amount % lot


def _spot_inventory(ctx: Ctx, backstop: Account) -> list[int]:
    """Spot assets the backstop holds that are neither borrowable nor PM collateral, with a spot pair
    to sell them on (taken over from a bankrupt account's cross margin)."""
    pm = ctx.reg.pm
    if pm is None:
        return []
    return sorted(
        t
        for t, bal in backstop.spot.items()
        if bal - backstop.spot_hold.get(t, 0) > 0
        and ctx.reg.borrowable(t) is None
        and t not in pm.collateral
        and ctx.reg.tokens[t].spot_pair is not None
    )


def _sell_spot(ctx: Ctx, backstop: Account, token: int, amount: int) -> None:
    tok = ctx.reg.tokens[token]
    if tok.spot_pair is None:
        return
    pair = ctx.reg.spot_pairs[tok.spot_pair]
    book: OrderBook | None = ctx.state.books.get(pair.asset)
    if book is None or book.best_bid() is None:
        return
    lots = amount // 10 ** (tok.wei_decimals - tok.sz_decimals)
    if lots <= 0:
        return
    floor_px = book.best_bid()
    assert floor_px is not None
    px = max(1, floor_px * 9 // 10)
    from netclear.markets.ticks import round_price_to_grid

    px = round_price_to_grid(Fraction(px), pair.sz_decimals, True, rounding="ceil")
    fees = NoLiquidationFee(ctx, backstop.address)
    ops.place_ioc(ctx, backstop, pair, False, px, lots, reduce_only=False, fees=fees)


def _write_off(ctx: Ctx, backstop: Account, token: int) -> None:
    """Lending bad debt: the backstop's own cash, then the reserve buffer, then suppliers' index
    (docs/rules/liquidation.md 'The loss waterfall')."""
    tok = ctx.reg.tokens[token]
    res = lending.reserve(ctx.tx, ctx.reg, token)
    owed = value_of(backstop.borrow_basis.get(token, 0), res.borrow_index, debt=True)
    if owed <= 0:
        return
    wf = Waterfall(tok.name)
    cash = max(0, backstop.spot.get(token, 0))
    if cash:
        paid = lending.repay(ctx.tx, ctx.reg, backstop, tok, None if cash >= owed else cash)
        wf.vault = paid
        owed -= paid
    if owed <= 0:
        return
    basis = backstop.borrow_basis.pop(token, 0)
    res.scaled_borrow -= basis
    buffer = res.buffer_raw // INDEX_SCALE
    from_buffer = min(buffer, owed)
    res.buffer_raw -= from_buffer * INDEX_SCALE
    wf.reserve_buffer = from_buffer
    rest = owed - from_buffer
    if rest and res.scaled_supply:
        claims = res.scaled_supply * res.supply_index
        new_index = max(0, (claims - rest * INDEX_SCALE) // res.scaled_supply)
        res.supply_index = new_index
        wf.socialized = rest
    res.bad_debt += owed
    ctx.record(
        "liquidations",
        backstop.address,
        {
            "time": ctx.now,
            "kind": "badDebt",
            "token": tok.name,
            "amount": fmt_units(owed, tok.wei_decimals),
            "waterfall": wf.as_dict(tok.wei_decimals),
        },
    )
    ctx.emit(events.BadDebt(user=backstop.address, token=tok.index, amount=owed))
