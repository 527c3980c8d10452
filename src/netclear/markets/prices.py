"""Mark price, its EMAs, the PM borrow oracle price and the HIP-3 ``setOracle`` clamps.

Source: Hyperliquid docs 'Robust price indices' "Oracle and mark price", 'Portfolio margin'
(``borrow_oracle_price``), 'HIP-3: Builder-deployed perpetuals' (``setOracle``). Docs:
docs/rules/mark-price.md.

Units: prices are ``int`` in 1e-8 (``PX_SCALE``); exact intermediate prices are :class:`fractions.Fraction`
in the same unit; time is ``int`` milliseconds. The EMA needs ``exp``; it is computed with
:mod:`decimal` in :data:`EMA_CONTEXT` (34 significant digits, ROUND_HALF_EVEN, correctly rounded ``exp``),
so replays give bit-identical EMAs on every platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from fractions import Fraction

from netclear.errors import InvalidAction
from netclear.markets.ticks import PRICE_SIG_FIGS, Rounding, round_price_to_grid

EMA_PRECISION = 34
EMA_CONTEXT = Context(
    prec=EMA_PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""Fixed arithmetic context for every EMA operation; never the thread's current context."""

MARK_EMA_MS = 150_000  # "150 second EMA" = exp(-t / 2.5 minutes) ('Robust price indices')
LOCAL_MARK_EMA_MS = (
    30_000  # "30 second EMA of the median of best bid, best ask, last trade" ('Robust price indices')
)
HIP3_MARK_MOVE_LIMIT = Fraction(
    1, 100
)  # "markPx moves are clamped to 1% from previous markPx" ('HIP-3: Builder-deployed perpetuals')
HIP3_DAY_RANGE_FACTOR = (
    10  # "All prices are clamped to 10x the start of day value" ('HIP-3: Builder-deployed perpetuals')
)


