"""Account health: the one owner of an account's margin decisions, in the spirit of Drift v2's
``MarginCalculation`` and Mango v4's ``HealthCache`` (docs/accounting.md "Account health: where each
decision lives").

An :class:`AccountHealth` values an account's margin pools once (cross pools per dex or per collateral
token, isolated positions) and answers every margin question from those numbers:

* :meth:`AccountHealth.initial` / :meth:`~AccountHealth.maintenance`: a pool's requirements (Hyperliquid docs
  'Margining': initial ``|size| x mark / leverage`` plus resting orders' margin; 'Margin tiers':
  maintenance), :meth:`~AccountHealth.transfer_requirement` (``max(IM, 0.1 x notional)``);
* :meth:`~AccountHealth.free` / :meth:`~AccountHealth.shortfall`: what a pool or a token balance has left
  above its initial margin and holds, or lacks;
* :meth:`~AccountHealth.liquidatable_pools` / :meth:`~AccountHealth.liquidatable_isolated` /
  :meth:`~AccountHealth.liquidatable`: the liquidation test of every mode (Hyperliquid docs 'Liquidations'
  per pool, 'Account abstraction modes' unified ratio, 'Portfolio margin' PMR, the last delegated to
  :mod:`netclear.engine.pm_model`).

The arithmetic stays in the pure rules (:mod:`netclear.margin.standard`, :mod:`netclear.margin.unified`,
:func:`netclear.margin.standard.below_maintenance`); this module only decides which numbers go in.

**Never stale.** The costly part, the valuation of positions (notional, initial and tiered maintenance
margin per position, summed per pool, and the isolated positions), depends on the account's mode, its
positions (size, side of margin, leverage, isolated margin) and those assets' mark and oracle prices, and
on nothing else: :func:`fingerprint` is a tuple of exactly those values. :class:`HealthCache` keeps one
:class:`AccountHealth` per account with the fingerprint it was built on and, on **every** read,
recomputes the fingerprint (tuple building, no margin arithmetic) and rebuilds on any difference, or when
the account object or the state is not the one it was built on. Pool *cash* (a dex's ``perp_cash`` in
standard mode, the token's ``spot`` balance otherwise) is updated in place on every read: fees, funding,
a fill's cash leg, a borrow or a repay move it without forcing a revaluation. There is no invalidation
call to forget: a fill, a borrow, a price update, a savepoint rollback (which restores accounts in place)
all show in the next read. Everything else an answer reads (resting orders' margin, spot holds, supply
and borrow, token prices for portfolio margin) is read from the live state at the call, never cached.
The state machines assert after every step that what the cache holds and serves equals a recomputation
from scratch (:meth:`HealthCache.stale`). An :class:`AccountHealth` is a value of the moment: ask the
cache again after a mutation rather than holding one across it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from netclear.config.models import PortfolioMarginConfig
from netclear.engine import pm_model
from netclear.engine.accounting import IsolatedValue, MarginPool, PmLegs, PoolKey, PositionValue, Valuer
from netclear.engine.state import Account, ExchangeState, Mode
from netclear.margin import standard as std_rules
from netclear.margin import unified as unified_rules
from netclear.markets.registry import Perp, Registry, Token

__all__ = [
    "AccountHealth",
    "HealthCache",
    "PoolKey",
    "fingerprint",
    "pm_liquidation_ratio",
    "pool_key",
    "snapshot",
]

DEFAULT_PM_LIQUIDATION_RATIO = Fraction(PortfolioMarginConfig.model_fields["liquidation_ratio"].default)
"""The configuration's default ``liquidation_ratio`` (0.95, Hyperliquid docs 'Portfolio margin')."""


def pm_liquidation_ratio(reg: Registry) -> Fraction:
    """The portfolio margin ratio above which an account is liquidatable: the preset's, else the config
    default (Hyperliquid docs 'Portfolio margin': 0.95). The vector screen reads it from here too."""
    return reg.pm.liquidation_ratio if reg.pm is not None else DEFAULT_PM_LIQUIDATION_RATIO


