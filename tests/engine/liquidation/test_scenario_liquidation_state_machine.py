"""The liquidation state machine (test_liquidation_state_machine.py, PM trader trading perps) under the
``hyperliquid-scenario-pm`` preset: the portfolio-margin trader is liquidated at the scenario test
(docs/margin-models.md) and the same invariants hold after every step: conservation, no account left
with negative equity unresolved, the waterfall reconciles, reserves solvent, and replay reproduces the
state hash. Modest example counts (the machine is the slow part of the suite)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from hypothesis import HealthCheck, Phase, event, settings

from netclear.engine import pm_model
from netclear.engine.exchange import Exchange
from netclear.errors import NetclearError
from tests.conftest import config_with, open_gates
from tests.engine.liquidation.test_liquidation_state_machine import PmPerpsMachine


def _config() -> Any:
    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        d["fees"]["spot_tiers"][0]["maker"] = "0"

    return config_with("hyperliquid-scenario-pm", mutate=mutate)


SCENARIO_CONFIG = _config()


class ScenarioPmPerpsMachine(PmPerpsMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(SCENARIO_CONFIG)
        assert pm_model.uses_scenario(self.ex.registry)

    def teardown(self) -> None:
        kinds = {r["kind"] for recs in self.ex.state.history.liquidations.values() for r in recs}
        for kind in sorted(kinds):
            event(f"recorded {kind}")
        replay = Exchange(SCENARIO_CONFIG)
        for action, at in self.log:
            with contextlib.suppress(NetclearError):
                replay.apply(action, at=at)
        assert replay.state_hash() == self.ex.state_hash()


ScenarioPmPerpsMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("NETCLEAR_LIQ_SM_EXAMPLES", "12")),
    stateful_step_count=int(os.environ.get("NETCLEAR_LIQ_SM_STEPS", "30")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScenarioLiquidationMachine = ScenarioPmPerpsMachine.TestCase
