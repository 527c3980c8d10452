"""Measurements for "the way to 200k orders/s" (docs/benchmarks.md): where a crossing fill spends its
time, and how independent books scale over processes.

Run: ``python benchmarks/bench_scaling.py [--n 5000] [--procs 1,2,4] [--config TOML]``, with ``PYTHONPATH``
set to the ``src`` of the tree to measure (the streams are ``bench_core.py``'s, same config rules).

1. **Profile of a crossing fill.** ``cProfile`` over ``n`` IOC orders that each fill one resting ask through
   ``Exchange.apply``; the self time of every function is summed by the layer its file belongs to (book,
   order handling, settlement, margin and valuation, liquidation check, transaction, dispatch and events,
   market rules, fixed point, ``Fraction``/``Decimal``, other). cProfile inflates call-heavy code, so the
   shares are indicative; the total per order is given without the profiler too.
2. **Independent books over processes.** ``P`` processes, each with its own exchange (a shard: one market's
   book and its own accounts), each applying ``n`` crossing fills (and, separately, ``n`` bare-book
   matches); aggregate orders/s = ``P * n`` / the wall time of the slowest. On a machine with ``C`` cores the
   ideal is ``min(P, C)`` times one process.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing as mp
import os
import pstats
import time
from pathlib import Path
from typing import Any

import bench_core as core

LAYERS: list[tuple[str, str]] = [
    ("netclear/book/", "order book"),
    ("netclear/engine/handlers/trading", "settlement (trading.py)"),
    ("netclear/engine/handlers/", "order handling (orders, matching, holds, fees, records)"),
    ("netclear/engine/liquidation/", "liquidation check"),
    ("netclear/engine/health", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/engine/accounting", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/engine/solvency", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/engine/availability", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/engine/pm_model", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/margin/", "margin and valuation (accounting, solvency, margin rules)"),
    ("netclear/engine/lending", "lending"),
    ("netclear/lending/", "lending"),
    ("netclear/engine/tx", "transaction (Tx, account clones)"),
    ("netclear/engine/state", "transaction (Tx, account clones)"),
    ("netclear/engine/", "dispatch, context, events (exchange.py, context.py, events.py)"),
    ("netclear/markets/", "market rules (ticks, fees, prices)"),
    ("netclear/fixedpoint", "fixed point"),
    ("fractions.py", "Fraction / Decimal"),
    ("decimal", "Fraction / Decimal"),
    ("numbers.py", "Fraction / Decimal"),
]


def _layer(filename: str, func: str) -> str:
    if filename == "~":  # builtins: attribute them by name
        if "Decimal" in func or "decimal" in func:
            return "Fraction / Decimal"
        return "builtins (dict, list, isinstance, ...)"
    for prefix, name in LAYERS:
        if prefix in filename:
            return name
    return "other (stdlib, msgspec, ...)"


def profile(build: Any, cfg: Any, n: int) -> dict[str, Any]:
    ex, orders = build(cfg, n)
    t0 = time.process_time()
    for o in orders:
        ex.apply(o)
    plain = (time.process_time() - t0) / n
    ex, orders = build(cfg, n)
    prof = cProfile.Profile()
    prof.enable()
    for o in orders:
        ex.apply(o)
    prof.disable()
    stats = pstats.Stats(prof)
    by_layer: dict[str, float] = {}
    calls = 0
    for (filename, _line, func), (_cc, nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = _layer(filename, func)
        by_layer[key] = by_layer.get(key, 0.0) + tt
        calls += nc
    total = sum(by_layer.values())
    shares = dict(sorted(((k, v / total) for k, v in by_layer.items()), key=lambda kv: -kv[1]))
    return {"us per order (no profiler)": plain * 1e6, "calls per order": calls / n, "shares": shares}


def _worker(args: tuple[str, str, int, Any]) -> tuple[float, float, float]:
    kind, cfg_path, n, barrier = args
    if kind == "book":
        from netclear.book.orderbook import OrderBook, RestingOrder
        from netclear.fixedpoint import PX_SCALE

        book = OrderBook(0)
        for i in range(n):
            px = (100_000 + (i % 500)) * PX_SCALE
            book.add(
                RestingOrder(
                    oid=i + 1, user=core.MAKER, asset=0, is_buy=False, px=px, sz=100, orig_sz=100, time=i
                )
            )
        barrier.wait()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            book.match(core.TAKER, n + i + 1, True, 200_000 * PX_SCALE, 100)
    else:
        ex, orders = core.fills_setup(core._config(cfg_path), n)
        barrier.wait()
        t0, c0 = time.perf_counter(), time.process_time()
        for o in orders:
            ex.apply(o)
    return t0, time.perf_counter(), time.process_time() - c0


def scaling(cfg_path: str, n: int, procs: list[int], kind: str) -> dict[int, dict[str, float]]:
    """Per process count: aggregate orders/s in wall time, and the mean per-process rate in CPU time (flat
    when the shards do not slow each other down beyond sharing the cores)."""
    out: dict[int, dict[str, float]] = {}
    ctx = mp.get_context("fork")
    for p in procs:
        with ctx.Manager() as manager:
            barrier = manager.Barrier(p)
            with ctx.Pool(p) as pool:
                spans = pool.map(_worker, [(kind, cfg_path, n, barrier)] * p)
        start = min(s for s, _, _ in spans)
        end = max(e for _, e, _ in spans)
        out[p] = {"wall": p * n / (end - start), "cpu": sum(n / c for _, _, c in spans) / p}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument(
        "--config", default=None, help="preset TOML (default: this tree's hyperliquid, dead keys removed)"
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import netclear

    src = Path(netclear.__file__).resolve().parents[1]
    cfg_path = args.config
    if cfg_path is None:
        cfg_path = str(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_scaling_{os.getpid()}.toml")
        core._strip_dead_keys(src / "netclear/config/presets/hyperliquid.toml", Path(cfg_path))
    print(f"machine: {core.machine()}; netclear from {src}")
    result: dict[str, Any] = {}
    for name, build in (("crossing fill", core.fills_setup), ("PM auto-borrow buy", core.pm_setup)):
        prof = profile(build, core._config(cfg_path), args.n if name == "crossing fill" else args.n // 2)
        result[name] = prof
        print(
            f"{name}: {prof['us per order (no profiler)']:.0f} us CPU each, {prof['calls per order']:.0f} calls"
        )
        for k, v in prof["shares"].items():
            print(f"  {v * 100:5.1f}%  {k}")
    procs = [int(p) for p in args.procs.split(",")]
    for kind in ("book", "engine"):
        rates = scaling(cfg_path, args.n if kind == "engine" else args.n * 20, procs, kind)
        result[kind] = rates
        wall, cpu = rates[procs[0]]["wall"], rates[procs[0]]["cpu"]
        line = ", ".join(
            f"{p}: {r['wall']:,.0f}/s wall ({r['wall'] / wall:.2f}x), {r['cpu'] / cpu:.2f} CPU rate per process"
            for p, r in rates.items()
        )
        print(f"{kind} crossing fills, independent shards by process count: {line}")
    print(f"load now {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
