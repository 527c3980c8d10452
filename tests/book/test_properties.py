"""Property test: random place / cancel / reduce / modify sequences against a naive reference model.

Invariants (Hyperliquid docs 'Order book'): the book is never crossed after an operation; every fill
follows price-time priority (checked by replaying each match on a brute-force model that sorts all
orders by (price, arrival)); self-trade prevention expires the maker; FIFO holds within each level;
and sizes are conserved per order: submitted = filled + canceled/expired + still resting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from netclear.book import Decision, OrderBook, RestingOrder
from netclear.errors import InvalidAction

from .helpers import A, B, C

TICK = 10**6
USERS = st.sampled_from([A, B, C])
DECISIONS = st.lists(
    st.sampled_from([Decision.FILL, Decision.FILL, Decision.FILL, Decision.CANCEL_MAKER, Decision.STOP])
    | st.integers(1, 4),  # a partial fill of min(k, offered) lots
    max_size=5,
)

Decide = Callable[[int, int], Decision | int]


@dataclass
class ModelOrder:
    oid: int
    user: str
    is_buy: bool
    px: int
    sz: int
    seq: int

    def priority(self) -> tuple[int, int]:
        """Smaller is better: best price first (highest bid / lowest ask), then earliest arrival."""
        return (-self.px if self.is_buy else self.px, self.seq)


@dataclass
class ModelMatch:
    fills: list[tuple[int, int, int, bool]]
    expired: list[int]
    canceled: list[int]
    remaining: int
    stopped: bool


class Model:
    """Brute force: every step scans all orders for the best crossing one."""

    def __init__(self) -> None:
        self.orders: dict[int, ModelOrder] = {}
        self.seq = 0

    def add(self, oid: int, user: str, is_buy: bool, px: int, sz: int) -> None:
        self.seq += 1
        self.orders[oid] = ModelOrder(oid, user, is_buy, px, sz, self.seq)

    def crosses(self, is_buy: bool, px: int, ignore: int | None = None) -> bool:
        return any(
            o.is_buy != is_buy and (o.px <= px if is_buy else o.px >= px)
            for o in self.orders.values()
            if o.oid != ignore
        )

    def match(self, user: str, is_buy: bool, limit: int, sz: int, decide: Decide) -> ModelMatch:
        out = ModelMatch([], [], [], sz, False)
        while out.remaining:
            crossing = [
                o
                for o in self.orders.values()
                if o.is_buy != is_buy and (o.px <= limit if is_buy else o.px >= limit)
            ]
            if not crossing:
                break
            maker = min(crossing, key=ModelOrder.priority)
            if maker.user == user:
                del self.orders[maker.oid]
                out.expired.append(maker.oid)
                continue
            fill = min(out.remaining, maker.sz)
            d = decide(maker.oid, fill)
            if isinstance(d, int) or d is Decision.FILL:
                fill = d if isinstance(d, int) else fill
                maker.sz -= fill
                out.remaining -= fill
                out.fills.append((maker.oid, maker.px, fill, maker.sz == 0))
                if maker.sz == 0:
                    del self.orders[maker.oid]
            elif d is Decision.CANCEL_MAKER:
                del self.orders[maker.oid]
                out.canceled.append(maker.oid)
            else:
                out.stopped = True
                break
        return out


def decider(decisions: list[Decision | int]) -> Decide:
    """The i-th callback call answers ``decisions[i % len]`` (always FILL for an empty list)."""
    calls = [0]

    def decide(oid: int, fill_sz: int) -> Decision | int:
        i = calls[0]
        calls[0] += 1
        d = decisions[i % len(decisions)] if decisions else Decision.FILL
        return min(d, fill_sz) if isinstance(d, int) else d

    return decide


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(0)
        self.model = Model()
        self.next_oid = 1
        self.submitted: dict[int, int] = {}
        self.filled: defaultdict[int, int] = defaultdict(int)
        self.canceled: defaultdict[int, int] = defaultdict(int)

    def _new_oid(self) -> int:
        self.next_oid += 1
        return self.next_oid - 1

    def _rest(self, oid: int, user: str, is_buy: bool, px: int, sz: int, orig_sz: int) -> None:
        self.book.add(RestingOrder(oid, user, 0, is_buy, px, sz, orig_sz, oid))
        self.model.add(oid, user, is_buy, px, sz)

    @rule(
        user=USERS,
        is_buy=st.booleans(),
        tick=st.integers(1, 12),
        sz=st.integers(1, 20),
        tif=st.sampled_from(["Gtc", "Gtc", "Ioc", "Alo"]),
        decisions=DECISIONS,
    )
    def place(
        self, user: str, is_buy: bool, tick: int, sz: int, tif: str, decisions: list[Decision | int]
    ) -> None:
        oid, px = self._new_oid(), tick * TICK
        self.submitted[oid] = sz
        if tif == "Alo":  # 'Order book': ALO is canceled instead of matching
            crosses = self.book.would_cross(is_buy, px)
            assert crosses == self.model.crosses(is_buy, px)
            if crosses:
                self.canceled[oid] += sz
            else:
                self._rest(oid, user, is_buy, px, sz, sz)
            return
        book_decide, model_decide = decider(decisions), decider(decisions)
        result = self.book.match(user, oid, is_buy, px, sz, lambda m, f: book_decide(m.oid, f))
        expected = self.model.match(user, is_buy, px, sz, model_decide)
        assert [(f.maker.oid, f.px, f.sz, f.maker_filled) for f in result.fills] == expected.fills
        assert [o.oid for o in result.expired] == expected.expired
        assert [o.oid for o in result.canceled_by_callback] == expected.canceled
        assert (result.remaining_sz, result.stopped) == (expected.remaining, expected.stopped)
        assert all(f.taker_user == user and f.taker_oid == oid for f in result.fills)
        for f in result.fills:
            self.filled[f.maker.oid] += f.sz
            self.filled[oid] += f.sz
        for o in result.expired + result.canceled_by_callback:
            self.canceled[o.oid] += o.sz
        rest = result.remaining_sz
        if rest and (tif == "Ioc" or result.stopped):  # 'Order book': IOC cancels the unfilled remainder
            self.canceled[oid] += rest
        elif rest:
            assert not self.book.would_cross(is_buy, px)  # everything that crossed was consumed
            self._rest(oid, user, is_buy, px, rest, sz)

    @precondition(lambda self: len(self.model.orders) > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.model.orders)))
        o = self.book.cancel(oid)
        assert o is not None and o.sz == self.model.orders.pop(oid).sz
        self.canceled[oid] += o.sz
        assert self.book.cancel(oid) is None

    @precondition(lambda self: len(self.model.orders) > 0)
    @rule(data=st.data())
    def reduce(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.model.orders)))
        m = self.model.orders[oid]
        new_sz = data.draw(st.integers(1, m.sz))
        self.book.reduce(oid, new_sz)
        self.canceled[oid] += m.sz - new_sz
        m.sz = new_sz  # same seq: priority kept

    @precondition(lambda self: len(self.model.orders) > 0)
    @rule(data=st.data(), tick=st.integers(1, 12), sz=st.integers(1, 20), flip=st.booleans())
    def modify(self, data: st.DataObject, tick: int, sz: int, flip: bool) -> None:
        oid = data.draw(st.sampled_from(sorted(self.model.orders)))
        old = self.model.orders[oid]
        is_buy, px, new_oid = old.is_buy != flip, tick * TICK, self._new_oid()
        replacement = RestingOrder(new_oid, old.user, 0, is_buy, px, sz, sz, new_oid)
        if self.model.crosses(is_buy, px, ignore=oid):
            try:
                self.book.modify(oid, replacement)
            except InvalidAction as e:
                assert e.field == "px"
            else:
                raise AssertionError("a crossing replacement was accepted")
            return
        assert self.book.modify(oid, replacement).oid == oid
        self.canceled[oid] += old.sz
        del self.model.orders[oid]
        self.submitted[new_oid] = sz
        self.model.add(new_oid, old.user, is_buy, px, sz)

    @invariant()
    def book_matches_model(self) -> None:
        self.book.assert_consistent()  # indexes agree, bid < ask (never crossed)
        got = {(o.oid, o.user, o.is_buy, o.px, o.sz) for o in self.book.iter_orders()}
        want = {(o.oid, o.user, o.is_buy, o.px, o.sz) for o in self.model.orders.values()}
        assert got == want

    @invariant()
    def price_time_order_and_fifo(self) -> None:
        for is_buy in (True, False):
            keys = [self.model.orders[o.oid].priority() for o in self.book.iter_orders(is_buy)]
            assert keys == sorted(keys)  # best price first, and arrival order within a level

    @invariant()
    def sizes_conserved(self) -> None:
        for oid, submitted in self.submitted.items():
            o = self.book.get(oid)
            resting = o.sz if o is not None else 0
            assert submitted == self.filled[oid] + self.canceled[oid] + resting, oid


BookMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBookMachine = BookMachine.TestCase
