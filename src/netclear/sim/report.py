"""Risk-lab outputs: ``summary.json``, the per-step time series, and a self-contained ``report.html``.

The time series are one table (a row per path x regime x sizing x step) in Parquet via pyarrow, or CSV
when pyarrow is absent. The report embeds plotly's bundled JavaScript (``plotly.offline.get_plotlyjs``)
so it opens with no network; without plotly it is a plain HTML table.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from netclear.sim.lab import summary_bytes

KEYS = ("path", "regime", "sizing")


def rows_of(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counterfactual = any(r.get("withExternal") for r in results)
    out = []
    for r in results:
        keys: dict[str, Any] = {"path": r["path"], "regime": r["regime"], "sizing": r["sizing"]}
        if counterfactual:
            keys["withExternal"] = bool(r.get("withExternal"))
        for row in r["rows"]:
            out.append({**keys, **row})
    return out


def write_timeseries(out_dir: Path, results: list[dict[str, Any]]) -> Path:
    rows = rows_of(results)
    columns: list[str] = []
    for row in rows:
        for k in row:
            if k not in columns:
                columns.append(k)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        path = out_dir / "timeseries.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)
        return path
    table = pa.table({c: [row.get(c) for row in rows] for c in columns})
    path = out_dir / "timeseries.parquet"
    pq.write_table(table, path)
    return path


def _mean_series(
    results: list[dict[str, Any]], regime: str, sizing: str, key: str
) -> tuple[list[float], list[float]]:
    runs = [r for r in results if r["regime"] == regime and r["sizing"] == sizing]
    if not runs:
        return [], []
    minutes = [row["minute"] for row in runs[0]["rows"]]
    values = [sum(r["rows"][i].get(key, 0.0) for r in runs) / len(runs) for i in range(len(minutes))]
    return minutes, values


def _main(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs with the scenario's external markets (the counterfactual runs are kept apart)."""
    if any(r.get("withExternal") for r in results):
        return [r for r in results if r.get("withExternal")]
    return results


def _figures(summary: dict[str, Any], everything: list[dict[str, Any]]) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    results = _main(everything)

    regimes = summary["compare"]
    sizing = summary["sizing"]
    figs = []
    first = next(r for r in results if r["path"] == 0 and r["sizing"] == sizing)
    coins = sorted(k.removeprefix("oracle_") for k in first["rows"][0] if k.startswith("oracle_"))
    fig = go.Figure()
    for coin in coins:
        base = first["rows"][0][f"oracle_{coin}"] or 1.0
        xs = [row["minute"] for row in first["rows"]]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[100 * (row[f"oracle_{coin}"] / base - 1) for row in first["rows"]],
                name=f"{coin} oracle",
            )
        )
        for r in results:
            if r["path"] == 0 and r["sizing"] == sizing:
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=[100 * (row[f"mark_{coin}"] / base - 1) for row in r["rows"]],
                        name=f"{coin} mark ({r['regime']})",
                        line={"dash": "dot"},
                    )
                )
    fig.update_layout(title="Price paths, path 0 (% from start)", xaxis_title="minute", yaxis_title="%")
    figs.append(fig)
    for key, title in (
        ("liquidatedNotional", "Liquidated notional, cumulative (USDC, mean over paths)"),
        ("utilization", "Lending utilization (USDC reserve, mean over paths)"),
    ):
        fig = go.Figure()
        for reg in regimes:
            xs, ys = _mean_series(results, reg, sizing, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, name=reg))
        fig.update_layout(title=title, xaxis_title="minute")
        figs.append(fig)
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=("VaR95 (USDC)", "LaR95 (USDC)", "Bad debt, mean (USDC)")
    )
    blocks = summary["regimes"]
    fig.add_trace(go.Bar(x=regimes, y=[blocks[r]["var95"] for r in regimes], name="VaR95"), row=1, col=1)
    fig.add_trace(go.Bar(x=regimes, y=[blocks[r]["lar95"] for r in regimes], name="LaR95"), row=1, col=2)
    fig.add_trace(
        go.Bar(x=regimes, y=[blocks[r]["badDebt"]["total"] for r in regimes], name="bad debt"), row=1, col=3
    )
    fig.update_layout(title="Per regime, side by side", showlegend=False)
    figs.append(fig)
    if len(results) != len(everything):
        fig = go.Figure()
        for r in everything:
            if r["path"] == 0 and r["sizing"] == sizing and "book_HYPE" in r["rows"][0]:
                label = "with" if r.get("withExternal") else "without"
                fig.add_trace(
                    go.Scatter(
                        x=[row["minute"] for row in r["rows"]],
                        y=[row["book_HYPE"] for row in r["rows"]],
                        name=f"{r['regime']}, {label} the EVM market",
                    )
                )
        fig.update_layout(
            title="HYPE spot book price on Hyperliquid, path 0: with and without the EVM market"
        )
        figs.append(fig)
    return figs


