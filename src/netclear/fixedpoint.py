"""Exact fixed-point money.

Every ledger amount is a Python ``int`` counted in a declared unit:

* token amounts in the token's wei (``10**-weiDecimals``), like HyperCore's ``wei`` integers;
* perp sizes in lots of ``10**-szDecimals`` of the asset;
* prices in ``10**-PX_DECIMALS`` (1e-8), enough for perp prices (``6 - szDecimals`` decimals)
  and spot prices (``8 - szDecimals`` decimals), see Hyperliquid docs 'Tick and lot size';
* rates (fees, LTV, thresholds) as :class:`fractions.Fraction` taken from decimal config strings.

``Decimal`` appears only at the edges: parsing wire/config strings and formatting views. Rounding is
always explicit: callers choose :func:`div_floor` or :func:`div_ceil` (toward the house, DESIGN rule 3).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from netclear.errors import InvalidAmount

PX_DECIMALS = 8
PX_SCALE = 10**PX_DECIMALS

Number = Decimal | str | int | Fraction


MAX_NUMBER_CHARS = 40
"""Longest number string accepted (``"-9223372036854775807.123456789012345678"`` is 39)."""
MAX_INT_DIGITS = 19
"""Digits before the point: a 64-bit unit count (HyperCore's ``wei`` and sizes are u64) has 19."""
MAX_FRACTION_DIGITS = 18
"""Digits after the point: no unit here is finer than 1e-18 (the largest ``weiDecimals``)."""
_MAX_FRACTION_DEN = 10**MAX_FRACTION_DIGITS
MAX_UNITS = 2**63 - 1
"""The largest amount of any unit (wei, lots, 1e-8 price units): a signed 64-bit integer, like
HyperCore's u64 ``wei`` and SQLite's INTEGER; larger values are refused, never stored."""

_WIRE_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
"""Hyperliquid's wire grammar for numbers: ASCII digits, an optional point, an optional minus sign
(the SDK's ``float_to_wire`` writes ``f"{x:f}"`` of a normalized Decimal: no exponent, no spaces,
no underscores, no other scripts' digits)."""


def _check_magnitude(d: Decimal, value: object, field: str) -> Decimal:
    """Bound a finite ``Decimal`` by its digits and exponent alone (before any arithmetic). ``d`` has at
    most ``k`` decimals exactly when its reduced denominator divides ``10**k``."""
    if not d.is_finite():
        raise InvalidAmount(field, f"must be finite, got {value!r}")
    if len(d.as_tuple().digits) > MAX_NUMBER_CHARS:
        raise InvalidAmount(field, f"at most {MAX_NUMBER_CHARS} significant digits")
    if d:
        if d.adjusted() >= MAX_INT_DIGITS:
            raise InvalidAmount(field, f"too large: at most {MAX_INT_DIGITS} digits before the point")
        if _MAX_FRACTION_DEN % d.as_integer_ratio()[1]:
            raise InvalidAmount(field, f"too many decimals: at most {MAX_FRACTION_DIGITS}")
    return d


def parse_decimal(value: object, *, field: str) -> Decimal:
    """Parse a wire/config number into a bounded, finite ``Decimal`` or raise naming ``field``.

    A string must match the wire grammar ``-?[0-9]+(.[0-9]+)?`` and be at most
    :data:`MAX_NUMBER_CHARS` long; every value is bounded to :data:`MAX_INT_DIGITS` integer digits and
    :data:`MAX_FRACTION_DIGITS` decimals. The checks run before any arithmetic, so a hostile number
    (``"1e999990"``) costs no more than a short one (docs/api.md "Numbers").
    """
    if isinstance(value, bool):
        raise InvalidAmount(field, f"expected a decimal string, got boolean {value!r}")
    if isinstance(value, Decimal):
        return _check_magnitude(value, value, field)
    if isinstance(value, int):
        if abs(value) >= 10**MAX_INT_DIGITS:
            raise InvalidAmount(field, f"too large: at most {MAX_INT_DIGITS} digits before the point")
        return Decimal(value)
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS:
            raise InvalidAmount(field, f"number strings are at most {MAX_NUMBER_CHARS} characters")
        if _WIRE_NUMBER.fullmatch(value) is None:
            raise InvalidAmount(
                field, f'not a decimal number: {value!r} (ASCII digits with an optional point, like "0.01")'
            )
        try:
            d = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the grammar admits only valid decimals
            raise InvalidAmount(field, f"not a decimal number: {value!r}") from None
        return _check_magnitude(d, value, field)
    if isinstance(value, float):
        # Floats are accepted only when their shortest repr is exact enough (SDK float_to_wire style).
        return _check_magnitude(Decimal(repr(value)), value, field)
    if isinstance(value, Fraction):
        if 10**40 % value.denominator:
            raise InvalidAmount(field, f"{value} has no finite decimal expansion")
        if abs(value) >= 10**MAX_INT_DIGITS:
            raise InvalidAmount(field, f"too large: at most {MAX_INT_DIGITS} digits before the point")
        return Decimal(value.numerator) / Decimal(value.denominator)
    raise InvalidAmount(field, f"expected a decimal string, got {type(value).__name__}")


def to_units(value: object, decimals: int, *, field: str, allow_negative: bool = False) -> int:
    """Convert a decimal amount to integer units of ``10**-decimals`` exactly.

    Raises :class:`InvalidAmount` naming ``field`` when the value has more decimals than the unit
    allows (nothing is silently rounded) or is negative when that is not allowed. The bounds of
    :func:`parse_decimal` are checked first, on the digits and exponent alone; the conversion is one
    exact integer ratio (``Decimal.as_integer_ratio``), since ``d`` has at most ``k`` decimals exactly when
    its reduced denominator divides ``10**k``.
    """
    # The common case, a wire Decimal, without building its digit tuple: ``str`` lists every digit of the
    # coefficient, so a string of at most MAX_NUMBER_CHARS bounds the digit count; anything else
    # (non-finite, too large, too long) takes the general path below for its exact error.
    if (
        type(value) is Decimal
        and 0 <= decimals <= MAX_FRACTION_DIGITS
        and value.is_finite()
        and len(str(value)) <= MAX_NUMBER_CHARS
        and (not value or value.adjusted() < MAX_INT_DIGITS)
    ):
        if value and value.adjusted() < -MAX_FRACTION_DIGITS:
            raise InvalidAmount(field, f"too many decimals: at most {MAX_FRACTION_DIGITS}")
        num, den = value.as_integer_ratio()
        units, rest = divmod(num * _POW10[decimals], den)
        if rest:
            if _MAX_FRACTION_DEN % den:
                raise InvalidAmount(field, f"too many decimals: at most {MAX_FRACTION_DIGITS}")
            raise InvalidAmount(field, f"{value} has more than {decimals} decimals")
        return _bounded(units, value, decimals, field, allow_negative)
    d = _check_magnitude(value, value, field) if type(value) is Decimal else parse_decimal(value, field=field)
    num, den = d.as_integer_ratio()
    scale: int = 10**decimals
    units, rest = divmod(num * scale, den)
    if rest:
        raise InvalidAmount(field, f"{value} has more than {decimals} decimals")
    return _bounded(units, value, decimals, field, allow_negative)


_POW10 = tuple(10**k for k in range(MAX_FRACTION_DIGITS + 1))


def _bounded(units: int, value: object, decimals: int, field: str, allow_negative: bool) -> int:
    if units > MAX_UNITS or units < -MAX_UNITS:
        raise InvalidAmount(field, f"{value} exceeds the largest amount ({MAX_UNITS} units of 1e-{decimals})")
    if units < 0 and not allow_negative:
        raise InvalidAmount(field, f"must not be negative, got {value}")
    return units


def to_px(value: object, *, field: str = "px") -> int:
    """Parse a price into 1e-8 units; prices must be positive."""
    units = to_units(value, PX_DECIMALS, field=field)
    if units <= 0:
        raise InvalidAmount(field, f"price must be positive, got {value}")
    return units


def to_fraction(value: object, *, field: str) -> Fraction:
    """Parse a decimal string (rate, ratio) into an exact ``Fraction``."""
    d = parse_decimal(value, field=field)
    return Fraction(d)


def from_units(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def fmt_units(units: int, decimals: int) -> str:
    """Format integer units as a Hyperliquid-style decimal string ("0.0", "13104.514502", "2000").

    On ``int`` units this is integer arithmetic and string slicing (the same text as ``format`` of the
    ``Decimal``, trailing zeros and a bare point dropped); other numbers go through ``Decimal``."""
    if units == 0:
        return "0.0"
    if type(units) is int and 0 < decimals <= MAX_FRACTION_DIGITS:
        whole, frac = divmod(units if units > 0 else -units, _POW10[decimals])
        sign = "" if units > 0 else "-"
        if not frac:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
    d = from_units(units, decimals)
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_px(px_units: int) -> str:
    return fmt_units(px_units, PX_DECIMALS)


def fmt_decimal(value: Decimal | Fraction, places: int = 10) -> str:
    """Format a ratio or rate rounded half-even to ``places`` decimals, trailing zeros dropped."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    q = value.quantize(Decimal(1).scaleb(-places))
    if q == 0:
        return "0.0"
    text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def div_floor(a: int, b: int) -> int:
    """Floor division (toward -infinity); ``b`` must be positive."""
    return a // b


def div_ceil(a: int, b: int) -> int:
    """Ceiling division (toward +infinity); ``b`` must be positive."""
    return -((-a) // b)


def frac_floor(x: Fraction) -> int:
    return x.numerator // x.denominator


def frac_ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def notional(sz: int, px: int, sz_decimals: int, wei_decimals: int, *, ceil: bool = False) -> int:
    """Value of ``sz`` lots at price ``px`` in quote wei: ``sz * px`` re-scaled, rounded explicitly.

    With prices on Hyperliquid's tick grid the product is exact (perps: at most 6 decimals, spot: at
    most 8), so the rounding direction only matters for off-grid marks.
    """
    num = sz * px * 10**wei_decimals
    den = 10 ** (sz_decimals + PX_DECIMALS)
    return div_ceil(num, den) if ceil else num // den


def round_sig(px: int, sig_figs: int, max_decimals: int) -> int:
    """Round a 1e-8 price to ``sig_figs`` significant figures and ``max_decimals`` decimals (half up).

    Integer prices are always allowed (Hyperliquid docs 'Order book'), so an integer result is kept whole.
    """
    if px <= 0:
        return px
    # decimals allowed by the decimal limit
    step = 10 ** (PX_DECIMALS - max_decimals) if max_decimals < PX_DECIMALS else 1
    # decimals allowed by significant figures: the integer part takes digits first
    int_digits = len(str(px // PX_SCALE)) if px >= PX_SCALE else 0
    if int_digits >= sig_figs:
        sig_step = PX_SCALE  # whole number allowed regardless of sig figs
    elif int_digits > 0:
        sig_step = 10 ** (PX_DECIMALS - (sig_figs - int_digits))
    else:
        # leading zeros after the point do not count
        digits = len(str(px))  # digits of the fractional part that are significant
        sig_step = 10 ** max(digits - sig_figs, 0)
    step = int(max(step, sig_step))
    return ((px + step // 2) // step) * step
