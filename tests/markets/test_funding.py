"""Funding: premium, average, rate, cap and payments (Hyperliquid docs 'Funding', 'HIP-3: Builder-deployed
perpetuals')."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netclear.config.models import FundingConfig
from netclear.errors import ConfigError, InvalidAction
from netclear.fixedpoint import fmt_decimal, to_px
from netclear.markets.funding import (
    PREMIUM_SCALE,
    FundingParams,
    PremiumSampler,
    div_half_even,
    funding_payment,
    funding_rate_8h,
    hip3_premium,
    hourly_funding_rate,
    hourly_rate_of,
    impact_price,
    impact_price_difference,
    premium,
    premium_ratio,
)

BP = Fraction(1, 10_000)  # one basis point


# ------------------------------------------------------------------ the interest-only rate
def test_interest_only_hourly_rate_is_0_0000125() -> None:
    # P = 0: F = 0 + clamp(0.0001 - 0, -0.0005, 0.0005) = 0.0001; hourly = 0.0001 / 8 = 0.0000125
    # = the metaAndAssetCtxs `funding` "0.0000125" (Hyperliquid docs 'Funding' [INF])
    rate = hourly_funding_rate(funding_rate_8h(Fraction(0)))
    assert rate == Fraction(1, 80_000)
    assert fmt_decimal(rate, 10) == "0.0000125"


# ------------------------------------------------------------------ 'Funding' numerical example (GitBook
# funding)
def test_doc_numerical_example() -> None:
    # impact bid 10,100, spot (oracle) 10,000: premium = (10100 - 10000) / 10000 = 0.01
    oracle = to_px("10000")
    p = premium(to_px("10100"), to_px("10200"), oracle)
    assert p == Fraction(1, 100)
    # clamped difference = min(max(0.01% - 1%, -0.05%), 0.05%) = -0.05%; F = 1% - 0.05% = 0.95%
    f = funding_rate_8h(p)
    assert f == Fraction(95, 10_000)
    # paid hourly at 1/8: 0.11875% per hour
    hourly = hourly_funding_rate(f)
    assert hourly == Fraction(11875, 10_000_000)
    # long 10 BTC (szDecimals 5 -> 1,000,000 lots), oracle 10,000, USDC 6 decimals:
    # 10 * 10000 * 0.0011875 = 118.75 USDC = 118,750,000 wei paid by the long
    assert funding_payment(1_000_000, oracle, hourly, 5, 6) == 118_750_000
    assert funding_payment(-1_000_000, oracle, hourly, 5, 6) == -118_750_000


# ------------------------------------------------------------------ clamp on both sides
@pytest.mark.parametrize(
    ("avg_premium", "rate_8h"),
    [
        (Fraction(0), BP),  # interest only
        (3 * BP, BP),  # i - P = -0.0002, inside the clamp -> F = i
        (-4 * BP, BP),  # i - P = +0.0005, exactly the upper bound -> F = i
        (6 * BP, BP),  # i - P = -0.0005, exactly the lower bound -> F = i
        (10 * BP, 5 * BP),  # i - P = -0.0009 -> clamped to -0.0005 -> F = 0.001 - 0.0005
        (-10 * BP, -5 * BP),  # i - P = +0.0011 -> clamped to +0.0005 -> F = -0.001 + 0.0005
    ],
)
def test_funding_rate_clamp(avg_premium: Fraction, rate_8h: Fraction) -> None:
    assert funding_rate_8h(avg_premium) == rate_8h


def test_hourly_cap_four_percent_both_sides() -> None:
    # P = 0.5: F = 0.5 - 0.0005 = 0.4995; /8 = 0.0624375 > 0.04 -> capped at 4%/h
    assert hourly_funding_rate(funding_rate_8h(Fraction(1, 2))) == Fraction(4, 100)
    # P = -0.5: F = -0.5 + 0.0005 = -0.4995; /8 = -0.0624375 -> -4%/h
    assert hourly_funding_rate(funding_rate_8h(Fraction(-1, 2))) == Fraction(-4, 100)
    # just inside: F = 0.32 -> 0.04 exactly is allowed
    assert hourly_funding_rate(Fraction(32, 100)) == Fraction(4, 100)


def test_published_funding_history_pairs() -> None:
    # SDK cassette tests/cassettes/info_test/test_get_funding_history[None].yaml (BTC, June 2023, hourly):
    # "premium":"0.00064674" -> "fundingRate":"0.00004334"; "0.00068397" -> "0.000048"; "0.00023467" ->
    # "0.0000125". These fit F = P + clamp(0.0001 - P, +/-0.0003): the clamp was 0.03% then (0.05% today).
    clamp_2023 = 3 * BP
    # (0.00064674 - 0.0003) / 8 = 0.0000433425 -> 8 decimals 0.00004334
    r = hourly_funding_rate(funding_rate_8h(Fraction("0.00064674"), clamp=clamp_2023))
    assert r == Fraction("0.0000433425") and fmt_decimal(r, 8) == "0.00004334"
    # (0.00068397 - 0.0003) / 8 = 0.00004799625 -> 0.000048
    r = hourly_funding_rate(funding_rate_8h(Fraction("0.00068397"), clamp=clamp_2023))
    assert fmt_decimal(r, 8) == "0.000048"
    # |0.0001 - 0.00023467| < 0.0003 -> F = 0.0001 -> 0.0000125
    r = hourly_funding_rate(funding_rate_8h(Fraction("0.00023467"), clamp=clamp_2023))
    assert r == Fraction("0.0000125")


# ------------------------------------------------------------------ premium
def test_premium_validator_cases() -> None:
    oracle = to_px("10000")
    # impact bid 9,990 < oracle < impact ask 10,010: both max() terms are 0 -> premium 0
    assert premium(to_px("9990"), to_px("10010"), oracle) == 0
    # book below the oracle: impact ask 9,900 -> -(10000 - 9900) / 10000 = -0.01
    assert premium(to_px("9800"), to_px("9900"), oracle) == Fraction(-1, 100)
    # a missing side adds 0
    assert impact_price_difference(None, to_px("9900"), oracle) == -to_px("100")
    assert premium(to_px("10050"), None, oracle) == Fraction(5, 1000)
    assert premium(None, None, oracle) == 0
    with pytest.raises(InvalidAction):
        premium(1, 1, 0)


def test_hip3_premium() -> None:
    # 0.5 * (100.5 + 100.7) / 100 - 1 = 100.6 / 100 - 1 = 0.006
    assert hip3_premium(to_px("100.5"), to_px("100.7"), to_px("100")) == Fraction(6, 1000)
    # mid below the oracle: 0.5 * (99 + 99.5) / 100 - 1 = -0.0075
    assert hip3_premium(to_px("99"), to_px("99.5"), to_px("100")) == Fraction(-75, 10_000)
    assert hip3_premium(None, to_px("99.5"), to_px("100")) == 0  # our reading


def test_hip3_multiplier_and_interest() -> None:
    # multiplier scales the funding rate before the cap: F = 0.0095 (doc example) x 10 / 8 = 0.011875
    assert hourly_funding_rate(Fraction(95, 10_000), multiplier=10) == Fraction(11875, 1_000_000)
    assert hourly_funding_rate(Fraction(95, 10_000), multiplier=0) == 0
    # x 10 with F = 0.4 -> 0.5 / h -> capped at 4%
    assert hourly_funding_rate(Fraction(4, 10), multiplier=10) == Fraction(4, 100)
    with pytest.raises(InvalidAction):
        hourly_funding_rate(BP, multiplier=11)
    # deployer interest 0.0000456621 per 8 h (observed on a builder dex), P = 0, multiplier 0.5:
    # F = 0.0000456621, hourly = 0.0000456621 * 0.5 / 8 = 0.00000285388125
    params = FundingParams()
    assert params.hourly_rate(
        Fraction(0), multiplier=Fraction(1, 2), interest_rate_8h=Fraction("0.0000456621")
    ) == (Fraction("0.00000285388125"))


# ------------------------------------------------------------------ impact price
def test_impact_price() -> None:
    # asks: 30 @ 100.00, 100 @ 101.00 (szDecimals 0); impact notional 6,000:
    # 30 * 100 = 3,000 from level 1, remaining 3,000 at 101 -> 3000/101 units;
    # avg = 6000 / (30 + 3000/101) = 606000 / 6030 = 20200/201 = 100.4975...
    asks = [(to_px("100"), 30), (to_px("101"), 100)]
    assert impact_price(asks, 6_000, 0) == Fraction(20200, 201) * 10**8
    # exactly one full level
    assert impact_price(asks, 3_000, 0) == to_px("100")
    # szDecimals 2: 3000 lots = 30 units -> same book
    assert (
        impact_price([(to_px("100"), 3_000), (to_px("101"), 10_000)], 6_000, 2)
        == Fraction(20200, 201) * 10**8
    )
    # too thin: 30*100 + 100*101 = 13,100 < 20,000
    assert impact_price(asks, 20_000, 0) is None
    with pytest.raises(InvalidAction):
        impact_price(asks, 0, 0)


# ------------------------------------------------------------------ sampler
def test_sampler_720_samples_per_hour() -> None:
    s = PremiumSampler(0)
    assert s.max_samples == 720 and s.next_sample_ms == 5_000
    s = s.sample_until(BP, 4_999)  # no slot due yet
    assert s.count == 0 and s.average() == 0  # no samples -> P = 0 (interest-only)
    # premium 1 bp for the first half hour (360 slots), 3 bp for the second -> average 2 bp
    s = s.sample_until(BP, 1_800_000).sample_until(3 * BP, 3_600_000)
    assert s.count == 720 and s.average() == 2 * BP
    assert s.sample_until(BP, 10_000_000).count == 720  # nothing past the hour
    with pytest.raises(InvalidAction):
        s.sample(BP)


def test_sampler_single_samples_and_rounding() -> None:
    s = PremiumSampler(1_000).sample(Fraction(1, 3)).sample(Fraction(-1, 3))
    # each sample rounded half-even to 12 decimals: 0.333333333333 and -0.333333333333 -> average 0
    assert s.count == 2 and s.total == 0 and s.next_sample_ms == 16_000
    exact = PremiumSampler(0, decimals=None).sample(Fraction(1, 3))
    assert exact.average() == Fraction(1, 3)
    assert PremiumSampler(0).sample(Fraction(1, 3)).average() == Fraction(333_333_333_333, 10**12)
    with pytest.raises(ValueError):
        PremiumSampler(0, sample_interval_ms=7_000)


# ------------------------------------------------------------------ payments
def test_payment_on_oracle_notional() -> None:
    # long 1 BTC (100,000 lots at szDecimals 5), oracle 100,000, hourly 0.0000125, USDC wei 8:
    # 1 * 100000 * 0.0000125 = 1.25 USDC = 125,000,000 wei
    rate = Fraction(1, 80_000)
    assert funding_payment(100_000, to_px("100000"), rate, 5, 8) == 125_000_000
    assert funding_payment(-100_000, to_px("100000"), rate, 5, 8) == -125_000_000
    assert funding_payment(0, to_px("100000"), rate, 5, 8) == 0


def test_payment_rounding_toward_the_house() -> None:
    # 1 lot (szDecimals 0) at oracle 1, rate 1/3, a token with 0 decimals: exact 1/3 wei
    # the payer (long) pays ceil(1/3) = 1; the receiver (short) gets floor(1/3) = 0 -> 1 wei of dust
    assert funding_payment(1, to_px("1"), Fraction(1, 3), 0, 0) == 1
    assert funding_payment(-1, to_px("1"), Fraction(1, 3), 0, 0) == 0
    # negative rate: shorts pay
    assert funding_payment(-1, to_px("1"), Fraction(-1, 3), 0, 0) == 1
    assert funding_payment(1, to_px("1"), Fraction(-1, 3), 0, 0) == 0


@given(
    st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=30),
    st.integers(1, 10**13),
    st.fractions(min_value=Fraction(-4, 100), max_value=Fraction(4, 100), max_denominator=10**12),
)
def test_payments_leave_nonnegative_dust_below_one_wei_each(
    longs: list[int], oracle: int, rate: Fraction
) -> None:
    positions = [*longs, -sum(longs)]  # open interest nets to zero
    total = sum(funding_payment(szi, oracle, rate, 3, 6) for szi in positions)
    assert 0 <= total < len(positions)


def test_funding_params_from_config() -> None:
    params = FundingParams.from_config(FundingConfig())
    assert params == FundingParams()
    assert params.hourly_rate(Fraction(0)) == Fraction(1, 80_000)
    assert params.sampler(7).interval_start_ms == 7 and params.sampler(7).max_samples == 720
    with pytest.raises(ConfigError):
        FundingParams.from_config(FundingConfig(interval_s=1800))


# ------------------------------------------------------------------ the integer path (docs/rules/funding.md
# "Integer arithmetic"): every function below is checked against the formula written with Fractions here
def _ref_premium(bid: int | None, ask: int | None, oracle: int, hip3: bool) -> Fraction:
    """'Funding': impact_price_difference / oracle; HIP-3: 0.5 * (bid + ask) / oracle - 1 (0 with a side
    missing)."""
    if hip3:
        return Fraction(0) if bid is None or ask is None else Fraction(bid + ask, 2 * oracle) - 1
    diff = Fraction(max(bid - oracle, 0) if bid is not None else 0)
    diff -= max(oracle - ask, 0) if ask is not None else 0
    return diff / oracle


def _ref_hourly(p: Fraction, interest: Fraction, clamp: Fraction, mult: Fraction, cap: Fraction) -> Fraction:
    """'Funding': F = P + clamp(interest - P, -clamp, clamp); hourly = multiplier * F / 8 within +/-cap."""
    rate_8h = p + min(max(interest - p, -clamp), clamp)
    return min(max(mult * rate_8h / 8, -cap), cap)


PX = st.integers(1, 10**13)  # 1e-8 price units: up to 100,000 USDC
RATE_PARAM = st.fractions(min_value=0, max_value=Fraction(1, 100), max_denominator=10**9)


@given(st.none() | PX, st.none() | PX, PX, st.booleans())
def test_integer_premium_sample_is_the_formula_rounded_half_even(
    bid: int | None, ask: int | None, oracle: int, hip3: bool
) -> None:
    num, den = premium_ratio(bid, ask, oracle, hip3=hip3)
    exact = _ref_premium(bid, ask, oracle, hip3)
    assert den > 0 and Fraction(num, den) == exact
    # Python's round() of a Fraction is half-even: the sampler's rounding before this change
    assert div_half_even(num * PREMIUM_SCALE, den) == round(exact * PREMIUM_SCALE)


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**20))
def test_div_half_even_is_round_half_even(n: int, d: int) -> None:
    assert div_half_even(n, d) == round(Fraction(n, d))
    assert div_half_even(2 * n + 1, 2) == round(Fraction(2 * n + 1, 2))  # exact ties go to even


@given(
    st.integers(-(10**15), 10**15),  # an hour's sum of 1e-12 samples
    st.integers(0, 720),
    st.fractions(min_value=-Fraction(1, 100), max_value=Fraction(1, 100), max_denominator=10**10),
    RATE_PARAM,
    st.fractions(min_value=0, max_value=10, max_denominator=1000),
    st.fractions(min_value=0, max_value=Fraction(1, 10), max_denominator=10**6),
    st.integers(-(10**12), 10**12),
    st.integers(1, 10**13),
    st.integers(0, 6),
    st.sampled_from([0, 6, 8, 18]),
)
def test_integer_rate_and_payment_equal_the_fraction_formula(
    total: int,
    count: int,
    interest: Fraction,
    clamp: Fraction,
    mult: Fraction,
    cap: Fraction,
    szi: int,
    oracle: int,
    sz_decimals: int,
    wei_decimals: int,
) -> None:
    total = total if count else 0
    sampler = PremiumSampler(0, total=Fraction(total, PREMIUM_SCALE), count=count)
    avg = Fraction(total, PREMIUM_SCALE * count) if count else Fraction(0)  # not a decimal in general
    params = FundingParams(interest_rate_8h=interest, premium_clamp=clamp, hourly_cap=cap)
    rate = params.rate_of(sampler, multiplier=mult)
    expected = _ref_hourly(avg, interest, clamp, mult, cap)
    assert isinstance(rate.numerator, int) and isinstance(rate.denominator, int) and rate.denominator > 0
    assert rate.fraction() == expected == params.hourly_rate(avg, multiplier=mult)
    # payment: szi x oracle x rate in collateral wei, rounded up (payers pay up, receivers get down)
    exact = Fraction(szi * oracle * 10**wei_decimals, 10 ** (sz_decimals + 8)) * expected
    pay = funding_payment(szi, oracle, rate, sz_decimals, wei_decimals)
    assert pay == math.ceil(exact) == funding_payment(szi, oracle, expected, sz_decimals, wei_decimals)
    if exact.denominator == 1:  # an exact wei amount is paid exactly
        assert pay == exact


def test_integer_rate_of_the_docs_example_and_hip3_interest() -> None:
    # 'Funding' example: P = 1% -> 0.11875% per hour; 720 samples of 0.01 in 1e-12
    s = PremiumSampler(0).sample_scaled_until(10**10, 3_600_000)
    rate = FundingParams().rate_of(s)
    assert s.count == 720 and rate.fraction() == Fraction(11875, 10_000_000)
    assert funding_payment(1_000_000, to_px("10000"), rate, 5, 6) == 118_750_000
    # the HIP-3 case of test_hip3_multiplier_and_interest: P = 0, x 0.5, deployer interest 0.0000456621
    rate = FundingParams().rate_of(
        PremiumSampler(0), multiplier=Fraction(1, 2), interest_rate_8h=Fraction("0.0000456621")
    )
    assert rate.fraction() == Fraction("0.00000285388125")
    with pytest.raises(InvalidAction):
        hourly_rate_of(0, 1, multiplier=11)


@given(st.lists(st.tuples(st.integers(-(10**9), 10**9), st.integers(1, 10**9)), max_size=6))
def test_scaled_samples_equal_rounded_fraction_samples(samples: list[tuple[int, int]]) -> None:
    a = b = PremiumSampler(0)
    for i, (num, den) in enumerate(samples, start=1):
        a = a.sample_until(Fraction(num, den), i * 5_000)
        b = b.sample_scaled_until(div_half_even(num * PREMIUM_SCALE, den), i * 5_000)
    assert a == b and a.average_ratio() in ((0, 1), (a.total.numerator, a.total.denominator * a.count))
    assert Fraction(*b.average_ratio()) == a.average()
    with pytest.raises(ValueError):
        PremiumSampler(0, decimals=None).sample_scaled_until(1, 5_000)
