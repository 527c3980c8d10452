"""Websocket subscriptions in Hyperliquid's format (ecosystem.md §2 "WebSocket").

Client messages: ``{"method": "subscribe" | "unsubscribe", "subscription": {...}}`` and
``{"method": "ping"}`` (answered ``{"channel": "pong"}``). Each subscription first receives a
snapshot, then updates after every committed batch of actions:

* market channels (``allMids``, ``l2Book``, ``bbo``, ``activeAssetCtx``) re-send their view when it
  changed; ``trades`` sends new trades; ``candle`` sends the candle of the latest trade when it changed;
* user channels (``userFills``, ``orderUpdates``, ``userFundings``, ``userNonFundingLedgerUpdates``,
  ``user``) send the user's new history records; ``spotState``, ``activeAssetData``,
  ``clearinghouseState`` and ``allDexsClearinghouseState`` re-send their view when it changed;
* ``allDexsAssetCtxs`` re-sends every dex's asset contexts (``[[dex, ctxs]]``) when they changed.

Views are computed under the node's lock from the committed state, so they never show a half-applied
action.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from netclear.engine.context import normalize_address
from netclear.engine.exchange import Exchange
from netclear.errors import InvalidAction, NetclearError
from netclear.ledger.node import Node
from netclear.views.market import INTERVALS_MS

USER_HISTORY = {
    "userFills": ("fills", "fills"),
    "userFundings": ("funding", "fundings"),
    "userNonFundingLedgerUpdates": ("ledger", "nonFundingLedgerUpdates"),
}


def _key(sub: dict[str, Any]) -> str:
    return json.dumps(sub, sort_keys=True)


@dataclass(slots=True)
class Subscription:
    sub: dict[str, Any]
    cursor: int = 0
    last: str | None = None


@dataclass(slots=True, eq=False)
class Connection:
    socket: WebSocket
    subs: dict[str, Subscription] = field(default_factory=dict)
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


def _coin_of(sub: dict[str, Any]) -> str:
    coin = sub.get("coin")
    if not isinstance(coin, str):
        raise InvalidAction("subscription.coin", "required")
    return coin


def _user_of(sub: dict[str, Any]) -> str:
    user = sub.get("user")
    if not isinstance(user, str):
        raise InvalidAction("subscription.user", "required")
    return normalize_address(user, "subscription.user")


def _validate(ex: Exchange, sub: dict[str, Any]) -> None:
    kind = sub.get("type")
    if kind in ("l2Book", "trades", "bbo", "activeAssetCtx"):
        ex.info({"type": "l2Book", "coin": _coin_of(sub)})
    elif kind in (
        "userFills",
        "userFundings",
        "userNonFundingLedgerUpdates",
        "userEvents",
        "orderUpdates",
        "spotState",
        "allDexsClearinghouseState",
    ):
        _user_of(sub)
    elif kind == "clearinghouseState":
        _user_of(sub)
        ex.registry.dex(sub.get("dex", "") or "", field="subscription.dex")
    elif kind == "candle":
        ex.info({"type": "l2Book", "coin": _coin_of(sub)})
        if sub.get("interval") not in INTERVALS_MS:
            raise InvalidAction("subscription.interval", f"one of {', '.join(INTERVALS_MS)}")
    elif kind == "activeAssetData":
        _user_of(sub)
        ex.info({"type": "l2Book", "coin": _coin_of(sub)})
    elif kind not in ("allMids", "allDexsAssetCtxs"):
        raise InvalidAction("subscription.type", f"unknown subscription {kind!r}")


def render(ex: Exchange, s: Subscription, *, snapshot: bool) -> list[dict[str, Any]]:
    """Messages owed to one subscription now (advancing its cursor)."""
    sub = s.sub
    kind = sub["type"]
    hist = ex.state.history
    out: list[dict[str, Any]] = []
    if kind in USER_HISTORY:
        book_name, field_name = USER_HISTORY[kind]
        user = _user_of(sub)
        records = getattr(hist, book_name).get(user, [])
        new = records[s.cursor :]
        s.cursor = len(records)
        if snapshot or new:
            items = [r["delta"] | {"time": r["time"]} if book_name == "funding" else r for r in new]
            out.append({"channel": kind, "data": {"user": user, "isSnapshot": snapshot, field_name: items}})
        return out
    if kind in ("orderUpdates", "userEvents"):
        user = _user_of(sub)
        book = hist.orders if kind == "orderUpdates" else hist.fills
        records = book.get(user, [])
        new = records[s.cursor :]
        s.cursor = len(records)
        if new and not snapshot:
            if kind == "orderUpdates":
                out.append({"channel": "orderUpdates", "data": new})
            else:
                out.append({"channel": "user", "data": {"fills": new}})
        return out
    if kind == "candle":
        coin = ex.info({"type": "l2Book", "coin": _coin_of(sub)})["coin"]
        trades = hist.trades.get(coin, [])
        if not trades:
            return out
        step = INTERVALS_MS[sub["interval"]]
        req = {"coin": coin, "interval": sub["interval"], "startTime": trades[-1]["time"] // step * step}
        candle = ex.info({"type": "candleSnapshot", "req": req})[-1]
        text = json.dumps(candle, sort_keys=True)
        if text != s.last:
            s.last = text
            out.append({"channel": "candle", "data": candle})
        return out
    if kind == "trades":
        coin = ex.info({"type": "l2Book", "coin": _coin_of(sub)})["coin"]
        records = hist.trades.get(coin, [])
        new = records[s.cursor :]
        s.cursor = len(records)
        if new and not snapshot:
            out.append({"channel": "trades", "data": [{k: v for k, v in t.items()} for t in new]})
        return out
    view = _view(ex, sub)
    text = json.dumps(view, sort_keys=True)
    if snapshot or text != s.last:
        s.last = text
        out.append(view)
    return out


def _view(ex: Exchange, sub: dict[str, Any]) -> dict[str, Any]:
    kind = sub["type"]
    if kind == "allMids":
        return {"channel": "allMids", "data": {"mids": ex.info({"type": "allMids"})}}
    if kind == "l2Book":
        return {"channel": "l2Book", "data": ex.info({"type": "l2Book", "coin": _coin_of(sub)})}
    if kind == "bbo":
        book = ex.info({"type": "l2Book", "coin": _coin_of(sub)})
        bids, asks = book["levels"]
        return {
            "channel": "bbo",
            "data": {
                "coin": book["coin"],
                "time": book["time"],
                "bbo": [bids[0] if bids else None, asks[0] if asks else None],
            },
        }
    if kind == "activeAssetCtx":
        coin = _coin_of(sub)
        reg = ex.registry
        if coin in reg.spot_by_name:
            ctxs = ex.info({"type": "spotMetaAndAssetCtxs"})[1]
            ctx = next(c for c in ctxs if c["coin"] == reg.spot_by_name[coin].name)
            return {"channel": "activeSpotAssetCtx", "data": {"coin": coin, "ctx": ctx}}
        perp = reg.perp(coin)
        ctxs = ex.info({"type": "metaAndAssetCtxs", "dex": perp.dex.name})[1]
        return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctxs[perp.index_in_dex]}}
    if kind == "activeAssetData":
        return {
            "channel": "activeAssetData",
            "data": ex.info({"type": "activeAssetData", "user": _user_of(sub), "coin": _coin_of(sub)}),
        }
    if kind == "spotState":
        user = _user_of(sub)
        return {
            "channel": "spotState",
            "data": {"user": user, "spotState": ex.info({"type": "spotClearinghouseState", "user": user})},
        }
    if kind == "clearinghouseState":
        user, dex = _user_of(sub), sub.get("dex", "") or ""
        state = ex.info({"type": "clearinghouseState", "user": user, "dex": dex})
        return {
            "channel": "clearinghouseState",
            "data": {"dex": dex, "user": user, "clearinghouseState": state},
        }
    if kind == "allDexsClearinghouseState":
        user = _user_of(sub)
        states = [
            [d.name, ex.info({"type": "clearinghouseState", "user": user, "dex": d.name})]
            for d in ex.registry.dexes
        ]
        return {"channel": "allDexsClearinghouseState", "data": {"user": user, "clearinghouseStates": states}}
    if kind == "allDexsAssetCtxs":
        ctxs = [[d.name, ex.info({"type": "metaAndAssetCtxs", "dex": d.name})[1]] for d in ex.registry.dexes]
        return {"channel": "allDexsAssetCtxs", "data": {"ctxs": ctxs}}
    raise InvalidAction("subscription.type", f"unknown subscription {kind!r}")


def _renderer(conn: Connection) -> Callable[[Exchange], list[dict[str, Any]]]:
    def run(ex: Exchange) -> list[dict[str, Any]]:
        return [m for s in conn.subs.values() for m in render(ex, s, snapshot=False)]

    return run


class Hub:
    """All websocket connections; woken by the writer after each committed batch."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.connections: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._publisher())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def notify(self) -> None:
        """Called from the writer thread after a commit."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _publisher(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            for conn in list(self.connections):
                if not conn.subs:
                    continue
                msgs: list[dict[str, Any]] = self.node.read(_renderer(conn))
                for m in msgs:
                    conn.outbox.put_nowait(m)
            await asyncio.sleep(0)

    async def serve(self, socket: WebSocket) -> None:
        await socket.accept()
        conn = Connection(socket)
        self.connections.add(conn)
        sender = asyncio.create_task(self._send(conn))
        try:
            while True:
                text = await socket.receive_text()
                try:
                    msg = json.loads(text)
                except ValueError:
                    conn.outbox.put_nowait({"channel": "error", "data": "invalid JSON"})
                    continue
                self._handle(conn, msg)
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.discard(conn)
            sender.cancel()

    def _handle(self, conn: Connection, msg: Any) -> None:
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            conn.outbox.put_nowait({"channel": "pong"})
            return
        sub = msg.get("subscription") if isinstance(msg, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(sub, dict):
            conn.outbox.put_nowait({"channel": "error", "data": f"Invalid message: {msg!r}"})
            return
        key = _key(sub)
        if method == "unsubscribe":
            conn.subs.pop(key, None)
            conn.outbox.put_nowait({"channel": "subscriptionResponse", "data": msg})
            return
        try:
            self.node.read(lambda ex: _validate(ex, sub))
        except NetclearError as exc:
            conn.outbox.put_nowait({"channel": "error", "data": f"{exc.field}: {exc.rule}"})
            return
        s = Subscription(sub)
        conn.subs[key] = s
        conn.outbox.put_nowait({"channel": "subscriptionResponse", "data": msg})
        for m in self.node.read(lambda ex: render(ex, s, snapshot=True)):
            conn.outbox.put_nowait(m)

    @staticmethod
    async def _send(conn: Connection) -> None:
        while True:
            msg = await conn.outbox.get()
            try:
                await conn.socket.send_text(json.dumps(msg))
            except Exception:
                return
