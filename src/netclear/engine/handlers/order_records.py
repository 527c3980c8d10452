"""Order status records, in the JSON of Hyperliquid's ``orderStatus`` / ``historicalOrders`` and the
``/exchange`` statuses (Hyperliquid docs 'Order book'; docs/views.md). The JSON itself is
:mod:`netclear.engine.order_json`; these are the handlers' entry points, with the action's context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netclear.book.orderbook import RestingOrder
from netclear.engine import order_json as oj
from netclear.engine.context import Ctx
from netclear.engine.order_json import fires_above as fires_above
from netclear.engine.state import TriggerOrder


def order_error(p_asset: int | str, message: str) -> dict[str, Any]:
    return {"error": f"{message} asset={p_asset}"}


def record_status(ctx: Ctx, user: str, order: Mapping[str, Any], status: str) -> None:
    ctx.record("orders", user, {"order": order, "status": status, "statusTimestamp": ctx.now})


def resting_json(ctx: Ctx, ro: RestingOrder, sz: int | None = None) -> Mapping[str, Any]:
    """The order's JSON as it is now, rendered when first read (most status records never are); ``sz``
    replaces its remaining size (a filled maker's record shows 0)."""
    return oj.deferred_resting_json(ctx.reg, ro, sz)


def trigger_json(ctx: Ctx, t: TriggerOrder) -> dict[str, Any]:
    return oj.trigger_json(ctx.reg, t)
