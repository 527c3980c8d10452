"""Issue 12's streams for several source trees in one run, each row as a ratio to the bare book.

Run (from a checkout whose ``.venv`` has the project's dependencies)::

    python benchmarks/bench_core.py --tree before=/path/to/old/checkout --tree after=/path/to/new/checkout \
        [--quick] [--k 3] [--json out.json] [--md out.md]

Every tree is measured in fresh subprocesses whose ``PYTHONPATH`` is ``<tree>/src`` alone (the child checks
that ``netclear`` was imported from there), so old and new code never share an interpreter. Trees are
interleaved (before, after, before, after, ...) ``k`` times, so drift on a shared machine hits them alike;
the table shows the median of the ``k`` repeats, ratios taken inside each process first, and the last two
columns the median of last tree / first tree within each repeat. In-process rows are timed in CPU seconds
of the child (``--clock cpu``; ``--clock wall`` for wall time), the loopback row in wall time. The streams are
defined here, not in the trees, and use only what every tree since the issue was filed (5beddae) offers:
``Exchange(config)``, ``Exchange.apply`` with the public actions, the bare ``OrderBook``; the price-tick
book is written into the state directly (as ``bench_liquidation_scan.build`` does), since building 100,000
holders through ``apply`` would take minutes per tree.

One configuration for every tree: the ``--preset`` TOML (default: the first tree's bundled ``hyperliquid``
preset, at 5beddae 7 validator perps, 4 HIP-3 perps, 7 tokens, 6 pairs) with the config keys nothing read
and later versions refuse (``mark_ema_s``, ``perp_max_decimals``, ``spot_max_decimals``,
``market_slippage``) removed, and the per-user open-order limit lifted so one maker can rest ``n`` orders.

Streams (``n`` orders each; ``--quick`` uses smaller ``n`` and one repeat of the slow rows):

* ``book``: ``OrderBook.add`` / ``cancel`` / ``match`` (no validation, no margin): the ceiling of any Python
  engine here, and the denominator of every engine row (best of 3 fresh books of max(n, 20,000) orders);
* ``engine``: ``Exchange.apply(PlaceOrder | Cancel)``: resting adds, cancels, crossing IOC fills; PM spot
  buys that auto-borrow USDC against HYPE (ratio to book crossing fills);
* ``positions``: one account with 6 open perp positions (ETH SOL XRP HYPE DOGE ARB) rests BTC bids and
  takes BTC asks, against the same stream from an account with none (ratio = with / without);
* ``triggers``: cancels by an account with 10,000 resting stop orders, against one with none;
* ``tick``: one ``SetPrices`` moving every perp by -1% with 100,000 holders (1-3 positions, 2-20x,
  nothing liquidated): ms per tick after a first tick and 100 changed accounts (the steady state);
* ``http``: ``netclear serve`` of the tree in its own process; ``--http-procs`` client processes (default 2)
  hold ``--http-conns`` keep-alive connections (default 8, one wallet each) on raw sockets and post orders
  pre-signed with the Hyperliquid SDK's ``sign_l1_action`` and serialised before timing, each connection
  waiting for its answer (closed loop): orders/s, p50/p99 latency, the server's CPU per order (its
  ``/proc`` user + system time), against ``/info`` ``userAbstraction`` from the same connections. Every
  answer is checked (HTTP 200, ``"status": "ok"``, no error status), so a server that rejects is no faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

DEAD_KEYS = ("mark_ema_s", "perp_max_decimals", "spot_max_decimals", "market_slippage")

MAKER = "0x" + "ee" * 20
TAKER = "0x" + "a1" * 20
LP = "0x" + "c0" * 20
PRICES = {
    "BTC": "100000",
    "ETH": "3500",
    "SOL": "180",
    "XRP": "2.5",
    "HYPE": "40",
    "DOGE": "0.2",
    "ARB": "0.5",
}
# one ~1,000 USDC position in each of the six perps other than BTC (sizes on their szDecimals)
SIX = {"ETH": "0.3", "SOL": "5", "XRP": "400", "HYPE": "25", "DOGE": "5000", "ARB": "2000"}

# ------------------------------------------------------------------------------------------------ child
# Everything below up to the parent section runs inside a child interpreter with PYTHONPATH=<tree>/src.


_clock = time.process_time
"""The child's timer: CPU time of the process by default (``--clock cpu``), so other jobs on a shared
machine slow the rows less; ``--clock wall`` times wall-clock seconds."""


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _config(path: str) -> Any:
    import tomllib

    from netclear.config import parse_config

    with open(path, "rb") as f:
        data = tomllib.load(f)
    data.setdefault("orders", {})["max_open_orders"] = 10**7
    return parse_config(data, source=path)


def _exchange(cfg: Any) -> Any:
    from netclear.engine import actions as A
    from netclear.engine.exchange import Exchange

    ex = Exchange(cfg)
    ex.apply(
        A.SetPrices(
            oracle={c: D(p) for c, p in PRICES.items()},
            spot={"@142": D(100000), "@107": D(40)},
        ),
        at=1_000,
    )
    for u in (MAKER, TAKER, LP):
        ex.apply(A.Deposit(user=u, amount=D(10**10)))
    return ex


def _order(user: str, asset: int | str, is_buy: bool, px: Any, sz: str, tif: Any = "Gtc") -> Any:
    from netclear.engine import order_actions as O

    spec = O.OrderSpec(asset=asset, is_buy=is_buy, px=D(px), sz=D(sz), limit=O.LimitSpec(tif))
    return O.PlaceOrder(user=user, orders=[spec])


def _timed(ex: Any, actions: list[Any]) -> float:
    """Actions per second of ``ex.apply`` over pre-built ``actions`` (building them is not timed)."""
    apply = ex.apply
    t0 = _clock()
    for action in actions:
        apply(action)
    return _rate(len(actions), _clock() - t0)


def _ok(events: Any) -> None:
    """Fail loudly if an order was rejected (a stream that silently does less would look fast)."""
    for e in events:
        if "'error'" in repr(e):
            raise RuntimeError(f"order rejected: {e!r}")


def stream_book(n: int, passes: int = 3) -> dict[str, float]:
    """The book rows, the denominator of every engine row: best of ``passes`` fresh books of
    ``max(n, 20,000)`` orders, since a single short pass moves by tens of percent on a shared machine."""
    runs = [_book_once(max(n, 20_000)) for _ in range(passes)]
    return {k: max(r[k] for r in runs) for k in runs[0]}


def _book_once(n: int) -> dict[str, float]:
    from netclear.book.orderbook import OrderBook, RestingOrder
    from netclear.fixedpoint import PX_SCALE

    def order(oid: int, is_buy: bool, px: int, t: int) -> Any:
        return RestingOrder(
            oid=oid, user=MAKER, asset=0, is_buy=is_buy, px=px * PX_SCALE, sz=100, orig_sz=100, time=t
        )

    book = OrderBook(0)
    t0 = _clock()
    for i in range(n):
        book.add(order(i + 1, True, 90_000 - (i % 500), i))
    adds = _rate(n, _clock() - t0)
    t0 = _clock()
    for i in range(n):
        book.cancel(i + 1)
    cancels = _rate(n, _clock() - t0)
    for i in range(n):
        book.add(order(i + 1, False, 100_000 + (i % 500), i))
    t0 = _clock()
    for i in range(n):
        book.match(TAKER, n + i + 1, True, 200_000 * PX_SCALE, 100)
    fills = _rate(n, _clock() - t0)
    return {"book adds": adds, "book cancels": cancels, "book fills": fills}


def _resting_oids(ex: Any, user: str, asset: int | None = 0) -> list[int]:
    """The user's resting orders on one book (``None``: on every book)."""
    books = ex.state.books
    chosen = books.values() if asset is None else [books[asset]] if asset in books else []
    return [o.oid for book in chosen for o in book.orders_of(user)]


