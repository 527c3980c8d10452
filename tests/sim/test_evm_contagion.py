"""The EVM lending market hooked into the runner (issue 16 "What it must show").

Hand case: one HyperEVM borrower posts 1000 HYPE and owes 15,000 USDC in a market with HypurrFi's WHYPE
parameters (liquidation threshold 45%, bonus 8%: lastdotnet/hypurrfi-deployments,
script/input/999/assets/WHYPE.json) and the USDC rate curve set to zero (so no interest moves the
numbers). HYPE falls 40 -> 28 linearly over 12 minutes (one step a minute, marks pinned to the oracle),
so HF = 1000 x P x 0.45 / 15,000 = 0.03 P: 1.02 at minute 6 (P = 34), 0.99 at minute 7 (P = 33). At
step 7 the liquidator repays half the debt (Aave v3 close factor 50% since 0.95 < HF < 1) and receives
7500 / 33 x 1.08 = 245.4545... HYPE; with a 120 s delay its sale reaches Hyperliquid's HYPE spot book at
step 9 (7 + 120 s / 60 s), where it sells the 245.45 HYPE that fit the spot lot size (2 decimals).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from netclear.sim.evm.component import EvmLending
from netclear.sim.evm.market import LendingPool
from netclear.sim.lab import simulate, summarize, summary_bytes
from netclear.sim.report import write_outputs
from netclear.sim.runner import Job, PathRun, SimulationError, run_job
from netclear.sim.scenario import Scenario, load_scenario, parse_scenario

BORROWER = "0x00000000000000000000000000000000000000e1"
FUND = "0x00000000000000000000000000000000000000a1"


def hand(**evm: Any) -> Scenario:
    spec: dict[str, Any] = {
        "usdc_supply": "100000",
        "reserves": {"USDC": {"rates": {"slope1": "0", "slope2": "0"}}},
        "accounts": [{"address": BORROWER, "collateral": {"HYPE": "1000"}, "debt": {"USDC": "15000"}}],
        "liquidators": [{"capital": "100000", "delay_seconds": 120, "hl_margin": "0"}],
    }
    spec.update(evm)
    return parse_scenario(
        {
            "name": "evm-hand",
            "horizon_minutes": 12,
            "step_seconds": 60,
            "compare": ["portfolioMargin", "standard"],
            "marks": "oracle",
            "prices": {"BTC": [[0, 100000], [12, 100000]], "HYPE": [[0, 40], [12, 28]]},
            "evm_lending": spec,
        }
    )


def test_borrower_liquidated_at_the_step_hf_crosses_1_and_sale_reaches_the_book_after_the_delay() -> None:
    sc = hand()
    evm = EvmLending(sc.evm_lending)  # type: ignore[arg-type]
    run = PathRun(sc, 0, "portfolioMargin", "equalPositions", externals=[evm])
    out = run.run()
    liqs = [e for e in evm.events if e["kind"] == "liquidation"]
    assert len(liqs) == 1
    liq = liqs[0]
    assert liq["step"] == 7 and liq["user"] == BORROWER
    assert liq["healthFactor"] == pytest.approx(0.99)
    assert liq["closeFactor"] == 0.5
    assert liq["repaid"] == 7500 * 10**6
    assert liq["seized"] == ((7500 * 10**18 // 33) * 10800 + 5000) // 10000 == 245_454_545_454_545_454_545
    # the sale: nothing of it on Hyperliquid before step 9, all 245.45 HYPE sold on the spot pair at step 9
    address = liq["liquidator"]
    fills = run.ex.state.history.fills[address]
    assert {f["time"] for f in fills} == {sc.start_ms + 9 * 60_000}
    assert all(f["coin"] == "@107" and f["side"] == "A" for f in fills)
    assert sum(Decimal(f["sz"]) for f in fills) == Decimal("245.45")
    assert [e["step"] for e in evm.events if e["kind"] == "sale"] == [9]
    # the USDC came back to HyperEVM: the liquidator's EVM cash is its capital - 7500 + the proceeds
    ext = out["external"]["evm"]
    proceeds = ext["hlSold"]["HYPE"]["notional"]
    fees = sum(Decimal(f["fee"]) for f in fills)
    assert evm.pool.wallet_of(address, "USDC") / 10**6 == pytest.approx(
        100_000 - 7500 + proceeds - float(fees), abs=0.01
    )
    assert ext["accounts"][BORROWER]["liquidatedAtMinute"] == 7.0
    assert ext["badDebt"] == 0.0


def test_a_lag_delays_the_liquidation_by_the_feed() -> None:
    """With a 120 s oracle lag the feed publishes 33 (minute 7's price) at minute 9."""
    evm = EvmLending(hand(oracle={"lag_seconds": 120}).evm_lending)  # type: ignore[arg-type]
    PathRun(hand(oracle={"lag_seconds": 120}), 0, "standard", "equalPositions", externals=[evm]).run()
    assert [e["step"] for e in evm.events if e["kind"] == "liquidation"] == [9]


def test_conservation_is_checked_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = LendingPool.conservation

    def spy(self: LendingPool) -> list[str]:
        out = real(self)
        calls.append(out)
        return out

    monkeypatch.setattr(LendingPool, "conservation", spy)
    sc = hand()
    PathRun(sc, 0, "portfolioMargin", "equalPositions", externals=[EvmLending(sc.evm_lending)]).run()  # type: ignore[arg-type]
    assert len(calls) == sc.steps + 1 and all(c == [] for c in calls)


class Counterfeit:
    """Mints one USDC wei into a wallet at step 3, outside the pool's rules."""

    name = "counterfeit"

    def __init__(self, evm: EvmLending) -> None:
        self.evm = evm

    def start(self, run: PathRun) -> None: ...

    def step(self, run: PathRun, step: int) -> None:
        if step == 3:
            self.evm.pool.wallet[BORROWER]["USDC"] += 1

    def result(self, run: PathRun) -> dict[str, Any]:
        return {}


def test_a_broken_identity_stops_the_path_at_the_next_step() -> None:
    sc = hand()
    evm = EvmLending(sc.evm_lending)  # type: ignore[arg-type]
    with pytest.raises(SimulationError) as exc:
        PathRun(sc, 0, "standard", "equalPositions", externals=[evm, Counterfeit(evm)]).run()
    assert exc.value.field == "evm conservation" and "step 4: USDC underlying" in exc.value.rule


def test_the_same_fund_on_both_venues() -> None:
    """The fund ``FUND`` has a portfolio-margin account on Hyperliquid and the EVM borrow: both are
    reported under its address, and ``liquidatedOnBothSides`` names it when both venues liquidate it."""
    base = hand().model_dump()
    base["evm_lending"]["accounts"][0]["address"] = FUND
    # on Hyperliquid: 1000 USDC behind a 100 HYPE perp long at 10x; HYPE -30% loses 1200 > 1000
    base["accounts"] = [
        {
            "address": FUND,
            "balances": {"USDC": "1000"},
            "positions": [{"coin": "HYPE", "szi": "100", "leverage": {"type": "cross", "value": 10}}],
        }
    ]
    sc = parse_scenario(base)
    out = run_job(Job(sc, 0, "portfolioMargin", "equalPositions"))
    assert out["accounts"][FUND]["mode"] == "portfolioMargin"
    assert out["accounts"][FUND]["liquidatedAtMinute"] is not None
    ext = out["external"]["evm"]
    assert ext["accounts"][FUND]["liquidatedAtMinute"] == 7.0
    assert ext["liquidatedOnBothSides"] == [FUND]


def test_bad_evm_keys_name_the_key() -> None:
    from netclear.errors import ConfigError
    from netclear.sim.lab import check

    bad = hand(borrowers=[{"collateral": {"DOGE": 1.0}}])
    with pytest.raises(ConfigError) as exc:
        check(bad)
    assert exc.value.field == "evm_lending.borrowers[0].collateral.DOGE"
    with pytest.raises(ConfigError) as exc2:
        parse_scenario({**hand().model_dump(exclude={"evm_lending"}), "evm_lending": {"close_factr": 0.5}})
    assert "evm_lending.close_factr" in exc2.value.field


def small_shipped() -> Scenario:
    """The shipped example, cut down to run in seconds: one path, 16 minutes, fewer agents."""
    sc = load_scenario("oct-10-2025-with-evm-lending")
    pop = [p.model_dump() for p in sc.population]
    for p in pop:
        p["count"] = {"lender": 3, "directional": 12, "basis": 4}.get(p["kind"], p["count"])
    evm = sc.evm_lending.model_dump()  # type: ignore[union-attr]
    evm["borrowers"][0]["count"] = 40
    evm["borrowers"][0]["health_factor"]["median"] = 1.3
    data = sc.model_dump(exclude={"base_dir"})
    data.update(paths=1, horizon_minutes=16, population=pop, evm_lending=evm)
    data["generate"]["crash_start_minute"] = 2
    return parse_scenario(data)


def test_counterfactual_on_the_shipped_example(tmp_path: Path) -> None:
    sc = small_shipped()
    summary, results = simulate(sc)
    evm = summary["evm"]
    assert set(evm["regimes"]) == {"portfolioMargin", "standard"}
    for regime in ("portfolioMargin", "standard"):
        with_market = next(r for r in results if r["regime"] == regime and r["withExternal"])
        without = next(r for r in results if r["regime"] == regime and not r["withExternal"])
        # the counterfactual is exactly the same path and regime run with no market at all
        plain = run_job(Job(sc.model_copy(update={"evm_lending": None}), 0, regime, "equalPositions"))
        assert without["stateHash"] == plain["stateHash"] != with_market["stateHash"]
        block = summary["regimes"][regime]["external"]
        assert block == evm["regimes"][regime]
        extra = block["extraOnHyperliquid"]
        assert extra["liquidatedNotional"] == pytest.approx(
            with_market["metrics"]["liquidatedNotional"] - plain["metrics"]["liquidatedNotional"], abs=0.01
        )
        # EVM liquidations happened, their collateral went into Hyperliquid's books, and the books show it
        ext = with_market["external"]["evm"]
        assert ext["liquidations"] > 0 and ext["hlSold"]["HYPE"]["notional"] > 0
        assert extra["bookDeclineHYPE"] > 0  # spot sellers swept HYPE/USDC bids
        assert extra["markDeclineHYPE"] > 0  # the perp hedger's shorts moved the HYPE mark
        assert any(row["evm_hlSoldNotional"] > 0 for row in with_market["rows"])
    pm, std = evm["regimes"]["portfolioMargin"], evm["regimes"]["standard"]
    diff = evm["comparison"]["portfolioMargin-standard"]
    assert diff["extra.liquidatedNotional"] == pytest.approx(
        pm["extraOnHyperliquid"]["liquidatedNotional"] - std["extraOnHyperliquid"]["liquidatedNotional"]
    )
    paths = write_outputs(tmp_path, summary, results)
    page = paths[2].read_text()
    assert "External lending market" in page and "extra HL liquidated notional" in page
    assert json.loads(paths[0].read_text())["evm"] == json.loads(json.dumps(summarize(sc, results)["evm"]))


def test_same_seed_same_bytes_and_the_process_pool_agrees(tmp_path: Path) -> None:
    """Generated borrowers and liquidators: the same summary bytes twice, and with two worker processes."""
    sc = hand(
        usdc_supply=None,
        borrowers=[{"count": 30, "health_factor": {"dist": "uniform", "low": "1.05", "high": "1.6"}}],
    )
    s1, r1 = simulate(sc)
    s2, _ = simulate(sc)
    s3, r3 = simulate(sc, workers=2)
    assert summary_bytes(s1) == summary_bytes(s2) == summary_bytes(s3)
    assert [r["stateHash"] for r in r1] == [r["stateHash"] for r in r3]
    # HYPE at 28 from 40 (-30%) liquidates every HYPE borrower below HF 1 / 0.7 = 1.43
    assert s1["evm"]["regimes"]["standard"]["liquidations"] > 0


def test_cli_runs_an_evm_scenario_and_names_a_bad_evm_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netclear.cli.main import app

    good = tmp_path / "good.toml"
    text = """horizon_minutes = 12
compare = ["portfolioMargin", "standard"]
marks = "oracle"
[prices]
BTC = [[0, 100000], [12, 100000]]
HYPE = [[0, 40], [12, 28]]
[evm_lending]
[[evm_lending.accounts]]
collateral = { HYPE = "1000" }
debt = { USDC = "15000" }
"""
    good.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(good), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["evm"]["regimes"]["standard"]["liquidations"] == 1
    assert "External lending market" in (out / "report.html").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('debt = { USDC = "15000" }', 'debt = { USDC = "15000" }\nhealth = 2'))
    out2 = tmp_path / "out2"
    result = CliRunner().invoke(app, ["simulate", str(bad), "--out", str(out2)])
    assert result.exit_code == 2 and "evm_lending.accounts[0].health: unknown key" in result.output
    assert "Traceback" not in result.output and not out2.exists()
    worse = tmp_path / "worse.toml"
    worse.write_text(text.replace('USDC = "15000"', 'USDC = "25000"'))  # HF 0.72 at the start
    result = CliRunner().invoke(app, ["simulate", str(worse), "--out", str(out2)])
    assert result.exit_code == 2 and "evm_lending.accounts[0]" in result.output and not out2.exists()
