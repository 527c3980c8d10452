"""The capital-efficiency study (``netclear efficiency``) reproduced from the shipped strategy file with
closed forms computed here, independently of the study's bisection over the margin calculator:

* standard = spot value + sum of |notional| / max leverage (Hyperliquid "Margining": initial margin
  at the position's leverage; spot is paid in full);
* Hyperliquid PM = standard - B, with B the auto-borrow, at most ``sum collateral x LTV`` (health factor
  >= 100%) and at most what keeps PMR = (20 + MM + B) / (IM + sum collateral x (0.5 + LTV/2)) <= 0.95
  (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin); MM = notional / (2 x max
  leverage) below the first tier bound;
* scenario PM = C solving C = 1.25 x (M0 + 5% x max(0, standard - C)), with M0 the scenario requirement
  of the book without borrow (margin/scenario.py).
"""

from __future__ import annotations

from fractions import Fraction as F

from typer.testing import CliRunner

from netclear.calculator import efficiency as study
from netclear.cli.main import app
from netclear.config import resolve
from netclear.margin import scenario as sc
from netclear.markets.registry import Registry


def _expected(data: dict, reg: Registry, s: study.Strategy) -> dict[str, F]:  # type: ignore[type-arg]
    px = {k: F(v) for k, v in data["prices"].items()}
    pm = reg.pm
    assert pm is not None and pm.scenario is not None
    params = pm.scenario

    def token_px(name: str) -> F:
        tok = reg.token_by_name[name]
        return px[tok.perp] if tok.perp is not None else px[name]

    spot = sum((F(q) * token_px(t) for t, q in s.balances.items()), F(0))
    im = mm = F(0)
    legs = [
        sc.Leg(reg.token_by_name[t].perp or t, t, "spot", F(q) * token_px(t)) for t, q in s.balances.items()
    ]
    for p in s.positions:
        lev = reg.perp(p["coin"]).max_leverage
        ntl = F(p["szi"]) * px[p["coin"]]
        im += abs(ntl) / lev
        mm += abs(ntl) / (2 * lev)
        legs.append(sc.Leg(p["coin"].split(":")[-1], p["coin"], "perp", ntl))
    standard = spot + im
    power = cl = F(0)
    for t, q in s.balances.items():
        c = reg.collateral(reg.token_by_name[t].index)
        if c is not None:
            power += F(q) * token_px(t) * c.ltv
            cl += F(q) * token_px(t) * (F(1, 2) + c.ltv / 2)
    b = max(F(0), min(power, F(95, 100) * (im + cl) - 20 - mm))
    m0 = sc.evaluate(legs, [], params).maintenance
    k = params.initial_multiple
    shock = params.depeg["USDC"]
    scen = k * m0 if k * m0 >= standard else (k * m0 + k * shock * standard) / (1 + k * shock)
    extreme = sc.evaluate(legs, [], params).extreme_loss
    return {"standard": standard, "hyperliquidPM": standard - b, "scenarioPM": scen, "extreme": extreme}


def test_study_table_reproduced_from_the_shipped_file() -> None:
    data, strategies = study.load_strategies()
    preset, rows = study.run_study()
    reg = Registry.from_config(resolve(preset))
    assert [r.strategy.name for r in rows] == [s.name for s in strategies]
    assert len(rows) >= 7
    for row, s in zip(rows, strategies, strict=True):
        exp = _expected(data, reg, s)
        for regime in ("standard", "hyperliquidPM", "scenarioPM"):
            got = row.capital[regime]
            # the study rounds up to a cent
            assert exp[regime] <= got <= exp[regime] + F(1, 100), (
                s.name,
                regime,
                float(got),
                float(exp[regime]),
            )
        assert row.capital["unified"] == row.capital["standard"]  # USDC dexes only: one pool either way
        assert row.extreme_loss == exp["extreme"]
    by = {r.strategy.name: r for r in rows}
    # the basis trade by hand: 100,000 + 2,500; borrow capped by LTV 1 x 100,000 x 0.5 = 50,000
    assert by["basis-btc"].capital["standard"] == 102_500
    assert by["basis-btc"].capital["hyperliquidPM"] == 52_500
    # a HYPE-collateralised short is cheaper under HL PM than under the scenario model
    assert (
        by["hype-collateral-short"].capital["hyperliquidPM"]
        < by["hype-collateral-short"].capital["scenarioPM"]
    )
    # perps-only books: HL PM frees nothing
    for name in ("pair-btc-eth", "hip3-hedge", "directional"):
        assert by[name].freed("hyperliquidPM") == 0


def test_claims_follow_from_the_figures() -> None:
    preset, rows = study.run_study()
    reg = Registry.from_config(resolve(preset))
    claims = study.verdict(rows, reg)
    over = [r.strategy.name for r in rows if r.freed("hyperliquidPM") >= F(3, 10)]
    assert set(over) == {"basis-btc", "basis-hype", "hype-collateral-short"}
    assert claims["freed30"].startswith(
        f"'>=30% more capital-efficient' holds under Hyperliquid's rules for {', '.join(over)} "
    )
    # gain bound 1 / (1 - max LTV) = 1 / 0.35 < 3.35: no book reaches it under HL PM
    assert all(r.leverage_gain("hyperliquidPM") <= 1 / (1 - study.max_ltv(reg)) for r in rows)
    assert "does not hold" in claims["leverage335"] and "2.86x" in claims["leverage335"]


def test_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, ["efficiency", "--json", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.stdout
    import json

    out = json.loads(r.stdout)
    assert out["strategies"][0]["capital"]["hyperliquidPM"] == "52500"
    assert (tmp_path / "efficiency.png").stat().st_size > 10_000
    assert "plotly" in (tmp_path / "efficiency.html").read_text()
    bad = tmp_path / "s.json"
    bad.write_text('{"strategies": [{"name": "x", "positions": [{"coin": "NOPE", "szi": "1"}]}]}')
    r = CliRunner().invoke(app, ["efficiency", "--strategies", str(bad)])
    assert r.exit_code == 2 and "NOPE" in r.stdout
