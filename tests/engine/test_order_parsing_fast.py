"""``parse_order`` on its integer fast path (cached per-market rules, engine/handlers/order_parsing.py) gives
exactly what the rule-by-rule path gives: the same parsed order, or the same error naming the same field
with the same message (Hyperliquid docs 'Tick and lot size', 'Contract specifications';
docs/rules/ticks.md).

The reference below is ``parse_order`` as it was written before the fast path: each rule's own check in
``markets/ticks.py``, called in the same order.
"""

from __future__ import annotations

import types
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.config import parse_config, preset_data
from netclear.engine import order_actions as O
from netclear.engine import order_json
from netclear.engine.handlers.order_parsing import Parsed, check_cloid, parse_order
from netclear.errors import InvalidAction, NetclearError
from netclear.fixedpoint import PX_DECIMALS, to_units
from netclear.markets import ticks
from netclear.markets.registry import Perp, Registry, SpotPair


def _reference(reg: Registry, spec: O.OrderSpec) -> Parsed:
    market = order_json.market_of(reg, spec.asset)
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
        mn = Fraction(reg.config.orders.min_notional)
        ticks.check_min_notional(px, sz, szd, min_notional=mn, quote=quote, field="s")
    if isinstance(market, Perp):
        ticks.check_max_order_value(px, sz, szd, market.max_leverage, tif == "Ioc" or is_market, field="s")
        if market.is_delisted and not spec.reduce_only:
            raise InvalidAction("a", f"{market.name} is delisted: reduce-only orders only")
    return Parsed(market, spec.is_buy, px, sz, spec.reduce_only, tif, trigger_px, is_market, tpsl, cloid)


def _registry(min_notional: str) -> Registry:
    data = preset_data("hyperliquid")
    data.setdefault("orders", {})["min_notional"] = min_notional
    return Registry.from_config(parse_config(data))


REGISTRIES = [_registry("10"), _registry("2.5")]
_reg = REGISTRIES[0]
ASSETS = sorted(_reg.perps)[:40] + [p.asset for p in _reg.perps.values() if p.is_delisted][:5]
ASSETS += [10_000 + i for i in sorted(_reg.spot_pairs)[:10]] + [
    "BTC",
    "@107",
    "PURR/USDC",
    9_999,
    99_999,
    10**6,
]


def _decimal(digits: str, exp: int, neg: bool) -> Decimal:
    return Decimal((int(neg), tuple(int(c) for c in digits), exp))


PRICES = st.builds(_decimal, st.text("0123456789", min_size=1, max_size=9), st.integers(-9, 4), st.booleans())
SIZES = st.builds(_decimal, st.text("0123456789", min_size=1, max_size=8), st.integers(-7, 3), st.just(False))
SIZES |= st.builds(_decimal, st.text("0123456789", min_size=1, max_size=4), st.integers(-5, 1), st.booleans())
KIND = st.one_of(
    st.builds(O.LimitSpec, st.sampled_from(["Gtc", "Ioc", "Alo", "FrontendMarket"])).map(
        lambda lim: (lim, None)
    ),
    st.builds(
        O.TriggerSpec, trigger_px=PRICES, is_market=st.booleans(), tpsl=st.sampled_from(["tp", "sl"])
    ).map(lambda t: (None, t)),
    st.just((None, None)),
    st.just((O.LimitSpec("Gtc"), O.TriggerSpec(trigger_px=Decimal(1), is_market=True, tpsl="tp"))),
)
CLOIDS = st.sampled_from([None, None, "0x" + "ab" * 16, "0x" + "AB" * 16, "0x12", "0x" + "zz" * 16])


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        p = fn(*args)
    except NetclearError as exc:
        return ("error", type(exc).__name__, exc.field, str(exc))
    return (
        "ok",
        p.market,
        p.is_buy,
        p.px,
        p.sz,
        p.reduce_only,
        p.tif,
        p.trigger_px,
        p.is_market,
        p.tpsl,
        p.cloid,
    )


@settings(max_examples=4000, deadline=None)
@given(
    reg_i=st.integers(0, 1),
    asset=st.sampled_from(ASSETS),
    is_buy=st.booleans(),
    px=PRICES,
    sz=SIZES,
    reduce_only=st.booleans(),
    kind=KIND,
    cloid=CLOIDS,
)
def test_parse_order_matches_the_rule_by_rule_path(
    reg_i: int, asset: Any, is_buy: bool, px: Decimal, sz: Decimal, reduce_only: bool, kind: Any, cloid: Any
) -> None:
    reg = REGISTRIES[reg_i]
    limit, trigger = kind
    spec = O.OrderSpec(
        asset=asset,
        is_buy=is_buy,
        px=px,
        sz=sz,
        reduce_only=reduce_only,
        limit=limit,
        trigger=trigger,
        cloid=cloid,
    )
    ctx: Any = types.SimpleNamespace(reg=reg)
    assert _outcome(parse_order, ctx, spec) == _outcome(_reference, reg, spec)


def test_orders_near_every_limit_parse_the_same() -> None:
    """Prices and sizes on and one unit beside the grid, the minimum and the maximum order value."""
    reg = REGISTRIES[0]
    ctx: Any = types.SimpleNamespace(reg=reg)
    n = 0
    for asset in (0, 1, 3, 10_107, 110_000):
        m = order_json.market_of(reg, asset)
        szd = m.sz_decimals
        for px in (
            "100000",
            "100001",
            "99999.5",
            "12345.6",
            "1.23456",
            "1.234567",
            "0.0012345",
            "0.00123456",
        ):
            for sz_lots in (1, 9, 10, 11, 99, 100, 101, 10**5, 10**9, 10**12):
                for tif in ("Gtc", "Ioc"):
                    sz = Decimal(sz_lots).scaleb(-szd)
                    spec = O.OrderSpec(
                        asset=asset, is_buy=True, px=Decimal(px), sz=sz, limit=O.LimitSpec(tif)
                    )
                    assert _outcome(parse_order, ctx, spec) == _outcome(_reference, reg, spec)
                    n += 1
    assert n == 5 * 8 * 10 * 2


def test_orders_at_the_maximum_order_value_parse_the_same() -> None:
    """Limit, IOC and trigger market orders at, below and above the maximum order value of each leverage
    class ('Contract specifications')."""
    reg = REGISTRIES[0]
    ctx: Any = types.SimpleNamespace(reg=reg)
    seen = set()
    for perp in reg.perps.values():
        if perp.max_leverage in seen or perp.is_delisted:
            continue
        seen.add(perp.max_leverage)
        px = Decimal(1000)
        for is_market in (False, True):
            limit_usd = ticks.max_order_value(perp.max_leverage, is_market)
            for lots in (-1, 0, 1):
                sz = (Decimal(limit_usd) / px) + Decimal(lots).scaleb(-perp.sz_decimals)
                kinds: list[tuple[Any, Any]] = [
                    (O.LimitSpec("Ioc" if is_market else "Gtc"), None),
                    (None, O.TriggerSpec(trigger_px=px, is_market=is_market, tpsl="sl")),
                ]
                for limit, trigger in kinds:
                    spec = O.OrderSpec(
                        asset=perp.asset, is_buy=False, px=px, sz=sz, limit=limit, trigger=trigger
                    )
                    assert _outcome(parse_order, ctx, spec) == _outcome(_reference, reg, spec)
    assert len(seen) >= 3
