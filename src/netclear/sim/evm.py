"""An external lending market on HyperEVM that prices its collateral off Hyperliquid (issue 16).

Aave v3-shaped (https://aave.com/docs/aave-v3/concepts/liquidations; ``LiquidationLogic.sol`` in
aave-dao/aave-v3-origin): per collateral token an LTV, a liquidation threshold and a liquidation bonus;
a USDC reserve with a two-slope rate curve; health factor ``sum(collateral x price x threshold) / debt``;
a position with health below 1 can be liquidated: a liquidator repays up to the close factor of the debt
(50%, all of it below a health of 0.95, Aave v3.2+) and seizes ``repaid x (1 + bonus) / price`` of
collateral; a borrower left with no collateral and some debt has it written off as a deficit (Aave v3.3
"bad debt management"). The oracle reads Hyperliquid's spot price (or the perp mark) of the token,
optionally lagged and published Chainlink-style (on a deviation threshold or a heartbeat).

Liquidators are agents outside the exchange: after ``delay_steps`` they bridge the seized collateral to
Hyperliquid, sell it on the spot book with an IOC order through ``Exchange.apply``, and bridge the USDC
back; the sale is the second feedback loop. The model keeps its own integer ledger (token wei, USDC wei,
a debt index) and checks its conservation at every step: per token, pool cash + borrowers' collateral
+ liquidators' wallets and inventories = bridged in - bridged out.

Runs as a :class:`netclear.sim.runner.ExternalMarket`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.errors import ConfigError, NetclearError
from netclear.fixedpoint import PX_SCALE, frac_ceil, frac_floor
from netclear.markets.registry import Registry, Token
from netclear.sim import agents as ag
from netclear.sim.scenario import EvmSpec

if TYPE_CHECKING:
    from netclear.sim.runner import PathRun

INDEX = 10**18
YEAR_MS = 365 * 24 * 3600 * 1000


class EvmConservationError(NetclearError):
    code = "simulation"

    def __reduce__(self) -> tuple[type[EvmConservationError], tuple[str, str]]:
        return (type(self), (self.field, self.rule))


def validate(spec: EvmSpec, reg: Registry) -> None:
    """Names the preset lacks fail before anything runs, each with its scenario key."""
    for name in spec.collateral:
        tok = reg.token_by_name.get(name)
        if tok is None or tok.spot_pair is None:
            raise ConfigError(f"evm.collateral.{name}", "not a token with a spot pair in the preset")
    for g, b in enumerate(spec.borrowers):
        for name in b.collateral if b.collateral else [b.token]:
            if name not in spec.collateral:
                key = f"evm.borrowers[{g}].collateral.{name}" if b.collateral else f"evm.borrowers[{g}].token"
                raise ConfigError(key, "not a collateral of the market")


@dataclass
class Borrower:
    address: str
    collateral: dict[int, int]
    scaled_debt: int


@dataclass
class Liquidator:
    address: str
    wallet: int
    inventory: dict[int, int] = field(default_factory=dict)
    unified: bool = False


@dataclass
class Sale:
    due: int
    liquidator: Liquidator
    token: int
    amount: int


class EvmMarket:
    """The lending market, its borrowers and liquidators; one instance per path run."""

    name = "evmLending"

    def __init__(self, spec: EvmSpec, seed: int, path: int) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, path, 3]))
        self.borrowers: list[Borrower] = []
        self.liquidators: list[Liquidator] = []
        self.sales: list[Sale] = []
        self.cash = 0
        self.index = INDEX
        self.ext_in: dict[int, int] = {}
        self.ext_out: dict[int, int] = {}
        self.raw: dict[int, list[Fraction]] = {}
        self.published: dict[int, Fraction] = {}
        self.published_at: dict[int, int] = {}
        self.deficit = 0
        self.liquidations: list[dict[str, Any]] = []
        self.sold: list[dict[str, Any]] = []
        self.peak_utilization = 0.0
        self.proceeds = 0

    # ------------------------------------------------------------------ set-up
    def _tokens(self, run: PathRun) -> dict[str, Token]:
        out = {}
        for name in self.spec.collateral:
            tok = run.reg.token_by_name.get(name)
            if tok is None or tok.spot_pair is None:
                raise ConfigError(f"evm.collateral.{name}", "not a token with a spot pair in the preset")
            out[name] = tok
        return out

    def start(self, run: PathRun) -> None:
        tokens = self._tokens(run)
        self.params = {tokens[n].index: c for n, c in self.spec.collateral.items()}
        usdc = run.reg.quote
        self.usdc = usdc
        self._publish(run, 0)
        self.cash = self._bridge_in(usdc.index, _wei(self.spec.usdc_supply, usdc))
        for g, b in enumerate(self.spec.borrowers):
            if b.collateral:
                coll = {}
                for name, amount in b.collateral.items():
                    if name not in tokens:
                        raise ConfigError(
                            f"evm.borrowers[{g}].collateral.{name}", "not a collateral of the market"
                        )
                    coll[tokens[name].index] = self._bridge_in(
                        tokens[name].index, _wei(float(amount), tokens[name])
                    )
                addr = b.address or ag.address("explicit", 0xE0 + g, 0)
                self._open(addr, coll, _wei(float(b.debt or 0), usdc))
                continue
            if b.token not in tokens:
                raise ConfigError(f"evm.borrowers[{g}].token", "not a collateral of the market")
            tok = tokens[b.token]
            u = self.rng.pareto(b.tail, b.count)
            median = 2 ** (1 / b.tail) - 1
            values = np.minimum(b.collateral_usd * (1 + u) / (1 + median), b.max_collateral_usd)
            health = self.rng.uniform(b.health[0], b.health[1], b.count)
            px = self.published[tok.index]
            lt = self.params[tok.index].liquidation_threshold
            for i in range(b.count):
                wei = _wei(float(values[i]) / float(px), tok)
                debt_usd = float(values[i]) * lt / float(health[i])
                addr = f"0x{0xE1 + g:02x}{i:038x}"
                self._open(addr, {tok.index: self._bridge_in(tok.index, wei)}, _wei(debt_usd, usdc))
        for i in range(self.spec.liquidators.count):
            addr = f"0xe9{i:038x}"
            self.liquidators.append(
                Liquidator(addr, self._bridge_in(usdc.index, _wei(self.spec.liquidators.capital, usdc)))
            )
        self.check()

    def _bridge_in(self, token: int, amount: int) -> int:
        self.ext_in[token] = self.ext_in.get(token, 0) + amount
        return amount

    def _open(self, address: str, collateral: dict[int, int], debt: int) -> None:
        """Deposit collateral and borrow ``debt`` USDC, which leaves the market to the borrower."""
        if debt > self.cash:
            raise ConfigError("evm.usdc_supply", "too small for the borrowers' debt")
        self.cash -= debt
        self.ext_out[self.usdc.index] = self.ext_out.get(self.usdc.index, 0) + debt
        self.borrowers.append(Borrower(address, collateral, frac_ceil(Fraction(debt * INDEX, self.index))))

    # ------------------------------------------------------------------ state
    def debt(self, b: Borrower) -> int:
        return frac_ceil(Fraction(b.scaled_debt * self.index, INDEX))

    def total_debt(self) -> int:
        return sum(self.debt(b) for b in self.borrowers)

    def value(self, collateral: dict[int, int], weighted: bool) -> Fraction:
        """USDC wei of the collateral at the published oracle (weighted by the liquidation threshold)."""
        out = Fraction(0)
        for token, amount in collateral.items():
            unit = 10 ** self._wd(token)
            v = Fraction(amount, unit) * self.published[token] * self.usdc.unit
            out += v * Fraction(str(self.params[token].liquidation_threshold)) if weighted else v
        return out

    def _wd(self, token: int) -> int:
        return self._reg_tokens[token].wei_decimals

    def health(self, b: Borrower) -> Fraction | None:
        d = self.debt(b)
        return None if d <= 0 else self.value(b.collateral, True) / d

    def utilization(self) -> float:
        d = self.total_debt()
        return d / (d + self.cash) if d + self.cash > 0 else 0.0

    def check(self) -> None:
        inside: dict[int, int] = {self.usdc.index: self.cash}
        for b in self.borrowers:
            for t, a in b.collateral.items():
                inside[t] = inside.get(t, 0) + a
        for liq in self.liquidators:
            inside[self.usdc.index] += liq.wallet
            for t, a in liq.inventory.items():
                inside[t] = inside.get(t, 0) + a
        for t in sorted(set(inside) | set(self.ext_in) | set(self.ext_out)):
            if inside.get(t, 0) != self.ext_in.get(t, 0) - self.ext_out.get(t, 0):
                raise EvmConservationError(
                    "evm.conservation", f"token {t} not conserved in the lending market"
                )

    # ------------------------------------------------------------------ each step
    def step(self, run: PathRun, k: int) -> None:
        self._accrue(run.sc.step_ms)
        self._publish(run, k)
        self._liquidate(run, k)
        self._sell_due(run, k)
        self.peak_utilization = max(self.peak_utilization, self.utilization())
        self.check()

    def _publish(self, run: PathRun, k: int) -> None:
        reg = run.reg
        self._reg_tokens = reg.tokens
        st = run.ex.state.prices
        for token in sorted(self.params):
            tok = reg.tokens[token]
            if self.spec.oracle == "mark" and tok.perp is not None:
                px = st.mark.get(reg.perp(tok.perp).asset)
            elif self.spec.oracle == "book" and tok.spot_pair is not None:
                px = self._book_price(run, tok)
            else:
                px = st.spot.get(tok.spot_pair) if tok.spot_pair is not None else None
            hist = self.raw.setdefault(token, [])
            if px is not None:
                hist.append(Fraction(px, PX_SCALE))
            if not hist:
                raise ConfigError(f"evm.collateral.{tok.name}", "Hyperliquid has no price for it")
            value = hist[max(0, len(hist) - 1 - self.spec.oracle_lag_steps)]
            last = self.published.get(token)
            moved = last is None or abs(value - last) / last >= Fraction(str(self.spec.deviation_threshold))
            stale = k - self.published_at.get(token, -(10**9)) >= self.spec.heartbeat_steps
            if moved or stale:
                self.published[token] = value
                self.published_at[token] = k

    @staticmethod
    def _book_price(run: PathRun, tok: Token) -> int | None:
        from netclear.markets.prices import local_mark_price

        pair = run.reg.spot_pairs[tok.spot_pair or 0]
        book = run.ex.state.books.get(pair.asset)
        ms = run.ex.state.markets.get(pair.asset)
        last = ms.last_px if ms is not None else None
        px = local_mark_price(book.best_bid() if book else None, book.best_ask() if book else None, last)
        return int(px) if px is not None else run.ex.state.prices.spot.get(pair.index)

    def _accrue(self, dt_ms: int) -> None:
        """Two-slope variable rate (Aave v3 DefaultReserveInterestRateStrategy shape), simple per step."""
        s = self.spec
        u = self.utilization()
        rate = s.rate_base + s.rate_slope1 * min(u, s.rate_kink) / s.rate_kink
        if u > s.rate_kink:
            rate += s.rate_slope2 * (u - s.rate_kink) / (1 - s.rate_kink)
        self.index += frac_floor(Fraction(self.index) * Fraction(str(round(rate, 12))) * dt_ms / YEAR_MS)

    def _liquidate(self, run: PathRun, k: int) -> None:
        for b in sorted(self.borrowers, key=lambda x: x.address):
            hf = self.health(b)
            if hf is None or hf >= 1 or not b.collateral:
                continue
            liq = next((x for x in self.liquidators if x.wallet > 0), None)
            if liq is None:
                return
            close = 1.0 if hf < Fraction(str(self.spec.full_close_health)) else self.spec.close_factor
            debt = self.debt(b)
            token = max(b.collateral, key=lambda t: (self.value({t: b.collateral[t]}, False), -t))
            params = self.params[token]
            bonus = Fraction(str(params.liquidation_bonus))
            px = self.published[token]
            unit = 10 ** self._wd(token)
            repay = min(frac_floor(Fraction(debt) * Fraction(str(close))), liq.wallet)
            seize = frac_floor(Fraction(repay, self.usdc.unit) * (1 + bonus) / px * unit)
            if seize > b.collateral[token]:
                seize = b.collateral[token]
                repay = frac_ceil(Fraction(seize, unit) * px * self.usdc.unit / (1 + bonus))
                repay = min(repay, liq.wallet, debt)
            if repay <= 0 or seize <= 0:
                continue
            liq.wallet -= repay
            self.cash += repay
            b.scaled_debt = max(0, b.scaled_debt - frac_floor(Fraction(repay * INDEX, self.index)))
            b.collateral[token] -= seize
            if b.collateral[token] == 0:
                del b.collateral[token]
            liq.inventory[token] = liq.inventory.get(token, 0) + seize
            self.sales.append(Sale(k + self.spec.liquidators.delay_steps, liq, token, seize))
            self.liquidations.append(
                {
                    "step": k,
                    "minute": run.minute,
                    "borrower": b.address,
                    "health": float(hf),
                    "closeFactor": close,
                    "repaid": repay,
                    "seized": seize,
                    "token": token,
                    "price": float(px),
                }
            )
            if not b.collateral and b.scaled_debt:
                self.deficit += self.debt(b)  # Aave v3.3: the rest is burned and booked as a deficit
                b.scaled_debt = 0

    def _sell_due(self, run: PathRun, k: int) -> None:
        due = [s for s in self.sales if s.due <= k]
        self.sales = [s for s in self.sales if s.due > k]
        for sale in due:
            if self.spec.liquidators.venue == "perp":
                self._hedge(run, sale, k)
            else:
                self._bridge_to_hl(run, sale)
        if self.spec.liquidators.venue == "spot":
            for liq in self.liquidators:
                if liq.unified:
                    self._offer(run, liq, k)

    def _hl_account(self, run: PathRun, liq: Liquidator) -> None:
        if not liq.unified:
            run.apply(A.SetAbstraction(user=liq.address, abstraction="unifiedAccount"))
            liq.unified = True

    def _bridge_to_hl(self, run: PathRun, sale: Sale) -> None:
        """The seized collateral leaves the lending market for the liquidator's Hyperliquid account."""
        liq, tok = sale.liquidator, run.reg.tokens[sale.token]
        liq.inventory[sale.token] -= sale.amount
        self.ext_out[sale.token] = self.ext_out.get(sale.token, 0) + sale.amount
        run.apply(
            A.Deposit(user=liq.address, token=tok.name, amount=Decimal(sale.amount).scaleb(-tok.wei_decimals))
        )
        self._hl_account(run, liq)

    def _offer(self, run: PathRun, liq: Liquidator, k: int) -> None:
        """IOC sales of what the liquidator holds on Hyperliquid, then its USDC bridged back."""
        acct = run.ex.state.accounts.get(liq.address)
        if acct is None:
            return
        for token in sorted(self.params):
            tok = run.reg.tokens[token]
            free = acct.spot.get(token, 0) - acct.spot_hold.get(token, 0)
            market = f"@{tok.spot_pair}"
            sz = ag.size_str(run.reg, market, float(Decimal(free).scaleb(-tok.wei_decimals)))
            px = run.ex.state.prices.spot.get(tok.spot_pair or 0, 0) / PX_SCALE
            limit = ag.price_str(run.reg, market, px * (1 - self.spec.liquidators.slippage), "ceil")
            if limit is None or sz <= 0 or float(sz) * px < ag.MIN_NOTIONAL:
                continue
            spec = O.OrderSpec(asset=market, is_buy=False, px=limit, sz=sz, limit=O.LimitSpec("Ioc"))
            filled = _filled(run.apply(O.PlaceOrder(user=liq.address, orders=[spec])))
            if filled:
                self.sold.append(
                    {"step": k, "minute": run.minute, "token": tok.name, "filled": float(filled)}
                )
        proceeds = acct.spot.get(self.usdc.index, 0) - acct.spot_hold.get(self.usdc.index, 0)
        if proceeds > 0:
            usd = Decimal(proceeds).scaleb(-self.usdc.wei_decimals)
            if run.apply(A.Withdraw(user=liq.address, token="USDC", amount=usd)) is not None:
                liq.wallet += self._bridge_in(self.usdc.index, proceeds)
                self.proceeds += proceeds

    def _hedge(self, run: PathRun, sale: Sale, k: int) -> None:
        """Keep the collateral; short the token's perp by the same size on Hyperliquid, margined with USDC
        bridged from the liquidator's wallet at ``hedge_leverage``."""
        liq, reg = sale.liquidator, run.reg
        tok = reg.tokens[sale.token]
        if tok.perp is None:
            return
        perp = reg.perp(tok.perp)
        mark = run.ex.state.prices.mark.get(perp.asset, 0) / PX_SCALE
        size = ag.size_str(reg, perp.name, float(Decimal(sale.amount).scaleb(-tok.wei_decimals)))
        lev = min(self.spec.liquidators.hedge_leverage, perp.max_leverage)
        margin = frac_ceil(Fraction(str(float(size) * mark * 1.02 / lev)) * self.usdc.unit)
        margin = min(margin, liq.wallet)
        if margin <= 0 or size <= 0:
            return
        liq.wallet -= margin
        self.ext_out[self.usdc.index] = self.ext_out.get(self.usdc.index, 0) + margin
        run.apply(A.Deposit(user=liq.address, amount=Decimal(margin).scaleb(-self.usdc.wei_decimals)))
        self._hl_account(run, liq)
        run.apply(A.UpdateLeverage(user=liq.address, asset=perp.name, is_cross=True, leverage=lev))
        limit = ag.price_str(reg, perp.name, mark * (1 - self.spec.liquidators.slippage), "ceil")
        if limit is None:
            return
        spec = O.OrderSpec(asset=perp.name, is_buy=False, px=limit, sz=size, limit=O.LimitSpec("Ioc"))
        filled = _filled(run.apply(O.PlaceOrder(user=liq.address, orders=[spec])))
        self.sold.append({"step": k, "minute": run.minute, "token": perp.name, "filled": float(filled)})

    # ------------------------------------------------------------------ result
    def result(self, run: PathRun) -> dict[str, Any]:
        insolvent = Fraction(0)
        for b in self.borrowers:
            gap = self.debt(b) - self.value(b.collateral, False)
            if gap > 0:
                insolvent += gap
        unit = self.usdc.unit
        seized = sum(
            (
                Fraction(x["seized"], 10 ** self._wd(x["token"])) * Fraction(x["price"])
                for x in self.liquidations
            ),
            Fraction(0),
        )
        evm_liquidated = {x["borrower"] for x in self.liquidations}
        return {
            "liquidations": len(self.liquidations),
            "accountsLiquidated": len(evm_liquidated),
            "collateralSeizedUsd": round(float(seized), 2),
            "debtRepaid": round(sum(x["repaid"] for x in self.liquidations) / unit, 2),
            "badDebt": round(float((insolvent + self.deficit) / unit), 2),
            "soldOnHyperliquid": round(sum(s["filled"] for s in self.sold), 6),
            "proceeds": round(self.proceeds / unit, 2),
            "salesPending": len(self.sales),
            "peakUtilization": round(self.peak_utilization, 6),
            "firstLiquidationMinute": self.liquidations[0]["minute"] if self.liquidations else None,
            "liquidatedOnBothSides": sorted(evm_liquidated & set(run.m.liquidated_accounts)),
        }


def _filled(events: list[Any] | None) -> Decimal:
    for e in events or []:
        if e.kind == "orderStatuses" and e.data.get("statuses"):
            st = e.data["statuses"][0]
            if isinstance(st, dict) and "filled" in st:
                return Decimal(st["filled"]["totalSz"])
    return Decimal(0)


def _wei(amount: float, tok: Token) -> int:
    return int(Decimal(repr(amount)).scaleb(tok.wei_decimals))
