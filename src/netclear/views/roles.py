"""Who an address is: ``userRole``, ``extraAgents``, ``userToMultiSigSigners`` (SDK ``Info`` reads).

Shapes follow Hyperliquid's info endpoint: ``userRole`` answers ``{"role": "missing" | "user" |
"agent" | "subAccount" | "vault", "data"?}``; ``extraAgents`` the approved API wallets with their
names and expiry. netclear has no multi-sig users (``convertToMultiSigUser`` is not supported,
docs/api.md), so ``userToMultiSigSigners`` is null for every address, as Hyperliquid answers for a
user that is not multi-sig.
"""

from __future__ import annotations

from typing import Any

from netclear.engine.accounting import Valuer
from netclear.views import view
from netclear.views.common import user_of


@view("userRole")
def user_role(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    address = user_of(payload)
    agent = v.state.agents.get(address)
    if agent is not None:
        return {"role": "agent", "data": {"user": agent[0]}}
    acct = v.state.accounts.get(address)
    if acct is None or acct.is_system:
        return {"role": "missing"}
    if acct.master is not None:
        return {"role": "subAccount", "data": {"master": acct.master}}
    return {"role": "user"}


@view("extraAgents")
def extra_agents(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    user = user_of(payload)
    return [
        {"address": agent, "name": name or "", "validUntil": until}
        for agent, (owner, name, until) in sorted(v.state.agents.items())
        if owner == user
    ]


@view("userToMultiSigSigners")
def multi_sig_signers(v: Valuer, payload: dict[str, Any]) -> None:
    user_of(payload)
    return None
