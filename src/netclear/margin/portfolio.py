"""Portfolio margin rules, Hyperliquid docs 'Portfolio margin', 'Portfolio margin FAQ' with the readings in
DESIGN.md.

Two layers of the same formulas (docs/rules/portfolio-margin.md "Integer arithmetic and rounding"):

* the **integer rules** the engine decides with: amounts in USDC wei, prices as an exact ratio of
  integers (:class:`Px`), every conversion rounded toward the house (requirements and debts up,
  collateral and balances down), ratios compared cross-multiplied;
* the **exact rules** over ``Fraction``s of whole USDC (token amounts in whole tokens), kept for views
  that show the formula's terms and for hand-checked tests.

Pure functions: numbers in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

INFINITE = Fraction(10**30)
INFINITE_NUM = 10**30
"""An infinitely levered ratio as an integer ratio ``(INFINITE_NUM, 1)``: equal to :data:`INFINITE`."""


# ---------------------------------------------------------------------------------------------- integers
@dataclass(frozen=True, slots=True)
class Px:
    """``borrow_oracle_price`` as an exact ratio: ``num / den`` USDC wei per wei of the token (den > 0)."""

    num: int
    den: int

    def floor(self, wei: int) -> int:
        """USDC wei worth of ``wei``, rounded down (collateral, balances, caps)."""
        return wei * self.num // self.den

    def ceil(self, wei: int) -> int:
        """USDC wei worth of ``wei``, rounded up (requirements, debts)."""
        return -(-wei * self.num // self.den)

    def to_wei(self, usdc_wei: int) -> int:
        """Wei of the token worth at most ``usdc_wei`` (rounded down)."""
        return usdc_wei * self.den // self.num

    def per_token(self, unit: int, quote_unit: int) -> Fraction:
        """The price in USDC per whole token (display)."""
        return Fraction(self.num * unit, self.den * quote_unit)


ONE = Px(1, 1)


@dataclass(frozen=True, slots=True)
class CollateralValue:
    """A supplied collateral asset in USDC wei: ``counted = min(balance, supply_cap)`` (token wei) at ``px``.

    ``power = floor(counted x price x LTV)`` (borrowing power term) and
    ``threshold = floor(counted x price x (0.5 + 0.5 x LTV))`` (liquidation value term), each rounded
    down once from the exact product.
    """

    token: int
    balance: int  # supplied, token wei
    supply_cap: int  # user supply cap, token wei
    px: Px
    ltv: Fraction
    power: int
    threshold: int

    @property
    def counted(self) -> int:
        return min(self.balance, self.supply_cap)


def collateral_value(token: int, balance: int, supply_cap: int, px: Px, ltv: Fraction) -> CollateralValue:
    n, d = ltv.numerator, ltv.denominator
    base = (balance if balance < supply_cap else supply_cap) * px.num
    power = base * n // (px.den * d)
    threshold = base * (d + n) // (px.den * 2 * d)
    return CollateralValue(token, balance, supply_cap, px, ltv, power, threshold)


@dataclass(frozen=True, slots=True)
class LegValue:
    """One borrowable token's terms of the PMR in USDC wei (see :class:`BorrowableLeg` for the meaning).

    ``balance`` and ``borrow_cap`` are rounded down; ``maintenance`` and ``borrowed`` up. The raw token
    amounts (``*_wei``) are kept for views.
    """

    token: int
    px: Px
    balance_wei: int
    maintenance_wei: int
    borrowed_wei: int
    borrow_cap_wei: int
    balance: int
    maintenance: int
    borrowed: int
    borrow_cap: int


def leg_value(
    token: int, px: Px, balance_wei: int, maintenance_wei: int, borrowed_wei: int, borrow_cap_wei: int
) -> LegValue:
    return LegValue(
        token,
        px,
        balance_wei,
        maintenance_wei,
        borrowed_wei,
        borrow_cap_wei,
        balance_wei * px.num // px.den,
        -(-maintenance_wei * px.num // px.den),
        -(-borrowed_wei * px.num // px.den),
        borrow_cap_wei * px.num // px.den,
    )


def requirement_wei(leg: LegValue, min_borrow_offset: int) -> int:
    """:func:`maintenance_requirement` in USDC wei (``min_borrow_offset`` in USDC wei, only while borrowed)."""
    offset = min_borrow_offset if leg.borrowed_wei > 0 else 0
    return offset + leg.maintenance + leg.borrowed


def liquidation_value_wei(leg: LegValue, collateral: Iterable[CollateralValue]) -> int:
    """:func:`liquidation_value` in USDC wei: ``balance + Σ_c min(borrow_cap, threshold_c)``."""
    cap = leg.borrow_cap
    total = leg.balance
    for c in collateral:
        total += c.threshold if c.threshold < cap else cap
    return total


def margin_ratio(
    legs: Iterable[LegValue], collateral: Sequence[CollateralValue], min_borrow_offset: int
) -> tuple[int, int]:
    """:func:`portfolio_margin_ratio` as ``(num, den)`` integers, ``den > 0``: the worst leg's
    ``requirement / liquidation_value``, legs compared cross-multiplied. ``(0, 1)`` without requirement;
    ``(INFINITE_NUM, 1)`` when a leg with a requirement has a non-positive liquidation value."""
    num, den = 0, 1
    for leg in legs:
        req = requirement_wei(leg, min_borrow_offset)
        if req <= 0:
            continue
        lv = liquidation_value_wei(leg, collateral)
        if lv <= 0:
            return INFINITE_NUM, 1
        if req * den > num * lv:
            num, den = req, lv
    return num, den


class PmRatio:
    """A margin ratio ``num / den`` (``den > 0``) as integers: compares exactly with ints, ``Fraction``s and
    other ratios by cross-multiplication; ``.ratio`` is the ``Fraction`` for display."""

    __slots__ = ("den", "num")

    def __init__(self, num: int, den: int) -> None:
        self.num = num
        self.den = den

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.num, self.den)

    def __float__(self) -> float:
        return self.num / self.den

    def __repr__(self) -> str:
        return f"PmRatio({self.num}, {self.den})"

    def _cmp(self, other: object) -> int | None:
        """Sign of ``self - other``; None for an unsupported type."""
        if isinstance(other, PmRatio):
            n, d = other.num, other.den
        elif isinstance(other, int):
            n, d = other, 1
        elif isinstance(other, Fraction):
            n, d = other.numerator, other.denominator
        else:
            return None
        a, b = self.num * d, n * self.den
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c == 0

    def __hash__(self) -> int:
        return hash(Fraction(self.num, self.den))

    def __lt__(self, other: PmRatio | Fraction | int) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c < 0

    def __le__(self, other: PmRatio | Fraction | int) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c <= 0

    def __gt__(self, other: PmRatio | Fraction | int) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c > 0

    def __ge__(self, other: PmRatio | Fraction | int) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c >= 0


def ratio_exceeds(num: int, den: int, threshold: Fraction) -> bool:
    """``num / den > threshold`` without division (``den > 0``)."""
    return num * threshold.denominator > threshold.numerator * den


def borrowing_power_wei(collateral: Iterable[CollateralValue]) -> int:
    """:func:`borrowing_power` in USDC wei, each collateral's term rounded down."""
    return sum(c.power for c in collateral)


# ---------------------------------------------------------------------------------------------- exact


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


def pm_liquidatable(ratio: Fraction | PmRatio, threshold: Fraction) -> bool:
    """Liquidatable when ``portfolio_margin_ratio > 0.95`` (main page; the FAQ says >=, Hyperliquid docs
    'Portfolio margin')."""
    if isinstance(ratio, PmRatio):
        return ratio.num * threshold.denominator > threshold.numerator * ratio.den
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
