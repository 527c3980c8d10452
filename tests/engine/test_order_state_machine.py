"""Hypothesis state machine over the order books (model: tests/engine/test_state_machine.py).

Makers and takers place GTC / IOC / ALO / reduce-only orders and TP/SL triggers on the BTC and HYPE perps
and the @107 (HYPE/USDC) and @142 (UBTC/USDC) spot pairs, at prices on the tick grid near the mark
(Hyperliquid docs 'Tick and lot size'); they cancel and modify; prices move (oracle, explicit marks, spot);
time passes across hours (funding, Hyperliquid docs 'Funding'); users deposit and withdraw; one account is
under portfolio margin (auto-borrow at placement, Hyperliquid docs 'Portfolio margin') beside a unified
lender. After every step:

* per-token conservation (the invariant of test_state_machine.py): balances + perp cash + isolated margin +
  reserve cash = deposits - withdrawals, the fee sink included;
* holds: Σ spot holds of a user's resting orders per token = ``Account.spot_hold``; per perp asset the resting
  orders' ``OrderInfo.hold`` summed per side = ``Account.order_margin``; each hold equals its recomputation
  (spot: ``ceil(px x sz)`` quote or the base amount; perps: ``px x sz / leverage`` for a fully opening order,
  0 for reduce-only, at most that otherwise);
* ``open_orders`` = the user's resting orders + trigger orders;
* every book is internally consistent and never crossed (``OrderBook.assert_consistent``);
* standard accounts never hold more than they have (``spot >= spot_hold``);
and at the end, replaying the action log from scratch reproduces ``state_hash``.

Three machines share the rules:

* ``TestOrderBooks``: generous balances, so no order is refused for margin and no maker fails its re-check,
  and the portfolio-margin account only sells on spot. This keeps the known engine bugs (test_orders.py)
  out of the way and must pass.
* ``TestOrderBooksPortfolioMarginSpotBuys``: the same with PM spot buys (USDC holds next to perp positions),
  a regression machine for the PM auto-supply bug and the non-transactional books it exposed.
* ``TestOrderBooksTightMargin``: small balances, large orders and moves, so orders are refused for margin
  and makers and takers fail their checks at the match: a regression machine for the savepoint bug and for
  a GTC taker failing at a fill (``test_orders.py``
  ``test_gtc_taker_failing_its_margin_at_a_later_fill_keeps_earlier_fills_and_cancels_the_rest``).
"""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal
from fractions import Fraction

import msgspec
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.handlers.modes import leverage_of
from netclear.engine.invariants import conservation_breaks
from netclear.engine.liquidation import engine as liquidation_engine
from netclear.engine.state import Mode, OrderInfo
from netclear.errors import NetclearError
from netclear.fixedpoint import PX_SCALE, notional
from netclear.markets import ticks
from netclear.markets.registry import Perp, SpotPair
from tests.conftest import config_with, open_gates

