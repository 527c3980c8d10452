"""Info views: ``info(source, payload)`` answers ``/info`` bodies in Hyperliquid's JSON.

A view reads a state with its registry (a :class:`~netclear.engine.accounting.Valuer`) and never writes:
no transaction, no handler context. ``info`` takes anything holding a ``state`` and a ``registry`` (an
``Exchange``, a node's exchange under its read lock); ``dispatch`` takes the valuer itself.

Amounts are decimal strings; field names are the wire's (Hyperliquid docs 'Info endpoint: Perpetuals', 'Info
endpoint', hyperliquid-python-sdk 0.24.0). Unknown request types and bad fields raise ``InvalidAction`` naming
the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from netclear.engine.accounting import Valuer
from netclear.engine.state import ExchangeState
from netclear.errors import InvalidAction
from netclear.markets.registry import Registry


class Readable(Protocol):
    """What a view reads: a state and the registry it is valued against."""

    @property
    def state(self) -> ExchangeState: ...

    @property
    def registry(self) -> Registry: ...


View = Callable[[Valuer, dict[str, Any]], Any]
VIEWS: dict[str, View] = {}


def view(name: str) -> Callable[[View], View]:
    def register(fn: View) -> View:
        VIEWS[name] = fn
        return fn

    return register


def info(source: Readable, payload: dict[str, Any]) -> Any:
    """Answer an ``/info`` request body for ``source``'s state (see :func:`dispatch`)."""
    return dispatch(Valuer(source.registry, source.state), payload)


def dispatch(v: Valuer, payload: dict[str, Any]) -> Any:
    """Answer an ``/info`` request body from the state ``v`` values; unknown types raise ``InvalidAction``."""
    if not isinstance(payload, dict):
        raise InvalidAction("body", "must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise InvalidAction("type", "missing request type")
    _load()
    fn = VIEWS.get(kind)
    if fn is None:
        raise InvalidAction("type", f"unknown info type {kind!r}")
    return fn(v, payload)


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
