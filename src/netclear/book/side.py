"""One side of an order book: a sorted price index plus a FIFO queue per price level.

Price-time priority (Hyperliquid docs 'Order book'): better price first, then earlier arrival.

* The price index is a plain ascending ``list`` of keys kept with :mod:`bisect`, best price **last**:
  the key is ``px`` for bids and ``-px`` for asks. Reading, taking or emptying the best level is O(1)
  (``keys[-1]``, ``list.pop()``); a new level is a binary search plus a ``memmove`` of the keys better
  than it, which is short because new levels cluster near the top of the book. Measured with
  benchmarks/bench_book.py against a ``sortedcontainers.SortedList`` index: 1.2-1.5x on adds and
  matches for 10k orders; SortedList only wins (about 1.5x) when 100k orders each open a level at a
  random depth. A lazy-deletion heap inserts faster but must sort for every L2 / impact-price walk.
* Each level is an :class:`~collections.OrderedDict` ``oid -> order`` in arrival order: O(1) append,
  O(1) removal by oid anywhere in the queue, O(1) access to the head.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Iterator

from netclear.book.types import RestingOrder


class PriceLevel:
    """Orders resting at one price, oldest first, with their total remaining size."""

    __slots__ = ("orders", "px", "total_sz")

    def __init__(self, px: int) -> None:
        self.px = px
        self.orders: OrderedDict[int, RestingOrder] = OrderedDict()
        self.total_sz = 0


class BookSide:
    """Bids (``is_buy``) or asks. ``sign`` maps a price to its sort key (best key = largest)."""

    __slots__ = ("is_buy", "keys", "levels", "sign")

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.sign = 1 if is_buy else -1
        self.keys: list[int] = []
        """Ascending sort keys; ``keys[-1]`` is the best price's key."""
        self.levels: dict[int, PriceLevel] = {}
        """Price -> level."""

    def __len__(self) -> int:
        return len(self.keys)

    def best_px(self) -> int | None:
        keys = self.keys
        return keys[-1] * self.sign if keys else None

    def best_level(self) -> PriceLevel | None:
        keys = self.keys
        return self.levels[keys[-1] * self.sign] if keys else None

    def second_best_px(self) -> int | None:
        keys = self.keys
        return keys[-2] * self.sign if len(keys) > 1 else None

    def crossed_by(self, px: int) -> bool:
        """An opposite-side order at ``px`` would trade here: ``bid >= px`` / ``ask <= px``."""
        keys = self.keys
        return bool(keys) and keys[-1] >= px * self.sign

    def insert(self, order: RestingOrder) -> None:
        """Append ``order`` to the back of its price level's queue (time priority)."""
        px = order.px
        level = self.levels.get(px)
        if level is None:
            level = self.open_level(px)
        level.orders[order.oid] = order
        level.total_sz += order.sz
        order._level = level

    def open_level(self, px: int) -> PriceLevel:
        """A new, empty level at ``px`` (not yet present), placed in the price index."""
        level = self.levels[px] = PriceLevel(px)
        insort(self.keys, px * self.sign)
        return level

    def remove(self, order: RestingOrder) -> None:
        """Take ``order`` out of its level (anywhere in the queue); drop the level when empty."""
        level = self.levels[order.px]
        del level.orders[order.oid]
        level.total_sz -= order.sz
        if not level.orders:
            self.drop_level(order.px)

    def drop_level(self, px: int) -> None:
        del self.levels[px]
        key = px * self.sign
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def iter_levels(self) -> Iterator[PriceLevel]:
        """Levels best first."""
        levels, sign = self.levels, self.sign
        for key in reversed(self.keys):
            yield levels[key * sign]

    def iter_orders(self) -> Iterator[RestingOrder]:
        """Orders in priority order: best price first, oldest first within a price."""
        for level in self.iter_levels():
            yield from level.orders.values()
