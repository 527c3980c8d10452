"""The dashboard's routes: the page, its assets (plotly.js from the installed wheel, no CDN), the risk-lab
run listing, and ``dashboard=False`` (``netclear serve --no-dashboard``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from netclear.api.server import create_app
from netclear.dashboard.runs import list_runs, run_file
from netclear.ledger.node import Node, open_log


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node("hyperliquid", open_log(tmp_path / "n.sqlite"))
    yield n
    n.close()


def _run(root: Path, name: str, summary: object, report: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    if report:
        (folder / "report.html").write_text(f"<h1>{name}</h1>")
    return folder


def test_page_and_assets_are_served_without_network(node: Node, tmp_path: Path) -> None:
    client = TestClient(create_app(node, runs_dir=str(tmp_path)))
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "/dashboard/plotly.min.js" in html and "/dashboard/static/app.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from another host
    js = client.get("/dashboard/static/app.js")
    assert js.status_code == 200 and '"/info"' in js.text and "/ws" in js.text
    assert "https://" not in js.text and "http://" not in js.text
    plotly = client.get("/dashboard/plotly.min.js")
    assert plotly.status_code == 200 and plotly.text.lstrip().startswith("/**\n* plotly.js v")
    assert client.get("/dashboard/static/style.css").status_code == 200


def test_no_dashboard_leaves_root_unserved(node: Node) -> None:
    client = TestClient(create_app(node, dashboard=False))
    assert client.get("/").status_code == 404
    assert client.get("/dashboard/runs").status_code == 404


def test_runs_listing_newest_first_with_scalar_summary_fields(tmp_path: Path) -> None:
    assert list_runs(None) == {"dir": None, "runs": []}
    assert list_runs(tmp_path)["runs"] == []
    old = _run(tmp_path, "a-old", {"scenario": "oct-10-2025", "badDebt": 12.5, "paths": [1, 2]})
    new = _run(tmp_path, "b-new", {"scenario": "crash", "seed": 7}, report=False)
    (tmp_path / "not-a-run").mkdir()
    import os

    os.utime(old / "summary.json", (1_000_000, 1_000_000))
    os.utime(new / "summary.json", (2_000_000, 2_000_000))
    runs = list_runs(tmp_path)["runs"]
    assert [r["name"] for r in runs] == ["b-new", "a-old"]
    assert runs[1]["summary"] == {"scenario": "oct-10-2025", "badDebt": 12.5}  # lists left out
    assert (runs[0]["report"], runs[1]["report"]) == (False, True)
    assert runs[1]["modified"] == 1_000_000_000


def test_run_files_stay_inside_their_run(tmp_path: Path, node: Node) -> None:
    root = tmp_path / "runs"
    _run(root, "r1", {"x": 1})
    (tmp_path / "secret.txt").write_text("no")
    assert run_file(root, "r1", "report.html") == (root / "r1" / "report.html").resolve()
    assert run_file(root, "r1", "../../secret.txt") is None
    assert run_file(root, "..", "secret.txt") is None
    assert run_file(root, "r1", "missing.html") is None
    assert run_file(root, ".", "r1/report.html") is None  # the directory itself is "~", never "."
    client = TestClient(create_app(node, runs_dir=str(root)))
    assert client.get("/dashboard/runs/r1/report.html").text == "<h1>r1</h1>"
    assert client.get("/dashboard/runs/r1/..%2F..%2Fsecret.txt").status_code == 404
    listing = client.get("/dashboard/runs").json()
    assert listing["dir"] == str(root) and [r["name"] for r in listing["runs"]] == ["r1"]


def test_the_runs_directory_itself_can_be_a_run(tmp_path: Path, node: Node) -> None:
    """``netclear serve --runs runs/oct10`` given one run's own folder: it is listed as ``~``."""
    (tmp_path / "summary.json").write_text(json.dumps({"scenario": "oct-10-2025"}))
    (tmp_path / "report.html").write_text("<h1>root</h1>")
    [run] = list_runs(tmp_path)["runs"]
    assert (run["name"], run["label"], run["report"]) == ("~", tmp_path.name, True)
    client = TestClient(create_app(node, runs_dir=str(tmp_path)))
    assert client.get("/dashboard/runs/~/report.html").text == "<h1>root</h1>"
