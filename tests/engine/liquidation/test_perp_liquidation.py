"""Perp liquidation through the engine (Hyperliquid docs 'Liquidations'; docs/rules/liquidation.md).

Every amount is worked by hand from the hyperliquid preset: BTC maintenance 1/80 (40x table, 'Margin tiers'),
ETH 1/50 (25x), XYZ100 1/40 (20x); default leverage 20x; perp maker fee 0.015% (tier 0, Hyperliquid docs
'Fees'). Prices move with explicit marks so the mark is exactly the number in the comment.
"""

from __future__ import annotations

from decimal import Decimal as D

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.events import Liquidation
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB, CAROL, MAKER, config_with
from tests.engine.liquidation import assert_conserved, ledger_liquidations, rest, set_marks, usd

VAULT = "0x1000000000000000000000000000000000000001"  # LiquidationConfig.liquidator_vault
XYZ_VAULT = "0x4000000000000000000000000000000000000001"  # 0x400..00 + dex index 1 ('Liquidations', HIP-3)
SINK = "0xfee0000000000000000000000000000000000000"
BTC, ETH = 0, 1  # asset ids
LOT = 10**5  # BTC lots per coin (szDecimals 5)


def _exchange(alice_usdc: str = "1000") -> Exchange:
    """BTC at 100,000; Alice funded; Bob a deep counterparty; the maker funded for bids."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000, "ETH": 4_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(alice_usdc)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000_000)))
    ex.apply(A.Deposit(user=MAKER, amount=D(1_000_000)))
    return ex


def _long_btc(ex: Exchange, user: str, sz: str, px: int = 100_000) -> None:
    ex.apply(A.SettleFill(buyer=user, seller=BOB, asset="BTC", sz=D(sz), px=D(px)))


# --------------------------------------------------------------------------- (a) full market liquidation
def test_full_market_liquidation_through_the_book() -> None:
    """'Liquidations'. Alice: 1,000 USDC, long 0.1 BTC at 100,000 (cash 1,000 - 10,000 = -9,000).

    Mark 91,000: equity -9,000 + 9,100 = 100 < maintenance 9,100 / 80 = 113.75 -> liquidatable; not
    below 2/3 x 113.75 = 75.83 -> no backstop. 0.1 BTC <= 100k notional -> sent whole. Limit: the
    bankruptcy price 91,000 - 100 / 0.1 = 90,000. It fills at the maker's 90,900 bid:
    Alice's cash -9,000 + 9,090 = 90 stays with her; no fee for her ("no clearance fee", 'Liquidations');
    the maker pays 0.015% x 9,090 = 1.3635 as usual."""
    ex = _exchange()
    _long_btc(ex, ALICE, "0.1")
    rest(ex, MAKER, "BTC", True, 90_900, "0.1", at=2_000)
    set_marks(ex, {"BTC": 91_000}, at=3_000)

    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    assert alice.perp_cash[""] == usd(90)
    maker = ex.state.accounts[MAKER]
    assert maker.positions[BTC].szi == 10_000  # 0.1 BTC bought
    assert maker.perp_cash[""] == usd(1_000_000) - usd(9_090) - usd("1.3635")
    assert ex.state.accounts[SINK].spot[0] == usd("1.3635")
    fills = ex.state.history.fills
    liq = fills[ALICE][-1]
    assert (liq["px"], liq["sz"], liq["side"], liq["dir"]) == ("90900", "0.1", "A", "Close Long")
    assert liq["fee"] == "0.0"
    assert liq["closedPnl"] == "-910"  # 0.1 x (90,900 - 100,000)
    assert fills[MAKER][-1]["fee"] == "1.3635"
    # Hyperliquid docs 'Liquidations': the liquidation ledger delta, at the values before the liquidation
    assert ledger_liquidations(ex, ALICE) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "9100",  # 0.1 x 91,000
            "accountValue": "100",
            "leverageType": "Cross",
            "liquidatedPositions": [{"coin": "BTC", "szi": "0.1"}],
        }
    ]
    # nothing went down the loss waterfall
    assert ALICE not in ex.state.history.liquidations
    assert VAULT not in ex.state.accounts
    assert_conserved(ex)


def test_no_liquidation_while_equity_covers_maintenance() -> None:
    """'Liquidations': at 91,150 equity 1,000 - 885 = 115 >= 9,115 / 80 = 113.9375: nothing happens."""
    ex = _exchange()
    _long_btc(ex, ALICE, "0.1")
    rest(ex, MAKER, "BTC", True, 91_100, "0.1", at=2_000)
    set_marks(ex, {"BTC": 91_150}, at=3_000)
    assert ex.state.accounts[ALICE].positions[BTC].szi == 10_000
    assert ledger_liquidations(ex, ALICE) == []
    assert ex.state.books[BTC].best_bid() == 91_100 * 10**8


# --------------------------------------------------------------------------- (b) partials and the cooldown
def _partial_setup() -> Exchange:
    """'Liquidations'. Alice: 12,000 USDC, long 2 BTC at 100,000 (cash -188,000).

    Mark 95,000: notional 190,000 > 100k; equity -188,000 + 190,000 = 2,000 < 190,000 / 80 = 2,375,
    above 2/3 x 2,375 = 1,583.3. Only 20% is sent: 0.4 BTC, limit 95,000 - 2,000 / 2 = 94,000,
    filled at the 94,900 bid. Cash -188,000 + 37,960 = -150,040; 1.6 BTC left: equity
    -150,040 + 152,000 = 1,960 >= 152,000 / 80 = 1,900. The cooldown starts at t = 10 s."""
    ex = _exchange("12000")
    _long_btc(ex, ALICE, "2")
    rest(ex, MAKER, "BTC", True, 94_900, "0.4", at=2_000)
    set_marks(ex, {"BTC": 95_000}, at=10_000)
    alice = ex.state.accounts[ALICE]
    assert alice.positions[BTC].szi == 160_000  # 1.6 BTC
    assert alice.perp_cash[""] == -usd(150_040)
    assert ex.state.liquidation_cooldown[ALICE] == 10_000
    assert ledger_liquidations(ex, ALICE) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "190000",
            "accountValue": "2000",
            "leverageType": "Cross",
            "liquidatedPositions": [{"coin": "BTC", "szi": "0.4"}],
        }
    ]
    # the next bids, for the second liquidation
    rest(ex, MAKER, "BTC", True, 94_800, "1.6", at=11_000)
    return ex


def test_partial_liquidation_then_whole_position_inside_the_cooldown() -> None:
    """'Liquidations' cooldown: 29.999 s after the partial, mark 94,900: equity -150,040 + 151,840 = 1,800 <
    151,840 / 80 = 1,898 (above 2/3 of it, 1,265.3). Inside the cooldown the order is for the entire
    1.6 BTC though its notional is above 100k; limit 94,900 - 1,800 / 1.6 = 93,775; filled at 94,800:
    cash -150,040 + 151,680 = 1,640 stays with Alice."""
    ex = _partial_setup()
    set_marks(ex, {"BTC": 94_900}, at=10_000 + 29_999)
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    assert alice.perp_cash[""] == usd(1_640)
    assert ledger_liquidations(ex, ALICE)[-1] == {
        "type": "liquidation",
        "liquidatedNtlPos": "151840",
        "accountValue": "1800",
        "leverageType": "Cross",
        "liquidatedPositions": [{"coin": "BTC", "szi": "1.6"}],
    }
    assert ex.state.books[BTC].best_bid() is None  # the 1.6 bid was taken whole
    assert_conserved(ex)


def test_partial_liquidation_again_after_the_cooldown() -> None:
    """'Liquidations': 30.001 s after the partial the same move sends 20% again: 0.32 of 1.6 BTC at 94,800:
    cash -150,040 + 30,336 = -119,704; 1.28 BTC at 94,900 = 121,472: equity 1,768 >= 1,518.4."""
    ex = _partial_setup()
    set_marks(ex, {"BTC": 94_900}, at=10_000 + 30_001)
    alice = ex.state.accounts[ALICE]
    assert alice.positions[BTC].szi == 128_000
    assert alice.perp_cash[""] == -usd(119_704)
    assert ledger_liquidations(ex, ALICE)[-1]["liquidatedPositions"] == [{"coin": "BTC", "szi": "0.32"}]
    assert ledger_liquidations(ex, ALICE)[-1]["accountValue"] == "1800"
    assert ex.state.liquidation_cooldown[ALICE] == 40_001  # a new partial, a new cooldown
    resting = next(iter(ex.state.books[BTC].iter_orders()))
    assert resting.sz == 128_000  # 1.6 - 0.32 of the bid is left
    assert_conserved(ex)


def test_partial_threshold_is_config() -> None:
    """'Liquidations' testnet threshold (10k) through ``config_with``: ``partial_notional = 10000`` cuts a 0.2
    BTC position (18,200 USDC at 91,000) to 20%: 0.04 BTC, though it is far below the mainnet 100k."""

    def mutate(d: dict) -> None:  # type: ignore[type-arg]
        d["liquidation"]["partial_notional"] = "10000"

    ex = Exchange(config_with(mutate=mutate))
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(2_000)))
    ex.apply(A.Deposit(user=BOB, amount=D(100_000)))
    ex.apply(A.Deposit(user=MAKER, amount=D(100_000)))
    _long_btc(ex, ALICE, "0.2")
    rest(ex, MAKER, "BTC", True, 90_900, "0.2", at=2_000)
    # mark 91,000: equity 2,000 - 1,800 = 200 < 18,200 / 80 = 227.5, above 151.67 -> partial 20%
    set_marks(ex, {"BTC": 91_000}, at=3_000)
    assert ex.state.accounts[ALICE].positions[BTC].szi == 16_000
    assert ledger_liquidations(ex, ALICE)[-1]["liquidatedPositions"] == [{"coin": "BTC", "szi": "0.04"}]


# --------------------------------------------------------------------------- (c) backstop
def test_backstop_with_no_bids_vault_takes_position_and_equity() -> None:
    """'Liquidations'. Alice long 0.1 BTC at 100,000 with 1,000 USDC; mark 90,700 and an empty book:
    equity 1,000 - 930 = 70 < 2/3 x 9,070 / 80 = 75.58 -> the liquidator vault takes the position at
    the mark and the pool's 70 of equity ("the maintenance margin is not returned"): Alice ends at 0.
    Vault: long 0.1 at 90,700, cash -9,070 + 70 = -9,000 (account value 70)."""
    ex = _exchange()
    _long_btc(ex, ALICE, "0.1")
    events = set_marks(ex, {"BTC": 90_700}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    assert alice.perp_cash[""] == 0
    vault = ex.state.accounts[VAULT]
    assert vault.is_system
    assert vault.positions[BTC].szi == 10_000
    assert vault.positions[BTC].entry_ntl == 90_700 * 10**8 * 10_000  # entry 90,700
    assert vault.perp_cash[""] == -usd(9_000)
    assert ex.valuer().cross_pools(vault)[""].account_value == usd(70)
    assert ledger_liquidations(ex, ALICE) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "9070",
            "accountValue": "70",
            "leverageType": "Cross",
            "liquidatedPositions": [],
        }
    ]
    outcome = [e.outcome for e in events if isinstance(e, Liquidation)]
    assert outcome == ["backstop"]
    assert_conserved(ex)


def test_backstop_after_too_few_bids() -> None:
    """'Liquidations' "without successful liquidation through the book": one 0.01 bid at 90,100 (above the
    bankruptcy price 90,700 - 70 / 0.1 = 90,000) fills; cash -9,000 + 901 = -8,099, 0.09 BTC at 90,700:
    equity 64 < 2/3 x 8,163 / 80 = 68.025 -> backstop of the rest: the vault gets 0.09 BTC and 64 USDC
    (cash -8,163 + 64 = -8,099), already funded with 500 USDC -> -7,599."""
    ex = _exchange()
    ex.apply(A.Deposit(user=VAULT, amount=D(500)))
    _long_btc(ex, ALICE, "0.1")
    rest(ex, MAKER, "BTC", True, 90_100, "0.01", at=2_000)
    set_marks(ex, {"BTC": 90_700}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {} and alice.perp_cash[""] == 0
    vault = ex.state.accounts[VAULT]
    assert vault.positions[BTC].szi == 9_000
    assert vault.perp_cash[""] == usd(500) - usd(8_099)
    assert ex.state.accounts[MAKER].positions[BTC].szi == 1_000
    assert ex.state.history.fills[MAKER][-1]["fee"] == "0.13515"  # 0.015% x 901
    assert ledger_liquidations(ex, ALICE)[-1]["liquidatedPositions"] == [{"coin": "BTC", "szi": "0.01"}]
    assert_conserved(ex)


def test_hip3_dex_backstop_goes_to_its_own_liquidator() -> None:
    """'Liquidations' HIP-3: each dex has its backstop liquidator at 0x400..00 + dex index (xyz is dex 1).

    Alice moves 200 USDC to the xyz dex and buys 0.1 XYZ100 at 20,000 (notional 2,000, 20x);
    mark 18,150: equity 200 - 185 = 15 < 2/3 x 1,815 / 40 = 30.25, no bids -> backstop to 0x40..01;
    the first dex's vault is not involved and Alice's first-dex cash is untouched."""
    ex = _exchange()
    set_marks(ex, {"xyz:XYZ100": 20_000})
    ex.apply(A.UsdClassTransfer(user=ALICE, amount=D(200), to_perp=False))
    ex.apply(A.UsdClassTransfer(user=ALICE, amount=D(200), to_perp=True, dex="xyz"))
    ex.apply(A.UsdClassTransfer(user=BOB, amount=D(10_000), to_perp=False))
    ex.apply(A.UsdClassTransfer(user=BOB, amount=D(10_000), to_perp=True, dex="xyz"))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="xyz:XYZ100", sz=D("0.1"), px=D(20_000)))
    set_marks(ex, {"xyz:XYZ100": 18_150}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    assert alice.perp_cash == {"": usd(800), "xyz": 0}
    xyz_vault = ex.state.accounts[XYZ_VAULT]
    asset = ex.registry.perp("xyz:XYZ100").asset
    assert xyz_vault.positions[asset].szi == 1_000
    assert xyz_vault.perp_cash["xyz"] == -usd(1_815) + usd(15)
    assert VAULT not in ex.state.accounts
    assert_conserved(ex)


# --------------------------------------------------------------------------- (d) isolated vs cross
def _isolated_setup() -> Exchange:
    """Alice (5,000 USDC): isolated 10x long 1 ETH at 4,000 (margin 400, rawUsd 400 - 4,000 = -3,600)
    and a cross long 0.01 BTC at 100,000. Cross cash 5,000 - 400 - 1,000 = 3,600."""
    ex = _exchange("5000")
    ex.apply(A.UpdateLeverage(user=ALICE, asset="ETH", is_cross=False, leverage=10))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="ETH", sz=D(1), px=D(4_000)))
    _long_btc(ex, ALICE, "0.01")
    alice = ex.state.accounts[ALICE]
    assert alice.positions[ETH].raw_usd == -usd(3_600)
    assert alice.perp_cash[""] == usd(3_600)
    return ex


def test_isolated_position_liquidated_alone_cross_untouched() -> None:
    """'Margining' / 'Liquidations' isolated: only that position's margin counts. ETH mark 3,650: isolated
    equity -3,600 + 3,650 = 50 < 3,650 / 50 = 73 (above 2/3, 48.67) although the cross pool (3,600 cash + 0.01
    BTC) is far from liquidation. Limit 3,650 - 50 = 3,600; filled at the 3,640 bid: the position's remaining
    40 returns to the cross balance (3,640); the BTC position is untouched."""
    ex = _isolated_setup()
    rest(ex, MAKER, "ETH", True, 3_640, "1", at=2_000)
    set_marks(ex, {"ETH": 3_650}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert ETH not in alice.positions
    assert alice.positions[BTC].szi == 1_000 and alice.positions[BTC].is_cross
    assert alice.perp_cash[""] == usd(3_640)
    assert ledger_liquidations(ex, ALICE) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "3650",
            "accountValue": "50",
            "leverageType": "Isolated",
            "liquidatedPositions": [{"coin": "ETH", "szi": "1"}],
        }
    ]
    assert_conserved(ex)


def test_isolated_backstop_moves_only_that_position_and_its_margin() -> None:
    """'Liquidations' "Isolated backstop: only that position and its margin are transferred". ETH mark 3,640
    and no bids: isolated equity 40 < 2/3 x 72.8 = 48.53 -> the vault takes 1 ETH at 3,640 and the 40 of
    margin (vault cash -3,640 + 40 = -3,600); Alice's cross cash stays 3,600, BTC untouched."""
    ex = _isolated_setup()
    set_marks(ex, {"ETH": 3_640}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert ETH not in alice.positions
    assert alice.perp_cash[""] == usd(3_600)
    assert alice.positions[BTC].szi == 1_000
    vault = ex.state.accounts[VAULT]
    assert vault.positions[ETH].szi == 10_000  # 1 ETH, szDecimals 4
    assert ex.valuer().cross_pools(vault)[""].account_value == usd(40)
    assert ledger_liquidations(ex, ALICE)[-1]["leverageType"] == "Isolated"
    assert_conserved(ex)


def test_isolated_ledger_reports_the_margin_before_liquidation() -> None:
    """ETH mark 3,640: isolated equity 40 (< 2/3 x 72.8 = 48.53). One 0.1 ETH bid at 3,630 fills (limit
    3,600): 0.1 of the equity at 3,630, (-3,600 + 3,630) x 0.1 = 3, returns to cross; rawUsd -3,600 - 3 +
    363 = -3,240 for 0.9 ETH: margin -3,240 + 3,276 = 36 < 2/3 x 65.52 = 43.68 -> backstop of the rest.
    The delta must carry the value the liquidation started from, 40, like the cross path (test (a))."""
    ex = _isolated_setup()
    rest(ex, MAKER, "ETH", True, 3_630, "0.1", at=2_000)
    set_marks(ex, {"ETH": 3_640}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert ETH not in alice.positions
    assert ex.state.accounts[VAULT].positions[ETH].szi == 9_000
    assert alice.perp_cash[""] == usd(3_600) + usd(3)
    delta = ledger_liquidations(ex, ALICE)[-1]
    assert delta["liquidatedPositions"] == [{"coin": "ETH", "szi": "0.1"}]
    assert delta["liquidatedNtlPos"] == "3640"
    assert delta["accountValue"] == "40"


def test_cross_liquidation_leaves_isolated_position_alone() -> None:
    """The other way round: a cross liquidation does not touch the isolated position. Alice adds a
    cross long of 0.35 BTC at 100,000: cross cash 3,600 - 35,000 = -31,400 for 0.36 BTC.
    Mark 89,000: 0.36 x 89,000 = 32,040, equity 640 >= 32,040 / 80 = 400.5 -> healthy.
    Mark 88,000: 31,680, equity 280 < 396 and above 2/3 x 396 = 264 -> market liquidation (31,680 <=
    100k: whole; limit 88,000 - 280 / 0.36 = 87,222.2) at the 87,900 bid: cash -31,400 + 31,644 = 244.
    The isolated ETH (rawUsd -3,600) is not sent anywhere."""
    ex = _isolated_setup()
    _long_btc(ex, ALICE, "0.35")
    rest(ex, MAKER, "BTC", True, 87_900, "0.36", at=2_000)
    set_marks(ex, {"BTC": 89_000}, at=2_500)
    assert ex.state.accounts[ALICE].positions[BTC].szi == 36_000
    set_marks(ex, {"BTC": 88_000}, at=3_000)
    alice = ex.state.accounts[ALICE]
    assert BTC not in alice.positions
    assert alice.perp_cash[""] == usd(244)
    assert alice.positions[ETH].szi == 10_000 and alice.positions[ETH].raw_usd == -usd(3_600)
    assert ledger_liquidations(ex, ALICE)[-1]["leverageType"] == "Cross"
    assert ledger_liquidations(ex, ALICE)[-1]["accountValue"] == "280"
    assert_conserved(ex)


# --------------------------------------------------------------------------- (e) standard vs unified
def test_standard_pool_excludes_spot_unified_pool_includes_it() -> None:
    """'Account abstraction modes' / 'Liquidations': a standard account's cross pool is its perp balance only;
    a unified account's pool is its USDC balance. Alice (standard) keeps 950 in perps and 50 in spot; Carol
    (unified) holds 1,000 USDC. Both long 0.1 BTC at 100,000.

    Mark 91,200 (loss 880, maintenance 9,120 / 80 = 114): Alice's pool 950 - 880 = 70 < 114 ->
    liquidated at the 91,100 bid (limit 91,200 - 700 = 90,500): perp cash 950 - 10,000 + 9,110 = 60,
    her 50 spot USDC untouched. Carol's pool 1,000 - 880 = 120 >= 114: untouched.
    Mark 90,950: Carol's 1,000 - 905 = 95 < 113.6875 (above 75.79) -> liquidated at the 90,900 bid:
    her USDC balance 1,000 - 10,000 + 9,090 = 90."""
    ex = _exchange("1000")
    ex.apply(A.UsdClassTransfer(user=ALICE, amount=D(50), to_perp=False))
    ex.apply(A.Deposit(user=CAROL, amount=D(1_000)))
    ex.apply(A.SetAbstraction(user=CAROL, abstraction="unifiedAccount"))
    assert ex.state.accounts[CAROL].spot[0] == usd(
        1_000
    )  # the one USDC balance ('Account abstraction modes')
    _long_btc(ex, ALICE, "0.1")
    _long_btc(ex, CAROL, "0.1")
    rest(ex, MAKER, "BTC", True, 91_100, "0.1", at=2_000)
    set_marks(ex, {"BTC": 91_200}, at=3_000)
    alice, carol = ex.state.accounts[ALICE], ex.state.accounts[CAROL]
    assert alice.positions == {}
    assert alice.perp_cash[""] == usd(60)
    assert alice.spot[0] == usd(50)
    assert carol.positions[BTC].szi == 10_000
    assert carol.spot[0] == usd(1_000) - usd(10_000)
    assert ledger_liquidations(ex, CAROL) == []
    rest(ex, MAKER, "BTC", True, 90_900, "0.1", at=4_000)
    set_marks(ex, {"BTC": 90_950}, at=5_000)
    carol = ex.state.accounts[CAROL]
    assert carol.positions == {}
    assert carol.spot[0] == usd(90)
    assert ledger_liquidations(ex, CAROL) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "9095",
            "accountValue": "95",
            "leverageType": "Cross",
            "liquidatedPositions": [{"coin": "BTC", "szi": "0.1"}],
        }
    ]
    assert_conserved(ex)


