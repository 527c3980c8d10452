"""Trading fees: tier by 14-day weighted volume, staking discount, maker rebates, per-trade adjustments.

Source: Hyperliquid docs 'Fees' (GitBook ``trading/fees``, including its "Fee formula for
developers" ``feeRates(...)``) and 'HIP-3: Builder-deployed perpetuals' (HIP-3 deployer fee scale, growth
mode). Docs: docs/rules/fees.md.

Units: rates are exact :class:`fractions.Fraction` (0.045% = ``Fraction(45, 100_000)``; negative = rebate),
volumes are ``Fraction`` USD (quote units), fee amounts are ``int`` quote wei rounded toward the house.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from netclear.config.models import FeesConfig
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_SCALE, frac_ceil
from netclear.markets.registry import FeeTier

SPOT_VOLUME_WEIGHT = Fraction(2)  # 14d weighted volume = perps + 2 x spot ('Fees')
STABLE_PAIR_SCALE = Fraction(1, 5)  # "80% lower taker fees, maker rebates, and user volume contribution"
ALIGNED_TAKER_SCALE = Fraction(4, 5)  # aligned quote: "20% lower taker fees"
ALIGNED_REBATE_SCALE = Fraction(3, 2)  # aligned quote: "50% better maker rebates"
ALIGNED_VOLUME_SCALE = Fraction(6, 5)  # aligned quote: "20% more volume contribution"
GROWTH_MODE_SCALE = Fraction(1, 10)  # HIP-3 growth mode: fees, rebates and volume "reduced by 90%"
MAX_DEPLOYER_FEE_SCALE = Fraction(
    3
)  # HIP-3 deployer fee share 0-300% ('Order book', 'HIP-3: Builder-deployed perpetuals')


@dataclass(frozen=True, slots=True)
class StakingTier:
    """A staking level: more than ``min_staked`` HYPE staked earns ``discount`` off positive fee rates."""

    min_staked: Fraction
    discount: Fraction
    name: str = ""


@dataclass(frozen=True, slots=True)
class MakerRebateTier:
    """More than ``min_share`` of 14-day maker volume makes the maker rate ``rate`` (negative)."""

    min_share: Fraction
    rate: Fraction


HL_STAKING_TIERS: tuple[StakingTier, ...] = (
    StakingTier(Fraction(10), Fraction(5, 100), "Wood"),
    StakingTier(Fraction(100), Fraction(10, 100), "Bronze"),
    StakingTier(Fraction(1_000), Fraction(15, 100), "Silver"),
    StakingTier(Fraction(10_000), Fraction(20, 100), "Gold"),
    StakingTier(Fraction(100_000), Fraction(30, 100), "Platinum"),
    StakingTier(Fraction(500_000), Fraction(40, 100), "Diamond"),
)
"""Staking discounts ('Fees')."""

HL_MAKER_REBATE_TIERS: tuple[MakerRebateTier, ...] = (
    MakerRebateTier(Fraction(5, 1_000), Fraction(-1, 100_000)),
    MakerRebateTier(Fraction(15, 1_000), Fraction(-2, 100_000)),
    MakerRebateTier(Fraction(30, 1_000), Fraction(-3, 100_000)),
)
"""Maker rebates by 14-day maker volume share: >0.5% -0.001%, >1.5% -0.002%, >3.0% -0.003% ('Order book')."""


def staking_tiers_from_config(cfg: FeesConfig) -> tuple[StakingTier, ...]:
    """The preset's ``[fees].staking`` list as :class:`StakingTier` values."""
    return tuple(StakingTier(Fraction(t.min_staked), Fraction(t.discount)) for t in cfg.staking)


# ---------------------------------------------------------------------------------------------- tiers
def weighted_volume(
    perp_volume: Fraction | int, spot_volume: Fraction | int, spot_weight: Fraction | int = SPOT_VOLUME_WEIGHT
) -> Fraction:
    """``(14d weighted volume) = (14d perps volume) + 2 * (14d spot volume)`` ('Fees')."""
    return Fraction(perp_volume) + Fraction(spot_weight) * Fraction(spot_volume)


