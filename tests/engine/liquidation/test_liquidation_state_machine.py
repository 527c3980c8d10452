"""Hypothesis state machine over liquidations (model: tests/engine/test_state_machine.py).

A well-funded market maker keeps bids and asks around the mark on the BTC, ETH and HYPE perps and bids on
HYPE/USDC (@107) for the PM backstop's TWAP, or pulls them (no liquidity: backstop and ADL paths); traders
open leveraged positions against a deep counterparty from a standard account, a unified account and a
standard account that uses isolated margin, and take off-market operator fills (bankruptcy with a deficit);
a portfolio-margin account borrows against HYPE (and trades perps in the PM variant); prices move by up to
±40% in one step (crashes and squeezes, against the largest position) with explicit marks; time passes
(hourly funding, interest, the backstop's TWAP). After every step:

* per-token conservation (copied from tests/engine/test_state_machine.py): balances + perp cash +
  isolated margin + reserve cash = deposits - withdrawals;
* no non-system account is left with negative equity: a standard or unified cross pool, or an isolated
  position, with negative value must have been resolved (no position left, the deficit recorded in
  ``history.liquidations``); a portfolio-margin account with positions has non-negative total value.
  Accounts charged a socialized deficit are held to the same check: a share is capped at the
  counterparty's equity (test_adl_waterfall.py "socialization bounds");
* the waterfall reconciles: every ``perpDeficit`` record's layers add up to its deficit and its
  ``socializedTo`` to its socialized amount; every ``badDebt`` record's layers add up to its amount and
  the reserve's ``bad_debt`` is their sum;
* reserves solvent: cash + debts - claims - protocol buffer >= 0, with only rounding dust;
and at the end, replaying the action log from scratch reproduces ``state_hash``.

Two engine defects, since fixed (their tests now pass), shaped choices that are kept: trader positions are opened with ``SettleFill`` (all-or-nothing) rather than IOC orders,
and the maker is funded far beyond its margin, so the savepoint defect of ``orders._match``
(tests/engine/test_orders.py) is never triggered by a trader or the maker; the spot maker fee is 0 so the
backstop's TWAP sale defect (test_pm_takeover.py::test_backstop_twap_sale_is_a_real_fill) loses no fee.
The portfolio-margin trader borrows against HYPE and spends it (the lending takeover, TWAP and bad-debt
paths); it trades perps only in ``TestLiquidationMachinePmPerps`` (market liquidation against the whole
account's equity, takeover steps, and for a bankrupt account auto-deleveraging with the backstop taking
its cross margin: test_pm_takeover.py::test_bankrupt_pm_account_perps_are_deleveraged).
"""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from netclear.engine.state import Mode
from netclear.errors import NetclearError
from netclear.fixedpoint import PX_SCALE
from netclear.lending.rates import INDEX_SCALE
from netclear.markets.ticks import Rounding, round_price_to_grid
from tests.conftest import config_with, open_gates

STD = "0x" + "a1" * 20
UNI = "0x" + "b2" * 20
PMU = "0x" + "c3" * 20
ISO = "0x" + "d4" * 20
TRADERS = [STD, UNI, PMU, ISO]
CP = "0x" + "c9" * 20  # deep counterparty of every trader fill
MAKER = "0x" + "ee" * 20
LENDER = "0x" + "1e" * 20
VAULT = "0x1000000000000000000000000000000000000001"
HOUR = 3_600_000
PERPS = {"BTC": (100_000, 5), "ETH": (4_000, 4), "HYPE": (40, 2)}
SPOT_HYPE = "@107"
SPOT_ETH = "@151"  # UETH/USDC: UETH is not collateral


def _config() -> Any:
    def mutate(d: dict[str, Any]) -> None:
        open_gates(d)
        d["fees"]["spot_tiers"][0]["maker"] = "0"

    return config_with(mutate=mutate)


CONFIG = _config()


