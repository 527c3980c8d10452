"""Tick/lot rules, order-size limits and SDK market-order rounding (Hyperliquid docs 'Order book')."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import pytest
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]
from hyperliquid.utils.signing import float_to_wire  # type: ignore[import-untyped]
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_SCALE, fmt_px, round_sig, to_px
from netclear.markets.ticks import (
    _to_double,
    check_max_order_value,
    check_min_notional,
    max_order_value,
    max_price_decimals,
    min_notional_ok,
    round_price_like_sdk,
    round_price_to_grid,
    significant_figures,
    slippage_price,
    validate_price,
    validate_size,
)


def ok(px: str, sz_decimals: int, is_spot: bool) -> bool:
    try:
        validate_price(to_px(px), sz_decimals, is_spot)
    except InvalidAction:
        return False
    return True


# ------------------------------------------------------------------ 'Tick and lot size' (tick-and-lot-size)
def test_doc_perp_examples() -> None:
    # "1234.5 is valid but 1234.56 is not (too many significant figures)"
    assert ok("1234.5", 0, False)
    assert not ok("1234.56", 0, False)
    # "0.001234 is valid, but 0.0012345 is not (more than 6 decimal places)"
    assert ok("0.001234", 0, False)
    assert not ok("0.0012345", 0, False)
    # "If szDecimals = 1, 0.01234 is valid but 0.012345 is not (more than 6 - szDecimals decimal places)"
    assert ok("0.01234", 1, False)
    assert not ok("0.012345", 1, False)


def test_doc_spot_example() -> None:
    # "0.0001234 is valid if szDecimals is 0 or 1": 7 decimals <= 8 - szDecimals only for szDecimals <= 1
    assert ok("0.0001234", 0, True)
    assert ok("0.0001234", 1, True)
    assert not ok("0.0001234", 2, True)
    assert not ok("0.0001234", 3, True)


def test_integer_prices_are_always_allowed() -> None:
    # "Integer prices are always allowed ... E.g. 123456 is a valid price even though 12345.6 is not."
    assert ok("123456", 0, False)
    assert not ok("12345.6", 0, False)
    assert ok("123456789", 5, False)  # 9 significant figures, integer
    assert ok("7", 6, False)  # szDecimals 6 leaves 0 decimals; integers still fine
    assert not ok("7.5", 6, False)


def test_max_decimals_per_market_kind() -> None:
    assert max_price_decimals(0, False) == 6
    assert max_price_decimals(5, False) == 1  # BTC: szDecimals 5 -> 1 decimal
    assert max_price_decimals(2, True) == 6  # HYPE/USDC spot: 8 - 2
    assert max_price_decimals(7, False) == 0  # never negative
    assert max_price_decimals(0, False, max_decimals=4) == 4  # OrderRulesConfig override


def test_btc_like_prices() -> None:
    # szDecimals 5 -> 1 decimal; 5 significant figures: 97123.4 has 6 -> invalid, 97123 is an integer -> valid
    assert ok("97123", 5, False)
    assert not ok("97123.4", 5, False)
    assert ok("9712.3", 5, False)
    assert not ok("9712.34", 5, False)  # 2 decimals > 1


def test_validate_price_errors_name_field_and_rule() -> None:
    with pytest.raises(InvalidAction) as exc:
        validate_price(to_px("1234.56"), 0, False)
    assert exc.value.field == "px"
    assert "6 significant figures" in exc.value.rule and "at most 5" in exc.value.rule
    with pytest.raises(InvalidAction) as exc:
        validate_price(to_px("0.0012345"), 0, False, field="orders[0].p")
    assert exc.value.field == "orders[0].p"
    assert "7 decimals" in exc.value.rule and "at most 6" in exc.value.rule
    for bad in (0, -100, True):
        with pytest.raises(InvalidAction):
            validate_price(bad, 0, False)


def test_significant_figures() -> None:
    assert significant_figures(to_px("1234.5")) == 5
    assert significant_figures(to_px("0.001234")) == 4
    assert significant_figures(to_px("2000")) == 1


def test_validate_size() -> None:
    validate_size(1)
    validate_size(10**12)
    for bad in (0, -1):
        with pytest.raises(InvalidAction) as exc:
            validate_size(bad)
        assert exc.value.field == "sz"
    with pytest.raises(InvalidAction):
        validate_size(True)
    with pytest.raises(InvalidAction):
        validate_size(1.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ 'Tick and lot size' and maximum order
# value
def test_min_notional() -> None:
    # $10 minimum: 1 lot (szDecimals 0) at $10.00 is exactly 10 -> allowed; at $9.99 it is not
    assert min_notional_ok(to_px("10"), 1, 0)
    assert not min_notional_ok(to_px("9.99"), 1, 0)
    # 0.0001 BTC (szDecimals 4 -> 1 lot) at $100,000 = $10
    assert min_notional_ok(to_px("100000"), 1, 4)
    assert not min_notional_ok(to_px("99999"), 1, 4)
    with pytest.raises(InvalidAction) as exc:
        check_min_notional(to_px("9.99"), 1, 0)
    assert exc.value.rule == "Order must have minimum value of $10."
    with pytest.raises(InvalidAction) as exc:
        check_min_notional(to_px("0.5"), 19, 0, quote="USDC")  # 9.5 USDC
    assert exc.value.rule == "Order must have minimum value of 10 USDC."


@pytest.mark.parametrize(
    ("max_leverage", "market"),
    [
        (50, 30_000_000),
        (40, 30_000_000),
        (25, 30_000_000),
        (24, 5_000_000),
        (20, 5_000_000),
        (19, 2_000_000),
        (10, 2_000_000),
        (9, 500_000),
        (3, 500_000),
        (1, 500_000),
    ],
)
def test_max_order_value(max_leverage: int, market: int) -> None:
    assert max_order_value(max_leverage, is_market=True) == market
    assert max_order_value(max_leverage, is_market=False) == 10 * market


def test_check_max_order_value_boundary() -> None:
    # 3x asset, market max $500,000: 5,000 lots (szDecimals 0) at $100 = $500,000 passes, one more lot fails
    check_max_order_value(to_px("100"), 5_000, 0, 3, True)
    with pytest.raises(InvalidAction) as exc:
        check_max_order_value(to_px("100"), 5_001, 0, 3, True)
    assert "$500,000" in exc.value.rule
    check_max_order_value(to_px("100"), 50_000, 0, 3, False)  # limit: 10x


# ------------------------------------------------------------------ grid rounding
def test_round_price_to_grid_examples() -> None:
    # 1234.45 -> 5 significant figures (step 0.1); the tie rounds half up -> 1234.5 (half-even: 1234.4)
    assert round_price_to_grid(Fraction(to_px("1234.45")), 0, False) == to_px("1234.5")
    # 12345.65 has 5 integer digits, so the grid is whole numbers -> 12346
    assert round_price_to_grid(Fraction(to_px("12345.65")), 0, False) == to_px("12346")
    # above 5 integer digits the grid is whole numbers: 104567.5 -> 104568
    assert round_price_to_grid(Fraction(to_px("104567.5")), 5, False) == to_px("104568")
    # decimal limit binds first: szDecimals 4 -> 2 decimals, 1.23456 -> 1.23
    assert round_price_to_grid(Fraction(to_px("1.23456")), 4, False) == to_px("1.23")
    # floor / ceil
    assert round_price_to_grid(Fraction(to_px("100.119")), 2, False, rounding="floor") == to_px("100.11")
    assert round_price_to_grid(Fraction(to_px("100.111")), 2, False, rounding="ceil") == to_px("100.12")
    # a fractional 1e-8 input (median of two) rounds as a fraction
    assert round_price_to_grid(Fraction(2 * to_px("0.1") + 1, 2), 0, False) == to_px("0.1")


@given(st.integers(min_value=1, max_value=10**17), st.integers(0, 8), st.booleans())
def test_grid_rounding_matches_round_sig_and_validates(px: int, sz_decimals: int, is_spot: bool) -> None:
    decimals = max_price_decimals(sz_decimals, is_spot)
    out = round_price_to_grid(px, sz_decimals, is_spot)
    assert out == round_sig(px, 5, decimals)  # same grid and tie rule as netclear.fixedpoint.round_sig
    if out > 0:
        validate_price(out, sz_decimals, is_spot)


# ------------------------------------------------------------------ SDK parity (hyperliquid-python-sdk
# 0.24.0)
def sdk_slippage_px(mid: int, is_buy: bool, slippage: float, sz_decimals: int, is_spot: bool) -> str:
    """The SDK's wire price for a market order: its own ``_slippage_price``, then ``float_to_wire``."""
    asset = 10_000 if is_spot else 0
    info = SimpleNamespace(
        name_to_coin={"X": "X"}, coin_to_asset={"X": asset}, asset_to_sz_decimals={asset: sz_decimals}
    )
    px = float(fmt_px(mid))  # the SDK parses allMids strings with float()
    sdk_px = Exchange._slippage_price(SimpleNamespace(info=info), "X", is_buy, slippage, px)
    return str(float_to_wire(sdk_px))


