"""Pure liquidation rules (Hyperliquid docs 'Liquidations', 'Portfolio margin'; the Drift v2 and Mango v4
liquidation designs (docs/rules/liquidation.md)).

Numbers in, numbers out: the engine in :mod:`netclear.engine.liquidation.engine` applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction

from netclear.margin import standard as std_rules

_CTX = Context(prec=40)


def pool_liquidatable(account_value: int, maintenance: int) -> bool:
    """Cross (per dex, or per unified collateral token) or isolated: equity below maintenance
    ('Liquidations'). The rule is :func:`netclear.margin.standard.below_maintenance`; the engine asks it
    through :class:`netclear.engine.health.AccountHealth`."""
    return std_rules.below_maintenance(account_value, maintenance)


def backstop_due(account_value: int, maintenance: int, fraction: Fraction) -> bool:
    """ "If the account equity drops below 2/3 of the maintenance margin without successful
    liquidation through the book", the liquidator vault takes over ('Liquidations')."""
    return maintenance > 0 and account_value * fraction.denominator < maintenance * fraction.numerator


def liquidation_size(
    size: int,
    notional: int,
    partial_notional: int,
    partial_fraction: Fraction,
    in_cooldown: bool,
    lot_floor: int = 1,
) -> int:
    """Lots to send in one market liquidation ('Liquidations').

    Positions above ``partial_notional`` (100k USDC; 10k on testnet) are liquidated 20% at a time,
    unless the user is in the 30 s cooldown after a partial, when "all market liquidation orders for
    that user will be for the entire position".
    """
    size = abs(size)
    if in_cooldown or abs(notional) <= partial_notional:
        return size
    part = size * partial_fraction.numerator // partial_fraction.denominator
    return max(min(part, size), min(lot_floor, size))


def bankruptcy_price(mark: Fraction, szi: Fraction, equity: Fraction) -> Fraction:
    """Price at which closing ``szi`` leaves the margin pool with zero equity: ``mark - equity / szi``."""
    return mark - equity / szi


def adl_price(prev_mark: int | None, mark: int, bankrupt_is_long: bool) -> int:
    """Price at which a bankrupt position is auto-deleveraged.

    'Auto-deleveraging': positions are closed "at the previous mark price against the now underwater user". We
    never close at a price better for the bankrupt side than the mark at which the bankruptcy was detected (a
    long at ``min(previous, mark)``, a short at ``max(previous, mark)``): after a gap straight past bankruptcy
    the previous mark would hand the user back the collateral the gap consumed and put the whole gap on the
    counterparties, against the waterfall order (docs/rules/liquidation.md 'The loss waterfall': user
    collateral first). docs/rules/liquidation.md "Auto-deleveraging".
    """
    if not prev_mark:
        return mark
    return min(prev_mark, mark) if bankrupt_is_long else max(prev_mark, mark)


def adl_rank(
    mark: Fraction, entry: Fraction, notional: Fraction, account_value: Fraction, is_long: bool
) -> Fraction:
    """Auto-deleveraging priority ``(mark / entry) x (notional / account_value)`` ('Auto-deleveraging').

    Read as profit ratio times leverage, so for a short the price ratio is ``entry / mark`` (the
    published expression is written for longs; docs/rules/liquidation.md). Accounts with no positive
    account value rank first (infinitely levered).
    """
    if account_value <= 0:
        return Fraction(10**30)
    ratio = mark / entry if is_long else entry / mark
    return ratio * notional / account_value


@dataclass(frozen=True, slots=True)
class AdlCandidate:
    address: str
    size: int  # lots held on the opposite side of the bankrupt position (positive)
    rank: Fraction


def adl_queue(candidates: Sequence[AdlCandidate], needed: int) -> list[tuple[str, int]]:
    """Hyperliquid's queue: highest rank first, each closed fully until ``needed`` lots are covered."""
    out: list[tuple[str, int]] = []
    left = needed
    for c in sorted(candidates, key=lambda c: (-c.rank, c.address)):
        if left <= 0:
            break
        take = min(c.size, left)
        out.append((c.address, take))
        left -= take
    return out


def adl_pro_rata(candidates: Sequence[AdlCandidate], needed: int) -> list[tuple[str, int]]:
    """The alternative for the risk lab: every opposite-side holder is cut in proportion to its size.

    Lots are allocated by largest remainder so that the total is exactly ``needed`` (ties by address).
    """
    total = sum(c.size for c in candidates)
    if total <= 0 or needed <= 0:
        return []
    needed = min(needed, total)
    shares = [(c, c.size * needed // total, (c.size * needed) % total) for c in candidates]
    left = needed - sum(s for _, s, _ in shares)
    shares.sort(key=lambda x: (-x[2], x[0].address))
    out: list[tuple[str, int]] = []
    for i, (c, base, _) in enumerate(shares):
        take = base + (1 if i < left else 0)
        if take:
            out.append((c.address, take))
    return sorted(out)


@dataclass(frozen=True, slots=True)
class ShareSlot:
    """One payer of a socialized deficit: ``weight`` (notional deleveraged) and ``cap`` (its equity)."""

    key: str
    weight: int
    cap: int


def socialize(amount: int, slots: Sequence[ShareSlot]) -> dict[str, int]:
    """Split ``amount`` over ``slots`` pro rata to their weights, no slot above its cap ('Auto-deleveraging';
    docs/rules/liquidation.md 'The loss waterfall').

    Water-filling: a slot whose pro-rata share reaches its cap pays its cap and the rest is split again
    over the others. The last wei of a split go one each by largest weight, then key. What the caps
    cannot hold is left over: the returned shares add up to ``min(amount, sum of caps)``.
    """
    out = {s.key: 0 for s in slots}
    active = [s for s in slots if s.weight > 0 and s.cap > 0]
    left = amount
    while left > 0 and active:
        total = sum(s.weight for s in active)
        base = {s.key: left * s.weight // total for s in active}
        full = [s for s in active if out[s.key] + base[s.key] >= s.cap]
        if full:
            for s in full:
                left -= s.cap - out[s.key]
                out[s.key] = s.cap
            active = [s for s in active if out[s.key] < s.cap]
            continue
        for s in active:
            out[s.key] += base[s.key]
            left -= base[s.key]
        for s in sorted(active, key=lambda s: (-s.weight, s.key)):
            if left <= 0:
                break
            out[s.key] += 1  # base < cap strictly, so there is room for one more wei
            left -= 1
        break
    return {k: v for k, v in out.items() if v}


def twap_fraction(dt_ms: int, half_life_s: int) -> Decimal:
    """Share of the remaining inventory sold over ``dt`` by a TWAP with a ``half_life`` ('Portfolio margin'):
    ``1 - 2^(-dt / half_life)``, at 40 digits (deterministic)."""
    if dt_ms <= 0:
        return Decimal(0)
    exponent = _CTX.divide(Decimal(-dt_ms), Decimal(half_life_s * 1000))
    return _CTX.subtract(Decimal(1), _CTX.power(Decimal(2), exponent))


def takeover_fraction(health: str, step: Fraction) -> Fraction:
    """Share of collateral and debt the PM backstop takes over: all at "full", one step at "partial"
    ('Portfolio margin': "in 20% intervals, stopping as soon as the user is no longer liquidatable")."""
    if health == "full":
        return Fraction(1)
    if health == "partial":
        return step
    return Fraction(0)
