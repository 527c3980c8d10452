"""A node: one exchange behind the :class:`~netclear.ledger.sequencer.Sequencer` and its durable log.

``Node.submit_many`` hands a batch of actions to the sequencer, which numbers and time-stamps them
(never earlier than the last), appends them to the log in **one** durable transaction (group commit)
and only then applies them in order; a caller is answered after its action is both logged and
applied. A rejected action is logged too: replay rejects it again the same way, so the log is the
full input history and replay reproduces the state hash.

An exception from the engine that is not a rule rejection is an engine defect. The transaction it
ran in is rolled back (``engine/tx.py``) and the action is answered as an :class:`InternalError`;
replay converts it identically, so the node and a replay stay equal (docs/ledger.md).

Start-up = latest verified snapshot + replay of the tail. A snapshot is the pickled engine state and
nonce store (written by this process into its own log) with its state hash, checked on load.
"""

from __future__ import annotations

import json
import logging
import pickle
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from netclear.config import ExchangeConfig
from netclear.engine.actions import Action, decode_action, encode_action
from netclear.engine.events import Event
from netclear.engine.exchange import Exchange
from netclear.errors import ConfigError, InternalError, InvalidAction, NetclearError
from netclear.ledger.log import ActionLog, Snapshot
from netclear.ledger.nonces import NonceStore
from netclear.ledger.sequencer import Receipt, Rejection, Sequencer
from netclear.ledger.sequencer import replay as replay_log
from netclear.ledger.store import ChainedLog

log = logging.getLogger("netclear.node")


@dataclass(slots=True)
class Submission:
    action: Action
    signer: str | None = None
    nonce: int | None = None


class Envelope(msgspec.Struct, frozen=True):
    """What a log record's payload holds: the engine action and who signed it (for the nonce store)."""

    action: msgspec.Raw
    signer: str | None = None
    nonce: int | None = None


_envelope_decoder = msgspec.json.Decoder(Envelope)


def encode_submission(sub: Submission) -> bytes:
    """A log record's payload; refuses an action that would not decode back (see ``check_replayable``)."""
    check_replayable(sub.action)
    return msgspec.json.encode(Envelope(msgspec.Raw(encode_action(sub.action)), sub.signer, sub.nonce))


def decode_submission(payload: bytes) -> Submission:
    env = _envelope_decoder.decode(payload)
    return Submission(decode_action(bytes(env.action)), env.signer, env.nonce)


def bind_config(log: ActionLog, config: ExchangeConfig | str | None) -> ExchangeConfig:
    """The log remembers the configuration it was written under; replay must use the same one.

    A fresh log records ``config``; an existing log's own configuration wins and a different one
    given explicitly is refused (replaying under other rules would not reproduce the state).
    """
    from netclear.config import parse_config, resolve

    stored = log.get_meta("config")
    if stored is None:
        if config is None:
            raise ConfigError("preset", "the log is empty: give a preset to start it")
        cfg = config if isinstance(config, ExchangeConfig) else resolve(config)
        log.set_meta("config", cfg.model_dump_json())
        return cfg
    cfg = parse_config(_without_retired(json.loads(stored)), source="log meta")
    if config is not None:
        given = config if isinstance(config, ExchangeConfig) else resolve(config)
        if given.model_dump_json() not in (stored, cfg.model_dump_json()):
            raise ConfigError(
                "preset",
                f"the log was written under preset {cfg.preset.name!r} (its own "
                f"configuration), not {given.preset.name!r}; replay it without a preset",
            )
    return cfg


RETIRED_KEYS: dict[str, tuple[str, ...]] = {
    "funding": ("mark_ema_s",),
    "orders": ("perp_max_decimals", "spot_max_decimals", "market_slippage"),
}
"""Configuration keys that nothing read and were removed (issue 12); a log written before still opens."""


def _without_retired(data: Any) -> Any:
    if isinstance(data, dict):
        for section, keys in RETIRED_KEYS.items():
            part = data.get(section)
            if isinstance(part, dict):
                for key in keys:
                    part.pop(key, None)
    return data


def check_replayable(action: Action) -> None:
    """Only an action that decodes back from its own encoding may enter the log (a struct built in
    Python is not type-checked; replay must never meet an unreadable record)."""
    try:
        decode_action(encode_action(action))
    except (msgspec.ValidationError, msgspec.EncodeError, TypeError, ValueError) as exc:
        raise InvalidAction("action", f"malformed action: {exc}") from None


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Outcome:
    seq: int
    time_ms: int
    events: list[Event] | None
    error: NetclearError | None


