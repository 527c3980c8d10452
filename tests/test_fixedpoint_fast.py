"""The integer fast paths of fixedpoint.py give exactly what the general ``Decimal`` paths give: the same
units or the same error (type and message) from :func:`to_units`, the same text from :func:`fmt_units`.

The references below are the general paths written out (fixedpoint.py before the fast paths).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netclear import fixedpoint as fp
from netclear.errors import InvalidAmount


def _to_units_reference(value: Decimal, decimals: int, field: str, allow_negative: bool) -> int:
    d = fp._check_magnitude(value, value, field)
    num, den = d.as_integer_ratio()
    units, rest = divmod(num * 10**decimals, den)
    if rest:
        raise InvalidAmount(field, f"{value} has more than {decimals} decimals")
    if units > fp.MAX_UNITS or units < -fp.MAX_UNITS:
        raise InvalidAmount(
            field, f"{value} exceeds the largest amount ({fp.MAX_UNITS} units of 1e-{decimals})"
        )
    if units < 0 and not allow_negative:
        raise InvalidAmount(field, f"must not be negative, got {value}")
    return units


def _fmt_reference(units: int, decimals: int) -> str:
    if units == 0:
        return "0.0"
    text = format(Decimal(units).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except InvalidAmount as exc:
        return "error", str(exc)


DECIMALS = st.decimals(allow_nan=True, allow_infinity=True) | st.builds(
    lambda digits, exp, neg: Decimal((int(neg), tuple(int(c) for c in digits), exp)),
    st.text("0123456789", min_size=1, max_size=45),
    st.integers(-45, 25),
    st.booleans(),
)


@settings(max_examples=3000, deadline=None)
@given(value=DECIMALS, decimals=st.integers(-3, 20), allow_negative=st.booleans())
@example(Decimal("1E-19"), 8, False)
@example(Decimal("0E-999999"), 8, False)
@example(Decimal("1E+19"), 0, False)
@example(Decimal("92233720368.54775808"), 8, True)
@example(Decimal("1." + "0" * 45), 5, False)
@example(Decimal("-0.001"), 5, False)
def test_to_units_matches_the_general_path(value: Decimal, decimals: int, allow_negative: bool) -> None:
    if value.is_snan():
        return  # a signalling NaN raises from Decimal itself on either path
    expected = _outcome(_to_units_reference, value, decimals, "s", allow_negative)
    got = _outcome(lambda: fp.to_units(value, decimals, field="s", allow_negative=allow_negative))
    assert got == expected


@settings(max_examples=3000, deadline=None)
@given(
    units=st.integers(-(10**22), 10**22)
    | st.integers(-1000, 1000)
    | st.builds(lambda a, k: a * 10**k, st.integers(-99, 99), st.integers(0, 20)),
    decimals=st.integers(-3, 20),
)
def test_fmt_units_matches_the_decimal_text(units: int, decimals: int) -> None:
    assert fp.fmt_units(units, decimals) == _fmt_reference(units, decimals)
