"""Auto-deleveraging and the perp loss waterfall (Hyperliquid docs 'Auto-deleveraging'; the Drift v2 and Mango
v4 liquidation designs (docs/rules/liquidation.md); engine docstring: user collateral -> liquidator vault's
free equity -> the reserve's protocol buffer -> ADL counterparties pro rata, each at most its equity -> the
vault carries the rest).

The bankrupt account is made by a fill settled at an off-market price (an operator ``SettleFill`` with
``check_margin=False``, e.g. a print from an external venue): the account is underwater at both the
mark and the previous mark, so closing it at the previous mark ('Auto-deleveraging') leaves a deficit to
cover. The pure price-gap case is in ``test_price_gap_bankruptcy_consumes_the_user_collateral_first``.

Hand numbers (BTC, 1 lot = 1e-5 BTC, maintenance 1/80, no fees on the setup fills):

* marks: 100,000 then 101,000 (so the previous mark is 100,000 when the bad fill lands);
* Alice 1,000 USDC buys 0.05 from Bob and 0.05 from Carol at 100,000, then 0.1 from Dave at 113,000:
  cash 1,000 - 10,000 - 11,300 = -20,300; 0.2 BTC at 101,000 = 20,200 -> equity -100;
* Eve (long) buys 0.05 from Bob at 100,000; the lender supplies USDC and holds no position.

Opposite side (shorts) at mark 101,000, rank = (entry / mark) x (notional / account value):

* Bob: short 0.1 at 100,000, cash 10,000 + 10,000 = 20,000, value 20,000 - 10,100 = 9,900:
  100/101 x 10,100/9,900 = 100/99 = 1.0101;
* Carol: short 0.05 at 100,000, cash 2,000 + 5,000, value 7,000 - 5,050 = 1,950:
  100/101 x 5,050/1,950 = 100/39 = 2.5641;
* Dave: short 0.1 at 113,000, cash 5,000 + 11,300, value 16,300 - 10,100 = 6,200:
  113/101 x 10,100/6,200 = 113/62 = 1.8226.

Queue: Carol 0.05, Dave 0.1, Bob 0.05 (of his 0.1), all at the previous mark 100,000. Alice's cash
-20,300 + 20,000 = -300: the deficit. Notional deleveraged (weights): Carol 5,000, Dave 10,000, Bob 5,000.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.fixedpoint import fmt_px
from netclear.lending.rates import INDEX_SCALE
from tests.conftest import ALICE, BOB, CAROL, LENDER, config_with, fund_lender, open_gates
from tests.engine.liquidation import assert_conserved, ledger_liquidations, set_marks, usd

DAVE = "0x" + "d0" * 20
EVE = "0x" + "e0" * 20
VAULT = "0x1000000000000000000000000000000000000001"
BTC = 0


def _book(adl: str = "queue", vault_usdc: str | None = "150") -> Exchange:
    if adl == "queue":
        ex = Exchange("hyperliquid")
    else:

        def mutate(d: dict[str, Any]) -> None:
            d["liquidation"]["adl"] = adl

        ex = Exchange(config_with(mutate=mutate))
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    fund_lender(ex, "10000")
    for user, amount in ((ALICE, 1_000), (BOB, 10_000), (CAROL, 2_000), (DAVE, 5_000), (EVE, 10_000)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
    if vault_usdc is not None:
        ex.apply(A.Deposit(user=VAULT, amount=D(vault_usdc)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.05"), px=D(100_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=CAROL, asset="BTC", sz=D("0.05"), px=D(100_000)))
    ex.apply(A.SettleFill(buyer=EVE, seller=BOB, asset="BTC", sz=D("0.05"), px=D(100_000)))
    set_marks(ex, {"BTC": 101_000}, at=2_000)
    assert ex.state.markets[BTC].prev_mark == 100_000 * 10**8
    return ex


def _bad_fill(ex: Exchange, px: int = 113_000) -> list[Any]:
    return ex.apply(
        A.SettleFill(buyer=ALICE, seller=DAVE, asset="BTC", sz=D("0.1"), px=D(px), check_margin=False),
        at=3_000,
    )


def _szi(ex: Exchange, user: str) -> int:
    pos = ex.state.accounts[user].positions.get(BTC)
    return pos.szi if pos is not None else 0


def _deficits(ex: Exchange, user: str) -> list[dict[str, Any]]:
    return [r for r in ex.state.history.liquidations.get(user, []) if r["kind"] == "perpDeficit"]


def test_adl_queue_vault_first_then_counterparties_pro_rata() -> None:
    """Deficit 300: the vault's free equity (150 deposited, no positions, so all free) pays 150; the
    other 150 is socialized over the deleveraged notional 20,000: Carol 150 x 5/20 = 37.5,
    Dave 150 x 10/20 = 75, Bob 37.5.

    Cash after: Carol 7,000 - 5,000 - 37.5 = 1,962.5 (flat); Dave 16,300 - 10,000 - 75 = 6,225 (flat);
    Bob 20,000 - 5,000 - 37.5 = 14,962.5 (still short 0.05); Alice 0; the vault 0.
    Eve (same side) and the lender (no position) pay nothing ('Auto-deleveraging' invariant)."""
    ex = _book()
    lender_before = ex.state.accounts[LENDER].clone()
    reserve_before = ex.state.reserves[0].clone()
    events = _bad_fill(ex)

    accts = ex.state.accounts
    assert accts[ALICE].positions == {} and accts[ALICE].perp_cash[""] == 0
    assert _szi(ex, CAROL) == 0 and accts[CAROL].perp_cash[""] == usd("1962.5")
    assert _szi(ex, DAVE) == 0 and accts[DAVE].perp_cash[""] == usd(6_225)
    assert _szi(ex, BOB) == -5_000 and accts[BOB].perp_cash[""] == usd("14962.5")
    assert accts[VAULT].perp_cash[""] == 0 and accts[VAULT].positions == {}
    assert _szi(ex, EVE) == 5_000 and accts[EVE].perp_cash[""] == usd(5_000)
    assert accts[LENDER] == lender_before
    assert ex.state.reserves[0] == reserve_before

    # closed at the previous mark ('Auto-deleveraging'), no fees, in queue order
    adl = [e for e in events if e.kind == "adl"]
    assert len(adl) == 1 and fmt_px(adl[0].px) == "100000"
    closes = [f for f in ex.state.history.fills[ALICE] if f["time"] == 3_000 and f["side"] == "A"]
    assert [(f["px"], f["sz"], f["fee"]) for f in closes] == [
        ("100000", "0.05", "0.0"),  # Carol, rank 2.564
        ("100000", "0.1", "0.0"),  # Dave, rank 1.823
        ("100000", "0.05", "0.0"),  # Bob, rank 1.010, partly
    ]
    assert [ex.state.history.fills[u][-1]["sz"] for u in (CAROL, DAVE, BOB)] == ["0.05", "0.1", "0.05"]

    # the waterfall record, every layer
    assert _deficits(ex, ALICE) == [
        {
            "time": 3_000,
            "kind": "perpDeficit",
            "coin": "BTC",
            "deficit": "300",
            "waterfall": {
                "token": "USDC",
                "userCollateral": "0.0",
                "vault": "150",
                "reserveBuffer": "0.0",
                "socialized": "150",
                "socializedTo": {BOB: "37.5", CAROL: "37.5", DAVE: "75"},
            },
        }
    ]
    delta = ledger_liquidations(ex, ALICE)[-1]
    assert (delta["leverageType"], delta["accountValue"], delta["liquidatedNtlPos"]) == (
        "Cross",
        "-100",
        "20200",
    )
    assert_conserved(ex)


def test_vault_with_enough_free_equity_covers_the_whole_deficit() -> None:
    """Vault funded with 1,000: it pays all 300 (1,000 - 300 = 700 left); nobody is socialized, the
    counterparties are only closed at 100,000: Carol 2,000, Dave 6,300, Bob 15,000."""
    ex = _book(vault_usdc="1000")
    _bad_fill(ex)
    accts = ex.state.accounts
    assert accts[VAULT].perp_cash[""] == usd(700)
    assert accts[ALICE].perp_cash[""] == 0
    assert [accts[u].perp_cash[""] for u in (CAROL, DAVE, BOB)] == [usd(2_000), usd(6_300), usd(15_000)]
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["vault"], wf["socialized"], wf["socializedTo"]) == ("300", "0.0", {})
    assert_conserved(ex)


def test_unfunded_vault_everything_socialized() -> None:
    """No vault capital: all 300 goes to the counterparties, 75 / 150 / 75."""
    ex = _book(vault_usdc=None)
    _bad_fill(ex)
    accts = ex.state.accounts
    assert [accts[u].perp_cash[""] for u in (CAROL, DAVE, BOB)] == [usd(1_925), usd(6_150), usd(14_925)]
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert wf["vault"] == "0.0" and wf["socialized"] == "300"
    assert wf["socializedTo"] == {BOB: "75", CAROL: "75", DAVE: "150"}
    assert_conserved(ex)


def test_vault_free_equity_excludes_its_own_maintenance() -> None:
    """The vault pays from its *free* equity: account value minus its own maintenance.

    The vault (150 USDC) first backstops Frank: 1,000 USDC, long 0.1 BTC from Bob at 101,000; mark
    91,750 -> equity 1,000 - 925 = 75 < 2/3 x 9,175 / 80 = 76.46 -> the vault takes 0.1 BTC at 91,750 and
    75 USDC: cash 150 - 9,175 + 75 = -8,950. (Alice at 91,750: 1,000 - 825 = 175 >= 114.69, healthy.)
    Marks back at 101,000 twice (previous mark = mark = 101,000): vault value -8,950 + 10,100 = 1,150,
    maintenance 10,100 / 80 = 126.25, free 1,023.75.

    Bad fill at 123,000: Alice's cash 1,000 - 10,000 - 12,300 = -21,300, closed at 101,000: deficit 1,100.
    Ranks at 101,000: Carol 100/39 = 2.564; Bob short 0.2 (entry 100,500, cash 30,100, value 9,900):
    100,500/101,000 x 20,200/9,900 = 2.030; Dave short 0.1 at 123,000 (value 17,300 - 10,100 = 7,200):
    123/101 x 10,100/7,200 = 1.708. Queue: Carol 0.05, Bob 0.15; Dave untouched.
    The vault pays its free 1,023.75 (not its 1,150 value); 76.25 is socialized over 5,050 (Carol) and
    15,150 (Bob): 19.0625 and 57.1875. The vault ends with value 126.25 = its maintenance."""
    frank = "0x" + "f0" * 20
    ex = _book()
    ex.apply(A.Deposit(user=frank, amount=D(1_000)))
    ex.apply(A.SettleFill(buyer=frank, seller=BOB, asset="BTC", sz=D("0.1"), px=D(101_000)))
    set_marks(ex, {"BTC": 91_750}, at=2_500)
    vault = ex.state.accounts[VAULT]
    assert vault.positions[BTC].szi == 10_000
    assert vault.perp_cash[""] == usd(150) - usd(9_175) + usd(75)
    assert _szi(ex, ALICE) == 10_000
    set_marks(ex, {"BTC": 101_000}, at=2_600)
    set_marks(ex, {"BTC": 101_000}, at=2_700)
    v = ex.valuer()
    pool = v.cross_pools(ex.state.accounts[VAULT])[""]
    assert pool.account_value == usd(1_150)
    assert pool.mm == usd("126.25")
    _bad_fill(ex, 123_000)
    rec = _deficits(ex, ALICE)[0]
    assert rec["deficit"] == "1100"
    assert rec["waterfall"]["vault"] == "1023.75"
    assert rec["waterfall"]["socializedTo"] == {BOB: "57.1875", CAROL: "19.0625"}
    accts = ex.state.accounts
    assert accts[VAULT].perp_cash[""] == -usd("9973.75")
    vpool = ex.valuer().cross_pools(accts[VAULT])[""]
    assert vpool.account_value == vpool.mm == usd("126.25")
    assert accts[CAROL].perp_cash[""] == usd("1930.9375") and _szi(ex, CAROL) == 0
    assert accts[BOB].perp_cash[""] == usd("14892.8125") and _szi(ex, BOB) == -5_000
    assert _szi(ex, DAVE) == -10_000 and accts[DAVE].perp_cash[""] == usd(17_300)
    assert accts[ALICE].perp_cash[""] == 0
    assert_conserved(ex)


def test_pro_rata_adl_cuts_everyone_in_proportion() -> None:
    """``adl = "pro_rata"``: the 0.2 BTC is spread over the 0.25 BTC of shorts: Bob 0.1 x 4/5 = 0.08,
    Carol 0.04, Dave 0.08 (exact, no remainder). Weights at 100,000: 8,000 / 4,000 / 8,000; the 150
    left after the vault: Bob 60, Carol 30, Dave 60.
    Cash: Bob 20,000 - 8,000 - 60 = 11,940 (short 0.02 left); Carol 7,000 - 4,000 - 30 = 2,970 (0.01);
    Dave 16,300 - 8,000 - 60 = 8,240 (0.02)."""
    ex = _book("pro_rata")
    _bad_fill(ex)
    accts = ex.state.accounts
    assert [_szi(ex, u) for u in (BOB, CAROL, DAVE)] == [-2_000, -1_000, -2_000]
    assert [accts[u].perp_cash[""] for u in (BOB, CAROL, DAVE)] == [usd(11_940), usd(2_970), usd(8_240)]
    assert accts[ALICE].perp_cash[""] == 0
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert wf["socializedTo"] == {BOB: "60", CAROL: "30", DAVE: "60"}
    assert _szi(ex, EVE) == 5_000
    assert_conserved(ex)


def test_bankrupt_isolated_position_deficit_does_not_touch_cross_margin() -> None:
    """'Margining' isolated: a bankrupt isolated position's loss does not reach the user's cross margin; the
    waterfall pays it. Alice (5,000 USDC) isolated 10x; bad fill: buys 0.1 BTC from Dave at 113,000
    (margin ceil(11,300 / 10) = 1,130 moved: cross cash 3,870, rawUsd 1,130 - 11,300 = -10,170).
    At mark 101,000 the position is worth -70; at the previous mark 100,000 -170: the deficit.
    Dave (the only short) is deleveraged at 100,000; the vault's 150 pays 150, Dave the other 20.
    Alice's cross cash stays 3,870."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(5_000)))
    ex.apply(A.Deposit(user=DAVE, amount=D(5_000)))
    ex.apply(A.Deposit(user=VAULT, amount=D(150)))
    set_marks(ex, {"BTC": 101_000}, at=2_000)
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=False, leverage=10))
    _bad_fill(ex)
    accts = ex.state.accounts
    assert accts[ALICE].positions == {}
    assert accts[ALICE].perp_cash[""] == usd(3_870)
    assert accts[DAVE].positions == {}
    # Dave: 5,000 + 11,300 - 10,000 - 20 = 6,280
    assert accts[DAVE].perp_cash[""] == usd(6_280)
    assert accts[VAULT].perp_cash[""] == 0
    rec = _deficits(ex, ALICE)[0]
    assert rec["deficit"] == "170"
    assert rec["waterfall"]["vault"] == "150" and rec["waterfall"]["socializedTo"] == {DAVE: "20"}
    assert ledger_liquidations(ex, ALICE)[-1]["leverageType"] == "Isolated"
    assert_conserved(ex)


