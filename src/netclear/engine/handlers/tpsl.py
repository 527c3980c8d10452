"""TP/SL groups (``normalTpsl``): children wait until their parent fills, and die with it (Hyperliquid docs
'Order book'; docs/rules/orders.md)."""

from __future__ import annotations

from netclear.engine.context import Ctx
from netclear.engine.handlers.order_records import record_status, trigger_json


def activate_children(ctx: Ctx, parent: int) -> None:
    """The parent filled: its children become live triggers. O(children) through the triggers' parent
    index (:class:`~netclear.engine.state.Triggers`)."""
    triggers = ctx.state.triggers
    kids = triggers.children(parent)
    if not kids:
        return
    triggers.unlink_children(parent)
    for t in kids:
        t.parent = None
        record_status(ctx, t.user, trigger_json(ctx, t), "open")


def cancel_children(ctx: Ctx, parent: int) -> None:
    """The parent left without filling: its children are canceled. O(children)."""
    triggers = ctx.state.triggers
    for t in triggers.children(parent):
        del triggers[t.oid]
        ctx.tx.account(t.user).open_orders -= 1
        record_status(ctx, t.user, trigger_json(ctx, t), "canceled")