def _px(x: Fraction, szd: int, is_spot: bool = False, rounding: Rounding = "half_up") -> Decimal:
    """A price on the asset's grid (5 significant figures, max decimals), as a Decimal."""
    units: int = round_price_to_grid(x * PX_SCALE, szd, is_spot, rounding=rounding)
    return Decimal(units) / Decimal(PX_SCALE)


def _amount(x: str) -> Fraction:
    return Fraction(Decimal(x))


class LiquidationMachine(RuleBasedStateMachine):
    PM_PERPS = False
    """Whether the portfolio-margin trader also trades perps (see ``PmPerpsMachine``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(CONFIG)
        self.log: list[tuple[A.Action, int | None]] = []
        self.now = 1_000
        self.marks: dict[str, Fraction] = {k: Fraction(v[0]) for k, v in PERPS.items()}

    # ------------------------------------------------------------------ plumbing
    def do(self, action: A.Action, at: int | None = None) -> bool:
        self.log.append((action, at))
        try:
            events = self.ex.apply(action, at=at)
        except NetclearError as exc:
            event(f"rejected {type(action).__name__}: {exc.field}")
            return False
        event(f"accepted {type(action).__name__}")
        for e in events:
            if e.kind in ("liquidation", "adl", "pmTakeover", "badDebt"):
                event(f"{e.kind} {getattr(e, 'outcome', '')}".strip())
        return True

    def _prices(self) -> A.SetPrices:
        px = {k: _px(v, PERPS[k][1]) for k, v in self.marks.items()}
        spot = {SPOT_HYPE: _px(self.marks["HYPE"], 2, True), SPOT_ETH: _px(self.marks["ETH"], 4, True)}
        return A.SetPrices(oracle=px, marks=px, spot=spot)

    def _quote(self, coin: str, spread_bps: int, levels: int, size: Fraction) -> None:
        """Replace the maker's orders on ``coin`` with ``levels`` bids and asks, ``spread_bps`` apart."""
        ex = self.ex
        asset = ex.registry.spot_by_name[coin].asset if coin == SPOT_HYPE else ex.registry.perp(coin).asset
        book = ex.state.books.get(asset)
        mine = [o.oid for o in book.iter_orders() if o.user == MAKER] if book is not None else []
        if mine:
            self.do(O.Cancel(user=MAKER, cancels=[O.CancelSpec(asset=coin, oid=oid) for oid in mine]))
        is_spot = coin == SPOT_HYPE
        mark = self.marks["HYPE" if is_spot else coin]
        szd = 2 if is_spot else PERPS[coin][1]
        orders = []
        for i in range(1, levels + 1):
            off = Fraction(spread_bps * i, 10_000)
            sz = Decimal(int(size / mark * 10**szd)) / 10**szd
            if sz <= 0:
                continue
            orders.append(
                O.OrderSpec(
                    asset=coin,
                    is_buy=True,
                    px=_px(mark * (1 - off), szd, is_spot, "floor"),
                    sz=sz,
                    limit=O.LimitSpec("Alo"),
                )
            )
            if not is_spot:
                orders.append(
                    O.OrderSpec(
                        asset=coin,
                        is_buy=False,
                        px=_px(mark * (1 + off), szd, is_spot, "ceil"),
                        sz=sz,
                        limit=O.LimitSpec("Alo"),
                    )
                )
        if orders:
            self.do(O.PlaceOrder(user=MAKER, orders=orders))

    @initialize()
    def setup(self) -> None:
        assert self.do(self._prices(), at=self.now)
        assert self.do(A.Deposit(user=LENDER, amount=Decimal(200_000)))
        assert self.do(A.SetAbstraction(user=LENDER, abstraction="unifiedAccount"))
        assert self.do(A.BorrowLend(user=LENDER, operation="supply", token="USDC", amount=Decimal(150_000)))
        assert self.do(A.Deposit(user=CP, amount=Decimal(50_000_000)))
        assert self.do(A.Deposit(user=CP, token="UETH", amount=Decimal(10_000)))
        assert self.do(A.Deposit(user=MAKER, amount=Decimal(50_000_000)))
        assert self.do(A.UsdClassTransfer(user=MAKER, amount=Decimal(5_000_000), to_perp=False))
        assert self.do(A.Deposit(user=VAULT, amount=Decimal(20_000)))
        for user in (STD, UNI, ISO):
            assert self.do(A.Deposit(user=user, amount=Decimal(20_000)))
        assert self.do(A.SetAbstraction(user=UNI, abstraction="unifiedAccount"))
        assert self.do(A.Deposit(user=PMU, token="HYPE", amount=Decimal(1_000)))  # 40,000 USDC at LTV 0.65
        assert self.do(A.SetAbstraction(user=PMU, abstraction="portfolioMargin"))
        for coin in PERPS:
            self._quote(coin, 30, 3, Fraction(60_000))
        self._quote(SPOT_HYPE, 50, 2, Fraction(20_000))

    # ------------------------------------------------------------------ rules
    @rule(
        user=st.sampled_from(TRADERS),
        coin=st.sampled_from(list(PERPS)),
        is_long=st.booleans(),
        ntl=st.integers(500, 400_000),
    )
    def trade(self, user: str, coin: str, is_long: bool, ntl: int) -> None:
        if user == PMU and not self.PM_PERPS:
            return
        szd = PERPS[coin][1]
        mark = self.marks[coin]
        sz = Decimal(int(Fraction(ntl) / mark * 10**szd)) / 10**szd
        if sz <= 0:
            return
        buyer, seller = (user, CP) if is_long else (CP, user)
        self.do(A.SettleFill(buyer=buyer, seller=seller, asset=coin, sz=sz, px=_px(mark, szd)))

    @rule(amount=st.integers(100, 30_000), repay=st.booleans())
    def pm_borrow(self, amount: int, repay: bool) -> None:
        """The PM trader borrows USDC against its HYPE (LTV 0.65, Hyperliquid docs 'Portfolio margin') and
        spends it on UETH, which is not collateral (so the debt is only backed by the HYPE, like the FAQ
        account); or repays."""
        if repay:
            self.do(A.BorrowLend(user=PMU, operation="repay", token="USDC", amount=Decimal(amount)))
            return
        if not self.do(A.BorrowLend(user=PMU, operation="borrow", token="USDC", amount=Decimal(amount))):
            return
        eth = self.marks["ETH"]
        sz = Decimal(int(Fraction(amount) / eth * 10**4)) / 10**4
        if sz > 0:
            self.do(A.SettleFill(buyer=PMU, seller=CP, asset=SPOT_ETH, sz=sz, px=_px(eth, 4, True)))

    @rule(user=st.sampled_from(TRADERS), coin=st.sampled_from(list(PERPS)), lev=st.integers(1, 40))
    def leverage(self, user: str, coin: str, lev: int) -> None:
        self.do(A.UpdateLeverage(user=user, asset=coin, is_cross=user != ISO, leverage=lev))

    @rule(user=st.sampled_from(TRADERS), amount=st.integers(100, 20_000), out=st.booleans())
    def funds(self, user: str, amount: int, out: bool) -> None:
        if out:
            self.do(A.Withdraw(user=user, amount=Decimal(amount)))
        else:
            self.do(A.Deposit(user=user, amount=Decimal(amount)))

    @rule(
        coin=st.sampled_from([*PERPS, SPOT_HYPE]),
        spread=st.integers(5, 300),
        levels=st.integers(1, 4),
        size=st.integers(1_000, 200_000),
    )
    def maker_quotes(self, coin: str, spread: int, levels: int, size: int) -> None:
        self._quote(coin, spread, levels, Fraction(size))

    @rule(coin=st.sampled_from([*PERPS, SPOT_HYPE]))
    def maker_pulls(self, coin: str) -> None:
        self._quote(coin, 1, 0, Fraction(0))

    def _move(self, coin: str, move: int, requote: bool) -> None:
        new = max(self.marks[coin] * (1000 + move) / 1000, Fraction(1, 10))
        if requote:  # the maker follows the move before the oracle prints it (liquidity at the new mark)
            old, self.marks[coin] = self.marks[coin], new
            self._quote(coin, 20, 3, Fraction(80_000))
            if coin == "HYPE":
                self._quote(SPOT_HYPE, 50, 2, Fraction(20_000))
            self.marks[coin] = old
        self.marks[coin] = new
        self.do(self._prices())

    @rule(coin=st.sampled_from(list(PERPS)), move=st.integers(-400, 400), requote=st.booleans())
    def price_move(self, coin: str, move: int, requote: bool) -> None:
        self._move(coin, move, requote)

    @rule(
        user=st.sampled_from(TRADERS),
        severity=st.integers(20, 400),
        requote=st.booleans(),
        coin=st.sampled_from(list(PERPS)),
        is_long=st.booleans(),
        ntl=st.integers(5_000, 400_000),
    )
    def shock(self, user: str, severity: int, requote: bool, coin: str, is_long: bool, ntl: int) -> None:
        """A crash (or squeeze) against the user's largest position, opened first if there is none; for
        the PM trader without perps: a HYPE crash against its borrow (borrowing first if needed)."""
        if user == PMU and not self.PM_PERPS:
            if not self.ex.state.accounts[PMU].borrow_basis:
                self.pm_borrow(min(ntl // 10, 26_000), False)
            self._move("HYPE", -severity, requote)
            return
        acct = self.ex.state.accounts[user]
        if not acct.has_positions():
            self.trade(user, coin, is_long, ntl)
        v = self.ex.valuer()
        live = [v.position_value(p) for p in acct.positions.values() if p.szi]
        if not live:
            return
        pv = max(live, key=lambda p: (p.abs_ntl, p.perp.asset))
        self._move(pv.perp.name, -severity if pv.position.szi > 0 else severity, requote)

    @rule(
        user=st.sampled_from([STD, UNI]),
        coin=st.sampled_from(list(PERPS)),
        is_long=st.booleans(),
        ntl=st.integers(5_000, 200_000),
        skew=st.integers(50, 300),
    )
    def off_market_fill(self, user: str, coin: str, is_long: bool, ntl: int, skew: int) -> None:
        """An operator fill ``skew`` per mille off the mark against the user, without margin checks (a
        print from another venue): it can leave the user bankrupt at the mark and the previous mark, the
        path where auto-deleveraging leaves a deficit for the waterfall (test_adl_waterfall.py). Cross
        users only: an unchecked isolated fill could move more margin than the cross balance holds."""
        szd = PERPS[coin][1]
        mark = self.marks[coin]
        sz = Decimal(int(Fraction(ntl) / mark * 10**szd)) / 10**szd
        px = _px(mark * (1000 + (skew if is_long else -skew)) / 1000, szd)
        if sz <= 0:
            return
        buyer, seller = (user, CP) if is_long else (CP, user)
        self.do(A.SettleFill(buyer=buyer, seller=seller, asset=coin, sz=sz, px=px, check_margin=False))

    @rule(crash=st.integers(150, 400), again=st.integers(0, 400), requote=st.booleans())
    def pm_cycle(self, crash: int, again: int, requote: bool) -> None:
        """Borrow to the LTV limit and spend it, crash HYPE (takeover), crash it again, and let the
        backstop's TWAP run for hours: collateral sold, debt repaid, the rest written off."""
        self.pm_borrow(25_000, False)
        self._move("HYPE", -crash, True)
        self._move("HYPE", -again, requote)
        for _ in range(3):
            self.advance_time(2 * HOUR)

    @rule(dt=st.integers(1_000, 3 * HOUR))
    def advance_time(self, dt: int) -> None:
        self.now += dt
        self.do(A.AdvanceTime(), at=self.now)

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
    def no_unresolved_negative_equity(self) -> None:
        ex = self.ex
        v = ex.valuer()
        liqs = ex.state.history.liquidations
        for acct in ex.state.accounts.values():
            if acct.is_system:
                continue
            recorded = any(r["kind"] == "perpDeficit" for r in liqs.get(acct.address, []))
            if acct.mode is Mode.PORTFOLIO:
                if acct.has_positions():
                    value = v.account_value_usdc(acct)
                    assert value >= 0, f"PM {acct.address} value {float(value)} with positions"
            else:
                for key, pool in v.cross_pools(acct).items():
                    if pool.account_value >= 0:
                        continue
                    assert not pool.positions, f"{acct.address} pool {key!r} {pool.account_value} open"
                    assert recorded, f"{acct.address} pool {key!r} negative without a record"
            for iso in v.isolated(acct):
                assert iso.margin_used >= 0, (
                    f"{acct.address} isolated {iso.value.perp.name} {iso.margin_used}"
                )

    @invariant()
    def waterfall_reconciles(self) -> None:
        ex = self.ex
        bad_debt: dict[str, Fraction] = {}
        for records in ex.state.history.liquidations.values():
            for r in records:
                if r["kind"] == "perpDeficit":
                    wf = r["waterfall"]
                    layers = _amount(wf["vault"]) + _amount(wf["reserveBuffer"]) + _amount(wf["socialized"])
                    assert layers == _amount(r["deficit"]), r
                    assert sum((_amount(x) for x in wf["socializedTo"].values()), Fraction(0)) == _amount(
                        wf["socialized"]
                    ), r
                elif r["kind"] == "badDebt":
                    wf = r["waterfall"]
                    assert _amount(wf["reserveBuffer"]) + _amount(wf["socialized"]) == _amount(r["amount"]), r
                    bad_debt[r["token"]] = bad_debt.get(r["token"], Fraction(0)) + _amount(r["amount"])
        for token, res in ex.state.reserves.items():
            tok = ex.registry.tokens[token]
            assert Fraction(res.bad_debt, tok.unit) == bad_debt.get(tok.name, 0)

    @invariant()
    def reserves_solvent(self) -> None:
        st_ = self.ex.state
        v = self.ex.valuer()
        for token, res in st_.reserves.items():
            assert res.cash * INDEX_SCALE + res.scaled_borrow * res.borrow_index >= (
                res.scaled_supply * res.supply_index + res.buffer_raw
            )
            debts = sum(v.borrowed(a, token) for a in st_.accounts.values())
            claims = sum(v.supplied(a, token) for a in st_.accounts.values())
            dust = res.cash + debts - claims - res.buffer_raw // INDEX_SCALE
            assert dust >= 0, f"reserve {token} short by {-dust}"
            assert dust <= 2 * len(st_.accounts) + 2 * st_.last_index_hour + 1000, (
                f"reserve {token} dust {dust}"
            )

    def teardown(self) -> None:
        kinds = {r["kind"] for recs in self.ex.state.history.liquidations.values() for r in recs}
        for kind in sorted(kinds):
            event(f"recorded {kind}")
        replay = Exchange(CONFIG)
        for action, at in self.log:
            with contextlib.suppress(NetclearError):
                replay.apply(action, at=at)
        assert replay.state_hash() == self.ex.state_hash()


class PmPerpsMachine(LiquidationMachine):
    """The same machine with the portfolio-margin trader also trading perps (Hyperliquid docs 'Portfolio
    margin': PM margins cross perps and spot together)."""

    PM_PERPS = True


SETTINGS = settings(
    max_examples=int(os.environ.get("NETCLEAR_LIQ_SM_EXAMPLES", "30")),
    stateful_step_count=int(os.environ.get("NETCLEAR_LIQ_SM_STEPS", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LiquidationMachine.TestCase.settings = SETTINGS
TestLiquidationMachine = LiquidationMachine.TestCase

PmPerpsMachine.TestCase.settings = settings(
    SETTINGS, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate]
)
TestLiquidationMachinePmPerps = PmPerpsMachine.TestCase