def sdk_round_px(px: int, sz_decimals: int, is_spot: bool) -> str:
    value = float(fmt_px(px))
    return str(float_to_wire(round(float(f"{value:.5g}"), (8 if is_spot else 6) - sz_decimals)))


def wire(px: int) -> str:
    return "0" if px == 0 else fmt_px(px)


def test_slippage_price_examples() -> None:
    # BTC (szDecimals 5) mid 97,000, 5%: 97000 * 1.05 = 101850 -> 5 sig figs -> 101850, 1 decimal allowed
    assert slippage_price(to_px("97000"), True, Fraction(1, 20), 5, False) == to_px("101850")
    assert slippage_price(to_px("97000"), False, Fraction(1, 20), 5, False) == to_px("92150")
    # ETH (szDecimals 4) mid 3456.78 buy: 3629.619 -> 5 sig figs 3629.6 -> 2 decimals: 3629.6
    assert slippage_price(to_px("3456.78"), True, Fraction(1, 20), 4, False) == to_px("3629.6")
    # the float product matters: 100.03 * 0.95 = 95.0285 exactly, a tie at 5 sig figs, but the SDK's double
    # product is 95.02849999999999 so it sends 95.028 (exact half-up rounding would give 95.029)
    assert slippage_price(to_px("100.03"), False, Fraction(1, 20), 0, False) == to_px("95.028")
    assert sdk_slippage_px(to_px("100.03"), False, 0.05, 0, False) == "95.028"


