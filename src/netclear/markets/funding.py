"""Funding: impact prices, premium, the hourly premium average, the funding rate and payments.

Source: Hyperliquid docs 'Funding' "Funding" (GitBook ``trading/funding``) and 'HIP-3: Builder-deployed
perpetuals' (HIP-3 multiplier and interest rate). Docs: docs/rules/funding.md.

Units: prices ``int`` in 1e-8 (exact averages as ``Fraction`` in the same unit), sizes ``int`` lots,
payments ``int`` collateral wei, time ``int`` ms. The formula functions take and return exact
:class:`fractions.Fraction` premiums and rates (the reference); the engine's path is integer: a premium sample
in 1e-12 (:func:`premium_ratio`, :func:`div_half_even`), the hourly rate as an :class:`HourlyRate` (an
integer numerator over an explicit integer denominator, :meth:`FundingParams.rate_of`) and the payment as one
ceiling division (:func:`funding_payment`). Both give the same numbers (docs/rules/funding.md "Integer
arithmetic").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from netclear.config.models import FundingConfig
from netclear.errors import ConfigError, InvalidAction
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE
from netclear.markets.registry import Perp

INTEREST_RATE_8H = Fraction(1, 10_000)  # "0.01% every 8 hours" ('Funding')
PREMIUM_CLAMP = Fraction(5, 10_000)  # clamp(interest - P, -0.0005, 0.0005) ('Funding')
HOURLY_CAP = Fraction(4, 100)  # "Funding on Hyperliquid is capped at 4%/hour." ('Funding')
HOURS_PER_RATE = 8  # the formula gives an 8-hour rate; each hour pays 1/8 of it ('Funding')
FUNDING_INTERVAL_MS = 3_600_000  # "paid every hour" ('Funding')
PREMIUM_SAMPLE_MS = 5_000  # "The premium is sampled every 5 seconds and averaged over the hour." ('Funding')
HIP3_MAX_MULTIPLIER = Fraction(
    10
)  # "Multipliers must be between 0 and 10" ('HIP-3: Builder-deployed perpetuals')
PREMIUM_SAMPLE_DECIMALS = 12
"""Each premium sample is rounded half-even to 1e-12 before it is summed (our choice; Hyperliquid publishes
premiums with 8 decimals). Exact samples would make the hour's sum a fraction of ~15,000 digits."""
PREMIUM_SCALE = 10**PREMIUM_SAMPLE_DECIMALS
"""A rounded premium sample is an ``int`` count of 1e-12."""

Price = Fraction | int


# ---------------------------------------------------------------------------------------------- impact price
def impact_price(
    levels: Sequence[tuple[int, int]], impact_notional: Fraction | int, sz_decimals: int
) -> Fraction | None:
    """Average execution price (1e-8, exact) of a market order worth ``impact_notional`` quote units.

    ``levels`` is one side of the book, best first, as ``(px, size in lots)``. The last level is taken
    fractionally (not rounded to lots), so the notional is exactly ``impact_notional``. ``None`` when the
    side is too thin to fill it (our reading: that side then has no impact price). Impact notional: 20,000
    USDC for BTC and ETH, 6,000 for the rest ('Funding', ``contract-specifications``).
    """
    target = Fraction(impact_notional) * PX_SCALE * 10**sz_decimals  # in px units x lots
    if target <= 0:
        raise InvalidAction("impact_notional", "must be positive")
    remaining = target
    filled_lots = 0
    for px, sz in levels:
        if px <= 0 or sz <= 0:
            raise InvalidAction("levels", f"book level ({px}, {sz}) must have positive price and size")
        level = px * sz
        if level >= remaining:
            # lots taken: filled_lots + remaining / px; average price = target / lots
            avg: Fraction = target * px / (filled_lots * px + remaining)
            return avg
        filled_lots += sz
        remaining -= level
    return None


# ---------------------------------------------------------------------------------------------- premium
def round_half_even(value: Fraction, decimals: int) -> Fraction:
    """``value`` rounded to ``decimals`` places, ties to even (Python's ``round`` on a Fraction)."""
    return Fraction(round(value * 10**decimals), 10**decimals)


def impact_price_difference(impact_bid: Price | None, impact_ask: Price | None, oracle: int) -> Fraction:
    """``max(impact_bid - oracle, 0) - max(oracle - impact_ask, 0)`` ('Funding'); a missing side adds 0."""
    bid_term = max(Fraction(impact_bid) - oracle, Fraction(0)) if impact_bid is not None else Fraction(0)
    ask_term = max(oracle - Fraction(impact_ask), Fraction(0)) if impact_ask is not None else Fraction(0)
    return bid_term - ask_term


