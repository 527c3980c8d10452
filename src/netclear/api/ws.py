"""Websocket subscriptions in Hyperliquid's format (hyperliquid-python-sdk 0.24.0).

Client messages: ``{"method": "subscribe" | "unsubscribe", "subscription": {...}}`` and
``{"method": "ping"}`` (answered ``{"channel": "pong"}``). Each subscription first receives a
snapshot, then updates after every committed batch of actions:

* market channels (``allMids``, ``l2Book``, ``bbo``, ``activeAssetCtx``) re-send their view when it
  changed; ``trades`` sends new trades; ``candle`` sends the candle of the latest trade when it changed;
* user channels (``userFills``, ``orderUpdates``, ``userFundings``, ``userNonFundingLedgerUpdates``,
  ``user``) send the user's new history records; ``spotState``, ``activeAssetData``,
  ``clearinghouseState`` and ``allDexsClearinghouseState`` re-send their view when it changed;
* ``allDexsAssetCtxs`` re-sends every dex's asset contexts (``[[dex, ctxs]]``) when they changed.

Fan-out (docs/api.md "Websocket"): after each commit the hub renders every *distinct* subscription
once, in a worker thread (one short hold of the node's lock for all of them, so a view never shows a
half-applied action; JSON is encoded after the lock is released), and hands the same encoded text to
every connection subscribed to it; the event loop only queues text. Each connection's outbox is
bounded (:data:`OUTBOX_LIMIT` messages): a client that does not read its messages is disconnected
(close code 1008) instead of growing the server's memory or slowing the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from netclear.engine.addresses import normalize_address
from netclear.engine.exchange import Exchange
from netclear.engine.records import plain, plain_list
from netclear.engine.state import Records
from netclear.errors import InvalidAction, NetclearError
from netclear.ledger.node import Node
from netclear.views import info
from netclear.views.market import INTERVALS_MS

USER_HISTORY = {
    "userFills": ("fills", "fills"),
    "userFundings": ("funding", "fundings"),
    "userNonFundingLedgerUpdates": ("ledger", "nonFundingLedgerUpdates"),
}


OUTBOX_LIMIT = 1_000
"""Messages waiting for one connection before it is dropped as a slow consumer."""
SLOW_CONSUMER_CLOSE = 1008

log = logging.getLogger("netclear.ws")


def _key(sub: dict[str, Any]) -> str:
    return json.dumps(sub, sort_keys=True)


@dataclass(slots=True)
class Subscription:
    sub: dict[str, Any]
    cursor: int = 0
    last: str | None = None


def _outbox() -> asyncio.Queue[str]:
    return asyncio.Queue(maxsize=OUTBOX_LIMIT)


@dataclass(slots=True, eq=False)
class Connection:
    socket: WebSocket
    subs: dict[str, Subscription] = field(default_factory=dict)
    outbox: asyncio.Queue[str] = field(default_factory=_outbox)
    dropped: bool = False


@dataclass(slots=True, eq=False)
class Feed:
    """One distinct subscription: its own cursor / last view, and who is subscribed to it."""

    key: str
    state: Subscription
    conns: set[Connection] = field(default_factory=set)


@dataclass(slots=True)
class Rendered:
    """A feed's update for one commit: history records ``start..end`` or a whole view's text."""

    texts: list[str]
    history: bool = False
    start: int = 0
    end: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    """The update's records in wire form (history feeds), one per record added in ``start..end``."""
    message: dict[str, Any] = field(default_factory=dict)


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
        info(ex, {"type": "l2Book", "coin": _coin_of(sub)})
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
        info(ex, {"type": "l2Book", "coin": _coin_of(sub)})
        if sub.get("interval") not in INTERVALS_MS:
            raise InvalidAction("subscription.interval", f"one of {', '.join(INTERVALS_MS)}")
    elif kind == "activeAssetData":
        _user_of(sub)
        info(ex, {"type": "l2Book", "coin": _coin_of(sub)})
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
        new, s.cursor = _since(records, s.cursor)
        if snapshot or new:
            items = [r["delta"] | {"time": r["time"]} if book_name == "funding" else plain(r) for r in new]
            out.append({"channel": kind, "data": {"user": user, "isSnapshot": snapshot, field_name: items}})
        return out
    if kind in ("orderUpdates", "userEvents"):
        user = _user_of(sub)
        book = hist.orders if kind == "orderUpdates" else hist.fills
        records = book.get(user, [])
        new, s.cursor = _since(records, s.cursor)
        if new and not snapshot:
            if kind == "orderUpdates":
                out.append({"channel": "orderUpdates", "data": plain_list(new)})
            else:
                out.append({"channel": "user", "data": {"fills": plain_list(new)}})
        return out
    if kind == "trades":
        coin = info(ex, {"type": "l2Book", "coin": _coin_of(sub)})["coin"]
        records = hist.trades.get(coin, [])
        new, s.cursor = _since(records, s.cursor)
        if new and not snapshot:
            out.append({"channel": "trades", "data": [dict(plain(t)) for t in new]})
        return out
    view = _view(ex, sub)
    text = json.dumps(view, sort_keys=True)
    if view is not None and (snapshot or text != s.last):
        s.last = text
        out.append(view)
    return out