def test_unified_backstop_takes_the_spot_usdc_balance() -> None:
    """'Liquidations' under unified: the pool is the USDC balance, so the vault takes it. Carol (unified,
    1,000 USDC) long 0.1 BTC; mark 90,700, no bids: 70 < 75.58 -> the vault takes the position and
    70 USDC; Carol's USDC balance goes to 0 (it was -9,000 + the position)."""
    ex = _exchange()
    ex.apply(A.Deposit(user=CAROL, amount=D(1_000)))
    ex.apply(A.SetAbstraction(user=CAROL, abstraction="unifiedAccount"))
    assert ex.state.accounts[CAROL].spot[0] == usd(
        1_000
    )  # the one USDC balance ('Account abstraction modes')
    _long_btc(ex, CAROL, "0.1")
    set_marks(ex, {"BTC": 90_700}, at=3_000)
    carol = ex.state.accounts[CAROL]
    assert carol.positions == {}
    assert carol.spot.get(0, 0) == 0
    vault = ex.state.accounts[VAULT]
    assert vault.positions[BTC].szi == 10_000
    assert ex.valuer().cross_pools(vault)[""].account_value == usd(70)
    assert_conserved(ex)


def test_a_maker_left_below_maintenance_by_its_own_fill_is_liquidated_in_the_same_action() -> None:
    """The liquidation test after an order skips only the accounts a margin check proved above maintenance
    since their last change (engine ``Tx.cleared``). A maker whose *reducing* fill is not checked
    ('Margining': only opening sides are) must still be tested and liquidated in the taker's action.

    Alice: 1,000 USDC, long 0.1 BTC at 100,000 (cash -9,000), mark 100,000. She rests an ask of 0.05 at
    81,000. The maker bids 0.1 at 99,500: 0.05 fills against Alice at 81,000; Alice, the maker, pays
    0.015% x 4,050 = 0.6075: cash -9,000 + 4,050 - 0.6075 = -4,950.6075, equity -4,950.6075 + 5,000 =
    49.3925 < maintenance 5,000 / 80 = 62.5 -> liquidatable; above 2/3 x 62.5 -> no backstop. In the same
    action her 0.05 BTC is sold into the maker's remaining bid at 99,500 (above the bankruptcy price
    100,000 - 49.3925 / 0.05 = 99,012.15), with no fee for her ('Liquidations'): cash 24.3925, flat."""
    ex = _exchange()
    _long_btc(ex, ALICE, "0.1")
    rest(ex, ALICE, "BTC", False, 81_000, "0.05", at=2_000)
    events = ex.apply(
        O.PlaceOrder(
            user=MAKER,
            orders=[
                O.OrderSpec(asset="BTC", is_buy=True, px=D(99_500), sz=D("0.1"), limit=O.LimitSpec("Gtc"))
            ],
        ),
        at=3_000,
    )
    assert any(isinstance(e, Liquidation) for e in events)
    alice = ex.state.accounts[ALICE]
    assert alice.positions == {}
    assert alice.perp_cash[""] == usd("24.3925")
    maker = ex.state.accounts[MAKER]
    assert maker.positions[BTC].szi == 10_000  # 0.05 from Alice's ask, 0.05 from her liquidation
    assert ex.state.books[BTC].best_bid() is None
    assert [r["accountValue"] for r in ledger_liquidations(ex, ALICE)] == ["49.3925"]
    assert_conserved(ex)


