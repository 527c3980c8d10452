"""Build a what-if state from a portfolio description (the margin calculator's input, DESIGN.md).

This is deliberately *not* a ledger: it writes balances, positions and lending positions straight
into a fresh :class:`ExchangeState` so that any portfolio (even one the exchange would refuse to
open) can be measured under each account mode with the engine's own valuation code.

Reading of the input (docs/margin-calculator.md):

* ``prices`` are oracle prices keyed by perp coin or token name (a perp price also prices the
  token whose underlying it is, e.g. BTC prices UBTC, unless given separately); ``marks`` override
  perp marks.
* ``balances`` are the holdings besides the positions: a cross position adds its cash leg
  ``-szi x entryPx`` to its pool, so the pool's value is ``balance + unrealized pnl``. An isolated
  position without ``rawUsd`` takes ``|szi| x entryPx / leverage`` from the balance as its margin; one
  with ``rawUsd`` (as in ``clearinghouseState``) takes nothing more.
* Under the standard mode USDC sits on the first dex's perp balance, other tokens in spot.
* ``borrowed`` and ``supplied`` are current values; under portfolio margin, collateral balances are
  supplied (counted) up to the user and global supply caps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from netclear.engine.state import Account, ExchangeState, Mode, Position
from netclear.engine.whatif import LIQUIDITY, reserve_for, supply_collateral
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, notional, to_px, to_units
from netclear.margin.standard import initial_margin
from netclear.markets.registry import Registry

CALCULATOR_USER = "0x00000000000000000000000000000000000ca1c0"


def _prices(reg: Registry, state: ExchangeState, portfolio: dict[str, Any]) -> None:
    prices = state.prices
    given = portfolio.get("prices") or {}
    if not isinstance(given, dict):
        raise InvalidAction("prices", "must be an object of name -> price")
    spot_given: set[int] = set()
    for name, value in given.items():
        matched = False
        if name in reg.perp_by_name:
            perp = reg.perp_by_name[name]
            px = to_px(value, field=f"prices.{name}")
            prices.oracle[perp.asset] = px
            prices.mark[perp.asset] = px
            matched = True
        tok = reg.token_by_name.get(name)
        if tok is not None and tok.spot_pair is not None:
            prices.spot[tok.spot_pair] = to_px(value, field=f"prices.{name}")
            spot_given.add(tok.spot_pair)
            matched = True
        if not matched:
            raise InvalidAction(f"prices.{name}", "unknown perp or token")
    for tok in reg.tokens.values():
        if tok.perp is not None and tok.spot_pair is not None and tok.spot_pair not in spot_given:
            perp = reg.perp(tok.perp)
            if perp.asset in prices.oracle:
                prices.spot[tok.spot_pair] = prices.oracle[perp.asset]
    for name, value in (portfolio.get("marks") or {}).items():
        perp = reg.perp(name, field=f"marks.{name}")
        prices.mark[perp.asset] = to_px(value, field=f"marks.{name}")
    if "usdcOraclePx" in portfolio:
        prices.usdc_oracle = to_px(portfolio["usdcOraclePx"], field="usdcOraclePx")


def _token_amounts(reg: Registry, portfolio: dict[str, Any], key: str) -> dict[int, int]:
    out: dict[int, int] = {}
    raw = portfolio.get(key) or {}
    if not isinstance(raw, dict):
        raise InvalidAction(key, "must be an object of token -> amount")
    for name, value in raw.items():
        tok = reg.token(name, field=f"{key}.{name}")
        out[tok.index] = to_units(value, tok.wei_decimals, field=f"{key}.{name}", allow_negative=False)
    return out


def build_state(reg: Registry, portfolio: dict[str, Any], mode: Mode) -> tuple[ExchangeState, Account]:
    state = ExchangeState(time_ms=int(portfolio.get("time", 0) or 0))
    state.prices.usdc_oracle = int(reg.config.usdc_oracle_price * 10**PX_DECIMALS)
    _prices(reg, state, portfolio)
    acct = Account(CALCULATOR_USER, mode=mode)
    state.accounts[acct.address] = acct
    main_collateral = reg.dexes[0].collateral.index
    for token, amount in _token_amounts(reg, portfolio, "balances").items():
        if mode is Mode.STANDARD and token == main_collateral:
            acct.perp_cash[""] = acct.perp_cash.get("", 0) + amount
        else:
            acct.spot[token] = acct.spot.get(token, 0) + amount
    _positions(reg, state, acct, portfolio.get("positions") or [])
    borrowed = _token_amounts(reg, portfolio, "borrowed")
    supplied = _token_amounts(reg, portfolio, "supplied")
    if mode is not Mode.PORTFOLIO and borrowed:
        pass  # borrows exist only under PM; other modes see the same holdings without the debt term
    for token, amount in supplied.items():
        res = reserve_for(state, token)
        acct.supply_basis[token] = acct.supply_basis.get(token, 0) + amount
        res.scaled_supply += amount
        res.cash += amount
    if mode is Mode.PORTFOLIO:
        for token, amount in borrowed.items():
            if reg.borrowable(token) is None:
                raise InvalidAction(f"borrowed.{reg.tokens[token].name}", "token is not borrowable")
            res = reserve_for(state, token)
            liquidity = state.accounts.setdefault(LIQUIDITY, Account(LIQUIDITY, is_system=True))
            liquidity.supply_basis[token] = liquidity.supply_basis.get(token, 0) + amount
            res.scaled_supply += amount
            acct.borrow_basis[token] = acct.borrow_basis.get(token, 0) + amount
            res.scaled_borrow += amount
        supply_collateral(reg, state, acct)
    else:
        # Without PM a debt still has to be repaid from the balance: count it against the token.
        for token, amount in borrowed.items():
            if mode is Mode.STANDARD and token == main_collateral:
                acct.perp_cash[""] = acct.perp_cash.get("", 0) - amount
            else:
                acct.spot[token] = acct.spot.get(token, 0) - amount
    return state, acct


def _positions(reg: Registry, state: ExchangeState, acct: Account, positions: list[Any]) -> None:
    if not isinstance(positions, list):
        raise InvalidAction("positions", "must be a list")
    for i, p in enumerate(positions):
        key = f"positions[{i}]"
        if not isinstance(p, dict):
            raise InvalidAction(key, "must be an object")
        perp = reg.perp(p.get("coin", ""), field=f"{key}.coin")
        if perp.asset not in state.prices.oracle:
            raise InvalidAction(f"{key}.coin", f"no price given for {perp.name}")
        szi = to_units(p.get("szi", "0"), perp.sz_decimals, field=f"{key}.szi", allow_negative=True)
        if szi == 0:
            raise InvalidAction(f"{key}.szi", "must not be zero")
        entry = to_px(
            p.get("entryPx", Decimal(state.prices.mark[perp.asset]).scaleb(-PX_DECIMALS)),
            field=f"{key}.entryPx",
        )
        lev = p.get("leverage") or {"type": "cross", "value": min(20, perp.max_leverage)}
        if not isinstance(lev, dict) or lev.get("type") not in ("cross", "isolated"):
            raise InvalidAction(f"{key}.leverage", 'must be {"type": "cross"|"isolated", "value": n}')
        value = lev.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= perp.max_leverage:
            raise InvalidAction(f"{key}.leverage.value", f"must be an integer in [1, {perp.max_leverage}]")
        is_cross = lev["type"] == "cross"
        if is_cross and perp.only_isolated:
            raise InvalidAction(f"{key}.leverage.type", f"{perp.name} is isolated only")
        if perp.asset in acct.positions:
            raise InvalidAction(f"{key}.coin", f"{perp.name} listed twice")
        coll = perp.collateral
        cash_leg = -notional(szi, entry, perp.sz_decimals, coll.wei_decimals)
        pos = Position(perp.asset, szi, abs(szi) * entry, is_cross, value)
        acct.positions[perp.asset] = pos
        pool_delta = 0
        if is_cross:
            pool_delta = cash_leg
        elif "rawUsd" in lev:
            pos.raw_usd = to_units(
                lev["rawUsd"], coll.wei_decimals, field=f"{key}.leverage.rawUsd", allow_negative=True
            )
        else:
            margin = initial_margin(cash_leg, value)
            pos.raw_usd = margin + cash_leg
            pool_delta = -margin
        if acct.mode is Mode.STANDARD:
            acct.perp_cash[perp.dex.name] = acct.perp_cash.get(perp.dex.name, 0) + pool_delta
        else:
            acct.spot[coll.index] = acct.spot.get(coll.index, 0) + pool_delta