def fee_tier_index(tiers: Sequence[FeeTier], weighted_volume: Fraction | int) -> int:
    """Index of the highest tier whose threshold the volume strictly exceeds (">5M"); tier 0 otherwise."""
    if not tiers:
        raise InvalidAction("fees", "no fee tiers configured")
    chosen = 0
    for i, tier in enumerate(tiers[1:], start=1):
        if weighted_volume > tier.min_volume:
            chosen = i
    return chosen


def fee_tier(tiers: Sequence[FeeTier], weighted_volume: Fraction | int) -> FeeTier:
    """The :class:`FeeTier` for a 14-day weighted volume (see :func:`fee_tier_index`)."""
    return tiers[fee_tier_index(tiers, weighted_volume)]


def staking_discount(
    staked_hype: Fraction | int, tiers: Sequence[StakingTier] = HL_STAKING_TIERS
) -> Fraction:
    """Discount for ``staked_hype`` HYPE: the best tier whose threshold it exceeds (">10"), else 0."""
    best = Fraction(0)
    for tier in tiers:
        if staked_hype > tier.min_staked:
            best = max(best, tier.discount)
    return best


def maker_rebate_rate(
    maker_volume_share: Fraction, tiers: Sequence[MakerRebateTier] = HL_MAKER_REBATE_TIERS
) -> Fraction | None:
    """Maker rate from the rebate tiers for a 14-day maker volume share (0.005 = 0.5%), or ``None``."""
    rate: Fraction | None = None
    for tier in tiers:
        if maker_volume_share > tier.min_share and (rate is None or tier.rate < rate):
            rate = tier.rate
    return rate


# ---------------------------------------------------------------------------------------------- rates
@dataclass(frozen=True, slots=True)
class FeeRates:
    """Taker and maker rates (negative maker = rebate); the ``*_deployer`` parts are included in the totals
    and go to the HIP-3 deployer."""

    taker: Fraction
    maker: Fraction
    taker_deployer: Fraction = Fraction(0)
    maker_deployer: Fraction = Fraction(0)


def user_fee_rates(
    tier: FeeTier, *, staking_discount: Fraction = Fraction(0), maker_rebate: Fraction | None = None
) -> FeeRates:
    """A user's rates before per-trade adjustments, like ``userFees`` ``userCrossRate`` / ``userAddRate``.

    The staking discount scales positive rates (the published tables: Diamond tier 0 = 0.045% x 0.6 =
    0.027% taker, 0.015% x 0.6 = 0.009% maker). A maker-rebate tier replaces the maker rate when it is
    lower (our reading); rebates are not discounted.
    """
    if not 0 <= staking_discount <= 1:
        raise InvalidAction("staking_discount", f"must be in [0, 1], got {staking_discount}")
    keep = 1 - staking_discount
    taker = tier.taker * keep if tier.taker > 0 else tier.taker
    maker = tier.maker * keep if tier.maker > 0 else tier.maker
    if maker_rebate is not None and maker_rebate < maker:
        maker = maker_rebate
    return FeeRates(taker, maker)


