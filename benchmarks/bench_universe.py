"""Start-up time and memory with Hyperliquid's full market universe against a small one.

Run: ``.venv/bin/python benchmarks/bench_universe.py [--repeat 5]``. Each stage runs in a fresh
interpreter (so imports, caches and peak RSS start clean) for two configurations that differ only in
their market universe:

* ``full``: the ``hyperliquid`` preset (220 validator perps, 5 HIP-3 perps, 399 tokens, 233 spot pairs);
* ``small``: the same preset cut to the 7 perps, 7 tokens and 6 spot pairs it had before the snapshot
  (BTC ETH SOL XRP HYPE DOGE ARB and the HIP-3 perps; USDC HYPE UBTC UETH USOL USDT0 USDH).

Stages: ``load`` = parse and validate the TOML and build the registry (``load_config``); ``exchange``
= ``Exchange(config)``; ``serve`` = a node over a fresh SQLite log, the FastAPI app and the demo's
bootstrap (its first price feed, maker deposits and quotes), i.e. ``netclear serve --demo`` before it
listens; ``tick`` = one demo feed and re-quote after the bootstrap. Times are medians over ``--repeat``
processes; memory is the process's peak RSS at the end of the stage. Ratios are full / small.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SMALL_PERPS = {"BTC", "ETH", "SOL", "XRP", "HYPE", "DOGE", "ARB"}
SMALL_TOKENS = {"USDC", "HYPE", "UBTC", "UETH", "USOL", "USDT0", "USDH"}
SMALL_PAIRS = {107, 142, 151, 156, 166, 230}

CHILD = r"""
import json, os, resource, sys, tempfile, time
stage, preset = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
from netclear.config import load_config
from netclear.engine.exchange import Exchange
t_import = time.perf_counter()
cfg = load_config(preset)
t_load = time.perf_counter()
out = {"load_s": t_load - t_import}
if stage == "exchange":
    Exchange(cfg)
    out["exchange_s"] = time.perf_counter() - t_load
if stage in ("serve", "tick"):
    from netclear.api.demo import DemoMarket
    from netclear.api.server import create_app
    from netclear.ledger.node import Node, open_log
    node = Node(cfg, open_log(os.path.join(tempfile.mkdtemp(), "bench.sqlite")))
    app = create_app(node, operator_token="bench")
    demo = DemoMarket(node, app.state.writer)
    demo._bootstrap()
    t_serve = time.perf_counter()
    out["serve_s"] = t_serve - t_load
    out["markets"] = len(demo._markets())
    if stage == "tick":
        demo._feed()
        demo._quote()
        out["tick_s"] = time.perf_counter() - t_serve
    app.state.writer.stop()
    node.close()
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def small_preset(path: Path) -> None:
    """The ``hyperliquid`` preset with its generated universe cut to the small set."""
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts/gen_hyperliquid_universe.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    snap = json.loads(gen.SNAPSHOT.read_text())
    snap["meta"]["universe"] = [a for a in snap["meta"]["universe"] if a["name"] in SMALL_PERPS]
    snap["spotMeta"]["tokens"] = [t for t in snap["spotMeta"]["tokens"] if t["name"] in SMALL_TOKENS]
    snap["spotMeta"]["universe"] = [p for p in snap["spotMeta"]["universe"] if p["index"] in SMALL_PAIRS]
    path.write_text(gen.render(gen.PRESET.read_text(), snap))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(stage: str, universe: str) -> dict[str, Any]:
    small = json.dumps(
        {"perps": sorted(SMALL_PERPS), "tokens": sorted(SMALL_TOKENS), "pairs": sorted(SMALL_PAIRS)}
    )
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, stage, universe, small],
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd,
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; median of {args.repeat} processes")
    rows = [
        ("parse + validate the preset TOML (`load_config`)", "exchange", "load_s", "s"),
        ("`Exchange(config)`", "exchange", "exchange_s", "s"),
        ("peak RSS after `Exchange(config)`", "exchange", "rss_mb", "MB"),
        ("node + app + demo bootstrap (`serve --demo` start-up)", "serve", "serve_s", "s"),
        ("peak RSS after the demo bootstrap", "serve", "rss_mb", "MB"),
        ("one demo feed + re-quote", "tick", "tick_s", "s"),
    ]
    tmp = Path(tempfile.mkdtemp())
    presets = {"full": ROOT / "src/netclear/config/presets/hyperliquid.toml", "small": tmp / "small.toml"}
    small_preset(presets["small"])
    cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for stage in ("exchange", "serve", "tick"):
        for universe in ("full", "small"):
            cache[(stage, universe)] = [run(stage, presets[universe]) for _ in range(args.repeat)]
    markets = {u: cache[("serve", u)][0]["markets"] for u in ("full", "small")}
    print(f"quoted markets: full {markets['full']}, small {markets['small']}")
    print("| stage | full | small | full / small |")
    print("|---|---:|---:|---:|")
    for label, stage, key, unit in rows:
        full = statistics.median(r[key] for r in cache[(stage, "full")])
        small = statistics.median(r[key] for r in cache[(stage, "small")])
        fmt = (lambda x: f"{x * 1000:.0f} ms") if unit == "s" else (lambda x: f"{x:.0f} MB")
        print(f"| {label} | {fmt(full)} | {fmt(small)} | {full / small:.1f}x |")


if __name__ == "__main__":
    main()
