"""The liquidation engine: market liquidation, backstop takeover, PM borrow takeover, ADL and the
explicit loss waterfall (research/hyperliquid.md §2, §3.5-§3.7; peers.md §F lessons 7-8).

Order of work for one account, deterministic (docs/rules/liquidation.md):

1. **Cross pools and isolated positions** (standard and unified accounts; the pools of a
   portfolio-margin account margined apart from the PMR): positions are sent to the book as
   reduce-only IOC orders with no fee, largest notional first, 20% at a time above the partial
   threshold unless in the 30 s cooldown (§2.2); the limit price never passes the position's
   bankruptcy price. Then, if equity is below 2/3 of maintenance, the liquidator vault takes over the
   pool's positions and cash (§2.3; the user keeps nothing of it); if equity is negative, the
   positions are auto-deleveraged instead (§2.5) and the deficit goes down the waterfall.
2. **Portfolio-margin accounts** (PMR above 0.95): cross perps are sent to the book first, the limit
   being the bankruptcy price of the whole account (its collateral counts); then the backstop takes
   over collateral and debt, fully past the full threshold, else 20% of the debt at a time until the
   account is no longer liquidatable (§3.7). Collateral is taken at ``oracle x (LTV + 2) / 3``, the
   full threshold's price, so partial steps improve health exactly while the account is inside the
   partial band. An account whose value is negative with perps still open skips the steps: its perps
   are auto-deleveraged, the backstop takes its whole cross margin and the deficit goes down the
   waterfall.

Auto-deleveraging closes at the previous mark (§2.5) unless the current mark is worse for the
bankrupt side (:func:`rules.adl_price`): the user's collateral is always consumed first.

Loss waterfall, recorded per event: user collateral -> liquidator vault's free equity (perps) or PM
backstop balance (lending) -> the reserve's protocol buffer (the 10% interest cut) ->
auto-deleveraged counterparties, each at most its equity (perps; then the vault carries the rest), or
a haircut of suppliers through the supply index (lending).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from netclear.book.orderbook import OrderBook
from netclear.engine import lending
from netclear.engine.accounting import MarginPool, PositionValue
from netclear.engine.context import Ctx
from netclear.engine.handlers import orders as order_engine
from netclear.engine.handlers.trading import apply_perp_side, settle_trade
from netclear.engine.state import Account, MarketState, Mode, OrderInfo
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_SCALE, fmt_px, fmt_units, frac_ceil, frac_floor, notional
from netclear.lending.rates import INDEX_SCALE, value_of
from netclear.liquidation import rules
from netclear.margin import portfolio as pm_rules
from netclear.markets import fees as fee_rules
from netclear.markets.registry import Perp, Token

HIP3_BACKSTOP_BASE = 0x4000000000000000000000000000000000000000
PM_STEP_LIMIT = 50


@dataclass(slots=True)
class Waterfall:
    """Where a liquidation's loss landed, layer by layer (collateral wei)."""

    token: str
    user_collateral: int = 0
    vault: int = 0
    reserve_buffer: int = 0
    socialized: int = 0
    socialized_to: dict[str, int] = field(default_factory=dict)

    def as_dict(self, wd: int) -> dict[str, Any]:
        return {
            "token": self.token,
            "userCollateral": fmt_units(self.user_collateral, wd),
            "vault": fmt_units(self.vault, wd),
            "reserveBuffer": fmt_units(self.reserve_buffer, wd),
            "socialized": fmt_units(self.socialized, wd),
            "socializedTo": {k: fmt_units(v, wd) for k, v in sorted(self.socialized_to.items())},
        }


class _NoLiquidationFee(order_engine.FeeBook):
    """The liquidated side pays no fee ("no clearance fee on liquidations", §2.2); makers pay as usual."""

    def __init__(self, ctx: Ctx, liquidated: str) -> None:
        super().__init__(ctx)
        self.liquidated = liquidated

    def rates(self, acct: Account, is_spot: bool) -> fee_rules.FeeRates:
        base = super().rates(acct, is_spot)
        if acct.address == self.liquidated:
            return fee_rules.FeeRates(Fraction(0), Fraction(0))
        return base


# ---------------------------------------------------------------------------- addresses
def vault_address(ctx: Ctx, perp: Perp) -> str:
    """The liquidator vault (HLP) for the first dex; ``0x400..00 + dex_index`` for a HIP-3 dex (§2.3)."""
    if perp.dex.is_builder:
        return "0x" + format(HIP3_BACKSTOP_BASE + perp.dex.index, "040x")
    return ctx.reg.config.liquidation.liquidator_vault.lower()


def _system(ctx: Ctx, address: str, mode: Mode | None = None) -> Account:
    acct = ctx.tx.account(address)
    acct.is_system = True
    if mode is not None and acct.mode is not mode and not acct.has_positions():
        acct.mode = mode
    return acct


# ---------------------------------------------------------------------------- entry point
MAX_CASCADE_ROUNDS = 16
"""Rounds of :func:`run` per action: a liquidation's fills and ADL charges can make their
counterparties liquidatable in turn (a spiral); each round checks the accounts the previous one
touched. The bound only guards against a defect: each account is checked once per action."""


