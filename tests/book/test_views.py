"""L2 aggregation, the ALO crossing test and impact prices.

Rules: Hyperliquid docs 'Order book' (``l2Book`` levels ``{px, sz, n}``; "ALO is canceled instead of
matching immediately") and 'Funding' ("Impact prices are the average execution prices for
impact_notional_usd"). Impact-price rounding is our documented choice: toward the side worse for the
taker (buy average up, sell average down), last level taken fractionally.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from netclear.book import OrderBook, RestingOrder, impact_px
from netclear.fixedpoint import PX_SCALE, frac_ceil, frac_floor

from .helpers import A, B, C, D, book_with, order, px

USDC = 10**8  # quote wei per USDC (8 decimals)


def test_l2_aggregates_levels_best_first() -> None:
    book = book_with(
        order(1, A, True, "99", 3),
        order(2, B, True, "99", 2),
        order(3, C, True, "98", 5),
        order(4, A, False, "101", 1),
        order(5, B, False, "102", 4),
        order(6, C, False, "102", 6),
        order(7, D, False, "102", 1),
    )
    bids, asks = book.l2()
    assert bids == [(px(99), 5, 2), (px(98), 5, 1)]  # 3 + 2 at 99 from two orders
    assert asks == [(px(101), 1, 1), (px(102), 11, 3)]  # 4 + 6 + 1 at 102
    assert book.l2(1) == ([(px(99), 5, 2)], [(px(101), 1, 1)])
    book.match(D, 10, False, px(99), 4)  # takes 3 (oid 1) + 1 (oid 2) at 99
    assert book.l2()[0] == [(px(99), 1, 1), (px(98), 5, 1)]


def test_would_cross_is_the_alo_test() -> None:
    book = book_with(order(1, A, True, "99", 1), order(2, B, False, "101", 1))
    assert book.would_cross(True, px(101)) and book.would_cross(True, px(102))
    assert not book.would_cross(True, px(100))
    assert book.would_cross(False, px(99)) and not book.would_cross(False, px(100))
    assert not OrderBook(0).would_cross(True, px(10**6))


def test_impact_ask_by_hand() -> None:
    # sz_decimals 2 (lots of 0.01), USDC quote with 8 decimals.
    # Asks: 1.00 @ 100, 2.00 @ 101, 5.00 @ 102. Buy 250 USDC:
    #   level 100: 1.00 x 100 = 100 USDC, 150 USDC left;
    #   level 101: 2.00 x 101 = 202 >= 150, so take 150/101 units there.
    #   base bought = 1 + 150/101 = 251/101; average = 250 / (251/101) = 25250/251 = 100.597609561752...
    #   in 1e-8 units 10_059_760_956.175..., a buy rounds up: 10_059_760_957.
    book = book_with(
        order(1, A, False, "100", 100), order(2, B, False, "101", 200), order(3, C, False, "102", 500)
    )
    assert book.impact_price(True, 250 * USDC, 2, 8) == 10_059_760_957
    assert frac_ceil(Fraction(25250, 251) * PX_SCALE) == 10_059_760_957


def test_impact_bid_by_hand() -> None:
    # Bids: 3.00 @ 99, 10.00 @ 98 (sz_decimals 2). Sell 500 USDC:
    #   level 99: 3.00 x 99 = 297 USDC, 203 left; level 98: take 203/98 units.
    #   base sold = 3 + 203/98 = 497/98; average = 500 * 98 / 497 = 49000/497 = 98.591549295774...
    #   in 1e-8 units 9_859_154_929.577..., a sell rounds down: 9_859_154_929.
    book = book_with(order(1, A, True, "99", 300), order(2, B, True, "98", 1000))
    assert book.impact_price(False, 500 * USDC, 2, 8) == 9_859_154_929
    assert frac_floor(Fraction(49000, 497) * PX_SCALE) == 9_859_154_929


def test_impact_exact_level_and_too_thin() -> None:
    # 1.00 @ 100 is worth exactly 100 USDC, so buying 100 USDC averages exactly 100. The whole side is
    # worth 100 + 2.00 x 101 = 302 USDC: 302 USDC is still fillable, one quote wei more is not.
    book = book_with(order(1, A, False, "100", 100), order(2, B, False, "101", 200))
    assert book.impact_price(True, 100 * USDC, 2, 8) == px(100)
    assert book.impact_price(True, 302 * USDC, 2, 8) is not None
    assert book.impact_price(True, 302 * USDC + 1, 2, 8) is None
    assert book.impact_price(False, 1, 2, 8) is None  # no bids at all


def test_impact_with_six_decimal_quote() -> None:
    # Perp USD amounts at 1e-6 (quote_decimals 6). sz_decimals 0: asks 10 @ 2.5, 10 @ 3.
    # Buy 40 USD: 10 x 2.5 = 25, then 15 USD at 3 = 5 units; average = 40 / 15 = 2.6666...,
    # 266_666_666.67 in 1e-8, rounded up: 266_666_667.
    book = book_with(order(1, A, False, "2.5", 10), order(2, B, False, "3", 10))
    assert book.impact_price(True, 40 * 10**6, 0, 6) == 266_666_667


@given(
    levels=st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**4)), min_size=1, max_size=8),
    notional=st.integers(1, 10**12),
    sz_decimals=st.integers(0, 5),
    quote_decimals=st.sampled_from([6, 8]),
)
def test_impact_matches_exact_average(
    levels: list[tuple[int, int]], notional: int, sz_decimals: int, quote_decimals: int
) -> None:
    # Reference: exact Fraction walk, base = sum(notional_i / px_i), average = notional / base.
    asks = sorted({p: s for p, s in levels}.items())
    quote = Fraction(notional, 10**quote_decimals)
    left, base = quote, Fraction(0)
    for p, s in asks:
        price = Fraction(p, PX_SCALE)
        value = price * Fraction(s, 10**sz_decimals)
        take = min(value, left)
        base += take / price
        left -= take
    expected = None if left > 0 else quote / base * PX_SCALE
    got_buy = impact_px(asks, notional, sz_decimals, quote_decimals, is_buy=True)
    got_sell = impact_px(asks, notional, sz_decimals, quote_decimals, is_buy=False)
    if expected is None:
        assert got_buy is None and got_sell is None
    else:
        assert got_buy is not None and got_sell is not None
        assert got_sell <= expected <= got_buy and got_buy - got_sell <= 1


def test_impact_price_ignores_priority_and_counts_all_orders() -> None:
    book = OrderBook(0)
    book.add(RestingOrder(1, A, 0, False, px(100), 50, 50, 0))
    book.add(RestingOrder(2, B, 0, False, px(100), 50, 50, 1))
    assert book.impact_price(True, 100 * USDC, 2, 8) == px(100)  # needs both orders' 0.50 each
