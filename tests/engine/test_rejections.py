"""Every rejection path of the engine: typed error, the input at fault, a readable rule, and nothing changed.

DESIGN rule 7: an action that raises is rejected whole. Each test here checks

* the exact error class (``netclear.errors``);
* ``.field`` names the input at fault and ``.rule`` says what went wrong (a fragment is matched);
* ``Exchange.state_hash()`` is identical before and after;
* no history record was added (fills, ledger, funding, interest of every user, and the
  ``userNonFundingLedgerUpdates`` view of the users the action names).

Rejected actions are applied without ``at=``: a timestamp later than the clock advances time before
the action runs, and that advance stands even when the action is rejected (``Exchange.apply``).
Rules are cited from Hyperliquid's docs.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from netclear import views
from netclear.engine import actions as A
from netclear.engine.context import normalize_address
from netclear.engine.exchange import Exchange
from netclear.errors import (
    CapReached,
    InsufficientBalance,
    InsufficientMargin,
    InvalidAction,
    InvalidAmount,
    LiquidityError,
    ModeError,
    NetclearError,
    UnknownEntity,
)
from tests.conftest import ALICE, BOB, CAROL, LENDER, config_with, fund_lender, open_gates

D = Decimal
T0 = 1_000

ORACLE = {"BTC": "100000", "ETH": "3000", "HYPE": "40", "xyz:NVDA": "180"}
SPOT = {"@107": "40", "@142": "100000", "@151": "3000"}


# --------------------------------------------------------------------------- helpers
def _addresses(action: A.Action) -> list[str]:
    """Valid addresses named by an action (whose ledgers must not grow)."""
    out = []
    for name in ("user", "destination", "sub_account", "buyer", "seller"):
        value = getattr(action, name, None)
        if not isinstance(value, str):
            continue
        try:
            out.append(normalize_address(value))
        except InvalidAction:
            continue
    return out


def _ledgers(ex: Exchange, users: list[str]) -> dict[str, Any]:
    return {u: views.info(ex, {"type": "userNonFundingLedgerUpdates", "user": u}) for u in users}


def reject(
    ex: Exchange,
    action: A.Action,
    error: type[NetclearError],
    field: str,
    rule: str,
    *,
    at: int | None = None,
) -> NetclearError:
    """Apply ``action``: expect ``error`` naming ``field`` with ``rule`` in its text; nothing changed."""
    users = _addresses(action)
    state_before = ex.state_hash()
    history_before = copy.deepcopy(ex.state.history)
    ledgers_before = _ledgers(ex, users)
    accounts_before = sorted(ex.state.accounts)
    with pytest.raises(NetclearError) as info:
        ex.apply(action, at=at)
    err = info.value
    assert type(err) is error, f"expected {error.__name__}, got {type(err).__name__}: {err}"
    assert err.field == field, f"field {err.field!r} != {field!r} ({err.rule})"
    assert rule in err.rule, f"{rule!r} not in rule {err.rule!r}"
    assert ex.state_hash() == state_before, "a rejected action changed the state"
    assert sorted(ex.state.accounts) == accounts_before, "a rejected action created an account"
    assert ex.state.history == history_before, "a rejected action added a history record"
    assert _ledgers(ex, users) == ledgers_before
    return err


def priced(ex: Exchange) -> Exchange:
    ex.apply(A.SetPrices(oracle=dict(ORACLE), spot=dict(SPOT)), at=T0)
    return ex


def hl() -> Exchange:
    return priced(Exchange("hyperliquid"))


def gated(preset: str = "hyperliquid", **borrowable: dict[str, str]) -> Exchange:
    """A preset with the PM eligibility gates open; ``borrowable={"USDC": {...}}`` edits reserve params."""

    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        for b in d["portfolio_margin"]["borrowable"]:
            b.update(borrowable.get(b["token"], {}))

    return priced(Exchange(config_with(preset, mutate=mutate)))


def usdc_borrowed(ex: Exchange, user: str) -> int:
    return ex.valuer().borrowed(ex.state.accounts[user], 0)


def pm_hype(ex: Exchange, user: str = ALICE, hype: str = "1000") -> None:
    """A portfolio-margin account collateralised by HYPE (1000 HYPE x $40 clears the $10k value gate)."""
    ex.apply(A.Deposit(user=user, token="HYPE", amount=D(hype)))
    ex.apply(A.SetAbstraction(user=user, abstraction="portfolioMargin"))


def long_btc(
    ex: Exchange, sz: str = "0.2", leverage: int = 20, *, cross: bool = True, usdc: str = "5000"
) -> None:
    """ALICE (standard) opens a BTC long against BOB at 100,000."""
    ex.apply(A.Deposit(user=ALICE, amount=D(usdc)))
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=cross, leverage=leverage))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D(sz), px=D(100000)))


def sub_of(ex: Exchange, master: str, name: str) -> str:
    events = ex.apply(A.CreateSubAccount(user=master, name=name))
    address: str = events[0].sub_account
    return address


# --------------------------------------------------------------------------- Deposit
@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        ("abc", "not a decimal number"),
        ("1e", "not a decimal number"),
        ("", "not a decimal number"),
        ("NaN", "not a decimal number"),
        ("Infinity", "not a decimal number"),
        (D("NaN"), "must be finite"),
        (D("Infinity"), "must be finite"),
        (None, "expected a decimal string"),
        (True, "expected a decimal string, got boolean"),
    ],
)
def test_deposit_non_numeric_amount(amount: Any, rule: str) -> None:
    reject(hl(), A.Deposit(user=ALICE, amount=amount), InvalidAmount, "amount", rule)


def test_deposit_zero() -> None:
    reject(hl(), A.Deposit(user=ALICE, amount=D(0)), InvalidAmount, "amount", "must be positive")


def test_deposit_negative() -> None:
    reject(hl(), A.Deposit(user=ALICE, amount=D(-5)), InvalidAmount, "amount", "must not be negative")


@pytest.mark.parametrize(
    ("token", "too_fine", "finest"),
    [
        ("USDC", "1.000000001", "1.00000001"),  # 8 wei decimals
        ("HYPE", "0.000000001", "0.00000001"),  # 8
        ("UBTC", "0.00000000001", "0.0000000001"),  # 10
        ("UETH", "0.0000000001", "0.000000001"),  # 9
    ],
)
def test_deposit_too_many_decimals_for_token(token: str, too_fine: str, finest: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(1), token=token))
    decimals = len(finest.split(".")[1])
    reject(
        ex,
        A.Deposit(user=ALICE, amount=D(too_fine), token=token),
        InvalidAmount,
        "amount",
        f"more than {decimals} decimals",
    )
    ex.apply(A.Deposit(user=ALICE, amount=D(finest), token=token))  # the finest unit is accepted


@pytest.mark.parametrize("token", ["DOGE", "usdc", "999", ""])
def test_deposit_unknown_token(token: str) -> None:
    reject(hl(), A.Deposit(user=ALICE, amount=D(1), token=token), UnknownEntity, "token", "unknown token")


@pytest.mark.parametrize(
    "user", ["alice", "0x1234", "0x" + "g" * 40, ALICE + "00", ALICE[2:], "0X" + "a1" * 20]
)
def test_deposit_malformed_user(user: str) -> None:
    reject(
        hl(),
        A.Deposit(user=user, amount=D(1)),
        InvalidAction,
        "user",
        "not a 0x-prefixed 20-byte hex address",
    )


# --------------------------------------------------------------------------- Withdraw
@pytest.mark.parametrize(("leverage", "free"), [(20, "3000"), (5, "1000")])
def test_withdraw_beyond_withdrawable_with_cross_position(leverage: int, free: str) -> None:
    """Hyperliquid docs 'Margining': 5,000 USDC, 0.2 BTC long (20,000): max(IM, 10% x 20,000) stays locked.
    20x: IM 1,000 < 2,000 -> withdrawable 3,000; 5x: IM 4,000 > 2,000 -> withdrawable 1,000."""
    ex = hl()
    long_btc(ex, leverage=leverage)
    reject(
        ex,
        A.Withdraw(user=ALICE, amount=D(free) + D("0.00000001")),
        InsufficientBalance,
        "amount",
        f"exceeds withdrawable {free} on dex main",
    )
    ex.apply(A.Withdraw(user=ALICE, amount=D(free)))


def test_withdraw_unknown_user() -> None:
    reject(hl(), A.Withdraw(user=CAROL, amount=D(1)), InvalidAction, "user", "unknown user")


def test_withdraw_spot_token_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(1)))
    reject(
        ex,
        A.Withdraw(user=ALICE, token="HYPE", amount=D("1.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 1",
    )


def test_withdraw_spot_token_never_held() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.Withdraw(user=ALICE, token="UBTC", amount=D("0.1")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )


def test_pm_borrowed_usdc_cannot_be_withdrawn() -> None:
    """Hyperliquid docs 'Portfolio margin': "Borrowable balance cannot be withdrawn or transferred between
    accounts"."""
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(100)))
    assert usdc_borrowed(ex, ALICE) == 100 * 10**8
    reject(
        ex, A.Withdraw(user=ALICE, amount=D(100)), InsufficientBalance, "amount", "exceeds withdrawable 0.0"
    )
    reject(
        ex,
        A.Withdraw(user=ALICE, amount=D("0.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )


def test_pm_borrowed_usdc_cannot_be_sent() -> None:
    """Hyperliquid docs 'Portfolio margin': borrowed balance cannot be transferred to another address
    either."""
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(100)))
    reject(
        ex,
        A.UsdSend(user=ALICE, destination=BOB, amount=D(50)),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=BOB, token="USDC", amount=D(50)),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )


