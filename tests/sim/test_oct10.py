"""The shipped ``oct-10-2025`` scenario: its generated paths sit inside the published ranges, and it
runs end to end through the engine (a CI-sized cut: one path, a shorter horizon, one-minute steps).

Published figures (docs/risk-lab.md "Calibration"): BTC 116,500 -> 102,700, "> 12 % within 30 minutes"
(Chaos Labs, Aave risk report, Oct 2025); ETH about -20 % (Chaos Labs; -16 % to -20 % across sources);
SOL 185 -> 137, -26 % on Hyperliquid (HyperAnalyzeADL); alts "more than 50-60 % in just a 10 minute
span" (Chaos Labs), -60 % to -80 % for mid and small caps (CoinDesk); meaningful bids only at the 4 % and
10 % bands (Kaiko).
"""

from __future__ import annotations

import numpy as np

from netclear.sim.lab import simulate
from netclear.sim.paths import build_paths
from netclear.sim.scenario import load_scenario

RANGES = {
    "BTC": (0.12, 0.13, 30),
    "ETH": (0.16, 0.20, 30),
    "SOL": (0.26, 0.31, 20),
    "DOGE": (0.5, 0.8, 10),
    "ARB": (0.5, 0.8, 10),
}


def test_generated_drawdowns_match_the_published_ranges() -> None:
    sc = load_scenario("oct-10-2025")
    start = int(sc.generate.crash_start_minute * 60 / sc.step_seconds)  # type: ignore[union-attr]
    for path in range(sc.paths):
        p = build_paths(sc, path)
        for coin, (lo, hi, minutes) in RANGES.items():
            end = start + minutes * 60 // sc.step_seconds
            fair = p.perp[coin]
            drop = 1 - fair[end] / fair[start]
            assert lo - 1e-9 <= drop <= hi + 1e-9, (path, coin, drop)
        # hedges across underlyings fail together: in the crash, BTC's and ETH's step returns move as one
        r = [np.diff(np.log(p.perp[c][start : start + 60])) for c in ("BTC", "ETH")]
        assert np.corrcoef(r[0], r[1])[0, 1] > 0.9
        # depth collapses to 2 % of normal at the bottom and partly recovers by the horizon
        assert p.depth is not None
        assert np.isclose(p.depth.min(), 0.02) and 0.5 < p.depth[-1] < 1
        # partial recovery: BTC ends above its crash low, below its start
        btc = p.perp["BTC"]
        assert btc.min() < btc[-1] < btc[0]


def test_oct_10_runs_end_to_end_with_pm_and_standard_side_by_side() -> None:
    sc = load_scenario("oct-10-2025", paths=1, horizon_minutes=25, step_seconds=60)
    sc = sc.model_copy(update={"sizing": ["equalPositions"]})
    summary, results = simulate(sc)  # conservation is checked at the end of every path
    pm, std = summary["regimes"]["portfolioMargin"], summary["regimes"]["standard"]
    for block in (pm, std):
        assert block["liquidatedNotional"] > 0 and block["accountsLiquidated"] > 0
        assert block["lar95"] == block["liquidatedNotional"]  # one path: its own value
        assert block["openingsRejected"] == 0
    assert "portfolioMargin-standard" in summary["comparison"]
    assert {r["regime"] for r in results} == {"portfolioMargin", "standard"}
