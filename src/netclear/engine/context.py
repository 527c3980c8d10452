"""Per-action context handed to handlers: the transaction, the registry, and event/record buffers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.addresses import normalize_address as normalize_address
from netclear.engine.events import Event
from netclear.engine.hashing import action_hash
from netclear.engine.health import AccountHealth, HealthCache
from netclear.engine.state import Account, ExchangeState
from netclear.engine.tx import Tx
from netclear.errors import InvalidAction, InvalidAmount
from netclear.fixedpoint import PX_DECIMALS, to_units
from netclear.markets.registry import Registry, Token


@dataclass(slots=True)
class Ctx:
    tx: Tx
    reg: Registry
    events: list[Event] = field(default_factory=list)
    records: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    at_risk: set[str] = field(default_factory=set)
    """Accounts whose equity or margin the action may have lowered: the liquidation candidates."""
    liquidation: dict[str, str] | None = None
    """While a liquidation trades: Hyperliquid's ``FillLiquidation`` (``liquidatedUser``, ``markPx``,
    ``method``), added to both sides' fill records (websocket "Subscriptions" page, ``WsFill``)."""
    health_cache: HealthCache | None = None
    """The action's :class:`~netclear.engine.health.AccountHealth` per account (the exchange's, bound to
    this action's state); read through :meth:`health`."""

    @property
    def state(self) -> ExchangeState:
        return self.tx.state

    @property
    def now(self) -> int:
        return self.tx.state.time_ms

    def valuer(self) -> Valuer:
        return Valuer(self.reg, self.tx.state)

    def healths(self) -> HealthCache:
        """The action's health cache (created on first use when the exchange did not hand one in)."""
        cache = self.health_cache
        if cache is None:
            cache = self.health_cache = HealthCache(self.reg).begin(self.tx.state)
        return cache

    def health(self, acct: Account) -> AccountHealth:
        """The account's margin standing now: built once and kept from action to action, brought up to
        date whenever its inputs changed (:mod:`netclear.engine.health`)."""
        return (self.health_cache or self.healths()).get(acct)

    def account(self, address: str, field: str = "user") -> Account:
        return self.tx.account(normalize_address(address, field))

    def existing_account(self, address: str, field: str = "user") -> Account:
        acct = self.tx.existing(normalize_address(address, field))
        if acct is None:
            raise InvalidAction(field, f"unknown user {address}")
        return acct

    def token(self, key: int | str, field: str = "token") -> Token:
        return self.reg.token(key, field=field)

    def amount(self, value: object, token: Token, field: str = "amount") -> int:
        units = to_units(value, token.wei_decimals, field=field)
        if units <= 0:
            raise InvalidAmount(field, "must be positive")
        return units

    def price(self, value: object, field: str = "px") -> int:
        units = to_units(value, PX_DECIMALS, field=field)
        if units <= 0:
            raise InvalidAmount(field, "must be positive")
        return units

    def emit(self, event: Event) -> None:
        """Buffer a typed event (``engine/events.py``); returned by ``Exchange.apply`` if the action commits."""
        self.events.append(event)

    def record(self, kind: str, user: str, record: Mapping[str, Any]) -> None:
        """Buffer a history record (fills, funding, ledger, interest); kept only if the action commits."""
        self.records.append((kind, user, record))

    def ledger(self, user: str, delta: dict[str, Any]) -> None:
        self.record(
            "ledger", user, {"time": self.now, "hash": action_hash(self.tx.state.seq), "delta": delta}
        )
