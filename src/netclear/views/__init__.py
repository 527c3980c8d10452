"""Info views: ``Exchange.info(payload)`` answers ``/info`` bodies in Hyperliquid's JSON.

Amounts are decimal strings; field names are the wire's (Hyperliquid docs 'Info endpoint: Perpetuals', 'Info
endpoint', hyperliquid-python-sdk 0.24.0). Unknown request types and bad fields raise ``InvalidAction`` naming
the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netclear.errors import InvalidAction

if TYPE_CHECKING:
    from netclear.engine.exchange import Exchange

View = Callable[["Exchange", dict[str, Any]], Any]
VIEWS: dict[str, View] = {}


def view(name: str) -> Callable[[View], View]:
    def register(fn: View) -> View:
        VIEWS[name] = fn
        return fn

    return register


def dispatch(exchange: Exchange, payload: dict[str, Any]) -> Any:
    if not isinstance(payload, dict):
        raise InvalidAction("body", "must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise InvalidAction("type", "missing request type")
    _load()
    fn = VIEWS.get(kind)
    if fn is None:
        raise InvalidAction("type", f"unknown info type {kind!r}")
    return fn(exchange, payload)


_LOADED: list[bool] = []


def _load() -> None:
    """Import every view module once so their ``@view`` registrations run."""
    if _LOADED:
        return
    from netclear.views import (  # noqa: F401
        clearinghouse,
        history,
        lending,
        liquidations,
        margin_modes,
        market,
        meta,
        reserve_params,
        roles,
        spot,
    )

    _LOADED.append(True)
