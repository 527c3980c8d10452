"""The single writer: requests queue up, a thread logs them in batches (group commit) and applies them.

Signature recovery is done by the request threads; the writer re-checks nonces against the store
and within its batch (so two requests with one nonce cannot both pass), translates wire actions,
logs the batch in one durable transaction and applies it (:meth:`Node.submit_many`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from netclear.api.nonces import NonceError
from netclear.engine.actions import Action
from netclear.errors import NetclearError
from netclear.ledger.node import Node, Outcome, Submission, check_replayable

MAX_BATCH = 512


@dataclass(slots=True)
class Job:
    action: Action
    signer: str | None = None
    nonce: int | None = None
    future: Future[Outcome] = field(default_factory=Future)


class Writer:
    def __init__(self, node: Node, on_commit: Callable[[], None] | None = None) -> None:
        self.node = node
        self.on_commit = on_commit
        self._q: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="netclear-writer", daemon=True)
        self._thread.start()

    def submit(self, action: Action, signer: str | None = None, nonce: int | None = None) -> Future[Outcome]:
        job = Job(action, signer, nonce)
        self._q.put(job)
        return job.future

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._process(batch)
                    return
                batch.append(nxt)
            self._process(batch)

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
        try:
            outcomes = self.node.submit_many([Submission(j.action, j.signer, j.nonce) for j in accepted])
        except BaseException as exc:  # the log could not be written: nothing was acknowledged
            for j in accepted:
                j.future.set_exception(exc)
            raise
        for j, out in zip(accepted, outcomes, strict=True):
            j.future.set_result(out)
        if self.on_commit is not None:
            self.on_commit()


def run_sync(writer: Writer, action: Action, signer: str | None = None, nonce: int | None = None) -> Any:
    return writer.submit(action, signer, nonce).result()
