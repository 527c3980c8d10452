"""Draw a risk-lab run as a PNG (the figure in docs/risk-lab.md): cumulative liquidated notional and
bad debt over time per regime (mean over paths), and BTC's oracle on path 0.

Run after ``netclear simulate SCENARIO --out DIR``: ``python examples/risk_lab_plot.py DIR out.png``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pyarrow.parquet as pq


def external(summary: dict, rows: list[dict], png: str) -> None:
    """With vs without the EVM market: HYPE's spot book on path 0, HL liquidations (mean over paths)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for regime in summary["compare"]:
        for flag, style in ((True, "-"), (False, ":")):
            sel = [r for r in rows if r["regime"] == regime and r["withExternal"] is flag]
            p0 = [r for r in sel if r["path"] == 0]
            label = f"{regime}, {'with' if flag else 'without'} EVM"
            axes[0].plot([r["minute"] for r in p0], [r["book_HYPE"] for r in p0], style, label=label)
            paths = sorted({r["path"] for r in sel})
            minutes = [r["minute"] for r in p0]
            mean = [
                sum(r["liquidatedNotional"] for r in sel if r["minute"] == m) / len(paths) / 1e6
                for m in minutes
            ]
            axes[1].plot(minutes, mean, style, label=label)
    axes[0].set_title("HYPE spot book price on Hyperliquid, path 0")
    axes[1].set_title("Hyperliquid liquidated notional, cumulative (M USDC, mean)")
    for ax in axes:
        ax.set_xlabel("minute")
        ax.legend(fontsize=8)
    fig.suptitle(f"{summary['scenario']}: {summary['paths']} paths, with vs without the EVM lending market")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def main(out_dir: str, png: str) -> None:
    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    rows = pq.read_table(Path(out_dir) / "timeseries.parquet").to_pylist()
    if rows and "withExternal" in rows[0]:
        external(summary, rows, png)
        return
    sizing = summary["sizing"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for regime in summary["compare"]:
        runs: dict[int, list[dict[str, float]]] = {}
        for r in rows:
            if r["regime"] == regime and r["sizing"] == sizing:
                runs.setdefault(r["path"], []).append(r)
        minutes = [r["minute"] for r in runs[0]]
        for ax, key, scale in ((axes[1], "liquidatedNotional", 1e6), (axes[2], "badDebt", 1e3)):
            mean = [sum(p[i][key] for p in runs.values()) / len(runs) / scale for i in range(len(minutes))]
            ax.plot(minutes, mean, label=regime)
        if regime == summary["compare"][0]:
            base = runs[0][0]["oracle_BTC"]
            axes[0].plot(minutes, [100 * (r["oracle_BTC"] / base - 1) for r in runs[0]], label="BTC oracle")
            for coin in ("ETH", "SOL", "HYPE", "DOGE"):
                if f"oracle_{coin}" in runs[0][0]:
                    b = runs[0][0][f"oracle_{coin}"]
                    axes[0].plot(minutes, [100 * (r[f"oracle_{coin}"] / b - 1) for r in runs[0]], label=coin)
    axes[0].set_title("oracle, path 0 (% from start)")
    axes[1].set_title("liquidated notional, cumulative (M USDC, mean)")
    axes[2].set_title("bad debt, cumulative (k USDC, mean)")
    for ax in axes:
        ax.set_xlabel("minute")
        ax.legend(fontsize=8)
    fig.suptitle(f"{summary['scenario']}: {summary['paths']} paths, sizing {sizing}")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
