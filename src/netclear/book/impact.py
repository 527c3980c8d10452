"""Impact price: the average execution price of a taker order of a given notional against book levels.

Source: Hyperliquid docs 'Funding' "Funding": "Impact prices are the average execution prices for
``impact_notional_usd``" (20,000 USDC for BTC and ETH, 6,000 for the rest). The impact bid is the average
price of *selling* that notional into the bids, the impact ask that of *buying* it from the asks.

Our readings (the docs give no formula): the last level is taken fractionally, so exactly ``notional`` is
traded (the same reading as ``netclear.markets.funding.impact_price``); the integer result is rounded
toward the side worse for the taker (a buy's average up, a sell's down); a side too thin to fill the
notional has no impact price (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable

from netclear.errors import InvalidAction, InvalidAmount
from netclear.fixedpoint import PX_DECIMALS, div_ceil


def impact_px(
    levels: Iterable[tuple[int, int]], notional: int, sz_decimals: int, quote_decimals: int, *, is_buy: bool
) -> int | None:
    """Average price (1e-8 units) of a taker trading ``notional`` quote wei through ``levels``.

    ``levels`` are ``(px, sz_lots)`` best first on the side the taker hits (asks for a buy). With
    ``S = 10**(PX_DECIMALS + sz_decimals)`` a level of ``sz`` lots at ``px`` is worth
    ``px * sz * 10**quote_decimals / S`` quote wei, so everything is compared scaled by ``S``:
    ``target = notional * S``. Whole levels are taken while they fit; of the last one the taker takes
    ``rest / (px * 10**quote_decimals)`` lots, and the average is
    ``target * px / (filled_lots * px * 10**quote_decimals + rest)``, ceil for a buy, floor for a sell.
    """
    if type(notional) is not int or notional <= 0:
        raise InvalidAmount("notional", f"must be a positive int of quote wei, got {notional!r}")
    if sz_decimals < 0 or quote_decimals < 0:
        raise InvalidAction("decimals", "sz_decimals and quote_decimals must be non-negative")
    quote_scale = 10**quote_decimals
    target = notional * 10 ** (PX_DECIMALS + sz_decimals)
    rest = target
    filled_lots = 0
    for px, sz in levels:
        value = px * sz * quote_scale
        if value >= rest:
            num = target * px
            den = filled_lots * px * quote_scale + rest
            return div_ceil(num, den) if is_buy else num // den
        rest -= value
        filled_lots += sz
    return None