Layout = tuple[tuple[tuple[PoolKey, Token], ...], dict[int, PoolKey]]
_LAYOUTS: dict[tuple[int, bool], tuple[Registry, Layout]] = {}


def _layout(reg: Registry, unified: bool) -> Layout:
    """The registry's cross pools in dex order (one per dex, or one per collateral token, first dex first)
    with the pool's token, and every perp's pool key; computed once per registry and mode."""
    hit = _LAYOUTS.get((id(reg), unified))
    if hit is not None and hit[0] is reg:
        return hit[1]
    pools: dict[PoolKey, Token] = {}
    for dex in reg.dexes:
        key = PoolKey.of_token(dex.collateral.index) if unified else PoolKey.of_dex(dex.name)
        pools.setdefault(key, dex.collateral)
    keys = {
        asset: PoolKey.of_token(perp.collateral.index) if unified else PoolKey.of_dex(perp.dex.name)
        for asset, perp in reg.perps.items()
    }
    layout = (tuple(pools.items()), keys)
    if len(_LAYOUTS) >= 8:  # a few registries at a time (tests build many); never grows unbounded
        _LAYOUTS.clear()
    _LAYOUTS[(id(reg), unified)] = (reg, layout)
    return layout


def pool_key(reg: Registry, perp: Perp, mode: Mode) -> PoolKey:
    """The cross pool a perp's cross position belongs to: its dex in standard mode, its collateral token
    under unified account and portfolio margin (Hyperliquid docs 'Account abstraction modes')."""
    del reg  # the perp carries its dex and collateral; kept so every caller names the registry it uses
    return PoolKey.of_token(perp.collateral.index) if mode.unified else PoolKey.of_dex(perp.dex.name)


PositionEntry = tuple[int, int, int, bool, int, int, int | None, int | None]
"""(asset, id of the Position object, szi, is_cross, leverage, raw_usd, mark, oracle) of one position. The
object's identity counts because a valued position keeps a reference to it (``PositionValue.position``,
read live by callers) and a rollback puts copies in place; the cached value holds the object alive, so its
id cannot be reused while the entry exists."""
Fingerprint = tuple[Mode, tuple[PositionEntry, ...]]


def fingerprint(state: ExchangeState, acct: Account) -> Fingerprint:
    """Every input of the cached valuation of positions (see the module docstring), by value, and the
    identity of each Position object (see :data:`PositionEntry`)."""
    prices = state.prices
    mark, oracle = prices.mark, prices.oracle
    return (
        acct.mode,
        tuple(
            [
                (a, id(p), p.szi, p.is_cross, p.leverage, p.raw_usd, mark.get(a), oracle.get(a))
                for a, p in acct.positions.items()
            ]
        ),
    )


