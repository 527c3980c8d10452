"""The book under the undo journal (netclear/undo.py, docs/accounting.md "All-or-nothing actions"): every
structural change journals its inverse, so undoing to any point gives back the same book, queue order
within each level, indexes and arrival numbers included; a pickled book carries no arrival numbers and
renumbers them on load.

Resting orders are plain records the book owns (book/types.py): these tests drive the book alone, the
engine-level rollbacks are tests/engine/test_tx_journal.py.
"""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear import undo
from netclear.book import Decision, OrderBook, RestingOrder
from netclear.errors import NetclearError

from .helpers import A, B, C

TICK = 10**6


def dump(book: OrderBook) -> Any:
    """Everything the book holds, in every map's order, with each order's fields and arrival number."""

    def o(order: RestingOrder) -> tuple[Any, ...]:
        return (
            order.oid,
            order.user,
            order.is_buy,
            order.px,
            order.sz,
            order.orig_sz,
            order.cloid,
            order._seq,
        )

    sides = [
        (
            list(side.keys),
            [(lv.px, lv.total_sz, [o(x) for x in lv.orders.values()]) for lv in side.iter_levels()],
        )
        for side in (book._bids, book._asks)
    ]
    return (
        sides,
        [o(x) for x in book._orders.values()],
        sorted((u, list(d)) for u, d in book._by_user.items()),
        sorted((k, v.oid) for k, v in book._by_cloid.items()),
        book._next_arrival,
    )


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "cancel", "match", "reduce", "modify"]),
        st.sampled_from([A, B, C]),
        st.booleans(),
        st.integers(95, 105),  # price in ticks
        st.integers(1, 5),  # size in lots
        st.integers(0, 40),  # which resting order (by position) for cancel / reduce / modify
        st.sampled_from([Decision.FILL, Decision.CANCEL_MAKER, Decision.STOP, 1, 2]),
    ),
    max_size=40,
)


def _apply(book: OrderBook, ops: list[Any], next_oid: list[int]) -> None:
    for kind, user, is_buy, px, sz, pick, decision in ops:
        oid = next_oid[0]
        next_oid[0] += 1
        resting = list(book._orders.values())
        target = resting[pick % len(resting)] if resting else None
        cloid = f"0x{oid:032x}" if oid % 3 == 0 else None
        try:
            if kind == "add":
                if not book.would_cross(is_buy, px * TICK):
                    book.add(RestingOrder(oid, user, 0, is_buy, px * TICK, sz, sz, oid, cloid))
            elif kind == "cancel" and target is not None:
                book.cancel(target.oid)
            elif kind == "match":

                def on_match(maker: RestingOrder, offered: int, d: Any = decision) -> Decision | int:
                    return min(d, offered) if isinstance(d, int) else d

                book.match(user, oid, is_buy, px * TICK, sz, on_match)
            elif kind == "reduce" and target is not None:
                book.reduce(target.oid, max(1, target.sz - 1))
            elif kind == "modify" and target is not None:
                new = RestingOrder(oid, target.user, 0, target.is_buy, px * TICK, sz, sz, oid, target.cloid)
                book.modify(target.oid, new)
        except NetclearError:
            pass  # a refused change changes nothing (and journals nothing)


@settings(max_examples=150, deadline=None)
@given(setup=OPS, ops=OPS, cut=st.integers(0, 200))
def test_undo_to_any_point_gives_back_the_same_book(setup: list[Any], ops: list[Any], cut: int) -> None:
    book = OrderBook(0)
    next_oid = [1]
    _apply(book, setup, next_oid)
    log = undo.begin()
    try:
        marks: list[tuple[int, Any]] = [(0, dump(book))]
        for op in ops:
            _apply(book, [op], next_oid)
            marks.append((len(log), dump(book)))
            book.assert_consistent()
        pos, expected = marks[cut % len(marks)]
        undo.undo_to(log, pos)
        assert dump(book) == expected
        book.assert_consistent()
        undo.undo_to(log, 0)
        assert dump(book) == marks[0][1]
    finally:
        undo.end(log)


def test_a_pickled_book_renumbers_arrivals_and_still_undoes() -> None:
    book = OrderBook(0)
    for oid, (user, px) in enumerate([(A, 100), (B, 100), (C, 99), (A, 100), (B, 98)], 1):
        book.add(RestingOrder(oid, user, 0, True, px * TICK, 2, 2, oid, f"0x{oid:032x}"))
    book.cancel(1)  # arrival numbers now start at 1
    blob = pickle.dumps(book)
    assert b"_seq" not in blob and b"_arrival" not in blob
    loaded: OrderBook = pickle.loads(blob)
    assert [o._seq for o in loaded._orders.values()] == [0, 1, 2, 3] and loaded._next_arrival == 4
    loaded.assert_consistent()
    before = dump(loaded)
    log = undo.begin()
    try:
        loaded.cancel(2)  # the head of the 100 level
        # fills 4 at 100, expires C's own 3 at 99 (self-trade prevention), 1 of 5's 2 lots at 98
        result = loaded.match(C, 99, False, 98 * TICK, 3)
        assert [f.maker.oid for f in result.fills] == [4, 5] and [o.oid for o in result.expired] == [3]
        loaded.reduce(5, 1)
        undo.undo_to(log, 0)
    finally:
        undo.end(log)
    assert dump(loaded) == before
    assert [o.oid for o in loaded.iter_orders()] == [2, 4, 3, 5]


def test_clone_keeps_priorities_and_is_independent() -> None:
    book = OrderBook(0)
    for oid, px in enumerate([100, 100, 99, 100], 1):
        book.add(RestingOrder(oid, A, 0, True, px * TICK, 1, 1, oid))
    book.cancel(1)
    copy = book.clone()
    copy.assert_consistent()
    assert [o.oid for o in copy.iter_orders()] == [o.oid for o in book.iter_orders()] == [2, 4, 3]
    copy.cancel(2)
    assert 2 in book and 2 not in copy


def test_a_journal_is_this_threads_own() -> None:
    """The active journal is per thread (a context variable; each thread starts with none): a book changed
    on another thread while this one journals is not journaled here, and ``local.log`` reads and sets it."""
    import threading

    log = undo.begin()
    try:
        assert undo.active() is log and undo.local.log is log and undo.current() is log
        seen: list[object] = []

        def other() -> None:
            seen.append(undo.active())
            book = OrderBook(0)
            book.add(RestingOrder(1, A, 0, True, 100 * TICK, 1, 1, 1))
            book.cancel(1)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen == [None] and log == []
    finally:
        undo.end(log)
    assert undo.active() is None and undo.local.log is None
    mine: list[Any] = []
    undo.local.log = mine  # set directly, as a test harness may
    try:
        assert undo.active() is mine
    finally:
        undo.local.log = None
