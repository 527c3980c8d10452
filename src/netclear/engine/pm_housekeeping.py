"""Portfolio-margin housekeeping after each action: margin sharing, auto-repay and auto-supply for the
accounts the action affected (Hyperliquid docs 'Portfolio margin'; docs/rules/portfolio-margin.md).

A price update moves every portfolio-margin account's free balances, so after one every such account is
re-balanced; any other action re-balances the PM accounts it touched. The auto-repay step repays from
what an account *gained* in the action, so the free balances before it are taken first
(:func:`free_before`).
"""

from __future__ import annotations

from netclear.engine import actions as A
from netclear.engine.accounting import Valuer
from netclear.engine.context import Ctx
from netclear.engine.health import AccountHealth
from netclear.engine.solvency import rebalance
from netclear.engine.state import Account, Mode

GLOBAL_ACTIONS: tuple[type[A.Action], ...] = (A.SetPrices,)
"""Actions after which every portfolio-margin account is re-balanced (prices moved for everyone)."""


def pm_accounts(ctx: Ctx, action: A.Action) -> list[Account]:
    """The portfolio-margin accounts ``action`` may have changed."""
    if isinstance(action, GLOBAL_ACTIONS):
        return [a for a in ctx.state.accounts.values() if a.mode is Mode.PORTFOLIO]
    return ctx.tx.touched_pm_accounts()


def free_before(ctx: Ctx, action: A.Action, actor: Account | None = None) -> dict[str, dict[int, int]]:
    """Free balances of PM accounts before the action, for the auto-repay step: every PM account before a
    global action; before any other, the acting user's (``actor``, read from the kept health cache, which
    is cheaper than rebuilding the pre-action account from the journal afterwards; other accounts the
    action touches read the transaction's pre-action copy)."""
    if ctx.reg.pm is None:
        return {}
    if not isinstance(action, GLOBAL_ACTIONS):
        if actor is None or actor.mode is not Mode.PORTFOLIO:
            return {}
        return {actor.address: free_by_token(ctx.valuer(), actor, ctx.health(actor))}
    v = ctx.valuer()
    return {a.address: free_by_token(v, a) for a in pm_accounts(ctx, action)}


def rebalance_after(ctx: Ctx, action: A.Action, before: dict[str, dict[int, int]]) -> None:
    """Margin sharing, auto-repay and auto-supply for the PM accounts the action affected."""
    if ctx.reg.pm is None:
        return
    accounts = pm_accounts(ctx, action)
    if not accounts:
        return
    explicit_lending = isinstance(action, A.BorrowLend)
    v = ctx.valuer()
    for acct in sorted(accounts, key=lambda a: a.address):
        live = ctx.tx.account(acct.address)
        if acct.address in before:
            prior = before[acct.address]
        else:
            original = ctx.tx.original(acct.address)
            prior = (
                free_by_token(v, original) if original is not None and original.mode is Mode.PORTFOLIO else {}
            )
        after = free_by_token(v, live, ctx.health(live))
        gains = {t: after[t] - prior.get(t, 0) for t in after if after[t] > prior.get(t, 0)}
        rebalance(ctx.tx, ctx.reg, live, gains=gains, allow_auto=not explicit_lending, health=ctx.healths())


def rebalance_touched(ctx: Ctx) -> None:
    """After time passes (funding, interest): re-balance the PM accounts it touched, no gains counted."""
    for acct in sorted(ctx.tx.touched_pm_accounts(), key=lambda a: a.address):
        rebalance(ctx.tx, ctx.reg, acct, gains={}, health=ctx.healths())


def free_by_token(v: Valuer, acct: Account, health: AccountHealth | None = None) -> dict[int, int]:
    """Free balance per collateral token (pool value less initial margin, order margin and spot holds), as
    :class:`~netclear.engine.health.AccountHealth` owns it."""
    h = health if health is not None else AccountHealth(v, acct)
    return {key.token: h.free(key) for key in h.pools if key.token is not None}
