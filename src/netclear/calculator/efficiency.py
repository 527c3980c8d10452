"""The capital-efficiency study: reference strategies under standard, unified, Hyperliquid PM and
scenario PM (``netclear efficiency``, docs/margin-models.md).

Each strategy (``netclear/examples/strategies.json``) is a book opened at the given prices: spot
holdings bought with the account's own USDC, perps at their maximum leverage. For each regime the
study finds the **capital** (USDC equity) the book needs to be opened, with the margin calculator's own
snapshot (:func:`netclear.calculator.snapshot.build_state`) and the engine's rules:

* **standard**: spot is paid in full and is not collateral; each dex's cross pool needs its initial
  margin: ``capital = spot value + sum of initial margins`` (Hyperliquid "Margining",
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margining);
* **unified**: the same, with one pool per collateral token (spot still cannot be borrowed against);
* **Hyperliquid PM**: the shortfall ``B = spot value + initial margin - capital`` is auto-borrowed; the
  smallest capital with ``B <= sum of collateral x LTV`` (health factor >= 100%) and the portfolio
  margin ratio <= 0.95 (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin);
* **scenario PM**: the smallest capital at which equity covers the scenario initial requirement
  (:mod:`netclear.margin.scenario`; the de-peg charge on ``B`` makes it depend on the capital).

Fees are left out (the capital at the moment of opening). Reported per strategy: capital per regime,
capital freed vs standard, gross leverage at that capital, and the loss at the scenario grid's extreme
moves against the equity Hyperliquid PM leaves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

from netclear.calculator.snapshot import build_state
from netclear.config import resolve
from netclear.engine import pm_model
from netclear.engine.accounting import Valuer
from netclear.engine.health import AccountHealth
from netclear.engine.state import Mode
from netclear.errors import InvalidAction
from netclear.fixedpoint import fmt_decimal
from netclear.margin import portfolio as pm_rules
from netclear.markets.registry import Registry

REGIMES = ("standard", "unified", "hyperliquidPM", "scenarioPM")
CLAIM_FREED = Fraction(30, 100)
"""The articles' "improves capital efficiency by over 30%"."""
CLAIM_LEVERAGE = Fraction(335, 100)
"""The articles' "3.35x" leverage (Reg T 50% initial vs FINRA 4210(g) 15%: 50 / 15 = 3.33)."""
CENT = Fraction(1, 100)


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    label: str
    balances: dict[str, str]
    positions: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Row:
    strategy: Strategy
    gross: Fraction
    spot_value: Fraction
    capital: dict[str, Fraction]
    extreme_loss: Fraction
    borrowed_hl: Fraction

    def freed(self, regime: str) -> Fraction:
        return 1 - self.capital[regime] / self.capital["standard"]

    def leverage(self, regime: str) -> Fraction:
        return self.gross / self.capital[regime]

    def leverage_gain(self, regime: str) -> Fraction:
        return self.capital["standard"] / self.capital[regime]


def load_strategies(text: str | None = None) -> tuple[dict[str, Any], list[Strategy]]:
    """The shipped library (or ``text``): the shared ``preset`` and ``prices`` and the strategies."""
    if text is None:
        text = (resources.files("netclear.examples") / "strategies.json").read_text()
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("strategies"), list):
        raise InvalidAction("strategies", "must be an object with a list of strategies")
    out = []
    for i, s in enumerate(data["strategies"]):
        if not isinstance(s, dict) or "name" not in s:
            raise InvalidAction(f"strategies[{i}]", "must be an object with a name")
        balances, positions = s.get("balances") or {}, s.get("positions") or []
        if not isinstance(balances, dict) or not isinstance(positions, list):
            raise InvalidAction(f"strategies[{i}]", "balances must be an object and positions a list")
        out.append(Strategy(str(s["name"]), str(s.get("label") or s["name"]), balances, positions))
    return data, out


def _portfolio(
    data: dict[str, Any],
    reg: Registry,
    s: Strategy,
    usdc: Fraction = Fraction(0),
    borrowed: Fraction = Fraction(0),
) -> dict[str, Any]:
    balances = dict(s.balances)
    if usdc:
        balances["USDC"] = fmt_decimal(usdc, 8)
    positions = [
        {**p, "leverage": {"type": "cross", "value": reg.perp(p["coin"], field="coin").max_leverage}}
        for p in s.positions
    ]
    out: dict[str, Any] = {"prices": data.get("prices", {}), "balances": balances, "positions": positions}
    if borrowed:
        out["borrowed"] = {"USDC": fmt_decimal(borrowed, 8)}
    return out