def _cancel_all(ex: Any, user: str, batch: int = 200) -> None:
    from netclear.engine import order_actions as O

    oids = _resting_oids(ex, user)
    for i in range(0, len(oids), batch):
        ex.apply(O.Cancel(user=user, cancels=[O.CancelSpec(0, oid) for oid in oids[i : i + batch]]))


def stream_engine(cfg: Any, n: int) -> dict[str, float]:
    from netclear.engine import order_actions as O

    ex = _exchange(cfg)
    adds = _timed(ex, [_order(MAKER, 0, True, 90_000 - (i % 500), "0.001") for i in range(n)])
    oids = _resting_oids(ex, MAKER)
    assert len(oids) == n, (len(oids), n)
    cancels = _timed(ex, [O.Cancel(user=MAKER, cancels=[O.CancelSpec(0, oid)]) for oid in oids])
    for i in range(n):
        ex.apply(_order(MAKER, 0, False, 100_000 + (i % 500), "0.001"))
    fills = _timed(ex, [_order(TAKER, 0, True, 110_000, "0.001", "Ioc") for _ in range(n)])
    assert not _resting_oids(ex, MAKER), "every ask should have filled"
    return {"engine adds": adds, "engine cancels": cancels, "engine fills": fills}


def fills_setup(cfg: Any, n: int) -> tuple[Any, list[Any]]:
    """An exchange whose maker rests ``n`` BTC asks, and ``n`` crossing IOC buys of the taker (not applied)."""
    ex = _exchange(cfg)
    for i in range(n):
        ex.apply(_order(MAKER, 0, False, 100_000 + (i % 500), "0.001"))
    return ex, [_order(TAKER, 0, True, 110_000, "0.001", "Ioc") for _ in range(n)]


