"""Operator time travel and the nonce window (issue 9, defect 1; docs/api.md "Clocks").

Hyperliquid's rule ("Nonces and API wallets", https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/
api/nonces-and-api-wallets): a nonce must lie in ``(T - 2 days, T + 1 day)``. Signers (the official SDK)
sign with wall-clock milliseconds, so the window is measured against the server's wall clock, while
``/operator/time`` moves only the exchange clock that drives interest, funding and TWAPs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from eth_account import Account
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action  # type: ignore[import-untyped]
from tests.api.conftest import copy_of_log

from netclear.ledger.node import open_log, replay

if TYPE_CHECKING:
    from tests.api.conftest import Server

DAY_MS = 86_400_000


def test_sdk_keeps_trading_after_the_exchange_clock_moves_30_days(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    srv = server_factory()
    wallet = srv.funded_wallet(10_000)
    before = srv.operator("time", {"advanceMs": 0})["time"]
    moved = srv.operator("time", {"advanceMs": 30 * DAY_MS})["time"]
    assert moved >= before + 30 * DAY_MS
    ex = Exchange(wallet, srv.url)
    resp = ex.order("ETH", True, 0.1, 3000, {"limit": {"tif": "Gtc"}})  # signed with wall-clock ms
    assert resp["status"] == "ok", resp
    assert "resting" in resp["response"]["data"]["statuses"][0], resp
    # the exchange clock stays 30 days ahead: the order's timestamp is exchange time
    oid = resp["response"]["data"]["statuses"][0]["resting"]["oid"]
    status = requests.post(
        f"{srv.url}/info", json={"type": "orderStatus", "user": wallet.address, "oid": oid}, timeout=10
    ).json()
    assert status["order"]["order"]["timestamp"] >= moved

    # the window follows the signer's clock: a nonce 2 days ahead of wall time is still refused
    ahead = get_timestamp_ms() + 2 * DAY_MS
    action = {"type": "scheduleCancel"}
    sig = sign_l1_action(wallet, action, None, ahead, None, False)
    body = {"action": action, "nonce": ahead, "signature": sig, "vaultAddress": None}
    answer = requests.post(f"{srv.url}/exchange", json=body, timeout=10).json()
    assert answer["status"] == "err" and "outside the window" in answer["response"], answer

    # replay of the log (which holds exchange times, never wall time) reaches the live state
    live = srv.health()
    exchange, seq = replay(None, open_log(copy_of_log(srv.db, tmp_path / "copy.sqlite")), from_snapshot=False)
    assert seq == live["seq"] and exchange.state_hash() == live["stateHash"]


def test_restart_keeps_the_exchange_clock_running_ahead(server_factory: Callable[..., Server]) -> None:
    """After a restart the exchange clock continues from the advanced time (it neither stops nor jumps back)."""
    srv = server_factory()
    moved = srv.operator("time", {"advanceMs": 10 * DAY_MS})["time"]
    db = srv.db
    srv.stop()
    again = server_factory(db, bootstrap=False)
    wall = get_timestamp_ms()
    assert again.node.now() >= moved
    first = again.operator("time", {"advanceMs": 0})["time"]
    assert first >= wall + 10 * DAY_MS - 60_000  # still about 10 days ahead of the wall clock
    wallet = Account.create()
    again.deposit(wallet.address, 1000)
    resp = Exchange(wallet, again.url).update_leverage(5, "ETH")
    assert resp["status"] == "ok", resp
