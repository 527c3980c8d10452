"""Order cancels and fills with many resting trigger orders (issue 12: triggers indexed by parent).

Every resting order that leaves the book asks for its ``normalTpsl`` children (``cancel_children``), and
every fill of a parent activates them (``activate_children``). Without an index by parent each of these
scanned every trigger order. Streams, each timed with 0 and with ``--triggers`` (10,000) stop orders
resting far from the mark:

* ``cancels``: ``Cancel`` of one resting limit order per action;
* ``parent fills``: an IOC that fully fills a resting ``normalTpsl`` parent, which activates its two
  children.

Run: ``python benchmarks/bench_triggers.py [--n 1000] [--triggers 10000] [--rounds 3]``; prints actions/s
(best of the rounds, in process CPU time) and the ratio of the loaded run to the empty one (1.0 = the
resting triggers cost nothing).
"""

from __future__ import annotations

import argparse
import platform
import time
from decimal import Decimal as D

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange

MAKER = "0x" + "ee" * 20
TAKER = "0x" + "a1" * 20
STOPPER = "0x" + "5c" * 20


def _config() -> object:
    """The hyperliquid preset with the per-user open-order limit lifted."""
    from netclear.config import parse_config, preset_data

    data = preset_data("hyperliquid")
    data.setdefault("orders", {})["max_open_orders"] = 10**7
    return parse_config(data)


def _limit(user: str, is_buy: bool, px: int, tif: str = "Gtc") -> O.OrderSpec:
    return O.OrderSpec(asset=0, is_buy=is_buy, px=D(px), sz=D("0.001"), limit=O.LimitSpec(tif))  # type: ignore[arg-type]


def _stop(px: int) -> O.OrderSpec:
    return O.OrderSpec(
        asset=0,
        is_buy=False,
        px=D(px),
        sz=D("0.001"),
        trigger=O.TriggerSpec(trigger_px=D(px), is_market=True, tpsl="sl"),
    )


def _exchange(n_triggers: int) -> Exchange:
    ex = Exchange(_config())  # type: ignore[arg-type]
    ex.apply(A.SetPrices(oracle={"BTC": D(100000)}), at=1_000)
    for user in (MAKER, TAKER, STOPPER):
        ex.apply(A.Deposit(user=user, amount=D(10**10)))
    for i in range(n_triggers):
        ex.apply(O.PlaceOrder(user=STOPPER, orders=[_stop(50_000 - i % 1000)]))
    assert len(ex.state.triggers) == n_triggers
    return ex


def _cancels(ex: Exchange, n: int) -> float:
    for i in range(n):
        ex.apply(O.PlaceOrder(user=MAKER, orders=[_limit(MAKER, True, 90_000 - i % 500)]))
    oids = [o.oid for o in ex.state.books[0].orders_of(MAKER)]
    t0 = time.process_time()
    for oid in oids:
        ex.apply(O.Cancel(user=MAKER, cancels=[O.CancelSpec(0, oid)]))
    return len(oids) / (time.process_time() - t0)


def _parent_fills(ex: Exchange, n: int) -> float:
    children = [
        O.OrderSpec(
            asset=0,
            is_buy=True,
            px=D(px),
            sz=D("0.001"),
            reduce_only=True,
            trigger=O.TriggerSpec(trigger_px=D(trigger), is_market=True, tpsl=tpsl),  # type: ignore[arg-type]
        )
        for px, trigger, tpsl in ((120_000, 115_000, "sl"), (80_000, 85_000, "tp"))
    ]
    live_before = sum(1 for t in ex.state.triggers.values() if t.parent is None and t.user == MAKER)
    for i in range(n):
        parent = _limit(MAKER, False, 100_000 + i % 500)
        ex.apply(O.PlaceOrder(user=MAKER, orders=[parent, *children], grouping="normalTpsl"))
    t0 = time.process_time()
    for _ in range(n):
        ex.apply(O.PlaceOrder(user=TAKER, orders=[_limit(TAKER, True, 110_000, "Ioc")]))
    rate = n / (time.process_time() - t0)
    live = sum(1 for t in ex.state.triggers.values() if t.parent is None and t.user == MAKER)
    assert live - live_before == 2 * n, f"{live - live_before} children activated, expected {2 * n}"
    return rate


def bench(n: int, n_triggers: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` (process CPU time, so other load on the machine counts less)."""
    ex = _exchange(n_triggers)
    out = {"cancels": 0.0, "parent fills": 0.0}
    for _ in range(rounds):
        out["cancels"] = max(out["cancels"], _cancels(ex, n))
        out["parent fills"] = max(out["parent fills"], _parent_fills(ex, n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000)
    ap.add_argument("--triggers", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    bench(min(args.n, 200), 0, 1)  # warm-up (lazy imports, caches)
    empty = bench(args.n, 0, args.rounds)
    loaded = bench(args.n, args.triggers, args.rounds)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"{'stream':<16}{'0 triggers/s':>16}{f'{args.triggers:,} triggers/s':>20}{'ratio':>10}")
    for k in ("cancels", "parent fills"):
        print(f"{k:<16}{empty[k]:>16,.0f}{loaded[k]:>20,.0f}{loaded[k] / empty[k]:>10.3f}")


if __name__ == "__main__":
    main()
