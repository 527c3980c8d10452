"""``borrowLendReserveParams``: each reserve's configured parameters, caps and rate curve.

A netclear extension for the dashboard (docs/dashboard.md): ``borrowLendReserveState`` gives a
reserve's state (rates, utilization, totals) as Hyperliquid does, but not the preset's parameters
behind it. This view adds them, read-only: LTV and liquidation threshold (Hyperliquid Docs, "Portfolio margin"; docs/rules/
portfolio-margin.md), the kinked borrow curve ``base + slope x max(0, U - kink)`` and the supply rate
``borrow x U x (1 - reserve cut)`` (docs/rules/lending.md), sampled with the engine's own rate functions
so the plot and the engine never disagree, and the global and per-user caps with how full the global
ones are.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.lending import rates_of
from netclear.engine.state import Reserve
from netclear.fixedpoint import fmt_decimal, fmt_units
from netclear.lending.rates import borrow_rate, supply_rate
from netclear.markets.registry import RateCurve
from netclear.views import view

CURVE_POINTS = 41
"""Utilization samples 0, 2.5%, ..., 100% (plus the kink, so the corner is drawn exactly)."""


def _ratio(used: int, cap: int) -> str | None:
    return fmt_decimal(Fraction(used, cap), 10) if cap > 0 else None


@lru_cache(maxsize=64)
def _curve(curve: RateCurve, cut: Fraction) -> tuple[tuple[str, str, str], ...]:
    """The sampled curve of a preset's parameters (fixed for a run, so computed once)."""
    points = {Fraction(i, CURVE_POINTS - 1) for i in range(CURVE_POINTS)} | {curve.kink}
    out: list[tuple[str, str, str]] = []
    for u in sorted(points):
        b = borrow_rate(curve, u)
        out.append((fmt_decimal(u, 6), fmt_decimal(b, 10), fmt_decimal(supply_rate(b, u, cut), 10)))
    return tuple(out)


def reserve_params(v: Valuer) -> list[dict[str, Any]]:
    reg = v.reg
    pm = reg.pm
    if pm is None:
        return []
    out: list[dict[str, Any]] = []
    for token in sorted(set(pm.borrowable) | set(pm.collateral)):
        tok = reg.tokens[token]
        wd = tok.wei_decimals
        res = v.state.reserves.get(token) or Reserve(token)
        u, b, s = rates_of(reg, res)
        entry: dict[str, Any] = {
            "token": token,
            "name": tok.name,
            "utilization": fmt_decimal(u, 10),
            "borrowYearlyRate": fmt_decimal(b, 10),
            "supplyYearlyRate": fmt_decimal(s, 10),
            "totalSupplied": fmt_units(res.total_supplied, wd),
            "totalBorrowed": fmt_units(res.total_borrowed, wd),
        }
        bp = pm.borrowable.get(token)
        if bp is not None:
            entry["borrowable"] = {
                "curve": {
                    "base": fmt_decimal(bp.curve.base, 10),
                    "kink": fmt_decimal(bp.curve.kink, 10),
                    "slope": fmt_decimal(bp.curve.slope, 10),
                },
                "reserveCut": fmt_decimal(bp.reserve_cut, 10),
                "curvePoints": [list(p) for p in _curve(bp.curve, bp.reserve_cut)],
                "globalSupplyCap": fmt_units(bp.global_supply_cap, wd),
                "globalBorrowCap": fmt_units(bp.global_borrow_cap, wd),
                "userSupplyCap": fmt_units(bp.user_supply_cap, wd),
                "userBorrowCap": fmt_units(bp.user_borrow_cap, wd),
                "globalSupplyCapUsed": _ratio(res.total_supplied, bp.global_supply_cap),
                "globalBorrowCapUsed": _ratio(res.total_borrowed, bp.global_borrow_cap),
            }
        cp = pm.collateral.get(token)
        if cp is not None:
            entry["collateral"] = {
                "ltv": fmt_decimal(cp.ltv, 4),
                "liquidationThreshold": fmt_decimal(cp.liquidation_threshold, 4),
                "globalSupplyCap": fmt_units(cp.global_supply_cap, wd),
                "userSupplyCap": fmt_units(cp.user_supply_cap, wd),
                "globalSupplyCapUsed": _ratio(res.total_supplied, cp.global_supply_cap),
            }
        out.append(entry)
    return out


@view("borrowLendReserveParams")
def reserve_params_view(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return reserve_params(v)
