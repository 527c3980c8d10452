"""Shared plumbing of the liquidation modules: system accounts and their addresses, pool cash, the
loss-waterfall record, the liquidation ledger delta, and whole-account values of PM accounts
(Hyperliquid docs 'Liquidations', 'Portfolio margin')."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from netclear.engine import events, pm_model
from netclear.engine.accounting import MarginPool, PoolKey, PositionValue
from netclear.engine.context import Ctx
from netclear.engine.health import pool_key
from netclear.engine.ops import FeeBook
from netclear.engine.state import Account, Mode
from netclear.fixedpoint import fmt_px, fmt_units, frac_floor
from netclear.markets import fees as fee_rules
from netclear.markets.registry import Perp, Token

HIP3_BACKSTOP_BASE = 0x4000000000000000000000000000000000000000


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


class NoLiquidationFee(FeeBook):
    """The liquidated side pays no fee ("no clearance fee on liquidations", 'Liquidations'); makers pay as
    usual."""

    def __init__(self, ctx: Ctx, liquidated: str) -> None:
        super().__init__(ctx)
        self.liquidated = liquidated

    def rates(self, acct: Account, is_spot: bool) -> fee_rules.FeeRates:
        base = super().rates(acct, is_spot)
        if acct.address == self.liquidated:
            return fee_rules.FeeRates(Fraction(0), Fraction(0))
        return base


def vault_address(ctx: Ctx, perp: Perp) -> str:
    """The liquidator vault (HLP) for the first dex; ``0x400..00 + dex_index`` for a HIP-3 dex
    ('Liquidations')."""
    if perp.dex.is_builder:
        return "0x" + format(HIP3_BACKSTOP_BASE + perp.dex.index, "040x")
    return ctx.reg.config.liquidation.liquidator_vault.lower()


def system_account(ctx: Ctx, address: str, mode: Mode | None = None) -> Account:
    acct = ctx.tx.account(address)
    acct.is_system = True
    if mode is not None and acct.mode is not mode and not acct.has_positions():
        acct.mode = mode
    return acct


def pool_of(ctx: Ctx, acct: Account, key: PoolKey) -> MarginPool:
    """The account's cross pool now (:meth:`Ctx.health`: revalued only when it changed)."""
    return ctx.health(acct).pool(key)


def record_liquidation(
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
    v = ctx.valuer()
    ctx.record(
        "liquidation_feed",
        acct.address,
        {
            "time": ctx.now,
            "method": outcome,
            "leverageType": kind,
            "liquidatedNtlPos": delta["liquidatedNtlPos"],
            "accountValue": delta["accountValue"],
            "positions": [p | {"markPx": fmt_px(v.mark(ctx.reg.perp(p["coin"]).asset))} for p in positions],
        },
    )
    ctx.emit(events.Liquidation(user=acct.address, leverage_type=kind, outcome=outcome, positions=positions))


def add_cash(acct: Account, perp: Perp, amount: int) -> None:
    """Add ``amount`` to the account's cross pool for ``perp`` (dex cash, or the unified balance)."""
    if acct.mode is Mode.STANDARD:
        acct.perp_cash[perp.dex.name] = acct.perp_cash.get(perp.dex.name, 0) + amount
    else:
        t = perp.collateral.index
        acct.spot[t] = acct.spot.get(t, 0) + amount


def cash_of(acct: Account, perp: Perp) -> int:
    if acct.mode is Mode.STANDARD:
        return acct.perp_cash.get(perp.dex.name, 0)
    return acct.spot.get(perp.collateral.index, 0)


def move_cash(src: Account, dst: Account, perp: Perp, amount: int) -> None:
    add_cash(src, perp, -amount)
    add_cash(dst, perp, amount)


def key_of(ctx: Ctx, acct: Account, perp: Perp) -> PoolKey:
    """The account's cross pool for ``perp`` (:func:`netclear.engine.health.pool_key`)."""
    return pool_key(ctx.reg, perp, acct.mode)


def any_perp_of_pool(ctx: Ctx, key: PoolKey, acct: Account) -> Perp:
    for perp in ctx.reg.perps.values():
        if pool_key(ctx.reg, perp, acct.mode) == key:
            return perp
    raise KeyError(key)


def pm_positions(ctx: Ctx, acct: Account) -> list[PositionValue]:
    """Cross positions margined by the PMR: those of dexes whose collateral is borrowable."""
    return [
        pv
        for key, pool in ctx.health(acct).pools.items()
        if key.token is None or ctx.reg.borrowable(key.token) is not None
        for pv in pool.positions
    ]


def pm_value(ctx: Ctx, acct: Account) -> Fraction:
    """USDC value of a portfolio-margin account's cross margin: everything it owns net of its debts
    (Hyperliquid docs 'Portfolio margin': cross perps and spot balances margined together), less its isolated
    positions and the pools of dexes whose collateral is not borrowable, which are margined apart."""
    return pm_model.pm_equity(ctx.valuer(), acct)


def pm_value_wei(ctx: Ctx, acct: Account, token: Token) -> int:
    """:func:`pm_value` in wei of ``token`` (rounded down)."""
    value = pm_value(ctx, acct) / ctx.valuer().token_price(token) * token.unit
    return frac_floor(value)
