"""Mark price, EMAs, PM borrow oracle price and HIP-3 clamps (Hyperliquid docs 'Robust price indices',
'Portfolio margin', 'HIP-3: Builder-deployed perpetuals')."""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netclear.errors import InvalidAction
from netclear.fixedpoint import to_px
from netclear.markets.prices import (
    EMA_PRECISION,
    Ema,
    MarkEmas,
    borrow_oracle_price,
    clamp_mark_move,
    clamp_to_day_range,
    hip3_mark_price,
    local_mark_price,
    mark_price,
    mark_price_inputs,
    median,
    weighted_median,
)


def F(text: str) -> Fraction:
    """A decimal price string (may be negative, for EMA samples) as an exact 1e-8 Fraction."""
    if text.startswith("-"):
        return -Fraction(to_px(text[1:]))
    return Fraction(to_px(text))


# ------------------------------------------------------------------ 'Robust price indices' EMA
def test_ema_formula_by_hand() -> None:
    # tau = 150 s. First sample 100 after 3 s: num = 0*d + 100*3000 = 300000, den = 3000 -> ema 100
    e = Ema(150_000).update(100, 3_000)
    assert e.numerator == 300_000 and e.denominator == 3_000 and e.value == 100
    # second sample 200 after 3 s: d = exp(-3000/150000) = exp(-0.02) = 0.980198673306755302220814104225...
    # num = 300000 d + 600000, den = 3000 d + 3000, ema = (100 d + 200) / (d + 1) = 100 + 100 / (1 + d)
    e = e.update(200, 3_000)
    hand = Context(prec=60)
    d = hand.exp(Decimal("-0.02"))
    expected = hand.add(100, hand.divide(100, hand.add(1, d)))  # 150.4999833339999730169664459854419748...
    assert e.value is not None
    assert abs(e.value - expected) < Decimal("1e-30")
    # pinned digits: the 34-digit context makes replays bit-identical on every platform
    assert str(e.value) == "150.4999833339999730169664459854420"
    assert str(e.denominator) == "5940.596019920265906662442312675927"
    assert EMA_PRECISION == 34


def test_ema_empty_and_zero_weight() -> None:
    e = Ema(150_000)
    assert e.value is None
    assert e.update(123, 0).value is None  # a sample with t = 0 has no weight
    with pytest.raises(InvalidAction):
        e.update(1, -1)
    with pytest.raises(ValueError):
        Ema(0)


def test_ema_forgets_old_samples() -> None:
    # 1000 (3 s), then 0 after 1 h, then 50 after 3 s. The 1000 sample now weighs 3000 e^-24 e^-0.02 ~ 1.1e-7
    # ms, so ema ~ (0 * 3.6e6 e^-0.02 + 50 * 3000) / (3.6e6 e^-0.02 + 3000)
    #         = 150000 / 3531715.22... = 0.0424722
    e = Ema(150_000).update(1_000, 3_000).update(0, 3_600_000).update(50, 3_000)
    hand = Context(prec=40)
    d = hand.exp(Decimal("-0.02"))
    expected = hand.divide(150_000, hand.add(hand.multiply(3_600_000, d), 3_000))
    assert e.value is not None
    assert abs(e.value - expected) < Decimal("1e-9")
    assert abs(e.value - Decimal("0.0424722806")) < Decimal("1e-10")


def test_ema_is_immutable_and_deterministic() -> None:
    a = Ema(30_000)
    b = a.update(Fraction(1, 3), 1_234)
    assert a.value is None and b.value is not None
    assert b == Ema(30_000).update(Fraction(1, 3), 1_234)


# ------------------------------------------------------------------ 'Robust price indices' mark price
def emas(premium: str | None = None, local: str | None = None) -> MarkEmas:
    """MarkEmas whose 150 s EMA (mid - oracle) and 30 s EMA (local mark) hold the given values exactly."""
    state = MarkEmas()
    if premium is not None:
        state = MarkEmas(premium=state.premium.update(F(premium), 3_000), local=state.local)
    if local is not None:
        state = MarkEmas(premium=state.premium, local=state.local.update(F(local), 3_000))
    return state


EXTERNAL = [  # Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1 ('Robust price indices')
    (to_px("100.20"), 3),
    (to_px("100.00"), 2),
    (to_px("100.40"), 2),
    (to_px("99.00"), 1),
    (to_px("101.00"), 1),
]


