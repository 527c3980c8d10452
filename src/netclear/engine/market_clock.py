"""Time-driven market processes: mark prices, premium sampling, hourly funding, hourly interest indexing
(Hyperliquid docs 'Robust price indices', 'Funding', 'Portfolio margin').

* On each oracle update the mark's EMAs take a sample and the mark becomes the published median
  (``markets.prices.mark_price``), unless the feed gives the mark explicitly.
* Premiums are sampled every 5 s from the books' impact prices; because state only changes on
  actions, the slots that passed since the last action all get the premium in force meanwhile.
* Each hour the average premium sets the rate, 1/8 of the 8-hour rate capped at 4%/h, paid peer to
  peer on **oracle** notional; the rounding dust (payers round up) goes to the fee sink.
* Each hour every lending reserve is indexed and each lender's hourly interest recorded.

Passing many hours at once (:func:`pass_hours`, an ``AdvanceTime`` 30 days ahead) costs per hour only what
each hour must produce: one ``fundingHistory`` record per priced perp, one funding record per position
and one interest record per lender. Books, oracles and positions cannot change between two actions, so
the premium in force is computed once per perp; every hour after the first has 720 equal samples, hence
one rate and one payment per position, computed once and applied as a sum (docs/rules/funding.md
"Advancing the clock").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from netclear.engine import lending
from netclear.engine.context import Ctx
from netclear.engine.state import MarketState, Mode
from netclear.fixedpoint import fmt_decimal, fmt_units
from netclear.identity_cache import IdentityCache
from netclear.lending.rates import INDEX_SCALE
from netclear.markets import funding as funding_rules
from netclear.markets import prices as price_rules
from netclear.markets.funding import HourlyRate, PremiumSampler
from netclear.markets.registry import Perp

HOUR_MS = 3_600_000
ZERO_HASH = "0x" + "0" * 64


def market_state(ctx: Ctx, asset: int) -> MarketState:
    ms = ctx.state.markets.get(asset)
    if ms is None:
        ms = ctx.state.markets[asset] = MarketState()
    return ms


_params_of = IdentityCache(funding_rules.FundingParams.from_config)
"""Funding parameters per funding config, built once, not on every action's clock advance."""


def _params(ctx: Ctx) -> funding_rules.FundingParams:
    return _params_of(ctx.reg.config.funding)


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


def _impact_prices(ctx: Ctx, perp: Perp) -> tuple[int | None, int | None]:
    book = ctx.state.books.get(perp.asset)
    if book is None:
        return None, None
    coll = perp.collateral
    wei = funding_rules.impact_notional_wei(perp, ctx.reg.config.funding)
    impact_bid = book.impact_price(False, wei, perp.sz_decimals, coll.wei_decimals)
    impact_ask = book.impact_price(True, wei, perp.sz_decimals, coll.wei_decimals)
    return impact_bid, impact_ask


def current_premium_ratio(ctx: Ctx, perp: Perp) -> tuple[int, int] | None:
    """The premium now as an exact ``(numerator, denominator)`` from the book's impact prices and the oracle
    (validator and HIP-3 formulas, :func:`~netclear.markets.funding.premium_ratio`); ``None`` unpriced."""
    oracle = ctx.state.prices.oracle.get(perp.asset)
    if oracle is None:
        return None
    impact_bid, impact_ask = _impact_prices(ctx, perp)
    return funding_rules.premium_ratio(impact_bid, impact_ask, oracle, hip3=perp.dex.is_builder)


def current_premium(ctx: Ctx, perp: Perp) -> Fraction | None:
    """Premium now from the book's impact prices and the oracle (validator and HIP-3 formulas)."""
    ratio = current_premium_ratio(ctx, perp)
    return None if ratio is None else Fraction(*ratio)


def _fill(sampler: PremiumSampler, ratio: tuple[int, int], until_ms: int) -> PremiumSampler:
    """Every slot of ``sampler`` due by ``until_ms`` gets the premium ``ratio`` (rounded half-even to the
    sampler's decimals by integer division)."""
    if sampler.decimals is None:
        return sampler.sample_until(Fraction(*ratio), until_ms)
    num, den = ratio
    return sampler.sample_scaled_until(funding_rules.div_half_even(num * 10**sampler.decimals, den), until_ms)


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
        ratio = current_premium_ratio(ctx, perp)
        if ratio is None:
            continue
        ms.premium = Fraction(*ratio)
        ms.sampler = _fill(ms.sampler, ratio, until_ms)


