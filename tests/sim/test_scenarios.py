"""Scenario files: shipped ones load; every bad key gives one error naming the key and the rule; the
CLI prints one line, exits 2 and writes nothing; candleSnapshot files replay."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netclear.cli.main import app
from netclear.errors import ConfigError
from netclear.sim.paths import build_paths
from netclear.sim.scenario import available_scenarios, load_scenario, parse_scenario

BASE = {"horizon_minutes": 5, "prices": {"BTC": [[0, 100000], [5, 90000]]}}


def _error(data: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        parse_scenario(data, source="s.toml")
    return exc.value


def test_shipped_scenarios_load() -> None:
    assert {"oct-10-2025", "pm-hedge-explicit"} <= set(available_scenarios())
    for name in available_scenarios():
        assert load_scenario(name).horizon_minutes > 0


@pytest.mark.parametrize(
    ("data", "key", "rule"),
    [
        ({**BASE, "horizon_minute": 3}, "s.toml: horizon_minute", "unknown key"),
        ({"prices": BASE["prices"]}, "s.toml: horizon_minutes", "required key is missing"),
        ({**BASE, "compare": ["cross"]}, "s.toml: compare[0]", "Input should be"),
        ({**BASE, "compare": []}, "s.toml: compare", "one or more distinct regimes"),
        ({**BASE, "prices": {"BTC": [[0, 1], [0, 2]]}}, "s.toml: prices", "strictly increasing"),
        ({**BASE, "prices": {"BTC": [[0, -1]]}}, "s.toml: prices", "prices must be positive"),
        ({"horizon_minutes": 5}, "s.toml", "needs [prices], price_files or [generate]"),
        (
            {**BASE, "accounts": [{"balances": {"USDC": "-5"}}]},
            "s.toml: accounts[0].balances",
            "must be positive",
        ),
        ({**BASE, "accounts": [{"address": "0x12"}]}, "s.toml: accounts[0].address", "40-hex-digit"),
        (
            {**BASE, "accounts": [{"positions": [{"coin": "BTC", "szi": "0"}]}]},
            "s.toml: accounts[0].positions[0].szi",
            "must not be zero",
        ),
        ({**BASE, "population": [{"kind": "whale"}]}, "s.toml: population[0].kind", "Input should be"),
        (
            {**BASE, "population": [{"kind": "directional", "leverage": [5, 2]}]},
            "s.toml: population[0].leverage",
            "1 <= low <= high",
        ),
        ({**BASE, "step_seconds": 0}, "s.toml: step_seconds", "greater than or equal to 1"),
        # the wire's number grammar holds in scenario files too (docs/api.md "Numbers"): a hostile
        # exponent is refused before any arithmetic
        (
            {**BASE, "accounts": [{"balances": {"USDC": "1e999999999"}}]},
            "s.toml: accounts[0].balances",
            "not a decimal number",
        ),
        (
            {**BASE, "accounts": [{"positions": [{"coin": "BTC", "szi": "1" * 30}]}]},
            "s.toml: accounts[0].positions[0].szi",
            "at most 19 digits",
        ),
    ],
)
def test_bad_scenario_names_the_key_and_the_rule(data: dict[str, object], key: str, rule: str) -> None:
    err = _error(data)
    assert err.field == key
    assert rule in err.rule


def test_bad_preset_edit_and_unknown_coin_are_reported_before_running() -> None:
    from netclear.sim.lab import check

    with pytest.raises(ConfigError) as exc:
        check(parse_scenario({**BASE, "config": {"portfolio_margin.collateral.DOGE.ltv": "0.5"}}))
    assert exc.value.field == "config.portfolio_margin.collateral.DOGE.ltv"
    with pytest.raises(ConfigError) as exc2:
        check(parse_scenario({**BASE, "config": {"portfolio_margin.collateral.HYPE.ltv": "1.5"}}))
    assert exc2.value.field == "config.portfolio_margin.collateral.HYPE.ltv"
    assert "less than or equal to 1" in exc2.value.rule
    with pytest.raises(ConfigError) as exc3:
        check(parse_scenario({**BASE, "prices": {"NOPE": [[0, 1]]}}))
    assert exc3.value.field == "prices.NOPE"
    with pytest.raises(ConfigError) as exc4:
        check(parse_scenario({**BASE, "accounts": [{"balances": {"USDX": "5"}}]}))
    assert exc4.value.field == "accounts[0].balances.USDX"
    with pytest.raises(ConfigError) as exc5:
        check(parse_scenario({**BASE, "accounts": [{"positions": [{"coin": "ETH", "szi": "1"}]}]}))
    assert exc5.value.field == "accounts[0].positions[0].coin" and "no price path" in exc5.value.rule


def test_cli_bad_file_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("horizon_minutes = 5\nhorizon_minute = 3\n[prices]\nBTC = [[0, 1]]\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "horizon_minute: unknown key" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    broken = tmp_path / "broken.toml"
    broken.write_text("horizon_minutes = \n")
    result = CliRunner().invoke(app, ["simulate", str(broken), "--out", str(out)])
    assert result.exit_code == 2 and "invalid TOML" in result.output and not out.exists()
    result = CliRunner().invoke(app, ["simulate", "no-such-scenario", "--out", str(out)])
    assert result.exit_code == 2 and "unknown scenario" in result.output and not out.exists()
    result = CliRunner().invoke(
        app, ["simulate", "pm-hedge-explicit", "--backend", "spark", "--out", str(out)]
    )
    assert result.exit_code == 2 and "--backend" in result.output and not out.exists()


def test_cli_simulate_writes_summary_series_and_self_contained_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "pm-hedge-explicit", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(result.stdout) == summary
    block = summary["regimes"]["standard"]
    for key in (
        "liquidatedNotional",
        "accountsLiquidated",
        "badDebt",
        "adlNotional",
        "adlExcess",
        "var95",
        "lar95",
        "peakUtilization",
        "cascadeMinutes",
    ):
        assert key in block
    assert block["badDebt"]["total"] == 0.0
    assert block["accounts"]["0x00000000000000000000000000000000000000a1"]["liquidatedAtMinute"] == 6.0
    assert (out / "timeseries.parquet").exists()
    page = (out / "report.html").read_text()
    # plotly's JavaScript is inlined: no script is loaded from anywhere
    assert "<script" in page and not re.search(r"<script[^>]*\bsrc=", page)
    assert "Plotly.newPlot" in page
    listing = CliRunner().invoke(app, ["scenarios"])
    assert "oct-10-2025" in listing.output


def test_candle_snapshot_file_replays_as_a_path(tmp_path: Path) -> None:
    """Candles in the info endpoint's candleSnapshot shape: opens at t, the last close at T + 1 ms."""
    t0 = 1_760_130_000_000
    candles = [
        {
            "t": t0 + i * 60_000,
            "T": t0 + i * 60_000 + 59_999,
            "s": "BTC",
            "i": "1m",
            "o": str(o),
            "c": str(c),
            "h": str(max(o, c)),
            "l": str(min(o, c)),
            "v": "1",
            "n": 1,
        }
        for i, (o, c) in enumerate([(116500, 115000), (115000, 110000), (110000, 104000)])
    ]
    (tmp_path / "btc.json").write_text(json.dumps(candles))
    sc = parse_scenario({"horizon_minutes": 3, "price_files": ["btc.json"]}, base_dir=str(tmp_path))
    p = build_paths(sc, 0)
    assert list(p.oracle["BTC"]) == [116500.0, 115000.0, 110000.0, 104000.0]
    candles[1]["s"] = "ETH"
    (tmp_path / "mixed.json").write_text(json.dumps(candles))
    bad = parse_scenario({"horizon_minutes": 3, "price_files": ["mixed.json"]}, base_dir=str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        build_paths(bad, 0)
    assert exc.value.field == "price_files: mixed.json" and "one coin" in exc.value.rule
