"""Helpers for the risk-lab tests: the margin calculator's input rebuilt from an engine account."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from netclear.engine.exchange import Exchange
from netclear.fixedpoint import PX_SCALE


def _dec(x: Fraction) -> str:
    return str(Decimal(x.numerator) / Decimal(x.denominator))


def calculator_input(ex: Exchange, address: str, prices: dict[str, float], mode: str) -> dict[str, Any]:
    """The account as the margin calculator takes it (docs/margin-calculator.md): spot and perp cash with
    the positions' cash legs put back (the calculator adds ``-szi x entryPx`` itself), the supplied
    collateral as a balance, the debt as ``borrowed``, positions at their entry price and leverage."""
    reg = ex.registry
    acct = ex.state.accounts[address]
    v = ex.valuer()
    usdc = Fraction(acct.spot.get(0, 0) + sum(acct.perp_cash.values()), 10**8)
    positions = []
    for asset, p in sorted(acct.positions.items()):
        if not p.szi:
            continue
        perp = reg.perps[asset]
        szi = Fraction(p.szi, 10**perp.sz_decimals)
        entry = Fraction(p.entry_ntl, abs(p.szi) * PX_SCALE)
        usdc += szi * entry
        positions.append(
            {
                "coin": perp.name,
                "szi": _dec(szi),
                "entryPx": _dec(entry),
                "leverage": {"type": "cross" if p.is_cross else "isolated", "value": p.leverage},
            }
        )
    balances = {"USDC": _dec(usdc)}
    for token, bal in acct.spot.items():
        if token != 0 and bal:
            tok = reg.tokens[token]
            balances[tok.name] = _dec(Fraction(bal, tok.unit))
    for token in acct.supply_basis:
        tok = reg.tokens[token]
        amount = Fraction(v.supplied(acct, token), tok.unit)
        balances[tok.name] = _dec(Fraction(balances.get(tok.name, "0")) + amount)
    borrowed = {
        reg.tokens[t].name: _dec(Fraction(v.borrowed(acct, t), reg.tokens[t].unit)) for t in acct.borrow_basis
    }
    return {
        "preset": "hyperliquid",
        "mode": mode,
        "prices": {k: str(round(px, 6)) for k, px in prices.items()},
        "balances": balances,
        "borrowed": borrowed,
        "positions": positions,
    }