class AccountHealth:
    """One account's margin standing at one moment (see the module docstring)."""

    __slots__ = ("_cash_fp", "_cross", "_iso", "_keys", "acct", "fingerprint", "isolated", "pools", "v")

    def __init__(self, v: Valuer, acct: Account, fp: Fingerprint | None = None) -> None:
        self.v = v
        self.acct = acct
        self.fingerprint = fp if fp is not None else fingerprint(v.state, acct)
        # One pass over the dexes and the positions (the same grouping as Valuer.pools / Valuer.isolated,
        # which the state machines' invariant compares against).
        reg = v.reg
        unified = acct.mode is not Mode.STANDARD
        where: dict[Any, int] = acct.spot if unified else acct.perp_cash
        layout, keys = _layout(reg, unified)
        self._keys = keys
        pools: dict[PoolKey, MarginPool] = {}
        for key, token in layout:
            pools[key] = MarginPool(key, token, where.get(key.raw, 0))
        self._cash_fp = tuple(where.items())
        cross: dict[int, PositionValue] = {}
        iso: dict[int, IsolatedValue] = {}
        isolated: list[IsolatedValue] = []
        perps = reg.perps
        for asset, pos in acct.positions.items():
            if pos.szi == 0:
                continue
            pv = v.position_value(pos, perps[asset])
            if pos.is_cross:
                pools[keys[asset]].add(pv)
                cross[asset] = pv
            else:
                iso[asset] = value = IsolatedValue(pv)
                isolated.append(value)
        self.pools = pools
        """Cross pools: one per dex (standard) or per collateral token (unified, portfolio margin)."""
        self.isolated = isolated
        """Isolated positions, each its own pool, in the account's position order."""
        self._cross = cross
        self._iso = iso

    @property
    def mode(self) -> Mode:
        return self.acct.mode

    def refresh_cash(self) -> None:
        """Re-read every pool's cash from the account when it changed (the in-place update of a read)."""
        acct = self.acct
        # read the dict now: a rollback may have put a new one in place
        where: dict[Any, int] = acct.perp_cash if acct.mode is Mode.STANDARD else acct.spot
        cash_fp = tuple(where.items())
        if cash_fp == self._cash_fp:
            return
        self._cash_fp = cash_fp
        for key, pool in self.pools.items():
            pool.cash = where.get(key.raw, 0)

    def revalue(self, fp: Fingerprint) -> None:
        """Bring the valuation to ``fp`` (same account, same mode) in place: only the positions whose entry
        changed are revalued and moved in or out of their pool's sums; each touched pool's position list is
        rebuilt in the account's position order, so the result equals a build from scratch (the state
        machines check it). All new values are computed before anything changes, so a missing price leaves
        the object as it was."""
        before, after = self.fingerprint[1], fp[1]
        changed: list[int] = []
        same_assets = len(before) == len(after)  # the usual fill: the same positions, one entry differs
        if same_assets:
            for o, n in zip(before, after, strict=True):
                if o[0] != n[0]:
                    same_assets = False
                    break
                if o != n:
                    changed.append(n[0])
        if same_assets and len(changed) == 1 and self._revalue_one_cross(changed[0]):
            self.fingerprint = fp
            return
        if not same_assets:
            old = {e[0]: e for e in before}
            new = {e[0]: e for e in after}
            changed = [a for a in old.keys() | new.keys() if old.get(a) != new.get(a)]
        keys = self._keys
        positions = self.acct.positions
        perps = self.v.reg.perps
        fresh = {}
        for asset in changed:
            pos = positions.get(asset)
            if pos is not None and pos.szi != 0:
                fresh[asset] = self.v.position_value(pos, perps[asset])
        touched: set[PoolKey] = set()
        iso_touched = False
        for asset in changed:
            prev = self._cross.pop(asset, None)
            if prev is not None:
                key = keys[asset]
                pool = self.pools[key]
                pool.ntl -= prev.ntl
                pool.total_ntl -= prev.abs_ntl
                pool.im -= prev.im
                pool.mm -= prev.mm
                touched.add(key)
            if self._iso.pop(asset, None) is not None:
                iso_touched = True
            pv = fresh.get(asset)
            if pv is None:
                continue
            if pv.position.is_cross:
                key = keys[asset]
                pool = self.pools[key]
                pool.ntl += pv.ntl
                pool.total_ntl += pv.abs_ntl
                pool.im += pv.im
                pool.mm += pv.mm
                self._cross[asset] = pv
                touched.add(key)
            else:
                self._iso[asset] = IsolatedValue(pv)
                iso_touched = True
        if touched:
            for key in touched:
                self.pools[key].positions = []
            for asset in positions:
                pv = self._cross.get(asset)
                if pv is not None:
                    key = keys[asset]
                    if key in touched:
                        self.pools[key].positions.append(pv)
        if iso_touched:
            self.isolated = [self._iso[a] for a in positions if a in self._iso]
        self.fingerprint = fp

    def _revalue_one_cross(self, asset: int) -> bool:
        """The usual fill: one cross position, open before and after, changed. Its pool's sums move by the
        difference and its entry is replaced at its place in a new list (the same sums and order as the
        general path; a caller iterating the old list keeps it). False when that is not the case."""
        prev = self._cross.get(asset)
        pos = self.acct.positions.get(asset)
        if prev is None or pos is None or pos.szi == 0 or not pos.is_cross:
            return False
        pv = self.v.position_value(pos, self.v.reg.perps[asset])  # may raise: nothing changed yet
        pool = self.pools[self._keys[asset]]
        positions = list(pool.positions)
        for i, old in enumerate(positions):
            if old is prev:
                positions[i] = pv
                break
        else:  # pragma: no cover - the pool always lists its cross positions
            return False
        pool.ntl += pv.ntl - prev.ntl
        pool.total_ntl += pv.abs_ntl - prev.abs_ntl
        pool.im += pv.im - prev.im
        pool.mm += pv.mm - prev.mm
        pool.positions = positions
        self._cross[asset] = pv
        return True

    def position_value(self, asset: int) -> PositionValue | None:
        """The valuation of the account's open position in ``asset`` (cross or isolated), None if flat."""
        pv = self._cross.get(asset)
        if pv is not None:
            return pv
        iso = self._iso.get(asset)
        return iso.value if iso is not None else None

    def cross_count(self) -> int:
        """How many open cross positions the account has (over all its pools)."""
        return len(self._cross)

    # ------------------------------------------------------------------ pools
    def key(self, perp: Perp) -> PoolKey:
        """The pool of ``perp``'s cross position (:func:`pool_key`)."""
        return self._keys[perp.asset]

    def pool(self, key: PoolKey) -> MarginPool:
        return self.pools[key]

    def pool_of(self, perp: Perp) -> MarginPool:
        return self.pools[self.key(perp)]

    def token_pool(self, token: int) -> MarginPool | None:
        """The unified / portfolio-margin pool of a collateral token (None in standard mode or for a
        token that collateralises no dex)."""
        if not self.acct.mode.unified:
            return None
        return self.pools.get(PoolKey.of_token(token))

    def sorted_pools(self) -> list[tuple[PoolKey, MarginPool]]:
        """Pools in the engine's deterministic order (by dex name or token index as text)."""
        return sorted(self.pools.items(), key=lambda kv: str(kv[0]))

    # ------------------------------------------------------------------ requirements
    def order_margin(self, key: PoolKey) -> int:
        """Initial margin reserved by the pool's resting perp orders (read live)."""
        return self.v.order_margin(self.acct, key)

    def initial(self, key: PoolKey) -> int:
        """Initial margin the pool must carry: its positions' plus its resting orders' (Hyperliquid docs
        'Margining')."""
        return self.pools[key].im + self.order_margin(key)

    def maintenance(self, key: PoolKey) -> int:
        return self.pools[key].mm

    def transfer_requirement(self, key: PoolKey) -> int:
        """``max(initial_margin, 0.1 x total notional)`` (Hyperliquid docs 'Margining')."""
        pool = self.pools[key]
        return std_rules.transfer_margin_required(
            self.initial(key), pool.total_ntl, self.v.reg.transfer_min_ntl_fraction
        )

    def requirements_usdc(self) -> tuple[Fraction, Fraction]:
        """(initial, maintenance) of every cross pool and isolated position, in USDC (positions only)."""
        v = self.v
        im = mm = Fraction(0)
        for pool in self.pools.values():
            im += v.usdc_value(pool.token, pool.im)
            mm += v.usdc_value(pool.token, pool.mm)
        for iso in self.isolated:
            tok = iso.value.perp.collateral
            im += v.usdc_value(tok, iso.value.im)
            mm += v.usdc_value(tok, iso.value.mm)
        return im, mm

    # ------------------------------------------------------------------ free balance
    def free(self, where: PoolKey | int) -> int:
        """What is left above initial margin, resting orders' margin and spot holds (may be negative).

        A :class:`PoolKey`: that cross pool (a dex's perp balance, or a collateral token's unified
        balance). A token index: its unified pool when it has one, else its spot balance less holds.
        """
        acct = self.acct
        if where.__class__ is PoolKey:
            key: PoolKey = where
        else:
            assert isinstance(where, int)
            found = self.token_pool(where)
            if found is None:
                return acct.spot.get(where, 0) - acct.spot_hold.get(where, 0)
            key = found.key
        pool = self.pools[key]
        hold = acct.spot_hold.get(key.token, 0) if key.token is not None else 0
        return pool.cash + pool.ntl - pool.im - self.v.order_margin(acct, key) - hold

    def shortfall(self, where: PoolKey | int) -> int:
        """What the pool or balance lacks to carry its initial margin and holds (0 when covered)."""
        return max(0, -self.free(where))

    # ------------------------------------------------------------------ liquidation
    def liquidatable_pools(self) -> list[PoolKey]:
        """Cross pools below maintenance ('Liquidations'), in engine order. Under portfolio margin only the
        pools margined apart from the PMR (collateral not borrowable, docs/rules/portfolio-margin.md)."""
        reg = self.v.reg
        pm = self.acct.mode is Mode.PORTFOLIO
        out = []
        for key, pool in self.pools.items():
            if not pool.positions or not std_rules.below_maintenance(pool.cash + pool.ntl, pool.mm):
                continue
            if pm and (key.token is None or reg.borrowable(key.token) is not None):
                continue
            out.append(key)
        return sorted(out, key=str) if len(out) > 1 else out

    def liquidatable_isolated(self) -> list[IsolatedValue]:
        return [iso for iso in self.isolated if std_rules.below_maintenance(iso.margin_used, iso.value.mm)]

    def unified_ratio(self) -> Fraction:
        """Unified account ratio (Hyperliquid docs 'Account abstraction modes'): per collateral token cross
        maintenance over the pool's value (isolated margin already lives in the positions)."""
        mm: dict[int, int] = {}
        available: dict[int, int] = {}
        for key, pool in self.pools.items():
            assert key.token is not None, "the unified ratio is defined on collateral-token pools"
            mm[key.token] = pool.mm
            available[key.token] = pool.account_value
        return unified_rules.unified_account_ratio(mm, available)

    def pm(self) -> pm_model.PmHealth:
        """Portfolio margin standing under the preset's model (delegated to :mod:`netclear.engine.pm_model`;
        not cached: it reads reserves and token prices)."""
        return pm_model.pm_health(self.v, self.acct, self.raw_pools())

    def raw_pools(self) -> dict[str | int, MarginPool]:
        """The cross pools keyed by dex name or token index (:meth:`Valuer.cross_pools`'s keys)."""
        return {key.raw: pool for key, pool in self.pools.items()}

    def pm_legs(self) -> PmLegs:
        """The portfolio margin ratio's terms over these pools (:meth:`Valuer.pm_legs`), for views."""
        return self.v.pm_legs(self.acct, self.raw_pools())

    def liquidatable(self, mode: Mode | None = None) -> bool:
        """The mode's liquidation test (default: the account's mode).

        Standard: a cross pool or isolated position below maintenance ('Liquidations'). Unified: unified
        ratio above 1 ('Account abstraction modes'; equal to the per-pool test, docs/rules/unified.md) or an
        isolated position. Portfolio margin: the PMR above ``liquidation_ratio``, or a pool margined apart,
        or an isolated position ('Portfolio margin').
        """
        mode = mode or self.acct.mode
        if self.liquidatable_isolated():
            return True
        if mode is Mode.STANDARD:
            return bool(self.liquidatable_pools())
        if mode is Mode.UNIFIED:
            return unified_rules.unified_liquidatable(self.unified_ratio())
        if self.liquidatable_pools():
            return True
        return self.v.reg.pm is not None and self.pm().liquidatable

    def summary(self) -> dict[str, Any]:
        """Every cached number, for comparisons (the state machines' invariant)."""
        return snapshot(self)


