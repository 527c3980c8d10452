"""Auto-deleveraging and the perp loss waterfall (Hyperliquid docs 'Auto-deleveraging'; the Drift v2 and Mango
v4 liquidation designs (docs/rules/liquidation.md)).

A bankrupt position is closed against the opposite side, ranked (or pro rata), at the previous mark unless
the current one is worse for the bankrupt side (:func:`rules.adl_price`); the deficit then goes down the
waterfall: the vault's free equity, the reserve's protocol buffer, the deleveraged counterparties (each
at most its equity), and the vault carries what is left, recorded (docs/rules/liquidation.md)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction

from netclear.engine import events, lending, ops
from netclear.engine.accounting import PoolKey
from netclear.engine.context import Ctx
from netclear.engine.liquidation import rules
from netclear.engine.liquidation.accounts import (
    Waterfall,
    add_cash,
    any_perp_of_pool,
    cash_of,
    key_of,
    move_cash,
    pm_value_wei,
    pool_of,
    system_account,
    vault_address,
)
from netclear.engine.state import Account, MarketState, Mode
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_SCALE, fmt_units, notional
from netclear.lending.rates import INDEX_SCALE
from netclear.markets.registry import Perp


@dataclass(slots=True)
class Deleveraged:
    """What auto-deleveraging did, per counterparty *slot*: its cross pool, or one isolated position.

    ``weights``: notional deleveraged (collateral wei), the weights of a socialized deficit;
    ``released``: for an isolated slot, the equity the close released into the counterparty's cross
    balance, the most a socialized share may take from it (Hyperliquid docs 'Margining': isolated margin
    confines the loss); ``owners``: slot -> (address, isolated, pool key, asset of the first position closed
    in it).
    """

    weights: dict[str, int] = field(default_factory=dict)
    released: dict[str, int] = field(default_factory=dict)
    owners: dict[str, tuple[str, bool, PoolKey, int]] = field(default_factory=dict)


def adl_if_bankrupt(ctx: Ctx, acct: Account) -> None:
    h = ctx.health(acct)
    for key, pool in h.sorted_pools():
        if pool.positions and pool.account_value < 0:
            adl_pool(ctx, acct, key)
    for iso in ctx.health(acct).isolated:
        if iso.margin_used < 0:
            adl_position(ctx, acct, iso.value.perp)


def cover_flat_deficits(ctx: Ctx, acct: Account) -> None:
    """A cross pool left below zero with no position (a close at a price past bankruptcy, or its fee):
    nothing is left to deleverage, so the deficit goes down the waterfall at once (vault, reserve
    buffer, then the vault carries it) and is recorded, like any other (docs/rules/liquidation.md)."""
    cash = acct.perp_cash if acct.mode is Mode.STANDARD else acct.spot
    if all(c >= 0 for c in cash.values()):
        return  # a pool with no position is worth its cash: nothing can be below zero
    for key, pool in ctx.health(acct).sorted_pools():
        if pool.positions or pool.account_value >= 0:
            continue
        perp = next((p for p in ctx.reg.perps.values() if key_of(ctx, acct, p) == key), None)
        if perp is not None:
            cover_deficit(ctx, acct, acct, perp, -pool.account_value, Deleveraged())


def adl_pool(ctx: Ctx, acct: Account, key: PoolKey) -> None:
    pool = pool_of(ctx, acct, key)
    dl = Deleveraged()
    for pv in sorted(pool.positions, key=lambda p: p.perp.asset):
        adl_close(ctx, acct, pv.perp, dl)
    pool = pool_of(ctx, acct, key)
    if pool.account_value < 0:
        perp = any_perp_of_pool(ctx, key, acct)
        cover_deficit(ctx, acct, acct, perp, -pool.account_value, dl)


def adl_position(ctx: Ctx, acct: Account, perp: Perp) -> None:
    """A bankrupt isolated position: deleverage it; its negative equity, released into the pool by the
    close, is covered from the waterfall so the user's cross margin does not pay for it ('Margining')."""
    pos = acct.positions[perp.asset]
    px = _adl_px(ctx, perp, pos.szi > 0)
    equity = pos.raw_usd + notional(pos.szi, px, perp.sz_decimals, perp.collateral.wei_decimals)
    dl = Deleveraged()
    adl_close(ctx, acct, perp, dl)
    if equity < 0 and perp.asset not in acct.positions:
        cover_deficit(ctx, acct, acct, perp, -equity, dl)


