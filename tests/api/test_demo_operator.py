"""``--demo`` follows the operator (issue 9, defect 3; docs/api.md "Demo market").

An operator price moves the demo feed's centre (the walk continues from it), the demo maker re-quotes
around the operator's price before that price is applied (so a liquidation it triggers meets a book
quoted there), and ``POST /operator/demo {"running": false|true}`` pauses and resumes the feed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netclear import views
from netclear.api.demo import MAKER, DemoMarket
from netclear.api.server import create_app
from netclear.engine import actions as A
from netclear.fixedpoint import PX_SCALE
from netclear.ledger.node import Node, open_log

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
AUTH = {"authorization": "Bearer tok"}
BTC = 0


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[tuple[TestClient, Node, DemoMarket]]:
    node = Node("hyperliquid", open_log(tmp_path / "demo.sqlite"))
    app = create_app(node, operator_token="tok")
    demo = DemoMarket(node, app.state.writer, period_s=0.02)
    app.state.demo = demo
    demo.start()
    with TestClient(app) as client:
        yield client, node, demo
    demo.stop()
    app.state.writer.stop()
    node.close()


def _ticks(demo: DemoMarket) -> int:
    return int(getattr(demo, "ticks", 0))


def _wait_ticks(demo: DemoMarket, n: int) -> None:
    if not hasattr(demo, "ticks"):  # a demo without a tick counter: wait for n periods
        time.sleep(n * demo.period * 5)
        return
    target = demo.ticks + n
    deadline = time.monotonic() + 30
    while demo.ticks < target:
        assert time.monotonic() < deadline, "the demo feed did not tick"
        time.sleep(0.01)


def _oracle(node: Node, asset: int) -> Decimal:
    return Decimal(node.read(lambda ex: ex.state.prices.oracle[asset])) / PX_SCALE


def _best_bid(node: Node, asset: int) -> Decimal:
    def bid(ex: Any) -> Decimal:
        bids = [o.px for o in ex.state.books[asset].orders_of(MAKER) if o.is_buy]
        return Decimal(max(bids)) / PX_SCALE

    return Decimal(node.read(bid))


def test_operator_price_moves_the_feed_centre(demo_app: tuple[TestClient, Node, DemoMarket]) -> None:
    client, node, demo = demo_app
    start = _ticks(demo)
    body = {"oracle": {"BTC": "80000"}, "marks": {"BTC": "80000"}}
    assert client.post("/operator/prices", json=body, headers=AUTH).status_code == 200
    _wait_ticks(demo, 5)
    # each tick moves the oracle by at most 0.1% (randint(-10, 10) / 10,000); one more may be in flight
    n = _ticks(demo) - start + 1
    bound = Decimal(80_000) * (Decimal("1.001") ** n - 1)
    assert abs(_oracle(node, BTC) - 80_000) <= bound, (_oracle(node, BTC), n)


def test_pause_resume_and_maker_quotes_follow_the_operator_mark(
    demo_app: tuple[TestClient, Node, DemoMarket],
) -> None:
    client, node, demo = demo_app
    assert client.post("/operator/demo", json={"running": False}, headers=AUTH).json() == {
        "status": "ok",
        "running": False,
    }
    # Alice: 2,080 USDC, long 0.1 BTC at 100,000 (Bob the counterparty). Marked 80,000 her equity is
    # 2,080 - 2,000 = 80 < maintenance 8,000 / 80 = 100 and above 2/3 of it: a market liquidation, limit
    # the bankruptcy price 80,000 - 80 / 0.1 = 79,200 (docs/rules/liquidation.md)
    for user, amount in ((ALICE, 2_080), (BOB, 1_000_000)):
        node.submit(A.Deposit(user=user, amount=Decimal(amount)))
    out = node.submit(
        A.SettleFill(buyer=ALICE, seller=BOB, asset="BTC", sz=Decimal("0.1"), px=Decimal(100_000))
    )
    assert out.error is None, out.error
    r = client.post(
        "/operator/prices", json={"oracle": {"BTC": "80000"}, "marks": {"BTC": "80000"}}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    # the maker re-quoted around 80,000 before the price applied: bids 0.05%, 0.1%, 0.15% below (79,960,
    # 79,920, 79,880; 0.25 BTC each, 20,000 / 80,000); the best bought Alice's 0.1
    assert _best_bid(node, BTC) == Decimal(79_960)
    # Alice was liquidated into those bids, not into the old ones near 100,000
    fills = node.read(lambda ex: views.info(ex, {"type": "userFills", "user": ALICE}))
    liq = fills[0]
    assert liq["liquidation"]["method"] == "market" and liq["liquidation"]["markPx"] == "80000"
    assert (liq["px"], liq["sz"]) == ("79960", "0.1")
    # paused (a step in flight at the switch has finished by now): the operator's price stays
    paused_at = _ticks(demo)
    time.sleep(0.2)
    assert _ticks(demo) == paused_at and _oracle(node, BTC) == 80_000
    assert client.post("/operator/demo", json={"running": True}, headers=AUTH).json()["running"] is True
    # resumed: the walk moves on from 80,000 (a seeded walk may revisit 80,000, so wait for a move), at
    # most 0.1% a tick
    start = _ticks(demo)
    for _ in range(20):
        _wait_ticks(demo, 1)
        if _oracle(node, BTC) != 80_000:
            break
    n = _ticks(demo) - start + 1
    assert _oracle(node, BTC) != 80_000
    assert abs(_oracle(node, BTC) - 80_000) <= Decimal(80_000) * (Decimal("1.001") ** n - 1)


def test_demo_switch_without_a_demo_is_refused(tmp_path: Path) -> None:
    node = Node("hyperliquid", open_log(tmp_path / "plain.sqlite"))
    app = create_app(node, operator_token="tok")
    with TestClient(app) as client:
        r = client.post("/operator/demo", json={"running": False}, headers=AUTH)
        assert r.status_code == 409 and "--demo" in r.json()["msg"]
    app.state.writer.stop()
    node.close()
