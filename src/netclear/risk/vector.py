"""Vectorised revaluation of every account (numpy), mirroring the exact engine for screening.

The exact path (:mod:`netclear.engine.accounting`, Python integers) decides; this path answers
"who could be liquidatable at these prices?" for a whole book in a few numpy passes, so the
liquidation engine only re-checks a handful of accounts exactly (DESIGN "risk/").

Layout (float64, USD units of each pool's collateral):

* one row per margin pool: standard-mode dex cross pools, unified/PM collateral pools, isolated
  positions; ``cash[p]`` is the pool's cash (rawUsd);
* one row per cross or isolated position: ``pool[i]``, ``asset[i]``, ``size[i]`` (signed, in coins);
* per asset the tier table: sorted lower bounds, ``mmr`` and deductions (padded to the widest table).

``screen(marks)`` computes ``equity = cash + Σ size x mark`` and the tiered maintenance
``Σ |size x mark| x mmr - deduction`` per pool with ``bincount``, and flags pools with
``equity < maintenance x (1 + margin)``; ``margin`` (1e-9 by default) absorbs float rounding so the
screen never misses an account the exact path would liquidate (tested against it).
Portfolio-margin accounts are screened with the PMR of their borrowable-token legs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netclear.engine.accounting import Valuer
from netclear.engine.state import ExchangeState, Mode
from netclear.fixedpoint import PX_SCALE
from netclear.markets.registry import Registry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(slots=True)
class PoolArrays:
    owners: list[str]
    cash: F64
    pos_pool: I64
    pos_asset: I64
    pos_size: F64
    pm_pool: npt.NDArray[np.bool_]
    pm_extra_req: F64
    """PM pools: 20 USDC offset (when borrowed) + borrowed value."""
    pm_extra_value: F64
    """PM pools: supplied balance + the collateral term of the liquidation value."""


@dataclass(slots=True)
class TierArrays:
    bounds: F64  # (assets, tiers) lower bounds in USD, +inf padding
    mmr: F64
    ded: F64


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
        self.pools: PoolArrays | None = None

    # ------------------------------------------------------------------ building
    def build(self, state: ExchangeState) -> PoolArrays:
        reg = self.reg
        v = Valuer(reg, state)
        owners: list[str] = []
        cash: list[float] = []
        pos_pool: list[int] = []
        pos_asset: list[int] = []
        pos_size: list[float] = []
        pm_flags: list[bool] = []
        pm_req: list[float] = []
        pm_val: list[float] = []
        for address in sorted(state.accounts):
            acct = state.accounts[address]
            if not acct.positions and not acct.borrow_basis:
                continue
            pool_ids: dict[str | int, int] = {}

            def pool_id(
                key: str | int,
                unit: int,
                *,
                a: str = address,
                acct_cash: int = 0,
                ids: dict[str | int, int] = pool_ids,
            ) -> int:
                if key not in ids:
                    ids[key] = len(owners)
                    owners.append(a)
                    cash.append(acct_cash / unit)
                    pm_flags.append(False)
                    pm_req.append(0.0)
                    pm_val.append(0.0)
                return ids[key]

            for asset, pos in acct.positions.items():
                if pos.szi == 0:
                    continue
                perp = reg.perps[asset]
                coll = perp.collateral
                if not pos.is_cross:
                    pid = len(owners)
                    owners.append(address)
                    cash.append(pos.raw_usd / coll.unit)
                    pm_flags.append(False)
                    pm_req.append(0.0)
                    pm_val.append(0.0)
                else:
                    key: str | int = coll.index if acct.mode.unified else perp.dex.name
                    start = (
                        acct.spot.get(coll.index, 0)
                        if acct.mode.unified
                        else acct.perp_cash.get(perp.dex.name, 0)
                    )
                    pid = pool_id(key, coll.unit, acct_cash=start)
                pos_pool.append(pid)
                pos_asset.append(self.asset_index[asset])
                pos_size.append(pos.szi / 10**perp.sz_decimals)
            if acct.mode is Mode.PORTFOLIO and reg.pm is not None:
                usdc = reg.quote
                pid = pool_id(usdc.index, usdc.unit, acct_cash=acct.spot.get(usdc.index, 0))
                legs = v.pm_legs(acct)
                for leg in legs.legs:
                    if leg.token != usdc.index:
                        continue
                    supplied = v.supplied(acct, leg.token) / usdc.unit
                    coll_term = float(
                        sum(
                            min(leg.borrow_cap * leg.price, c.counted * c.price * c.liquidation_threshold)
                            for c in legs.collateral
                        )
                    )
                    pm_flags[pid] = True
                    pm_req[pid] = (float(reg.pm.min_borrow_offset) if leg.borrowed > 0 else 0.0) + float(
                        leg.borrowed * leg.price
                    )
                    pm_val[pid] = supplied + coll_term
        self.pools = PoolArrays(
            owners,
            np.array(cash, dtype=np.float64),
            np.array(pos_pool, dtype=np.int64),
            np.array(pos_asset, dtype=np.int64),
            np.array(pos_size, dtype=np.float64),
            np.array(pm_flags, dtype=bool),
            np.array(pm_req, dtype=np.float64),
            np.array(pm_val, dtype=np.float64),
        )
        return self.pools

    def marks_of(self, state: ExchangeState) -> F64:
        out = np.zeros(len(self.assets))
        for i, a in enumerate(self.assets):
            px = state.prices.mark.get(a) or state.prices.oracle.get(a) or 0
            out[i] = px / PX_SCALE
        return out

    # ------------------------------------------------------------------ screening
    def revalue(self, marks: F64) -> tuple[F64, F64]:
        """(equity, maintenance) per pool at ``marks`` (one price per asset, USD)."""
        p = self.pools
        assert p is not None
        n = len(p.owners)
        ntl = p.pos_size * marks[p.pos_asset]
        equity = p.cash + np.bincount(p.pos_pool, weights=ntl, minlength=n)
        abs_ntl = np.abs(ntl)
        bounds = self.tiers.bounds[p.pos_asset]
        tier = (
            np.sum(abs_ntl[:, None] > bounds[:, 1:], axis=1) if bounds.shape[1] > 1 else np.zeros(len(ntl))
        ).astype(np.int64)
        mmr = self.tiers.mmr[p.pos_asset, tier]
        ded = self.tiers.ded[p.pos_asset, tier]
        mm = np.bincount(p.pos_pool, weights=abs_ntl * mmr - ded, minlength=n).astype(np.float64)
        return equity.astype(np.float64), mm

    def screen(self, marks: F64, margin: float = 1e-9) -> list[str]:
        """Owners of pools that may be liquidatable at ``marks`` (a superset of the exact answer)."""
        p = self.pools
        assert p is not None
        equity, mm = self.revalue(marks)
        tol = margin * (np.abs(equity) + mm + 1.0)
        flagged = (mm > 0) & (equity < mm + tol)
        if p.pm_pool.any():
            req = mm + p.pm_extra_req
            value = equity + p.pm_extra_value
            pm_flag = p.pm_pool & (req > 0) & (req + tol > 0.95 * value)
            flagged = np.where(p.pm_pool, pm_flag, flagged)
        idx = np.nonzero(flagged)[0]
        return sorted({p.owners[i] for i in idx})