def run(ctx: Ctx, candidates: set[str]) -> None:
    """Liquidate every candidate that is liquidatable now, then every account those liquidations
    touched (book makers, ADL counterparties charged a share), round after round, in the same action;
    in address order within a round (deterministic)."""
    done: set[str] = set()
    pending = set(candidates)
    for _ in range(MAX_CASCADE_ROUNDS):
        _run_round(ctx, pending)
        done |= pending
        accounts = ctx.state.accounts
        pending = {
            a
            for a in ctx.at_risk - done
            if a in accounts and (accounts[a].positions or accounts[a].borrow_basis)
        }
        if not pending:
            return


def _run_round(ctx: Ctx, candidates: set[str]) -> None:
    for address in sorted(candidates):
        acct = ctx.state.accounts.get(address)
        if acct is None or acct.is_system:
            continue
        acct = ctx.tx.account(address)
        if acct.mode is Mode.PORTFOLIO:
            _liquidate_pm(ctx, acct)
        else:
            _liquidate_pools(ctx, acct)
    for address in sorted(ctx.at_risk | candidates):
        acct = ctx.state.accounts.get(address)
        if acct is not None and not acct.is_system and acct.mode is not Mode.PORTFOLIO:
            _cover_flat_deficits(ctx, ctx.tx.account(address))
    if not candidates:
        return
    for address in sorted(candidates | _vaults(ctx)):
        acct = ctx.state.accounts.get(address)
        if acct is not None and acct.is_system and acct.has_positions():
            _adl_if_bankrupt(ctx, ctx.tx.account(address))


def _vaults(ctx: Ctx) -> set[str]:
    out = {ctx.reg.config.liquidation.liquidator_vault.lower()}
    for dex in ctx.reg.dexes[1:]:
        out.add("0x" + format(HIP3_BACKSTOP_BASE + dex.index, "040x"))
    return {a for a in out if a in ctx.state.accounts}


# ---------------------------------------------------------------------------- standard and unified
def _liquidate_pools(ctx: Ctx, acct: Account) -> None:
    v = ctx.valuer()
    for key, pool in sorted(v.cross_pools(acct).items(), key=lambda kv: str(kv[0])):
        if pool.positions and rules.pool_liquidatable(pool.account_value, pool.mm):
            _liquidate_cross(ctx, acct, key)
    for iso in v.isolated(acct):
        pv = iso.value
        if rules.pool_liquidatable(iso.margin_used, pv.mm):
            _liquidate_isolated(ctx, acct, pv.perp)


def _pool(ctx: Ctx, acct: Account, key: str | int) -> MarginPool:
    return ctx.valuer().cross_pools(acct)[key]


def _liquidate_cross(ctx: Ctx, acct: Account, key: str | int) -> None:
    pool = _pool(ctx, acct, key)
    start_value, start_ntl = pool.account_value, pool.total_ntl
    liquidated: list[dict[str, str]] = []
    for pv in sorted(pool.positions, key=lambda p: (-p.abs_ntl, p.perp.asset)):
        pool = _pool(ctx, acct, key)
        if not rules.pool_liquidatable(pool.account_value, pool.mm):
            break
        live = next((p for p in pool.positions if p.perp.asset == pv.perp.asset), None)
        if live is None:
            continue
        filled = _market_liquidate(ctx, acct, live, pool.account_value)
        if filled:
            liquidated.append({"coin": pv.perp.name, "szi": fmt_units(filled, pv.perp.sz_decimals)})
    pool = _pool(ctx, acct, key)
    cfg = ctx.reg.config.liquidation
    outcome = "market"
    if pool.positions and rules.backstop_due(pool.account_value, pool.mm, cfg.backstop_fraction):
        if pool.account_value >= 0:
            _backstop_cross(ctx, acct, key)
            outcome = "backstop"
        else:
            _adl_pool(ctx, acct, key)
            outcome = "adl"
    if liquidated or outcome != "market":
        _record(ctx, acct, "Cross", start_value, start_ntl, liquidated, pool.token.wei_decimals, outcome)


def _liquidate_isolated(ctx: Ctx, acct: Account, perp: Perp) -> None:
    v = ctx.valuer()
    pv = v.position_value(acct.positions[perp.asset], perp)
    start_margin = acct.positions[perp.asset].raw_usd + pv.ntl
    start_ntl = pv.abs_ntl
    filled = _market_liquidate(ctx, acct, pv, start_margin)
    liquidated = [{"coin": perp.name, "szi": fmt_units(filled, perp.sz_decimals)}] if filled else []
    pos = acct.positions.get(perp.asset)
    outcome = "market"
    if pos is not None and pos.szi:
        pv = ctx.valuer().position_value(pos, perp)
        margin = pos.raw_usd + pv.ntl
        if rules.backstop_due(margin, pv.mm, ctx.reg.config.liquidation.backstop_fraction):
            if margin >= 0:
                _transfer_position(ctx, acct, _system(ctx, vault_address(ctx, perp)), perp)
                outcome = "backstop"
            else:
                _adl_position(ctx, acct, perp)
                outcome = "adl"
    if liquidated or outcome != "market":
        # like the cross path, the record carries the margin the liquidation started from (§2.6)
        _record(
            ctx, acct, "Isolated", start_margin, start_ntl, liquidated, perp.collateral.wei_decimals, outcome
        )


