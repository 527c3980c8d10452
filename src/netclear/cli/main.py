"""``netclear`` command line: the margin calculator now; the exchange server, replay and the risk
lab register their commands here as they land."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from netclear.errors import NetclearError

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="netclear: portfolio-margin clearinghouse and risk lab"
)
console = Console()


def _load_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = (resources.files("netclear.examples") / "basis-trade.json").read_text()
    else:
        text = path.read_text()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise typer.BadParameter("the portfolio file must hold a JSON object")
    return data


@app.command()
def margin(
    file: Annotated[
        Path | None, typer.Argument(help="portfolio JSON (default: the bundled basis-trade example)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full JSON result")] = False,
) -> None:
    """Margin of a portfolio under standard, unified and portfolio margin, side by side."""
    from netclear.margin import evaluate

    portfolio = _load_json(file)
    try:
        result = evaluate(portfolio)
    except NetclearError as exc:
        console.print(f"[red]error[/red] {exc.field}: {exc.rule}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result, indent=2))
        return
    source = str(file) if file else "bundled example basis-trade.json"
    table = Table(title=f"netclear margin - {source} (preset {result['preset']}, amounts in USDC)")
    table.add_column("")
    sections = ("standard", "unifiedAccount", "portfolioMargin")
    for name in sections:
        table.add_column(name, justify="right")
    rows = [
        ("maintenance requirement", "maintenanceRequirement"),
        ("margin available", "marginAvailable"),
        ("excess margin", "excessMargin"),
        ("liquidatable", "liquidatable"),
    ]
    for label, key in rows:
        table.add_row(label, *[str(result[s].get(key, "-")) for s in sections])
    table.add_row(
        "ratio",
        "-",
        str(result["unifiedAccount"].get("unifiedAccountRatio", "-")),
        str(result["portfolioMargin"].get("portfolioMarginRatio", "-")),
    )
    console.print(table)
    columns = ("coin", "szi", "entryPx", "positionValue", "unrealizedPnl", "marginUsed", "liquidationPx")
    pos = Table(title=f"positions ({result['mode']})")
    for col in columns:
        pos.add_column(col, justify="right")
    for p in result.get("positions", []):
        pos.add_row(*[str(p[k]) if p[k] is not None else "-" for k in columns])
    console.print(pos)
    freed = result["comparison"].get("capitalFreedByPortfolioMargin")
    if freed is not None:
        console.print(f"capital freed by portfolio margin vs standard: [bold]{freed}[/bold] USDC")


@app.command()
def serve(
    preset: Annotated[
        str, typer.Option(help="bundled preset name or TOML path (ignored for an existing log)")
    ] = "hyperliquid",
    db: Annotated[
        str, typer.Option(help="action log: a SQLite file, or postgresql://...")
    ] = "netclear.sqlite",
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (the SDK's LOCAL_API_URL uses 3001)")] = 3001,
    chain: Annotated[
        str, typer.Option(help="signature chain: Testnet (what the SDK signs for local URLs) or Mainnet")
    ] = "Testnet",
    operator_token: Annotated[
        str | None, typer.Option(help="bearer token for /operator/* (default: random, printed)")
    ] = None,
    demo: Annotated[bool, typer.Option(help="run a demo price feed and market maker")] = False,
) -> None:
    """Run the exchange: Hyperliquid-compatible /info, /exchange and /ws over a durable action log."""
    import uvicorn

    from netclear.api.server import create_app
    from netclear.ledger.node import Node, open_log

    log = open_log(db)
    existing = log.get_meta("config") is not None
    node = Node(None if existing else preset, log)
    if chain not in ("Testnet", "Mainnet"):
        raise typer.BadParameter("chain must be Testnet or Mainnet")
    app_ = create_app(node, chain=chain, operator_token=operator_token)  # type: ignore[arg-type]
    console.print(
        f"netclear {node.config.preset.name}: log {db} at seq {node.seq} (replayed {node.replayed}), "
        f"state {node.exchange.state_hash()[:16]}"
    )
    console.print(
        f"API http://{host}:{port}  (info, exchange, ws)  operator token: {app_.state.operator_token}"
    )
    if demo:
        from netclear.api.demo import DemoMarket

        DemoMarket(node, app_.state.writer).start()
        console.print("demo price feed and market maker running")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def replay(
    db: Annotated[
        str, typer.Option(help="action log: a SQLite file, or postgresql://...")
    ] = "netclear.sqlite",
    full: Annotated[bool, typer.Option(help="ignore snapshots and replay from the first action")] = False,
) -> None:
    """Re-derive the state from the action log and print its sequence number and state hash."""
    import time

    from netclear.ledger.node import open_log
    from netclear.ledger.node import replay as do_replay

    start = time.perf_counter()
    try:
        exchange, seq = do_replay(None, open_log(db), from_snapshot=not full)
    except NetclearError as exc:
        console.print(f"[red]error[/red] {exc.field}: {exc.rule}")
        raise typer.Exit(2) from None
    took = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seq": seq,
                "time": exchange.state.time_ms,
                "stateHash": exchange.state_hash(),
                "seconds": round(took, 3),
            }
        )
    )


@app.command()
def presets() -> None:
    """List the bundled configuration presets."""
    from netclear.config import available_presets, load_preset

    for name in available_presets():
        console.print(f"[bold]{name}[/bold]: {load_preset(name).preset.description}")


from netclear.cli.simulate import register as _register_risk_lab  # noqa: E402

_register_risk_lab(app)


def main() -> None:  # pragma: no cover
    app()
