"""``netclear simulate``, ``netclear scenarios`` and ``netclear recommend`` (docs/risk-lab.md).

Bad input prints one line naming the key and the rule, exits with code 2 and writes nothing: the
scenario is validated and run in full before the output directory is created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from netclear.errors import NetclearError

console = Console(stderr=True)
out_console = Console()


def _fail(exc: NetclearError) -> typer.Exit:
    console.print(f"[red]error[/red] {exc.field}: {exc.rule}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _progress(total: int, quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("path-steps"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )


def simulate(
    scenario: Annotated[
        str, typer.Argument(help="a TOML file, or a shipped scenario's name (netclear scenarios)")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="output directory (summary.json, time series, report.html)")
    ] = None,
    paths: Annotated[int | None, typer.Option(help="number of paths (overrides the scenario)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed (overrides the scenario)")] = None,
    backend: Annotated[str, typer.Option(help="local, ray or dask")] = "local",
    workers: Annotated[int, typer.Option(help="parallel workers")] = 1,
    address: Annotated[
        str | None, typer.Option(help="Ray or Dask cluster address (default: start a local one)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
) -> None:
    """Run a crash scenario through the exchange engine under each margin regime, side by side."""
    from netclear.sim.backends import BACKENDS
    from netclear.sim.lab import jobs_for, summary_bytes
    from netclear.sim.lab import simulate as run
    from netclear.sim.report import write_outputs
    from netclear.sim.scenario import load_scenario

    try:
        if backend not in BACKENDS:
            raise NetclearError("--backend", f"must be one of {', '.join(BACKENDS)}")
        if workers < 1:
            raise NetclearError("--workers", "must be at least 1")
        if out is not None and out.exists() and not out.is_dir():
            raise NetclearError("--out", f"{out} exists and is not a directory")
        sc = load_scenario(scenario, paths=paths, seed=seed)
        total = len(jobs_for(sc)) * sc.steps
        with _progress(total, as_json) as bar:
            task = bar.add_task("run", total=total)
            summary, results = run(sc, backend, workers, lambda n: bar.advance(task, n), address)
    except NetclearError as exc:
        raise _fail(exc) from None
    if out is not None:
        write_outputs(out, summary, results)
    if as_json:
        print(summary_bytes(summary).decode(), end="")
        return
    _print_table(summary)
    if out is not None:
        out_console.print(f"wrote {out}/summary.json, time series and report.html")


def _print_table(summary: dict[str, Any]) -> None:
    from netclear.sim.report import TABLE_ROWS

    regimes = summary["compare"]
    t = Table(title=f"{summary['scenario']}: {summary['paths']} path(s), sizing {summary['sizing']} (USDC)")
    t.add_column("")
    for r in regimes:
        t.add_column(r, justify="right")
    for label, key in TABLE_ROWS:
        t.add_row(label, *[f"{summary['regimes'][r][key]:,}" for r in regimes])
    t.add_row("bad debt total (mean)", *[f"{summary['regimes'][r]['badDebt']['total']:,}" for r in regimes])
    out_console.print(t)
    from netclear.sim.report import EXTERNAL_ROWS, EXTRA_ROWS

    if all("external" in summary["regimes"][r] for r in regimes):
        e = Table(title="external lending market: with vs without it, same paths")
        e.add_column("")
        for r in regimes:
            e.add_column(r, justify="right")
        for label, key in EXTERNAL_ROWS:
            e.add_row(label, *[f"{summary['regimes'][r]['external'].get(key, 0):,}" for r in regimes])
        for label, key in EXTRA_ROWS:
            e.add_row(
                label,
                *[
                    f"{summary['regimes'][r]['external']['extraOnHyperliquid'].get(key, 0):,}"
                    for r in regimes
                ],
            )
        out_console.print(e)
    for name, diff in summary["comparison"].items():
        out_console.print(f"{name}: " + ", ".join(f"{k} {v:+,}" for k, v in diff.items()))


def scenarios() -> None:
    """List the shipped risk-lab scenarios."""
    from netclear.sim.scenario import available_scenarios, load_scenario

    for name in available_scenarios():
        out_console.print(f"[bold]{name}[/bold]: {load_scenario(name).description}", highlight=False)


def recommend(
    scenario: Annotated[str, typer.Argument(help="a TOML file or a shipped scenario's name")],
    param: Annotated[str, typer.Option(help="dotted preset key, e.g. portfolio_margin.collateral.HYPE.ltv")],
    range_: Annotated[str, typer.Option("--range", help="LO:HI to search")],
    max_var95: Annotated[float, typer.Option("--max-var95", help="VaR95 bound K (USDC)")],
    regime: Annotated[
        str | None, typer.Option(help="regime whose VaR95 is bounded (default: the first)")
    ] = None,
    iterations: Annotated[int, typer.Option(help="bisection steps")] = 6,
    paths: Annotated[int | None, typer.Option(help="paths per evaluation (overrides the scenario)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed (overrides the scenario)")] = None,
    backend: Annotated[str, typer.Option(help="local, ray or dask")] = "local",
    workers: Annotated[int, typer.Option(help="parallel workers")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Most permissive value of a parameter whose VaR95 stays within a bound (Chaos Labs' binary search)."""
    from netclear.sim.backends import BACKENDS
    from netclear.sim.lab import check
    from netclear.sim.recommend import current_value, parse_range
    from netclear.sim.recommend import recommend as run
    from netclear.sim.scenario import load_scenario

    try:
        if backend not in BACKENDS:
            raise NetclearError("--backend", f"must be one of {', '.join(BACKENDS)}")
        if iterations < 1 or iterations > 30:
            raise NetclearError("--iterations", "must be between 1 and 30")
        if max_var95 < 0:
            raise NetclearError("--max-var95", "must not be negative")
        lo, hi = parse_range(range_)
        sc = load_scenario(scenario, paths=paths, seed=seed)
        check(sc)
        current_value(sc, param)
        result = run(
            sc,
            param,
            lo,
            hi,
            max_var95,
            regime=regime,
            iterations=iterations,
            backend=backend,
            workers=workers,
        )
    except NetclearError as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    t = Table(title=f"{param} under {result['regime']}, VaR95 <= {max_var95:,}")
    for col in ("", "value", "VaR95", "LaR95", "borrow usage"):
        t.add_column(col, justify="right")
    rec = result["recommended"]
    for label, row in (("current", result["current"]), ("recommended", rec)):
        if row is None:
            t.add_row(label, "none in range", "-", "-", "-")
        else:
            t.add_row(
                label, row["value"], f"{row['var95']:,}", f"{row['lar95']:,}", f"{row['borrowUsage']:.4f}"
            )
    if "delta" in result:
        d = result["delta"]
        t.add_row("change", "", f"{d['var95']:+,}", f"{d['lar95']:+,}", f"{d['borrowUsage']:+.4f}")
    out_console.print(t)


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(scenarios)
    app.command()(recommend)