def _market_liquidate(ctx: Ctx, acct: Account, pv: PositionValue, equity: int) -> int:
    """Send one liquidation order for ``pv`` to the book; returns the lots filled (§2.2)."""
    perp, pos = pv.perp, pv.position
    cfg = ctx.reg.config.liquidation
    book = ctx.state.books.get(perp.asset)
    if book is None:
        return 0
    last = ctx.state.liquidation_cooldown.get(acct.address)
    in_cooldown = last is not None and ctx.now - last < cfg.cooldown_s * 1000
    partial_ntl = int(Fraction(cfg.partial_notional) * perp.collateral.unit)
    size = rules.liquidation_size(pos.szi, pv.ntl, partial_ntl, Fraction(cfg.partial_fraction), in_cooldown)
    is_buy = pos.szi < 0
    limit = _limit_price(ctx, perp, pv, equity, is_buy)
    if limit is None:
        return 0
    before = abs(pos.szi)
    p = order_engine.Parsed(perp, is_buy, limit, size, True, "Ioc", None, False, None, None)
    oid = ctx.state.next_oid
    ctx.state.next_oid += 1
    order_engine._match(ctx, acct, p, oid, size, OrderInfo(), book, _NoLiquidationFee(ctx, acct.address))
    after = abs(acct.positions[perp.asset].szi) if perp.asset in acct.positions else 0
    filled = before - after
    if filled and size < before:
        ctx.state.liquidation_cooldown[acct.address] = ctx.now
    return filled


def _limit_price(ctx: Ctx, perp: Perp, pv: PositionValue, equity: int, is_buy: bool) -> int | None:
    """IOC limit: no worse than the bankruptcy price of the position's margin, nor 10% from the mark."""
    unit = perp.collateral.unit
    mark = Fraction(pv.mark, PX_SCALE)
    szi = Fraction(pv.position.szi, 10**perp.sz_decimals)
    bk = rules.bankruptcy_price(mark, szi, Fraction(equity, unit))
    slip = Fraction(ctx.reg.config.orders.trigger_slippage)
    bound = mark * (1 + slip) if is_buy else mark * (1 - slip)
    px = min(bk, bound) if is_buy else max(bk, bound)
    if px <= 0:
        return None
    from netclear.markets.ticks import round_price_to_grid

    return round_price_to_grid(px * PX_SCALE, perp.sz_decimals, False, rounding="floor" if is_buy else "ceil")


def _record(
    ctx: Ctx,
    acct: Account,
    kind: str,
    value: int,
    ntl: int,
    positions: list[dict[str, str]],
    wd: int,
    outcome: str,
) -> None:
    delta = {
        "type": "liquidation",
        "liquidatedNtlPos": fmt_units(ntl, wd),
        "accountValue": fmt_units(value, wd),
        "leverageType": kind,
        "liquidatedPositions": positions,
    }
    ctx.ledger(acct.address, delta)
    ctx.emit("liquidation", acct.address, leverageType=kind, outcome=outcome, positions=positions)


# ---------------------------------------------------------------------------- backstop (perps)
def _pool_cash_key(acct: Account, perp: Perp) -> tuple[str, str | int]:
    return ("perp", perp.dex.name) if acct.mode is Mode.STANDARD else ("spot", perp.collateral.index)


def _add_cash(acct: Account, perp: Perp, amount: int) -> None:
    """Add ``amount`` to the account's cross pool for ``perp`` (dex cash, or the unified balance)."""
    if acct.mode is Mode.STANDARD:
        acct.perp_cash[perp.dex.name] = acct.perp_cash.get(perp.dex.name, 0) + amount
    else:
        t = perp.collateral.index
        acct.spot[t] = acct.spot.get(t, 0) + amount


def _cash(acct: Account, perp: Perp) -> int:
    if acct.mode is Mode.STANDARD:
        return acct.perp_cash.get(perp.dex.name, 0)
    return acct.spot.get(perp.collateral.index, 0)


def _move_cash(src: Account, dst: Account, perp: Perp, amount: int) -> None:
    _add_cash(src, perp, -amount)
    _add_cash(dst, perp, amount)


def _pool_key(acct: Account, perp: Perp) -> str | int:
    return perp.dex.name if acct.mode is Mode.STANDARD else perp.collateral.index


def _transfer_position(ctx: Ctx, user: Account, vault: Account, perp: Perp) -> None:
    """Move one position (and, for isolated, its margin) to the vault at the mark (§2.3)."""
    pos = user.positions[perp.asset]
    mark = ctx.valuer().mark(perp.asset)
    size = pos.szi
    cash = notional(size, mark, perp.sz_decimals, perp.collateral.wei_decimals)
    isolated_cash = 0
    if not pos.is_cross:
        isolated_cash = pos.raw_usd + cash  # the isolated margin at the mark, owed to the vault
    # user closes at the mark, vault opens at the mark: no value changes hands in the trade itself
    apply_perp_side(ctx, user, perp, -size, mark, cash, 0)
    apply_perp_side(ctx, vault, perp, size, mark, -cash, 0)
    if not pos.is_cross:
        _move_cash(user, vault, perp, isolated_cash)