# ---------------------------------------------------------------------------------------------- medians
def median(values: Sequence[Fraction | int]) -> Fraction:
    """Ordinary median; the mean of the two middle values for an even count."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(Fraction(v) for v in values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def weighted_median(values: Sequence[tuple[Fraction | int, int]]) -> Fraction:
    """Weighted median of ``(price, weight)`` pairs: the median of each price repeated ``weight`` times.

    With weights 3, 2, 2, 1, 1 (total 9) this is the unique middle; when venues are missing and the total
    weight is even, the two middle copies are averaged like :func:`median` (our reading).
    """
    pairs = sorted((Fraction(px), w) for px, w in values if w > 0)
    total = sum(w for _, w in pairs)
    if total == 0:
        raise ValueError("weighted median of no weight")

    def nth(k: int) -> Fraction:  # k-th copy, 0-based
        seen = 0
        for px, w in pairs:
            seen += w
            if k < seen:
                return px
        raise AssertionError("unreachable")

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def local_mark_price(best_bid: int | None, best_ask: int | None, last_trade: int | None) -> Fraction | None:
    """``median(best bid, best ask, last trade)`` over the ones that exist; ``None`` when none does.

    The source names three inputs; with one missing (empty side, no trade yet) we take the median of the two
    that exist (our reading).
    """
    present = [p for p in (best_bid, best_ask, last_trade) if p is not None]
    return median(present) if present else None


def mid_price(best_bid: int | None, best_ask: int | None) -> Fraction | None:
    """``(best bid + best ask) / 2``; ``None`` unless both sides have an order."""
    if best_bid is None or best_ask is None:
        return None
    return Fraction(best_bid + best_ask, 2)


# ---------------------------------------------------------------------------------------------- EMA
def _to_decimal(value: Fraction | int | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return EMA_CONTEXT.plus(value)
    if isinstance(value, int):
        return EMA_CONTEXT.create_decimal(value)
    return EMA_CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


@dataclass(frozen=True, slots=True)
class Ema:
    """Time-weighted EMA in numerator/denominator form (Hyperliquid docs 'Robust price indices'), immutable.

    For a ``sample`` arriving ``t`` after the previous update::

        numerator   -> numerator   * exp(-t / tau) + sample * t
        denominator -> denominator * exp(-t / tau) + t
        ema = numerator / denominator

    ``tau`` is 150 s for the mark's EMA of ``mid - oracle`` and 30 s for the local-mark EMA. Units: the
    sample's unit (1e-8 price units) times milliseconds. A sample with ``t = 0`` carries no weight; the
    value is ``None`` until some weight has accumulated.
    """

    tau_ms: int
    numerator: Decimal = Decimal(0)
    denominator: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.tau_ms <= 0:
            raise ValueError("tau_ms must be positive")

    def decay(self, dt_ms: int) -> Decimal:
        """``exp(-dt / tau)`` rounded to :data:`EMA_PRECISION` digits."""
        return EMA_CONTEXT.exp(EMA_CONTEXT.divide(Decimal(-dt_ms), Decimal(self.tau_ms)))

    def update(self, sample: Fraction | int | Decimal, dt_ms: int) -> Ema:
        """A new state after ``sample`` arrives ``dt_ms`` after the previous update."""
        if dt_ms < 0:
            raise InvalidAction("dt_ms", f"time must not go backwards, got {dt_ms} ms")
        factor = self.decay(dt_ms)
        weight = Decimal(dt_ms)
        ctx = EMA_CONTEXT
        numerator = ctx.add(ctx.multiply(self.numerator, factor), ctx.multiply(_to_decimal(sample), weight))
        denominator = ctx.add(ctx.multiply(self.denominator, factor), weight)
        return replace(self, numerator=numerator, denominator=denominator)

    @property
    def value(self) -> Decimal | None:
        """``numerator / denominator`` (34 digits), or ``None`` before any weighted sample."""
        if self.denominator == 0:
            return None
        return EMA_CONTEXT.divide(self.numerator, self.denominator)


@dataclass(frozen=True, slots=True)
class MarkEmas:
    """The two EMAs behind the validator-perp mark price (Hyperliquid docs 'Robust price indices').

    ``premium``: 150 s EMA of ``HL mid - oracle``; ``local``: 30 s EMA of ``median(bid, ask, last)``. Each
    remembers when it last took a sample, so a missing sample (no mid, no book) skips that EMA and the next
    sample's ``t`` covers the gap (our reading).
    """

    premium: Ema = Ema(MARK_EMA_MS)
    local: Ema = Ema(LOCAL_MARK_EMA_MS)
    premium_ms: int | None = None
    local_ms: int | None = None

    @classmethod
    def start(cls, now_ms: int) -> MarkEmas:
        """Empty EMAs whose clock starts at ``now_ms`` (the market's listing time): the first sample then
        weighs the time since listing."""
        return cls(premium_ms=now_ms, local_ms=now_ms)

    def update(
        self,
        now_ms: int,
        oracle: int,
        best_bid: int | None,
        best_ask: int | None,
        last_trade: int | None,
        *,
        first_dt_ms: int = 0,
    ) -> MarkEmas:
        """Sample both EMAs at ``now_ms`` (called on each oracle update, ~3 s).

        ``first_dt_ms`` is the weight of an EMA's very first sample (default 0: no weight, so the first
        sample only starts the clock).
        """
        state = self
        mid = mid_price(best_bid, best_ask)
        if mid is not None:
            dt = first_dt_ms if self.premium_ms is None else now_ms - self.premium_ms
            state = replace(state, premium=state.premium.update(mid - oracle, dt), premium_ms=now_ms)
        local = local_mark_price(best_bid, best_ask, last_trade)
        if local is not None:
            dt = first_dt_ms if self.local_ms is None else now_ms - self.local_ms
            state = replace(state, local=state.local.update(local, dt), local_ms=now_ms)
        return state


# ---------------------------------------------------------------------------------------------- mark price
def mark_price_inputs(
    oracle: int,
    emas: MarkEmas,
    best_bid: int | None,
    best_ask: int | None,
    last_trade: int | None,
    external_mids: Sequence[tuple[int, int]] = (),
) -> tuple[Fraction, ...]:
    """The exact inputs whose median is the mark price (Hyperliquid docs 'Robust price indices').

    1. ``oracle + EMA150(mid - oracle)`` (just ``oracle`` before the EMA has a value);
    2. ``median(best bid, best ask, last trade)`` when any of them exists;
    3. the weighted median of external perp mids ``(px, weight)`` when given.

    If exactly two of the three exist, the 30 s EMA of input 2's median is added when it has a value.
    """
    if oracle <= 0:
        raise InvalidAction("oracle", f"oracle price must be positive, got {oracle}")
    premium = emas.premium.value
    inputs: list[Fraction] = [Fraction(oracle) + (Fraction(premium) if premium is not None else 0)]
    local = local_mark_price(best_bid, best_ask, last_trade)
    if local is not None:
        inputs.append(local)
    if external_mids:
        inputs.append(weighted_median(external_mids))
    if len(inputs) == 2:
        local_ema = emas.local.value
        if local_ema is not None:
            inputs.append(Fraction(local_ema))
    return tuple(inputs)


def mark_price(
    oracle: int,
    emas: MarkEmas,
    best_bid: int | None,
    best_ask: int | None,
    last_trade: int | None,
    external_mids: Sequence[tuple[int, int]] = (),
    *,
    sz_decimals: int,
    sig_figs: int = PRICE_SIG_FIGS,
) -> int:
    """Validator-perp mark price in 1e-8: the median of :func:`mark_price_inputs` (Hyperliquid docs 'Robust
    price indices').

    The exact median is rounded once, half up, onto the perp price grid (5 significant figures, at most
    ``6 - szDecimals`` decimals, integers always allowed), so marks look like order prices (our reading).
    """
    exact = median(mark_price_inputs(oracle, emas, best_bid, best_ask, last_trade, external_mids))
    return round_price_to_grid(exact, sz_decimals, False, sig_figs=sig_figs)


# ------------------------------------------------------------------------------------------ PM borrow oracle
def borrow_oracle_price(
    spot_px: int | None,
    perp_mark: int | None,
    perp_oracle: int | None,
    usdc_oracle_price: Fraction = Fraction(1),
) -> Fraction:
    """``median(HL spot USDC price, mark * USDT_USDC, oracle * USDT_USDC)`` (Hyperliquid docs 'Portfolio
    margin').

    ``USDT_USDC = 1 / usdc_oracle_price`` (HL spot oracle price of USDC, a ratio). Result: exact
    ``Fraction`` in 1e-8 USDC; callers round it in the conservative direction for their use. A missing
    input (no spot pair, no perp) is left out and the median of the rest taken (two inputs: their mean);
    with none at all this raises.
    """
    if usdc_oracle_price <= 0:
        raise InvalidAction("usdc_oracle_price", "must be positive")
    usdt_usdc = 1 / Fraction(usdc_oracle_price)
    present: list[Fraction] = []
    if spot_px is not None:
        present.append(Fraction(spot_px))
    if perp_mark is not None:
        present.append(perp_mark * usdt_usdc)
    if perp_oracle is not None:
        present.append(perp_oracle * usdt_usdc)
    if not present:
        raise InvalidAction(
            "borrow_oracle_price", "no spot price, perp mark or perp oracle to price the token"
        )
    return median(present)


# ---------------------------------------------------------------------------------------------- HIP-3 clamps
def clamp_to_day_range(
    px: Fraction | int, start_of_day_px: int, factor: int = HIP3_DAY_RANGE_FACTOR
) -> Fraction:
    """Clamp a HIP-3 price into ``[start / factor, start * factor]`` ('HIP-3: Builder-deployed perpetuals'
    ``setOracle``: "clamped to 10x the start of day value"; the lower bound ``start / 10`` is our reading)."""
    if start_of_day_px <= 0:
        raise InvalidAction("start_of_day_px", "must be positive")
    low, high = Fraction(start_of_day_px, factor), Fraction(start_of_day_px * factor)
    return min(max(Fraction(px), low), high)


def clamp_mark_move(
    new_mark: Fraction | int, prev_mark: int, limit: Fraction = HIP3_MARK_MOVE_LIMIT
) -> Fraction:
    """Clamp a HIP-3 mark into ``prev * (1 +/- 1%)`` ('HIP-3: Builder-deployed perpetuals': "markPx moves are
    clamped to 1% from previous")."""
    if prev_mark <= 0:
        raise InvalidAction("prev_mark", "must be positive")
    low, high = prev_mark * (1 - limit), prev_mark * (1 + limit)
    return min(max(Fraction(new_mark), low), high)


def hip3_mark_price(
    deployer_marks: Sequence[int],
    best_bid: int | None,
    best_ask: int | None,
    last_trade: int | None,
    *,
    prev_mark: int | None,
    start_of_day_px: int,
    sz_decimals: int,
    sig_figs: int = PRICE_SIG_FIGS,
) -> int:
    """A builder-dex mark after ``setOracle`` (Hyperliquid docs 'HIP-3: Builder-deployed perpetuals'), in
    1e-8.

    The median of the deployer's 0-2 ``markPxs`` and the local mark ``median(bid, ask, last)``, each input
    clamped to the day range, then the move clamped to 1% of ``prev_mark``. Rounded onto the price grid
    half up, except that a clamped result is rounded toward ``prev_mark`` so the clamp is never exceeded.
    """
    if len(deployer_marks) > 2:
        raise InvalidAction("markPxs", "at most 2 mark price lists")
    inputs = [clamp_to_day_range(px, start_of_day_px) for px in deployer_marks]
    local = local_mark_price(best_bid, best_ask, last_trade)
    if local is not None:
        inputs.append(clamp_to_day_range(local, start_of_day_px))
    if not inputs:
        if prev_mark is None:
            raise InvalidAction("markPxs", "no mark input and no previous mark")
        return prev_mark
    exact = median(inputs)
    rounding: Rounding = "half_up"
    if prev_mark is not None:
        clamped = clamp_mark_move(exact, prev_mark)
        if clamped != exact:
            rounding = "floor" if clamped > prev_mark else "ceil"
        exact = clamped
    return round_price_to_grid(exact, sz_decimals, False, rounding=rounding, sig_figs=sig_figs)