def _live_positions(h: AccountHealth) -> bool:
    """Every valued position refers to the account's own Position object (not a pre-rollback one)."""
    positions = h.acct.positions
    valued = [pv for pool in h.pools.values() for pv in pool.positions] + [i.value for i in h.isolated]
    return all(positions.get(pv.perp.asset) is pv.position for pv in valued)


def snapshot(h: AccountHealth) -> dict[str, Any]:
    """Every cached number of ``h`` (pools, isolated positions), for comparisons."""
    return _snapshot_of(h.pools, h.isolated)


def _snapshot_of(pools: dict[PoolKey, MarginPool], isolated: list[IsolatedValue]) -> dict[str, Any]:
    return {
        "pools": {
            str(k): (
                p.token.index,
                p.cash,
                p.ntl,
                p.total_ntl,
                p.im,
                p.mm,
                [x.perp.asset for x in p.positions],
            )
            for k, p in pools.items()
        },
        "isolated": [
            (i.value.perp.asset, i.value.ntl, i.value.im, i.value.mm, i.margin_used) for i in isolated
        ],
    }


@dataclass(slots=True)
class HealthCache:
    """The engine's :class:`AccountHealth` per account, valid for the state it is bound to (see the module
    docstring: every read checks the fingerprint)."""

    reg: Registry
    state: ExchangeState | None = None
    entries: dict[str, AccountHealth] | None = None
    builds: int = 0
    """How many valuations were built from scratch (benchmarks count them)."""
    updates: int = 0
    """How many were brought up to date in place (some positions revalued)."""

    max_entries: int = 4096
    """Entries kept from one action to the next; past it the next action starts empty (bounded memory)."""

    def begin(self, state: ExchangeState) -> HealthCache:
        """Start an action on ``state``. Entries of earlier actions on the same state are kept: every read
        checks them against the live account (the fingerprint, the account object, the state), so a kept
        entry is either still exact or rebuilt, exactly as within one action. A different state, or more
        than :attr:`max_entries` entries, starts empty."""
        if state is not self.state or self.entries is None or len(self.entries) > self.max_entries:
            self.entries = {}
        self.state = state
        return self

    def get(self, acct: Account) -> AccountHealth:
        state = self.state
        assert state is not None, "HealthCache.begin(state) first"
        entries = self.entries
        if entries is None:
            entries = self.entries = {}
        fp = fingerprint(state, acct)
        h = entries.get(acct.address)
        if h is not None and h.acct is acct and h.v.state is state:
            if h.fingerprint == fp:
                h.refresh_cash()
                return h
            if h.fingerprint[0] is fp[0]:  # same mode: revalue what changed, in place
                h.revalue(fp)
                h.refresh_cash()
                self.updates += 1
                return h
        h = AccountHealth(Valuer(self.reg, state), acct, fp)
        entries[acct.address] = h
        self.builds += 1
        return h

    def fresh(self, acct: Account) -> AccountHealth:
        """A new AccountHealth, bypassing the cache."""
        assert self.state is not None
        return AccountHealth(Valuer(self.reg, self.state), acct)

    def from_scratch(self, acct: Account) -> dict[str, Any]:
        """:func:`snapshot` numbers recomputed by the Valuer's own builders (``pools``, ``isolated``), not
        by AccountHealth: the reference the invariant compares the cache with."""
        assert self.state is not None
        v = Valuer(self.reg, self.state)
        return _snapshot_of(v.pools(acct), v.isolated(acct))

    def stale(self) -> list[str]:
        """Accounts for which the cache would serve numbers that differ from a recomputation from scratch:
        a retained entry whose fingerprint still matches but whose values do not (an input missing from
        :func:`fingerprint`), or a served value that differs. Empty when the cache is sound (the state
        machines assert it after every step)."""
        state = self.state
        if state is None:
            return []
        bad: list[str] = []
        for address, h in list((self.entries or {}).items()):
            acct = state.accounts.get(address)
            if acct is None or h.acct is not acct or h.fingerprint != fingerprint(state, acct):
                continue  # never served again: the next read rebuilds it
            h.refresh_cash()  # what a read does before serving it
            if snapshot(h) != self.from_scratch(acct) or not _live_positions(h):
                bad.append(address)
        for address, acct in state.accounts.items():
            h = self.get(acct)
            if snapshot(h) != self.from_scratch(acct) or not _live_positions(h):
                bad.append(address)
        return sorted(set(bad))
