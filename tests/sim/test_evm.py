"""Issue 16: the HyperEVM lending market hooked into the risk lab.

Hand-computed case: one EVM borrower with 1000 HYPE and 25,000 USDC of debt; liquidation threshold 0.75,
bonus 10%, close factor 50% (100% below health 0.95; Aave v3, aave-dao/aave-v3-origin
``LiquidationLogic.sol``); interest off. Health = 1000 x P x 0.75 / 25,000 = 0.03 P. HYPE falls 40 -> 30
linearly over 10 minutes, P(m) = 40 - m: health 1.02 at minute 6, 0.99 at minute 7 -> liquidated at
minute 7 with the 50% close factor: 12,500 USDC repaid, 12,500 x 1.1 / 33 = 416.66666666 HYPE seized
(wei floor); afterwards health is 583.33 x P x 0.75 / 12,500 = 0.035 P >= 1.05 for P >= 30. With a 2-step
delay the liquidator's sale reaches Hyperliquid's HYPE spot book at minute 9.
"""

from __future__ import annotations

from typing import Any

import pytest

from netclear.sim.evm import EvmConservationError, EvmMarket
from netclear.sim.lab import simulate
from netclear.sim.runner import PathRun
from netclear.sim.scenario import load_scenario, parse_scenario

BORROWER = "0x" + "b7" * 20


def _scenario(**evm: Any) -> Any:
    spec: dict[str, Any] = {
        "rate_slope1": 0,
        "collateral": {"HYPE": {"ltv": 0.6, "liquidation_threshold": 0.75, "liquidation_bonus": 0.1}},
        "borrowers": [{"address": BORROWER, "collateral": {"HYPE": "1000"}, "debt": "25000"}],
        "liquidators": {"count": 1, "capital": 1_000_000, "delay_steps": 2},
    }
    spec.update(evm)
    return parse_scenario(
        {
            "name": "evm-hand",
            "horizon_minutes": 10,
            "compare": ["standard"],
            "marks": "oracle",
            "prices": {"HYPE": [[0, 40], [10, 30]]},
            "evm": spec,
        }
    )


