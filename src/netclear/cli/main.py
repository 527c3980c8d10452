"""``netclear`` command line: the margin calculator now; the exchange server, replay and the risk
lab register their commands here as they land."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netclear.errors import NetclearError

SWITCH_INTERVAL_S = 0.0005
"""``netclear serve``'s interpreter switch interval (see ``serve``)."""

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="netclear: portfolio-margin clearinghouse and risk lab"
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str) -> NoReturn:
    """Bad input: one line on stderr naming the file/option and the rule, exit code 2 (DESIGN rule 7)."""
    err_console.print(f"[red]error[/red] {escape(message)}")
    raise typer.Exit(2)


def _load_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = (resources.files("netclear.examples") / "basis-trade.json").read_text()
    else:
        try:
            text = path.read_text()
        except FileNotFoundError:
            fail(f"{path}: no such file")
        except IsADirectoryError:
            fail(f"{path}: is a directory, not a portfolio JSON file")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{path}: cannot read it: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if not isinstance(data, dict):
        fail(f"{path}: must hold a JSON object (a portfolio), not a {type(data).__name__}")
    return data


@app.command()
def margin(
    file: Annotated[
        Path | None, typer.Argument(help="portfolio JSON (default: the bundled basis-trade example)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full JSON result")] = False,
) -> None:
    """Margin of a portfolio under standard, unified and portfolio margin, side by side."""
    from netclear.calculator import evaluate

    portfolio = _load_json(file)
    source = str(file) if file else "bundled example basis-trade.json"
    try:
        result = evaluate(portfolio)
    except NetclearError as exc:
        fail(f"{source}: {exc.field}: {exc.rule}")
    except ArithmeticError as exc:  # e.g. an exponent too large for exact arithmetic
        fail(f"{source}: a number is out of range ({type(exc).__name__})")
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"netclear margin - {source} (preset {result['preset']}, amounts in USDC)")
    table.add_column("")
    sections = ("standard", "unifiedAccount", "portfolioMargin", "scenarioMargin")
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
        str(result["scenarioMargin"].get("marginRatio", "-")),
    )
    console.print(table)
    worst = result["scenarioMargin"].get("worstScenario")
    if worst is not None:
        moves = ", ".join(f"{u} {m}" for u, m in worst.items()) or "none"
        charges = ", ".join(f"{k} {v}" for k, v in result["scenarioMargin"]["charges"].items())
        console.print(f"scenario margin: worst scenario {moves}; {charges}")
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


def _sqlite_file(db: str) -> Path | None:
    """The file of a SQLite log URL (``None`` for PostgreSQL), as ``open_log`` reads it."""
    if db.startswith(("postgresql://", "postgres://")):
        return None
    return Path(db.removeprefix("sqlite:///").removeprefix("sqlite://"))