def _smallest(ok: Callable[[Fraction], bool], lo: Fraction, hi: Fraction) -> Fraction:
    """Smallest capital (to a cent, rounded up) in ``[lo, hi]`` with ``ok``; ``hi`` doubles until ok."""
    while not ok(hi):
        hi *= 2
    while hi - lo > CENT:
        mid = (lo + hi) / 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    cents = Fraction(-((-hi * 100).__floor__()), 100)
    return cents - CENT if cents - CENT >= lo and ok(cents - CENT) else cents


def study_row(data: dict[str, Any], reg: Registry, s: Strategy) -> Row:
    """Capital of one strategy under every regime (module docstring)."""
    base = _portfolio(data, reg, s)
    state, acct = build_state(reg, base, Mode.STANDARD)
    v = Valuer(reg, state)
    spot_value = sum(
        (v.usdc_value(reg.tokens[t], bal) for t, bal in acct.spot.items() if bal and t != reg.quote.index),
        Fraction(0),
    )
    gross = spot_value + sum(
        (abs(v.usdc_value(pv.perp.collateral, pv.ntl)) for pv in v.open_positions(acct)), Fraction(0)
    )
    im_std = sum((v.usdc_value(p.token, p.im) for p in AccountHealth(v, acct).pools.values()), Fraction(0))
    ustate, uacct = build_state(reg, base, Mode.UNIFIED)
    uv = Valuer(reg, ustate)
    im_uni = sum((uv.usdc_value(p.token, p.im) for p in AccountHealth(uv, uacct).pools.values()), Fraction(0))
    capital = {"standard": spot_value + im_std, "unified": spot_value + im_uni}
    need = spot_value + im_uni  # spot paid + the pools' initial margin, under PM from one balance

    def pm_view(c: Fraction) -> tuple[Valuer, Any, Fraction]:
        b = max(Fraction(0), need - c)
        st, a = build_state(
            reg, _portfolio(data, reg, s, usdc=c - spot_value + b, borrowed=b), Mode.PORTFOLIO
        )
        return Valuer(reg, st), a, b

    def hl_ok(c: Fraction) -> bool:
        pv, a, b = pm_view(c)
        pm = reg.pm
        assert pm is not None
        legs = AccountHealth(pv, a).pm_legs()
        return b <= pv.borrowing_power(a) and not pm_rules.pm_liquidatable(legs.ratio, pm.liquidation_ratio)

    def scenario_ok(c: Fraction) -> bool:
        pv, a, _ = pm_view(c)
        result, equity = pm_model.scenario_result(pv, a)
        return equity >= result.initial

    hl = _smallest(hl_ok, Fraction(0), capital["unified"])
    capital["hyperliquidPM"] = hl
    capital["scenarioPM"] = _smallest(scenario_ok, Fraction(0), capital["unified"])
    pv, a, b = pm_view(hl)
    result, _ = pm_model.scenario_result(pv, a)
    return Row(s, gross, spot_value, capital, result.extreme_loss, b)


def run_study(text: str | None = None) -> tuple[str, list[Row]]:
    data, strategies = load_strategies(text)
    preset = str(data.get("preset", "hyperliquid-scenario-pm"))
    reg = Registry.from_config(resolve(preset))
    return preset, [study_row(data, reg, s) for s in strategies]


def max_ltv(reg: Registry) -> Fraction:
    return max((c.ltv for c in reg.pm.collateral.values()), default=Fraction(0)) if reg.pm else Fraction(0)


