"""Cancel, reduce, modify, cloid lookup and open-order views.

Modify (Hyperliquid docs 'Order book': "Modifies are categorized according to the new order they place";
[3P] live Hyperliquid shows a modify as cancel of the old oid plus a new oid with the same cloid): the
replacement always goes to the back of its level. ``reduce`` is an in-place size cut that keeps priority.
"""

from __future__ import annotations

import pytest

from netclear.book import RestingOrder
from netclear.errors import InvalidAction, InvalidAmount, UnknownEntity

from .helpers import A, B, C, book_with, fills_of, order, px


def test_cancel_returns_order_and_unknown_returns_none() -> None:
    o = order(1, A, True, "99", 3, cloid="0x01")
    book = book_with(o, order(2, B, True, "99", 1))
    assert book.cancel(1) is o
    assert book.cancel(1) is None and book.cancel(12345) is None
    assert book.get(1) is None and book.find_by_cloid(A, "0x01") is None
    assert book.l2()[0] == [(px(99), 1, 1)]
    book.cancel(2)
    assert book.best_bid() is None and book.l2() == ([], [])
    book.assert_consistent()


def test_cancel_from_middle_of_queue_keeps_fifo() -> None:
    book = book_with(*(order(i, B, False, "100", 1) for i in range(1, 5)))
    book.cancel(2)
    r = book.match(A, 10, True, px(100), 3)
    assert [f.maker.oid for f in r.fills] == [1, 3, 4]


def test_find_by_cloid_is_per_user() -> None:
    a, b = order(1, A, True, "99", 1, cloid="0xc1"), order(2, B, True, "98", 1, cloid="0xc1")
    book = book_with(a, b)
    assert book.find_by_cloid(A, "0xc1") is a and book.find_by_cloid(B, "0xc1") is b
    assert book.find_by_cloid(C, "0xc1") is None
    with pytest.raises(InvalidAction) as e:
        book.add(order(3, A, True, "97", 1, cloid="0xc1"))
    assert e.value.field == "cloid"


def test_orders_of_in_arrival_order() -> None:
    book = book_with(order(5, A, True, "99", 1), order(3, B, True, "99", 1), order(4, A, False, "101", 1))
    assert [o.oid for o in book.orders_of(A)] == [5, 4]
    assert book.orders_of(C) == []
    book.match(C, 10, True, px(101), 1)  # fills A's ask
    assert [o.oid for o in book.orders_of(A)] == [5]


def test_reduce_keeps_priority() -> None:
    book = book_with(order(1, A, False, "100", 5), order(2, B, False, "100", 5))
    assert book.reduce(1, 2).sz == 2
    assert book.get(1).orig_sz == 5  # type: ignore[union-attr]
    assert book.l2()[1] == [(px(100), 7, 2)]
    r = book.match(C, 10, True, px(100), 3)
    assert fills_of(r) == [(1, px(100), 2, True), (2, px(100), 1, False)]


@pytest.mark.parametrize(("new_sz", "exc"), [(6, InvalidAmount), (0, InvalidAmount), (-1, InvalidAmount)])
def test_reduce_rejects_bad_sizes(new_sz: int, exc: type[Exception]) -> None:
    book = book_with(order(1, A, False, "100", 5))
    with pytest.raises(exc) as e:
        book.reduce(1, new_sz)
    assert e.value.field == "sz"  # type: ignore[attr-defined]
    assert book.get(1).sz == 5  # type: ignore[union-attr]


def test_reduce_unknown_oid() -> None:
    with pytest.raises(UnknownEntity) as e:
        book_with().reduce(7, 1)
    assert e.value.field == "oid"


def test_modify_loses_time_priority_even_for_size_cut() -> None:
    book = book_with(order(1, A, False, "100", 5, cloid="0xaa"), order(2, B, False, "100", 5))
    old = book.modify(1, order(3, A, False, "100", 4, cloid="0xaa"))
    assert old.oid == 1 and 1 not in book
    assert book.find_by_cloid(A, "0xaa") is book.get(3)  # new oid, same cloid
    r = book.match(C, 10, True, px(100), 6)
    assert fills_of(r) == [(2, px(100), 5, True), (3, px(100), 1, False)]
    book.assert_consistent()


def test_modify_price_moves_level() -> None:
    book = book_with(order(1, A, True, "99", 5), order(2, B, True, "98", 1))
    book.modify(1, order(3, A, True, "97", 5))
    assert book.l2()[0] == [(px(98), 1, 1), (px(97), 5, 1)]


def test_modify_is_atomic_when_replacement_crosses() -> None:
    book = book_with(order(1, A, True, "99", 5), order(2, B, True, "99", 5), order(3, C, False, "101", 1))
    with pytest.raises(InvalidAction) as e:
        book.modify(1, order(4, A, True, "101", 5))
    assert e.value.field == "px"
    # Nothing changed: oid 1 still first in its queue.
    assert [o.oid for o in book.iter_orders(True)] == [1, 2] and 4 not in book
    book.assert_consistent()


def test_modify_flipping_side_ignores_the_old_order() -> None:
    # A's bid at 100 is alone at the best bid. Replacing it by an ask at 100: with the old bid gone the
    # best bid is 99, so the ask does not cross and may rest.
    book = book_with(order(1, A, True, "100", 1), order(2, B, True, "99", 1), order(3, B, False, "102", 1))
    book.modify(1, order(4, A, False, "100", 1))
    assert book.best_bid() == px(99) and book.best_ask() == px(100)
    book.assert_consistent()
    # With another bid left at 100 the same flip would cross.
    book = book_with(order(1, A, True, "100", 1), order(2, B, True, "100", 1))
    with pytest.raises(InvalidAction):
        book.modify(1, order(4, A, False, "100", 1))
    assert [o.oid for o in book.iter_orders()] == [1, 2]


def test_modify_may_keep_the_oid() -> None:
    book = book_with(order(1, A, True, "99", 5), order(2, B, True, "99", 5))
    book.modify(1, order(1, A, True, "99", 5))
    assert [o.oid for o in book.iter_orders()] == [2, 1]


def test_modify_errors() -> None:
    book = book_with(order(1, A, True, "99", 5), order(2, B, True, "98", 5, cloid="0xbb"))
    with pytest.raises(UnknownEntity) as e:
        book.modify(9, order(3, A, True, "99", 5))
    assert e.value.field == "oid"
    with pytest.raises(InvalidAction) as e2:
        book.modify(1, order(2, A, True, "99", 5))  # oid 2 belongs to another resting order
    assert e2.value.field == "oid"
    with pytest.raises(InvalidAmount) as e3:
        book.modify(1, RestingOrder(3, A, 0, True, px(99), 0, 5, 3))
    assert e3.value.field == "sz"
    assert book.get(1) is not None and book.get(2) is not None
    book.assert_consistent()


def test_clone_is_independent_and_keeps_priority() -> None:
    book = book_with(order(1, A, False, "100", 5), order(2, B, False, "100", 5), order(3, C, True, "99", 1))
    book.reduce(1, 1)
    copy = book.clone()
    copy.assert_consistent()
    assert copy.l2() == book.l2()
    r = copy.match(C, 10, True, px(100), 2)
    assert fills_of(r) == [(1, px(100), 1, True), (2, px(100), 1, False)]
    assert book.get(1).sz == 1 and book.get(2).sz == 5  # type: ignore[union-attr]
