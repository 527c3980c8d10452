"""Websocket fan-out under order load (issue "Hardening", defect 7).

One ``netclear serve`` process; 4 client threads post pre-signed resting ``order`` actions (the SDK's
own ``sign_l1_action``) to ``/exchange``, first with no websocket subscriber, then with S subscribers
(a separate process: each connection subscribes to ``l2Book`` BTC, ``trades`` BTC and ``allMids`` and
reads everything). Every order changes the BTC book, so every commit owes every subscriber an update.
Reported: orders/s, p50 and p99 latency of each phase and the ratio (with / without subscribers) in
the same run, plus messages the subscribers received.

Run: ``python benchmarks/bench_ws.py [--n 1000] [--subscribers 200]``; set ``PYTHONPATH`` to the
source tree to measure (the "before" row of docs/benchmarks.md ran the same script against the code
before the fan-out change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

AUTH = ["--operator-token", "bench"]
OP = {"authorization": "Bearer bench"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _subscribers(url: str, count: int, ready: Any, stop: Any, received: Any) -> None:
    import websockets

    async def one(n: list[int]) -> None:
        async with websockets.connect(url, max_size=None) as conn:
            for sub in (
                {"type": "l2Book", "coin": "BTC"},
                {"type": "trades", "coin": "BTC"},
                {"type": "allMids"},
            ):
                await conn.send(json.dumps({"method": "subscribe", "subscription": sub}))
            while not stop.is_set():
                try:
                    await asyncio.wait_for(conn.recv(), timeout=0.5)
                    n[0] += 1
                except TimeoutError:
                    continue

    async def main() -> None:
        counts = [[0] for _ in range(count)]
        tasks = [asyncio.create_task(one(c)) for c in counts]
        await asyncio.sleep(2.0)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.gather(*tasks, return_exceptions=True)
        received.value = sum(c[0] for c in counts)

    asyncio.run(main())


def run(n: int, subscribers: int, clients: int = 4) -> dict[str, float]:
    import eth_account
    import loopback

    tmp = tempfile.mkdtemp()
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("netclear")),
            "serve",
            "--db",
            f"{tmp}/ws.sqlite",
            "--port",
            str(port),
            *AUTH,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    loopback.wait_until_serving(url, server, 60, "netclear serve")
    requests.post(url + "/operator/prices", json={"oracle": {"BTC": "100000"}}, headers=OP, timeout=10)
    wallets = [eth_account.Account.create() for _ in range(clients)]
    for w in wallets:
        requests.post(
            url + "/operator/deposit", json={"user": w.address, "amount": "10000000"}, headers=OP, timeout=10
        )
    bodies = loopback.alo_bids(wallets, 2 * n)

    def phase(part: int) -> tuple[list[float], float]:
        def worker(k: int) -> list[float]:
            s, out = requests.Session(), []
            mine = bodies[k][part * (n // clients) : (part + 1) * (n // clients)]
            for body in mine:
                t = time.perf_counter()
                r = s.post(url + "/exchange", json=body, timeout=60).json()
                assert r.get("status") == "ok", r
                out.append(time.perf_counter() - t)
            return out

        lat: list[float] = []
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for got in pool.map(worker, range(clients)):
                lat.extend(got)
        return lat, len(lat) / (time.perf_counter() - t0)

    quiet_lat, quiet_rate = phase(0)
    ready, stop = mp.Event(), mp.Event()
    received = mp.Value("q", 0)
    proc = mp.Process(
        target=_subscribers, args=(f"ws://127.0.0.1:{port}/ws", subscribers, ready, stop, received)
    )
    proc.start()
    ready.wait(120)
    busy_lat, busy_rate = phase(1)
    time.sleep(1.0)
    stop.set()
    proc.join(60)
    server.terminate()
    server.wait(timeout=30)
    q = statistics.quantiles
    return {
        "orders/s (0 subscribers)": quiet_rate,
        "p50 ms (0)": q(quiet_lat, n=100)[49] * 1000,
        "p99 ms (0)": q(quiet_lat, n=100)[98] * 1000,
        f"orders/s ({subscribers} subscribers)": busy_rate,
        f"p50 ms ({subscribers})": q(busy_lat, n=100)[49] * 1000,
        f"p99 ms ({subscribers})": q(busy_lat, n=100)[98] * 1000,
        "throughput ratio": busy_rate / quiet_rate,
        "p99 ratio": q(busy_lat, n=100)[98] / q(quiet_lat, n=100)[98],
        "messages received": float(received.value),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="orders per phase")
    parser.add_argument("--subscribers", type=int, default=200)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for k, v in run(args.n, args.subscribers).items():
        print(f"{k:32s} {v:12.2f}")


if __name__ == "__main__":
    main()
