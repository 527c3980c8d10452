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
from netclear.engine.leverage import default_leverage
from netclear.engine.order_actions import (
    OrderSpec,
)
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE, to_units
from netclear.markets import ticks
from netclear.markets.registry import Perp, Registry, SpotPair

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


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A market's order rules as integers, computed once per market (and minimum order value): the tick
    grid step, the minimum and maximum order values cross-multiplied to compare with ``px * sz``
    (Hyperliquid docs 'Tick and lot size', 'Contract specifications'; docs/rules/ticks.md), and for the
    holds of perp orders the default leverage and the scales of :func:`netclear.fixedpoint.notional`."""

    market: Market
    min_src: Decimal
    perp: Perp | None
    is_spot: bool
    szd: int
    px_step: int
    """``10**(PX_DECIMALS - allowed decimals)``: a price is on the decimal grid when a multiple of it."""
    min_num: int
    """``px * sz * min_den >= min_num`` is :func:`ticks.min_notional_ok`."""
    min_den: int
    max_limit: int
    """``px * sz > max_limit`` is over :func:`ticks.max_order_value` for a limit order (perps)."""
    max_market: int
    default_leverage: int
    """Perps: :func:`netclear.engine.leverage.default_leverage`'s value (0 for spot)."""
    hold_scale: int
    """Perps: ``10**collateral.wei_decimals``, the numerator scale of ``notional``."""
    hold_den: int
    """Perps: ``10**(szDecimals + PX_DECIMALS)``, the denominator of ``notional``."""


_RULES: dict[int, MarketRules] = {}
"""id(market) -> its rules; an entry holds its market, so the id is not reused while it lives."""


def market_rules(reg: Registry, market: Market) -> MarketRules:
    """The cached rules of ``market`` under ``reg``'s configuration."""
    min_src = reg.config.orders.min_notional
    r = _RULES.get(id(market))
    if r is None or r.market is not market or r.min_src is not min_src:
        r = _rules(market, min_src)
    return r


def _rules(market: Market, min_src: Decimal) -> MarketRules:
    if len(_RULES) > 4096:  # many registries (tests): start over rather than grow
        _RULES.clear()
    is_spot = isinstance(market, SpotPair)
    szd = market.sz_decimals
    allowed = ticks.max_price_decimals(szd, is_spot)
    lot = 10**szd
    mn = _fraction(min_src)
    perp = None if isinstance(market, SpotPair) else market
    max_limit = max_market = default_lev = hold_scale = hold_den = 0
    if perp is not None:
        max_limit = ticks.max_order_value(perp.max_leverage, False) * PX_SCALE * lot
        max_market = ticks.max_order_value(perp.max_leverage, True) * PX_SCALE * lot
        default_lev = default_leverage(perp).value
        hold_scale = 10**perp.collateral.wei_decimals
        hold_den = 10 ** (szd + PX_DECIMALS)
    rules = MarketRules(
        market,
        min_src,
        perp,
        is_spot,
        szd,
        10 ** (PX_DECIMALS - allowed),
        mn.numerator * PX_SCALE * lot,
        mn.denominator,
        max_limit,
        max_market,
        default_lev,
        hold_scale,
        hold_den,
    )
    _RULES[id(market)] = rules
    return rules


def parse_order(ctx: Ctx, spec: OrderSpec) -> Parsed:
    """Validate one order spec against the tick, lot and size rules (Hyperliquid docs 'Order book').

    Each rule is first tested on integers with the market's cached constants (:class:`MarketRules`); an order
    that fails one goes to the rule's own check in :mod:`netclear.markets.ticks`, which raises its error.
    """
    reg = ctx.reg
    market = order_json.market_of(reg, spec.asset)
    r = market_rules(reg, market)
    szd = r.szd
    limit, trigger = spec.limit, spec.trigger
    if (limit is None) == (trigger is None):
        raise InvalidAction("t", "an order is either a limit or a trigger order")
    px = to_units(spec.px, PX_DECIMALS, field="p", allow_negative=True)
    sz = to_units(spec.sz, szd, field="s", allow_negative=True)
    if sz <= 0:
        raise InvalidAction("s", f"Order has invalid size: s (size) must be positive, got {spec.sz}.")
    if px <= 0:
        raise InvalidAction("p", f"Order has invalid price: p (price) must be positive, got {spec.px}.")
    if px % r.px_step or (px % PX_SCALE and len(str(px).rstrip("0")) > ticks.PRICE_SIG_FIGS):
        ticks.validate_price(px, szd, r.is_spot, field="p")
    cloid = spec.cloid
    if cloid is not None:
        cloid = check_cloid(cloid)
    trigger_px = None
    tpsl = None
    is_market = False
    if trigger is not None:
        tif = None
        trigger_px = to_units(trigger.trigger_px, PX_DECIMALS, field="triggerPx")
        if trigger_px <= 0:
            raise InvalidAction("triggerPx", "Order has invalid trigger price.")
        ticks.validate_price(trigger_px, szd, r.is_spot, field="triggerPx")
        tpsl = trigger.tpsl
        is_market = trigger.is_market
    else:
        assert limit is not None
        tif = "Ioc" if limit.tif == "FrontendMarket" else limit.tif
    reduce_only = spec.reduce_only
    if not reduce_only and px * sz * r.min_den < r.min_num:
        quote = market.quote.name if isinstance(market, SpotPair) else None
        ticks.check_min_notional(px, sz, szd, min_notional=_fraction(r.min_src), quote=quote, field="s")
    perp = r.perp
    if perp is not None:
        if px * sz > (r.max_market if tif == "Ioc" or is_market else r.max_limit):
            ticks.check_max_order_value(px, sz, szd, perp.max_leverage, tif == "Ioc" or is_market, field="s")
        if perp.is_delisted and not reduce_only:
            raise InvalidAction("a", f"{perp.name} is delisted: reduce-only orders only")
    return Parsed(market, spec.is_buy, px, sz, reduce_only, tif, trigger_px, is_market, tpsl, cloid)