def test_a_taker_cleared_by_one_order_and_ruined_by_the_next_is_still_liquidated() -> None:
    """A check's mark lasts only until the account's next change (engine ``Tx.cleared``): Alice (1,000
    USDC, long 0.1 BTC at 100,000, mark 100,000) sends two IOC orders in one action. The first buys 0.01
    at 100,000 (opening: checked, she is above maintenance); the second sells 0.1 into the maker's only
    bid, 81,000 (reducing: not checked). Cash -9,000 - 1,000 - 0.45 + 8,100 - 3.645 = -1,904.095 against
    0.01 BTC worth 1,000: equity -904.095, bankrupt, so the liquidation after the action must deal with
    her (auto-deleveraging, 'Auto-deleveraging'): the first order's mark does not excuse her."""
    ex = _exchange()
    _long_btc(ex, ALICE, "0.1")
    rest(ex, MAKER, "BTC", False, 100_000, "0.01", at=2_000)
    rest(ex, MAKER, "BTC", True, 81_000, "0.1", at=2_000)

    def ioc(is_buy: bool, px: int, sz: str) -> O.OrderSpec:
        return O.OrderSpec(asset="BTC", is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec("Ioc"))

    events = ex.apply(
        O.PlaceOrder(user=ALICE, orders=[ioc(True, 100_000, "0.01"), ioc(False, 81_000, "0.1")])
    )
    statuses = events[0].statuses if events and hasattr(events[0], "statuses") else None
    kinds = {e.kind for e in events}
    assert kinds & {"liquidation", "adl"}, (kinds, statuses)
    assert BTC not in ex.state.accounts[ALICE].positions
    assert_conserved(ex)
