"""An Aave v3-shaped lending pool on exact integers: the EVM ledger of the risk lab.

The state and every operation follow aave-v3-core v3.0.2, the version HypurrFi's pooled markets and
HyperLend's core pools fork (https://github.com/aave/aave-v3-core, ``ReserveLogic``, ``GenericLogic``,
``LiquidationLogic``, ``DefaultReserveInterestRateStrategy``):

* a reserve keeps a liquidity index (linear interest) and a variable borrow index (compounded), both
  in ray, advanced on every operation that touches it (``updateState``), with the reserve factor's
  share of new interest accrued to the treasury; rates are re-read from the two-slope curve after
  every change of cash or debt (``updateInterestRates``);
* balances are scaled: a supplier holds ``amount.rayDiv(liquidityIndex)`` aTokens, a borrower
  ``amount.rayDiv(variableBorrowIndex)`` debt tokens;
* the health factor is ``sum(collateral_i x price_i x LT_i) / debt`` in wad over the reserves the
  account supplies; a borrow needs ``debt <= sum(collateral_i x LTV_i)``; a liquidation needs
  HF < 1, repays at most the close factor of the debt (50%, or 100% when HF < 0.95:
  ``DEFAULT_LIQUIDATION_CLOSE_FACTOR`` / ``CLOSE_FACTOR_HF_THRESHOLD``) and pays the liquidator the
  collateral worth the debt times the liquidation bonus, or all the collateral and proportionally
  less debt when there is not enough (``_calculateAvailableCollateralToLiquidate``);
* supply and borrow caps are whole tokens, 0 meaning none (``ValidationLogic``).

v3.0.2 books no deficit: debt left on an account with no collateral stays as debt tokens, and is
counted as bad debt by the risk lab's insolvency measure. Nothing here is a float; the pool checks the
conservation of each underlying token and of the aToken and debt-token supplies (``conservation``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netclear.errors import NetclearError
from netclear.sim.evm.wad import (
    PERCENTAGE_FACTOR,
    RAY,
    WAD,
    compounded_interest,
    linear_interest,
    percent_div,
    percent_mul,
    ray_div,
    ray_mul,
    wad_div,
)

TREASURY = "treasury"
PRICE_DECIMALS = 8
"""Oracle prices in the base currency (USD) with 8 decimals, Aave's ``BASE_CURRENCY_UNIT`` 1e8."""
HF_MAX = 2**256 - 1


class LendingError(NetclearError):
    """A pool operation the contracts would revert; the pool is unchanged."""

    code = "lending"


@dataclass(frozen=True)
class RateCurve:
    """``DefaultReserveInterestRateStrategy`` parameters, each in ray."""

    optimal_usage: int
    base: int
    slope1: int
    slope2: int

    def borrow_rate(self, usage: int) -> int:
        if usage > self.optimal_usage:
            excess = ray_div(usage - self.optimal_usage, RAY - self.optimal_usage)
            return self.base + self.slope1 + ray_mul(self.slope2, excess)
        return self.base + ray_div(ray_mul(self.slope1, usage), self.optimal_usage)


@dataclass(frozen=True)
class ReserveConfig:
    token: str
    decimals: int
    ltv: int
    """Basis points, like every ratio below."""
    liquidation_threshold: int
    liquidation_bonus: int
    """10800 = the liquidator receives 108% of the debt's value in collateral."""
    reserve_factor: int
    liquidation_protocol_fee: int
    supply_cap: int
    """Whole tokens; 0 = no cap."""
    borrow_cap: int
    borrowing_enabled: bool
    curve: RateCurve

    @property
    def unit(self) -> int:
        return int(10**self.decimals)


@dataclass
class ReserveData:
    liquidity_index: int = RAY
    borrow_index: int = RAY
    liquidity_rate: int = 0
    borrow_rate: int = 0
    scaled_supply: int = 0
    """Sum of the scaled aToken balances (suppliers and the treasury's liquidation fees)."""
    scaled_debt: int = 0
    accrued_to_treasury: int = 0
    """Scaled aTokens owed to the treasury from the reserve factor, not yet minted."""
    cash: int = 0
    """Underlying held by the aToken contract."""
    last_ts: int = 0


@dataclass
class AccountData:
    collateral: int
    """Base currency (USD, 8 decimals)."""
    debt: int
    ltv: int
    liquidation_threshold: int
    health_factor: int
    """Wad; ``HF_MAX`` without debt."""


@dataclass
class Liquidation:
    user: str
    liquidator: str
    collateral_token: str
    debt_token: str
    debt_repaid: int
    collateral_seized: int
    """Units of the collateral token paid to the liquidator (bonus included, protocol fee excluded)."""
    protocol_fee: int
    health_factor: int
    close_factor: int


