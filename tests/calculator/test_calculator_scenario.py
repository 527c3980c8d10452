"""The margin calculator's fourth section, ``scenarioMargin`` (docs/margin-calculator.md), and the CLI
column. Figures by hand from the scenario preset (tests/margin/test_scenario.py gives the parameters)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from netclear.calculator import evaluate
from netclear.cli.main import app


def _hype_short(preset: str) -> dict[str, Any]:
    return {
        "preset": preset,
        "mode": "portfolioMargin",
        "prices": {"BTC": "100000", "HYPE": "40"},
        "balances": {"HYPE": "1000"},
        "positions": [
            {"coin": "BTC", "szi": "-0.4", "entryPx": "100000", "leverage": {"type": "cross", "value": 20}}
        ],
    }


def test_scenario_section_of_a_hype_collateralised_short() -> None:
    out = evaluate(_hype_short("hyperliquid-scenario-pm"))
    s = out["scenarioMargin"]
    # HYPE -25% x 40,000 = 10,000; BTC +12% x 40,000 = 4,800; no borrow, no basis
    assert s["maintenanceRequirement"] == "14800"
    assert s["initialMarginRequirement"] == "18500"
    # equity: 1,000 HYPE x 40 + the short's cash leg 40,000 - its value 40,000
    assert s["marginAvailable"] == "40000" and s["excessMargin"] == "25200"
    assert s["worstScenario"] == {"BTC": "+12%", "HYPE": "-25%"}
    assert s["charges"]["scenarioLoss"] == "14800" and s["charges"]["basisCharge"] == "0.0"
    assert s["extremeMoveLoss"] == "29600"  # 50% x 40,000 + 24% x 40,000
    assert s["liquidatable"] is False and out["liquidatable"] is False
    assert out["marginModel"] == "scenario"
    # standard: the BTC pool holds only the short (cash leg 40,000 - value 40,000 = 0) against maintenance
    # 40,000 / 80 = 500 (HYPE is spot, not collateral): excess -500; scenario frees 25,200 + 500
    assert out["standard"]["excessMargin"] == "-500"
    assert out["comparison"]["capitalFreedByScenarioMargin"] == "25700"


def test_hyperliquid_preset_keeps_its_model_and_still_shows_the_scenario_column() -> None:
    out = evaluate(_hype_short("hyperliquid"))
    assert out["marginModel"] == "hyperliquid"
    assert out["scenarioMargin"]["maintenanceRequirement"] == "14800"  # built-in defaults are OKX's
    # Hyperliquid's PMR: 500 maintenance (40,000 / 80) / (0 USDC + 40,000 x 0.825) -- not liquidatable
    assert out["portfolioMargin"]["maintenanceRequirement"] == "500"


def test_scenario_liquidation_in_the_calculator() -> None:
    # HYPE at 20 and BTC at 130,000: equity 20,000 + 40,000 - 52,000 = 8,000; scenario maintenance
    # HYPE 0.25 x 20,000 = 5,000 + BTC 0.12 x 52,000 = 6,240 -> 11,240 > 8,000: liquidatable.
    p = _hype_short("hyperliquid-scenario-pm")
    p["prices"] = {"BTC": "130000", "HYPE": "20", "UBTC": "130000"}
    out = evaluate(p)
    s = out["scenarioMargin"]
    assert s["maintenanceRequirement"] == "11240" and s["marginAvailable"] == "8000"
    assert s["liquidatable"] is True and out["liquidatable"] is True
    # Hyperliquid's PMR on the same book: (650) / (-12,000 + 20,000 x 0.825 = 4,500) = 0.144: not liquidatable
    assert out["portfolioMargin"]["liquidatable"] is False


def test_cli_json_has_the_section_and_bad_input_exits_2(tmp_path: Any) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(_hype_short("hyperliquid-scenario-pm")))
    r = CliRunner().invoke(app, ["margin", str(f), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["scenarioMargin"]["maintenanceRequirement"] == "14800"
    r = CliRunner().invoke(app, ["margin", str(f)])
    assert r.exit_code == 0 and "scenarioMargin" in r.stdout and "HYPE -25%" in r.stdout
    bad = _hype_short("hyperliquid-scenario-pm")
    bad["positions"][0]["coin"] = "NOPE"
    f.write_text(json.dumps(bad))
    r = CliRunner().invoke(app, ["margin", str(f)])
    assert r.exit_code == 2 and "positions[0].coin" in r.output
