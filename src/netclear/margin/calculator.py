"""The margin calculator: one portfolio, three account modes side by side (DESIGN.md contract).

``evaluate(portfolio)`` returns the breakdown for the requested mode at the top level (Hyperliquid
field names: ``accountValue``, ``crossMaintenanceMarginUsed``, ``portfolioMarginRatio``,
``healthFactor``, ``tokenToAvailableAfterMaintenance``, ``liquidatable``, per-position
``liquidationPx`` and ``marginUsed``) and a ``standard`` / ``unifiedAccount`` / ``portfolioMargin``
section each with the same three summary numbers, all in USDC:

* ``maintenanceRequirement``: what the mode's liquidation test requires;
* ``marginAvailable``: what the mode counts against it (standard: perp equity per dex and isolated
  margin, spot is not collateral; unified: each collateral token's balance; portfolio margin:
  ``0.95 x portfolio_liquidation_value``, so that ``requirement > available`` iff PMR > 0.95);
* ``excessMargin = marginAvailable - maintenanceRequirement``.

``comparison.capitalFreedByPortfolioMargin`` is the portfolio-margin excess minus the standard one:
the extra loss the same book can absorb before liquidation (docs/margin-calculator.md).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.config import resolve
from netclear.engine.accounting import Valuer
from netclear.engine.state import Account, ExchangeState, Mode
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal
from netclear.margin import portfolio as pm_rules
from netclear.margin.snapshot import build_state
from netclear.margin.unified import INFINITE, unified_liquidatable
from netclear.markets.registry import Registry
from netclear.views.clearinghouse import clearinghouse_state
from netclear.views.lending import borrow_lend_user_state
from netclear.views.spot import spot_clearinghouse_state

MODES = (Mode.STANDARD, Mode.UNIFIED, Mode.PORTFOLIO)
_SECTION = {Mode.STANDARD: "standard", Mode.UNIFIED: "unifiedAccount", Mode.PORTFOLIO: "portfolioMargin"}


def usd(x: Fraction) -> str:
    return fmt_decimal(x, 6)


def _ratio(x: Fraction) -> str:
    return "Infinity" if x >= INFINITE else fmt_decimal(x, 10)


def _dexes_with_positions(reg: Registry, acct: Account) -> list[str]:
    names = {reg.perps[p.asset].dex.name for p in acct.positions.values() if p.szi}
    return [d.name for d in reg.dexes if d.name in names or d.index == 0]


def _standard(v: Valuer, acct: Account) -> dict[str, Any]:
    reg = v.reg
    req = avail = im = Fraction(0)
    liquidatable = False
    dexes: dict[str, Any] = {}
    for name in _dexes_with_positions(reg, acct):
        pool = v.dex_pool(acct, name)
        tok = pool.token
        mm_usd, av_usd = v.usdc_value(tok, pool.mm), v.usdc_value(tok, pool.account_value)
        req += mm_usd
        avail += av_usd
        im += v.usdc_value(tok, pool.im)
        if pool.mm > 0 and pool.account_value < pool.mm:
            liquidatable = True
        dexes[name] = clearinghouse_state(v, acct, name)
    for iso in v.isolated(acct):
        tok = iso.value.perp.collateral
        req += v.usdc_value(tok, iso.value.mm)
        avail += v.usdc_value(tok, iso.margin_used)
        im += v.usdc_value(tok, iso.value.im)
        if iso.margin_used < iso.value.mm:
            liquidatable = True
    idle = Fraction(0)
    for token, bal in acct.spot.items():
        if bal:
            idle += v.usdc_value(reg.tokens[token], bal)
    return {
        "maintenanceRequirement": usd(req),
        "initialMarginRequirement": usd(im),
        "marginAvailable": usd(avail),
        "excessMargin": usd(avail - req),
        "spotValueNotCollateral": usd(idle),
        "liquidatable": liquidatable,
        "clearinghouseStates": dexes,
    }


def _unified(v: Valuer, acct: Account) -> dict[str, Any]:
    pools = v.cross_pools(acct)
    req = avail = im = Fraction(0)
    for pool in pools.values():
        if not (pool.positions or pool.cash):
            continue
        req += v.usdc_value(pool.token, pool.mm)
        avail += v.usdc_value(pool.token, pool.account_value)
        im += v.usdc_value(pool.token, pool.im)
    for iso in v.isolated(acct):
        tok = iso.value.perp.collateral
        req += v.usdc_value(tok, iso.value.mm)
        avail += v.usdc_value(tok, iso.margin_used)
    ratio = v.unified_ratio(acct, pools)
    return {
        "maintenanceRequirement": usd(req),
        "initialMarginRequirement": usd(im),
        "marginAvailable": usd(avail),
        "excessMargin": usd(avail - req),
        "unifiedAccountRatio": _ratio(ratio),
        "liquidatable": unified_liquidatable(ratio)
        or any(i.margin_used < i.value.mm for i in v.isolated(acct)),
        "spotClearinghouseState": spot_clearinghouse_state(v, acct),
    }


def _portfolio(v: Valuer, acct: Account) -> dict[str, Any]:
    reg = v.reg
    pm = reg.pm
    if pm is None or not pm.borrowable:
        return {"enabled": False}
    legs = v.pm_legs(acct)
    req = avail = Fraction(0)
    worst: tuple[Fraction, Fraction, Fraction] | None = None  # (ratio, requirement, liquidation value)
    for leg in legs.legs:
        r = pm_rules.maintenance_requirement(leg, pm.min_borrow_offset)
        if r <= 0:
            continue
        lv = pm_rules.liquidation_value(leg, legs.collateral)
        key = INFINITE if lv <= 0 else r / lv
        if worst is None or key > worst[0]:
            worst = (key, r, lv)
    if worst is not None:
        _, req, lv = worst
        avail = lv * pm.liquidation_ratio
    borrowed = v.borrowed_value(acct)
    hf = pm_rules.health_factor(legs.collateral, borrowed)
    return {
        "maintenanceRequirement": usd(req),
        "marginAvailable": usd(avail),
        "excessMargin": usd(avail - req),
        "portfolioMarginRatio": _ratio(legs.ratio),
        "liquidatable": pm_rules.pm_liquidatable(legs.ratio, pm.liquidation_ratio),
        "healthFactor": fmt_decimal(hf, 10) if hf is not None else None,
        "borrowingPower": usd(pm_rules.borrowing_power(legs.collateral)),
        "borrowedValue": usd(borrowed),
        "spotClearinghouseState": spot_clearinghouse_state(v, acct),
        "borrowLendUserState": borrow_lend_user_state(v, acct),
    }


def _section(
    reg: Registry, portfolio: dict[str, Any], mode: Mode
) -> tuple[dict[str, Any], ExchangeState, Account]:
    state, acct = build_state(reg, portfolio, mode)
    return section(Valuer(reg, state), acct, mode), state, acct


def _top_level(reg: Registry, state: ExchangeState, acct: Account, section: dict[str, Any]) -> dict[str, Any]:
    v = Valuer(reg, state)
    main = clearinghouse_state(v, acct, "")
    out: dict[str, Any] = {
        "accountValue": main["marginSummary"]["accountValue"],
        "crossMaintenanceMarginUsed": main["crossMaintenanceMarginUsed"],
        "liquidatable": section.get("liquidatable", False),
        "positions": [],
    }
    for dex in _dexes_with_positions(reg, acct):
        ch = clearinghouse_state(v, acct, dex)
        for ap in ch["assetPositions"]:
            pos = ap["position"]
            out["positions"].append(
                {
                    k: pos[k]
                    for k in (
                        "coin",
                        "szi",
                        "entryPx",
                        "positionValue",
                        "unrealizedPnl",
                        "marginUsed",
                        "liquidationPx",
                    )
                }
            )
    if acct.mode.unified:
        spot = spot_clearinghouse_state(v, acct)
        out["tokenToAvailableAfterMaintenance"] = spot.get("tokenToAvailableAfterMaintenance", [])
    for key in ("portfolioMarginRatio", "healthFactor", "unifiedAccountRatio"):
        if key in section:
            out[key] = section[key]
    return out


def section(v: Valuer, acct: Account, mode: Mode) -> dict[str, Any]:
    """One mode's breakdown of an account valued by ``v`` (standard, unified or portfolio margin)."""
    if mode is Mode.STANDARD:
        return _standard(v, acct)
    if mode is Mode.UNIFIED:
        return _unified(v, acct)
    return _portfolio(v, acct)


