"""The conservation identity, as a check anyone can run (tests, the risk lab, an operator).

For every token ``t``: Σ spot balances + Σ perp cash (per dex collateral) + Σ isolated ``raw_usd``
+ Σ reserve cash ``= external_in[t] - external_out[t]`` (``engine/state.py``; DESIGN rule 4). Fees,
insurance, vaults and backstops are accounts, so they are inside the sum: nothing is created or lost.
"""

from __future__ import annotations

from netclear.engine.state import ExchangeState
from netclear.markets.registry import Registry


def token_totals(state: ExchangeState, reg: Registry) -> dict[int, int]:
    """Per token (wei): everything held inside the exchange."""
    out: dict[int, int] = {}
    for acct in state.accounts.values():
        for t, v in acct.spot.items():
            out[t] = out.get(t, 0) + v
        for dex, cash in acct.perp_cash.items():
            t = reg.dex(dex).collateral.index
            out[t] = out.get(t, 0) + cash
        for pos in acct.positions.values():
            if not pos.is_cross:
                t = reg.perps[pos.asset].collateral.index
                out[t] = out.get(t, 0) + pos.raw_usd
    for t, res in state.reserves.items():
        out[t] = out.get(t, 0) + res.cash
    return out


def conservation_breaks(state: ExchangeState, reg: Registry) -> dict[int, tuple[int, int]]:
    """Tokens whose inside total differs from deposits - withdrawals: ``{token: (inside, expected)}``."""
    inside = token_totals(state, reg)
    out = {}
    for t in sorted(set(inside) | set(state.external_in) | set(state.external_out)):
        expected = state.external_in.get(t, 0) - state.external_out.get(t, 0)
        if inside.get(t, 0) != expected:
            out[t] = (inside.get(t, 0), expected)
    return out
