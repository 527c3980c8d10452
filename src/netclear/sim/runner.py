"""Run one path of a scenario under one margin regime, on the exact engine (DESIGN.md "The risk lab").

Every change goes through ``Exchange.apply``: the start prices, the deposits and mode switches, the
orders that open every position (auto-borrowing under portfolio margin as the engine does for anyone),
then each step: the oracle update (with its clock advance: interest, funding, the PM backstop's TWAP),
the agents' orders, and any external market hooked in. Liquidations, backstop and PM takeovers, ADL and
bad debt happen inside the engine by its own rules; the runner only reads events, records and state.
At the end of the path the conservation identity is checked with ``engine/invariants.py``.

Step order (docs/risk-lab.md "Steps"): time advances (interest, funding, the backstop's TWAP); the
market makers re-quote around the new external price, except a side that was hit during the previous
step, which is left as the fire sale left it (swept liquidity does not come back at once); then the
oracle publishes and marks are recomputed on that book, so fire sales feed into the next marks; then
lenders act; then external markets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.events import Event, OrderStatus, OrderStatuses
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks
from netclear.errors import ConfigError, NetclearError
from netclear.lending.rates import utilization
from netclear.sim import agents as ag
from netclear.sim.metrics import PathMetrics
from netclear.sim.observe import Observer
from netclear.sim.paths import PricePaths, build_paths
from netclear.sim.presets import scenario_config
from netclear.sim.scenario import MarketMakerSpec, Scenario

OPEN_SLIPPAGE = 0.05
"""Opening IOC orders accept prices up to 5% from the start price (the SDK's default slippage)."""
OPEN_ATTEMPTS = 12


class SimulationError(NetclearError):
    code = "simulation"

    def __reduce__(self) -> tuple[type[SimulationError], tuple[str, str]]:
        return (type(self), (self.field, self.rule))  # crosses process, Ray and Dask boundaries


class ExternalMarket(Protocol):
    """A component outside the exchange that acts at every step (an EVM lending market, a CEX...).

    ``start`` runs after the accounts are opened, ``step`` after the exchange's own agents each step
    (it may call ``run.apply``), and ``result`` returns its metrics, reported under ``external``.
    """

    name: str

    def start(self, run: PathRun) -> None: ...

    def step(self, run: PathRun, step: int) -> None: ...

    def result(self, run: PathRun) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Job:
    """One independent unit of work: (path, regime, sizing) of a scenario."""

    scenario: Scenario
    path: int
    regime: str
    sizing: str
    external: bool = True
    """Run the scenario's external markets (False: the counterfactual without them)."""


def _px(x: float) -> Decimal:
    """A price for the oracle feed: 6 significant figures, at most 8 decimals."""
    d = Decimal(repr(float(x)))
    exp = d.adjusted() - 5
    return d.quantize(Decimal(1).scaleb(max(exp, -8))).normalize()


class PathRun:
    def __init__(
        self, sc: Scenario, path: int, regime: str, sizing: str, externals: Sequence[ExternalMarket] = ()
    ) -> None:
        self.sc, self.path, self.regime, self.sizing = sc, path, regime, sizing
        self.ex = Exchange(scenario_config(sc.preset, sc.config, gates_open=sc.open_pm_gates))
        self.reg = self.ex.registry
        self.prices: PricePaths = build_paths(sc, path)
        self.m = PathMetrics()
        self.obs = Observer(self.ex, self.m)
        self.externals = list(externals)
        self.step_index = 0
        self.makers: list[ag.MarketMaker] = []
        self.lenders: list[ag.Agent] = []
        self.explicit: list[ag.Agent] = []
        self.tracked: set[str] = set()
        self._validate_coins()

    # ------------------------------------------------------------------ engine access
    @property
    def now_ms(self) -> int:
        return self.sc.start_ms + self.step_index * self.sc.step_ms

    @property
    def minute(self) -> float:
        return self.step_index * self.sc.step_seconds / 60

    def apply(self, action: A.Action, at: int | None = None) -> list[Event] | None:
        """Apply through the engine; a rejected action returns None (it changed nothing)."""
        before = self.obs.positions()
        marks = dict(self.ex.state.prices.mark)
        try:
            events = self.ex.apply(action, at=at)
        except NetclearError:
            return None
        if any(e.kind in ("liquidation", "adl") for e in events):
            self.obs.read_liquidations(events, before, marks, self.minute)
        return events

    def sweep_records(self) -> None:
        self.obs.sweep(self.minute, self.tracked)

    def record_step(self) -> None:
        self.obs.record(self.minute, self.step_index, self.prices)
        for ext in self.externals:
            columns = getattr(ext, "row", None)  # optional: an external market's own time-series columns
            if columns is not None:
                self.m.rows[-1].update(columns(self))

    # ------------------------------------------------------------------ prices
    def _validate_coins(self) -> None:
        """Names the preset does not know fail before anything runs (each with its scenario key)."""
        reg, sc = self.reg, self.sc
        for name in (*self.prices.oracle, *self.prices.spot):
            if name not in reg.perp_by_name and name not in reg.token_by_name:
                raise ConfigError(f"prices.{name}", "not a perp coin or token of the preset")
        for i, acc in enumerate(sc.accounts):
            for key, names in (("balances", acc.balances), ("borrowed", acc.borrowed)):
                for tok in names:
                    if tok not in reg.token_by_name:
                        raise ConfigError(f"accounts[{i}].{key}.{tok}", "not a token of the preset")
            for j, p in enumerate(acc.positions):
                if p.coin not in reg.perp_by_name:
                    raise ConfigError(f"accounts[{i}].positions[{j}].coin", "not a perp of the preset")
                if p.coin not in self.prices.oracle:
                    raise ConfigError(f"accounts[{i}].positions[{j}].coin", f"no price path for {p.coin}")
        groups = [(f"market_makers[{i}].coins", m.coins) for i, m in enumerate(sc.market_makers)]
        groups += [
            (f"population[{i}].coins", g.coins)
            for i, g in enumerate(sc.population)
            if g.kind not in ("lender", "backstop")
        ]
        for key, coins in groups:
            for coin in coins:
                if coin not in self.prices.oracle:
                    raise ConfigError(f"{key}.{coin}", "no price path for this coin (or not a perp)")

    def step_prices(self, k: int) -> dict[str, float]:
        """Fair perp prices and spot prices (by coin and token name) at step ``k``."""
        out: dict[str, float] = {}
        p = self.prices
        for name, arr in p.perp.items():
            out[name] = float(arr[k])
        for name, arr in p.perp.items():
            sm = ag.spot_market(self.reg, name) if name in self.reg.perp_by_name else None
            if sm is not None:
                spot = p.spot.get(name, p.spot.get(sm[1], p.oracle.get(name, arr)))
                out[sm[1]] = float(spot[k])
        for name, arr in p.spot.items():
            if name not in self.reg.perp_by_name:
                out[name] = float(arr[k])
        return out

    def price_action(self, k: int) -> A.SetPrices:
        p = self.prices
        oracle: dict[str, Decimal] = {}
        spot: dict[str, Decimal] = {}
        for name, arr in sorted(p.oracle.items()):
            if name in self.reg.perp_by_name:
                oracle[name] = _px(arr[k])
            sm = ag.spot_market(self.reg, name)
            if sm is not None and sm[1] not in p.spot and name not in p.spot:
                spot[sm[0]] = _px(arr[k])
        for name, arr in sorted(p.spot.items()):
            sm = ag.spot_market(self.reg, name)
            if sm is not None:
                spot[sm[0]] = _px(arr[k])
        marks = dict(oracle) if self.sc.marks == "oracle" else {}
        usdc = _px(p.usdc[k]) if p.usdc is not None else None
        return A.SetPrices(oracle=oracle, marks=marks, spot=spot, usdc_oracle=usdc)

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        sc, reg = self.sc, self.reg
        if self.apply(self.price_action(0), at=self.now_ms) is None:
            raise SimulationError("prices", "the engine rejected the start prices")
        start = self.step_prices(0)
        rng = np.random.default_rng(np.random.SeedSequence([sc.seed, self.path, 2]))
        coins = sorted(n for n in self.prices.perp if n in reg.perp_by_name)
        specs: list[tuple[MarketMakerSpec, list[str]]] = [(m, m.coins or coins) for m in sc.market_makers]
        for pop in sc.population:
            if pop.kind == "market_maker":
                specs.append((pop.market_maker or MarketMakerSpec(), pop.coins))
        if not specs:
            specs.append((MarketMakerSpec(), coins))
        for g, (spec, mcoins) in enumerate(specs):
            mm = ag.make_market_maker(reg, spec, mcoins, g)
            self._fund(mm.address, ag.mm_deposits(reg, mm, start), "unifiedAccount")
            self.makers.append(mm)
        for pop in sc.population:
            if pop.kind == "backstop":
                cap = Decimal(repr(round(pop.capital * pop.count, 2)))
                self.apply(A.Deposit(user=reg.config.liquidation.liquidator_vault.lower(), amount=cap))
                if reg.pm is not None:
                    self.apply(A.Deposit(user=reg.pm.backstop_address.lower(), amount=cap))
        self.quote(start, first=True)
        agents: list[ag.Agent] = []
        for g, pop in enumerate(sc.population):
            if pop.kind in ("lender", "basis", "directional"):
                agents += ag.population_agents(reg, sc, pop, g, self.regime, self.sizing, rng, start)
        for a in agents:
            if a.kind == "lender":
                self._open(a, start)
                self.lenders.append(a)
        for i, account in enumerate(sc.accounts):
            a = ag.explicit_agent(sc, account, i, self.regime)
            self._open(a, start)
            self.explicit.append(a)
        for a in agents:
            if a.kind != "lender":
                self._open(a, start)
        self.tracked = {a.address for a in agents} | {a.address for a in self.explicit}
        self.quote(start, first=True)
        for ext in self.externals:
            ext.start(self)
        self.m.oi_start = self.obs.open_interest()
        self.m.borrow_usage = self.obs.borrow_usage()
        self.sweep_records()

    def _fund(self, user: str, deposits: dict[str, Decimal], mode: str) -> None:
        for token, amount in sorted(deposits.items()):
            if amount > 0:
                self.apply(A.Deposit(user=user, amount=amount, token=token))
        if mode != "disabled":
            self.apply(A.SetAbstraction(user=user, abstraction=mode))  # type: ignore[arg-type]

    def _open(self, a: ag.Agent, start: dict[str, float]) -> None:
        self._fund(a.address, a.deposits, a.mode)
        acct = self.ex.state.accounts.get(a.address)
        if acct is not None and acct.mode.value != a.mode:
            self.m.open_rejections += 1
        if a.to_spot > 0:
            self.apply(A.UsdClassTransfer(user=a.address, amount=a.to_spot, to_perp=False))
        if a.supply > 0:
            self.apply(A.BorrowLend(user=a.address, operation="supply", token="USDC", amount=a.supply))
        for token, amount in sorted(a.borrow.items()):
            if (
                self.apply(A.BorrowLend(user=a.address, operation="borrow", token=token, amount=amount))
                is None
            ):
                self.m.open_rejections += 1
        for coin, (is_cross, lev) in sorted(a.leverage.items()):
            self.apply(A.UpdateLeverage(user=a.address, asset=coin, is_cross=is_cross, leverage=lev))
        for op in a.openings:
            if self._fill(a.address, op, start) < op.size * Decimal("0.99"):
                self.m.open_rejections += 1

    def _fill(self, user: str, op: ag.Opening, start: dict[str, float]) -> Decimal:
        """IOC toward ``op.size``; a rejected order is retried at half the size (an account that can
        borrow against what it just bought, under portfolio margin, grows in steps)."""
        key = op.market if not op.market.startswith("@") else self.reg.spot_pair(op.market).base.name
        px = start.get(key) or start.get(op.market)
        if px is None:
            return Decimal(0)
        limit = ag.price_str(
            self.reg, op.market, px * (1 + OPEN_SLIPPAGE if op.is_buy else 1 - OPEN_SLIPPAGE)
        )
        if limit is None:
            return Decimal(0)
        done, size = Decimal(0), op.size
        for attempt in range(OPEN_ATTEMPTS):
            left = op.size - done
            size = min(size, left)
            if size <= 0 or float(size) * px < ag.MIN_NOTIONAL:
                break
            spec = O.OrderSpec(asset=op.market, is_buy=op.is_buy, px=limit, sz=size, limit=O.LimitSpec("Ioc"))
            events = self.apply(O.PlaceOrder(user=user, orders=[spec]))
            status = _status(events)
            filled = Decimal(status["filled"]["totalSz"]) if "filled" in status else Decimal(0)
            done += filled
            no_liquidity = "filled" in status or "immediately match" in str(status.get("error", ""))
            if filled < size and no_liquidity and attempt == 0:
                self.quote(start, first=True)  # the book ran out: the market makers re-quote, once
            elif filled < size:
                size = ag.size_str(self.reg, op.market, float(size) / 2)
        return done

    # ------------------------------------------------------------------ agents each step
    def quote(self, prices: dict[str, float], first: bool = False) -> None:
        k = self.step_index
        depth = float(self.prices.depth[k]) if self.prices.depth is not None else 1.0
        books = self.ex.state.books
        for mm in self.makers:
            cancels: list[O.CancelSpec] = []
            orders: list[O.OrderSpec] = []
            for market, key in mm.markets:
                px = prices.get(key)
                if px is None:
                    continue
                asset = (
                    self.reg.perp(market).asset
                    if not market.startswith("@")
                    else self.reg.spot_pair(market).asset
                )
                book = books.get(asset)
                resting = list(book.orders_of(mm.address)) if book is not None else []
                vol = self.prices.vol_ratio.get(key)
                vr = float(vol[k]) if vol is not None else 1.0
                for is_buy in (True, False):
                    mine = [o for o in resting if o.is_buy == is_buy]
                    hit = not first and len(mine) < mm.quoted.get((market, is_buy), 0)
                    if hit:
                        mm.quoted[(market, is_buy)] = len(mine)
                        continue
                    cancels += [O.CancelSpec(asset=market, oid=o.oid) for o in mine]
                    side = [o for o in ag.ladder(self.reg, mm, market, px, depth, vr) if o[0] == is_buy]
                    orders += [
                        O.OrderSpec(asset=market, is_buy=b, px=p, sz=s, limit=O.LimitSpec("Alo"))
                        for b, p, s in side
                    ]
                    mm.quoted[(market, is_buy)] = len(side)
            if cancels:
                self.apply(O.Cancel(user=mm.address, cancels=cancels))
            if orders:
                events = self.apply(O.PlaceOrder(user=mm.address, orders=orders))
                self._count_resting(mm, orders, events)

    def _count_resting(
        self, mm: ag.MarketMaker, orders: list[O.OrderSpec], events: list[Event] | None
    ) -> None:
        statuses: Sequence[OrderStatus] = next(
            (e.statuses for e in events or [] if isinstance(e, OrderStatuses)), []
        )
        for spec, st in zip(orders, statuses, strict=False):
            if isinstance(st, dict) and "resting" not in st:
                key = (str(spec.asset), spec.is_buy)
                mm.quoted[key] = max(0, mm.quoted.get(key, 0) - 1)

    def lenders_act(self) -> None:
        res = self.ex.state.reserves.get(self.reg.quote.index)
        if res is None:
            return
        u = float(utilization(res.total_borrowed, res.total_supplied))
        v = self.ex.valuer()
        for a in self.lenders:
            if u < a.panic_utilization:
                continue
            acct = self.ex.state.accounts.get(a.address)
            if acct is None or not acct.supply_basis.get(self.reg.quote.index):
                continue
            claim = v.supplied(acct, self.reg.quote.index)
            amount = Decimal(claim).scaleb(-self.reg.quote.wei_decimals)
            if (
                self.apply(A.BorrowLend(user=a.address, operation="withdraw", token="USDC", amount=amount))
                is None
            ):
                self.m.withdraw_failures.setdefault(a.address, []).append(self.minute)

    # ------------------------------------------------------------------ the run
    def run(self, progress: Callable[[], None] | None = None) -> dict[str, Any]:
        self.setup()
        self.record_step()
        for k in range(1, self.sc.steps + 1):
            self.step_index = k
            self.apply(A.AdvanceTime(), at=self.now_ms)
            self.quote(self.step_prices(k))
            if self.apply(self.price_action(k)) is None:
                raise SimulationError(f"prices step {k}", "the engine rejected the price update")
            self.lenders_act()
            for ext in self.externals:
                ext.step(self, k)
            self.sweep_records()
            self.record_step()
            if progress is not None:
                progress()
        return self.finish()

    def finish(self) -> dict[str, Any]:
        st = self.ex.state
        breaks = conservation_breaks(st, self.reg)
        if breaks:
            names = ", ".join(self.reg.tokens[t].name for t in breaks)
            raise SimulationError("conservation", f"assets not conserved at the end of the path: {names}")
        v = self.ex.valuer()
        residual = 0.0
        for each in st.accounts.values():
            if not each.is_system:
                value = v.account_value_usdc(each)
                if value < 0:
                    residual += float(-value)
        self.m.residual_negative = residual
        self.m.oi_end = self.obs.open_interest()
        accounts = {}
        for a in self.explicit:
            acct = st.accounts.get(a.address)
            accounts[a.address] = {
                "mode": acct.mode.value if acct is not None else a.mode,
                "liquidatedAtMinute": self.m.liquidated_accounts.get(a.address),
                "mechanisms": self.m.mechanisms_of.get(a.address, []),
            }
        return {
            "path": self.path,
            "regime": self.regime,
            "sizing": self.sizing,
            "metrics": self.m.summary(),
            "accounts": accounts,
            "external": {e.name: e.result(self) for e in self.externals},
            "stateHash": self.ex.state_hash(),
            "rows": self.m.rows,
        }


def _status(events: list[Event] | None) -> dict[str, Any]:
    for e in events or []:
        if isinstance(e, OrderStatuses) and e.statuses:
            st = e.statuses[0]
            return st if isinstance(st, dict) else {}
    return {}


def run_job(job: Job, progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """The backends' unit of work: a plain function of plain data (picklable)."""
    externals: list[ExternalMarket] = []
    sc = job.scenario
    if job.external and sc.evm_lending is not None:
        from netclear.sim.evm.component import EvmLending

        externals.append(EvmLending(sc.evm_lending))
    out = PathRun(sc, job.path, job.regime, job.sizing, externals).run(progress)
    out["withExternal"] = job.external and bool(externals)
    return out
