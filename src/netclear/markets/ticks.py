"""Tick, lot and order-size rules, and the SDK's market-order price rounding.

Source: Hyperliquid docs 'Tick and lot size', "Minimums", "Maximum order value", "Market orders
(SDK)"; hyperliquid-python-sdk 0.24.0 (``float_to_wire`` and the SDK's slippage price). Docs:
docs/rules/ticks.md.

Units: prices are ``int`` in ``10**-8`` (:data:`~netclear.fixedpoint.PX_SCALE`), sizes are ``int`` lots of
``10**-szDecimals``, USD limits are ``int`` whole dollars. Nothing here uses binary floats: the SDK's float
arithmetic is reproduced exactly with integer arithmetic (IEEE-754 binary64, round-to-nearest-even).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Literal

from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE, fmt_px

PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
PRICE_SIG_FIGS = 5
MIN_ORDER_NOTIONAL = Fraction(10)  # "Order must have minimum value of $10." ('Tick and lot size')
LIMIT_ORDER_VALUE_FACTOR = 10  # limit orders: 10 x the market-order maximum ('Contract specifications')

Rounding = Literal["half_up", "floor", "ceil"]


# ---------------------------------------------------------------------------------------------- grid
def max_price_decimals(sz_decimals: int, is_spot: bool, *, max_decimals: int | None = None) -> int:
    """``MAX_DECIMALS - szDecimals`` (6 for perps, 8 for spot), never negative ('Tick and lot size')."""
    base = max_decimals if max_decimals is not None else (SPOT_MAX_DECIMALS if is_spot else PERP_MAX_DECIMALS)
    return max(0, base - sz_decimals)


def significant_figures(px: int) -> int:
    """Significant figures of a positive 1e-8 price, trailing zeros not counted (``1234.5`` -> 5)."""
    if px <= 0:
        raise ValueError("price must be positive")
    digits = str(px).rstrip("0")
    return len(digits)


def price_decimals(px: int) -> int:
    """Decimal places a 1e-8 price needs (``0.001234`` -> 6, ``2000`` -> 0)."""
    frac = px % PX_SCALE
    if frac == 0:
        return 0
    return PX_DECIMALS - (len(str(frac)) - len(str(frac).rstrip("0")))


def price_step(
    px: Fraction | int,
    sz_decimals: int,
    is_spot: bool,
    *,
    sig_figs: int = PRICE_SIG_FIGS,
    max_decimals: int | None = None,
) -> int:
    """Tick size (in 1e-8) of the price grid at ``px``: the coarser of the decimal and sig-fig limits.

    Where ``sig_figs`` would need a step above 1 (prices of more than ``sig_figs`` integer digits) the step is
    1 whole unit, because "integer prices are always allowed" ('Tick and lot size').
    """
    decimals = max_price_decimals(sz_decimals, is_spot, max_decimals=max_decimals)
    dec_step = 10 ** (PX_DECIMALS - decimals) if decimals < PX_DECIMALS else 1
    whole = int(px)  # floor for positive values
    if whole < 1:
        return dec_step
    exponent = len(str(whole)) - 1  # floor(log10(px)) in 1e-8 units
    sig_step = 10 ** max(exponent - sig_figs + 1, 0)
    step: int = max(dec_step, min(sig_step, PX_SCALE))
    return step


def round_price_to_grid(
    px: Fraction | int,
    sz_decimals: int,
    is_spot: bool,
    *,
    rounding: Rounding = "half_up",
    sig_figs: int = PRICE_SIG_FIGS,
    max_decimals: int | None = None,
) -> int:
    """Round an exact price (1e-8 units, may be fractional) onto the asset's valid price grid.

    ``half_up`` rounds ties away from zero, like :func:`netclear.fixedpoint.round_sig`; ``floor`` and ``ceil``
    exist for clamps that must not overshoot. The result is a price that :func:`validate_price` accepts
    (or 0 when ``px`` is below half a tick).
    """
    x = Fraction(px)
    if x <= 0:
        raise InvalidAction("px", f"price must be positive, got {x}")
    step = price_step(x, sz_decimals, is_spot, sig_figs=sig_figs, max_decimals=max_decimals)
    q = x / step
    if rounding == "floor":
        n = q.numerator // q.denominator
    elif rounding == "ceil":
        n = -((-q.numerator) // q.denominator)
    else:
        twice = 2 * q
        n = (twice.numerator // twice.denominator + 1) // 2
    return n * step


# ---------------------------------------------------------------------------------------------- validation
def validate_price(
    px: int,
    sz_decimals: int,
    is_spot: bool,
    sig_figs: int = PRICE_SIG_FIGS,
    *,
    max_decimals: int | None = None,
    field: str = "px",
) -> None:
    """Reject a limit price off Hyperliquid's tick grid ('Tick and lot size').

    A price may have at most ``sig_figs`` (5) significant figures and at most ``MAX_DECIMALS - szDecimals``
    decimals (``MAX_DECIMALS`` 6 for perps, 8 for spot). "Integer prices are always allowed, regardless of
    the number of significant figures." Raises :class:`InvalidAction` naming ``field`` and the rule.
    """
    if isinstance(px, bool) or not isinstance(px, int):
        raise InvalidAction(field, f"price must be an integer count of 1e-8, got {type(px).__name__}")
    if px <= 0:
        raise InvalidAction(field, f"price must be positive, got {fmt_px(px)}")
    allowed = max_price_decimals(sz_decimals, is_spot, max_decimals=max_decimals)
    decimals = price_decimals(px)
    if decimals > allowed:
        kind = "spot" if is_spot else "perp"
        raise InvalidAction(
            field,
            f"price {fmt_px(px)} has {decimals} decimals; a {kind} asset with szDecimals {sz_decimals} "
            f"allows at most {allowed} (MAX_DECIMALS - szDecimals)",
        )
    if decimals > 0 and significant_figures(px) > sig_figs:
        raise InvalidAction(
            field,
            f"price {fmt_px(px)} has {significant_figures(px)} significant figures; at most {sig_figs} are "
            "allowed unless the price is an integer",
        )


def validate_size(sz_lots: int, *, field: str = "sz") -> None:
    """A size is a positive whole number of lots of ``10**-szDecimals`` ('Tick and lot size').

    Wire strings are converted to lots with :func:`netclear.fixedpoint.to_units`, which already refuses more
    than ``szDecimals`` decimals; this checks the lot count itself.
    """
    if isinstance(sz_lots, bool) or not isinstance(sz_lots, int):
        raise InvalidAction(field, f"size must be an integer count of lots, got {type(sz_lots).__name__}")
    if sz_lots <= 0:
        raise InvalidAction(field, f"size must be positive, got {sz_lots} lots")


def order_value(px: int, sz_lots: int, sz_decimals: int) -> Fraction:
    """Exact quote value ``px * sz`` of an order, in whole quote units (USD for perps)."""
    return Fraction(px * abs(sz_lots), PX_SCALE * 10**sz_decimals)


def min_notional_ok(
    px: int, sz_lots: int, sz_decimals: int, min_notional: Fraction = MIN_ORDER_NOTIONAL
) -> bool:
    """``px * sz >= 10`` quote units: "Order must have minimum value of $10" ('Tick and lot size').
    Compared cross-multiplied on integers (``order_value`` without building a ``Fraction``)."""
    lot: int = 10**sz_decimals
    value: int = px * abs(sz_lots) * min_notional.denominator
    return bool(value >= min_notional.numerator * PX_SCALE * lot)


def check_min_notional(
    px: int,
    sz_lots: int,
    sz_decimals: int,
    *,
    min_notional: Fraction = MIN_ORDER_NOTIONAL,
    quote: str | None = None,
    field: str = "sz",
) -> None:
    """Raise with Hyperliquid's wording (``MinTradeNtl`` / ``MinTradeSpotNtl``) when below the minimum."""
    if not min_notional_ok(px, sz_lots, sz_decimals, min_notional):
        amount = format(Decimal(min_notional.numerator) / Decimal(min_notional.denominator), "f")
        unit = f"{amount} {quote}" if quote else f"${amount}"
        raise InvalidAction(field, f"Order must have minimum value of {unit}.")


