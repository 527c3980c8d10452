"""Borrow/lend views (Hyperliquid docs 'Info endpoint' verbatim samples)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.lending import rates_of
from netclear.engine.state import Account, Mode, Reserve
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal, fmt_units
from netclear.margin import portfolio as pm_rules
from netclear.views import view
from netclear.views.common import account_or_empty, time_filter, user_of


def health(v: Valuer, acct: Account) -> tuple[str, Fraction | None]:
    """``health`` and ``healthFactor`` of ``borrowLendUserState``.

    Our reading of the four states (docs/views.md): ``backstopLiquidatable`` when the PMR is
    liquidatable and some collateral is past the full borrow-liquidation threshold,
    ``marketLiquidatable`` when the PMR is liquidatable, ``atRisk`` when the health factor is below
    100% (no further borrowing, Hyperliquid docs 'Portfolio margin FAQ'), else ``healthy``.
    """
    reg = v.reg
    pm = reg.pm
    borrowed = v.borrowed_value(acct)
    if pm is None or acct.mode is not Mode.PORTFOLIO:
        return "healthy", None
    coll = v.collateral_holdings(acct)
    hf = pm_rules.health_factor(coll, borrowed)
    if AccountHealth(v, acct).pm().liquidatable:
        value = sum((c.value for c in coll), Fraction(0))
        ltv = sum((c.value * c.ltv for c in coll), Fraction(0)) / value if value else Fraction(0)
        state = pm_rules.borrow_health(
            borrowed, value, ltv, pm.partial_threshold_fraction, pm.full_threshold_fraction
        )
        return ("backstopLiquidatable" if state == "full" else "marketLiquidatable"), hf
    if hf is not None and hf < 1:
        return "atRisk", hf
    return "healthy", hf


def borrow_lend_user_state(v: Valuer, acct: Account) -> dict[str, Any]:
    reg = v.reg
    out: list[list[Any]] = []
    for token in sorted(set(acct.supply_basis) | set(acct.borrow_basis)):
        tok = reg.tokens[token]
        wd = tok.wei_decimals
        out.append(
            [
                token,
                {
                    "borrow": {
                        "basis": fmt_units(acct.borrow_basis.get(token, 0), wd),
                        "value": fmt_units(v.borrowed(acct, token), wd),
                    },
                    "supply": {
                        "basis": fmt_units(acct.supply_basis.get(token, 0), wd),
                        "value": fmt_units(v.supplied(acct, token), wd),
                    },
                },
            ]
        )
    status, hf = health(v, acct)
    return {
        "tokenToState": out,
        "health": status,
        "healthFactor": fmt_decimal(hf, 10) if hf is not None else None,
    }


def reserve_state(v: Valuer, res: Reserve) -> dict[str, Any]:
    reg = v.reg
    tok = reg.tokens[res.token]
    wd = tok.wei_decimals
    u, b, s = rates_of(reg, res)
    coll = reg.collateral(res.token)
    px = v.token_price_or_none(tok)
    return {
        "borrowYearlyRate": fmt_decimal(b, 10),
        "supplyYearlyRate": fmt_decimal(s, 10),
        "balance": fmt_units(res.cash, wd),
        "utilization": fmt_decimal(u, 10),
        "oraclePx": fmt_decimal(px, 8) if px is not None else "0.0",
        "ltv": fmt_decimal(coll.ltv, 4) if coll is not None else "0.0",
        "totalSupplied": fmt_units(res.total_supplied, wd),
        "totalBorrowed": fmt_units(res.total_borrowed, wd),
    }


def _lendable_tokens(v: Valuer) -> list[int]:
    pm = v.reg.pm
    if pm is None:
        return []
    return sorted(set(pm.borrowable) | set(pm.collateral))


def _reserve_or_empty(v: Valuer, token: int) -> Reserve:
    res = v.state.reserves.get(token)
    return res if res is not None else Reserve(token)


@view("borrowLendUserState")
def user_state_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    return borrow_lend_user_state(v, account_or_empty(v, user_of(payload)))


@view("borrowLendReserveState")
def reserve_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    token = payload.get("token")
    if not isinstance(token, int) or isinstance(token, bool):
        raise InvalidAction("token", "must be a token index")
    if token not in _lendable_tokens(v):
        raise InvalidAction("token", f"token {token} has no borrow/lend reserve")
    return reserve_state(v, _reserve_or_empty(v, token))


@view("allBorrowLendReserveStates")
def all_reserves_view(v: Valuer, payload: dict[str, Any]) -> list[list[Any]]:
    return [[t, reserve_state(v, _reserve_or_empty(v, t))] for t in _lendable_tokens(v)]


@view("userBorrowLendInterest")
def interest_view(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    records = v.state.history.interest.get(user_of(payload), [])
    return time_filter(records, payload)
