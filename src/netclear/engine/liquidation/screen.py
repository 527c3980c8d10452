"""Liquidation candidates after a price move, screened in float64 and confirmed on the exact path.

A price tick can lower the equity of every holder. Checking each one exactly (Python integers, a clone
per account) costs seconds on a 100,000-holder book (docs/benchmarks.md, "Price ticks at scale"), so the
exchange keeps a :class:`~netclear.risk.vector.RiskBook` of the holders' pools and asks it who *could* be
liquidatable at the new marks; only those, plus the accounts it cannot vouch for, go to the liquidation
engine, which decides on the exact path as before.

The screen must never miss an account the exact path would liquidate:

* **Safety margin.** A pool is flagged when ``equity < mm + SAFETY x (|equity| + mm + 1)`` (float64,
  relative margin :data:`SAFETY` = 1e-6, far above float64's 1e-16 rounding on sums of a few
  positions), so the flagged set is a superset of the exact ``equity < mm``.
* **Dirty accounts.** Every account an action touched since the book was built (``Tx`` clones it on
  first touch) is *dirty*: its rows in the book may be stale, so they are ignored and the account is
  re-encoded from the current state at each tick, in a small book of the dirty accounts only, and
  screened there. The big book is rebuilt lazily, at a tick, only when the dirty set has grown past
  :data:`REBUILD_FRACTION` of the book (or :data:`REBUILD_MIN` accounts), not on every tick.
* **Exact-only accounts.** Portfolio-margin accounts and accounts that borrow or supply are always
  confirmed exactly: their value depends on token prices, reserve indexes and the USDC oracle, which
  a stale book would carry at build-time values. (The SetPrices PM housekeeping already revalues and
  touches every PM account exactly, so screening them would save nothing yet.)

What is screened is a standard or unified account's pools (dex cross pools, collateral pools, isolated
positions): ``cash + sum size x mark`` against the tiered maintenance margin, which depends on the
holdings and the marks only (Hyperliquid docs 'Liquidations', 'Margin tiers'). The exact test it
over-approximates is the engine's (:meth:`netclear.engine.health.AccountHealth.liquidatable_pools`, the rule
:func:`netclear.margin.standard.below_maintenance`); the book's portfolio-margin threshold is
:func:`netclear.engine.health.pm_liquidation_ratio`, the engine's own. :data:`SAFETY` is the screen's float
margin, not a rule.
"""

from __future__ import annotations

import copy

from netclear.engine.state import Account, ExchangeState, Mode
from netclear.markets.registry import Registry
from netclear.risk.vector import RiskBook

SAFETY = 1e-6
"""Relative safety margin of the float64 screen (see the module docstring)."""
REBUILD_MIN = 1024
REBUILD_FRACTION = 0.02
"""The book is rebuilt at a tick when more than ``max(REBUILD_MIN, REBUILD_FRACTION x book)`` accounts are
dirty; below that the dirty ones are re-encoded in a small book at each tick."""


def _holder(acct: Account) -> bool:
    return bool(acct.positions or acct.borrow_basis)


def _exact_only(acct: Account) -> bool:
    return acct.mode is Mode.PORTFOLIO or bool(acct.borrow_basis or acct.supply_basis)


class PriceScreen:
    """The exchange's screen of holders for price ticks, kept in step with the state it was built on."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.book: RiskBook | None = None
        self._state: ExchangeState | None = None
        self.dirty: set[str] = set()
        """Accounts touched since the book was built: re-encoded at every tick (their book rows are stale)."""
        self.exact: set[str] = set()
        """Holders that are always confirmed exactly (PM, borrowing or supplying), as of the build."""
        self.rebuilds = 0

    def note(self, addresses: set[str]) -> None:
        """Record the accounts an applied action touched (their rows in the book may be stale)."""
        if self.book is not None:
            self.dirty |= addresses

    def invalidate(self) -> None:
        """Forget the book (the state was edited outside ``Exchange.apply``); the next tick rebuilds it."""
        self.book = None
        self.dirty.clear()

    def _rebuild(self, state: ExchangeState) -> RiskBook:
        book = RiskBook(self.reg)
        book.build(state)
        self.book = book
        self._state = state  # held, so a new state object is always noticed
        self.dirty = set()
        self.exact = {a for a, acct in state.accounts.items() if _holder(acct) and _exact_only(acct)}
        self.rebuilds += 1
        return book

    def candidates(self, state: ExchangeState, touched: set[str]) -> set[str]:
        """Accounts that may be liquidatable at the state's current marks: a superset of those the exact
        path liquidates. ``touched``: the accounts the current action has touched so far (dirty too)."""
        book = self.book
        if (
            book is None
            or self._state is not state
            or len(self.dirty) > max(REBUILD_MIN, REBUILD_FRACTION * len(book.accounts))
        ):
            book = self._rebuild(state)
        accounts = state.accounts
        stale = {a for a in self.dirty | touched if a in accounts and _holder(accounts[a])}
        exact = {a for a in stale if _exact_only(accounts[a])}
        exact |= {a for a in self.exact if a in accounts and _holder(accounts[a])}
        out = set(exact)
        marks = book.marks_of(state)
        if book.pools is not None and len(book.accounts):
            flagged = book.screen(marks, SAFETY, "hyperliquid")
            out.update(a for a in flagged if a in accounts and a not in stale and _holder(accounts[a]))
        fresh = stale - exact
        if fresh:
            # re-encode the changed accounts from the current state: a small book of their own
            view = copy.copy(state)
            view.accounts = {a: accounts[a] for a in fresh}
            small = RiskBook(self.reg)
            small.build(view)
            out.update(small.screen(marks, SAFETY, "hyperliquid"))
        return out
