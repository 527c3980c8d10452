"""Per-user history views: ``userFills``, ``userFillsByTime``, ``userNonFundingLedgerUpdates``, ``userFunding``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netclear.views import view
from netclear.views.common import time_filter, user_of

if TYPE_CHECKING:
    from netclear.engine.exchange import Exchange


@view("userFills")
def user_fills(ex: Exchange, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Most recent first, at most 2000 (Hyperliquid's page size)."""
    return list(reversed(ex.state.history.fills.get(user_of(payload), [])))[:2000]


@view("userFillsByTime")
def user_fills_by_time(ex: Exchange, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return time_filter(ex.state.history.fills.get(user_of(payload), []), payload)[:2000]


@view("userNonFundingLedgerUpdates")
def ledger_updates(ex: Exchange, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return time_filter(ex.state.history.ledger.get(user_of(payload), []), payload)


@view("userFunding")
def user_funding(ex: Exchange, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return time_filter(ex.state.history.funding.get(user_of(payload), []), payload)
