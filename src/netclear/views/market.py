"""Market views: books, mids, asset contexts, orders, funding, fees, candles (Hyperliquid docs 'Info
endpoint', 'Order book'; hyperliquid-python-sdk 0.24.0 for the shapes the SDK reads)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.lending import accrue
from netclear.engine.leverage import leverage_of
from netclear.engine.order_json import resting_json, trigger_json
from netclear.engine.records import plain, plain_list
from netclear.engine.solvency import ltv_borrow_capacity
from netclear.engine.state import Account, MarketState, Mode, Reserve
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_SCALE, fmt_decimal, fmt_px, fmt_units
from netclear.lending.rates import value_of
from netclear.markets import fees as fee_rules
from netclear.markets import funding as funding_rules
from netclear.markets.registry import Perp, SpotPair, Token
from netclear.views import view
from netclear.views.common import account_or_empty, time_filter, user_of
from netclear.views.meta import meta_json, spot_meta_json

Market = Perp | SpotPair

INTERVALS_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


def _market(v: Valuer, coin: object, field: str = "coin") -> Market:
    if not isinstance(coin, str):
        raise InvalidAction(field, "missing coin")
    reg = v.reg
    if coin in reg.spot_by_name:
        return reg.spot_by_name[coin]
    return reg.perp(coin, field=field)


def _mid(v: Valuer, asset: int) -> int | None:
    book = v.state.books.get(asset)
    return book.mid() if book is not None else None


@view("l2Book")
def l2_book(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    m = _market(v, payload.get("coin"))
    book = v.state.books.get(m.asset)
    bids, asks = book.l2(20) if book is not None else ([], [])
    szd = m.sz_decimals

    def level(px: int, sz: int, n: int) -> dict[str, Any]:
        return {"px": fmt_px(px), "sz": fmt_units(sz, szd), "n": n}

    return {
        "coin": m.name,
        "time": v.state.time_ms,
        "levels": [[level(*lv) for lv in bids], [level(*lv) for lv in asks]],
    }


@view("allMids")
def all_mids(v: Valuer, payload: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    reg, prices = v.reg, v.state.prices
    dex = reg.dex(payload.get("dex", "") or "").name
    for perp in reg.perps_by_dex.get(dex, []):
        mid = _mid(v, perp.asset) or prices.mark.get(perp.asset)
        if mid is not None:
            out[perp.name] = fmt_px(mid)
    if dex == "":
        for pair in reg.spot_pairs.values():
            mid = _mid(v, pair.asset) or prices.spot.get(pair.index)
            if mid is not None:
                out[pair.name] = fmt_px(mid)
    return out


def _impact_pxs(v: Valuer, perp: Perp) -> list[str] | None:
    book = v.state.books.get(perp.asset)
    if book is None:
        return None
    coll = perp.collateral
    wei = funding_rules.impact_notional_wei(perp, v.reg.config.funding)
    bid = book.impact_price(False, wei, perp.sz_decimals, coll.wei_decimals)
    ask = book.impact_price(True, wei, perp.sz_decimals, coll.wei_decimals)
    if bid is None or ask is None:
        return None
    return [fmt_px(bid), fmt_px(ask)]


def asset_ctx(v: Valuer, perp: Perp) -> dict[str, Any]:
    prices = v.state.prices
    ms = v.state.markets.get(perp.asset) or MarketState()
    mid = _mid(v, perp.asset)
    mark = prices.mark.get(perp.asset)
    oracle = prices.oracle.get(perp.asset)
    wd = perp.collateral.wei_decimals
    ctx: dict[str, Any] = {
        "dayNtlVlm": fmt_units(ms.day_ntl_vlm, wd),
        "funding": fmt_decimal(ms.funding_rate, 10),
        "impactPxs": _impact_pxs(v, perp),
        "markPx": fmt_px(mark) if mark else "0.0",
        "midPx": fmt_px(mid) if mid else None,
        "openInterest": fmt_units(ms.open_interest, perp.sz_decimals),
        "oraclePx": fmt_px(oracle) if oracle else "0.0",
        "premium": fmt_decimal(ms.premium, 8) if ms.premium is not None else None,
        "prevDayPx": fmt_px(ms.prev_day_px) if ms.prev_day_px else (fmt_px(oracle) if oracle else "0.0"),
    }
    if perp.dex.is_builder:
        ctx["dayBaseVlm"] = fmt_units(ms.day_base_vlm, perp.sz_decimals)
    return ctx


@view("metaAndAssetCtxs")
def meta_and_asset_ctxs(v: Valuer, payload: dict[str, Any]) -> list[Any]:
    dex = payload.get("dex", "") or ""
    return [
        meta_json(v.reg, dex),
        [asset_ctx(v, p) for p in v.reg.perps_by_dex[v.reg.dex(dex).name]],
    ]


@view("spotMetaAndAssetCtxs")
def spot_meta_and_asset_ctxs(v: Valuer, payload: dict[str, Any]) -> list[Any]:
    reg = v.reg
    ctxs = []
    for pair in sorted(reg.spot_pairs.values(), key=lambda p: p.index):
        ms = v.state.markets.get(pair.asset) or MarketState()
        mid = _mid(v, pair.asset)
        mark = mid or ms.last_px or v.state.prices.spot.get(pair.index)
        ctxs.append(
            {
                "coin": pair.name,
                "dayNtlVlm": fmt_units(ms.day_ntl_vlm, pair.quote.wei_decimals),
                "dayBaseVlm": fmt_units(ms.day_base_vlm, pair.base.sz_decimals),
                "markPx": fmt_px(mark) if mark else "0.0",
                "midPx": fmt_px(mid) if mid else None,
                "prevDayPx": fmt_px(ms.prev_day_px) if ms.prev_day_px else (fmt_px(mark) if mark else "0.0"),
                "circulatingSupply": "0.0",
                "totalSupply": "0.0",
            }
        )
    return [spot_meta_json(reg), ctxs]


# ---------------------------------------------------------------------------- orders
def _order_views(v: Valuer, user: str) -> list[dict[str, Any]]:
    """Open orders of a user (resting and trigger), oldest first, in the frontend shape."""
    out: list[tuple[int, dict[str, Any]]] = []
    for asset in sorted(v.state.books):
        for ro in v.state.books[asset].orders_of(user):
            out.append((ro.oid, resting_json(v.reg, ro)))
    for oid in sorted(v.state.triggers):
        t = v.state.triggers[oid]
        if t.user == user:
            out.append((oid, trigger_json(v.reg, t)))
    return [o for _, o in sorted(out, key=lambda x: x[0])]


@view("frontendOpenOrders")
def frontend_open_orders(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    return _order_views(v, user_of(payload))


@view("openOrders")
def open_orders(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("coin", "limitPx", "oid", "side", "sz", "timestamp", "origSz", "cloid", "reduceOnly")
    return [{k: o[k] for k in keys} for o in _order_views(v, user_of(payload))]


@view("orderStatus")
def order_status(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    user = user_of(payload)
    ref = payload.get("oid")
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidAction("oid", "an order id or a cloid")
    if isinstance(ref, str):
        ref = ref.lower()  # cloids are stored in lower case
    for live in _order_views(v, user):
        if (isinstance(ref, int) and live["oid"] == ref) or (
            isinstance(ref, str) and live.get("cloid") == ref
        ):
            return {
                "status": "order",
                "order": {"order": live, "status": "open", "statusTimestamp": v.state.time_ms},
            }
    records = v.state.history.orders.get(user, [])
    for rec in reversed(records):
        order = rec["order"]
        if (isinstance(ref, int) and order["oid"] == ref) or (
            isinstance(ref, str) and order.get("cloid") == ref
        ):
            return {"status": "order", "order": plain(rec)}
    return {"status": "unknownOid"}


@view("historicalOrders")
def historical_orders(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    latest: dict[int, dict[str, Any]] = {}
    for rec in v.state.history.orders.get(user_of(payload), []):
        latest[rec["order"]["oid"]] = rec
    return plain_list(sorted(latest.values(), key=lambda r: -r["order"]["oid"])[:2000])


# ---------------------------------------------------------------------------- funding
@view("fundingHistory")
def funding_history(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    m = _market(v, payload.get("coin"))
    return time_filter(v.state.history.funding_rates.get(m.name, []), payload)


# ---------------------------------------------------------------------------- user trading data
def _available_perp(v: Valuer, acct: Account, perp: Perp) -> tuple[int, int]:
    """(buy, sell) margin available to open, collateral wei: the free balance of the perp's cross pool
    (:meth:`AccountHealth.free`, the number the engine's margin check decides on), plus under portfolio
    margin what the order could raise from supply and auto-borrow."""
    h = AccountHealth(v, acct)
    free = h.free(h.key(perp))
    if acct.mode is Mode.PORTFOLIO and v.reg.borrowable(perp.collateral.index) is not None:
        free += _pm_spendable(v, acct, perp.collateral)
    free = max(free, 0)
    return free, free


def _borrow_headroom(v: Valuer, acct: Account, token: int) -> int:
    """Borrowable amount left under the user cap, the global cap and the pool's cash (not LTV), as
    ``engine.lending.borrow_headroom`` computes it, on a copy of the reserve accrued to now: a read never
    writes the state."""
    params = v.reg.borrowable(token)
    if params is None:
        return 0
    live = v.state.reserves.get(token)
    res = live.clone() if live is not None else Reserve(token, last_accrual_ms=v.state.time_ms)
    accrue(v.reg, res, v.state.time_ms)
    owed = value_of(acct.borrow_basis.get(token, 0), res.borrow_index, debt=True)
    return max(0, min(params.user_borrow_cap - owed, params.global_borrow_cap - res.total_borrowed, res.cash))


def _pm_spendable(v: Valuer, acct: Account, token: Token) -> int:
    """Under portfolio margin, what an order can use beyond the free balance (wei): the supplied
    balance (withdrawn from the pool on use) and, for a borrowable token, the auto-borrow capacity
    ``min(LTV capacity, cap headroom)`` (Hyperliquid docs 'Portfolio margin')."""
    extra = v.supplied(acct, token.index)
    if v.reg.borrowable(token.index) is not None:
        extra += min(ltv_borrow_capacity(v, acct, token), _borrow_headroom(v, acct, token.index))
    return extra


@view("activeAssetData")
def active_asset_data(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    user = user_of(payload)
    acct = account_or_empty(v, user)
    m = _market(v, payload.get("coin"))
    if isinstance(m, SpotPair):
        px = _mid(v, m.asset) or v.state.prices.spot.get(m.index) or 0
        h = AccountHealth(v, acct)  # a unified balance is its pool's free balance (the engine's check)
        quote_free = max(0, h.free(m.quote.index))
        base_free = max(0, h.free(m.base.index))
        if acct.mode is Mode.PORTFOLIO:
            quote_free += _pm_spendable(v, acct, m.quote)
            base_free += _pm_spendable(v, acct, m.base)
        buy_sz = quote_free * PX_SCALE * 10**m.base.sz_decimals // (px * m.quote.unit) if px else 0
        sell_sz = base_free // 10 ** (m.base.wei_decimals - m.base.sz_decimals)
        return {
            "user": user,
            "coin": m.name,
            "leverage": {"type": "cross", "value": 1},
            "maxTradeSzs": [fmt_units(buy_sz, m.sz_decimals), fmt_units(sell_sz, m.sz_decimals)],
            "availableToTrade": [
                fmt_units(quote_free, m.quote.wei_decimals),
                fmt_units(base_free, m.base.wei_decimals),
            ],
            "markPx": fmt_px(px) if px else "0.0",
        }
    lev = leverage_of(acct, m)
    mark = v.state.prices.mark.get(m.asset)
    buy, sell = _available_perp(v, acct, m) if mark else (0, 0)
    coll = m.collateral
    szs = []
    for side_free, is_buy in ((buy, True), (sell, False)):
        if not mark:
            szs.append("0.0")
            continue
        open_sz = side_free * lev.value * PX_SCALE * 10**m.sz_decimals // (mark * coll.unit)
        pos = acct.positions.get(m.asset)
        closable = abs(pos.szi) if pos is not None and pos.szi and (pos.szi > 0) != is_buy else 0
        szs.append(fmt_units(open_sz + closable, m.sz_decimals))
    leverage: dict[str, Any] = {"type": "cross" if lev.is_cross else "isolated", "value": lev.value}
    pos = acct.positions.get(m.asset)
    if not lev.is_cross and pos is not None:
        leverage["rawUsd"] = fmt_units(pos.raw_usd, coll.wei_decimals)
    return {
        "user": user,
        "coin": m.name,
        "leverage": leverage,
        "maxTradeSzs": szs,
        "availableToTrade": [fmt_units(buy, coll.wei_decimals), fmt_units(sell, coll.wei_decimals)],
        "markPx": fmt_px(mark) if mark else "0.0",
    }


@view("userFees")
def user_fees(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    acct = account_or_empty(v, user_of(payload))
    reg = v.reg
    cfg = reg.config.fees
    master = v.state.accounts.get(acct.master, acct) if acct.master else acct
    volume = v.weighted_volume(master, cfg.volume_window_days, cfg.spot_volume_weight)
    perp = fee_rules.user_fee_rates(fee_rules.fee_tier(reg.perp_fee_tiers, volume))
    spot = fee_rules.user_fee_rates(fee_rules.fee_tier(reg.spot_fee_tiers, volume))
    daily = []
    for day in sorted(master.volume_days):
        p, s = master.volume_days[day]
        daily.append(
            {
                "date": _date(day),
                "userCross": fmt_units(p + s, reg.quote.wei_decimals),
                "userAdd": "0.0",
                "exchange": "0.0",
            }
        )
    return {
        "dailyUserVlm": daily,
        "feeSchedule": {
            "cross": fmt_decimal(reg.perp_fee_tiers[0].taker, 8),
            "add": fmt_decimal(reg.perp_fee_tiers[0].maker, 8),
            "spotCross": fmt_decimal(reg.spot_fee_tiers[0].taker, 8),
            "spotAdd": fmt_decimal(reg.spot_fee_tiers[0].maker, 8),
            "tiers": {
                "vip": [
                    {
                        "ntlCutoff": fmt_decimal(t.min_volume, 2),
                        "cross": fmt_decimal(t.taker, 8),
                        "add": fmt_decimal(t.maker, 8),
                    }
                    for t in reg.perp_fee_tiers
                ]
            },
        },
        "userCrossRate": fmt_decimal(perp.taker, 8),
        "userAddRate": fmt_decimal(perp.maker, 8),
        "userSpotCrossRate": fmt_decimal(spot.taker, 8),
        "userSpotAddRate": fmt_decimal(spot.maker, 8),
        "activeReferralDiscount": "0.0",
        "activeStakingDiscount": None,
    }


# ---------------------------------------------------------------------------- candles
@view("candleSnapshot")
def candle_snapshot(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    req = payload.get("req")
    if not isinstance(req, dict):
        raise InvalidAction("req", "expected {coin, interval, startTime, endTime}")
    m = _market(v, req.get("coin"), "req.coin")
    interval = req.get("interval")
    if not isinstance(interval, str) or interval not in INTERVALS_MS:
        raise InvalidAction("req.interval", f"one of {', '.join(INTERVALS_MS)}")
    step = INTERVALS_MS[interval]
    start, end = req.get("startTime", 0), req.get("endTime")
    if (
        isinstance(start, bool)
        or not isinstance(start, int)
        or (end is not None and (isinstance(end, bool) or not isinstance(end, int)))
    ):
        raise InvalidAction("req.startTime", "startTime and endTime are integer milliseconds")
    candles: dict[int, dict[str, Any]] = {}
    for t in v.state.history.trades.get(m.name, []):
        if t["time"] < start or (end is not None and t["time"] > end):
            continue
        open_t = t["time"] // step * step
        px, sz = Fraction(t["px"]), Fraction(t["sz"])
        c = candles.get(open_t)
        if c is None:
            candles[open_t] = {
                "t": open_t,
                "T": open_t + step - 1,
                "s": m.name,
                "i": interval,
                "o": px,
                "c": px,
                "h": px,
                "l": px,
                "v": sz,
                "n": 1,
            }
        else:
            c["c"], c["h"], c["l"] = px, max(c["h"], px), min(c["l"], px)
            c["v"] += sz
            c["n"] += 1
    out = []
    for open_t in sorted(candles):
        c = candles[open_t]
        out.append({**c, **{k: fmt_decimal(c[k], 8) for k in ("o", "c", "h", "l", "v")}})
    return out


def _date(day: int) -> str:
    """UTC day number -> "YYYY-MM-DD" (the shape of ``userFees.dailyUserVlm``)."""
    import datetime

    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


@view("subAccounts")
def sub_accounts(v: Valuer, payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The master's sub-accounts with their states (SDK ``Info.query_sub_accounts``)."""
    from netclear.views.clearinghouse import clearinghouse_state
    from netclear.views.spot import spot_clearinghouse_state

    master = user_of(payload)
    subs = [a for a in v.state.accounts.values() if a.master == master]
    if not subs:
        return None
    return [
        {
            "name": a.name,
            "subAccountUser": a.address,
            "master": master,
            "clearinghouseState": clearinghouse_state(v, a, ""),
            "spotState": spot_clearinghouse_state(v, a),
        }
        for a in sorted(subs, key=lambda a: a.address)
    ]