def _backstop_cross(ctx: Ctx, acct: Account, key: str | int) -> None:
    """The vault takes every position of the pool and the pool's remaining equity (§2.3)."""
    pool = _pool(ctx, acct, key)
    first = min(pool.positions, key=lambda p: p.perp.asset).perp
    for pv in sorted(pool.positions, key=lambda p: p.perp.asset):
        _transfer_position(ctx, acct, _system(ctx, vault_address(ctx, pv.perp)), pv.perp)
    # what is left in the pool is its equity: it goes to the vault too (maintenance margin not returned, §2.3)
    equity = _pool(ctx, acct, key).account_value
    if equity:
        _move_cash(acct, _system(ctx, vault_address(ctx, first)), first, equity)


def _any_perp_of_pool(ctx: Ctx, key: str | int, acct: Account) -> Perp:
    for perp in ctx.reg.perps.values():
        if (perp.dex.name if acct.mode is Mode.STANDARD else perp.collateral.index) == key:
            return perp
    raise KeyError(key)


# ---------------------------------------------------------------------------- auto-deleveraging
@dataclass(slots=True)
class _Deleveraged:
    """What auto-deleveraging did, per counterparty *slot*: its cross pool, or one isolated position.

    ``weights``: notional deleveraged (collateral wei), the weights of a socialized deficit;
    ``released``: for an isolated slot, the equity the close released into the counterparty's cross
    balance, the most a socialized share may take from it (research §1.1: isolated margin confines the
    loss); ``owners``: slot -> (address, isolated, pool key, asset of the first position closed in it).
    """

    weights: dict[str, int] = field(default_factory=dict)
    released: dict[str, int] = field(default_factory=dict)
    owners: dict[str, tuple[str, bool, str | int, int]] = field(default_factory=dict)


def _adl_if_bankrupt(ctx: Ctx, acct: Account) -> None:
    v = ctx.valuer()
    for key, pool in sorted(v.cross_pools(acct).items(), key=lambda kv: str(kv[0])):
        if pool.positions and pool.account_value < 0:
            _adl_pool(ctx, acct, key)
    for iso in v.isolated(acct):
        if iso.margin_used < 0:
            _adl_position(ctx, acct, iso.value.perp)


def _cover_flat_deficits(ctx: Ctx, acct: Account) -> None:
    """A cross pool left below zero with no position (a close at a price past bankruptcy, or its fee):
    nothing is left to deleverage, so the deficit goes down the waterfall at once (vault, reserve
    buffer, then the vault carries it) and is recorded, like any other (docs/rules/liquidation.md)."""
    cash = acct.perp_cash if acct.mode is Mode.STANDARD else acct.spot
    if all(c >= 0 for c in cash.values()):
        return  # a pool with no position is worth its cash: nothing can be below zero
    for key, pool in sorted(ctx.valuer().cross_pools(acct).items(), key=lambda kv: str(kv[0])):
        if pool.positions or pool.account_value >= 0:
            continue
        perp = next((p for p in ctx.reg.perps.values() if _pool_key(acct, p) == key), None)
        if perp is not None:
            _cover_deficit(ctx, acct, acct, perp, -pool.account_value, _Deleveraged())


def _adl_pool(ctx: Ctx, acct: Account, key: str | int) -> None:
    pool = _pool(ctx, acct, key)
    dl = _Deleveraged()
    for pv in sorted(pool.positions, key=lambda p: p.perp.asset):
        _adl_close(ctx, acct, pv.perp, dl)
    pool = _pool(ctx, acct, key)
    if pool.account_value < 0:
        perp = _any_perp_of_pool(ctx, key, acct)
        _cover_deficit(ctx, acct, acct, perp, -pool.account_value, dl)


def _adl_position(ctx: Ctx, acct: Account, perp: Perp) -> None:
    """A bankrupt isolated position: deleverage it; its negative equity, released into the pool by the
    close, is covered from the waterfall so the user's cross margin does not pay for it (§1.1)."""
    pos = acct.positions[perp.asset]
    px = _adl_px(ctx, perp, pos.szi > 0)
    equity = pos.raw_usd + notional(pos.szi, px, perp.sz_decimals, perp.collateral.wei_decimals)
    dl = _Deleveraged()
    _adl_close(ctx, acct, perp, dl)
    if equity < 0 and perp.asset not in acct.positions:
        _cover_deficit(ctx, acct, acct, perp, -equity, dl)


def _adl_px(ctx: Ctx, perp: Perp, bankrupt_is_long: bool) -> int:
    ms = ctx.state.markets.get(perp.asset) or MarketState()
    return rules.adl_price(ms.prev_mark, ctx.valuer().mark(perp.asset), bankrupt_is_long)


