"""Fees: tiers, staking, maker rebates, per-trade adjustments, rounding (Hyperliquid docs 'Fees')."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netclear.config.loader import load_preset
from netclear.errors import InvalidAction
from netclear.fixedpoint import to_px
from netclear.markets.fees import (
    HL_STAKING_TIERS,
    FeeRates,
    fee_amount,
    fee_tier,
    fee_tier_index,
    maker_rebate_rate,
    split_fee,
    staking_discount,
    staking_tiers_from_config,
    trade_fee,
    trade_fee_rates,
    user_fee_rates,
    volume_contribution,
    weighted_volume,
)
from netclear.markets.registry import FeeTier, Registry

PCT = Fraction(1, 100)
USDC = 10**8  # USDC wei (weiDecimals 8 in the preset)

REG = Registry.from_config(load_preset("hyperliquid"))
PERP = REG.perp_fee_tiers
SPOT = REG.spot_fee_tiers


def test_preset_tiers_match_the_published_tables() -> None:
    assert [(t.taker, t.maker) for t in PERP] == [
        (Fraction("0.00045"), Fraction("0.00015")),
        (Fraction("0.0004"), Fraction("0.00012")),
        (Fraction("0.00035"), Fraction("0.00008")),
        (Fraction("0.0003"), Fraction("0.00004")),
        (Fraction("0.00028"), Fraction(0)),
        (Fraction("0.00026"), Fraction(0)),
        (Fraction("0.00024"), Fraction(0)),
    ]
    assert (SPOT[0].taker, SPOT[0].maker) == (Fraction("0.0007"), Fraction("0.0004"))
    assert staking_tiers_from_config(REG.config.fees) == tuple(
        type(t)(t.min_staked, t.discount) for t in HL_STAKING_TIERS
    )


def test_tier0_perp_taker_fee_on_100k() -> None:
    # 0.045% x 100,000 USDC = 45 USDC. Fill: 1 BTC (100,000 lots at szDecimals 5) at 100,000.
    assert trade_fee(to_px("100000"), 100_000, 5, 8, PERP[0].taker) == 45 * USDC
    # maker 0.015% -> 15 USDC; a sell (negative size) pays the same
    assert trade_fee(to_px("100000"), -100_000, 5, 8, PERP[0].maker) == 15 * USDC


# ------------------------------------------------------------------ tier selection
def test_weighted_volume_and_tier_boundaries() -> None:
    # weighted = perps + 2 x spot: 3M + 2 x 1.5M = 6M > 5M -> tier 1
    v = weighted_volume(3_000_000, 1_500_000)
    assert v == 6_000_000
    assert fee_tier_index(PERP, v) == 1
    assert fee_tier(PERP, v).taker == Fraction("0.0004")
    # thresholds are strict (">5M"): exactly 5M stays in tier 0
    assert fee_tier_index(PERP, 5_000_000) == 0
    assert fee_tier_index(PERP, 5_000_001) == 1
    assert fee_tier_index(PERP, 0) == 0
    assert fee_tier_index(PERP, 7_000_000_001) == 6
    assert fee_tier_index(SPOT, 100_000_001) == 3
    with pytest.raises(InvalidAction):
        fee_tier_index((), 1)


# ------------------------------------------------------------------ staking discount
@pytest.mark.parametrize(
    ("staked", "discount"),
    [
        (0, 0),
        (10, 0),
        (11, Fraction(5, 100)),
        (101, Fraction(10, 100)),
        (1_001, Fraction(15, 100)),
        (10_001, Fraction(20, 100)),
        (100_001, Fraction(30, 100)),
        (500_000, Fraction(30, 100)),
        (500_001, Fraction(40, 100)),
    ],
)
def test_staking_discount(staked: int, discount: Fraction) -> None:
    assert staking_discount(staked) == discount


def test_staking_discount_on_rates_matches_the_fee_table() -> None:
    # Diamond (40%), tier 0: taker 0.045% x 0.6 = 0.027%, maker 0.015% x 0.6 = 0.009% (table columns)
    r = user_fee_rates(PERP[0], staking_discount=Fraction(40, 100))
    assert r.taker == Fraction("0.00027") and r.maker == Fraction("0.00009")
    # Wood (5%), tier 0: 0.045% x 0.95 = 0.04275% (the table shows it rounded: 0.0428%)
    assert user_fee_rates(PERP[0], staking_discount=Fraction(5, 100)).taker == Fraction("0.0004275")
    # Gold (20%), spot tier 2: 0.050% x 0.8 = 0.040%, maker 0.020% x 0.8 = 0.016%
    r = user_fee_rates(SPOT[2], staking_discount=Fraction(20, 100))
    assert (r.taker, r.maker) == (Fraction("0.0004"), Fraction("0.00016"))
    with pytest.raises(InvalidAction):
        user_fee_rates(PERP[0], staking_discount=Fraction(2))


# ------------------------------------------------------------------ maker rebates
def test_maker_rebate_tiers() -> None:
    assert maker_rebate_rate(Fraction(5, 1000)) is None  # ">0.5%" is strict
    assert maker_rebate_rate(Fraction(6, 1000)) == Fraction("-0.00001")
    assert maker_rebate_rate(Fraction(16, 1000)) == Fraction("-0.00002")
    assert maker_rebate_rate(Fraction(31, 1000)) == Fraction("-0.00003")
    # the rebate replaces the tier's maker fee and is not discounted by staking
    r = user_fee_rates(PERP[4], staking_discount=Fraction(40, 100), maker_rebate=Fraction("-0.00002"))
    assert r.maker == Fraction("-0.00002")
    assert r.taker == Fraction("0.00028") * Fraction(6, 10)
    # -0.002% on 100,000 USDC = -2 USDC (paid to the maker)
    assert fee_amount(100_000 * USDC, r.maker) == -2 * USDC


# ------------------------------------------------------------------ rounding toward the house
def test_fee_rounding() -> None:
    # taker 0.045% on 1,000 wei = 0.45 wei -> rounded up to 1
    assert fee_amount(1_000, Fraction("0.00045")) == 1
    # rebate -0.001% on 1,000 wei = -0.01 wei -> the rebate rounds down to 0
    assert fee_amount(1_000, Fraction("-0.00001")) == 0
    # -0.001% on 150,000 wei = -1.5 wei -> rebate 1 wei
    assert fee_amount(150_000, Fraction("-0.00001")) == -1
    # exact notional, not pre-rounded: 3 lots (szDecimals 0) at 0.3333 with 0 quote decimals, 0.045%
    # notional 0.9999 -> fee 0.00044995 -> 1 wei
    assert trade_fee(to_px("0.3333"), 3, 0, 0, Fraction("0.00045")) == 1


@given(st.integers(0, 10**20), st.fractions(min_value=-1, max_value=1, max_denominator=10**8))
def test_fee_amount_never_favours_the_user(notional: int, rate: Fraction) -> None:
    fee = fee_amount(notional, rate)
    assert rate * notional <= fee < rate * notional + 1


@given(
    st.one_of(st.integers(-(10**30), 10**30), st.fractions(max_denominator=10**12)),
    st.one_of(st.fractions(max_denominator=10**12), st.integers(-5, 5)),
)
def test_fee_amount_equals_the_fraction_formula(notional: int | Fraction, rate: Fraction) -> None:
    """The integer path (an int notional) gives exactly ``ceil(Fraction(notional) x rate)``."""
    exact = Fraction(notional) * Fraction(rate)
    assert fee_amount(notional, rate) == -((-exact.numerator) // exact.denominator)
    assert fee_amount(notional, rate) == math.ceil(exact)


# ------------------------------------------------------------------ per-trade adjustments (feeRates formula)
def fee_rates_ts(
    taker: Fraction,
    maker: Fraction,
    referral: Fraction,
    aligned: bool,
    stable: bool | None,
    scale: Fraction | None,
    growth: bool,
) -> tuple[Fraction, Fraction]:
    """The fees page's TypeScript ``feeRates`` transcribed line by line (percent scaling dropped)."""
    scale_if_stable = Fraction(1, 5) if stable else Fraction(1)
    scale_if_hip3, growth_scale, deployer_share = Fraction(1), Fraction(1), Fraction(0)
    if scale is not None:
        scale_if_hip3 = scale + 1 if scale < 1 else scale * 2
        deployer_share = scale / (1 + scale) if scale < 1 else Fraction(1, 2)
        growth_scale = Fraction(1, 10) if growth else Fraction(1)
    maker_pct = maker * scale_if_stable * growth_scale
    if maker_pct > 0:
        maker_pct *= scale_if_hip3 * (1 - referral)
    else:
        maker_pct *= (1 - deployer_share) * Fraction(3, 2) + deployer_share if aligned else 1
    taker_pct = taker * scale_if_stable * scale_if_hip3 * growth_scale * (1 - referral)
    if aligned:
        taker_pct *= (1 - deployer_share) * Fraction(4, 5) + deployer_share
    return taker_pct, maker_pct


