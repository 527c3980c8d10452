"""Vectorised revaluation of every account (numpy), mirroring the exact engine for screening.

The exact path (:mod:`netclear.engine.accounting`, :mod:`netclear.engine.pm_model`, Python integers and
Fractions) decides; this path answers "who could be liquidatable at these prices?" for a whole book in
a few numpy passes, so the liquidation engine only re-checks a handful of accounts exactly (DESIGN
"risk/"). Float64 only chooses which accounts to look at; a safety margin (``margin``, 1e-9 relative)
makes the screen a superset of the exact answer (tested against it on random books).

Layout (float64; USD units of each pool's collateral, or USDC):

* **pools**: standard-mode dex cross pools, unified/PM collateral pools, isolated positions; ``cash[p]``
  is the pool's cash (rawUsd); one row per position: ``pos_pool``, ``pos_asset``, ``pos_size`` (coins);
  per asset the tier table (sorted lower bounds, ``mmr``, deductions, padded to the widest table);
* **tokens**: the build-time ``borrow_oracle_price`` of every token and the perp it follows (UBTC ->
  BTC). A tick reprices a token with its perp's mark, ``px x mark / mark_at_build``, so supplied
  collateral and the collateral term move with the tick (tokens without a perp keep their price);
* **portfolio-margin accounts**, both models:

  - Hyperliquid's PMR per borrowable-token leg: ``requirement = offset + pool maintenance x px +
    borrowed x px`` and ``liquidation value = (pool equity + supplied) x px + sum_c min(borrow cap,
    collateral_c x px_c(tick) x threshold_c)``
    (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin);
  - the scenario model (:mod:`netclear.margin.scenario`): per account and risk unit, the net, gross,
    long and short exposure of its perp and spot instruments at the tick; ``max(|net| x max(shock,
    extreme x weight), min_charge x gross) + basis x min(long, short) + concentration x (|net| -
    depth)+`` (the class's depth, or the unit's book depth on the side a liquidation hits, taken when
    the arrays are built), summed over units, plus the de-peg charge (stablecoin amounts, fixed within a tick);
    equity = a constant + the instruments' values at the tick. Inter-unit offset credits are left out,
    which only makes the screen more conservative.

``screen(marks)`` returns the owners of pools with ``equity < maintenance`` and of PM accounts
liquidatable under the preset's model (or the ``model`` asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.health import pm_liquidation_ratio
from netclear.engine.state import Account, ExchangeState, Mode
from netclear.fixedpoint import PX_SCALE
from netclear.margin import scenario as sc
from netclear.markets.registry import Registry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B8 = npt.NDArray[np.bool_]


@dataclass(slots=True)
class PoolArrays:
    owners: list[str]
    acct: I64
    """Index of the pool's owner in ``RiskBook.accounts``."""
    cash: F64
    pos_pool: I64
    pos_asset: I64
    pos_size: F64
    pm_pool: B8
    """Pools whose liquidation is decided by the PM account test (borrowable-collateral pools of PM
    accounts), not by ``equity < maintenance``."""


@dataclass(slots=True)
class PmArrays:
    """Portfolio-margin accounts: one row per account, and the tables of its legs and exposures."""

    owners: list[str]
    acct: I64
    """Index of the account in ``RiskBook.accounts``."""
    # Hyperliquid's PMR: one row per borrowable-token leg
    leg_acct: I64
    leg_pool: I64  # -1: the token has no margin pool in this account
    leg_px: F64
    leg_req: F64  # offset (when borrowed) + borrowed x px
    leg_value: F64  # supplied x px (+ cash when the token has no pool)
    leg_cap: F64  # user borrow cap x px
    pair_leg: I64  # (leg, collateral) pairs of the collateral term
    pair_token: I64
    pair_qty: F64  # counted collateral x liquidation threshold
    # scenario model
    au_acct: I64  # one row per (account, risk unit)
    au_shock: F64  # max(shock, extreme x extreme_weight)
    au_min: F64
    au_basis: F64
    au_conc: F64
    au_depth_long: F64  # depth absorbing a net long (bids); the class's depth under depth_source "config"
    au_depth_short: F64  # depth absorbing a net short (asks)
    pos_au: I64  # per position of PoolArrays: its (account, unit) row, -1 outside PM scope
    pos_px: F64  # USDC price of the position's collateral (stablecoin, fixed within a tick)
    spot_au: I64
    spot_token: I64
    spot_qty: F64  # spot + supplied - borrowed, whole tokens
    equity_const: F64
    depeg: F64


