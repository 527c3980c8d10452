"""Standard (cross and isolated) margin rules, Hyperliquid docs 'Margining', 'Info endpoint: Perpetuals',
'Liquidations'.

Amounts are integers in the dex collateral's wei; ``unit`` is ``10**weiDecimals`` of that token, so a
tier bound of 3,000,000 USD is ``3_000_000 * unit``. Requirements round up, values round down.
"""

from __future__ import annotations

from fractions import Fraction

from netclear.fixedpoint import frac_ceil
from netclear.markets.registry import MarginTable, MarginTier


def initial_margin(notional: int, leverage: int) -> int:
    """``|size| * mark / leverage`` (Hyperliquid docs 'Margining'), rounded up."""
    return -((-abs(notional)) // leverage)


def tier_for(table: MarginTable, notional: int, unit: int) -> MarginTier:
    return table.tier_for(Fraction(abs(notional), unit))


def maintenance_margin(notional: int, table: MarginTable, unit: int) -> int:
    """Tiered maintenance margin ``ntl * mmr(tier) - deduction(tier)`` (Hyperliquid docs 'Margin tiers'),
    rounded up.

    Integer fast path when the table's bounds and deductions are whole wei (every published table);
    the exact Fraction path otherwise. Both give the same result.
    """
    ntl = abs(notional)
    tiers = table.int_tiers(unit)
    if tiers is not None:
        chosen = tiers[0]
        for tier in tiers[1:]:
            if ntl > tier[0]:
                chosen = tier
            else:
                break
        return -((-ntl) // chosen[1]) - chosen[2]
    frac_tier = table.tier_for(Fraction(ntl, unit))
    return frac_ceil(ntl * frac_tier.mmr - frac_tier.deduction * unit)


def transfer_margin_required(
    initial_margin_total: int, notional_total: int, min_ntl_fraction: Fraction
) -> int:
    """``max(initial_margin_required, 0.1 * total_position_value)`` (Hyperliquid docs 'Margining')."""
    return max(initial_margin_total, frac_ceil(abs(notional_total) * min_ntl_fraction))


def withdrawable(account_value: int, transfer_margin: int) -> int:
    """``accountValue - transfer margin``, floored at zero (Hyperliquid docs 'Margining', verified on the doc
    example)."""
    return max(0, account_value - transfer_margin)


def isolated_margin_used(raw_usd: int, position_value_signed: int) -> int:
    """Isolated ``marginUsed = rawUsd + szi * markPx`` (Hyperliquid docs 'Info endpoint: Perpetuals'
    identity)."""
    return raw_usd + position_value_signed


def liquidation_price(
    *,
    szi: Fraction,
    mark_px: Fraction,
    margin_available: Fraction,
    table: MarginTable,
    other_maintenance: Fraction = Fraction(0),
    equity: Fraction | None = None,
) -> Fraction | None:
    """Price at which equity equals maintenance margin (Hyperliquid docs 'Liquidations').

    ``liq = price - side * margin_available / |szi| / (1 - l * side)`` with ``l`` the maintenance
    rate of the tier that holds at the liquidation price. For a tiered table the equation is solved
    per tier (``MM = |szi| * P * mmr - deduction``) and the tier whose notional range contains the
    solution is taken. Amounts are in USD (Fractions); returns None when no positive price
    liquidates the position.

    When ``equity`` is given the tiered solve uses it with ``other_maintenance`` (the maintenance of
    everything else in the margin pool); otherwise the single-tier closed form is used directly.
    """
    if szi == 0:
        return None
    side = 1 if szi > 0 else -1
    size = abs(szi)
    if equity is None or len(table.tiers) == 1:
        tier = table.tier_for(size * mark_px)
        denom = 1 - tier.mmr * side
        px = mark_px - side * margin_available / size / denom
        return px if px > 0 else None
    # Tiered: equity(P) = equity + szi (P - mark); MM(P) = other + |szi| P mmr_n - ded_n.
    candidates: list[Fraction] = []
    for i, tier in enumerate(table.tiers):
        denom = size * (side - tier.mmr)
        px = (szi * mark_px + other_maintenance - tier.deduction - equity) / denom
        upper = table.tiers[i + 1].lower_bound if i + 1 < len(table.tiers) else None
        ntl = size * px
        if px > 0 and ntl >= tier.lower_bound and (upper is None or ntl <= upper):
            candidates.append(px)
    if not candidates:
        return None
    # A long is liquidated at the highest solving price on the way down, a short at the lowest on the way up.
    return max(candidates) if side > 0 else min(candidates)


def below_maintenance(account_value: int, maintenance: int) -> bool:
    """A margin pool (cross per dex or per collateral token, or one isolated position) is liquidatable when
    its equity is below its maintenance margin (Hyperliquid docs 'Liquidations'); a pool that owes no
    maintenance never is."""
    return maintenance > 0 and account_value < maintenance


def return_on_equity(unrealized_pnl: Fraction, size: Fraction, entry_px: Fraction, leverage: int) -> Fraction:
    """``unrealizedPnl / (|szi| * entryPx / leverage)`` (Hyperliquid docs 'Info endpoint: Perpetuals')."""
    base = abs(size) * entry_px / leverage
    return unrealized_pnl / base if base else Fraction(0)
