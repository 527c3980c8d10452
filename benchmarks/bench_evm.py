"""HyperEVM lending contagion (issue 16): what the EVM market and its counterfactual cost a risk-lab run.

One path of ``oct-10-2025-with-evm-lending`` (portfolio margin, equal positions), in one process: the
counterfactual job (the exchange without the market: the baseline) and the job with the market. Each is
the median of ``--repeat`` runs; the ratio is to the baseline of the same run. The EVM pool's own work
(feeds, health factors of every borrower each step, liquidations, conservation checks) is the ratio minus
one, less the Hyperliquid orders its liquidators add. A scenario with ``[evm_lending]`` runs both jobs
per (path, regime, sizing), so it costs 1 + ratio plain jobs.

Run: ``python benchmarks/bench_evm.py [--repeat 3] [--horizon 60]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from netclear.sim.runner import Job, run_job
from netclear.sim.scenario import Scenario, load_scenario


def timed(sc: Scenario, repeat: int, external: bool) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_job(Job(sc, 0, "portfolioMargin", "equalPositions", external))
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--horizon", type=float, default=60)
    args = ap.parse_args()
    full = load_scenario("oct-10-2025-with-evm-lending", horizon_minutes=args.horizon)
    assert full.evm_lending is not None
    base = timed(full, args.repeat, external=False)
    with_market = timed(full, args.repeat, external=True)
    borrowers = sum(g.count for g in full.evm_lending.borrowers)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{full.steps} steps, {borrowers} EVM borrowers, median of {args.repeat}")
    print(f"exchange alone (the counterfactual job)  {base:7.2f} s  1.00x")
    print(f"with the EVM market                      {with_market:7.2f} s  {with_market / base:.2f}x")
    print(
        f"both jobs of a (path, regime)            {base + with_market:7.2f} s  {1 + with_market / base:.2f}x"
    )


if __name__ == "__main__":
    main()
