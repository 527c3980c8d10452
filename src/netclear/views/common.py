"""Helpers shared by the views."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine.addresses import normalize_address
from netclear.engine.state import Account
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal


def user_of(payload: dict[str, Any], field: str = "user") -> str:
    value = payload.get(field)
    if not isinstance(value, str):
        raise InvalidAction(field, "missing user address")
    return normalize_address(value, field)


def account_or_empty(exchange: Any, address: str) -> Account:
    acct = exchange.state.accounts.get(address)
    return acct if acct is not None else Account(address)


def frac(value: Fraction, places: int = 8) -> str:
    return fmt_decimal(value, places)


def time_filter(records: list[dict[str, Any]], payload: dict[str, Any]) -> list[dict[str, Any]]:
    start = payload.get("startTime", 0) or 0
    end = payload.get("endTime")
    if not isinstance(start, int) or (end is not None and not isinstance(end, int)):
        raise InvalidAction("startTime", "startTime and endTime are integer milliseconds")
    return [r for r in records if r["time"] >= start and (end is None or r["time"] <= end)]
