"""``Exchange``: the single-writer state machine (DESIGN rule 1), dispatch only.

``apply(action, at=...)`` is the only way state changes. Time comes from the action's timestamp,
never from the wall clock; hourly processes (interest indexing) run as time passes, before the
action. An action that raises is rolled back whole; the clock advance itself stands.

The pieces it sequences live in their own modules: the handlers (:mod:`netclear.engine.handlers`), the
portfolio-margin housekeeping after each action (:mod:`netclear.engine.pm_housekeeping`), liquidation
(:mod:`netclear.engine.liquidation`) and the hashes (:mod:`netclear.engine.hashing`). Reads are not here:
:mod:`netclear.views` renders a state without the exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from netclear.config import ExchangeConfig, resolve
from netclear.engine import actions as A
from netclear.engine import hashing, market_clock, pm_housekeeping
from netclear.engine import order_actions as O
from netclear.engine.accounting import Valuer
from netclear.engine.context import Ctx
from netclear.engine.events import Event
from netclear.engine.handlers import funds, lending_actions, modes, orders, prices, trading
from netclear.engine.health import HealthCache
from netclear.engine.liquidation import engine as liquidation_engine
from netclear.engine.liquidation.screen import PriceScreen
from netclear.engine.state import Account, ExchangeState, Mode
from netclear.engine.tx import Tx
from netclear.errors import InvalidAction, NetclearError
from netclear.markets.registry import Registry

Handler = Callable[[Ctx, Any], None]

_ORDER_ACTIONS = (O.PlaceOrder, O.Cancel, O.CancelByCloid)
"""Actions whose liquidation candidates are the accounts they traded or charged (``Ctx.at_risk``) only."""

HANDLERS: dict[type[A.Action], Handler] = {
    A.Deposit: funds.deposit,
    A.Withdraw: funds.withdraw,
    A.UsdSend: funds.usd_send,
    A.SpotSend: funds.spot_send,
    A.UsdClassTransfer: funds.usd_class_transfer,
    A.SendAsset: funds.send_asset,
    A.CreateSubAccount: funds.create_sub_account,
    A.SubAccountTransfer: funds.sub_account_transfer,
    A.SetAbstraction: modes.set_abstraction,
    A.SetDexAbstraction: modes.set_dex_abstraction,
    A.Noop: modes.noop,
    A.UpdateLeverage: modes.update_leverage,
    A.UpdateIsolatedMargin: modes.update_isolated_margin,
    A.ApproveAgent: modes.approve_agent,
    A.BorrowLend: lending_actions.borrow_lend,
    A.SettleFill: trading.settle_fill,
    A.SetPrices: prices.set_prices,
    A.AdvanceTime: prices.advance_time,
    A.GrantPmEligibility: modes.grant_pm_eligibility,
    O.PlaceOrder: orders.place_orders,
    O.Cancel: orders.cancel,
    O.CancelByCloid: orders.cancel_by_cloid,
    O.Modify: orders.modify,
    O.BatchModify: orders.batch_modify,
    O.ScheduleCancel: orders.schedule_cancel,
}


class Exchange:
    """A clearinghouse instance over one configuration."""

    def __init__(
        self, config: ExchangeConfig | str | Path = "hyperliquid", state: ExchangeState | None = None
    ) -> None:
        cfg = config if isinstance(config, ExchangeConfig) else resolve(config)
        self.config = cfg
        self.registry = Registry.from_config(cfg)
        if state is None:
            state = ExchangeState()
            state.prices.usdc_oracle = int(cfg.usdc_oracle_price * 10**8)
        self.state = state
        self.handlers: dict[type[A.Action], Handler] = dict(HANDLERS)
        self.screen = PriceScreen(self.registry)
        self.health = HealthCache(self.registry)
        """The last action's :class:`~netclear.engine.health.AccountHealth` per account (each read checks it
        against the state, :mod:`netclear.engine.health`)."""
        """Who may be liquidatable after a price move (:mod:`netclear.engine.liquidation.screen`); call
        ``screen.invalidate()`` after editing ``state`` outside :meth:`apply`."""

    # ------------------------------------------------------------------ applying actions
    def apply(self, action: A.Action, at: int | None = None) -> list[Event]:
        """Apply one action at time ``at`` (ms). Returns its events or raises and changes nothing."""
        handler = self.handlers.get(type(action))
        if handler is None:
            raise InvalidAction("type", f"unknown action {type(action).__name__}")
        state = self.state
        state.seq += 1
        if at is not None:
            self._advance_clock(at)
        tx = Tx(state)
        reg = self.registry
        ctx = Ctx(tx, reg, health_cache=self.health.begin(state))
        try:
            user = getattr(action, "user", None)
            actor = state.accounts.get(user.lower()) if isinstance(user, str) else None
            if actor is not None and actor.mode is not Mode.STANDARD:
                self._count_user_action(ctx, actor)
            if reg.pm is not None:
                before = pm_housekeeping.free_before(ctx, action, actor)
                handler(ctx, action)
                pm_housekeeping.rebalance_after(ctx, action, before)
            else:
                handler(ctx, action)
            candidates = self._liquidation_candidates(ctx, action)
            if candidates or ctx.at_risk:
                cleared = tx.cleared if isinstance(action, _ORDER_ACTIONS) else None
                liquidation_engine.run(ctx, candidates, cleared=cleared)
        except BaseException:
            tx.rollback()
            raise
        tx.commit()
        screen = self.screen
        if screen.book is not None:
            screen.note(set(tx.touched_addresses()))
        if ctx.records:
            _keep_records(state, ctx)
        return ctx.events

    def apply_block(self, block: list[tuple[A.Action, int | None]]) -> list[list[Event] | NetclearError]:
        """Apply a consensus block in Hyperliquid's order (Hyperliquid docs 'Order book'): actions that send
        no GTC/IOC order first, then cancels, then actions with GTC/IOC orders; proposer order within a class.
        Each action stands alone: its result is its events or the error that rejected it."""
        order = sorted(range(len(block)), key=lambda i: O.block_class(block[i][0]))
        results: list[list[Event] | NetclearError] = [[] for _ in block]
        for i in order:
            action, at = block[i]
            try:
                results[i] = self.apply(action, at=at)
            except NetclearError as exc:
                results[i] = exc
        return results

    def _advance_clock(self, at: int) -> None:
        if isinstance(at, bool) or not isinstance(at, int) or at < 0:
            raise InvalidAction("time", f"must be a non-negative integer of milliseconds, got {at!r}")
        if at < self.state.time_ms:
            raise InvalidAction(
                "time", f"{at} is before the exchange clock {self.state.time_ms}; time never goes back"
            )
        if at == self.state.time_ms:
            return
        tx = Tx(self.state)
        ctx = Ctx(tx, self.registry, health_cache=self.health.begin(self.state))
        state = self.state
        before_ms = state.time_ms
        try:
            hour = 3_600_000
            if state.time_ms == 0:
                # genesis: nothing existed before the first action, so no past hour is owed anything
                state.last_funding_hour = state.last_index_hour = at // hour
                state.time_ms = at // hour * hour
            market_clock.pass_hours(ctx, at)  # funding and reserve indexing at each hour boundary passed
            market_clock.sample_premiums(ctx, at)
            state.time_ms = at
            orders.run_scheduled_cancels(ctx, at)
            liquidation_engine.run_backstop_twap(ctx, at)
            pm_housekeeping.rebalance_touched(ctx)
            candidates = {a.address for a in tx.touched_accounts() if a.positions or a.borrow_basis}
            if at // hour > before_ms // hour:
                # hourly indexing grew every debt (Hyperliquid docs 'Portfolio margin') without touching the
                # borrowers
                candidates |= {a.address for a in state.accounts.values() if a.borrow_basis}
            if candidates:
                liquidation_engine.run(ctx, candidates)
        except Exception:
            tx.rollback()
            raise
        tx.commit()
        self.screen.note(set(tx.touched_addresses()))
        _keep_records(self.state, ctx)

    def _count_user_action(self, ctx: Ctx, acct: Account) -> None:
        """ "Portfolio margin and unified account are limited to 50k user actions per day" (Hyperliquid docs
        'Account abstraction modes'). ``acct``: the acting user's account."""
        if not acct.mode.unified:
            return
        day = self.state.time_ms // 86_400_000
        d, n = acct.actions_today
        n = n if d == day else 0
        limit = self.config.max_user_actions_per_day
        if n >= limit:
            raise InvalidAction("user", f"{acct.mode.value} accounts are limited to {limit} actions per day")
        ctx.tx.account(acct.address).actions_today = (day, n + 1)

    def _liquidation_candidates(self, ctx: Ctx, action: A.Action) -> set[str]:
        """Accounts whose equity the action may have lowered: after a price update, the holders the
        vector screen cannot clear (:mod:`netclear.engine.liquidation.screen`); after an order or a cancel,
        the accounts it traded or charged (``ctx.at_risk``: placing or canceling alone lowers no equity);
        else the accounts it touched."""
        if isinstance(action, A.SetPrices):
            # every holder's equity may have moved: the vector screen picks who to check exactly
            return self.screen.candidates(self.state, set(ctx.tx.touched_addresses()))
        at_risk = ctx.at_risk
        if isinstance(action, _ORDER_ACTIONS):
            if not at_risk:
                return set()
            touched: set[str] | dict[str, None] = at_risk
        else:
            touched = at_risk | set(ctx.tx.touched_addresses())
        accounts = self.state.accounts
        out = set()
        for a in touched:
            acct = accounts.get(a)
            if acct is not None and (acct.positions or acct.borrow_basis):
                out.add(a)
        return out

    # ------------------------------------------------------------------ reading
    def valuer(self) -> Valuer:
        return Valuer(self.registry, self.state)

    def state_hash(self) -> str:
        """blake2b of a canonical encoding of the state (:func:`netclear.engine.hashing.state_hash`)."""
        return hashing.state_hash(self.state)


def _keep_records(state: ExchangeState, ctx: Ctx) -> None:
    """Add a committed action's history records (some deferred: :mod:`netclear.engine.records`, read as
    mappings and rendered to plain dicts by the views and feeds)."""
    history = state.history
    for kind, user, record in ctx.records:
        history.add(kind, user, cast("dict[str, Any]", record))
