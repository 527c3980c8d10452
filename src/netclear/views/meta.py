"""``meta``, ``spotMeta``, ``perpDexs`` (Hyperliquid docs 'Info endpoint' meta sample, 'Order book' asset ids,
'HIP-3: Builder-deployed perpetuals')."""

from __future__ import annotations

from typing import Any

from netclear.engine.accounting import Valuer
from netclear.fixedpoint import fmt_decimal
from netclear.markets.registry import MarginTable, Perp, Registry
from netclear.views import view


def _table_id(perp: Perp) -> int:
    return perp.table.id


def perp_universe_entry(perp: Perp) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": perp.name,
        "szDecimals": perp.sz_decimals,
        "maxLeverage": perp.max_leverage,
        "marginTableId": _table_id(perp),
    }
    if perp.only_isolated:
        entry["onlyIsolated"] = True
        entry["marginMode"] = perp.margin_mode
    if perp.is_delisted:
        entry["isDelisted"] = True
    return entry


def _bound(text: str) -> str:
    """``meta`` writes tier bounds with a decimal point: ``"0.0"``, ``"3000000.0"``."""
    return text if "." in text else text + ".0"


def _table_json(table: MarginTable) -> dict[str, Any]:
    return {
        "description": table.description,
        "marginTiers": [
            {"lowerBound": _bound(fmt_decimal(t.lower_bound, 2)), "maxLeverage": t.max_leverage}
            for t in table.tiers
        ],
    }


def meta_json(reg: Registry, dex: str) -> dict[str, Any]:
    d = reg.dex(dex)
    perps = reg.perps_by_dex[d.name]
    tables: dict[int, MarginTable] = {}
    for p in perps:
        tables.setdefault(p.table.id, p.table)
    return {
        "universe": [perp_universe_entry(p) for p in perps],
        "marginTables": [[tid, _table_json(tables[tid])] for tid in sorted(tables)],
        "collateralToken": d.collateral.index,
    }


@view("meta")
def meta(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    dex = payload.get("dex", "") or ""
    return meta_json(v.reg, dex)


def spot_meta_json(reg: Registry) -> dict[str, Any]:
    return {
        "universe": [
            {
                "name": pair.name,
                "tokens": [pair.base.index, pair.quote.index],
                "index": pair.index,
                "isCanonical": pair.name == f"{pair.base.name}/{pair.quote.name}",
            }
            for pair in sorted(reg.spot_pairs.values(), key=lambda p: p.index)
        ],
        "tokens": [
            {
                "name": t.name,
                "szDecimals": t.sz_decimals,
                "weiDecimals": t.wei_decimals,
                "index": t.index,
                "tokenId": t.token_id or "0x" + format(t.index, "032x"),
                "isCanonical": True,
                "evmContract": None,
                "fullName": t.full_name,
            }
            for t in sorted(reg.tokens.values(), key=lambda t: t.index)
        ],
    }


@view("spotMeta")
def spot_meta(v: Valuer, payload: dict[str, Any]) -> dict[str, Any]:
    return spot_meta_json(v.reg)


@view("perpDexs")
def perp_dexs(v: Valuer, payload: dict[str, Any]) -> list[Any]:
    out: list[Any] = [None]
    for d in v.reg.dexes[1:]:
        out.append(
            {
                "name": d.name,
                "fullName": d.full_name,
                "deployer": d.deployer,
                "oracleUpdater": None,
                "collateralToken": d.collateral.index,
            }
        )
    return out
