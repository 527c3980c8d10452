"""Machine instructions per engine action, counted by valgrind's callgrind: a measure that does not move
with the load of a shared machine, for several source trees in one run.

Run (valgrind from Debian's ``valgrind`` package; each stream takes 20-60 s under it)::

    python benchmarks/bench_instructions.py --tree before=/path/to/old/checkout --tree after=. \
        [--streams noop,adds,cancels,fills,pm] [--json out.json]

Wall-clock and CPU-time rates on a 2-core VM shared with other jobs move by tens of percent from run to run
(docs/benchmarks.md); the number of instructions the CPU retires for the same Python code, inputs and
interpreter is the same every time (valgrind documentation, "Callgrind: a call-graph generating cache and
branch prediction profiler": it counts instructions by simulation, not by sampling). It is a proxy: cache
misses and branch mispredictions make an instruction cost more or less, so rates are still measured by
``bench_core.py``; this script answers "did the engine do less work", exactly.

How: the child (``PYTHONPATH=<tree>/src`` alone, as in ``bench_core.py``) builds the exchange and the
stream's actions with collection off, then applies them through ``itertools.starmap``; callgrind collects
only inside ``starmap_next`` (``--collect-atstart=no --toggle-collect=starmap_next``), so set-up, imports
and building the actions are not counted. Streams are ``bench_core.py``'s (the 5beddae preset with the
dead keys removed, the per-user open-order limit lifted): resting adds, cancels, crossing IOC fills, PM
spot buys that auto-borrow, and ``noop`` (the cost of one ``Exchange.apply`` that changes nothing: the
frame every action pays; only trees that have the ``noop`` action).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_core  # the streams' helpers, shared so both scripts measure the same actions

STREAMS = {"noop": 2_000, "adds": 1_000, "cancels": 1_000, "fills": 300, "pm": 150}
"""Actions counted per stream (small: callgrind runs Python about 50x slower)."""

CHILD = r"""
import itertools, sys
sys.path.insert(0, {bench!r})
import bench_core as b
from netclear.engine import actions as A
from netclear.engine import order_actions as O

cfg = b._config({cfg!r})
kind, n = {kind!r}, {n}
ex = b._exchange(cfg)
if kind == "noop":
    acts = [(A.Noop(user=b.MAKER),) for _ in range(n)]
elif kind == "adds":
    acts = [(b._order(b.MAKER, 0, True, 90_000 - (i % 500), "0.001"),) for i in range(n)]
elif kind == "cancels":
    for i in range(n):
        ex.apply(b._order(b.MAKER, 0, True, 90_000 - (i % 500), "0.001"))
    acts = [(O.Cancel(user=b.MAKER, cancels=[O.CancelSpec(0, oid)]),) for oid in b._resting_oids(ex, b.MAKER)]
elif kind == "fills":
    ex, orders = b.fills_setup(cfg, n)
    acts = [(o,) for o in orders]
else:  # pm
    ex, orders = b.pm_setup(cfg, n)
    acts = [(o,) for o in orders]
assert len(acts) == n, (len(acts), n)
for events in itertools.starmap(ex.apply, acts):
    b._ok(events)
"""


def count(tree: Path, cfg: Path, kind: str, n: int) -> float | None:
    """Instructions per action of ``kind`` in ``tree`` (None when the tree cannot run the stream)."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    code = CHILD.format(bench=str(Path(__file__).resolve().parent), cfg=str(cfg), kind=kind, n=n)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=starmap_next",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
            ],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        return None
    m = re.search(r"Collected : (\d+)", proc.stderr)
    return int(m.group(1)) / n if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", action="append", required=True, help="name=path of a source checkout")
    ap.add_argument("--streams", default=",".join(STREAMS))
    ap.add_argument("--preset", default=None, help="TOML for every tree (default: first tree's hyperliquid)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    for t in args.tree:
        if "=" not in t or not (Path(t.split("=", 1)[1]) / "src/netclear").is_dir():
            ap.error(f"--tree: {t!r} must be name=path of a checkout with src/netclear")
    streams = args.streams.split(",")
    for kind in streams:
        if kind not in STREAMS:
            ap.error(f"--streams: {kind!r} is not one of {', '.join(STREAMS)}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    trees = dict(t.split("=", 1) for t in args.tree)
    paths = {k: Path(v).resolve() for k, v in trees.items()}
    first = next(iter(paths.values()))
    preset = Path(args.preset) if args.preset else first / "src/netclear/config/presets/hyperliquid.toml"
    cfg = Path(tempfile.mkdtemp()) / "preset.toml"
    bench_core._strip_dead_keys(preset, cfg)
    results: dict[str, dict[str, float | None]] = {}
    for kind in streams:
        results[kind] = {name: count(path, cfg, kind, STREAMS[kind]) for name, path in paths.items()}
    names = list(paths)
    print(f"| stream | {' | '.join(names)} | {names[0]} / {names[-1]} |")
    print("|---|" + "---:|" * (len(names) + 1))
    for kind, row in results.items():
        cells = [f"{row[n]:,.0f}" if row[n] else "n/a" for n in names]
        a, z = row[names[0]], row[names[-1]]
        ratio = f"{a / z:.2f}x" if a and z else ""
        print(f"| {kind} | {' | '.join(cells)} | {ratio} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"preset": str(preset), "results": results}, indent=2))


if __name__ == "__main__":
    main()
