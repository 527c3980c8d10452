"""Margin checks for risk-increasing actions and portfolio-margin auto-operations.

* :func:`require_margin` is called at the end of an action that opens risk or removes funds. It
  checks the margin pools the action touched; under portfolio margin it first covers a shortfall by
  withdrawing the account's own supply and then by **auto-borrowing** against eligible collateral
  (Hyperliquid docs 'Portfolio margin': "insufficient balance will automatically be borrowed against eligible
  collateral up to token_balance * borrow_oracle_price * ltv"), within caps; when caps or LTV stop the borrow
  the action is rejected, which is the published "fall back to non-portfolio margin behaviour".
* :func:`rebalance` runs after every action on a PM account and after price moves: margin sharing
  (a negative balance is borrowed against collateral, FAQ "automatically borrow ... to prevent
  liquidation"), automatic repayment from free balance, and automatic supply of idle balances and of
  collateral, within caps (Hyperliquid docs 'Portfolio margin' "Idle assets").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from fractions import Fraction

from netclear.engine import lending, pm_model
from netclear.engine.accounting import PoolKey, Valuer, unrealized_pnl
from netclear.engine.health import AccountHealth, HealthCache
from netclear.engine.state import Account, Mode, Position
from netclear.engine.tx import Tx
from netclear.errors import CapReached, InsufficientBalance, InsufficientMargin, LiquidityError
from netclear.fixedpoint import fmt_units
from netclear.markets.registry import Registry, Token


def ltv_borrow_capacity(v: Valuer, acct: Account, token: Token) -> int:
    """Wei of ``token`` that may still be borrowed under LTV: ``(power - borrowed) / price``.

    Under the scenario model LTV does not bound borrowing (caps and liquidity do, and the scenario
    initial requirement is checked after the action, :mod:`netclear.engine.pm_model`).
    """
    if pm_model.uses_scenario(v.reg):
        return pm_model.UNLIMITED
    room = v.borrowing_power_wei(acct) - v.borrowed_value_wei(acct)
    if room <= 0:
        return 0
    return v.token_px(token).to_wei(room)


def fund(tx: Tx, reg: Registry, acct: Account, token: Token, need: int, *, allow_borrow: bool = True) -> int:
    """Raise ``need`` wei of ``token`` into spot: own supply first, then a borrow. Returns what was raised.

    Never raises for lack of room: the caller decides whether a partial result is acceptable.
    """
    if need <= 0:
        return 0
    raised = 0
    supplied_basis = acct.supply_basis.get(token.index, 0)
    if supplied_basis:
        v = Valuer(reg, tx.state)
        have = v.supplied(acct, token.index)
        res = lending.reserve(tx, reg, token.index)
        take = min(need, have, res.cash)
        if take > 0:
            raised += lending.withdraw(tx, reg, acct, token, None if take == have else take)
    rest = need - raised
    if rest > 0 and allow_borrow and acct.mode is Mode.PORTFOLIO and reg.borrowable(token.index) is not None:
        supply_collateral(tx, reg, acct)
        v = Valuer(reg, tx.state)
        room = min(ltv_borrow_capacity(v, acct, token), lending.borrow_headroom(tx, reg, acct, token.index))
        amount = min(rest, room)
        if amount > 0:
            raised += lending.borrow(tx, reg, acct, token, amount)
    return raised


def supply_collateral(tx: Tx, reg: Registry, acct: Account) -> None:
    """Supply free collateral balances (HYPE, BTC) up to the caps so they count toward borrowing power."""
    pm = reg.pm
    if pm is None or acct.mode is not Mode.PORTFOLIO:
        return
    for token, params in pm.collateral.items():
        free = acct.spot.get(token, 0) - acct.spot_hold.get(token, 0)
        if free <= 0:
            continue
        amount = min(free, lending.supply_headroom(tx, reg, acct, token))
        if amount > 0:
            lending.supply(tx, reg, acct, params.token, amount)


def describe_borrow_limits(tx: Tx, reg: Registry, acct: Account, token: Token) -> str:
    """Which limit stopped a borrow of ``token``, and what is left under each, e.g. "bound by the user
    borrow cap of 1000 USDC (LTV capacity left 3000 USDC, user borrow cap left 0.0 USDC, ...)".

    The four limits of docs/rules/lending.md: LTV (``collateral x borrow_oracle_price x ltv``, Hyperliquid
    portfolio-margin page), the user and the global borrow caps, and the reserve's available cash.
    """
    params = reg.borrowable(token.index)
    assert params is not None
    v = Valuer(reg, tx.state)
    res = lending.reserve(tx, reg, token.index)
    owed = v.borrowed(acct, token.index)
    wd, name = token.wei_decimals, token.name
    left = {
        "LTV capacity": ltv_borrow_capacity(v, acct, token),
        "user borrow cap": max(0, params.user_borrow_cap - owed),
        "global borrow cap": max(0, params.global_borrow_cap - res.total_borrowed),
        "reserve liquidity": max(0, res.cash),
    }
    binding = min(left, key=lambda k: left[k])
    totals = {
        "LTV capacity": "LTV capacity (collateral x LTV)",
        "user borrow cap": f"user borrow cap of {fmt_units(params.user_borrow_cap, wd)} {name}",
        "global borrow cap": f"global borrow cap of {fmt_units(params.global_borrow_cap, wd)} {name}",
        "reserve liquidity": f"reserve's available liquidity ({fmt_units(res.cash, wd)} {name})",
    }
    rest = ", ".join(
        f"{k} {'left ' if k != 'reserve liquidity' else ''}{fmt_units(n, wd)} {name}" for k, n in left.items()
    )
    return f"bound by the {totals[binding]} ({rest})"


def _describe_shortfall(token: Token, short: int) -> str:
    return f"short of {fmt_units(short, token.wei_decimals)} {token.name}"


def require_margin(
    tx: Tx,
    reg: Registry,
    acct: Account,
    *,
    tokens: Iterable[int] = (),
    dexes: Iterable[str] = (),
    field: str = "margin",
    health: HealthCache | None = None,
) -> None:
    """Reject unless every touched pool can carry its initial margin and spot holds.

    ``tokens``: token indices whose balance the action used (unified pools and spot balances);
    ``dexes``: standard-mode dexes whose cross pool the action used. ``health``: the action's
    :class:`~netclear.engine.health.HealthCache` (``Ctx.health_cache``), so the valuation built here serves
    the action's later checks (the liquidation test after it reads the same numbers); without one the
    check builds its own. The numbers are :meth:`AccountHealth.shortfall`'s.
    """
    if acct.is_system:
        return  # vaults and backstops are the loss absorbers: they are not margined
    cache = health if health is not None else HealthCache(reg).begin(tx.state)
    h = cache.get(acct)
    tokens = set(tokens)
    if acct.mode is Mode.STANDARD:
        for dex in set(dexes):
            require_pool_margin(h, PoolKey.of_dex(dex), field)
        for token in tokens:
            short = h.shortfall(token)
            if short > 0:
                tok = reg.tokens[token]
                raise InsufficientBalance(field, f"spot balance {_describe_shortfall(tok, short)}")
        return
    pm = acct.mode is Mode.PORTFOLIO
    for token in sorted(
        tokens | {reg.perps[p.asset].collateral.index for p in _touched_positions(acct, dexes, reg)}
    ):
        tok = reg.tokens[token]
        has_pool = h.token_pool(token) is not None
        short = h.shortfall(token)
        if short > 0 and pm:
            fund(tx, reg, acct, tok, short)
            h = cache.get(acct)
            short = h.shortfall(token)
        if short > 0:
            reason = _describe_shortfall(tok, short)
            if pm and reg.borrowable(token) is not None:
                reason += " after auto-borrow, " + describe_borrow_limits(tx, reg, acct, tok)
            raise InsufficientMargin(field, reason) if has_pool else InsufficientBalance(field, reason)
    if pm:
        require_collateral_cover(h.v, acct, field=field, before=lambda: tx.original(acct.address))


def require_pool_margin(h: AccountHealth, key: PoolKey, field: str) -> None:
    """Reject unless a standard-mode cross pool carries its initial margin (positions and resting orders,
    Hyperliquid docs 'Margining')."""
    if h.shortfall(key) > 0:
        pool = h.pool(key)
        wd = pool.token.wei_decimals
        raise InsufficientMargin(
            field,
            f"dex {key.dex or 'main'} cross account value {fmt_units(pool.account_value, wd)} "
            f"is below its initial margin {fmt_units(h.initial(key), wd)}",
        )


def _touched_positions(acct: Account, dexes: Iterable[str], reg: Registry) -> list[Position]:
    names = set(dexes)
    if not names:
        return []
    return [p for p in acct.positions.values() if p.szi != 0 and reg.perps[p.asset].dex.name in names]


def require_collateral_cover(
    v: Valuer,
    acct: Account,
    *,
    field: str = "collateral",
    before: Account | Callable[[], Account | None] | None = None,
) -> None:
    """Borrowed value must stay within borrowing power: health factor >= 100% (Hyperliquid docs 'Portfolio
    margin FAQ').

    Below 100% "the account won't be able to borrow more", and collateral cannot be removed; other
    actions stay allowed. With ``before`` (the account before the action) only an action that raised
    the debt or lowered the collateral is refused. ``before`` may be a function that returns it: it is
    then called only when the answer depends on it (rebuilding the account from the journal is costly
    and most checks pass on the account alone).

    Under the scenario model the test is the scenario initial requirement instead
    (:func:`netclear.engine.pm_model.require_scenario_initial`).
    """
    if pm_model.uses_scenario(v.reg):
        prior = before() if callable(before) else before
        pm_model.require_scenario_initial(v, acct, field=field, before=prior)
        return
    if not acct.has_borrows():
        return
    borrowed = v.borrowed_value_wei(acct)
    power = v.borrowing_power_wei(acct)
    if borrowed <= power:
        return  # covered: nothing to compare with the account before the action
    prior = before() if callable(before) else before
    if prior is not None and (
        v.borrowed_value_wei(prior) >= borrowed and v.borrowing_power_wei(prior) <= power
    ):
        return
    if borrowed > power:
        hf = Fraction(power, borrowed)
        raise InsufficientMargin(
            field, f"health factor would be {float(hf):.4%}: borrowed value exceeds collateral x LTV"
        )


def rebalance(
    tx: Tx,
    reg: Registry,
    acct: Account,
    *,
    gains: dict[int, int] | None = None,
    allow_auto: bool = True,
    health: HealthCache | None = None,
) -> None:
    """Portfolio-margin housekeeping after an action or a price move (see module docstring).

    * margin sharing: a negative balance of a borrowable token is covered from own supply, then
      borrowed against collateral (always);
    * auto-repay: "Deposits and realized profits are automatically applied as repayment ... Excess
      unrealized profits ... repays borrows" (FAQ). We repay from the *increase* of the free balance
      during the action (``gains``), so an explicit ``borrowLend borrow`` is not undone at once;
    * auto-supply: idle cash of a token that is not borrowed is supplied, within caps.

    ``allow_auto`` is False after an explicit ``borrowLend`` action: the user's choice stands.
    """
    pm = reg.pm
    if pm is None or acct.mode is not Mode.PORTFOLIO:
        return
    if allow_auto:
        supply_collateral(tx, reg, acct)
    v = Valuer(reg, tx.state)
    cache = health if health is not None else HealthCache(reg).begin(tx.state)
    for token, params in pm.borrowable.items():
        tok = params.token
        if acct.spot.get(token, 0) + _pool_ntl(cache.get(acct), token) < 0:
            with contextlib.suppress(CapReached, LiquidityError, InsufficientBalance):
                fund(tx, reg, acct, tok, -(acct.spot.get(token, 0) + _pool_ntl(cache.get(acct), token)))
        if not allow_auto:
            continue
        h = cache.get(acct)
        free = h.free(token)
        if free <= 0:
            continue
        owed = v.borrowed(acct, token)
        if owed > 0:
            budget = free if gains is None else min(free, gains.get(token, 0))
            if budget <= 0:
                continue
            paid = lending.repay(tx, reg, acct, tok, None if budget >= owed else budget)
            free -= paid
            if v.borrowed(acct, token) > 0:
                continue
        cash = acct.spot.get(token, 0) - acct.spot_hold.get(token, 0)
        # idle balance earns: supply realized cash only, never unrealized profit (docs/rules/lending.md)
        pool = h.token_pool(token)
        upnl_gains = sum(max(0, unrealized_pnl(pv)) for pv in pool.positions) if pool is not None else 0
        amount = min(free - upnl_gains, cash, lending.supply_headroom(tx, reg, acct, token))
        if amount > 0:
            # best effort: housekeeping never fails the user's action
            with contextlib.suppress(CapReached, LiquidityError, InsufficientBalance):
                lending.supply(tx, reg, acct, tok, amount)


def _pool_ntl(h: AccountHealth, token: int) -> int:
    pool = h.token_pool(token)
    return pool.ntl if pool is not None else 0
