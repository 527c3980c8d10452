"""AccountHealth: the one owner of an account's margin decisions (netclear.engine.health), on hand-computed
numbers.

Hyperliquid docs 'Margining': initial margin ``|size| x mark / leverage``, transfer margin
``max(initial, 0.1 x total notional)``; 'Margin tiers' / 'Liquidations': maintenance is half the initial
margin at max leverage (BTC: 40x -> 1/80 below 150,000,000 USDC of notional) and a pool is liquidatable when
its equity is below it; 'Account abstraction modes': standard margins each dex apart, unified shares margin
per collateral token across dexes, unified ratio = cross maintenance / available per token; 'Portfolio
margin': PMR = (20 + debt) / (collateral value x 0.75) for the FAQ account, liquidatable above 0.95.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.engine import actions as A
from netclear.engine import pm_model
from netclear.engine.accounting import PoolKey
from netclear.engine.context import Ctx
from netclear.engine.exchange import Exchange
from netclear.engine.health import AccountHealth, HealthCache, fingerprint, pm_liquidation_ratio, pool_key
from netclear.engine.state import Account, Mode, Position
from netclear.engine.tx import Tx
from netclear.fixedpoint import PX_SCALE
from tests.conftest import ALICE, BOB, config_with, fund_lender, open_gates, set_collateral, usdc

BTC = 0  # 5 size decimals, USDC collateral (8 decimals), 40x max leverage: mmr 1/80
MAIN = PoolKey.of_dex("")
USDC_POOL = PoolKey.of_token(0)
HYPE_PERP_NAME = "HYPE"


def _lots(btc: str) -> int:
    return int(D(btc) * 10**5)


def _btc_long(ex: Exchange, acct: Account, size: str, entry: int, leverage: int) -> None:
    lots = _lots(size)
    acct.positions[BTC] = Position(BTC, lots, lots * entry * PX_SCALE, True, leverage)


def _mark(ex: Exchange, asset: int, px: int) -> None:
    ex.state.prices.mark[asset] = px * PX_SCALE
    ex.state.prices.oracle[asset] = px * PX_SCALE


def _standard_account() -> tuple[Exchange, Account]:
    """1,000 USDC on the first dex, long 0.1 BTC bought at 100,000 at 10x: cash 1,000 - 10,000."""
    ex = Exchange("hyperliquid")
    acct = Account(ALICE)
    ex.state.accounts[ALICE] = acct
    acct.perp_cash[""] = usdc(-9_000)
    _btc_long(ex, acct, "0.1", 100_000, 10)
    _mark(ex, BTC, 100_000)
    return ex, acct


def test_pool_key_standard_per_dex_unified_per_collateral_token() -> None:
    """'Account abstraction modes': cross positions of dexes with the same collateral share margin only
    under unified account / portfolio margin."""
    reg = Exchange("hyperliquid").registry
    btc, xyz, gold = reg.perp("BTC"), reg.perp("xyz:XYZ100"), reg.perp("flx:GOLD")
    assert pool_key(reg, btc, Mode.STANDARD) == PoolKey.of_dex("")
    assert pool_key(reg, xyz, Mode.STANDARD) == PoolKey.of_dex("xyz")
    assert pool_key(reg, btc, Mode.UNIFIED) == pool_key(reg, xyz, Mode.PORTFOLIO) == PoolKey.of_token(0)
    assert pool_key(reg, gold, Mode.UNIFIED) == PoolKey.of_token(360)  # USDH
    assert str(PoolKey.of_dex("xyz")) == "xyz" and PoolKey.of_token(360).raw == 360


def test_standard_pool_requirements_free_and_withdrawable_by_hand() -> None:
    """Notional 0.1 x 100,000 = 10,000; IM = 10,000 / 10 = 1,000; MM = 10,000 / 80 = 125; account value
    -9,000 + 10,000 = 1,000, so free = 0; transfer margin max(1,000, 0.1 x 10,000) = 1,000."""
    ex, acct = _standard_account()
    h = AccountHealth(ex.valuer(), acct)
    pool = h.pool(MAIN)
    assert (pool.account_value, pool.total_ntl) == (usdc(1_000), usdc(10_000))
    assert h.initial(MAIN) == usdc(1_000)
    assert h.maintenance(MAIN) == usdc(125)
    assert h.transfer_requirement(MAIN) == usdc(1_000)
    assert h.free(MAIN) == 0 and h.shortfall(MAIN) == 0
    assert h.liquidatable_pools() == [] and not h.liquidatable()
    # resting orders reserve the larger side's margin (docs/rules/orders.md): 200 buy vs 50 sell
    acct.order_margin[BTC] = (usdc(200), usdc(50))
    assert h.initial(MAIN) == usdc(1_200)
    assert h.free(MAIN) == usdc(-200) and h.shortfall(MAIN) == usdc(200)
    # spot balances stay apart in standard mode: a token index means the spot balance less its holds
    acct.spot[0], acct.spot_hold[0] = usdc(30), usdc(10)
    assert h.free(0) == usdc(20)


@pytest.mark.parametrize(
    ("mark", "value", "maintenance", "liquidatable"),
    [
        # 91,250: value -9,000 + 9,125 = 125 >= 9,125 / 80 = 114.0625
        (91_250, usdc(125), usdc("114.0625"), False),
        # 91,000: value 100 < 9,100 / 80 = 113.75 (the liquidation price is 9,000 / 0.0987500 = 91,139.24)
        (91_000, usdc(100), usdc("113.75"), True),
    ],
)
def test_standard_liquidation_threshold_by_hand(
    mark: int, value: int, maintenance: int, liquidatable: bool
) -> None:
    ex, acct = _standard_account()
    _mark(ex, BTC, mark)
    h = AccountHealth(ex.valuer(), acct)
    assert h.pool(MAIN).account_value == value
    assert h.maintenance(MAIN) == maintenance
    assert h.liquidatable(Mode.STANDARD) is liquidatable
    assert h.liquidatable_pools() == ([MAIN] if liquidatable else [])
    # shortfall against the initial margin (0.1 x mark / 10) is what a margin check would ask
    assert h.shortfall(MAIN) == mark * 10**8 // 100 - value


def test_isolated_position_is_its_own_pool() -> None:
    """Isolated ``marginUsed = rawUsd + szi x mark`` ('Info endpoint: Perpetuals'): rawUsd -9,000 plus
    0.1 x 91,000 = 100 < MM 113.75 -> liquidatable, while the cross pool (no position) is not."""
    ex, acct = _standard_account()
    pos = acct.positions[BTC]
    pos.is_cross, pos.raw_usd = False, usdc(-9_000)
    acct.perp_cash[""] = 0
    _mark(ex, BTC, 91_000)
    h = AccountHealth(ex.valuer(), acct)
    assert h.liquidatable_pools() == []
    [iso] = h.liquidatable_isolated()
    assert (iso.margin_used, iso.value.mm) == (usdc(100), usdc("113.75"))
    assert h.liquidatable(Mode.STANDARD)


def test_unified_pool_shares_margin_across_dexes_and_the_ratio_by_hand() -> None:
    """Unified: one USDC pool holds the spot balance and the cross positions of every USDC dex. Spot 1,000
    - 10,000 (the BTC buy) = -9,000 plus the 10,000 position: value 1,000; ratio = MM / value = 125 / 1,000
    = 1/8. At 91,000: 113.75 / 100 > 1, liquidatable, the same answer as the per-pool test."""
    ex, acct = _standard_account()
    acct.mode = Mode.UNIFIED
    acct.spot[0] = acct.perp_cash.pop("")
    h = AccountHealth(ex.valuer(), acct)
    assert set(h.pools) == {PoolKey.of_token(0), PoolKey.of_token(360), PoolKey.of_token(268)}
    assert h.pool(USDC_POOL).account_value == usdc(1_000)
    assert h.unified_ratio() == Fraction(1, 8)
    assert not h.liquidatable(Mode.UNIFIED) and h.liquidatable_pools() == []
    assert h.free(0) == 0  # the token index reaches its unified pool
    _mark(ex, BTC, 91_000)
    h = AccountHealth(ex.valuer(), acct)
    assert h.unified_ratio() == Fraction(11375, 10000)
    assert h.liquidatable(Mode.UNIFIED) and h.liquidatable_pools() == [USDC_POOL]


@settings(max_examples=200, deadline=None, database=None)
@given(cash=st.integers(-(10**13), 10**13), mark=st.integers(1, 400_000), lots=st.integers(-(10**6), 10**6))
def test_unified_ratio_test_equals_the_per_pool_test(cash: int, mark: int, lots: int) -> None:
    """'Account abstraction modes' ratio > 1 iff some collateral pool's value is below its maintenance
    (docs/accounting.md "Account health")."""
    ex = Exchange("hyperliquid")
    acct = Account(ALICE, mode=Mode.UNIFIED)
    acct.spot[0] = cash
    if lots:
        acct.positions[BTC] = Position(BTC, lots, 0, True, 10)
    _mark(ex, BTC, mark)
    h = AccountHealth(ex.valuer(), acct)
    assert h.liquidatable(Mode.UNIFIED) == bool(h.liquidatable_pools())


def test_requirements_in_usdc_sum_pools_and_isolated() -> None:
    ex, acct = _standard_account()
    im, mm = AccountHealth(ex.valuer(), acct).requirements_usdc()
    assert (im, mm) == (Fraction(1_000), Fraction(125))


# --------------------------------------------------------------------------- the cache
def _ctx(ex: Exchange) -> Ctx:
    return Ctx(Tx(ex.state), ex.registry, health_cache=HealthCache(ex.registry).begin(ex.state))


def test_cache_serves_one_valuation_until_an_input_changes() -> None:
    ex, acct = _standard_account()
    ctx = _ctx(ex)
    first = ctx.health(acct)
    assert ctx.health(acct) is first
    acct.volume_days[0] = (1, 1)  # not an input of the valuation
    assert ctx.health(acct) is first
    acct.order_margin[BTC] = (usdc(200), 0)  # read live, never cached
    assert ctx.health(acct) is first and first.free(MAIN) == usdc(-200)
    acct.perp_cash[""] += usdc(500)  # a fee, a funding payment, a borrow: cash is updated in place
    assert ctx.health(acct) is first and first.pool(MAIN).account_value == usdc(1_500)
    acct.positions[BTC].szi += 1  # a fill: that position is revalued in place
    assert ctx.health(acct) is first
    assert first.pool(MAIN).total_ntl == usdc("10001")  # one more lot: 0.00001 BTC x 100,000
    acct.positions[BTC].szi -= 1
    _mark(ex, BTC, 91_000)  # a price move
    assert ctx.health(acct).pool(MAIN).account_value == usdc(600)
    acct.positions[BTC].leverage = 20  # leverage moves the initial margin
    assert ctx.health(acct).initial(MAIN) == usdc(455) + usdc(200)
    assert (ctx.healths().builds, ctx.healths().updates) == (1, 3)  # three reads after a change
    assert ctx.healths().stale() == []
    acct.mode = Mode.UNIFIED  # a mode change regroups the pools: built again
    acct.spot[0] = acct.perp_cash.pop("")
    assert set(ctx.health(acct).pools) == {USDC_POOL, PoolKey.of_token(360), PoolKey.of_token(268)}
    assert ctx.healths().builds == 2


def test_in_place_revaluation_equals_a_fresh_build() -> None:
    """A new position, a cross position turned isolated, a closed one: the updated object equals a build
    from scratch, position order included."""
    ex, acct = _standard_account()
    reg = ex.registry
    eth = reg.perp("ETH").asset
    _mark(ex, eth, 2_500)
    ctx = _ctx(ex)
    h = ctx.health(acct)
    acct.positions[eth] = Position(eth, -10_000, 0, True, 5)  # short 1 ETH: ntl -2,500, IM 500, MM 50
    assert ctx.health(acct) is h
    assert (h.pool(MAIN).ntl, h.initial(MAIN), h.maintenance(MAIN)) == (
        usdc(10_000 - 2_500),
        usdc(1_000 + 500),
        usdc(125 + 50),
    )
    acct.positions[BTC].is_cross, acct.positions[BTC].raw_usd = False, usdc(1_000)
    assert [i.value.perp.asset for i in ctx.health(acct).isolated] == [BTC]
    del acct.positions[eth]
    h = ctx.health(acct)
    assert h.pool(MAIN).positions == [] and h.pool(MAIN).im == 0
    assert ctx.healths().stale() == []


def test_one_cross_position_changed_is_revalued_in_a_new_list_in_place() -> None:
    """The usual fill (one cross position of two changes size): the pool's sums move by the difference, the
    entry keeps its place in a new list (a caller iterating the old one keeps it), equal to a fresh build."""
    ex, acct = _standard_account()
    eth = ex.registry.perp("ETH").asset
    _mark(ex, eth, 2_500)
    acct.positions[eth] = Position(eth, -10_000, 0, True, 5)  # short 1 ETH after the BTC long
    ctx = _ctx(ex)
    h = ctx.health(acct)
    before = h.pool(MAIN).positions
    acct.positions[BTC].szi //= 2  # long 0.05 BTC: ntl 5,000, IM 500, MM 62.5
    assert ctx.health(acct) is h and ctx.healths().updates == 1
    pool = h.pool(MAIN)
    assert pool.positions is not before and [p.perp.asset for p in before] == [BTC, eth]
    assert before[0].ntl == usdc(10_000)  # the old list is untouched
    assert [p.perp.asset for p in pool.positions] == [BTC, eth]
    assert (pool.ntl, pool.total_ntl, pool.im, pool.mm) == (
        usdc(5_000 - 2_500),
        usdc(5_000 + 2_500),
        usdc(500 + 500),
        usdc("62.5") + usdc(50),
    )
    assert ctx.healths().stale() == []


def test_cache_follows_a_rollback_in_place() -> None:
    """``Tx.rollback`` restores the account object in place: the fingerprint sees the restored values."""
    ex, acct = _standard_account()
    ctx = _ctx(ex)
    before = ctx.health(acct).pool(MAIN).account_value
    live = ctx.tx.account(ALICE)
    live.perp_cash[""] -= usdc(700)
    live.positions[BTC].szi //= 2
    assert ctx.health(live).pool(MAIN).account_value == before - usdc(700) - usdc(5_000)
    ctx.tx.rollback()
    assert ctx.health(acct).pool(MAIN).account_value == before
    assert ctx.healths().stale() == []


def test_a_rollback_with_no_read_in_between_serves_the_restored_position_objects() -> None:
    """Mutate, roll back without reading: the restored values equal the cached ones, but the Position
    objects are the restored copies; the valued positions must point at them (callers read them live)."""
    ex, acct = _standard_account()
    ctx = _ctx(ex)
    h = ctx.health(acct)
    live = ctx.tx.account(ALICE)
    live.positions[BTC].szi //= 2
    ctx.tx.rollback()
    again = ctx.health(acct)
    assert again.pool(MAIN).positions[0].position is acct.positions[BTC]
    assert again.pool(MAIN).positions[0].position.szi == _lots("0.1")
    assert again is h and ctx.healths().stale() == []


def test_fingerprint_covers_positions_and_prices() -> None:
    ex, acct = _standard_account()
    fp = fingerprint(ex.state, acct)
    acct.spot[5] = 1  # cash is re-read at every read, not fingerprinted
    acct.perp_cash[""] = 0
    assert fingerprint(ex.state, acct) == fp
    for edit in (
        lambda: setattr(acct.positions[BTC], "szi", 1),
        lambda: setattr(acct.positions[BTC], "is_cross", False),
        lambda: setattr(acct.positions[BTC], "raw_usd", 7),
        lambda: _mark(ex, BTC, 1),
        lambda: setattr(acct, "mode", Mode.UNIFIED),
    ):
        edit()
        assert fingerprint(ex.state, acct) != fp
        fp = fingerprint(ex.state, acct)


def test_exchange_cache_is_fresh_after_fills() -> None:
    """After real actions (deposit, a crossing fill) what the exchange's cache serves equals a recomputation."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100_000)}), at=1_000)
    for user in (ALICE, BOB):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    assert ex.health.stale() == []
    h = ex.health.get(ex.state.accounts[ALICE])
    assert h.maintenance(MAIN) == usdc(125)  # 10,000 / 80


