"""Who an address is: ``userRole``, ``extraAgents``, ``userToMultiSigSigners`` (SDK ``Info`` reads).

Shapes follow Hyperliquid's info endpoint: ``userRole`` answers ``{"role": "missing" | "user" |
"agent" | "subAccount" | "vault", "data"?}``; ``extraAgents`` the approved API wallets with their
names and expiry. netclear has no multi-sig users (``convertToMultiSigUser`` is not supported,
docs/api.md), so ``userToMultiSigSigners`` is null for every address, as Hyperliquid answers for a
user that is not multi-sig.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netclear.views import view
from netclear.views.common import user_of

if TYPE_CHECKING:
    from netclear.engine.exchange import Exchange


@view("userRole")
def user_role(ex: Exchange, payload: dict[str, Any]) -> dict[str, Any]:
    address = user_of(payload)
    agent = ex.state.agents.get(address)
    if agent is not None:
        return {"role": "agent", "data": {"user": agent[0]}}
    acct = ex.state.accounts.get(address)
    if acct is None or acct.is_system:
        return {"role": "missing"}
    if acct.master is not None:
        return {"role": "subAccount", "data": {"master": acct.master}}
    return {"role": "user"}


@view("extraAgents")
def extra_agents(ex: Exchange, payload: dict[str, Any]) -> list[dict[str, Any]]:
    user = user_of(payload)
    return [
        {"address": agent, "name": name or "", "validUntil": until}
        for agent, (owner, name, until) in sorted(ex.state.agents.items())
        if owner == user
    ]


@view("userToMultiSigSigners")
def multi_sig_signers(ex: Exchange, payload: dict[str, Any]) -> None:
    user_of(payload)
    return None
