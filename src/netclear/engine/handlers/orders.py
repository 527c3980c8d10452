"""Orders: placement, matching, cancels, modifies, triggers (Hyperliquid docs 'Margining', 'Order book').

Placement of a limit order, in order:

1. validation: tick and lot rules, $10 minimum, maximum order value, open-order limit, reduce-only;
2. the margin check at placement: the order's initial margin (perps, opening part) or balance
   (spot) is reserved as a *hold* and the account must carry it; under portfolio margin a shortfall
   is auto-borrowed against collateral within LTV and caps, and the order is refused when caps stop
   the borrow (the fall-back to non-PM behaviour, Hyperliquid docs 'Portfolio margin');
3. matching in price-time priority; each fill settles through
   :func:`~netclear.engine.handlers.trading.settle_trade` inside a savepoint, and the resting side's
   margin is checked again "at the matching of each order" (Hyperliquid docs 'Margining'): a maker that fails
   is canceled and matching goes on; a taker that fails stops;
4. the remainder rests (GTC, ALO) keeping its hold, or is dropped (IOC).

Each order of a batch stands alone: its status is ``resting`` / ``filled`` / ``error`` like the
``/exchange`` response. Book changes happen only through the book's own match and add, after the
accounts of a fill have been settled, so no order leaves the book and the accounts out of step; the
transaction journals the books and triggers with the accounts, so an action that fails undoes them all.

Modules: ``order_parsing`` (specs), ``order_holds`` (holds, the check at placement), ``matching``
(placement and matching), ``order_fees``, ``order_records`` (status JSON), ``triggers`` and ``tpsl``;
this one has the cancels and the action handlers.
"""

from __future__ import annotations

from typing import Any

from netclear.engine import events
from netclear.engine.context import Ctx
from netclear.engine.handlers.matching import drop_order, place
from netclear.engine.handlers.order_fees import FeeBook
from netclear.engine.handlers.order_parsing import check_cloid, market_of
from netclear.engine.handlers.order_records import order_error, record_status, trigger_json
from netclear.engine.handlers.tpsl import activate_children, cancel_children
from netclear.engine.order_actions import (
    BatchModify,
    Cancel,
    CancelByCloid,
    Modify,
    OrderSpec,
    PlaceOrder,
    ScheduleCancel,
)
from netclear.engine.state import Account, OrderInfo
from netclear.errors import InvalidAction

SCHEDULE_CANCEL_MIN_DELAY_MS = 5_000


def cancel_oid(ctx: Ctx, acct: Account, asset: int, oid: int, status: str = "canceled") -> bool:
    book = ctx.state.books.get(asset)
    ro = book.get(oid) if book is not None else None
    if ro is not None and ro.user == acct.address:
        assert book is not None
        book.cancel(oid)
        info = ro.tag if isinstance(ro.tag, OrderInfo) else OrderInfo()
        drop_order(ctx, acct, ro, info, status)
        return True
    t = ctx.state.triggers.get(oid)
    if t is not None and t.user == acct.address and t.asset == asset:
        del ctx.state.triggers[oid]
        acct.open_orders -= 1
        record_status(ctx, acct.address, trigger_json(ctx, t), status)
        return True
    return False


def cancel_all(ctx: Ctx, acct: Account, status: str = "canceled") -> int:
    n = 0
    for asset in sorted(ctx.state.books):
        for ro in list(ctx.state.books[asset].orders_of(acct.address)):
            n += cancel_oid(ctx, acct, asset, ro.oid, status)
    for oid in sorted(o for o, t in ctx.state.triggers.items() if t.user == acct.address):
        t = ctx.state.triggers[oid]
        n += cancel_oid(ctx, acct, t.asset, oid, status)
    return n


def _oid_for_cloid(ctx: Ctx, user: str, asset: int, cloid: str) -> int | None:
    cloid = cloid.lower()  # stored cloids are lower case (order_parsing.check_cloid)
    book = ctx.state.books.get(asset)
    ro = book.find_by_cloid(user, cloid) if book is not None else None
    if ro is not None:
        return ro.oid
    for t in ctx.state.triggers.values():
        if t.user == user and t.cloid == cloid and t.asset == asset:
            return t.oid
    return None


def place_orders(ctx: Ctx, a: PlaceOrder) -> None:
    acct = ctx.existing_account(a.user)
    if acct.is_system:
        raise InvalidAction("user", "system accounts trade only through the engine")
    if not a.orders:
        raise InvalidAction("orders", "no orders given")
    if a.grouping == "positionTpsl" and any(spec.trigger is None for spec in a.orders):
        raise InvalidAction("grouping", "positionTpsl orders are trigger orders")
    # Everything that can reject the action whole is checked above: from here on each order only gets
    # a status. (Books and triggers are journaled by the transaction too, so an engine defect below
    # still rolls the whole action back.)
    fb = FeeBook(ctx)
    statuses: list[dict[str, Any]] = []
    if a.grouping == "normalTpsl":
        parent_spec, children = a.orders[0], a.orders[1:]
        if parent_spec.trigger is not None or any(c.trigger is None for c in children):
            raise InvalidAction("grouping", "normalTpsl: a limit parent followed by trigger children")
        parent_oid = ctx.state.next_oid
        ctx.state.next_oid += 1
        child_oids = []
        for child in children:
            st, coid, _ = place(ctx, acct, child, fb, parent=parent_oid, grouping="normalTpsl")
            statuses.append(st)
            if coid is not None and coid in ctx.state.triggers:
                child_oids.append(coid)
        st, _, filled = place(ctx, acct, parent_spec, fb, oid=parent_oid)
        statuses.insert(0, st)
        if "error" in st:
            cancel_children(ctx, parent_oid)
        elif filled:
            activate_children(ctx, parent_oid)
    else:
        for spec in a.orders:
            st, _, _ = place(ctx, acct, spec, fb, grouping=a.grouping)
            statuses.append(st)
    ctx.emit(events.OrderStatuses(user=acct.address, statuses=statuses))


