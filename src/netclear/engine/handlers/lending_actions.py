"""The ``borrowLend`` action: supply, withdraw, borrow, repay (Hyperliquid docs 'Info endpoint', 'Portfolio
margin')."""

from __future__ import annotations

from netclear.engine import events, lending
from netclear.engine.actions import BorrowLend
from netclear.engine.context import Ctx
from netclear.engine.solvency import (
    ltv_borrow_capacity,
    require_collateral_cover,
    require_margin,
    supply_collateral,
)
from netclear.engine.state import Account, Mode
from netclear.errors import InsufficientBalance, InsufficientMargin, InvalidAction, ModeError
from netclear.fixedpoint import fmt_units


def free_balance(ctx: Ctx, acct: Account, token: int) -> int:
    """Balance not used as margin or by orders (:meth:`netclear.engine.health.AccountHealth.free`): the
    unified pool's value less its initial margin (positions and resting orders) and spot holds."""
    return ctx.health(acct).free(token)


def _explain_standard_perp_balance(ctx: Ctx, acct: Account, token: int, amount: int) -> None:
    """Standard mode keeps a dex's collateral in its perp balance, apart from spot (Hyperliquid's
    "Account abstraction modes"): a supply short of spot balance says so and how to move it."""
    if acct.mode is not Mode.STANDARD:
        return
    free = acct.spot.get(token, 0) - acct.spot_hold.get(token, 0)
    if amount <= free:
        return
    perp = sum(cash for dex, cash in acct.perp_cash.items() if ctx.reg.dex(dex).collateral.index == token)
    if perp <= 0:
        return
    tok = ctx.reg.tokens[token]
    wd = tok.wei_decimals
    raise InsufficientBalance(
        "amount",
        f"supply {fmt_units(amount, wd)} {tok.name} exceeds the free spot balance "
        f"{fmt_units(max(free, 0), wd)} {tok.name}: in standard mode {tok.name} sits in the perp balance "
        f"({fmt_units(perp, wd)} {tok.name}); move it to spot with usdClassTransfer (toPerp false), or "
        "switch to unifiedAccount or portfolioMargin (userSetAbstraction), where one balance serves both",
    )


def borrow_lend(ctx: Ctx, a: BorrowLend) -> None:
    acct = ctx.existing_account(a.user)
    token = ctx.token(a.token)
    amount = None if a.amount is None else ctx.amount(a.amount, token)
    reg = ctx.reg
    interest = 0
    if a.operation == "supply":
        if amount is None:
            amount = max(0, acct.spot.get(token.index, 0) - acct.spot_hold.get(token.index, 0))
        _explain_standard_perp_balance(ctx, acct, token.index, amount)
        done = lending.supply(ctx.tx, reg, acct, token, amount)
        require_margin(ctx.tx, reg, acct, tokens=[token.index], field="amount", health=ctx.healths())
    elif a.operation == "withdraw":
        done = lending.withdraw(ctx.tx, reg, acct, token, amount)
        if acct.mode is Mode.PORTFOLIO:
            require_collateral_cover(ctx.valuer(), acct, field="amount", before=ctx.tx.original(acct.address))
    elif a.operation == "borrow":
        if acct.mode is not Mode.PORTFOLIO:
            raise ModeError(
                "operation", "borrowing requires portfolio margin (userSetAbstraction portfolioMargin)"
            )
        if amount is None:
            raise InsufficientMargin("amount", "borrow needs an explicit amount")
        supply_collateral(ctx.tx, reg, acct)
        room = ltv_borrow_capacity(ctx.valuer(), acct, token)
        if amount > room:
            raise InsufficientMargin(
                "amount",
                f"borrow of {fmt_units(amount, token.wei_decimals)} {token.name} exceeds LTV capacity "
                f"{fmt_units(room, token.wei_decimals)} (token_balance x borrow_oracle_price x ltv, Hyperliquid docs 'Portfolio margin')",
            )
        done = lending.borrow(ctx.tx, reg, acct, token, amount)
        require_collateral_cover(ctx.valuer(), acct, field="amount", before=ctx.tx.original(acct.address))
    else:  # repay: from the free balance only, never with a fresh borrow
        owed = ctx.valuer().borrowed(acct, token.index)
        if owed <= 0:
            raise InvalidAction("token", f"no {token.name} borrow to repay")
        need = owed if amount is None else min(amount, owed)
        free = free_balance(ctx, acct, token.index)
        if need > free:
            raise InsufficientBalance(
                "amount",
                f"repaying {fmt_units(need, token.wei_decimals)} {token.name} needs free balance; "
                f"only {fmt_units(max(free, 0), token.wei_decimals)} is free",
            )
        done = lending.repay(ctx.tx, reg, acct, token, amount)
    text = fmt_units(done, token.wei_decimals)
    ctx.emit(events.BorrowLend(user=acct.address, operation=a.operation, token=token.index, amount=done))
    ctx.ledger(
        acct.address,
        {
            "type": "borrowLend",
            "token": token.name,
            "operation": a.operation,
            "amount": text,
            "interestAmount": fmt_units(interest, token.wei_decimals),
        },
    )
