"""The three account modes' margin summaries of one account (the margin calculator's sections), and
the same holdings laid out for another mode.

``standard`` / ``unified`` / ``portfolio`` each give ``maintenanceRequirement``, ``marginAvailable``,
``excessMargin`` and ``liquidatable`` in USDC (docs/margin-calculator.md "Output"); ``comparison`` the
capital unified account and portfolio margin free against standard. The margin calculator
(``calculator/margin.py``) adds nested views to them; the ``marginModes`` info type (``margin_modes.py``)
serves them for a live account, valuing its other modes on ``as_mode``'s layout.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine import pm_model
from netclear.engine.accounting import PoolKey, Valuer
from netclear.engine.health import AccountHealth, pm_liquidation_ratio
from netclear.engine.state import Account, ExchangeState, Mode, Position
from netclear.engine.whatif import LIQUIDITY, reserve_for, supply_collateral
from netclear.fixedpoint import fmt_decimal, notional
from netclear.margin import portfolio as pm_rules
from netclear.margin import scenario as sc
from netclear.margin.standard import initial_margin
from netclear.margin.unified import INFINITE
from netclear.markets.registry import Registry


def usd(x: Fraction) -> str:
    return fmt_decimal(x, 6)


def ratio_text(x: Fraction) -> str:
    return "Infinity" if x >= INFINITE else fmt_decimal(x, 10)


def dexes_with_positions(reg: Registry, acct: Account) -> list[str]:
    """The dexes the standard section counts: those with positions, and always the first."""
    names = {reg.perps[p.asset].dex.name for p in acct.positions.values() if p.szi}
    return [d.name for d in reg.dexes if d.name in names or d.index == 0]


def standard(v: Valuer, acct: Account) -> dict[str, Any]:
    """Per-dex cross margin plus isolated positions; spot is not collateral. The numbers and the
    liquidation test are :class:`~netclear.engine.health.AccountHealth`'s."""
    reg = v.reg
    h = AccountHealth(v, acct)
    req = avail = im = Fraction(0)
    for name in dexes_with_positions(reg, acct):
        pool = h.pool(PoolKey.of_dex(name))
        tok = pool.token
        req += v.usdc_value(tok, pool.mm)
        avail += v.usdc_value(tok, pool.account_value)
        im += v.usdc_value(tok, pool.im)
    for iso in h.isolated:
        tok = iso.value.perp.collateral
        req += v.usdc_value(tok, iso.value.mm)
        avail += v.usdc_value(tok, iso.margin_used)
        im += v.usdc_value(tok, iso.value.im)
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
        "liquidatable": h.liquidatable(Mode.STANDARD),
    }


def unified(v: Valuer, acct: Account) -> dict[str, Any]:
    """One pool per collateral token (its balance and cross positions), plus isolated positions."""
    h = AccountHealth(v, acct)
    req = avail = im = Fraction(0)
    for pool in h.pools.values():
        if not (pool.positions or pool.cash):
            continue
        req += v.usdc_value(pool.token, pool.mm)
        avail += v.usdc_value(pool.token, pool.account_value)
        im += v.usdc_value(pool.token, pool.im)
    for iso in h.isolated:
        tok = iso.value.perp.collateral
        req += v.usdc_value(tok, iso.value.mm)
        avail += v.usdc_value(tok, iso.margin_used)
    return {
        "maintenanceRequirement": usd(req),
        "initialMarginRequirement": usd(im),
        "marginAvailable": usd(avail),
        "excessMargin": usd(avail - req),
        "unifiedAccountRatio": ratio_text(h.unified_ratio()),
        "liquidatable": h.liquidatable(Mode.UNIFIED),
    }


def portfolio(v: Valuer, acct: Account) -> dict[str, Any]:
    """The worst leg's requirement against ``0.95 x`` its liquidation value (so ``excess < 0`` iff PMR > 0.95)."""
    reg = v.reg
    pm = reg.pm
    if pm is None or not pm.borrowable:
        return {"enabled": False}
    legs = AccountHealth(v, acct).pm_legs()
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
        avail = lv * pm_liquidation_ratio(reg)
    borrowed = v.borrowed_value(acct)
    hf = pm_rules.health_factor(legs.collateral, borrowed)
    return {
        "maintenanceRequirement": usd(req),
        "marginAvailable": usd(avail),
        "excessMargin": usd(avail - req),
        "portfolioMarginRatio": ratio_text(legs.ratio),
        "liquidatable": pm_rules.pm_liquidatable(legs.ratio, pm_liquidation_ratio(reg)),
        "healthFactor": fmt_decimal(hf, 10) if hf is not None else None,
        "borrowingPower": usd(pm_rules.borrowing_power(legs.collateral)),
        "borrowedValue": usd(borrowed),
    }


