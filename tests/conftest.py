"""Shared test helpers: addresses, exchanges built from presets with overrides, money helpers."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from netclear.config import parse_config, preset_data
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
CAROL = "0x" + "c0" * 20
LENDER = "0x" + "1e" * 20
MAKER = "0x" + "ee" * 20


def config_with(preset: str = "hyperliquid", **edits: Any) -> Any:
    """A preset with edits applied: ``{"perps.ETH.max_leverage": 50, "collateral.HYPE.ltv": "0.5"}``
    style keys are given as a dict under ``edits["paths"]``; ``mutate`` may be a callable."""
    data = copy.deepcopy(preset_data(preset))
    mutate = edits.get("mutate")
    if mutate is not None:
        mutate(data)
    return parse_config(data, source=f"test:{preset}")


def exchange(preset: str = "hyperliquid", mutate: Any = None) -> Exchange:
    return Exchange(config_with(preset, mutate=mutate) if mutate else preset)


def set_collateral(data: dict[str, Any], token: str, **fields: Any) -> None:
    for c in data["portfolio_margin"]["collateral"]:
        if c["token"] == token:
            c.update(fields)
            return
    raise KeyError(token)


def set_perp(data: dict[str, Any], name: str, **fields: Any) -> None:
    for p in data["perps"]:
        if p["name"] == name and p.get("dex", "") == "":
            p.update(fields)
            return
    raise KeyError(name)


def open_gates(data: dict[str, Any]) -> None:
    """Let any account enable portfolio margin (eligibility is tested on its own)."""
    el = data["portfolio_margin"]["eligibility"]
    el["min_weighted_volume"] = "0"
    el["min_account_value"] = "0"
    el["max_account_value"] = "1000000000000"


def usdc(x: str | int) -> int:
    """USDC amount in wei (8 decimals)."""
    return int(Decimal(str(x)) * 10**8)


def fund_lender(ex: Exchange, amount: str = "1000000", token: str = "USDC", user: str = LENDER) -> None:
    """A unified account that supplies ``amount`` so borrowers have liquidity."""
    ex.apply(A.Deposit(user=user, amount=Decimal(amount), token=token))
    ex.apply(A.SetAbstraction(user=user, abstraction="unifiedAccount"))
    ex.apply(A.BorrowLend(user=user, operation="supply", token=token, amount=Decimal(amount)))


@pytest.fixture
def hl() -> Exchange:
    return Exchange("hyperliquid")
