"""The risk lab's entry point: the jobs of a scenario, their run, and ``summary.json``.

``simulate(scenario)`` runs every (path, regime, sizing) on the chosen backend and summarizes them;
the summary carries no time stamp, backend or worker count, so the same scenario and seed give the same
bytes wherever it ran (docs/risk-lab.md "Outputs").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from netclear.sim.backends import Progress, run_jobs
from netclear.sim.metrics import aggregate, comparison
from netclear.sim.paths import build_paths
from netclear.sim.presets import scenario_config
from netclear.sim.runner import Job, PathRun
from netclear.sim.scenario import Scenario

SUMMARY_VERSION = 1


def _distinct(regime: str, sizing: str, sc: Scenario) -> bool:
    """Equal capital changes sizes under portfolio margin only: elsewhere it is the equal-positions run."""
    return not (sizing == "equalCapital" and regime != "portfolioMargin" and "equalPositions" in sc.sizing)


def jobs_for(sc: Scenario) -> list[Job]:
    """Every (path, sizing, regime); with an external market, each also without it (the counterfactual)."""
    variants = (True, False) if sc.evm_lending is not None else (True,)
    return [
        Job(sc, p, r, s, ext)
        for p in range(sc.paths)
        for s in sc.sizing
        for r in sc.compare
        if _distinct(r, s, sc)
        for ext in variants
    ]


def check(sc: Scenario) -> None:
    """Everything that can fail before a run: the preset edits, the price files and coin names."""
    scenario_config(sc.preset, sc.config, gates_open=sc.open_pm_gates)
    build_paths(sc, 0)
    run = PathRun(sc, 0, sc.compare[0], sc.sizing[0])
    if sc.evm_lending is not None:
        from netclear.sim.evm.component import validate

        validate(sc.evm_lending, set(run.reg.token_by_name))


def _regime_block(results: list[dict[str, Any]]) -> dict[str, Any]:
    block = aggregate([r["metrics"] for r in results])
    first = results[0]
    accounts: dict[str, Any] = {}
    for address, info in sorted(first["accounts"].items()):
        hits = sum(1 for r in results if r["accounts"][address]["liquidatedAtMinute"] is not None)
        accounts[address] = {**info, "liquidatedInPaths": hits}
    block["accounts"] = accounts
    digest = hashlib.blake2b(digest_size=16)
    for r in results:
        digest.update(r["stateHash"].encode())
    block["stateDigest"] = digest.hexdigest()
    return block


def external_block(sc: Scenario, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """The EVM market's metrics (means over paths) and what it added on Hyperliquid: the same path run
    without it is the counterfactual (``sim/evm/run.py``)."""
    from netclear.sim.evm.run import evm_block

    return evm_block(pairs)


def summarize(sc: Scenario, results: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    without: dict[tuple[str, str, int], dict[str, Any]] = {}
    for r in results:
        if sc.evm_lending is not None and not r.get("withExternal"):
            without[(r["sizing"], r["regime"], r["path"])] = r
            continue
        by.setdefault(r["sizing"], {}).setdefault(r["regime"], []).append(r)
    for s in sc.sizing:
        for reg in sc.compare:
            if not _distinct(reg, s, sc):
                by.setdefault(s, {})[reg] = by["equalPositions"][reg]
    sizings: dict[str, dict[str, Any]] = {
        s: {str(reg): _regime_block(by[s][reg]) for reg in sc.compare} for s in sc.sizing
    }
    if sc.evm_lending is not None:
        for s in sc.sizing:
            for reg in sc.compare:
                base = s if _distinct(reg, s, sc) else "equalPositions"
                pairs = [(r, without[(base, reg, r["path"])]) for r in by[s][reg]]
                sizings[s][reg]["external"] = external_block(sc, pairs)
    main = "equalPositions" if "equalPositions" in sizings else sc.sizing[0]
    out: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "scenario": sc.name,
        "preset": sc.preset,
        "config": {k: sc.config[k] for k in sorted(sc.config)},
        "seed": sc.seed,
        "paths": sc.paths,
        "horizonMinutes": sc.horizon_minutes,
        "stepSeconds": sc.step_seconds,
        "steps": sc.steps,
        "compare": list(sc.compare),
        "sizing": main,
        "regimes": sizings[main],
        "comparison": comparison(sizings[main]),
    }
    if sc.evm_lending is not None:
        from netclear.sim.evm.run import evm_summary

        out["evm"] = evm_summary(sc, sizings[main])
    if len(sizings) > 1:
        out["bySizing"] = {s: {"regimes": blk, "comparison": comparison(blk)} for s, blk in sizings.items()}
    return out


def summary_bytes(summary: dict[str, Any]) -> bytes:
    return (json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def simulate(
    sc: Scenario,
    backend: str = "local",
    workers: int = 1,
    progress: Progress = None,
    address: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a scenario; returns (summary, per-job results with their time series)."""
    check(sc)
    results = run_jobs(jobs_for(sc), backend, workers, progress, address)
    return summarize(sc, results), results
