"""The liquidation engine: market liquidation, backstop takeover, PM borrow takeover, ADL and the
explicit loss waterfall (Hyperliquid docs 'Liquidations', 'Portfolio margin'; the Drift v2 and Mango v4
liquidation designs (docs/rules/liquidation.md)).

Order of work for one account, deterministic (docs/rules/liquidation.md):

1. **Cross pools and isolated positions** (standard and unified accounts; the pools of a
   portfolio-margin account margined apart from the PMR): positions are sent to the book as
   reduce-only IOC orders with no fee, largest notional first, 20% at a time above the partial
   threshold unless in the 30 s cooldown ('Liquidations'); the limit price never passes the position's
   bankruptcy price. Then, if equity is below 2/3 of maintenance, the liquidator vault takes over the
   pool's positions and cash ('Liquidations'; the user keeps nothing of it); if equity is negative, the
   positions are auto-deleveraged instead ('Auto-deleveraging') and the deficit goes down the waterfall.
2. **Portfolio-margin accounts** (PMR above 0.95): cross perps are sent to the book first, the limit
   being the bankruptcy price of the whole account (its collateral counts); then the backstop takes
   over collateral and debt, fully past the full threshold, else 20% of the debt at a time until the
   account is no longer liquidatable ('Portfolio margin'). Collateral is taken at ``oracle x (LTV + 2) / 3``,
   the full threshold's price, so partial steps improve health exactly while the account is inside the partial
   band. An account whose value is negative with perps still open skips the steps: its perps are
   auto-deleveraged, the backstop takes its whole cross margin and the deficit goes down the waterfall.

Auto-deleveraging closes at the previous mark ('Auto-deleveraging') unless the current mark is worse for the
bankrupt side (:func:`rules.adl_price`): the user's collateral is always consumed first.

Loss waterfall, recorded per event: user collateral -> liquidator vault's free equity (perps) or PM
backstop balance (lending) -> the reserve's protocol buffer (the 10% interest cut) ->
auto-deleveraged counterparties, each at most its equity (perps; then the vault carries the rest), or
a haircut of suppliers through the supply index (lending).

Modules: this one runs the rounds; ``perps`` (cross pools, isolated positions, vault backstop),
``pm`` (portfolio margin), ``adl`` (auto-deleveraging and the perp waterfall), ``twap`` (the PM
backstop's sales and lending bad debt), ``accounts`` (shared plumbing), ``rules`` (pure rules).
"""

from __future__ import annotations

from netclear.engine.context import Ctx
from netclear.engine.liquidation.accounts import HIP3_BACKSTOP_BASE
from netclear.engine.liquidation.adl import adl_if_bankrupt, cover_flat_deficits
from netclear.engine.liquidation.perps import liquidate_pools
from netclear.engine.liquidation.pm import liquidate_pm
from netclear.engine.liquidation.twap import run_backstop_twap
from netclear.engine.state import Mode
from netclear.identity_cache import IdentityCache
from netclear.markets.registry import Registry

__all__ = ["MAX_CASCADE_ROUNDS", "run", "run_backstop_twap"]

MAX_CASCADE_ROUNDS = 16
"""Rounds of :func:`run` per action: a liquidation's fills and ADL charges can make their
counterparties liquidatable in turn (a spiral); each round checks the accounts the previous one
touched. The bound only guards against a defect: each account is checked once per action."""


def run(ctx: Ctx, candidates: set[str], *, cleared: set[str] | None = None) -> None:
    """Liquidate every candidate that is liquidatable now, then every account those liquidations
    touched (book makers, ADL counterparties charged a share), round after round, in the same action;
    in address order within a round (deterministic).

    ``cleared``: accounts a margin check proved above maintenance since their last change
    (:attr:`Tx.cleared`, after an order). When every candidate is one of them and no vault is bankrupt,
    the rounds would change nothing, so only flat pools below zero are covered (the usual fill: both
    sides passed their initial-margin check, which is above maintenance)."""
    if cleared is not None and candidates <= cleared and not _vault_bankrupt(ctx):
        _cover_flat(ctx, ctx.at_risk | candidates)
        return
    done: set[str] = set()
    pending = set(candidates)
    accounts = ctx.state.accounts
    for _ in range(MAX_CASCADE_ROUNDS):
        _run_round(ctx, pending)
        done |= pending
        if ctx.at_risk <= done:
            return
        pending = set()
        for a in ctx.at_risk - done:
            acct = accounts.get(a)
            if acct is not None and (acct.positions or acct.borrow_basis):
                pending.add(a)
        if not pending:
            return


def _run_round(ctx: Ctx, candidates: set[str]) -> None:
    accounts = ctx.state.accounts
    tx = ctx.tx
    for address in sorted(candidates):
        acct = accounts.get(address)
        if acct is None or acct.is_system:
            continue
        acct = tx.account(address)
        if acct.mode is Mode.PORTFOLIO:
            liquidate_pm(ctx, acct)
        else:
            liquidate_pools(ctx, acct)
    _cover_flat(ctx, ctx.at_risk | candidates)
    if not candidates:
        return
    for address in sorted(candidates | _vaults(ctx)):
        acct = accounts.get(address)
        if acct is not None and acct.is_system and acct.has_positions():
            adl_if_bankrupt(ctx, tx.account(address))


def _cover_flat(ctx: Ctx, addresses: set[str]) -> None:
    """Cover every flat pool below zero of these accounts (standard and unified), in address order."""
    accounts = ctx.state.accounts
    for address in sorted(addresses):
        acct = accounts.get(address)
        if acct is not None and not acct.is_system and acct.mode is not Mode.PORTFOLIO:
            cash = acct.perp_cash if acct.mode is Mode.STANDARD else acct.spot
            if cash and min(cash.values()) < 0:  # else no pool can be below zero without a position
                cover_flat_deficits(ctx, ctx.tx.account(address))


def _vault_bankrupt(ctx: Ctx) -> bool:
    """Whether a round's last step (:func:`adl_if_bankrupt` on the vaults) would find a vault to
    deleverage."""
    accounts = ctx.state.accounts
    for address in _vaults(ctx):
        acct = accounts[address]
        if not (acct.is_system and acct.has_positions()):
            continue
        h = ctx.health(acct)
        if any(pool.positions and pool.account_value < 0 for pool in h.pools.values()):
            return True
        if any(iso.margin_used < 0 for iso in h.isolated):
            return True
    return False


def _vault_addresses(reg: Registry) -> frozenset[str]:
    """The liquidator vault and the HIP-3 dexes' backstop accounts."""
    out = {reg.config.liquidation.liquidator_vault.lower()}
    for dex in reg.dexes[1:]:
        out.add("0x" + format(HIP3_BACKSTOP_BASE + dex.index, "040x"))
    return frozenset(out)


_vaults_of = IdentityCache(_vault_addresses)


def _vaults(ctx: Ctx) -> set[str]:
    accounts = ctx.state.accounts
    return {a for a in _vaults_of(ctx.reg) if a in accounts}
