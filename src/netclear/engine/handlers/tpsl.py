"""TP/SL groups (``normalTpsl``): children wait until their parent fills, and die with it (Hyperliquid docs
'Order book'; docs/rules/orders.md)."""

from __future__ import annotations

from netclear.engine.context import Ctx
from netclear.engine.handlers.order_records import record_status, trigger_json


def activate_children(ctx: Ctx, parent: int) -> None:
    for t in ctx.state.triggers.values():
        if t.parent == parent:
            t.parent = None
            record_status(ctx, t.user, trigger_json(ctx, t), "open")


def cancel_children(ctx: Ctx, parent: int) -> None:
    for oid in [o for o, t in ctx.state.triggers.items() if t.parent == parent]:
        t = ctx.state.triggers.pop(oid)
        ctx.tx.account(t.user).open_orders -= 1
        record_status(ctx, t.user, trigger_json(ctx, t), "canceled")