def open_log(url: str | Path) -> ChainedLog:
    """``sqlite:///path.db`` or a plain path (SQLite), ``postgresql://...`` (PostgreSQL)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from netclear.ledger.postgres import PostgresLog

        return PostgresLog(text)
    from netclear.ledger.sqlite import SqliteLog

    return SqliteLog(text.removeprefix("sqlite:///").removeprefix("sqlite://"))


class Node:
    """One exchange with its durable log. Thread-safe: one writer at a time; reads take ``lock``,
    which a write holds while it applies, not while it waits for the log to be durable."""

    def __init__(
        self,
        config: ExchangeConfig | str | None,
        log: ActionLog,
        *,
        clock: Callable[[], int] = wall_clock_ms,
        snapshot_every: int = 50_000,
    ) -> None:
        self.config = bind_config(log, config)
        self.log = log
        self.clock = clock
        self.snapshot_every = snapshot_every
        self.lock = threading.RLock()
        self.exchange = Exchange(self.config)
        self.nonces = NonceStore()
        self.clock_offset_ms = 0
        """Operator time travel (``/operator/time``): added to the clock; replay reads logged times."""
        result = replay_log(log, self._apply, decode_submission, from_snapshot=self._restore)
        self.replayed = result.last_seq - result.snapshot_seq
        # a log that was advanced ahead of the wall clock keeps its lead across a restart
        self.clock_offset_ms = max(0, self.exchange.state.time_ms - self.clock())
        self.sequencer: Sequencer[Submission, list[Event]] = Sequencer(
            log, self._apply, encode_submission, self._sequencer_clock, apply_lock=self.lock
        )

    @property
    def seq(self) -> int:
        """Sequence number of the last logged (and applied) action."""
        return self.sequencer.seq

    def now(self) -> int:
        """Exchange time: the clock plus operator time travel (drives interest, funding, TWAPs)."""
        return self.clock() + self.clock_offset_ms

    def signer_now(self) -> int:
        """The clock signers use (wall clock, without time travel): admission checks of nonces,
        ``expiresAfter`` and API-wallet expiry read it, so an advanced exchange clock never locks
        out clients that sign with wall-clock milliseconds (docs/api.md "Clocks")."""
        return self.clock()

    def _sequencer_clock(self) -> int:
        return max(self.now(), self.exchange.state.time_ms)

    # ------------------------------------------------------------------ start-up
    def _restore(self, snap: Snapshot) -> str:
        """Rebuild from ``snap``; adopted only when its state hash is the recorded one."""
        state, nonces = pickle.loads(zlib.decompress(snap.blob))
        exchange = Exchange(self.config, state=state)
        restored = exchange.state_hash()
        if restored == snap.state_hash:
            self.exchange, self.nonces = exchange, nonces
        return restored

    def _apply(self, sub: Submission, time_ms: int) -> list[Event]:
        """The one apply path, live and in replay: commit the nonce, then run the engine."""
        if sub.signer is not None and sub.nonce is not None:
            self.nonces.commit(sub.signer, sub.nonce)
        try:
            return self.exchange.apply(sub.action, at=time_ms)
        except NetclearError:
            raise
        except Exception as exc:  # an engine defect: the action was rolled back; replay does the same
            log.exception("engine error applying %s", type(sub.action).__name__)
            raise InternalError("engine", f"internal error: {type(exc).__name__}") from exc

    # ------------------------------------------------------------------ writing
    def submit(self, action: Action, *, signer: str | None = None, nonce: int | None = None) -> Outcome:
        return self.submit_many([Submission(action, signer, nonce)])[0]

    def submit_many(self, batch: Sequence[Submission]) -> list[Outcome]:
        """Log the batch durably in one transaction, then apply each action in order.

        The node lock is taken for the apply only (the sequencer's ``apply_lock``), so reads never
        wait for the log's fsync; they see the state before or after a whole batch, and every
        action they can see is already durable. Lock order: sequencer, then node.
        """
        if not batch:
            return []
        with self.sequencer.lock:
            before = self.seq
            receipts = self.sequencer.submit_many(batch)
            if self.snapshot_every and self.seq // self.snapshot_every != before // self.snapshot_every:
                try:
                    self.snapshot()
                except Exception:  # a snapshot only shortens start-up: the batch is logged and applied
                    log.exception("snapshot after seq %d failed", self.seq)
            return [_outcome(r) for r in receipts]

    def snapshot(self) -> Snapshot:
        def capture() -> tuple[str, bytes]:
            with self.lock:  # under the sequencer's lock: no batch is between append and apply
                blob = zlib.compress(pickle.dumps((self.exchange.state, self.nonces), protocol=5))
                return self.exchange.state_hash(), blob

        return self.sequencer.snapshot(capture)

    def read(self, fn: Callable[[Exchange], Any]) -> Any:
        """Run a read against a consistent state (views)."""
        with self.lock:
            return fn(self.exchange)

    def close(self) -> None:
        with self.sequencer.lock, self.lock:
            self.log.close()


def _outcome(receipt: Receipt[list[Event]]) -> Outcome:
    result = receipt.result
    if isinstance(result, Rejection):
        error = result.error
        assert isinstance(error, NetclearError)
        return Outcome(receipt.seq, receipt.time_ms, None, error)
    return Outcome(receipt.seq, receipt.time_ms, result, None)


def replay(
    config: ExchangeConfig | str | None, log: ActionLog, *, from_snapshot: bool = True
) -> tuple[Exchange, int]:
    """Re-derive the state from the log (optionally ignoring snapshots); returns the exchange and seq."""
    if from_snapshot:
        node = Node(config, log, snapshot_every=0)
        return node.exchange, node.seq
    exchange = Exchange(bind_config(log, config))
    nonces = NonceStore()

    def apply(sub: Submission, time_ms: int) -> None:
        if sub.signer is not None and sub.nonce is not None:
            nonces.commit(sub.signer, sub.nonce)
        try:
            exchange.apply(sub.action, at=time_ms)
        except NetclearError:
            raise
        except Exception as exc:  # as live: an engine defect rejects (and rolls back) the action
            raise InternalError("engine", f"internal error: {type(exc).__name__}") from exc

    result = replay_log(log, apply, decode_submission)
    return exchange, result.last_seq
