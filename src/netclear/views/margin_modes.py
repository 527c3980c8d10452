"""``marginModes``: one live account under standard, unified account and portfolio margin.

A netclear extension (docs/views.md) that answers the margin calculator's comparison
(docs/margin-calculator.md) for a user's actual holdings: the account's own mode is valued on the live
state; the other modes on the same holdings laid out for them (``margin_sections.as_mode``). Each
section has ``maintenanceRequirement``, ``marginAvailable``, ``excessMargin`` and ``liquidatable``;
``comparison`` has the capital each of unified and portfolio margin frees against standard.

The portfolio-margin section adds the ratio's terms per borrowable token (Hyperliquid Docs, "Portfolio margin"; docs/rules/
portfolio-margin.md): ``requirement = offset + cross maintenance + borrowed x price`` and
``liquidation value = balance + supplied + Σ collateral terms``, each collateral term being
``min(borrow cap x price, counted collateral x price x liquidation threshold)``; ``worstLeg`` names the
token whose ratio is the PMR.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.state import Account, Mode
from netclear.fixedpoint import fmt_decimal
from netclear.margin import portfolio as pm_rules
from netclear.views import view
from netclear.views.common import account_or_empty, user_of
from netclear.views.margin_sections import as_mode, comparison, section

SECTIONS = {Mode.STANDARD: "standard", Mode.UNIFIED: "unifiedAccount", Mode.PORTFOLIO: "portfolioMargin"}


def usd(x: Fraction) -> str:
    return fmt_decimal(x, 6)


def pm_legs(v: Valuer, acct: Account) -> dict[str, Any]:
    """The portfolio margin ratio's terms, per borrowable token, and which one is the worst."""
    reg = v.reg
    pm = reg.pm
    assert pm is not None
    h = AccountHealth(v, acct)
    legs = h.pm_legs()
    pools = h.raw_pools()
    out: list[dict[str, Any]] = []
    worst: tuple[Fraction, str] | None = None
    for leg in legs.legs:
        tok = reg.tokens[leg.token]
        offset = pm.min_borrow_offset if leg.borrowed > 0 else Fraction(0)
        requirement = pm_rules.maintenance_requirement(leg, pm.min_borrow_offset)
        value = pm_rules.liquidation_value(leg, legs.collateral)
        supplied = Fraction(v.supplied(acct, leg.token), tok.unit) * leg.price
        cap_usdc = leg.borrow_cap * leg.price
        terms = [
            {
                "token": reg.tokens[c.token].name,
                "counted": fmt_decimal(c.counted, reg.tokens[c.token].wei_decimals),
                "price": fmt_decimal(c.price, 8),
                "liquidationThreshold": fmt_decimal(c.liquidation_threshold, 4),
                "term": usd(min(cap_usdc, c.counted * c.price * c.liquidation_threshold)),
            }
            for c in legs.collateral
        ]
        pool = pools.get(leg.token)
        ratio = None
        if requirement > 0:
            ratio = pm_rules.INFINITE if value <= 0 else requirement / value
            if worst is None or ratio > worst[0]:
                worst = (ratio, tok.name)
        out.append(
            {
                "token": tok.name,
                "requirement": usd(requirement),
                "offset": usd(offset),
                "crossMaintenance": usd(leg.cross_maintenance),
                "borrowed": usd(leg.borrowed * leg.price),
                "liquidationValue": usd(value),
                "balance": usd(leg.portfolio_balance - supplied),
                "supplied": usd(supplied),
                "collateralTerm": usd(value - leg.portfolio_balance),
                "collateral": terms,
                "openPositions": len(pool.positions) if pool is not None else 0,
                "ratio": None if ratio is None else fmt_decimal(min(ratio, Fraction(10**9)), 10),
            }
        )
    return {
        "legs": out,
        "worstLeg": worst[1] if worst is not None else None,
        "liquidationRatio": fmt_decimal(pm.liquidation_ratio, 4),
    }


@view("marginModes")
def margin_modes_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "marginModes", "user": "0x..."}``."""
    reg = v.reg
    acct = account_or_empty(v, user_of(payload))
    sections: dict[str, Any] = {}
    for mode, name in SECTIONS.items():
        if mode is acct.mode:
            mv, a = v, acct
        else:
            state, a = as_mode(reg, v.state, acct, mode)
            mv = Valuer(reg, state)
        body = section(mv, a, mode)
        if mode is Mode.PORTFOLIO and reg.pm is not None and reg.pm.borrowable:
            body.update(pm_legs(mv, a))
        sections[name] = body
    return {
        "user": acct.address,
        "mode": acct.mode.value,
        **sections,
        "comparison": comparison(sections),
        "time": v.state.time_ms,
    }
