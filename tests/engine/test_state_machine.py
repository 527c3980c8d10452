"""Hypothesis state machine over the clearinghouse (DESIGN rule 4, issue "Core clearinghouse").

Random sequences of deposits, withdrawals, transfers, fills, mode switches, leverage and isolated
margin changes, borrowLend operations, price moves and time passing. After every step:

* per-token conservation: balances + perp cash + isolated margin + reserve cash = deposits - withdrawals;
* no cap exceeded (user and global, supply and borrow, on principal);
* reserves solvent: cash + debts - claims - protocol buffer >= 0, with only rounding dust;
* no negative balance without a recorded borrow: spot balances outside margin pools never go
  negative; a negative portfolio-margin balance only where borrowing is exhausted;
* the portfolio margin ratio equals an independent float recomputation from raw state, and the
  ``spotClearinghouseState`` view reports it;
and at the end, replaying the same actions from scratch reproduces the state hash.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from netclear import views
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from netclear.engine.solvency import ltv_borrow_capacity
from netclear.engine.state import Mode
from netclear.errors import NetclearError
from netclear.lending.rates import INDEX_SCALE
from tests.conftest import config_with, open_gates

USERS = ["0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3, 0xD4)]
LENDER = "0x" + "1e" * 20
TOKENS = ["USDC", "HYPE", "UBTC", "USDT0"]
PERPS = {"BTC": (100_000, 3), "HYPE": (40, 1), "xyz:XYZ100": (20_000, 3), "cash:USA500": (6_000, 2)}
SPOTS = {"@107": ("HYPE", 40, 1), "@142": ("UBTC", 100_000, 4)}
HOUR = 3_600_000


def _config():  # type: ignore[no-untyped-def]
    def mutate(d: dict) -> None:  # type: ignore[type-arg]
        open_gates(d)
        # small caps so that cap paths are exercised
        for b in d["portfolio_margin"]["borrowable"]:
            if b["token"] == "USDC":
                b["user_borrow_cap"] = "20000"
                b["global_borrow_cap"] = "50000"
        for c in d["portfolio_margin"]["collateral"]:
            if c["token"] == "HYPE":
                c["user_supply_cap"] = "2000"

    return config_with(mutate=mutate)


CONFIG = _config()


class ClearinghouseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(CONFIG)
        self.log: list[tuple[A.Action, int | None]] = []
        self.now = 1_000
        self.marks = {k: v[0] for k, v in PERPS.items()}
        self.spot = {k: v[1] for k, v in SPOTS.items()}
        self.accepted = 0
        self.rejected = 0

    # ------------------------------------------------------------------ plumbing
    def do(self, action: A.Action, at: int | None = None) -> bool:
        self.log.append((action, at))
        try:
            self.ex.apply(action, at=at)
        except NetclearError as exc:
            self.rejected += 1
            event(f"rejected {type(action).__name__}: {type(exc).__name__} {exc.field}")
            return False
        self.accepted += 1
        event(f"accepted {type(action).__name__}")
        return True

    def _prices_action(self) -> A.SetPrices:
        return A.SetPrices(
            oracle={k: Decimal(v) for k, v in self.marks.items()},
            spot={k: Decimal(v) for k, v in self.spot.items()},
        )

    @initialize()
    def setup(self) -> None:
        assert self.do(self._prices_action(), at=self.now)
        assert self.do(A.SetPrices(spot={"@166": Decimal(1)}))
        assert self.do(A.Deposit(user=LENDER, amount=Decimal(60_000)))
        assert self.do(A.Deposit(user=LENDER, token="USDT0", amount=Decimal(10_000)))
        assert self.do(A.SetAbstraction(user=LENDER, abstraction="unifiedAccount"))
        assert self.do(A.BorrowLend(user=LENDER, operation="supply", token="USDC", amount=Decimal(50_000)))
        assert self.do(A.BorrowLend(user=LENDER, operation="supply", token="USDT0", amount=Decimal(5_000)))
        for user in USERS:
            assert self.do(A.Deposit(user=user, amount=Decimal(20_000)))
            assert self.do(A.Deposit(user=user, token="HYPE", amount=Decimal(500)))
            assert self.do(A.Deposit(user=user, token="UBTC", amount=Decimal("0.5")))

    # ------------------------------------------------------------------ rules
    @rule(user=st.sampled_from(USERS), token=st.sampled_from(TOKENS), amount=st.integers(1, 50_000))
    def deposit(self, user: str, token: str, amount: int) -> None:
        scale = {"USDC": 1, "USDT0": 1, "HYPE": 100, "UBTC": 100_000}[token]
        self.do(A.Deposit(user=user, token=token, amount=Decimal(amount) / scale))

    @rule(user=st.sampled_from(USERS), token=st.sampled_from(TOKENS), amount=st.integers(1, 20_000))
    def withdraw(self, user: str, token: str, amount: int) -> None:
        scale = {"USDC": 1, "USDT0": 1, "HYPE": 100, "UBTC": 100_000}[token]
        self.do(A.Withdraw(user=user, token=token, amount=Decimal(amount) / scale))

    @rule(
        src=st.sampled_from(USERS),
        dst=st.sampled_from(USERS),
        amount=st.integers(1, 5_000),
        spot=st.booleans(),
    )
    def transfer(self, src: str, dst: str, amount: int, spot: bool) -> None:
        if spot:
            self.do(A.SpotSend(user=src, destination=dst, token="HYPE", amount=Decimal(amount) / 100))
        else:
            self.do(A.UsdSend(user=src, destination=dst, amount=Decimal(amount)))

    @rule(
        user=st.sampled_from(USERS),
        amount=st.integers(1, 5_000),
        to_perp=st.booleans(),
        dex=st.sampled_from(["", "xyz", "cash"]),
    )
    def class_transfer(self, user: str, amount: int, to_perp: bool, dex: str) -> None:
        self.do(A.UsdClassTransfer(user=user, amount=Decimal(amount), to_perp=to_perp, dex=dex))

    @rule(
        user=st.sampled_from(USERS), mode=st.sampled_from(["disabled", "unifiedAccount", "portfolioMargin"])
    )
    def set_mode(self, user: str, mode: str) -> None:
        self.do(A.SetAbstraction(user=user, abstraction=mode))  # type: ignore[arg-type]

    @rule(
        user=st.sampled_from(USERS),
        coin=st.sampled_from(list(PERPS)),
        cross=st.booleans(),
        lev=st.integers(1, 25),
    )
    def leverage(self, user: str, coin: str, cross: bool, lev: int) -> None:
        self.do(A.UpdateLeverage(user=user, asset=coin, is_cross=cross, leverage=lev))

    @rule(user=st.sampled_from(USERS), coin=st.sampled_from(list(PERPS)), amount=st.integers(-500, 500))
    def isolated_margin(self, user: str, coin: str, amount: int) -> None:
        self.do(A.UpdateIsolatedMargin(user=user, asset=coin, amount=Decimal(amount)))

    @rule(
        buyer=st.sampled_from(USERS),
        seller=st.sampled_from(USERS),
        coin=st.sampled_from(list(PERPS)),
        size=st.integers(1, 400),
        skew=st.integers(-20, 20),
    )
    def perp_fill(self, buyer: str, seller: str, coin: str, size: int, skew: int) -> None:
        _, szd = PERPS[coin]
        px = max(1, self.marks[coin] + skew * self.marks[coin] // 1000)
        self.do(
            A.SettleFill(
                buyer=buyer,
                seller=seller,
                asset=coin,
                sz=Decimal(size) / 10**szd,
                px=Decimal(px),
                buyer_fee=Decimal(size % 3),
                seller_fee=Decimal(-(size % 2)) / 10,
            )
        )

    @rule(
        buyer=st.sampled_from(USERS),
        seller=st.sampled_from(USERS),
        pair=st.sampled_from(list(SPOTS)),
        size=st.integers(1, 300),
    )
    def spot_fill(self, buyer: str, seller: str, pair: str, size: int) -> None:
        _, _, szd = SPOTS[pair]
        self.do(
            A.SettleFill(
                buyer=buyer,
                seller=seller,
                asset=pair,
                sz=Decimal(size) / 10**szd,
                px=Decimal(self.spot[pair]),
            )
        )

    @rule(
        user=st.sampled_from(USERS),
        op=st.sampled_from(["supply", "withdraw", "borrow", "repay"]),
        token=st.sampled_from(["USDC", "HYPE", "USDT0"]),
        amount=st.one_of(st.none(), st.integers(1, 30_000)),
    )
    def borrow_lend(self, user: str, op: str, token: str, amount: int | None) -> None:
        value = None if amount is None else Decimal(amount) / (100 if token == "HYPE" else 1)
        self.do(A.BorrowLend(user=user, operation=op, token=token, amount=value))  # type: ignore[arg-type]

    @rule(coin=st.sampled_from(list(PERPS) + list(SPOTS)), move=st.integers(-150, 150))
    def price_move(self, coin: str, move: int) -> None:
        if coin in PERPS:
            self.marks[coin] = max(1, self.marks[coin] * (1000 + move) // 1000)
            # spot follows its perp so that borrow_oracle_price stays a sensible median
            for pair, (token, _, _) in SPOTS.items():
                if (token == "HYPE" and coin == "HYPE") or (token == "UBTC" and coin == "BTC"):
                    self.spot[pair] = self.marks[coin]
        else:
            self.spot[coin] = max(1, self.spot[coin] * (1000 + move) // 1000)
        self.do(self._prices_action())

    @rule(dt=st.integers(1, 3 * HOUR))
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
    def caps_hold(self) -> None:
        reg = self.ex.registry
        assert reg.pm is not None
        for token, p in reg.pm.borrowable.items():
            res = self.ex.state.reserves.get(token)
            if res is None:
                continue
            assert res.scaled_borrow <= p.global_borrow_cap
            assert res.scaled_supply <= p.global_supply_cap
            for acct in self.ex.state.accounts.values():
                assert acct.borrow_basis.get(token, 0) <= p.user_borrow_cap
                if not acct.is_system and acct.address != LENDER:
                    assert acct.supply_basis.get(token, 0) <= p.user_supply_cap
        for token, c in reg.pm.collateral.items():
            res = self.ex.state.reserves.get(token)
            if res is None:
                continue
            assert res.scaled_supply <= c.global_supply_cap
            for acct in self.ex.state.accounts.values():
                assert acct.supply_basis.get(token, 0) <= c.user_supply_cap

    @invariant()
    def reserves_solvent(self) -> None:
        st_ = self.ex.state
        v = self.ex.valuer()
        for token, res in st_.reserves.items():
            # aggregate identity, exact in raw units
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

    @invariant()
    def no_unexplained_negative_balance(self) -> None:
        reg = self.ex.registry
        v = self.ex.valuer()
        for acct in self.ex.state.accounts.values():
            pool_tokens = {d.collateral.index for d in reg.dexes} if acct.mode.unified else set()
            for t, bal in acct.spot.items():
                if t not in pool_tokens and not acct.is_system:
                    assert bal >= 0, f"{acct.address} spot {t} = {bal}"
            if acct.mode is Mode.PORTFOLIO:
                pools = v.cross_pools(acct)
                for t in reg.pm.borrowable if reg.pm else ():
                    pool = pools.get(t)
                    liquid = pool.account_value if pool is not None else acct.spot.get(t, 0)
                    if liquid < 0:
                        tok = reg.tokens[t]
                        from netclear.engine import lending as L
                        from netclear.engine.tx import Tx

                        tx = Tx(self.ex.state)
                        room = min(ltv_borrow_capacity(v, acct, tok), L.borrow_headroom(tx, reg, acct, t))
                        tx.rollback()
                        assert room <= 1, (
                            f"{acct.address} negative {tok.name} balance with borrow room {room}"
                        )

    @invariant()
    def pm_ratio_matches_recomputation(self) -> None:
        reg = self.ex.registry
        pm = reg.pm
        assert pm is not None
        v = self.ex.valuer()
        st_ = self.ex.state
        for acct in st_.accounts.values():
            if acct.mode is not Mode.PORTFOLIO:
                continue
            ratio = v.pm_legs(acct).ratio
            # independent float recomputation from raw fields (Hyperliquid docs 'Portfolio margin', DESIGN
            # readings)
            coll_terms = []
            for t, c in pm.collateral.items():
                basis = acct.supply_basis.get(t, 0)
                if not basis:
                    continue
                res = st_.reserves[t]
                bal = basis * res.supply_index / INDEX_SCALE / c.token.unit
                px = float(v.token_price(c.token))
                lt = 0.5 + 0.5 * float(c.ltv)
                coll_terms.append(min(bal, c.user_supply_cap / c.token.unit) * px * lt)
            worst = 0.0
            for t, b in pm.borrowable.items():
                unit = b.token.unit
                res = st_.reserves.get(t)
                borrowed = (
                    (acct.borrow_basis.get(t, 0) * res.borrow_index / INDEX_SCALE / unit) if res else 0.0
                )
                supplied = (
                    (acct.supply_basis.get(t, 0) * res.supply_index / INDEX_SCALE / unit) if res else 0.0
                )
                ntl = mm = 0.0
                for pos in acct.positions.values():
                    perp = reg.perps[pos.asset]
                    if not pos.is_cross or perp.collateral.index != t:
                        continue
                    mark = st_.prices.mark[pos.asset] / 1e8
                    size = pos.szi / 10**perp.sz_decimals
                    ntl += size * mark
                    tier = perp.table.tier_for(Fraction(abs(size * mark)).limit_denominator(10**8))
                    mm += abs(size * mark) * float(tier.mmr) - float(tier.deduction)
                cash = acct.spot.get(t, 0) / unit
                if not (cash or ntl or t in acct.supply_basis or t in acct.borrow_basis):
                    continue
                px = float(v.token_price(b.token))
                req = (float(pm.min_borrow_offset) if borrowed > 0 else 0.0) + mm * px + borrowed * px
                if req <= 0:
                    continue
                lv = (cash + ntl + supplied) * px + sum(
                    min(float(b.user_borrow_cap) / unit * px, x) for x in coll_terms
                )
                worst = float("inf") if lv <= 0 else max(worst, req / lv)
            if worst == float("inf"):
                assert ratio >= 10**20
            else:
                assert abs(float(ratio) - worst) <= 1e-6 * max(1.0, worst), (float(ratio), worst)
            view = views.info(self.ex, {"type": "spotClearinghouseState", "user": acct.address})
            assert view["portfolioMarginEnabled"] is True
            if ratio < 10**9:
                assert abs(
                    Decimal(view["portfolioMarginRatio"])
                    - Decimal(ratio.numerator) / Decimal(ratio.denominator)
                ) < Decimal("1e-9")

    def teardown(self) -> None:
        replay = Exchange(CONFIG)
        for action, at in self.log:
            with contextlib.suppress(NetclearError):
                replay.apply(action, at=at)
        assert replay.state_hash() == self.ex.state_hash()


ClearinghouseMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("NETCLEAR_SM_EXAMPLES", "60")),
    stateful_step_count=int(__import__("os").environ.get("NETCLEAR_SM_STEPS", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestClearinghouse = ClearinghouseMachine.TestCase
