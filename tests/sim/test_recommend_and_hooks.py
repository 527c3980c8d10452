"""``recommend`` (Chaos Labs' binary search under a VaR95 bound) and the runner's external-market hook."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netclear.cli.main import app
from netclear.engine import actions as A
from netclear.sim import recommend as rec
from netclear.sim.runner import PathRun
from tests.sim.conftest import small_generated


def test_binary_search_finds_the_most_permissive_value_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With VaR95 = 1000 x value, K = 550 on [0, 1]: 1 fails, 0 passes; bisection 0.5 ok, 0.75 no,
    0.625 no, 0.5625 no, 0.53125 ok, 0.546875 ok -> 0.546875 (within 1/64 below 0.55)."""

    def fake(sc: Any, param: str, value: Any, regime: str, *args: Any) -> dict[str, Any]:
        v = float(Decimal(str(value)))
        return {"value": str(value), "var95": 1000 * v, "lar95": 10 * v, "borrowUsage": v / 2}

    monkeypatch.setattr(rec, "_evaluate", fake)
    out = rec.recommend(
        small_generated(), "portfolio_margin.collateral.HYPE.ltv", Decimal(0), Decimal(1), 550.0
    )
    assert out["current"]["value"] == "0.65"
    assert out["recommended"]["value"] == "0.546875"
    assert out["delta"]["var95"] == pytest.approx(546.875 - 650)
    assert [e["value"] for e in out["evaluations"]][:2] == ["0", "0.5"]
    none = rec.recommend(
        small_generated(), "portfolio_margin.collateral.HYPE.ltv", Decimal("0.2"), Decimal(1), 1.0
    )
    assert none["recommended"] is None and "delta" not in none


def _toml(tmp_path: Path) -> Path:
    text = """
horizon_minutes = 4
paths = 1
compare = ["portfolioMargin", "standard"]
[prices]
BTC = [[0, 100000], [4, 90000]]
HYPE = [[0, 40], [4, 30]]
[[accounts]]
balances = { HYPE = "300", USDC = "2600" }
borrowed = { USDC = "1000" }
positions = [{ coin = "BTC", szi = "0.5", leverage = { type = "cross", value = 20 } }]
[[population]]
kind = "lender"
capital = 1000000
"""
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_recommend_cli_end_to_end_and_bad_input(tmp_path: Path) -> None:
    path = _toml(tmp_path)
    args = ["recommend", str(path), "--param", "portfolio_margin.collateral.HYPE.ltv", "--range", "0.3:0.7"]
    result = CliRunner().invoke(app, [*args, "--max-var95", "1000000", "--iterations", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["recommended"]["value"] == "0.7" and out["current"]["value"] == "0.65"
    for bad, word in (
        (["--range", "0.7:0.3"], "--range"),
        (["--param", "portfolio_margin.collateral.NOPE.ltv"], "NOPE"),
        (["--max-var95", "-1"], "--max-var95"),
    ):
        argv = [*args, "--max-var95", "1000", *bad]
        r = CliRunner().invoke(app, argv)
        assert r.exit_code == 2 and word in r.output and "Traceback" not in r.output


class Inflow:
    """A stand-in external market: each step it bridges 10 USDC to one account through the engine."""

    name = "inflow"

    def __init__(self) -> None:
        self.steps: list[int] = []

    def start(self, run: PathRun) -> None:
        self.user = "0x" + "fe" * 20

    def step(self, run: PathRun, step: int) -> None:
        self.steps.append(step)
        run.apply(A.Deposit(user=self.user, amount=Decimal(10)))

    def result(self, run: PathRun) -> dict[str, Any]:
        acct = run.ex.state.accounts[self.user]
        return {"steps": len(self.steps), "balance": sum(acct.perp_cash.values()) / 10**8}


def test_external_market_hook_runs_each_step_through_the_engine() -> None:
    hook = Inflow()
    sc = small_generated(paths=1, horizon_minutes=5)
    out = PathRun(sc, 0, "standard", "equalPositions", externals=[hook]).run()
    assert hook.steps == [1, 2, 3, 4, 5]
    assert out["external"] == {"inflow": {"steps": 5, "balance": 50.0}}
