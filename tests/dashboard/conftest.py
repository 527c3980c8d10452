"""Browser fixtures: Debian's ``chromium`` driven by Playwright for Python, one browser per module, and a
netclear server with the dashboard (``dashboard_server``: bootstrapped prices and demo quotes, as in
tests/api/conftest.py, plus an empty risk-lab runs directory).

``.ci/run`` installs ``chromium`` when it is missing; without it these tests are skipped locally and fail
under CI (``CI`` set).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from netclear.api.demo import DemoMarket
from netclear.api.server import create_app
from netclear.ledger.node import Node, open_log
from tests.api.conftest import OPERATOR_TOKEN, Server, free_port, wait_healthy

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it: apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--disable-dev-shm-usage"])
        yield b
        b.close()


def start_dashboard_server(db: Path, runs: Path, prepare: Callable[[Node], None] | None = None) -> Server:
    """Like tests/api/conftest.start_server, with the dashboard's runs directory and a hook that writes
    state (``prepare(node)``) before the demo quotes and the HTTP server start."""
    node = Node("hyperliquid", open_log(db))
    if prepare is not None:
        prepare(node)
    app = create_app(node, operator_token=OPERATOR_TOKEN, runs_dir=str(runs))
    DemoMarket(node, app.state.writer)._bootstrap()
    port = free_port()
    userver = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=userver.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    server = Server(url, node, OPERATOR_TOKEN, app, db, userver, thread)
    try:
        wait_healthy(url)
    except BaseException:
        server.stop(force=True)
        raise
    return server


@dataclass
class Dash:
    server: Server
    runs: Path


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    root = tmp_path_factory.mktemp("dash")
    runs = root / "runs"
    runs.mkdir()
    srv = start_dashboard_server(root / "netclear.sqlite", runs)
    yield Dash(srv, runs)
    srv.stop()


@dataclass
class Page:
    """A page with its console errors and uncaught exceptions collected."""

    page: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    """Requests to any host but the server's (refused: the dashboard must work with no network)."""

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=20_000)

    def tab(self, panel: str) -> None:
        self.page.click(f"#tabs a[data-panel={panel}]")
        self.page.wait_for_selector(f"#panel-{panel}.active")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(300)  # let plotly finish its transition
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    p = Page(ctx.new_page())
    p.page.on("console", lambda m: p.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    p.page.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))

    def offline(route: Any) -> None:
        if route.request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:")):
            route.continue_()
        else:
            p.outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", offline)
    yield p
    ctx.close()
