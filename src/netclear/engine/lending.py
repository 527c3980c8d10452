"""Lending reserve operations: accrual, supply, withdraw, borrow, repay (Hyperliquid docs 'Portfolio margin').

Every operation first accrues the reserve to the current time, so rates always apply to the
utilization that held over the elapsed interval. Caps and liquidity are enforced here; collateral
(LTV) limits are enforced by :mod:`netclear.engine.solvency`, which knows the whole account.
"""

from __future__ import annotations

from fractions import Fraction

from netclear.engine.state import Account, Reserve
from netclear.engine.tx import Tx
from netclear.errors import CapReached, InsufficientBalance, InvalidAction, LiquidityError
from netclear.fixedpoint import fmt_units
from netclear.lending.rates import (
    INDEX_SCALE,
    basis_for,
    borrow_rate,
    grow_index,
    growth_factor,
    utilization,
    value_of,
)
from netclear.markets.registry import BorrowableParams, RateCurve, Registry, Token


def _supply_caps(reg: Registry, token: int) -> tuple[int, int] | None:
    """(user cap, global cap) in wei for a lendable token, None if the token cannot be supplied."""
    b = reg.borrowable(token)
    if b is not None:
        return b.user_supply_cap, b.global_supply_cap
    c = reg.collateral(token)
    if c is not None:
        return c.user_supply_cap, c.global_supply_cap
    return None


def rates_of(reg: Registry, res: Reserve) -> tuple[Fraction, Fraction, Fraction]:
    """(utilization, borrow rate, supply rate) of a reserve now (Hyperliquid docs 'Portfolio margin').

    Non-borrowable collateral reserves report the stablecoin curve's rate at zero utilization, as the
    published HYPE reserve state does ("borrowYearlyRate": "0.05").
    """
    u = utilization(res.total_borrowed, res.total_supplied)
    params = reg.borrowable(res.token)
    curve = params.curve if params is not None else _default_curve(reg)
    if curve is None:
        return u, Fraction(0), Fraction(0)
    b = borrow_rate(curve, u)
    cut = params.reserve_cut if params is not None else Fraction(1, 10)
    return u, b, b * min(u, Fraction(1)) * (1 - cut)


def _default_curve(reg: Registry) -> RateCurve | None:
    pm = reg.pm
    if pm is None or not pm.borrowable:
        return None
    return next(iter(pm.borrowable.values())).curve


def accrue(reg: Registry, res: Reserve, now_ms: int) -> None:
    """Advance the reserve's indices to ``now_ms`` (continuous compounding, Hyperliquid docs 'Portfolio
    margin').

    Borrow interest ``I`` grows debts; suppliers receive ``floor(I * (1 - reserve_cut))`` through the
    supply index, and the rest (the cut plus any rounding) goes to the protocol buffer, so
    ``debts + cash = claims + buffer + dust`` with dust >= 0 (nothing created or lost).
    """
    dt = now_ms - res.last_accrual_ms
    if dt <= 0:
        return
    res.last_accrual_ms = now_ms
    params: BorrowableParams | None = reg.borrowable(res.token)
    if res.scaled_borrow == 0 or params is None:
        return
    u = utilization(res.total_borrowed, res.total_supplied)
    rate = borrow_rate(params.curve, u)
    new_bidx = grow_index(res.borrow_index, growth_factor(rate, dt))
    interest_raw = res.scaled_borrow * (new_bidx - res.borrow_index)
    res.borrow_index = new_bidx
    cut = params.reserve_cut
    supplier_raw = interest_raw * (cut.denominator - cut.numerator) // cut.denominator
    cut_raw = interest_raw - supplier_raw
    if res.scaled_supply > 0:
        step = supplier_raw // res.scaled_supply
        res.supply_index += step
        cut_raw += supplier_raw - step * res.scaled_supply
    else:
        cut_raw += supplier_raw
    res.buffer_raw += cut_raw


def reserve(tx: Tx, reg: Registry, token: int) -> Reserve:
    res = tx.reserve(token)
    accrue(reg, res, tx.state.time_ms)
    return res


def _require_lendable(reg: Registry, token: Token, field: str) -> tuple[int, int]:
    caps = _supply_caps(reg, token.index)
    if caps is None:
        raise InvalidAction(field, f"{token.name} is neither a borrowable nor a collateral asset")
    return caps


def supply(tx: Tx, reg: Registry, acct: Account, token: Token, amount: int, *, field: str = "amount") -> int:
    """Move ``amount`` wei from the spot balance into the reserve, within user and global supply caps."""
    if amount <= 0:
        raise InvalidAction(field, "must be positive")
    user_cap, global_cap = _require_lendable(reg, token, "token")
    spot = acct.spot.get(token.index, 0) - acct.spot_hold.get(token.index, 0)
    if amount > spot:
        raise InsufficientBalance(
            field,
            f"supply {fmt_units(amount, token.wei_decimals)} {token.name} exceeds free balance {fmt_units(max(spot, 0), token.wei_decimals)}",
        )
    res = reserve(tx, reg, token.index)
    current = value_of(acct.supply_basis.get(token.index, 0), res.supply_index, debt=False)
    if current + amount > user_cap:
        raise CapReached(
            field, f"user supply cap of {fmt_units(user_cap, token.wei_decimals)} {token.name} reached"
        )
    if res.total_supplied + amount > global_cap:
        raise CapReached(
            field, f"global supply cap of {fmt_units(global_cap, token.wei_decimals)} {token.name} reached"
        )
    basis = basis_for(amount, res.supply_index, debt=False)
    acct.supply_basis[token.index] = acct.supply_basis.get(token.index, 0) + basis
    res.scaled_supply += basis
    res.cash += amount
    acct.spot[token.index] = acct.spot.get(token.index, 0) - amount
    return amount


