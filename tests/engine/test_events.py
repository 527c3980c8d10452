"""Typed events (engine/events.py): every kind round-trips through msgspec by its ``kind`` tag, and an
action's events are the structs with the amounts known by hand (integer units, token/asset index)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import get_args

import msgspec
import pytest

from netclear.engine import actions as A
from netclear.engine import events as E
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from tests.conftest import ALICE, BOB

U = 10**8  # USDC wei decimals (8) and PX_DECIMALS (8)

ONE_OF_EACH: list[E.Event] = [
    E.Deposit(user=ALICE, token=0, amount=5 * U),
    E.Withdraw(user=ALICE, token=0, amount=U),
    E.UsdSend(user=ALICE, destination=BOB, token=0, amount=2),
    E.SpotSend(user=ALICE, destination=BOB, token=150, amount=3),
    E.UsdClassTransfer(user=ALICE, token=0, amount=7, to_perp=False, dex="xyz"),
    E.SendAsset(user=ALICE, destination=BOB, source_dex="", destination_dex="spot", token=0, amount=9),
    E.SubAccountTransfer(user=ALICE, sub_account=BOB, is_deposit=True, token=0, amount=11),
    E.CreateSubAccount(user=ALICE, sub_account=BOB, name="desk"),
    E.BorrowLend(user=ALICE, operation="supply", token=0, amount=13),
    E.Abstraction(user=ALICE, previous="default", abstraction="unifiedAccount"),
    E.PmEligibility(user=ALICE, eligible=True),
    E.DexAbstraction(user=ALICE, enabled=False),
    E.Leverage(user=ALICE, asset=0, is_cross=True, leverage=20),
    E.IsolatedMargin(user=ALICE, asset=1, token=0, amount=-17),
    E.ApproveAgent(user=ALICE, agent=BOB, name=None),
    E.OrderStatuses(user=ALICE, statuses=["success", {"resting": {"oid": 1}}, {"error": "no"}]),
    E.Triggered(user=ALICE, oid=3, status={"filled": {"totalSz": "0.05", "avgPx": "84889", "oid": 3}}),
    E.ScheduleCancel(user=ALICE, time=None),
    E.Fill(tid=1, asset=10_107, px=25 * U, sz=4, buyer=ALICE, seller=BOB),
    E.Prices(count=3),
    E.Liquidation(
        user=ALICE, leverage_type="Cross", outcome="market", positions=[{"coin": "BTC", "szi": "0.1"}]
    ),
    E.Adl(user=ALICE, asset=0, px=100_000 * U, counterparties=[BOB]),
    E.BadDebt(user=BOB, token=0, amount=19),
    E.PmTakeover(user=ALICE, share="1/4", collateral_share="1/3", health="partial"),
]


def test_one_of_each_covers_the_union() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(get_args(E.Event))
    assert len({e.kind for e in ONE_OF_EACH}) == len(ONE_OF_EACH) == 24


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.kind)
def test_round_trip(event: E.Event) -> None:
    for encode, decode in (
        (msgspec.json.encode, msgspec.json.decode),
        (msgspec.msgpack.encode, msgspec.msgpack.decode),
    ):
        data = encode(event)
        back = decode(data, type=E.Event)
        assert back == event and type(back) is type(event)
        assert back.kind == event.kind and back.user == event.user


def test_wire_names_and_tag() -> None:
    """Encoded: ``kind`` is the tag (today's kind string), fields take their camelCase wire names."""
    raw = msgspec.json.decode(msgspec.json.encode(ONE_OF_EACH[4]))
    assert raw == {
        "kind": "usdClassTransfer",
        "user": ALICE,
        "token": 0,
        "amount": 7,
        "toPerp": False,
        "dex": "xyz",
    }
    raw = msgspec.json.decode(msgspec.json.encode(E.Prices(count=3)))
    assert raw == {"kind": "prices", "user": None, "count": 3}


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ONE_OF_EACH[0].amount = 1  # type: ignore[misc, union-attr]


def test_deposit_and_transfer_events_are_typed() -> None:
    ex = Exchange("hyperliquid")
    # 1,000.5 USDC in 8-decimal wei units; USDC is token 0
    assert ex.apply(A.Deposit(user=ALICE, amount=D("1000.5"))) == [
        E.Deposit(user=ALICE, token=0, amount=100_050_000_000)
    ]
    assert ex.apply(A.UsdClassTransfer(user=ALICE, amount=D("0.25"), to_perp=False)) == [
        E.UsdClassTransfer(user=ALICE, token=0, amount=25_000_000, to_perp=False, dex="")
    ]
    assert ex.apply(A.UsdSend(user=ALICE, destination=BOB, amount=D("1"))) == [
        E.UsdSend(user=ALICE, destination=BOB, token=0, amount=U)
    ]


def test_trade_events_are_typed() -> None:
    """A resting bid hit by an IOC sell: one ``Fill`` (BTC is asset 0, 5 size decimals) between the two
    orders' statuses; price in PX_DECIMALS units, size in lots."""
    ex = Exchange("hyperliquid")
    ex.apply(A.SetPrices(oracle={"BTC": D(100_000)}))
    for user in (ALICE, BOB):
        ex.apply(A.Deposit(user=user, amount=D(100_000)))

    def place(user: str, is_buy: bool, tif: str) -> list[E.Event]:
        spec = O.OrderSpec(asset="BTC", is_buy=is_buy, px=D(100_000), sz=D("0.1"), limit=O.LimitSpec(tif))  # type: ignore[arg-type]
        return ex.apply(O.PlaceOrder(user=user, orders=[spec]))

    bid = place(ALICE, True, "Gtc")
    assert bid == [E.OrderStatuses(user=ALICE, statuses=[{"resting": {"oid": 1}}])]
    sell = place(BOB, False, "Ioc")
    fills = [e for e in sell if isinstance(e, E.Fill)]
    assert fills == [E.Fill(tid=fills[0].tid, asset=0, px=100_000 * U, sz=10_000, buyer=ALICE, seller=BOB)]
    (status,) = [e for e in sell if isinstance(e, E.OrderStatuses)]
    assert status.user == BOB
    assert status.statuses == [{"filled": {"totalSz": "0.1", "avgPx": "100000", "oid": 2}}]