@dataclass(slots=True)
class _Hour:
    """One funding hour of one perp: its rate and the strings its records show."""

    rate: HourlyRate
    rate_text: str
    premium_text: str

    @classmethod
    def of(cls, params: funding_rules.FundingParams, perp: Perp, sampler: PremiumSampler) -> _Hour:
        dex = perp.dex
        rate = params.rate_of(
            sampler,
            multiplier=dex.funding_multiplier if dex.is_builder else 1,
            interest_rate_8h=dex.interest_rate_8h,
        )
        return cls(rate, fmt_decimal(rate.fraction(), 12), fmt_decimal(sampler.average(), 12))


@dataclass(slots=True)
class _Market:
    """A priced perp while hours pass: the first hour's rate (from the samples already taken) and the
    rate of every later hour (720 samples of the premium in force)."""

    asset: int
    perp: Perp
    first: _Hour
    steady: _Hour


def _markets(ctx: Ctx, first_boundary: int, hours: int) -> list[_Market]:
    """Sample and rate every priced perp for the ``hours`` funding hours whose boundaries are
    ``first_boundary``, ``first_boundary + 1 h``, ...; leaves each perp's market state as hour-by-hour
    sampling would (the premium in force, the last hour's rate, a fresh sampler)."""
    params = _params(ctx)
    last_boundary = first_boundary + (hours - 1) * HOUR_MS
    out: list[_Market] = []
    for asset in sorted(ctx.state.prices.oracle):
        perp = ctx.reg.perps.get(asset)
        if perp is None:
            continue
        ms = market_state(ctx, asset)
        ratio = current_premium_ratio(ctx, perp)  # in force until the next action
        sampler = ms.sampler if ms.sampler is not None else params.sampler(first_boundary - HOUR_MS)
        if sampler.next_sample_ms <= first_boundary and ratio is not None:
            ms.premium = Fraction(*ratio)
            sampler = _fill(sampler, ratio, first_boundary)
        first = _Hour.of(params, perp, sampler)
        steady = first
        if hours > 1:
            sampler = params.sampler(first_boundary)
            if ratio is not None:
                ms.premium = Fraction(*ratio)
                sampler = _fill(sampler, ratio, first_boundary + HOUR_MS)
            steady = _Hour.of(params, perp, sampler)
        last = steady if hours > 1 else first
        ms.funding_rate = last.rate.fraction()
        ms.sampler = params.sampler(last_boundary)
        out.append(_Market(asset, perp, first, steady))
    return out


@dataclass(slots=True)
class _Holder:
    """One position paying funding while hours pass: what it pays in the first hour and in each later one."""

    address: str
    market: _Market
    szi_text: str
    first_pay: int
    steady_pay: int
    first_text: str
    steady_text: str


def _holders(ctx: Ctx, markets: dict[int, _Market]) -> list[_Holder]:
    """Every position in a priced perp, by address then asset (each account is touched, as paying does)."""
    oracle = ctx.state.prices.oracle
    out: list[_Holder] = []
    for address in sorted(ctx.state.accounts):
        acct = ctx.state.accounts[address]
        if not acct.positions:
            continue
        for asset in sorted(acct.positions):
            market = markets.get(asset)
            if market is None:
                continue
            pos = ctx.tx.account(address).positions[asset]
            perp = market.perp
            wei = perp.collateral.wei_decimals
            px = oracle[asset]
            first = funding_rules.funding_payment(pos.szi, px, market.first.rate, perp.sz_decimals, wei)
            steady = funding_rules.funding_payment(pos.szi, px, market.steady.rate, perp.sz_decimals, wei)
            szi = fmt_units(pos.szi, perp.sz_decimals)
            out.append(
                _Holder(address, market, szi, first, steady, fmt_units(-first, wei), fmt_units(-steady, wei))
            )
    return out