def verdict(rows: list[Row], reg: Registry) -> dict[str, str]:
    """Plain statements on the two claims, from the rows."""
    over = [r.strategy.name for r in rows if r.freed("hyperliquidPM") >= CLAIM_FREED]
    under = [r.strategy.name for r in rows if r.freed("hyperliquidPM") < CLAIM_FREED]
    best = max(rows, key=lambda r: r.leverage_gain("hyperliquidPM"))
    bound = 1 / (1 - max_ltv(reg))
    scen = [r.strategy.name for r in rows if r.leverage_gain("scenarioPM") >= CLAIM_LEVERAGE]
    return {
        "freed30": (
            f"'>=30% more capital-efficient' holds under Hyperliquid's rules for {', '.join(over) or 'none'} "
            f"and not for {', '.join(under) or 'none'}. Hyperliquid PM frees capital only by lending against "
            "HYPE/UBTC collateral at its LTV and by netting P&L in one balance; perp initial margin is "
            "unchanged, so books of perps alone (pairs, HIP-3 hedges, directional) free nothing."
        ),
        "leverage335": (
            f"'3.35x leverage' does not hold under Hyperliquid's rules: the largest gain is "
            f"{float(best.leverage_gain('hyperliquidPM')):.2f}x ({best.strategy.name}). The auto-borrow is "
            "bounded by collateral x LTV, so the capital can fall at most by LTV x the collateral's value: "
            f"the gain is at most 1 / (1 - {fmt_decimal(max_ltv(reg), 2)}) = {float(bound):.2f}x for any book. "
            "3.35 is US equities' Reg T 50% / FINRA 4210(g) 15%. Under the scenario model the gain is "
            f"{'at least 3.35x for ' + ', '.join(scen) if scen else 'below 3.35x for every strategy'}, "
            "and below 1x for unhedged books."
        ),
    }


def as_json(preset: str, rows: list[Row], reg: Registry) -> dict[str, Any]:
    def pct(x: Fraction) -> str:
        return fmt_decimal(x * 100, 2)

    return {
        "preset": preset,
        "regimes": list(REGIMES),
        "strategies": [
            {
                "name": r.strategy.name,
                "label": r.strategy.label,
                "grossNotional": fmt_decimal(r.gross, 2),
                "capital": {k: fmt_decimal(x, 2) for k, x in r.capital.items()},
                "capitalFreedPct": {k: pct(r.freed(k)) for k in REGIMES},
                "grossLeverage": {k: fmt_decimal(r.leverage(k), 2) for k in REGIMES},
                "leverageGain": {k: fmt_decimal(r.leverage_gain(k), 2) for k in REGIMES},
                "extremeMoveLoss": fmt_decimal(r.extreme_loss, 2),
                "extremeLossToHlEquityPct": pct(r.extreme_loss / r.capital["hyperliquidPM"]),
            }
            for r in rows
        ],
        "claims": verdict(rows, reg),
    }


def write_plots(preset: str, rows: list[Row], out_dir: str) -> list[str]:
    """``efficiency.png`` (matplotlib) and ``efficiency.html`` (plotly): capital per regime per strategy,
    and capital freed by Hyperliquid PM against the extreme-move loss per unit of the equity it leaves."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [r.strategy.name for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5))
    width = 0.2
    for i, regime in enumerate(REGIMES):
        xs = [j + (i - 1.5) * width for j in range(len(rows))]
        ax1.bar(xs, [float(r.capital[regime]) for r in rows], width, label=regime)
    ax1.set_xticks(range(len(rows)), names, rotation=30, ha="right")
    ax1.set_ylabel("capital to open (USDC)")
    ax1.set_yscale("log")
    ax1.legend()
    ax1.set_title(f"Capital by margin regime ({preset})")
    xs2 = [float(r.freed("hyperliquidPM") * 100) for r in rows]
    ys2 = [float(r.extreme_loss / r.capital["hyperliquidPM"] * 100) for r in rows]
    ax2.scatter(xs2, ys2)
    for n, x, y in zip(names, xs2, ys2, strict=True):
        ax2.annotate(n, (x, y))
    ax2.axvline(30, linestyle="--", color="grey")
    ax2.axhline(100, linestyle=":", color="red")
    ax2.set_xlabel("capital freed by Hyperliquid PM vs standard (%)")
    ax2.set_ylabel("loss at the extreme move / equity HL PM leaves (%)")
    ax2.set_title("Efficiency vs risk")
    fig.tight_layout()
    png = out / "efficiency.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    pfig = make_subplots(rows=1, cols=2, subplot_titles=("Capital by regime (USDC)", "Efficiency vs risk"))
    for regime in REGIMES:
        pfig.add_trace(go.Bar(name=regime, x=names, y=[float(r.capital[regime]) for r in rows]), row=1, col=1)
    pfig.add_trace(go.Scatter(x=xs2, y=ys2, text=names, mode="markers+text", name="HL PM"), row=1, col=2)
    pfig.update_yaxes(type="log", row=1, col=1)
    pfig.update_xaxes(title_text="capital freed by HL PM (%)", row=1, col=2)
    pfig.update_yaxes(title_text="extreme-move loss / HL PM equity (%)", row=1, col=2)
    html = out / "efficiency.html"
    pfig.write_html(str(html), include_plotlyjs=True)  # self-contained: opens offline
    return [str(png), str(html)]