def _adl_px(ctx: Ctx, perp: Perp, bankrupt_is_long: bool) -> int:
    ms = ctx.state.markets.get(perp.asset) or MarketState()
    return rules.adl_price(ms.prev_mark, ctx.valuer().mark(perp.asset), bankrupt_is_long)


def adl_close(ctx: Ctx, acct: Account, perp: Perp, dl: Deleveraged) -> None:
    """Close ``acct``'s position against the opposite side ('Auto-deleveraging') at :func:`rules.adl_price`.

    Adds the notional deleveraged per counterparty slot to ``dl`` (the weights for any deficit left).
    """
    pos = acct.positions.get(perp.asset)
    if pos is None or pos.szi == 0:
        return
    is_long = pos.szi > 0
    mark = _adl_px(ctx, perp, is_long)
    v = ctx.valuer()
    candidates = []
    for address in sorted(ctx.state.accounts):
        if address == acct.address:
            continue
        other = ctx.state.accounts[address]
        opos = other.positions.get(perp.asset)
        if opos is None or opos.szi == 0 or (opos.szi > 0) == is_long:
            continue
        opv = v.position_value(opos, perp)
        entry = Fraction(opos.entry_ntl, abs(opos.szi) * PX_SCALE)
        av = ctx.health(other).pool_of(perp).account_value if opos.is_cross else opos.raw_usd + opv.ntl
        rank = rules.adl_rank(
            Fraction(opv.mark, PX_SCALE), entry, Fraction(opv.abs_ntl), Fraction(av), opos.szi > 0
        )
        candidates.append(rules.AdlCandidate(address, abs(opos.szi), rank))
    needed = abs(pos.szi)
    if ctx.reg.config.liquidation.adl == "pro_rata":
        plan = rules.adl_pro_rata(candidates, needed)
    else:
        plan = rules.adl_queue(candidates, needed)
    closed: list[str] = []
    for address, lots in plan:
        other = ctx.tx.account(address)
        isolated = not other.positions[perp.asset].is_cross
        key = key_of(ctx, other, perp)
        slot = f"{address}|{'i' if isolated else 'c'}|{perp.asset if isolated else key}"
        cash_before = cash_of(other, perp)
        buyer, seller = (other, acct) if is_long else (acct, other)
        ops.settle_trade(ctx, buyer, seller, perp, lots, mark, check_margin=False)
        dl.owners.setdefault(slot, (address, isolated, key, perp.asset))
        dl.weights[slot] = dl.weights.get(slot, 0) + notional(
            lots, mark, perp.sz_decimals, perp.collateral.wei_decimals
        )
        if isolated:
            # no fee in ADL: the only cash into the pool is the equity the isolated close released
            dl.released[slot] = dl.released.get(slot, 0) + cash_of(other, perp) - cash_before
        closed.append(address)
    if closed:
        ctx.emit(events.Adl(user=acct.address, asset=perp.asset, px=mark, counterparties=sorted(set(closed))))


