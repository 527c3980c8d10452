"""``netclear efficiency``: the capital-efficiency study (:mod:`netclear.calculator.efficiency`) as a table,
JSON, and a PNG + HTML plot (docs/margin-models.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from netclear.errors import NetclearError

console = Console()


def efficiency(
    as_json: Annotated[bool, typer.Option("--json", help="print the study as JSON")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for efficiency.png and efficiency.html")
    ] = None,
    strategies: Annotated[
        Path | None, typer.Option(help="strategy library JSON (default: the shipped one)")
    ] = None,
) -> None:
    """Reference strategies under standard, unified, Hyperliquid PM and scenario PM: capital, capital
    freed, leverage, and the loss at the extreme move; whether ">=30%" and "3.35x" hold."""
    from netclear.calculator import efficiency as study
    from netclear.config import resolve
    from netclear.markets.registry import Registry

    try:
        text = strategies.read_text() if strategies is not None else None
        preset, rows = study.run_study(text)
        reg = Registry.from_config(resolve(preset))
    except (NetclearError, KeyError) as exc:
        rule = f"{exc.field}: {exc.rule}" if isinstance(exc, NetclearError) else f"missing key {exc}"
        console.print(f"[red]error[/red] {rule}")
        raise typer.Exit(2) from None
    except (OSError, ValueError) as exc:
        console.print(f"[red]error[/red] strategies: {exc}")
        raise typer.Exit(2) from None
    result = study.as_json(preset, rows, reg)
    files: list[str] = []
    if out is not None:
        try:
            files = study.write_plots(preset, rows, str(out))
        except ImportError as exc:
            console.print(f"[red]error[/red] --out needs the plots extra (matplotlib, plotly): {exc}")
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({**result, "files": files}, indent=2))
        return
    table = Table(title=f"netclear efficiency (preset {preset}; capital to open, USDC)")
    for col in ("strategy", *study.REGIMES, "HL PM freed", "scen. freed", "HL gain", "extreme loss / HL eq."):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for s in result["strategies"]:
        table.add_row(
            s["name"],
            *[s["capital"][k] for k in study.REGIMES],
            s["capitalFreedPct"]["hyperliquidPM"] + "%",
            s["capitalFreedPct"]["scenarioPM"] + "%",
            s["leverageGain"]["hyperliquidPM"] + "x",
            s["extremeLossToHlEquityPct"] + "%",
        )
    console.print(table)
    for text_ in result["claims"].values():
        console.print(text_)
    for f in files:
        console.print(f"wrote {f}")
