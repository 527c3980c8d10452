"""Per-request lookups for :func:`netclear.api.auth.verify_request`, O(1) in the number of accounts.

``verify_request`` asks about one signer (is it an API wallet? a user?) and at most one vault, so
instead of copying the agent and vault tables out of the state on every request, these read-only
views answer ``get`` / ``in`` straight from the engine's own dicts (docs/benchmarks.md, issue 12).
A single ``dict`` lookup is atomic under the interpreter lock, so a request thread may read while
the writer thread applies; the writer re-checks the nonce and the engine re-checks every rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netclear.engine.state import Account

AgentRow = tuple[str, str | None, int | None]


class AgentView(Mapping[str, tuple[str, int | None]]):
    """API wallet -> (master user, valid-until ms or ``None``), from ``state.agents``."""

    __slots__ = ("_agents",)

    def __init__(self, agents: Mapping[str, AgentRow]) -> None:
        self._agents = agents

    def __getitem__(self, key: str) -> tuple[str, int | None]:
        user, _name, until = self._agents[key]
        return user, until

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)


class VaultView(Mapping[str, str]):
    """Vault or sub-account -> controlling user, from the accounts' ``master`` field."""

    __slots__ = ("_accounts",)

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self._accounts = accounts

    def __getitem__(self, key: str) -> str:
        master = self._accounts[key].master
        if not master:
            raise KeyError(key)
        return master

    def __iter__(self) -> Iterator[str]:
        return (a for a, acct in list(self._accounts.items()) if acct.master)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: Any) -> bool:
        acct = self._accounts.get(key)
        return acct is not None and bool(acct.master)
