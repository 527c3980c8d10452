"""Scenario-based portfolio margin: the worst loss of the whole portfolio over a grid of price moves,
plus charges for what the grid cannot see (docs/margin-models.md).

The method is the one of the venues that margin portfolios by scenarios:

* **risk units per underlying** (OKX Portfolio Margin: "risk units"; CME SPAN: a "combined
  commodity"): BTC perp, UBTC spot and a BTC perp on a HIP-3 dex are one unit;
* **a price grid per unit** of ``-s .. +s`` in at least 7 evenly spaced points, with ``s`` per asset
  class, and an **extreme-move row** counted at a fraction of its loss. Defaults: OKX's published
  spot shocks (BTC/ETH +-12%, mid caps +-18%, others +-25%) and extreme moves (+-24% / +-36% / +-50%),
  https://www.okx.com/help/okx-will-further-adjust-portfolio-margin-parameters; the extreme row's weight
  of 35% is CME SPAN's (risk-array scenarios 15-16, https://www.cmegroup.com/clearing/span-methodology.html);
* **losses add across units** (no cross-underlying offset), except for an optional table of
  inter-unit credits (SPAN's inter-commodity spread credits);
* charges on top: a **basis charge** on hedged notional within a unit (spot vs perp, or perps on
  two dexes; Deribit charges 1% of the underlying for offsetting futures,
  https://www.deribit.com/pages/docs/portfoliomargin), a **stablecoin de-peg charge** on borrowed and
  held stablecoins (Derive's ``pegLossFactor``, https://docs.derive.xyz), a **concentration add-on**
  on the net exposure above a depth (CME SPAN 2 concentration charge,
  https://www.cmegroup.com/clearing/risk-management/span-overview/span-2-methodology.html; the depth is
  configured per class, or read from the unit's order books within the shock), and a
  **minimum charge** per unit so that a perfect hedge never needs zero (OKX MR7 "minimum charge");
* maintenance = the requirement; initial = ``initial_multiple x`` maintenance (Derive's managers use
  maintenance and initial factors of 0.8 and 1.0, i.e. initial = 1.25 x maintenance).

All amounts are ``Fraction`` USDC; moves are fractions of the price. Pure functions: numbers in,
numbers out. Every position here is linear (spot, perps), so a unit's P&L at a move ``m`` is
``net_delta x m``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

LegKind = Literal["spot", "perp"]


@dataclass(frozen=True, slots=True)
class RiskClass:
    """Parameters of one asset class (fractions of notional; ``depth`` in USDC)."""

    name: str
    shock: Fraction
    extreme: Fraction
    basis: Fraction
    min_charge: Fraction
    concentration: Fraction
    depth: Fraction


@dataclass(frozen=True, slots=True)
class Offset:
    """An inter-unit credit: ``credit x min(loss_a, loss_b)`` when the two units' net exposures have
    opposite signs (a long/short pair of correlated underlyings)."""

    unit_a: str
    unit_b: str
    credit: Fraction


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    classes: Mapping[str, RiskClass]
    unit_class: Mapping[str, str]
    """Unit name -> class name; units not listed take ``default_class``."""
    default_class: str
    grid_points: int
    extreme_weight: Fraction
    initial_multiple: Fraction
    depeg: Mapping[str, Fraction]
    """Stablecoin token name -> de-peg shock. These tokens have no price grid."""
    offsets: tuple[Offset, ...] = ()
    unit_aliases: Mapping[str, str] = field(default_factory=dict)
    """Perp or token name -> unit, beyond the automatic rule (docs/margin-models.md)."""
    depth_source: str = "config"
    """``config``: each class's ``depth``; ``book``: the unit's order-book depth within the shock."""

    def class_of(self, unit: str) -> RiskClass:
        return self.classes[self.unit_class.get(unit, self.default_class)]


@dataclass(frozen=True, slots=True)
class Leg:
    """One instrument's exposure: ``delta`` = signed size x price in USDC."""

    unit: str
    instrument: str
    kind: LegKind
    delta: Fraction


