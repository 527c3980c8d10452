"""The pure liquidation rules (``netclear.engine.liquidation.rules``), every expected value worked by hand.

Hyperliquid docs 'Liquidations', 'Auto-deleveraging' (perp trigger, partials, backstop, bankruptcy, ADL) and
'Portfolio margin FAQ', 'Portfolio margin' (portfolio-margin takeover steps, collateral TWAP).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from netclear.engine.liquidation.rules import (
    AdlCandidate,
    ShareSlot,
    adl_price,
    adl_pro_rata,
    adl_queue,
    adl_rank,
    backstop_due,
    bankruptcy_price,
    liquidation_size,
    pool_liquidatable,
    socialize,
    takeover_fraction,
    twap_fraction,
)

USDC = 10**8
FIFTH = Fraction(1, 5)
TWO_THIRDS = Fraction(2, 3)


# --------------------------------------------------------------------------- 'Liquidations' trigger
def test_pool_liquidatable_is_strictly_below_maintenance() -> None:
    """'Liquidations': "account equity falls below the maintenance margin"; no maintenance, nothing to
    liquidate."""
    assert pool_liquidatable(99, 100)
    assert not pool_liquidatable(100, 100)  # equal is not below
    assert not pool_liquidatable(-5, 0)  # no position, no maintenance


# --------------------------------------------------------------------------- 'Liquidations' market
# liquidation size
def test_liquidation_size_whole_position_at_or_below_the_partial_threshold() -> None:
    """'Liquidations': positions up to 100k USDC are sent whole (the sign of the position does not matter)."""
    # 0.5 BTC (50,000 lots of 1e-5) worth 50,000 USDC
    assert liquidation_size(50_000, 50_000 * USDC, 100_000 * USDC, FIFTH, False) == 50_000
    assert liquidation_size(-50_000, -50_000 * USDC, 100_000 * USDC, FIFTH, False) == 50_000
    # exactly 100k is not "larger than 100k"
    assert liquidation_size(100_000, 100_000 * USDC, 100_000 * USDC, FIFTH, False) == 100_000


def test_liquidation_size_twenty_percent_above_the_threshold() -> None:
    """'Liquidations': "larger than 100k USDC" -> only 20% is sent: 1,234 lots -> floor(1,234 / 5) = 246."""
    assert liquidation_size(1_234, 100_000 * USDC + 1, 100_000 * USDC, FIFTH, False) == 246
    assert liquidation_size(-200_000, -190_000 * USDC, 100_000 * USDC, FIFTH, False) == 40_000
    # a position too small in lots for 20% to be one lot still sends the one-lot floor: 3 // 5 = 0 -> 1
    assert liquidation_size(3, 150_000 * USDC, 100_000 * USDC, FIFTH, False) == 1
    # testnet threshold 10k ('Liquidations'): 20,000 USDC is above it
    assert liquidation_size(1_000, 20_000 * USDC, 10_000 * USDC, FIFTH, False) == 200


def test_liquidation_size_whole_position_during_the_cooldown() -> None:
    """'Liquidations': during the 30 s cooldown "all market liquidation orders for that user will be for the
    entire position"."""
    assert liquidation_size(1_234, 500_000 * USDC, 100_000 * USDC, FIFTH, True) == 1_234
    assert liquidation_size(-160_000, -150_400 * USDC, 100_000 * USDC, FIFTH, True) == 160_000


# --------------------------------------------------------------------------- 'Liquidations' backstop
def test_backstop_due_at_the_two_thirds_boundary() -> None:
    """'Liquidations': backstop when equity < 2/3 x maintenance. MM 300 -> boundary 200: 200 is not below it,
    199 is; with MM 113.75 (0.1 BTC at 91,000 / 80) the boundary is 75.8333..."""
    assert not backstop_due(200, 300, TWO_THIRDS)
    assert backstop_due(199, 300, TWO_THIRDS)
    mm = 11_375_000_000  # 113.75 USDC
    assert not backstop_due(7_583_333_334, mm, TWO_THIRDS)  # 75.83333334 > 75.8333...
    assert backstop_due(7_583_333_333, mm, TWO_THIRDS)  # 75.83333333 < 75.8333...
    assert backstop_due(-1, mm, TWO_THIRDS)
    assert not backstop_due(-1, 0, TWO_THIRDS)  # nothing to maintain


# --------------------------------------------------------------------------- 'Liquidations' bankruptcy price
def test_bankruptcy_price_long_and_short() -> None:
    """Closing ``szi`` at ``mark - equity / szi`` leaves zero equity.

    Long 0.1 BTC, mark 91,000, equity 100 -> 91,000 - 100 / 0.1 = 90,000.
    Short 0.1 BTC, mark 91,000, equity 100 -> 91,000 + 1,000 = 92,000.
    Negative equity puts a long's bankruptcy price above the mark: -100 -> 92,000."""
    tenth = Fraction(1, 10)
    assert bankruptcy_price(Fraction(91_000), tenth, Fraction(100)) == 90_000
    assert bankruptcy_price(Fraction(91_000), -tenth, Fraction(100)) == 92_000
    assert bankruptcy_price(Fraction(91_000), tenth, Fraction(-100)) == 92_000
    # 1.6 BTC at 94,900 with 1,800 equity: 94,900 - 1,125 = 93,775
    assert bankruptcy_price(Fraction(94_900), Fraction(8, 5), Fraction(1_800)) == 93_775


