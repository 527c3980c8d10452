"""Order status records, in the JSON of Hyperliquid's ``orderStatus`` / ``historicalOrders`` and the
``/exchange`` statuses (Hyperliquid docs 'Order book'; docs/views.md)."""

from __future__ import annotations

from typing import Any

from netclear.book.orderbook import RestingOrder
from netclear.engine.context import Ctx
from netclear.engine.handlers.order_parsing import Market, market_of
from netclear.engine.state import OrderInfo, TriggerOrder
from netclear.fixedpoint import fmt_px, fmt_units


def order_error(p_asset: int | str, message: str) -> dict[str, Any]:
    return {"error": f"{message} asset={p_asset}"}


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
        side = "above" if fires_above(trigger) else "below"
        out["triggerCondition"] = f"Price {side} {fmt_px(trigger.trigger_px)}"
        out["orderType"] = ("Take Profit " if trigger.tpsl == "tp" else "Stop ") + (
            "Market" if trigger.is_market else "Limit"
        )
        out["tif"] = None
    return out


def record_status(ctx: Ctx, user: str, order: dict[str, Any], status: str) -> None:
    ctx.record("orders", user, {"order": order, "status": status, "statusTimestamp": ctx.now})


def resting_json(ctx: Ctx, ro: RestingOrder) -> dict[str, Any]:
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


def trigger_json(ctx: Ctx, t: TriggerOrder) -> dict[str, Any]:
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


def fires_above(t: TriggerOrder) -> bool:
    """Sell TP and buy SL fire when the mark rises to the trigger; sell SL and buy TP when it falls."""
    return (t.tpsl == "tp") != t.is_buy
