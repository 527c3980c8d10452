"""A small generated scenario shared by the determinism and backend tests (seconds to run)."""

from __future__ import annotations

from typing import Any

import pytest

from netclear.sim.scenario import Scenario, parse_scenario


def small_generated(**over: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "small",
        "seed": 11,
        "horizon_minutes": 8,
        "step_seconds": 60,
        "paths": 3,
        "compare": ["portfolioMargin", "standard"],
        "generate": {
            "crash_start_minute": 2,
            "crash_minutes": 4,
            "assets": {
                "BTC": {"start": 100000, "drop": [0.08, 0.12], "basis": [0.0, 0.02]},
                "HYPE": {"start": 40, "drop": [0.2, 0.3], "oracle_lag_steps": 1},
            },
            "depth_floor": 0.05,
        },
        "market_makers": [{"coins": ["BTC", "HYPE"], "level_notional": 50000}],
        "population": [
            {"kind": "backstop", "capital": 100000},
            {"kind": "lender", "count": 2, "capital": 200000},
            {
                "kind": "directional",
                "count": 6,
                "coins": ["BTC", "HYPE"],
                "capital": 5000,
                "leverage": [5, 10],
            },
            {"kind": "basis", "count": 3, "coins": ["BTC", "HYPE"], "capital": 10000, "leverage": [3, 5]},
        ],
    }
    data.update(over)
    return parse_scenario(data)


@pytest.fixture
def small() -> Scenario:
    return small_generated()
