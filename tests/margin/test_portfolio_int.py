"""The integer portfolio-margin rules against an exact ``Fraction`` reference computed here from the published
formulas (Hyperliquid docs 'Portfolio margin'; rounding in docs/rules/portfolio-margin.md "Integer arithmetic
and rounding")."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from statistics import median

from hypothesis import given, settings
from hypothesis import strategies as st

from netclear.config import parse_config, preset_data
from netclear.engine.accounting import Valuer
from netclear.engine.state import ExchangeState
from netclear.fixedpoint import PX_SCALE
from netclear.margin import portfolio as pm
from netclear.markets.registry import Registry

QUOTE_DECIMALS = 8
Q = 10**QUOTE_DECIMALS
OFFSET = Fraction(20)  # min_borrow_offset, USDC


@dataclass(frozen=True)
class RefLeg:
    decimals: int
    price: Fraction  # USDC per whole token
    balance: int  # wei
    maintenance: int  # wei
    borrowed: int  # wei
    cap: int  # wei


@dataclass(frozen=True)
class RefColl:
    decimals: int
    price: Fraction
    balance: int
    cap: int
    ltv: Fraction


prices = st.builds(Fraction, st.integers(1, 10**14), st.sampled_from([1, 3, 7, 10**4, 10**8, 3 * 10**8]))
decimals = st.integers(0, 18)
legs = st.lists(
    st.builds(
        RefLeg,
        decimals,
        prices,
        st.integers(-(10**20), 10**22),
        st.integers(0, 10**20),
        st.integers(0, 10**20),
        st.integers(0, 10**22),
    ),
    min_size=0,
    max_size=3,
)
colls = st.lists(
    st.builds(
        RefColl,
        decimals,
        prices,
        st.integers(1, 10**22),
        st.integers(0, 10**22),
        st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(3, 4), Fraction(7, 10), Fraction(1, 3)]),
    ),
    min_size=0,
    max_size=3,
)


def _px(decimals: int, price: Fraction) -> pm.Px:
    """USDC wei per token wei, exact."""
    f = price * Q / 10**decimals
    return pm.Px(f.numerator, f.denominator)


def _reference(ls: list[RefLeg], cs: list[RefColl]) -> tuple[list[tuple[Fraction, Fraction]], Fraction]:
    """Per leg (requirement, liquidation value) and the borrowing power, exact, in whole USDC."""
    out = []
    for leg in ls:
        unit = 10**leg.decimals
        req = (OFFSET if leg.borrowed > 0 else 0) + Fraction(leg.maintenance + leg.borrowed, unit) * leg.price
        cap_usdc = Fraction(leg.cap, unit) * leg.price
        term = sum(
            (
                min(
                    cap_usdc,
                    min(Fraction(c.balance), Fraction(c.cap))
                    / 10**c.decimals
                    * c.price
                    * (Fraction(1, 2) + c.ltv / 2),
                )
                for c in cs
            ),
            Fraction(0),
        )
        out.append((req, Fraction(leg.balance, unit) * leg.price + term))
    power = sum((Fraction(min(c.balance, c.cap), 10**c.decimals) * c.price * c.ltv for c in cs), Fraction(0))
    return out, power


def _integer(ls: list[RefLeg], cs: list[RefColl]) -> tuple[list[pm.LegValue], list[pm.CollateralValue]]:
    legs_i = [
        pm.leg_value(i, _px(x.decimals, x.price), x.balance, x.maintenance, x.borrowed, x.cap)
        for i, x in enumerate(ls)
    ]
    colls_i = [
        pm.collateral_value(100 + i, c.balance, c.cap, _px(c.decimals, c.price), c.ltv)
        for i, c in enumerate(cs)
    ]
    return legs_i, colls_i


@settings(max_examples=400, deadline=None)
@given(legs, colls)
def test_integer_pmr_is_the_published_formula_rounded_toward_the_house(
    ls: list[RefLeg], cs: list[RefColl]
) -> None:
    ref, ref_power = _reference(ls, cs)
    legs_i, colls_i = _integer(ls, cs)
    offset = int(OFFSET * Q)
    exact_ratio = Fraction(0)
    infinite = False
    for (req, lv), leg in zip(ref, legs_i, strict=True):
        r = pm.requirement_wei(leg, offset)
        v = pm.liquidation_value_wei(leg, colls_i)
        # requirements round up (at most one wei per rounded term: maintenance, borrowed) ...
        assert req * Q <= r < req * Q + 2
        # ... liquidation values round down (the balance and one term per collateral)
        assert lv * Q - (1 + len(cs)) < v <= lv * Q
        if req > 0:
            if lv <= 0:
                infinite = True
            else:
                exact_ratio = max(exact_ratio, req / lv)
    num, den = pm.margin_ratio(legs_i, colls_i, offset)
    assert den > 0
    ratio = Fraction(num, den)
    if infinite:
        assert ratio == pm.INFINITE
    else:
        assert ratio >= exact_ratio  # conservative: never less levered than the exact ratio
    # the threshold test is the cross-multiplied comparison of that ratio
    for threshold in (Fraction(95, 100), Fraction(1), exact_ratio):
        assert pm.ratio_exceeds(num, den, threshold) == (ratio > threshold)
        assert pm.pm_liquidatable(pm.PmRatio(num, den), threshold) == (ratio > threshold)
    power = pm.borrowing_power_wei(colls_i)
    assert 0 <= ref_power * Q - power < max(1, len(cs))


@settings(max_examples=200, deadline=None)
@given(legs, colls)
def test_integer_pmr_is_exact_when_values_are_whole_wei(ls: list[RefLeg], cs: list[RefColl]) -> None:
    """With prices that are whole USDC wei per token wei nothing rounds: the ratio is the exact one."""
    ls = [RefLeg(0, Fraction(int(x.price) + 1, Q), x.balance, x.maintenance, x.borrowed, x.cap) for x in ls]
    cs = [RefColl(0, Fraction(int(c.price) + 1, Q), c.balance, c.cap, Fraction(1)) for c in cs]
    ref, ref_power = _reference(ls, cs)
    legs_i, colls_i = _integer(ls, cs)
    num, den = pm.margin_ratio(legs_i, colls_i, int(OFFSET * Q))
    worst = Fraction(0)
    for req, lv in ref:
        if req > 0:
            worst = pm.INFINITE if lv <= 0 or worst == pm.INFINITE else max(worst, req / lv)
    assert Fraction(num, den) == worst
    assert pm.borrowing_power_wei(colls_i) == ref_power * Q


def test_pm_ratio_compares_like_its_fraction() -> None:
    r = pm.PmRatio(19, 20)
    assert r == Fraction(95, 100) and r <= Fraction(95, 100) and not r > Fraction(95, 100)
    assert r < 1 and r > 0 and r >= pm.PmRatio(38, 40) and float(r) == 0.95
    assert r.ratio == Fraction(19, 20)
    assert min(r, Fraction(10**9)) is r


_REG = Registry.from_config(parse_config(preset_data("hyperliquid")))
px_units = st.integers(1, 10**13)


@settings(max_examples=300, deadline=None)
@given(st.none() | px_units, st.none() | px_units, st.none() | px_units, st.integers(9 * 10**7, 11 * 10**7))
def test_borrow_oracle_price_is_the_median_of_present_inputs(
    spot: int | None, mark: int | None, oracle: int | None, usdc: int
) -> None:
    """``median(spot, mark x USDT_USDC, oracle x USDT_USDC)``, ``USDT_USDC = 1 / usdc_oracle`` (Hyperliquid
    docs 'Portfolio margin'), missing inputs left out (docs/rules/portfolio-margin.md)."""
    hype = _REG.token_by_name["HYPE"]
    assert hype.spot_pair is not None and hype.perp is not None
    asset = _REG.perp(hype.perp).asset
    state = ExchangeState()
    state.prices.usdc_oracle = usdc
    if spot is not None:
        state.prices.spot[hype.spot_pair] = spot
    if mark is not None:
        state.prices.mark[asset] = mark
    if oracle is not None:
        state.prices.oracle[asset] = oracle
    v = Valuer(_REG, state)
    expected = _median(spot, mark, oracle, usdc)
    if expected is None:
        assert v.token_price_or_none(hype) is None
        return
    assert v.token_price(hype) == expected
    wei = 123_456_789_012
    exact = Fraction(wei, hype.unit) * expected * _REG.quote.unit
    assert v.to_usdc_wei(hype, wei) == exact.numerator // exact.denominator
    assert v.to_usdc_wei_ceil(hype, wei) == -(-exact.numerator // exact.denominator)
    # the memo is keyed by the inputs: a price change is seen at once, by the same valuer
    state.prices.usdc_oracle = usdc + 1
    assert v.token_price(hype) == _median(spot, mark, oracle, usdc + 1)


def _median(spot: int | None, mark: int | None, oracle: int | None, usdc: int) -> Fraction | None:
    inputs = [Fraction(spot, PX_SCALE)] if spot is not None else []
    usdt_usdc = 1 / Fraction(usdc, PX_SCALE)
    inputs += [Fraction(x, PX_SCALE) * usdt_usdc for x in (mark, oracle) if x is not None]
    return Fraction(median(inputs)) if inputs else None