def max_order_value(max_leverage: int, is_market: bool) -> int:
    """Largest order value in USD ('Contract specifications', ``contract-specifications``).

    Market orders: $30,000,000 if max leverage >= 25, $5,000,000 for [20, 25), $2,000,000 for [10, 20),
    otherwise $500,000. Limit orders: 10 x the market maximum.
    """
    if max_leverage >= 25:
        market = 30_000_000
    elif max_leverage >= 20:
        market = 5_000_000
    elif max_leverage >= 10:
        market = 2_000_000
    else:
        market = 500_000
    return market if is_market else market * LIMIT_ORDER_VALUE_FACTOR


def check_max_order_value(
    px: int, sz_lots: int, sz_decimals: int, max_leverage: int, is_market: bool, *, field: str = "sz"
) -> None:
    """Raise when the order value exceeds :func:`max_order_value` (a value equal to the limit passes)."""
    limit = max_order_value(max_leverage, is_market)
    lot: int = 10**sz_decimals
    if px * abs(sz_lots) > limit * PX_SCALE * lot:  # order_value > limit, on integers
        kind = "market" if is_market else "limit"
        raise InvalidAction(
            field,
            f"{kind} order value exceeds the maximum of ${limit:,} for an asset with "
            f"{max_leverage}x max leverage",
        )