@dataclass(slots=True)
class TierArrays:
    bounds: F64  # (assets, tiers) lower bounds in USD, +inf padding
    mmr: F64
    ded: F64


def _scenario_loop(
    pos_au: I64,
    pos_asset: I64,
    pos_qty: F64,
    spot_au: I64,
    spot_token: I64,
    spot_qty: F64,
    marks: F64,
    px: F64,
    au_acct: I64,
    shock: F64,
    minimum: F64,
    basis: F64,
    conc: F64,
    depth_long: F64,
    depth_short: F64,
    equity_const: F64,
    depeg: F64,
    margin: float,
) -> B8:
    """The scenario screen as one loop over instruments and units (compiled with numba when it is
    installed; :meth:`RiskBook.scenario` is the numpy form of the same formulas)."""
    n = au_acct.shape[0]
    net = np.zeros(n)
    gross = np.zeros(n)
    for i in range(pos_au.shape[0]):
        d = pos_qty[i] * marks[pos_asset[i]]
        net[pos_au[i]] += d
        gross[pos_au[i]] += abs(d)
    for i in range(spot_au.shape[0]):
        d = spot_qty[i] * px[spot_token[i]]
        net[spot_au[i]] += d
        gross[spot_au[i]] += abs(d)
    maint = depeg.copy()
    equity = equity_const.copy()
    for u in range(n):
        a = abs(net[u])
        r = max(a * shock[u], gross[u] * minimum[u]) + basis[u] * (gross[u] - a) / 2
        r += conc[u] * max(a - (depth_long[u] if net[u] > 0 else depth_short[u]), 0.0)
        maint[au_acct[u]] += r
        equity[au_acct[u]] += net[u]
    hit: B8 = (maint > 0) & (equity < maint + margin * (np.abs(equity) + maint + 1.0))
    return hit


def _hl_loop(
    cash: F64,
    pos_pool: I64,
    pos_asset: I64,
    pos_size: F64,
    marks: F64,
    bounds: F64,
    mmr: F64,
    ded: F64,
    pm_pool: B8,
    pool_acct: I64,
    n_acct: int,
    leg_owner: I64,
    leg_pool: I64,
    leg_px: F64,
    leg_req: F64,
    leg_value: F64,
    leg_cap: F64,
    pair_leg: I64,
    pair_token: I64,
    pair_qty: F64,
    px: F64,
    ratio: float,
    margin: float,
) -> B8:
    """Pools (``equity < maintenance``) and Hyperliquid's PMR per leg in one loop (compiled with numba
    when installed; :meth:`RiskBook.revalue` and :meth:`RiskBook.hl_pm` are the numpy form)."""
    npool = cash.shape[0]
    equity = cash.copy()
    mm = np.zeros(npool)
    width = bounds.shape[1]
    for i in range(pos_pool.shape[0]):
        a = pos_asset[i]
        ntl = pos_size[i] * marks[a]
        an = abs(ntl)
        t = 0
        for j in range(1, width):
            if an > bounds[a, j]:
                t = j
        equity[pos_pool[i]] += ntl
        mm[pos_pool[i]] += an * mmr[a, t] - ded[a, t]
    hit = np.zeros(n_acct, dtype=np.bool_)
    for q in range(npool):
        if not pm_pool[q] and mm[q] > 0 and equity[q] < mm[q] + margin * (abs(equity[q]) + mm[q] + 1.0):
            hit[pool_acct[q]] = True
    nleg = leg_pool.shape[0]
    coll = np.zeros(nleg)
    for k in range(pair_leg.shape[0]):
        leg = pair_leg[k]
        coll[leg] += min(leg_cap[leg], pair_qty[k] * px[pair_token[k]])
    for leg in range(nleg):
        req = leg_req[leg]
        value = leg_value[leg] + coll[leg]
        q = leg_pool[leg]
        if q >= 0:
            req += mm[q] * leg_px[leg]
            value += equity[q] * leg_px[leg]
        if req > 0 and req + margin * (abs(value) + req + 1.0) > ratio * value:
            hit[leg_owner[leg]] = True
    return hit


_COMPILED: dict[str, Any] = {}


