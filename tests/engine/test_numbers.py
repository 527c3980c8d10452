"""The one number grammar (issue 10 defects 1, 2, 8), in process.

Hyperliquid's wire writes numbers as ASCII decimal strings (the SDK's ``float_to_wire`` formats a
normalized ``Decimal`` with ``f"{x:f}"``: digits, an optional point, an optional minus sign). Every
path (wire, operator API, config, CLI files) parses through ``fixedpoint.parse_decimal``; a number
outside the grammar or the bounds is an ``InvalidAmount`` naming the field, decided before any
arithmetic, so a hostile number costs what a short one does.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.errors import InvalidAmount
from netclear.fixedpoint import MAX_UNITS, parse_decimal, to_units

WIRE = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)

hostile = st.one_of(
    st.text(max_size=50),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-9, 9), st.integers(-(10**7), 10**7)),
    st.sampled_from(["1e999990", "\u0661\u0662", "\uff11", " 1", "1 ", "1_0", "+1", ".5", "5.", "NaN", "-0"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=400, deadline=1000, database=None)
@given(text=hostile, decimals=st.integers(0, 18))
def test_every_string_is_a_wire_number_or_an_invalid_amount(text: str, decimals: int) -> None:
    try:
        units = to_units(text, decimals, field="s", allow_negative=True)
    except InvalidAmount as exc:
        assert exc.field == "s"
        return
    assert WIRE.fullmatch(text), text
    assert abs(units) <= MAX_UNITS
    assert Decimal(units).scaleb(-decimals) == Decimal(text)  # exact, nothing rounded


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (Decimal("1e999990"), "too large"),
        (Decimal("-1e999990"), "too large"),
        (Decimal("1e-999990"), "too many decimals"),
        (Decimal("NaN"), "must be finite"),
        (10**400, "too large"),
        (1e308, "too large"),
        ("1" * 41, "at most 40 characters"),
    ],
)
def test_decimals_and_ints_are_bounded_before_arithmetic(value: object, rule: str) -> None:
    with pytest.raises(InvalidAmount, match=rule):
        parse_decimal(value, field="amount")


def test_units_are_exact_past_the_decimal_context_precision() -> None:
    """31 significant digits: ``Decimal.scaleb`` rounds to 28 (the default context) and used to
    accept this as a whole number of lots; integer arithmetic refuses its 1e-18 remainder."""
    with pytest.raises(InvalidAmount, match="more than 8 decimals"):
        to_units("1000000000000.000000000000000001", 8, field="s")
    assert to_units("92233720368.54775807", 8, field="s") == MAX_UNITS
    with pytest.raises(InvalidAmount, match="exceeds the largest amount"):
        to_units("92233720368.54775808", 8, field="s")


def test_a_deposit_of_1e309_is_refused_and_changes_nothing() -> None:
    """Defect 2: ``1e309`` was accepted (the account could then send 1e300 USDC)."""
    ex = Exchange("hyperliquid")
    before = ex.state_hash()
    for amount in (Decimal("1e309"), Decimal("1e5000"), "1e309"):
        with pytest.raises(InvalidAmount):
            ex.apply(A.Deposit(user="0x" + "11" * 20, amount=amount), at=0)  # type: ignore[arg-type]
    assert ex.state_hash() == before


def test_deposits_stop_at_the_token_supply_limit() -> None:
    """Defect 2: the operator's deposits are bounded in total too (the supply limit is 2^63 - 1 units,
    what HyperCore's 64-bit ``wei`` can count); USDC has 8 wei decimals in the preset."""
    ex = Exchange("hyperliquid")
    user = "0x" + "22" * 20
    ex.apply(A.Deposit(user=user, amount=Decimal("92233720368.54775807")), at=0)  # MAX_UNITS wei
    before = ex.state_hash()
    with pytest.raises(InvalidAmount, match="supply limit"):
        ex.apply(A.Deposit(user="0x" + "33" * 20, amount=Decimal("0.00000001")), at=0)
    assert ex.state_hash() == before


