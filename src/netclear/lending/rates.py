"""Interest-rate rules (Hyperliquid docs 'Portfolio margin').

* Borrow APY for stablecoins: ``0.05 + 4.75 * max(0, utilization - 0.8)`` (the curve is config);
  ``utilization = total_borrowed / total_supplied``, capped at 1 for the curve.
* Supply APY: ``borrow * utilization * (1 - reserve_cut)`` (verified on the doc reserve state:
  0.05 x 0.018322226 x 0.9 = 0.0008245002).
* "Compounded continuously": the yearly rate is a continuous rate; an index grows by
  ``exp(rate * dt / year)``. ``exp`` is computed with ``decimal`` at a fixed precision so replays are
  bit-identical on every platform (docs/rules/lending.md).
"""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction

from netclear.markets.registry import RateCurve

YEAR_MS = 365 * 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
INDEX_SCALE = 10**18
"""Cumulative indices start at 1.0 = ``INDEX_SCALE``; a basis of ``b`` wei is worth ``b * index / INDEX_SCALE``."""

_EXP_CONTEXT = Context(prec=40)


def utilization(total_borrowed: int, total_supplied: int) -> Fraction:
    """``total_borrowed / total_supplied``; 0 with nothing supplied."""
    if total_supplied <= 0:
        return Fraction(0)
    return Fraction(total_borrowed, total_supplied)


def borrow_rate(curve: RateCurve, u: Fraction) -> Fraction:
    """Yearly borrow rate from the kinked curve, with utilization capped at 1."""
    return curve.borrow_rate(min(u, Fraction(1)))


def supply_rate(borrow: Fraction, u: Fraction, reserve_cut: Fraction) -> Fraction:
    """``borrow * utilization * (1 - reserve_cut)``."""
    return borrow * min(u, Fraction(1)) * (1 - reserve_cut)


def growth_factor(rate: Fraction, dt_ms: int) -> Decimal:
    """``exp(rate * dt / year)`` at 40 significant digits (deterministic)."""
    if dt_ms <= 0 or rate == 0:
        return Decimal(1)
    x = _EXP_CONTEXT.divide(
        _EXP_CONTEXT.multiply(Decimal(rate.numerator), Decimal(dt_ms)),
        _EXP_CONTEXT.multiply(Decimal(rate.denominator), Decimal(YEAR_MS)),
    )
    return _EXP_CONTEXT.exp(x)


def grow_index(index: int, factor: Decimal) -> int:
    """Apply a growth factor to an index, rounding up (debts round up, DESIGN rule 3)."""
    grown = _EXP_CONTEXT.multiply(Decimal(index), factor)
    as_int = int(grown.to_integral_value(rounding="ROUND_CEILING"))
    return as_int


def value_of(basis: int, index: int, *, debt: bool) -> int:
    """Current amount of a position: debts round up, claims round down."""
    num = basis * index
    return -((-num) // INDEX_SCALE) if debt else num // INDEX_SCALE


def basis_for(amount: int, index: int, *, debt: bool) -> int:
    """Basis that represents ``amount`` at ``index``: a new debt rounds up, a new claim rounds down."""
    num = amount * INDEX_SCALE
    return -((-num) // index) if debt else num // index