def pass_funding_hours(ctx: Ctx, first_hour: int, last_hour: int) -> None:
    """Hourly funding at every boundary ``first_hour .. last_hour`` (hours since the epoch) not yet paid:
    every position pays ``szi x oracle x rate`` each hour (Hyperliquid docs 'Funding').

    Records are those of paying hour by hour: per hour one ``fundingHistory`` record per priced perp and
    one funding record per position that pays a non-zero amount; balances and funding totals receive the
    hours' sum, and the fee sink the hours' rounding dust.
    """
    state = ctx.state
    first_hour = max(first_hour, state.last_funding_hour + 1)
    if first_hour > last_hour:
        return
    hours = last_hour - first_hour + 1
    first_boundary = first_hour * HOUR_MS
    state.last_funding_hour = last_hour
    markets = _markets(ctx, first_boundary, hours)
    if not markets:
        return
    holders = _holders(ctx, {m.asset: m for m in markets})
    for h in range(hours):
        boundary = first_boundary + h * HOUR_MS
        for m in markets:
            hour = m.steady if h else m.first
            ctx.record(
                "funding_rates",
                m.perp.name,
                {
                    "coin": m.perp.name,
                    "fundingRate": hour.rate_text,
                    "premium": hour.premium_text,
                    "time": boundary,
                },
            )
        for holder in holders:
            pay = holder.steady_pay if h else holder.first_pay
            if pay == 0:
                continue
            m = holder.market
            delta = {
                "type": "funding",
                "coin": m.perp.name,
                "usdc": holder.steady_text if h else holder.first_text,
                "szi": holder.szi_text,
                "fundingRate": (m.steady if h else m.first).rate_text,
                "nSamples": None,
            }
            ctx.record("funding", holder.address, {"time": boundary, "hash": ZERO_HASH, "delta": delta})
    # balances take the hours' sum; the sink takes each token's dust when some hour had any
    first_dust: dict[int, int] = {}
    steady_dust: dict[int, int] = {}
    for holder in holders:
        token = holder.market.perp.collateral.index
        first_dust[token] = first_dust.get(token, 0) + holder.first_pay
        steady_dust[token] = steady_dust.get(token, 0) + holder.steady_pay
        if holder.first_pay or (hours > 1 and holder.steady_pay):
            _pay(ctx, holder, holder.first_pay + (hours - 1) * holder.steady_pay)
    sink = ctx.tx.account(ctx.reg.config.fees.fee_sink.lower())
    sink.is_system = True
    for token, first in first_dust.items():
        steady = steady_dust[token]
        if first or (hours > 1 and steady):
            sink.spot[token] = sink.spot.get(token, 0) + first + (hours - 1) * steady


def _pay(ctx: Ctx, holder: _Holder, pay: int) -> None:
    """``pay`` collateral wei out of the position's margin: an isolated position's own, else the cross
    balance (standard mode: the dex's perp balance; unified and portfolio margin: the spot balance)."""
    live = ctx.tx.account(holder.address)
    perp = holder.market.perp
    pos = live.positions[perp.asset]
    if not pos.is_cross:
        pos.raw_usd -= pay
    elif live.mode is Mode.STANDARD:
        live.perp_cash[perp.dex.name] = live.perp_cash.get(perp.dex.name, 0) - pay
    else:
        coll = perp.collateral.index
        live.spot[coll] = live.spot.get(coll, 0) - pay
    pos.funding_all_time += pay
    pos.funding_since_open += pay
    pos.funding_since_change += pay


def pass_hours(ctx: Ctx, until_ms: int) -> None:
    """The hourly processes of every hour boundary after the clock and at or before ``until_ms``: funding,
    then reserve indexing. The clock ends at the last boundary passed (the caller moves it to
    ``until_ms``)."""
    state = ctx.state
    first_hour = state.time_ms // HOUR_MS + 1
    last_hour = until_ms // HOUR_MS
    if first_hour > last_hour:
        return
    pass_funding_hours(ctx, first_hour, last_hour)
    state.time_ms = last_hour * HOUR_MS
    index_hourly(ctx, state.time_ms)


def index_hourly(ctx: Ctx, until_ms: int) -> None:
    """Index every reserve at each hour boundary up to ``until_ms`` and record hourly interest.

    Hyperliquid docs 'Portfolio margin': interest "accrue[s] continuously, and [is] indexed hourly"; the FAQ
    shows it on the interest tab every hour (``userBorrowLendInterest``). Indexing changes no account, so
    the lenders are found once, not every hour.
    """
    state = ctx.state
    hour = until_ms // HOUR_MS
    if state.last_index_hour >= hour:
        return
    if not state.reserves:
        state.last_index_hour = hour
        return
    lenders = [
        (address, sorted(set(acct.supply_basis) | set(acct.borrow_basis)))
        for address, acct in sorted(state.accounts.items())
        if acct.supply_basis or acct.borrow_basis
    ]
    tokens = sorted(state.reserves)
    while state.last_index_hour < hour:
        state.last_index_hour += 1
        boundary = state.last_index_hour * HOUR_MS
        for token in tokens:
            lending.accrue(ctx.reg, ctx.tx.reserve(token), boundary)
        _record_interest(ctx, boundary, lenders)
        for token in tokens:
            res = ctx.tx.reserve(token)
            res.hour_supply_index = res.supply_index
            res.hour_borrow_index = res.borrow_index


def _record_interest(ctx: Ctx, boundary: int, lenders: list[tuple[str, list[int]]]) -> None:
    state = ctx.state
    for address, tokens in lenders:
        acct = state.accounts[address]
        for token in tokens:
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
