"""Advancing the exchange clock 30 days on the full ``hyperliquid`` preset (issue 12: integer funding).

The exchange: every live perp of the preset priced at the bundled snapshot's mid (HIP-3 markets at round
prices), makers quoting three ALO levels each side around the mark on every perp (so every hour's premium
samples read real impact prices), a handful of traders holding open positions (so funding is paid every
hour), and one account borrowing under portfolio margin when the preset allows it. Then one
``AdvanceTime`` action 30 days later: 720 funding hours, premium sampling on every priced perp, hourly
interest indexing.

The script takes no internal dependency on the tree it measures: ``--tree`` runs the measurement in a
subprocess with ``PYTHONPATH=<tree>/src``, so one run compares two checkouts (``--before`` and
``--after``) on the same machine, and checks that both reach the same balances and funding records.

Run: ``python benchmarks/bench_clock.py --before /work/main --after .`` (or ``--tree .`` for one tree).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
HIP3_PRICES = {"xyz:XYZ100": 20000, "xyz:NVDA": 180, "flx:GOLD": 3300, "cash:USA500": 6000, "test:ABC": 2}
LEVEL_NOTIONAL = Decimal(20_000)
TRADES = (("BTC", "0.5"), ("ETH", "5"), ("SOL", "50"), ("HYPE", "200"), ("DOGE", "20000"))


def _grid(px: Decimal, sz_decimals: int) -> Decimal:
    from netclear.fixedpoint import PX_SCALE
    from netclear.markets.ticks import round_price_to_grid

    units = round_price_to_grid(int(px * PX_SCALE), sz_decimals, False)
    return Decimal(units) / PX_SCALE


def build() -> tuple[object, int]:
    """The exchange before the advance and its clock (ms)."""
    from netclear.config.snapshot import snapshot_mids
    from netclear.engine import actions as A
    from netclear.engine import order_actions as O
    from netclear.engine.exchange import Exchange
    from netclear.errors import NetclearError
    from netclear.fixedpoint import PX_SCALE

    ex = Exchange("hyperliquid")
    reg = ex.registry
    mids = snapshot_mids()
    now = START_MS
    oracle: dict[str, Decimal] = {}
    for perp in reg.perp_by_name.values():
        raw = HIP3_PRICES.get(perp.name, mids.get(perp.name))
        if raw is None or perp.is_delisted:
            continue
        px = _grid(Decimal(raw), perp.sz_decimals)
        if px > 0:
            oracle[perp.name] = px
    ex.apply(A.SetPrices(oracle=oracle), at=now)
    # makers: three ALO levels each side on every priced perp, 25 perps per maker (open-order limit)
    names = sorted(oracle)
    for i in range(0, len(names), 25):
        maker = "0x" + format(0xD3E30 + i, "040x")
        now += 1000
        ex.apply(A.Deposit(user=maker, amount=Decimal(50_000_000)), at=now)
        ex.apply(A.SetAbstraction(user=maker, abstraction="unifiedAccount"), at=now)
        for name in names[i : i + 25]:
            perp = reg.perp(name)
            mid = Decimal(ex.state.prices.mark[perp.asset]) / PX_SCALE
            unit = Decimal(1).scaleb(-perp.sz_decimals)
            size = (LEVEL_NOTIONAL / mid).quantize(unit, rounding=ROUND_DOWN) or unit
            orders = []
            for level in (1, 2, 3):
                bid = _grid(mid * (1 - Decimal(level * 5) / 10_000), perp.sz_decimals)
                ask = _grid(mid * (1 + Decimal(level * 5) / 10_000), perp.sz_decimals)
                for is_buy, px in ((True, bid), (False, ask)):
                    spec = O.OrderSpec(asset=name, is_buy=is_buy, px=px, sz=size, limit=O.LimitSpec("Alo"))
                    orders.append(spec)
            try:
                ex.apply(O.PlaceOrder(user=maker, orders=orders), at=now)
            except NetclearError:
                continue
    # traders: a long and a short in a few perps, opened by IOC against the makers
    for j, (name, sz) in enumerate(TRADES):
        perp = reg.perp(name)
        mark = Decimal(ex.state.prices.mark[perp.asset]) / PX_SCALE
        for k, is_buy in enumerate((True, False)):
            trader = "0x" + format(0x7AADE0 + 2 * j + k, "040x")
            now += 1000
            ex.apply(A.Deposit(user=trader, amount=Decimal(1_000_000)), at=now)
            px = _grid(mark * (Decimal("1.01") if is_buy else Decimal("0.99")), perp.sz_decimals)
            spec = O.OrderSpec(asset=name, is_buy=is_buy, px=px, sz=Decimal(sz), limit=O.LimitSpec("Ioc"))
            ex.apply(O.PlaceOrder(user=trader, orders=[spec]), at=now)
    # lending: a unified lender supplies USDC; a portfolio-margin account holding HYPE borrows it and shorts
    lender = "0x" + format(0x1E4D, "040x")
    borrower = "0x" + format(0xB0220, "040x")
    now += 1000
    ex.apply(A.Deposit(user=lender, amount=Decimal(1_000_000)), at=now)
    ex.apply(A.SetAbstraction(user=lender, abstraction="unifiedAccount"), at=now)
    ex.apply(A.BorrowLend(user=lender, operation="supply", token="USDC", amount=Decimal(1_000_000)), at=now)
    ex.apply(A.Deposit(user=borrower, token="HYPE", amount=Decimal(1_000)), at=now)
    ex.apply(A.GrantPmEligibility(address=borrower), at=now)
    ex.apply(A.SetAbstraction(user=borrower, abstraction="portfolioMargin"), at=now)
    ex.apply(A.BorrowLend(user=borrower, operation="borrow", token="USDC", amount=Decimal(5_000)), at=now)
    btc = reg.perp("BTC")
    px = _grid(Decimal(ex.state.prices.mark[btc.asset]) / PX_SCALE * Decimal("0.99"), btc.sz_decimals)
    spec = O.OrderSpec(asset="BTC", is_buy=False, px=px, sz=Decimal("0.02"), limit=O.LimitSpec("Ioc"))
    ex.apply(O.PlaceOrder(user=borrower, orders=[spec]), at=now)
    return ex, now


def digest(ex: object) -> tuple[str, int, int]:
    """A hash of the engine's state hash and of the funding, funding-rate and interest records, the number
    of funding payments recorded and the number of positions."""
    state = ex.state  # type: ignore[attr-defined]
    h = hashlib.blake2b(digest_size=16)
    h.update(ex.state_hash().encode())  # type: ignore[attr-defined]
    n_pos = 0
    for address in sorted(state.accounts):
        acct = state.accounts[address]
        h.update(address.encode())
        h.update(repr(sorted(acct.perp_cash.items())).encode())
        h.update(repr(sorted(acct.spot.items())).encode())
        for asset in sorted(acct.positions):
            p = acct.positions[asset]
            n_pos += 1
            h.update(repr((asset, p.szi, p.raw_usd, p.funding_all_time, p.funding_since_open)).encode())
    n_fund = 0
    for address in sorted(state.history.funding):
        for rec in state.history.funding[address]:
            n_fund += 1
            h.update(json.dumps(rec, sort_keys=True).encode())
    for book in (state.history.funding_rates, state.history.interest):
        for key in sorted(book):
            for rec in book[key]:
                h.update(json.dumps(rec, sort_keys=True).encode())
    return h.hexdigest(), n_fund, n_pos


def measure(days: int) -> dict[str, object]:
    from netclear.engine import actions as A

    t0 = time.perf_counter()
    ex, now = build()
    t_build = time.perf_counter() - t0
    live = len(ex.state.prices.oracle)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    ex.apply(A.AdvanceTime(), at=now + days * DAY_MS)  # type: ignore[attr-defined]
    t_advance = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex.apply(A.AdvanceTime(), at=now + days * DAY_MS + 3_600_000)  # type: ignore[attr-defined]
    t_hour = time.perf_counter() - t0
    dig, n_fund, n_pos = digest(ex)
    return {
        "build_s": t_build,
        "advance_s": t_advance,
        "one_hour_s": t_hour,
        "perps": len(ex.registry.perps),  # type: ignore[attr-defined]
        "live": live,
        "positions": n_pos,
        "funding_records": n_fund,
        "digest": dig,
    }


def run_tree(tree: Path, days: int) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(tree.resolve() / "src"))
    out = subprocess.run(
        [sys.executable, __file__, "--measure", "--days", str(days)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--before", type=Path, help="tree (checkout root) measured as 'before'")
    ap.add_argument("--after", type=Path, help="tree measured as 'after'")
    ap.add_argument("--tree", type=Path, help="measure one tree")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.days)))
        return
    print(f"machine: {platform.machine()} python {platform.python_version()}; advance {args.days} days")
    trees = [("tree", args.tree)] if args.tree else [("before", args.before), ("after", args.after)]
    results = {}
    for label, tree in trees:
        if tree is None:
            ap.error("give --tree, or --before and --after")
        r = results[label] = run_tree(tree, args.days)
        print(
            f"{label:6} {tree!s:24} perps {r['perps']} priced {r['live']} positions {r['positions']}: "
            f"advance {r['advance_s']:.3f} s, next hour {r['one_hour_s'] * 1000:.1f} ms "
            f"(setup {r['build_s']:.1f} s); {r['funding_records']} funding records, digest {r['digest']}"
        )
    if len(results) == 2:
        b, a = results["before"], results["after"]
        same = b["digest"] == a["digest"]
        ratio = float(b["advance_s"]) / float(a["advance_s"])  # type: ignore[arg-type]
        print(f"speed-up {ratio:.1f}x; same balances, positions and funding records: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
