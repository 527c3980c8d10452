"""Fee rates at a fill: the user's tier by 14-day weighted volume, assessed daily, and the fee of each
side of a trade (Hyperliquid docs 'Fees'; docs/rules/fees.md)."""

from __future__ import annotations

from fractions import Fraction

from netclear.engine.context import Ctx
from netclear.engine.handlers.order_parsing import Market
from netclear.engine.state import Account
from netclear.fixedpoint import notional
from netclear.markets import fees as fee_rules
from netclear.markets.registry import SpotPair


class FeeBook:
    """Fee rates per user (14-day weighted volume tier, Hyperliquid docs 'Fees': "assessed daily (UTC)").

    The tier uses the 14 completed UTC days before today, so it is cached per (master, market kind,
    day) in the state's derived ``fee_cache``.
    """

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def rates(self, acct: Account, is_spot: bool) -> fee_rules.FeeRates:
        ctx = self.ctx
        master = ctx.state.accounts.get(acct.master, acct) if acct.master else acct
        day = ctx.now // 86_400_000
        key = (master.address, is_spot, day)
        cache = ctx.state.fee_cache
        r = cache.get(key)
        if r is None:
            if len(cache) > 100_000:
                cache.clear()
            cfg = ctx.reg.config.fees
            perp_v = spot_v = 0
            for d, (p_v, s_v) in master.volume_days.items():
                if day - cfg.volume_window_days <= d < day:
                    perp_v += p_v
                    spot_v += s_v
            volume = (perp_v + Fraction(cfg.spot_volume_weight) * spot_v) / ctx.reg.quote.unit
            tiers = ctx.reg.spot_fee_tiers if is_spot else ctx.reg.perp_fee_tiers
            r = cache[key] = fee_rules.user_fee_rates(fee_rules.fee_tier(tiers, volume))
        return r


def trade_fees(
    fb: FeeBook, m: Market, taker: Account, maker: Account, taker_is_buyer: bool, sz: int, px: int
) -> tuple[int, int]:
    """(buyer_fee, seller_fee): perps in collateral on notional; spot in the token each side receives."""
    is_spot = isinstance(m, SpotPair)
    t_rate, m_rate = fb.rates(taker, is_spot).taker, fb.rates(maker, is_spot).maker
    b_rate, s_rate = (t_rate, m_rate) if taker_is_buyer else (m_rate, t_rate)
    if isinstance(m, SpotPair):
        base = sz * 10 ** (m.base.wei_decimals - m.base.sz_decimals)
        quote = notional(sz, px, m.base.sz_decimals, m.quote.wei_decimals, ceil=True)
        return fee_rules.fee_amount(base, b_rate), fee_rules.fee_amount(quote, s_rate)
    ntl = notional(sz, px, m.sz_decimals, m.collateral.wei_decimals, ceil=True)
    return fee_rules.fee_amount(ntl, b_rate), fee_rules.fee_amount(ntl, s_rate)