def test_pm_collateral_locked_by_borrow_cannot_be_withdrawn() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ': 1,000 HYPE x $40 x LTV 0.65 = 26,000 of power; owing 13,000
    locks 13,000 / (0.65 x 40) = 500 HYPE."""
    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(13000)))
    reject(
        ex,
        A.Withdraw(user=ALICE, token="HYPE", amount=D("500.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 500",
    )
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=BOB, token="HYPE", amount=D(600)),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 500",
    )
    ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D(500)))
    reject(
        ex,
        A.Withdraw(user=ALICE, token="HYPE", amount=D("0.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 0.0",
    )


def test_pm_unsupplied_collateral_is_not_locked() -> None:
    """Hyperliquid docs 'Portfolio margin FAQ': collateral is removable while the health factor stays >= 100%.
    Pre-alpha: 300 HYPE, 200 supplied (the cap), 100 idle in spot; owing 1,000 against 200 x 40 x 0.5 = 4,000
    locks 50 HYPE only."""
    ex = gated("hyperliquid-prealpha")
    fund_lender(ex, "10000")
    pm_hype(ex, hype="300")
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(1000)))
    reject(
        ex,
        A.Withdraw(user=ALICE, token="HYPE", amount=D("250.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 250",
    )
    ex.apply(A.Withdraw(user=ALICE, token="HYPE", amount=D(250)))


def test_pm_spot_sell_of_locked_collateral() -> None:
    """Selling collateral that backs a borrow is refused like withdrawing it (health factor < 100%)."""
    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(13000)))
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    ex.apply(A.UsdClassTransfer(user=BOB, amount=D(100000), to_perp=False))
    reject(
        ex,
        A.SettleFill(buyer=BOB, seller=ALICE, asset="@107", sz=D(600), px=D(40)),
        InsufficientMargin,
        "seller",
        "health factor would be 80.0000%",
    )


def test_pm_supplied_collateral_withdraw_via_borrowlend_breaks_health() -> None:
    """borrowLend withdraw of supplied collateral is held to the same rule: health factor >= 100% ('Portfolio
    margin FAQ')."""
    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(13000)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="withdraw", token="HYPE", amount=D("500.00000001")),
        InsufficientMargin,
        "amount",
        "health factor would be",
    )


# --------------------------------------------------------------------------- UsdSend / SpotSend
def test_usd_send_to_self() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdSend(user=ALICE, destination=ALICE, amount=D(1)),
        InvalidAction,
        "destination",
        "must differ from the sender",
    )


def test_usd_send_to_self_case_insensitive() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdSend(user=ALICE, destination=ALICE.upper().replace("0X", "0x"), amount=D(1)),
        InvalidAction,
        "destination",
        "must differ from the sender",
    )


def test_usd_send_beyond_withdrawable() -> None:
    """Margin locked by a cross position cannot be sent (Hyperliquid docs 'Margining'); the recipient is not
    created."""
    ex = hl()
    long_btc(ex)
    reject(
        ex,
        A.UsdSend(user=ALICE, destination=CAROL, amount=D("3000.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 3000",
    )
    assert CAROL not in ex.state.accounts


def test_usd_send_from_unknown_user() -> None:
    reject(hl(), A.UsdSend(user=CAROL, destination=BOB, amount=D(1)), InvalidAction, "user", "unknown user")


@pytest.mark.parametrize("destination", ["bob", "0x1234", "0x" + "z" * 40, BOB + "0"])
def test_usd_send_malformed_destination(destination: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdSend(user=ALICE, destination=destination, amount=D(1)),
        InvalidAction,
        "destination",
        "not a 0x-prefixed 20-byte hex address",
    )


@pytest.mark.parametrize("destination", ["bob", "0x" + "z" * 40])
def test_spot_send_malformed_destination(destination: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=destination, token="HYPE", amount=D(1)),
        InvalidAction,
        "destination",
        "not a 0x-prefixed 20-byte hex address",
    )


def test_spot_send_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=CAROL, token="HYPE", amount=D("10.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 10",
    )
    assert CAROL not in ex.state.accounts


def test_spot_send_to_self() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=ALICE, token="HYPE", amount=D(1)),
        InvalidAction,
        "destination",
        "must differ from the sender",
    )


