"""An account's leverage setting for a perp: its own choice, else Hyperliquid's default (Hyperliquid docs
'Margining': new positions default to 20x cross, capped at the asset's maximum)."""

from __future__ import annotations

from netclear.engine.state import Account, LeverageSetting
from netclear.markets.registry import Perp

DEFAULT_LEVERAGE = 20


def default_leverage(perp: Perp) -> LeverageSetting:
    """Hyperliquid's default is 20x cross (capped at the asset's max); isolated-only assets start isolated."""
    return LeverageSetting(is_cross=not perp.only_isolated, value=min(DEFAULT_LEVERAGE, perp.max_leverage))


def leverage_of(acct: Account, perp: Perp) -> LeverageSetting:
    return acct.leverage.get(perp.asset) or default_leverage(perp)