@dataclass
class LendingPool:
    reserves: dict[str, ReserveConfig]
    close_factor: int = 5000
    max_close_factor: int = 10000
    close_factor_hf_threshold: int = 95 * WAD // 100
    data: dict[str, ReserveData] = field(default_factory=dict)
    supplied: dict[str, dict[str, int]] = field(default_factory=dict)
    debt: dict[str, dict[str, int]] = field(default_factory=dict)
    wallet: dict[str, dict[str, int]] = field(default_factory=dict)
    bridged_in: dict[str, int] = field(default_factory=dict)
    bridged_out: dict[str, int] = field(default_factory=dict)
    prices: dict[str, int] = field(default_factory=dict)
    now: int = 0

    def __post_init__(self) -> None:
        for token in self.reserves:
            self.data.setdefault(token, ReserveData())

    # ------------------------------------------------------------------ reading
    def _reserve(self, token: str) -> tuple[ReserveConfig, ReserveData]:
        if token not in self.reserves:
            raise LendingError("token", f"no reserve for {token}")
        return self.reserves[token], self.data[token]

    def normalized_income(self, token: str) -> int:
        r = self._reserve(token)[1]
        if r.last_ts == self.now:
            return r.liquidity_index
        return ray_mul(linear_interest(r.liquidity_rate, self.now - r.last_ts), r.liquidity_index)

    def normalized_debt(self, token: str) -> int:
        r = self._reserve(token)[1]
        if r.last_ts == self.now:
            return r.borrow_index
        return ray_mul(compounded_interest(r.borrow_rate, self.now - r.last_ts), r.borrow_index)

    def balance_of(self, user: str, token: str) -> int:
        """aToken balance (underlying units, interest included)."""
        scaled = self.supplied.get(user, {}).get(token, 0)
        return ray_mul(scaled, self.normalized_income(token)) if scaled else 0

    def debt_of(self, user: str, token: str) -> int:
        scaled = self.debt.get(user, {}).get(token, 0)
        return ray_mul(scaled, self.normalized_debt(token)) if scaled else 0

    def wallet_of(self, user: str, token: str) -> int:
        return self.wallet.get(user, {}).get(token, 0)

    def price(self, token: str) -> int:
        px = self.prices.get(token)
        if px is None or px <= 0:
            raise LendingError(f"oracle.{token}", "no price published")
        return px

    def account(self, user: str) -> AccountData:
        """``GenericLogic.calculateUserAccountData`` (v3.0.2; no e-mode)."""
        coll = debt = avg_ltv = avg_lt = 0
        for token, cfg in self.reserves.items():
            bal = self.balance_of(user, token)
            if bal and cfg.liquidation_threshold:
                base = bal * self.price(token) // cfg.unit
                coll += base
                avg_ltv += base * cfg.ltv
                avg_lt += base * cfg.liquidation_threshold
            owed = self.debt_of(user, token)
            if owed:
                debt += self.price(token) * owed // cfg.unit
        avg_ltv = avg_ltv // coll if coll else 0
        avg_lt = avg_lt // coll if coll else 0
        hf = HF_MAX if debt == 0 else wad_div(percent_mul(coll, avg_lt), debt)
        return AccountData(coll, debt, avg_ltv, avg_lt, hf)

    def users(self) -> list[str]:
        return sorted(set(self.supplied) | set(self.debt))

    def borrowers(self) -> list[str]:
        return sorted(u for u, d in self.debt.items() if any(d.values()))

    # ------------------------------------------------------------------ reserve state
    def update_state(self, token: str) -> None:
        """``ReserveLogic.updateState``: advance both indexes to ``now`` and accrue to the treasury."""
        cfg, r = self._reserve(token)
        dt = self.now - r.last_ts
        if dt <= 0:
            return
        if r.liquidity_rate:
            r.liquidity_index = ray_mul(linear_interest(r.liquidity_rate, dt), r.liquidity_index)
        if r.scaled_debt:
            old = r.borrow_index
            r.borrow_index = ray_mul(compounded_interest(r.borrow_rate, dt), old)
            accrued = ray_mul(r.scaled_debt, r.borrow_index) - ray_mul(r.scaled_debt, old)
            to_treasury = percent_mul(accrued, cfg.reserve_factor)
            if to_treasury:
                r.accrued_to_treasury += ray_div(to_treasury, r.liquidity_index)
        r.last_ts = self.now

    def update_rates(self, token: str) -> None:
        """``DefaultReserveInterestRateStrategy.calculateInterestRates`` (variable debt only)."""
        cfg, r = self._reserve(token)
        total_debt = ray_mul(r.scaled_debt, r.borrow_index)
        usage = ray_div(total_debt, r.cash + total_debt) if total_debt else 0
        r.borrow_rate = cfg.curve.borrow_rate(usage)
        r.liquidity_rate = (
            percent_mul(ray_mul(r.borrow_rate, usage), PERCENTAGE_FACTOR - cfg.reserve_factor)
            if total_debt
            else 0
        )

    def utilization(self, token: str) -> float:
        """Borrow usage ``debt / (cash + debt)``, a float for reports only."""
        r = self.data[token]
        total_debt = ray_mul(r.scaled_debt, r.borrow_index)
        return total_debt / (r.cash + total_debt) if total_debt else 0.0

    def accrue_all(self) -> None:
        for token in sorted(self.reserves):
            self.update_state(token)
            self.update_rates(token)

    # ------------------------------------------------------------------ wallets and the bridge
    def _move(self, book: dict[str, dict[str, int]], user: str, token: str, delta: int) -> None:
        bal = book.setdefault(user, {})
        bal[token] = bal.get(token, 0) + delta
        if bal[token] == 0:
            del bal[token]

    def bridge_in(self, user: str, token: str, amount: int) -> None:
        """Tokens arriving on the EVM side (genesis funding, or from HyperCore)."""
        self._reserve(token)
        if amount <= 0:
            raise LendingError("amount", "must be positive")
        self._move(self.wallet, user, token, amount)
        self.bridged_in[token] = self.bridged_in.get(token, 0) + amount

    def bridge_out(self, user: str, token: str, amount: int) -> None:
        """Tokens leaving the EVM side (to HyperCore, where they are sold)."""
        if amount <= 0 or self.wallet_of(user, token) < amount:
            raise LendingError("amount", f"{user} holds {self.wallet_of(user, token)} {token}, not {amount}")
        self._move(self.wallet, user, token, -amount)
        self.bridged_out[token] = self.bridged_out.get(token, 0) + amount

    # ------------------------------------------------------------------ pool operations
    def supply(self, user: str, token: str, amount: int) -> None:
        cfg, r = self._reserve(token)
        if amount <= 0 or self.wallet_of(user, token) < amount:
            raise LendingError("amount", f"{user} cannot supply {amount} {token}")
        self.update_state(token)
        scaled = ray_div(amount, r.liquidity_index)
        if scaled == 0:
            raise LendingError("amount", "rounds to zero aTokens")
        if cfg.supply_cap:
            supplied = ray_mul(r.scaled_supply + r.accrued_to_treasury, r.liquidity_index)
            if supplied + amount > cfg.supply_cap * cfg.unit:
                raise LendingError(f"reserves.{token}.supply_cap", "supply cap exceeded")
        self._move(self.wallet, user, token, -amount)
        self._move(self.supplied, user, token, scaled)
        r.scaled_supply += scaled
        r.cash += amount
        self.update_rates(token)

    def borrow(self, user: str, token: str, amount: int, *, check_ltv: bool = True) -> None:
        """``ValidationLogic.validateBorrow``: enabled, cash, cap, HF >= 1 and debt within LTV.

        ``check_ltv=False`` is for the genesis population only (positions opened earlier at other
        prices, docs/risk-lab.md "HyperEVM lending"): the health factor must still be at least 1."""
        cfg, r = self._reserve(token)
        if not cfg.borrowing_enabled:
            raise LendingError(f"reserves.{token}", "borrowing not enabled")
        if amount <= 0 or amount > r.cash:
            raise LendingError("amount", f"{amount} {token} exceeds the reserve's cash {r.cash}")
        self.update_state(token)
        total_debt = ray_mul(r.scaled_debt, r.borrow_index)
        if cfg.borrow_cap and total_debt + amount > cfg.borrow_cap * cfg.unit:
            raise LendingError(f"reserves.{token}.borrow_cap", "borrow cap exceeded")
        before = self.account(user)
        new_debt = before.debt + self.price(token) * amount // cfg.unit
        if check_ltv and new_debt > percent_mul(before.collateral, before.ltv):
            raise LendingError("amount", "collateral cannot cover the new borrow at its LTV")
        if wad_div(percent_mul(before.collateral, before.liquidation_threshold), max(new_debt, 1)) < WAD:
            raise LendingError("amount", "health factor would fall below 1")
        scaled = ray_div(amount, r.borrow_index)
        self._move(self.debt, user, token, scaled)
        r.scaled_debt += scaled
        r.cash -= amount
        self._move(self.wallet, user, token, amount)
        self.update_rates(token)

    def withdraw(self, user: str, token: str, amount: int) -> None:
        r = self._reserve(token)[1]
        self.update_state(token)
        have = self.supplied.get(user, {}).get(token, 0)
        scaled = min(ray_div(amount, r.liquidity_index), have)
        if amount <= 0 or scaled == 0 or amount > r.cash:
            raise LendingError("amount", f"{user} cannot withdraw {amount} {token}")
        self._move(self.supplied, user, token, -scaled)
        r.scaled_supply -= scaled
        if any(self.debt.get(user, {}).values()) and self.account(user).health_factor < WAD:
            self._move(self.supplied, user, token, scaled)
            r.scaled_supply += scaled
            raise LendingError("amount", "health factor would fall below 1")
        r.cash -= amount
        self._move(self.wallet, user, token, amount)
        self.update_rates(token)

    def liquidation_call(
        self, liquidator: str, collateral_token: str, debt_token: str, user: str, debt_to_cover: int
    ) -> Liquidation:
        """``LiquidationLogic.executeLiquidationCall`` with ``receiveAToken = false``."""
        ccfg, cres = self._reserve(collateral_token)
        dcfg, dres = self._reserve(debt_token)
        self.update_state(debt_token)
        hf = self.account(user).health_factor
        if hf >= WAD:
            raise LendingError("user", f"health factor {hf / WAD:.4f} is not below 1")
        user_debt = self.debt_of(user, debt_token)
        balance = self.balance_of(user, collateral_token)
        if user_debt == 0 or balance == 0 or ccfg.liquidation_threshold == 0:
            raise LendingError("user", "no debt or no collateral to liquidate")
        close = self.close_factor if hf > self.close_factor_hf_threshold else self.max_close_factor
        debt_amount = min(debt_to_cover, percent_mul(user_debt, close))
        cpx, dpx = self.price(collateral_token), self.price(debt_token)
        base = dpx * debt_amount * ccfg.unit // (cpx * dcfg.unit)
        max_collateral = percent_mul(base, ccfg.liquidation_bonus)
        if max_collateral > balance:
            collateral = balance
            debt_amount = percent_div(
                cpx * collateral * dcfg.unit // (dpx * ccfg.unit), ccfg.liquidation_bonus
            )
        else:
            collateral = max_collateral
        fee = 0
        if ccfg.liquidation_protocol_fee:
            bonus = collateral - percent_div(collateral, ccfg.liquidation_bonus)
            fee = percent_mul(bonus, ccfg.liquidation_protocol_fee)
            collateral -= fee
        if debt_amount <= 0 or self.wallet_of(liquidator, debt_token) < debt_amount:
            raise LendingError("liquidator", f"{liquidator} cannot repay {debt_amount} {debt_token}")
        # burn the debt tokens (the whole scaled balance when the whole debt goes)
        scaled_debt = self.debt[user][debt_token]
        burn = (
            scaled_debt
            if debt_amount >= user_debt
            else min(ray_div(debt_amount, dres.borrow_index), scaled_debt)
        )
        self._move(self.debt, user, debt_token, -burn)
        dres.scaled_debt -= burn
        self._move(self.wallet, liquidator, debt_token, -debt_amount)
        dres.cash += debt_amount
        self.update_rates(debt_token)
        # collateral: burn the user's aTokens and pay out the underlying; the fee goes to the treasury
        self.update_state(collateral_token)
        have = self.supplied[user][collateral_token]
        taken = collateral + fee
        scaled_taken = have if taken >= balance else min(ray_div(taken, cres.liquidity_index), have)
        scaled_fee = min(ray_div(fee, cres.liquidity_index), scaled_taken) if fee else 0
        self._move(self.supplied, user, collateral_token, -scaled_taken)
        cres.scaled_supply -= scaled_taken - scaled_fee
        if scaled_fee:
            self._move(self.supplied, TREASURY, collateral_token, scaled_fee)
        cres.cash -= collateral
        self._move(self.wallet, liquidator, collateral_token, collateral)
        self.update_rates(collateral_token)
        return Liquidation(
            user, liquidator, collateral_token, debt_token, debt_amount, collateral, fee, hf, close
        )

    # ------------------------------------------------------------------ invariants
    def conservation(self) -> list[str]:
        """Broken identities, by name (empty when the ledger is whole):

        * underlying: wallets + the aToken contract's cash = bridged in - bridged out, per token;
        * aTokens: the scaled balances sum to the reserve's scaled supply;
        * debt tokens: the scaled debts sum to the reserve's scaled debt.
        """
        broken: list[str] = []
        for token in sorted(self.reserves):
            r = self.data[token]
            held = sum(w.get(token, 0) for w in self.wallet.values()) + r.cash
            if held != self.bridged_in.get(token, 0) - self.bridged_out.get(token, 0):
                broken.append(f"{token} underlying")
            if sum(s.get(token, 0) for s in self.supplied.values()) != r.scaled_supply:
                broken.append(f"{token} aToken supply")
            if sum(d.get(token, 0) for d in self.debt.values()) != r.scaled_debt:
                broken.append(f"{token} debt-token supply")
            if min(r.cash, r.scaled_supply, r.scaled_debt) < 0:
                broken.append(f"{token} negative reserve")
        return broken