def scenario(v: Valuer, acct: Account) -> dict[str, Any]:
    """The scenario model's section (docs/margin-models.md): summary numbers, worst scenario, charges."""
    pm = v.reg.pm
    if pm is None or not pm.borrowable or pm.scenario is None:
        return {"enabled": False}
    result, equity = pm_model.scenario_result(v, acct)
    ratio = sc.margin_ratio(result.maintenance, equity, pm.liquidation_ratio)
    return {
        "maintenanceRequirement": usd(result.maintenance),
        "initialMarginRequirement": usd(result.initial),
        "marginAvailable": usd(equity),
        "excessMargin": usd(equity - result.maintenance),
        "liquidatable": sc.liquidatable(result.maintenance, equity),
        "marginRatio": ratio_text(ratio),
        "worstScenario": {unit: sc.fmt_move(move) for unit, move in result.worst_scenario().items()},
        "charges": {
            "scenarioLoss": usd(sum((u.grid_loss for u in result.units), Fraction(0))),
            "minimumCharge": usd(result.minimum_binding),
            "offsetCredit": usd(result.offset_credit),
            "basisCharge": usd(result.basis),
            "depegCharge": usd(result.depeg_total),
            "concentrationCharge": usd(result.concentration),
        },
        "depeg": {token: usd(x) for token, x in sorted(result.depeg.items())},
        "extremeMoveLoss": usd(result.extreme_loss),
        "units": [
            {
                "unit": u.unit,
                "class": u.risk_class,
                "netDelta": usd(u.net),
                "grossNotional": usd(u.gross),
                "worstMove": sc.fmt_move(u.worst_move),
                "scenarioLoss": usd(u.grid_loss),
                "minimumCharge": usd(u.minimum),
                "basisCharge": usd(u.basis),
                "concentrationCharge": usd(u.concentration),
                "extremeMoveLoss": usd(u.extreme_loss),
            }
            for u in result.units
        ],
    }


def section(v: Valuer, acct: Account, mode: Mode) -> dict[str, Any]:
    """One mode's summary of an account valued by ``v``."""
    if mode is Mode.STANDARD:
        return standard(v, acct)
    if mode is Mode.UNIFIED:
        return unified(v, acct)
    return portfolio(v, acct)


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
    if "excessMargin" in sections.get("scenarioMargin", {}):
        out["capitalFreedByScenarioMargin"] = usd(
            Fraction(sections["scenarioMargin"]["excessMargin"]) - std_excess
        )
    return out


def as_mode(reg: Registry, live: ExchangeState, acct: Account, mode: Mode) -> tuple[ExchangeState, Account]:
    """The same holdings and positions as a live account, laid out for ``mode`` (the ``marginModes`` view).

    Our reading of "the same portfolio under another mode" (docs/margin-calculator.md):
    * prices are the live ones; each token's holding is everything the account owns of it: spot, perp
      balances of the dexes it collateralises, and supplied amounts (a supply is withdrawn to a balance);
    * under portfolio margin debts stay debts and collateral is supplied up to the caps, as
      :func:`build_state` does; under the other modes a debt is repaid from the token's balance;
    * under the standard mode a token's cash sits on the first dex it collateralises, except that every
      other dex keeps the cash legs of its cross positions plus their initial margin (standard mode
      margins each dex apart, so each needs its own funding); other tokens stay in spot.
    Positions (cross and isolated, with their isolated margin) are unchanged.
    """
    v = Valuer(reg, live)
    state = ExchangeState(time_ms=live.time_ms)
    state.prices = live.prices
    out = Account(acct.address, mode=mode)
    state.accounts[out.address] = out
    holding: dict[int, int] = {}
    for token, bal in acct.spot.items():
        holding[token] = holding.get(token, 0) + bal
    for dex_name, cash in acct.perp_cash.items():
        token = reg.dex(dex_name).collateral.index
        holding[token] = holding.get(token, 0) + cash
    for token in set(acct.supply_basis):
        holding[token] = holding.get(token, 0) + v.supplied(acct, token)
    borrowed = {t: v.borrowed(acct, t) for t in acct.borrow_basis if v.borrowed(acct, t)}
    if mode is not Mode.PORTFOLIO:
        for token, amount in borrowed.items():
            holding[token] = holding.get(token, 0) - amount
    for asset, pos in acct.positions.items():
        if pos.szi:
            out.positions[asset] = Position(
                asset, pos.szi, pos.entry_ntl, pos.is_cross, pos.leverage, pos.raw_usd
            )
    if mode is Mode.STANDARD:
        first: dict[int, str] = {}
        for dex in reg.dexes:
            first.setdefault(dex.collateral.index, dex.name)
        for pos in out.positions.values():
            perp = reg.perps[pos.asset]
            if not pos.is_cross or perp.dex.name == first[perp.collateral.index]:
                continue
            coll = perp.collateral
            cost = notional(1, pos.entry_ntl, perp.sz_decimals, coll.wei_decimals)  # |szi| x entryPx
            leg = -cost if pos.szi > 0 else cost
            need = leg + initial_margin(abs(leg), pos.leverage)
            out.perp_cash[perp.dex.name] = out.perp_cash.get(perp.dex.name, 0) + need
            holding[coll.index] = holding.get(coll.index, 0) - need
        for token, amount in holding.items():
            if token in first:
                out.perp_cash[first[token]] = out.perp_cash.get(first[token], 0) + amount
            elif amount:
                out.spot[token] = amount
    else:
        out.spot = {t: a for t, a in holding.items() if a}
    if mode is Mode.PORTFOLIO:
        for token, amount in borrowed.items():
            res = reserve_for(state, token)
            liquidity = state.accounts.setdefault(LIQUIDITY, Account(LIQUIDITY, is_system=True))
            liquidity.supply_basis[token] = liquidity.supply_basis.get(token, 0) + amount
            res.scaled_supply += amount
            out.borrow_basis[token] = amount
            res.scaled_borrow += amount
        supply_collateral(reg, state, out)
    return state, out