def cancel(ctx: Ctx, a: Cancel) -> None:
    acct = ctx.existing_account(a.user)
    markets = [market_of(ctx, c.asset, f"cancels[{i}].asset") for i, c in enumerate(a.cancels)]
    for i, c in enumerate(a.cancels):
        if isinstance(c.oid, bool) or not isinstance(c.oid, int):
            raise InvalidAction(f"cancels[{i}].oid", "must be an order id")
    statuses: list[Any] = []
    for c, m in zip(a.cancels, markets, strict=True):
        ok = cancel_oid(ctx, acct, m.asset, c.oid)
        statuses.append(
            "success" if ok else order_error(m.asset, "Order was never placed, already canceled, or filled.")
        )
    ctx.emit(events.OrderStatuses(user=acct.address, statuses=statuses))


def cancel_by_cloid(ctx: Ctx, a: CancelByCloid) -> None:
    acct = ctx.existing_account(a.user)
    markets = [market_of(ctx, c.asset, f"cancels[{i}].asset") for i, c in enumerate(a.cancels)]
    for c in a.cancels:
        check_cloid(c.cloid)
    statuses: list[Any] = []
    for c, m in zip(a.cancels, markets, strict=True):
        oid = _oid_for_cloid(ctx, acct.address, m.asset, c.cloid)
        ok = oid is not None and cancel_oid(ctx, acct, m.asset, oid)
        statuses.append(
            "success" if ok else order_error(m.asset, "Order was never placed, already canceled, or filled.")
        )
    ctx.emit(events.OrderStatuses(user=acct.address, statuses=statuses))


def _modify_one(ctx: Ctx, acct: Account, ref: int | str, spec: OrderSpec, fb: FeeBook) -> dict[str, Any]:
    m = market_of(ctx, spec.asset)
    if isinstance(ref, str):
        check_cloid(ref)
        oid = _oid_for_cloid(ctx, acct.address, m.asset, ref)
    else:
        oid = ref
    if oid is None or not cancel_oid(ctx, acct, m.asset, oid, status="canceled"):
        return order_error(m.asset, "Cannot modify canceled or filled order.")
    # Hyperliquid modifies by cancel-and-replace: the new order gets a new oid (docs/rules/orders.md).
    status, _, _ = place(ctx, acct, spec, fb)
    return status


def _is_open_order_of(ctx: Ctx, acct: Account, asset: int, ref: int | str) -> bool:
    oid = _oid_for_cloid(ctx, acct.address, asset, ref) if isinstance(ref, str) else ref
    if oid is None:
        return False
    book = ctx.state.books.get(asset)
    ro = book.get(oid) if book is not None else None
    if ro is not None:
        return ro.user == acct.address
    t = ctx.state.triggers.get(oid)
    return t is not None and t.user == acct.address and t.asset == asset


def modify(ctx: Ctx, a: Modify) -> None:
    """A single modify of an order that is not open is rejected as a whole (the wire answers
    ``{"status": "err"}``), so it changes nothing, not even the action count."""
    acct = ctx.existing_account(a.user)
    _check_modify(ctx, a.oid, a.order, "modify")
    asset = market_of(ctx, a.order.asset).asset
    if not _is_open_order_of(ctx, acct, asset, a.oid):
        raise InvalidAction("oid", order_error(asset, "Cannot modify canceled or filled order.")["error"])
    st = _modify_one(ctx, acct, a.oid, a.order, FeeBook(ctx))
    ctx.emit(events.OrderStatuses(user=acct.address, statuses=[st]))


def _check_modify(ctx: Ctx, ref: object, spec: OrderSpec, where: str) -> None:
    market_of(ctx, spec.asset, f"{where}.order.asset")
    if isinstance(ref, str):
        check_cloid(ref)
    elif isinstance(ref, bool) or not isinstance(ref, int):
        raise InvalidAction(f"{where}.oid", "an order id or a cloid")


def batch_modify(ctx: Ctx, a: BatchModify) -> None:
    acct = ctx.existing_account(a.user)
    for i, mod in enumerate(a.modifies):
        _check_modify(ctx, mod.oid, mod.order, f"modifies[{i}]")
    fb = FeeBook(ctx)
    statuses = [_modify_one(ctx, acct, m.oid, m.order, fb) for m in a.modifies]
    ctx.emit(events.OrderStatuses(user=acct.address, statuses=statuses))


def schedule_cancel(ctx: Ctx, a: ScheduleCancel) -> None:
    acct = ctx.existing_account(a.user)
    if a.time is None:
        ctx.state.scheduled_cancels.pop(acct.address, None)
    else:
        if isinstance(a.time, bool) or a.time < ctx.now + SCHEDULE_CANCEL_MIN_DELAY_MS:
            raise InvalidAction("time", "must be at least 5 seconds after the current time")
        ctx.state.scheduled_cancels[acct.address] = a.time
    ctx.emit(events.ScheduleCancel(user=acct.address, time=a.time))


def run_scheduled_cancels(ctx: Ctx, now: int) -> None:
    for user in sorted(u for u, t in ctx.state.scheduled_cancels.items() if t <= now):
        del ctx.state.scheduled_cancels[user]
        acct = ctx.tx.account(user)
        cancel_all(ctx, acct, status="scheduledCancel")
