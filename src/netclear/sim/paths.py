"""Price paths for a scenario: explicit points, ``candleSnapshot`` files, or generated shocks.

All three give one :class:`PricePaths` per path index, sampled at every step (step 0 = the start).
Floats are fine here: a path is a what-if input; prices enter the engine as decimal strings on the
asset's price grid. Generated paths (docs/risk-lab.md "Generated paths") are a correlated
jump-diffusion with a crash regime in which correlations go to ~1, pinned so each asset's crash
drawdown equals a value drawn from its calibrated range; plus depth collapse, basis blow-out (spot
below the perp), oracle lag and a stablecoin de-peg. A path depends only on (seed, path index).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netclear.errors import ConfigError
from netclear.sim.scenario import GenerateSpec, Point, Scenario

MINUTES_PER_YEAR = 365 * 24 * 60


@dataclass
class PricePaths:
    """Per-step arrays (length ``steps + 1``). Keys are perp coins or token names."""

    minutes: np.ndarray
    perp: dict[str, np.ndarray] = field(default_factory=dict)
    """Fair perp price: the market makers quote the perp book around it."""
    oracle: dict[str, np.ndarray] = field(default_factory=dict)
    """What the oracle publishes for the perp (lagged when the scenario says so)."""
    spot: dict[str, np.ndarray] = field(default_factory=dict)
    """Spot price per token name (collateral valuation and the spot books)."""
    usdc: np.ndarray | None = None
    depth: np.ndarray | None = None
    """Market makers' inner depth multiplier (1 = normal)."""
    vol_ratio: dict[str, np.ndarray] = field(default_factory=dict)
    """Realized volatility over the last few steps relative to normal (>= 1)."""


def interpolate(points: list[Point], minutes: np.ndarray) -> np.ndarray:
    """Linear between points, flat before the first and after the last."""
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    out: np.ndarray = np.interp(minutes, xs, ys)
    return out


