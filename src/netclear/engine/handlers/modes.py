"""Account mode switches, leverage and isolated margin (Hyperliquid docs 'Margining', 'Account abstraction
modes', 'Portfolio margin')."""

from __future__ import annotations

from netclear.engine import events, lending
from netclear.engine.actions import (
    ApproveAgent,
    GrantPmEligibility,
    Noop,
    SetAbstraction,
    SetDexAbstraction,
    UpdateIsolatedMargin,
    UpdateLeverage,
)
from netclear.engine.availability import transfer_requirement
from netclear.engine.context import Ctx, normalize_address
from netclear.engine.leverage import leverage_of as leverage_of
from netclear.engine.solvency import require_margin
from netclear.engine.state import Account, LeverageSetting, Mode, Position
from netclear.errors import InsufficientMargin, InvalidAction, ModeError
from netclear.fixedpoint import fmt_units, to_units
from netclear.margin import standard as std_rules
from netclear.markets.registry import Perp


# ---------------------------------------------------------------------------- abstraction
def set_abstraction(ctx: Ctx, a: SetAbstraction) -> None:
    acct = ctx.existing_account(a.user)
    target = Mode(a.abstraction)
    if acct.is_system:
        raise ModeError("user", "system accounts keep their mode")
    if target is acct.mode:
        return
    if acct.has_positions():
        raise ModeError(
            "abstraction",
            "close all open positions before changing account mode (Hyperliquid docs 'Portfolio margin')",
        )
    if acct.open_orders:
        raise ModeError(
            "abstraction",
            "cancel all open orders before changing account mode (Hyperliquid docs 'Portfolio margin')",
        )
    if target is Mode.PORTFOLIO:
        _check_pm_eligibility(ctx, acct)
    if acct.mode is Mode.PORTFOLIO:
        if acct.has_borrows():
            raise ModeError("abstraction", "repay all borrows before leaving portfolio margin")
        _unwind_collateral_supply(ctx, acct)
    if acct.mode is Mode.STANDARD:
        # Merge each dex's perp balance into the one balance of its collateral token.
        for dex_name, cash in list(acct.perp_cash.items()):
            if cash:
                token = ctx.reg.dex(dex_name).collateral.index
                acct.spot[token] = acct.spot.get(token, 0) + cash
            del acct.perp_cash[dex_name]
    previous = acct.mode
    acct.mode = target
    ctx.emit(events.Abstraction(user=acct.address, previous=previous.value, abstraction=target.value))


def grant_pm_eligibility(ctx: Ctx, a: GrantPmEligibility) -> None:
    """Operator grant (or withdrawal) of portfolio-margin eligibility for an address (docs/api.md)."""
    address = normalize_address(a.address, "address")
    if a.eligible:
        ctx.state.pm_grants.add(address)
    else:
        ctx.state.pm_grants.discard(address)
    ctx.emit(events.PmEligibility(user=address, eligible=a.eligible))


def set_dex_abstraction(ctx: Ctx, a: SetDexAbstraction) -> None:
    """HIP-3 DEX abstraction is discontinued (Hyperliquid docs, "Account abstraction modes": "DEX
    abstraction (discontinued)"), superseded by unified account and portfolio margin. Nobody can turn it
    on, so turning it off is accepted and changes nothing; turning it on is refused with the way forward.
    """
    acct = ctx.existing_account(a.user)
    if a.enabled:
        raise ModeError(
            "enabled",
            "DEX abstraction is discontinued; use userSetAbstraction with unifiedAccount or portfolioMargin",
        )
    ctx.emit(events.DexAbstraction(user=acct.address, enabled=False))


def noop(ctx: Ctx, a: Noop) -> None:
    """Nothing changes; the writer has recorded the nonce, which is the point."""