def test_spot_send_unknown_token() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    reject(
        ex,
        A.SpotSend(user=ALICE, destination=BOB, token="NOTATOKEN", amount=D(1)),
        UnknownEntity,
        "token",
        "unknown token",
    )


# --------------------------------------------------------------------------- UsdClassTransfer
@pytest.mark.parametrize("to_perp", [True, False])
def test_usd_class_transfer_unified_account(to_perp: bool) -> None:
    """Hyperliquid docs 'Account abstraction modes': usdClassTransfer belongs to standard mode; unified
    accounts have one balance."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D(10), to_perp=to_perp),
        ModeError,
        "type",
        "usdClassTransfer is for standard accounts",
    )


def test_usd_class_transfer_portfolio_margin() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(20000)))  # > $10k: eligible (Hyperliquid docs 'Portfolio margin')
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D(10), to_perp=False),
        ModeError,
        "type",
        "under portfolioMargin spot and perps share one balance",
    )


def test_usd_class_transfer_perp_to_spot_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D("100.00000001"), to_perp=False),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 100 on dex main",
    )


def test_usd_class_transfer_perp_to_spot_beyond_transfer_margin() -> None:
    """ "Transferring" includes transfer to spot (Hyperliquid docs 'Margining')."""
    ex = hl()
    long_btc(ex)
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D("3000.00000001"), to_perp=False),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 3000",
    )


def test_usd_class_transfer_spot_to_perp_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.UsdClassTransfer(user=ALICE, amount=D(40), to_perp=False))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D("40.00000001"), to_perp=True, dex="xyz"),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 40",
    )


def test_usd_class_transfer_unknown_dex() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D(10), to_perp=True, dex="abc"),
        UnknownEntity,
        "dex",
        "unknown dex 'abc'",
    )


def test_usd_class_transfer_zero() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.UsdClassTransfer(user=ALICE, amount=D(0), to_perp=False),
        InvalidAmount,
        "amount",
        "must be positive",
    )


# --------------------------------------------------------------------------- sub-accounts
def test_create_sub_account_duplicate_name() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    sub_of(ex, ALICE, "desk")
    reject(ex, A.CreateSubAccount(user=ALICE, name="desk"), InvalidAction, "name", "'desk' already exists")
    reject(ex, A.CreateSubAccount(user=ALICE, name="  desk "), InvalidAction, "name", "'desk' already exists")


def test_create_sub_account_of_a_sub_account() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    sub = sub_of(ex, ALICE, "desk")
    reject(
        ex,
        A.CreateSubAccount(user=sub, name="nested"),
        InvalidAction,
        "user",
        "a sub-account cannot own sub-accounts",
    )


@pytest.mark.parametrize("name", ["", "   ", "x" * 17])
def test_create_sub_account_bad_name_length(name: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(ex, A.CreateSubAccount(user=ALICE, name=name), InvalidAction, "name", "must be 1 to 16 characters")


def test_create_sub_account_limit() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    for i in range(10):
        sub_of(ex, ALICE, f"s{i}")
    reject(ex, A.CreateSubAccount(user=ALICE, name="s10"), InvalidAction, "user", "at most 10 sub-accounts")


def test_create_sub_account_unknown_master() -> None:
    reject(hl(), A.CreateSubAccount(user=CAROL, name="desk"), InvalidAction, "user", "unknown user")


def test_sub_account_transfer_to_someone_elses_sub_account() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.Deposit(user=BOB, amount=D(100)))
    sub = sub_of(ex, ALICE, "desk")
    reject(
        ex,
        A.SubAccountTransfer(user=BOB, sub_account=sub, is_deposit=True, amount=D(10)),
        InvalidAction,
        "sub_account",
        f"is not a sub-account of {BOB}",
    )
    reject(
        ex,
        A.SubAccountTransfer(user=BOB, sub_account=sub, is_deposit=False, amount=D(10)),
        InvalidAction,
        "sub_account",
        f"is not a sub-account of {BOB}",
    )


def test_sub_account_transfer_to_a_master_account() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.Deposit(user=BOB, amount=D(100)))
    reject(
        ex,
        A.SubAccountTransfer(user=ALICE, sub_account=BOB, is_deposit=True, amount=D(10)),
        InvalidAction,
        "sub_account",
        "is not a sub-account of",
    )


def test_sub_account_transfer_to_unknown_address() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.SubAccountTransfer(user=ALICE, sub_account=CAROL, is_deposit=True, amount=D(10)),
        InvalidAction,
        "sub_account",
        "unknown user",
    )


def test_sub_account_transfer_malformed_sub_account() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.SubAccountTransfer(user=ALICE, sub_account="desk", is_deposit=True, amount=D(10)),
        InvalidAction,
        "sub_account",
        "not a 0x-prefixed",
    )


def test_sub_account_transfer_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    sub = sub_of(ex, ALICE, "desk")
    reject(
        ex,
        A.SubAccountTransfer(user=ALICE, sub_account=sub, is_deposit=True, amount=D("100.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 100",
    )
    ex.apply(A.SubAccountTransfer(user=ALICE, sub_account=sub, is_deposit=True, amount=D(60)))
    reject(
        ex,
        A.SubAccountTransfer(user=ALICE, sub_account=sub, is_deposit=False, amount=D("60.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds withdrawable 60",
    )


# --------------------------------------------------------------------------- SetAbstraction
@pytest.mark.parametrize("target", ["unifiedAccount", "portfolioMargin"])
def test_set_abstraction_with_open_position(target: str) -> None:
    """Hyperliquid docs 'Portfolio margin' FAQ: "no open positions, open orders, or active TWAP orders before
    enabling"."""
    ex = gated()
    long_btc(ex, usdc="20000")
    reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction=target),
        ModeError,
        "abstraction",
        "close all open positions",
    )