def comparison(sections: dict[str, Any]) -> dict[str, Any]:
    """Capital freed by unified account and by portfolio margin: their excess margin minus standard's."""
    std_excess = Fraction(sections["standard"]["excessMargin"])
    out: dict[str, Any] = {}
    if "excessMargin" in sections["portfolioMargin"]:
        out["capitalFreedByPortfolioMargin"] = usd(
            Fraction(sections["portfolioMargin"]["excessMargin"]) - std_excess
        )
        out["capitalFreedByUnifiedAccount"] = usd(
            Fraction(sections["unifiedAccount"]["excessMargin"]) - std_excess
        )
    return out


def evaluate(portfolio: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a portfolio (DESIGN.md "margin calculator contract") under every account mode."""
    if not isinstance(portfolio, dict):
        raise InvalidAction("portfolio", "must be a JSON object")
    preset = portfolio.get("preset", "hyperliquid")
    reg = Registry.from_config(resolve(preset))
    try:
        requested = Mode(portfolio.get("mode", Mode.PORTFOLIO.value))
    except ValueError:
        raise InvalidAction("mode", "must be disabled, unifiedAccount or portfolioMargin") from None
    sections: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for mode in MODES:
        section, state, acct = _section(reg, portfolio, mode)
        sections[_SECTION[mode]] = section
        if mode is requested:
            top = _top_level(reg, state, acct, section)
    return {
        "preset": str(preset),
        "mode": requested.value,
        **top,
        **sections,
        "comparison": comparison(sections),
    }