# --------------------------------------------------------------------------- 'Auto-deleveraging' ADL
def test_adl_rank_long_and_short() -> None:
    """'Auto-deleveraging': (mark / entry) x (notional / account value); for a short the profit ratio is entry
    / mark.

    Long entry 100, mark 110, notional 1,100, account value 220: 1.1 x 5 = 11/2.
    Short entry 100, mark 80, notional 800, account value 400: 1.25 x 2 = 5/2.
    Short entry 113,000, mark 101,000, notional 10,100, account value 6,200: 113/101 x 101/62 = 113/62.
    """
    assert adl_rank(Fraction(110), Fraction(100), Fraction(1_100), Fraction(220), True) == Fraction(11, 2)
    assert adl_rank(Fraction(80), Fraction(100), Fraction(800), Fraction(400), False) == Fraction(5, 2)
    assert adl_rank(
        Fraction(101_000), Fraction(113_000), Fraction(10_100), Fraction(6_200), False
    ) == Fraction(113, 62)
    # a losing short ranks lower than the same position winning: entry 100, mark 125 -> 0.8 x 2
    assert adl_rank(Fraction(125), Fraction(100), Fraction(1_000), Fraction(500), False) == Fraction(8, 5)
    # no positive account value: ranked first ("infinitely levered")
    assert adl_rank(Fraction(1), Fraction(1), Fraction(10), Fraction(0), True) == Fraction(10**30)
    assert adl_rank(Fraction(1), Fraction(1), Fraction(10), Fraction(-3), False) == Fraction(10**30)


def _cands() -> list[AdlCandidate]:
    return [
        AdlCandidate("0xbob", 10_000, Fraction(100, 99)),
        AdlCandidate("0xcarol", 5_000, Fraction(100, 39)),
        AdlCandidate("0xdave", 10_000, Fraction(113, 62)),
    ]


def test_adl_queue_highest_rank_first_each_closed_fully() -> None:
    """'Auto-deleveraging' queue: ranks carol 2.564 > dave 1.823 > bob 1.010; 20,000 lots needed:
    carol 5,000 (all), dave 10,000 (all), bob the 5,000 left of his 10,000."""
    assert adl_queue(_cands(), 20_000) == [("0xcarol", 5_000), ("0xdave", 10_000), ("0xbob", 5_000)]
    # fewer needed: carol covers 3,000 alone
    assert adl_queue(_cands(), 3_000) == [("0xcarol", 3_000)]
    # more needed than held: everyone closed, the queue stops at what exists
    assert adl_queue(_cands(), 99_999) == [("0xcarol", 5_000), ("0xdave", 10_000), ("0xbob", 10_000)]
    assert adl_queue(_cands(), 0) == []
    # equal ranks: address order
    tie = [AdlCandidate("0xb", 1, Fraction(1)), AdlCandidate("0xa", 1, Fraction(1))]
    assert adl_queue(tie, 1) == [("0xa", 1)]


def test_adl_pro_rata_exact_allocation_with_largest_remainder() -> None:
    """Pro rata: sizes 10,000 / 5,000 / 10,000 (total 25,000), 20,000 needed: 8,000 / 4,000 / 8,000 exactly.

    Sizes 3 / 3 / 4 (total 10), 5 needed: floors 1 (rem 5), 1 (rem 5), 2 (rem 0) = 4; the one lot left
    goes to the largest remainder, tie broken by address: a. Result a 2, b 1, c 2 (sum 5)."""
    assert adl_pro_rata(_cands(), 20_000) == [("0xbob", 8_000), ("0xcarol", 4_000), ("0xdave", 8_000)]
    three = [
        AdlCandidate("0xc", 4, Fraction(9)),
        AdlCandidate("0xb", 3, Fraction(1)),
        AdlCandidate("0xa", 3, Fraction(5)),
    ]
    assert adl_pro_rata(three, 5) == [("0xa", 2), ("0xb", 1), ("0xc", 2)]
    # 7 needed of 10: floors 2 (rem 1), 2 (rem 1), 2 (rem 8) = 6; the lot goes to c -> a 2, b 2, c 3
    assert adl_pro_rata(three, 7) == [("0xa", 2), ("0xb", 2), ("0xc", 3)]
    # 1 needed: floors 0 / 0 / 0, remainders 3 / 3 / 4 -> c
    assert adl_pro_rata(three, 1) == [("0xc", 1)]
    # capped at what exists; nothing held or nothing needed gives nothing
    assert adl_pro_rata(three, 50) == [("0xa", 3), ("0xb", 3), ("0xc", 4)]
    assert adl_pro_rata(three, 0) == []
    assert adl_pro_rata([], 5) == []
    # the allocation is always exactly ``needed``
    for needed in range(1, 11):
        assert sum(n for _, n in adl_pro_rata(three, needed)) == needed


