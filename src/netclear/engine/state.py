"""The clearinghouse state: accounts, positions, lending reserves, prices and totals.

Plain mutable dataclasses with slots. Only :mod:`netclear.engine.exchange` (through its handlers and
a :class:`~netclear.engine.tx.Tx`) mutates them; everything else reads. Every class here is
:class:`~netclear.undo.Journaled` and every map a :class:`~netclear.undo.JDict` (or ``JSet``), so while a
transaction is open each write records its undo: a rejected action rolls back everything it changed
(accounts, reserves, prices, books, triggers, markets, cooldowns, agents, counters). Two fields are not
journaled, by design: ``history`` (records are added only after an action commits) and ``fee_cache``
(derived, keyed by day).

Money model (docs/accounting.md):

* ``Account.spot[token]`` is the spot balance in wei. Under ``unifiedAccount`` and
  ``portfolioMargin`` it is the *one* balance of that token, and the cash legs of cross perp trades
  on dexes collateralised by the token settle into it too (so it can be negative while a long perp
  position is open: the position's value offsets it).
* ``Account.perp_cash[dex]`` is the cross margin cash (``rawUsd``) of a dex in standard mode.
* ``Position.raw_usd`` is the cash of an isolated position (``rawUsd`` in ``clearinghouseState``).
* Lending positions are bases on the reserve's cumulative indices (``value = basis * index``).

Conservation (DESIGN rule 4), per token t:
``Σ spot[t] + Σ perp_cash(dexes with collateral t) + Σ isolated raw_usd(t) + reserve[t].cash
= external_in[t] - external_out[t]``; perp cash legs cancel between buyer and seller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, ClassVar

from netclear.book.orderbook import OrderBook
from netclear.lending.rates import INDEX_SCALE
from netclear.undo import ITEM, ITEM_AT, Entry, IndexDict, JDict, Journaled, JSet, journaled


class Mode(StrEnum):
    """Account abstraction modes (Hyperliquid docs 'Account abstraction modes'); values are the wire names."""

    STANDARD = "disabled"
    UNIFIED = "unifiedAccount"
    PORTFOLIO = "portfolioMargin"

    @property
    def unified(self) -> bool:
        return self is not Mode.STANDARD


@journaled
@dataclass(slots=True)
class LeverageSetting(Journaled):
    is_cross: bool
    value: int


@journaled
@dataclass(slots=True)
class Position(Journaled):
    """A one-way perp position (Hyperliquid docs 'Margining': only "oneWay" exists)."""

    asset: int
    szi: int = 0
    """Signed size in lots of ``10**-szDecimals``."""
    entry_ntl: int = 0
    """``|szi| * entryPx`` in price units x lots (informational: Hyperliquid docs 'Entry price and PnL' calls
    entry "frontend")."""
    is_cross: bool = True
    leverage: int = 1
    raw_usd: int = 0
    """Isolated positions only: the position's cash leg plus its margin, collateral wei."""
    funding_all_time: int = 0
    funding_since_open: int = 0
    funding_since_change: int = 0
    """Cumulative funding paid (positive) or received (negative), collateral wei."""
    opened_ms: int = 0

    def clone(self) -> Position:
        return Position(
            self.asset,
            self.szi,
            self.entry_ntl,
            self.is_cross,
            self.leverage,
            self.raw_usd,
            self.funding_all_time,
            self.funding_since_open,
            self.funding_since_change,
            self.opened_ms,
        )


