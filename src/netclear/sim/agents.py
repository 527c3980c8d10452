"""Risk-lab agents: explicit accounts, market makers and a generated population (docs/risk-lab.md).

Agents never touch state: they build actions (deposits, mode switches, leverage, orders, lending)
that the runner applies through ``Exchange.apply``. Explicit accounts are opened for real at the
start prices against the market makers (IOC orders; under portfolio margin the engine auto-borrows as
it would for anyone). A generated population is drawn from ``numpy.random.Generator`` seeded by
(scenario seed, path index), so every regime of a path meets the same people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import numpy as np

from netclear.markets.registry import Registry
from netclear.markets.ticks import round_price_to_grid
from netclear.sim.scenario import REGIME_MODE, AccountSpec, MarketMakerSpec, PopulationSpec, Scenario

MIN_NOTIONAL = 12.0  # a little above the exchange's $10 minimum order value (docs/rules/orders.md)
_PREFIX = {"explicit": 0xAC, "basis": 0xBA, "directional": 0xD1, "lender": 0x1E, "market_maker": 0xEE}


def address(kind: str, group: int, index: int) -> str:
    return f"0x{_PREFIX[kind]:02x}{group:04x}{index:034x}"


def price_str(reg: Registry, market: str, px: float, rounding: str = "half_up") -> Decimal | None:
    """``px`` on the market's price grid (5 significant figures, decimals by szDecimals)."""
    if not math.isfinite(px) or px <= 0:
        return None
    exact = Fraction(Decimal(repr(px))) * 10**8
    if market.startswith("@"):
        pair = reg.spot_pair(market)
        grid = round_price_to_grid(exact, pair.sz_decimals, True, rounding=rounding)  # type: ignore[arg-type]
    else:
        perp = reg.perp(market)
        grid = round_price_to_grid(exact, perp.sz_decimals, False, rounding=rounding)  # type: ignore[arg-type]
    if grid <= 0:
        return None
    return Decimal(grid).scaleb(-8).normalize()


def size_str(reg: Registry, market: str, sz: float) -> Decimal:
    szd = reg.spot_pair(market).sz_decimals if market.startswith("@") else reg.perp(market).sz_decimals
    return Decimal(repr(max(sz, 0.0))).quantize(Decimal(1).scaleb(-szd), rounding=ROUND_DOWN)


@dataclass
class Opening:
    """An order that builds a position at the start: IOC toward ``size`` of ``market``."""

    market: str
    """Perp coin or spot pair (``@142``)."""
    is_buy: bool
    size: Decimal


@dataclass
class Agent:
    address: str
    kind: str
    mode: str
    """Wire abstraction: ``disabled`` / ``unifiedAccount`` / ``portfolioMargin``."""
    deposits: dict[str, Decimal] = field(default_factory=dict)
    to_spot: Decimal = Decimal(0)
    """Standard mode: USDC moved from perp to spot before spot buys."""
    leverage: dict[str, tuple[bool, int]] = field(default_factory=dict)
    openings: list[Opening] = field(default_factory=list)
    supply: Decimal = Decimal(0)
    borrow: dict[str, Decimal] = field(default_factory=dict)
    panic_utilization: float = 1.0
    explicit: bool = False


@dataclass
class MarketMaker:
    address: str
    spec: MarketMakerSpec
    markets: list[tuple[str, str]]
    """(market, price key): perps quote around the fair perp price, spot pairs around the spot price."""
    quoted: dict[tuple[str, bool], int] = field(default_factory=dict)
    """(market, is_buy) -> orders resting after the last quote (a side that lost some was hit)."""


def spot_market(reg: Registry, coin_or_token: str) -> tuple[str, str] | None:
    """The spot pair of a perp coin's token (BTC -> UBTC -> ``@142``) or of a token name."""
    tok = None
    if coin_or_token in reg.token_by_name:
        tok = reg.token_by_name[coin_or_token]
    else:
        tok = next((t for t in reg.tokens.values() if t.perp == coin_or_token), None)
    if tok is None or tok.spot_pair is None:
        return None
    return f"@{tok.spot_pair}", tok.name