def test_set_abstraction_back_to_standard_with_open_position() -> None:
    ex = hl()
    for u in (ALICE, BOB):
        ex.apply(A.Deposit(user=u, amount=D(10000)))
        ex.apply(A.SetAbstraction(user=u, abstraction="unifiedAccount"))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.01"), px=D(100000)))
    reject(
        ex,
        A.SetAbstraction(user=BOB, abstraction="disabled"),
        ModeError,
        "abstraction",
        "close all open positions",
    )


@pytest.mark.parametrize("usdc", ["5000", "10000"])
def test_set_abstraction_pm_without_eligibility(usdc: str) -> None:
    """Hyperliquid docs 'Portfolio margin': "Master account >$5M in weighted volume or account value >$10k"
    (strictly above)."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(usdc)))
    reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"),
        ModeError,
        "abstraction",
        "portfolio margin needs master weighted volume above 5,000,000 USDC "
        "or account value above 10,000 USDC",
    )
    ex.apply(A.Deposit(user=ALICE, amount=D("10000.00000001") - D(usdc)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))  # > $10k now


def test_set_abstraction_pm_prealpha_volume_gate_only() -> None:
    """Pre-alpha (Hyperliquid docs 'Portfolio margin') had no account-value route: $1M of value without volume
    is refused."""
    ex = priced(Exchange("hyperliquid-prealpha"))
    ex.apply(A.Deposit(user=ALICE, amount=D(1000000)))
    err = reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"),
        ModeError,
        "abstraction",
        "portfolio margin needs master weighted volume above 5,000,000 USDC",
    )
    assert "or account value" not in err.rule


def test_set_abstraction_pm_sub_account_uses_master_volume() -> None:
    """A sub-account is gated by its master's volume and its own value (Hyperliquid docs 'Portfolio
    margin')."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(20000)))
    sub = sub_of(ex, ALICE, "desk")
    ex.apply(A.SubAccountTransfer(user=ALICE, sub_account=sub, is_deposit=True, amount=D(5000)))
    reject(
        ex,
        A.SetAbstraction(user=sub, abstraction="portfolioMargin"),
        ModeError,
        "abstraction",
        "account value 5,000.00",
    )


def _capped(cap: str) -> Exchange:
    def mutate(d: dict[str, Any]) -> None:
        d["portfolio_margin"]["eligibility"]["max_account_value"] = cap

    return priced(Exchange(config_with(mutate=mutate)))


@pytest.mark.parametrize("usdc", ["50000", "50000.00000001", "80000"])
def test_set_abstraction_pm_account_value_at_or_above_cap(usdc: str) -> None:
    """Hyperliquid docs 'Portfolio margin': "Account value <$25M" (here a 50,000 cap): at or above the cap is
    refused."""
    ex = _capped("50000")
    ex.apply(A.Deposit(user=ALICE, amount=D(usdc)))
    reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"),
        ModeError,
        "abstraction",
        "is not below the 50,000 USDC limit",
    )


def test_set_abstraction_pm_account_value_counts_spot_tokens() -> None:
    """Spot collateral counts toward the cap: 30,000 USDC + 1,000 HYPE x $40 = 70,000 >= 50,000."""
    ex = _capped("50000")
    ex.apply(A.Deposit(user=ALICE, amount=D(30000)))
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(1000)))
    reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"),
        ModeError,
        "abstraction",
        "account value 70,000.00 USDC is not below the 50,000 USDC limit",
    )


def test_set_abstraction_pm_just_below_cap_is_accepted() -> None:
    ex = _capped("50000")
    ex.apply(A.Deposit(user=ALICE, amount=D("49999.99999999")))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))


@pytest.mark.parametrize("target", ["disabled", "unifiedAccount"])
def test_leave_pm_with_outstanding_borrow(target: str) -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(100)))
    reject(
        ex,
        A.SetAbstraction(user=ALICE, abstraction=target),
        ModeError,
        "abstraction",
        "repay all borrows before leaving portfolio margin",
    )


def test_set_abstraction_unknown_user() -> None:
    reject(
        hl(),
        A.SetAbstraction(user=CAROL, abstraction="unifiedAccount"),
        InvalidAction,
        "user",
        "unknown user",
    )


# --------------------------------------------------------------------------- UpdateLeverage
def _funded() -> Exchange:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    return ex


@pytest.mark.parametrize("leverage", [0, -1, 41, 100])
def test_update_leverage_out_of_range(leverage: int) -> None:
    """Hyperliquid docs 'Margining': leverage is an integer from 1 to the asset's max (BTC 40x)."""
    reject(
        _funded(),
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=leverage),
        InvalidAction,
        "leverage",
        "must be between 1 and 40 for BTC",
    )


def test_update_leverage_above_max_for_builder_perp() -> None:
    reject(
        _funded(),
        A.UpdateLeverage(user=ALICE, asset="xyz:NVDA", is_cross=False, leverage=11),
        InvalidAction,
        "leverage",
        "must be between 1 and 10 for xyz:NVDA",
    )


@pytest.mark.parametrize("leverage", [2.5, D("10"), "10", True, None])
def test_update_leverage_non_integer(leverage: Any) -> None:
    reject(
        _funded(),
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=leverage),
        InvalidAction,
        "leverage",
        "must be an integer",
    )


def test_update_leverage_cross_on_strict_isolated_asset() -> None:
    """Hyperliquid docs 'Margining': strictIsolated assets have no cross margin (``xyz:NVDA``)."""
    reject(
        _funded(),
        A.UpdateLeverage(user=ALICE, asset="xyz:NVDA", is_cross=True, leverage=5),
        InvalidAction,
        "is_cross",
        "xyz:NVDA allows isolated margin only (strictIsolated)",
    )


def test_update_leverage_unknown_asset() -> None:
    reject(
        _funded(),
        A.UpdateLeverage(user=ALICE, asset="FOO", is_cross=True, leverage=5),
        UnknownEntity,
        "asset",
        "unknown perp 'FOO'",
    )


@pytest.mark.parametrize(("opened_cross", "to_cross"), [(True, False), (False, True)])
def test_update_leverage_switch_margin_mode_with_open_position(opened_cross: bool, to_cross: bool) -> None:
    ex = hl()
    long_btc(ex, sz="0.01", leverage=10, cross=opened_cross)
    reject(
        ex,
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=to_cross, leverage=10),
        ModeError,
        "is_cross",
        "cannot switch between cross and isolated with an open position",
    )


def test_update_leverage_lowering_cross_without_margin() -> None:
    """1,000 USDC carries 0.19 BTC at 20x (IM 950) but not at 10x (IM 1,900)."""
    ex = hl()
    long_btc(ex, sz="0.19", leverage=20, usdc="1000")
    reject(
        ex,
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=10),
        InsufficientMargin,
        "leverage",
        "cross account value 1000 is below its initial margin 1900",
    )
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=19))  # IM 1,000: still covered


