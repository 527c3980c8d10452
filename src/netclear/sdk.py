"""``borrowLend`` from Python with the official ``hyperliquid-python-sdk``, which has no method for it.

The action is L1-signed like an order: ``{"type": "borrowLend", "operation": "supply" | "withdraw" |
"borrow" | "repay", "token": <spot token index>, "amount": "<decimal>" | null}`` (``null``: the whole
balance, supply or debt). This shape is what Hyperliquid's frontend sends; the GitBook action list does
not include it (docs/api.md "Borrow and lend from the SDK"). The helper signs with the SDK's own
``sign_l1_action`` and posts through the SDK's ``Exchange``, so wallet, vault, ``expires_after`` and the
chain are the SDK's choices. Needs ``hyperliquid-python-sdk`` (the ``dev`` extra).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

Operation = Literal["supply", "withdraw", "borrow", "repay"]
OPERATIONS: tuple[str, ...] = ("supply", "withdraw", "borrow", "repay")


def borrow_lend_action(operation: str, token: int, amount: str | int | Decimal | None) -> dict[str, Any]:
    """The wire action, keys in the order the frontend sends them (the L1 hash covers key order)."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    if isinstance(token, bool) or not isinstance(token, int) or token < 0:
        raise ValueError(f"token must be a spot token index (int >= 0), not {token!r}")
    text = None if amount is None else format(Decimal(str(amount)).normalize(), "f")
    if text is not None and Decimal(text) <= 0:
        raise ValueError(f"amount must be positive (or None for all), not {amount!r}")
    return {"type": "borrowLend", "operation": operation, "token": token, "amount": text}


def token_index(exchange: Any, token: int | str) -> int:
    """A spot token index from an index or a name (``"USDC"``, ``"HYPE"``), via the SDK's ``spot_meta``."""
    if isinstance(token, int):
        return token
    for t in exchange.info.spot_meta()["tokens"]:
        if t["name"] == token:
            return int(t["index"])
    raise ValueError(f"unknown spot token {token!r}")


def borrow_lend(
    exchange: Any, operation: Operation, token: int | str, amount: str | int | Decimal | None = None
) -> Any:
    """Sign and send ``borrowLend`` with the SDK: ``borrow_lend(exchange, "supply", "USDC", "100")``.

    ``exchange`` is a ``hyperliquid.exchange.Exchange``; the answer is the server's JSON
    (``{"status": "ok", "response": {"type": "default"}}`` or ``{"status": "err", "response": ...}``).
    """
    from hyperliquid.utils.constants import MAINNET_API_URL  # type: ignore[import-untyped]
    from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action  # type: ignore[import-untyped]

    action = borrow_lend_action(operation, token_index(exchange, token), amount)
    nonce = get_timestamp_ms()
    signature = sign_l1_action(
        exchange.wallet,
        action,
        exchange.vault_address,
        nonce,
        exchange.expires_after,
        exchange.base_url == MAINNET_API_URL,
    )
    return exchange._post_action(action, signature, nonce)