@dataclass(frozen=True, slots=True)
class StableExposure:
    """A stablecoin's borrowed value and, for stablecoins other than the quote, its held value (USDC)."""

    token: str
    borrowed: Fraction
    held: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class UnitRisk:
    unit: str
    risk_class: str
    net: Fraction
    gross: Fraction
    worst_move: Fraction
    grid_loss: Fraction
    extreme_loss: Fraction
    """Full (unweighted) loss at the adverse extreme move, for reports."""
    minimum: Fraction
    requirement: Fraction
    """``max(grid_loss, minimum)``."""
    basis: Fraction
    concentration: Fraction


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    units: tuple[UnitRisk, ...]
    offset_credit: Fraction
    depeg: Mapping[str, Fraction]
    maintenance: Fraction
    initial: Fraction

    @property
    def grid(self) -> Fraction:
        return sum((u.requirement for u in self.units), Fraction(0)) - self.offset_credit

    @property
    def basis(self) -> Fraction:
        return sum((u.basis for u in self.units), Fraction(0))

    @property
    def concentration(self) -> Fraction:
        return sum((u.concentration for u in self.units), Fraction(0))

    @property
    def depeg_total(self) -> Fraction:
        return sum(self.depeg.values(), Fraction(0))

    @property
    def minimum_binding(self) -> Fraction:
        """Requirement added by minimum charges above the grid losses."""
        return sum((u.requirement - u.grid_loss for u in self.units), Fraction(0))

    @property
    def extreme_loss(self) -> Fraction:
        """Sum over units of the full loss at each unit's adverse extreme move (no weight)."""
        return sum((u.extreme_loss for u in self.units), Fraction(0))

    def worst_scenario(self) -> dict[str, Fraction]:
        """The move of each unit in the worst scenario (losses add, so each unit at its own worst)."""
        return {u.unit: u.worst_move for u in self.units}


def unit_of(name: str, aliases: Mapping[str, str]) -> str:
    """Risk unit of a perp or token name: an alias, else the name without a HIP-3 dex prefix
    (``xyz:BTC`` -> ``BTC``), so a core perp and builder-dex perps of one underlying share a unit."""
    if name in aliases:
        return aliases[name]
    return name.split(":", 1)[1] if ":" in name else name


def price_grid(shock: Fraction, points: int) -> list[Fraction]:
    """``points`` evenly spaced moves from ``-shock`` to ``+shock`` (odd, so 0 is one of them).

    OKX's BTC grid ``+-0/4/8/12%`` is ``price_grid(0.12, 7)``.
    """
    if points < 3 or points % 2 == 0:
        raise ValueError("grid_points must be odd and at least 3")
    half = points // 2
    return [shock * Fraction(i, half) for i in range(-half, half + 1)]


def _net_by_instrument(legs: Iterable[Leg]) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for leg in legs:
        key = f"{leg.kind}:{leg.instrument}"
        out[key] = out.get(key, Fraction(0)) + leg.delta
    return out


@dataclass(frozen=True, slots=True)
class Depth:
    """Resting notional (USDC) that would absorb a unit's liquidation: ``bids`` for a net long (sold
    into the bids), ``asks`` for a net short."""

    bids: Fraction
    asks: Fraction


def unit_risk(unit: str, legs: list[Leg], params: ScenarioParams, depth: Depth | None = None) -> UnitRisk:
    """Grid loss, minimum, basis and concentration charges of one unit (module docstring). ``depth``:
    the book's depth on the side a liquidation would hit; ``None`` uses the class's ``depth``."""
    rc = params.class_of(unit)
    by_inst = _net_by_instrument(legs)
    net = sum(by_inst.values(), Fraction(0))
    gross = sum((abs(d) for d in by_inst.values()), Fraction(0))
    longs = sum((d for d in by_inst.values() if d > 0), Fraction(0))
    shorts = -sum((d for d in by_inst.values() if d < 0), Fraction(0))
    worst_move, worst = Fraction(0), Fraction(0)
    for move in price_grid(rc.shock, params.grid_points):
        loss = -net * move
        if loss > worst or (loss == worst and abs(move) < abs(worst_move)):
            worst_move, worst = move, loss
    for move in (-rc.extreme, rc.extreme):
        loss = -net * move * params.extreme_weight
        if loss > worst:
            worst_move, worst = move, loss
    extreme_loss = abs(net) * rc.extreme
    minimum = rc.min_charge * gross
    return UnitRisk(
        unit=unit,
        risk_class=rc.name,
        net=net,
        gross=gross,
        worst_move=worst_move,
        grid_loss=worst,
        extreme_loss=extreme_loss,
        minimum=minimum,
        requirement=max(worst, minimum),
        basis=rc.basis * min(longs, shorts),
        concentration=rc.concentration * max(Fraction(0), abs(net) - _depth(rc, net, depth)),
    )