def test_user_without_positions_never_pays_and_conservation_holds() -> None:
    """'Auto-deleveraging': "a user who has no open positions will not socialize any losses". The lender
    (supplying 10,000 USDC) and a bystander holding only USDC keep every wei; the reserve is untouched; the
    total of balances, perp cash, isolated margin and reserve cash still equals deposits - withdrawals."""
    bystander = "0x" + "99" * 20
    ex = _book(vault_usdc=None)
    ex.apply(A.Deposit(user=bystander, amount=D(7_777)))
    ex.apply(A.Withdraw(user=bystander, amount=D(777)))
    before = {a: ex.state.accounts[a].clone() for a in (LENDER, bystander, EVE)}
    _bad_fill(ex)
    for a, acct in before.items():
        assert ex.state.accounts[a] == acct
    socialized_to = _deficits(ex, ALICE)[0]["waterfall"]["socializedTo"]
    assert set(socialized_to) == {BOB, CAROL, DAVE}
    assert_conserved(ex)
    st = ex.state
    assert st.external_in[0] - st.external_out[0] == usd(
        10_000 + 1_000 + 10_000 + 2_000 + 5_000 + 10_000 + 7_000
    )


# --------------------------------------------------------------------------- the price-gap case
def test_price_gap_bankruptcy_consumes_the_user_collateral_first() -> None:
    """Alice (1,000 USDC) long 0.1 BTC at 100,000 from Bob; the vault holds 1,000 USDC. The mark gaps
    to 89,000 with an empty book: Alice's equity 1,000 - 1,100 = -100 (bankrupt, 'Auto-deleveraging').

    Expected per the waterfall (user collateral -> vault -> counterparties): Alice's 1,000 is lost
    whatever the closing price, the 100 beyond it is the deficit (vault first), and Bob, the ADL'd
    counterparty, loses at most that deficit against the mark: his value at 89,000 is
    10,000 + 10,000 - 8,900 = 11,100, so he must keep >= 11,000.

    The engine (rules.adl_price: the previous mark unless the current one is worse for the bankrupt
    side) closes at 89,000: Alice's cash -9,000 + 8,900 = -100, the vault's free 1,000 pays the 100
    (900 left), Bob keeps his 11,100 and nothing is socialized."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1_000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10_000)))
    ex.apply(A.Deposit(user=VAULT, amount=D(1_000)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    set_marks(ex, {"BTC": 89_000}, at=2_000)
    accts = ex.state.accounts
    assert accts[ALICE].positions == {}
    assert_conserved(ex)
    assert accts[ALICE].perp_cash[""] == 0
    assert accts[BOB].perp_cash[""] >= usd(11_000)
    assert accts[BOB].perp_cash[""] == usd(11_100) and accts[BOB].positions == {}
    assert accts[VAULT].perp_cash[""] == usd(900)
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["vault"], wf["socialized"], wf["socializedTo"]) == ("100", "0.0", {})


# --------------------------------------------------------------------------- socialization bounds
def _bankrupt_alice_against(bob_setup: Any, bad_px: int) -> Exchange:
    """Bob's short set up by ``bob_setup``; Carol (rich) holds the long side; Alice (1,000 USDC) then
    buys 0.1 BTC from Dave (rich) at ``bad_px`` with no margin check: bankrupt at the mark 100,000."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    for user, amount in ((ALICE, 1_000), (CAROL, 1_000_000), (DAVE, 1_000_000)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
    bob_setup(ex)
    ex.apply(
        A.SettleFill(buyer=ALICE, seller=DAVE, asset="BTC", sz=D("0.1"), px=D(bad_px), check_margin=False),
        at=2_000,
    )
    return ex


