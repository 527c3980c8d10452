"""All-or-nothing application of an action, with nested savepoints, over an undo journal.

Opening a :class:`Tx` starts the thread's undo journal (:mod:`netclear.undo`) unless one is already
open (then the new Tx nests inside it). From then on every write to the state records its undo: the
state's objects journal their attribute writes, its maps their item writes, the order books their
structural changes. So the transaction owns *every* mutable part of the state (accounts, reserves,
prices, books, triggers and their index, markets, cooldowns, agents, counters), and handler code cannot
change state behind its back. If the action raises, :meth:`Tx.rollback` undoes the journal in place
(references held by callers stay valid) and the rejected action changes nothing (DESIGN rule 7).

A savepoint is a journal position: :meth:`savepoint` copies nothing, :meth:`rollback_to` undoes back to
it (e.g. one fill whose resting side fails its margin check), :meth:`release` forgets it. The action's
accounts as they were before it (:meth:`original`) are rebuilt on demand from the journal.
Handlers reach accounts through a Tx (:meth:`account`), which also tracks the accounts the action
touched.
"""

from __future__ import annotations

import contextlib
from typing import Any

from netclear import undo
from netclear.engine.state import Account, ExchangeState, LeverageSetting, Mode, Position, PriceState, Reserve


class Tx:
    __slots__ = (
        "_base",
        "_log",
        "_marks",
        "_open",
        "_originals",
        "_owner",
        "_touched",
        "_touched_reserves",
        "cleared",
        "state",
    )

    def __init__(self, state: ExchangeState) -> None:
        self.state = state
        log = undo.active()
        self._owner = log is None
        if log is None:
            log = undo.begin()
        self._log = log
        self._base = len(log)
        self._open = True
        self._touched: dict[str, None] = {}
        self._touched_reserves: dict[int, None] = {}
        self._originals: dict[str, tuple[int, Account | None]] = {}
        self._marks: list[tuple[int, int, int]] = [(self._base, 0, 0)]
        """Per savepoint: (journal position, touched accounts, touched reserves) when it was taken."""
        self.cleared: set[str] = set()
        """Accounts proven above maintenance by a check since their last change in this transaction (the
        liquidation test after an order may skip them, :func:`netclear.engine.liquidation.engine.run`).
        Any rollback forgets every mark: a rolled-back change may have been what a check proved."""

    # -------------------------------------------------------------- accessors
    def account(self, address: str, *, create: bool = True) -> Account:
        acct = self.state.accounts.get(address)
        if address not in self._touched:
            self._touched[address] = None
        if acct is None:
            if not create:
                raise KeyError(address)
            acct = Account(address)
            self.state.accounts[address] = acct
        return acct

    def existing(self, address: str) -> Account | None:
        if address not in self.state.accounts:
            return None
        return self.account(address)

    def reserve(self, token: int) -> Reserve:
        res = self.state.reserves.get(token)
        if token not in self._touched_reserves:
            self._touched_reserves[token] = None
        if res is None:
            res = Reserve(token, last_accrual_ms=self.state.time_ms)
            self.state.reserves[token] = res
        return res

    def prices(self) -> PriceState:
        return self.state.prices

    def credit_external(self, token: int, amount: int) -> None:
        self.state.external_in[token] = self.state.external_in.get(token, 0) + amount

    def debit_external(self, token: int, amount: int) -> None:
        self.state.external_out[token] = self.state.external_out.get(token, 0) + amount

    def original(self, address: str) -> Account | None:
        """The account as it was before this transaction (None if it did not exist).

        Rebuilt from the journal in one pass, newest entry first: the entries that touched the account
        (its fields, maps, positions, leverage settings) are undone on a private copy, made at the first
        such entry (raw writes to the copy: nothing is journaled); an account nothing touched is returned
        live, as before. Cached until the journal grows.
        """
        log = self._log
        cached = self._originals.get(address)
        if cached is not None and cached[0] == len(log):
            return cached[1]
        accounts = self.state.accounts
        live = accounts.get(address)
        ids: set[int] = set()
        if live is not None:
            ids.add(id(live))
            ids.update(id(getattr(live, name)) for name in Account._MAPS)
            ids.update(id(p) for p in live.positions.values())
            ids.update(id(lev) for lev in live.leverage.values())
        copy: Account | None = None
        memo: dict[int, Any] = {}
        result: Account | None = live
        for i in range(len(log) - 1, self._base - 1, -1):
            kind, target, key, old = log[i]
            if target is accounts:
                if key == address and kind != undo.CLEAR:
                    value = old[0] if kind == undo.ITEM_AT else old
                    if value is undo.MISSING:
                        result = None  # created by this transaction
                        break
                continue
            tid = id(target)
            if copy is None:
                if tid not in ids:
                    continue
                assert live is not None
                copy = _private_copy(live, memo)
                result = copy
            mine = memo.get(tid)
            if mine is None:
                continue
            if kind == undo.ATTR:
                object.__setattr__(mine, key, _private(old, memo))
            elif kind == undo.ITEM:
                if old is undo.MISSING:
                    dict.pop(mine, key, None)
                else:
                    dict.__setitem__(mine, key, _private(old, memo))
            elif kind == undo.ITEM_AT:
                mine._restore_at(key, _private(old[0], memo), old[1])
            elif kind == undo.CLEAR:
                dict.clear(mine)
                dict.update(mine, [(k, _private(v, memo)) for k, v in old])
        self._originals[address] = (len(log), result)
        return result

    def touched_accounts(self) -> list[Account]:
        accounts = self.state.accounts
        return [accounts[a] for a in self._touched if a in accounts]

    def touched_addresses(self) -> list[str]:
        """The addresses of :meth:`touched_accounts` (accounts that exist), in first-touch order."""
        accounts = self.state.accounts
        return [a for a in self._touched if a in accounts]

    def touched_pm_accounts(self) -> list[Account]:
        accounts = self.state.accounts
        out = []
        for a in self._touched:
            acct = accounts.get(a)
            if acct is not None and acct.mode is Mode.PORTFOLIO:
                out.append(acct)
        return out

    # -------------------------------------------------------------- savepoints
    def savepoint(self) -> int:
        """Mark the journal; returns the depth to hand to :meth:`rollback_to` or :meth:`release`."""
        self._marks.append((len(self._log), len(self._touched), len(self._touched_reserves)))
        return len(self._marks) - 1

    def release(self, depth: int) -> None:
        """Keep the changes since ``savepoint()`` returned ``depth`` (nothing to copy)."""
        del self._marks[max(depth, 1) :]

    def rollback_to(self, depth: int) -> None:
        """Undo everything since ``savepoint()`` returned ``depth``."""
        pos, n_touched, n_reserves = self._marks[depth]
        self.cleared.clear()
        undo.undo_to(self._log, pos)
        _truncate(self._touched, n_touched)
        _truncate(self._touched_reserves, n_reserves)
        del self._marks[max(depth, 1) :]

    def rollback(self) -> None:
        """Undo everything this transaction did, and close it."""
        self.rollback_to(0)
        self.close()

    def commit(self) -> None:
        """Keep everything and close the transaction (an outermost one stops the journal; a nested one
        leaves its entries to the enclosing transaction)."""
        self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            if self._owner:
                undo.end(self._log)
                self._log.clear()

    def __del__(self) -> None:  # a Tx dropped without commit (a read-only use) stops its journal
        if self._open and self._owner:
            with contextlib.suppress(Exception):  # e.g. at interpreter shutdown
                undo.end(self._log)


