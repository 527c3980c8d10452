"""Local process pool, Ray and Dask return identical results for the same scenario and seed: each
backend runs the same pure jobs (DESIGN.md "Paths are independent units of work")."""

from __future__ import annotations

import pytest

from netclear.sim.lab import simulate, summary_bytes
from tests.sim.conftest import small_generated


@pytest.mark.slow
def test_local_pool_ray_and_dask_give_identical_summaries() -> None:
    pytest.importorskip("ray")
    pytest.importorskip("distributed")
    sc = small_generated(paths=2, horizon_minutes=5)
    serial, rs = simulate(sc, "local", 1)
    pooled, rp = simulate(sc, "local", 2)
    ray_summary, rr = simulate(sc, "ray", 2)
    dask_summary, rd = simulate(sc, "dask", 2)
    expected = summary_bytes(serial)
    assert summary_bytes(pooled) == expected
    assert summary_bytes(ray_summary) == expected
    assert summary_bytes(dask_summary) == expected
    hashes = [r["stateHash"] for r in rs]
    assert [r["stateHash"] for r in rp] == hashes
    assert [r["stateHash"] for r in rr] == hashes
    assert [r["stateHash"] for r in rd] == hashes
