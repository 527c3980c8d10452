"""Unified account ratio (Hyperliquid docs 'Account abstraction modes', official TypeScript paraphrased
there).

For each collateral token: ``crossMargin = Σ crossMaintenanceMarginUsed`` over dexes with that
collateral, ``available = spotTotal(token) - Σ isolated marginUsed(token)``;
``ratio = max_token crossMargin / available`` over tokens with ``available > 0``.
Our reading (docs/rules/unified.md): an account with maintenance but no positive available balance
for that token has ratio +infinity (it is liquidatable); the account is liquidatable at ratio > 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

INFINITE = Fraction(10**30)


def unified_account_ratio(cross_maintenance: Mapping[int, int], available: Mapping[int, int]) -> Fraction:
    """Max over tokens of maintenance / available. Amounts per token index in that token's wei.

    Tokens are compared cross-multiplied; the one ``Fraction`` is the result (for display)."""
    num, den = 0, 1
    for token, mm in cross_maintenance.items():
        if mm <= 0:
            continue
        avail = available.get(token, 0)
        if avail <= 0:
            return INFINITE
        if mm * den > num * avail:
            num, den = mm, avail
    return Fraction(num, den)


def unified_liquidatable(ratio: Fraction) -> bool:
    """Equity below maintenance for some collateral token: ratio > 1 ("account equity falls below the
    maintenance margin", Hyperliquid docs 'Liquidations'; at exactly 1 equity equals maintenance and nothing
    happens)."""
    return ratio > 1
