"""What an account may move out: withdrawable amounts and the debit/credit primitives.

Hyperliquid docs 'Margining': margin can leave (withdrawal, transfer, isolated margin removal) only while
``transfer_margin_required = max(initial_margin, 0.1 x total notional)`` stays covered. Under
portfolio margin borrowed balance "cannot be withdrawn or transferred" (Hyperliquid docs 'Portfolio margin'),
and collateral locked by a borrow stays until the health factor allows (Hyperliquid docs 'Portfolio margin
FAQ').
"""

from __future__ import annotations

from netclear.engine import pm_model
from netclear.engine.accounting import PoolKey, Valuer
from netclear.engine.health import AccountHealth, HealthCache
from netclear.engine.solvency import fund, require_collateral_cover
from netclear.engine.state import Account, Mode
from netclear.engine.tx import Tx
from netclear.errors import InsufficientBalance
from netclear.fixedpoint import fmt_units
from netclear.margin import standard as std_rules
from netclear.markets.registry import Registry, Token


def transfer_requirement(reg: Registry, im: int, total_ntl: int) -> int:
    """The transfer margin rule (:func:`netclear.margin.standard.transfer_margin_required`) for one isolated
    position; a cross pool's is :meth:`AccountHealth.transfer_requirement`."""
    return std_rules.transfer_margin_required(im, total_ntl, reg.transfer_min_ntl_fraction)


def withdrawable(
    v: Valuer,
    acct: Account,
    token: Token,
    *,
    perp_dex: str | None = None,
    health: AccountHealth | None = None,
) -> int:
    """Amount of ``token`` the account can move out now.

    ``perp_dex`` selects a standard-mode dex's cross balance (``withdraw3`` / ``usdSend`` source);
    otherwise the spot (standard) or unified balance is used. ``health``: the account's
    :class:`~netclear.engine.health.AccountHealth` when the caller has one (the requirement is its
    :meth:`~netclear.engine.health.AccountHealth.transfer_requirement`).
    """
    reg = v.reg
    if acct.mode is Mode.STANDARD:
        if perp_dex is not None:
            h = health if health is not None else AccountHealth(v, acct)
            key = PoolKey.of_dex(reg.dex(perp_dex).name)
            return std_rules.withdrawable(h.pool(key).account_value, h.transfer_requirement(key))
        return max(0, acct.spot.get(token.index, 0) - acct.spot_hold.get(token.index, 0))
    pm = acct.mode is Mode.PORTFOLIO
    h = health if health is not None else AccountHealth(v, acct)
    pool = h.token_pool(token.index)
    supplied = v.supplied(acct, token.index) if pm else 0
    borrowed = v.borrowed(acct, token.index) if pm else 0
    hold = acct.spot_hold.get(token.index, 0)
    if pool is not None:
        return max(0, pool.account_value + supplied - borrowed - h.transfer_requirement(pool.key) - hold)
    spot_free = acct.spot.get(token.index, 0) - hold
    params = reg.collateral(token.index) if pm and not pm_model.uses_scenario(reg) else None
    if params is not None and acct.has_borrows() and supplied > 0:
        # Only supplied collateral backs borrows; what is locked is the part the LTV needs (Hyperliquid docs
        # 'Portfolio margin FAQ').
        room = v.borrowing_power(acct) - v.borrowed_value(acct)
        counted = min(supplied, params.user_supply_cap)
        removable = room / (v.token_price(token) * params.ltv) * token.unit if room > 0 else 0
        unlockable = min(counted, int(removable)) + (supplied - counted)
        return max(0, spot_free + unlockable - borrowed)
    return max(0, spot_free + supplied - borrowed)


def debit(
    tx: Tx,
    reg: Registry,
    acct: Account,
    token: Token,
    amount: int,
    *,
    perp_dex: str | None = None,
    field: str = "amount",
    health: HealthCache | None = None,
) -> None:
    """Take ``amount`` out of the account after checking :func:`withdrawable`; never borrows.
    ``health``: the action's cache (``Ctx.health_cache``)."""
    cache = health if health is not None else HealthCache(reg).begin(tx.state)
    h = cache.get(acct)
    available = withdrawable(h.v, acct, token, perp_dex=perp_dex, health=h)
    if amount > available:
        where = f" on dex {perp_dex or 'main'}" if perp_dex is not None and acct.mode is Mode.STANDARD else ""
        raise InsufficientBalance(
            field,
            f"{fmt_units(amount, token.wei_decimals)} {token.name} exceeds withdrawable "
            f"{fmt_units(available, token.wei_decimals)}{where}",
        )
    if acct.mode is Mode.STANDARD and perp_dex is not None:
        acct.perp_cash[perp_dex] = acct.perp_cash.get(perp_dex, 0) - amount
        return
    cash = acct.spot.get(token.index, 0)
    if acct.mode is Mode.PORTFOLIO and cash < amount:
        fund(tx, reg, acct, token, amount - max(cash, 0), allow_borrow=False)
    acct.spot[token.index] = acct.spot.get(token.index, 0) - amount
    if acct.mode is Mode.PORTFOLIO and pm_model.uses_scenario(reg):
        # what leaves must not take equity below the scenario initial requirement
        require_collateral_cover(Valuer(reg, tx.state), acct, field=field, before=tx.original(acct.address))


def credit(acct: Account, token: Token, amount: int, *, perp_dex: str | None = None) -> None:
    """Give ``amount`` to the account: a standard account's dex balance, else its spot/unified balance."""
    if acct.mode is Mode.STANDARD and perp_dex is not None:
        acct.perp_cash[perp_dex] = acct.perp_cash.get(perp_dex, 0) + amount
    else:
        acct.spot[token.index] = acct.spot.get(token.index, 0) + amount
