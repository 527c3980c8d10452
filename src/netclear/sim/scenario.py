"""Scenario files (TOML) for the risk lab: the schema, loading and validation (docs/risk-lab.md).

A scenario names a preset (with optional edits), a horizon cut into steps, price paths (explicit
points, Hyperliquid ``candleSnapshot`` files, or generated), explicit accounts in the margin
calculator's format, market makers and a generated population, and the margin regimes to compare.
Every bad key raises :class:`~netclear.errors.ConfigError` naming the key and the rule it broke.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from netclear.config.loader import error_location
from netclear.errors import ConfigError
from netclear.sim import validation
from netclear.sim.evm.spec import EvmLendingSpec

Regime = Literal["portfolioMargin", "unifiedAccount", "standard"]
Sizing = Literal["equalPositions", "equalCapital"]
REGIME_MODE = {
    "portfolioMargin": "portfolioMargin",
    "unifiedAccount": "unifiedAccount",
    "standard": "disabled",
}
SCENARIOS_PACKAGE = "netclear.sim.scenarios"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_decimal = validation.number


Point = tuple[float, float]


def _check_points(points: list[Point], what: str) -> list[Point]:
    if not points:
        raise ValueError(f"{what} needs at least one [minute, price] point")
    last = -1.0
    for minute, price in points:
        if minute < 0 or minute <= last:
            raise ValueError(f"{what}: minutes must be non-negative and strictly increasing")
        if price <= 0:
            raise ValueError(f"{what}: prices must be positive")
        last = minute
    return points


class Leverage(_Model):
    type: Literal["cross", "isolated"] = "cross"
    value: int = Field(ge=1, le=100)


class PositionSpec(_Model):
    coin: str
    szi: str
    leverage: Leverage | None = None

    @field_validator("szi", mode="before")
    @classmethod
    def _szi(cls, v: object) -> str:
        d = _decimal(v, "szi")
        if d == 0:
            raise ValueError("szi must not be zero")
        return str(d)


class AccountSpec(_Model):
    """An explicit account, in the margin calculator's keys (docs/margin-calculator.md)."""

    address: str | None = None
    mode: Literal["disabled", "unifiedAccount", "portfolioMargin"] | None = None
    balances: dict[str, str] = Field(default_factory=dict)
    borrowed: dict[str, str] = Field(default_factory=dict)
    """Borrowed at the start with ``borrowLend`` (portfolio margin only; other modes cannot borrow)."""
    positions: list[PositionSpec] = Field(default_factory=list)

    @field_validator("balances", "borrowed", mode="before")
    @classmethod
    def _balances(cls, v: object) -> dict[str, str]:
        if not isinstance(v, dict):
            raise ValueError("must be a table of token -> amount")
        out = {}
        for k, amount in v.items():
            out[str(k)] = str(validation.positive(amount, f"balance of {k}"))
        return out

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        return validation.address(v)


class MarketMakerSpec(_Model):
    """A market maker quoting a ladder around the price on each perp and spot pair of ``coins``.

    It widens its ladder with realized volatility and pulls the inner levels as the depth multiplier
    falls; levels at or beyond ``resilient_bps`` keep their size (the 4% / 10% bands of Oct 10 2025).
    """

    coins: list[str] = Field(default_factory=list)
    levels_bps: list[float] = Field(default_factory=lambda: [5.0, 10.0, 20.0, 50.0, 100.0, 200.0])
    level_notional: float = Field(default=1_000_000.0, gt=0)
    resilient_bps: float = Field(default=400.0, ge=0)
    vol_widening: float = Field(default=1.0, ge=0)
    capital: float = Field(default=1e9, gt=0)
    spot: bool = True

    @field_validator("levels_bps")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        if not v or any(x <= 0 or x >= 5000 for x in v) or sorted(v) != v:
            raise ValueError("levels_bps must be increasing numbers in (0, 5000)")
        return v


