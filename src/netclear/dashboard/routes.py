"""Routes of the dashboard: the page, its static files, plotly.js and the risk-lab runs (files only)."""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from netclear.dashboard.runs import list_runs, run_file

STATIC = Path(str(resources.files("netclear.dashboard") / "static"))
CACHE = {"cache-control": "public, max-age=86400"}


def plotly_js() -> Path | None:
    """``plotly.min.js`` shipped inside the installed ``plotly`` wheel, or None without it."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def mount(app: FastAPI, *, runs_dir: str | Path | None = None) -> None:
    """Add ``GET /`` and the ``/dashboard/*`` routes to ``app``."""
    runs = Path(runs_dir) if runs_dir is not None else None
    index = (STATIC / "index.html").read_text()

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(index)

    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/dashboard/plotly.min.js", include_in_schema=False)
    def plotly() -> Response:
        path = plotly_js()
        if path is None:
            return Response("/* plotly is not installed: charts are off */", media_type="text/javascript")
        return FileResponse(path, media_type="text/javascript", headers=CACHE)

    @app.get("/dashboard/runs", include_in_schema=False)
    def runs_list() -> dict[str, Any]:
        return list_runs(runs)

    @app.get("/dashboard/runs/{name}/{path:path}", include_in_schema=False)
    def runs_file(name: str, path: str) -> Response:
        target = run_file(runs, name, path or "report.html")
        if target is None:
            return JSONResponse({"code": 404, "msg": f"no file {path!r} in run {name!r}"}, status_code=404)
        return FileResponse(target)
