"""Fill records of a settled trade: each side's ``userFills`` entry, the public ``trades`` record and the
``fill`` event, in Hyperliquid's JSON (Hyperliquid docs 'Info endpoint', websocket 'Subscriptions' ``WsFill``,
``WsTrade``). ``dir`` follows the frontend's vocabulary ("Open Long", "Close Short", "Long > Short", ...).

The records keep the trade's integers and are rendered to decimal strings when first read
(:mod:`netclear.engine.records`); the ``fill`` event is rendered now (its consumers read it at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netclear.engine import events
from netclear.engine.context import Ctx
from netclear.engine.records import Deferred
from netclear.fixedpoint import fmt_px, fmt_units
from netclear.markets.registry import Perp, SpotPair

if TYPE_CHECKING:
    from netclear.engine.handlers.settlement import Trade


def _direction(is_perp: bool, start: int, is_buy: bool, sz: int) -> str:
    if not is_perp:
        return "Buy" if is_buy else "Sell"
    if start != 0 and sz > abs(start) and (start > 0) != is_buy:
        return "Long > Short" if start > 0 else "Short > Long"
    if start == 0:
        return "Open Long" if is_buy else "Open Short"
    if start > 0:
        return "Open Long" if is_buy else "Close Long"
    return "Close Short" if is_buy else "Open Short"


def fill_json(
    coin: str,
    is_perp: bool,
    szd: int,
    px: int,
    sz: int,
    is_buy: bool,
    time: int,
    start: int,
    closed_pnl: int,
    fee_decimals: int,
    tid: int,
    oid: int,
    crossed: bool,
    fee: int,
    fee_token: str,
    liquidation: dict[str, str] | None,
) -> dict[str, Any]:
    """One side's ``userFills`` entry (websocket ``WsFill``)."""
    fill: dict[str, Any] = {
        "coin": coin,
        "px": fmt_px(px),
        "sz": fmt_units(sz, szd),
        "side": "B" if is_buy else "A",
        "time": time,
        "startPosition": fmt_units(start, szd),
        "dir": _direction(is_perp, start, is_buy, sz),
        "closedPnl": fmt_units(closed_pnl, fee_decimals),
        "hash": "0x" + format(tid, "064x"),
        "oid": oid,
        "crossed": crossed,
        "fee": fmt_units(fee, fee_decimals),
        "tid": tid,
        "feeToken": fee_token,
    }
    if liquidation is not None:
        fill["liquidation"] = liquidation
    return fill


def trade_json(
    coin: str, taker_side: str, szd: int, px: int, sz: int, time: int, tid: int, buyer: str, seller: str
) -> dict[str, Any]:
    """The public ``trades`` record (websocket ``WsTrade``)."""
    return {
        "coin": coin,
        "side": taker_side,
        "px": fmt_px(px),
        "sz": fmt_units(sz, szd),
        "time": time,
        "hash": "0x" + format(tid, "064x"),
        "tid": tid,
        "users": [buyer, seller],
    }


def record_trade(
    ctx: Ctx,
    trade: Trade,
    market: Perp | SpotPair,
    buyer_oid: int,
    seller_oid: int,
    taker_is_buyer: bool | None,
) -> None:
    """Both sides' fill records, the public trade record and the ``fill`` event of a settled trade."""
    szd = market.sz_decimals
    is_perp = isinstance(market, Perp)
    now = ctx.now
    for side, is_buy in ((trade.buyer, True), (trade.seller, False)):
        fee_token = side.fee_token
        fill = Deferred(
            now,
            fill_json,
            trade.coin,
            is_perp,
            szd,
            trade.px,
            trade.sz,
            is_buy,
            now,
            side.start_szi,
            side.closed_pnl,
            fee_token.wei_decimals,
            trade.tid,
            buyer_oid if is_buy else seller_oid,
            True if taker_is_buyer is None else taker_is_buyer == is_buy,
            side.fee,
            fee_token.name,
            None if ctx.liquidation is None else dict(ctx.liquidation),
        )
        ctx.record("fills", side.address, fill)
    taker_side = "B" if taker_is_buyer in (None, True) else "A"
    buyer, seller = trade.buyer.address, trade.seller.address
    trade_record = Deferred(
        now, trade_json, trade.coin, taker_side, szd, trade.px, trade.sz, now, trade.tid, buyer, seller
    )
    ctx.record("trades", trade.coin, trade_record)
    ctx.emit(
        events.Fill(tid=trade.tid, asset=market.asset, px=trade.px, sz=trade.sz, buyer=buyer, seller=seller)
    )
