"""The signed-order path of ``netclear serve`` (issue 12 item 7): ``POST /exchange`` answered by the
ASGI fast path, the writer's per-batch hand-over to the event loop, and uvicorn's writes coalesced.

Every guarantee of the route it replaces must hold: the same answers byte for byte, an action
acknowledged only once its log record is durable, each concurrent client getting its own answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hyperliquid.utils import signing  # type: ignore[import-untyped]
from tests.api.conftest import Server

from netclear.api.demo import DemoMarket
from netclear.api.server import ExchangeFastPath, create_app
from netclear.api.transport import CoalescedTransport
from netclear.engine import actions as A
from netclear.ledger.node import Node, open_log

T0 = 1_795_000_000_000
AUTH = {"authorization": "Bearer tok"}
KEY = "0x" + "4d" * 32


def _order(px: str, *, sz: str = "0.01", tif: str = "Gtc", asset: int = 1) -> dict[str, Any]:
    o = {"a": asset, "b": True, "p": px, "s": sz, "r": False, "t": {"limit": {"tif": tif}}}
    return {"type": "order", "orders": [o], "grouping": "na"}


def _body(wallet: LocalAccount, action: dict[str, Any], nonce: int) -> bytes:
    sig = signing.sign_l1_action(wallet, action, None, nonce, None, False)
    body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}
    return json.dumps(body).encode()


def _app(db: Path, *, fast: bool) -> tuple[FastAPI, Node]:
    node = Node("hyperliquid", open_log(db), clock=lambda: T0)
    app = create_app(node, operator_token="tok")
    if not fast:  # the FastAPI route alone answers
        app.user_middleware = [m for m in app.user_middleware if m.cls is not ExchangeFastPath]
    DemoMarket(node, app.state.writer)._bootstrap()
    return app, node


def _requests(wallet: LocalAccount) -> list[tuple[str, str, bytes]]:
    """Good and bad ``/exchange`` requests: every branch of the answer."""
    ok = _body(wallet, _order("3000"), T0 + 1)
    return [
        ("POST", "/exchange", ok),
        ("POST", "/exchange", ok),  # the nonce again
        ("POST", "/exchange", _body(wallet, _order("3000.123456"), T0 + 2)),  # engine rejection
        ("POST", "/exchange", _body(wallet, _order("1e999"), T0 + 3)),  # wire rejection
        ("POST", "/exchange", _body(wallet, _order("2990", tif="Alo"), T0 + 4)),
        ("POST", "/exchange", _body(wallet, {"type": "cancel", "cancels": [{"a": 1, "o": 10**9}]}, T0 + 5)),
        ("POST", "/exchange", _body(wallet, {"type": "multiSig"}, T0 + 6)),
        (
            "POST",
            "/exchange",
            _body(Account.from_key("0x" + "5e" * 32), _order("3000"), T0 + 7),
        ),  # unknown signer
        ("POST", "/exchange", ok.replace(b'"r": "0x', b'"r": "0x0')),  # another signature
        ("POST", "/exchange", b"{not json"),
        ("POST", "/exchange", b"[1, 2]"),
        ("POST", "/exchange", b"NaN"),
        ("POST", "/exchange", b"[" * 100_000),
        ("POST", "/exchange", b""),
        ("GET", "/exchange", b""),
        ("PUT", "/exchange", ok),
        ("POST", "/exchange/", ok),
    ]


def test_the_fast_path_answers_byte_for_byte_as_the_route(tmp_path: Path) -> None:
    wallet = Account.from_key(KEY)
    answers: dict[bool, list[tuple[int, list[tuple[str, str]], bytes]]] = {}
    states: dict[bool, str] = {}
    for fast in (True, False):
        app, node = _app(tmp_path / f"{fast}.sqlite", fast=fast)
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
            r = client.post("/operator/deposit", json={"user": wallet.address, "amount": "100"}, headers=AUTH)
            assert r.status_code == 200
            answers[fast] = []
            for method, path, content in _requests(wallet):
                r = client.request(
                    method, path, content=content, headers={"content-type": "application/json"}
                )
                answers[fast].append((r.status_code, sorted(r.headers.items()), r.content))
            states[fast] = node.exchange.state_hash()
        node.close()
    assert answers[True] == answers[False]
    assert states[True] == states[False]
    statuses = [json.loads(body) for code, _h, body in answers[True][:6] if code == 200]
    assert statuses[0]["status"] == "ok" and "resting" in statuses[0]["response"]["data"]["statuses"][0]
    assert statuses[1]["status"] == "err"  # the same nonce is refused, once more on both paths


def test_concurrent_clients_each_get_their_own_answer(server_factory: Callable[..., Server]) -> None:
    """Many connections at once, over the served protocol: every answer is the one for its request
    (the resting order it names is that client's, at that client's price), all durable."""
    srv = server_factory()
    clients, per = 6, 12
    wallets = [srv.funded_wallet(100_000) for _ in range(clients)]
    results: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    nonce0 = signing.get_timestamp_ms()

    def run(k: int) -> None:
        session = requests.Session()
        out = []
        for i in range(per):
            px = str(2000 + k * 50 + i)
            body = _body(wallets[k], _order(px), nonce0 + k * 1000 + i)
            r = session.post(srv.url + "/exchange", data=body, headers={"content-type": "application/json"})
            out.append((px, r.json()))
        results[k] = out

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for k, out in results.items():
        assert len(out) == per
        for px, answer in out:
            assert answer["status"] == "ok", answer
            oid = answer["response"]["data"]["statuses"][0]["resting"]["oid"]
            status = srv.info({"type": "orderStatus", "user": wallets[k].address, "oid": oid})
            assert status["status"] == "order", status
            order = status["order"]["order"]
            assert order["limitPx"] == px and order["coin"] == "ETH"
    assert len(results) == clients
    durable = srv.node.log.last_seq()
    assert durable == srv.node.seq


def test_pipelined_requests_are_answered_in_order_on_one_connection(
    server_factory: Callable[..., Server],
) -> None:
    """Writes coalesced per loop step keep the bytes and their order on the wire."""
    srv = server_factory()
    host, port = srv.url.removeprefix("http://").split(":")
    bodies = [json.dumps({"type": "userAbstraction", "user": "0x" + f"{i:040x}"}).encode() for i in (1, 2)]
    raw = b"".join(
        b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(b)).encode()
        + b"\r\n\r\n"
        + b
        for b in bodies
    )
    raw += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    parts = data.split(b"HTTP/1.1 ")[1:]
    assert [p[:3] for p in parts] == [b"200", b"200", b"200"]
    assert b'"status":"ok"' in parts[2] and b"seq" in parts[2]


# ------------------------------------------------------------------------------------------ the writer
@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node("hyperliquid", open_log(tmp_path / "w.sqlite"), clock=lambda: T0)
    yield n
    n.close()


def test_a_batch_is_acknowledged_only_after_it_is_durable(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: actions queued while a commit is under way are logged together, and no caller
    hears of its action before the transaction holding it has returned from the disk."""
    from netclear.api.writer import Writer

    entered, release = threading.Event(), threading.Event()
    durable: list[int] = []
    insert = node.log._insert  # type: ignore[attr-defined]

    def slow_insert(records: Any) -> None:
        entered.set()
        assert release.wait(10)
        insert(records)
        durable.append(records[-1].seq)

    monkeypatch.setattr(node.log, "_insert", slow_insert)
    writer = Writer(node)

    async def main() -> None:
        users = ["0x" + f"{i:040x}" for i in range(1, 6)]
        first = writer.submit_async(A.Deposit(user=users[0], amount=1))  # type: ignore[arg-type]
        assert await asyncio.to_thread(entered.wait, 10)
        rest = [writer.submit_async(A.Deposit(user=u, amount=1)) for u in users[1:]]  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(f.done() for f in rest)  # the disk has not answered
        release.set()
        out = await first
        assert durable and out.seq <= durable[0]
        outs = await asyncio.gather(*rest)
        assert [o.seq for o in outs] == [2, 3, 4, 5]  # the four queued meanwhile: one batch after
        assert durable == [1, 5]
        assert all(o.error is None for o in outs)

    try:
        asyncio.run(main())
    finally:
        release.set()
        writer.stop()