TABLE_ROWS = (
    ("liquidated notional (mean)", "liquidatedNotional"),
    ("accounts liquidated (mean)", "accountsLiquidated"),
    ("VaR95", "var95"),
    ("LaR95", "lar95"),
    ("expected shortfall 95", "expectedShortfall95"),
    ("ADL notional (mean)", "adlNotional"),
    ("ADL excess (mean)", "adlExcess"),
    ("peak utilization", "peakUtilization"),
    ("peak borrow rate", "peakBorrowRate"),
    ("cascade minutes (mean)", "cascadeMinutes"),
    ("fire-sale impact (max)", "fireSaleImpact"),
    ("open interest lost (mean)", "openInterestLost"),
    ("suppliers unable to withdraw", "suppliersUnableToWithdraw"),
)


EXTERNAL_ROWS = (
    ("EVM liquidations (mean)", "liquidations"),
    ("EVM accounts liquidated (mean)", "accountsLiquidated"),
    ("EVM collateral seized, USD (mean)", "collateralSeizedUsd"),
    ("EVM bad debt, USD (mean, Gauntlet insolvency)", "badDebt"),
    ("EVM VaR95, USD", "var95"),
    ("sold or hedged on Hyperliquid, USDC (mean)", "soldOnHyperliquid"),
    ("HL liquidated notional without the EVM market (mean)", "liquidatedNotionalWithout"),
)
EXTRA_ROWS = (
    ("extra HL liquidated notional", "liquidatedNotional"),
    ("extra HL accounts liquidated", "accountsLiquidated"),
    ("extra HL bad debt", "badDebt"),
    ("extra HL insolvency", "insolvency"),
    ("extra decline of the HYPE perp mark (worst path)", "markDeclineHYPE"),
    ("extra decline of the HYPE spot book (worst path)", "bookDeclineHYPE"),
)


def external_table_html(summary: dict[str, Any]) -> str:
    regimes = [r for r in summary["compare"] if "external" in summary["regimes"][r]]
    if not regimes:
        return ""
    head = "".join(f"<th>{html.escape(r)}</th>" for r in regimes)
    body = []
    for label, key in EXTERNAL_ROWS:
        cells = "".join(f"<td>{summary['regimes'][r]['external'].get(key, 0):,}</td>" for r in regimes)
        body.append(f"<tr><th>{label}</th>{cells}</tr>")
    for label, key in EXTRA_ROWS:
        ext = [summary["regimes"][r]["external"]["extraOnHyperliquid"].get(key, 0) for r in regimes]
        body.append(f"<tr><th>{label}</th>{''.join(f'<td>{v:,}</td>' for v in ext)}</tr>")
    return (
        "<h2>External lending market: with vs without (same paths)</h2>"
        f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"
    )


def table_html(summary: dict[str, Any]) -> str:
    regimes = summary["compare"]
    head = "".join(f"<th>{html.escape(r)}</th>" for r in regimes)
    body = []
    for label, key in TABLE_ROWS:
        cells = "".join(f"<td>{summary['regimes'][r][key]:,}</td>" for r in regimes)
        body.append(f"<tr><th>{label}</th>{cells}</tr>")
    cells = "".join(f"<td>{summary['regimes'][r]['badDebt']['total']:,}</td>" for r in regimes)
    body.append(f"<tr><th>bad debt total (mean)</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def write_report(out_dir: Path, summary: dict[str, Any], results: list[dict[str, Any]]) -> Path:
    parts = []
    try:
        import plotly.io as pio

        for i, fig in enumerate(_figures(summary, results)):
            parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), div_id=f"fig{i}"))
    except ImportError:
        parts.append("<p>plotly is not installed: plots omitted (pip install 'netclear[lab]').</p>")
    title = html.escape(f"netclear risk lab: {summary['scenario']}")
    meta = html.escape(
        f"preset {summary['preset']}, seed {summary['seed']}, {summary['paths']} path(s), "
        f"{summary['steps']} steps of {summary['stepSeconds']} s, sizing {summary['sizing']}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{title}</h1><p>{meta}</p><h2>Comparison</h2>{table_html(summary)}"
        f"{external_table_html(summary)}" + "".join(parts) + "</body></html>\n"
    )
    path = out_dir / "report.html"
    path.write_text(page)
    return path


def write_outputs(out_dir: Path, summary: dict[str, Any], results: list[dict[str, Any]]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    s = out_dir / "summary.json"
    s.write_bytes(summary_bytes(summary))
    return [s, write_timeseries(out_dir, results), write_report(out_dir, summary, results)]