def test_socialized_share_never_exceeds_the_counterparty_equity() -> None:
    """Bob (600 USDC) is short 0.1 BTC at 100,000 (sold to Carol). Alice's bad fill at 120,000: cash
    1,000 - 12,000 = -11,000, 0.1 BTC at 100,000 -> -1,000 (no vault capital). Opposite side: Bob rank
    1 x 10,000 / 600 = 16.7, Dave (short at 120,000, value 1,002,000) 1.2 x 10,000 / 1,002,000: Bob is
    closed first and covers the 0.1. The 1,000 deficit is all socialized on Bob's 10,000 of notional,
    but Bob only has 600: he must not be left below 0 (the rest belongs to the next layer). Bob pays
    his 600 (cash 600 + 10,000 - 10,000 - 600 = 0); the other 400 is carried by the (unfunded) vault,
    recorded in its layer."""

    def bob(ex: Exchange) -> None:
        ex.apply(A.Deposit(user=BOB, amount=D(600)))
        ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))

    ex = _bankrupt_alice_against(bob, 120_000)
    assert_conserved(ex)
    assert _szi(ex, BOB) == 0 and _szi(ex, DAVE) == -10_000
    assert _deficits(ex, ALICE)[0]["deficit"] == "1000"
    assert ex.state.accounts[BOB].perp_cash[""] >= 0
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["socializedTo"], wf["vault"]) == ({BOB: "600"}, "400")
    assert ex.state.accounts[VAULT].perp_cash[""] == -usd(400)


