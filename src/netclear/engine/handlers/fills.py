"""Fill records of a settled trade: each side's ``userFills`` entry, the public ``trades`` record and the
``fill`` event, in Hyperliquid's JSON (Hyperliquid docs 'Info endpoint', websocket 'Subscriptions' ``WsFill``,
``WsTrade``). ``dir`` follows the frontend's vocabulary ("Open Long", "Close Short", "Long > Short", ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netclear.engine.context import Ctx
from netclear.fixedpoint import fmt_px, fmt_units
from netclear.markets.registry import Perp, SpotPair

if TYPE_CHECKING:
    from netclear.engine.handlers.settlement import Trade


def _direction(market: Perp | SpotPair, start: int, is_buy: bool) -> str:
    if isinstance(market, SpotPair):
        return "Buy" if is_buy else "Sell"
    if start == 0:
        return "Open Long" if is_buy else "Open Short"
    if start > 0:
        return "Open Long" if is_buy else "Close Long"
    return "Close Short" if is_buy else "Open Short"


def record_trade(
    ctx: Ctx,
    trade: Trade,
    market: Perp | SpotPair,
    buyer_oid: int,
    seller_oid: int,
    taker_is_buyer: bool | None,
) -> None:
    szd = market.sz_decimals
    trade_hash = "0x" + format(trade.tid, "064x")
    for side, is_buy in ((trade.buyer, True), (trade.seller, False)):
        start = side.start_szi
        direction = _direction(market, start, is_buy)
        if isinstance(market, Perp) and start != 0 and abs(trade.sz) > abs(start) and (start > 0) != is_buy:
            direction = "Long > Short" if start > 0 else "Short > Long"
        fill: dict[str, Any] = {
            "coin": trade.coin,
            "px": fmt_px(trade.px),
            "sz": fmt_units(trade.sz, szd),
            "side": "B" if is_buy else "A",
            "time": ctx.now,
            "startPosition": fmt_units(start, szd),
            "dir": direction,
            "closedPnl": fmt_units(side.closed_pnl, side.fee_token.wei_decimals),
            "hash": trade_hash,
            "oid": buyer_oid if is_buy else seller_oid,
            "crossed": True if taker_is_buyer is None else taker_is_buyer == is_buy,
            "fee": fmt_units(side.fee, side.fee_token.wei_decimals),
            "tid": trade.tid,
            "feeToken": side.fee_token.name,
        }
        if ctx.liquidation is not None:
            fill["liquidation"] = dict(ctx.liquidation)
        ctx.record("fills", side.address, fill)
    taker_side = "B" if taker_is_buyer in (None, True) else "A"
    ctx.record(
        "trades",
        trade.coin,
        {
            "coin": trade.coin,
            "side": taker_side,
            "px": fmt_px(trade.px),
            "sz": fmt_units(trade.sz, szd),
            "time": ctx.now,
            "hash": trade_hash,
            "tid": trade.tid,
            "users": [trade.buyer.address, trade.seller.address],
        },
    )
    ctx.emit(
        "fill",
        None,
        tid=trade.tid,
        coin=trade.coin,
        px=fmt_px(trade.px),
        sz=fmt_units(trade.sz, szd),
        buyer=trade.buyer.address,
        seller=trade.seller.address,
    )