def _reference_units(value: Decimal, decimals: int) -> int:
    """The conversion written digit by digit from the grammar's rules (docs/api.md "Numbers"): at most
    40 significant digits, 19 before the point, 18 after it (trailing zeros do not count), then exact
    units of ``10**-decimals`` within a signed 64-bit count."""
    if not value.is_finite():
        raise InvalidAmount("x", "must be finite")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)))
    if len(digits) > 40:
        raise InvalidAmount("x", "at most 40 significant digits")
    if coefficient and value.adjusted() >= 19:
        raise InvalidAmount("x", "too large")
    kept = "".join(map(str, digits)).rstrip("0")
    if coefficient and exponent + (len(digits) - len(kept)) < -18:
        raise InvalidAmount("x", "too many decimals")
    shift = exponent + decimals
    if shift >= 0:
        units = coefficient * 10**shift
    else:
        units, rest = divmod(coefficient, 10**-shift)
        if rest:
            raise InvalidAmount("x", "has more than the unit's decimals")
    units = -units if sign else units
    if abs(units) > MAX_UNITS:
        raise InvalidAmount("x", "exceeds the largest amount")
    return units


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.builds(lambda c, e: Decimal(c).scaleb(e), st.integers(-(10**45), 10**45), st.integers(-40, 40)),
    ),
    st.integers(0, 18),
)
def test_units_equal_the_digit_by_digit_reference(value: Decimal, decimals: int) -> None:
    """``to_units`` converts through one exact integer ratio; it must agree with the digit-by-digit
    reading of the same rules: the same units, or a refusal for the same rule."""
    try:
        expected: int | str = _reference_units(value, decimals)
    except InvalidAmount as e:
        expected = _rule(str(e))
    try:
        got: int | str = to_units(value, decimals, field="x", allow_negative=True)
    except InvalidAmount as e:
        got = _rule(str(e))
    assert got == expected


def _rule(message: str) -> str:
    for rule in ("finite", "significant digits", "too large", "too many decimals", "exceeds", "decimals"):
        if rule in message:
            return rule
    raise AssertionError(message)


@settings(max_examples=500, deadline=None, database=None)
@given(fills=st.lists(st.tuples(st.integers(1, 10**12), st.integers(1, 10**16)), min_size=1, max_size=6))
def test_average_fill_price_is_the_exact_ratio_rounded_half_even(fills: list[tuple[int, int]]) -> None:
    """``avgPx`` of a filled status: Σ px x sz / Σ sz at 8 decimals, rounded half to even, on integers
    (the earlier Fraction -> Decimal formatting, which it replaced, as the reference)."""
    from fractions import Fraction

    from netclear.engine.handlers.matching import average_px
    from netclear.fixedpoint import PX_SCALE, fmt_decimal, fmt_px

    filled = sum(sz for sz, _ in fills)
    quote = sum(sz * px for sz, px in fills)
    exact = Fraction(quote, filled)
    got = average_px(quote, filled)
    assert abs(Fraction(got) - exact) <= Fraction(1, 2)
    if abs(Fraction(got) - exact) == Fraction(1, 2):
        assert got % 2 == 0
    if quote < 10**24:  # inside the 28 significant digits the Decimal reference divides with
        assert fmt_px(got) == fmt_decimal(exact / PX_SCALE, 8)


def test_average_fill_price_ties_go_to_even() -> None:
    from netclear.engine.handlers.matching import average_px

    assert average_px(5, 2) == 2  # 2.5 -> 2
    assert average_px(7, 2) == 4  # 3.5 -> 4
    assert average_px(10, 4) == 2  # 2.5 -> 2
    assert average_px(2 * 10_000_000_000_000 + 1, 2) == 10_000_000_000_000  # half a unit above 1e13 -> even