def test_socialized_share_of_an_isolated_counterparty_stays_isolated() -> None:
    """Bob (3,000 USDC) shorts 0.1 BTC at 100,000 isolated 10x: margin 1,000, cross balance 2,000.
    Alice's bad fill at 140,000: cash -13,000, at 100,000 -> deficit 3,000. Bob's isolated short ranks
    first (1 x 10,000 / 1,000 = 10 vs Dave's 1.4 x 10,000 / 1,004,000) and is closed at 100,000: its
    1,000 of equity returns to the cross balance (3,000). The 3,000 deficit is then charged to Bob, all
    from his cross balance, which falls to 0: the isolated position lost 3x its margin. At most the
    isolated position's own 1,000 may go: his cross balance must stay >= 2,000. Bob pays 1,000 and
    keeps 2,000; the (unfunded) vault carries the other 2,000, recorded."""

    def bob(ex: Exchange) -> None:
        ex.apply(A.Deposit(user=BOB, amount=D(3_000)))
        ex.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=False, leverage=10))
        ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
        assert ex.state.accounts[BOB].perp_cash[""] == usd(2_000)

    ex = _bankrupt_alice_against(bob, 140_000)
    assert_conserved(ex)
    assert _szi(ex, BOB) == 0
    assert _deficits(ex, ALICE)[0]["deficit"] == "3000"
    assert ex.state.accounts[BOB].perp_cash[""] >= usd(2_000)
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["socializedTo"], wf["vault"]) == ({BOB: "1000"}, "2000")


