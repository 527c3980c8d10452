"""``clearinghouseState`` per dex (Hyperliquid docs 'Info endpoint: Perpetuals' and the verbatim sample in
'Info endpoint').

Identities reproduced exactly: ``positionValue = |szi| x markPx``; isolated
``marginUsed = rawUsd + szi x markPx``; cross ``marginUsed = positionValue / leverage``;
``marginSummary.accountValue = crossMarginSummary.accountValue + Σ isolated marginUsed``;
``accountValue = totalRawUsd + Σ szi x markPx``; ``unrealizedPnl = szi x (markPx - entryPx)``;
``returnOnEquity = unrealizedPnl / (|szi| x entryPx / leverage)``; ``withdrawable`` per 'Margining'.

Under unified account and portfolio margin the dex's cross summary is the shared pool of its
collateral token (all dexes with that collateral), its positions are this dex's, and portfolio-margin
accounts have no per-position ``liquidationPx`` (Hyperliquid docs 'Portfolio margin': account-level
liquidation).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from netclear.engine.accounting import PoolKey, PositionValue, Valuer, unrealized_pnl
from netclear.engine.availability import withdrawable
from netclear.engine.health import AccountHealth
from netclear.engine.state import Account, Mode
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE, fmt_decimal, fmt_units
from netclear.margin import standard as std_rules
from netclear.views import view
from netclear.views.common import account_or_empty, user_of


def entry_px(pv: PositionValue) -> Fraction:
    pos = pv.position
    return Fraction(pos.entry_ntl, abs(pos.szi) * PX_SCALE) if pos.szi else Fraction(0)


def _liq_px(pv: PositionValue, *, equity: int, maintenance: int, isolated: bool, mode: Mode) -> str | None:
    if mode is Mode.PORTFOLIO:
        return None
    coll = pv.perp.collateral
    unit = coll.unit
    szi = Fraction(pv.position.szi, 10**pv.perp.sz_decimals)
    mark = Fraction(pv.mark, PX_SCALE)
    margin_available = Fraction(equity - maintenance, unit)
    px = std_rules.liquidation_price(
        szi=szi,
        mark_px=mark,
        margin_available=margin_available,
        table=pv.perp.table,
        other_maintenance=Fraction(maintenance - pv.mm, unit),
        equity=Fraction(equity, unit),
    )
    return fmt_decimal(px, PX_DECIMALS) if px is not None else None


def position_json(pv: PositionValue, *, margin_used: int, liquidation_px: str | None) -> dict[str, Any]:
    pos, perp = pv.position, pv.perp
    wd = perp.collateral.wei_decimals
    upnl = unrealized_pnl(pv)
    entry = entry_px(pv)
    size = Fraction(abs(pos.szi), 10**perp.sz_decimals)
    roe = std_rules.return_on_equity(Fraction(upnl, perp.collateral.unit), size, entry, pos.leverage)
    leverage: dict[str, Any] = {"type": "cross" if pos.is_cross else "isolated", "value": pos.leverage}
    if not pos.is_cross:
        leverage["rawUsd"] = fmt_units(pos.raw_usd, wd)
    return {
        "type": "oneWay",
        "position": {
            "coin": perp.name,
            "szi": fmt_units(pos.szi, perp.sz_decimals),
            "leverage": leverage,
            "entryPx": fmt_decimal(entry, PX_DECIMALS),
            "positionValue": fmt_units(pv.abs_ntl, wd),
            "unrealizedPnl": fmt_units(upnl, wd),
            "returnOnEquity": fmt_decimal(roe, 7),
            "liquidationPx": liquidation_px,
            "marginUsed": fmt_units(margin_used, wd),
            "maxLeverage": perp.max_leverage,
            "cumFunding": {
                "allTime": fmt_units(pos.funding_all_time, wd),
                "sinceOpen": fmt_units(pos.funding_since_open, wd),
                "sinceChange": fmt_units(pos.funding_since_change, wd),
            },
        },
    }


def _summary(account_value: int, total_ntl: int, raw_usd: int, margin_used: int, wd: int) -> dict[str, str]:
    return {
        "accountValue": fmt_units(account_value, wd),
        "totalNtlPos": fmt_units(total_ntl, wd),
        "totalRawUsd": fmt_units(raw_usd, wd),
        "totalMarginUsed": fmt_units(margin_used, wd),
    }


def clearinghouse_state(v: Valuer, acct: Account, dex: str = "") -> dict[str, Any]:
    reg = v.reg
    d = reg.dex(dex)
    wd = d.collateral.wei_decimals
    h = AccountHealth(v, acct)
    key = PoolKey.of_token(d.collateral.index) if acct.mode.unified else PoolKey.of_dex(d.name)
    pool = h.pool(key)
    isolated = [iso for iso in h.isolated if iso.value.perp.dex.name == d.name]
    positions: list[dict[str, Any]] = []
    for pv in sorted(pool.positions, key=lambda p: p.perp.asset):
        if pv.perp.dex.name != d.name:
            continue
        liq = _liq_px(pv, equity=pool.account_value, maintenance=pool.mm, isolated=False, mode=acct.mode)
        positions.append(position_json(pv, margin_used=pv.im, liquidation_px=liq))
    iso_margin = iso_ntl = iso_raw = 0
    for iso in sorted(isolated, key=lambda i: i.value.perp.asset):
        pv = iso.value
        liq = _liq_px(pv, equity=iso.margin_used, maintenance=pv.mm, isolated=True, mode=acct.mode)
        positions.append(position_json(pv, margin_used=iso.margin_used, liquidation_px=liq))
        iso_margin += iso.margin_used
        iso_ntl += pv.abs_ntl
        iso_raw += pv.position.raw_usd
    positions.sort(key=lambda p: reg.perp(p["position"]["coin"]).asset)
    if acct.mode.unified:
        w = withdrawable(v, acct, d.collateral, health=h)
    else:
        w = std_rules.withdrawable(pool.account_value, h.transfer_requirement(key))
    return {
        "assetPositions": positions,
        "marginSummary": _summary(
            pool.account_value + iso_margin,
            pool.total_ntl + iso_ntl,
            pool.cash + iso_raw,
            pool.im + iso_margin,
            wd,
        ),
        "crossMarginSummary": _summary(pool.account_value, pool.total_ntl, pool.cash, pool.im, wd),
        "crossMaintenanceMarginUsed": fmt_units(pool.mm, wd),
        "withdrawable": fmt_units(w, wd),
        "time": v.state.time_ms,
    }


@view("clearinghouseState")
def clearinghouse_view(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    acct = account_or_empty(v, user_of(payload))
    return clearinghouse_state(v, acct, payload.get("dex", "") or "")
