"""Matching: price-time priority, maker price, partial fills, sweeps and the taker remainder.

Rules: Hyperliquid docs 'Order book' (GitBook ``trading/order-book``),
and 'Order types' (the caller rests or drops ``remaining_sz``).
"""

from __future__ import annotations

from netclear.book import Decision, OrderBook, RestingOrder

from .helpers import A, B, C, D, book_with, fills_of, order, px


def test_empty_book_has_no_prices() -> None:
    book = OrderBook(0)
    assert (book.best_bid(), book.best_ask(), book.mid()) == (None, None, None)
    assert len(book) == 0
    r = book.match(A, 99, True, px(100), 5)
    assert r.fills == [] and r.remaining_sz == 5


def test_best_prices_and_mid() -> None:
    book = book_with(order(1, A, True, "99", 1), order(2, A, True, "98", 1), order(3, B, False, "101", 1))
    assert book.best_bid() == px(99) and book.best_ask() == px(101)
    assert book.mid() == px(100)  # (99 + 101) / 2
    book.cancel(3)
    assert book.mid() is None  # mid needs both sides


def test_mid_rounds_down_half_unit() -> None:
    # bid 1e-8, ask 2e-8: mid 1.5e-8 is not representable, rounded down (documented in OrderBook.mid).
    book = OrderBook(0)
    book.add(RestingOrder(1, A, 0, True, 1, 1, 1, 0))
    book.add(RestingOrder(2, B, 0, False, 2, 1, 1, 0))
    assert book.mid() == 1


def test_time_priority_within_a_level() -> None:
    # 'Order book': same price -> the earlier order fills first.
    book = book_with(order(1, A, False, "100", 3), order(2, B, False, "100", 3), order(3, C, False, "100", 3))
    r = book.match(D, 10, True, px(100), 4)
    # 4 = 3 from oid 1 (fully filled) + 1 from oid 2 (partial, keeps its place at the head).
    assert fills_of(r) == [(1, px(100), 3, True), (2, px(100), 1, False)]
    assert r.remaining_sz == 0
    assert [o.oid for o in book.iter_orders(False)] == [2, 3]
    assert book.get(2) is not None and book.get(2).sz == 2  # type: ignore[union-attr]
    r = book.match(D, 11, True, px(100), 2)
    assert fills_of(r) == [(2, px(100), 2, True)]


def test_price_priority_beats_time() -> None:
    # 'Order book': a better price fills first even if it arrived later.
    book = book_with(order(1, A, True, "99", 5), order(2, B, True, "100", 5))
    r = book.match(C, 10, False, px(98), 6)
    assert fills_of(r) == [(2, px(100), 5, True), (1, px(99), 1, False)]


def test_trades_at_maker_price() -> None:
    # The taker's limit 105 is better than the ask 100: the trade prints at the resting price, 100.
    book = book_with(order(1, A, False, "100", 2))
    r = book.match(B, 10, True, px(105), 2)
    assert [f.px for f in r.fills] == [px(100)]
    assert r.fills[0].taker_user == B and r.fills[0].taker_oid == 10


def test_sweep_multiple_levels_and_remainder() -> None:
    book = book_with(
        order(1, A, False, "100", 2),
        order(2, B, False, "101", 3),
        order(3, C, False, "102", 4),
        order(4, A, False, "103", 5),
    )
    # Buy 12 limit 102: takes 100 (2) + 101 (3) + 102 (4) = 9; 103 is above the limit, so 3 remain.
    r = book.match(D, 10, True, px(102), 12)
    assert fills_of(r) == [(1, px(100), 2, True), (2, px(101), 3, True), (3, px(102), 4, True)]
    assert r.remaining_sz == 3 and r.filled_sz == 9
    assert book.best_ask() == px(103)
    # The caller rests the GTC remainder ('Order types'): it no longer crosses.
    assert not book.would_cross(True, px(102))
    book.add(RestingOrder(10, D, 0, True, px(102), 3, 12, 10))
    book.assert_consistent()
    assert book.best_bid() == px(102)


def test_limit_not_crossing_trades_nothing() -> None:
    book = book_with(order(1, A, False, "100", 2))
    r = book.match(B, 10, True, px("99.99"), 2)
    assert r.fills == [] and r.remaining_sz == 2
    assert book.get(1) is not None


def test_sell_taker_walks_bids_down() -> None:
    book = book_with(order(1, A, True, "100", 1), order(2, B, True, "99", 1), order(3, C, True, "98", 1))
    r = book.match(D, 10, False, px(99), 5)
    assert fills_of(r) == [(1, px(100), 1, True), (2, px(99), 1, True)]
    assert r.remaining_sz == 3 and book.best_bid() == px(98)


def test_fill_reports_live_maker_reference() -> None:
    maker = order(1, A, False, "100", 5)
    book = book_with(maker)
    r = book.match(B, 10, True, px(100), 2)
    assert r.fills[0].maker is maker and maker.sz == 3 and maker.orig_sz == 5
    r = book.match(B, 11, True, px(100), 9)
    assert r.fills[0].maker_filled and maker.sz == 0 and 1 not in book
    assert r.remaining_sz == 6


def test_default_callback_fills_everything() -> None:
    book = book_with(order(1, A, False, "100", 5))
    seen: list[tuple[int, int]] = []

    def on_match(maker: RestingOrder, fill_sz: int) -> Decision:
        seen.append((maker.oid, fill_sz))
        return Decision.FILL

    r = book.match(B, 10, True, px(100), 3, on_match)
    assert seen == [(1, 3)]  # fill_sz = min(taker remaining 3, maker 5)
    assert fills_of(r) == [(1, px(100), 3, False)]
