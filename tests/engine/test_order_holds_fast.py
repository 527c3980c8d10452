"""The hold of a perp order (engine/handlers/order_holds.py, Hyperliquid docs 'Margining'; docs/rules/orders.md)
computed in one ceiling division with the market's cached scales and default leverage is the hold of the
general formula: ``ceil(notional(opening, px, ceil=True) / leverage)``, with the account's leverage
setting or the default (engine/leverage.py), for buys and sells, with and without a position to close."""

from __future__ import annotations

import types
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine.handlers.order_holds import closable_size, reserve_hold
from netclear.engine.handlers.order_parsing import Parsed
from netclear.engine.leverage import leverage_of
from netclear.engine.state import Account, LeverageSetting, Position
from netclear.fixedpoint import notional
from netclear.markets.registry import Registry
from tests.engine.test_order_parsing_fast import REGISTRIES

REG: Registry = REGISTRIES[0]
PERPS = [p for p in REG.perps.values() if not p.is_delisted][:60]


@settings(max_examples=1500, deadline=None)
@given(
    i=st.integers(0, len(PERPS) - 1),
    is_buy=st.booleans(),
    px=st.integers(1, 10**15),
    sz=st.integers(1, 10**9),
    szi=st.integers(-(10**9), 10**9),
    lev=st.none() | st.integers(1, 50),
)
def test_a_perp_orders_hold_is_the_general_formula(
    i: int, is_buy: bool, px: int, sz: int, szi: int, lev: int | None
) -> None:
    perp = PERPS[i]
    acct = Account("0x" + "ab" * 20)
    if szi:
        acct.positions[perp.asset] = Position(perp.asset, szi)
    if lev is not None:
        acct.leverage[perp.asset] = LeverageSetting(True, min(lev, perp.max_leverage))
    p = Parsed(perp, is_buy, px, sz, False, "Gtc", None, False, None, None)
    ctx: Any = types.SimpleNamespace(reg=REG)
    opening = max(0, sz - closable_size(acct, perp, is_buy))
    value = leverage_of(acct, perp).value
    expected = -((-notional(opening, px, perp.sz_decimals, perp.collateral.wei_decimals, ceil=True)) // value)
    info = reserve_hold(ctx, acct, p, sz)
    assert (info.hold, info.opening_sz) == (expected, opening)
    assert acct.order_margin[perp.asset] == ((expected, 0) if is_buy else (0, expected))