class PopulationSpec(_Model):
    """A group of generated agents drawn from the scenario's seed (docs/risk-lab.md "Agents")."""

    kind: Literal["basis", "directional", "lender", "backstop", "market_maker"]
    count: int = Field(default=1, ge=1, le=100_000)
    coins: list[str] = Field(default_factory=lambda: ["BTC"])
    capital: float = Field(default=50_000.0, gt=0)
    """Median capital (USDC) of an agent; sizes are Pareto-tailed around it (``tail``)."""
    tail: float = Field(default=1.5, gt=1.0)
    max_capital: float = Field(default=20_000_000.0, gt=0)
    leverage: tuple[int, int] = (3, 10)
    long_fraction: float = Field(default=0.8, ge=0, le=1)
    collateral_share: float = Field(default=0.5, ge=0, lt=1)
    """Directional traders: share of capital held as the spot collateral token (HYPE by default)."""
    collateral_token: str = "HYPE"
    mode_share: float = Field(default=1.0, ge=0, le=1)
    """Share of the group that uses the regime's margin mode; the rest stay on standard margin."""
    panic_utilization: float = Field(default=0.9, gt=0, le=1)
    """Lenders: utilization at which they try to withdraw their supply."""
    market_maker: MarketMakerSpec | None = None

    @field_validator("leverage")
    @classmethod
    def _lev(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 100:
            raise ValueError("leverage must be [low, high] with 1 <= low <= high <= 100")
        return v


class AssetGen(_Model):
    """One generated asset (a perp coin; its spot token follows with the basis)."""

    start: float = Field(gt=0)
    annual_vol: float = Field(default=0.6, ge=0, le=10)
    drop: tuple[float, float] = (0.0, 0.0)
    """Crash drawdown drawn uniformly in [low, high] (0.12 = -12%)."""
    crash_minutes: float | None = Field(default=None, gt=0)
    basis: tuple[float, float] = (0.0, 0.0)
    """Spot below the perp oracle at the bottom of the crash (basis blow-out), drawn in [low, high]."""
    oracle_lag_steps: int = Field(default=0, ge=0, le=60)

    @field_validator("drop", "basis")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] < 1:
            raise ValueError("must be [low, high] with 0 <= low <= high < 1")
        return v


class DepegGen(_Model):
    token: str
    low: tuple[float, float] = (0.95, 0.99)
    start_minute: float = Field(default=0, ge=0)
    minutes: float = Field(default=30, gt=0)

    @field_validator("low")
    @classmethod
    def _low(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1] <= 1:
            raise ValueError("low must be [a, b] with 0 < a <= b <= 1")
        return v


