"""Price feed and the passage of time: oracle/mark updates (the hourly processes are
:mod:`netclear.engine.market_clock`)."""

from __future__ import annotations

from netclear.engine import events, market_clock
from netclear.engine.actions import AdvanceTime, SetPrices
from netclear.engine.context import Ctx
from netclear.engine.handlers import triggers
from netclear.errors import InvalidAction
from netclear.fixedpoint import to_px


def set_prices(ctx: Ctx, a: SetPrices) -> None:
    """Oracle feed: validate every key and price first, then write (nothing half-applied)."""
    reg = ctx.reg
    oracle = {}
    for name, value in a.oracle.items():
        perp = reg.perp(name, field=f"oracle.{name}")
        oracle[perp.asset] = to_px(value, field=f"oracle.{name}")
    marks = {}
    for name, value in a.marks.items():
        perp = reg.perp(name, field=f"marks.{name}")
        marks[perp.asset] = to_px(value, field=f"marks.{name}")
    spot = {}
    for name, value in a.spot.items():
        pair = reg.spot_pair(name, field=f"spot.{name}")
        spot[pair.index] = to_px(value, field=f"spot.{name}")
    usdc = to_px(a.usdc_oracle, field="usdc_oracle") if a.usdc_oracle is not None else None
    if not (oracle or marks or spot or usdc):
        raise InvalidAction("oracle", "no prices given")
    prices = ctx.tx.prices()
    prices.oracle.update(oracle)
    prices.spot.update(spot)
    if usdc is not None:
        prices.usdc_oracle = usdc
    changed = market_clock.update_marks(ctx, oracle, marks)
    triggers.run_triggers(ctx, changed)
    ctx.emit(events.Prices(count=len(oracle) + len(marks) + len(spot)))


def advance_time(ctx: Ctx, a: AdvanceTime) -> None:
    """Time itself is handled by the exchange before any action; this action only carries it."""