def test_weighted_median_of_external_mids() -> None:
    # sorted copies: 99.00 x1, 100.00 x2, 100.20 x3, 100.40 x2, 101.00 x1 (9 copies): the 5th is 100.20
    assert weighted_median(EXTERNAL) == F("100.20")
    # even total weight: mean of the two middle copies
    assert weighted_median([(1, 1), (3, 1)]) == 2
    assert weighted_median([(1, 2), (3, 1), (5, 1)]) == 2  # copies 1,1,3,5 -> (1+3)/2


def test_mark_three_inputs() -> None:
    # 1. oracle + EMA150(mid - oracle) = 100.00 + 0.10 = 100.10
    # 2. median(bid 100.05, ask 100.15, last 100.30) = 100.15
    # 3. weighted median of external perp mids = 100.20
    # mark = median(100.10, 100.15, 100.20) = 100.15; the 30 s EMA (500) is not an input with three
    state = emas(premium="0.10", local="500")
    inputs = mark_price_inputs(
        to_px("100"), state, to_px("100.05"), to_px("100.15"), to_px("100.30"), EXTERNAL
    )
    assert inputs == (F("100.10"), F("100.15"), F("100.20"))
    mark = mark_price(
        to_px("100"), state, to_px("100.05"), to_px("100.15"), to_px("100.30"), EXTERNAL, sz_decimals=2
    )
    assert mark == to_px("100.15")


def test_mark_two_inputs_adds_30s_ema() -> None:
    # no external mids: inputs are 100.10 (oracle + EMA) and median(100.50, 100.70, 100.60) = 100.60,
    # plus the 30 s EMA of the local mark, 100.40 -> median(100.10, 100.60, 100.40) = 100.40
    state = emas(premium="0.10", local="100.40")
    args = (to_px("100"), state, to_px("100.50"), to_px("100.70"), to_px("100.60"))
    assert mark_price_inputs(*args) == (F("100.10"), F("100.60"), F("100.40"))
    assert mark_price(*args, sz_decimals=2) == to_px("100.40")
    # before the 30 s EMA has a value: median of two = (100.10 + 100.60) / 2 = 100.35
    assert mark_price(to_px("100"), emas(premium="0.10"), *args[2:], sz_decimals=2) == to_px("100.35")
    # the other pair: oracle input + external (no book at all) + 30 s EMA -> median(100.10, 100.20, 100.40)
    assert mark_price(to_px("100"), state, None, None, None, EXTERNAL, sz_decimals=2) == to_px("100.20")


def test_mark_oracle_only() -> None:
    # no book and no external mids: only input 1 exists -> oracle + EMA150(mid - oracle)
    assert mark_price(to_px("100"), emas(premium="0.10"), None, None, None, sz_decimals=2) == to_px("100.10")
    # an empty EMA counts as 0: the mark is the oracle itself
    assert mark_price(to_px("100"), MarkEmas(), None, None, None, sz_decimals=2) == to_px("100")


def test_mark_rounding_to_price_grid() -> None:
    # median of two = (1234.4 + 1234.5) / 2 = 1234.45: 5 significant figures, tie half up -> 1234.5
    state = emas(premium="-0.1")
    assert mark_price(
        to_px("1234.5"), state, None, None, None, [(to_px("1234.5"), 1)], sz_decimals=1
    ) == to_px("1234.5")
    # BTC-like: oracle 104567.4 + EMA 0.2 = 104567.6 -> integer grid above 5 digits -> 104568
    assert mark_price(to_px("104567.4"), emas(premium="0.2"), None, None, None, sz_decimals=5) == to_px(
        "104568"
    )


def test_local_mark_price_with_missing_inputs() -> None:
    assert local_mark_price(to_px("1"), to_px("3"), to_px("10")) == to_px("3")
    assert local_mark_price(to_px("1"), to_px("3"), None) == to_px("2")  # median of the two that exist
    assert local_mark_price(None, None, to_px("5")) == to_px("5")
    assert local_mark_price(None, None, None) is None


def test_mark_emas_update() -> None:
    state = MarkEmas.start(0)
    # at 3 s: mid = (99 + 101) / 2 = 100, oracle 98 -> premium sample 2;
    # local sample median(99, 101, 100) = 100
    state = state.update(3_000, to_px("98"), to_px("99"), to_px("101"), to_px("100"))
    assert state.premium.value == to_px("2") and state.local.value == to_px("100")
    # at 6 s one side is empty: no mid, so the 150 s EMA is skipped; local = median(99, last 100) = 99.5
    later = state.update(6_000, to_px("98"), to_px("99"), None, to_px("100"))
    assert later.premium == state.premium and later.premium_ms == 3_000
    assert later.local_ms == 6_000
    # without start(), the first sample has weight first_dt_ms (0 by default: it only starts the clock)
    assert MarkEmas().update(3_000, to_px("98"), to_px("99"), to_px("101"), None).premium.value is None


