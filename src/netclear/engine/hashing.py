"""Hashes of the engine: each action's hash (shared by the ledger records it writes) and the state hash
(replay and recovery compare it; docs/ledger.md)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction

import msgspec

from netclear.engine.state import ExchangeState, OrderInfo


def action_hash(seq: int) -> str:
    """The hash of the action with engine sequence number ``seq``, shared by every ledger record it writes
    (on Hyperliquid, the L1 transaction hash). Ours is ``blake2b`` of the sequence number: unique, and
    equal in replay."""
    return "0x" + hashlib.blake2b(b"netclear-action:" + seq.to_bytes(8, "big"), digest_size=32).hexdigest()


def state_hash(state: ExchangeState) -> str:
    """blake2b of a canonical encoding of the state (histories excluded, they are derived records)."""
    return hashlib.blake2b(canonical_state(state), digest_size=32).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, Fraction | Decimal):
        return str(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


def _books(state: ExchangeState) -> dict[str, list[list[object]]]:
    out: dict[str, list[list[object]]] = {}
    for asset in sorted(state.books):
        rows = []
        for o in state.books[asset].iter_orders():
            info = o.tag if isinstance(o.tag, OrderInfo) else OrderInfo()
            rows.append(
                [
                    o.oid,
                    o.user,
                    o.is_buy,
                    o.px,
                    o.sz,
                    o.orig_sz,
                    o.time,
                    o.cloid,
                    o.reduce_only,
                    o.tif,
                    info.hold,
                    info.hold_token,
                    info.opening_sz,
                ]
            )
        if rows:
            out[str(asset)] = rows
    return out


def canonical_state(state: ExchangeState) -> bytes:
    core = {
        "time_ms": state.time_ms,
        "accounts": {k: state.accounts[k] for k in sorted(state.accounts)},
        "reserves": {k: state.reserves[k] for k in sorted(state.reserves)},
        "prices": state.prices,
        "external_in": state.external_in,
        "external_out": state.external_out,
        "last_index_hour": state.last_index_hour,
        "next_tid": state.next_tid,
        "next_oid": state.next_oid,
        "books": _books(state),
        "triggers": {k: state.triggers[k] for k in sorted(state.triggers)},
        "markets": {k: state.markets[k] for k in sorted(state.markets)},
        "scheduled_cancels": state.scheduled_cancels,
        "last_funding_hour": state.last_funding_hour,
        "agents": state.agents,
        "liquidation_cooldown": state.liquidation_cooldown,
        "last_twap_ms": state.last_twap_ms,
    }
    if state.pm_grants:  # only when used, so states without grants keep their hashes
        core["pm_grants"] = sorted(state.pm_grants)
    return msgspec.json.encode(msgspec.to_builtins(core, str_keys=True, enc_hook=_plain), order="sorted")