def _check_pm_eligibility(ctx: Ctx, acct: Account) -> None:
    """Hyperliquid docs 'Portfolio margin': master >$5M weighted volume or account value >$10k; account value
    below the cap."""
    pm = ctx.reg.pm
    if pm is None or not pm.enabled or not pm.borrowable:
        raise ModeError("abstraction", "portfolio margin is not enabled in this configuration")
    v = ctx.valuer()
    value = v.account_value_usdc(acct)
    if pm.max_account_value is not None and value >= pm.max_account_value:
        raise ModeError(
            "abstraction",
            f"account value {float(value):,.2f} USDC is not below the {float(pm.max_account_value):,.0f} USDC limit",
        )
    master = ctx.state.accounts.get(acct.master) if acct.master else acct
    assert master is not None
    if acct.address in ctx.state.pm_grants or master.address in ctx.state.pm_grants:
        return  # granted by the operator: the volume / account-value gate is waived, the cap above stays
    fees = ctx.reg.config.fees
    volume = v.weighted_volume(master, fees.volume_window_days, ctx.reg.config.fees.spot_volume_weight)
    by_volume = volume > pm.min_weighted_volume
    by_value = pm.min_account_value is not None and value > pm.min_account_value
    if not (by_volume or by_value):
        alt = (
            f" or account value above {float(pm.min_account_value):,.0f} USDC"
            if pm.min_account_value is not None
            else ""
        )
        raise ModeError(
            "abstraction",
            f"portfolio margin needs master weighted volume above {float(pm.min_weighted_volume):,.0f} USDC{alt} "
            f"(volume {float(volume):,.2f}, account value {float(value):,.2f})",
        )


def _unwind_collateral_supply(ctx: Ctx, acct: Account) -> None:
    """What portfolio margin supplied automatically (collateral, idle balances) returns to spot when the
    account leaves PM; if a reserve is lent out the switch waits (LiquidityError names the token)."""
    for token in sorted(acct.supply_basis):
        lending.withdraw(ctx.tx, ctx.reg, acct, ctx.reg.tokens[token], None, field="abstraction")


# ---------------------------------------------------------------------------- leverage
def update_leverage(ctx: Ctx, a: UpdateLeverage) -> None:
    acct = ctx.existing_account(a.user)
    perp = ctx.reg.perp(a.asset)
    if isinstance(a.leverage, bool) or not isinstance(a.leverage, int):
        raise InvalidAction("leverage", "must be an integer")
    if not 1 <= a.leverage <= perp.max_leverage:
        raise InvalidAction("leverage", f"must be between 1 and {perp.max_leverage} for {perp.name}")
    if a.is_cross and perp.only_isolated:
        raise InvalidAction("is_cross", f"{perp.name} allows isolated margin only ({perp.margin_mode})")
    pos = acct.positions.get(perp.asset)
    if pos is not None and pos.szi != 0:
        if pos.is_cross != a.is_cross:
            raise ModeError("is_cross", "cannot switch between cross and isolated with an open position")
        v = ctx.valuer()
        pv = v.position_value(pos, perp)
        tier_max = perp.table.tier_for(v.usdc_value(perp.collateral, pv.abs_ntl)).max_leverage
        if a.leverage > tier_max:
            raise InvalidAction("leverage", f"position size allows at most {tier_max}x (margin tier)")
        old = pos.leverage
        pos.leverage = a.leverage
        if a.leverage < old:
            if pos.is_cross:
                _require_pool(ctx, acct, perp, "leverage")
            else:
                margin = std_rules.isolated_margin_used(pos.raw_usd, pv.ntl)
                need = std_rules.initial_margin(pv.abs_ntl, a.leverage)
                if margin < need:
                    raise InsufficientMargin(
                        "leverage",
                        f"isolated margin {fmt_units(margin, perp.collateral.wei_decimals)} is below {a.leverage}x initial margin {fmt_units(need, perp.collateral.wei_decimals)}",
                    )
    acct.leverage[perp.asset] = LeverageSetting(a.is_cross, a.leverage)
    ctx.emit(events.Leverage(user=acct.address, asset=perp.asset, is_cross=a.is_cross, leverage=a.leverage))