def test_median() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == Fraction(5, 2)
    with pytest.raises(ValueError):
        median([])


# ------------------------------------------------------------------ 'Portfolio margin' borrow_oracle_price
def test_borrow_oracle_price_three_inputs() -> None:
    # median(spot 40.00, mark 40.20 * 1, oracle 40.10 * 1) = 40.10
    assert borrow_oracle_price(to_px("40"), to_px("40.20"), to_px("40.10")) == F("40.10")


def test_borrow_oracle_price_usdt_conversion() -> None:
    # USDC oracle 1.001 -> USDT_USDC = 1/1.001: mark 40.20/1.001 = 40.1598..., oracle 40.10/1.001 = 40.0599...
    # median(40.00, 40.1598.., 40.0599..) = 40.10 / 1.001
    px = borrow_oracle_price(to_px("40"), to_px("40.20"), to_px("40.10"), Fraction(1001, 1000))
    assert px == F("40.10") / Fraction(1001, 1000)


def test_borrow_oracle_price_missing_inputs() -> None:
    assert borrow_oracle_price(None, to_px("40.20"), to_px("40.10")) == F("40.15")  # mean of two
    assert borrow_oracle_price(to_px("40"), None, None) == F("40")
    with pytest.raises(InvalidAction) as exc:
        borrow_oracle_price(None, None, None)
    assert exc.value.field == "borrow_oracle_price"
    with pytest.raises(InvalidAction):
        borrow_oracle_price(to_px("40"), None, None, Fraction(0))


# ------------------------------------------------------------------ 'HIP-3: Builder-deployed perpetuals'
# HIP-3 setOracle clamps
def test_clamp_mark_move() -> None:
    prev = to_px("100")
    assert clamp_mark_move(to_px("103"), prev) == F("101")  # +3% -> +1%
    assert clamp_mark_move(to_px("98"), prev) == F("99")  # -2% -> -1%
    assert clamp_mark_move(to_px("100.5"), prev) == F("100.5")


def test_clamp_to_day_range() -> None:
    start = to_px("100")
    assert clamp_to_day_range(to_px("1500"), start) == F("1000")  # 10x the start-of-day value
    assert clamp_to_day_range(to_px("5"), start) == F("10")  # our reading: also >= start / 10
    assert clamp_to_day_range(to_px("250"), start) == F("250")


def test_hip3_mark_price() -> None:
    # median(deployer 100.50, 100.70, local median(100.40, 100.80) = 100.60) = 100.60, within 1% of 100
    kw = {"start_of_day_px": to_px("100"), "sz_decimals": 2}
    assert hip3_mark_price(
        [to_px("100.50"), to_px("100.70")],
        to_px("100.40"),
        to_px("100.80"),
        None,
        prev_mark=to_px("100"),
        **kw,
    ) == to_px("100.60")
    # prev 99.00: the move is clamped to 99.00 * 1.01 = 99.99
    assert hip3_mark_price([to_px("100.50")], None, None, None, prev_mark=to_px("99"), **kw) == to_px("99.99")
    # prev 99.123: bound 100.11423 is off the grid -> rounded toward prev (floor) to 100.11
    assert hip3_mark_price([to_px("100.50")], None, None, None, prev_mark=to_px("99.123"), **kw) == to_px(
        "100.11"
    )
    # falling: prev 100, inputs 90 -> 99.00
    assert hip3_mark_price([to_px("90")], None, None, None, prev_mark=to_px("100"), **kw) == to_px("99")
    # nothing new: the previous mark stands
    assert hip3_mark_price([], None, None, None, prev_mark=to_px("100"), **kw) == to_px("100")
    with pytest.raises(InvalidAction):
        hip3_mark_price([1, 2, 3], None, None, None, prev_mark=None, **kw)


@given(st.integers(1, 10**13), st.integers(10**6, 10**13))  # prices from $0.01: the grid step is < 0.01%
def test_hip3_mark_never_exceeds_the_one_percent_band(new: int, prev: int) -> None:
    mark = hip3_mark_price([new], None, None, None, prev_mark=prev, start_of_day_px=prev, sz_decimals=0)
    clamped = clamp_mark_move(clamp_to_day_range(new, prev), prev)
    if clamped != new:  # a clamped mark stays inside the band
        assert prev * Fraction(99, 100) <= mark <= prev * Fraction(101, 100)