def test_partially_deleveraged_isolated_counterparty_pays_only_what_the_close_released() -> None:
    """Bob (5,000 USDC) shorts 0.2 BTC at 100,000 isolated 10x: margin 2,000, rawUsd 22,000, cross 3,000.
    Alice's bad fill at 140,000 (deficit 3,000 at 100,000) needs 0.1: Bob's isolated short ranks first
    (1 x 20,000 / 2,000 = 10) and half of it is closed, releasing half its equity, 1,000, to his cross
    balance (4,000). He pays that 1,000 and no more (cross 3,000); the 0.1 left keeps its own margin
    (rawUsd 22,000 - 1,000 - 10,000 = 11,000, equity 1,000); the vault carries the other 2,000."""

    def bob(ex: Exchange) -> None:
        ex.apply(A.Deposit(user=BOB, amount=D(5_000)))
        ex.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=False, leverage=10))
        ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100_000)))

    ex = _bankrupt_alice_against(bob, 140_000)
    bob_acct = ex.state.accounts[BOB]
    assert bob_acct.perp_cash[""] == usd(3_000)
    assert bob_acct.positions[BTC].szi == -10_000 and bob_acct.positions[BTC].raw_usd == usd(11_000)
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["socializedTo"], wf["vault"], wf["socialized"]) == ({BOB: "1000"}, "2000", "1000")
    assert _szi(ex, DAVE) == -10_000
    assert_conserved(ex)