def trade_fee_rates(
    user: FeeRates,
    *,
    referral_discount: Fraction = Fraction(0),
    aligned_quote: bool = False,
    stable_pair: bool = False,
    deployer_fee_scale: Fraction | None = None,
    growth_mode: bool = False,
) -> FeeRates:
    """Per-trade rates: the fees page's ``feeRates(...)`` developer formula ('Order book'), exactly, on
    fractions.

    * ``stable_pair`` (spot between two quote assets): taker and maker x 0.2;
    * ``deployer_fee_scale`` s (HIP-3 perps, 0-3): positive rates x (1 + s) if s < 1 else x 2s, deployer
      share s / (1 + s) if s < 1 else 1/2; ``growth_mode`` x 0.1 on taker and maker;
    * ``referral_discount`` scales the taker and a positive maker rate;
    * ``aligned_quote``: the protocol part of the taker x 0.8, the protocol part of a rebate x 1.5.
    """
    is_perp_only = deployer_fee_scale is not None or growth_mode
    if stable_pair and is_perp_only:
        raise InvalidAction(
            "stable_pair", "stable pairs are spot; deployer fee scale and growth mode are HIP-3 perps"
        )
    if not 0 <= referral_discount <= 1:
        raise InvalidAction("referral_discount", f"must be in [0, 1], got {referral_discount}")
    stable = STABLE_PAIR_SCALE if stable_pair else Fraction(1)
    growth = GROWTH_MODE_SCALE if growth_mode else Fraction(1)
    hip3_scale, share = Fraction(1), Fraction(0)
    if deployer_fee_scale is not None:
        s = Fraction(deployer_fee_scale)
        if not 0 <= s <= MAX_DEPLOYER_FEE_SCALE:
            raise InvalidAction("deployer_fee_scale", f"must be in [0, 3], got {s}")
        hip3_scale, share = (s + 1, s / (1 + s)) if s < 1 else (2 * s, Fraction(1, 2))
    keep = 1 - referral_discount

    taker_base = user.taker * stable * hip3_scale * growth * keep
    taker_protocol = taker_base * (1 - share) * (ALIGNED_TAKER_SCALE if aligned_quote else 1)
    taker_deployer = taker_base * share

    maker_base = user.maker * stable * growth
    if maker_base > 0:
        maker_base *= hip3_scale * keep
        maker_protocol = maker_base * (1 - share)
    else:
        maker_protocol = maker_base * (1 - share) * (ALIGNED_REBATE_SCALE if aligned_quote else 1)
    maker_deployer = maker_base * share
    return FeeRates(
        taker_protocol + taker_deployer, maker_protocol + maker_deployer, taker_deployer, maker_deployer
    )


def volume_contribution(
    notional: Fraction | int,
    *,
    is_spot: bool = False,
    stable_pair: bool = False,
    aligned_quote: bool = False,
    growth_mode: bool = False,
    spot_weight: Fraction | int = SPOT_VOLUME_WEIGHT,
) -> Fraction:
    """What a fill adds to the 14-day weighted volume: spot x 2, stable pair x 0.2, aligned quote x 1.2,
    growth mode x 0.1 ('Fees')."""
    v = Fraction(notional)
    if is_spot:
        v *= Fraction(spot_weight)
    if stable_pair:
        v *= STABLE_PAIR_SCALE
    if aligned_quote:
        v *= ALIGNED_VOLUME_SCALE
    if growth_mode:
        v *= GROWTH_MODE_SCALE
    return v


# ---------------------------------------------------------------------------------------------- amounts
def fee_amount(notional_wei: Fraction | int, rate: Fraction) -> int:
    """Fee in quote wei, rounded toward the house: ``ceil(rate * notional)``.

    A positive fee (taker, positive maker) rounds up; a rebate (negative rate) is ``-floor(|rate| *
    notional)``, i.e. the rebate rounds down. Negative result = paid to the user.

    An integer notional (every fill) takes the rate's numerator and denominator (denominator > 0) and
    rounds with one integer floor division, ``ceil(n x p / q) = -(-(n x p) // q)``: the value of the
    Fraction product without building one.
    """
    if notional_wei.__class__ is int:
        return -((-notional_wei * rate.numerator) // rate.denominator)
    return frac_ceil(Fraction(notional_wei) * rate)


def trade_fee(px: int, sz_lots: int, sz_decimals: int, quote_wei_decimals: int, rate: Fraction) -> int:
    """Fee in quote wei on a fill of ``sz_lots`` at ``px`` (1e-8), from the exact notional."""
    notional = Fraction(px * abs(sz_lots) * 10**quote_wei_decimals, PX_SCALE * 10**sz_decimals)
    return fee_amount(notional, rate)


def split_fee(fee_wei: int, rate: Fraction, deployer_rate: Fraction) -> tuple[int, int]:
    """Split a fee into (protocol, deployer) in proportion ``deployer_rate / rate``; parts sum to ``fee_wei``.

    The deployer's part is truncated toward zero, so the protocol keeps the rounding remainder.
    """
    if rate == 0 or deployer_rate == 0:
        return fee_wei, 0
    exact = fee_wei * (deployer_rate / rate)
    deployer = int(exact)  # toward zero
    return fee_wei - deployer, deployer