class GenerateSpec(_Model):
    """Correlated jump-diffusion with a crash regime (docs/risk-lab.md "Generated paths")."""

    assets: dict[str, AssetGen]
    crash_start_minute: float = Field(default=10, ge=0)
    crash_minutes: float = Field(default=30, gt=0)
    normal_correlation: float = Field(default=0.5, ge=-0.5, le=1)
    crash_correlation: float = Field(default=0.98, ge=-0.5, le=1)
    jump_intensity: float = Field(default=0.05, ge=0, le=1)
    """Probability of a downward jump per crash step (common to all assets)."""
    jump_size: float = Field(default=0.02, ge=0, lt=1)
    recovery: tuple[float, float] = (0.3, 0.5)
    """Share of the drop recovered by the end of the horizon, drawn in [low, high]."""
    depth_floor: float = Field(default=0.05, gt=0, le=1)
    """Market makers' inner depth at the bottom, as a share of normal."""
    depeg: DepegGen | None = None

    @field_validator("recovery")
    @classmethod
    def _rec(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 1:
            raise ValueError("must be [low, high] with 0 <= low <= high <= 1")
        return v


class Scenario(_Model):
    """A risk-lab scenario (docs/risk-lab.md "Scenario format")."""

    name: str = "scenario"
    description: str = ""
    preset: str = "hyperliquid"
    config: dict[str, Any] = Field(default_factory=dict)
    """Edits to the preset: dotted keys such as ``"portfolio_margin.collateral.HYPE.ltv"``."""
    open_pm_gates: bool = True
    seed: int = Field(default=0, ge=0)
    horizon_minutes: float = Field(gt=0, le=7 * 24 * 60)
    step_seconds: int = Field(default=60, ge=1, le=3600)
    paths: int = Field(default=1, ge=1, le=100_000)
    compare: list[Regime] = Field(default_factory=lambda: ["portfolioMargin", "standard"])  # type: ignore[arg-type]
    sizing: list[Sizing] = Field(default_factory=lambda: ["equalPositions"])  # type: ignore[arg-type]
    marks: Literal["book", "oracle"] = "book"
    start_ms: int = Field(default=3_600_000, ge=0)
    prices: dict[str, list[Point]] = Field(default_factory=dict)
    spot_prices: dict[str, list[Point]] = Field(default_factory=dict)
    price_files: list[str] = Field(default_factory=list)
    depth: list[Point] = Field(default_factory=list)
    """Explicit inner-depth multiplier path for the market makers, ``[[minute, multiplier], ...]``."""
    generate: GenerateSpec | None = None
    accounts: list[AccountSpec] = Field(default_factory=list)
    market_makers: list[MarketMakerSpec] = Field(default_factory=list)
    population: list[PopulationSpec] = Field(default_factory=list)
    evm_lending: EvmLendingSpec | None = None
    """A HyperEVM lending market priced off Hyperliquid (docs/risk-lab.md "HyperEVM lending")."""
    base_dir: str = ""
    """Set by the loader: the directory relative paths (price files) are read from."""

    @field_validator("compare")
    @classmethod
    def _compare(cls, v: list[str]) -> list[str]:
        if not v or len(set(v)) != len(v):
            raise ValueError("must list one or more distinct regimes")
        return v

    @field_validator("sizing")
    @classmethod
    def _sizing(cls, v: list[str]) -> list[str]:
        if not v or len(set(v)) != len(v):
            raise ValueError("must list equalPositions and/or equalCapital, each once")
        return v

    @field_validator("prices", "spot_prices")
    @classmethod
    def _paths(cls, v: dict[str, list[Point]]) -> dict[str, list[Point]]:
        for coin, points in v.items():
            _check_points(points, coin)
        return v

    @field_validator("depth")
    @classmethod
    def _depth(cls, v: list[Point]) -> list[Point]:
        return _check_points(v, "depth") if v else v

    @model_validator(mode="after")
    def _has_prices(self) -> Scenario:
        if not (self.prices or self.price_files or self.generate):
            raise ValueError("a scenario needs [prices], price_files or [generate]")
        if self.horizon_minutes * 60 < self.step_seconds:
            raise ValueError("horizon_minutes must cover at least one step")
        return self

    @property
    def steps(self) -> int:
        return int(self.horizon_minutes * 60 // self.step_seconds)

    @property
    def step_ms(self) -> int:
        return self.step_seconds * 1000


def _rule(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (see docs/risk-lab.md for the scenario format)"
    if err["type"] == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def parse_scenario(data: dict[str, Any], *, source: str = "<scenario>", base_dir: str = "") -> Scenario:
    """Validate a scenario mapping; the first error raises ``ConfigError("source: key", rule)``."""
    if base_dir and "base_dir" not in data:
        data = {**data, "base_dir": base_dir}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key first: a misspelt key also shows up as the real key missing
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = f"{source}: {error_location(tuple(err['loc']))}" if err["loc"] else source
        raise ConfigError(where, _rule(dict(err))) from None


def available_scenarios() -> list[str]:
    root = resources.files(SCENARIOS_PACKAGE)
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def scenario_text(name_or_path: str) -> tuple[str, str, str]:
    """(TOML text, source label, base directory) of a shipped scenario name or a TOML path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        p = Path(name_or_path)
        try:
            return p.read_text(), str(p), str(p.resolve().parent)
        except OSError as exc:
            raise ConfigError(str(p), f"cannot read: {exc.strerror}") from None
    f = resources.files(SCENARIOS_PACKAGE) / f"{name_or_path}.toml"
    if not f.is_file():
        raise ConfigError(
            "scenario", f"unknown scenario {name_or_path!r}; shipped: {', '.join(available_scenarios())}"
        )
    return f.read_text(), f"scenario {name_or_path}", ""


def load_scenario(name_or_path: str, **overrides: Any) -> Scenario:
    """Load a shipped scenario by name or a TOML file; ``overrides`` (paths, seed, ...) replace keys."""
    text, source, base = scenario_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"invalid TOML: {exc}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_scenario(data, source=source, base_dir=base)
