"""Plain records of the order book: resting orders, fills, match results and the match callback's answer.

Units (src/netclear/fixedpoint.py): prices ``int`` in 1e-8 (``PX_SCALE``), sizes ``int`` lots of
``10**-szDecimals``, times ``int`` ms. No floats. Rules: Hyperliquid docs 'Order book'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from netclear.errors import InvalidAction, InvalidAmount

RESTING_TIFS = frozenset({"Gtc", "Alo"})
"""Time-in-force values that may rest. IOC "cancels the unfilled remainder", so it never rests ('Order book'
TIF)."""

L2Level = tuple[int, int, int]
"""One aggregated book level ``(px, total_sz, n_orders)``, the shape of ``l2Book`` levels ``{px, sz, n}``."""


class _Queued:
    """The book's own data on a resting order: its arrival number (``_seq``) and its price level
    (``_level``, a :class:`~netclear.book.side.PriceLevel`). Slots, not dataclass fields, so they are
    neither compared, copied by ``dataclasses.replace`` nor pickled (the book sets them again on load).
    (mypy does not see an inherited slot of a slotted dataclass: assignments to ``_seq`` carry an ignore.)"""

    __slots__ = ("_level", "_seq")
    _seq: int
    _level: Any


@dataclass(slots=True, eq=False)
class RestingOrder(_Queued):
    """A limit order resting on the book. ``sz`` is the remaining size, ``orig_sz`` the size placed.

    Identity is the object (``eq=False``): :class:`Fill` holds a reference to the live maker order.
    ``tag`` is free for the engine (e.g. a margin-reservation handle); the book never reads it.

    The book owns its orders: once an order rests, only the book changes it (``sz``, on a fill or
    :meth:`~netclear.book.orderbook.OrderBook.reduce`), and the book journals each of its changes as one
    inverse operation (:mod:`netclear.undo` call entries). So a resting order is a plain slotted record,
    not a journaled state object: building one costs what a dataclass costs, and a write from outside
    the book would not be undone by a rollback (the engine makes none; ``tag`` is a journaled object).
    """

    oid: int
    user: str
    asset: int
    is_buy: bool
    px: int
    sz: int
    orig_sz: int
    time: int
    cloid: str | None = None
    reduce_only: bool = False
    tif: str = "Gtc"
    tag: object = field(default=None, repr=False)

    def __getstate__(self) -> tuple[None, dict[str, object]]:
        """The pickled shape of an order: its fields only (the arrival number is the book's)."""
        return None, {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(RestingOrder.__dataclass_fields__)


class Decision(Enum):
    """What the caller's ``on_match`` callback decides for one resting order about to trade.

    The clearinghouse re-checks the resting side's margin "at the matching of each order"
    (Hyperliquid docs 'Margining', GitBook ``hypercore/order-book``); an order that fails is removed without
    trading. The callback may also answer a plain ``int``: a partial fill of that many lots (see ``match``).
    """

    FILL = "fill"
    """Trade the offered ``fill_sz`` at the maker's price."""
    CANCEL_MAKER = "cancel_maker"
    """Remove the resting order without trading and go on matching."""
    STOP = "stop"
    """End matching now; the maker stays untouched and the taker keeps its remainder."""


class Fill(NamedTuple):
    """One trade of a match: always at the maker's price (price-time priority, Hyperliquid docs 'Order book').

    A ``NamedTuple`` (immutable, and about twice as fast to build as a frozen dataclass on the hot path).
    """

    maker: RestingOrder
    """The resting order that traded (a live reference; its ``sz`` is what is left after this fill)."""
    taker_user: str
    taker_oid: int
    px: int
    sz: int
    maker_filled: bool
    """The maker order is now fully filled and has left the book."""


@dataclass(slots=True)
class MatchResult:
    """Outcome of :meth:`OrderBook.match`. Sizes: ``sz = filled_sz + remaining_sz``."""

    fills: list[Fill] = field(default_factory=list)
    expired: list[RestingOrder] = field(default_factory=list)
    """Resting orders of the taker's own address, removed without a trade (self-trade prevention, 'Order
    book')."""
    canceled_by_callback: list[RestingOrder] = field(default_factory=list)
    """Resting orders removed because ``on_match`` answered ``CANCEL_MAKER`` (e.g. failed margin,
    'Margining')."""
    remaining_sz: int = 0
    """Taker size not filled; the caller rests it (GTC), or drops it (IOC, 'Order types')."""
    stopped: bool = False
    """``on_match`` answered ``STOP``."""

    @property
    def filled_sz(self) -> int:
        return sum(f.sz for f in self.fills)


def _check_int(value: object, name: str) -> None:
    # bool is an int subclass; both it and floats are refused so no float ever reaches the book.
    if type(value) is not int:
        raise InvalidAction(name, f"must be an int in fixed-point units, got {type(value).__name__}")


def check_px(px: int, name: str = "px") -> None:
    """Prices are positive ints in 1e-8 units (fixedpoint.PX_SCALE; Hyperliquid docs 'Order book' tick
    rules)."""
    _check_int(px, name)
    if px <= 0:
        raise InvalidAmount(name, f"price must be positive, got {px}")


def check_sz(sz: int, name: str = "sz") -> None:
    """Sizes are positive ints in lots of 10**-szDecimals (Hyperliquid docs 'Tick and lot size')."""
    _check_int(sz, name)
    if sz <= 0:
        raise InvalidAmount(name, f"size must be a positive number of lots, got {sz}")


def check_order(order: RestingOrder, asset: int) -> None:
    """Validate a resting order for the book of ``asset``; raises naming the field and the rule.

    The common case (every field well formed) is one expression over exact types; any doubt goes to
    :func:`_check_order_fields`, which raises the precise error.
    """
    sz = order.sz
    if not (
        type(order.oid) is int
        and order.oid >= 0
        and type(order.is_buy) is bool
        and type(order.user) is str
        and order.user
        and order.asset == asset
        and type(order.px) is int
        and order.px > 0
        and type(sz) is int
        and sz > 0
        and type(order.orig_sz) is int
        and order.orig_sz >= sz
        and type(order.time) is int
        and order.tif in RESTING_TIFS
    ):
        _check_order_fields(order, asset)


def _check_order_fields(order: RestingOrder, asset: int) -> None:
    _check_int(order.oid, "oid")
    if order.oid < 0:
        raise InvalidAction("oid", f"must be non-negative, got {order.oid}")
    if type(order.is_buy) is not bool:
        raise InvalidAction("is_buy", f"must be a bool, got {type(order.is_buy).__name__}")
    if not isinstance(order.user, str) or not order.user:
        raise InvalidAction("user", "must be a non-empty address string")
    if order.asset != asset:
        raise InvalidAction("asset", f"order for asset {order.asset} sent to the book of asset {asset}")
    check_px(order.px)
    check_sz(order.sz)
    _check_int(order.orig_sz, "orig_sz")
    if order.orig_sz < order.sz:
        raise InvalidAmount("orig_sz", f"must be at least the remaining size {order.sz}, got {order.orig_sz}")
    _check_int(order.time, "time")
    if order.tif not in RESTING_TIFS:
        raise InvalidAction(
            "tif",
            f"only Gtc and Alo orders rest; got {order.tif!r} (IOC cancels its remainder, Hyperliquid docs 'Order book')",
        )