def _share_cap(ctx: Ctx, dl: Deleveraged, slot: str, perp: Perp) -> int:
    """The most a counterparty slot may be charged: an isolated slot, the equity its close released;
    a cross slot, its pool's equity (for a portfolio-margin account, the account's value) less what
    its isolated slots released into that pool (they are charged on their own)."""
    address, isolated, key, _ = dl.owners[slot]
    if isolated:
        return max(0, dl.released.get(slot, 0))
    other = ctx.tx.account(address)
    pools = ctx.health(other).pools
    equity = pools[key].account_value if key in pools else 0
    if other.mode is Mode.PORTFOLIO:
        with contextlib.suppress(InvalidAction):  # an asset without a price: its pool alone
            equity = pm_value_wei(ctx, other, perp.collateral)
    iso_in_pool = sum(
        amt for s, amt in dl.released.items() if dl.owners[s][0] == address and dl.owners[s][2] == key
    )
    return max(0, equity - max(0, iso_in_pool))


def _take_reserve_buffer(ctx: Ctx, payee: Account, perp: Perp, amount: int) -> int:
    """The lending reserve's protocol buffer of the collateral token pays up to ``amount`` (whole wei)."""
    token = perp.collateral.index
    known = ctx.state.reserves.get(token)
    if known is None or (known.buffer_raw < INDEX_SCALE and not known.scaled_borrow):
        return 0
    res = lending.reserve(ctx.tx, ctx.reg, token)
    take = min(amount, res.buffer_raw // INDEX_SCALE, res.cash)
    if take <= 0:
        return 0
    res.buffer_raw -= take * INDEX_SCALE
    res.cash -= take
    add_cash(payee, perp, take)
    return take


def cover_deficit(
    ctx: Ctx,
    acct: Account,
    payee: Account,
    perp: Perp,
    deficit: int,
    dl: Deleveraged,
    user_collateral: int = 0,
) -> None:
    """Loss waterfall for a bankrupt perp account, after its own collateral (docs/rules/liquidation.md 'The
    loss waterfall'): the vault's free equity, the reserve's protocol buffer, the ADL counterparties pro rata
    to the notional deleveraged, each at most its equity; what none of them can hold, the vault carries
    (recorded).

    ``payee`` receives the cover: the bankrupt account, or the PM backstop that took its book over.
    """
    coll = perp.collateral
    wf = Waterfall(coll.name, user_collateral=user_collateral)
    vault = system_account(ctx, vault_address(ctx, perp))
    pools = ctx.health(vault).pools
    vkey = key_of(ctx, vault, perp)
    vault_free = max(0, pools[vkey].account_value - pools[vkey].mm) if vkey in pools else 0
    take = min(deficit, vault_free)
    if take:
        move_cash(vault, payee, perp, take)
        wf.vault = take
    rest = deficit - take
    if rest:
        wf.reserve_buffer = _take_reserve_buffer(ctx, payee, perp, rest)
        rest -= wf.reserve_buffer
    # counterparties in the deficit's collateral token (a PM account's perps may span several)
    weights = {
        k: w for k, w in dl.weights.items() if ctx.reg.perps[dl.owners[k][3]].collateral.index == coll.index
    }
    if rest and weights:
        slots = [rules.ShareSlot(k, w, _share_cap(ctx, dl, k, perp)) for k, w in sorted(weights.items())]
        for slot, amt in sorted(rules.socialize(rest, slots).items()):
            address, _, _, asset = dl.owners[slot]
            # from the slot's own pool (its dex's cash in standard mode), into the payee's
            src = ctx.tx.account(address)
            add_cash(src, ctx.reg.perps[asset], -amt)
            add_cash(payee, perp, amt)
            wf.socialized_to[address] = wf.socialized_to.get(address, 0) + amt
            wf.socialized += amt
        rest -= wf.socialized
    if rest:
        # beyond every layer (nobody deleveraged, or their equity exhausted): the vault carries it,
        # its balance going negative, recorded
        move_cash(vault, payee, perp, rest)
        wf.vault += rest
    ctx.record(
        "liquidations",
        acct.address,
        {
            "time": ctx.now,
            "kind": "perpDeficit",
            "coin": perp.name,
            "deficit": fmt_units(deficit, coll.wei_decimals),
            "waterfall": wf.as_dict(coll.wei_decimals),
        },
    )
