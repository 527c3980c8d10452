"""Account addresses: 0x-prefixed 20-byte hex, stored in lower case (Hyperliquid docs 'Info endpoint':
"Address in 42-character hexadecimal format")."""

from __future__ import annotations

import re

from netclear.errors import InvalidAction

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(value: str, field: str = "user") -> str:
    """``value`` in lower case, or ``InvalidAction`` naming ``field`` if it is not an address."""
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise InvalidAction(field, f"not a 0x-prefixed 20-byte hex address: {value!r}")
    return value.lower()