def test_reserve_buffer_pays_after_the_vault_before_the_counterparties() -> None:
    """The perp waterfall's third layer (engine docstring, docs/rules/liquidation.md 'The loss waterfall'):
    the USDC reserve's protocol buffer (10% of the interest paid). Eve borrows 5,000 USDC against HYPE under
    PM and pays 30 days of interest, so the buffer holds about 2 USDC. Alice's bad fill (deficit 1,000, no
    vault capital) takes the whole buffer, whole wei, out of the reserve's cash; Bob (short 0.1 against Carol,
    the first in the queue: 1 x 10,000 / ~100,000 against Dave's 1.2 x 10,000 / 1,002,000) is closed and pays
    the rest."""
    ex = Exchange(config_with(mutate=open_gates))
    set_marks(ex, {"BTC": 100_000, "HYPE": 40}, at=1_000, spot={"@107": 40})
    fund_lender(ex, "10000")
    ex.apply(A.Deposit(user=EVE, token="HYPE", amount=D(1_000)))
    ex.apply(A.SetAbstraction(user=EVE, abstraction="portfolioMargin"))
    ex.apply(A.BorrowLend(user=EVE, operation="borrow", token="USDC", amount=D(5_000)))
    for user, amount in ((ALICE, 1_000), (BOB, 100_000), (CAROL, 100_000), (DAVE, 1_000_000)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
    ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D("0.1"), px=D(100_000)))
    ex.apply(A.AdvanceTime(), at=1_000 + 30 * 86_400_000)
    set_marks(ex, {"BTC": 100_000, "HYPE": 40}, spot={"@107": 40})
    before = ex.state.reserves[0].clone()
    buffer = before.buffer_raw // INDEX_SCALE
    assert usd(2) < buffer < usd(3)
    ex.apply(
        A.SettleFill(buyer=ALICE, seller=DAVE, asset="BTC", sz=D("0.1"), px=D(120_000), check_margin=False)
    )
    rec = _deficits(ex, ALICE)[0]
    wf = rec["waterfall"]
    assert rec["deficit"] == "1000" and wf["vault"] == "0.0"
    # the whole buffer, accrued to the fill (it grew a little since the last touch of the reserve)
    take = usd(wf["reserveBuffer"])
    assert buffer <= take < buffer + usd("0.00001")
    assert usd(wf["socialized"]) == usd(1_000) - take and set(wf["socializedTo"]) == {BOB}
    res = ex.state.reserves[0]
    assert res.buffer_raw < INDEX_SCALE  # spent to the last whole wei
    assert res.cash == before.cash - take
    assert_conserved(ex)


