"""Writing a what-if state directly, outside any transaction: the margin calculator's portfolio builder
(``calculator/snapshot.py``) and the ``marginModes`` view's other-mode layouts
(``views/margin_sections.py``) both lay holdings into a fresh :class:`ExchangeState` and value it with the
engine's own code (docs/margin-calculator.md).

These helpers are not ledger operations: they never check margin or caps beyond what the layout itself
states, and they are only used on throw-away states.
"""

from __future__ import annotations

from netclear.engine.state import Account, ExchangeState, Reserve
from netclear.markets.registry import Registry

LIQUIDITY = "0x00000000000000000000000000000000000ca1c1"
"""The system account that supplies what a what-if portfolio borrows (so the reserve balances)."""


def reserve_for(state: ExchangeState, token: int) -> Reserve:
    """The token's lending reserve in ``state``, created empty if missing."""
    res = state.reserves.get(token)
    if res is None:
        res = Reserve(token, last_accrual_ms=state.time_ms)
        state.reserves[token] = res
    return res


def supply_collateral(reg: Registry, state: ExchangeState, acct: Account) -> None:
    """Supply ``acct``'s portfolio-margin collateral balances up to the user and global supply caps
    (Hyperliquid docs 'Portfolio margin': collateral is supplied to count)."""
    pm = reg.pm
    if pm is None:
        return
    for token, params in pm.collateral.items():
        bal = acct.spot.get(token, 0)
        if bal <= 0:
            continue
        res = reserve_for(state, token)
        room = min(
            params.user_supply_cap - acct.supply_basis.get(token, 0),
            params.global_supply_cap - res.scaled_supply,
        )
        amount = min(bal, max(room, 0))
        if amount > 0:
            acct.spot[token] = bal - amount
            acct.supply_basis[token] = acct.supply_basis.get(token, 0) + amount
            res.scaled_supply += amount
            res.cash += amount
