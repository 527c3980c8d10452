"""Field checks shared by the scenario file's models (``sim/scenario.py``, ``sim/evm/spec.py``).

Numbers follow the project's one number grammar and bounds (``fixedpoint.parse_decimal``, docs/api.md
"Numbers"): checked before any arithmetic, so a hostile number in a scenario file costs what a short one
does. Errors are ``ValueError`` so that pydantic reports them under the key that holds them.
"""

from __future__ import annotations

from decimal import Decimal

from netclear.errors import InvalidAmount
from netclear.fixedpoint import parse_decimal

_HEX = frozenset("0123456789abcdefABCDEF")


def number(value: object, what: str) -> Decimal:
    """``value`` as a bounded, finite ``Decimal`` (TOML numbers or decimal strings)."""
    try:
        return parse_decimal(value, field=what)
    except InvalidAmount as exc:
        raise ValueError(f"{what}: {exc.rule}") from None


def positive(value: object, what: str) -> Decimal:
    d = number(value, what)
    if d <= 0:
        raise ValueError(f"{what} must be positive")
    return d


def address(v: str | None) -> str | None:
    """A 0x-prefixed 40-hex-digit address, lower-cased (``None`` stays ``None``)."""
    if v is None:
        return v
    if not (v.startswith("0x") and len(v) == 42 and all(c in _HEX for c in v[2:])):
        raise ValueError("must be a 0x-prefixed 40-hex-digit address")
    return v.lower()