def pm_setup(cfg: Any, n: int) -> tuple[Any, list[Any]]:
    """200 portfolio-margin accounts holding only HYPE, a maker resting ``n`` UBTC asks, and ``n`` IOC buys
    of those accounts (not applied): each buy borrows the USDC it pays with."""
    from netclear.engine import actions as A

    ex = _exchange(cfg)
    lender = "0x" + "1e" * 20
    ex.apply(A.Deposit(user=lender, amount=D(10**8)))
    ex.apply(A.SetAbstraction(user=lender, abstraction="unifiedAccount"))
    ex.apply(A.BorrowLend(user=lender, operation="supply", token="USDC", amount=D(10**8)))
    ex.apply(A.Deposit(user=MAKER, token="UBTC", amount=D(1000)))
    ex.apply(A.UsdClassTransfer(user=MAKER, amount=D(10**8), to_perp=False))
    users = ["0x" + f"{i:040x}" for i in range(1, 201)]
    for u in users:
        ex.apply(A.Deposit(user=u, token="HYPE", amount=D(10_000)))
        ex.apply(A.SetAbstraction(user=u, abstraction="portfolioMargin"))
    for _ in range(n):
        ex.apply(_order(MAKER, "@142", False, 100_000, "0.001"))
    return ex, [_order(users[i % len(users)], "@142", True, 100_000, "0.001", "Ioc") for i in range(n)]


def stream_pm(cfg: Any, n: int) -> dict[str, float]:
    ex, orders = pm_setup(cfg, n)
    rate = _timed(ex, orders)
    assert not _resting_oids(ex, MAKER, None), "every spot ask should have filled"
    return {"engine pm borrow": rate}


def _with_positions(cfg: Any, user: str) -> Any:
    ex = _exchange(cfg)
    for coin, sz in SIX.items():
        _ok(ex.apply(_order(LP, coin, False, PRICES[coin], sz)))
        _ok(ex.apply(_order(user, coin, True, PRICES[coin], sz, "Ioc")))
    held = ex.state.accounts[user].positions
    assert len(held) == len(SIX), f"expected {len(SIX)} positions, got {len(held)}"
    return ex


def _adds_and_fills(ex: Any, user: str, n: int) -> tuple[float, float]:
    adds = _timed(ex, [_order(user, 0, True, 90_000 - (i % 500), "0.001") for i in range(n)])
    _cancel_all(ex, user)
    for i in range(n):
        ex.apply(_order(LP, 0, False, 100_000 + (i % 500), "0.001"))
    fills = _timed(ex, [_order(user, 0, True, 110_000, "0.001", "Ioc") for _ in range(n)])
    assert not _resting_oids(ex, LP), "every ask should have filled"
    return adds, fills


def stream_positions(cfg: Any, n: int) -> dict[str, float]:
    a0, f0 = _adds_and_fills(_exchange(cfg), TAKER, n)
    a6, f6 = _adds_and_fills(_with_positions(cfg, TAKER), TAKER, n)
    return {"adds 0 positions": a0, "fills 0 positions": f0, "adds 6 positions": a6, "fills 6 positions": f6}


def _cancels(ex: Any, n: int) -> float:
    from netclear.engine import order_actions as O

    for i in range(n):
        ex.apply(_order(MAKER, 0, True, 90_000 - (i % 500), "0.001"))
    oids = _resting_oids(ex, MAKER)
    assert len(oids) == n, (len(oids), n)
    return _timed(ex, [O.Cancel(user=MAKER, cancels=[O.CancelSpec(0, oid)]) for oid in oids])