@given(
    st.sampled_from([Fraction("0.00045"), Fraction("0.0007"), Fraction("0.00024")]),
    st.sampled_from([Fraction("0.00015"), Fraction(0), Fraction("-0.00001"), Fraction("-0.00003")]),
    st.sampled_from([Fraction(0), Fraction(4, 100), Fraction(1, 10)]),
    st.booleans(),
    st.sampled_from(["spot", "spot_stable", "perp", "hip3"]),
    st.fractions(min_value=0, max_value=3, max_denominator=100),
    st.booleans(),
)
def test_trade_fee_rates_match_the_published_formula(
    taker: Fraction,
    maker: Fraction,
    referral: Fraction,
    aligned: bool,
    kind: str,
    scale: Fraction,
    growth: bool,
) -> None:
    hip3 = kind == "hip3"
    stable = kind == "spot_stable"
    ours = trade_fee_rates(
        FeeRates(taker, maker),
        referral_discount=referral,
        aligned_quote=aligned,
        stable_pair=stable,
        deployer_fee_scale=scale if hip3 else None,
        growth_mode=growth and hip3,
    )
    assert (ours.taker, ours.maker) == fee_rates_ts(
        taker, maker, referral, aligned, stable, scale if hip3 else None, growth and hip3
    )


def test_stable_pair_and_aligned_quote() -> None:
    spot0 = user_fee_rates(SPOT[0])
    # stable pair: 80% lower -> taker 0.070% x 0.2 = 0.014%, maker 0.040% x 0.2 = 0.008%
    r = trade_fee_rates(spot0, stable_pair=True)
    assert (r.taker, r.maker) == (Fraction("0.00014"), Fraction("0.00008"))
    # aligned quote: taker 20% lower = 0.056%; a positive maker fee is unchanged
    r = trade_fee_rates(spot0, aligned_quote=True)
    assert (r.taker, r.maker) == (Fraction("0.00056"), Fraction("0.0004"))
    # aligned quote: rebate 50% better, -0.001% -> -0.0015%
    r = trade_fee_rates(FeeRates(Fraction("0.00045"), Fraction("-0.00001")), aligned_quote=True)
    assert r.maker == Fraction("-0.000015")
    with pytest.raises(InvalidAction):
        trade_fee_rates(spot0, stable_pair=True, growth_mode=True)