def test_update_leverage_lowering_isolated_without_margin() -> None:
    """Isolated 0.1 BTC at 20x holds 500 margin; 10x needs 1,000."""
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, cross=False, usdc="5000")
    reject(
        ex,
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=False, leverage=10),
        InsufficientMargin,
        "leverage",
        "isolated margin 500 is below 10x initial margin 1000",
    )


def test_update_leverage_lowering_cross_unified_without_margin() -> None:
    ex = hl()
    for u, amt in ((ALICE, 1000), (BOB, 100000)):
        ex.apply(A.Deposit(user=u, amount=D(amt)))
        ex.apply(A.SetAbstraction(user=u, abstraction="unifiedAccount"))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.19"), px=D(100000)))
    reject(
        ex,
        A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=10),
        InsufficientMargin,
        "leverage",
        "short of 900 USDC",
    )


# --------------------------------------------------------------------------- UpdateIsolatedMargin
def test_update_isolated_margin_without_position() -> None:
    reject(
        _funded(),
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D(10)),
        InvalidAction,
        "asset",
        "no open BTC position",
    )


def test_update_isolated_margin_on_cross_position() -> None:
    ex = hl()
    long_btc(ex, sz="0.01")
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D(10)),
        InvalidAction,
        "asset",
        "the BTC position is cross margined",
    )


def test_update_isolated_margin_remove_below_transfer_requirement() -> None:
    """Hyperliquid docs 'Margining': max(IM, 10% notional). 0.1 BTC isolated at 20x: IM 500, 10% of 10,000 =
    1,000 rules."""
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, cross=False)
    ex.apply(A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D(1000)))  # margin 1,500
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D("-500.00000001")),
        InsufficientMargin,
        "amount",
        "below the transfer margin requirement 1000",
    )
    ex.apply(A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D(-500)))
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D("-0.00000001")),
        InsufficientMargin,
        "amount",
        "below the transfer margin requirement 1000",
    )


def test_update_isolated_margin_add_beyond_cross_balance() -> None:
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, cross=False, usdc="1000")  # 500 left in the cross balance
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D("500.00000001")),
        InsufficientMargin,
        "amount",
        "below its initial margin",
    )


def _nvda_long() -> Exchange:
    """Unified ALICE long 1 xyz:NVDA (strictIsolated) at 180, 5x."""
    ex = hl()
    for u, amt in ((ALICE, 1000), (BOB, 100000)):
        ex.apply(A.Deposit(user=u, amount=D(amt)))
        ex.apply(A.SetAbstraction(user=u, abstraction="unifiedAccount"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="xyz:NVDA", is_cross=False, leverage=5))
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="xyz:NVDA", sz=D(1), px=D(180)))
    ex.apply(A.UpdateIsolatedMargin(user=ALICE, asset="xyz:NVDA", amount=D(100)))  # adding is allowed
    return ex


def test_update_isolated_margin_remove_from_strict_isolated() -> None:
    """Hyperliquid docs 'Margining': under strictIsolated "margin cannot be removed"."""
    ex = _nvda_long()
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="xyz:NVDA", amount=D(-1)),
        InvalidAction,
        "amount",
        "xyz:NVDA is strictIsolated: margin cannot be removed",
    )


def test_update_isolated_margin_zero() -> None:
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, cross=False)
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D(0)),
        InvalidAction,
        "amount",
        "must not be zero",
    )


def test_update_isolated_margin_too_many_decimals() -> None:
    ex = hl()
    long_btc(ex, sz="0.1", leverage=20, cross=False)
    reject(
        ex,
        A.UpdateIsolatedMargin(user=ALICE, asset="BTC", amount=D("1.000000001")),
        InvalidAmount,
        "amount",
        "more than 8 decimals",
    )


# --------------------------------------------------------------------------- BorrowLend
@pytest.mark.parametrize("mode", ["disabled", "unifiedAccount"])
def test_borrow_outside_portfolio_margin(mode: str) -> None:
    ex = hl()
    fund_lender(ex, "10000")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(1000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction=mode))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(10)),
        ModeError,
        "operation",
        "borrowing requires portfolio margin",
    )


def test_borrow_beyond_ltv_capacity() -> None:
    """Hyperliquid docs 'Portfolio margin': up to token_balance x borrow_oracle_price x ltv = 1,000 x 40 x
    0.65 = 26,000."""
    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("26000.00000001")),
        InsufficientMargin,
        "amount",
        "exceeds LTV capacity 26000",
    )
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(20000)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("6000.00000001")),
        InsufficientMargin,
        "amount",
        "exceeds LTV capacity 6000",
    )


def test_borrow_without_collateral() -> None:
    ex = gated()
    fund_lender(ex, "10000")
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="portfolioMargin"))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(1)),
        InsufficientMargin,
        "amount",
        "exceeds LTV capacity 0.0",
    )


def test_borrow_non_borrowable_token() -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="UETH", amount=D(1)),
        InvalidAction,
        "token",
        "UETH is not borrowable",
    )


def test_borrow_beyond_user_borrow_cap_prealpha() -> None:
    """Pre-alpha per-user cap borrow_cap(USDC) = 1000 (Hyperliquid docs 'Portfolio margin');
    200 HYPE x 40 x 0.5 = 4,000 of LTV room."""
    ex = gated("hyperliquid-prealpha")
    fund_lender(ex, "100000")
    pm_hype(ex, hype="200")
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("1000.00000001")),
        CapReached,
        "amount",
        "user borrow cap of 1000 USDC reached",
    )
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(600)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("400.00000001")),
        CapReached,
        "amount",
        "user borrow cap of 1000 USDC reached",
    )


def test_borrow_beyond_global_borrow_cap() -> None:
    ex = gated(USDC={"global_borrow_cap": "1500", "user_borrow_cap": "1000"})
    fund_lender(ex, "100000")
    pm_hype(ex, ALICE)
    pm_hype(ex, BOB)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(1000)))
    reject(
        ex,
        A.BorrowLend(user=BOB, operation="borrow", token="USDC", amount=D("500.00000001")),
        CapReached,
        "amount",
        "global borrow cap of 1500 USDC reached",
    )
    ex.apply(A.BorrowLend(user=BOB, operation="borrow", token="USDC", amount=D(500)))


def test_borrow_beyond_reserve_liquidity() -> None:
    ex = hl()
    fund_lender(ex, "1000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D("1000.00000001")),
        LiquidityError,
        "amount",
        "reserve USDC has only 1000 to lend",
    )


