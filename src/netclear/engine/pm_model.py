"""The margin model of portfolio-margin accounts: the one place that decides which model applies.

A preset's ``portfolio_margin.model`` selects Hyperliquid's portfolio margin ratio (the default,
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin) or the scenario model
(:mod:`netclear.margin.scenario`, docs/margin-models.md). Placement checks and auto-borrow limits
(:mod:`netclear.engine.solvency`), the liquidation test (:mod:`netclear.engine.liquidation.pm`), the
``portfolioMarginRatio`` and ``health`` views and the margin calculator all ask this module.

Under the scenario model:

* the account's **equity** is the USDC value of its portfolio-margin cross margin: everything it owns
  net of its debts, less isolated positions and the pools of dexes whose collateral is not borrowable
  (those are margined on their own, as under Hyperliquid's model);
* it is **liquidatable** when equity is below the scenario maintenance requirement; the ratio reported
  as ``portfolioMarginRatio`` is ``0.95 x maintenance / equity`` so that it crosses 0.95 exactly then;
* an action that raises risk must leave equity at or above the **initial** requirement, or at least not
  widen the shortfall (a reducing trade stays allowed); borrowing is bounded by caps and reserve
  liquidity, not by LTV: the scenario requirement is what limits it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from netclear.engine.accounting import MarginPool, Valuer
from netclear.engine.state import Account, Mode
from netclear.errors import InsufficientMargin
from netclear.fixedpoint import PX_SCALE, notional
from netclear.margin import portfolio as pm_rules
from netclear.margin import scenario as sc
from netclear.markets.registry import Perp, Registry, SpotPair, Token

UNLIMITED = 10**40
"""Borrow capacity under the scenario model before caps and liquidity (wei)."""


def uses_scenario(reg: Registry) -> bool:
    return reg.pm is not None and reg.pm.model == "scenario"


def scenario_params(reg: Registry) -> sc.ScenarioParams:
    assert reg.pm is not None and reg.pm.scenario is not None
    return reg.pm.scenario


def own_pool_tokens(reg: Registry) -> set[int]:
    """Collateral tokens of dexes margined apart from portfolio margin (not borrowable, e.g. USDH)."""
    return {d.collateral.index for d in reg.dexes if reg.borrowable(d.collateral.index) is None}


def pm_equity(v: Valuer, acct: Account) -> Fraction:
    """USDC value of the portfolio-margin cross margin (see the module docstring)."""
    total = v.account_value_usdc(acct)
    for iso in v.isolated(acct):
        total -= v.usdc_value(iso.value.perp.collateral, iso.margin_used)
    own = own_pool_tokens(v.reg)
    for key, pool in v.cross_pools(acct).items():
        if isinstance(key, int) and key in own:
            total -= v.usdc_value(pool.token, pool.account_value)
    return total


def scenario_inputs(v: Valuer, acct: Account) -> tuple[list[sc.Leg], list[sc.StableExposure]]:
    """The account's legs per risk unit and its stablecoin exposures (USDC values).

    Perp legs: cross positions of dexes whose collateral is borrowable, ``szi x mark``. Spot legs: each
    non-stable token's ``spot + supplied - borrowed`` at ``borrow_oracle_price``, in the unit of its
    perp (UBTC -> BTC). Stablecoins (the preset's de-peg list and the quote) have no price grid.
    """
    reg = v.reg
    params = scenario_params(reg)
    own = own_pool_tokens(reg)
    legs: list[sc.Leg] = []
    for key, pool in sorted(v.cross_pools(acct).items(), key=lambda kv: str(kv[0])):
        if isinstance(key, int) and key in own:
            continue
        for pv in pool.positions:
            delta = v.usdc_value(pv.perp.collateral, pv.ntl)
            legs.append(sc.Leg(sc.unit_of(pv.perp.name, params.unit_aliases), pv.perp.name, "perp", delta))
    stables: list[sc.StableExposure] = []
    tokens = sorted((set(acct.spot) | set(acct.supply_basis) | set(acct.borrow_basis)) - own)
    quote = reg.quote.index
    for token in tokens:
        tok = reg.tokens[token]
        spot = acct.spot.get(token, 0)
        supplied = v.supplied(acct, token)
        borrowed = v.borrowed(acct, token)
        if token == quote or tok.name in params.depeg:
            held = Fraction(0) if token == quote else v.usdc_value(tok, spot + supplied)
            if borrowed or held:
                stables.append(sc.StableExposure(tok.name, v.usdc_value(tok, borrowed), held))
            continue
        qty = spot + supplied - borrowed
        if qty:
            name = tok.perp if tok.perp is not None else tok.name
            legs.append(
                sc.Leg(sc.unit_of(name, params.unit_aliases), tok.name, "spot", v.usdc_value(tok, qty))
            )
    return legs, stables


@dataclass(frozen=True, slots=True)
class PmHealth:
    """An account's standing under its preset's portfolio-margin model."""

    model: str
    pmr: pm_rules.PmRatio
    """``portfolioMarginRatio`` as integers: liquidatable above the preset's ``liquidation_ratio`` (0.95)."""
    liquidatable: bool
    scenario: sc.ScenarioResult | None = None
    equity: Fraction | None = None

    @property
    def ratio(self) -> Fraction:
        """``portfolioMarginRatio`` for display."""
        return self.pmr.ratio


def book_depths(v: Valuer, units: Iterable[str]) -> dict[str, sc.Depth]:
    """Per unit, the USDC notional resting within the unit's shock of the reference price on every
    order book of the underlying (its perps on every dex, and spot pairs of tokens in the unit): bids
    at or above ``ref x (1 - shock)``, asks at or below ``ref x (1 + shock)``. The reference is the
    perp's mark, or the pair's spot price (the book's mid without one)."""
    reg, st = v.reg, v.state
    params = scenario_params(reg)
    wanted = set(units)
    acc: dict[str, list[Fraction]] = {u: [Fraction(0), Fraction(0)] for u in wanted}
    books: list[tuple[str, int, int | None, int, Token]] = []
    for perp in reg.perps.values():
        unit = sc.unit_of(perp.name, params.unit_aliases)
        if unit in wanted and perp.asset in st.books:
            ref = v.mark(perp.asset) if v.has_price(perp.asset) else None
            books.append((unit, perp.asset, ref, perp.sz_decimals, perp.collateral))
    for pair in reg.spot_pairs.values():
        base = pair.base
        unit = sc.unit_of(base.perp or base.name, params.unit_aliases)
        if unit in wanted and pair.asset in st.books:
            books.append((unit, pair.asset, st.prices.spot.get(pair.index), pair.sz_decimals, pair.quote))
    for unit, asset, ref, sz_decimals, quote in books:
        book = st.books[asset]
        ref = ref if ref is not None else book.mid()
        if ref is None:
            continue
        shock = params.class_of(unit).shock
        for order in book.iter_orders():
            inside = order.px >= ref * (1 - shock) if order.is_buy else order.px <= ref * (1 + shock)
            if inside:
                wei = notional(order.sz, order.px, sz_decimals, quote.wei_decimals)
                acc[unit][0 if order.is_buy else 1] += v.usdc_value(quote, wei)
    return {u: sc.Depth(b, a) for u, (b, a) in acc.items()}


def scenario_result(v: Valuer, acct: Account) -> tuple[sc.ScenarioResult, Fraction]:
    """(scenario requirement, equity) of a portfolio-margin account."""
    legs, stables = scenario_inputs(v, acct)
    params = scenario_params(v.reg)
    depths = book_depths(v, {leg.unit for leg in legs}) if params.depth_source == "book" else None
    return sc.evaluate(legs, stables, params, depths), pm_equity(v, acct)


def pm_health(v: Valuer, acct: Account, pools: dict[str | int, MarginPool] | None = None) -> PmHealth:
    """The account's standing under the preset's PM model; ``pools``: its cross pools keyed by token index
    when the caller has them valued already (:meth:`AccountHealth.pm`), else they are built here."""
    pm = v.reg.pm
    assert pm is not None
    if pm.model == "scenario":
        result, equity = scenario_result(v, acct)
        ratio = sc.margin_ratio(result.maintenance, equity, pm.liquidation_ratio)
        return PmHealth(
            "scenario",
            pm_rules.PmRatio(ratio.numerator, ratio.denominator),
            sc.liquidatable(result.maintenance, equity),
            result,
            equity,
        )
    legs = v.pm_legs(acct, pools)
    return PmHealth(
        "hyperliquid", pm_rules.PmRatio(legs.num, legs.den), legs.liquidatable(pm.liquidation_ratio)
    )


def pm_ratio(v: Valuer, acct: Account) -> pm_rules.PmRatio:
    """The ratio the liquidation test compares with ``liquidation_ratio``, under the preset's model
    (integers; ``.ratio`` is the ``Fraction`` for display)."""
    return pm_health(v, acct).pmr


def pm_liquidatable(v: Valuer, acct: Account) -> bool:
    pm = v.reg.pm
    assert pm is not None
    if pm.model == "scenario":
        return pm_health(v, acct).liquidatable
    return v.pm_legs(acct).liquidatable(pm.liquidation_ratio)


def require_scenario_initial(v: Valuer, acct: Account, *, field: str, before: Account | None) -> None:
    """Reject an action that leaves equity below the scenario initial requirement, unless it did not
    widen the shortfall the account had before (``before``: the account before the action)."""
    result, equity = scenario_result(v, acct)
    short = result.initial - equity
    if short <= 0:
        return
    if before is not None and before.mode is acct.mode:
        prior, prior_equity = scenario_result(v, before)
        if short <= prior.initial - prior_equity:
            return
    worst = ", ".join(f"{u} {sc.fmt_move(m)}" for u, m in result.worst_scenario().items()) or "none"
    raise InsufficientMargin(
        field,
        f"equity {float(equity):.2f} USDC is below the scenario initial requirement "
        f"{float(result.initial):.2f} (maintenance {float(result.maintenance):.2f}; worst scenario {worst})",
    )


def require_order(
    v: Valuer, acct: Account, market: Perp | SpotPair, is_buy: bool, lots: int, px: int, *, field: str
) -> None:
    """Placement check under the scenario model: the account with this order filled at its limit price
    must meet the scenario initial requirement, or the order must not widen the shortfall (a reducing
    order). Other resting orders are not counted (docs/margin-models.md)."""
    if acct.is_system or not uses_scenario(v.reg) or acct.mode is not Mode.PORTFOLIO:
        return
    params = scenario_params(v.reg)
    size = Fraction(lots, 10**market.sz_decimals) * (1 if is_buy else -1)
    price = Fraction(px, PX_SCALE)
    if isinstance(market, Perp):
        delta = size * price * v.token_price(market.collateral)
        leg = sc.Leg(sc.unit_of(market.name, params.unit_aliases), market.name, "perp", delta)
    else:
        base = market.base
        if base.index == v.reg.quote.index or base.name in params.depeg:
            return
        name = base.perp if base.perp is not None else base.name
        delta = size * price * v.token_price(market.quote)
        leg = sc.Leg(sc.unit_of(name, params.unit_aliases), base.name, "spot", delta)
    legs, stables = scenario_inputs(v, acct)
    equity = pm_equity(v, acct)
    depths = book_depths(v, {x.unit for x in [*legs, leg]}) if params.depth_source == "book" else None
    now = sc.evaluate(legs, stables, params, depths)
    after = sc.evaluate([*legs, leg], stables, params, depths)
    short = after.initial - equity
    if short <= 0 or short <= now.initial - equity:
        return
    worst = ", ".join(f"{u} {sc.fmt_move(m)}" for u, m in after.worst_scenario().items())
    raise InsufficientMargin(
        field,
        f"filled, the order needs scenario initial margin {float(after.initial):.2f} USDC against equity "
        f"{float(equity):.2f} (worst scenario {worst})",
    )