def _open_log_or_fail(db: str) -> Any:
    """``open_log`` with any failure (a directory, a file that is not a log, PostgreSQL unreachable)
    answered as one line naming ``--db`` (exit 2)."""
    from netclear.ledger.node import open_log

    try:
        return open_log(db)
    except NetclearError as exc:
        fail(f"--db {db}: {exc.field}: {exc.rule}")
    except Exception as exc:  # the database driver's own errors (sqlite3, psycopg)
        fail(
            f"--db {db}: cannot open the action log: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        )


def _port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (checked before anything is written), or ``None``."""
    import socket

    if not 1 <= port <= 65535:
        return "a port is a number from 1 to 65535"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        fail(f"--host {host}: cannot resolve it: {exc.strerror or exc}")
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(addr)
        except OSError as exc:
            return f"{exc.strerror or exc} (another server running?)"
    return None


@app.command()
def serve(
    preset: Annotated[
        str | None,
        typer.Option(
            help="bundled preset name or TOML path for a new log [default: hyperliquid]; an existing log "
            "keeps the configuration it was started under, and a different --preset is refused"
        ),
    ] = None,
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
    grant_pm: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-pm",
            help="let this address enable portfolio margin past the preset's eligibility gate (repeatable)",
        ),
    ] = None,
    demo_markets: Annotated[
        str | None,
        typer.Option(help="comma-separated markets the demo quotes (default: every listed one)"),
    ] = None,
    dashboard: Annotated[bool, typer.Option(help="serve the web dashboard at GET /")] = True,
    runs: Annotated[
        Path | None, typer.Option(help="risk-lab runs for the dashboard (netclear simulate --out DIR)")
    ] = None,
) -> None:
    """Run the exchange: Hyperliquid-compatible /info, /exchange and /ws over a durable action log."""
    import uvicorn

    from netclear.api.server import create_app
    from netclear.config import parse_config, resolve
    from netclear.ledger.node import Node

    # everything that can be refused is checked before the log is opened (which creates it)
    if chain not in ("Testnet", "Mainnet"):
        fail(f"--chain {chain}: must be Testnet or Mainnet")
    try:
        config = resolve(preset or "hyperliquid")
    except NetclearError as exc:
        fail(f"--preset {preset}: {exc.rule}")
    problem = _port_problem(host, port)
    if problem is not None:
        fail(f"--port {port}: cannot listen on {host}:{port}: {problem}")
    log = _open_log_or_fail(db)
    try:
        stored = log.get_meta("config")
    except NetclearError as exc:
        fail(f"--db {db}: {exc.field}: {exc.rule}")
    if stored is not None and preset is not None and config.model_dump_json() != stored:
        held = parse_config(json.loads(stored), source="log meta").preset.name
        log.close()
        fail(
            f"--preset {preset}: the log {db} holds an exchange started under preset {held!r}; serve it "
            "without --preset (it keeps its own configuration), or give a new --db"
        )
    try:
        node = Node(None if stored is not None else config, log)
    except NetclearError as exc:
        log.close()
        fail(f"--db {db}: {exc.field}: {exc.rule}")
    for address in grant_pm or []:
        from netclear.engine.actions import GrantPmEligibility

        if address.lower() not in node.exchange.state.pm_grants:
            outcome = node.submit(GrantPmEligibility(address=address))
            if outcome.error is not None:
                node.close()
                fail(f"--grant-pm {address}: {outcome.error.rule}")
        console.print(f"portfolio margin granted to {address.lower()}")
    app_ = create_app(
        node,
        chain=chain,  # type: ignore[arg-type]
        operator_token=operator_token,
        dashboard=dashboard,
        runs_dir=str(runs) if runs is not None else None,
    )
    console.print(
        f"netclear {node.config.preset.name}: log {db} at seq {node.seq} (replayed {node.replayed}), "
        f"state {node.exchange.state_hash()[:16]}"
    )
    console.print(
        f"API http://{host}:{port}  (info, exchange, ws)  operator token: {app_.state.operator_token}"
    )
    if dashboard:
        console.print(f"dashboard http://{host}:{port}/")
    if demo:
        from netclear.api.demo import DemoMarket

        wanted = [m.strip() for m in demo_markets.split(",") if m.strip()] if demo_markets else None
        # /operator/prices and /operator/demo use it
        app_.state.demo = DemoMarket(node, app_.state.writer, markets=wanted)
        app_.state.demo.start()
        console.print("demo price feed and market maker running")
    # The writer thread gives up the interpreter lock in every fsync and must take it back from
    # the busy event loop to acknowledge the batch; CPython makes it wait up to the switch interval
    # (5 ms by default; docs.python.org, sys.setswitchinterval). 0.5 ms shortens the group-commit
    # cycle, and so every signed request's latency, under load (docs/benchmarks.md).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from netclear.api.transport import CoalescingHttpToolsProtocol

    uvicorn.run(app_, host=host, port=port, log_level="warning", http=CoalescingHttpToolsProtocol)
    node.close()


@app.command()
def replay(
    db: Annotated[
        str, typer.Option(help="action log: a SQLite file, or postgresql://...")
    ] = "netclear.sqlite",
    full: Annotated[bool, typer.Option(help="ignore snapshots and replay from the first action")] = False,
) -> None:
    """Re-derive the state from the action log and print its sequence number and state hash."""
    import time

    from netclear.ledger.node import replay as do_replay

    path = _sqlite_file(db)
    if path is not None and not path.is_file():
        fail(f"--db {db}: no action log at {path}")
    log = _open_log_or_fail(db)
    start = time.perf_counter()
    try:
        exchange, seq = do_replay(None, log, from_snapshot=not full)
    except NetclearError as exc:
        fail(f"--db {db}: {exc.field}: {exc.rule}")
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


from netclear.cli.efficiency import efficiency as _efficiency  # noqa: E402

app.command(name="efficiency")(_efficiency)

from netclear.cli.simulate import register as _register_risk_lab  # noqa: E402

_register_risk_lab(app)


def main() -> None:  # pragma: no cover
    app()