def test_supply_beyond_user_supply_cap_prealpha() -> None:
    """Pre-alpha supply_cap(HYPE) = 200 (Hyperliquid docs 'Portfolio margin')."""
    ex = gated("hyperliquid-prealpha")
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(300)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="supply", token="HYPE", amount=D("200.00000001")),
        CapReached,
        "amount",
        "user supply cap of 200 HYPE reached",
    )
    ex.apply(A.BorrowLend(user=ALICE, operation="supply", token="HYPE", amount=D(150)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="supply", token="HYPE", amount=D(51)),
        CapReached,
        "amount",
        "user supply cap of 200 HYPE reached",
    )


def test_supply_beyond_free_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="supply", token="HYPE", amount=D("10.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds free balance 10",
    )


def test_supply_token_neither_borrowable_nor_collateral() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, token="UETH", amount=D(1)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="supply", token="UETH", amount=D("0.5")),
        InvalidAction,
        "token",
        "UETH is neither a borrowable nor a collateral asset",
    )


def test_withdraw_supply_at_full_utilization() -> None:
    """Hyperliquid docs 'Portfolio margin' FAQ: at 100% utilization suppliers cannot withdraw until supply is
    added or repaid."""
    ex = hl()
    fund_lender(ex, "1000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(1000)))
    err = reject(
        ex,
        A.BorrowLend(user=LENDER, operation="withdraw", token="USDC", amount=D(1)),
        LiquidityError,
        "amount",
        "withdrawals wait for new supply or repayments",
    )
    assert "utilization 100.00%" in err.rule
    reject(
        ex,
        A.BorrowLend(user=LENDER, operation="withdraw", token="USDC"),
        LiquidityError,
        "amount",
        "reserve USDC holds only 0.0",
    )


def test_withdraw_supply_beyond_supplied() -> None:
    ex = hl()
    fund_lender(ex, "1000")
    reject(
        ex,
        A.BorrowLend(user=LENDER, operation="withdraw", token="USDC", amount=D("1000.00000001")),
        InsufficientBalance,
        "amount",
        "exceeds supplied 1000 USDC",
    )


def test_withdraw_supply_never_supplied() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="withdraw", token="USDC", amount=D(1)),
        InsufficientBalance,
        "amount",
        "nothing supplied in USDC",
    )


@pytest.mark.parametrize("amount", [D(10), None])
def test_repay_without_borrow(amount: Decimal | None) -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="repay", token="USDC", amount=amount),
        InvalidAction,
        "token",
        "no USDC borrow to repay",
    )


def test_repay_without_borrow_is_rejected() -> None:
    """Repaying a token that is not borrowed names the token."""
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.Deposit(user=ALICE, amount=D(100)))
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="repay", token="USDC", amount=D(10)),
        InvalidAction,
        "token",
        "no USDC borrow to repay",
    )


def test_pm_repay_beyond_balance() -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(100)))
    ex.apply(A.Deposit(user=BOB, token="HYPE", amount=D(10)))
    ex.apply(
        A.SettleFill(buyer=ALICE, seller=BOB, asset="@107", sz=D("2.5"), px=D(40))
    )  # spends the 100 USDC
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="repay", token="USDC", amount=D(100)),
        InsufficientBalance,
        "amount",
        "USDC",
    )
    assert usdc_borrowed(ex, ALICE) == 100 * 10**8


@pytest.mark.parametrize("operation", ["supply", "withdraw", "borrow", "repay"])
@pytest.mark.parametrize("token", ["NOTATOKEN", 9999, "9999"])  # PURR is a real token (index 1)
def test_borrow_lend_unknown_token(operation: str, token: int | str) -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation=operation, token=token, amount=D(1)),
        UnknownEntity,  # type: ignore[arg-type]
        "token",
        "unknown token",
    )


@pytest.mark.parametrize("operation", ["supply", "withdraw", "borrow", "repay"])
def test_borrow_lend_zero_amount(operation: str) -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation=operation, token="USDC", amount=D(0)),
        InvalidAmount,  # type: ignore[arg-type]
        "amount",
        "must be positive",
    )


def test_borrow_without_amount() -> None:
    ex = hl()
    fund_lender(ex, "10000")
    pm_hype(ex)
    reject(
        ex,
        A.BorrowLend(user=ALICE, operation="borrow", token="USDC"),
        InsufficientMargin,
        "amount",
        "borrow needs an explicit amount",
    )


# --------------------------------------------------------------------------- SettleFill
def test_settle_fill_opening_beyond_margin_standard() -> None:
    """Hyperliquid docs 'Margining': IM = size x price / leverage; 1,000 USDC at 20x carries 20,000 of BTC,
    not more."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(1000)))
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.20001"), px=D(100000)),
        InsufficientMargin,
        "buyer",
        "dex main cross account value 1000 is below its initial margin 1000.05",
    )
    reject(
        ex,
        A.SettleFill(buyer=BOB, seller=ALICE, asset="BTC", sz=D("0.20001"), px=D(100000)),
        InsufficientMargin,
        "seller",
        "is below its initial margin 1000.05",
    )
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100000)))


def test_settle_fill_opening_beyond_margin_on_builder_dex_standard() -> None:
    """Standard mode margins each dex apart (Hyperliquid docs 'Account abstraction modes'): main-dex USDC does
    not cover an xyz trade."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100000)))
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="xyz:NVDA", is_cross=False, leverage=5))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="xyz:NVDA", sz=D(1), px=D(180)),
        InsufficientMargin,
        "buyer",
        "dex xyz cross account value -36 is below its initial margin 0.0",
    )


def test_settle_fill_opening_beyond_margin_unified() -> None:
    ex = hl()
    for u, amt in ((ALICE, 1000), (BOB, 100000)):
        ex.apply(A.Deposit(user=u, amount=D(amt)))
        ex.apply(A.SetAbstraction(user=u, abstraction="unifiedAccount"))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.20001"), px=D(100000)),
        InsufficientMargin,
        "buyer",
        "short of 0.05 USDC",
    )
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100000)))


