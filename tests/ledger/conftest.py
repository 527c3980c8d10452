"""Ledger fixtures: every log test runs against SQLite and against a throwaway PostgreSQL cluster.

The cluster (``initdb`` + ``postgres`` in a temporary directory, unix socket only) is started once per
session; each test gets its own schema. PostgreSQL tests skip, with the reason, where the server
binaries or psycopg are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netclear.ledger.pgtemp import ClusterUnavailable, TempCluster
from netclear.ledger.store import ChainedLog
from tests.ledger.helpers import Backend, PostgresBackend, SqliteBackend


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'netclear[pg]')")
    try:
        cluster = TempCluster()
    except ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL: {exc}")
    with cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "ledger.sqlite")
    cluster: TempCluster = request.getfixturevalue("pg_cluster")
    return PostgresBackend(cluster.conninfo)


@pytest.fixture
def open_log(backend: Backend) -> Iterator[Callable[..., ChainedLog]]:
    """Open (or reopen) the test's log; every log opened is closed at teardown."""
    opened: list[ChainedLog] = []

    def _open(**kwargs: Any) -> ChainedLog:
        log = backend.open(**kwargs)
        opened.append(log)
        return log

    yield _open
    for log in opened:
        log.close()
