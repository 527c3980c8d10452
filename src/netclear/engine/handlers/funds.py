"""Deposits, withdrawals and transfers (Hyperliquid docs 'Margining', 'Account abstraction modes', 'Portfolio
margin')."""

from __future__ import annotations

import hashlib

from netclear.engine import events
from netclear.engine.actions import (
    CreateSubAccount,
    Deposit,
    SendAsset,
    SpotSend,
    SubAccountTransfer,
    UsdClassTransfer,
    UsdSend,
    Withdraw,
)
from netclear.engine.availability import credit, debit
from netclear.engine.context import Ctx, normalize_address
from netclear.engine.state import Account, Mode
from netclear.errors import InvalidAction, InvalidAmount, ModeError, UnknownEntity
from netclear.fixedpoint import MAX_UNITS, fmt_units
from netclear.markets.registry import Token

MAX_SUB_ACCOUNTS = 10


def _usdc_source(acct: Account, token: Token, ctx: Ctx) -> str | None:
    """A standard account's USDC lives on the first dex's perp balance for deposits and withdraw3."""
    if acct.mode is Mode.STANDARD and token.index == ctx.reg.dexes[0].collateral.index:
        return ""
    return None


def _require_user(acct: Account, field: str = "user") -> None:
    if acct.is_system:
        raise InvalidAction(field, "system accounts move funds only through the engine")


def deposit(ctx: Ctx, a: Deposit) -> None:
    acct = ctx.account(a.user)
    token = ctx.token(a.token)
    amount = ctx.amount(a.amount, token)
    supply = ctx.state.external_in.get(token.index, 0) - ctx.state.external_out.get(token.index, 0)
    if supply + amount > MAX_UNITS:  # the supply limit: every balance fits a 64-bit unit count
        raise InvalidAmount(
            "amount", f"{token.name} on the exchange would exceed its supply limit of {MAX_UNITS} units"
        )
    credit(acct, token, amount, perp_dex=_usdc_source(acct, token, ctx))
    ctx.tx.credit_external(token.index, amount)
    ctx.emit(events.Deposit(user=acct.address, token=token.index, amount=amount))
    if token.index == ctx.reg.quote.index:
        ctx.ledger(acct.address, {"type": "deposit", "usdc": fmt_units(amount, token.wei_decimals)})
    else:
        ctx.ledger(
            acct.address,
            {"type": "spotGenesis", "token": token.name, "amount": fmt_units(amount, token.wei_decimals)},
        )


def withdraw(ctx: Ctx, a: Withdraw) -> None:
    acct = ctx.existing_account(a.user)
    _require_user(acct)
    token = ctx.token(a.token)
    amount = ctx.amount(a.amount, token)
    debit(ctx.tx, ctx.reg, acct, token, amount, perp_dex=_usdc_source(acct, token, ctx))
    ctx.tx.debit_external(token.index, amount)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(events.Withdraw(user=acct.address, token=token.index, amount=amount))
    if token.index == ctx.reg.quote.index:
        ctx.ledger(acct.address, {"type": "withdraw", "usdc": text, "nonce": ctx.now, "fee": "0.0"})
    else:
        ctx.ledger(
            acct.address,
            {
                "type": "spotTransfer",
                "token": token.name,
                "amount": text,
                "user": acct.address,
                "destination": "0x2000000000000000000000000000000000000000",
                "fee": "0.0",
            },
        )


def _transfer(ctx: Ctx, src: Account, dst: Account, token: Token, amount: int, *, perp: bool) -> None:
    if src.address == dst.address:
        raise InvalidAction("destination", "must differ from the sender")
    _require_user(src)
    src_dex = _usdc_source(src, token, ctx) if perp else None
    dst_dex = _usdc_source(dst, token, ctx) if perp else None
    debit(ctx.tx, ctx.reg, src, token, amount, perp_dex=src_dex)
    credit(dst, token, amount, perp_dex=dst_dex)


def usd_send(ctx: Ctx, a: UsdSend) -> None:
    src = ctx.existing_account(a.user)
    dst = ctx.account(a.destination, "destination")
    token = ctx.reg.quote
    amount = ctx.amount(a.amount, token)
    _transfer(ctx, src, dst, token, amount, perp=True)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(events.UsdSend(user=src.address, destination=dst.address, token=token.index, amount=amount))
    delta = {
        "type": "internalTransfer",
        "usdc": text,
        "user": src.address,
        "destination": dst.address,
        "fee": "0.0",
    }
    ctx.ledger(src.address, delta)
    ctx.ledger(dst.address, delta)


def spot_send(ctx: Ctx, a: SpotSend) -> None:
    src = ctx.existing_account(a.user)
    dst = ctx.account(a.destination, "destination")
    token = ctx.token(a.token)
    amount = ctx.amount(a.amount, token)
    _transfer(ctx, src, dst, token, amount, perp=False)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(events.SpotSend(user=src.address, destination=dst.address, token=token.index, amount=amount))
    delta = {
        "type": "spotTransfer",
        "token": token.name,
        "amount": text,
        "user": src.address,
        "destination": dst.address,
        "fee": "0.0",
    }
    ctx.ledger(src.address, delta)
    ctx.ledger(dst.address, delta)


