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

A fourth section, ``scenarioMargin``, values the portfolio-margin book with the scenario model
(:mod:`netclear.margin.scenario`, docs/margin-models.md): the same summary numbers, the worst scenario
and each charge. ``marginModel`` says which of the two the preset's portfolio-margin accounts use.

``comparison.capitalFreedByPortfolioMargin`` is the portfolio-margin excess minus the standard one:
the extra loss the same book can absorb before liquidation (docs/margin-calculator.md).
"""

from __future__ import annotations

from typing import Any

from netclear.calculator.snapshot import build_state
from netclear.config import resolve
from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.state import Account, ExchangeState, Mode
from netclear.errors import InvalidAction
from netclear.markets.registry import Registry
from netclear.views import margin_sections as ms
from netclear.views.clearinghouse import clearinghouse_state
from netclear.views.lending import borrow_lend_user_state
from netclear.views.spot import spot_clearinghouse_state

MODES = (Mode.STANDARD, Mode.UNIFIED, Mode.PORTFOLIO)
_SECTION = {Mode.STANDARD: "standard", Mode.UNIFIED: "unifiedAccount", Mode.PORTFOLIO: "portfolioMargin"}


def _standard(v: Valuer, acct: Account) -> dict[str, Any]:
    out = ms.standard(v, acct)
    out["clearinghouseStates"] = {
        name: clearinghouse_state(v, acct, name) for name in ms.dexes_with_positions(v.reg, acct)
    }
    return out


def _unified(v: Valuer, acct: Account) -> dict[str, Any]:
    return ms.unified(v, acct) | {"spotClearinghouseState": spot_clearinghouse_state(v, acct)}


def _portfolio(v: Valuer, acct: Account) -> dict[str, Any]:
    out = ms.portfolio(v, acct)
    if out.get("enabled") is False:
        return out
    out["spotClearinghouseState"] = spot_clearinghouse_state(v, acct)
    out["borrowLendUserState"] = borrow_lend_user_state(v, acct)
    return out


def _section(
    reg: Registry, portfolio: dict[str, Any], mode: Mode
) -> tuple[dict[str, Any], ExchangeState, Account]:
    state, acct = build_state(reg, portfolio, mode)
    v = Valuer(reg, state)
    if mode is Mode.STANDARD:
        return _standard(v, acct), state, acct
    if mode is Mode.UNIFIED:
        return _unified(v, acct), state, acct
    return _portfolio(v, acct), state, acct


def _top_level(reg: Registry, state: ExchangeState, acct: Account, section: dict[str, Any]) -> dict[str, Any]:
    v = Valuer(reg, state)
    main = clearinghouse_state(v, acct, "")
    out: dict[str, Any] = {
        "accountValue": main["marginSummary"]["accountValue"],
        "crossMaintenanceMarginUsed": main["crossMaintenanceMarginUsed"],
        # the engine's own test for the account's mode (the scenario model's under a scenario preset)
        "liquidatable": AccountHealth(v, acct).liquidatable(),
        "positions": [],
    }
    for dex in ms.dexes_with_positions(reg, acct):
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
    scenario_model = pm_model.uses_scenario(reg)
    for mode in MODES:
        section, state, acct = _section(reg, portfolio, mode)
        sections[_SECTION[mode]] = section
        if mode is Mode.PORTFOLIO:
            sections["scenarioMargin"] = ms.scenario(Valuer(reg, state), acct)
        if mode is requested:
            top = _top_level(reg, state, acct, section)
    return {
        "preset": str(preset),
        "mode": requested.value,
        "marginModel": "scenario" if scenario_model else "hyperliquid",
        **top,
        **sections,
        "comparison": ms.comparison(sections),
    }