def test_exchange_cache_keeps_entries_across_actions_and_stays_exact() -> None:
    """The exchange keeps an account's valuation from one action to the next (no rebuild per action); a
    fill, a price move and a rejected action in between all show in the next read."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100_000)}), at=1_000)
    for user in (ALICE, BOB):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    alice = ex.state.accounts[ALICE]
    first = ex.health.get(alice)
    builds = ex.health.builds
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    assert ex.health.builds == builds and ex.health.get(alice) is first  # revalued in place, not rebuilt
    assert first.maintenance(MAIN) == usdc(250)  # 0.2 BTC x 100,000 / 80
    ex.apply(A.SetPrices(oracle={"BTC": D(80_000)}, marks={"BTC": D(80_000)}), at=2_000)
    assert ex.health.get(alice).maintenance(MAIN) == usdc(200)  # 16,000 / 80
    with pytest.raises(Exception):  # noqa: B017 - any rejection rolls the action back
        ex.apply(A.Withdraw(user=ALICE, amount=D(10**9)))
    assert ex.health.stale() == []
    other = Exchange("hyperliquid")
    ex.health.begin(other.state)  # another state: nothing kept
    assert ex.health.entries == {}


# --------------------------------------------------------------------------- portfolio margin
def _faq_account() -> Exchange:
    """Hyperliquid docs 'Portfolio margin FAQ' account (as in tests/engine/liquidation/test_pm_takeover.py):
    10 HYPE supplied at $50 (LTV 0.5), 250 USDC borrowed and spent on UBTC."""

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        set_collateral(d, "HYPE", ltv="0.5")

    ex = Exchange(config_with("hyperliquid-prealpha", mutate=mutate))
    px = {"HYPE": D(50)}
    ex.apply(A.SetPrices(oracle=px, marks=px, spot={"@107": D(50), "@142": D(100_000)}), at=1_000)
    fund_lender(ex, "1000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(250)))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D("0.0025")))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.0025"), px=D(100_000)))
    return ex


@pytest.mark.parametrize(("hype", "pmr", "liquidatable"), [(50, 0.72, False), (33, 1.0909, True)])
def test_portfolio_margin_is_delegated_to_pm_model(hype: int, pmr: float, liquidatable: bool) -> None:
    """PMR = (20 + 250) / (10 x HYPE x 0.75): 270 / 375 = 0.72 at $50; 270 / 247.5 = 1.0909 at $33 > 0.95
    ('Portfolio margin'). Prices are set on the state directly, so no liquidation runs."""
    ex = _faq_account()
    reg = ex.registry
    hype_perp = reg.perp(HYPE_PERP_NAME).asset
    _mark(ex, hype_perp, hype)
    ex.state.prices.spot[107] = hype * PX_SCALE
    acct = ex.state.accounts[ALICE]
    h = AccountHealth(ex.valuer(), acct)
    assert h.pm() == pm_model.pm_health(ex.valuer(), acct)
    assert round(float(h.pm().ratio), 4) == pmr
    assert h.liquidatable() is liquidatable
    assert pm_liquidation_ratio(reg) == Fraction(95, 100)