def test_flat_account_left_below_zero_goes_down_the_waterfall() -> None:
    """A close at a price past bankruptcy leaves a pool below zero with no position (found by the state
    machine: two opposite off-market fills). Alice (1,000 USDC) buys 0.1 BTC at 100,000 from Dave, then
    sells it back at 89,000 (operator fill, no margin check): cash 1,000 - 10,000 + 8,900 = -100, flat.
    Nothing is left to deleverage, so the deficit goes down the waterfall at once: the vault's 150 pays
    the 100 and the record says so; Dave, who has no position left with her, is not charged."""
    ex = Exchange("hyperliquid")
    set_marks(ex, {"BTC": 100_000}, at=1_000)
    for user, amount in ((ALICE, 1_000), (DAVE, 100_000), (VAULT, 150)):
        ex.apply(A.Deposit(user=user, amount=D(amount)))
    ex.apply(A.SettleFill(buyer=ALICE, seller=DAVE, asset="BTC", sz=D("0.1"), px=D(100_000)))
    ex.apply(
        A.SettleFill(buyer=DAVE, seller=ALICE, asset="BTC", sz=D("0.1"), px=D(89_000), check_margin=False),
        at=2_000,
    )
    accts = ex.state.accounts
    assert accts[ALICE].positions == {} and accts[ALICE].perp_cash[""] == 0
    assert accts[DAVE].perp_cash[""] == usd(101_100)
    assert accts[VAULT].perp_cash[""] == usd(50)
    rec = _deficits(ex, ALICE)[0]
    assert rec["deficit"] == "100"
    assert (rec["waterfall"]["vault"], rec["waterfall"]["socialized"]) == ("100", "0.0")
    assert_conserved(ex)