def test_round_price_like_sdk_examples() -> None:
    # the SDK rounds integers to 5 significant figures too: 123456 -> 123460 (still a valid integer price)
    assert round_price_like_sdk(to_px("123456"), 0, False) == to_px("123460")
    # spot with szDecimals 2: 6 decimals; 0.00123456 -> 5 sig figs 0.0012346 -> 6 decimals 0.001235
    assert round_price_like_sdk(to_px("0.00123456"), 2, True) == to_px("0.001235")
    assert sdk_round_px(to_px("0.00123456"), 2, True) == "0.001235"


mids = st.one_of(
    st.integers(min_value=1, max_value=10**15),  # any 1e-8 price up to $10M
    st.builds(lambda m, e: m * 10**e, st.integers(1, 99_999), st.integers(0, 10)),  # short mantissas: ties
)
slippages = st.one_of(
    st.sampled_from([0.05, 0.01, 0.1, 0.03, 0.005, 0.0, 0.2, 0.001]),
    st.floats(min_value=0.0, max_value=0.5, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=3000, deadline=None)
@given(mids, st.booleans(), slippages, st.integers(0, 6), st.booleans())
def test_slippage_price_matches_sdk(
    mid: int, is_buy: bool, slip: float, sz_decimals: int, is_spot: bool
) -> None:
    try:
        expected = sdk_slippage_px(mid, is_buy, slip, sz_decimals, is_spot)
    except ValueError:  # float_to_wire refuses; nothing to compare
        assume(False)
    ours = slippage_price(mid, is_buy, Fraction(slip), sz_decimals, is_spot)
    assert wire(ours) == expected


@settings(max_examples=2000, deadline=None)
@given(mids, st.integers(0, 8), st.booleans())
def test_round_price_like_sdk_matches_sdk(px: int, sz_decimals: int, is_spot: bool) -> None:
    assume(is_spot or sz_decimals <= 6)
    try:
        expected = sdk_round_px(px, sz_decimals, is_spot)
    except ValueError:
        assume(False)
    assert wire(round_price_like_sdk(px, sz_decimals, is_spot)) == expected


@given(st.fractions(min_value=Fraction(1, 10**12), max_value=Fraction(10**15)))
def test_to_double_is_correctly_rounded(x: Fraction) -> None:
    # Python's float(Fraction) is correctly rounded (round-half-even), so it is an independent reference
    assert _to_double(x) == Fraction(float(x))
    assert _to_double(-x) == -Fraction(float(x))


def test_to_double_subnormals_and_ties() -> None:
    assert _to_double(Fraction(5e-324)) == Fraction(5e-324)  # smallest subnormal
    assert _to_double(Fraction(1, 2**1076)) == 0  # below half the smallest subnormal
    # 2**53 + 1 is halfway between two doubles; ties go to the even significand 2**53
    assert _to_double(Fraction(2**53 + 1)) == 2**53
    assert _to_double(Fraction(2**53 + 3)) == 2**53 + 4


def test_slippage_price_rejects_bad_input() -> None:
    with pytest.raises(InvalidAction):
        slippage_price(0, True, Fraction(1, 20), 0, False)
    with pytest.raises(InvalidAction):
        slippage_price(PX_SCALE, True, Fraction(3, 2), 0, False)