def test_adl_price_previous_mark_never_better_for_the_bankrupt_side() -> None:
    """'Auto-deleveraging' "at the previous mark", unless the mark at which bankruptcy was detected is worse
    for the bankrupt side (docs/rules/liquidation.md). A long gapped 100,000 -> 89,000 closes at 89,000 (not
    at 100,000, where it was solvent); a long made bankrupt by an off-market fill with the mark up from
    100,000 to 101,000 closes at the previous 100,000; shorts mirror it; no previous mark: the mark."""
    assert adl_price(100_000, 89_000, True) == 89_000
    assert adl_price(100_000, 101_000, True) == 100_000
    assert adl_price(100_000, 130_000, False) == 130_000
    assert adl_price(100_000, 90_000, False) == 100_000
    assert adl_price(None, 95_000, True) == 95_000
    assert adl_price(0, 95_000, False) == 95_000


def test_socialize_pro_rata_capped_at_equity() -> None:
    """docs/rules/liquidation.md 'The loss waterfall' / docs "The loss waterfall": shares pro rata to weights,
    none above its cap.

    300 over weights 5 / 5 / 10 with room: 75 / 75 / 150.
    1,000 on one slot capped at 600: 600, the other 400 left for the next layer.
    300 over weights 1 / 1 / 1 with caps 50 / 1,000 / 1,000: a's share 100 > 50, so a pays 50 and the
    250 left splits 125 / 125 between b and c."""
    assert socialize(
        300, [ShareSlot("b", 5, 10**9), ShareSlot("c", 5, 10**9), ShareSlot("d", 10, 10**9)]
    ) == {
        "b": 75,
        "c": 75,
        "d": 150,
    }
    assert socialize(1_000, [ShareSlot("bob", 10_000, 600)]) == {"bob": 600}
    slots = [ShareSlot("a", 1, 50), ShareSlot("b", 1, 1_000), ShareSlot("c", 1, 1_000)]
    assert socialize(300, slots) == {"a": 50, "b": 125, "c": 125}
    # the last wei go by largest weight, then key: 10 over 1 / 1 / 1 -> 3 each + 1 to a
    assert socialize(10, [ShareSlot("c", 1, 99), ShareSlot("a", 1, 99), ShareSlot("b", 1, 99)]) == {
        "a": 4,
        "b": 3,
        "c": 3,
    }
    # nothing can hold more than the caps; zero caps or weights take nothing
    assert socialize(500, [ShareSlot("a", 3, 100), ShareSlot("b", 1, 0), ShareSlot("c", 0, 50)]) == {"a": 100}
    assert socialize(0, slots) == {}
    assert socialize(7, []) == {}
    # always min(amount, sum of caps), never a cap exceeded
    for amount in range(0, 2_200, 37):
        out = socialize(amount, slots)
        assert sum(out.values()) == min(amount, 2_050)
        assert all(out.get(s.key, 0) <= s.cap for s in slots)


# --------------------------------------------------------------------------- 'Portfolio margin' PM backstop
def test_twap_fraction_ten_minute_half_life() -> None:
    """'Portfolio margin' TWAP with a 10-minute half-life: 1 - 2^(-dt / 600 s). 10 min -> 1/2, 20 min ->
    3/4."""
    assert twap_fraction(600_000, 600) == Decimal("0.5")
    assert twap_fraction(1_200_000, 600) == Decimal("0.75")
    assert twap_fraction(1_800_000, 600) == Decimal("0.875")
    assert twap_fraction(0, 600) == 0
    assert twap_fraction(-5, 600) == 0
    # 5 min: 1 - 1/sqrt(2) = 0.29289321881345247559915563789515096071516...
    assert abs(twap_fraction(300_000, 600) - Decimal("0.2928932188134524755991556378951509607")) < Decimal(
        "1e-36"
    )
    # two 5-minute steps compound to one 10-minute step: (1 - f)^2 = 1/2
    f = twap_fraction(300_000, 600)
    assert abs((1 - f) * (1 - f) - Decimal("0.5")) < Decimal("1e-38")


def test_takeover_fraction_full_partial_healthy() -> None:
    """'Portfolio margin': "fully taken over" past the full threshold, "20% intervals" in the partial band."""
    assert takeover_fraction("full", FIFTH) == 1
    assert takeover_fraction("partial", FIFTH) == Fraction(1, 5)
    assert takeover_fraction("healthy", FIFTH) == 0


@pytest.mark.parametrize(("sz", "expected"), [(5, 1), (10, 2), (11, 2), (14, 2), (15, 3)])
def test_liquidation_size_floor_of_twenty_percent(sz: int, expected: int) -> None:
    """'Liquidations': 20% of the lots, rounded down (never more than the position), at least one lot."""
    assert liquidation_size(sz, 200_000 * USDC, 100_000 * USDC, FIFTH, False) == expected