def make_market_maker(reg: Registry, spec: MarketMakerSpec, coins: list[str], group: int) -> MarketMaker:
    markets: list[tuple[str, str]] = []
    for coin in coins:
        if coin in reg.perp_by_name:
            markets.append((coin, coin))
        if spec.spot:
            sm = spot_market(reg, coin)
            if sm is not None:
                markets.append((sm[0], sm[1]))
    return MarketMaker(address("market_maker", group, 0), spec, markets)


def mm_deposits(reg: Registry, mm: MarketMaker, prices: dict[str, float]) -> dict[str, Decimal]:
    """Quote capital in USDC, plus a spot inventory worth 10% of it per token quoted."""
    out = {"USDC": Decimal(int(mm.spec.capital))}
    for market, key in mm.markets:
        if market.startswith("@"):
            tok = reg.spot_pair(market).base
            px = prices.get(key)
            if px:
                amt = Decimal(repr(mm.spec.capital * 0.1 / px)).quantize(
                    Decimal(1).scaleb(-tok.sz_decimals), rounding=ROUND_DOWN
                )
                if amt > 0:
                    out[tok.name] = amt
    return out


def ladder(
    reg: Registry, mm: MarketMaker, market: str, px: float, depth: float, vol_ratio: float
) -> list[tuple[bool, Decimal, Decimal]]:
    """(is_buy, px, sz) of one market's ladder: each level's distance widened by
    ``1 + vol_widening x (vol_ratio - 1)``; levels inside ``resilient_bps`` scaled by ``depth``."""
    spec = mm.spec
    widen = 1.0 + spec.vol_widening * max(0.0, vol_ratio - 1.0)
    out: list[tuple[bool, Decimal, Decimal]] = []
    for bps in spec.levels_bps:
        dist = bps * widen
        scale = 1.0 if bps >= spec.resilient_bps else depth
        notional = spec.level_notional * scale
        if notional < MIN_NOTIONAL or dist >= 9000:
            continue
        for is_buy in (True, False):
            raw = px * (1 - dist / 1e4) if is_buy else px * (1 + dist / 1e4)
            p = price_str(reg, market, raw, "floor" if is_buy else "ceil")
            if p is None:
                continue
            sz = size_str(reg, market, notional / float(p))
            if sz > 0 and float(sz * p) >= MIN_NOTIONAL:
                out.append((is_buy, p, sz))
    return out


# ------------------------------------------------------------------------------ explicit accounts
def explicit_agent(sc: Scenario, spec: AccountSpec, index: int, regime: str) -> Agent:
    mode = spec.mode or REGIME_MODE[regime]
    addr = spec.address or address("explicit", 0, index)
    agent = Agent(addr, "explicit", mode, explicit=True)
    agent.deposits = {k: Decimal(v) for k, v in spec.balances.items()}
    if mode == "portfolioMargin":
        agent.borrow = {k: Decimal(v) for k, v in spec.borrowed.items()}
    for p in spec.positions:
        szi = Decimal(p.szi)
        if p.leverage is not None:
            agent.leverage[p.coin] = (p.leverage.type == "cross", p.leverage.value)
        agent.openings.append(Opening(p.coin, szi > 0, abs(szi)))
    return agent


# ------------------------------------------------------------------------------ generated population
def _capitals(rng: np.random.Generator, spec: PopulationSpec) -> np.ndarray:
    """Pareto (Lomax) tailed capital with the given median, capped at ``max_capital``."""
    u = rng.pareto(spec.tail, spec.count)
    median = 2 ** (1 / spec.tail) - 1
    out: np.ndarray = np.minimum(spec.capital * (1 + u) / (1 + median), spec.max_capital)
    return out


def _ltv(reg: Registry, token: str) -> float:
    pm = reg.pm
    tok = reg.token_by_name.get(token)
    if pm is None or tok is None or tok.index not in pm.collateral:
        return 0.0
    return float(pm.collateral[tok.index].ltv)


def _usd(x: float) -> Decimal:
    return Decimal(repr(round(x, 2)))