HISTORY_KINDS = frozenset({*USER_HISTORY, "orderUpdates", "userEvents", "trades"})


def _since(records: list[dict[str, Any]], cursor: int) -> tuple[list[dict[str, Any]], int]:
    """Records added after ``cursor`` and the new cursor (history lists are bounded: engine/state.py)."""
    if isinstance(records, Records):
        return records.since(cursor), records.total
    return records[cursor:], len(records)


def _with_records(message: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """A history update carrying only ``items`` (for a subscriber whose snapshot had the others)."""
    data = message["data"]
    if isinstance(data, list):
        return {**message, "data": items}
    return {**message, "data": {k: items if isinstance(v, list) else v for k, v in data.items()}}


def _candle(ex: Exchange, sub: dict[str, Any]) -> dict[str, Any] | None:
    """The candle of the coin's latest trade (``None`` before its first trade)."""
    coin = info(ex, {"type": "l2Book", "coin": _coin_of(sub)})["coin"]
    trades = ex.state.history.trades.get(coin, [])
    if not trades:
        return None
    step = INTERVALS_MS[sub["interval"]]
    req = {"coin": coin, "interval": sub["interval"], "startTime": trades[-1]["time"] // step * step}
    return {"channel": "candle", "data": info(ex, {"type": "candleSnapshot", "req": req})[-1]}


def _view(ex: Exchange, sub: dict[str, Any]) -> dict[str, Any] | None:
    kind = sub["type"]
    if kind == "candle":
        return _candle(ex, sub)
    if kind == "allMids":
        return {"channel": "allMids", "data": {"mids": info(ex, {"type": "allMids"})}}
    if kind == "l2Book":
        return {"channel": "l2Book", "data": info(ex, {"type": "l2Book", "coin": _coin_of(sub)})}
    if kind == "bbo":
        book = info(ex, {"type": "l2Book", "coin": _coin_of(sub)})
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
            ctxs = info(ex, {"type": "spotMetaAndAssetCtxs"})[1]
            ctx = next(c for c in ctxs if c["coin"] == reg.spot_by_name[coin].name)
            return {"channel": "activeSpotAssetCtx", "data": {"coin": coin, "ctx": ctx}}
        perp = reg.perp(coin)
        ctxs = info(ex, {"type": "metaAndAssetCtxs", "dex": perp.dex.name})[1]
        return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctxs[perp.index_in_dex]}}
    if kind == "activeAssetData":
        return {
            "channel": "activeAssetData",
            "data": info(ex, {"type": "activeAssetData", "user": _user_of(sub), "coin": _coin_of(sub)}),
        }
    if kind == "spotState":
        user = _user_of(sub)
        return {
            "channel": "spotState",
            "data": {"user": user, "spotState": info(ex, {"type": "spotClearinghouseState", "user": user})},
        }
    if kind == "clearinghouseState":
        user, dex = _user_of(sub), sub.get("dex", "") or ""
        state = info(ex, {"type": "clearinghouseState", "user": user, "dex": dex})
        return {
            "channel": "clearinghouseState",
            "data": {"dex": dex, "user": user, "clearinghouseState": state},
        }
    if kind == "allDexsClearinghouseState":
        user = _user_of(sub)
        states = [
            [d.name, info(ex, {"type": "clearinghouseState", "user": user, "dex": d.name})]
            for d in ex.registry.dexes
        ]
        return {"channel": "allDexsClearinghouseState", "data": {"user": user, "clearinghouseStates": states}}
    if kind == "allDexsAssetCtxs":
        ctxs = [[d.name, info(ex, {"type": "metaAndAssetCtxs", "dex": d.name})[1]] for d in ex.registry.dexes]
        return {"channel": "allDexsAssetCtxs", "data": {"ctxs": ctxs}}
    raise InvalidAction("subscription.type", f"unknown subscription {kind!r}")


def _render_feeds(node: Node, feeds: list[Feed]) -> list[Rendered | None]:
    """Render each feed once under the lock, then encode after releasing it; runs in a worker thread."""

    def run(ex: Exchange) -> list[tuple[Any, int, int]]:
        out: list[tuple[Any, int, int]] = []
        for feed in feeds:
            if feed.state.sub["type"] in HISTORY_KINDS:
                start = feed.state.cursor
                out.append((render(ex, feed.state, snapshot=False), start, feed.state.cursor))
            else:
                out.append((_view(ex, feed.state.sub), 0, 0))
        return out

    raw = node.read(run)
    rendered: list[Rendered | None] = []
    for feed, (got, start, end) in zip(feeds, raw, strict=True):
        if feed.state.sub["type"] not in HISTORY_KINDS:
            text = json.dumps(got, sort_keys=True)
            if got is None or text == feed.state.last:
                rendered.append(None)
                continue
            feed.state.last = text
            rendered.append(Rendered([text]))
            continue
        if not got:
            rendered.append(None)
            continue
        message = got[0]
        data = message["data"]
        records = (
            data if isinstance(data, list) else next((v for v in data.values() if isinstance(v, list)), [])
        )
        rendered.append(Rendered([json.dumps(m) for m in got], True, start, end, records, message))
    return rendered


