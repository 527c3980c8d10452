"""The ``[evm_lending]`` scenario table: an Aave v3-shaped HyperEVM market, its borrowers and liquidators.

Defaults are a real market's published parameters: HypurrFi's pooled market (an Aave v3.0.2 fork on
HyperEVM), from its mainnet deployment inputs (https://github.com/lastdotnet/hypurrfi-deployments,
``script/input/999/assets/{WHYPE,UBTC,USDC}.json``, commit 17f200d): WHYPE LTV 30%, liquidation
threshold 45%, bonus 8%; UBTC 20% / 45% / 8%; USDC 82.5% / 85% / 4%. The repository sets no rate
curve, reserve factor or cap, so those come from HyperLend's core-pool deployment script
(https://github.com/hyperlendx/hyperlend-core, ``scripts/mainnet-deploy/envConfig.js``):
``rateStrategyStableOne`` (optimal usage 80%, base 0, slopes 4% and 75%) for USDC,
``rateStrategyVolatileOne`` (45%, 0, 4%, 300%) for the volatile reserves, reserve factor 20%; no caps.
Close factor 50%, 100% below HF 0.95: aave-v3-core ``LiquidationLogic`` (HypurrFi's docs, "Liquidations":
https://docs.hypurr.fi/concepts/liquidations). Every key is documented in docs/risk-lab.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netclear.sim import validation


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ratio(v: Decimal, what: str, hi: Decimal = Decimal(1)) -> Decimal:
    if not Decimal(0) <= v <= hi:
        raise ValueError(f"{what} must be within [0, {hi}]")
    return v


class RateCurveSpec(_Model):
    optimal_usage: Decimal = Decimal("0.80")
    base: Decimal = Decimal(0)
    slope1: Decimal = Decimal("0.04")
    slope2: Decimal = Decimal("0.75")

    @model_validator(mode="after")
    def _check(self) -> RateCurveSpec:
        if not Decimal(0) < self.optimal_usage < Decimal(1):
            raise ValueError("optimal_usage must be in (0, 1)")
        if min(self.base, self.slope1, self.slope2) < 0:
            raise ValueError("rates must not be negative")
        return self


VOLATILE_CURVE = RateCurveSpec(optimal_usage=Decimal("0.45"), slope2=Decimal(3))


class ReserveSpec(_Model):
    """One reserve; ``token`` is the HyperCore token it is bridged from (HYPE for WHYPE)."""

    decimals: int = Field(default=18, ge=0, le=30)
    """ERC-20 decimals on HyperEVM (WHYPE 18, UBTC 8, USDC 6)."""
    ltv: Decimal = Decimal(0)
    liquidation_threshold: Decimal = Decimal(0)
    liquidation_bonus: Decimal = Decimal("1.08")
    """The liquidator receives this multiple of the repaid debt's value in collateral (Aave's 10800)."""
    reserve_factor: Decimal = Decimal("0.20")
    liquidation_protocol_fee: Decimal = Decimal(0)
    """Share of the bonus that goes to the treasury (Aave v3's liquidationProtocolFee)."""
    supply_cap: Decimal = Decimal(0)
    """Whole tokens; 0 = no cap (Aave's convention)."""
    borrow_cap: Decimal = Decimal(0)
    borrowing_enabled: bool = False
    rates: RateCurveSpec = VOLATILE_CURVE

    @model_validator(mode="after")
    def _check(self) -> ReserveSpec:
        _ratio(self.ltv, "ltv")
        _ratio(self.liquidation_threshold, "liquidation_threshold")
        _ratio(self.reserve_factor, "reserve_factor")
        _ratio(self.liquidation_protocol_fee, "liquidation_protocol_fee")
        if self.ltv > self.liquidation_threshold:
            raise ValueError("ltv must not exceed liquidation_threshold")
        if not Decimal(1) <= self.liquidation_bonus <= Decimal(2):
            raise ValueError("liquidation_bonus must be within [1, 2] (1.08 = 8% bonus)")
        if self.liquidation_threshold * self.liquidation_bonus > 1:
            raise ValueError("liquidation_threshold x liquidation_bonus must not exceed 1 (Aave's rule)")
        if self.supply_cap < 0 or self.borrow_cap < 0:
            raise ValueError("caps must not be negative")
        return self


DEFAULT_RESERVES: dict[str, ReserveSpec] = {
    "HYPE": ReserveSpec(
        decimals=18,
        ltv=Decimal("0.30"),
        liquidation_threshold=Decimal("0.45"),
        liquidation_bonus=Decimal("1.08"),
    ),
    "UBTC": ReserveSpec(
        decimals=8,
        ltv=Decimal("0.20"),
        liquidation_threshold=Decimal("0.45"),
        liquidation_bonus=Decimal("1.08"),
    ),
    "USDC": ReserveSpec(
        decimals=6,
        ltv=Decimal("0.825"),
        liquidation_threshold=Decimal("0.85"),
        liquidation_bonus=Decimal("1.04"),
        borrowing_enabled=True,
        rates=RateCurveSpec(),
    ),
}


class OracleSpec(_Model):
    source: Literal["oracle", "mark", "spot", "book"] = "oracle"
    """Which HyperCore price the feed reads (HyperLend's oracle reads the perp oracle price); ``book`` is
    the spot book's median of best bid, best ask and last trade (moved by fire sales)."""
    lag_seconds: int = Field(default=0, ge=0, le=3600)
    deviation: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("0.5"))
    """Publish when the price moved by at least this fraction (0 = every change)."""
    heartbeat_seconds: int = Field(default=0, ge=0)
    """Publish at least this often (0 = no heartbeat)."""


