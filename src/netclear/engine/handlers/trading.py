"""The ``SettleFill`` action: one trade between two accounts at a given price and fees, settled by
:mod:`netclear.engine.handlers.settlement` (Hyperliquid docs 'Info endpoint: Perpetuals')."""

from __future__ import annotations

from netclear.engine.actions import SettleFill
from netclear.engine.context import Ctx
from netclear.engine.handlers.settlement import settle_trade
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, to_units
from netclear.markets.registry import Perp, SpotPair


def settle_fill(ctx: Ctx, a: SettleFill) -> None:
    """The ``SettleFill`` action: one trade between two accounts at a given price and fees."""
    buyer = ctx.existing_account(a.buyer, "buyer")
    seller = ctx.existing_account(a.seller, "seller")
    market: Perp | SpotPair
    if (isinstance(a.asset, int) and ctx.reg.is_spot_asset(a.asset)) or (
        isinstance(a.asset, str) and a.asset in ctx.reg.spot_by_name
    ):
        market = ctx.reg.spot_pair(a.asset)
        max_decimals = market.max_px_decimals
        fee_tokens = (market.base, market.quote)
    else:
        market = ctx.reg.perp(a.asset)
        max_decimals = market.max_px_decimals
        fee_tokens = (market.collateral, market.collateral)
        if not ctx.valuer().has_price(market.asset):
            raise InvalidAction("asset", f"{market.name} has no oracle price yet")
    sz = to_units(a.sz, market.sz_decimals, field="sz")
    if sz <= 0:
        raise InvalidAction("sz", "must be positive")
    px = ctx.price(a.px)
    if px % 10 ** (PX_DECIMALS - max_decimals):
        raise InvalidAction(
            "px", f"{market.name} prices have at most {max_decimals} decimals (Hyperliquid docs 'Order book')"
        )
    bfee = to_units(a.buyer_fee, fee_tokens[0].wei_decimals, field="buyer_fee", allow_negative=True)
    sfee = to_units(a.seller_fee, fee_tokens[1].wei_decimals, field="seller_fee", allow_negative=True)
    if buyer.is_system or seller.is_system:
        raise InvalidAction(
            "buyer" if buyer.is_system else "seller", "system accounts trade only through the engine"
        )
    settle_trade(
        ctx,
        buyer,
        seller,
        market,
        sz,
        px,
        bfee,
        sfee,
        check_buyer=a.check_margin,
        check_seller=a.check_margin,
    )
