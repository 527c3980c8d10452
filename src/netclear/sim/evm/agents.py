"""EVM agents: the borrowers present at the start of a path, and the liquidators.

Borrowers are drawn from ``numpy.random.Generator`` seeded by (scenario seed, path, 16), so every
margin regime of a path, and its counterfactual, meets the same people. Each posts one collateral
token (drawn by the group's shares) worth a Pareto-tailed USD amount (the same Lomax draw the
exchange population uses), and owes USDC such that its health factor at the start prices equals a
draw from the group's distribution. The draws are floats (what-if inputs); the positions enter the
pool as integer token units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from netclear.sim.evm.spec import BorrowerGroupSpec, EvmAccountSpec, HealthFactorSpec, LiquidatorSpec

_PREFIX_BORROWER = 0xE0
_PREFIX_LIQUIDATOR = 0xE1
LENDER = "0x" + "e2" * 20
"""The USDC suppliers of the EVM market, as one address."""


def evm_address(prefix: int, group: int, index: int) -> str:
    return f"0x{prefix:02x}{group:04x}{index:034x}"


@dataclass(frozen=True)
class BorrowerPlan:
    """A borrower as it stands at the start: collateral (units) and the health factor it targets."""

    address: str
    collateral: dict[str, int]
    debt_token: str
    health_factor: Fraction | None
    """Debt follows from it at the start prices; None for explicit accounts (``debt`` given)."""
    debt: dict[str, int] = field(default_factory=dict)
    explicit: bool = False


def draw_health_factors(rng: np.random.Generator, spec: HealthFactorSpec, n: int) -> list[Fraction]:
    lo, hi = float(spec.low), float(spec.high)
    if spec.dist == "uniform":
        raw = rng.uniform(lo, hi, n)
    else:
        raw = np.exp(rng.normal(math.log(float(spec.median)), float(spec.sigma), n))
    clipped = np.clip(raw, lo, hi)
    return [Fraction(Decimal(repr(round(float(x), 4)))) for x in clipped]


def generated_borrowers(
    rng: np.random.Generator,
    spec: BorrowerGroupSpec,
    group: int,
    prices: dict[str, int],
    decimals: dict[str, int],
) -> list[BorrowerPlan]:
    """One ``[[evm_lending.borrowers]]`` group; ``prices`` are the oracle's start prices (1e8 USD)."""
    tokens = sorted(spec.collateral)
    weights = np.array([spec.collateral[t] for t in tokens], dtype=np.float64)
    picks = rng.choice(len(tokens), size=spec.count, p=weights / weights.sum())
    u = rng.pareto(spec.tail, spec.count)
    median = 2 ** (1 / spec.tail) - 1
    usd = np.minimum(spec.collateral_usd * (1 + u) / (1 + median), spec.max_collateral_usd)
    hfs = draw_health_factors(rng, spec.health_factor, spec.count)
    out = []
    for i in range(spec.count):
        token = tokens[int(picks[i])]
        cents = round(float(usd[i]) * 100)
        units = cents * 10 ** decimals[token] * 10**8 // (prices[token] * 100)
        if units <= 0:
            continue
        out.append(
            BorrowerPlan(evm_address(_PREFIX_BORROWER, group, i), {token: units}, spec.debt_token, hfs[i])
        )
    return out


def explicit_borrower(spec: EvmAccountSpec, index: int, decimals: dict[str, int]) -> BorrowerPlan:
    def units(amounts: dict[str, str]) -> dict[str, int]:
        return {t: int(Decimal(a).scaleb(decimals[t])) for t, a in sorted(amounts.items())}

    address = spec.address or evm_address(_PREFIX_BORROWER, 0xFFFF, index)
    debt = units(spec.debt)
    debt_token = next(iter(debt), "USDC")
    return BorrowerPlan(address, units(spec.collateral), debt_token, None, debt, explicit=True)


@dataclass
class Sale:
    """Seized collateral on its way to Hyperliquid's book."""

    token: str
    units: int
    """EVM units still to send to HyperCore."""
    due_step: int
    seized_step: int
    hl_size: Decimal = Decimal(0)
    """Size already on HyperCore (spot) or still to short (perp), not yet filled."""


@dataclass
class Liquidator:
    address: str
    spec: LiquidatorSpec
    delay_steps: int
    queue: list[Sale] = field(default_factory=list)
    hl_ready: bool = False


def liquidators(specs: list[LiquidatorSpec], step_seconds: int) -> list[Liquidator]:
    out = []
    for g, spec in enumerate(specs):
        delay = -(-spec.delay_seconds // step_seconds)
        for i in range(spec.count):
            out.append(Liquidator(evm_address(_PREFIX_LIQUIDATOR, g, i), spec, delay))
    return out
