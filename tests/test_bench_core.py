"""The issue-12 benchmark harness (benchmarks/bench_core.py) runs against this checkout and reports every
row, and its same-repeat ratios are what the docs say they are. Speed itself is never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_core  # noqa: E402


def test_dead_config_keys_are_removed_and_nothing_else(tmp_path: Path) -> None:
    src = tmp_path / "in.toml"
    src.write_text(
        '[funding]\nmark_ema_s = 150\ninterval_h = 1\n[orders]\n market_slippage = "0.05"\nx = 2\n'
    )
    out = tmp_path / "out.toml"
    bench_core._strip_dead_keys(src, out)
    assert out.read_text() == "[funding]\ninterval_h = 1\n[orders]\nx = 2\n"


def test_paired_ratios_are_medians_of_same_repeat_quotients() -> None:
    samples = {
        "a": [{"x": 100.0, "b": 1000.0, "t ms": 50.0}, {"x": 200.0, "b": 1000.0, "t ms": 40.0}],
        "b": [{"x": 300.0, "b": 1000.0, "t ms": 10.0}, {"x": 200.0, "b": 500.0, "t ms": 20.0}],
    }
    # rates: 3.0 and 1.0 -> median 2.0; ratio gains: (0.3/0.1)=3.0 and (0.4/0.2)=2.0 -> 2.5
    assert bench_core._paired(samples, "a", "b", "x", "b", "ops/s") == (2.0, 2.5)
    # times are inverted: 50/10 = 5 and 40/20 = 2 -> 3.5
    assert bench_core._paired(samples, "a", "b", "t ms", None, "ms") == (3.5, None)


def test_the_harness_measures_every_in_process_row_on_this_tree(tmp_path: Path) -> None:
    out = tmp_path / "core.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_core.py"), "--tree", f"here={ROOT}"]
    cmd += ["--only", "orders,tick", "--k", "1", "--n", "40", "--triggers", "30", "--holders", "300"]
    subprocess.run([*cmd, "--json", str(out)], check=True, capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text())
    (sample,) = data["samples"]["here"]
    wanted = {num for _label, num, _den, _unit in bench_core.ROWS if not num.startswith("http")}
    assert wanted <= set(sample)
    assert all(sample[k] > 0 for k in wanted)


def test_a_tree_without_netclear_is_refused(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_core.py"), "--tree", f"x={tmp_path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected NAME=PATH with PATH/src/netclear" in proc.stderr


def test_a_child_refuses_code_from_another_tree(tmp_path: Path) -> None:
    """Old and new code never mix: a child whose ``netclear`` does not come from its tree's src stops."""
    cfg = tmp_path / "c.toml"
    bench_core._strip_dead_keys(ROOT / "src/netclear/config/presets/hyperliquid.toml", cfg)
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_core.py"),
        "--child",
        "orders",
        "--config",
        str(cfg),
    ]
    cmd += ["--expect-src", str(tmp_path)]
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode != 0 and f"not from {tmp_path}" in proc.stderr