def test_hip3_deployer_fee_scale() -> None:
    base = FeeRates(Fraction("0.00045"), Fraction("0.00015"))
    # s = 0.5: x (1 + 0.5) -> taker 0.0675%, deployer share 0.5/1.5 = 1/3 -> 0.0225%
    r = trade_fee_rates(base, deployer_fee_scale=Fraction(1, 2))
    assert r.taker == Fraction("0.000675") and r.taker_deployer == Fraction("0.000225")
    assert r.maker == Fraction("0.000225") and r.maker_deployer == Fraction("0.000075")
    # s = 2: x (2 x 2) = 0.18%, deployer half = 0.09%
    r = trade_fee_rates(base, deployer_fee_scale=Fraction(2))
    assert r.taker == Fraction("0.0018") and r.taker_deployer == Fraction("0.0009")
    # aligned quote with s = 0.5 (SetFeeScale note: P = y = 0.8 x, D = s x): 0.036% + 0.0225% = 0.0585%
    r = trade_fee_rates(base, deployer_fee_scale=Fraction(1, 2), aligned_quote=True)
    assert r.taker == Fraction("0.000585") and r.taker_deployer == Fraction("0.000225")
    # rebate with s = 0.5, not aligned (SetFeeScale: P = y/(1+s), D = y s/(1+s)): total stays -0.001%
    r = trade_fee_rates(FeeRates(base.taker, Fraction("-0.00001")), deployer_fee_scale=Fraction(1, 2))
    assert r.maker == Fraction("-0.00001") and r.maker_deployer == Fraction("-0.00001") / 3
    # growth mode: fees and rebates x 0.1
    r = trade_fee_rates(base, deployer_fee_scale=Fraction(0), growth_mode=True)
    assert (r.taker, r.maker) == (Fraction("0.000045"), Fraction("0.000015"))
    # referral discount (e.g. 4%) on the taker: 0.045% x 0.96 = 0.0432%
    assert trade_fee_rates(base, referral_discount=Fraction(4, 100)).taker == Fraction("0.000432")
    with pytest.raises(InvalidAction):
        trade_fee_rates(base, deployer_fee_scale=Fraction(4))


def test_split_fee() -> None:
    # 100 wei at 0.0675% of which 0.0225% is the deployer's: 100 x 1/3 = 33.3 -> deployer 33, protocol 67
    assert split_fee(100, Fraction("0.000675"), Fraction("0.000225")) == (67, 33)
    assert split_fee(100, Fraction("0.00045"), Fraction(0)) == (100, 0)
    # a rebate split keeps the sum
    assert sum(split_fee(-10, Fraction("-0.00001"), Fraction("-0.00001") / 3)) == -10


def test_volume_contribution() -> None:
    assert volume_contribution(1_000) == 1_000
    assert volume_contribution(1_000, is_spot=True) == 2_000  # spot counts double
    assert volume_contribution(1_000, is_spot=True, stable_pair=True) == 400  # 80% lower
    assert volume_contribution(1_000, is_spot=True, aligned_quote=True) == 2_400  # 20% more
    assert volume_contribution(1_000, growth_mode=True) == 100  # 90% lower


def test_fee_tier_type_is_the_registry_one() -> None:
    assert isinstance(PERP[0], FeeTier)