def _require_pool(ctx: Ctx, acct: Account, perp: Perp, field: str) -> None:
    if acct.mode is Mode.STANDARD:
        require_margin(ctx.tx, ctx.reg, acct, dexes=[perp.dex.name], field=field, health=ctx.healths())
    else:
        require_margin(
            ctx.tx, ctx.reg, acct, tokens=[perp.collateral.index], field=field, health=ctx.healths()
        )


# ---------------------------------------------------------------------------- isolated margin
def update_isolated_margin(ctx: Ctx, a: UpdateIsolatedMargin) -> None:
    acct = ctx.existing_account(a.user)
    perp = ctx.reg.perp(a.asset)
    pos = acct.positions.get(perp.asset)
    if pos is None or pos.szi == 0:
        raise InvalidAction("asset", f"no open {perp.name} position")
    if pos.is_cross:
        raise InvalidAction("asset", f"the {perp.name} position is cross margined")
    token = perp.collateral
    amount = to_units(a.amount, token.wei_decimals, field="amount", allow_negative=True)
    if amount == 0:
        raise InvalidAction("amount", "must not be zero")
    if amount > 0:
        _move_from_pool(acct, perp, pos, amount)
        _require_pool(ctx, acct, perp, "amount")
    else:
        if perp.margin_mode == "strictIsolated":
            raise InvalidAction("amount", f"{perp.name} is strictIsolated: margin cannot be removed")
        v = ctx.valuer()
        pv = v.position_value(pos, perp)
        margin = std_rules.isolated_margin_used(pos.raw_usd, pv.ntl)
        need = transfer_requirement(ctx.reg, pv.im, pv.abs_ntl)
        if margin + amount < need:
            raise InsufficientMargin(
                "amount",
                f"removing {fmt_units(-amount, token.wei_decimals)} leaves {fmt_units(margin + amount, token.wei_decimals)}, "
                f"below the transfer margin requirement {fmt_units(need, token.wei_decimals)} (Hyperliquid docs 'Margining')",
            )
        _move_from_pool(acct, perp, pos, amount)
    ctx.emit(events.IsolatedMargin(user=acct.address, asset=perp.asset, token=token.index, amount=amount))


def _move_from_pool(acct: Account, perp: Perp, pos: Position, amount: int) -> None:
    """Move ``amount`` (negative: back) between the account's pool and the isolated position."""
    pos.raw_usd += amount
    if acct.mode is Mode.STANDARD:
        acct.perp_cash[perp.dex.name] = acct.perp_cash.get(perp.dex.name, 0) - amount
    else:
        t = perp.collateral.index
        acct.spot[t] = acct.spot.get(t, 0) - amount


# ---------------------------------------------------------------------------- API wallets
MAX_NAMED_AGENTS = 3


def approve_agent(ctx: Ctx, a: ApproveAgent) -> None:
    acct = ctx.existing_account(a.user)
    agent = normalize_address(a.agent, "agent")
    if agent == acct.address:
        raise InvalidAction("agent", "an account cannot be its own agent")
    if agent in ctx.state.accounts and not ctx.state.agents.get(agent):
        raise InvalidAction("agent", "the agent address already holds an account")
    name = (a.name or "").strip() or None
    owner = ctx.state.agents.get(agent)
    if owner is not None and owner[0] != acct.address:
        raise InvalidAction("agent", "the agent is approved for another user")
    # work on a copy so a rejection leaves the registry untouched
    agents = {k: v for k, v in ctx.state.agents.items() if not (v[0] == acct.address and v[1] == name)}
    agents.pop(agent, None)
    if (
        name is not None
        and sum(1 for v in agents.values() if v[0] == acct.address and v[1] is not None) >= MAX_NAMED_AGENTS
    ):
        raise InvalidAction("name", f"at most {MAX_NAMED_AGENTS} named agents")
    agents[agent] = (acct.address, name, a.valid_until)
    ctx.state.agents.clear()
    ctx.state.agents.update(agents)
    ctx.emit(events.ApproveAgent(user=acct.address, agent=agent, name=name))
