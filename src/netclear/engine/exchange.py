"""``Exchange``: the single-writer state machine (DESIGN rule 1).

``apply(action, at=...)`` is the only way state changes. Time comes from the action's timestamp,
never from the wall clock; hourly processes (interest indexing) run as time passes, before the
action. An action that raises is rolled back whole; the clock advance itself stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec

from netclear.config import ExchangeConfig, resolve
from netclear.engine import actions as A
from netclear.engine import market_clock
from netclear.engine import order_actions as O
from netclear.engine.accounting import Valuer
from netclear.engine.context import Ctx
from netclear.engine.events import Event
from netclear.engine.handlers import funds, lending_actions, modes, orders, prices, trading
from netclear.engine.health import AccountHealth, HealthCache
from netclear.engine.liquidation import engine as liquidation_engine
from netclear.engine.liquidation.screen import PriceScreen
from netclear.engine.solvency import rebalance
from netclear.engine.state import Account, ExchangeState, Mode, OrderInfo
from netclear.engine.tx import Tx
from netclear.errors import InvalidAction, NetclearError
from netclear.markets.registry import Registry

Handler = Callable[[Ctx, Any], None]

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

# Actions after which every portfolio-margin account is re-balanced (prices moved for everyone).
_GLOBAL_ACTIONS: tuple[type[A.Action], ...] = (A.SetPrices,)


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
        self.state.seq += 1
        if at is not None:
            self._advance_clock(at)
        tx = Tx(self.state)
        ctx = Ctx(tx, self.registry, health_cache=self.health.begin(self.state))
        try:
            self._count_user_action(ctx, action)
            before = self._free_snapshot(ctx, action)
            handler(ctx, action)
            self._after(ctx, action, before)
            liquidation_engine.run(ctx, self._liquidation_candidates(ctx, action))
        except NetclearError:
            tx.rollback()
            raise
        except Exception:
            tx.rollback()
            raise
        self.screen.note({a.address for a in tx.touched_accounts()})
        history = self.state.history
        for kind, user, record in ctx.records:
            history.add(kind, user, record)
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
            for h in range(state.time_ms // hour + 1, at // hour + 1):
                boundary = h * hour
                state.time_ms = boundary
                if state.last_funding_hour < h:
                    market_clock.sample_premiums(ctx, boundary)
                    market_clock.pay_funding(ctx, boundary)
                    state.last_funding_hour = h
                prices.index_hourly(ctx, boundary)
            market_clock.sample_premiums(ctx, at)
            state.time_ms = at
            orders.run_scheduled_cancels(ctx, at)
            liquidation_engine.run_backstop_twap(ctx, at)
            for acct in sorted(tx.touched_pm_accounts(), key=lambda a: a.address):
                rebalance(tx, self.registry, acct, gains={}, health=ctx.healths())
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
        self.screen.note({a.address for a in tx.touched_accounts()})
        for kind, user, record in ctx.records:
            self.state.history.add(kind, user, record)

    def _count_user_action(self, ctx: Ctx, action: A.Action) -> None:
        """ "Portfolio margin and unified account are limited to 50k user actions per day" (Hyperliquid docs
        'Account abstraction modes')."""
        user = getattr(action, "user", None)
        if not isinstance(user, str):
            return
        acct = self.state.accounts.get(user.lower())
        if acct is None or not acct.mode.unified:
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
        vector screen cannot clear (:mod:`netclear.engine.liquidation.screen`), else the accounts it touched."""
        if isinstance(action, A.SetPrices):
            # every holder's equity may have moved: the vector screen picks who to check exactly
            return self.screen.candidates(self.state, {a.address for a in ctx.tx.touched_accounts()})
        accounts = self.state.accounts
        touched = ctx.at_risk | {
            a.address
            for a in ctx.tx.touched_accounts()
            if not isinstance(action, O.PlaceOrder | O.Cancel | O.CancelByCloid)
        }
        return {a for a in touched if a in accounts and (accounts[a].positions or accounts[a].borrow_basis)}

    def _pm_accounts(self, ctx: Ctx, action: A.Action) -> list[Account]:
        if isinstance(action, _GLOBAL_ACTIONS):
            return [a for a in self.state.accounts.values() if a.mode is Mode.PORTFOLIO]
        return ctx.tx.touched_pm_accounts()

    def _free_snapshot(self, ctx: Ctx, action: A.Action) -> dict[str, dict[int, int]]:
        """Free balances of PM accounts before the action, for the auto-repay step (global actions only;
        per-account actions read the transaction's pre-action copy)."""
        if not isinstance(action, _GLOBAL_ACTIONS):
            return {}
        v = Valuer(self.registry, self.state)
        return {a.address: _free_by_token(v, a) for a in self._pm_accounts(ctx, action)}

    def _after(self, ctx: Ctx, action: A.Action, before: dict[str, dict[int, int]]) -> None:
        """Portfolio-margin housekeeping for affected accounts (margin sharing, auto-repay, auto-supply)."""
        if self.registry.pm is None:
            return
        explicit_lending = isinstance(action, A.BorrowLend)
        v = Valuer(self.registry, self.state)
        for acct in sorted(self._pm_accounts(ctx, action), key=lambda a: a.address):
            live = ctx.tx.account(acct.address)
            if acct.address in before:
                prior = before[acct.address]
            else:
                original = ctx.tx.original(acct.address)
                prior = (
                    _free_by_token(v, original)
                    if original is not None and original.mode is Mode.PORTFOLIO
                    else {}
                )
            after = _free_by_token(v, live, ctx.health(live))
            gains = {t: after[t] - prior.get(t, 0) for t in after if after[t] > prior.get(t, 0)}
            rebalance(
                ctx.tx,
                self.registry,
                live,
                gains=gains,
                allow_auto=not explicit_lending,
                health=ctx.healths(),
            )

    # ------------------------------------------------------------------ reading
    def info(self, payload: dict[str, Any]) -> Any:
        """Answer an ``/info`` request body in Hyperliquid's JSON (see :mod:`netclear.views`)."""
        from netclear.views import dispatch

        return dispatch(self, payload)

    def valuer(self) -> Valuer:
        return Valuer(self.registry, self.state)

    def state_hash(self) -> str:
        """blake2b of a canonical encoding of the state (histories excluded, they are derived records)."""
        return hashlib.blake2b(canonical_state(self.state), digest_size=32).hexdigest()


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


def _free_by_token(v: Valuer, acct: Account, health: AccountHealth | None = None) -> dict[int, int]:
    h = health if health is not None else AccountHealth(v, acct)
    return {key.token: h.free(key) for key in h.pools if key.token is not None}
