"""The EVM lending pool and its oracle feed, against hand computations from Aave v3's formulas.

Sources: aave-v3-core v3.0.2 ``GenericLogic`` (HF = collateral x LT / debt), ``LiquidationLogic``
(close factor 50%, 100% below HF 0.95; collateral = debt x price_debt / price_coll x bonus, or all the
collateral and debt = collateral x price / bonus), ``DefaultReserveInterestRateStrategy`` (two slopes)
and ``MathUtils`` (linear supply index, three-term compounded borrow index). Parameters are HypurrFi's
mainnet WHYPE reserve (LTV 30%, LT 45%, bonus 8%: lastdotnet/hypurrfi-deployments,
script/input/999/assets/WHYPE.json) and HyperLend's stable rate strategy (80%, 0, 4%, 75%).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from netclear.engine.state import ExchangeState
from netclear.markets.registry import Registry
from netclear.sim.evm.component import reserve_config
from netclear.sim.evm.market import TREASURY, LendingError, LendingPool
from netclear.sim.evm.oracle import Feed
from netclear.sim.evm.spec import DEFAULT_RESERVES, EvmLendingSpec
from netclear.sim.evm.wad import RAY, SECONDS_PER_YEAR, WAD
from netclear.sim.presets import scenario_config

HYPE = 10**18
USDC = 10**6
USD = 10**8  # oracle unit


def pool(**over: Decimal) -> LendingPool:
    reserves = dict(DEFAULT_RESERVES)
    if over:
        reserves["HYPE"] = reserves["HYPE"].model_copy(update=over)
    p = LendingPool({t: reserve_config(t, s) for t, s in reserves.items()})
    p.prices = {"HYPE": 40 * USD, "UBTC": 100_000 * USD, "USDC": 1 * USD}
    p.bridge_in("lender", "USDC", 100_000 * USDC)
    p.supply("lender", "USDC", 100_000 * USDC)
    p.bridge_in("bob", "HYPE", 1000 * HYPE)
    p.supply("bob", "HYPE", 1000 * HYPE)
    p.borrow("bob", "USDC", 15_000 * USDC, check_ltv=False)
    p.bridge_in("liq", "USDC", 50_000 * USDC)
    assert p.conservation() == []
    return p


def test_health_factor_is_collateral_times_threshold_over_debt() -> None:
    p = pool()
    # 1000 HYPE x 40 x 0.45 / 15,000 = 1.2; at 33: 33,000 x 0.45 / 15,000 = 0.99 exactly
    assert p.account("bob").health_factor == 12 * WAD // 10
    p.prices["HYPE"] = 33 * USD
    assert p.account("bob").health_factor == 99 * WAD // 100
    p.prices["HYPE"] = 34 * USD
    with pytest.raises(LendingError, match="not below 1"):
        p.liquidation_call("liq", "HYPE", "USDC", "bob", 10**12)


def test_liquidation_at_hf_099_repays_half_and_pays_the_8pct_bonus() -> None:
    p = pool()
    p.prices["HYPE"] = 33 * USD
    res = p.liquidation_call("liq", "HYPE", "USDC", "bob", 50_000 * USDC)
    assert res.close_factor == 5000
    assert res.debt_repaid == 7500 * USDC
    # 7500 USDC / 33 = 227.272727272727272727 HYPE (floored to wei), x 1.08 rounded half up
    base = 7500 * USDC * USD * HYPE // (33 * USD * USDC)
    assert base == 227_272_727_272_727_272_727
    assert res.collateral_seized == (base * 10800 + 5000) // 10000 == 245_454_545_454_545_454_545
    assert p.wallet_of("liq", "HYPE") == res.collateral_seized
    assert p.wallet_of("liq", "USDC") == 42_500 * USDC
    assert p.debt_of("bob", "USDC") == 7500 * USDC
    assert p.balance_of("bob", "HYPE") == 1000 * HYPE - res.collateral_seized
    assert p.conservation() == []


def test_below_hf_095_the_whole_debt_can_go() -> None:
    p = pool()
    p.prices["HYPE"] = Decimal("31.5").scaleb(8).__int__()  # HF = 31,500 x 0.45 / 15,000 = 0.945
    res = p.liquidation_call("liq", "HYPE", "USDC", "bob", 50_000 * USDC)
    assert res.close_factor == 10000 and res.debt_repaid == 15_000 * USDC
    assert p.debt_of("bob", "USDC") == 0
    # 15,000 / 31.5 x 1.08 = 514.285714... HYPE
    assert (
        res.collateral_seized
        == ((15_000 * USDC * USD * HYPE // (3_150_000_000 * USDC)) * 10800 + 5000) // 10000
    )


def test_not_enough_collateral_leaves_bad_debt() -> None:
    """At 15: 15,000 x 1.08 / 15 = 1080 HYPE > 1000 held, so all 1000 go for 1000 x 15 / 1.08 USDC."""
    p = pool()
    p.prices["HYPE"] = 15 * USD
    res = p.liquidation_call("liq", "HYPE", "USDC", "bob", 50_000 * USDC)
    assert res.collateral_seized == 1000 * HYPE
    assert res.debt_repaid == (15_000 * USDC * 10000 + 5400) // 10800 == 13_888_888_889
    assert p.balance_of("bob", "HYPE") == 0
    left = p.account("bob")
    assert left.collateral == 0 and left.debt == (15_000 * USDC - res.debt_repaid) * USD // USDC
    assert p.conservation() == []


def test_liquidator_capital_limits_the_repayment() -> None:
    p = pool()
    p.prices["HYPE"] = 33 * USD
    p.bridge_out("liq", "USDC", 48_000 * USDC)
    res = p.liquidation_call("liq", "HYPE", "USDC", "bob", p.wallet_of("liq", "USDC"))
    assert res.debt_repaid == 2000 * USDC
    assert p.wallet_of("liq", "USDC") == 0


def test_protocol_fee_takes_its_share_of_the_bonus_for_the_treasury() -> None:
    p = pool(liquidation_protocol_fee=Decimal("0.1"))
    p.prices["HYPE"] = 33 * USD
    res = p.liquidation_call("liq", "HYPE", "USDC", "bob", 50_000 * USDC)
    total = 245_454_545_454_545_454_545
    bonus = total - (total * 10000 + 5400) // 10800
    assert res.protocol_fee == (bonus * 1000 + 5000) // 10000
    assert res.collateral_seized == total - res.protocol_fee
    assert p.balance_of(TREASURY, "HYPE") == res.protocol_fee
    assert p.conservation() == []


def test_borrow_rate_curve_and_one_year_of_interest() -> None:
    p = pool()
    # utilization 15% < 80%: rate = 4% x 0.15 / 0.8 = 0.75%; suppliers get 0.75% x 0.15 x (1 - 20%)
    r = p.data["USDC"]
    assert r.borrow_rate == 75 * RAY // 10_000
    assert r.liquidity_rate == 9 * RAY // 10_000
    p.now = SECONDS_PER_YEAR
    # the borrow index is MathUtils' expansion of (1 + x/n)^n: 1 + x + x^2/2 (1 - 1/n) + x^3/6 (...);
    # at 0.75% the per-second cube (x/n)^3 x n^2 is below one ray unit, so the contract's third term is 0
    x, n = 0.0075, SECONDS_PER_YEAR
    assert p.normalized_debt("USDC") == pytest.approx((1 + x + x * x / 2 * (1 - 1 / n)) * RAY, rel=1e-12)
    assert p.normalized_debt("USDC") == pytest.approx(float(np.exp(x)) * RAY, rel=1e-7)
    assert p.normalized_income("USDC") == RAY + 9 * RAY // 10_000  # linear: 1.0009
    p.update_state("USDC")
    interest = p.debt_of("bob", "USDC") - 15_000 * USDC
    assert interest == pytest.approx(15_000 * USDC * (x + x * x / 2), abs=2)
    treasury = p.data["USDC"].accrued_to_treasury * p.data["USDC"].liquidity_index // RAY
    assert treasury == pytest.approx(interest * 0.2, abs=2)
    # above the kink: 90% utilization -> 4% + 75% x (0.9 - 0.8) / 0.2 = 41.5%
    assert p.reserves["USDC"].curve.borrow_rate(9 * RAY // 10) == 415 * RAY // 1000


def test_ltv_cap_and_health_checks_on_new_borrows() -> None:
    p = pool()
    p.bridge_in("carol", "HYPE", 100 * HYPE)
    p.supply("carol", "HYPE", 100 * HYPE)
    with pytest.raises(LendingError, match="LTV"):  # 100 x 40 x 30% = 1200 USDC at most
        p.borrow("carol", "USDC", 1201 * USDC)
    p.borrow("carol", "USDC", 1200 * USDC)
    capped = pool(supply_cap=Decimal(1500))
    capped.bridge_in("dave", "HYPE", 600 * HYPE)
    with pytest.raises(LendingError) as exc:
        capped.supply("dave", "HYPE", 600 * HYPE)
    assert exc.value.field == "reserves.HYPE.supply_cap"
    assert capped.conservation() == []


def test_conservation_detects_a_token_created_outside_the_rules() -> None:
    p = pool()
    p.wallet["bob"]["USDC"] += 1
    assert p.conservation() == ["USDC underlying"]
    p.wallet["bob"]["USDC"] -= 1
    p.debt["bob"]["USDC"] -= 1
    assert p.conservation() == ["USDC debt-token supply"]


def test_feed_publishes_on_deviation_heartbeat_and_with_lag() -> None:
    reg = Registry.from_config(scenario_config("hyperliquid", {}, gates_open=True))
    asset = reg.perp("HYPE").asset
    state = ExchangeState()
    prices = state.prices
    feed = Feed("HYPE", "oracle", lag_steps=1, deviation_bps=50, heartbeat_s=3600)
    published = []
    for t, px in enumerate([40.0, 40.1, 39.0, 38.9, 38.9, 38.9]):
        prices.oracle[asset] = int(px * 10**8)
        if feed.observe(reg, state, t * 60):
            published.append((t, feed.answer))
    # t0: first answer 40; t1 reads 40 (lagged); t2 reads 40.1 (0.25% < 0.5%: no); t3 reads 39 (-2.5%: yes)
    # t4 reads 38.9 (-0.26%: no); t5 reads 38.9 (no, and the heartbeat has not elapsed)
    assert published == [(0, 40 * 10**8), (3, 39 * 10**8)]
    feed.observe(reg, state, 3 * 60 + 3600)
    assert feed.answer == int(38.9 * 10**8) and feed.updated_at == 3 * 60 + 3600


def test_partial_reserve_table_edits_the_defaults_key_by_key() -> None:
    spec = EvmLendingSpec.model_validate(
        {"reserves": {"HYPE": {"liquidation_threshold": "0.6", "ltv": "0.5"}}}
    )
    hype = spec.effective_reserves()["HYPE"]
    assert hype.liquidation_threshold == Decimal("0.6") and hype.liquidation_bonus == Decimal("1.08")
    assert hype.decimals == 18
