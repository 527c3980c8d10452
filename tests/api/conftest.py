"""API fixtures: the real server (uvicorn, in-process, loopback) over a fresh SQLite log.

``server`` (one per module) starts ``create_app`` with uvicorn on a free loopback port in a background
thread with a fixed operator token, seeds prices and the demo market maker's quotes
(``DemoMarket._bootstrap``, without its background feed, so the state only moves when a test acts),
waits for ``/health`` and gives a :class:`Server`; ``server_factory`` starts more (own log, fixed
clock, no bootstrap). ``Server.funded_wallet`` / ``Server.deposit`` fund wallets through
``/operator/deposit``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount

from netclear.api.demo import DemoMarket
from netclear.api.server import create_app
from netclear.api.transport import CoalescingHttpToolsProtocol
from netclear.ledger.node import Node, open_log

OPERATOR_TOKEN = "test-operator-token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{url}/health", timeout=2)
            if r.status_code == 200:
                return dict(r.json())
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url}/health did not answer in {timeout}s: {last!r}")


@dataclass
class Server:
    """A running server: its URL, node, operator token, app and log file, and helpers to drive it."""

    url: str
    node: Node
    token: str
    app: Any
    db: Path
    userver: uvicorn.Server
    thread: threading.Thread
    stopped: bool = False

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :] + "/ws"

    def operator(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = requests.post(
            f"{self.url}/operator/{path}",
            json=body or {},
            headers={"authorization": f"Bearer {self.token}"},
            timeout=60,  # time travel by 30 days pays 720 hours of funding on every perp of the universe
        )
        assert r.status_code == 200, (path, r.status_code, r.text)
        return dict(r.json())

    def deposit(self, user: str, amount: str | int | Decimal, token: str = "USDC") -> dict[str, Any]:
        return self.operator("deposit", {"user": user, "amount": str(amount), "token": token})

    def funded_wallet(self, amount: str | int | Decimal = 100_000, token: str = "USDC") -> LocalAccount:
        """A fresh local wallet with ``amount`` of ``token`` deposited through ``/operator/deposit``."""
        wallet: LocalAccount = Account.create()
        self.deposit(wallet.address, amount, token)
        return wallet

    def info(self, body: dict[str, Any]) -> Any:
        r = requests.post(f"{self.url}/info", json=body, timeout=10)
        assert r.status_code == 200, (body, r.status_code, r.text)
        return r.json()

    def health(self) -> dict[str, Any]:
        r = requests.get(f"{self.url}/health", timeout=10)
        assert r.status_code == 200
        return dict(r.json())

    def stop(self, *, force: bool = False) -> None:
        """Shut uvicorn down (``force``: without waiting for open connections), the writer, the log."""
        if self.stopped:
            return
        self.stopped = True
        self.userver.should_exit = True
        self.userver.force_exit = force
        self.thread.join(timeout=2 if force else 15)
        if self.thread.is_alive():  # a stuck connection: stop waiting for it
            self.userver.force_exit = True
            self.thread.join(timeout=5)
        self.app.state.writer.stop()
        self.node.close()


class _ExceptionWithoutTraceback(logging.Filter):
    """Log a server-side exception as one line (its type and message), without the traceback.

    CPython 3.11 renders traceback carets with ``ast.parse``, whose recursion bookkeeping is not
    thread-safe: uvicorn formatting a 500's traceback in the server thread while pytest formats a
    failure in the main thread can raise ``SystemError: AST constructor recursion depth mismatch``
    and abort the whole run (INTERNALERROR). The tests assert on status codes anyway.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage().strip()} {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_UVICORN_ERRORS = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _ExceptionWithoutTraceback) for f in _UVICORN_ERRORS.filters):
    _UVICORN_ERRORS.addFilter(_ExceptionWithoutTraceback())


def copy_of_log(db: Path, dest: Path) -> Path:
    """A consistent copy of a live server's SQLite log (the online backup API), to open beside it.

    A log has one opener (``ledger/sqlite.py`` locks it), so tests read a running server's log
    through a copy taken between two commits.
    """
    import sqlite3

    src, dst = sqlite3.connect(db), sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return dest


def start_server(db: Path, *, bootstrap: bool = True, clock: Callable[[], int] | None = None) -> Server:
    """Serve a node over ``db`` on a free loopback port from a background thread.

    ``bootstrap`` seeds prices and the demo market maker's quotes; ``clock`` fixes the node's clock.
    """
    node = Node("hyperliquid", open_log(db), **({"clock": clock} if clock is not None else {}))
    app = create_app(node, operator_token=OPERATOR_TOKEN)
    if bootstrap:
        DemoMarket(node, app.state.writer)._bootstrap()
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", http=CoalescingHttpToolsProtocol
    )  # the HTTP protocol of `netclear serve`
    userver = uvicorn.Server(config)
    thread = threading.Thread(target=userver.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    server = Server(url, node, OPERATOR_TOKEN, app, db, userver, thread)
    try:
        wait_healthy(url)
    except BaseException:
        server.stop(force=True)
        raise
    return server


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """``start(db=None, *, bootstrap=True, clock=None)`` -> a new :class:`Server`; all stopped at the end."""
    started: list[Server] = []

    def start(
        db: Path | None = None, *, bootstrap: bool = True, clock: Callable[[], int] | None = None
    ) -> Server:
        path = db if db is not None else tmp_path_factory.mktemp("server") / "netclear.sqlite"
        srv = start_server(path, bootstrap=bootstrap, clock=clock)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server]) -> Server:
    """One bootstrapped server per test module (~0.3 s to start); tests use fresh wallets to stay apart."""
    return server_factory()


@pytest.fixture
def wallet(server: Server) -> LocalAccount:
    """A fresh wallet holding 100k USDC (perp balance in standard mode)."""
    return server.funded_wallet(100_000)
