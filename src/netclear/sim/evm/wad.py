"""Aave v3's fixed-point arithmetic on Python ints (aave-v3-core ``WadRayMath``, ``PercentageMath``,
``MathUtils``; https://github.com/aave/aave-v3-core/tree/master/contracts/protocol/libraries/math).

Every operation rounds half up exactly as the Solidity libraries do, so the EVM ledger of the risk lab
is the same integer arithmetic as the contracts: ray = 1e27 (indexes, rates), wad = 1e18 (health
factor), percentages in basis points (1e4 = 100%).
"""

from __future__ import annotations

from decimal import Decimal

WAD = 10**18
RAY = 10**27
PERCENTAGE_FACTOR = 10**4
SECONDS_PER_YEAR = 365 * 24 * 3600
"""``MathUtils.SECONDS_PER_YEAR`` ("ignoring leap years")."""


def ray_mul(a: int, b: int) -> int:
    return (a * b + RAY // 2) // RAY


def ray_div(a: int, b: int) -> int:
    return (a * RAY + b // 2) // b


def wad_div(a: int, b: int) -> int:
    return (a * WAD + b // 2) // b


def percent_mul(value: int, bps: int) -> int:
    return (value * bps + PERCENTAGE_FACTOR // 2) // PERCENTAGE_FACTOR


def percent_div(value: int, bps: int) -> int:
    return (value * PERCENTAGE_FACTOR + bps // 2) // bps


def linear_interest(rate: int, dt: int) -> int:
    """``MathUtils.calculateLinearInterest``: ``RAY + rate * dt / year`` (the supply index)."""
    return RAY + rate * dt // SECONDS_PER_YEAR


def compounded_interest(rate: int, dt: int) -> int:
    """``MathUtils.calculateCompoundedInterest``: the three-term binomial expansion of
    ``(1 + rate / year) ** dt`` used for the variable borrow index."""
    if dt == 0:
        return RAY
    dt1 = dt - 1
    dt2 = dt - 2 if dt > 2 else 0
    p2 = ray_mul(rate, rate) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    p3 = ray_mul(p2, rate) // SECONDS_PER_YEAR
    return RAY + rate * dt // SECONDS_PER_YEAR + dt * dt1 * p2 // 2 + dt * dt1 * dt2 * p3 // 6


def to_ray(x: Decimal) -> int:
    """A configured rate or ratio (``Decimal``, e.g. 0.04) in ray, exactly or rounded half up."""
    return int((x * RAY).to_integral_value())


def to_bps(x: Decimal) -> int:
    return int((x * PERCENTAGE_FACTOR).to_integral_value())


def to_units(x: Decimal, decimals: int) -> int:
    """A decimal amount in integer token units (rounded down: a claim never rounds up)."""
    return int((x.scaleb(decimals)).to_integral_value(rounding="ROUND_FLOOR"))
