"""Risk-lab metrics: per path (read from the engine's events, records and state) and across paths.

Definitions and sources (docs/risk-lab.md "Metrics"):

* **VaR95** (Gauntlet, https://risk.gauntlet.network/faq): an account is insolvent when its debt exceeds
  its collateral; net insolvent = the sum of ``debt - collateral`` over insolvent accounts; order the
  simulations by it and take the 95th percentile. Ours per path: every loss that landed on someone other
  than the defaulting account (the loss waterfall's vault, PM backstop, reserve buffer, supplier haircut
  and ADL-socialized layers) plus the negative value still left on non-system accounts at the end.
* **LaR95** (same source): the 95th percentile of liquidation volume across the simulations; ours is the
  notional liquidated by every mechanism (market, backstop, PM takeover debt, ADL of the bankrupt side).
* **Expected shortfall 95**: the mean of the path losses at or above VaR95 (Acerbi and Tasche 2002,
  "On the coherence of expected shortfall").
* **ADL excess** (Chitra, "Autodeleveraging: Impossibilities and Optimization", arXiv:2512.01112): the
  haircut of winners' profit beyond what covering the shortfall needed. Ours per ADL: the unrealized
  profit, at the mark before the action, of the positions ADL closed, minus the bankrupt accounts' deficit
  (the ``perpDeficit`` records' ``deficit``), floored at 0.
* **Cascade**: minutes from the first to the last liquidation of a path, and the steps with liquidations.
* **Fire-sale impact**: the largest ``|mark - oracle| / oracle`` over steps and perps.
* **Open interest lost**: ``1 - OI_end / OI_start`` at marks (CoinDesk's Oct 10 2025 measure).
Percentiles use the order statistic (``numpy.quantile(method="inverted_cdf")``), as Gauntlet orders runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MECHANISMS = ("market", "backstop", "pmTakeover", "adl")
BAD_DEBT_POOLS = ("vault", "backstop", "insurance", "lendingReserve", "adlSocialized")


def _r(x: float, places: int = 2) -> float:
    v = round(float(x), places)
    return 0.0 if v == 0 else v


@dataclass
class PathMetrics:
    """Accumulates one path x regime run (filled by the runner)."""

    liquidated_by_mechanism: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MECHANISMS, 0.0))
    liquidated_by_asset: dict[str, float] = field(default_factory=dict)
    liquidated_accounts: dict[str, float] = field(default_factory=dict)
    """address -> minute of its first liquidation."""
    mechanisms_of: dict[str, list[str]] = field(default_factory=dict)
    bad_debt: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BAD_DEBT_POOLS, 0.0))
    adl_notional: float = 0.0
    adl_haircut: float = 0.0
    adl_deficit: float = 0.0
    liquidation_minutes: list[float] = field(default_factory=list)
    peak_utilization: float = 0.0
    peak_borrow_rate: float = 0.0
    fire_sale_impact: float = 0.0
    oi_start: float = 0.0
    oi_end: float = 0.0
    withdraw_failures: dict[str, list[float]] = field(default_factory=dict)
    """lender -> minutes of failed withdrawal attempts."""
    open_rejections: int = 0
    borrow_usage: float = 0.0
    """Gauntlet's Borrow Usage at the start: borrowed / borrowing power over portfolio-margin accounts."""
    residual_negative: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def liquidation(self, user: str, minute: float, mechanism: str, asset: str, notional: float) -> None:
        if notional <= 0:
            return
        self.liquidated_by_mechanism[mechanism] += notional
        self.liquidated_by_asset[asset] = self.liquidated_by_asset.get(asset, 0.0) + notional
        self.account_liquidated(user, minute, mechanism)

    def account_liquidated(self, user: str, minute: float, mechanism: str) -> None:
        self.liquidated_accounts.setdefault(user, minute)
        mechs = self.mechanisms_of.setdefault(user, [])
        if mechanism not in mechs:
            mechs.append(mechanism)
        if not self.liquidation_minutes or self.liquidation_minutes[-1] != minute:
            self.liquidation_minutes.append(minute)

    @property
    def liquidated_total(self) -> float:
        return sum(self.liquidated_by_mechanism.values())

    @property
    def bad_debt_total(self) -> float:
        return sum(self.bad_debt.values())

    @property
    def insolvency(self) -> float:
        """Gauntlet's net insolvent amount for this path (module docstring)."""
        return self.bad_debt_total + self.residual_negative

    @property
    def adl_excess(self) -> float:
        return max(0.0, self.adl_haircut - self.adl_deficit)

    def summary(self) -> dict[str, Any]:
        mins = self.liquidation_minutes
        blocked = {a: (max(m) - min(m)) for a, m in self.withdraw_failures.items()}
        return {
            "liquidatedNotional": _r(self.liquidated_total),
            "liquidatedByMechanism": {k: _r(v) for k, v in self.liquidated_by_mechanism.items()},
            "liquidatedByAsset": {k: _r(v) for k, v in sorted(self.liquidated_by_asset.items())},
            "accountsLiquidated": len(self.liquidated_accounts),
            "badDebt": {**{k: _r(v) for k, v in self.bad_debt.items()}, "total": _r(self.bad_debt_total)},
            "insolvency": _r(self.insolvency),
            "adlNotional": _r(self.adl_notional),
            "adlExcess": _r(self.adl_excess),
            "cascadeMinutes": _r(mins[-1] - mins[0], 4) if mins else 0.0,
            "cascadeSteps": len(mins),
            "peakUtilization": _r(self.peak_utilization, 6),
            "peakBorrowRate": _r(self.peak_borrow_rate, 6),
            "fireSaleImpact": _r(self.fire_sale_impact, 6),
            "openInterestLost": _r(1 - self.oi_end / self.oi_start, 6) if self.oi_start > 0 else 0.0,
            "suppliersUnableToWithdraw": len(self.withdraw_failures),
            "withdrawBlockedMinutes": _r(max(blocked.values()), 4) if blocked else 0.0,
            "openingsRejected": self.open_rejections,
            "borrowUsage": _r(self.borrow_usage, 6),
        }


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    return float(np.quantile(np.asarray(values, dtype=np.float64), q, method="inverted_cdf"))


