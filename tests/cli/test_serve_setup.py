"""Set-up rough edges of ``netclear serve`` (issue 9, defect 8): a ``--preset`` that differs from the
log's is refused naming both, a taken port is refused before anything is printed or written, and
building the app raises no deprecation warning."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from netclear.api.server import create_app
from netclear.cli.main import app
from netclear.ledger.node import Node, open_log

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``uvicorn.run`` replaced: a serve that got past its checks returns at once instead of serving."""
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    return calls


def test_preset_other_than_the_logs_is_refused(tmp_path: Path, no_server: list[Any]) -> None:
    db = tmp_path / "prealpha.sqlite"
    Node("hyperliquid-prealpha", open_log(db)).close()
    result = runner.invoke(app, ["serve", "--preset", "hyperliquid", "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "'hyperliquid-prealpha'" in result.output and "without --preset" in result.output
    assert "API http" not in result.output and no_server == []
    # without --preset the log's own configuration is served, and the banner says which
    served = runner.invoke(app, ["serve", "--db", str(db)])
    assert served.exit_code == 0, served.output
    assert "netclear hyperliquid-prealpha" in served.output and len(no_server) == 1


def test_taken_port_is_refused_before_the_banner_and_the_log(tmp_path: Path, no_server: list[Any]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        db = tmp_path / "new.sqlite"
        result = runner.invoke(app, ["serve", "--port", str(port), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert f"--port {port}" in result.output and "in use" in result.output
    assert "API http" not in result.output and no_server == []
    assert list(tmp_path.iterdir()) == []


def test_create_app_raises_no_deprecation_warning(tmp_path: Path) -> None:
    node = Node("hyperliquid", open_log(tmp_path / "w.sqlite"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api = create_app(node, operator_token="t")
    api.state.writer.stop()
    node.close()
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
