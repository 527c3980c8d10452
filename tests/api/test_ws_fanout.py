"""Websocket fan-out and bounded history (issue 10 defects 7 and 10).

On main every connection rendered its own subscriptions on the event loop under the node's lock, and
outboxes were unbounded: 200 subscribers cut order throughput from 204 to 21.5 requests/s. Now each
distinct subscription is rendered once per commit and shared as one encoded text; a client that stops
reading is disconnected once :data:`~netclear.api.ws.OUTBOX_LIMIT` messages wait for it. History is
bounded to Hyperliquid's 2,000 most recent records per user (docs "Info endpoint": userFills and
historicalOrders return "at most 2000 most recent").
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from netclear import views
from netclear.api import ws
from netclear.api.ws import OUTBOX_LIMIT, SLOW_CONSUMER_CLOSE, Connection, Hub
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.state import HISTORY_LIMIT
from netclear.ledger.node import Node, open_log

T0 = 1_795_000_000_000
MAKER = "0x" + "aa" * 20
BOOK = {"type": "l2Book", "coin": "ETH"}


class FakeSocket:
    """What the hub needs of a websocket; records a close."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


@pytest.fixture
def node(tmp_path: Path) -> Any:
    n = Node("hyperliquid", open_log(tmp_path / "ws.sqlite"), clock=lambda: T0)
    n.submit(A.SetPrices(oracle={"ETH": Decimal(3000)}))
    n.submit(A.Deposit(user=MAKER, amount=Decimal(1_000_000)))
    yield n
    n.close()


def bid(px: int) -> O.PlaceOrder:
    spec = O.OrderSpec(asset="ETH", is_buy=True, px=Decimal(px), sz=Decimal("0.1"), limit=O.LimitSpec("Gtc"))
    return O.PlaceOrder(user=MAKER, orders=[spec])


def test_each_distinct_subscription_is_rendered_once_per_commit(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = ws._view

    def counting(ex: Exchange, sub: dict[str, Any]) -> Any:
        calls.append(sub["type"])
        return real(ex, sub)

    monkeypatch.setattr(ws, "_view", counting)

    async def scenario() -> list[Connection]:
        hub = Hub(node)
        hub.start(asyncio.get_running_loop())
        conns = [Connection(FakeSocket()) for _ in range(50)]  # type: ignore[arg-type]
        for i, conn in enumerate(conns):
            hub.connections.add(conn)
            hub._handle(conn, {"method": "subscribe", "subscription": BOOK})
            if i % 2:
                hub._handle(conn, {"method": "subscribe", "subscription": {"type": "allMids"}})
        assert len(hub.feeds) == 2
        calls.clear()  # the subscription snapshots: one per subscription
        assert node.submit(bid(2900)).error is None
        hub.notify()
        for _ in range(1000):  # up to 10 s on a loaded machine
            await asyncio.sleep(0.01)
            if all(c.outbox.qsize() >= 3 + 2 * (i % 2) for i, c in enumerate(conns)):
                break
        await hub.stop()
        return conns

    conns = asyncio.run(scenario())
    assert sorted(calls) == ["allMids", "l2Book"]  # 2 renders for 75 subscriptions
    queued = [list(c.outbox._queue) for c in conns]  # type: ignore[attr-defined]
    updates = [[t for t in q if '"l2Book"' in t and "subscriptionResponse" not in t][-1] for q in queued]
    assert all(u is updates[0] for u in updates)  # one encoded text shared by every subscriber
    levels = json.loads(updates[0])["data"]["levels"]
    assert levels[0][0]["px"] == "2900" and levels[0][0]["sz"] == "0.1"


def test_a_client_that_stops_reading_is_disconnected(node: Node) -> None:
    async def scenario() -> tuple[Hub, Connection, FakeSocket]:
        hub = Hub(node)
        hub._loop = asyncio.get_running_loop()
        sock = FakeSocket()
        conn = Connection(sock)  # type: ignore[arg-type]
        hub.connections.add(conn)
        hub._handle(conn, {"method": "subscribe", "subscription": BOOK})  # nobody sends: nothing is read
        for _ in range(OUTBOX_LIMIT):
            hub._put(conn, "{}")
        await asyncio.sleep(0)
        return hub, conn, sock

    hub, conn, sock = asyncio.run(scenario())
    assert conn.dropped and hub.dropped == 1
    assert conn not in hub.connections and not hub.feeds
    assert sock.closed is not None and sock.closed[0] == SLOW_CONSUMER_CLOSE


def test_history_is_bounded_per_user_and_the_cursor_survives(node: Node) -> None:
    """Defect 10: on main every record stayed in memory (and in every snapshot) forever."""
    ex = Exchange("hyperliquid")
    user = "0x" + "bb" * 20
    for i in range(HISTORY_LIMIT + 100):
        ex.apply(A.Deposit(user=user, amount=Decimal(i + 1)), at=T0 + i)
    kept = ex.state.history.ledger[user]
    assert len(kept) == HISTORY_LIMIT and kept.total == HISTORY_LIMIT + 100  # type: ignore[attr-defined]
    view = views.info(ex, {"type": "userNonFundingLedgerUpdates", "user": user})
    assert len(view) == HISTORY_LIMIT and view[0]["delta"]["usdc"] == "101"  # deposits 1..100 dropped
    # a websocket cursor taken before the drop still sees exactly the records added since
    assert [r["delta"]["usdc"] for r in kept.since(HISTORY_LIMIT + 98)] == ["2099", "2100"]  # type: ignore[attr-defined]