def test_submit_async_answers_refusals_and_read_only(node: Node) -> None:
    from netclear.api.writer import Writer, WriterReadOnly
    from netclear.errors import NetclearError

    writer = Writer(node)

    async def main() -> None:
        bad = A.Deposit(user="0x" + "01" * 20, amount="x")  # type: ignore[arg-type]  # not replayable
        with pytest.raises(NetclearError, match="malformed action"):
            await writer.submit_async(bad)
        ok = await writer.submit_async(A.Deposit(user="0x" + "01" * 20, amount=5))  # type: ignore[arg-type]
        assert ok.error is None and ok.seq == node.seq
        writer.read_only = "disk gone"
        with pytest.raises(WriterReadOnly, match="disk gone"):
            await writer.submit_async(A.AdvanceTime())

    try:
        asyncio.run(main())
    finally:
        writer.stop()


# ------------------------------------------------------------------------------------------ the transport
class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


def test_writes_of_one_loop_step_leave_as_one() -> None:
    async def main() -> tuple[FakeTransport, CoalescedTransport]:
        fake = FakeTransport()
        t = CoalescedTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(bytearray(b"body"))
        assert fake.writes == [] and t.get_write_buffer_size() == 23
        await asyncio.sleep(0)
        assert fake.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        t.write(b"a")
        t.writelines([b"b", b"c"])
        t.close()  # what is pending goes first
        assert fake.writes[-1] == b"abc" and fake.closed and t.is_closing()
        t.write(b"lost")
        t.abort()
        await asyncio.sleep(0)
        assert fake.aborted and fake.writes[-1] == b"abc"
        return fake, t

    asyncio.run(main())
