"""Read-only valuation of accounts: margin pools, requirements and portfolio-margin inputs.

A *margin pool* is the cash and cross positions that margin each other:

* standard mode: one pool per perp dex (cash = ``perp_cash[dex]``), spot balances apart;
* unified account and portfolio margin: one pool per collateral token, holding the spot balance of
  the token and the cross positions of every dex collateralised by it (Hyperliquid docs 'Account abstraction
  modes' "cross positions in DEXs with the same collateral share margin").

Isolated positions are their own pools everywhere. All functions read state and return numbers; the
rules themselves live in :mod:`netclear.margin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from math import gcd

from netclear.engine.state import Account, ExchangeState, Position, Reserve
from netclear.errors import InvalidAction
from netclear.fixedpoint import PX_DECIMALS, PX_SCALE, notional
from netclear.lending.rates import value_of
from netclear.margin import portfolio as pm_rules
from netclear.margin import standard as std_rules
from netclear.margin import unified as unified_rules
from netclear.markets.registry import Perp, Registry, Token


@dataclass(slots=True)
class PositionValue:
    perp: Perp
    position: Position
    mark: int
    ntl: int  # signed szi * mark, collateral wei (floor)
    im: int
    mm: int

    @property
    def abs_ntl(self) -> int:
        return abs(self.ntl)


class PoolKey:
    """Which cross margin pool: a standard account's dex (``dex``, by name; ``""`` is the first dex) or a
    unified / portfolio-margin account's collateral token (``token``, by index). Exactly one is set.

    Built by :func:`netclear.engine.health.pool_key` from a perp and the account mode, or by
    :meth:`of_dex` / :meth:`of_token` where the pool is named directly (Hyperliquid docs 'Account
    abstraction modes': standard margins each dex apart, unified shares margin per collateral token).
    Immutable and interned: equal keys are the same object, so equality and hashing are identity's (the
    margin path looks pools up several times per fill).
    """

    __slots__ = ("dex", "raw", "token")
    dex: str | None
    token: int | None
    raw: str | int
    """The dex name or token index (the key of :meth:`Valuer.cross_pools` and of the views)."""

    def __new__(cls, dex: str | None = None, token: int | None = None) -> PoolKey:
        known = _POOL_KEYS.get((dex, token))
        if known is not None:
            return known
        if (dex is None) == (token is None):
            raise ValueError("a pool key names a dex or a token, not both or neither")
        key = object.__new__(cls)
        object.__setattr__(key, "dex", dex)
        object.__setattr__(key, "token", token)
        object.__setattr__(key, "raw", dex if dex is not None else token)
        _POOL_KEYS[(dex, token)] = key
        return key

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PoolKey is immutable")

    def __reduce__(self) -> tuple[type[PoolKey], tuple[str | None, int | None]]:
        return (PoolKey, (self.dex, self.token))

    def __copy__(self) -> PoolKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> PoolKey:
        return self

    @staticmethod
    def of_dex(name: str) -> PoolKey:
        key = _POOL_KEYS.get((name, None))
        return key if key is not None else PoolKey(dex=name)

    @staticmethod
    def of_token(index: int) -> PoolKey:
        key = _POOL_KEYS.get((None, index))
        return key if key is not None else PoolKey(token=index)

    def __str__(self) -> str:
        return str(self.raw)

    def __repr__(self) -> str:
        return f"PoolKey(dex={self.dex!r})" if self.dex is not None else f"PoolKey(token={self.token!r})"


_POOL_KEYS: dict[tuple[str | None, int | None], PoolKey] = {}


@dataclass(slots=True)
class MarginPool:
    """Cash plus cross positions that share margin."""

    key: PoolKey
    token: Token
    cash: int = 0
    ntl: int = 0
    total_ntl: int = 0
    im: int = 0
    mm: int = 0
    positions: list[PositionValue] = field(default_factory=list)

    @property
    def account_value(self) -> int:
        """``totalRawUsd + Σ szi * markPx`` (Hyperliquid docs 'Info endpoint: Perpetuals')."""
        return self.cash + self.ntl

    def add(self, pv: PositionValue) -> None:
        self.ntl += pv.ntl
        self.total_ntl += pv.abs_ntl
        self.im += pv.im
        self.mm += pv.mm
        self.positions.append(pv)


@dataclass(slots=True)
class IsolatedValue:
    value: PositionValue

    @property
    def margin_used(self) -> int:
        return std_rules.isolated_margin_used(self.value.position.raw_usd, self.value.ntl)


class PmLegs:
    """Inputs and result of the portfolio margin ratio: integer legs (USDC wei, decided on) and, for
    views, the same terms as exact ``Fraction``s (:class:`netclear.margin.portfolio.BorrowableLeg`)."""

    __slots__ = ("_collateral", "_legs", "collateral_values", "den", "num", "quote_unit", "reg", "values")

    def __init__(
        self,
        reg: Registry,
        values: list[pm_rules.LegValue],
        collateral_values: list[pm_rules.CollateralValue],
        ratio: tuple[int, int],
    ) -> None:
        self.reg = reg
        self.quote_unit = reg.quote.unit
        self.values = values
        self.collateral_values = collateral_values
        self.num, self.den = ratio
        self._legs: list[pm_rules.BorrowableLeg] | None = None
        self._collateral: list[pm_rules.CollateralHolding] | None = None

    @property
    def pm_ratio(self) -> pm_rules.PmRatio:
        return pm_rules.PmRatio(self.num, self.den)

    @property
    def ratio(self) -> Fraction:
        """The PMR for display, exact from the integer requirement and liquidation value."""
        return Fraction(self.num, self.den)

    def liquidatable(self, threshold: Fraction) -> bool:
        return pm_rules.ratio_exceeds(self.num, self.den, threshold)

    @property
    def legs(self) -> list[pm_rules.BorrowableLeg]:
        if self._legs is None:
            out = []
            for lv in self.values:
                unit = self.reg.tokens[lv.token].unit
                price = lv.px.per_token(unit, self.quote_unit)
                out.append(
                    pm_rules.BorrowableLeg(
                        lv.token,
                        Fraction(lv.balance_wei, unit) * price,
                        Fraction(lv.maintenance_wei, unit) * price,
                        Fraction(lv.borrowed_wei, unit),
                        price,
                        Fraction(lv.borrow_cap_wei, unit),
                    )
                )
            self._legs = out
        return self._legs

    @property
    def collateral(self) -> list[pm_rules.CollateralHolding]:
        if self._collateral is None:
            self._collateral = [_holding(self.reg, c) for c in self.collateral_values]
        return self._collateral


def _holding(reg: Registry, c: pm_rules.CollateralValue) -> pm_rules.CollateralHolding:
    unit = reg.tokens[c.token].unit
    return pm_rules.CollateralHolding(
        c.token,
        Fraction(c.balance, unit),
        Fraction(c.supply_cap, unit),
        c.px.per_token(unit, reg.quote.unit),
        c.ltv,
    )


_PxKey = tuple[int, int, int | None, int | None, int | None, int]
_PX_CACHE: dict[_PxKey, pm_rules.Px] = {}
_PX_CACHE_LIMIT = 4096
"""``borrow_oracle_price`` memo keyed by every input it depends on (units and the raw prices), so it
never needs invalidating: a price change is a new key (docs/rules/portfolio-margin.md)."""


def _median_px(key: _PxKey) -> pm_rules.Px:
    """``median`` of the present inputs (a pair's mean with two), as USDC wei per token wei."""
    wei_decimals, quote_decimals, spot, mark, oracle, usdc = key
    # every input over the common denominator PX_SCALE * usdc_oracle: spot / PX_SCALE and
    # mark / usdc_oracle (= mark / PX_SCALE x USDT_USDC with USDT_USDC = PX_SCALE / usdc_oracle)
    if (mark is not None or oracle is not None) and usdc <= 0:
        raise InvalidAction("prices", "the USDC oracle price must be positive")
    usdc = usdc or 1  # no perp input: the spot price alone, over PX_SCALE
    scale = PX_SCALE * usdc
    inputs = []
    if spot is not None:
        inputs.append(spot * usdc)
    if mark is not None:
        inputs.append(mark * PX_SCALE)
    if oracle is not None:
        inputs.append(oracle * PX_SCALE)
    inputs.sort()
    n = len(inputs)
    if n % 2:
        num, den = inputs[n // 2], scale
    else:
        num, den = inputs[n // 2 - 1] + inputs[n // 2], 2 * scale
    num *= 10**quote_decimals
    den *= 10**wei_decimals
    g = gcd(num, den)
    return pm_rules.Px(num // g, den // g)


class Valuer:
    """Values accounts against the registry and the current prices."""

    __slots__ = ("reg", "state")

    def __init__(self, reg: Registry, state: ExchangeState) -> None:
        self.reg = reg
        self.state = state

    # ------------------------------------------------------------------ prices
    def mark(self, asset: int) -> int:
        prices = self.state.prices
        px = prices.mark.get(asset) or prices.oracle.get(asset)
        if px is None:
            raise InvalidAction("prices", f"no mark or oracle price for {self.reg.perp(asset).name}")
        return px

    def has_price(self, asset: int) -> bool:
        return asset in self.state.prices.mark or asset in self.state.prices.oracle

    def token_px(self, token: Token) -> pm_rules.Px:
        """``borrow_oracle_price``: median(HL spot price, perp mark x USDT_USDC, perp oracle x USDT_USDC).

        Hyperliquid docs 'Portfolio margin'. Missing inputs are left out of the median
        (docs/rules/portfolio-margin.md); USDC is 1 by definition. Returns the exact price as USDC wei
        per wei of the token, memoized by its inputs.
        """
        reg = self.reg
        quote = reg.quote
        if token.index == quote.index:
            return pm_rules.ONE
        prices = self.state.prices
        spot = prices.spot.get(token.spot_pair) if token.spot_pair is not None else None
        mark = oracle = None
        usdc = 0
        if token.perp is not None:
            perp = reg.perp_by_name.get(token.perp) or reg.perp(token.perp)
            asset = perp.asset
            mark = prices.mark.get(asset)
            oracle = prices.oracle.get(asset)
            usdc = prices.usdc_oracle
        key = (token.wei_decimals, quote.wei_decimals, spot, mark, oracle, usdc)
        px = _PX_CACHE.get(key)
        if px is None:
            if spot is None and mark is None and oracle is None:
                raise InvalidAction("prices", f"no price for token {token.name}")
            if len(_PX_CACHE) >= _PX_CACHE_LIMIT:
                _PX_CACHE.clear()
            px = _PX_CACHE[key] = _median_px(key)
        return px

    def token_price(self, token: Token) -> Fraction:
        """``borrow_oracle_price`` in USDC per whole token (exact; see :meth:`token_px`)."""
        if token.index == self.reg.quote.index:
            return Fraction(1)
        return self.token_px(token).per_token(token.unit, self.reg.quote.unit)

    def token_price_or_none(self, token: Token) -> Fraction | None:
        try:
            return self.token_price(token)
        except InvalidAction:
            return None

    def usdc_value(self, token: Token, wei: int) -> Fraction:
        """Whole USDC worth of ``wei`` of ``token`` (exact)."""
        if wei == 0:
            return Fraction(0)
        px = self.token_px(token)
        return Fraction(wei * px.num, px.den * self.reg.quote.unit)

    def to_usdc_wei(self, token: Token, wei: int) -> int:
        """USDC wei worth of an amount, rounded down."""
        return self.token_px(token).floor(wei)

    def to_usdc_wei_ceil(self, token: Token, wei: int) -> int:
        """USDC wei worth of an amount, rounded up."""
        return self.token_px(token).ceil(wei)

    # ------------------------------------------------------------------ positions
    def position_value(self, pos: Position, perp: Perp | None = None) -> PositionValue:
        perp = perp or self.reg.perps[pos.asset]
        mark = self.mark(pos.asset)
        coll = perp.collateral
        ntl = notional(pos.szi, mark, perp.sz_decimals, coll.wei_decimals)
        abs_ntl = abs(ntl)
        im = std_rules.initial_margin(abs_ntl, pos.leverage)
        mm = std_rules.maintenance_margin(abs_ntl, perp.table, coll.unit)
        return PositionValue(perp, pos, mark, ntl, im, mm)

    def open_positions(self, acct: Account) -> list[PositionValue]:
        return [self.position_value(p) for p in acct.positions.values() if p.szi != 0]

    # ------------------------------------------------------------------ pools
    def pools(self, acct: Account) -> dict[PoolKey, MarginPool]:
        """Margin pools of the account: one per dex (standard) or per collateral token (unified, PM).

        Callers that decide (margin checks, liquidation, free balance) read them through
        :class:`netclear.engine.health.AccountHealth`, which builds them once per action.
        """
        pools: dict[PoolKey, MarginPool] = {}
        unified = acct.mode.unified
        if unified:
            for dex in self.reg.dexes:
                tok = dex.collateral
                key = PoolKey.of_token(tok.index)
                if key not in pools:
                    pools[key] = MarginPool(key, tok, cash=acct.spot.get(tok.index, 0))
        else:
            for dex in self.reg.dexes:
                key = PoolKey.of_dex(dex.name)
                pools[key] = MarginPool(key, dex.collateral, cash=acct.perp_cash.get(dex.name, 0))
        perps = self.reg.perps
        for pos in acct.positions.values():
            if pos.szi == 0 or not pos.is_cross:
                continue
            perp = perps[pos.asset]
            pv = self.position_value(pos, perp)
            pools[PoolKey.of_token(perp.collateral.index) if unified else PoolKey.of_dex(perp.dex.name)].add(
                pv
            )
        return pools

    def cross_pools(self, acct: Account) -> dict[str | int, MarginPool]:
        """:meth:`pools` keyed by dex name (standard) or collateral token index (unified), for readers that
        value rather than decide (views, the portfolio-margin model)."""
        return {key.raw: pool for key, pool in self.pools(acct).items()}

    def dex_pool(self, acct: Account, dex_name: str) -> MarginPool:
        """The cross pool of one dex as its ``clearinghouseState`` reports it (standard layout)."""
        dex = self.reg.dex(dex_name)
        key = PoolKey.of_dex(dex.name)
        pool = MarginPool(key, dex.collateral, cash=acct.perp_cash.get(dex.name, 0))
        for pos in acct.positions.values():
            if pos.szi == 0 or not pos.is_cross or self.reg.perps[pos.asset].dex.name != dex.name:
                continue
            pool.add(self.position_value(pos))
        return pool

    def isolated(
        self, acct: Account, *, token: int | None = None, dex: str | None = None
    ) -> list[IsolatedValue]:
        out = []
        for pos in acct.positions.values():
            if pos.szi == 0 or pos.is_cross:
                continue
            perp = self.reg.perps[pos.asset]
            if token is not None and perp.collateral.index != token:
                continue
            if dex is not None and perp.dex.name != dex:
                continue
            out.append(IsolatedValue(self.position_value(pos, perp)))
        return out

    # ------------------------------------------------------------------ lending
    def reserve(self, token: int) -> Reserve | None:
        return self.state.reserves.get(token)

    def supplied(self, acct: Account, token: int) -> int:
        basis = acct.supply_basis.get(token, 0)
        if not basis:
            return 0
        res = self.state.reserves[token]
        return value_of(basis, res.supply_index, debt=False)

    def borrowed(self, acct: Account, token: int) -> int:
        basis = acct.borrow_basis.get(token, 0)
        if not basis:
            return 0
        res = self.state.reserves[token]
        return value_of(basis, res.borrow_index, debt=True)

    def liquid(self, acct: Account, token: int, pools: dict[str | int, MarginPool] | None = None) -> int:
        """Unified balance of a collateral token: spot cash plus its cross positions' value."""
        pools = pools if pools is not None else self.cross_pools(acct)
        pool = pools.get(token)
        return pool.account_value if pool is not None else acct.spot.get(token, 0)

    def hold(self, acct: Account, token: int, pools: dict[str | int, MarginPool] | None = None) -> int:
        """Balance in use: cross initial margin of the token's pool, resting perp orders' margin and
        resting spot orders."""
        pools = pools if pools is not None else self.cross_pools(acct)
        pool = pools.get(token)
        im = pool.im + self.order_margin(acct, token) if pool is not None and acct.mode.unified else 0
        return im + acct.spot_hold.get(token, 0)

    def order_margin(self, acct: Account, key: PoolKey | str | int) -> int:
        """Initial margin reserved by resting perp orders of a pool (dex name or collateral token).

        Per asset the larger of the buy-side and sell-side reservations counts (docs/rules/orders.md).
        """
        if not acct.order_margin:
            return 0
        if isinstance(key, PoolKey):
            key = key.raw
        total = 0
        for asset, (buy, sell) in acct.order_margin.items():
            perp = self.reg.perps[asset]
            if (perp.dex.name if isinstance(key, str) else perp.collateral.index) == key:
                total += max(buy, sell)
        return total

    # ------------------------------------------------------------------ portfolio margin
    def collateral_values(self, acct: Account) -> list[pm_rules.CollateralValue]:
        """Supplied PM collateral in USDC wei (rounded down, docs/rules/portfolio-margin.md)."""
        out: list[pm_rules.CollateralValue] = []
        pm = self.reg.pm
        if pm is None or not acct.supply_basis:
            return out
        for token, params in pm.collateral.items():
            supplied = self.supplied(acct, token)
            if supplied <= 0:
                continue
            px = self.token_px(params.token)
            out.append(pm_rules.collateral_value(token, supplied, params.user_supply_cap, px, params.ltv))
        return out

    def collateral_holdings(self, acct: Account) -> list[pm_rules.CollateralHolding]:
        """Supplied PM collateral as exact whole-token amounts (views)."""
        return [_holding(self.reg, c) for c in self.collateral_values(acct)]

    def pm_legs(self, acct: Account, pools: dict[str | int, MarginPool] | None = None) -> PmLegs:
        """Inputs of the portfolio margin ratio, Hyperliquid docs 'Portfolio margin' with DESIGN's readings.

        ``portfolio_balance(token)`` = free spot + supplied + cross perp account value of the dexes
        collateralised by the token; the maintenance term sums those dexes' cross maintenance. Integer
        USDC wei, rounded toward the house (docs/rules/portfolio-margin.md).
        """
        pm = self.reg.pm
        assert pm is not None
        pools = pools if pools is not None else self.cross_pools(acct)
        legs: list[pm_rules.LegValue] = []
        for token, params in pm.borrowable.items():
            pool = pools.get(token)
            liquid = pool.account_value if pool is not None else acct.spot.get(token, 0)
            mm = pool.mm if pool is not None else 0
            if not (liquid or mm or token in acct.supply_basis or token in acct.borrow_basis):
                continue  # the token plays no part in this account: its ratio term is 0
            legs.append(
                pm_rules.leg_value(
                    token,
                    self.token_px(params.token),
                    liquid + self.supplied(acct, token),
                    mm,
                    self.borrowed(acct, token),
                    params.user_borrow_cap,
                )
            )
        collateral = self.collateral_values(acct)
        ratio = pm_rules.margin_ratio(legs, collateral, self.min_borrow_offset_wei())
        return PmLegs(self.reg, legs, collateral, ratio)

    def min_borrow_offset_wei(self) -> int:
        """``min_borrow_offset`` in USDC wei, rounded up (a requirement)."""
        pm = self.reg.pm
        assert pm is not None
        off = pm.min_borrow_offset
        return -(-off.numerator * self.reg.quote.unit // off.denominator)

    def borrowed_value_wei(self, acct: Account) -> int:
        """USDC wei value of all borrows, each token's rounded up."""
        pm = self.reg.pm
        if pm is None or not acct.borrow_basis:
            return 0
        total = 0
        for token, params in pm.borrowable.items():
            b = self.borrowed(acct, token)
            if b:
                total += self.token_px(params.token).ceil(b)
        return total

    def borrowing_power_wei(self, acct: Account) -> int:
        """``Σ_c counted x price x LTV`` in USDC wei, each collateral's term rounded down."""
        return pm_rules.borrowing_power_wei(self.collateral_values(acct))

    def borrowed_value(self, acct: Account) -> Fraction:
        """USDC value of all borrows (display: :meth:`borrowed_value_wei` in whole USDC)."""
        return Fraction(self.borrowed_value_wei(acct), self.reg.quote.unit)

    def borrowing_power(self, acct: Account) -> Fraction:
        """Borrowing power in whole USDC (display: :meth:`borrowing_power_wei` in whole USDC)."""
        return Fraction(self.borrowing_power_wei(acct), self.reg.quote.unit)

    # ------------------------------------------------------------------ account-level
    def unified_ratio(self, acct: Account, pools: dict[str | int, MarginPool] | None = None) -> Fraction:
        """Unified account ratio (Hyperliquid docs 'Account abstraction modes')."""
        pools = pools if pools is not None else self.cross_pools(acct)
        mm: dict[int, int] = {}
        available: dict[int, int] = {}
        for key, pool in pools.items():
            assert isinstance(key, int)
            mm[key] = pool.mm
            # The published code takes spotTotal (which includes isolated margin) minus isolated
            # marginUsed; here isolated margin already lives in the positions, so the pool's value
            # is that difference.
            available[key] = pool.account_value
        return unified_rules.unified_account_ratio(mm, available)

    def account_value_usdc(self, acct: Account) -> Fraction:
        """Everything the account owns net of debts, in USDC (PM eligibility, Hyperliquid docs 'Portfolio
        margin'). Exact: amounts are summed per token in wei, then valued once per token."""
        per_token: dict[int, int] = {}
        pools = self.cross_pools(acct)
        counted: set[int] = set()
        if acct.mode.unified:
            for key, pool in pools.items():
                assert isinstance(key, int)
                counted.add(key)
                per_token[pool.token.index] = per_token.get(pool.token.index, 0) + pool.account_value
        else:
            for pool in pools.values():
                per_token[pool.token.index] = per_token.get(pool.token.index, 0) + pool.account_value
        for token, bal in acct.spot.items():
            if token in counted or bal == 0:
                continue
            per_token[token] = per_token.get(token, 0) + bal
        for iso in self.isolated(acct):
            idx = iso.value.perp.collateral.index
            per_token[idx] = per_token.get(idx, 0) + iso.margin_used
        for token in set(acct.supply_basis) | set(acct.borrow_basis):
            per_token[token] = (
                per_token.get(token, 0) + self.supplied(acct, token) - self.borrowed(acct, token)
            )
        total = Fraction(0)
        for token, wei in per_token.items():
            if wei:
                total += self.usdc_value(self.reg.tokens[token], wei)
        return total

    def weighted_volume(self, acct: Account, days: int, spot_weight: Fraction | Decimal) -> Fraction:
        """14-day weighted volume (perps + 2 x spot) in USDC, Hyperliquid docs 'Fees'."""
        weight = Fraction(spot_weight)
        today = self.state.time_ms // 86_400_000
        perp_total = spot_total = 0
        for day, (perp_v, spot_v) in acct.volume_days.items():
            if today - days < day <= today:
                perp_total += perp_v
                spot_total += spot_v
        return (perp_total + weight * spot_total) / self.reg.quote.unit


def unrealized_pnl(pv: PositionValue) -> int:
    """``szi x (mark - entryPx)`` in collateral wei (Hyperliquid docs 'Entry price and PnL'), from the stored
    entry notional."""
    pos, perp = pv.position, pv.perp
    entry_value = pos.entry_ntl * perp.collateral.unit // int(10 ** (perp.sz_decimals + PX_DECIMALS))
    return int(pv.ntl - (entry_value if pos.szi > 0 else -entry_value))
