"""Orders as Hyperliquid's JSON (``frontendOpenOrders``, ``orderStatus``, ``historicalOrders`` and the
``/exchange`` statuses; Hyperliquid docs 'Info endpoint', 'Order book'; docs/views.md): pure formatting over
the registry, read by the views and by the order records the handlers write."""

from __future__ import annotations

from typing import Any

from netclear.book.orderbook import RestingOrder
from netclear.engine.records import Deferred
from netclear.engine.state import OrderInfo, TriggerOrder
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_px, fmt_units
from netclear.markets.registry import BUILDER_DEX_OFFSET, SPOT_ASSET_OFFSET, Perp, Registry, SpotPair

Market = Perp | SpotPair


def market_of(reg: Registry, asset: int | str, field: str = "asset") -> Market:
    """The perp or spot pair of an asset id or name."""
    if type(asset) is int and not SPOT_ASSET_OFFSET <= asset < BUILDER_DEX_OFFSET:
        perp = reg.perps.get(asset)  # the common case: a perp by its id (the same lookup as ``reg.perp``)
        if perp is not None:
            return perp
    if isinstance(asset, int) and not isinstance(asset, bool):
        return reg.spot_pair(asset, field=field) if reg.is_spot_asset(asset) else reg.perp(asset, field=field)
    if isinstance(asset, str):
        if asset in reg.spot_by_name:
            return reg.spot_by_name[asset]
        return reg.perp(asset, field=field)
    raise InvalidAction(field, f"unknown asset {asset!r}")


def order_json(
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
    out = plain_order_json(
        m.name, m.sz_decimals, oid, user, is_buy, px, sz, orig_sz, time, cloid, reduce_only, tif, order_type
    )
    if children:
        out["children"] = children
    out["isTrigger"] = trigger is not None
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


def plain_order_json(
    coin: str,
    szd: int,
    oid: int,
    user: str,
    is_buy: bool,
    px: int,
    sz: int,
    orig_sz: int,
    time: int,
    cloid: str | None,
    reduce_only: bool,
    tif: str | None,
    order_type: str,
) -> dict[str, Any]:
    """An order without trigger or children, from its integers."""
    return {
        "coin": coin,
        "side": "B" if is_buy else "A",
        "limitPx": fmt_px(px),
        "sz": fmt_units(sz, szd),
        "oid": oid,
        "timestamp": time,
        "origSz": fmt_units(orig_sz, szd),
        "triggerCondition": "N/A",
        "isTrigger": False,
        "triggerPx": "0.0",
        "children": [],
        "isPositionTpsl": False,
        "reduceOnly": reduce_only,
        "orderType": order_type,
        "tif": tif,
        "cloid": cloid,
    }


def _resting_args(reg: Registry, ro: RestingOrder, sz: int | None = None) -> tuple[Any, ...]:
    """The arguments of :func:`plain_order_json` for a resting order (``sz`` replaces its remaining size)."""
    m = market_of(reg, ro.asset)
    info = ro.tag if isinstance(ro.tag, OrderInfo) else OrderInfo()
    return (
        m.name,
        m.sz_decimals,
        ro.oid,
        ro.user,
        ro.is_buy,
        ro.px,
        ro.sz if sz is None else sz,
        ro.orig_sz,
        ro.time,
        ro.cloid,
        ro.reduce_only,
        ro.tif,
        info.order_type,
    )


def resting_json(reg: Registry, ro: RestingOrder) -> dict[str, Any]:
    """A resting order as the frontend sees it."""
    return plain_order_json(*_resting_args(reg, ro))


def deferred_resting_json(reg: Registry, ro: RestingOrder, sz: int | None = None) -> Deferred:
    """:func:`resting_json` as a record rendered when first read (:mod:`netclear.engine.records`), from the
    order's integers as they are now; ``sz`` replaces the order's remaining size (0 for a filled maker)."""
    return Deferred(None, plain_order_json, *_resting_args(reg, ro, sz))


def deferred_order_json(
    m: Market,
    oid: int,
    user: str,
    is_buy: bool,
    px: int,
    sz: int,
    orig_sz: int,
    time: int,
    cloid: str | None,
    reduce_only: bool,
    tif: str | None,
) -> Deferred:
    """:func:`order_json` of an order without trigger or children (a limit order's status record), kept
    as integers and rendered when first read (:mod:`netclear.engine.records`)."""
    return Deferred(
        None,
        plain_order_json,
        m.name,
        m.sz_decimals,
        oid,
        user,
        is_buy,
        px,
        sz,
        orig_sz,
        time,
        cloid,
        reduce_only,
        tif,
        "Limit",
    )


def trigger_json(reg: Registry, t: TriggerOrder) -> dict[str, Any]:
    """A waiting trigger (TP/SL) order as the frontend sees it."""
    return order_json(
        oid=t.oid,
        user=t.user,
        m=market_of(reg, t.asset),
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
