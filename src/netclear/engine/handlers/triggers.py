"""Trigger orders (TP/SL, market or limit), fired by the **mark** price with the published slippage
tolerance for market triggers (Hyperliquid docs 'Order book'; docs/rules/orders.md)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from netclear.engine import events
from netclear.engine.context import Ctx
from netclear.engine.handlers.matching import place
from netclear.engine.handlers.order_fees import FeeBook
from netclear.engine.handlers.order_holds import closable_size
from netclear.engine.handlers.order_records import fires_above, record_status, trigger_json
from netclear.engine.order_actions import (
    OrderSpec,
)
from netclear.engine.state import TriggerOrder
from netclear.fixedpoint import PX_DECIMALS
from netclear.markets import ticks


def trigger_due(t: TriggerOrder, mark: int) -> bool:
    return mark >= t.trigger_px if fires_above(t) else mark <= t.trigger_px


def run_triggers(ctx: Ctx, assets: set[int], fb: FeeBook | None = None) -> None:
    """Fire trigger orders whose mark condition holds (Hyperliquid docs 'Take profit and stop loss orders
    (TP/SL)': TP/SL trigger on mark).

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
        record_status(ctx, t.user, trigger_json(ctx, t), "triggered")
        perp = ctx.reg.perps[t.asset]
        sz = t.sz
        if t.position_tpsl or t.reduce_only:
            closable = closable_size(acct, perp, t.is_buy)
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
        ctx.emit(events.Triggered(user=t.user, oid=t.oid, status=status))


def _dec(px: int) -> Any:
    from decimal import Decimal

    return Decimal(px).scaleb(-PX_DECIMALS)


def _dec_sz(sz: int, szd: int) -> Any:
    from decimal import Decimal

    return Decimal(sz).scaleb(-szd)