# ---------------------------------------------------------------------------------------------- SDK parity
# The official SDK computes market-order prices with Python floats (hyperliquid/exchange.py
# ``_slippage_price``) and serialises them with ``float_to_wire`` (``f"{x:.8f}"``, normalised). The helpers
# below emulate each float step exactly on rationals, so the result is bit-identical to the SDK's wire price
# on every platform while this module never touches a binary float.
def _round_half_even(q: Fraction) -> int:
    n, r = divmod(q.numerator, q.denominator)
    twice = 2 * r
    if twice > q.denominator or (twice == q.denominator and n % 2 == 1):
        n += 1
    return n


def _to_double(x: Fraction) -> Fraction:
    """The exact value of the IEEE-754 binary64 nearest to ``x`` (ties to even)."""
    if x == 0:
        return x
    sign = -1 if x < 0 else 1
    n, d = abs(x.numerator), x.denominator
    e = n.bit_length() - d.bit_length()  # floor(log2 |x|) or one more
    if (n << max(-e, 0)) < (d << max(e, 0)):
        e -= 1
    if e > 1023:
        raise ValueError("outside the binary64 range")
    shift = max(e, -1022) - 52  # 53-bit significand; subnormals share the smallest exponent
    scaled = Fraction(n, d << shift) if shift >= 0 else Fraction(n << -shift, d)
    m = _round_half_even(scaled)
    return sign * (Fraction(m << shift) if shift >= 0 else Fraction(m, 1 << -shift))


def _round_sig_half_even(x: Fraction, sig_figs: int) -> Fraction:
    """``format(x, f".{sig_figs}g")`` on the exact value of a positive double: half-even at ``sig_figs``."""
    whole = x.numerator // x.denominator
    if whole >= 1:
        exponent = len(str(whole)) - 1
    else:
        exponent = -1
        while x * Fraction(10) ** (-exponent) < 1:
            exponent -= 1
    unit = Fraction(10) ** (exponent - sig_figs + 1)
    return _round_half_even(x / unit) * unit


def _round_decimals_half_even(x: Fraction, decimals: int) -> Fraction:
    """Python's ``round(x, decimals)`` on the exact value of a double (correctly rounded, ties to even)."""
    return Fraction(_round_half_even(x * 10**decimals), 10**decimals)


def _sdk_round(value: Fraction, sz_decimals: int, is_spot: bool) -> int:
    """``round(float(f"{px:.5g}"), (6|8) - szDecimals)`` then ``float_to_wire``, on a double's exact value."""
    five = _to_double(_round_sig_half_even(value, PRICE_SIG_FIGS))
    rounded = _to_double(_round_decimals_half_even(five, max_price_decimals(sz_decimals, is_spot)))
    return _round_half_even(rounded * PX_SCALE)  # float_to_wire: f"{x:.8f}"


def round_price_like_sdk(px: int, sz_decimals: int, is_spot: bool) -> int:
    """The SDK's price rounding applied to ``float(px)``: 5 significant figures (half-even, also for integer
    prices), then ``(6 perps | 8 spot) - szDecimals`` decimals (hyperliquid-python-sdk 0.24.0)."""
    if px <= 0:
        raise InvalidAction("px", f"price must be positive, got {px}")
    return _sdk_round(_to_double(Fraction(px, PX_SCALE)), sz_decimals, is_spot)


def slippage_price(
    mid: int, is_buy: bool, slippage: Fraction | Decimal | int, sz_decimals: int, is_spot: bool
) -> int:
    """The IOC limit price the SDK sends for a market order: ``mid * (1 +/- slippage)`` rounded like the SDK.

    Reproduces ``Exchange._slippage_price`` (Hyperliquid docs 'Order types',
    hyperliquid-python-sdk 0.24.0) bit for bit, float products included: ``mid`` and ``slippage`` are first
    taken to their nearest doubles, as the SDK receives them. Result in 1e-8; 0 when a sell rounds to nothing.
    """
    if mid <= 0:
        raise InvalidAction("mid", f"mid price must be positive, got {mid}")
    slip = _to_double(Fraction(slippage))
    if not 0 <= slip < 1:
        raise InvalidAction("slippage", f"must be in [0, 1), got {slippage}")
    factor = _to_double(1 + slip if is_buy else 1 - slip)
    px = _to_double(_to_double(Fraction(mid, PX_SCALE)) * factor)
    return _sdk_round(px, sz_decimals, is_spot)