def read_candles(path: Path, source: str) -> tuple[str, list[Point]]:
    """A Hyperliquid ``candleSnapshot`` response saved as JSON: ``[{"t", "T", "s", "o", "c", ...}]``.

    Points are each candle's open at ``t`` and the last candle's close at ``T + 1`` ms, in minutes from
    the first candle (info endpoint, "Candle snapshot": https://hyperliquid.gitbook.io/hyperliquid-docs/
    for-developers/api/info-endpoint).
    """
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(source, f"cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(source, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, list) or not data:
        raise ConfigError(source, "must be a non-empty JSON array of candles")
    try:
        coin = str(data[0]["s"])
        t0 = int(data[0]["t"])
        points: list[Point] = [((int(c["t"]) - t0) / 60_000, float(c["o"])) for c in data]
        last = data[-1]
        points.append(((int(last["T"]) + 1 - t0) / 60_000, float(last["c"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(source, f"each candle needs t, T, s, o, c ({exc})") from None
    if any(c.get("s") != coin for c in data):
        raise ConfigError(source, "all candles must be for one coin (key s)")
    dedup: list[Point] = []
    for m, px in points:
        if dedup and m <= dedup[-1][0]:
            raise ConfigError(source, "candle times must increase")
        if px <= 0:
            raise ConfigError(source, "candle prices must be positive")
        dedup.append((m, px))
    return coin, dedup


def _rolling_vol_ratio(px: np.ndarray, per_step_vol: float, window: int = 5) -> np.ndarray:
    r = np.zeros_like(px)
    r[1:] = np.abs(np.diff(np.log(px)))
    out = np.ones_like(px)
    if per_step_vol <= 0:
        return out
    for k in range(1, len(px)):
        lo = max(1, k - window + 1)
        rms = math.sqrt(float(np.mean(r[lo : k + 1] ** 2)))
        out[k] = max(1.0, rms / per_step_vol)
    return out


def explicit_paths(sc: Scenario) -> PricePaths:
    minutes = np.arange(sc.steps + 1, dtype=np.float64) * sc.step_seconds / 60
    out = PricePaths(minutes=minutes)
    given = dict(sc.prices)
    for rel in sc.price_files:
        p = Path(sc.base_dir) / rel if sc.base_dir else Path(rel)
        coin, pts = read_candles(p, f"price_files: {rel}")
        if coin in given:
            raise ConfigError(f"price_files: {rel}", f"{coin} already has a price path")
        given[coin] = pts
    for name, points in sorted(given.items()):
        arr = interpolate(points, minutes)
        if name == "USDC":
            out.usdc = arr
        else:
            out.perp[name] = arr
            out.oracle[name] = arr
    for name, points in sorted(sc.spot_prices.items()):
        out.spot[name] = interpolate(points, minutes)
    out.depth = interpolate(sc.depth, minutes) if sc.depth else np.ones_like(minutes)
    return out


def _corr_normals(rng: np.random.Generator, n: int, k: int, rho: float) -> np.ndarray:
    """(n, k) standard normals with pairwise correlation ``rho`` (one-factor model)."""
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, k))
    rho = min(max(rho, 0.0), 1.0)
    return math.sqrt(rho) * common + math.sqrt(1 - rho) * own


def _bridge(noise: np.ndarray) -> np.ndarray:
    """Brownian-bridge pin: cumulative noise that returns to 0 at the segment's end."""
    if len(noise) == 0:
        return noise
    cum = np.cumsum(noise, axis=0)
    frac = np.arange(1, len(noise) + 1) / len(noise)
    out: np.ndarray = cum - frac * cum[-1]
    return out


def generated_paths(sc: Scenario, path_index: int) -> PricePaths:
    gen = sc.generate
    assert gen is not None
    rng = np.random.default_rng(np.random.SeedSequence([sc.seed, path_index, 1]))
    n = sc.steps
    minutes = np.arange(n + 1, dtype=np.float64) * sc.step_seconds / 60
    coins = sorted(gen.assets)
    k = len(coins)
    dt_min = sc.step_seconds / 60
    sig = np.array([gen.assets[c].annual_vol * math.sqrt(dt_min / MINUTES_PER_YEAR) for c in coins])
    drops = np.array([rng.uniform(*gen.assets[c].drop) for c in coins])
    basis = np.array([rng.uniform(*gen.assets[c].basis) for c in coins])
    recovery = rng.uniform(*gen.recovery)
    normal = _corr_normals(rng, n, k, gen.normal_correlation) * sig
    crash_noise = _corr_normals(rng, n, k, gen.crash_correlation) * sig * 3.0
    jumps = (rng.random(n) < gen.jump_intensity) * gen.jump_size
    logp = np.zeros((n + 1, k))
    crash_start = round(gen.crash_start_minute / dt_min)
    bottom_idx = np.zeros(k, dtype=int)
    for j, c in enumerate(coins):
        spec = gen.assets[c]
        length = max(1, round((spec.crash_minutes or gen.crash_minutes) / dt_min))
        cs, ce = min(crash_start, n), min(crash_start + length, n)
        bottom_idx[j] = ce
        inc = normal[:, j].copy()
        seg = ce - cs
        if seg > 0:
            target = math.log(1 - drops[j]) * (seg / length)
            drift = np.full(seg, target / seg)
            shock = crash_noise[cs:ce, j] - jumps[cs:ce]
            pinned = _bridge(shock)
            path = np.cumsum(drift) + pinned
            inc[cs:ce] = np.diff(np.concatenate([[0.0], path]))
        rem = n - ce
        if rem > 0:
            back = -math.log(1 - drops[j]) * recovery * (seg / length)
            pinned = _bridge(normal[ce:, j])
            path = np.cumsum(np.full(rem, back / rem)) + pinned
            inc[ce:] = np.diff(np.concatenate([[0.0], path]))
        logp[1:, j] = np.cumsum(inc)
    out = PricePaths(minutes=minutes)
    for j, c in enumerate(coins):
        spec = gen.assets[c]
        fair = spec.start * np.exp(logp[:, j])
        lag = spec.oracle_lag_steps
        lagged = np.concatenate([np.full(lag, fair[0]), fair[: n + 1 - lag]]) if lag else fair
        # basis blow-out: spot falls below the perp, widest at the bottom, closing with the recovery
        b = np.zeros(n + 1)
        cs, ce = min(crash_start, n), int(bottom_idx[j])
        if ce > cs:
            b[cs : ce + 1] = np.linspace(0, basis[j], ce - cs + 1)
            if ce < n:
                b[ce:] = np.linspace(basis[j], 0, n - ce + 1)
        out.perp[c] = fair
        out.oracle[c] = lagged
        out.spot[c] = lagged * (1 - b)
        out.vol_ratio[c] = _rolling_vol_ratio(fair, float(sig[j]))
    out.depth = _depth(gen, minutes, crash_start * dt_min, recovery)
    if gen.depeg is not None:
        dp = gen.depeg
        low = rng.uniform(*dp.low)
        pts: list[Point] = [
            (0.0, 1.0),
            (dp.start_minute + 1e-9, 1.0),
            (dp.start_minute + dp.minutes * 0.2, low),
            (dp.start_minute + dp.minutes * 0.6, low),
            (dp.start_minute + dp.minutes, 1.0),
        ]
        arr = interpolate(pts, minutes)
        if dp.token == "USDC":
            out.usdc = arr
        else:
            out.spot[dp.token] = arr
    return out


def _depth(gen: GenerateSpec, minutes: np.ndarray, crash_start: float, recovery: float) -> np.ndarray:
    """Inner book depth: collapses to ``depth_floor`` within the first fifth of the crash, holds to
    its end, then recovers toward ``0.5 + 0.5 x recovery`` of normal by the horizon."""
    end = crash_start + gen.crash_minutes
    last = float(minutes[-1])
    pts: list[Point] = [
        (0.0, 1.0),
        (crash_start + 1e-9, 1.0),
        (crash_start + gen.crash_minutes * 0.2, gen.depth_floor),
        (end, gen.depth_floor),
    ]
    if last > end:
        pts.append((last + 1e-9, 0.5 + 0.5 * recovery))
    return interpolate(pts, minutes)


def build_paths(sc: Scenario, path_index: int) -> PricePaths:
    """The price paths of one path index: explicit ones (identical for every index) overlaid on
    generated ones where both name a coin."""
    if sc.generate is None:
        return explicit_paths(sc)
    out = generated_paths(sc, path_index)
    if sc.prices or sc.price_files or sc.spot_prices:
        ex = explicit_paths(sc)
        out.perp.update(ex.perp)
        out.oracle.update(ex.oracle)
        out.spot.update(ex.spot)
        if ex.usdc is not None:
            out.usdc = ex.usdc
        if sc.depth:
            out.depth = ex.depth
    return out
