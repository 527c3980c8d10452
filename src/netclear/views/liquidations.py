"""``liquidations``: the exchange-wide liquidation feed, its totals and the backstops' equity.

A netclear extension (Hyperliquid has no public feed of every liquidation; its liquidation fills and
``liquidation`` ledger updates are per user). Served for the dashboard (docs/dashboard.md), read-only,
from the records the liquidation engine keeps (docs/rules/liquidation.md):

* ``history.liquidation_feed``: one record per liquidation of a pool or a portfolio-margin account,
  with its ``method`` (``market``, ``backstop``, ``adl``, ``pmTakeover``), notional and marks;
* ``history.liquidations``: the loss-waterfall records, of which ``perpDeficit`` (a bankrupt perp
  pool's deficit) and ``badDebt`` (lending debt left with the backstop) join the feed.

The cost is in the number of liquidated users and their records, never in the number of accounts.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from fractions import Fraction
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.liquidation.accounts import HIP3_BACKSTOP_BASE
from netclear.engine.state import Account
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal
from netclear.views import view

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
WATERFALL_KINDS = ("perpDeficit", "badDebt")


Record = tuple[int, int, str, dict[str, Any], bool]
"""(time, order, user, record, from the feed?): sorted on the first two, rendered only if shown."""


def _records(v: Valuer) -> list[Record]:
    hist = v.state.history
    out: list[Record] = []
    feed: dict[str, list[dict[str, Any]]] = getattr(hist, "liquidation_feed", None) or {}  # older snapshots
    for user, records in feed.items():
        out.extend((r["time"], len(out) + i, user, r, True) for i, r in enumerate(records))
    for user, records in hist.liquidations.items():
        out.extend(
            (r["time"], len(out) + i, user, r, False)
            for i, r in enumerate(records)
            if r["kind"] in WATERFALL_KINDS
        )
    return out


def _method_and_notional(rec: Record) -> tuple[str, str]:
    r = rec[3]
    if rec[4]:
        return r["method"], r["liquidatedNtlPos"]
    return r["kind"], r["deficit"] if r["kind"] == "perpDeficit" else r["amount"]


def _event(rec: Record) -> dict[str, Any]:
    time_ms, _, user, r, from_feed = rec
    method, notional = _method_and_notional(rec)
    if from_feed:
        marks = [p["markPx"] for p in r["positions"]]
        return {
            "time": time_ms,
            "user": user,
            "method": method,
            "leverageType": r["leverageType"],
            "notional": notional,
            "accountValue": r["accountValue"],
            "coins": [p["coin"] for p in r["positions"]],
            "markPx": marks[0] if len(marks) == 1 else None,
            "positions": r["positions"],
        }
    return {
        "time": time_ms,
        "user": user,
        "method": method,
        "leverageType": None,
        "notional": notional,
        "accountValue": None,
        "coins": [r["coin"]] if "coin" in r else [],
        "markPx": None,
        "waterfall": r["waterfall"],
    }


def _backstops(v: Valuer) -> list[dict[str, Any]]:
    reg = v.reg
    roles: list[tuple[str, str]] = [("liquidator vault", reg.config.liquidation.liquidator_vault.lower())]
    for dex in reg.dexes:
        if dex.is_builder:
            roles.append((f"{dex.name} backstop", "0x" + format(HIP3_BACKSTOP_BASE + dex.index, "040x")))
    if reg.pm is not None:
        roles.append(("portfolio-margin backstop", reg.pm.backstop_address.lower()))
    out: list[dict[str, Any]] = []
    for role, address in roles:
        acct: Account | None = v.state.accounts.get(address)
        value = v.account_value_usdc(acct) if acct is not None else Fraction(0)
        positions = sum(1 for p in acct.positions.values() if p.szi) if acct is not None else 0
        out.append(
            {
                "role": role,
                "address": address,
                "accountValue": fmt_decimal(value, 6),
                "openPositions": positions,
            }
        )
    return out


@view("liquidations")
def liquidations_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "liquidations", "limit": n}`` -> newest events first, totals, backstops."""
    limit = payload.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidAction("limit", f"must be an integer in [1, {MAX_LIMIT}]")
    records = _records(v)
    counts: dict[str, int] = {}
    sums: dict[str, Decimal] = {}
    for rec in records:
        method, notional = _method_and_notional(rec)
        counts[method] = counts.get(method, 0) + 1
        sums[method] = sums.get(method, Decimal(0)) + Decimal(notional)
    newest = heapq.nlargest(limit, records, key=lambda rec: (rec[0], rec[1]))
    return {
        "events": [_event(rec) for rec in newest],
        "totals": {
            "count": len(records),
            "byMethod": {m: {"count": counts[m], "notional": str(sums[m])} for m in sorted(counts)},
        },
        "backstops": _backstops(v),
        "time": v.state.time_ms,
    }
