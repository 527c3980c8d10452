"""``spotClearinghouseState`` with the unified / portfolio-margin fields, and ``userAbstraction``.

Hyperliquid docs 'Info endpoint'; readings (DESIGN.md, Hyperliquid docs 'Portfolio margin' (c)-(e)):
``total`` of a collateral token = free spot + its cross perp account value + isolated margin
(+ supplied under PM); ``hold`` = cross initial margin + isolated margin + resting spot orders;
``tokenToAvailableAfterMaintenance[token] = total - crossMaintenanceMarginUsed``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.state import Account, Mode
from netclear.fixedpoint import fmt_decimal, fmt_units
from netclear.views import view
from netclear.views.common import account_or_empty, user_of


def spot_clearinghouse_state(v: Valuer, acct: Account) -> dict[str, Any]:
    reg = v.reg
    unified = acct.mode.unified
    pm = acct.mode is Mode.PORTFOLIO
    h = AccountHealth(v, acct) if unified else None
    pools = h.raw_pools() if h is not None else {}
    tokens = sorted(
        set(acct.spot)
        | set(acct.supply_basis)
        | set(acct.borrow_basis)
        | set(acct.spot_hold)
        | ({k for k in pools if isinstance(k, int) and pools[k].positions} if unified else set())
    )
    balances: list[dict[str, Any]] = []
    available: list[list[Any]] = []
    for token in tokens:
        tok = reg.tokens[token]
        wd = tok.wei_decimals
        supplied = v.supplied(acct, token)
        borrowed = v.borrowed(acct, token)
        spot_hold = acct.spot_hold.get(token, 0)
        pool = pools.get(token)
        iso = [i for i in h.isolated if i.value.perp.collateral.index == token] if h is not None else []
        iso_margin = sum(i.margin_used for i in iso)
        if pool is not None:
            total = pool.account_value + iso_margin + supplied
            hold = pool.im + iso_margin + spot_hold
            mm = pool.mm
        else:
            total = acct.spot.get(token, 0) + supplied
            hold = spot_hold
            mm = 0
        if total == 0 and hold == 0 and borrowed == 0:
            continue
        entry: dict[str, Any] = {
            "coin": tok.name,
            "token": token,
            "total": fmt_units(total, wd),
            "hold": fmt_units(hold, wd),
            "entryNtl": "0.0",
        }
        if unified:
            entry["spotHold"] = fmt_units(spot_hold, wd)
        if pm:
            params = reg.collateral(token)
            entry["ltv"] = fmt_decimal(params.ltv, 4) if params is not None else "0.0"
            entry["borrowed"] = fmt_units(borrowed, wd)
            entry["supplied"] = fmt_units(supplied, wd)
        balances.append(entry)
        if unified:
            available.append([token, fmt_units(total - mm, wd)])
    out: dict[str, Any] = {"balances": balances}
    if unified:
        out["tokenToAvailableAfterMaintenance"] = available
    if pm:
        ratio = pm_model.pm_ratio(v, acct).ratio  # the preset's model (docs/margin-models.md)
        out["portfolioMarginEnabled"] = True
        out["portfolioMarginRatio"] = fmt_decimal(min(ratio, Fraction(10**9)), 10)
        out["tokenToPortfolioBorrowRatio"] = _cap_ratios(v, acct, borrow=True)
        out["tokenToPortfolioSupplyRatio"] = _cap_ratios(v, acct, borrow=False)
    return out


def _cap_ratios(v: Valuer, acct: Account, *, borrow: bool) -> list[list[Any]]:
    """Our reading of the undocumented fields: usage of the user's cap per token (docs/views.md)."""
    pm = v.reg.pm
    assert pm is not None
    out: list[list[Any]] = []
    for token, params in sorted(pm.borrowable.items()):
        cap = params.user_borrow_cap if borrow else params.user_supply_cap
        used = v.borrowed(acct, token) if borrow else v.supplied(acct, token)
        if cap > 0 and used:
            out.append([token, fmt_decimal(Fraction(used, cap), 10)])
    if not borrow:
        for token, cparams in sorted(pm.collateral.items()):
            used = v.supplied(acct, token)
            if cparams.user_supply_cap > 0 and used:
                out.append([token, fmt_decimal(Fraction(used, cparams.user_supply_cap), 10)])
    return out


@view("spotClearinghouseState")
def spot_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    return spot_clearinghouse_state(v, account_or_empty(v, user_of(payload)))


@view("userAbstraction")
def user_abstraction(v: Valuer, payload: dict[str, Any]) -> str:
    acct = v.state.accounts.get(user_of(payload))
    return acct.mode.value if acct is not None else Mode.STANDARD.value


@view("userDexAbstraction")
def user_dex_abstraction(v: Valuer, payload: dict[str, Any]) -> bool:
    """HIP-3 DEX abstraction is discontinued ("Account abstraction modes"); no account can have it."""
    user_of(payload)
    return False