def premium(impact_bid: Price | None, impact_ask: Price | None, oracle: int) -> Fraction:
    """Validator-perp premium sample ``impact_price_difference / oracle_price`` ('Funding')."""
    if oracle <= 0:
        raise InvalidAction("oracle", f"oracle price must be positive, got {oracle}")
    return impact_price_difference(impact_bid, impact_ask, oracle) / oracle


def hip3_premium(impact_bid: Price | None, impact_ask: Price | None, oracle: int) -> Fraction:
    """HIP-3 premium sample ``0.5 * (impact_bid + impact_ask) / oracle - 1`` ('Funding', 'HIP-3:
    Builder-deployed perpetuals').

    With either impact price missing the sample is 0 (our reading: no evidence of a premium).
    """
    if oracle <= 0:
        raise InvalidAction("oracle", f"oracle price must be positive, got {oracle}")
    if impact_bid is None or impact_ask is None:
        return Fraction(0)
    return (Fraction(impact_bid) + Fraction(impact_ask)) / (2 * oracle) - 1


def premium_ratio(
    impact_bid: int | None, impact_ask: int | None, oracle: int, *, hip3: bool = False
) -> tuple[int, int]:
    """The exact premium sample as ``(numerator, denominator)`` of integers (``denominator > 0``), from the
    book's integer impact prices (1e-8): :func:`premium` for validator perps, :func:`hip3_premium` with
    ``hip3``; the same value, without building a ``Fraction``."""
    if oracle <= 0:
        raise InvalidAction("oracle", f"oracle price must be positive, got {oracle}")
    if hip3:
        if impact_bid is None or impact_ask is None:
            return 0, 1
        return impact_bid + impact_ask - 2 * oracle, 2 * oracle
    bid_term = max(impact_bid - oracle, 0) if impact_bid is not None else 0
    ask_term = max(oracle - impact_ask, 0) if impact_ask is not None else 0
    return bid_term - ask_term, oracle