class HealthFactorSpec(_Model):
    """The borrowers' health factors at the start: uniform in [low, high], or lognormal around
    ``median`` with log-sd ``sigma`` truncated to [low, high]."""

    dist: Literal["uniform", "lognormal"] = "lognormal"
    low: Decimal = Decimal("1.02")
    high: Decimal = Decimal(4)
    median: Decimal = Decimal("1.6")
    sigma: Decimal = Field(default=Decimal("0.3"), gt=0, le=3)

    @model_validator(mode="after")
    def _check(self) -> HealthFactorSpec:
        if not Decimal(1) < self.low <= self.high:
            raise ValueError(
                "health factors need 1 < low <= high (a borrower below 1 is liquidatable at the start)"
            )
        return self


class BorrowerGroupSpec(_Model):
    count: int = Field(default=100, ge=1, le=100_000)
    collateral: dict[str, float] = Field(default_factory=lambda: {"HYPE": 0.8, "UBTC": 0.2})
    """Collateral token -> share of the group posting it (one collateral per borrower)."""
    debt_token: str = "USDC"
    collateral_usd: float = Field(default=50_000.0, gt=0)
    """Median collateral value at the start; Pareto-tailed (``tail``), capped at ``max_collateral_usd``."""
    tail: float = Field(default=1.5, gt=1.0)
    max_collateral_usd: float = Field(default=5_000_000.0, gt=0)
    health_factor: HealthFactorSpec = HealthFactorSpec()

    @field_validator("collateral")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("must map collateral tokens to non-negative shares with a positive sum")
        return v


class LiquidatorSpec(_Model):
    count: int = Field(default=1, ge=1, le=100)
    capital: Decimal = Field(default=Decimal(2_000_000), gt=0)
    """USDC each liquidator holds on HyperEVM to repay debt with (its capital limit)."""
    delay_seconds: int = Field(default=60, ge=0, le=24 * 3600)
    """From the seizure to the order on Hyperliquid (bridging, inventory decisions)."""
    hedge: Literal["spot", "perp"] = "spot"
    """``spot``: bridge the collateral to HyperCore and sell it on the spot book, then bridge the USDC
    back; ``perp``: keep the collateral and short the same size on the perp book."""
    slippage: Decimal = Field(default=Decimal("0.05"), gt=0, lt=1)
    """IOC limit price distance from the HyperCore price (the SDK's default market slippage is 5%)."""
    hl_margin: Decimal = Field(default=Decimal(1_000_000), ge=0)
    """USDC on the liquidator's Hyperliquid account (perp hedges' margin)."""
    leverage: int = Field(default=5, ge=1, le=50)


class EvmAccountSpec(_Model):
    """An explicit EVM position; with the ``address`` of an ``[[accounts]]`` entry it is the same
    fund's collateral on both venues."""

    address: str | None = None
    collateral: dict[str, str] = Field(default_factory=dict)
    debt: dict[str, str] = Field(default_factory=dict)

    @field_validator("collateral", "debt")
    @classmethod
    def _amounts(cls, v: dict[str, str]) -> dict[str, str]:
        out = {}
        for k, amount in v.items():
            out[str(k)] = str(validation.positive(amount, f"amount of {k}"))
        return out

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        return validation.address(v)


class EvmLendingSpec(_Model):
    """``[evm_lending]``: the market, its population and the counterfactual."""

    market: str = "HypurrFi pooled market (Aave v3.0.2 fork)"
    reserves: dict[str, ReserveSpec] = Field(default_factory=dict)
    """Overrides or additions by HyperCore token name; unnamed reserves keep ``DEFAULT_RESERVES``."""
    close_factor: Decimal = Decimal("0.5")
    close_factor_hf_threshold: Decimal = Decimal("0.95")
    oracle: OracleSpec = OracleSpec()
    usdc_supply: Decimal | None = Field(default=None, gt=0)
    """USDC supplied by lenders at the start; default: the borrowers' debt at ``target_utilization``."""
    target_utilization: Decimal = Field(default=Decimal("0.75"), gt=0, le=1)
    borrowers: list[BorrowerGroupSpec] = Field(default_factory=list)
    accounts: list[EvmAccountSpec] = Field(default_factory=list)
    liquidators: list[LiquidatorSpec] = Field(default_factory=lambda: [LiquidatorSpec()])
    counterfactual: bool = True
    """Also run each path and regime without the EVM market (the extra HL impact is the difference)."""

    @model_validator(mode="before")
    @classmethod
    def _merge_reserves(cls, data: object) -> object:
        """A reserve table for a default token edits that token's defaults key by key."""
        if isinstance(data, dict) and isinstance(data.get("reserves"), dict):
            merged: dict[str, object] = {}
            for token, over in data["reserves"].items():
                base = DEFAULT_RESERVES.get(token)
                if base is not None and isinstance(over, dict):
                    raw = base.model_dump()
                    if isinstance(over.get("rates"), dict):
                        over = {**over, "rates": {**raw["rates"], **over["rates"]}}
                    merged[token] = {**raw, **over}
                else:
                    merged[token] = over
            data = {**data, "reserves": merged}
        return data

    @model_validator(mode="after")
    def _check(self) -> EvmLendingSpec:
        _ratio(self.close_factor, "close_factor")
        if not Decimal(0) < self.close_factor_hf_threshold <= Decimal(1):
            raise ValueError("close_factor_hf_threshold must be in (0, 1]")
        return self

    def effective_reserves(self) -> dict[str, ReserveSpec]:
        return {**DEFAULT_RESERVES, **self.reserves}
