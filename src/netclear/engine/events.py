"""Events: what an applied action did, as plain data returned by ``Exchange.apply``."""

from __future__ import annotations

from typing import Any

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened: ``kind`` ("deposit", "fill", "borrow", ...), the user, and details
    (amounts as decimal strings, in the wire's vocabulary)."""

    kind: str
    user: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
