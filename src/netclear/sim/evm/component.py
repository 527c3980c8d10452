"""The EVM lending market as an external market of the runner (``runner.ExternalMarket``).

At the start it builds the pool from ``[evm_lending]``, publishes the oracle's first prices (read from
the engine after the exchange's own setup), and opens the start-of-path population: the USDC
suppliers, each borrower's collateral and debt, and the liquidators' USDC (on HyperEVM) and margin
(on Hyperliquid, through ``Exchange.apply``). Each step, after the exchange's agents:

1. each feed reads HyperCore's price and publishes by its heartbeat/deviation rules;
2. liquidators take every borrower with HF < 1, lowest first, in turn (each liquidation goes to the
   next liquidator that has the USDC: they compete), repaying up to the close factor with the USDC
   they hold (their capital limit), again while the HF stays below 1 (blocks are far shorter than a
   step), and queue the seized collateral for ``delay`` steps;
3. queued sales that are due go to Hyperliquid through ``Exchange.apply``: ``spot`` bridges the
   tokens to the liquidator's HyperCore account (a deposit) and sells them with an IOC order on the
   spot pair, then bridges the USDC back (a withdrawal); ``perp`` shorts the same size on the perp
   book. What the book does not take is retried the next step;
4. the pool's conservation identities are checked (a break stops the path).

Nothing here decides an exchange outcome: fills, fees, margin checks and liquidations on Hyperliquid
are the engine's. docs/risk-lab.md "HyperEVM lending" describes the model and its choices.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.availability import withdrawable
from netclear.engine.events import OrderStatuses
from netclear.errors import ConfigError
from netclear.fixedpoint import PX_SCALE
from netclear.sim import agents as hl_agents
from netclear.sim.evm import agents as ev
from netclear.sim.evm.market import (
    PRICE_DECIMALS,
    LendingError,
    LendingPool,
    RateCurve,
    ReserveConfig,
)
from netclear.sim.evm.oracle import Feed
from netclear.sim.evm.spec import EvmLendingSpec, ReserveSpec
from netclear.sim.evm.wad import WAD, to_bps, to_ray

if TYPE_CHECKING:
    from netclear.sim.runner import PathRun

MAX_ROUNDS = 10
"""Liquidation rounds per step: a borrower still below HF 1 after one call meets the next."""


def reserve_config(token: str, spec: ReserveSpec) -> ReserveConfig:
    c = spec.rates
    return ReserveConfig(
        token=token,
        decimals=spec.decimals,
        ltv=to_bps(spec.ltv),
        liquidation_threshold=to_bps(spec.liquidation_threshold),
        liquidation_bonus=to_bps(spec.liquidation_bonus),
        reserve_factor=to_bps(spec.reserve_factor),
        liquidation_protocol_fee=to_bps(spec.liquidation_protocol_fee),
        supply_cap=int(spec.supply_cap),
        borrow_cap=int(spec.borrow_cap),
        borrowing_enabled=spec.borrowing_enabled,
        curve=RateCurve(to_ray(c.optimal_usage), to_ray(c.base), to_ray(c.slope1), to_ray(c.slope2)),
    )


def validate(spec: EvmLendingSpec, token_names: set[str]) -> None:
    """Token names the preset does not know fail before anything runs, naming their key."""
    reserves = spec.effective_reserves()
    for token in reserves:
        if token not in token_names:
            raise ConfigError(f"evm_lending.reserves.{token}", "not a token of the preset")
    for i, g in enumerate(spec.borrowers):
        for token in g.collateral:
            if token not in reserves or reserves[token].liquidation_threshold == 0:
                raise ConfigError(
                    f"evm_lending.borrowers[{i}].collateral.{token}", "not a collateral reserve of the market"
                )
        if g.debt_token not in reserves or not reserves[g.debt_token].borrowing_enabled:
            raise ConfigError(f"evm_lending.borrowers[{i}].debt_token", "not a borrowable reserve")
    for i, a in enumerate(spec.accounts):
        for key, names in (("collateral", a.collateral), ("debt", a.debt)):
            for token in names:
                if token not in reserves:
                    raise ConfigError(
                        f"evm_lending.accounts[{i}].{key}.{token}", "not a reserve of the market"
                    )
    if "USDC" not in reserves or not reserves["USDC"].borrowing_enabled:
        raise ConfigError(
            "evm_lending.reserves.USDC", "the market lends USDC: it needs a borrowable USDC reserve"
        )


def _hf(x: int) -> float:
    return x / WAD


class EvmLending:
    """The HyperEVM market, its borrowers and its liquidators (one path x regime)."""

    name = "evm"

    def __init__(self, spec: EvmLendingSpec) -> None:
        self.spec = spec
        self.events: list[dict[str, Any]] = []
        """Liquidations and sales in order, with their step (read by tests and the report)."""
        self.rows: list[dict[str, Any]] = []
        self.rejected = 0
        self.hedges_rejected = 0
        self.explicit: dict[str, int] = {}
        """Explicit account address -> its index in ``[[evm_lending.accounts]]``."""
        self.bad_debt_peak = 0.0
        self._turn = 0
        """Liquidators compete: each liquidation goes to the next one in turn that has the cash."""
        self.peak_utilization = 0.0
        self.sold: dict[str, list[float]] = {}
        """token -> [size, notional USDC] filled on Hyperliquid."""

    # ------------------------------------------------------------------ start
    def start(self, run: PathRun) -> None:
        reg, sc, spec = run.reg, run.sc, self.spec
        validate(spec, set(reg.token_by_name))
        reserves = spec.effective_reserves()
        self.pool = LendingPool(
            {t: reserve_config(t, s) for t, s in sorted(reserves.items())},
            close_factor=to_bps(spec.close_factor),
            close_factor_hf_threshold=int(spec.close_factor_hf_threshold * WAD),
        )
        pool = self.pool
        pool.now = run.now_ms // 1000
        lag = -(-spec.oracle.lag_seconds // sc.step_seconds)
        self.feeds = [
            Feed(t, spec.oracle.source, lag, to_bps(spec.oracle.deviation), spec.oracle.heartbeat_seconds)
            for t in sorted(reserves)
        ]
        self._observe(run)
        for f in self.feeds:
            if f.answer is None:
                raise ConfigError(
                    f"evm_lending.reserves.{f.token}",
                    f"no Hyperliquid {spec.oracle.source} price for this token (give its perp a price path)",
                )
        decimals = {t: r.decimals for t, r in reserves.items()}
        rng = np.random.default_rng(np.random.SeedSequence([sc.seed, run.path, 16]))
        plans: list[ev.BorrowerPlan] = []
        for i, acc in enumerate(spec.accounts):
            plan = ev.explicit_borrower(acc, i, decimals)
            self.explicit[plan.address] = i
            plans.append(plan)
        for g, group in enumerate(spec.borrowers):
            plans += ev.generated_borrowers(rng, group, g, dict(pool.prices), decimals)
        debts = {p.address: p.debt or self._debt_for(p) for p in plans}
        usdc = pool.reserves["USDC"]
        total = sum(d.get("USDC", 0) for d in debts.values())
        supply = (
            int(spec.usdc_supply.scaleb(usdc.decimals))
            if spec.usdc_supply is not None
            else int(Fraction(total) / Fraction(spec.target_utilization)) + usdc.unit
        )
        pool.bridge_in(ev.LENDER, "USDC", supply)
        pool.supply(ev.LENDER, "USDC", supply)
        self.borrowers = 0
        for p in plans:
            try:
                for token, units in sorted(p.collateral.items()):
                    pool.bridge_in(p.address, token, units)
                    pool.supply(p.address, token, units)
                for token, units in sorted(debts[p.address].items()):
                    pool.borrow(p.address, token, units, check_ltv=False)
                self.borrowers += 1
            except LendingError as exc:
                if p.explicit:
                    raise ConfigError(f"evm_lending.accounts[{self.explicit[p.address]}]", exc.rule) from None
                self.rejected += 1
        self.liquidators = ev.liquidators(spec.liquidators, sc.step_seconds)
        for liq in self.liquidators:
            pool.bridge_in(liq.address, "USDC", int(liq.spec.capital.scaleb(usdc.decimals)))
            if liq.spec.hl_margin > 0:
                run.apply(A.Deposit(user=liq.address, amount=liq.spec.hl_margin))
            self._unified(run, liq)
            if liq.spec.hedge == "perp":
                for token in sorted(reserves):
                    perp = reg.token_by_name[token].perp
                    if perp is not None and perp in reg.perp_by_name:
                        lev = min(liq.spec.leverage, reg.perp(perp).max_leverage)
                        run.apply(A.UpdateLeverage(user=liq.address, asset=perp, is_cross=True, leverage=lev))
        self._check(0)
        self._record(run)

    def _debt_for(self, p: ev.BorrowerPlan) -> dict[str, int]:
        """USDC owed so that HF = ``p.health_factor`` at the start prices (rounded down: HF >= target)."""
        pool = self.pool
        coll = lt = 0
        for token, units in p.collateral.items():
            cfg = pool.reserves[token]
            base = units * pool.price(token) // cfg.unit
            coll += base
            lt += base * cfg.liquidation_threshold
        if coll == 0 or p.health_factor is None:
            return {}
        debt_base = Fraction(lt, 10**4) / p.health_factor
        cfg = pool.reserves[p.debt_token]
        units = int(debt_base * cfg.unit / pool.price(p.debt_token))
        return {p.debt_token: units} if units > 0 else {}

    # ------------------------------------------------------------------ each step
    def _observe(self, run: PathRun) -> None:
        for f in self.feeds:
            if f.observe(run.reg, run.ex.state, self.pool.now) and f.answer is not None:
                self.pool.prices[f.token] = f.answer

    def step(self, run: PathRun, step: int) -> None:
        self.pool.now = run.now_ms // 1000
        self._observe(run)
        self._liquidate(run, step)
        for liq in self.liquidators:
            self._sell(run, liq, step)
        self._check(step)
        self._record(run)

    def _liquidate(self, run: PathRun, step: int) -> None:
        pool = self.pool
        for _ in range(MAX_ROUNDS):
            under = sorted((hf, u) for u in pool.borrowers() if (hf := pool.account(u).health_factor) < WAD)
            done = False
            for hf, user in under:
                coll = self._largest(user, collateral=True)
                debt = self._largest(user, collateral=False)
                if coll is None or debt is None:
                    continue
                n = len(self.liquidators)
                for j in range(n):
                    liq = self.liquidators[(self._turn + j) % n]
                    cash = pool.wallet_of(liq.address, debt)
                    if cash <= 0:
                        continue
                    try:
                        res = pool.liquidation_call(liq.address, coll, debt, user, cash)
                    except LendingError:
                        continue
                    cfg, dcfg = pool.reserves[coll], pool.reserves[debt]
                    self.events.append(
                        {
                            "kind": "liquidation",
                            "step": step,
                            "minute": run.minute,
                            "user": user,
                            "liquidator": liq.address,
                            "collateral": coll,
                            "seized": res.collateral_seized,
                            "seizedUsd": res.collateral_seized
                            * pool.price(coll)
                            / cfg.unit
                            / 10**PRICE_DECIMALS,
                            "debt": debt,
                            "repaid": res.debt_repaid,
                            "repaidUsd": res.debt_repaid * pool.price(debt) / dcfg.unit / 10**PRICE_DECIMALS,
                            "healthFactor": _hf(hf),
                            "closeFactor": res.close_factor / 10**4,
                            "oraclePrice": pool.price(coll) / 10**PRICE_DECIMALS,
                        }
                    )
                    liq.queue.append(ev.Sale(coll, res.collateral_seized, step + liq.delay_steps, step))
                    self._turn = (self._turn + j + 1) % n
                    done = True
                    break
            if not done:
                return

    def _largest(self, user: str, *, collateral: bool) -> str | None:
        pool = self.pool
        best: tuple[int, str] | None = None
        for token, cfg in sorted(pool.reserves.items()):
            units = pool.balance_of(user, token) if collateral else pool.debt_of(user, token)
            if units and (not collateral or cfg.liquidation_threshold):
                value = units * pool.price(token) // cfg.unit
                if best is None or value > best[0]:
                    best = (value, token)
        return best[1] if best else None

    # ------------------------------------------------------------------ sales on Hyperliquid
    def _sell(self, run: PathRun, liq: ev.Liquidator, step: int) -> None:
        keep: list[ev.Sale] = []
        for sale in liq.queue:
            if sale.due_step > step:
                keep.append(sale)
                continue
            if liq.spec.hedge == "spot":
                left = self._sell_spot(run, liq, sale, step)
            else:
                left = self._short_perp(run, liq, sale, step)
            if left:
                keep.append(sale)
        liq.queue = keep
        if liq.spec.hedge == "spot":
            self._bridge_usdc_back(run, liq)

    def _hl_size(self, sale: ev.Sale, sz_decimals: int) -> tuple[Decimal, int]:
        """The part of the sale's EVM units expressible in Hyperliquid lots, and those units."""
        dec = self.pool.reserves[sale.token].decimals
        lots = sale.units * 10**sz_decimals // 10**dec
        return Decimal(lots).scaleb(-sz_decimals), lots * 10**dec // 10**sz_decimals

    def _ioc(
        self, run: PathRun, user: str, market: str, size: Decimal, ref_px: float, slippage: Decimal
    ) -> tuple[Decimal, float, bool]:
        """IOC sell through the engine: (filled size, average price, whether the book merely had no
        bid within the limit, so that the rest can wait for the next step)."""
        px = hl_agents.price_str(run.reg, market, ref_px * (1 - float(slippage)), "floor")
        if px is None or size <= 0 or float(size) * ref_px < hl_agents.MIN_NOTIONAL:
            return Decimal(0), 0.0, False
        spec = O.OrderSpec(asset=market, is_buy=False, px=px, sz=size, limit=O.LimitSpec("Ioc"))
        events = run.apply(O.PlaceOrder(user=user, orders=[spec]))
        for e in events or []:
            if isinstance(e, OrderStatuses) and e.statuses:
                st = e.statuses[0]
                if isinstance(st, dict) and "filled" in st:
                    return Decimal(st["filled"]["totalSz"]), float(st["filled"]["avgPx"]), True
                if isinstance(st, dict) and "immediately match" in str(st.get("error", "")):
                    return Decimal(0), 0.0, True
        return Decimal(0), 0.0, False

    def _filled(self, run: PathRun, sale: ev.Sale, step: int, market: str, size: Decimal, avg: float) -> None:
        got = self.sold.setdefault(sale.token, [0.0, 0.0])
        got[0] += float(size)
        got[1] += float(size) * avg
        self.events.append(
            {
                "kind": "sale",
                "step": step,
                "minute": run.minute,
                "seizedStep": sale.seized_step,
                "market": market,
                "token": sale.token,
                "size": float(size),
                "avgPx": avg,
            }
        )

    def _sell_spot(self, run: PathRun, liq: ev.Liquidator, sale: ev.Sale, step: int) -> bool:
        reg = run.reg
        sm = hl_agents.spot_market(reg, sale.token)
        if sm is None:
            return False
        market = sm[0]
        pair = reg.spot_pair(market)
        size, units = self._hl_size(sale, pair.sz_decimals)
        if units > 0:
            self.pool.bridge_out(liq.address, sale.token, units)
            if run.apply(A.Deposit(user=liq.address, amount=size, token=sale.token)) is None:
                raise LendingError("bridge", f"HyperCore refused a deposit of {size} {sale.token}")
            self._unified(run, liq)
            sale.hl_size += size
        sale.units = 0  # what is below one lot stays in the liquidator's EVM wallet
        ref = run.ex.state.prices.spot.get(pair.index)
        if ref is None or sale.hl_size <= 0:
            return False
        filled, avg, _ = self._ioc(run, liq.address, market, sale.hl_size, ref / PX_SCALE, liq.spec.slippage)
        if filled:
            sale.hl_size -= filled
            self._filled(run, sale, step, market, filled, avg)
        return sale.hl_size > 0 and float(sale.hl_size) * ref / PX_SCALE >= hl_agents.MIN_NOTIONAL

    def _short_perp(self, run: PathRun, liq: ev.Liquidator, sale: ev.Sale, step: int) -> bool:
        reg = run.reg
        coin = reg.token_by_name[sale.token].perp
        if coin is None or coin not in reg.perp_by_name:
            return False
        perp = reg.perp(coin)
        size, units = self._hl_size(sale, perp.sz_decimals)
        sale.units -= units
        sale.hl_size += size
        ref = run.ex.state.prices.mark.get(perp.asset)
        if ref is None or sale.hl_size <= 0:
            return False
        filled, avg, book_only = self._ioc(
            run, liq.address, coin, sale.hl_size, ref / PX_SCALE, liq.spec.slippage
        )
        if filled:
            sale.hl_size -= filled
            self._filled(run, sale, step, coin, filled, avg)
        if not book_only:
            self.hedges_rejected += 1  # the engine refused the short (margin): the collateral stays unhedged
            return False
        return sale.hl_size > 0 and float(sale.hl_size) * ref / PX_SCALE >= hl_agents.MIN_NOTIONAL

    def _unified(self, run: PathRun, liq: ev.Liquidator) -> None:
        """The liquidator's HyperCore account is a unified account (one USDC balance for spot proceeds
        and perp margin), switched as soon as it exists."""
        acct = run.ex.state.accounts.get(liq.address)
        if acct is not None and acct.mode.value != "unifiedAccount":
            run.apply(A.SetAbstraction(user=liq.address, abstraction="unifiedAccount"))

    def _bridge_usdc_back(self, run: PathRun, liq: ev.Liquidator) -> None:
        """Spot proceeds above the liquidator's margin go back to HyperEVM, where they repay again."""
        acct = run.ex.state.accounts.get(liq.address)
        if acct is None:
            return
        quote = run.reg.quote
        free = withdrawable(run.ex.valuer(), acct, quote) - int(liq.spec.hl_margin.scaleb(quote.wei_decimals))
        usdc = self.pool.reserves["USDC"]
        amount = (
            Decimal(free)
            .scaleb(-quote.wei_decimals)
            .quantize(Decimal(1).scaleb(-min(usdc.decimals, quote.wei_decimals)), rounding=ROUND_FLOOR)
        )
        if amount <= 0:
            return
        if run.apply(A.Withdraw(user=liq.address, amount=amount)) is not None:
            self.pool.bridge_in(liq.address, "USDC", int(amount.scaleb(usdc.decimals)))

    # ------------------------------------------------------------------ reading
    def _check(self, step: int) -> None:
        broken = self.pool.conservation()
        if broken:
            from netclear.sim.runner import SimulationError

            raise SimulationError("evm conservation", f"step {step}: {', '.join(broken)}")

    def insolvency(self) -> tuple[float, int]:
        """Gauntlet's net insolvent amount (https://risk.gauntlet.network/faq): the sum over accounts
        whose debt exceeds their collateral, at the oracle's prices, of debt - collateral (USD)."""
        pool = self.pool
        total, count = 0, 0
        for user in pool.borrowers():
            data = pool.account(user)
            if data.debt > data.collateral:
                total += data.debt - data.collateral
                count += 1
        return total / 10**PRICE_DECIMALS, count

    def _record(self, run: PathRun) -> None:
        pool = self.pool
        bad, _ = self.insolvency()
        self.bad_debt_peak = max(self.bad_debt_peak, bad)
        util = pool.utilization("USDC")
        self.peak_utilization = max(self.peak_utilization, util)
        liqs = [e for e in self.events if e["kind"] == "liquidation"]
        row: dict[str, Any] = {
            f"evm_oracle_{t}": pool.prices[t] / 10**PRICE_DECIMALS for t in sorted(pool.prices)
        }
        row["evm_liquidations"] = len(liqs)
        row["evm_seizedUsd"] = sum(e["seizedUsd"] for e in liqs)
        row["evm_badDebt"] = bad
        row["evm_utilization"] = util
        row["evm_hlSoldNotional"] = sum(v[1] for v in self.sold.values())
        self.rows.append(row)

    def row(self, run: PathRun) -> dict[str, Any]:
        """This step's ``evm_*`` columns of the time series (read by the runner's ``record_step``)."""
        return dict(self.rows[-1]) if self.rows else {}

    def result(self, run: PathRun) -> dict[str, Any]:
        liqs = [e for e in self.events if e["kind"] == "liquidation"]
        seized: dict[str, float] = {}
        seized_usd: dict[str, float] = {}
        for e in liqs:
            unit = 10 ** self.pool.reserves[e["collateral"]].decimals
            seized[e["collateral"]] = seized.get(e["collateral"], 0.0) + e["seized"] / unit
            seized_usd[e["collateral"]] = seized_usd.get(e["collateral"], 0.0) + e["seizedUsd"]
        bad, insolvent = self.insolvency()
        accounts = {}
        for address in sorted(self.explicit):
            mine = [e for e in liqs if e["user"] == address]
            data = self.pool.account(address)
            accounts[address] = {
                "liquidatedAtMinute": mine[0]["minute"] if mine else None,
                "liquidations": len(mine),
                "healthFactor": None if data.debt == 0 else round(_hf(data.health_factor), 6),
            }
        pending = sum(1 for liq in self.liquidators for s in liq.queue)
        both = sorted({e["user"] for e in liqs} & set(run.m.liquidated_accounts))
        perps = {t: p for t in sorted(self.pool.reserves) if (p := run.reg.token_by_name[t].perp) is not None}
        return {
            "borrowers": self.borrowers,
            "openingsRejected": self.rejected,
            "liquidations": len(liqs),
            "accountsLiquidated": len({e["user"] for e in liqs}),
            "collateralSeized": {k: round(v, 8) for k, v in sorted(seized.items())},
            "collateralSeizedUsd": {k: round(v, 2) for k, v in sorted(seized_usd.items())},
            "debtRepaidUsd": round(sum(e["repaidUsd"] for e in liqs), 2),
            "firstLiquidationMinute": liqs[0]["minute"] if liqs else None,
            "badDebt": round(bad, 2),
            "insolventAccounts": insolvent,
            "badDebtPeak": round(self.bad_debt_peak, 2),
            "peakUtilization": round(self.peak_utilization, 6),
            "hlSold": {
                k: {"size": round(v[0], 8), "notional": round(v[1], 2)} for k, v in sorted(self.sold.items())
            },
            "salesPending": pending,
            "hedgesRejected": self.hedges_rejected,
            "oracleUpdates": {f.token: f.updates for f in self.feeds},
            "accounts": accounts,
            "liquidatedOnBothSides": both,
            "perps": {t: p for t, p in perps.items() if self.pool.reserves[t].liquidation_threshold},
        }
