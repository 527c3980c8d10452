"""The immutable market registry built from a validated config.

Asset ids follow Hyperliquid (Hyperliquid docs 'Asset IDs'): perps of the first dex are
their index in ``meta.universe``; spot pairs are ``10000 + index``; builder (HIP-3) dex ``i`` (1-based)
uses ``100000 + i * 10000 + index_in_meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from netclear.config.models import ExchangeConfig
from netclear.errors import ConfigError, UnknownEntity
from netclear.fixedpoint import to_fraction
from netclear.margin.scenario import Offset, RiskClass, ScenarioParams

SPOT_ASSET_OFFSET = 10_000
BUILDER_DEX_OFFSET = 100_000
BUILDER_DEX_STRIDE = 10_000


@dataclass(frozen=True, slots=True)
class Token:
    index: int
    name: str
    sz_decimals: int
    wei_decimals: int
    full_name: str | None = None
    token_id: str | None = None
    spot_pair: int | None = None
    perp: str | None = None

    @property
    def unit(self) -> int:
        return int(10**self.wei_decimals)


@dataclass(frozen=True, slots=True)
class SpotPair:
    index: int
    name: str
    base: Token
    quote: Token

    @property
    def asset(self) -> int:
        return SPOT_ASSET_OFFSET + self.index

    @property
    def sz_decimals(self) -> int:
        return self.base.sz_decimals

    @property
    def max_px_decimals(self) -> int:
        return max(0, 8 - self.base.sz_decimals)


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One tier: ``mmr = 1 / (2 * max_leverage)``; deduction keeps MM continuous (Hyperliquid docs 'Margin
    tiers')."""

    lower_bound: Fraction  # USD of the dex collateral
    max_leverage: int
    mmr: Fraction
    deduction: Fraction  # USD