STD_USERS = ["0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3)]
PM_USER = "0x" + "d4" * 20
USERS = [*STD_USERS, PM_USER]
LENDER = "0x" + "1e" * 20
HOUR = 3_600_000
PERPS = {"BTC": 100_000, "HYPE": 40}
SPOTS = {"@107": ("HYPE", 40), "@142": ("UBTC", 100_000)}
MARKETS = [*PERPS, *SPOTS]
TOKENS = {"USDC": 1, "HYPE": 100, "UBTC": 100_000}  # amount scale: deposits/withdrawals in 1/scale units

CONFIG = config_with(mutate=open_gates)


def _px(mark: int | Fraction, permille: int, szd: int, is_spot: bool) -> Decimal:
    """A price on the asset's tick grid ``permille``/1000 away from ``mark`` (whole units)."""
    exact = Fraction(mark) * (1000 + permille) / 1000 * PX_SCALE
    units = ticks.round_price_to_grid(exact, szd, is_spot)
    return Decimal(units).scaleb(-8)


class OrderBookMachine(RuleBasedStateMachine):
    """Generous balances: no order is refused for margin and no maker fails its re-check at the match."""

    PM_SPOT_BUYS = False
    USDC_DEPOSIT = 2_000_000
    HYPE_DEPOSIT = "50000"
    UBTC_DEPOSIT = "20"
    MAX_NOTIONAL = 20_000  # USD of one order
    SEED_NOTIONAL = 5_000  # USD of each order of the initial book (as a fraction of 20,000 in _spec)
    MAX_MOVE = 100  # permille of one price move

    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(CONFIG)
        self.log: list[tuple[A.Action, int | None]] = []
        self.now = 1_000
        self.perp_px = dict(PERPS)
        self.spot_px = {k: v for k, (_, v) in SPOTS.items()}
        self.cloids = 0

    # ------------------------------------------------------------------ plumbing
    def do(self, action: A.Action, at: int | None = None) -> list[object] | None:
        self.log.append((action, at))
        try:
            events = self.ex.apply(action, at=at)
        except NetclearError as exc:
            event(f"rejected {type(action).__name__}: {type(exc).__name__} {exc.field}")
            return None
        event(f"accepted {type(action).__name__}")
        for e in events:
            if e.kind == "orderStatuses":
                for s in e.statuses:
                    kind = s if isinstance(s, str) else next(iter(s))
                    detail = " ".join(str(s["error"]).split()[:4]) if kind == "error" else ""
                    event(f"status {kind} {detail}".rstrip())
            elif e.kind in ("triggered", "liquidation", "adl"):
                event(e.kind)
        return list(events)

    def _prices(self, with_marks: bool) -> A.SetPrices:
        oracle = {k: Decimal(v) for k, v in self.perp_px.items()}
        return A.SetPrices(
            oracle=oracle,  # type: ignore[arg-type]
            marks=dict(oracle) if with_marks else {},  # type: ignore[arg-type]
            spot={k: Decimal(v) for k, v in self.spot_px.items()},  # type: ignore[arg-type]
        )

    def _mark(self, coin: str) -> Fraction:
        reg = self.ex.registry
        if coin in PERPS:
            return Fraction(self.ex.state.prices.mark[reg.perp(coin).asset], PX_SCALE)
        return Fraction(self.spot_px[coin])

    @initialize()
    def setup(self) -> None:
        assert self.do(self._prices(True), at=self.now) is not None
        assert self.do(A.Deposit(user=LENDER, amount=Decimal(1_000_000))) is not None
        assert self.do(A.SetAbstraction(user=LENDER, abstraction="unifiedAccount")) is not None
        assert self.do(A.BorrowLend(user=LENDER, operation="supply", token="USDC", amount=Decimal(900_000)))
        for user in USERS:
            assert self.do(A.Deposit(user=user, amount=Decimal(self.USDC_DEPOSIT))) is not None
            assert self.do(A.Deposit(user=user, token="HYPE", amount=Decimal(self.HYPE_DEPOSIT))) is not None
            assert self.do(A.Deposit(user=user, token="UBTC", amount=Decimal(self.UBTC_DEPOSIT))) is not None
        for user in STD_USERS:  # quote for spot buys
            assert self.do(
                A.UsdClassTransfer(user=user, amount=Decimal(self.USDC_DEPOSIT // 2), to_perp=False)
            )
        assert self.do(A.SetAbstraction(user=PM_USER, abstraction="portfolioMargin")) is not None
        # a two-sided book on every market, so that takers meet makers from the first step
        for i, coin in enumerate(MARKETS):
            bidder, asker = STD_USERS[i % 3], USERS[(i + 1) % 4]
            for user, is_buy, permille in ((bidder, True, -3), (asker, False, 3), (PM_USER, True, -6)):
                is_buy = self._side(user, coin, is_buy)
                spec = self._spec(coin, is_buy, "Gtc", permille if is_buy else -permille, self.SEED_NOTIONAL)
                assert self.do(O.PlaceOrder(user=user, orders=[spec])) is not None

    def _side(self, user: str, coin: str, is_buy: bool) -> bool:
        """Without ``PM_SPOT_BUYS`` the portfolio-margin account only sells on spot (see the class doc)."""
        return is_buy and (self.PM_SPOT_BUYS or user != PM_USER or coin in PERPS)

    # ------------------------------------------------------------------ order rules
    @rule(
        user=st.sampled_from(USERS),
        coin=st.sampled_from(MARKETS),
        is_buy=st.booleans(),
        tif=st.sampled_from(["Gtc", "Gtc", "Ioc", "Alo"]),
        permille=st.integers(-10, 10),
        usd=st.integers(5, 20_000),
        reduce_only=st.sampled_from([False, False, False, True]),
        with_cloid=st.booleans(),
    )
    def place(
        self,
        user: str,
        coin: str,
        is_buy: bool,
        tif: str,
        permille: int,
        usd: int,
        reduce_only: bool,
        with_cloid: bool,
    ) -> None:
        is_buy = self._side(user, coin, is_buy)
        spec = self._spec(coin, is_buy, tif, permille, usd, reduce_only)
        if with_cloid:
            self.cloids += 1
            spec = O.OrderSpec(**{**msgspec.structs.asdict(spec), "cloid": f"0x{self.cloids:032x}"})
        self.do(O.PlaceOrder(user=user, orders=[spec]))

    @rule(
        user=st.sampled_from(USERS),
        coin=st.sampled_from(MARKETS),
        is_buy=st.booleans(),
        tif=st.sampled_from(["Gtc", "Ioc"]),
        through=st.integers(0, 5),
        usd=st.integers(5, 20_000),
        reduce_only=st.sampled_from([False, False, True]),
    )
    def take(
        self, user: str, coin: str, is_buy: bool, tif: str, through: int, usd: int, reduce_only: bool
    ) -> None:
        """An order priced at or through the best opposite price, so that it trades."""
        is_buy = self._side(user, coin, is_buy)
        market = self._market(coin)
        book = self.ex.state.books.get(market.asset)
        best = None if book is None else (book.best_ask() if is_buy else book.best_bid())
        if best is None:
            return
        permille = through if is_buy else -through
        spec = self._spec(coin, is_buy, tif, permille, usd, reduce_only, ref=Fraction(best, PX_SCALE))
        self.do(O.PlaceOrder(user=user, orders=[spec]))

    def _spec(
        self,
        coin: str,
        is_buy: bool,
        tif: str,
        permille: int,
        usd: int,
        reduce_only: bool = False,
        ref: Fraction | None = None,
    ) -> O.OrderSpec:
        market = self._market(coin)
        is_spot = isinstance(market, SpotPair)
        px = _px(self._mark(coin) if ref is None else ref, permille, market.sz_decimals, is_spot)
        usd = usd * self.MAX_NOTIONAL // 20_000
        lots = max(1, int(Fraction(usd) / Fraction(px) * 10**market.sz_decimals))
        sz = Decimal(lots).scaleb(-market.sz_decimals)
        return O.OrderSpec(
            asset=coin,
            is_buy=is_buy,
            px=px,
            sz=sz,
            reduce_only=reduce_only and not is_spot,
            limit=O.LimitSpec(tif),  # type: ignore[arg-type]
        )

    def _market(self, coin: str) -> Perp | SpotPair:
        reg = self.ex.registry
        return reg.spot_by_name[coin] if coin in reg.spot_by_name else reg.perp(coin)

    @rule(
        user=st.sampled_from(USERS),
        coin=st.sampled_from(list(PERPS)),
        tpsl=st.sampled_from(["tp", "sl"]),
        permille=st.integers(1, 60),
        is_market=st.booleans(),
        position=st.booleans(),
    )
    def place_trigger(
        self, user: str, coin: str, tpsl: str, permille: int, is_market: bool, position: bool
    ) -> None:
        perp = self.ex.registry.perp(coin)
        pos = self.ex.state.accounts[user].positions.get(perp.asset)
        is_buy = pos is not None and pos.szi < 0  # close the position (a buy when short)
        # a long's stop is below the mark and its take-profit above; the reverse for a short
        below = (tpsl == "sl") != is_buy
        trig = _px(self._mark(coin), -permille if below else permille, perp.sz_decimals, False)
        lots = abs(pos.szi) if pos is not None else 10**perp.sz_decimals
        spec = O.OrderSpec(
            asset=coin,
            is_buy=is_buy,
            px=trig,
            sz=Decimal(lots).scaleb(-perp.sz_decimals),
            reduce_only=True,
            trigger=O.TriggerSpec(trigger_px=trig, is_market=is_market, tpsl=tpsl),  # type: ignore[arg-type]
        )
        self.do(O.PlaceOrder(user=user, orders=[spec], grouping="positionTpsl" if position else "na"))

    def _orders_of(self, user: str) -> list[tuple[int, int, str | None]]:
        """(asset, oid, cloid) of the user's resting and trigger orders."""
        out = [
            (asset, ro.oid, ro.cloid)
            for asset, book in sorted(self.ex.state.books.items())
            for ro in book.orders_of(user)
        ]
        out += [
            (t.asset, oid, t.cloid) for oid, t in sorted(self.ex.state.triggers.items()) if t.user == user
        ]
        return out

    @rule(user=st.sampled_from(USERS), pick=st.integers(0, 10**6), by_cloid=st.booleans())
    def cancel(self, user: str, pick: int, by_cloid: bool) -> None:
        orders = self._orders_of(user)
        if not orders:
            self.do(O.Cancel(user=user, cancels=[O.CancelSpec(asset="BTC", oid=pick)]))
            return
        if by_cloid and any(c is not None for _, _, c in orders):
            orders = [o for o in orders if o[2] is not None]
        asset, oid, cloid = orders[pick % len(orders)]
        if by_cloid and cloid is not None:
            self.do(O.CancelByCloid(user=user, cancels=[O.CloidCancelSpec(asset=asset, cloid=cloid)]))
        else:
            self.do(O.Cancel(user=user, cancels=[O.CancelSpec(asset=asset, oid=oid)]))

    @rule(user=st.sampled_from(USERS), delay=st.one_of(st.none(), st.integers(0, HOUR)))
    def schedule_cancel(self, user: str, delay: int | None) -> None:
        """Dead man's switch (at least 5 s ahead, or None to clear it); fires when time passes."""
        self.do(O.ScheduleCancel(user=user, time=None if delay is None else self.now + delay))

    @rule(
        user=st.sampled_from(USERS),
        pick=st.integers(0, 10**6),
        permille=st.integers(-15, 15),
        usd=st.integers(5, 20_000),
        tif=st.sampled_from(["Gtc", "Alo"]),
        batch=st.booleans(),
    )
    def modify(self, user: str, pick: int, permille: int, usd: int, tif: str, batch: bool) -> None:
        book_orders = [
            (asset, ro) for asset, book in sorted(self.ex.state.books.items()) for ro in book.orders_of(user)
        ]
        if not book_orders:
            return
        asset, ro = book_orders[pick % len(book_orders)]
        coin = self._market_by_asset(asset)
        spec = self._spec(coin, ro.is_buy, tif, permille, usd)
        if batch:
            self.do(O.BatchModify(user=user, modifies=[O.ModifySpec(oid=ro.oid, order=spec)]))
        else:
            self.do(O.Modify(user=user, oid=ro.oid, order=spec))

    def _market_by_asset(self, asset: int) -> str:
        reg = self.ex.registry
        return reg.spot_pair(asset).name if reg.is_spot_asset(asset) else reg.perps[asset].name

    # ------------------------------------------------------------------ prices, time, funds
    @rule(coin=st.sampled_from(MARKETS), move=st.integers(-100, 100), with_marks=st.booleans())
    def price_move(self, coin: str, move: int, with_marks: bool) -> None:
        move = move * self.MAX_MOVE // 100
        if coin in PERPS:
            self.perp_px[coin] = max(1, self.perp_px[coin] * (1000 + move) // 1000)
            for pair, (
                token,
                _,
            ) in SPOTS.items():  # spot follows its perp (borrow oracle price, 'Portfolio margin')
                if (token, coin) in (("HYPE", "HYPE"), ("UBTC", "BTC")):
                    self.spot_px[pair] = self.perp_px[coin]
        else:
            self.spot_px[coin] = max(1, self.spot_px[coin] * (1000 + move) // 1000)
        self.do(self._prices(with_marks))

    @rule(dt=st.integers(1, 2 * HOUR))
    def advance_time(self, dt: int) -> None:
        self.now += dt
        self.do(A.AdvanceTime(), at=self.now)

    @rule(user=st.sampled_from(USERS), token=st.sampled_from(list(TOKENS)), amount=st.integers(1, 20_000))
    def deposit(self, user: str, token: str, amount: int) -> None:
        self.do(A.Deposit(user=user, token=token, amount=Decimal(amount) / TOKENS[token]))

    @rule(user=st.sampled_from(USERS), token=st.sampled_from(list(TOKENS)), amount=st.integers(1, 20_000))
    def withdraw(self, user: str, token: str, amount: int) -> None:
        self.do(A.Withdraw(user=user, token=token, amount=Decimal(amount) / TOKENS[token]))

    @rule(user=st.sampled_from(STD_USERS), amount=st.integers(1, 5_000), to_perp=st.booleans())
    def class_transfer(self, user: str, amount: int, to_perp: bool) -> None:
        self.do(A.UsdClassTransfer(user=user, amount=Decimal(amount), to_perp=to_perp))

    # ------------------------------------------------------------------ invariants
    @invariant()
    def account_health_is_fresh(self) -> None:
        """The AccountHealth the engine caches (and would serve now) equals a recomputation from scratch
        for every account (netclear.engine.health: the cache is checked against its inputs on every read)."""
        assert self.ex.health.stale() == []

    @invariant()
    def conservation(self) -> None:
        """Per token: inside the exchange = deposits - withdrawals (engine/invariants.py)."""
        assert conservation_breaks(self.ex.state, self.ex.registry) == {}

    @invariant()
    def holds_match_resting_orders(self) -> None:
        st_ = self.ex.state
        reg = self.ex.registry
        spot_holds: dict[str, dict[int, int]] = {}
        margin: dict[str, dict[int, list[int]]] = {}
        for asset, book in st_.books.items():
            for ro in book.iter_orders():
                info = ro.tag
                assert isinstance(info, OrderInfo) and info.hold >= 0
                acct = st_.accounts[ro.user]
                if reg.is_spot_asset(asset):
                    pair = reg.spot_pair(asset)
                    if ro.is_buy:
                        want = notional(
                            ro.sz, ro.px, pair.base.sz_decimals, pair.quote.wei_decimals, ceil=True
                        )
                        token = pair.quote.index
                    else:
                        want = ro.sz * 10 ** (pair.base.wei_decimals - pair.base.sz_decimals)
                        token = pair.base.index
                    assert (info.hold_token, info.hold) == (token, want), (ro, info)
                    per = spot_holds.setdefault(ro.user, {})
                    per[token] = per.get(token, 0) + info.hold
                else:
                    perp = reg.perps[asset]
                    lev = leverage_of(acct, perp).value
                    full = notional(ro.sz, ro.px, perp.sz_decimals, perp.collateral.wei_decimals, ceil=True)
                    assert info.hold_token == -1
                    if ro.reduce_only:
                        assert info.hold == 0, (ro, info)
                    elif info.opening_sz == ro.orig_sz:
                        assert info.hold * lev == full, (
                            ro,
                            info,
                            lev,
                        )  # px x sz / leverage, exact on the grid
                    else:
                        assert info.hold <= -(-full // lev), (ro, info, lev)
                    sides = margin.setdefault(ro.user, {}).setdefault(asset, [0, 0])
                    sides[0 if ro.is_buy else 1] += info.hold
        for address, acct in st_.accounts.items():
            want_spot = {t: h for t, h in spot_holds.get(address, {}).items() if h}
            assert {t: h for t, h in acct.spot_hold.items() if h} == want_spot, (
                address,
                acct.spot_hold,
                want_spot,
            )
            want_margin = {a: tuple(s) for a, s in margin.get(address, {}).items() if any(s)}
            have_margin = {a: s for a, s in acct.order_margin.items() if any(s)}
            assert have_margin == want_margin, (address, have_margin, want_margin)

    @invariant()
    def open_order_counts(self) -> None:
        st_ = self.ex.state
        counts: dict[str, int] = {}
        for book in st_.books.values():
            for ro in book.iter_orders():
                counts[ro.user] = counts.get(ro.user, 0) + 1
        for t in st_.triggers.values():
            counts[t.user] = counts.get(t.user, 0) + 1
        for address, acct in st_.accounts.items():
            assert acct.open_orders == counts.get(address, 0), (
                address,
                acct.open_orders,
                counts.get(address, 0),
            )

    @invariant()
    def books_consistent_and_uncrossed(self) -> None:
        for book in self.ex.state.books.values():
            book.assert_consistent()

    @invariant()
    def standard_accounts_cover_their_spot_holds(self) -> None:
        for acct in self.ex.state.accounts.values():
            if acct.mode is Mode.STANDARD and not acct.is_system:
                for t, h in acct.spot_hold.items():
                    assert acct.spot.get(t, 0) >= h, (acct.address, t, acct.spot.get(t, 0), h)

    def teardown(self) -> None:
        replay = Exchange(CONFIG)
        for action, at in self.log:
            with contextlib.suppress(NetclearError):
                replay.apply(action, at=at)
        assert replay.state_hash() == self.ex.state_hash()
        # The liquidation test after an order skips accounts a margin check cleared (Tx.cleared): the same
        # log with every candidate checked in full must reach the same state.
        full_check = Exchange(CONFIG)
        run = liquidation_engine.run
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(liquidation_engine, "run", lambda ctx, candidates, cleared=None: run(ctx, candidates))
            for action, at in self.log:
                with contextlib.suppress(NetclearError):
                    full_check.apply(action, at=at)
        assert full_check.state_hash() == self.ex.state_hash()


class FullMachine(OrderBookMachine):
    """The portfolio-margin account also rests spot buys (USDC holds) while it holds perp positions."""

    PM_SPOT_BUYS = True


class TightMarginMachine(OrderBookMachine):
    """Small balances, large orders and moves: refusals for margin and makers canceled at the match."""

    USDC_DEPOSIT = 3_000
    HYPE_DEPOSIT = "100"
    UBTC_DEPOSIT = "0.05"
    MAX_NOTIONAL = 80_000
    SEED_NOTIONAL = 300  # x 80,000 / 20,000 = 1,200 USD: the initial book still fits the balances
    MAX_MOVE = 150


SETTINGS = settings(
    max_examples=int(os.environ.get("NETCLEAR_ORDER_SM_EXAMPLES", "40")),
    stateful_step_count=int(os.environ.get("NETCLEAR_ORDER_SM_STEPS", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OrderBookMachine.TestCase.settings = SETTINGS
TestOrderBooks = OrderBookMachine.TestCase

# Regression machines for two bugs fixed in the engine (PM auto-supply ignoring spot holds; holds and
# fills not rolled back at a savepoint): fuller state, same modest settings.
FullMachine.TestCase.settings = SETTINGS
TestOrderBooksPortfolioMarginSpotBuys = FullMachine.TestCase

TightMarginMachine.TestCase.settings = SETTINGS
TestOrderBooksTightMargin = TightMarginMachine.TestCase