def supply_headroom(tx: Tx, reg: Registry, acct: Account, token: int) -> int:
    """How much more the account may supply under the user and global caps."""
    caps = _supply_caps(reg, token)
    if caps is None:
        return 0
    res = reserve(tx, reg, token)
    current = value_of(acct.supply_basis.get(token, 0), res.supply_index, debt=False)
    return max(0, min(caps[0] - current, caps[1] - res.total_supplied))


def withdraw(
    tx: Tx, reg: Registry, acct: Account, token: Token, amount: int | None, *, field: str = "amount"
) -> int:
    """Withdraw supplied ``amount`` (None: everything) back to spot; blocked when the pool lacks cash.

    Hyperliquid docs 'Portfolio margin' FAQ: at 100% utilization suppliers "will not be able to withdraw ...
    until more supply is added or borrows are repaid".
    """
    basis = acct.supply_basis.get(token.index, 0)
    if basis <= 0:
        raise InsufficientBalance(field, f"nothing supplied in {token.name}")
    res = reserve(tx, reg, token.index)
    current = value_of(basis, res.supply_index, debt=False)
    if amount is None:
        amount = current
        burn = basis
    else:
        if amount <= 0:
            raise InvalidAction(field, "must be positive")
        if amount > current:
            raise InsufficientBalance(
                field,
                f"withdraw {fmt_units(amount, token.wei_decimals)} exceeds supplied {fmt_units(current, token.wei_decimals)} {token.name}",
            )
        burn = basis if amount == current else min(basis, -((-amount * INDEX_SCALE) // res.supply_index))
    if amount > res.cash:
        u = utilization(res.total_borrowed, res.total_supplied)
        raise LiquidityError(
            field,
            f"reserve {token.name} holds only {fmt_units(res.cash, token.wei_decimals)} "
            f"(utilization {float(u):.2%}); withdrawals wait for new supply or repayments",
        )
    acct.supply_basis[token.index] = basis - burn
    if acct.supply_basis[token.index] == 0:
        del acct.supply_basis[token.index]
    res.scaled_supply -= burn
    res.cash -= amount
    acct.spot[token.index] = acct.spot.get(token.index, 0) + amount
    return amount


def borrow(tx: Tx, reg: Registry, acct: Account, token: Token, amount: int, *, field: str = "amount") -> int:
    """Borrow ``amount`` wei into spot within caps and pool liquidity (LTV is checked by the caller)."""
    if amount <= 0:
        raise InvalidAction(field, "must be positive")
    params = reg.borrowable(token.index)
    if params is None:
        raise InvalidAction("token", f"{token.name} is not borrowable")
    res = reserve(tx, reg, token.index)
    owed = value_of(acct.borrow_basis.get(token.index, 0), res.borrow_index, debt=True)
    if owed + amount > params.user_borrow_cap:
        raise CapReached(
            field,
            f"user borrow cap of {fmt_units(params.user_borrow_cap, token.wei_decimals)} {token.name} reached",
        )
    if res.total_borrowed + amount > params.global_borrow_cap:
        raise CapReached(
            field,
            f"global borrow cap of {fmt_units(params.global_borrow_cap, token.wei_decimals)} {token.name} reached",
        )
    if amount > res.cash:
        raise LiquidityError(
            field, f"reserve {token.name} has only {fmt_units(res.cash, token.wei_decimals)} to lend"
        )
    basis = basis_for(amount, res.borrow_index, debt=True)
    acct.borrow_basis[token.index] = acct.borrow_basis.get(token.index, 0) + basis
    res.scaled_borrow += basis
    res.cash -= amount
    acct.spot[token.index] = acct.spot.get(token.index, 0) + amount
    return amount


def borrow_headroom(tx: Tx, reg: Registry, acct: Account, token: int) -> int:
    """Borrowable amount left under the user cap, the global cap and the pool's cash (not LTV)."""
    params = reg.borrowable(token)
    if params is None:
        return 0
    res = reserve(tx, reg, token)
    owed = value_of(acct.borrow_basis.get(token, 0), res.borrow_index, debt=True)
    return max(0, min(params.user_borrow_cap - owed, params.global_borrow_cap - res.total_borrowed, res.cash))


def repay(
    tx: Tx, reg: Registry, acct: Account, token: Token, amount: int | None, *, field: str = "amount"
) -> int:
    """Repay ``amount`` (None: all) from spot; the debt is rounded up, so repaying all clears it."""
    basis = acct.borrow_basis.get(token.index, 0)
    if basis <= 0:
        raise InvalidAction("token", f"no {token.name} borrow to repay")
    res = reserve(tx, reg, token.index)
    owed = value_of(basis, res.borrow_index, debt=True)
    if amount is None or amount >= owed:
        amount, burn = owed, basis
    else:
        if amount <= 0:
            raise InvalidAction(field, "must be positive")
        burn = min(basis, amount * INDEX_SCALE // res.borrow_index)
    acct.borrow_basis[token.index] = basis - burn
    if acct.borrow_basis[token.index] == 0:
        del acct.borrow_basis[token.index]
    res.scaled_borrow -= burn
    res.cash += amount
    acct.spot[token.index] = acct.spot.get(token.index, 0) - amount
    return amount
