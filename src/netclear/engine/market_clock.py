"""Time-driven market processes: mark prices, premium sampling, hourly funding (Hyperliquid docs 'Robust price
indices', 'Funding').

* On each oracle update the mark's EMAs take a sample and the mark becomes the published median
  (``markets.prices.mark_price``), unless the feed gives the mark explicitly.
* Premiums are sampled every 5 s from the books' impact prices; because state only changes on
  actions, the slots that passed since the last action all get the premium in force meanwhile.
* Each hour the average premium sets the rate, 1/8 of the 8-hour rate capped at 4%/h, paid peer to
  peer on **oracle** notional; the rounding dust (payers round up) goes to the fee sink.
"""

from __future__ import annotations

from fractions import Fraction

from netclear.engine.context import Ctx
from netclear.engine.state import MarketState, Mode
from netclear.fixedpoint import fmt_decimal, fmt_units
from netclear.markets import funding as funding_rules
from netclear.markets import prices as price_rules
from netclear.markets.registry import Perp

HOUR_MS = 3_600_000


def market_state(ctx: Ctx, asset: int) -> MarketState:
    ms = ctx.state.markets.get(asset)
    if ms is None:
        ms = ctx.state.markets[asset] = MarketState()
    return ms


def _params(ctx: Ctx) -> funding_rules.FundingParams:
    return funding_rules.FundingParams.from_config(ctx.reg.config.funding)


def update_marks(ctx: Ctx, oracle: dict[int, int], explicit: dict[int, int]) -> set[int]:
    """Recompute marks for perps whose oracle moved; returns the assets whose mark changed."""
    prices = ctx.state.prices
    changed: set[int] = set()
    for asset in sorted(set(oracle) | set(explicit)):
        before = prices.mark.get(asset)
        market_state(ctx, asset).prev_mark = before
        if asset in explicit:
            prices.mark[asset] = explicit[asset]
        else:
            perp = ctx.reg.perps[asset]
            ms = market_state(ctx, asset)
            book = ctx.state.books.get(asset)
            bid = book.best_bid() if book is not None else None
            ask = book.best_ask() if book is not None else None
            emas = ms.emas if ms.emas is not None else price_rules.MarkEmas.start(ctx.now)
            ms.emas = emas.update(ctx.now, oracle[asset], bid, ask, ms.last_px)
            prices.mark[asset] = price_rules.mark_price(
                oracle[asset], ms.emas, bid, ask, ms.last_px, sz_decimals=perp.sz_decimals
            )
        if prices.mark[asset] != before:
            changed.add(asset)
    return changed


def current_premium(ctx: Ctx, perp: Perp) -> Fraction | None:
    """Premium now from the book's impact prices and the oracle (validator and HIP-3 formulas)."""
    oracle = ctx.state.prices.oracle.get(perp.asset)
    if oracle is None:
        return None
    book = ctx.state.books.get(perp.asset)
    if book is None:
        impact_bid = impact_ask = None
    else:
        coll = perp.collateral
        notional = perp.impact_notional
        if perp.dex.index == 0 and perp.name in ("BTC", "ETH"):
            notional = Fraction(ctx.reg.config.funding.impact_notional_major)
        wei = int(notional * coll.unit)
        impact_bid = book.impact_price(False, wei, perp.sz_decimals, coll.wei_decimals)
        impact_ask = book.impact_price(True, wei, perp.sz_decimals, coll.wei_decimals)
    if perp.dex.is_builder:
        return funding_rules.hip3_premium(impact_bid, impact_ask, oracle)
    return funding_rules.premium(impact_bid, impact_ask, oracle)


def sample_premiums(ctx: Ctx, until_ms: int) -> None:
    """Fill every 5-second premium slot up to ``until_ms`` (Hyperliquid docs 'Funding' "sampled every 5
    seconds")."""
    params = _params(ctx)
    hour_start = (until_ms - 1) // HOUR_MS * HOUR_MS if until_ms > 0 else 0
    for asset in sorted(ctx.state.prices.oracle):
        perp = ctx.reg.perps.get(asset)
        if perp is None:
            continue
        ms = market_state(ctx, asset)
        if ms.sampler is None:
            ms.sampler = params.sampler(hour_start)
        if ms.sampler.next_sample_ms > until_ms:
            continue
        p = current_premium(ctx, perp)
        if p is None:
            continue
        ms.premium = p
        ms.sampler = ms.sampler.sample_until(p, until_ms)


def pay_funding(ctx: Ctx, boundary_ms: int) -> None:
    """Hourly funding at ``boundary_ms``: every position pays ``szi x oracle x rate`` (Hyperliquid docs
    'Funding')."""
    params = _params(ctx)
    rates: dict[int, Fraction] = {}
    for asset in sorted(ctx.state.prices.oracle):
        perp = ctx.reg.perps.get(asset)
        if perp is None:
            continue
        ms = market_state(ctx, asset)
        sampler = ms.sampler if ms.sampler is not None else params.sampler(boundary_ms - HOUR_MS)
        avg = sampler.average()
        dex = perp.dex
        rate = params.hourly_rate(
            avg,
            multiplier=dex.funding_multiplier if dex.is_builder else 1,
            interest_rate_8h=dex.interest_rate_8h,
        )
        rates[asset] = rate
        ms.funding_rate = rate
        ms.sampler = params.sampler(boundary_ms)
        ctx.record(
            "funding_rates",
            perp.name,
            {
                "coin": perp.name,
                "fundingRate": fmt_decimal(rate, 12),
                "premium": fmt_decimal(avg, 12),
                "time": boundary_ms,
            },
        )
    if not rates:
        return
    sink_address = ctx.reg.config.fees.fee_sink.lower()
    dust: dict[int, int] = {}
    for address in sorted(ctx.state.accounts):
        acct = ctx.state.accounts[address]
        if not acct.positions:
            continue
        for asset in sorted(acct.positions):
            if asset not in rates:
                continue
            live = ctx.tx.account(address)
            pos = live.positions[asset]
            perp = ctx.reg.perps[asset]
            coll = perp.collateral
            oracle = ctx.state.prices.oracle[asset]
            pay = funding_rules.funding_payment(
                pos.szi, oracle, rates[asset], perp.sz_decimals, coll.wei_decimals
            )
            if pay == 0:
                continue
            if not pos.is_cross:
                pos.raw_usd -= pay
            elif live.mode is Mode.STANDARD:
                live.perp_cash[perp.dex.name] = live.perp_cash.get(perp.dex.name, 0) - pay
            else:
                live.spot[coll.index] = live.spot.get(coll.index, 0) - pay
            pos.funding_all_time += pay
            pos.funding_since_open += pay
            pos.funding_since_change += pay
            dust[coll.index] = dust.get(coll.index, 0) + pay
            delta = {
                "type": "funding",
                "coin": perp.name,
                "usdc": fmt_units(-pay, coll.wei_decimals),
                "szi": fmt_units(pos.szi, perp.sz_decimals),
                "fundingRate": fmt_decimal(rates[asset], 12),
                "nSamples": None,
            }
            ctx.record("funding", address, {"time": boundary_ms, "hash": "0x" + "0" * 64, "delta": delta})
    sink = ctx.tx.account(sink_address)
    sink.is_system = True
    for token, amount in dust.items():
        if amount:
            sink.spot[token] = sink.spot.get(token, 0) + amount