@dataclass(frozen=True, slots=True)
class MarginTable:
    id: int
    description: str
    tiers: tuple[MarginTier, ...]
    _int_cache: dict[int, tuple[tuple[int, int, int], ...] | None] = field(
        default_factory=dict, compare=False
    )

    def int_tiers(self, unit: int) -> tuple[tuple[int, int, int], ...] | None:
        """Tiers as integers in wei of a collateral with ``unit`` = 10**weiDecimals:
        ``(lower_bound_wei, 2 x max_leverage, deduction_wei)``, or None if a bound or deduction is
        not a whole wei (then callers use the exact Fraction path)."""
        cached = self._int_cache.get(unit, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        out: list[tuple[int, int, int]] | None = []
        for t in self.tiers:
            lb, ded = t.lower_bound * unit, t.deduction * unit
            if lb.denominator != 1 or ded.denominator != 1 or t.mmr.numerator != 1:
                out = None
                break
            assert out is not None
            out.append((int(lb), t.mmr.denominator, int(ded)))
        result = tuple(out) if out is not None else None
        self._int_cache[unit] = result
        return result

    def tier_for(self, notional_usd: Fraction) -> MarginTier:
        """The tier whose range contains ``notional_usd``; a bound belongs to the lower tier (">150M")."""
        chosen = self.tiers[0]
        for tier in self.tiers[1:]:
            if notional_usd > tier.lower_bound:
                chosen = tier
            else:
                break
        return chosen

    def tier_for_wei(self, notional_wei: int, unit: int) -> MarginTier:
        """:meth:`tier_for` of ``notional_wei / unit`` (a collateral with ``unit`` = 10**weiDecimals) by
        integer cross-multiplication, without building the Fraction: the same tier."""
        chosen = self.tiers[0]
        for tier in self.tiers[1:]:
            lb = tier.lower_bound
            if notional_wei * lb.denominator > lb.numerator * unit:
                chosen = tier
            else:
                break
        return chosen

    @property
    def max_leverage(self) -> int:
        return self.tiers[0].max_leverage


def build_margin_table(table_id: int, description: str, bounds: list[tuple[Fraction, int]]) -> MarginTable:
    """Rates and deductions from (lower_bound, max_leverage) pairs, Hyperliquid docs 'Margin tiers'."""
    tiers: list[MarginTier] = []
    prev_mmr = Fraction(0)
    deduction = Fraction(0)
    for i, (lower, lev) in enumerate(bounds):
        mmr = Fraction(1, 2 * lev)
        if i > 0:
            deduction = deduction + lower * (mmr - prev_mmr)
        tiers.append(MarginTier(lower, lev, mmr, deduction))
        prev_mmr = mmr
    return MarginTable(table_id, description, tuple(tiers))


@dataclass(frozen=True, slots=True)
class Dex:
    index: int
    name: str
    full_name: str
    collateral: Token
    deployer: str | None
    funding_multiplier: Fraction
    interest_rate_8h: Fraction | None

    @property
    def is_builder(self) -> bool:
        return self.index > 0


@dataclass(frozen=True, slots=True)
class Perp:
    asset: int
    dex: Dex
    index_in_dex: int
    name: str  # wire name: "BTC", or "xyz:XYZ100" on a builder dex
    sz_decimals: int
    max_leverage: int
    table: MarginTable
    margin_mode: str
    impact_notional: Fraction
    is_delisted: bool

    @property
    def max_px_decimals(self) -> int:
        return max(0, 6 - self.sz_decimals)

    @property
    def only_isolated(self) -> bool:
        return self.margin_mode != "normal"

    @property
    def collateral(self) -> Token:
        return self.dex.collateral


@dataclass(frozen=True, slots=True)
class RateCurve:
    """Borrow APY ``base + slope * max(0, U - kink)`` (Hyperliquid docs 'Portfolio margin')."""

    base: Fraction
    kink: Fraction
    slope: Fraction

    def borrow_rate(self, utilization: Fraction) -> Fraction:
        return self.base + self.slope * max(Fraction(0), utilization - self.kink)


@dataclass(frozen=True, slots=True)
class BorrowableParams:
    token: Token
    curve: RateCurve
    reserve_cut: Fraction
    global_supply_cap: int  # wei
    global_borrow_cap: int
    user_supply_cap: int
    user_borrow_cap: int


@dataclass(frozen=True, slots=True)
class CollateralParams:
    token: Token
    ltv: Fraction
    global_supply_cap: int
    user_supply_cap: int
    liquidation_width: Fraction

    @property
    def liquidation_threshold(self) -> Fraction:
        """``0.5 + 0.5 * LTV`` (Hyperliquid docs 'Portfolio margin')."""
        return Fraction(1, 2) + self.ltv / 2


@dataclass(frozen=True, slots=True)
class PortfolioMarginParams:
    enabled: bool
    min_borrow_offset: Fraction  # USDC
    liquidation_ratio: Fraction
    partial_threshold_fraction: Fraction
    full_threshold_fraction: Fraction
    takeover_step: Fraction
    twap_half_life_s: int
    borrowable: dict[int, BorrowableParams]
    collateral: dict[int, CollateralParams]
    min_weighted_volume: Fraction
    min_account_value: Fraction | None
    max_account_value: Fraction | None
    backstop_address: str
    model: str = "hyperliquid"
    """``hyperliquid`` (the PMR) or ``scenario`` (``margin/scenario.py``) for portfolio-margin accounts."""
    scenario: ScenarioParams | None = None

    def threshold(self, ltv: Fraction, fraction: Fraction) -> Fraction:
        """FAQ borrow-liquidation threshold as a share of collateral value: ``LTV + (1 - LTV) * f``."""
        return ltv + (1 - ltv) * fraction


@dataclass(frozen=True, slots=True)
class FeeTier:
    min_volume: Fraction
    taker: Fraction
    maker: Fraction


@dataclass(slots=True)
class Registry:
    """Lookups over the configured universe. Built once; never mutated after construction."""

    config: ExchangeConfig
    tokens: dict[int, Token] = field(default_factory=dict)
    token_by_name: dict[str, Token] = field(default_factory=dict)
    spot_pairs: dict[int, SpotPair] = field(default_factory=dict)  # by pair index
    spot_by_name: dict[str, SpotPair] = field(default_factory=dict)
    margin_tables: dict[int, MarginTable] = field(default_factory=dict)
    dexes: list[Dex] = field(default_factory=list)
    dex_by_name: dict[str, Dex] = field(default_factory=dict)
    perps: dict[int, Perp] = field(default_factory=dict)  # by asset id
    perp_by_name: dict[str, Perp] = field(default_factory=dict)
    perps_by_dex: dict[str, list[Perp]] = field(default_factory=dict)
    pm: PortfolioMarginParams | None = None
    usdc: Token | None = None
    usdc_oracle_price: Fraction = Fraction(1)
    transfer_min_ntl_fraction: Fraction = Fraction(1, 10)
    perp_fee_tiers: tuple[FeeTier, ...] = ()
    spot_fee_tiers: tuple[FeeTier, ...] = ()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg: ExchangeConfig, *, source: str = "config") -> Registry:
        reg = cls(config=cfg)

        def fail(key: str, reason: str) -> ConfigError:
            return ConfigError(f"{source}: {key}", reason)

        for i, t in enumerate(cfg.tokens):
            if t.index in reg.tokens:
                raise fail(f"tokens[{i}].index", f"duplicate token index {t.index}")
            if t.name in reg.token_by_name:
                raise fail(f"tokens[{i}].name", f"duplicate token name {t.name!r}")
            tok = Token(
                t.index, t.name, t.sz_decimals, t.wei_decimals, t.full_name, t.token_id, t.spot_pair, t.perp
            )
            reg.tokens[t.index] = tok
            reg.token_by_name[t.name] = tok
        if "USDC" not in reg.token_by_name:
            raise fail("tokens", "USDC must be configured (it is the quote and settlement asset)")
        reg.usdc = reg.token_by_name["USDC"]
        reg.usdc_oracle_price = Fraction(cfg.usdc_oracle_price)
        if reg.usdc_oracle_price <= 0:
            raise fail("usdc_oracle_price", "must be positive")

        for i, sp in enumerate(cfg.spot_pairs):
            for side in ("base", "quote"):
                if getattr(sp, side) not in reg.token_by_name:
                    raise fail(f"spot_pairs[{i}].{side}", f"unknown token {getattr(sp, side)!r}")
            if sp.index in reg.spot_pairs:
                raise fail(f"spot_pairs[{i}].index", f"duplicate spot pair index {sp.index}")
            if sp.base == sp.quote:
                raise fail(f"spot_pairs[{i}]", "base and quote must differ")
            base, quote = reg.token_by_name[sp.base], reg.token_by_name[sp.quote]
            if quote.wei_decimals < 8 - base.sz_decimals:
                # spot prices have up to 8 - szDecimals decimals; px * sz must be exact in quote wei
                pass
            name = sp.name or f"@{sp.index}"
            pair = SpotPair(sp.index, name, base, quote)
            reg.spot_pairs[sp.index] = pair
            reg.spot_by_name[name] = pair
            reg.spot_by_name.setdefault(f"{base.name}/{quote.name}", pair)

        for i, t in enumerate(cfg.tokens):
            if t.spot_pair is not None and t.spot_pair not in reg.spot_pairs:
                raise fail(f"tokens[{i}].spot_pair", f"unknown spot pair index {t.spot_pair}")

        for i, mt in enumerate(cfg.margin_tables):
            if mt.id < 50:
                raise fail(f"margin_tables[{i}].id", "ids below 50 are reserved for single-tier tables")
            if mt.id in reg.margin_tables:
                raise fail(f"margin_tables[{i}].id", f"duplicate margin table id {mt.id}")
            reg.margin_tables[mt.id] = build_margin_table(
                mt.id, mt.description, [(Fraction(t.lower_bound), t.max_leverage) for t in mt.tiers]
            )

        for i, d in enumerate(cfg.dexes):
            if d.name in reg.dex_by_name:
                raise fail(f"dexes[{i}].name", f"duplicate dex {d.name!r}")
            if (i == 0) != (d.name == ""):
                raise fail(f"dexes[{i}].name", 'the first dex must be "" and only the first')
            if d.collateral not in reg.token_by_name:
                raise fail(f"dexes[{i}].collateral", f"unknown token {d.collateral!r}")
            if not 0 <= d.funding_multiplier <= 10:
                raise fail(f"dexes[{i}].funding_multiplier", "must be in [0, 10] (HIP-3)")
            dex = Dex(
                i,
                d.name,
                d.full_name,
                reg.token_by_name[d.collateral],
                d.deployer,
                Fraction(d.funding_multiplier),
                Fraction(d.interest_rate_8h) if d.interest_rate_8h is not None else None,
            )
            reg.dexes.append(dex)
            reg.dex_by_name[d.name] = dex
            reg.perps_by_dex[d.name] = []

        for i, p in enumerate(cfg.perps):
            key = f"perps[{i}]"
            if p.dex not in reg.dex_by_name:
                raise fail(f"{key}.dex", f"unknown dex {p.dex!r}")
            dex = reg.dex_by_name[p.dex]
            wire = p.name if dex.index == 0 else f"{dex.name}:{p.name}"
            if wire in reg.perp_by_name:
                raise fail(f"{key}.name", f"duplicate perp {wire!r}")
            if p.margin_table is None or p.margin_table < 50:
                lev = p.margin_table if p.margin_table is not None else p.max_leverage
                table = build_margin_table(lev, "", [(Fraction(0), lev)])
            elif p.margin_table not in reg.margin_tables:
                raise fail(f"{key}.margin_table", f"unknown margin table {p.margin_table}")
            else:
                table = reg.margin_tables[p.margin_table]
            if p.max_leverage > table.max_leverage:
                raise fail(f"{key}.max_leverage", f"exceeds its margin table's {table.max_leverage}x")
            if dex.is_builder:
                if len(table.tiers) > 3:
                    raise fail(f"{key}.margin_table", "HIP-3 margin tables have at most 3 tiers")
                if not 1 <= p.max_leverage <= 50:
                    raise fail(f"{key}.max_leverage", "HIP-3 max leverage must be in [1, 50]")
            idx = len(reg.perps_by_dex[p.dex])
            asset = idx if dex.index == 0 else BUILDER_DEX_OFFSET + dex.index * BUILDER_DEX_STRIDE + idx
            perp = Perp(
                asset,
                dex,
                idx,
                wire,
                p.sz_decimals,
                p.max_leverage,
                table,
                p.margin_mode,
                Fraction(p.impact_notional),
                p.is_delisted,
            )
            reg.perps[asset] = perp
            reg.perp_by_name[wire] = perp
            reg.perps_by_dex[p.dex].append(perp)

        for i, t in enumerate(cfg.tokens):
            if t.perp is not None and t.perp not in reg.perp_by_name:
                raise fail(f"tokens[{i}].perp", f"unknown perp {t.perp!r}")

        reg.pm = _build_pm(reg, cfg, fail)
        reg.transfer_min_ntl_fraction = Fraction(cfg.transfer_margin.min_ntl_fraction)
        reg.perp_fee_tiers = tuple(
            FeeTier(Fraction(t.min_volume), Fraction(t.taker), Fraction(t.maker)) for t in cfg.fees.perp_tiers
        )
        reg.spot_fee_tiers = tuple(
            FeeTier(Fraction(t.min_volume), Fraction(t.taker), Fraction(t.maker)) for t in cfg.fees.spot_tiers
        )
        return reg

    # ------------------------------------------------------------------ lookups
    def token(self, key: int | str, *, field: str = "token") -> Token:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise UnknownEntity(field, f"unknown token {key!r}")
        if isinstance(key, int):
            tok = self.tokens.get(key)
        else:
            tok = self.token_by_name.get(key)
            if tok is None and key.isascii() and key.isdigit() and len(key) < 10:
                tok = self.tokens.get(int(key))
        if tok is None:
            raise UnknownEntity(field, f"unknown token {key!r}")
        return tok

    def perp(self, key: int | str, *, field: str = "asset") -> Perp:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise UnknownEntity(field, f"unknown perp {key!r}")
        p = self.perps.get(key) if isinstance(key, int) else self.perp_by_name.get(key)
        if p is None:
            raise UnknownEntity(field, f"unknown perp {key!r}")
        return p

    def spot_pair(self, key: int | str, *, field: str = "asset") -> SpotPair:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise UnknownEntity(field, f"unknown spot pair {key!r}")
        if isinstance(key, int):
            pair = self.spot_pairs.get(key - SPOT_ASSET_OFFSET) if key >= SPOT_ASSET_OFFSET else None
        else:
            pair = self.spot_by_name.get(key)
        if pair is None:
            raise UnknownEntity(field, f"unknown spot pair {key!r}")
        return pair

    def dex(self, name: str, *, field: str = "dex") -> Dex:
        if not isinstance(name, str):
            raise UnknownEntity(field, f"unknown dex {name!r}")
        d = self.dex_by_name.get(name)
        if d is None:
            raise UnknownEntity(field, f"unknown dex {name!r}")
        return d

    def is_spot_asset(self, asset: int) -> bool:
        return SPOT_ASSET_OFFSET <= asset < BUILDER_DEX_OFFSET

    @property
    def quote(self) -> Token:
        assert self.usdc is not None
        return self.usdc

    def borrowable(self, token: int) -> BorrowableParams | None:
        return self.pm.borrowable.get(token) if self.pm else None

    def collateral(self, token: int) -> CollateralParams | None:
        return self.pm.collateral.get(token) if self.pm else None


