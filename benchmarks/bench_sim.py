"""Risk-lab speed (issue 11): a simulation's action rate against the bare engine, and paths per second
with 1 and 2 workers.

* **Simulation vs bare engine**: one path of ``oct-10-2025`` (portfolio margin) through ``PathRun``, every
  action it applies recorded with its time stamp; then the same action sequence replayed on a fresh
  ``Exchange`` with nothing around it. Both reach the same state hash; the ratio is the runner's overhead
  (reading events, snapshots of positions for the metrics, market makers building ladders, records).
* **Scaling**: the same cut of the scenario (``--paths`` paths, both regimes) on the local process pool
  with 1 and with 2 workers; paths/s and the speed-up (wall clock: it needs idle cores, so the load
  average is printed), and CPU seconds per path (the pool's own overhead).
Simulation and replay rates are CPU time of this process, so load from other processes does not bias
their ratio.

Run: ``python benchmarks/bench_sim.py [--paths 4] [--horizon 30]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import time
from typing import Any

from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.errors import NetclearError
from netclear.sim.lab import simulate
from netclear.sim.runner import PathRun
from netclear.sim.scenario import Scenario, load_scenario


class Recording(PathRun):
    """A ``PathRun`` that keeps every action it applied (accepted or rejected) with its time stamp."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log: list[tuple[A.Action, int | None]] = []

    def apply(self, action: A.Action, at: int | None = None) -> Any:
        self.log.append((action, at))
        return super().apply(action, at)


def sim_vs_engine(sc: Scenario, repeats: int = 2) -> dict[str, float]:
    """CPU seconds of this process, best of ``repeats`` for each (other processes' load does not count)."""
    sim_s = bare_s = float("inf")
    n = 0
    for _ in range(repeats):
        run = Recording(sc, 0, "portfolioMargin", "equalPositions")
        t0 = time.process_time()
        run.run()
        sim_s = min(sim_s, time.process_time() - t0)
        ex = Exchange(run.ex.config)
        t0 = time.process_time()
        for action, at in run.log:
            with contextlib.suppress(NetclearError):
                ex.apply(action, at=at)
        bare_s = min(bare_s, time.process_time() - t0)
        assert ex.state_hash() == run.ex.state_hash(), "replay diverged"
        n = len(run.log)
    return {"actions": n, "sim": n / sim_s, "bare": n / bare_s, "ratio": (n / sim_s) / (n / bare_s)}


def scaling(sc: Scenario, repeats: int = 2) -> dict[int, tuple[float, float]]:
    """Per worker count: (paths per wall second, CPU seconds per path over this process and its pool),
    best of ``repeats`` runs alternating 1 and 2 workers (the quietest window of a shared machine)."""
    out: dict[int, tuple[float, float]] = {}
    for _ in range(repeats):
        for workers in (1, 2):
            wall, cpu = time.perf_counter(), _cpu()
            simulate(sc, "local", workers)
            rate, per_path = sc.paths / (time.perf_counter() - wall), (_cpu() - cpu) / sc.paths
            if workers not in out or rate > out[workers][0]:
                out[workers] = (rate, per_path)
    return out


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=4)
    ap.add_argument("--horizon", type=float, default=30)
    args = ap.parse_args()
    sc = load_scenario("oct-10-2025", paths=args.paths, horizon_minutes=args.horizon)
    sc = sc.model_copy(update={"sizing": ["equalPositions"]})
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print(
        f"scenario oct-10-2025 cut: {sc.paths} paths x {sc.steps} steps of {sc.step_seconds} s, regimes {sc.compare}"
    )
    r = sim_vs_engine(sc)
    print(
        f"one path: {r['actions']:.0f} actions; simulation {r['sim']:,.0f} actions/s, bare engine replay "
        f"{r['bare']:,.0f} actions/s, simulation / bare = {r['ratio']:.2f}"
    )
    load = os.getloadavg()[0]
    s = scaling(sc)
    print(
        f"paths/s (wall): 1 worker {s[1][0]:.3f}, 2 workers {s[2][0]:.3f}, speed-up {s[2][0] / s[1][0]:.2f}x; "
        f"CPU s per path: {s[1][1]:.1f} and {s[2][1]:.1f}; load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
