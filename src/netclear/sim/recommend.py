"""Parameter recommendations in Chaos Labs' manner: binary-search a preset parameter for the most
permissive value whose simulated VaR95 stays within a bound K.

Chaos Labs sets Aave V3 supply caps by binary search so that simulated protocol loss stays at or below K
(https://governance.aave.com/t/chaos-labs-supply-cap-methodology/12842); Gauntlet reports each change with
its effect on VaR, LaR and Borrow Usage (https://governance.aave.com/t/quarterly-market-risk-review-november-2021/6163).
Higher values are taken as more permissive (an LTV, a cap, a liquidation ratio); VaR95 is assumed not to
fall as the parameter rises, which the evaluations listed in the result let a reader check.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from netclear.errors import ConfigError
from netclear.sim.backends import Progress
from netclear.sim.lab import simulate
from netclear.sim.presets import get_param, scenario_config_data
from netclear.sim.scenario import Scenario


def parse_range(text: str) -> tuple[Decimal, Decimal]:
    try:
        lo_s, hi_s = text.split(":")
        lo, hi = Decimal(lo_s), Decimal(hi_s)
    except (ValueError, InvalidOperation):
        raise ConfigError("--range", f"must be LO:HI with two numbers, got {text!r}") from None
    if not (lo.is_finite() and hi.is_finite()) or lo >= hi:
        raise ConfigError("--range", "LO must be below HI")
    return lo, hi


def current_value(sc: Scenario, param: str) -> Any:
    data = scenario_config_data(sc.preset, sc.config, gates_open=sc.open_pm_gates)
    return get_param(data, param)


def _evaluate(
    sc: Scenario, param: str, value: Any, regime: str, backend: str, workers: int, progress: Progress
) -> dict[str, Any]:
    edited = sc.model_copy(update={"config": {**sc.config, param: value}})
    summary, _ = simulate(edited, backend, workers, progress)
    block = summary["regimes"][regime]
    return {
        "value": str(value),
        "var95": block["var95"],
        "lar95": block["lar95"],
        "borrowUsage": block["borrowUsage"],
    }


def _fmt(x: Decimal, integral: bool) -> Any:
    return int(x) if integral else str(x.normalize())


def recommend(
    sc: Scenario,
    param: str,
    lo: Decimal,
    hi: Decimal,
    max_var95: float,
    *,
    regime: str | None = None,
    iterations: int = 6,
    backend: str = "local",
    workers: int = 1,
    progress: Progress = None,
) -> dict[str, Any]:
    regime = regime or sc.compare[0]
    if regime not in sc.compare:
        raise ConfigError("--regime", f"must be one of the scenario's regimes: {', '.join(sc.compare)}")
    cur = current_value(sc, param)
    integral = lo == lo.to_integral_value() and hi == hi.to_integral_value() and isinstance(cur, int)
    try:
        Decimal(str(cur))
    except InvalidOperation:
        raise ConfigError(f"--param {param}", f"is not a number in the preset ({cur!r})") from None

    def ev(x: Decimal) -> dict[str, Any]:
        return _evaluate(sc, param, _fmt(x, integral), regime, backend, workers, progress)

    evals = [ev(Decimal(str(cur)))]
    current = evals[0]
    best: dict[str, Any] | None = None
    top = ev(hi)
    evals.append(top)
    if top["var95"] <= max_var95:
        best = top
    else:
        bottom = ev(lo)
        evals.append(bottom)
        if bottom["var95"] <= max_var95:
            best = bottom
            a, b = lo, hi
            for _ in range(iterations):
                mid = (a + b) / 2
                if integral:
                    mid = mid.to_integral_value()
                    if mid in (a, b):
                        break
                e = ev(mid)
                evals.append(e)
                if e["var95"] <= max_var95:
                    best, a = e, mid
                else:
                    b = mid
    out: dict[str, Any] = {
        "param": param,
        "regime": regime,
        "maxVar95": max_var95,
        "current": current,
        "recommended": best,
        "evaluations": sorted(evals, key=lambda e: Decimal(e["value"])),
    }
    if best is not None:
        out["delta"] = {k: round(best[k] - current[k], 6) for k in ("var95", "lar95", "borrowUsage")}
    return out
