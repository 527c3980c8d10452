"""Builders shared by the order-book tests. Prices in 1e-8 units (``to_px``), sizes in lots."""

from __future__ import annotations

from netclear.book import MatchResult, OrderBook, RestingOrder
from netclear.fixedpoint import to_px

ASSET = 0
A = "0x" + "a1" * 20
B = "0x" + "b0" * 20
C = "0x" + "c0" * 20
D = "0x" + "d0" * 20


def px(value: str | int) -> int:
    """A decimal price string/int as 1e-8 units, e.g. ``px("100.5") == 10_050_000_000``."""
    return to_px(value)


def order(
    oid: int,
    user: str,
    is_buy: bool,
    price: str | int,
    sz: int,
    *,
    cloid: str | None = None,
    time: int | None = None,
    tif: str = "Gtc",
) -> RestingOrder:
    return RestingOrder(
        oid=oid,
        user=user,
        asset=ASSET,
        is_buy=is_buy,
        px=px(price),
        sz=sz,
        orig_sz=sz,
        time=oid if time is None else time,
        cloid=cloid,
        tif=tif,
    )


def book_with(*orders: RestingOrder) -> OrderBook:
    book = OrderBook(ASSET)
    for o in orders:
        book.add(o)
    book.assert_consistent()
    return book


def fills_of(result: MatchResult) -> list[tuple[int, int, int, bool]]:
    """``(maker oid, px, sz, maker_filled)`` for each fill of a ``MatchResult``."""
    return [(f.maker.oid, f.px, f.sz, f.maker_filled) for f in result.fills]