def _compiled(name: str) -> Any:
    """A loop compiled by numba (the ``fast`` extra), or None without numba."""
    if name not in _COMPILED:
        try:
            import numba  # type: ignore[import-not-found,unused-ignore]

            _COMPILED[name] = numba.njit({"scenario": _scenario_loop, "hyperliquid": _hl_loop}[name])
        except ImportError:
            _COMPILED[name] = None
    return _COMPILED[name]


def compiled_scenario_loop() -> Any:
    """:func:`_scenario_loop` compiled by numba, or None without numba."""
    return _compiled("scenario")


def _empty_pm() -> PmArrays:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    return PmArrays([], i, i, i, f, f, f, f, i, i, f, i, f, f, f, f, f, f, i, f, i, i, f, f, f)


class _PmBuilder:
    """Collects one state's portfolio-margin rows (Python lists), then turns them into arrays."""

    def __init__(self, book: RiskBook) -> None:
        self.book = book
        self.cols: dict[str, list[Any]] = {f.name: [] for f in fields(PmArrays)}
        self.depths: dict[str, sc.Depth] = {}

    def add(self, v: Valuer, acct: Account, pool_ids: dict[str | int, int], pos_rows: dict[int, int]) -> None:
        reg, book, c = v.reg, self.book, self.cols
        pm = reg.pm
        assert pm is not None and pm.scenario is not None
        a = len(c["owners"])
        c["owners"].append(acct.address)
        c["acct"].append(len(book.accounts) - 1)
        legs = v.pm_legs(acct)
        for leg in legs.legs:
            li = len(c["leg_acct"])
            pool = pool_ids.get(leg.token, -1)
            px = float(leg.price)
            cash = 0.0 if pool >= 0 else acct.spot.get(leg.token, 0) / reg.tokens[leg.token].unit
            supplied = v.supplied(acct, leg.token) / reg.tokens[leg.token].unit
            offset = float(pm.min_borrow_offset) if leg.borrowed > 0 else 0.0
            c["leg_acct"].append(a)
            c["leg_pool"].append(pool)
            c["leg_px"].append(px)
            c["leg_req"].append(offset + float(leg.borrowed * leg.price))
            c["leg_value"].append((supplied + cash) * px)
            c["leg_cap"].append(float(leg.borrow_cap * leg.price))
            for h in legs.collateral:
                c["pair_leg"].append(li)
                c["pair_token"].append(book.token_index[h.token])
                c["pair_qty"].append(float(h.counted * h.liquidation_threshold))
        params = pm.scenario
        units: dict[str, int] = {}

        def au(unit: str) -> int:
            if unit not in units:
                units[unit] = len(c["au_acct"])
                rc = params.class_of(unit)
                c["au_acct"].append(a)
                c["au_shock"].append(float(max(rc.shock, rc.extreme * params.extreme_weight)))
                c["au_min"].append(float(rc.min_charge))
                c["au_basis"].append(float(rc.basis))
                c["au_conc"].append(float(rc.concentration))
                if params.depth_source == "book":
                    if unit not in self.depths:
                        self.depths.update(pm_model.book_depths(v, {unit}))
                    d = self.depths[unit]
                    c["au_depth_long"].append(float(d.bids))
                    c["au_depth_short"].append(float(d.asks))
                else:
                    c["au_depth_long"].append(float(rc.depth))
                    c["au_depth_short"].append(float(rc.depth))
            return units[unit]

        own = pm_model.own_pool_tokens(reg)
        marks = book.build_marks
        moving = 0.0
        for asset, row in pos_rows.items():
            perp = reg.perps[asset]
            if perp.collateral.index in own:
                continue
            px = float(v.token_price(perp.collateral))
            book.pos_au_list[row] = au(sc.unit_of(perp.name, params.unit_aliases))
            book.pos_px_list[row] = px
            moving += acct.positions[asset].szi / 10**perp.sz_decimals * marks[book.asset_index[asset]] * px
        _, stables = pm_model.scenario_inputs(v, acct)
        depeg = sum(
            (sc.depeg_charge(s, params.depeg.get(s.token, Fraction(0))) for s in stables), Fraction(0)
        )
        for token in sorted((set(acct.spot) | set(acct.supply_basis) | set(acct.borrow_basis)) - own):
            tok = reg.tokens[token]
            if token == reg.quote.index or tok.name in params.depeg:
                continue
            qty = (acct.spot.get(token, 0) + v.supplied(acct, token) - v.borrowed(acct, token)) / tok.unit
            if not qty:
                continue
            ti = book.token_index[token]
            c["spot_au"].append(au(sc.unit_of(tok.perp or tok.name, params.unit_aliases)))
            c["spot_token"].append(ti)
            c["spot_qty"].append(qty)
            moving += qty * book.token_px0[ti]
        c["equity_const"].append(float(pm_model.pm_equity(v, acct)) - moving)
        c["depeg"].append(float(depeg))

    def arrays(self, n_positions: int) -> PmArrays:
        out: dict[str, Any] = {}
        for f in fields(PmArrays):
            if f.name == "owners":
                out[f.name] = self.cols["owners"]
            elif f.name == "pos_au":
                out[f.name] = np.array(self.book.pos_au_list, dtype=np.int64).reshape(n_positions)
            elif f.name == "pos_px":
                out[f.name] = np.array(self.book.pos_px_list, dtype=np.float64).reshape(n_positions)
            else:
                ints = f.name == "acct" or f.name.endswith(("_acct", "_pool", "_leg", "_token", "_au"))
                out[f.name] = np.array(self.cols[f.name], dtype=np.int64 if ints else np.float64)
        return PmArrays(**out)