def _adl_close(ctx: Ctx, acct: Account, perp: Perp, dl: _Deleveraged) -> None:
    """Close ``acct``'s position against the opposite side (§2.5) at :func:`rules.adl_price`.

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
        pools = v.cross_pools(other)
        av = pools[_pool_key(other, perp)].account_value if opos.is_cross else opos.raw_usd + opv.ntl
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
        key = _pool_key(other, perp)
        slot = f"{address}|{'i' if isolated else 'c'}|{perp.asset if isolated else key}"
        cash_before = _cash(other, perp)
        buyer, seller = (other, acct) if is_long else (acct, other)
        settle_trade(ctx, buyer, seller, perp, lots, mark, 0, 0, check_buyer=False, check_seller=False)
        dl.owners.setdefault(slot, (address, isolated, key, perp.asset))
        dl.weights[slot] = dl.weights.get(slot, 0) + notional(
            lots, mark, perp.sz_decimals, perp.collateral.wei_decimals
        )
        if isolated:
            # no fee in ADL: the only cash into the pool is the equity the isolated close released
            dl.released[slot] = dl.released.get(slot, 0) + _cash(other, perp) - cash_before
        closed.append(address)
    if closed:
        ctx.emit("adl", acct.address, coin=perp.name, px=fmt_px(mark), counterparties=sorted(set(closed)))


def _share_cap(ctx: Ctx, dl: _Deleveraged, slot: str, perp: Perp) -> int:
    """The most a counterparty slot may be charged: an isolated slot, the equity its close released;
    a cross slot, its pool's equity (for a portfolio-margin account, the account's value) less what
    its isolated slots released into that pool (they are charged on their own)."""
    address, isolated, key, _ = dl.owners[slot]
    if isolated:
        return max(0, dl.released.get(slot, 0))
    other = ctx.tx.account(address)
    pools = ctx.valuer().cross_pools(other)
    equity = pools[key].account_value if key in pools else 0
    if other.mode is Mode.PORTFOLIO:
        with contextlib.suppress(InvalidAction):  # an asset without a price: its pool alone
            equity = _pm_value_wei(ctx, other, perp.collateral)
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
    _add_cash(payee, perp, take)
    return take


def _cover_deficit(
    ctx: Ctx,
    acct: Account,
    payee: Account,
    perp: Perp,
    deficit: int,
    dl: _Deleveraged,
    user_collateral: int = 0,
) -> None:
    """Loss waterfall for a bankrupt perp account, after its own collateral (peers.md §F.8): the vault's
    free equity, the reserve's protocol buffer, the ADL counterparties pro rata to the notional
    deleveraged, each at most its equity; what none of them can hold, the vault carries (recorded).

    ``payee`` receives the cover: the bankrupt account, or the PM backstop that took its book over.
    """
    coll = perp.collateral
    wf = Waterfall(coll.name, user_collateral=user_collateral)
    vault = _system(ctx, vault_address(ctx, perp))
    pools = ctx.valuer().cross_pools(vault)
    vkey = _pool_key(vault, perp)
    vault_free = max(0, pools[vkey].account_value - pools[vkey].mm) if vkey in pools else 0
    take = min(deficit, vault_free)
    if take:
        _move_cash(vault, payee, perp, take)
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
            _add_cash(src, ctx.reg.perps[asset], -amt)
            _add_cash(payee, perp, amt)
            wf.socialized_to[address] = wf.socialized_to.get(address, 0) + amt
            wf.socialized += amt
        rest -= wf.socialized
    if rest:
        # beyond every layer (nobody deleveraged, or their equity exhausted): the vault carries it,
        # its balance going negative, recorded
        _move_cash(vault, payee, perp, rest)
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


# ---------------------------------------------------------------------------- portfolio margin
def _pm_ratio(ctx: Ctx, acct: Account) -> Fraction:
    return ctx.valuer().pm_legs(acct).ratio


def _liquidate_pm(ctx: Ctx, acct: Account) -> None:
    pm = ctx.reg.pm
    if pm is None:
        return
    # Dexes whose collateral is not borrowable (e.g. USDH) are outside the PMR: their cross pool is
    # margined on its own, like a unified account's (docs/rules/portfolio-margin.md).
    for key, pool in sorted(ctx.valuer().cross_pools(acct).items(), key=lambda kv: str(kv[0])):
        own_pool = isinstance(key, int) and ctx.reg.borrowable(key) is None and pool.positions
        if own_pool and rules.pool_liquidatable(pool.account_value, pool.mm):
            _liquidate_cross(ctx, acct, key)
    if not pm_rules.pm_liquidatable(_pm_ratio(ctx, acct), pm.liquidation_ratio):
        _liquidate_isolated_only(ctx, acct)
        return
    v = ctx.valuer()
    start_value = int(v.account_value_usdc(acct) * ctx.reg.quote.unit)
    start = {pv.perp.asset: pv for pv in _pm_positions(ctx, acct)}
    sent: set[int] = set()
    liquidated: list[dict[str, str]] = []
    for pv in sorted(start.values(), key=lambda p: (-p.abs_ntl, p.perp.asset)):
        if not pm_rules.pm_liquidatable(_pm_ratio(ctx, acct), pm.liquidation_ratio):
            break
        pos = acct.positions.get(pv.perp.asset)
        if pos is None:
            continue
        live = ctx.valuer().position_value(pos, pv.perp)
        # the bankruptcy price of the whole portfolio-margin account: its collateral counts (§3.5)
        equity = _pm_value_wei(ctx, acct, pv.perp.collateral)
        filled = _market_liquidate(ctx, acct, live, max(equity, 0))
        if filled:
            sent.add(pv.perp.asset)
            liquidated.append({"coin": pv.perp.name, "szi": fmt_units(filled, pv.perp.sz_decimals)})
    outcome = "market"
    takeovers = 0
    if not _pm_bankrupt(ctx, acct):
        while acct.has_borrows() and pm_rules.pm_liquidatable(_pm_ratio(ctx, acct), pm.liquidation_ratio):
            if takeovers >= PM_STEP_LIMIT or not _takeover_step(ctx, acct):
                break
            takeovers += 1
        if takeovers:
            outcome = "pmTakeover"
    if _pm_bankrupt(ctx, acct):
        sent |= _pm_deleverage(ctx, acct)
        outcome = "adl"
    if liquidated or outcome != "market":
        ntl = sum(v.to_usdc_wei(pv.perp.collateral, pv.abs_ntl) for a, pv in start.items() if a in sent)
        _record(ctx, acct, "Cross", start_value, ntl, liquidated, ctx.reg.quote.wei_decimals, outcome)
    _liquidate_isolated_only(ctx, acct)


def _pm_positions(ctx: Ctx, acct: Account) -> list[PositionValue]:
    """Cross positions margined by the PMR: those of dexes whose collateral is borrowable."""
    return [
        pv
        for key, pool in ctx.valuer().cross_pools(acct).items()
        if not isinstance(key, int) or ctx.reg.borrowable(key) is not None
        for pv in pool.positions
    ]


def _pm_value(ctx: Ctx, acct: Account) -> Fraction:
    """USDC value of a portfolio-margin account's cross margin: everything it owns net of its debts
    (research §3.5: cross perps and spot balances margined together), less its isolated positions and
    the pools of dexes whose collateral is not borrowable, which are margined apart."""
    v = ctx.valuer()
    total = v.account_value_usdc(acct)
    for iso in v.isolated(acct):
        total -= v.usdc_value(iso.value.perp.collateral, iso.margin_used)
    for key, pool in v.cross_pools(acct).items():
        if isinstance(key, int) and ctx.reg.borrowable(key) is None:
            total -= v.usdc_value(pool.token, pool.account_value)
    return total


def _pm_value_wei(ctx: Ctx, acct: Account, token: Token) -> int:
    """:func:`_pm_value` in wei of ``token`` (rounded down)."""
    value = _pm_value(ctx, acct) / ctx.valuer().token_price(token) * token.unit
    return frac_floor(value)


def _pm_bankrupt(ctx: Ctx, acct: Account) -> bool:
    """§2.5 "a user's account value ... becomes negative", with cross perps still open."""
    return bool(_pm_positions(ctx, acct)) and _pm_value(ctx, acct) < 0


def _pm_deleverage(ctx: Ctx, acct: Account) -> set[int]:
    """A bankrupt portfolio-margin account (docs/rules/liquidation.md "Portfolio margin"):

    1. its cross perps are auto-deleveraged (§2.5) at :func:`rules.adl_price`;
    2. its open orders are cancelled and its whole cross margin (every spot balance outside the
       separately margined pools, every supply and every borrow) goes to the PM backstop: the user's
       collateral absorbs the loss first and the account is left with nothing (§2.3 "all cross
       positions and cross margin are transferred", §3.7 takeover);
    3. the deficit, what the book is worth below zero, is paid to the backstop down the perp
       waterfall (vault, reserve buffer, the deleveraged counterparties, the vault).

    Returns the assets deleveraged.
    """
    pm = ctx.reg.pm
    assert pm is not None
    positions = sorted(_pm_positions(ctx, acct), key=lambda p: p.perp.asset)
    order_engine.cancel_all(ctx, acct)
    dl = _Deleveraged()
    for pv in positions:
        _adl_close(ctx, acct, pv.perp, dl)
    # the perp whose vault and collateral carry the deficit: the account's largest position
    perp = max(positions, key=lambda p: (p.abs_ntl, -p.perp.asset)).perp
    coll = perp.collateral
    v = ctx.valuer()
    value = _pm_value(ctx, acct)
    own = _own_pool_tokens(ctx)
    holes = sum(
        (v.usdc_value(ctx.reg.tokens[t], bal) for t, bal in acct.spot.items() if bal < 0 and t not in own),
        Fraction(0),
    )
    assets = {pv.perp.asset for pv in positions}
    if value >= 0:  # cannot happen (the close is never better for the user than the mark): kept safe
        return assets
    price = v.token_price(coll)
    backstop = _system(ctx, pm.backstop_address, Mode.PORTFOLIO)
    _take_cross_margin(ctx, acct, backstop)
    deficit = frac_ceil(-value / price * coll.unit)
    user_collateral = frac_floor(max(Fraction(0), value - holes) / price * coll.unit)
    _cover_deficit(ctx, acct, backstop, perp, deficit, dl, user_collateral)
    return assets


def _own_pool_tokens(ctx: Ctx) -> set[int]:
    """Collateral tokens of dexes margined apart from the PMR (not borrowable, e.g. USDH)."""
    return {d.collateral.index for d in ctx.reg.dexes if ctx.reg.borrowable(d.collateral.index) is None}


def _take_cross_margin(ctx: Ctx, acct: Account, backstop: Account) -> None:
    """Move every balance of the account's cross margin to the backstop: spot balances (negative ones
    too) except the collateral of separately margined pools, supplies and borrows."""
    own = _own_pool_tokens(ctx)
    for token in sorted(acct.spot):
        if token in own:
            continue
        bal = acct.spot[token]
        amount = bal if bal < 0 else bal - acct.spot_hold.get(token, 0)
        if amount:
            acct.spot[token] = bal - amount
            backstop.spot[token] = backstop.spot.get(token, 0) + amount
        if acct.spot[token] == 0:
            del acct.spot[token]
    for token in sorted(acct.supply_basis):
        _move_supply(ctx, acct, backstop, token, Fraction(1))
    for token in sorted(acct.borrow_basis):
        _move_borrow(ctx, acct, backstop, token, Fraction(1))


def _liquidate_isolated_only(ctx: Ctx, acct: Account) -> None:
    for iso in ctx.valuer().isolated(acct):
        if rules.pool_liquidatable(iso.margin_used, iso.value.mm):
            _liquidate_isolated(ctx, acct, iso.value.perp)


def _takeover_step(ctx: Ctx, acct: Account) -> bool:
    """One backstop takeover (§3.7): full past the full threshold, else 20% of the debt.

    Collateral is priced at ``oracle x (LTV + 2) / 3``; returns False when nothing could move.
    """
    pm = ctx.reg.pm
    assert pm is not None
    v = ctx.valuer()
    coll = v.collateral_holdings(acct)
    borrowed = v.borrowed_value(acct)
    if borrowed <= 0:
        return False
    value = sum((c.value for c in coll), Fraction(0))
    ltv = sum((c.value * c.ltv for c in coll), Fraction(0)) / value if value else Fraction(0)
    health = pm_rules.borrow_health(
        borrowed, value, ltv, pm.partial_threshold_fraction, pm.full_threshold_fraction
    )
    share = Fraction(1) if health == "full" or value == 0 else pm.takeover_step
    backstop = _system(ctx, pm.backstop_address, Mode.PORTFOLIO)
    debt_taken = borrowed * share
    # collateral worth debt_taken at the takeover price, spread by value; capped by what is there
    takeover_value = sum((c.value * (c.ltv + 2) / 3 for c in coll), Fraction(0))
    coll_share = (
        Fraction(1) if share == 1 or takeover_value == 0 else min(Fraction(1), debt_taken / takeover_value)
    )
    moved = False
    for c in coll:
        moved |= _move_supply(ctx, acct, backstop, c.token, coll_share)
    for token in sorted(acct.borrow_basis):
        moved |= _move_borrow(ctx, acct, backstop, token, share)
    if moved:
        ctx.emit("pmTakeover", acct.address, share=str(share), collateralShare=str(coll_share), health=health)
        ctx.record(
            "liquidations",
            acct.address,
            {
                "time": ctx.now,
                "kind": "pmTakeover",
                "health": health,
                "debtShare": str(share),
                "collateralShare": str(coll_share),
                "debtValue": str(borrowed),
                "collateralValue": str(value),
            },
        )
    return moved


def _move_supply(ctx: Ctx, src: Account, dst: Account, token: int, share: Fraction) -> bool:
    basis = src.supply_basis.get(token, 0)
    move = basis if share >= 1 else frac_ceil(basis * share)
    move = min(move, basis)
    if move <= 0:
        return False
    src.supply_basis[token] = basis - move
    if src.supply_basis[token] == 0:
        del src.supply_basis[token]
    dst.supply_basis[token] = dst.supply_basis.get(token, 0) + move
    return True


def _move_borrow(ctx: Ctx, src: Account, dst: Account, token: int, share: Fraction) -> bool:
    lending.reserve(ctx.tx, ctx.reg, token)  # accrue first
    basis = src.borrow_basis.get(token, 0)
    move = basis if share >= 1 else frac_floor(basis * share)
    if move <= 0:
        return False
    src.borrow_basis[token] = basis - move
    if src.borrow_basis[token] == 0:
        del src.borrow_basis[token]
    dst.borrow_basis[token] = dst.borrow_basis.get(token, 0) + move
    return True


# ---------------------------------------------------------------------------- backstop TWAP and bad debt
def run_backstop_twap(ctx: Ctx, now_ms: int) -> None:
    """The PM backstop converts taken collateral into the debt asset over time: a TWAP with a
    10-minute half-life through the spot books (§3.7), then repays; debt left with no collateral is
    bad debt and goes down the lending waterfall."""
    pm = ctx.reg.pm
    state = ctx.state
    if pm is None:
        return
    last = state.last_twap_ms
    state.last_twap_ms = now_ms
    address = pm.backstop_address
    if address not in state.accounts:
        return
    backstop = ctx.tx.account(address)
    spot_tokens = _spot_inventory(ctx, backstop)
    if not (backstop.supply_basis or backstop.borrow_basis or spot_tokens):
        return
    frac = rules.twap_fraction(now_ms - last, pm.twap_half_life_s) if last else 0
    for token in sorted(pm.collateral):
        params = pm.collateral[token]
        held = ctx.valuer().supplied(backstop, token)
        if held <= 0 or not frac:
            continue
        amount = _twap_amount(params.token, held, frac)
        if amount <= 0:
            continue
        lending.withdraw(ctx.tx, ctx.reg, backstop, params.token, None if amount >= held else amount)
        _sell_spot(ctx, backstop, token, amount)
    for token in spot_tokens:
        # other assets taken over from a bankrupt account's cross margin (_take_cross_margin)
        held = backstop.spot.get(token, 0) - backstop.spot_hold.get(token, 0)
        amount = _twap_amount(ctx.reg.tokens[token], held, frac) if frac else 0
        if amount > 0:
            _sell_spot(ctx, backstop, token, amount)
    for token in sorted(backstop.borrow_basis):
        cash = backstop.spot.get(token, 0)
        owed = ctx.valuer().borrowed(backstop, token)
        if cash > 0 and owed > 0:
            lending.repay(ctx.tx, ctx.reg, backstop, ctx.reg.tokens[token], None if cash >= owed else cash)
    if not any(ctx.valuer().supplied(backstop, t) for t in pm.collateral) and not _spot_inventory(
        ctx, backstop
    ):
        for token in sorted(backstop.borrow_basis):
            _write_off(ctx, backstop, token)


def _twap_amount(tok: Token, held: int, frac: Decimal | int) -> int:
    """This interval's share of ``held`` (all of it once one lot or less is left), in whole lots."""
    lot: int = 10 ** (tok.wei_decimals - tok.sz_decimals)
    amount = held if held <= lot else int(held * frac)
    return amount - amount % lot


