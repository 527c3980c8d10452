"""Risk-lab runs in a directory: each run is a folder holding ``summary.json`` (and ``report.html``).

``netclear simulate SCENARIO --out DIR`` writes one (docs/dashboard.md). The listing reads only the
summaries' top-level scalar fields, so it stays small whatever the runs hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_RUNS = 200
MAX_FIELDS = 12
ROOT = "~"
"""The name of the run held by the directory itself (its files are served under ``/dashboard/runs/~/``)."""


def _scalars(summary: Any) -> dict[str, Any]:
    if not isinstance(summary, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
        if len(out) >= MAX_FIELDS:
            break
    return out


def _run(folder: Path, name: str, label: str) -> dict[str, Any] | None:
    summary_file = folder / "summary.json"
    if not summary_file.is_file():
        return None
    try:
        summary = json.loads(summary_file.read_text())
        error = None
    except (OSError, ValueError) as exc:
        summary, error = None, f"summary.json unreadable: {exc}"
    return {
        "name": name,
        "label": label,
        "modified": int(summary_file.stat().st_mtime * 1000),
        "summary": _scalars(summary),
        "report": (folder / "report.html").is_file(),
        "error": error,
    }


def list_runs(root: Path | None) -> dict[str, Any]:
    """``{"dir", "runs": [...newest first]}``; the directory itself counts as a run (named ``~``) if it has a summary."""
    if root is None:
        return {"dir": None, "runs": []}
    runs: list[dict[str, Any]] = []
    if root.is_dir():
        here = _run(root, ROOT, root.name)
        if here is not None:
            runs.append(here)
        for child in sorted(root.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                found = _run(child, child.name, child.name)
                if found is not None:
                    runs.append(found)
    runs.sort(key=lambda r: r["modified"], reverse=True)
    return {"dir": str(root), "runs": runs[:MAX_RUNS]}


def run_file(root: Path | None, name: str, path: str) -> Path | None:
    """The file ``path`` of run ``name``, or None when it is missing or outside the run's folder."""
    if root is None or "/" in name or name in ("", ".", ".."):
        return None
    base = (root if name == ROOT else root / name).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        return None
    if name != ROOT and base.parent != root.resolve():
        return None
    return target