def population_agents(
    reg: Registry,
    sc: Scenario,
    spec: PopulationSpec,
    group: int,
    regime: str,
    sizing: str,
    rng: np.random.Generator,
    prices: dict[str, float],
) -> list[Agent]:
    """The agents of one ``[[population]]`` group (the draws do not depend on the regime)."""
    caps = _capitals(rng, spec)
    levs = rng.integers(spec.leverage[0], spec.leverage[1] + 1, spec.count)
    uses_mode = rng.random(spec.count) < spec.mode_share
    longs = rng.random(spec.count) < spec.long_fraction
    picks = rng.integers(0, len(spec.coins), spec.count)
    out: list[Agent] = []
    for i in range(spec.count):
        mode = REGIME_MODE[regime] if uses_mode[i] else "disabled"
        cap, lev, coin = float(caps[i]), int(levs[i]), spec.coins[int(picks[i])]
        if spec.kind == "lender":
            a = Agent(address("lender", group, i), "lender", "unifiedAccount")
            a.deposits = {"USDC": _usd(cap)}
            a.supply = _usd(cap)
            a.panic_utilization = spec.panic_utilization
            out.append(a)
        elif spec.kind == "directional":
            out.append(
                _directional(reg, spec, group, i, mode, sizing, cap, lev, coin, bool(longs[i]), prices)
            )
        elif spec.kind == "basis":
            b = _basis(reg, group, i, mode, sizing, cap, lev, coin, prices)
            if b is not None:
                out.append(b)
    return out


def _directional(
    reg: Registry,
    spec: PopulationSpec,
    group: int,
    i: int,
    mode: str,
    sizing: str,
    cap: float,
    lev: int,
    coin: str,
    is_long: bool,
    prices: dict[str, float],
) -> Agent:
    """Perp position of ``leverage x margin``: margin is the USDC part of the capital; at equal capital a
    portfolio-margin account also counts its collateral token at its LTV (the capital PM frees)."""
    lev = min(lev, reg.perp(coin).max_leverage)
    a = Agent(address("directional", group, i), "directional", mode)
    usdc = cap * (1 - spec.collateral_share)
    coll_px = prices.get(spec.collateral_token, 0.0)
    a.deposits = {"USDC": _usd(usdc)}
    if spec.collateral_share > 0 and coll_px > 0:
        tok = reg.token(spec.collateral_token)
        amt = Decimal(repr(cap * spec.collateral_share / coll_px)).quantize(
            Decimal(1).scaleb(-tok.sz_decimals), rounding=ROUND_DOWN
        )
        if amt > 0:
            a.deposits[tok.name] = amt
    margin = usdc
    if sizing == "equalCapital" and mode == "portfolioMargin":
        margin += cap * spec.collateral_share * _ltv(reg, spec.collateral_token)
    notional = margin * lev * 0.95
    px = prices[coin]
    sz = size_str(reg, coin, notional / px)
    a.leverage[coin] = (True, lev)
    if sz > 0 and float(sz) * px >= MIN_NOTIONAL:
        a.openings.append(Opening(coin, is_long, sz))
    return a


def _basis(
    reg: Registry,
    group: int,
    i: int,
    mode: str,
    sizing: str,
    cap: float,
    lev: int,
    coin: str,
    prices: dict[str, float],
) -> Agent | None:
    """Spot long + perp short of the same notional N from USDC capital C. Standard (and at equal
    positions everyone): spot costs N and the short's margin N / L, so N = C / (1 + 1/L). At equal
    capital under portfolio margin the spot is collateral at LTV: N = C / (1 - LTV + 1/L)."""
    sm = spot_market(reg, coin)
    if sm is None or coin not in reg.perp_by_name:
        return None
    market, token = sm
    lev = min(lev, reg.perp(coin).max_leverage)
    n = cap / (1 + 1 / lev)
    if sizing == "equalCapital" and mode == "portfolioMargin":
        n = cap / (1 - _ltv(reg, token) + 1 / lev)
    n *= 0.9
    px = prices[coin]
    spot_px = prices.get(token, px)
    a = Agent(address("basis", group, i), "basis", mode)
    a.deposits = {"USDC": _usd(cap)}
    a.leverage[coin] = (True, lev)
    spot_sz = size_str(reg, market, n / spot_px)
    perp_sz = size_str(reg, coin, float(spot_sz) * spot_px / px)
    if float(perp_sz) * px < MIN_NOTIONAL:
        return None
    if mode == "disabled":
        a.to_spot = _usd(float(spot_sz) * spot_px * 1.02)
    a.openings = [Opening(market, True, spot_sz), Opening(coin, False, perp_sz)]
    return a
