"""Reading an order spec: its market, and its price, size and type as integers (Hyperliquid docs 'Robust price
indices', 'Order book'; docs/rules/orders.md, docs/rules/ticks.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from netclear.engine import order_json
from netclear.engine.context import Ctx
from netclear.engine.order_actions import (
    OrderSpec,
)
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, to_units
from netclear.markets import ticks
from netclear.markets.registry import Perp, SpotPair

Market = Perp | SpotPair


@dataclass(slots=True)
class Parsed:
    market: Market
    is_buy: bool
    px: int
    sz: int
    reduce_only: bool
    tif: str | None
    trigger_px: int | None
    is_market: bool
    tpsl: str | None
    cloid: str | None

    @property
    def asset(self) -> int:
        return self.market.asset

    @property
    def is_spot(self) -> bool:
        return isinstance(self.market, SpotPair)


def market_of(ctx: Ctx, asset: int | str, field: str = "asset") -> Market:
    """The perp or spot pair of an asset id or name (:func:`netclear.engine.order_json.market_of`)."""
    return order_json.market_of(ctx.reg, asset, field)


@lru_cache(maxsize=8)
def _fraction(value: Decimal) -> Fraction:
    """The configured minimum order value as an exact ratio (read once per distinct value)."""
    return Fraction(value)


_CLOID = re.compile(r"0x[0-9a-fA-F]{32}", re.ASCII)


def check_cloid(cloid: str | None) -> str | None:
    """Validate a client order id (16 bytes as ``0x`` + 32 hex digits, the SDK's ``Cloid``) and return
    it in lower case: a cloid names 16 bytes, so ids that differ only in letter case are the same id."""
    if cloid is None:
        return None
    if not (isinstance(cloid, str) and len(cloid) == 34 and cloid.startswith("0x")):
        raise InvalidAction("cloid", "must be a 16-byte hex string like 0x1234...")
    if _CLOID.fullmatch(cloid) is None:
        raise InvalidAction("cloid", "must be hexadecimal")
    return cloid.lower()


def parse_order(ctx: Ctx, spec: OrderSpec) -> Parsed:
    """Validate one order spec against the tick, lot and size rules (Hyperliquid docs 'Order book')."""
    market = market_of(ctx, spec.asset)
    is_spot = isinstance(market, SpotPair)
    szd = market.sz_decimals
    if (spec.limit is None) == (spec.trigger is None):
        raise InvalidAction("t", "an order is either a limit or a trigger order")
    px = to_units(spec.px, PX_DECIMALS, field="p", allow_negative=True)
    sz = to_units(spec.sz, szd, field="s", allow_negative=True)
    if sz <= 0:
        raise InvalidAction("s", f"Order has invalid size: s (size) must be positive, got {spec.sz}.")
    if px <= 0:
        raise InvalidAction("p", f"Order has invalid price: p (price) must be positive, got {spec.px}.")
    ticks.validate_price(px, szd, is_spot, field="p")
    cloid = check_cloid(spec.cloid)
    trigger_px = None
    tpsl = None
    is_market = False
    tif = None
    if spec.trigger is not None:
        trigger_px = to_units(spec.trigger.trigger_px, PX_DECIMALS, field="triggerPx")
        if trigger_px <= 0:
            raise InvalidAction("triggerPx", "Order has invalid trigger price.")
        ticks.validate_price(trigger_px, szd, is_spot, field="triggerPx")
        tpsl = spec.trigger.tpsl
        is_market = spec.trigger.is_market
    else:
        assert spec.limit is not None
        tif = "Ioc" if spec.limit.tif == "FrontendMarket" else spec.limit.tif
    if not spec.reduce_only:
        quote = market.quote.name if isinstance(market, SpotPair) else None
        ticks.check_min_notional(
            px, sz, szd, min_notional=_fraction(ctx.reg.config.orders.min_notional), quote=quote, field="s"
        )
    if isinstance(market, Perp):
        ticks.check_max_order_value(px, sz, szd, market.max_leverage, tif == "Ioc" or is_market, field="s")
        if market.is_delisted and not spec.reduce_only:
            raise InvalidAction("a", f"{market.name} is delisted: reduce-only orders only")
    return Parsed(market, spec.is_buy, px, sz, spec.reduce_only, tif, trigger_px, is_market, tpsl, cloid)