@journaled
@dataclass(slots=True)
class Account(Journaled):
    _MAPS: ClassVar[dict[str, type]] = {
        k: JDict
        for k in (
            "spot",
            "spot_hold",
            "perp_cash",
            "positions",
            "leverage",
            "supply_basis",
            "borrow_basis",
            "volume_days",
            "order_margin",
        )
    }

    address: str
    mode: Mode = Mode.STANDARD
    master: str | None = None
    name: str | None = None
    is_system: bool = False
    spot: dict[int, int] = field(default_factory=dict)
    spot_hold: dict[int, int] = field(default_factory=dict)
    """Balance reserved by resting spot orders, per token (markets issue)."""
    perp_cash: dict[str, int] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    leverage: dict[int, LeverageSetting] = field(default_factory=dict)
    supply_basis: dict[int, int] = field(default_factory=dict)
    borrow_basis: dict[int, int] = field(default_factory=dict)
    volume_days: dict[int, tuple[int, int]] = field(default_factory=dict)
    """UTC day -> (perp notional, spot notional) traded, USDC wei; feeds fee tiers and the PM gate."""
    open_orders: int = 0
    order_margin: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Perp asset -> (buy, sell) initial margin reserved by resting orders; the pool holds the larger."""
    actions_today: tuple[int, int] = (0, 0)
    """(UTC day, accepted user actions): unified and PM accounts are capped per day (Hyperliquid docs 'Account
    abstraction modes')."""

    def clone(self) -> Account:
        return Account(
            self.address,
            self.mode,
            self.master,
            self.name,
            self.is_system,
            JDict(self.spot),
            JDict(self.spot_hold),
            JDict(self.perp_cash),
            JDict({k: p.clone() for k, p in self.positions.items()}),
            JDict({k: LeverageSetting(v.is_cross, v.value) for k, v in self.leverage.items()}),
            JDict(self.supply_basis),
            JDict(self.borrow_basis),
            JDict(self.volume_days),
            self.open_orders,
            JDict(self.order_margin),
            self.actions_today,
        )

    def copy_from(self, other: Account) -> None:
        """Take every field of ``other`` (a private copy) in place, so references stay valid."""
        for name in self.__slots__:
            setattr(self, name, getattr(other, name))

    def has_positions(self) -> bool:
        return any(p.szi != 0 for p in self.positions.values())

    def has_borrows(self) -> bool:
        return any(b > 0 for b in self.borrow_basis.values())


@journaled
@dataclass(slots=True)
class Reserve(Journaled):
    """A lending reserve for one token (Hyperliquid docs 'Portfolio margin').

    ``cash`` is the token actually held by the pool. Claims are ``scaled_supply * supply_index`` and
    debts ``scaled_borrow * borrow_index`` (both over ``INDEX_SCALE``). ``buffer_raw`` is the
    protocol's retained share of interest (the 10% cut) in wei x ``INDEX_SCALE``.
    Solvency identity, checked in tests: ``cash + debts - claims - buffer >= 0`` (rounding dust only).
    """

    token: int
    cash: int = 0
    scaled_supply: int = 0
    scaled_borrow: int = 0
    supply_index: int = INDEX_SCALE
    borrow_index: int = INDEX_SCALE
    buffer_raw: int = 0
    last_accrual_ms: int = 0
    bad_debt: int = 0
    """Debt written off against suppliers (liquidation issue), wei."""
    hour_supply_index: int = INDEX_SCALE
    hour_borrow_index: int = INDEX_SCALE
    """Indices at the last hourly indexing, for per-user hourly interest records."""

    def clone(self) -> Reserve:
        return Reserve(
            self.token,
            self.cash,
            self.scaled_supply,
            self.scaled_borrow,
            self.supply_index,
            self.borrow_index,
            self.buffer_raw,
            self.last_accrual_ms,
            self.bad_debt,
            self.hour_supply_index,
            self.hour_borrow_index,
        )

    def copy_from(self, other: Reserve) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(other, name))

    @property
    def total_supplied(self) -> int:
        return self.scaled_supply * self.supply_index // INDEX_SCALE

    @property
    def total_borrowed(self) -> int:
        return -((-self.scaled_borrow * self.borrow_index) // INDEX_SCALE)


@journaled
@dataclass(slots=True)
class PriceState(Journaled):
    _MAPS: ClassVar[dict[str, type]] = {"oracle": JDict, "mark": JDict, "spot": JDict}

    """Oracle and mark prices (1e-8 units). Spot prices are keyed by spot pair index."""

    oracle: dict[int, int] = field(default_factory=dict)
    mark: dict[int, int] = field(default_factory=dict)
    spot: dict[int, int] = field(default_factory=dict)
    usdc_oracle: int = 10**8
    """HL spot oracle price of USDC (in USDT); ``USDT_USDC_oracle = 1 / usdc_oracle``."""

    def clone(self) -> PriceState:
        return PriceState(dict(self.oracle), dict(self.mark), dict(self.spot), self.usdc_oracle)


@journaled
@dataclass(slots=True)
class OrderInfo(Journaled):
    """Engine data on a resting order (``RestingOrder.tag``): what it reserves and how it was sent."""

    hold: int = 0
    """Reserved for the remaining size: spot token wei, or perp initial margin in collateral wei."""
    hold_token: int = -1
    """Spot: the token held; perps: -1 (the margin sits in ``Account.order_margin``)."""
    opening_sz: int = 0
    """Perps: lots of the remaining size that open exposure (the hold covers these)."""
    children: tuple[int, ...] = ()
    """``normalTpsl``: trigger orders placed when this order fully fills."""
    order_type: str = "Limit"


@journaled
@dataclass(slots=True)
class TriggerOrder(Journaled):
    """A TP/SL order waiting for the mark price (Hyperliquid docs 'Take profit and stop loss orders
    (TP/SL)')."""

    oid: int
    user: str
    asset: int
    is_buy: bool
    sz: int
    limit_px: int
    trigger_px: int
    is_market: bool
    tpsl: str
    reduce_only: bool
    time: int
    cloid: str | None = None
    grouping: str = "na"
    parent: int | None = None
    """Waiting for this parent order to fill (``normalTpsl``); inactive until then."""

    @property
    def position_tpsl(self) -> bool:
        return self.grouping == "positionTpsl"


class Triggers(JDict[int, TriggerOrder]):
    """Trigger orders by oid, with an index of the ``normalTpsl`` children waiting for each parent.

    ``children(parent)`` costs O(children), not O(all triggers) (the index is kept by every insert and
    delete, and journaled like the map). Trigger oids are issued in increasing order, so the map is in oid
    order and a deletion is undone by a re-insert in that order, with no search for the old place. The
    index is derived: it is not pickled or hashed (a ``Triggers`` pickles as a plain ``dict``) and is
    rebuilt when a map of triggers is loaded.
    """

    __slots__ = ("by_parent",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_parent: IndexDict[int, tuple[int, ...]] = IndexDict()
        for oid, t in dict.items(self):
            if t.parent is not None:
                dict.__setitem__(self.by_parent, t.parent, (*self.by_parent.get(t.parent, ()), oid))

    def children(self, parent: int) -> list[TriggerOrder]:
        """The triggers waiting for ``parent`` to fill, in oid order."""
        out = []
        for oid in self.by_parent.get(parent, ()):
            t = dict.get(self, oid)
            if t is not None and t.parent == parent:
                out.append(t)
        return out

    def unlink_children(self, parent: int) -> None:
        """Forget ``parent``'s entry in the index (its children were activated: ``parent`` is now None)."""
        self.by_parent.pop(parent, None)

    def __setitem__(self, oid: int, t: TriggerOrder) -> None:
        old = dict.get(self, oid)
        if old is not None and old.parent is not None:
            self._unlink(oid, old.parent)
        super().__setitem__(oid, t)
        if t.parent is not None:
            self.by_parent[t.parent] = (*self.by_parent.get(t.parent, ()), oid)

    def __delitem__(self, oid: int) -> None:
        t = dict.__getitem__(self, oid)
        super().__delitem__(oid)
        if t.parent is not None:
            self._unlink(oid, t.parent)

    def clear(self) -> None:
        super().clear()
        self.by_parent.clear()

    def _unlink(self, oid: int, parent: int) -> None:
        kids = self.by_parent.get(parent)
        if kids is not None and oid in kids:
            rest = tuple(k for k in kids if k != oid)
            if rest:
                self.by_parent[parent] = rest
            else:
                del self.by_parent[parent]

    def _deletion(self, key: int, old: TriggerOrder) -> Entry:
        return (ITEM_AT, self, key, (old, -1)) if next(reversed(self)) != key else (ITEM, self, key, old)

    def _restore_at(self, key: int, value: TriggerOrder, position: int) -> None:
        dict.__setitem__(self, key, value)
        if len(self) > 1:
            newest = reversed(self)
            next(newest)
            if next(newest) > key:  # it was not the newest: rebuild in oid order
                items = sorted(dict.items(self))
                dict.clear(self)
                dict.update(self, items)


@journaled
@dataclass(slots=True)
class MarketState(Journaled):
    """Per-asset market data: last trade, mark EMAs, funding premium samples, day statistics."""

    last_px: int | None = None
    emas: Any = None
    sampler: Any = None
    premium: Fraction | None = None
    funding_rate: Fraction = Fraction(0)
    """Last hourly funding rate paid (``funding`` in ``metaAndAssetCtxs``)."""
    day: int = -1
    prev_day_px: int | None = None
    day_ntl_vlm: int = 0
    day_base_vlm: int = 0
    open_interest: int = 0
    """Lots held long (equal to lots held short)."""
    prev_mark: int | None = None
    """The mark before the latest update: auto-deleveraging fills there (Hyperliquid docs
    'Auto-deleveraging')."""


HISTORY_LIMIT = 2_000
"""Records kept in memory per user and kind: Hyperliquid's info endpoint serves "at most 2000 most
recent" fills (``userFills``) and orders (``historicalOrders``) (Hyperliquid docs, "Info endpoint")."""
MARKET_HISTORY_LIMIT = 10_000
"""Public trades and hourly funding rates kept per coin (the ``trades`` channel, candles, ``fundingHistory``)."""


class Records(list[dict[str, Any]]):
    """The most recent records of one user (or coin); ``total`` counts every record ever added, so a
    reader's cursor (the websocket's) stays valid when old records are dropped."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.total = len(self)

    def since(self, cursor: int) -> list[dict[str, Any]]:
        """Records added after the first ``cursor`` ever added (those still kept)."""
        fresh = self.total - cursor
        if fresh <= 0:
            return []
        return self[-fresh:] if fresh < len(self) else list(self)


@dataclass(slots=True)
class History:
    """Per-user records that the info views serve (not part of the state hash)."""

    fills: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    funding: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ledger: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    interest: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per user: order status changes (``orderStatus``, ``orderUpdates``, ``historicalOrders``)."""
    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per coin: public trades (``trades`` channel, candles)."""
    funding_rates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per coin: hourly funding (``fundingHistory``)."""
    liquidations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per user: liquidation events with their loss waterfall (every amount lands in a named account)."""
    liquidation_feed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per liquidated user: one record per liquidation (method, notional, marks) for the public
    ``liquidations`` view (docs/views.md); users never liquidated have no entry."""

    def add(self, kind: str, user: str, record: dict[str, Any]) -> None:
        """Append ``record``, keeping the most recent :data:`HISTORY_LIMIT` per user (per coin:
        :data:`MARKET_HISTORY_LIMIT`); the action log keeps everything (replay re-derives it)."""
        book: dict[str, list[dict[str, Any]]] | None = getattr(self, kind, None)
        if book is None:  # a field added after an older snapshot was pickled
            book = {}
            setattr(self, kind, book)
        records = book.get(user)
        if not isinstance(records, Records):
            records = book[user] = Records(records or ())
        records.append(record)
        records.total += 1
        limit = MARKET_HISTORY_LIMIT if kind in ("trades", "funding_rates") else HISTORY_LIMIT
        if len(records) > limit:
            del records[: len(records) - limit]


@journaled
@dataclass(slots=True)
class ExchangeState(Journaled):
    _MAPS: ClassVar[dict[str, type]] = {
        **{
            k: JDict
            for k in (
                "accounts",
                "reserves",
                "external_in",
                "external_out",
                "books",
                "markets",
                "scheduled_cancels",
                "agents",
                "liquidation_cooldown",
            )
        },
        "triggers": Triggers,
        "pm_grants": JSet,
    }

    time_ms: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)
    reserves: dict[int, Reserve] = field(default_factory=dict)
    prices: PriceState = field(default_factory=PriceState)
    external_in: dict[int, int] = field(default_factory=dict)
    external_out: dict[int, int] = field(default_factory=dict)
    last_index_hour: int = 0
    """Hour number (time_ms // 1h) at which reserves were last indexed."""
    seq: int = 0
    """Number of actions applied (accepted or rejected)."""
    next_tid: int = 1
    next_oid: int = 1
    books: dict[int, OrderBook] = field(default_factory=dict)
    triggers: Triggers = field(default_factory=Triggers)
    markets: dict[int, MarketState] = field(default_factory=dict)
    scheduled_cancels: dict[str, int] = field(default_factory=dict)
    last_funding_hour: int = 0
    agents: dict[str, tuple[str, str | None, int | None]] = field(default_factory=dict)
    """Agent address -> (user, name, valid until ms) for API wallets (approveAgent)."""
    liquidation_cooldown: dict[str, int] = field(default_factory=dict)
    """User -> time of the last partial liquidation (30 s cooldown, Hyperliquid docs 'Liquidations')."""
    last_twap_ms: int = 0
    pm_grants: set[str] = field(default_factory=set)
    """Addresses the operator let enable portfolio margin past the eligibility gate (GrantPmEligibility)."""
    history: History = field(default_factory=History)
    fee_cache: dict[tuple[str, bool, int], Any] = field(default_factory=dict)
    """Derived, not hashed: fee rates per (master, spot?, UTC day). Tiers are assessed daily on the
    completed days' volume (Hyperliquid docs 'Fees'), so a day's rates never change within the day."""
