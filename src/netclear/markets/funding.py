"""Funding: impact prices, premium, the hourly premium average, the funding rate and payments.

Source: Hyperliquid docs 'Funding' "Funding" (GitBook ``trading/funding``) and 'HIP-3: Builder-deployed
perpetuals' (HIP-3 multiplier and interest rate). Docs: docs/rules/funding.md.

Units: prices ``int`` in 1e-8 (exact averages as ``Fraction`` in the same unit), sizes ``int`` lots,
payments ``int`` collateral wei, premiums and rates exact :class:`fractions.Fraction`, time ``int`` ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from netclear.config.models import FundingConfig
from netclear.errors import ConfigError, InvalidAction
from netclear.fixedpoint import PX_SCALE, frac_ceil

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


def funding_payment(
    szi: int, oracle_px: int, hourly_rate: Fraction, sz_decimals: int, wei_decimals: int
) -> int:
    """Collateral wei the holder of ``szi`` lots pays for one interval; negative means the holder receives.

    ``position_size * oracle_price * funding_rate`` on the **oracle** price, not the mark ('Funding'). A
    positive rate makes longs pay shorts. Rounded up (``ceil``): a payer pays the exact amount rounded up and
    a receiver gets it rounded down, so the sum over all positions (which nets to exactly 0 before rounding,
    open interest being balanced) is >= 0 and below one wei per position: dust for a sink.
    """
    exact = Fraction(szi * oracle_px * 10**wei_decimals, 10**sz_decimals * PX_SCALE) * hourly_rate
    return frac_ceil(exact)


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