def _spot_inventory(ctx: Ctx, backstop: Account) -> list[int]:
    """Spot assets the backstop holds that are neither borrowable nor PM collateral, with a spot pair
    to sell them on (taken over from a bankrupt account's cross margin)."""
    pm = ctx.reg.pm
    if pm is None:
        return []
    return sorted(
        t
        for t, bal in backstop.spot.items()
        if bal - backstop.spot_hold.get(t, 0) > 0
        and ctx.reg.borrowable(t) is None
        and t not in pm.collateral
        and ctx.reg.tokens[t].spot_pair is not None
    )


def _sell_spot(ctx: Ctx, backstop: Account, token: int, amount: int) -> None:
    tok = ctx.reg.tokens[token]
    if tok.spot_pair is None:
        return
    pair = ctx.reg.spot_pairs[tok.spot_pair]
    book: OrderBook | None = ctx.state.books.get(pair.asset)
    if book is None or book.best_bid() is None:
        return
    lots = amount // 10 ** (tok.wei_decimals - tok.sz_decimals)
    if lots <= 0:
        return
    floor_px = book.best_bid()
    assert floor_px is not None
    px = max(1, floor_px * 9 // 10)
    from netclear.markets.ticks import round_price_to_grid

    px = round_price_to_grid(Fraction(px), pair.sz_decimals, True, rounding="ceil")
    p = order_engine.Parsed(pair, False, px, lots, False, "Ioc", None, False, None, None)
    oid = ctx.state.next_oid
    ctx.state.next_oid += 1
    order_engine._match(
        ctx, backstop, p, oid, lots, OrderInfo(), book, _NoLiquidationFee(ctx, backstop.address)
    )


def _write_off(ctx: Ctx, backstop: Account, token: int) -> None:
    """Lending bad debt: the backstop's own cash, then the reserve buffer, then suppliers' index (§F.8)."""
    tok = ctx.reg.tokens[token]
    res = lending.reserve(ctx.tx, ctx.reg, token)
    owed = value_of(backstop.borrow_basis.get(token, 0), res.borrow_index, debt=True)
    if owed <= 0:
        return
    wf = Waterfall(tok.name)
    cash = max(0, backstop.spot.get(token, 0))
    if cash:
        paid = lending.repay(ctx.tx, ctx.reg, backstop, tok, None if cash >= owed else cash)
        wf.vault = paid
        owed -= paid
    if owed <= 0:
        return
    basis = backstop.borrow_basis.pop(token, 0)
    res.scaled_borrow -= basis
    buffer = res.buffer_raw // INDEX_SCALE
    from_buffer = min(buffer, owed)
    res.buffer_raw -= from_buffer * INDEX_SCALE
    wf.reserve_buffer = from_buffer
    rest = owed - from_buffer
    if rest and res.scaled_supply:
        claims = res.scaled_supply * res.supply_index
        new_index = max(0, (claims - rest * INDEX_SCALE) // res.scaled_supply)
        res.supply_index = new_index
        wf.socialized = rest
    res.bad_debt += owed
    ctx.record(
        "liquidations",
        backstop.address,
        {
            "time": ctx.now,
            "kind": "badDebt",
            "token": tok.name,
            "amount": fmt_units(owed, tok.wei_decimals),
            "waterfall": wf.as_dict(tok.wei_decimals),
        },
    )
    ctx.emit("badDebt", backstop.address, token=tok.name, amount=fmt_units(owed, tok.wei_decimals))
