"""The order book of one asset: resting orders, price-time matching, self-trade prevention, L2 views.

A pure data structure (no margin, fees or positions): the clearinghouse drives it and answers the
``on_match`` callback, which is where it re-checks the resting side's margin "at the matching of each
order" (Hyperliquid docs 'Margining'; GitBook ``hypercore/order-book``). Rules implemented, all from
Hyperliquid docs 'Order book':

* **Price-time priority.** Better price first; at one price, the order that reached the book first.
  Every trade is at the resting (maker) order's price.
* **Self-trade prevention.** "Trades between the same address cancel the resting order instead of
  causing a fill": the resting order is expired (removed, no fill, no fee) and matching continues.
* **TIF.** Only GTC and ALO orders rest; an ALO that :meth:`OrderBook.would_cross` is canceled by the
  caller; an IOC remainder is dropped by the caller (:attr:`MatchResult.remaining_sz`).
* **Modify.** Hyperliquid implements ``modify`` as cancel-and-replace: the replacement gets a **new oid**
  and keeps the cloid, and the docs class a modify "according to the new order" it places (Hyperliquid docs
  'Order book' block ordering; [3P] live observation in xLydianSoftware/Qubx PR #326 and nautilus_trader
  #3827). So :meth:`OrderBook.modify` always sends the replacement to the back of its level's queue, even when
  only the size shrinks. :meth:`OrderBook.reduce` (an engine-side size cut, e.g. a reduce-only clamp) keeps
  the order's place.

Units: prices ``int`` 1e-8 (``fixedpoint.PX_SCALE``), sizes ``int`` lots, no floats.

**Undo.** While an undo journal is active (:mod:`netclear.undo`, opened by the engine's transaction),
every structural change journals its inverse: an order added is removed again; an order removed (cancel,
full fill, self-trade expiry) goes back to its exact place in its level's queue, in the oid, user and
cloid indexes, with its size; a partial fill or ``reduce`` gets its size and the level total back. Each
order carries an arrival number (``RestingOrder._seq``), the order it reached the book in, which is the order of
every level's queue and of the indexes, so an undone removal finds its place without a search.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterator

from netclear.book.impact import impact_px
from netclear.book.side import BookSide
from netclear.book.types import (
    Decision,
    Fill,
    L2Level,
    MatchResult,
    RestingOrder,
    check_order,
    check_px,
    check_sz,
)
from netclear.errors import InvalidAction, InvalidAmount, UnknownEntity
from netclear.undo import CALL
from netclear.undo import current as _journal

_new_fill = tuple.__new__
"""``_new_fill(Fill, (...))`` builds a :class:`Fill` without the Python frame of its ``__new__``."""

__all__ = ["Decision", "Fill", "L2Level", "MatchResult", "OnMatch", "OrderBook", "RestingOrder"]

OnMatch = Callable[[RestingOrder, int], Decision | int]
"""``on_match(maker, fill_sz) -> Decision | int``, asked before each trade (see :meth:`OrderBook.match`)."""


class OrderBook:
    """Resting limit orders of one ``asset``, bids and asks, in price-time priority (Hyperliquid docs 'Order
    book')."""

    __slots__ = ("_asks", "_bids", "_by_cloid", "_by_user", "_next_arrival", "_orders", "asset")

    def __init__(self, asset: int) -> None:
        self.asset = asset
        self._bids = BookSide(is_buy=True)
        self._asks = BookSide(is_buy=False)
        self._orders: dict[int, RestingOrder] = {}
        self._by_user: dict[str, dict[int, RestingOrder]] = {}
        self._by_cloid: dict[tuple[str, str], RestingOrder] = {}
        self._next_arrival = 0
        """The arrival number of the next order placed (each order keeps its own in ``_seq``; derived: not
        pickled, renumbered from ``_orders``' order on load)."""

    def __getstate__(self) -> tuple[None, dict[str, object]]:
        """The pickled shape of books before undo existed (the arrival numbers are derived)."""
        return None, {
            "asset": self.asset,
            "_bids": self._bids,
            "_asks": self._asks,
            "_orders": self._orders,
            "_by_user": self._by_user,
            "_by_cloid": self._by_cloid,
        }

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        for name, value in state[1].items():
            if name not in ("_arrival", "_next_arrival"):
                setattr(self, name, value)
        n = 0
        for n, order in enumerate(self._orders.values(), 1):
            order._seq = n - 1  # type: ignore[misc]  # a slot of the base _Queued
        self._next_arrival = n
        for side in (self._bids, self._asks):
            for level in side.levels.values():
                for order in level.orders.values():
                    order._level = level

    @property
    def _arrival(self) -> dict[int, int]:
        """oid -> arrival number, in arrival order (derived from the orders' ``_seq``; for checks)."""
        return {oid: o._seq for oid, o in self._orders.items()}

    # ------------------------------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, oid: object) -> bool:
        return oid in self._orders

    def get(self, oid: int) -> RestingOrder | None:
        return self._orders.get(oid)

    def find_by_cloid(self, user: str, cloid: str) -> RestingOrder | None:
        """The user's resting order with client order id ``cloid`` (cloids are per address)."""
        return self._by_cloid.get((user, cloid))

    def orders_of(self, user: str) -> list[RestingOrder]:
        """The user's resting orders in the order they reached the book (for ``openOrders`` views)."""
        orders = self._by_user.get(user)
        return list(orders.values()) if orders else []

    def iter_orders(self, is_buy: bool | None = None) -> Iterator[RestingOrder]:
        """Resting orders in priority order, bids then asks (or one side): best price, then oldest."""
        if is_buy is None or is_buy:
            yield from self._bids.iter_orders()
        if is_buy is None or not is_buy:
            yield from self._asks.iter_orders()

    def best_bid(self) -> int | None:
        return self._bids.best_px()

    def best_ask(self) -> int | None:
        return self._asks.best_px()

    def mid(self) -> int | None:
        """``(best_bid + best_ask) // 2`` or ``None`` unless both sides have orders.

        Exact on perp tick grids (at most 6 decimals, Hyperliquid docs 'Tick and lot size'); a spot mid
        that falls on half a 1e-8 unit is rounded down.
        """
        bid, ask = self._bids.best_px(), self._asks.best_px()
        if bid is None or ask is None:
            return None
        return (bid + ask) // 2

    def would_cross(self, is_buy: bool, px: int) -> bool:
        """An order (``is_buy``, ``px``) would trade on arrival: the ALO test (Hyperliquid docs 'Order book'
        TIF)."""
        return (self._asks if is_buy else self._bids).crossed_by(px)

    def l2(self, n_levels: int = 20) -> tuple[list[L2Level], list[L2Level]]:
        """``(bids, asks)``, each up to ``n_levels`` of ``(px, total_sz, n_orders)``, best first.

        The shape of Hyperliquid's ``l2Book`` levels ``{px, sz, n}`` (20 levels per side by default).
        """
        if type(n_levels) is not int or n_levels <= 0:
            raise InvalidAction("n_levels", f"must be a positive int, got {n_levels!r}")
        return self._l2_side(self._bids, n_levels), self._l2_side(self._asks, n_levels)

    @staticmethod
    def _l2_side(side: BookSide, n_levels: int) -> list[L2Level]:
        out: list[L2Level] = []
        for level in side.iter_levels():
            if len(out) == n_levels:
                break
            out.append((level.px, level.total_sz, len(level.orders)))
        return out

    def impact_price(self, is_buy: bool, notional: int, sz_decimals: int, quote_decimals: int) -> int | None:
        """Average execution price (1e-8) of a taker ``is_buy`` order worth ``notional`` quote wei.

        The impact ask is ``impact_price(True, ...)`` (buying from the asks), the impact bid
        ``impact_price(False, ...)`` (Hyperliquid docs 'Funding'). Rounded up for a buy, down for a sell
        (worse for the taker); ``None`` if the side cannot fill the notional. Arithmetic:
        :func:`~.impact.impact_px`.
        """
        side = self._asks if is_buy else self._bids
        levels = ((lv.px, lv.total_sz) for lv in side.iter_levels())
        return impact_px(levels, notional, sz_decimals, quote_decimals, is_buy=is_buy)

    # ------------------------------------------------------------------------------------------ changes
    def add(self, order: RestingOrder) -> None:
        """Rest ``order`` at the back of its price level (time priority).

        Raises :class:`InvalidAction` for a bad field, a duplicate oid or (user, cloid), or an order that
        would cross the book: a crossing order must go through :meth:`match` first (Hyperliquid docs 'Order
        book').
        """
        check_order(order, self.asset)
        oid = order.oid
        orders = self._orders
        if oid in orders:
            raise InvalidAction("oid", f"order {oid} is already resting on asset {self.asset}")
        cloid = order.cloid
        if cloid is not None and (order.user, cloid) in self._by_cloid:
            raise InvalidAction("cloid", f"{cloid} already names a resting order of {order.user}")
        is_buy, px = order.is_buy, order.px
        opp = self._asks if is_buy else self._bids
        keys = opp.keys
        if keys and keys[-1] >= px * opp.sign:
            raise InvalidAction(
                "px", f"order at {px} would cross the book (opposite best {opp.best_px()}); match it first"
            )
        log = _journal()
        if log is not None:
            log.append((CALL, self._undo_insert, order, None))
        self._place(order)

    def cancel(self, oid: int) -> RestingOrder | None:
        """Remove and return the order ``oid``; ``None`` if no such order rests."""
        order = self._orders.get(oid)
        if order is None:
            return None
        # the level written out (this is the hot path of cancels and of every removal), then the indexes
        log = _journal()
        if log is not None:
            log.append((CALL, self._undo_remove, (order, order._seq), None))
        level = order._level
        queue = level.orders
        del queue[oid]
        level.total_sz -= order.sz
        if not queue:
            (self._bids if order.is_buy else self._asks).drop_level(level.px)
        self._unindex(order)
        return order

    def reduce(self, oid: int, new_sz: int) -> RestingOrder:
        """Cut order ``oid``'s remaining size to ``new_sz`` (``0 < new_sz <= sz``) keeping its priority.

        A smaller order takes nothing from anyone behind it, so it keeps its place. To remove an order
        use :meth:`cancel`.
        """
        order = self._orders.get(oid)
        if order is None:
            raise UnknownEntity("oid", f"no resting order {oid} on asset {self.asset}")
        check_sz(new_sz, "sz")
        if new_sz > order.sz:
            raise InvalidAmount("sz", f"reduce can only shrink an order: {new_sz} > remaining {order.sz}")
        log = _journal()
        if log is not None:
            log.append((CALL, self._undo_size, (order, order.sz), None))
        side = self._bids if order.is_buy else self._asks
        side.levels[order.px].total_sz -= order.sz - new_sz
        order.sz = new_sz
        return order

    def modify(self, oid: int, replacement: RestingOrder) -> RestingOrder:
        """Cancel-and-replace order ``oid`` by ``replacement`` atomically; return the replaced order.

        Hyperliquid gives the replacement a new oid and time (the caller sets them), so it always loses
        time priority, size-only cuts included (module docstring). All checks of :meth:`add` apply, with
        the old order treated as gone; on error nothing changes. A replacement that would cross must be
        matched by the caller instead.
        """
        old = self._orders.get(oid)
        if old is None:
            raise UnknownEntity("oid", f"no resting order {oid} on asset {self.asset}")
        self._check_new(replacement, replacing=old)
        opp = self._asks if replacement.is_buy else self._bids
        best = opp.best_px()
        if old.is_buy != replacement.is_buy and best == old.px:
            level = opp.best_level()
            if level is not None and len(level.orders) == 1:
                best = opp.second_best_px()  # the old order alone made that level
        if best is not None and (replacement.px >= best if replacement.is_buy else replacement.px <= best):
            raise InvalidAction(
                "px",
                f"replacement at {replacement.px} would cross the book (opposite best {best}); match first",
            )
        self._remove(old)
        self._insert(replacement)
        return old

    def match(
        self,
        taker_user: str,
        taker_oid: int,
        is_buy: bool,
        limit_px: int,
        sz: int,
        on_match: OnMatch | None = None,
    ) -> MatchResult:
        """Match an incoming order against the opposite side in price-time priority (Hyperliquid docs 'Order
        book').

        Walks resting orders while they cross ``limit_px`` and size remains. For each maker:

        * same address as the taker: expired, no trade (self-trade prevention, 'Order book'), matching goes
        on;
        * otherwise ``on_match(maker, fill_sz)`` decides, with ``fill_sz = min(remaining, maker.sz)``:
          ``FILL`` trades ``fill_sz`` at the maker's price; an ``int`` ``k`` with ``0 < k <= fill_sz``
          trades only ``k`` lots (e.g. a reduce-only maker that may close less), the maker keeping the
          rest and its place, so it is offered again while the taker has size; ``CANCEL_MAKER`` removes
          the maker untraded (e.g. its margin no longer holds, 'Margining') and goes on; ``STOP`` ends
          matching.
          ``None`` fills everything.

        The taker itself never rests here; the caller rests or drops ``remaining_sz`` by its TIF. The book
        is consistent before each callback, which may cancel or reduce *other* orders but must leave the
        maker alone (answer ``CANCEL_MAKER``, or a smaller size, instead); a callback that breaks this
        contract raises ``RuntimeError``.
        """
        if type(limit_px) is not int or limit_px <= 0:
            check_px(limit_px, "limit_px")
        if type(sz) is not int or sz <= 0:
            check_sz(sz, "sz")
        result = MatchResult()
        fills = result.fills
        side = self._asks if is_buy else self._bids
        keys, levels, sign = side.keys, side.levels, side.sign
        limit_key = limit_px * sign
        orders = self._orders
        FILL = Decision.FILL
        remaining = sz
        while remaining and keys and keys[-1] >= limit_key:
            level = levels[keys[-1] * sign]
            maker = next(iter(level.orders.values()))  # time priority within the best price
            if maker.user == taker_user:
                self._remove(maker)
                result.expired.append(maker)
                continue
            maker_sz = maker.sz
            fill_sz = remaining if remaining < maker_sz else maker_sz
            decision = FILL if on_match is None else on_match(maker, fill_sz)
            if decision is not FILL:
                if decision is Decision.CANCEL_MAKER:
                    if orders.get(maker.oid) is maker:
                        self._remove(maker)
                    result.canceled_by_callback.append(maker)
                    continue
                if decision is Decision.STOP:
                    result.stopped = True
                    break
                if type(decision) is not int or not 0 < decision <= fill_sz:
                    raise RuntimeError(f"on_match answered {decision!r}; a partial fill is 1..{fill_sz} lots")
                fill_sz = decision
            if maker.sz != maker_sz or orders.get(maker.oid) is not maker:
                raise RuntimeError(f"on_match changed maker order {maker.oid} and then answered a fill")
            remaining -= fill_sz
            level.total_sz -= fill_sz
            if fill_sz == maker_sz:
                log = _journal()
                if log is not None:
                    log.append((CALL, self._undo_fill_out, (maker, maker._seq, maker_sz), None))
                maker.sz = 0
                del level.orders[maker.oid]
                if not level.orders:
                    side.drop_level(level.px)
                self._unindex(maker)
                fills.append(_new_fill(Fill, (maker, taker_user, taker_oid, level.px, fill_sz, True)))
            else:
                log = _journal()
                if log is not None:
                    log.append((CALL, self._undo_size, (maker, maker_sz), None))
                maker.sz = maker_sz - fill_sz
                fills.append(_new_fill(Fill, (maker, taker_user, taker_oid, level.px, fill_sz, False)))
        result.remaining_sz = remaining
        return result

    def clone(self) -> OrderBook:
        """An independent copy (orders copied, ``tag`` shared) with the same priorities."""
        book = OrderBook(self.asset)
        for order in self._orders.values():  # arrival order, so every level's FIFO is rebuilt as it was
            book._place(dataclasses.replace(order))
        return book

    def assert_consistent(self) -> None:
        """Check the internal indexes agree and the book is not crossed (for tests; raises AssertionError)."""
        seen: set[int] = set()
        for side in (self._bids, self._asks):
            assert side.keys == sorted(side.keys) and len(side.keys) == len(side.levels)
            for level in side.iter_levels():
                assert level.orders, f"empty level {level.px}"
                assert level.total_sz == sum(o.sz for o in level.orders.values())
                for oid, o in level.orders.items():
                    assert oid == o.oid and o.px == level.px and o.is_buy == side.is_buy and o.sz > 0
                    assert self._orders.get(oid) is o and self._by_user[o.user][oid] is o
                    assert o._level is level, f"order {oid} points at another level"
                    seen.add(oid)
        assert seen == set(self._orders), "order index out of sync with the levels"
        assert sum(len(v) for v in self._by_user.values()) == len(self._orders)
        assert all(
            self._by_cloid[(o.user, o.cloid)] is o for o in self._orders.values() if o.cloid is not None
        )
        assert len(self._by_cloid) == sum(1 for o in self._orders.values() if o.cloid is not None)
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed book: bid {bid} >= ask {ask}"
        arrival = self._arrival
        assert all(n < self._next_arrival for n in arrival.values()), "arrival numbers out of sync"
        assert all(
            arrival[a] < arrival[b] for a, b in zip(self._orders, list(self._orders)[1:], strict=False)
        )
        for level in (*self._bids.iter_levels(), *self._asks.iter_levels()):
            queue = [arrival[oid] for oid in level.orders]
            assert queue == sorted(queue), f"level {level.px} out of arrival order"

    # ------------------------------------------------------------------------------------------ internals
    def _check_new(self, order: RestingOrder, replacing: RestingOrder | None) -> None:
        check_order(order, self.asset)
        other = self._orders.get(order.oid)
        if other is not None and other is not replacing:
            raise InvalidAction("oid", f"order {order.oid} is already resting on asset {self.asset}")
        if order.cloid is not None:
            other = self._by_cloid.get((order.user, order.cloid))
            if other is not None and other is not replacing:
                raise InvalidAction("cloid", f"{order.cloid} already names a resting order of {order.user}")

    def _insert(self, order: RestingOrder) -> None:
        log = _journal()
        if log is not None:
            log.append((CALL, self._undo_insert, order, None))
        self._place(order)

    def _place(self, order: RestingOrder) -> None:
        """Rest ``order`` as the newest arrival (not journaled: callers journal); ``BookSide.insert`` and
        the indexes, written out on this hot path."""
        oid, user = order.oid, order.user
        n = self._next_arrival
        order._seq = n  # type: ignore[misc]
        self._next_arrival = n + 1
        side = self._bids if order.is_buy else self._asks
        px = order.px
        level = side.levels.get(px)
        if level is None:
            level = side.open_level(px)
        level.orders[oid] = order
        level.total_sz += order.sz
        order._level = level
        self._orders[oid] = order
        user_orders = self._by_user.get(user)
        if user_orders is None:
            self._by_user[user] = {oid: order}
        else:
            user_orders[oid] = order
        if order.cloid is not None:
            self._by_cloid[(user, order.cloid)] = order

    def _remove(self, order: RestingOrder) -> None:
        """Take a resting ``order`` out of the book (journaled): :meth:`cancel` of its oid."""
        self.cancel(order.oid)

    def _unindex(self, order: RestingOrder) -> None:
        """Drop ``order`` from the oid, user and cloid indexes (its level is handled by the caller)."""
        oid, user = order.oid, order.user
        del self._orders[oid]
        user_orders = self._by_user[user]
        del user_orders[oid]
        if not user_orders:
            del self._by_user[user]
        if order.cloid is not None:
            del self._by_cloid[(user, order.cloid)]

    # ------------------------------------------------------------------------------------------ undo
    # Called by the undo journal (netclear.undo.undo_to), newest change first, with journaling off; each
    # finds the book exactly as the change left it.
    def _undo_insert(self, order: RestingOrder) -> None:
        (self._bids if order.is_buy else self._asks).remove(order)
        self._unindex(order)
        self._next_arrival -= 1

    def _undo_remove(self, arg: tuple[RestingOrder, int]) -> None:
        order, arrival = arg
        self._restore(order, arrival)

    def _undo_fill_out(self, arg: tuple[RestingOrder, int, int]) -> None:
        order, arrival, sz = arg
        order.sz = sz
        self._restore(order, arrival)

    def _undo_size(self, arg: tuple[RestingOrder, int]) -> None:
        order, sz = arg
        side = self._bids if order.is_buy else self._asks
        side.levels[order.px].total_sz += sz - order.sz
        order.sz = sz

    def _restore(self, order: RestingOrder, arrival: int) -> None:
        """Put a removed order back where its arrival number says, in its level and every index."""
        oid = order.oid
        order._seq = arrival  # type: ignore[misc]
        side = self._bids if order.is_buy else self._asks
        side.insert(order)
        level = side.levels[order.px]
        _reorder(level.orders, oid, arrival)
        _reorder_put(self._orders, oid, order, arrival)
        user_orders = self._by_user.get(order.user)
        if user_orders is None:
            self._by_user[order.user] = {oid: order}
        else:
            _reorder_put(user_orders, oid, order, arrival)
        if order.cloid is not None:
            self._by_cloid[(order.user, order.cloid)] = order


def _reorder(queue: OrderedDict[int, RestingOrder], oid: int, arrival: int) -> None:
    """``oid`` was just appended to ``queue``; move it to its arrival place (head, tail or between)."""
    if len(queue) == 1:
        return
    if arrival < next(iter(queue.values()))._seq:
        queue.move_to_end(oid, last=False)
        return
    newest = reversed(queue.values())
    next(newest)
    if next(newest)._seq < arrival:
        return
    items = sorted(queue.items(), key=_arrival_of)
    queue.clear()
    queue.update(items)


def _reorder_put(index: dict[int, RestingOrder], oid: int, order: RestingOrder, arrival: int) -> None:
    """Insert ``oid`` into ``index`` (kept in arrival order) at its place (``order._seq == arrival``)."""
    if not index or next(reversed(index.values()))._seq < arrival:
        index[oid] = order
        return
    index[oid] = order
    items = sorted(index.items(), key=_arrival_of)
    index.clear()
    index.update(items)


def _arrival_of(item: tuple[int, RestingOrder]) -> int:
    return item[1]._seq
