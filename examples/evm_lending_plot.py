"""Draw the HyperEVM lending contagion of a risk-lab run as a PNG (the figure in docs/risk-lab.md,
"HyperEVM lending"): HYPE's perp mark and spot-book price on Hyperliquid with and without the EVM market
(path 0, per regime), the EVM collateral seized and what its liquidators sold on Hyperliquid, and the
Hyperliquid liquidated notional with and without the market (means over paths).

Run after ``netclear simulate oct-10-2025-with-evm-lending --out DIR``:
``python examples/evm_lending_plot.py DIR out.png``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pyarrow.parquet as pq


def _runs(rows: list[dict], regime: str, sizing: str, flag: bool) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        if r["regime"] == regime and r["sizing"] == sizing and r["withExternal"] is flag:
            out.setdefault(r["path"], []).append(r)
    return out


def _mean(runs: dict[int, list[dict]], key: str, scale: float) -> list[float]:
    n = len(runs[0])
    return [sum(p[i][key] for p in runs.values()) / len(runs) / scale for i in range(n)]


def main(out_dir: str, png: str) -> None:
    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    rows = pq.read_table(Path(out_dir) / "timeseries.parquet").to_pylist()
    sizing = summary["sizing"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    colors = {"portfolioMargin": "tab:blue", "standard": "tab:orange", "unifiedAccount": "tab:green"}
    first = summary["compare"][0]
    for regime in summary["compare"]:
        with_m, without = _runs(rows, regime, sizing, True), _runs(rows, regime, sizing, False)
        minutes = [r["minute"] for r in with_m[0]]
        c = colors.get(regime, "tab:gray")
        if regime == first:
            for key, label, color in (
                ("mark_HYPE", "perp mark", "tab:blue"),
                ("book_HYPE", "spot book", "tab:red"),
            ):
                axes[0].plot(
                    minutes, [r[key] for r in with_m[0]], color=color, label=f"{label}, with the EVM market"
                )
                axes[0].plot(
                    minutes,
                    [r[key] for r in without[0]],
                    "--",
                    color=color,
                    alpha=0.6,
                    label=f"{label}, without",
                )
        axes[1].plot(
            minutes, _mean(with_m, "evm_seizedUsd", 1e6), color=c, label=f"EVM collateral seized, {regime}"
        )
        axes[1].plot(
            minutes, _mean(with_m, "evm_hlSoldNotional", 1e6), ":", color=c, label=f"sold on HL, {regime}"
        )
        axes[2].plot(
            minutes, _mean(with_m, "liquidatedNotional", 1e6), color=c, label=f"with the EVM market, {regime}"
        )
        axes[2].plot(
            minutes,
            _mean(without, "liquidatedNotional", 1e6),
            "--",
            color=c,
            alpha=0.6,
            label=f"without, {regime}",
        )
    axes[0].set_title(f"HYPE on Hyperliquid, path 0, {first} (USDC)")
    axes[1].set_title("EVM collateral seized / sold on HL (M USD, mean)")
    axes[2].set_title("HL liquidated notional, cumulative (M USDC, mean)")
    for ax in axes:
        ax.set_xlabel("minute")
        ax.legend(fontsize=7)
    fig.suptitle(f"{summary['scenario']}: {summary['paths']} paths, {summary['evm']['market']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
