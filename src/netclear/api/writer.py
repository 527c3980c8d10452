"""The single writer: requests queue up, a thread logs them in batches (group commit) and applies them.

Signature recovery is done before queueing (on the event loop, ``server.py``); the writer re-checks
nonces against the store and within its batch (so two requests with one nonce cannot both pass),
logs the batch in one durable transaction and applies it (:meth:`Node.submit_many`), then answers:
``submit`` callers through their future, ``submit_async`` callers with one callback per event loop
per batch, every answer after the batch's commit returned.

The thread never dies (docs/api.md "Read-only state"). An action that makes the batch fail without
touching storage (one the log cannot encode, a time outside int64) is rejected on its own and the
others are retried one by one. A storage failure (a full disk, an I/O error, a halted sequencer)
switches the writer to a **read-only** state: every waiting and later write is answered at once
with :class:`WriterReadOnly` naming the cause, ``/health`` reports it, and reads keep working;
a restart (which replays and verifies the log) is the way back.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from netclear.engine.actions import Action
from netclear.errors import InvalidAction, NetclearError
from netclear.ledger.log import LogCorruption
from netclear.ledger.node import Node, Outcome, Submission, check_replayable
from netclear.ledger.nonces import NonceError

MAX_BATCH = 512
log = logging.getLogger("netclear.writer")


class WriterReadOnly(NetclearError):
    """The log can no longer be written: the exchange answers reads only until it is restarted."""

    code = "read_only"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "exchange", f"read-only: the action log cannot be written ({reason}); restart the node"
        )


def is_storage_failure(exc: BaseException) -> bool:
    """An error of the storage under the log (disk, database, corruption), not of one action."""
    if isinstance(exc, OSError | sqlite3.Error | LogCorruption | MemoryError):
        return True
    return type(exc).__module__.split(".", 1)[0] in ("psycopg", "psycopg2")


@dataclass(slots=True)
class Job:
    action: Action
    signer: str | None = None
    nonce: int | None = None
    future: Future[Outcome] = field(default_factory=Future)
    waiter: asyncio.Future[Outcome] | None = None
    """For :meth:`Writer.submit_async`: the event loop's future, settled from ``future`` on that loop."""


def _settle(jobs: list[Job]) -> None:
    """On the event loop: copy each finished job's outcome to its loop future (one call per batch)."""
    for job in jobs:
        waiter = job.waiter
        if waiter is None or waiter.done():  # the request was cancelled (client gone)
            continue
        if not job.future.done():  # never: _guarded answers every job
            waiter.set_exception(InvalidAction("exchange", "internal error: unanswered job"))
            continue
        exc = job.future.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(job.future.result())


class Writer:
    def __init__(self, node: Node, on_commit: Callable[[], None] | None = None) -> None:
        self.node = node
        self.on_commit = on_commit
        self._q: queue.Queue[Job | None] = queue.Queue()
        self.read_only: str | None = None
        """Why the writer stopped writing (a storage failure), or ``None`` while it writes."""
        self._thread = threading.Thread(target=self._run, name="netclear-writer", daemon=True)
        self._thread.start()

    def submit(self, action: Action, signer: str | None = None, nonce: int | None = None) -> Future[Outcome]:
        job = Job(action, signer, nonce)
        if self.read_only is not None:
            job.future.set_exception(WriterReadOnly(self.read_only))
            return job.future
        self._q.put(job)
        return job.future

    def submit_async(
        self, action: Action, signer: str | None = None, nonce: int | None = None
    ) -> asyncio.Future[Outcome]:
        """:meth:`submit` for a caller on a running event loop: the outcome arrives as that loop's
        future. The writer wakes the loop once per batch and settles all of the batch's futures in
        that one callback, instead of one thread-safe wake-up and future chain per request."""
        loop = asyncio.get_running_loop()
        job = Job(action, signer, nonce, waiter=loop.create_future())
        assert job.waiter is not None
        if self.read_only is not None:
            job.waiter.set_exception(WriterReadOnly(self.read_only))
            return job.waiter
        self._q.put(job)
        return job.waiter

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                return
            batch = [job]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._guarded(batch)
            self._hand_over(batch)
            if stop:
                return

    @staticmethod
    def _hand_over(batch: list[Job]) -> None:
        """Every job of ``batch`` is answered (``_guarded``); pass the answers of
        :meth:`submit_async` callers to their loops, one callback per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        for job in batch:
            if job.waiter is not None:
                by_loop.setdefault(job.waiter.get_loop(), []).append(job)
        for loop, jobs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, jobs)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                log.debug("event loop closed; %d answers dropped", len(jobs))

    def _guarded(self, batch: list[Job]) -> None:
        """Process a batch; whatever goes wrong, answer every job and keep the thread alive."""
        try:
            self._process(batch)
        except BaseException as exc:  # a defect in the writer itself: answer, log, keep going
            log.exception("writer error")
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(
                        InvalidAction("exchange", f"internal error: {type(exc).__name__}")
                    )

    def _fail_storage(self, exc: BaseException) -> None:
        reason = self.node.sequencer.halted or f"{type(exc).__name__}: {exc}"
        if self.read_only is None:
            log.critical("the action log cannot be written; the exchange is now READ-ONLY: %s", reason)
        self.read_only = reason

    def _commit(self, jobs: list[Job]) -> None:
        """Log and apply ``jobs`` in one transaction; isolate a job that makes the batch fail."""
        if self.read_only is not None:
            for j in jobs:
                j.future.set_exception(WriterReadOnly(self.read_only))
            return
        try:
            outcomes = self.node.submit_many([Submission(j.action, j.signer, j.nonce) for j in jobs])
        except BaseException as exc:  # nothing of the batch was acknowledged
            if is_storage_failure(exc) or self.node.sequencer.halted is not None:
                self._fail_storage(exc)
                for j in jobs:
                    j.future.set_exception(WriterReadOnly(self.read_only or str(exc)))
                return
            if len(jobs) > 1:  # one action broke the batch: find it, commit the others
                for j in jobs:
                    self._commit([j])
                return
            log.warning("action refused by the log: %r", exc)
            jobs[0].future.set_exception(InvalidAction("action", f"cannot be logged: {exc}"))
            return
        for j, out in zip(jobs, outcomes, strict=True):
            j.future.set_result(out)

    def _process(self, batch: list[Job]) -> None:
        accepted: list[Job] = []
        seen: set[tuple[str, int]] = set()
        now = self.node.signer_now()  # the nonce window follows the signers' clock
        for job in batch:
            try:
                check_replayable(job.action)
            except NetclearError as exc:
                job.future.set_exception(exc)
                continue
            if job.signer is not None and job.nonce is not None:
                key = (job.signer, job.nonce)
                try:
                    if key in seen:
                        raise NonceError("nonce", f"nonce {job.nonce} already used by {job.signer}")
                    self.node.nonces.check(job.signer, job.nonce, now)
                except NetclearError as exc:
                    job.future.set_exception(exc)
                    continue
                seen.add(key)
            accepted.append(job)
        if not accepted:
            return
        self._commit(accepted)
        if self.on_commit is not None:
            try:
                self.on_commit()
            except Exception:
                log.exception("on_commit failed")