def test_settle_fill_leverage_above_margin_tier() -> None:
    """Hyperliquid docs 'Margin tiers': BTC above 150M notional allows 20x only; a 40x position cannot grow
    past the bound."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000000)))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="BTC", is_cross=True, leverage=40))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D(1600), px=D(100000), check_margin=True),
        InsufficientMargin,
        "buyer",
        "allows at most 20x (margin tier)",
    )


def test_pm_auto_borrow_stopped_by_user_borrow_cap() -> None:
    """Hyperliquid docs 'Portfolio margin': PM falls back to non-PM behaviour when caps are hit. Pre-alpha
    caps the borrow at 1,000 USDC: 0.3 BTC at 20x needs 1,500 of margin, the trade is rejected whole and
    nothing stays borrowed."""
    ex = gated("hyperliquid-prealpha")
    fund_lender(ex, "100000")
    pm_hype(ex, hype="200")  # 200 x 40 x 0.5 = 4,000 of LTV room; the cap binds first
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    reserve_before = views.info(ex, {"type": "borrowLendReserveState", "token": 0})
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.3"), px=D(100000)),
        InsufficientMargin,
        "buyer",
        "short of 500 USDC after auto-borrow, bound by the user borrow cap of 1000 USDC",
    )
    assert usdc_borrowed(ex, ALICE) == 0
    assert views.info(ex, {"type": "borrowLendReserveState", "token": 0}) == reserve_before
    assert ALICE not in ex.state.history.fills
    # within the cap the same account auto-borrows its margin
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.2"), px=D(100000)))
    assert usdc_borrowed(ex, ALICE) == 1000 * 10**8


def test_pm_auto_borrow_stopped_by_ltv() -> None:
    """Same fall-back when LTV binds: 10 HYPE x 40 x 0.65 = 260 USDC of borrowing for 300 of margin."""
    ex = gated()
    fund_lender(ex, "100000")
    pm_hype(ex, hype="10")
    ex.apply(A.Deposit(user=BOB, amount=D(100000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.06"), px=D(100000)),
        InsufficientMargin,
        "buyer",
        "short of 40 USDC after auto-borrow, bound by the LTV capacity (collateral x LTV)",
    )
    assert usdc_borrowed(ex, ALICE) == 0


def test_settle_fill_buyer_is_seller() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=ALICE, asset="BTC", sz=D("0.01"), px=D(100000)),
        InvalidAction,
        "seller",
        "buyer and seller must differ",
    )


@pytest.mark.parametrize(
    ("asset", "rule"),
    [
        ("FOO", "unknown perp 'FOO'"),
        ("xyz:BTC", "unknown perp 'xyz:BTC'"),
        (9999, "unknown perp 9999"),
        ("@9999", "unknown perp '@9999'"),
        (10_000 + 9999, "unknown spot pair 19999"),
    ],
)
def test_settle_fill_unknown_asset(asset: int | str, rule: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset=asset, sz=D("0.01"), px=D(100000)),
        UnknownEntity,
        "asset",
        rule,
    )


@pytest.mark.parametrize(
    ("asset", "px", "decimals"),
    [("BTC", "100000.05", 1), ("ETH", "3000.001", 2), ("HYPE", "40.00001", 4), ("xyz:NVDA", "180.0001", 3)],
)
def test_settle_fill_price_too_many_decimals(asset: str, px: str, decimals: int) -> None:
    """Hyperliquid docs 'Order book': perp prices have at most 6 - szDecimals decimals."""
    ex = hl()
    for u in (ALICE, BOB):
        ex.apply(A.Deposit(user=u, amount=D(100000)))
        ex.apply(A.SetAbstraction(user=u, abstraction="unifiedAccount"))
    ex.apply(A.UpdateLeverage(user=ALICE, asset="xyz:NVDA", is_cross=False, leverage=5))
    ex.apply(A.UpdateLeverage(user=BOB, asset="xyz:NVDA", is_cross=False, leverage=5))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset=asset, sz=D(1), px=D(px)),
        InvalidAction,
        "px",
        f"{asset} prices have at most {decimals} decimals",
    )


def test_settle_fill_spot_price_too_many_decimals() -> None:
    """Hyperliquid docs 'Order book': spot prices have at most 8 - szDecimals decimals (UBTC: 3)."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D(1)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.1"), px=D("100000.0001")),
        InvalidAction,
        "px",
        "@142 prices have at most 3 decimals",
    )


@pytest.mark.parametrize("sz", ["0", "-0.01"])
def test_settle_fill_non_positive_size(sz: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000)))
    error, rule = (
        (InvalidAction, "must be positive") if sz == "0" else (InvalidAmount, "must not be negative")
    )
    reject(ex, A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D(sz), px=D(100000)), error, "sz", rule)


def test_settle_fill_size_too_many_decimals() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.000001"), px=D(100000)),
        InvalidAmount,
        "sz",
        "more than 5 decimals",
    )


@pytest.mark.parametrize("px", ["0", "-100000"])
def test_settle_fill_non_positive_price(px: str) -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=D("0.01"), px=D(px)),
        InvalidAmount,
        "px",
        "must be positive" if px == "0" else "must not be negative",
    )


def test_settle_fill_without_oracle_price() -> None:
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": "100000"}), at=T0)
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    ex.apply(A.Deposit(user=BOB, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="SOL", sz=D(1), px=D(150)),
        InvalidAction,
        "asset",
        "SOL has no oracle price yet",
    )


def test_settle_fill_unknown_counterparty() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(10000)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=CAROL, asset="BTC", sz=D("0.01"), px=D(100000)),
        InvalidAction,
        "seller",
        "unknown user",
    )
    reject(
        ex,
        A.SettleFill(buyer=CAROL, seller=ALICE, asset="BTC", sz=D("0.01"), px=D(100000)),
        InvalidAction,
        "buyer",
        "unknown user",
    )


def test_settle_fill_spot_sell_beyond_balance() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100000)))
    ex.apply(A.UsdClassTransfer(user=ALICE, amount=D(100000), to_perp=False))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D("0.5")))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.50001"), px=D(100000)),
        InsufficientBalance,
        "seller",
        "spot balance short of 0.00001 UBTC",
    )
    ex.apply(A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.5"), px=D(100000)))


def test_settle_fill_spot_buy_beyond_quote_balance() -> None:
    """A standard account's USDC sits on the perp balance after a deposit: it cannot buy spot with it."""
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100000)))
    ex.apply(A.Deposit(user=BOB, token="UBTC", amount=D(1)))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="@142", sz=D("0.1"), px=D(100000)),
        InsufficientBalance,
        "buyer",
        "spot balance short of 10000 USDC",
    )


def test_settle_fill_spot_sell_beyond_balance_unified() -> None:
    ex = hl()
    ex.apply(A.Deposit(user=ALICE, amount=D(100000)))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction="unifiedAccount"))
    ex.apply(A.Deposit(user=BOB, token="HYPE", amount=D(10)))
    ex.apply(A.SetAbstraction(user=BOB, abstraction="unifiedAccount"))
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="@107", sz=D("10.01"), px=D(40)),
        InsufficientBalance,
        "seller",
        "short of 0.01 HYPE",
    )