def usd_class_transfer(ctx: Ctx, a: UsdClassTransfer) -> None:
    acct = ctx.existing_account(a.user)
    if acct.mode is not Mode.STANDARD:
        raise ModeError(
            "type",
            f"usdClassTransfer is for standard accounts; under {acct.mode.value} spot and perps share one balance",
        )
    dex = ctx.reg.dex(a.dex)
    token = dex.collateral
    amount = ctx.amount(a.amount, token)
    if a.to_perp:
        debit(ctx.tx, ctx.reg, acct, token, amount)
        credit(acct, token, amount, perp_dex=dex.name)
    else:
        debit(ctx.tx, ctx.reg, acct, token, amount, perp_dex=dex.name)
        credit(acct, token, amount)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(
        events.UsdClassTransfer(
            user=acct.address, token=token.index, amount=amount, to_perp=a.to_perp, dex=dex.name
        )
    )
    ctx.ledger(acct.address, {"type": "accountClassTransfer", "usdc": text, "toPerp": a.to_perp})


SPOT = "spot"


def _send_asset_balance(ctx: Ctx, name: str, token: Token, field: str) -> str | None:
    """``"spot"`` -> None (the spot balance); a perp dex -> its name, if ``token`` is its collateral."""
    if name == SPOT:
        return None
    dex = ctx.reg.dex_by_name.get(name)
    if dex is None:
        raise UnknownEntity(field, f'unknown dex {name!r}; use "spot", "" or a builder dex name')
    if dex.collateral.index != token.index:
        raise InvalidAction(
            "token",
            f"dex {name or 'main'!r} moves only its collateral {dex.collateral.name}, not {token.name}",
        )
    return name


def send_asset(ctx: Ctx, a: SendAsset) -> None:
    """``sendAsset`` (Hyperliquid docs, exchange endpoint "Send asset"), docs/api.md "sendAsset".

    Standard accounts keep a spot balance and one perp balance per dex: the source balance is debited
    (a perp dex's after the transfer margin check) and the destination's credited. Under unified account
    and portfolio margin each asset has one balance ("individual perp dex user states are not
    meaningful", "Account abstraction modes"), so the dex names only pick the token's rule; moving
    between two balances of the same such account is refused as there is nothing to move.
    """
    src = ctx.existing_account(a.user)
    _require_user(src)
    dst = ctx.account(a.destination, "destination")
    token = ctx.token(a.token)
    amount = ctx.amount(a.amount, token)
    src_dex = _send_asset_balance(ctx, a.source_dex, token, "sourceDex")
    dst_dex = _send_asset_balance(ctx, a.destination_dex, token, "destinationDex")
    if src.address == dst.address:
        if src_dex == dst_dex:
            raise InvalidAction("destinationDex", "is the source balance; nothing to move")
        if src.mode is not Mode.STANDARD:
            raise ModeError(
                "destinationDex",
                f"under {src.mode.value} spot and every perp dex share one {token.name} balance; nothing to move",
            )
    debit(ctx.tx, ctx.reg, src, token, amount, perp_dex=src_dex)
    credit(dst, token, amount, perp_dex=dst_dex)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(
        events.SendAsset(
            user=src.address,
            destination=dst.address,
            source_dex=a.source_dex,
            destination_dex=a.destination_dex,
            token=token.index,
            amount=amount,
        )
    )
    delta = {
        "type": "send",
        "user": src.address,
        "destination": dst.address,
        "sourceDex": a.source_dex,
        "destinationDex": a.destination_dex,
        "token": token.name,
        "amount": text,
        "fee": "0.0",
    }
    ctx.ledger(src.address, delta)
    if dst.address != src.address:
        ctx.ledger(dst.address, delta)


def sub_account_address(master: str, name: str) -> str:
    """Deterministic sub-account address derived from the master and the name."""
    digest = hashlib.sha256(f"netclear-subaccount:{master}:{name}".encode()).hexdigest()
    return "0x" + digest[:40]


def create_sub_account(ctx: Ctx, a: CreateSubAccount) -> None:
    master = ctx.existing_account(a.user)
    if master.master is not None:
        raise InvalidAction("user", "a sub-account cannot own sub-accounts")
    name = a.name.strip()
    if not 1 <= len(name) <= 16:
        raise InvalidAction("name", "must be 1 to 16 characters")
    subs = [x for x in ctx.state.accounts.values() if x.master == master.address]
    if any(x.name == name for x in subs):
        raise InvalidAction("name", f"sub-account {name!r} already exists")
    if len(subs) >= MAX_SUB_ACCOUNTS:
        raise InvalidAction("user", f"at most {MAX_SUB_ACCOUNTS} sub-accounts")
    address = sub_account_address(master.address, name)
    sub = ctx.account(address)
    sub.master = master.address
    sub.name = name
    ctx.emit(events.CreateSubAccount(user=master.address, sub_account=address, name=name))


def sub_account_transfer(ctx: Ctx, a: SubAccountTransfer) -> None:
    master = ctx.existing_account(a.user)
    sub = ctx.existing_account(normalize_address(a.sub_account, "sub_account"), "sub_account")
    if sub.master != master.address:
        raise InvalidAction("sub_account", f"{sub.address} is not a sub-account of {master.address}")
    token = ctx.token(a.token)
    amount = ctx.amount(a.amount, token)
    src, dst = (master, sub) if a.is_deposit else (sub, master)
    perp = token.index == ctx.reg.quote.index
    _transfer(ctx, src, dst, token, amount, perp=perp)
    text = fmt_units(amount, token.wei_decimals)
    ctx.emit(
        events.SubAccountTransfer(
            user=master.address,
            sub_account=sub.address,
            is_deposit=a.is_deposit,
            token=token.index,
            amount=amount,
        )
    )
    delta = {"type": "subAccountTransfer", "usdc": text, "user": src.address, "destination": dst.address}
    if not perp:
        delta = {
            "type": "spotTransfer",
            "token": token.name,
            "amount": text,
            "user": src.address,
            "destination": dst.address,
            "fee": "0.0",
        }
    ctx.ledger(src.address, delta)
    ctx.ledger(dst.address, delta)