def expected_shortfall(values: Sequence[float], q: float = 0.95) -> float:
    if not values:
        return 0.0
    var = quantile(values, q)
    tail = [v for v in values if v >= var]
    return float(np.mean(tail))


def _mean(values: Iterable[float]) -> float:
    vals = list(values)
    return float(np.mean(vals)) if vals else 0.0


def aggregate(per_path: list[dict[str, Any]]) -> dict[str, Any]:
    """Across the paths of one regime: means of the per-path metrics, VaR95 / LaR95 / ES95, peaks."""
    losses = [p["insolvency"] for p in per_path]
    liq = [p["liquidatedNotional"] for p in per_path]
    mech = {m: _r(_mean(p["liquidatedByMechanism"][m] for p in per_path)) for m in MECHANISMS}
    assets = sorted({a for p in per_path for a in p["liquidatedByAsset"]})
    pools = {k: _r(_mean(p["badDebt"][k] for p in per_path)) for k in (*BAD_DEBT_POOLS, "total")}
    return {
        "liquidatedNotional": _r(_mean(liq)),
        "liquidatedByMechanism": mech,
        "liquidatedByAsset": {
            a: _r(_mean(p["liquidatedByAsset"].get(a, 0.0) for p in per_path)) for a in assets
        },
        "accountsLiquidated": _r(_mean(p["accountsLiquidated"] for p in per_path)),
        "badDebt": pools,
        "adlNotional": _r(_mean(p["adlNotional"] for p in per_path)),
        "adlExcess": _r(_mean(p["adlExcess"] for p in per_path)),
        "var95": _r(quantile(losses, 0.95)),
        "lar95": _r(quantile(liq, 0.95)),
        "expectedShortfall95": _r(expected_shortfall(losses)),
        "peakUtilization": _r(max(p["peakUtilization"] for p in per_path), 6),
        "peakBorrowRate": _r(max(p["peakBorrowRate"] for p in per_path), 6),
        "cascadeMinutes": _r(_mean(p["cascadeMinutes"] for p in per_path), 4),
        "cascadeMinutesMax": _r(max(p["cascadeMinutes"] for p in per_path), 4),
        "fireSaleImpact": _r(max(p["fireSaleImpact"] for p in per_path), 6),
        "openInterestLost": _r(_mean(p["openInterestLost"] for p in per_path), 6),
        "suppliersUnableToWithdraw": _r(_mean(p["suppliersUnableToWithdraw"] for p in per_path)),
        "withdrawBlockedMinutes": _r(max(p["withdrawBlockedMinutes"] for p in per_path), 4),
        "openingsRejected": _r(_mean(p["openingsRejected"] for p in per_path)),
        "borrowUsage": _r(_mean(p["borrowUsage"] for p in per_path), 6),
    }


def comparison(regimes: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``portfolioMargin - <other>`` for each other regime (the mission's PM vs cross question)."""
    if "portfolioMargin" not in regimes:
        return {}
    pm = regimes["portfolioMargin"]
    out = {}
    for name, other in regimes.items():
        if name == "portfolioMargin":
            continue
        out[f"portfolioMargin-{name}"] = {
            k: _r(pm[k] - other[k])
            for k in ("var95", "lar95", "expectedShortfall95", "liquidatedNotional", "accountsLiquidated")
        } | {"badDebtTotal": _r(pm["badDebt"]["total"] - other["badDebt"]["total"])}
    return out