# --------------------------------------------------------------------------- SetPrices
@pytest.mark.parametrize(
    ("update", "field", "rule"),
    [
        (A.SetPrices(oracle={"FOO": D(1)}), "oracle.FOO", "unknown perp 'FOO'"),
        (A.SetPrices(marks={"xyz:FOO": D(1)}), "marks.xyz:FOO", "unknown perp 'xyz:FOO'"),
        (A.SetPrices(spot={"@9999": D(1)}), "spot.@9999", "unknown spot pair '@9999'"),
        (A.SetPrices(oracle={"BTC": D(100000), "FOO": D(1)}), "oracle.FOO", "unknown perp 'FOO'"),
    ],
)
def test_set_prices_unknown_coin(update: A.SetPrices, field: str, rule: str) -> None:
    """All keys are validated before anything is written: the valid BTC update is not applied either."""
    reject(hl(), update, UnknownEntity, field, rule)


@pytest.mark.parametrize(
    ("update", "field", "rule"),
    [
        (A.SetPrices(oracle={"BTC": D(0)}), "oracle.BTC", "price must be positive"),
        (A.SetPrices(oracle={"BTC": D(-1)}), "oracle.BTC", "must not be negative"),
        (A.SetPrices(marks={"ETH": D(0)}), "marks.ETH", "price must be positive"),
        (A.SetPrices(spot={"@107": D(-40)}), "spot.@107", "must not be negative"),
        (A.SetPrices(usdc_oracle=D(0)), "usdc_oracle", "price must be positive"),
        (A.SetPrices(oracle={"ETH": D(3100)}, spot={"@142": D(0)}), "spot.@142", "price must be positive"),
    ],
)
def test_set_prices_non_positive(update: A.SetPrices, field: str, rule: str) -> None:
    reject(hl(), update, InvalidAmount, field, rule)


@pytest.mark.parametrize(
    ("update", "field"),
    [
        (A.SetPrices(oracle={"BTC": D("100000.000000001")}), "oracle.BTC"),
        (A.SetPrices(marks={"BTC": D("100000.000000001")}), "marks.BTC"),
        (A.SetPrices(spot={"@107": D("40.000000001")}), "spot.@107"),
        (A.SetPrices(usdc_oracle=D("1.000000001")), "usdc_oracle"),
    ],
)
def test_set_prices_too_many_decimals(update: A.SetPrices, field: str) -> None:
    reject(hl(), update, InvalidAmount, field, "more than 8 decimals")


def test_set_prices_non_numeric() -> None:
    reject(hl(), A.SetPrices(oracle={"BTC": "cheap"}), InvalidAmount, "oracle.BTC", "not a decimal number")  # type: ignore[dict-item]


def test_set_prices_empty_update() -> None:
    reject(hl(), A.SetPrices(), InvalidAction, "oracle", "no prices given")


def test_set_prices_rejection_does_not_rebalance_pm_accounts() -> None:
    """A price update is global (every PM account is rebalanced); a rejected one touches no account."""
    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(1000)))
    reject(
        ex,
        A.SetPrices(oracle={"HYPE": D(20), "BTC": D(-1)}),
        InvalidAmount,
        "oracle.BTC",
        "must not be negative",
    )


# --------------------------------------------------------------------------- time
def test_time_going_backwards() -> None:
    ex = hl()
    ex.apply(A.AdvanceTime(), at=5_000)
    err = reject(
        ex,
        A.Deposit(user=ALICE, amount=D(100)),
        InvalidAction,
        "time",
        "4000 is before the exchange clock 5000; time never goes back",
        at=4_000,
    )
    assert ALICE not in ex.state.accounts
    assert err.rule.startswith("4000")


@pytest.mark.parametrize("at", [-1, 1.5, True, "6000"])
def test_time_not_a_millisecond_integer(at: Any) -> None:
    ex = hl()
    reject(
        ex, A.AdvanceTime(), InvalidAction, "time", "must be a non-negative integer of milliseconds", at=at
    )


def test_same_timestamp_is_accepted() -> None:
    ex = hl()
    ex.apply(A.AdvanceTime(), at=5_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(100)), at=5_000)
    assert ex.state.time_ms == 5_000


def test_rejected_action_with_later_timestamp_keeps_only_the_clock_advance() -> None:
    """``Exchange.apply`` documents that the clock advance stands when the action is rejected: the result must
    equal a bare ``AdvanceTime`` to the same instant (hourly interest included), and nothing of the action."""

    def borrowed_book() -> Exchange:
        ex = hl()
        fund_lender(ex, "10000")
        pm_hype(ex)
        ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(5000)))
        return ex

    later = T0 + 2 * 3_600_000
    rejected, reference = borrowed_book(), borrowed_book()
    with pytest.raises(InsufficientBalance):
        rejected.apply(A.Withdraw(user=ALICE, amount=D(5000)), at=later)
    reference.apply(A.AdvanceTime(), at=later)
    assert rejected.state.time_ms == later
    assert rejected.state_hash() == reference.state_hash()
    assert rejected.state.history == reference.state.history
    assert rejected.state.history.interest  # the hourly indexing did run


def test_collateral_cover_reads_the_prior_account_only_when_the_answer_depends_on_it() -> None:
    """The health factor rule ('Portfolio margin FAQ') with ``before`` given as a function: called only when
    the account is not covered on its own, and then the same answer as with the account itself. 1000 HYPE
    supplied at $40 against 13,000 USDC borrowed is covered (power 26,000); with 600 HYPE gone it is not
    (400 x 40 x 0.65 = 10,400 of 13,000: 80%)."""
    from netclear.engine.solvency import require_collateral_cover

    ex = hl()
    fund_lender(ex, "100000")
    pm_hype(ex)
    ex.apply(A.BorrowLend(user=ALICE, operation="borrow", token="USDC", amount=D(13000)))
    acct = ex.state.accounts[ALICE]
    v = ex.valuer()
    calls: list[str] = []

    def prior() -> Any:
        calls.append("read")
        return acct

    require_collateral_cover(v, acct, before=prior)
    assert calls == []  # covered: the prior account is never rebuilt
    hype = ex.registry.token("HYPE").index
    poorer = acct.clone()
    poorer.supply_basis[hype] -= 600 * 10 ** ex.registry.token("HYPE").wei_decimals  # 400 HYPE left
    for before in (acct, prior):
        with pytest.raises(InsufficientMargin, match=r"health factor would be 80\.0000%"):
            require_collateral_cover(v, poorer, before=before)
    assert calls == ["read"]
    require_collateral_cover(v, poorer, before=poorer.clone())  # not worse than before: allowed