def _build_pm(reg: Registry, cfg: ExchangeConfig, fail: object) -> PortfolioMarginParams:
    pmc = cfg.portfolio_margin

    def err(key: str, reason: str) -> ConfigError:
        assert callable(fail)
        result = fail(key, reason)
        assert isinstance(result, ConfigError)
        return result

    def wei(tok: Token, amount: object, key: str) -> int:
        frac = to_fraction(amount, field=key) * tok.unit
        if frac.denominator != 1:
            raise err(key, f"more decimals than {tok.name} allows ({tok.wei_decimals})")
        return int(frac)

    borrowable: dict[int, BorrowableParams] = {}
    for i, b in enumerate(pmc.borrowable):
        key = f"portfolio_margin.borrowable[{i}]"
        if b.token not in reg.token_by_name:
            raise err(f"{key}.token", f"unknown token {b.token!r}")
        tok = reg.token_by_name[b.token]
        if tok.index in borrowable:
            raise err(f"{key}.token", f"{b.token} listed twice")
        if b.user_borrow_cap > b.global_borrow_cap:
            raise err(f"{key}.user_borrow_cap", "must not exceed global_borrow_cap")
        if b.user_supply_cap > b.global_supply_cap:
            raise err(f"{key}.user_supply_cap", "must not exceed global_supply_cap")
        curve = RateCurve(
            Fraction(b.rate_curve.base), Fraction(b.rate_curve.kink), Fraction(b.rate_curve.slope)
        )
        borrowable[tok.index] = BorrowableParams(
            tok,
            curve,
            Fraction(b.reserve_cut),
            wei(tok, b.global_supply_cap, f"{key}.global_supply_cap"),
            wei(tok, b.global_borrow_cap, f"{key}.global_borrow_cap"),
            wei(tok, b.user_supply_cap, f"{key}.user_supply_cap"),
            wei(tok, b.user_borrow_cap, f"{key}.user_borrow_cap"),
        )
    collateral: dict[int, CollateralParams] = {}
    for i, c in enumerate(pmc.collateral):
        key = f"portfolio_margin.collateral[{i}]"
        if c.token not in reg.token_by_name:
            raise err(f"{key}.token", f"unknown token {c.token!r}")
        tok = reg.token_by_name[c.token]
        if tok.index in borrowable:
            raise err(f"{key}.token", f"{c.token} is borrowable; a token is either borrowable or collateral")
        if tok.index in collateral:
            raise err(f"{key}.token", f"{c.token} listed twice")
        if c.ltv >= 1:
            raise err(f"{key}.ltv", "must be below 1")
        if tok.spot_pair is None and tok.perp is None:
            raise err(
                f"{key}.token", f"{c.token} needs a spot_pair or perp to price it (borrow_oracle_price)"
            )
        if c.user_supply_cap > c.global_supply_cap:
            raise err(f"{key}.user_supply_cap", "must not exceed global_supply_cap")
        collateral[tok.index] = CollateralParams(
            tok,
            Fraction(c.ltv),
            wei(tok, c.global_supply_cap, f"{key}.global_supply_cap"),
            wei(tok, c.user_supply_cap, f"{key}.user_supply_cap"),
            Fraction(c.liquidation_width),
        )
    if pmc.enabled and borrowable and reg.usdc is not None and reg.usdc.index not in borrowable:
        pass  # allowed: a venue may lend only other stables
    full = pmc.full_threshold_fraction
    if not Fraction(pmc.partial_threshold_fraction) <= full <= 1:
        raise err("portfolio_margin.full_threshold_fraction", "must lie between the partial fraction and 1")
    el = pmc.eligibility
    return PortfolioMarginParams(
        enabled=pmc.enabled,
        min_borrow_offset=Fraction(pmc.min_borrow_offset),
        liquidation_ratio=Fraction(pmc.liquidation_ratio),
        partial_threshold_fraction=Fraction(pmc.partial_threshold_fraction),
        full_threshold_fraction=full,
        takeover_step=Fraction(pmc.takeover_step),
        twap_half_life_s=pmc.collateral_twap_half_life_s,
        borrowable=borrowable,
        collateral=collateral,
        min_weighted_volume=Fraction(el.min_weighted_volume),
        min_account_value=Fraction(el.min_account_value) if el.min_account_value is not None else None,
        max_account_value=Fraction(el.max_account_value) if el.max_account_value is not None else None,
        backstop_address=pmc.backstop_address.lower(),
        model=pmc.model,
        scenario=_build_scenario(reg, cfg, err),
    )


