"""The per-request lookup views answer exactly what the tables they replace answered (issue 12, item 7)."""

from __future__ import annotations

from decimal import Decimal

from netclear.api.lookups import AgentView, VaultView
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange

MASTER = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
BOT = "0x" + "cc" * 20


def _exchange() -> Exchange:
    ex = Exchange("hyperliquid")
    ex.apply(A.Deposit(user=MASTER, amount=Decimal(1000)), at=1)
    ex.apply(A.Deposit(user=OTHER, amount=Decimal(1000)), at=1)
    ex.apply(A.CreateSubAccount(user=MASTER, name="desk-1"), at=2)
    ex.apply(A.ApproveAgent(user=MASTER, agent=BOT, name="bot", valid_until=99), at=3)
    return ex


def test_views_equal_the_tables_built_from_every_account() -> None:
    state = _exchange().state
    # the tables `_authenticate` built on every request before (api/server.py, before issue 12)
    agents = {a: (u, until) for a, (u, _name, until) in state.agents.items()}
    vaults = {addr: acct.master for addr, acct in state.accounts.items() if acct.master}
    assert len(vaults) == 1  # the one sub-account, controlled by MASTER
    assert dict(AgentView(state.agents)) == agents == {BOT: (MASTER, 99)}
    assert dict(VaultView(state.accounts)) == vaults
    sub = next(iter(vaults))
    assert vaults[sub] == MASTER
    view = VaultView(state.accounts)
    assert view.get(sub) == MASTER and sub in view
    # a plain account is no vault; an unknown address is neither
    assert view.get(OTHER) is None and OTHER not in view
    assert view.get("0x" + "dd" * 20) is None
    assert AgentView(state.agents).get(MASTER) is None


def test_views_follow_the_live_state() -> None:
    ex = _exchange()
    agents = AgentView(ex.state.agents)
    ex.apply(A.ApproveAgent(user=OTHER, agent="0x" + "ee" * 20), at=4)
    assert agents.get("0x" + "ee" * 20) == (OTHER, None)