def div_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, ties to even (``denominator > 0``); the integer
    form of :func:`round_half_even`: ``div_half_even(n * 10**12, d)`` is a premium sample in 1e-12."""
    q, r = divmod(numerator, denominator)
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2):
        q += 1
    return q


@dataclass(frozen=True, slots=True)
class PremiumSampler:
    """Premium samples of one funding interval, taken every 5 s and averaged ('Funding'), immutable.

    Sample ``k`` (1-based) belongs to time ``interval_start_ms + k * sample_interval_ms``; an hour holds 720,
    the last at the funding time itself (our reading). Because state only changes on actions,
    :meth:`sample_until` fills every slot up to ``now_ms`` with the premium in force since the last action.
    Samples are rounded to ``decimals`` places (default :data:`PREMIUM_SAMPLE_DECIMALS`; ``None`` = exact).
    """

    interval_start_ms: int
    sample_interval_ms: int = PREMIUM_SAMPLE_MS
    interval_ms: int = FUNDING_INTERVAL_MS
    total: Fraction = Fraction(0)
    count: int = 0
    decimals: int | None = PREMIUM_SAMPLE_DECIMALS

    def __post_init__(self) -> None:
        if self.sample_interval_ms <= 0 or self.interval_ms % self.sample_interval_ms:
            raise ValueError("interval_ms must be a positive multiple of sample_interval_ms")

    @property
    def max_samples(self) -> int:
        return self.interval_ms // self.sample_interval_ms

    @property
    def next_sample_ms(self) -> int:
        """When the next sample is due."""
        return self.interval_start_ms + (self.count + 1) * self.sample_interval_ms

    def sample(self, premium: Fraction) -> PremiumSampler:
        """Take the next sample (one slot)."""
        if self.count >= self.max_samples:
            raise InvalidAction("premium", "all samples of this funding interval are taken")
        return replace(self, total=self.total + self._quantize(premium), count=self.count + 1)

    def sample_until(self, premium: Fraction, now_ms: int) -> PremiumSampler:
        """Record ``premium`` for every slot due at or before ``now_ms`` (none past the interval's end)."""
        due = (now_ms - self.interval_start_ms) // self.sample_interval_ms
        n = min(due, self.max_samples) - self.count
        if n <= 0:
            return self
        return replace(self, total=self.total + self._quantize(premium) * n, count=self.count + n)

    def sample_scaled_until(self, sample: int, now_ms: int) -> PremiumSampler:
        """:meth:`sample_until` with the sample already rounded: ``sample`` counts ``10**-decimals`` (a
        sampler with ``decimals=None`` takes exact samples only, through :meth:`sample_until`)."""
        if self.decimals is None:
            raise ValueError("an exact sampler takes Fraction samples")
        due = (now_ms - self.interval_start_ms) // self.sample_interval_ms
        n = min(due, self.max_samples) - self.count
        if n <= 0:
            return self
        total = self.total + Fraction(sample * n, 10**self.decimals)
        return replace(self, total=total, count=self.count + n)

    def average_ratio(self) -> tuple[int, int]:
        """:meth:`average` as ``(numerator, denominator)`` of integers, ``(0, 1)`` before any sample."""
        if not self.count:
            return 0, 1
        total = Fraction(self.total)
        return total.numerator, total.denominator * self.count

    def _quantize(self, premium: Fraction) -> Fraction:
        if self.decimals is None:
            return Fraction(premium)
        return round_half_even(Fraction(premium), self.decimals)

    def average(self) -> Fraction:
        """Average premium ``P`` of the samples taken; 0 before any (interest-only funding, our reading)."""
        return self.total / self.count if self.count else Fraction(0)


# ---------------------------------------------------------------------------------------------- rates
def funding_rate_8h(
    avg_premium: Fraction, interest_rate: Fraction = INTEREST_RATE_8H, clamp: Fraction = PREMIUM_CLAMP
) -> Fraction:
    """``F = P + clamp(interest_rate - P, -0.0005, 0.0005)``, an 8-hour rate ('Funding').

    For HIP-3 perps ``interest_rate`` is the deployer's 8-hour rate (``setFundingInterestRates``, 'HIP-3:
    Builder-deployed perpetuals').
    """
    return avg_premium + min(max(interest_rate - avg_premium, -clamp), clamp)


def hourly_funding_rate(
    rate_8h: Fraction, *, multiplier: Fraction | int = 1, cap: Fraction = HOURLY_CAP
) -> Fraction:
    """The rate paid each hour: ``multiplier * F / 8``, capped at +/-4% per hour ('Funding').

    ``multiplier`` is the HIP-3 deployer's funding multiplier in [0, 10] that "scale[s] the funding rate"
    ('HIP-3: Builder-deployed perpetuals'); 1 on validator perps. The cap applies after the multiplier (the
    cap does not depend on the asset).
    """
    mult = Fraction(multiplier)
    if not 0 <= mult <= HIP3_MAX_MULTIPLIER:
        raise InvalidAction("multiplier", f"funding multiplier must be in [0, 10], got {mult}")
    hourly = rate_8h * mult / HOURS_PER_RATE
    return min(max(hourly, -cap), cap)


@dataclass(frozen=True, slots=True)
class HourlyRate:
    """An hourly funding rate held exactly in integers: ``numerator / denominator`` (``denominator > 0``).

    The denominator is explicit rather than a fixed decimal scale because the hour's average premium is a
    sum of 1e-12 samples divided by their count (720), which no decimal scale holds exactly; with it the
    integer path gives exactly the :class:`~fractions.Fraction` formula's rate (docs/rules/funding.md
    "Integer arithmetic"). Not reduced: the denominator is ``8 * D * multiplier.denominator`` where ``D``
    is the least common multiple of the average premium's and the parameters' denominators.
    """

    numerator: int
    denominator: int

    def fraction(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)


def hourly_rate_of(
    avg_numerator: int,
    avg_denominator: int,
    *,
    interest_rate_8h: Fraction = INTEREST_RATE_8H,
    clamp: Fraction = PREMIUM_CLAMP,
    multiplier: Fraction | int = 1,
    cap: Fraction = HOURLY_CAP,
) -> HourlyRate:
    """:func:`hourly_funding_rate` of :func:`funding_rate_8h` in integers, for the average premium
    ``avg_numerator / avg_denominator`` ('Funding'): ``F = P + clamp(I - P, -c, c)`` over the common
    denominator ``D``, then ``multiplier * F / 8`` capped at ``+/-cap``. Exact: no rounding anywhere."""
    mult = Fraction(multiplier)
    if not 0 <= mult <= HIP3_MAX_MULTIPLIER:
        raise InvalidAction("multiplier", f"funding multiplier must be in [0, 10], got {mult}")
    interest, clamp, cap = Fraction(interest_rate_8h), Fraction(clamp), Fraction(cap)
    d = math.lcm(avg_denominator, interest.denominator, clamp.denominator, cap.denominator)
    p = avg_numerator * (d // avg_denominator)
    i = interest.numerator * (d // interest.denominator)
    c = clamp.numerator * (d // clamp.denominator)
    rate_8h = p + min(max(i - p, -c), c)
    denominator = HOURS_PER_RATE * d * mult.denominator
    k = cap.numerator * (denominator // cap.denominator)
    return HourlyRate(min(max(mult.numerator * rate_8h, -k), k), denominator)


def funding_payment(
    szi: int, oracle_px: int, hourly_rate: Fraction | HourlyRate, sz_decimals: int, wei_decimals: int
) -> int:
    """Collateral wei the holder of ``szi`` lots pays for one interval; negative means the holder receives.

    ``position_size * oracle_price * funding_rate`` on the **oracle** price, not the mark ('Funding'). A
    positive rate makes longs pay shorts. Rounded up (``ceil``): a payer pays the exact amount rounded up and
    a receiver gets it rounded down, so the sum over all positions (which nets to exactly 0 before rounding,
    open interest being balanced) is >= 0 and below one wei per position: dust for a sink. One integer
    ceiling division: ``ceil(szi * oracle * 10**wei * num / (10**(szDecimals + 8) * den))``.
    """
    num: int = szi * oracle_px * 10**wei_decimals * hourly_rate.numerator
    den: int = 10 ** (sz_decimals + PX_DECIMALS) * hourly_rate.denominator
    return -(-num // den)


@dataclass(frozen=True, slots=True)
class FundingParams:
    """Funding parameters from the preset (``[funding]``), as exact values."""

    interest_rate_8h: Fraction = INTEREST_RATE_8H
    premium_clamp: Fraction = PREMIUM_CLAMP
    hourly_cap: Fraction = HOURLY_CAP
    sample_interval_ms: int = PREMIUM_SAMPLE_MS
    interval_ms: int = FUNDING_INTERVAL_MS

    @classmethod
    def from_config(cls, cfg: FundingConfig) -> FundingParams:
        if cfg.interval_s != FUNDING_INTERVAL_MS // 1000:
            raise ConfigError(
                "funding.interval_s", "funding is paid hourly (1/8 of the 8-hour rate each hour)"
            )
        return cls(
            interest_rate_8h=Fraction(cfg.interest_rate_8h),
            premium_clamp=Fraction(cfg.premium_clamp),
            hourly_cap=Fraction(cfg.hourly_cap),
            sample_interval_ms=cfg.sample_interval_s * 1000,
            interval_ms=cfg.interval_s * 1000,
        )

    def sampler(self, interval_start_ms: int) -> PremiumSampler:
        """An empty sampler for the funding interval starting at ``interval_start_ms``."""
        return PremiumSampler(interval_start_ms, self.sample_interval_ms, self.interval_ms)

    def hourly_rate(
        self,
        avg_premium: Fraction,
        *,
        multiplier: Fraction | int = 1,
        interest_rate_8h: Fraction | None = None,
    ) -> Fraction:
        """Hourly rate for an average premium; HIP-3 dexes pass their multiplier and interest rate."""
        interest = self.interest_rate_8h if interest_rate_8h is None else interest_rate_8h
        rate_8h = funding_rate_8h(avg_premium, interest, self.premium_clamp)
        return hourly_funding_rate(rate_8h, multiplier=multiplier, cap=self.hourly_cap)

    def rate_of(
        self,
        sampler: PremiumSampler,
        *,
        multiplier: Fraction | int = 1,
        interest_rate_8h: Fraction | None = None,
    ) -> HourlyRate:
        """The hourly rate of a sampler's average premium, in integers (:func:`hourly_rate_of`); equal to
        ``hourly_rate(sampler.average(), ...)``."""
        num, den = sampler.average_ratio()
        return hourly_rate_of(
            num,
            den,
            interest_rate_8h=self.interest_rate_8h if interest_rate_8h is None else interest_rate_8h,
            clamp=self.premium_clamp,
            multiplier=multiplier,
            cap=self.hourly_cap,
        )


def impact_notional_wei(perp: Perp, cfg: FundingConfig) -> int:
    """The impact notional of ``perp`` in collateral wei: ``impact_notional_major`` (20,000 USDC) for BTC
    and ETH on the first dex, the perp's own otherwise (Hyperliquid docs 'Funding': 20,000 USDC for BTC and
    ETH, 6,000 USDC for other assets; docs/rules/funding.md)."""
    notional = perp.impact_notional
    if perp.dex.index == 0 and perp.name in ("BTC", "ETH"):
        notional = Fraction(cfg.impact_notional_major)
    return int(notional * perp.collateral.unit)
