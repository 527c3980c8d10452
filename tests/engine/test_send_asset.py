"""``sendAsset`` in the engine (docs/api.md "sendAsset"), the discontinued DEX abstraction and ``noop``.

Amounts are computed by hand; every accepted action keeps each token conserved
(``engine/invariants.py``) and every refused one changes nothing (``reject``).
"""

from __future__ import annotations

from decimal import Decimal

from netclear import views
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from netclear.errors import InsufficientBalance, InvalidAction, ModeError, UnknownEntity
from tests.conftest import ALICE, BOB, fund_lender, usdc
from tests.engine.test_rejections import gated, hl, long_btc, pm_hype, reject

D = Decimal


def send(ex: Exchange, src: str, dst: str, from_: str, to: str, amount: str, token: str = "USDC") -> None:
    ex.apply(
        A.SendAsset(
            user=src, destination=dst, source_dex=from_, destination_dex=to, token=token, amount=D(amount)
        )
    )
    assert conservation_breaks(ex.state, ex.registry) == {}


def test_standard_account_moves_between_spot_and_each_dex() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))  # a standard account's USDC lands on the first dex
    alice = ex.state.accounts[ALICE]
    send(ex, ALICE, ALICE, "", "spot", "100")
    assert alice.perp_cash[""] == usdc(900) and alice.spot[0] == usdc(100)
    send(ex, ALICE, ALICE, "spot", "test", "30")
    send(ex, ALICE, ALICE, "test", "xyz", "10")  # dex to dex, both USDC-collateralised
    assert (alice.spot[0], alice.perp_cash["test"], alice.perp_cash["xyz"]) == (usdc(70), usdc(20), usdc(10))
    send(ex, ALICE, BOB, "xyz", "test", "4")  # to another user's builder dex
    assert ex.state.accounts[BOB].perp_cash["test"] == usdc(4) and alice.perp_cash["xyz"] == usdc(6)
    delta = views.info(ex, {"type": "userNonFundingLedgerUpdates", "user": BOB})[-1]["delta"]
    assert delta == {
        "type": "send",
        "user": ALICE,
        "destination": BOB,
        "sourceDex": "xyz",
        "destinationDex": "test",
        "token": "USDC",
        "amount": "4",
        "fee": "0.0",
    }


def test_a_perp_dex_keeps_its_transfer_margin() -> None:
    """1,500 USDC with a 0.1 BTC long at 100,000 (notional 10,000, 20x): the transfer margin is
    max(IM 500, 10% x 10,000) = 1,000, so 500 USDC can leave the first dex and no more (docs/rules/
    standard-margin.md)."""
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, usdc="1500")
    reject(
        ex,
        A.SendAsset(
            user=ALICE,
            destination=ALICE,
            source_dex="",
            destination_dex="spot",
            token="USDC",
            amount=D("500.01"),
        ),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 500",
    )
    send(ex, ALICE, ALICE, "", "spot", "500")
    assert ex.state.accounts[ALICE].spot[0] == usdc(500)


def test_token_and_dex_rules() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.Deposit(user=ALICE, token="USDT0", amount=D(50)))  # non-USDC deposits land on spot
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(3)))
    send(ex, ALICE, ALICE, "spot", "cash", "20", token="USDT0")  # cash is USDT0-collateralised
    assert ex.state.accounts[ALICE].perp_cash["cash"] == 20 * 10**8
    send(ex, ALICE, BOB, "spot", "spot", "1.5", token="HYPE")  # spot to spot: like spotSend
    assert ex.state.accounts[BOB].spot[150] == 150_000_000

    def sa(src: str, dst: str, token: str = "USDC", to: str = ALICE) -> A.SendAsset:
        return A.SendAsset(
            user=ALICE, destination=to, source_dex=src, destination_dex=dst, token=token, amount=D(1)
        )

    reject(ex, sa("", "cash"), InvalidAction, "token", "moves only its collateral USDT0, not USDC")
    reject(ex, sa("spot", "flx"), InvalidAction, "token", "moves only its collateral USDH")
    reject(ex, sa("spot", "", token="HYPE"), InvalidAction, "token", "moves only its collateral USDC")
    reject(ex, sa("nope", "spot"), UnknownEntity, "sourceDex", "unknown dex 'nope'")
    reject(ex, sa("spot", "Spot"), UnknownEntity, "destinationDex", "unknown dex 'Spot'")
    reject(ex, sa("", ""), InvalidAction, "destinationDex", "nothing to move")
    reject(ex, sa("spot", "", token="NOTATOKEN"), UnknownEntity, "token", "unknown token")


def test_unified_account_has_one_balance_per_asset() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    reject(
        ex,
        A.SendAsset(
            user=ALICE, destination=ALICE, source_dex="", destination_dex="spot", token="USDC", amount=D(1)
        ),
        ModeError,
        "destinationDex",
        "share one USDC balance",
    )
    send(ex, ALICE, BOB, "spot", "test", "5")  # BOB is standard: his test-dex balance
    assert ex.state.accounts[ALICE].spot[0] == usdc(995)
    assert ex.state.accounts[BOB].perp_cash["test"] == usdc(5)


def test_portfolio_margin_never_borrows_to_send() -> None:
    """Borrowable balance "cannot be withdrawn or transferred between accounts" (Portfolio margin page):
    a PM account with only HYPE collateral cannot send USDC, though it could borrow it to trade."""
    ex = gated()
    fund_lender(ex)
    pm_hype(ex)
    reject(
        ex,
        A.SendAsset(
            user=ALICE, destination=BOB, source_dex="spot", destination_dex="", token="USDC", amount=D(1)
        ),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )
    send(ex, ALICE, BOB, "spot", "spot", "10", token="HYPE")
    assert ex.state.accounts[BOB].spot[150] == 10 * 10**8


def test_dex_abstraction_is_discontinued_and_noop_changes_nothing() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10)))
    reject(ex, A.SetDexAbstraction(user=ALICE, enabled=True), ModeError, "enabled", "discontinued")
    before = ex.state_hash()
    ex.apply(A.SetDexAbstraction(user=ALICE, enabled=False))
    ex.apply(A.Noop(user=ALICE))
    assert ex.state_hash() == before
    assert views.info(ex, {"type": "userDexAbstraction", "user": ALICE}) is False
