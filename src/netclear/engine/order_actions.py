"""Order actions, shaped like Hyperliquid's ``/exchange`` wire (Hyperliquid docs 'Exchange endpoint').

``PlaceOrder`` carries a batch like the wire's ``order`` action; each order in it succeeds or fails
on its own and the action's events carry one status per order (``resting`` / ``filled`` / ``error``),
as the exchange endpoint answers. Only a malformed action is rejected whole.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from netclear.engine.actions import Action


class LimitSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tif: Literal["Gtc", "Ioc", "Alo", "FrontendMarket"] = "Gtc"


class TriggerSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trigger_px: Decimal
    is_market: bool
    tpsl: Literal["tp", "sl"]


class OrderSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One order (wire keys: a, b, p, s, r, t, c)."""

    asset: int | str
    is_buy: bool
    px: Decimal
    sz: Decimal
    reduce_only: bool = False
    limit: LimitSpec | None = None
    trigger: TriggerSpec | None = None
    cloid: str | None = None


class PlaceOrder(Action, tag="order", frozen=True):
    user: str
    orders: list[OrderSpec]
    grouping: Literal["na", "normalTpsl", "positionTpsl"] = "na"


class CancelSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    asset: int | str
    oid: int


class CloidCancelSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    asset: int | str
    cloid: str


class Cancel(Action, tag="cancel", frozen=True):
    user: str
    cancels: list[CancelSpec]


class CancelByCloid(Action, tag="cancelByCloid", frozen=True):
    user: str
    cancels: list[CloidCancelSpec]


class ModifySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    oid: int | str
    """Order id, or the order's cloid as a hex string."""
    order: OrderSpec


class Modify(Action, tag="modify", frozen=True):
    user: str
    oid: int | str
    order: OrderSpec


class BatchModify(Action, tag="batchModify", frozen=True):
    user: str
    modifies: list[ModifySpec]


class ScheduleCancel(Action, tag="scheduleCancel", frozen=True):
    """Dead man's switch: cancel all of the user's orders at ``time`` (None clears it)."""

    user: str
    time: int | None = None


def sends_gtc_or_ioc(action: Action) -> bool:
    """Hyperliquid docs 'Order book' block ordering: does the action send at least one GTC/IOC order?"""
    specs: list[OrderSpec] = []
    if isinstance(action, PlaceOrder):
        specs = action.orders
    elif isinstance(action, Modify):
        specs = [action.order]
    elif isinstance(action, BatchModify):
        specs = [m.order for m in action.modifies]
    return any(s.limit is not None and s.limit.tif in ("Gtc", "Ioc", "FrontendMarket") for s in specs)


def block_class(action: Action) -> int:
    """Sort key inside a block (Hyperliquid docs 'Order book'): 0 no GTC/IOC, 1 cancels, 2 GTC/IOC senders."""
    if isinstance(action, Cancel | CancelByCloid):
        return 1
    return 2 if sends_gtc_or_ioc(action) else 0
