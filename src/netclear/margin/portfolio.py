"""Portfolio margin rules, Hyperliquid docs 'Portfolio margin', 'Portfolio margin FAQ' with the readings in
DESIGN.md.

All amounts are in USDC (Fractions of whole USDC) so that every token and dex can be compared; the
engine converts wei with ``borrow_oracle_price``. Pure functions: numbers in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

INFINITE = Fraction(10**30)


@dataclass(frozen=True, slots=True)
class CollateralHolding:
    """A collateral asset as the PM formulas see it (amounts in whole tokens, price in USDC)."""

    token: int
    balance: Fraction  # supplied (counted) collateral, whole tokens
    supply_cap: Fraction  # user supply cap, whole tokens
    price: Fraction  # borrow_oracle_price in USDC
    ltv: Fraction

    @property
    def counted(self) -> Fraction:
        return min(self.balance, self.supply_cap)

    @property
    def value(self) -> Fraction:
        return self.counted * self.price

    @property
    def liquidation_threshold(self) -> Fraction:
        """``0.5 + 0.5 * LTV`` (Hyperliquid docs 'Portfolio margin')."""
        return Fraction(1, 2) + self.ltv / 2


@dataclass(frozen=True, slots=True)
class BorrowableLeg:
    """One borrowable token's terms of the PMR (USDC amounts)."""

    token: int
    portfolio_balance: Fraction  # free spot + supplied + cross perp account value of its dexes
    cross_maintenance: Fraction  # Σ cross maintenance margin of dexes collateralised by this token
    borrowed: Fraction  # borrowed size incl. accrued interest, in tokens
    price: Fraction  # borrow_oracle_price(token) in USDC
    borrow_cap: Fraction  # user borrow cap, in tokens


def maintenance_requirement(leg: BorrowableLeg, min_borrow_offset: Fraction) -> Fraction:
    """``min_borrow_offset + Σ cross_maintenance_margin + borrowed_size_for_maintenance * price``.

    DESIGN: the 20 USDC offset applies only while the token is borrowed (Hyperliquid docs 'Portfolio margin'
    (b)).
    """
    offset = min_borrow_offset if leg.borrowed > 0 else Fraction(0)
    return offset + leg.cross_maintenance + leg.borrowed * leg.price


def liquidation_value(leg: BorrowableLeg, collateral: Iterable[CollateralHolding]) -> Fraction:
    """``portfolio_balance + Σ_c min(borrow_cap, min(balance_c, supply_cap_c) * price_c * lt_c)``.

    DESIGN reading: the collateral term is summed over collateral assets c (Hyperliquid docs 'Portfolio
    margin').
    """
    cap_usdc = leg.borrow_cap * leg.price
    term = sum(
        (min(cap_usdc, c.counted * c.price * c.liquidation_threshold) for c in collateral), Fraction(0)
    )
    return leg.portfolio_balance + term


def portfolio_margin_ratio(
    legs: Iterable[BorrowableLeg], collateral: Iterable[CollateralHolding], min_borrow_offset: Fraction
) -> Fraction:
    """``max_token requirement(token) / liquidation_value(token)`` (Hyperliquid docs 'Portfolio margin').

    A leg with no requirement contributes 0; a leg with a requirement and a non-positive liquidation
    value is infinitely levered (returned as a very large ratio so comparisons stay exact).
    """
    coll = list(collateral)
    ratio = Fraction(0)
    for leg in legs:
        req = maintenance_requirement(leg, min_borrow_offset)
        if req <= 0:
            continue
        lv = liquidation_value(leg, coll)
        if lv <= 0:
            return INFINITE
        ratio = max(ratio, req / lv)
    return ratio


def pm_liquidatable(ratio: Fraction, threshold: Fraction) -> bool:
    """Liquidatable when ``portfolio_margin_ratio > 0.95`` (main page; the FAQ says >=, Hyperliquid docs
    'Portfolio margin')."""
    return ratio > threshold


def borrowing_power(collateral: Iterable[CollateralHolding]) -> Fraction:
    """``Σ token_balance * borrow_oracle_price * ltv`` in USDC (Hyperliquid docs 'Portfolio margin'; FAQ:
    10,000 x $40 x 0.5 = 200,000)."""
    return sum((c.counted * c.price * c.ltv for c in collateral), Fraction(0))


def health_factor(collateral: Iterable[CollateralHolding], borrowed_value: Fraction) -> Fraction | None:
    """``Account Value weighted by LTV / Borrowed Amount``; None without a borrow (Hyperliquid docs 'Portfolio
    margin FAQ', FAQ 107.14%)."""
    if borrowed_value <= 0:
        return None
    return borrowing_power(collateral) / borrowed_value


def locked_collateral(borrowed_value: Fraction, ltv: Fraction, price: Fraction) -> Fraction:
    """Collateral locked by a borrow: ``borrowed / (ltv * price)`` (FAQ: 100 / (0.5 x 40) = 5 HYPE)."""
    if borrowed_value <= 0:
        return Fraction(0)
    return borrowed_value / (ltv * price)


def borrow_liquidation_threshold(collateral_value: Fraction, ltv: Fraction, fraction: Fraction) -> Fraction:
    """Debt level at which borrow liquidation starts: ``collateral_value * (LTV + (1 - LTV) * fraction)``.

    ``fraction`` is 1/2 for partial and 2/3 for full liquidation (Hyperliquid docs 'Portfolio margin FAQ').
    """
    return collateral_value * (ltv + (1 - ltv) * fraction)


def borrow_health(
    borrowed_value: Fraction, collateral_value: Fraction, ltv: Fraction, partial: Fraction, full: Fraction
) -> str:
    """Classify a borrow against the FAQ thresholds: "healthy", "partial" or "full".

    Used by the backstop takeover (Hyperliquid docs 'Portfolio margin FAQ', 'Portfolio margin'): full takeover
    above the full threshold, 20% steps between the partial and the full thresholds. A debt exactly at a
    threshold counts as reaching it: the FAQ's own full example (10 HYPE at $30, LTV 0.5, $250 borrowed) sits
    exactly on
    ``300 x (0.5 + 0.5 x 2/3) = 250.00`` and is called a full liquidation (docs/rules/portfolio-margin.md).
    """
    if borrowed_value <= 0:
        return "healthy"
    if borrowed_value >= borrow_liquidation_threshold(collateral_value, ltv, full):
        return "full"
    if borrowed_value >= borrow_liquidation_threshold(collateral_value, ltv, partial):
        return "partial"
    return "healthy"
