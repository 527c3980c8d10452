"""``netclear.sdk.borrow_lend``: borrowLend signed by the official SDK's own functions (issue 9, defect 9).

A unified account (Hyperliquid's "Account abstraction modes": one balance for spot and perps) supplies
100 of its 5,000 USDC and withdraws it all; the reserve and user views and the ledger show each step.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]

from netclear.sdk import borrow_lend, borrow_lend_action

if TYPE_CHECKING:
    from tests.api.conftest import Server

OK = {"status": "ok", "response": {"type": "default"}}


def test_supply_and_withdraw_through_the_sdk(server: Server) -> None:
    wallet = server.funded_wallet(5_000)
    user = wallet.address.lower()
    ex = Exchange(wallet, server.url)
    assert ex.user_set_abstraction(user, "unifiedAccount")["status"] == "ok"
    assert borrow_lend(ex, "supply", "USDC", "100") == OK
    [[token, state]] = server.info({"type": "borrowLendUserState", "user": user})["tokenToState"]
    assert token == 0 and Decimal(state["supply"]["value"]) == 100
    assert borrow_lend(ex, "withdraw", 0) == OK  # amount None: everything supplied
    assert server.info({"type": "borrowLendUserState", "user": user})["tokenToState"] == []
    ledger = server.info({"type": "userNonFundingLedgerUpdates", "user": user})
    ops = [
        (d["delta"]["operation"], d["delta"]["amount"]) for d in ledger if d["delta"]["type"] == "borrowLend"
    ]
    assert ops[0] == ("supply", "100") and ops[1][0] == "withdraw" and Decimal(ops[1][1]) >= 100
    # a rejection comes back as the SDK's error shape, naming the rule
    answer = borrow_lend(ex, "repay", "USDC", "1")
    assert answer["status"] == "err" and "no USDC borrow to repay" in answer["response"]


def test_action_shape_and_bad_arguments() -> None:
    assert borrow_lend_action("borrow", 0, Decimal("12.50")) == {
        "type": "borrowLend",
        "operation": "borrow",
        "token": 0,
        "amount": "12.5",
    }
    assert borrow_lend_action("repay", 0, None)["amount"] is None
    with pytest.raises(ValueError, match="operation"):
        borrow_lend_action("lend", 0, "1")
    with pytest.raises(ValueError, match="amount"):
        borrow_lend_action("supply", 0, "-1")