# --------------------------------------------------------------------------- cascades
def test_adl_counterparty_left_below_maintenance_is_liquidated_in_the_same_action() -> None:
    """A liquidation spiral inside one action (liquidation/engine.py ``run``: rounds over the accounts
    each round touched).

    Bob (600 USDC, 40x) is short 0.2 BTC at 100,000 (sold to Carol). Alice's bad fill at 120,000:
    cash 1,000 - 12,000 = -11,000; closed at 100,000 her 0.1 long leaves a 1,000 deficit (no vault capital,
    no lending reserve). ADL: Bob ranks first (1 x 20,000 / 600 = 33.3; Dave, short at 120,000 and
    rich, 1.2 x 10,000 / 1,002,000) and closes 0.1 of his 0.2 at 100,000; he is charged the 1,000 up to
    his equity, 600, and the vault carries 400. Bob is left short 0.1 with value 0 < maintenance
    10,000 / 80 = 125 (Hyperliquid docs 'Liquidations', BTC tier 1 at 40x), and 0 < 2/3 x 125: the vault
    backstops him at the mark in the same action ('Liquidations': it takes the position and the remaining
    margin, 0) instead of leaving him open until the next BTC price update.

    The vault, unfunded, now holds that short with -400 of cash: value -400, bankrupt in turn, so the
    next round auto-deleverages it against the long side, Carol (the only long), at 100,000; its 400
    deficit is socialized on her, the last layer ('Auto-deleveraging'): Carol ends long 0.1 with cash
    1,000,000 - 20,000 + 10,000 - 400 = 989,600, and the vault flat at 0."""

    def bob(ex: Exchange) -> None:
        ex.apply(A.Deposit(user=BOB, amount=D(600)))
        ex.apply(A.UpdateLeverage(user=BOB, asset="BTC", is_cross=True, leverage=40))  # IM 500 <= 600
        ex.apply(A.SettleFill(buyer=CAROL, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100_000)))

    ex = _bankrupt_alice_against(bob, 120_000)
    accts = ex.state.accounts
    wf = _deficits(ex, ALICE)[0]["waterfall"]
    assert (wf["socializedTo"], wf["vault"]) == ({BOB: "600"}, "400")
    assert accts[BOB].positions == {} and accts[BOB].perp_cash[""] == 0
    assert ledger_liquidations(ex, BOB) == [
        {
            "type": "liquidation",
            "liquidatedNtlPos": "10000",
            "accountValue": "0.0",
            "leverageType": "Cross",
            "liquidatedPositions": [],  # backstopped, not sold (as 'Liquidations''s vault takeover)
        }
    ]
    vault_wf = _deficits(ex, VAULT)[0]["waterfall"]
    assert (_deficits(ex, VAULT)[0]["deficit"], vault_wf["socializedTo"]) == ("400", {CAROL: "400"})
    assert _szi(ex, VAULT) == 0 and accts[VAULT].perp_cash[""] == 0
    assert _szi(ex, CAROL) == 10_000 and accts[CAROL].perp_cash[""] == usd(989_600)
    assert _szi(ex, DAVE) == -10_000
    assert_conserved(ex)