def _build_scenario(reg: Registry, cfg: ExchangeConfig, err: object) -> ScenarioParams:
    """Scenario margin parameters (docs/margin-models.md). De-peg tokens written in the preset must
    exist; the built-in defaults name tokens a preset may lack, and those are skipped."""
    sc = cfg.portfolio_margin.scenario
    explicit = "depeg" in sc.model_fields_set
    depeg: dict[str, Fraction] = {}
    for name, shock in sc.depeg.items():
        if name not in reg.token_by_name:
            if explicit:
                assert callable(err)
                raise err(f"portfolio_margin.scenario.depeg.{name}", f"unknown token {name!r}")
            continue
        depeg[name] = Fraction(shock)
    classes = {
        name: RiskClass(
            name,
            Fraction(rc.shock),
            Fraction(rc.extreme),
            Fraction(rc.basis),
            Fraction(rc.min_charge),
            Fraction(rc.concentration),
            Fraction(rc.depth),
        )
        for name, rc in sc.classes.items()
    }
    return ScenarioParams(
        classes=classes,
        unit_class={u: name for name, rc in sc.classes.items() for u in rc.units},
        default_class=sc.default_class,
        grid_points=sc.grid_points,
        extreme_weight=Fraction(sc.extreme_weight),
        initial_multiple=Fraction(sc.initial_multiple),
        depeg=depeg,
        offsets=tuple(Offset(o.units[0], o.units[1], Fraction(o.credit)) for o in sc.offsets),
        unit_aliases=dict(sc.unit_aliases),
        depth_source=sc.depth_source,
    )
