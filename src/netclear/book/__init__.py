"""Order books and matching (Hyperliquid docs 'Order book'): a pure data structure, no margin logic."""

from netclear.book.impact import impact_px
from netclear.book.orderbook import OnMatch, OrderBook
from netclear.book.types import Decision, Fill, L2Level, MatchResult, RestingOrder

__all__ = ["Decision", "Fill", "L2Level", "MatchResult", "OnMatch", "OrderBook", "RestingOrder", "impact_px"]