class RiskBook:
    """Arrays of one state for vectorised screening; rebuild after actions (cheap relative to a scan)."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.assets = sorted(reg.perps)
        self.asset_index = {a: i for i, a in enumerate(self.assets)}
        width = max(len(p.table.tiers) for p in reg.perps.values())
        n = len(self.assets)
        bounds = np.full((n, width), np.inf)
        mmr = np.zeros((n, width))
        ded = np.zeros((n, width))
        for i, a in enumerate(self.assets):
            for j, t in enumerate(reg.perps[a].table.tiers):
                bounds[i, j] = float(t.lower_bound)
                mmr[i, j] = float(t.mmr)
                ded[i, j] = float(t.deduction)
            for j in range(len(reg.perps[a].table.tiers), width):
                mmr[i, j] = mmr[i, j - 1]
                ded[i, j] = ded[i, j - 1]
        self.tiers = TierArrays(bounds, mmr, ded)
        self.tokens = sorted(reg.tokens)
        self.token_index = {t: i for i, t in enumerate(self.tokens)}
        links = [reg.tokens[t].perp for t in self.tokens]
        self.token_link = np.array(
            [self.asset_index[reg.perp(p).asset] if p is not None else -1 for p in links], dtype=np.int64
        )
        self.token_px0 = np.zeros(len(self.tokens))
        self.build_marks = np.ones(n)
        self.pools: PoolArrays | None = None
        self.pm: PmArrays = _empty_pm()
        self.accounts: list[str] = []
        self._cache: dict[str, Any] = {}
        self._cache_key: tuple[int, int] | None = None
        self.pos_au_list: list[int] = []
        self.pos_px_list: list[float] = []

    # ------------------------------------------------------------------ building
    def build(self, state: ExchangeState) -> PoolArrays:
        reg = self.reg
        v = Valuer(reg, state)
        self.build_marks = self.marks_of(state)
        for i, t in enumerate(self.tokens):
            px = v.token_price_or_none(reg.tokens[t])
            self.token_px0[i] = float(px) if px is not None else 0.0
        owners: list[str] = []
        pool_acct: list[int] = []
        self.accounts = []
        cash: list[float] = []
        pos_pool: list[int] = []
        pos_asset: list[int] = []
        pos_size: list[float] = []
        pm_flags: list[bool] = []
        self.pos_au_list, self.pos_px_list = [], []
        pmb = _PmBuilder(self)
        pm_on = reg.pm is not None and reg.pm.scenario is not None
        for address in sorted(state.accounts):
            acct = state.accounts[address]
            is_pm = pm_on and acct.mode is Mode.PORTFOLIO and not acct.is_system
            if not acct.positions and not acct.borrow_basis and not is_pm:
                continue
            pool_ids: dict[str | int, int] = {}
            pos_rows: dict[int, int] = {}
            self.accounts.append(address)
            ai = len(self.accounts) - 1

            def pool_id(
                key: str | int,
                unit: int,
                start: int,
                pm_test: bool,
                ids: dict[str | int, int] = pool_ids,
                who: str = address,
                idx: int = ai,
            ) -> int:
                if key not in ids:
                    ids[key] = len(owners)
                    owners.append(who)
                    pool_acct.append(idx)
                    cash.append(start / unit)
                    pm_flags.append(pm_test)
                return ids[key]

            for asset, pos in acct.positions.items():
                if pos.szi == 0:
                    continue
                perp = reg.perps[asset]
                coll = perp.collateral
                if not pos.is_cross:
                    pid = len(owners)
                    owners.append(address)
                    pool_acct.append(ai)
                    cash.append(pos.raw_usd / coll.unit)
                    pm_flags.append(False)
                else:
                    key: str | int = coll.index if acct.mode.unified else perp.dex.name
                    start = (
                        acct.spot.get(coll.index, 0)
                        if acct.mode.unified
                        else acct.perp_cash.get(perp.dex.name, 0)
                    )
                    pm_test = is_pm and reg.borrowable(coll.index) is not None
                    pid = pool_id(key, coll.unit, start, pm_test)
                    if is_pm:
                        pos_rows[asset] = len(pos_pool)
                pos_pool.append(pid)
                pos_asset.append(self.asset_index[asset])
                pos_size.append(pos.szi / 10**perp.sz_decimals)
                self.pos_au_list.append(-1)
                self.pos_px_list.append(0.0)
            if is_pm:
                pmb.add(v, acct, pool_ids, pos_rows)
        self.pools = PoolArrays(
            owners,
            np.array(pool_acct, dtype=np.int64),
            np.array(cash, dtype=np.float64),
            np.array(pos_pool, dtype=np.int64),
            np.array(pos_asset, dtype=np.int64),
            np.array(pos_size, dtype=np.float64),
            np.array(pm_flags, dtype=bool),
        )
        self.pm = pmb.arrays(len(pos_pool))
        return self.pools

    def marks_of(self, state: ExchangeState) -> F64:
        out = np.zeros(len(self.assets))
        for i, a in enumerate(self.assets):
            px = state.prices.mark.get(a) or state.prices.oracle.get(a) or 0
            out[i] = px / PX_SCALE
        return out

    def tiled(self, copies: int) -> RiskBook:
        """A book of ``copies`` disjoint copies of this one, for benchmarks. Copy ``k``'s owners are named
        ``t{k:06d}:{address}``, so ``accounts`` stays sorted."""
        p, m = self.pools, self.pm
        assert p is not None
        out = RiskBook.__new__(RiskBook)
        for name in (
            "reg",
            "assets",
            "asset_index",
            "tiers",
            "tokens",
            "token_index",
            "token_link",
            "token_px0",
        ):
            setattr(out, name, getattr(self, name))
        out.build_marks = self.build_marks
        out._cache, out._cache_key = {}, None
        out.pos_au_list, out.pos_px_list = [], []
        out.accounts = [f"t{k:06d}:{a}" for k in range(copies) for a in self.accounts]
        npool, nleg, nau, npm = len(p.owners), len(m.leg_acct), len(m.au_acct), len(m.owners)
        nacct = len(self.accounts)

        def rep(x: Any, step: int = 0) -> Any:
            arr = np.tile(x, copies)
            if step:
                off = np.repeat(np.arange(copies, dtype=np.int64) * step, len(x))
                arr = np.where(arr >= 0, arr + off, arr)
            return arr

        out.pools = PoolArrays(
            [f"t{k:06d}:{o}" for k in range(copies) for o in p.owners],
            rep(p.acct, nacct),
            rep(p.cash),
            rep(p.pos_pool, npool),
            rep(p.pos_asset),
            rep(p.pos_size),
            rep(p.pm_pool),
        )
        steps = {
            "acct": nacct,
            "leg_acct": npm,
            "leg_pool": npool,
            "pair_leg": nleg,
            "au_acct": npm,
            "pos_au": nau,
            "spot_au": nau,
        }
        values: dict[str, Any] = {"owners": [f"t{k:06d}:{o}" for k in range(copies) for o in m.owners]}
        for f in fields(PmArrays):
            if f.name != "owners":
                values[f.name] = rep(getattr(m, f.name), steps.get(f.name, 0))
        out.pm = replace(m, **values)
        return out

    # ------------------------------------------------------------------ revaluation
    def token_prices(self, marks: F64) -> F64:
        """Token prices at ``marks``: a token follows its perp's mark from the build price."""
        link = self.token_link
        ratio = np.ones(len(link))
        has = link >= 0
        base = self.build_marks[link[has]]
        ratio[has] = np.divide(marks[link[has]], base, out=np.ones(int(has.sum())), where=base > 0)
        out: F64 = self.token_px0 * ratio
        return out

    def _static(self) -> dict[str, Any]:
        """Index arrays derived once from the built arrays (positions in and out of the PM test)."""
        p, m = self.pools, self.pm
        assert p is not None
        key = (id(p), id(m))
        if self._cache_key != key:
            in_pm = np.flatnonzero(m.pos_au >= 0) if len(m.pos_au) else np.zeros(0, dtype=np.int64)
            self._cache = {
                "pm_pos_au": m.pos_au[in_pm],
                "pm_pos_asset": p.pos_asset[in_pm],
                "pm_pos_qty": p.pos_size[in_pm] * m.pos_px[in_pm],
                "std_pos": np.flatnonzero(~p.pm_pool[p.pos_pool]),
                "accounts": np.array(self.accounts, dtype=object),
                "leg_owner": m.acct[m.leg_acct],
            }
            self._cache_key = key
        return self._cache

    def revalue(self, marks: F64, positions: npt.NDArray[np.int64] | None = None) -> tuple[F64, F64]:
        """(equity, maintenance) per pool at ``marks`` (one price per asset, USD); ``positions``: only
        these position rows (the other pools keep their cash and no maintenance)."""
        p = self.pools
        assert p is not None
        n = len(p.owners)
        if positions is None:
            pool, asset, size = p.pos_pool, p.pos_asset, p.pos_size
        else:
            pool, asset, size = p.pos_pool[positions], p.pos_asset[positions], p.pos_size[positions]
        ntl = size * marks[asset]
        equity = p.cash + np.bincount(pool, weights=ntl, minlength=n)
        abs_ntl = np.abs(ntl)
        bounds = self.tiers.bounds
        tier = np.zeros(len(ntl), dtype=np.int64)
        for j in range(1, bounds.shape[1]):
            tier += abs_ntl > bounds[asset, j]
        flat = asset * bounds.shape[1] + tier
        mmr = self.tiers.mmr.ravel()[flat]
        ded = self.tiers.ded.ravel()[flat]
        mm = np.bincount(pool, weights=abs_ntl * mmr - ded, minlength=n).astype(np.float64)
        return equity.astype(np.float64), mm

    def hl_pm(self, marks: F64, pools: tuple[F64, F64] | None = None) -> tuple[F64, F64]:
        """Hyperliquid's PMR per PM leg at ``marks``: (requirement, liquidation value), USDC."""
        m = self.pm
        equity, mm = pools if pools is not None else self.revalue(marks)
        px = self.token_prices(marks)
        has_pool = m.leg_pool >= 0
        pool = np.where(has_pool, m.leg_pool, 0)
        req = m.leg_req + np.where(has_pool, mm[pool], 0.0) * m.leg_px
        coll = np.minimum(m.leg_cap[m.pair_leg], m.pair_qty * px[m.pair_token])
        value = (
            np.where(has_pool, equity[pool], 0.0) * m.leg_px
            + m.leg_value
            + np.bincount(m.pair_leg, weights=coll, minlength=len(m.leg_acct))
        )
        return req, value

    def scenario(self, marks: F64) -> tuple[F64, F64]:
        """Scenario maintenance and equity per PM account at ``marks`` (USDC).

        Per (account, unit): ``net = sum d``, ``gross = sum |d|`` over its instruments' values ``d``;
        the long and short sides are ``(gross +- net) / 2``.
        """
        m = self.pm
        c = self._static()
        px = self.token_prices(marks)
        n = len(m.au_acct)
        pos_delta = c["pm_pos_qty"] * marks[c["pm_pos_asset"]]
        spot_delta = m.spot_qty * px[m.spot_token]
        net = np.bincount(c["pm_pos_au"], weights=pos_delta, minlength=n)
        net += np.bincount(m.spot_au, weights=spot_delta, minlength=n)
        gross = np.bincount(c["pm_pos_au"], weights=np.abs(pos_delta), minlength=n)
        gross += np.bincount(m.spot_au, weights=np.abs(spot_delta), minlength=n)
        absnet = np.abs(net)
        req = np.maximum(absnet * m.au_shock, gross * m.au_min)
        req += m.au_basis * (gross - absnet) / 2  # min(long, short) = (gross - |net|) / 2
        depth = np.where(net > 0, m.au_depth_long, m.au_depth_short)
        req += m.au_conc * np.maximum(absnet - depth, 0.0)
        k = len(m.owners)
        maint = np.bincount(m.au_acct, weights=req, minlength=k) + m.depeg
        equity = m.equity_const + np.bincount(m.au_acct, weights=net, minlength=k)
        return maint, equity

    def scenario_hits(self, marks: F64, margin: float = 1e-9, *, fused: bool | None = None) -> B8:
        """PM accounts whose equity may be below the scenario maintenance at ``marks``. With numba
        installed the pass is one compiled loop (measured faster, docs/benchmarks.md); else numpy."""
        loop = compiled_scenario_loop() if fused is not False else None
        if loop is None:
            maint, eq = self.scenario(marks)
            hit: B8 = (maint > 0) & (eq < maint + margin * (np.abs(eq) + maint + 1.0))
            return hit
        m, c = self.pm, self._static()
        out: B8 = loop(
            c["pm_pos_au"],
            c["pm_pos_asset"],
            c["pm_pos_qty"],
            m.spot_au,
            m.spot_token,
            m.spot_qty,
            marks,
            self.token_prices(marks),
            m.au_acct,
            m.au_shock,
            m.au_min,
            m.au_basis,
            m.au_conc,
            m.au_depth_long,
            m.au_depth_short,
            m.equity_const,
            m.depeg,
            margin,
        )
        return out

    # ------------------------------------------------------------------ screening
    def screen_accounts(
        self, marks: F64, margin: float = 1e-9, model: str | None = None, *, fused: bool | None = None
    ) -> npt.NDArray[np.bool_]:
        """Per account of ``accounts``: may it be liquidatable at ``marks``? (See :meth:`screen`.)
        ``fused``: use the numba-compiled loops (default: when numba is installed), or numpy."""
        p, m = self.pools, self.pm
        assert p is not None
        chosen = model or (self.reg.pm.model if self.reg.pm is not None else "hyperliquid")
        scenario = len(m.owners) > 0 and chosen == "scenario"
        ratio = float(pm_liquidation_ratio(self.reg))  # the engine's threshold (AccountHealth's)
        static = self._static()
        loop = _compiled("hyperliquid") if fused is not False and not scenario else None
        if loop is not None:
            hit_acct: B8 = loop(
                p.cash,
                p.pos_pool,
                p.pos_asset,
                p.pos_size,
                marks,
                self.tiers.bounds,
                self.tiers.mmr,
                self.tiers.ded,
                p.pm_pool,
                p.acct,
                len(self.accounts),
                static["leg_owner"],
                m.leg_pool,
                m.leg_px,
                m.leg_req,
                m.leg_value,
                m.leg_cap,
                m.pair_leg,
                m.pair_token,
                m.pair_qty,
                self.token_prices(marks),
                ratio,
                margin,
            )
            return hit_acct
        hit_acct = np.zeros(len(self.accounts), dtype=bool)
        # under the scenario model the PM pools are decided by the account test: skip their positions
        equity, mm = self.revalue(marks, static["std_pos"] if scenario else None)
        flagged = (mm > 0) & (equity < mm + margin * (np.abs(equity) + mm + 1.0)) & ~p.pm_pool
        hit_acct[p.acct[flagged]] = True
        if len(m.owners):
            if scenario:
                hit_acct[m.acct[self.scenario_hits(marks, margin, fused=fused)]] = True
            else:
                req, value = self.hl_pm(marks, (equity, mm))
                hit = (req > 0) & (req + margin * (np.abs(value) + req + 1.0) > ratio * value)
                hit_acct[static["leg_owner"][hit]] = True
        return hit_acct

    def screen(self, marks: F64, margin: float = 1e-9, model: str | None = None) -> list[str]:
        """Owners of pools and PM accounts that may be liquidatable at ``marks`` (a superset of the
        exact answer), sorted. ``model``: ``hyperliquid`` or ``scenario`` for PM accounts (default: the
        preset's)."""
        hit = self.screen_accounts(marks, margin, model)
        owners: list[str] = self._static()["accounts"][hit].tolist()  # sorted when built and when tiled
        return owners
