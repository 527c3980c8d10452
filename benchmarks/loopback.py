"""Shared parts of the loopback benchmarks (``bench_core``, ``bench_api``, ``bench_ws``): waiting for a
``netclear serve`` to answer, and SDK-signed ``order`` bodies.

Each body is what the official ``hyperliquid-python-sdk`` posts to ``/exchange`` for one resting bid: the
order wire from ``order_request_to_order_wire``, the action from ``order_wires_to_order_action`` and the
signature from ``sign_l1_action`` (the SDK's ``hyperliquid/utils/signing.py``), signed before any timing.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import requests


def wait_until_serving(url: str, server: subprocess.Popen[Any], timeout_s: float, what: str) -> None:
    """Poll ``url``/health until the server answers; raise if it exits or ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            requests.get(url + "/health", timeout=1)
            return
        except requests.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


def alo_bids(wallets: list[Any], n: int) -> list[list[dict[str, Any]]]:
    """``n`` post-only (ALO) bids of 0.001 BTC at 90,000-90,899, dealt round-robin to ``wallets`` (one list
    per wallet), nonces from the current millisecond upwards."""
    from hyperliquid.utils.signing import (  # type: ignore[import-untyped]
        get_timestamp_ms,
        order_request_to_order_wire,
        order_wires_to_order_action,
        sign_l1_action,
    )

    bodies: list[list[dict[str, Any]]] = [[] for _ in wallets]
    base = get_timestamp_ms()
    for i in range(n):
        k = i % len(wallets)
        order = {
            "coin": "BTC",
            "is_buy": True,
            "sz": 0.001,
            "limit_px": 90000 + (i % 900),
            "order_type": {"limit": {"tif": "Alo"}},
            "reduce_only": False,
        }
        action = order_wires_to_order_action([order_request_to_order_wire(order, 0)], None)
        nonce = base + i
        sig = sign_l1_action(wallets[k], action, None, nonce, None, False)
        bodies[k].append(
            {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}
        )
    return bodies