def stream_triggers(cfg: Any, n: int, triggers: int) -> dict[str, float]:
    from netclear.engine import order_actions as O

    base = _cancels(_exchange(cfg), n)
    ex = _exchange(cfg)
    stop = O.OrderSpec(
        asset=0,
        is_buy=False,
        px=D(45_000),
        sz=D("0.001"),
        trigger=O.TriggerSpec(trigger_px=D(50_000), is_market=True, tpsl="sl"),
    )
    placed = 0
    while placed < triggers:
        k = min(50, triggers - placed)
        _ok(ex.apply(O.PlaceOrder(user=MAKER, orders=[stop] * k)))
        placed += k
    assert len(ex.state.triggers) == triggers, (len(ex.state.triggers), triggers)
    loaded = _cancels(ex, n)
    return {"cancels 0 triggers": base, "cancels with triggers": loaded}


def _holders(cfg: Any, n: int, seed: int = 1) -> Any:
    """``n`` standard cross accounts with 1-3 positions each, 2-20x (``bench_liquidation_scan.build``)."""
    from netclear.engine.exchange import Exchange
    from netclear.engine.state import Account, Position
    from netclear.fixedpoint import PX_SCALE, notional

    ex = Exchange(cfg)
    reg, st = ex.registry, ex.state
    for name, price in PRICES.items():
        a = reg.perp(name).asset
        st.prices.oracle[a] = st.prices.mark[a] = int(D(price) * PX_SCALE)
    rng = random.Random(seed)
    coins = list(PRICES)
    for i in range(n):
        acct = Account("0x" + f"{i + 1:040x}")
        equity = 0
        for name in rng.sample(coins, rng.randint(1, 3)):
            perp = reg.perp(name)
            px = st.prices.mark[perp.asset]
            lots = max(1, rng.randint(1_000, 200_000) * PX_SCALE * 10**perp.sz_decimals // px)
            szi = lots if rng.random() < 0.5 else -lots
            lev = rng.randint(2, min(20, perp.max_leverage))
            acct.positions[perp.asset] = Position(perp.asset, szi, abs(szi) * px, True, lev)
            ntl = notional(szi, px, perp.sz_decimals, 8)
            acct.perp_cash[""] = acct.perp_cash.get("", 0) - ntl
            equity += abs(ntl) // lev
        acct.perp_cash[""] = acct.perp_cash.get("", 0) + equity
        st.accounts[acct.address] = acct
    return ex


def stream_tick(cfg: Any, holders: int, dirty: int) -> dict[str, float]:
    from netclear.engine.actions import Deposit, SetPrices

    ex = _holders(cfg, holders)
    invalidate = getattr(getattr(ex, "screen", None), "invalidate", None)
    if invalidate is not None:  # the state was edited outside apply (trees with the price screen)
        invalidate()
    prices = {c: D(p) for c, p in PRICES.items()}

    def tick(factor: D) -> float:
        for c, p in prices.items():
            q = p * factor
            prices[c] = q.quantize(D(10) ** -min(6, max(0, 4 - q.adjusted())))
        action = SetPrices(oracle=dict(prices), marks=dict(prices))
        t0 = _clock()
        events = ex.apply(action)
        dt = _clock() - t0
        liquidated = sum("liquidat" in repr(e) for e in events)
        assert liquidated == 0, f"{liquidated} liquidations: the tick should only check"
        return dt * 1000

    first = tick(D("0.99"))
    step = max(1, holders // max(1, dirty))
    for i in range(0, holders, step)[:dirty]:
        ex.apply(Deposit(user="0x" + f"{i + 1:040x}", amount=D(10)))
    steady = tick(D("0.99"))
    again = tick(D("1.005"))
    return {"tick first ms": first, "tick steady ms": steady, "tick next ms": again}


def child_main(args: argparse.Namespace) -> None:
    import netclear

    src = os.path.realpath(args.expect_src)
    here = os.path.realpath(netclear.__file__)
    if not here.startswith(src + os.sep):
        raise SystemExit(f"netclear imported from {here}, not from {src}")
    global _clock
    _clock = time.process_time if args.clock == "cpu" else time.perf_counter
    cfg = _config(args.config)
    out: dict[str, float] = {}
    if args.child == "orders":
        out |= stream_book(args.n)
        out |= stream_engine(cfg, args.n)
        out |= stream_pm(cfg, max(1, args.n // 4))
        out |= stream_positions(cfg, args.n)
        out |= stream_triggers(cfg, args.n, args.triggers)
    elif args.child == "tick":
        if args.warm:  # compile the screen's loop (numba, when installed) before the measured book
            stream_tick(cfg, 200, 10)
        out |= stream_tick(cfg, args.holders, args.dirty)
    else:
        raise SystemExit(f"unknown child {args.child}")
    print(json.dumps(out))


# ------------------------------------------------------------------------------------------------ parent


def _strip_dead_keys(src: Path, dst: Path) -> None:
    pattern = re.compile(r"^\s*(" + "|".join(DEAD_KEYS) + r")\s*=")
    lines = [ln for ln in src.read_text().splitlines(keepends=True) if not pattern.match(ln)]
    dst.write_text("".join(lines))


def _child(tree: Path, group: str, cfg: Path, opts: list[str], timeout: float) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree / "src")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", group, "--config", str(cfg)]
    cmd += ["--expect-src", str(tree / "src"), *opts]
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{group} on {tree} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post_bytes(path: str, port: int, body: bytes) -> bytes:
    """One keep-alive ``POST`` as bytes on the wire, built before timing."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _response_end(buf: bytes | bytearray) -> int:
    """Length of the first complete HTTP/1.1 response in ``buf`` (``Content-Length`` framed), or 0."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return 0
    for line in bytes(buf[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            end = head_end + 4 + int(value)
            return end if len(buf) >= end else 0
    raise RuntimeError(f"response without Content-Length: {bytes(buf[:head_end])!r}")


def _load_worker(
    port: int,
    per_conn: list[list[bytes]],
    warm: int,
    barrier: Any,
    out: Any,
) -> None:
    """A client process: one keep-alive socket per list in ``per_conn``, each posting its requests in
    order, all sockets concurrently (a ``selectors`` loop, no HTTP library, nothing encoded while timed).
    The first ``warm`` requests of each socket are sent before ``barrier`` and not timed. Sends back
    ``(start, end, latencies, answers)``: ``perf_counter`` is the system-wide monotonic clock, so the
    parent can take the run's span over all processes."""
    import selectors
    import socket

    socks = []
    for _ in per_conn:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)

    def roundtrip(s: socket.socket, req: bytes) -> bytes:
        s.sendall(req)
        buf = bytearray()
        while not (end := _response_end(buf)):
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            buf += chunk
        return bytes(buf[:end])

    for s, reqs in zip(socks, per_conn, strict=True):
        for req in reqs[:warm]:
            roundtrip(s, req)
    barrier.wait()
    sel = selectors.DefaultSelector()
    state = []  # per socket: [next index, sent at, buffer]
    clock = time.perf_counter
    lat: list[float] = []
    answers: list[bytes] = []
    start = clock()
    for i, (s, reqs) in enumerate(zip(socks, per_conn, strict=True)):
        if len(reqs) > warm:
            state.append([warm + 1, clock(), bytearray()])
            s.sendall(reqs[warm])
            sel.register(s, selectors.EVENT_READ, i)
        else:
            state.append([warm, 0.0, bytearray()])
    live = len(sel.get_map())
    while live:
        for key, _ev in sel.select():
            i = key.data
            s = socks[i]
            st = state[i]
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            st[2] += chunk
            end = _response_end(st[2])
            if not end:
                continue
            now = clock()
            lat.append(now - st[1])
            answers.append(bytes(st[2][:end]))
            del st[2][:end]
            reqs = per_conn[i]
            if st[0] < len(reqs):
                st[1] = clock()
                s.sendall(reqs[st[0]])
                st[0] += 1
            else:
                sel.unregister(s)
                live -= 1
    end_t = clock()
    for s in socks:
        s.close()
    out.send((start, end_t, lat, answers))
    out.close()


def _load(
    port: int, per_conn: list[list[bytes]], procs: int, warm: int
) -> tuple[list[float], float, list[bytes]]:
    """Run ``per_conn`` from ``procs`` client processes; latencies, requests/s (timed part), answers."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    procs = max(1, min(procs, len(per_conn)))
    barrier = ctx.Barrier(procs)
    jobs = []
    for p in range(procs):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_load_worker, args=(port, per_conn[p::procs], warm, barrier, send))
        proc.start()
        send.close()
        jobs.append((proc, recv))
    results = []
    for proc, recv in jobs:
        results.append(recv.recv())
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise RuntimeError(f"load process exited with {proc.exitcode}")
    lat = [x for r in results for x in r[2]]
    answers = [a for r in results for a in r[3]]
    span = max(r[1] for r in results) - min(r[0] for r in results)
    return lat, _rate(len(lat), span), answers


def _answer_json(raw: bytes) -> Any:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"HTTP {status.decode()}: {body[:300]!r}")
    return json.loads(body)


_SIGNED: dict[tuple[int, int], tuple[list[Any], list[list[bytes]]]] = {}


def _signed_orders(n: int, conns: int) -> tuple[list[Any], list[list[bytes]]]:
    """One wallet per connection and ``n`` ALO bids signed with the SDK's ``sign_l1_action``, as JSON
    bytes (reused across trees and repeats: every server starts from an empty log)."""
    if (n, conns) not in _SIGNED:
        import eth_account
        import loopback

        wallets = [eth_account.Account.create() for _ in range(conns)]
        bodies = [
            [json.dumps(body, separators=(",", ":")).encode() for body in mine]
            for mine in loopback.alo_bids(wallets, n)
        ]
        _SIGNED[(n, conns)] = (wallets, bodies)
    return _SIGNED[(n, conns)]


def bench_http(
    tree: Path, cfg: Path, n: int, conns: int = 8, procs: int = 2, warm: int = 5
) -> dict[str, float]:
    """``netclear serve`` of ``tree`` in its own process; ``procs`` client processes hold ``conns``
    keep-alive connections in all (one wallet each) and post ``n`` SDK-signed ALO orders, pre-serialised,
    each connection waiting for its answer before the next (closed loop). Every answer must be an ok
    order status (no silent rejections). Baseline: ``/info`` ``userAbstraction`` from the same
    connections. Only ``serve --preset --db --port --operator-token``, ``/health``, ``/operator/prices``,
    ``/operator/deposit``, ``/info`` and ``/exchange`` are used: every tree since 5beddae has them."""
    import loopback
    import requests

    wallets, bodies = _signed_orders(n, conns)
    tmp = tempfile.mkdtemp()
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree / "src")
    serve = "from netclear.cli.main import app; app()"
    db = str(Path(tmp) / "api.sqlite")
    cmd = [sys.executable, "-c", serve, "serve", "--preset", str(cfg), "--db", db, "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--operator-token", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        loopback.wait_until_serving(url, server, 90, f"netclear serve of {tree}")
        op = {"authorization": "Bearer bench"}
        r = requests.post(
            url + "/operator/prices", json={"oracle": {"BTC": "100000"}}, headers=op, timeout=10
        )
        r.raise_for_status()
        for w in wallets:
            r = requests.post(
                url + "/operator/deposit",
                json={"user": w.address, "amount": "10000000"},
                headers=op,
                timeout=10,
            )
            r.raise_for_status()
        per = max(1, n // conns)
        info = [
            [_post_bytes("/info", port, json.dumps({"type": "userAbstraction", "user": w.address}).encode())]
            * (per + warm)
            for w in wallets
        ]
        cpu0 = _cpu_seconds(server.pid)
        info_lat, info_rate, info_answers = _load(port, info, procs, warm)
        cpu1 = _cpu_seconds(server.pid)
        for a in info_answers:
            _answer_json(a)
        orders = [[_post_bytes("/exchange", port, b) for b in mine] for mine in bodies]
        cpu2 = _cpu_seconds(server.pid)
        lat, rate, answers = _load(port, orders, procs, warm)
        cpu3 = _cpu_seconds(server.pid)
        for a in answers:
            answer = _answer_json(a)
            statuses = answer.get("response", {}).get("data", {}).get("statuses", [])
            if answer.get("status") != "ok" or not statuses or "error" in statuses[0]:
                raise RuntimeError(f"order not accepted: {answer}")
        if len(answers) != sum(max(0, len(b) - warm) for b in bodies):
            raise RuntimeError("some orders were not answered")
    finally:
        server.terminate()
        server.wait(timeout=30)
    q = statistics.quantiles
    return {
        "http orders/s": rate,
        "http order p50 ms": q(lat, n=100)[49] * 1000,
        "http order p99 ms": q(lat, n=100)[98] * 1000,
        "http info/s": info_rate,
        "http info p99 ms": q(info_lat, n=100)[98] * 1000,
        "http order server cpu us": (cpu3 - cpu2) / len(lat) * 1e6,
        "http info server cpu us": (cpu1 - cpu0) / len(info_lat) * 1e6,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc/<pid>/stat``, proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# (label, numerator key, denominator key or None, unit). Ratio rows divide inside each process.
ROWS: list[tuple[str, str, str | None, str]] = [
    ("book: resting adds", "book adds", None, "ops/s"),
    ("book: cancels", "book cancels", None, "ops/s"),
    ("book: crossing fills", "book fills", None, "ops/s"),
    ("engine: resting adds (/ book adds)", "engine adds", "book adds", "ops/s"),
    ("engine: cancels (/ book cancels)", "engine cancels", "book cancels", "ops/s"),
    ("engine: crossing fills (/ book fills)", "engine fills", "book fills", "ops/s"),
    ("engine: PM auto-borrow spot buys (/ book fills)", "engine pm borrow", "book fills", "ops/s"),
    ("resting adds, 6 open positions (/ 0 positions)", "adds 6 positions", "adds 0 positions", "ops/s"),
    ("crossing fills, 6 other positions (/ 0 others)", "fills 6 positions", "fills 0 positions", "ops/s"),
    (
        "cancels, {triggers:,} resting triggers (/ 0 triggers)",
        "cancels with triggers",
        "cancels 0 triggers",
        "ops/s",
    ),
    ("price tick, {holders:,} holders, steady (ms)", "tick steady ms", None, "ms"),
    ("price tick, next tick (ms)", "tick next ms", None, "ms"),
    ("price tick, first tick (ms)", "tick first ms", None, "ms"),
    ("signed orders over loopback (/ `/info`)", "http orders/s", "http info/s", "ops/s"),
    ("signed orders, p99 latency (ms)", "http order p99 ms", None, "ms"),
    ("signed orders, p50 latency (ms)", "http order p50 ms", None, "ms"),
    (
        "signed orders, server CPU per order (µs) (/ `/info`)",
        "http order server cpu us",
        "http info server cpu us",
        "ms",
    ),
]


def _summary(samples: list[dict[str, float]], num: str, den: str | None) -> dict[str, float] | None:
    vals = [s[num] for s in samples if num in s]
    if not vals:
        return None
    out = {"median": statistics.median(vals), "best": max(vals) if not num.endswith("ms") else min(vals)}
    if den is not None:
        ratios = [s[num] / s[den] for s in samples if num in s and den in s]
        out["ratio"] = statistics.median(ratios)
    return out


def _fmt(x: float, unit: str) -> str:
    if unit == "ms":
        return f"{x:,.1f}"
    return f"{x:,.0f}"


def _paired(
    samples: dict[str, list[dict[str, float]]], a: str, b: str, num: str, den: str | None, unit: str
) -> tuple[float | None, float | None]:
    """Median over repeats of ``b``'s figure / ``a``'s in the same repeat (adjacent in time, so drift of the
    machine cancels): the speed-up (inverted for times) and the gain of the ratio to the denominator."""
    speed, gain = [], []
    for sa, sb in zip(samples[a], samples[b], strict=False):
        if num not in sa or num not in sb:
            continue
        speed.append(sa[num] / sb[num] if unit == "ms" else sb[num] / sa[num])
        if den is not None and den in sa and den in sb:
            gain.append((sb[num] / sb[den]) / (sa[num] / sa[den]))
    return (statistics.median(speed) if speed else None, statistics.median(gain) if gain else None)


def _table(
    names: list[str],
    summary: dict[str, dict[str, Any]],
    samples: dict[str, list[dict[str, float]]],
    sizes: dict[str, int],
) -> str:
    first, last = names[0], names[-1]
    head = ["stream"]
    for t in names:
        head += [f"{t} ops/s or ms", f"{t} ratio"]
    head += [f"{last} / {first}", "ratio gain"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for label, num, den, unit in ROWS:
        cells = [label.format(**sizes)]
        per = [summary[t].get(num) for t in names]
        if all(p is None for p in per):
            continue
        for p in per:
            cells += (
                ["–", "–"]
                if p is None
                else [_fmt(p["median"], unit), f"{p['ratio']:.4f}" if "ratio" in p else ""]
            )
        speed, gain = _paired(samples, first, last, num, den, unit)
        cells.append("–" if speed is None else f"{speed:.2f}x")
        cells.append("" if gain is None else f"{gain:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = (
    "Figures and ratios: median of {k} repeats, each ratio taken inside one process. Last two columns: "
    "median over the repeats of last tree / first tree in the same repeat (adjacent in time): the speed-up "
    "(times inverted) and the gain of the ratio to its denominator."
)


def render(path: str) -> str:
    """The table of a ``--json`` file written by an earlier run."""
    data = json.loads(Path(path).read_text())
    samples: dict[str, list[dict[str, float]]] = data["samples"]
    names = list(data["trees"])
    summary = {
        t: {num: s for _l, num, den, _u in ROWS if (s := _summary(samples[t], num, den)) is not None}
        for t in names
    }
    sizes = {
        "holders": data["meta"].get("holders", 100_000),
        "triggers": data["meta"].get("triggers", 10_000),
    }
    return _table(names, summary, samples, sizes)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tree", action="append", default=[], help="NAME=PATH of a checkout (repeat; first = base)"
    )
    ap.add_argument("--quick", action="store_true", help="small n, one repeat of the slow rows (< 3 min)")
    ap.add_argument("--k", type=int, default=None, help="repeats per tree (default 3, quick 2)")
    ap.add_argument("--n", type=int, default=None, help="orders per stream (default 10,000, quick 2,000)")
    ap.add_argument("--holders", type=int, default=100_000)
    ap.add_argument("--triggers", type=int, default=10_000)
    ap.add_argument(
        "--http-n", type=int, default=None, help="signed orders per run (default 2,000, quick 600)"
    )
    ap.add_argument(
        "--http-conns", type=int, default=8, help="loopback: keep-alive connections in all (one wallet each)"
    )
    ap.add_argument("--http-procs", type=int, default=2, help="loopback: client processes holding them")
    ap.add_argument("--only", default="orders,tick,http", help="comma list of orders, tick, http")
    ap.add_argument("--preset", default=None, help="TOML for every tree (default: first tree's hyperliquid)")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="in-process rows: CPU time of the child (default; robust on a shared machine) or wall time",
    )
    ap.add_argument("--json", default=None, help="write raw samples and medians here")
    ap.add_argument("--md", default=None, help="write the markdown table here")
    ap.add_argument(
        "--render", default=None, help="print the table of an earlier run's --json file, run nothing"
    )
    # child mode (internal)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--config", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--expect-src", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dirty", type=int, default=100, help=argparse.SUPPRESS)
    ap.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return
    if args.render:
        print(render(args.render))
        return
    if not args.tree:
        ap.error("give at least one --tree NAME=PATH")
    trees: dict[str, Path] = {}
    for spec in args.tree:
        name, _, path = spec.partition("=")
        if not path or not (Path(path) / "src" / "netclear").is_dir():
            ap.error(f"--tree {spec}: expected NAME=PATH with PATH/src/netclear")
        trees[name] = Path(path).resolve()
    names = list(trees)
    k = args.k or (2 if args.quick else 3)
    n = args.n or (2_000 if args.quick else 10_000)
    http_n = args.http_n or (600 if args.quick else 2_000)
    k_slow = 1 if args.quick else k
    only = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp())
    preset = (
        Path(args.preset) if args.preset else trees[names[0]] / "src/netclear/config/presets/hyperliquid.toml"
    )
    cfg = tmp / "config.toml"
    _strip_dead_keys(preset, cfg)
    print(f"machine: {machine()}; trees: {', '.join(f'{t}={p}' for t, p in trees.items())}")
    print(
        f"config: {preset} (dead keys removed); k={k} (slow rows {k_slow}), n={n}, http n={http_n} over {args.http_conns} connections from {args.http_procs} processes, clock {args.clock}"
    )
    samples: dict[str, list[dict[str, float]]] = {t: [] for t in names}
    started = time.monotonic()
    for r in range(k):
        for t in names:
            sample: dict[str, float] = {}
            if "orders" in only:
                opts = ["--n", str(n), "--triggers", str(args.triggers), "--clock", args.clock]
                sample |= _child(trees[t], "orders", cfg, opts, timeout=1800)
            if "tick" in only and r < k_slow:
                opts = ["--holders", str(args.holders), "--dirty", "100", "--clock", args.clock, "--warm"]
                sample |= _child(trees[t], "tick", cfg, opts, timeout=1800)
            if "http" in only and r < k_slow:
                sample |= bench_http(trees[t], cfg, http_n, args.http_conns, args.http_procs)
            samples[t].append(sample)
            print(
                f"  [{time.monotonic() - started:6.0f} s] repeat {r + 1}/{k} {t}: {json.dumps(sample)}",
                flush=True,
            )
    summary = {
        t: {num: s for _l, num, den, _u in ROWS if (s := _summary(samples[t], num, den)) is not None}
        for t in names
    }
    table = _table(names, summary, samples, {"holders": args.holders, "triggers": args.triggers})
    print(f"\n{time.monotonic() - started:.0f} s, load now {os.getloadavg()[0]:.1f}. {LEGEND.format(k=k)}\n")
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n")
    if args.json:
        meta = {
            "machine": machine(),
            "k": k,
            "n": n,
            "http_n": http_n,
            "http_conns": args.http_conns,
            "http_procs": args.http_procs,
            "preset": str(preset),
            "clock": args.clock,
        }
        meta |= {"holders": args.holders, "triggers": args.triggers, "seconds": time.monotonic() - started}
        trees_json = {t: str(p) for t, p in trees.items()}
        Path(args.json).write_text(
            json.dumps({"meta": meta, "trees": trees_json, "samples": samples, "summary": summary}, indent=2)
        )


if __name__ == "__main__":
    main()
