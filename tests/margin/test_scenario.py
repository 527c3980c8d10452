"""Golden tests of the scenario margin model (``margin/scenario.py``), every figure computed by hand from
the ``hyperliquid-scenario-pm`` preset: BTC class "major" shock 12%, extreme 24% at weight 35% (OKX
portfolio-margin parameters; CME SPAN), basis 1%, minimum charge 0.5% of gross; HYPE class "other" shock
25%, extreme 50%, minimum 1%; de-peg 5%; initial = 1.25 x maintenance (Derive 0.8 / 1.0)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from netclear.config import load_preset, parse_config, preset_data
from netclear.errors import ConfigError
from netclear.margin import scenario as sc
from netclear.markets.registry import Registry


@pytest.fixture(scope="module")
def params() -> sc.ScenarioParams:
    reg = Registry.from_config(load_preset("hyperliquid-scenario-pm"))
    assert reg.pm is not None and reg.pm.scenario is not None and reg.pm.model == "scenario"
    return reg.pm.scenario


def test_grid_is_okx_btc_grid() -> None:
    # OKX BTC spot shock +-0/4/8/12%
    assert sc.price_grid(F(12, 100), 7) == [F(x, 100) for x in (-12, -8, -4, 0, 4, 8, 12)]
    with pytest.raises(ValueError):
        sc.price_grid(F(1, 10), 6)


def test_naked_btc_long(params: sc.ScenarioParams) -> None:
    # 1 BTC long at 100,000: worst grid loss at -12% = 12,000; extreme row 0.35 x 24% x 100,000 = 8,400
    # (smaller); minimum 0.5% x 100,000 = 500 (smaller). Maintenance 12,000, initial 15,000.
    r = sc.evaluate([sc.Leg("BTC", "BTC", "perp", F(100_000))], [], params)
    (u,) = r.units
    assert u.grid_loss == 12_000 and u.minimum == 500 and u.worst_move == F(-12, 100)
    assert u.extreme_loss == 24_000
    assert r.basis == 0 and r.concentration == 0 and r.depeg == {}
    assert r.maintenance == 12_000 and r.initial == 15_000
    assert r.worst_scenario() == {"BTC": F(-12, 100)}
    assert sc.fmt_move(u.worst_move) == "-12%"


def test_tiny_position_pays_the_minimum_not_below(params: sc.ScenarioParams) -> None:
    # A tiny naked position: the grid loss (12%) is above the minimum (0.5%), so the requirement is the
    # grid loss. With a custom class whose minimum is above its shock, the minimum binds.
    r = sc.evaluate([sc.Leg("BTC", "BTC", "perp", F(10))], [], params)
    assert r.maintenance == F(12, 10)
    odd = sc.ScenarioParams(
        classes={"x": sc.RiskClass("x", F(1, 100), F(2, 100), F(0), F(5, 100), F(0), F(10**9))},
        unit_class={},
        default_class="x",
        grid_points=7,
        extreme_weight=F(35, 100),
        initial_multiple=F(5, 4),
        depeg={},
    )
    r = sc.evaluate([sc.Leg("Z", "Z", "perp", F(-1000))], [], odd)
    assert r.units[0].grid_loss == 10 and r.maintenance == 50  # max(1% x 1000, 5% x 1000)


def test_perfect_ubtc_btc_short_hedge(params: sc.ScenarioParams) -> None:
    # 1 UBTC (100,000) + BTC perp -1: net 0, so every grid row loses 0; minimum 0.5% x gross 200,000
    # = 1,000; basis 1% x hedged 100,000 = 1,000. Maintenance 2,000.
    legs = [sc.Leg("BTC", "UBTC", "spot", F(100_000)), sc.Leg("BTC", "BTC", "perp", F(-100_000))]
    r = sc.evaluate(legs, [], params)
    (u,) = r.units
    assert u.net == 0 and u.gross == 200_000 and u.grid_loss == 0 and u.worst_move == 0
    assert u.minimum == 1_000 and u.basis == 1_000
    assert r.maintenance == 2_000 and r.minimum_binding == 1_000 and r.initial == 2_500


def test_core_and_builder_dex_perp_are_one_unit(params: sc.ScenarioParams) -> None:
    assert sc.unit_of("xyz:BTC", params.unit_aliases) == "BTC"
    assert sc.unit_of("UBTC", {"UBTC": "BTC"}) == "BTC"
    legs = [sc.Leg("BTC", "BTC", "perp", F(50_000)), sc.Leg("BTC", "xyz:BTC", "perp", F(-50_000))]
    r = sc.evaluate(legs, [], params)
    # minimum 0.5% x 100,000 = 500, basis 1% x 50,000 = 500
    assert r.maintenance == 1_000


def test_hype_collateralised_btc_short_is_not_a_hedge(params: sc.ScenarioParams) -> None:
    # 1,000 HYPE at 40 (40,000) and BTC perp -0.4 at 100,000 (-40,000): two units, no offset.
    # HYPE worst -25%: 10,000 (extreme 0.35 x 50% x 40,000 = 7,000 is smaller; minimum 1% = 400).
    # BTC worst +12%: 4,800. Maintenance 14,800; initial 18,500.
    legs = [sc.Leg("HYPE", "HYPE", "spot", F(40_000)), sc.Leg("BTC", "BTC", "perp", F(-40_000))]
    r = sc.evaluate(legs, [], params)
    units = {u.unit: u for u in r.units}
    assert units["HYPE"].grid_loss == 10_000 and units["HYPE"].worst_move == F(-1, 4)
    assert units["BTC"].grid_loss == 4_800 and units["BTC"].worst_move == F(12, 100)
    assert r.basis == 0 and r.offset_credit == 0
    assert r.maintenance == 14_800 and r.initial == 18_500
    # extreme moves in full: 50% x 40,000 + 24% x 40,000 = 29,600
    assert r.extreme_loss == 29_600


def test_usdc_borrow_under_depeg(params: sc.ScenarioParams) -> None:
    # 1,000 HYPE supplied (40,000) against a 10,000 USDC borrow: HYPE 10,000 + de-peg 5% x 10,000 = 500.
    legs = [sc.Leg("HYPE", "HYPE", "spot", F(40_000))]
    r = sc.evaluate(legs, [sc.StableExposure("USDC", borrowed=F(10_000))], params)
    assert r.depeg == {"USDC": 500}
    assert r.maintenance == 10_500
    # a held stablecoin other than the quote is charged too: 2,000 USDT0 held -> 100
    r = sc.evaluate([], [sc.StableExposure("USDT0", borrowed=F(0), held=F(2_000))], params)
    assert r.maintenance == 100


def test_concentration_add_on(params: sc.ScenarioParams) -> None:
    # 25M BTC long: grid 12% = 3,000,000; net above the 20M depth by 5M at 5% = 250,000.
    r = sc.evaluate([sc.Leg("BTC", "BTC", "perp", F(25_000_000))], [], params)
    assert r.concentration == 250_000 and r.maintenance == 3_250_000


def test_book_depth_on_the_side_a_liquidation_hits(params: sc.ScenarioParams) -> None:
    # net long 1,000,000 BTC against 400,000 of bids: 5% x 600,000 = 30,000; a net short reads the asks
    depth = sc.Depth(bids=F(400_000), asks=F(900_000))
    long_ = sc.evaluate([sc.Leg("BTC", "BTC", "perp", F(1_000_000))], [], params, {"BTC": depth})
    short = sc.evaluate([sc.Leg("BTC", "BTC", "perp", F(-1_000_000))], [], params, {"BTC": depth})
    assert long_.concentration == 30_000 and short.concentration == 5_000
    # a unit with no book has no depth: the whole net exposure is concentrated
    none = sc.evaluate([sc.Leg("ETH", "ETH", "perp", F(100_000))], [], params, {})
    assert none.concentration == 5_000


def test_optional_offset_table(params: sc.ScenarioParams) -> None:
    # BTC long 100,000 (loss 12,000 at -12%) vs ETH short 50,000 (loss 6,000 at +12%): without offsets
    # 18,000; with a 50% BTC/ETH credit: 18,000 - 0.5 x min(12,000, 6,000) = 15,000.
    legs = [sc.Leg("BTC", "BTC", "perp", F(100_000)), sc.Leg("ETH", "ETH", "perp", F(-50_000))]
    assert sc.evaluate(legs, [], params).maintenance == 18_000
    with_offset = sc.ScenarioParams(**{**_fields(params), "offsets": (sc.Offset("BTC", "ETH", F(1, 2)),)})
    r = sc.evaluate(legs, [], with_offset)
    assert r.offset_credit == 3_000 and r.maintenance == 15_000
    # same-direction exposures get no credit
    same = [sc.Leg("BTC", "BTC", "perp", F(100_000)), sc.Leg("ETH", "ETH", "perp", F(50_000))]
    assert sc.evaluate(same, [], with_offset).offset_credit == 0


def _fields(p: sc.ScenarioParams) -> dict[str, object]:
    return {name: getattr(p, name) for name in p.__dataclass_fields__}


def test_liquidatable_and_ratio_scale() -> None:
    assert not sc.liquidatable(F(0), F(-5))
    assert sc.liquidatable(F(100), F(99)) and not sc.liquidatable(F(100), F(100))
    # ratio on Hyperliquid's scale: 0.95 x 100 / 100 = 0.95 exactly at the edge
    assert sc.margin_ratio(F(100), F(100), F(95, 100)) == F(95, 100)
    assert sc.margin_ratio(F(100), F(0), F(95, 100)) >= 10**20


def test_config_errors_name_the_key() -> None:
    data = preset_data("hyperliquid-scenario-pm")
    data["portfolio_margin"]["scenario"]["grid_points"] = 8
    with pytest.raises(ConfigError, match="grid_points"):
        parse_config(data)
    data = preset_data("hyperliquid-scenario-pm")
    data["portfolio_margin"]["scenario"]["depeg"]["NOPE"] = "0.1"
    with pytest.raises(ConfigError, match=r"depeg\.NOPE"):
        parse_config(data)
    data = preset_data("hyperliquid-scenario-pm")
    data["portfolio_margin"]["scenario"]["classes"]["mid"]["units"].append("BTC")
    with pytest.raises(ConfigError, match="BTC"):
        parse_config(data)
    data = preset_data("hyperliquid-scenario-pm")
    data["portfolio_margin"]["scenario"]["classes"]["major"]["shock"] = 0.12
    with pytest.raises(ConfigError, match="shock"):
        parse_config(data)


def test_base_preset_is_inherited() -> None:
    base = load_preset("hyperliquid")
    derived = load_preset("hyperliquid-scenario-pm")
    assert derived.portfolio_margin.borrowable == base.portfolio_margin.borrowable
    assert derived.fees == base.fees
    assert len(derived.perps) == len(base.perps) + 1
    assert base.portfolio_margin.model == "hyperliquid"
