"""The ``evm`` blocks of ``summary.json``: the market's metrics per regime and what it added on Hyperliquid.

Every (path, regime, sizing) job of a scenario with ``[evm_lending]`` runs twice (``lab.jobs_for``): with
the market and, as the counterfactual, without it, on the same path, population and seed. The extra
Hyperliquid effect of the market is the difference of the pair (docs/risk-lab.md "HyperEVM lending"):

* ``markDecline<COIN>`` / ``bookDecline<COIN>``: the largest extra decline, over steps, of the collateral's
  perp mark / spot-book price (``book_<COIN>``: the median of best bid, best ask and last trade),
  ``(without - with) / without``;
* ``liquidatedNotional``, ``accountsLiquidated``, ``badDebt``, ``insolvency``, ``fireSaleImpact``: the
  exchange's metrics with the market minus without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netclear.sim.metrics import quantile

if TYPE_CHECKING:
    from netclear.sim.scenario import Scenario


def _decline(with_rows: list[dict[str, Any]], without: list[dict[str, Any]], key: str) -> float:
    worst = 0.0
    for a, b in zip(with_rows, without, strict=False):
        x, y = a.get(key), b.get(key)
        if x and y:
            worst = max(worst, (y - x) / y)
    return worst


def extra_on_hyperliquid(w: dict[str, Any], wo: dict[str, Any]) -> dict[str, float]:
    """One path: the exchange with the market minus without it."""
    m, c = w["metrics"], wo["metrics"]
    out = {
        "liquidatedNotional": m["liquidatedNotional"] - c["liquidatedNotional"],
        "accountsLiquidated": m["accountsLiquidated"] - c["accountsLiquidated"],
        "badDebt": m["badDebt"]["total"] - c["badDebt"]["total"],
        "insolvency": m["insolvency"] - c["insolvency"],
        "fireSaleImpact": m["fireSaleImpact"] - c["fireSaleImpact"],
    }
    for coin in sorted(set(w["external"]["evm"]["perps"].values())):
        out[f"markDecline{coin}"] = _decline(w["rows"], wo["rows"], f"mark_{coin}")
        out[f"bookDecline{coin}"] = _decline(w["rows"], wo["rows"], f"book_{coin}")
    return out


def _mean(xs: list[float], places: int = 2) -> float:
    return round(sum(xs) / len(xs), places) if xs else 0.0


def evm_block(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Across the paths of one regime: the EVM market's means, its VaR95 (Gauntlet: the 95th percentile
    of the net insolvent amount), and the extra effect on Hyperliquid (means; declines: the worst path)."""
    evs = [w["external"]["evm"] for w, _ in pairs]
    bad = [e["badDebt"] for e in evs]
    tokens = sorted({t for e in evs for t in e["collateralSeizedUsd"]})
    extras = [extra_on_hyperliquid(w, wo) for w, wo in pairs]
    keys = sorted({k for x in extras for k in x})
    block: dict[str, Any] = {
        "liquidations": _mean([e["liquidations"] for e in evs]),
        "accountsLiquidated": _mean([e["accountsLiquidated"] for e in evs]),
        "collateralSeizedUsd": _mean([sum(e["collateralSeizedUsd"].values()) for e in evs]),
        "collateralSeizedUsdByToken": {
            t: _mean([e["collateralSeizedUsd"].get(t, 0.0) for e in evs]) for t in tokens
        },
        "debtRepaidUsd": _mean([e["debtRepaidUsd"] for e in evs]),
        "badDebt": _mean(bad),
        "var95": round(quantile(bad, 0.95), 2),
        "badDebtPeak": round(max(e["badDebtPeak"] for e in evs), 2),
        "peakUtilization": round(max(e["peakUtilization"] for e in evs), 6),
        "soldOnHyperliquid": _mean([sum(v["notional"] for v in e["hlSold"].values()) for e in evs]),
        "openingsRejected": _mean([e["openingsRejected"] for e in evs]),
        "hedgesRejected": _mean([e["hedgesRejected"] for e in evs]),
        "extraOnHyperliquid": {
            k: round(max(x.get(k, 0.0) for x in extras), 6)
            if "Decline" in k
            else _mean([x.get(k, 0.0) for x in extras], 6)
            for k in keys
        },
        "liquidatedNotionalWithout": _mean([wo["metrics"]["liquidatedNotional"] for _, wo in pairs]),
        "liquidatedOnBothSides": sorted({a for e in evs for a in e["liquidatedOnBothSides"]}),
    }
    explicit = sorted({a for e in evs for a in e["accounts"]})
    if explicit:
        block["accounts"] = {
            a: {
                "liquidatedAtMinute": evs[0]["accounts"][a]["liquidatedAtMinute"],
                "liquidatedInPaths": sum(
                    1 for e in evs if e["accounts"][a]["liquidatedAtMinute"] is not None
                ),
            }
            for a in explicit
        }
    return block


COMPARED = ("liquidatedNotional", "accountsLiquidated", "badDebt", "insolvency")


def evm_summary(sc: Scenario, regimes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The top-level ``evm`` section: the market's parameters, each regime's block (also at
    ``regimes.<regime>.external``), and portfolio margin minus each other regime."""
    spec = sc.evm_lending
    assert spec is not None
    blocks = {reg: regimes[reg]["external"] for reg in sc.compare if "external" in regimes.get(reg, {})}
    out: dict[str, Any] = {
        "market": spec.market,
        "oracle": spec.oracle.model_dump(mode="json"),
        "reserves": {t: r.model_dump(mode="json") for t, r in sorted(spec.effective_reserves().items())},
        "regimes": blocks,
    }
    pm = blocks.get("portfolioMargin")
    if pm is not None:
        comp = {}
        for name, other in blocks.items():
            if name != "portfolioMargin":
                d = {k: round(pm[k] - other[k], 6) for k in ("liquidations", "badDebt", "soldOnHyperliquid")}
                d |= {
                    f"extra.{k}": round(pm["extraOnHyperliquid"][k] - other["extraOnHyperliquid"][k], 6)
                    for k in COMPARED
                }
                comp[f"portfolioMargin-{name}"] = d
        out["comparison"] = comp
    return out
