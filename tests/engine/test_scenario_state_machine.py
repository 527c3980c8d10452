"""The clearinghouse state machine (tests/engine/test_state_machine.py) under the
``hyperliquid-scenario-pm`` preset: the same random actions, with portfolio-margin accounts margined by
the scenario model. Conservation, caps, reserve solvency and replay are checked after every step as
there; in place of the PMR recomputation, the scenario maintenance requirement is recomputed in floats
from raw state (docs/margin-models.md) and the ``portfolioMarginRatio`` view must report
``0.95 x maintenance / equity``."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

from netclear import views
from netclear.engine import pm_model
from netclear.engine.exchange import Exchange
from netclear.engine.state import Mode
from netclear.errors import NetclearError
from netclear.lending.rates import INDEX_SCALE
from tests.conftest import config_with, open_gates
from tests.engine.test_state_machine import ClearinghouseMachine


def _config():  # type: ignore[no-untyped-def]
    def mutate(d: dict) -> None:  # type: ignore[type-arg]
        open_gates(d)
        for b in d["portfolio_margin"]["borrowable"]:
            if b["token"] == "USDC":
                b["user_borrow_cap"] = "20000"
                b["global_borrow_cap"] = "50000"
        for c in d["portfolio_margin"]["collateral"]:
            if c["token"] == "HYPE":
                c["user_supply_cap"] = "2000"

    return config_with("hyperliquid-scenario-pm", mutate=mutate)


SCENARIO_CONFIG = _config()


def _float_requirement(ex: Exchange, address: str) -> float:
    """Scenario maintenance from raw fields, in floats (linear legs: worst grid loss = |net| x shock)."""
    reg = ex.registry
    st_ = ex.state
    acct = st_.accounts[address]
    params = pm_model.scenario_params(reg)
    v = ex.valuer()
    own = pm_model.own_pool_tokens(reg)
    inst: dict[str, dict[str, float]] = {}
    for pos in acct.positions.values():
        perp = reg.perps[pos.asset]
        if not pos.is_cross or pos.szi == 0 or perp.collateral.index in own:
            continue
        unit = perp.name.split(":")[-1]
        delta = pos.szi / 10**perp.sz_decimals * st_.prices.mark[pos.asset] / 1e8
        delta *= float(v.token_price(perp.collateral))
        inst.setdefault(unit, {})[perp.name] = inst.get(unit, {}).get(perp.name, 0.0) + delta
    depeg = 0.0
    for t in set(acct.spot) | set(acct.supply_basis) | set(acct.borrow_basis):
        if t in own:
            continue
        tok = reg.tokens[t]
        res = st_.reserves.get(t)
        sup = acct.supply_basis.get(t, 0) * res.supply_index / INDEX_SCALE if res else 0.0
        bor = acct.borrow_basis.get(t, 0) * res.borrow_index / INDEX_SCALE if res else 0.0
        px = float(v.token_price(tok))
        if t == reg.quote.index or tok.name in params.depeg:
            shock = float(params.depeg.get(tok.name, 0))
            held = 0.0 if t == reg.quote.index else max(0.0, (acct.spot.get(t, 0) + sup) / tok.unit * px)
            depeg += shock * (bor / tok.unit * px + held)
            continue
        unit = tok.perp or tok.name
        qty = (acct.spot.get(t, 0) + sup - bor) / tok.unit
        inst.setdefault(unit, {})["spot:" + tok.name] = qty * px
    total = depeg
    for unit, legs in inst.items():
        rc = params.class_of(unit)
        net = sum(legs.values())
        gross = sum(abs(x) for x in legs.values())
        longs = sum(x for x in legs.values() if x > 0)
        shorts = -sum(x for x in legs.values() if x < 0)
        loss = max(abs(net) * float(rc.shock), abs(net) * float(rc.extreme * params.extreme_weight))
        total += max(loss, gross * float(rc.min_charge)) + float(rc.basis) * min(longs, shorts)
        total += float(rc.concentration) * max(0.0, abs(net) - float(rc.depth))
    return total


class ScenarioMachine(ClearinghouseMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(SCENARIO_CONFIG)

    @invariant()
    def pm_ratio_matches_recomputation(self) -> None:
        v = self.ex.valuer()
        for acct in self.ex.state.accounts.values():
            if acct.mode is not Mode.PORTFOLIO or acct.is_system:
                continue
            result, equity = pm_model.scenario_result(v, acct)
            expected = _float_requirement(self.ex, acct.address)
            assert abs(float(result.maintenance) - expected) <= 1e-6 * max(1.0, expected), (
                float(result.maintenance),
                expected,
            )
            assert (
                result.initial
                == result.maintenance * pm_model.scenario_params(self.ex.registry).initial_multiple
            )
            health = pm_model.pm_health(v, acct)
            assert health.liquidatable == (result.maintenance > 0 and equity < result.maintenance)
            view = views.info(self.ex, {"type": "spotClearinghouseState", "user": acct.address})
            if health.ratio < 10**9:
                r = health.ratio
                assert abs(
                    Decimal(view["portfolioMarginRatio"]) - Decimal(r.numerator) / Decimal(r.denominator)
                ) < Decimal("1e-9")

    def teardown(self) -> None:
        replay = Exchange(SCENARIO_CONFIG)
        for action, at in self.log:
            with contextlib.suppress(NetclearError):
                replay.apply(action, at=at)
        assert replay.state_hash() == self.ex.state_hash()


ScenarioMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("NETCLEAR_SM_EXAMPLES", "15")),
    stateful_step_count=int(__import__("os").environ.get("NETCLEAR_SM_STEPS", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScenarioClearinghouse = ScenarioMachine.TestCase
