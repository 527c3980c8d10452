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


@dataclass(slots=True)
class PmLegs:
    legs: list[pm_rules.BorrowableLeg]
    collateral: list[pm_rules.CollateralHolding]
    ratio: Fraction


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

    def token_price(self, token: Token) -> Fraction:
        """``borrow_oracle_price``: median(HL spot price, perp mark x USDT_USDC, perp oracle x USDT_USDC).

        Hyperliquid docs 'Portfolio margin'. Missing inputs are left out of the median
        (docs/rules/portfolio-margin.md); USDC is 1 by definition. Returns USDC per whole token.
        """
        if token.index == self.reg.quote.index:
            return Fraction(1)
        prices = self.state.prices
        inputs: list[Fraction] = []
        if token.spot_pair is not None and token.spot_pair in prices.spot:
            inputs.append(Fraction(prices.spot[token.spot_pair], PX_SCALE))
        if token.perp is not None:
            perp = self.reg.perp(token.perp)
            usdt_usdc = Fraction(PX_SCALE, prices.usdc_oracle)
            if perp.asset in prices.mark:
                inputs.append(Fraction(prices.mark[perp.asset], PX_SCALE) * usdt_usdc)
            if perp.asset in prices.oracle:
                inputs.append(Fraction(prices.oracle[perp.asset], PX_SCALE) * usdt_usdc)
        if not inputs:
            raise InvalidAction("prices", f"no price for token {token.name}")
        inputs.sort()
        n = len(inputs)
        return inputs[n // 2] if n % 2 else (inputs[n // 2 - 1] + inputs[n // 2]) / 2

    def token_price_or_none(self, token: Token) -> Fraction | None:
        try:
            return self.token_price(token)
        except InvalidAction:
            return None

    def usdc_value(self, token: Token, wei: int) -> Fraction:
        """Whole USDC worth of ``wei`` of ``token``."""
        if wei == 0:
            return Fraction(0)
        return Fraction(wei, token.unit) * self.token_price(token)

    def to_usdc_wei(self, token: Token, wei: int) -> int:
        """USDC wei worth of an amount, rounded down."""
        v = self.usdc_value(token, wei) * self.reg.quote.unit
        return v.numerator // v.denominator

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
    def collateral_holdings(self, acct: Account) -> list[pm_rules.CollateralHolding]:
        out: list[pm_rules.CollateralHolding] = []
        pm = self.reg.pm
        if pm is None:
            return out
        for token, params in pm.collateral.items():
            supplied = self.supplied(acct, token)
            if supplied <= 0:
                continue
            tok = params.token
            out.append(
                pm_rules.CollateralHolding(
                    token,
                    Fraction(supplied, tok.unit),
                    Fraction(params.user_supply_cap, tok.unit),
                    self.token_price(tok),
                    params.ltv,
                )
            )
        return out

    def pm_legs(self, acct: Account, pools: dict[str | int, MarginPool] | None = None) -> PmLegs:
        """Inputs of the portfolio margin ratio, Hyperliquid docs 'Portfolio margin' with DESIGN's readings.

        ``portfolio_balance(token)`` = free spot + supplied + cross perp account value of the dexes
        collateralised by the token; the maintenance term sums those dexes' cross maintenance.
        """
        pm = self.reg.pm
        assert pm is not None
        pools = pools if pools is not None else self.cross_pools(acct)
        legs: list[pm_rules.BorrowableLeg] = []
        for token, params in pm.borrowable.items():
            tok = params.token
            pool = pools.get(token)
            liquid = pool.account_value if pool is not None else acct.spot.get(token, 0)
            mm = pool.mm if pool is not None else 0
            if not (liquid or mm or token in acct.supply_basis or token in acct.borrow_basis):
                continue  # the token plays no part in this account: its ratio term is 0
            price = self.token_price(tok)
            balance = Fraction(liquid + self.supplied(acct, token), tok.unit) * price
            legs.append(
                pm_rules.BorrowableLeg(
                    token,
                    balance,
                    Fraction(mm, tok.unit) * price,
                    Fraction(self.borrowed(acct, token), tok.unit),
                    price,
                    Fraction(params.user_borrow_cap, tok.unit),
                )
            )
        collateral = self.collateral_holdings(acct)
        ratio = pm_rules.portfolio_margin_ratio(legs, collateral, pm.min_borrow_offset)
        return PmLegs(legs, collateral, ratio)

    def borrowed_value(self, acct: Account) -> Fraction:
        """USDC value of all borrows."""
        pm = self.reg.pm
        if pm is None:
            return Fraction(0)
        total = Fraction(0)
        for token, params in pm.borrowable.items():
            b = self.borrowed(acct, token)
            if b:
                total += self.usdc_value(params.token, b)
        return total

    def borrowing_power(self, acct: Account) -> Fraction:
        return pm_rules.borrowing_power(self.collateral_holdings(acct))

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
        margin')."""
        total = Fraction(0)
        pools = self.cross_pools(acct)
        counted: set[int] = set()
        if acct.mode.unified:
            for key, pool in pools.items():
                assert isinstance(key, int)
                counted.add(key)
                total += self.usdc_value(pool.token, pool.account_value)
        else:
            for pool in pools.values():
                total += self.usdc_value(pool.token, pool.account_value)
        for token, bal in acct.spot.items():
            if token in counted or bal == 0:
                continue
            total += self.usdc_value(self.reg.tokens[token], bal)
        for iso in self.isolated(acct):
            total += self.usdc_value(iso.value.perp.collateral, iso.margin_used)
        for token in set(acct.supply_basis) | set(acct.borrow_basis):
            tok = self.reg.tokens[token]
            total += self.usdc_value(tok, self.supplied(acct, token) - self.borrowed(acct, token))
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
