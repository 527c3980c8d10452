"""Where paths run: a local process pool (default), Ray or Dask. Paths are independent jobs (one
path x regime x sizing each) and every job depends only on its inputs, so each backend returns the
same results; they are sorted by (path, regime, sizing) before anything is summarized.

Ray (https://docs.ray.io/en/latest/ray-core/tasks.html) and Dask distributed
(https://distributed.dask.org/en/stable/client.html) are optional extras: ``pip install netclear[ray]``
or ``netclear[dask]``. Both connect to a running cluster when given an address (``ray.init(address)``,
``Client(address)``) and otherwise start a local one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from netclear.errors import ConfigError
from netclear.sim.runner import Job, run_job

BACKENDS = ("local", "ray", "dask")
Progress = Callable[[int], None] | None


def steps_of(job: Job) -> int:
    return job.scenario.steps


def _key(r: dict[str, Any]) -> tuple[int, str, str, bool]:
    return (int(r["path"]), str(r["regime"]), str(r["sizing"]), not r.get("withExternal", False))


def run_local(jobs: Sequence[Job], workers: int, progress: Progress = None) -> list[dict[str, Any]]:
    if workers <= 1:
        step = (lambda: progress(1)) if progress else None
        return [run_job(j, step) for j in jobs]
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_job, j) for j in jobs]
        for f in as_completed(futures):
            results.append(f.result())
            if progress:
                progress(steps_of(jobs[0]))
    return results


def run_ray(
    jobs: Sequence[Job], workers: int, progress: Progress = None, address: str | None = None
) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ConfigError("backend", "ray is not installed: pip install 'netclear[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(run_job)
        pending = [remote.remote(j) for j in jobs]
        results: list[dict[str, Any]] = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            results.extend(ray.get(done))
            if progress:
                progress(steps_of(jobs[0]))
        return results
    finally:
        if started:
            ray.shutdown()


def run_dask(
    jobs: Sequence[Job], workers: int, progress: Progress = None, address: str | None = None
) -> list[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError("backend", "dask is not installed: pip install 'netclear[dask]'") from None
    cluster = None
    if address:
        client = Client(address)  # type: ignore[no-untyped-call]
    else:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        futures = client.map(run_job, list(jobs), pure=False)
        results: list[dict[str, Any]] = []
        for f in dask_completed(futures):  # type: ignore[no-untyped-call]
            results.append(f.result())
            if progress:
                progress(steps_of(jobs[0]))
        return results
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def run_jobs(
    jobs: Sequence[Job],
    backend: str = "local",
    workers: int = 1,
    progress: Progress = None,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Run every job on ``backend``; results sorted by (path, regime, sizing)."""
    if backend == "local":
        results = run_local(jobs, workers, progress)
    elif backend == "ray":
        results = run_ray(jobs, workers, progress, address)
    elif backend == "dask":
        results = run_dask(jobs, workers, progress, address)
    else:
        raise ConfigError("backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return sorted(results, key=_key)
