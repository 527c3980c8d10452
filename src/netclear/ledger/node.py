"""The sequencer: log first, then apply, then acknowledge; snapshots; start-up and replay.

``Node.submit_many`` takes a batch of actions, gives each the next sequence number and a timestamp
(never earlier than the last), appends them to the log in **one** durable transaction (group commit)
and only then applies them in order; a caller is answered after its action is both logged and
applied. A rejected action is logged too: replay rejects it again the same way, so the log is the
full input history and replay reproduces the state hash.

Start-up = latest snapshot + replay of the tail. A snapshot is the pickled engine state and nonce
store (a trusted local file, written by this process) with its state hash, checked on load.
"""

from __future__ import annotations

import contextlib
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

from netclear.api.nonces import NonceStore
from netclear.config import ExchangeConfig
from netclear.engine.actions import Action, decode_action, encode_action
from netclear.engine.events import Event
from netclear.engine.exchange import Exchange
from netclear.errors import ConfigError, InternalError, InvalidAction, NetclearError
from netclear.ledger.actionlog import ActionLog, LogCorruption, Snapshot, make_records

log = logging.getLogger("netclear.node")


class Envelope(msgspec.Struct, frozen=True):
    """What a log record's payload holds: the engine action and who signed it (for the nonce store)."""

    action: msgspec.Raw
    signer: str | None = None
    nonce: int | None = None


_envelope_decoder = msgspec.json.Decoder(Envelope)


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
    cfg = parse_config(json.loads(stored), source="log meta")
    if config is not None:
        given = config if isinstance(config, ExchangeConfig) else resolve(config)
        if given.model_dump_json() != stored:
            raise ConfigError(
                "preset",
                f"the log was written under preset {cfg.preset.name!r} (its own "
                f"configuration), not {given.preset.name!r}; replay it without a preset",
            )
    return cfg


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


@dataclass(slots=True)
class Submission:
    action: Action
    signer: str | None = None
    nonce: int | None = None


def open_log(url: str | Path) -> ActionLog:
    """``sqlite:///path.db`` or a plain path (SQLite), ``postgresql://...`` (PostgreSQL)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from netclear.ledger.pg_log import PostgresLog

        return PostgresLog(text)
    from netclear.ledger.sqlite_log import SqliteLog

    return SqliteLog(text.removeprefix("sqlite:///").removeprefix("sqlite://"))


class Node:
    """One exchange with its durable log. Thread-safe: one writer at a time."""

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
        self.seq = 0
        self.replayed = 0
        self.clock_offset_ms = 0
        """Operator time travel (``/operator/time``): added to the clock; replay reads logged times."""
        self._recover()

    def now(self) -> int:
        return self.clock() + self.clock_offset_ms

    # ------------------------------------------------------------------ start-up
    def _recover(self) -> None:
        snap = self.log.latest_snapshot()
        start = 1
        if snap is not None:
            state, nonces = pickle.loads(zlib.decompress(snap.blob))
            exchange = Exchange(self.config, state=state)
            if exchange.state_hash() != snap.state_hash:
                raise LogCorruption(snap.seq, "snapshot does not match its recorded state hash")
            self.exchange, self.nonces, self.seq = exchange, nonces, snap.seq
            start = snap.seq + 1
        for record in self.log.read_from(start):
            self._apply_record(record.payload, record.time_ms)
            self.seq = record.seq
            self.replayed += 1
        last_seq, _ = self.log.last()
        if last_seq != self.seq:
            raise LogCorruption(self.seq + 1, f"log ends at {last_seq} but replay stopped at {self.seq}")

    def _apply_record(self, payload: bytes, time_ms: int) -> Outcome:
        env = _envelope_decoder.decode(payload)
        action = decode_action(bytes(env.action))
        return self._apply(action, time_ms, env.signer, env.nonce, self.seq + 1)

    def _apply(
        self, action: Action, time_ms: int, signer: str | None, nonce: int | None, seq: int
    ) -> Outcome:
        if signer is not None and nonce is not None:
            self.nonces.commit(signer, nonce)
        try:
            events = self.exchange.apply(action, at=time_ms)
            return Outcome(seq, time_ms, events, None)
        except NetclearError as exc:
            return Outcome(seq, time_ms, None, exc)
        except Exception as exc:  # an engine defect: the action was rolled back; replay does the same
            log.exception("engine error applying seq %s", seq)
            return Outcome(
                seq, time_ms, None, InternalError("engine", f"internal error: {type(exc).__name__}")
            )

    # ------------------------------------------------------------------ writing
    def submit(self, action: Action, *, signer: str | None = None, nonce: int | None = None) -> Outcome:
        return self.submit_many([Submission(action, signer, nonce)])[0]

    def submit_many(self, batch: Sequence[Submission]) -> list[Outcome]:
        """Log the batch durably in one transaction, then apply each action in order."""
        if not batch:
            return []
        with self.lock:
            now = max(self.now(), self.exchange.state.time_ms)
            items = []
            for sub in batch:
                check_replayable(sub.action)
                env = Envelope(msgspec.Raw(encode_action(sub.action)), sub.signer, sub.nonce)
                items.append((now, msgspec.json.encode(env)))
            last_seq, last_digest = self.log.last()
            records = make_records(last_seq, last_digest, items)
            self.log.append_many(records)
            out = []
            for sub, rec in zip(batch, records, strict=True):
                out.append(self._apply(sub.action, rec.time_ms, sub.signer, sub.nonce, rec.seq))
                self.seq = rec.seq
            if (
                self.snapshot_every
                and self.seq // self.snapshot_every != (self.seq - len(batch)) // self.snapshot_every
            ):
                self.snapshot()
            return out

    def snapshot(self) -> Snapshot:
        with self.lock:
            blob = zlib.compress(pickle.dumps((self.exchange.state, self.nonces), protocol=5))
            snap = Snapshot(self.seq, self.exchange.state_hash(), blob)
            self.log.save_snapshot(snap)
            return snap

    def read(self, fn: Callable[[Exchange], Any]) -> Any:
        """Run a read against a consistent state (views)."""
        with self.lock:
            return fn(self.exchange)

    def close(self) -> None:
        with self.lock:
            self.log.close()


def replay(
    config: ExchangeConfig | str | None, log: ActionLog, *, from_snapshot: bool = True
) -> tuple[Exchange, int]:
    """Re-derive the state from the log (optionally ignoring snapshots); returns the exchange and seq."""
    if from_snapshot:
        node = Node(config, log, snapshot_every=0)
        return node.exchange, node.seq
    exchange = Exchange(bind_config(log, config))
    nonces = NonceStore()
    seq = 0
    for record in log.read_from(1):
        env = _envelope_decoder.decode(record.payload)
        if env.signer is not None and env.nonce is not None:
            nonces.commit(env.signer, env.nonce)
        with contextlib.suppress(Exception):  # rejected then (or engine error), rejected again: same state
            exchange.apply(decode_action(bytes(env.action)), at=record.time_ms)
        seq = record.seq
    return exchange, seq