_NO_DEPTH = Depth(Fraction(0), Fraction(0))


def _depth(rc: RiskClass, net: Fraction, depth: Depth | None) -> Fraction:
    if depth is None:
        return rc.depth
    return depth.bids if net > 0 else depth.asks


def offset_credit(units: Mapping[str, UnitRisk], offsets: Iterable[Offset]) -> Fraction:
    """SPAN-style inter-unit credits, in table order; each unit's grid loss is used at most once."""
    left = {name: u.grid_loss for name, u in units.items()}
    total = Fraction(0)
    for off in offsets:
        a, b = units.get(off.unit_a), units.get(off.unit_b)
        if a is None or b is None or a.net * b.net >= 0:
            continue
        used = min(left[a.unit], left[b.unit])
        if used <= 0:
            continue
        total += off.credit * used
        left[a.unit] -= used
        left[b.unit] -= used
    return total


def depeg_charge(stable: StableExposure, shock: Fraction) -> Fraction:
    """``shock x (borrowed + held)``: a debt in a stablecoin grows against the account's other assets
    when the coin re-pegs up, a holding of a stablecoin other than the quote loses when it de-pegs."""
    return shock * (stable.borrowed + max(Fraction(0), stable.held))


def evaluate(
    legs: Iterable[Leg],
    stables: Iterable[StableExposure],
    params: ScenarioParams,
    depths: Mapping[str, Depth] | None = None,
) -> ScenarioResult:
    """The scenario requirement of a portfolio (module docstring), with every charge named. ``depths``
    per unit replace the classes' configured depth (``depth_source = "book"``; a unit missing from it
    has no depth)."""
    by_unit: dict[str, list[Leg]] = {}
    for leg in legs:
        if leg.delta:
            by_unit.setdefault(leg.unit, []).append(leg)
    units = {
        name: unit_risk(name, group, params, None if depths is None else depths.get(name, _NO_DEPTH))
        for name, group in sorted(by_unit.items())
    }
    credit = offset_credit(units, params.offsets)
    depeg: dict[str, Fraction] = {}
    for s in stables:
        shock = params.depeg.get(s.token, Fraction(0))
        charge = depeg_charge(s, shock)
        if charge:
            depeg[s.token] = depeg.get(s.token, Fraction(0)) + charge
    total = (
        sum((u.requirement + u.basis + u.concentration for u in units.values()), Fraction(0))
        - credit
        + sum(depeg.values(), Fraction(0))
    )
    floor = sum((u.minimum for u in units.values()), Fraction(0))
    maintenance = max(total, floor)
    return ScenarioResult(
        units=tuple(units.values()),
        offset_credit=credit,
        depeg=depeg,
        maintenance=maintenance,
        initial=maintenance * params.initial_multiple,
    )


def liquidatable(maintenance: Fraction, equity: Fraction) -> bool:
    """Equity below the scenario maintenance requirement (an account with no requirement never is)."""
    return maintenance > 0 and equity < maintenance


def margin_ratio(maintenance: Fraction, equity: Fraction, liquidation_ratio: Fraction) -> Fraction:
    """``liquidation_ratio x maintenance / equity``: the scenario requirement on the scale of
    Hyperliquid's ``portfolioMarginRatio``, so that the account is liquidatable exactly when the ratio
    passes ``liquidation_ratio`` (0.95) as on Hyperliquid (docs/margin-models.md)."""
    if maintenance <= 0:
        return Fraction(0)
    if equity <= 0:
        return Fraction(10**30)
    return liquidation_ratio * maintenance / equity


def fmt_move(move: Fraction) -> str:
    """``+12%``, ``-4%``, ``0%`` (up to two decimals of a percent)."""
    pct = move * 100
    text = f"{float(pct):+.2f}".rstrip("0").rstrip(".")
    return ("0" if pct == 0 else text) + "%"
