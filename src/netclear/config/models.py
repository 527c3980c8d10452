"""Configuration schema (pydantic v2). Presets are TOML files validated against these models.

Amounts, prices and rates must be written as strings ("0.05", "1000000") or integers, never TOML
floats, so that no binary float ever enters the ledger (DESIGN rule 3). Every model forbids unknown
keys, so a typo fails at load with the key's path.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from netclear.errors import InvalidAmount
from netclear.fixedpoint import parse_decimal


def _exact_decimal(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('write decimals as strings (e.g. "0.05"), not TOML floats')
    if isinstance(value, bool):
        raise ValueError("expected a decimal string, got a boolean")
    if isinstance(value, int | str):  # the wire's number grammar and bounds (docs/api.md "Numbers")
        try:
            return parse_decimal(value, field="value")
        except InvalidAmount as exc:
            raise ValueError(exc.rule) from None
    return value


def _fraction(value: object) -> Fraction:
    if isinstance(value, float | bool):
        raise ValueError('write ratios as strings ("2/3" or "0.5"), not TOML floats')
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | Decimal):
        return Fraction(value)
    if isinstance(value, str):
        if len(value) > 80:
            raise ValueError("ratios are at most 80 characters")
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a ratio: {value!r}") from None
    raise ValueError(f"expected a ratio string, got {type(value).__name__}")


Dec = Annotated[Decimal, BeforeValidator(_exact_decimal)]
Frac = Annotated[Fraction, BeforeValidator(_fraction)]
NonNeg = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
Ratio = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class PresetInfo(_Model):
    name: str
    description: str = ""
    network: Literal["mainnet", "testnet"] = "mainnet"


class TokenConfig(_Model):
    index: int = Field(ge=0)
    name: str = Field(min_length=1)
    sz_decimals: int = Field(ge=0, le=8)
    wei_decimals: int = Field(ge=0, le=18)
    full_name: str | None = None
    token_id: str | None = None
    spot_pair: int | None = None
    """Index of the token's spot pair against USDC, for its HL spot price (borrow_oracle_price)."""
    perp: str | None = None
    """Core perp with the same underlying (UBTC -> BTC), for borrow_oracle_price."""

    @model_validator(mode="after")
    def _decimals(self) -> TokenConfig:
        if self.sz_decimals > self.wei_decimals:
            raise ValueError(
                f"sz_decimals ({self.sz_decimals}) must not exceed wei_decimals ({self.wei_decimals})"
            )
        return self


class SpotPairConfig(_Model):
    index: int = Field(ge=0)
    base: str
    quote: str
    name: str | None = None
    """Wire name; defaults to "@{index}" like Hyperliquid (only PURR/USDC is named by its tokens)."""


class MarginTierConfig(_Model):
    lower_bound: NonNeg
    max_leverage: int = Field(ge=1, le=200)