class Hub:
    """All websocket connections; woken by the writer after each committed batch."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.connections: set[Connection] = set()
        self.feeds: dict[str, Feed] = {}
        self.dropped = 0
        """Connections disconnected as slow consumers."""
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
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            feeds = [f for f in self.feeds.values() if f.conns]
            if not feeds:
                continue
            try:
                rendered = await loop.run_in_executor(None, _render_feeds, self.node, feeds)
            except Exception:  # a view failing must not stop the publisher
                log.exception("websocket render failed")
                continue
            for feed, update in zip(feeds, rendered, strict=True):
                if update is not None:
                    for conn in list(feed.conns):
                        self._deliver(conn, feed, update)

    def _deliver(self, conn: Connection, feed: Feed, update: Rendered) -> None:
        s = conn.subs.get(feed.key)
        if s is None or conn.dropped:
            return
        if update.history:
            if s.cursor >= update.end:
                return  # the subscription snapshot already had these
            texts = update.texts
            if s.cursor > update.start:  # subscribed mid-way: only the records it has not seen
                mine = update.records[s.cursor - update.start :]
                texts = [json.dumps(_with_records(update.message, mine))]
            s.cursor = update.end
        else:
            text = update.texts[0]
            if s.last == text:
                return
            s.last = text
            texts = update.texts
        for text in texts:
            self._put(conn, text)

    def _put(self, conn: Connection, text: str) -> None:
        if conn.dropped:
            return
        try:
            conn.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self._drop(conn)

    def _send_obj(self, conn: Connection, msg: Any) -> None:
        self._put(conn, json.dumps(msg))

    def _drop(self, conn: Connection) -> None:
        """Disconnect a slow consumer: its outbox is full."""
        conn.dropped = True
        self.dropped += 1
        self._forget(conn)
        log.warning("websocket client dropped: %d messages unread", conn.outbox.qsize())
        if self._loop is not None:
            self._loop.create_task(self._close(conn))

    @staticmethod
    async def _close(conn: Connection) -> None:
        try:
            await conn.socket.close(
                code=SLOW_CONSUMER_CLOSE, reason="slow consumer: too many unread messages"
            )
        except Exception:  # already gone
            return

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for key in conn.subs:
            feed = self.feeds.get(key)
            if feed is not None:
                feed.conns.discard(conn)
                if not feed.conns:
                    del self.feeds[key]

    async def serve(self, socket: WebSocket) -> None:
        await socket.accept()
        conn = Connection(socket)
        self.connections.add(conn)
        sender = asyncio.create_task(self._send(conn))
        try:
            while not conn.dropped:
                text = await socket.receive_text()
                try:
                    msg = json.loads(text)
                except (ValueError, RecursionError):
                    self._send_obj(conn, {"channel": "error", "data": "invalid JSON"})
                    continue
                self._handle(conn, msg)
        except WebSocketDisconnect:
            pass
        except RuntimeError:  # receiving after the server closed a dropped connection
            if not conn.dropped:
                raise
        finally:
            self._forget(conn)
            sender.cancel()

    def _handle(self, conn: Connection, msg: Any) -> None:
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            self._send_obj(conn, {"channel": "pong"})
            return
        sub = msg.get("subscription") if isinstance(msg, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(sub, dict):
            self._send_obj(conn, {"channel": "error", "data": f"Invalid message: {msg!r}"})
            return
        key = _key(sub)
        if method == "unsubscribe":
            if conn.subs.pop(key, None) is not None:
                feed = self.feeds.get(key)
                if feed is not None:
                    feed.conns.discard(conn)
                    if not feed.conns:
                        del self.feeds[key]
            self._send_obj(conn, {"channel": "subscriptionResponse", "data": msg})
            return
        try:
            self.node.read(lambda ex: _validate(ex, sub))
        except NetclearError as exc:
            self._send_obj(conn, {"channel": "error", "data": f"{exc.field}: {exc.rule}"})
            return
        s = Subscription(sub)

        def snapshot(ex: Exchange) -> list[dict[str, Any]]:
            msgs = render(ex, s, snapshot=True)
            if key not in self.feeds:  # a new feed starts where this snapshot ends
                self.feeds[key] = Feed(key, Subscription(sub, s.cursor, s.last))
            return msgs

        msgs = self.node.read(snapshot)
        conn.subs[key] = s
        self.feeds[key].conns.add(conn)
        self._send_obj(conn, {"channel": "subscriptionResponse", "data": msg})
        for m in msgs:  # a view's snapshot is its one message, already encoded as ``s.last``
            self._put(conn, json.dumps(m) if s.last is None else s.last)

    @staticmethod
    async def _send(conn: Connection) -> None:
        while True:
            text = await conn.outbox.get()
            try:
                await conn.socket.send_text(text)
            except Exception:
                return