def _private_copy(live: Account, memo: dict[int, Any]) -> Account:
    """A copy of ``live`` whose parts are registered in ``memo`` (live object id -> its copy)."""
    copy = live.clone()
    memo[id(live)] = copy
    for name in Account._MAPS:
        memo[id(getattr(live, name))] = getattr(copy, name)
    for k, pos in live.positions.items():
        memo[id(pos)] = copy.positions[k]
    for k, lev in live.leverage.items():
        memo[id(lev)] = copy.leverage[k]
    return copy


def _truncate(d: dict[Any, None], n: int) -> None:
    while len(d) > n:
        d.popitem()


def _private(value: Any, memo: dict[int, Any]) -> Any:
    """An old value for a private copy: positions and leverage settings are copied (once), so older
    entries that changed them apply to the copy, not to the live state."""
    if isinstance(value, Position | LeverageSetting | dict):
        mine = memo.get(id(value))
        if mine is None:
            if isinstance(value, Position):
                mine = value.clone()
            elif isinstance(value, LeverageSetting):
                mine = LeverageSetting(value.is_cross, value.value)
            else:  # a whole map that was replaced: copy it (its own older entries then apply to the copy)
                mine = undo.JDict({k: _private(v, memo) for k, v in value.items()})
            memo[id(value)] = mine
        return mine
    return value