def test_borrower_liquidated_at_the_hand_computed_step_and_sale_reaches_the_book_after_the_delay() -> None:
    sc = _scenario()
    market = EvmMarket(sc.evm, sc.seed, 0)
    run = PathRun(sc, 0, "standard", "equalPositions", [market])
    out = run.run()
    # after it: 583.33333334 HYPE against 12,500 USDC, health 0.035 P >= 1.05 down to P = 30: no more
    assert [x["step"] for x in market.liquidations] == [7]
    first = market.liquidations[0]
    assert first["borrower"] == BORROWER and first["closeFactor"] == 0.5
    assert first["repaid"] == 12_500 * 10**8
    assert first["seized"] == 41_666_666_666  # 416.66666666 HYPE in 1e-8 wei
    # the first sale hits Hyperliquid's HYPE spot book (@107) at minute 9, not before
    liq = market.liquidators[0].address
    fills = run.ex.state.history.fills.get(liq, [])
    minutes = sorted({(f["time"] - sc.start_ms) // 60_000 for f in fills})
    assert minutes[0] == 9 and all(f["coin"] == "@107" and f["side"] == "A" for f in fills)
    assert out["external"]["evmLending"]["liquidations"] == 1


def test_full_close_below_health_095() -> None:
    """A HYPE gap from 40 straight to 30 at minute 1: health 0.9 < 0.95, so the whole debt may be repaid:
    25,000 x 1.1 / 30 = 916.66666666 HYPE seized, leaving 83.33333334 HYPE and no debt."""
    sc = parse_scenario(
        {**_scenario().model_dump(exclude={"base_dir"}), "prices": {"HYPE": [[0, 40], [1, 30], [10, 30]]}}
    )
    market = EvmMarket(sc.evm, sc.seed, 0)
    PathRun(sc, 0, "standard", "equalPositions", [market]).run()
    first = market.liquidations[0]
    assert first["step"] == 1 and first["closeFactor"] == 1.0
    assert first["repaid"] == 25_000 * 10**8 and first["seized"] == 91_666_666_666
    b = market.borrowers[0]
    assert market.debt(b) == 0 and b.collateral == {150: 8_333_333_334}


def test_conservation_of_the_lending_market_is_checked() -> None:
    sc = _scenario()
    market = EvmMarket(sc.evm, sc.seed, 0)
    run = PathRun(sc, 0, "standard", "equalPositions", [market])
    run.setup()
    market.borrowers[0].collateral[150] += 1  # one wei of HYPE from nowhere
    with pytest.raises(EvmConservationError):
        market.check()


def test_shipped_example_reports_the_counterfactual() -> None:
    sc = load_scenario("oct-10-2025-with-evm-lending", paths=1, horizon_minutes=25, step_seconds=60)
    summary, results = simulate(sc)
    assert {r["withExternal"] for r in results} == {True, False}  # each path also without the market
    for regime in ("portfolioMargin", "standard"):
        ext = summary["regimes"][regime]["external"]
        assert ext["liquidations"] > 0 and ext["collateralSeizedUsd"] > 0
        extra = ext["extraOnHyperliquid"]
        assert set(extra) >= {
            "liquidatedNotional",
            "accountsLiquidated",
            "insolvency",
            "bookLowHYPE",
            "markLowHYPE",
        }
        # the liquidators' sales push Hyperliquid's HYPE spot book lower than it went without them
        assert extra["bookLowHYPE"] > 0


def test_bad_evm_keys_are_reported_before_running() -> None:
    import pickle

    from netclear.errors import ConfigError
    from netclear.sim.lab import check
    from netclear.sim.runner import SimulationError

    with pytest.raises(ConfigError) as exc:
        check(_scenario(collateral={"FOO": {}}))
    assert exc.value.field == "evm.collateral.FOO"
    with pytest.raises(ConfigError) as exc2:
        check(_scenario(borrowers=[{"count": 3, "token": "UBTC"}]))
    assert exc2.value.field == "evm.borrowers[0].token"
    with pytest.raises(ConfigError) as exc3:
        parse_scenario(
            {
                **_scenario().model_dump(exclude={"base_dir", "evm"}),
                "evm": {"collateral": {"HYPE": {"ltv": 0.9, "liquidation_threshold": 0.8}}},
            }
        )
    assert exc3.value.field.endswith("evm.collateral.HYPE") and "ltv must not exceed" in exc3.value.rule
    # errors raised in a worker process come back whole
    err = pickle.loads(pickle.dumps(SimulationError("conservation", "x")))
    assert (err.field, err.rule) == ("conservation", "x")
    err2 = pickle.loads(pickle.dumps(EvmConservationError("evm.conservation", "y")))
    assert (err2.field, err2.rule) == ("evm.conservation", "y")


def test_one_fund_liquidated_on_both_sides() -> None:
    """The borrower's address also holds a Hyperliquid account long 100 HYPE perp at 10x from 1000 USDC
    (entry 40.02, the maker's 5 bps ask; fee 0.045% of 4002: 1.8009 USDC): maintenance is 1/20 of notional
    (HYPE's 10x), so it goes when 998.1991 + 100 (P - 40.02) < 5 P, P < 3003.8009 / 95 = 31.62: minute 9
    (P = 31; 32 at minute 8); the EVM side at minute 7."""
    data = _scenario().model_dump(exclude={"base_dir"})
    data["accounts"] = [
        {
            "address": BORROWER,
            "balances": {"USDC": "1000"},
            "positions": [{"coin": "HYPE", "szi": "100", "leverage": {"type": "cross", "value": 10}}],
        }
    ]
    sc = parse_scenario(data)
    out = PathRun(sc, 0, "standard", "equalPositions", [EvmMarket(sc.evm, sc.seed, 0)]).run()
    assert out["accounts"][BORROWER]["liquidatedAtMinute"] == 9.0
    assert out["external"]["evmLending"]["firstLiquidationMinute"] == 7.0
    assert out["external"]["evmLending"]["liquidatedOnBothSides"] == [BORROWER]
