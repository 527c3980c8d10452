"""Self-trade prevention and the ``on_match`` decisions.

Rules: Hyperliquid docs 'Self-trade prevention' ("Trades between the same address cancel the
resting order instead of causing a fill. No fees are deducted", nothing in the trade feed: expire maker)
and 'Margining' (margin is checked "again for the resting side at the matching of each order", which the
clearinghouse does in ``on_match``).
"""

from __future__ import annotations

import pytest

from netclear.book import Decision, RestingOrder

from .helpers import A, B, C, book_with, fills_of, order, px


def test_stp_expires_own_resting_order_and_continues() -> None:
    book = book_with(order(1, A, False, "100", 2), order(2, B, False, "100", 2), order(3, A, False, "101", 2))
    calls: list[int] = []

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        calls.append(maker.oid)
        return Decision.FILL

    r = book.match(A, 10, True, px(101), 3, on_match)
    # oid 1 (A's own) expires with no fill; oid 2 (B) fills 2; oid 3 (A's own) expires; 1 remains.
    assert [o.oid for o in r.expired] == [1, 3]
    assert fills_of(r) == [(2, px(100), 2, True)]
    assert calls == [2]  # the callback never sees the taker's own orders
    assert r.remaining_sz == 1
    assert len(book) == 0
    book.assert_consistent()


def test_stp_only_for_crossing_orders() -> None:
    book = book_with(order(1, B, False, "100", 1), order(2, A, False, "105", 1))
    r = book.match(A, 10, True, px(100), 5)
    assert r.expired == [] and fills_of(r) == [(1, px(100), 1, True)]
    assert book.get(2) is not None  # A's own ask at 105 is beyond the limit and stays


def test_stp_expired_orders_keep_their_size() -> None:
    own = order(1, A, True, "100", 7)
    book = book_with(own)
    r = book.match(A, 10, False, px(100), 3)
    assert r.expired == [own] and own.sz == 7 and r.fills == [] and r.remaining_sz == 3


def test_cancel_maker_removes_without_trade_and_continues() -> None:
    book = book_with(order(1, A, False, "100", 2), order(2, B, False, "100", 2))

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        return Decision.CANCEL_MAKER if maker.user == A else Decision.FILL

    r = book.match(C, 10, True, px(100), 3, on_match)
    assert [o.oid for o in r.canceled_by_callback] == [1]
    assert fills_of(r) == [(2, px(100), 2, True)]
    assert r.remaining_sz == 1 and len(book) == 0


def test_stop_ends_matching_and_leaves_maker() -> None:
    book = book_with(order(1, A, False, "100", 2), order(2, B, False, "101", 2))
    seen: list[int] = []

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        seen.append(maker.oid)
        return Decision.FILL if maker.oid == 1 else Decision.STOP

    r = book.match(C, 10, True, px(101), 4, on_match)
    assert fills_of(r) == [(1, px(100), 2, True)]
    assert r.stopped and r.remaining_sz == 2 and seen == [1, 2]
    assert book.get(2) is not None and book.get(2).sz == 2  # type: ignore[union-attr]


def test_callback_may_cancel_other_orders() -> None:
    book = book_with(order(1, A, False, "100", 1), order(2, A, False, "101", 1), order(3, B, False, "102", 1))

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        if maker.oid == 1:
            book.cancel(2)  # e.g. the engine drops the maker's other orders
        return Decision.FILL

    r = book.match(C, 10, True, px(102), 3, on_match)
    assert fills_of(r) == [(1, px(100), 1, True), (3, px(102), 1, True)]
    book.assert_consistent()


def test_callback_that_cancels_maker_must_say_so() -> None:
    book = book_with(order(1, A, False, "100", 1), order(2, B, False, "100", 1))

    def cancels_then_cancel_maker(maker: RestingOrder, fill_sz: int) -> Decision:
        book.cancel(maker.oid)
        return Decision.CANCEL_MAKER

    r = book.match(C, 10, True, px(100), 1, cancels_then_cancel_maker)
    assert [o.oid for o in r.canceled_by_callback] == [1, 2] and r.remaining_sz == 1
    book.assert_consistent()

    book = book_with(order(1, A, False, "100", 1))

    def cancels_then_fill(maker: RestingOrder, fill_sz: int) -> Decision:
        book.cancel(maker.oid)
        return Decision.FILL

    with pytest.raises(RuntimeError, match="on_match changed maker"):
        book.match(C, 10, True, px(100), 1, cancels_then_fill)


def test_partial_fill_answer_keeps_maker_and_reoffers_it() -> None:
    # A reduce-only maker that may only close 2 of its 5 lots: the engine answers 2, then cancels it.
    book = book_with(order(1, A, False, "100", 5), order(2, B, False, "100", 5))
    offers: list[tuple[int, int]] = []

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision | int:
        offers.append((maker.oid, fill_sz))
        if maker.oid == 1:
            return 2 if len(offers) == 1 else Decision.CANCEL_MAKER
        return Decision.FILL

    r = book.match(C, 10, True, px(100), 6, on_match)
    # offer 1: oid 1, min(6, 5) = 5 -> fill 2 (oid 1 keeps 3 at the head); offer 2: oid 1, min(4, 3) = 3
    # -> canceled; offer 3: oid 2, min(4, 5) = 4 -> filled.
    assert offers == [(1, 5), (1, 3), (2, 4)]
    assert fills_of(r) == [(1, px(100), 2, False), (2, px(100), 4, False)]
    assert [o.oid for o in r.canceled_by_callback] == [1] and r.remaining_sz == 0
    book.assert_consistent()


@pytest.mark.parametrize("answer", [0, 6, -1, True, "fill"])
def test_bad_partial_fill_answer(answer: object) -> None:
    book = book_with(order(1, A, False, "100", 5))
    with pytest.raises(RuntimeError, match="partial fill"):
        book.match(C, 10, True, px(100), 5, lambda m, f: answer)  # type: ignore[arg-type,return-value]
    assert book.get(1).sz == 5  # type: ignore[union-attr]
