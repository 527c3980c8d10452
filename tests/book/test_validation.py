"""Invalid input raises typed errors naming the field and the rule (DESIGN rule 7).

Rules: Hyperliquid docs 'Order book' (prices and sizes are positive multiples of tick/lot, integer
units here; only GTC and ALO rest; crossing orders match before they rest).
"""

from __future__ import annotations

import dataclasses

import pytest

from netclear.book import OrderBook, RestingOrder
from netclear.errors import InvalidAction, InvalidAmount

from .helpers import A, B, book_with, order, px

GOOD = RestingOrder(oid=1, user=A, asset=0, is_buy=True, px=px(100), sz=5, orig_sz=5, time=0)


@pytest.mark.parametrize(
    ("changes", "field", "exc"),
    [
        ({"px": 0}, "px", InvalidAmount),
        ({"px": -1}, "px", InvalidAmount),
        ({"px": 100.0}, "px", InvalidAction),  # floats never enter the book
        ({"sz": 0}, "sz", InvalidAmount),
        ({"sz": -3}, "sz", InvalidAmount),
        ({"sz": True}, "sz", InvalidAction),
        ({"sz": 1.5}, "sz", InvalidAction),
        ({"orig_sz": 4}, "orig_sz", InvalidAmount),
        ({"oid": -1}, "oid", InvalidAction),
        ({"asset": 1}, "asset", InvalidAction),
        ({"tif": "Ioc"}, "tif", InvalidAction),
        ({"is_buy": 1}, "is_buy", InvalidAction),
        ({"user": ""}, "user", InvalidAction),
        ({"time": 1.0}, "time", InvalidAction),
    ],
)
def test_add_rejects_bad_fields(changes: dict[str, object], field: str, exc: type[Exception]) -> None:
    book = OrderBook(0)
    with pytest.raises(exc) as e:
        book.add(dataclasses.replace(GOOD, **changes))  # type: ignore[arg-type]
    assert e.value.field == field  # type: ignore[attr-defined]
    assert len(book) == 0


def test_alo_rests() -> None:
    book = OrderBook(0)
    book.add(dataclasses.replace(GOOD, tif="Alo"))
    assert book.get(1) is not None


def test_add_rejects_duplicate_oid_and_crossing() -> None:
    book = book_with(order(1, A, True, "100", 1), order(2, B, False, "101", 1))
    with pytest.raises(InvalidAction) as e:
        book.add(order(1, B, True, "99", 1))
    assert e.value.field == "oid"
    with pytest.raises(InvalidAction) as e:
        book.add(order(3, B, True, "101", 1))  # bid at the best ask crosses: match first ('Order book')
    assert e.value.field == "px" and "cross" in e.value.rule
    with pytest.raises(InvalidAction) as e:
        book.add(order(4, A, False, "100", 1))  # even against one's own bid
    assert e.value.field == "px"
    assert len(book) == 2
    book.assert_consistent()


@pytest.mark.parametrize(
    ("limit_px", "sz", "field"),
    [(0, 1, "limit_px"), (-5, 1, "limit_px"), (1.0, 1, "limit_px"), (px(1), 0, "sz"), (px(1), -1, "sz")],
)
def test_match_rejects_bad_input(limit_px: int, sz: int, field: str) -> None:
    book = book_with(order(1, A, False, "1", 1))
    with pytest.raises(InvalidAction) as e:
        book.match(B, 9, True, limit_px, sz)
    assert e.value.field == field
    assert book.get(1) is not None and book.get(1).sz == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("n", [0, -1])
def test_l2_rejects_bad_depth(n: int) -> None:
    with pytest.raises(InvalidAction) as e:
        OrderBook(0).l2(n)
    assert e.value.field == "n_levels"


@pytest.mark.parametrize("notional", [0, -10])
def test_impact_rejects_bad_notional(notional: int) -> None:
    with pytest.raises(InvalidAmount) as e:
        OrderBook(0).impact_price(True, notional, 2, 8)
    assert e.value.field == "notional"