class MarginTableConfig(_Model):
    id: int = Field(ge=0)
    description: str = ""
    tiers: list[MarginTierConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers(self) -> MarginTableConfig:
        if self.tiers[0].lower_bound != 0:
            raise ValueError("the first tier must start at lower_bound 0")
        for prev, cur in zip(self.tiers, self.tiers[1:], strict=False):
            if cur.lower_bound <= prev.lower_bound:
                raise ValueError("tier lower bounds must increase")
            if cur.max_leverage > prev.max_leverage:
                raise ValueError("max leverage must not increase with tier")
        return self


class DexConfig(_Model):
    name: str
    """"" is the first, validator-operated dex; builder dexes (HIP-3) have short names like "xyz"."""
    full_name: str = ""
    collateral: str = "USDC"
    deployer: str | None = None
    funding_multiplier: Dec = Decimal(1)
    """HIP-3 deployer funding multiplier in [0, 10] (Hyperliquid docs 'HIP-3: Builder-deployed
    perpetuals')."""
    interest_rate_8h: Dec | None = None
    """HIP-3 deployer interest rate; None uses the funding default."""


class PerpConfig(_Model):
    dex: str = ""
    name: str
    sz_decimals: int = Field(ge=0, le=6)
    max_leverage: int = Field(ge=1, le=200)
    margin_table: int | None = None
    """Margin table id; None means the single-tier table equal to max_leverage (ids < 50)."""
    margin_mode: Literal["normal", "strictIsolated", "noCross"] = "normal"
    impact_notional: NonNeg = Decimal(6000)
    is_delisted: bool = False


class RateCurveConfig(_Model):
    """Borrow APY = base + slope * max(0, utilization - kink) (Hyperliquid docs 'Portfolio margin')."""

    base: NonNeg
    kink: Ratio
    slope: NonNeg


class BorrowableConfig(_Model):
    token: str
    rate_curve: RateCurveConfig
    reserve_cut: Ratio = Decimal("0.1")
    global_supply_cap: NonNeg
    global_borrow_cap: NonNeg
    user_supply_cap: NonNeg
    user_borrow_cap: NonNeg


class CollateralConfig(_Model):
    token: str
    ltv: Ratio
    global_supply_cap: NonNeg
    user_supply_cap: NonNeg
    liquidation_width: NonNeg = Decimal(0)
    """Slippage width for backstop takeover (Hyperliquid docs 'Portfolio margin'): 3M USDC for HYPE, 300k for
    BTC."""


class EligibilityConfig(_Model):
    """Gates for enabling portfolio margin (Hyperliquid docs 'Portfolio margin')."""

    min_weighted_volume: NonNeg = Decimal(5_000_000)
    min_account_value: NonNeg | None = None
    """Alternative to the volume gate; None means volume is the only way in (pre-alpha)."""
    max_account_value: NonNeg | None = Decimal(25_000_000)


class RiskClassConfig(_Model):
    """One asset class of the scenario margin model (docs/margin-models.md)."""

    shock: Ratio
    """Largest move of the price grid (OKX spot shock: BTC/ETH 0.12, mid caps 0.18, others 0.25)."""
    extreme: Ratio
    """Extreme move (OKX MR6: BTC/ETH 0.24, mid caps 0.36, others 0.5)."""
    basis: Ratio = Decimal(0)
    """Charge on hedged notional within a unit (Deribit: 1% of the underlying for offsetting futures)."""
    min_charge: Ratio = Decimal(0)
    """Minimum charge per unit, a share of its gross notional."""
    concentration: NonNeg = Decimal(0)
    """Add-on rate on net exposure above ``depth`` (CME SPAN 2 concentration charge)."""
    depth: NonNeg = Decimal(10**15)
    """Net exposure (USDC) the book absorbs without a concentration add-on."""
    units: list[str] = Field(default_factory=list)


class OffsetConfig(_Model):
    units: list[str] = Field(min_length=2, max_length=2)
    credit: Ratio


def _default_classes() -> dict[str, RiskClassConfig]:
    d = Decimal
    return {
        "major": RiskClassConfig(
            shock=d("0.12"), extreme=d("0.24"), basis=d("0.01"), min_charge=d("0.005"),
            concentration=d("0.05"), depth=d(20_000_000), units=["BTC", "ETH"],
        ),
        "mid": RiskClassConfig(
            shock=d("0.18"), extreme=d("0.36"), basis=d("0.015"), min_charge=d("0.0075"),
            concentration=d("0.08"), depth=d(5_000_000), units=["SOL", "XRP", "DOGE", "LTC", "BCH"],
        ),
        "other": RiskClassConfig(
            shock=d("0.25"), extreme=d("0.5"), basis=d("0.02"), min_charge=d("0.01"),
            concentration=d("0.12"), depth=d(1_000_000),
        ),
    }  # fmt: skip


class ScenarioConfig(_Model):
    """Parameters of the scenario-based portfolio margin model (``margin/scenario.py``)."""

    initial_multiple: Dec = Field(default=Decimal("1.25"), ge=1)
    """Initial = this x maintenance (Derive: maintenance factor 0.8, initial 1.0)."""
    grid_points: int = Field(default=7, ge=7, le=101)
    """Points of the price grid from -shock to +shock, odd (OKX: +-0/4/8/12% is 7 points)."""
    extreme_weight: Ratio = Decimal("0.35")
    """Share of the extreme move's loss that counts (CME SPAN scenarios 15-16: 35%)."""
    default_class: str = "other"
    classes: dict[str, RiskClassConfig] = Field(default_factory=_default_classes)
    depeg: dict[str, Ratio] = Field(
        default_factory=lambda: {"USDC": Decimal("0.05"), "USDT0": Decimal("0.05"), "USDH": Decimal("0.05")}
    )
    """Stablecoin token -> de-peg shock on its borrowed (and, besides the quote, held) value."""
    offsets: list[OffsetConfig] = Field(default_factory=list)
    unit_aliases: dict[str, str] = Field(default_factory=dict)
    depth_source: Literal["config", "book"] = "config"
    """Depth for the concentration add-on: each class's ``depth``, or the resting notional of the unit's
    order books (perps and spot) within the shock, on the side a liquidation would hit."""

    @model_validator(mode="after")
    def _check(self) -> ScenarioConfig:
        if self.grid_points % 2 == 0:
            raise ValueError("grid_points must be odd (the grid includes the zero move)")
        if self.default_class not in self.classes:
            raise ValueError(f"default_class {self.default_class!r} is not one of classes")
        seen: dict[str, str] = {}
        for name, rc in self.classes.items():
            if rc.extreme < rc.shock:
                raise ValueError(f"classes.{name}: extreme must not be below shock")
            for unit in rc.units:
                if unit in seen:
                    raise ValueError(f"unit {unit!r} is in classes {seen[unit]!r} and {name!r}")
                seen[unit] = name
        return self


class PortfolioMarginConfig(_Model):
    enabled: bool = True
    model: Literal["hyperliquid", "scenario"] = "hyperliquid"
    """Margin model of portfolio-margin accounts: Hyperliquid's PMR or the scenario model."""
    scenario: ScenarioConfig = ScenarioConfig()
    min_borrow_offset: NonNeg = Decimal(20)
    liquidation_ratio: Ratio = Decimal("0.95")
    partial_threshold_fraction: Frac = Fraction(1, 2)
    """Partial borrow liquidation when borrowed > collateral * (LTV + (1-LTV) * this) (FAQ: 1/2)."""
    full_threshold_fraction: Frac = Fraction(2, 3)
    """Full borrow liquidation when borrowed > collateral * (LTV + (1-LTV) * this) (FAQ: 2/3)."""
    takeover_step: Ratio = Decimal("0.2")
    collateral_twap_half_life_s: int = Field(default=600, ge=1)
    borrowable: list[BorrowableConfig] = Field(default_factory=list)
    collateral: list[CollateralConfig] = Field(default_factory=list)
    eligibility: EligibilityConfig = EligibilityConfig()
    backstop_address: str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


class FeeTierConfig(_Model):
    min_volume: NonNeg
    taker: Dec
    maker: Dec


class StakingTierConfig(_Model):
    min_staked: NonNeg
    discount: Ratio


class FeesConfig(_Model):
    perp_tiers: list[FeeTierConfig] = Field(min_length=1)
    spot_tiers: list[FeeTierConfig] = Field(min_length=1)
    staking: list[StakingTierConfig] = Field(default_factory=list)
    spot_volume_weight: NonNeg = Decimal(2)
    """14-day weighted volume = perps + 2 x spot (Hyperliquid docs 'Fees')."""
    volume_window_days: int = Field(default=14, ge=1)
    fee_sink: str = "0xfee0000000000000000000000000000000000000"


class FundingConfig(_Model):
    interest_rate_8h: Dec = Decimal("0.0001")
    premium_clamp: NonNeg = Decimal("0.0005")
    hourly_cap: NonNeg = Decimal("0.04")
    sample_interval_s: int = Field(default=5, ge=1)
    interval_s: int = Field(default=3600, ge=1)
    impact_notional_major: NonNeg = Decimal(20000)


class LiquidationConfig(_Model):
    partial_notional: NonNeg = Decimal(100_000)
    partial_fraction: Ratio = Decimal("0.2")
    cooldown_s: int = Field(default=30, ge=0)
    backstop_fraction: Frac = Fraction(2, 3)
    liquidator_vault: str = "0x1000000000000000000000000000000000000001"
    adl: Literal["queue", "pro_rata"] = "queue"


class TransferMarginConfig(_Model):
    min_ntl_fraction: Ratio = Decimal("0.1")
    """transfer_margin_required = max(IM, 0.1 x total notional) (Hyperliquid docs 'Margining')."""


class OrderRulesConfig(_Model):
    sig_figs: int = Field(default=5, ge=1)
    min_notional: NonNeg = Decimal(10)
    max_open_orders: int = Field(default=1000, ge=1)
    trigger_slippage: Ratio = Decimal("0.1")


class ExchangeConfig(_Model):
    preset: PresetInfo
    tokens: list[TokenConfig] = Field(min_length=1)
    spot_pairs: list[SpotPairConfig] = Field(default_factory=list)
    margin_tables: list[MarginTableConfig] = Field(default_factory=list)
    dexes: list[DexConfig] = Field(min_length=1)
    perps: list[PerpConfig] = Field(default_factory=list)
    portfolio_margin: PortfolioMarginConfig = PortfolioMarginConfig()
    fees: FeesConfig
    funding: FundingConfig = FundingConfig()
    liquidation: LiquidationConfig = LiquidationConfig()
    transfer_margin: TransferMarginConfig = TransferMarginConfig()
    orders: OrderRulesConfig = OrderRulesConfig()
    usdc_oracle_price: Dec = Decimal(1)
    """HL spot oracle price of USDC in USDT; USDT_USDC_oracle = 1 / this (Hyperliquid docs 'Portfolio
    margin')."""
    max_user_actions_per_day: int = Field(default=50_000, ge=1)
