"""Price feed and the passage of time: oracle/mark updates and hourly interest indexing."""

from __future__ import annotations

from netclear.engine import lending, market_clock
from netclear.engine.actions import AdvanceTime, SetPrices
from netclear.engine.context import Ctx
from netclear.engine.handlers import triggers
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_units, to_px
from netclear.lending.rates import HOUR_MS, INDEX_SCALE


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
    ctx.emit("prices", None, count=len(oracle) + len(marks) + len(spot))


def advance_time(ctx: Ctx, a: AdvanceTime) -> None:
    """Time itself is handled by the exchange before any action; this action only carries it."""


def index_hourly(ctx: Ctx, until_ms: int) -> None:
    """Index every reserve at each hour boundary up to ``until_ms`` and record hourly interest.

    Hyperliquid docs 'Portfolio margin': interest "accrue[s] continuously, and [is] indexed hourly"; the FAQ
    shows it on the interest tab every hour (``userBorrowLendInterest``).
    """
    state = ctx.state
    hour = until_ms // HOUR_MS
    while state.last_index_hour < hour:
        state.last_index_hour += 1
        boundary = state.last_index_hour * HOUR_MS
        if not state.reserves:
            continue
        for token in sorted(state.reserves):
            res = ctx.tx.reserve(token)
            lending.accrue(ctx.reg, res, boundary)
        _record_interest(ctx, boundary)
        for token in sorted(state.reserves):
            res = ctx.tx.reserve(token)
            res.hour_supply_index = res.supply_index
            res.hour_borrow_index = res.borrow_index


def _record_interest(ctx: Ctx, boundary: int) -> None:
    state = ctx.state
    for address in sorted(state.accounts):
        acct = state.accounts[address]
        if not acct.supply_basis and not acct.borrow_basis:
            continue
        for token in sorted(set(acct.supply_basis) | set(acct.borrow_basis)):
            res = state.reserves[token]
            tok = ctx.reg.tokens[token]
            b = acct.borrow_basis.get(token, 0) * (res.borrow_index - res.hour_borrow_index) // INDEX_SCALE
            s = acct.supply_basis.get(token, 0) * (res.supply_index - res.hour_supply_index) // INDEX_SCALE
            if b or s:
                ctx.record(
                    "interest",
                    address,
                    {
                        "time": boundary,
                        "token": tok.name,
                        "borrow": fmt_units(b, tok.wei_decimals),
                        "supply": fmt_units(s, tok.wei_decimals),
                    },
                )
