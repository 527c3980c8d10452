"""Per-user history views: ``userFills``, ``userFillsByTime``, ``userNonFundingLedgerUpdates``, ``userFunding``."""

from __future__ import annotations

from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.records import plain_list
from netclear.views import view
from netclear.views.common import time_filter, user_of


@view("userFills")
def user_fills(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Most recent first, at most 2000 (Hyperliquid's page size)."""
    return plain_list(list(reversed(v.state.history.fills.get(user_of(payload), [])))[:2000])


@view("userFillsByTime")
def user_fills_by_time(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return plain_list(time_filter(v.state.history.fills.get(user_of(payload), []), payload)[:2000])


@view("userNonFundingLedgerUpdates")
def ledger_updates(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return time_filter(v.state.history.ledger.get(user_of(payload), []), payload)


@view("userFunding")
def user_funding(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return time_filter(v.state.history.funding.get(user_of(payload), []), payload)
