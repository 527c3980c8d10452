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
from typing import TYPE_CHECKING, Any

from netclear.engine.state import Account
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal
from netclear.liquidation.accounts import HIP3_BACKSTOP_BASE
from netclear.views import view

if TYPE_CHECKING:
    from netclear.engine.exchange import Exchange

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
WATERFALL_KINDS = ("perpDeficit", "badDebt")


def _events(ex: Exchange) -> list[dict[str, Any]]:
    hist = ex.state.history
    out: list[dict[str, Any]] = []
    for user, records in hist.liquidation_feed.items():
        for r in records:
            ntl = r["liquidatedNtlPos"]
            marks = [p["markPx"] for p in r["positions"]]
            out.append(
                {
                    "time": r["time"],
                    "user": user,
                    "method": r["method"],
                    "leverageType": r["leverageType"],
                    "notional": ntl,
                    "accountValue": r["accountValue"],
                    "coins": [p["coin"] for p in r["positions"]],
                    "markPx": marks[0] if len(marks) == 1 else None,
                    "positions": r["positions"],
                }
            )
    for user, records in hist.liquidations.items():
        for r in records:
            if r["kind"] not in WATERFALL_KINDS:
                continue
            amount = r["deficit"] if r["kind"] == "perpDeficit" else r["amount"]
            out.append(
                {
                    "time": r["time"],
                    "user": user,
                    "method": r["kind"],
                    "leverageType": None,
                    "notional": amount,
                    "accountValue": None,
                    "coins": [r["coin"]] if "coin" in r else [],
                    "markPx": None,
                    "waterfall": r["waterfall"],
                }
            )
    return out


def _backstops(ex: Exchange) -> list[dict[str, Any]]:
    reg = ex.registry
    v = ex.valuer()
    roles: list[tuple[str, str]] = [("liquidator vault", reg.config.liquidation.liquidator_vault.lower())]
    for dex in reg.dexes:
        if dex.is_builder:
            roles.append((f"{dex.name} backstop", "0x" + format(HIP3_BACKSTOP_BASE + dex.index, "040x")))
    if reg.pm is not None:
        roles.append(("portfolio-margin backstop", reg.pm.backstop_address.lower()))
    out: list[dict[str, Any]] = []
    for role, address in roles:
        acct: Account | None = ex.state.accounts.get(address)
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
def liquidations_view(ex: Exchange, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "liquidations", "limit": n}`` -> newest events first, totals, backstops."""
    limit = payload.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidAction("limit", f"must be an integer in [1, {MAX_LIMIT}]")
    events = _events(ex)
    totals: dict[str, dict[str, Any]] = {}
    for e in events:
        t = totals.setdefault(e["method"], {"count": 0, "notional": Decimal(0)})
        t["count"] += 1
        t["notional"] += Decimal(e["notional"])
    newest = heapq.nlargest(limit, enumerate(events), key=lambda ie: (ie[1]["time"], ie[0]))
    return {
        "events": [e for _, e in newest],
        "totals": {
            "count": len(events),
            "byMethod": {
                k: {"count": t["count"], "notional": str(t["notional"])} for k, t in sorted(totals.items())
            },
        },
        "backstops": _backstops(ex),
        "time": ex.state.time_ms,
    }
