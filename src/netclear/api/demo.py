"""Demo market: a price feed and a market maker, so a fresh ``netclear serve --demo`` can be traded on.

The feed walks every oracle by a small deterministic random step every few seconds (seeded); the
maker keeps three ALO levels each side around the mark on every perp and spot pair. Both submit
ordinary actions through the writer, so they are logged and replayed like any client's.

The operator stays in charge (docs/api.md "Demo market"): each step starts from the exchange's current
oracle, so an operator price becomes the walk's centre; :meth:`DemoMarket.operator_prices` re-quotes the maker
around an operator price before applying it; :meth:`DemoMarket.pause` / :meth:`DemoMarket.resume`
stop and restart the feed and the maker (``POST /operator/demo``).
"""

from __future__ import annotations

import contextlib
import random
import threading
from decimal import Decimal

from netclear.api.writer import Writer
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.fixedpoint import PX_SCALE
from netclear.ledger.node import Node, Outcome
from netclear.markets.ticks import round_price_to_grid

MAKER = "0x00000000000000000000000000000000000d3e30"
SEED_PRICES: dict[str, int | Decimal] = {
    "BTC": 100000,
    "ETH": 3500,
    "SOL": 180,
    "XRP": Decimal("2.5"),
    "HYPE": 40,
    "DOGE": Decimal("0.2"),
    "ARB": Decimal("0.5"),
    "xyz:XYZ100": 20000,
    "xyz:NVDA": 180,
    "flx:GOLD": 3300,
    "cash:USA500": 6000,
}
SPOT_SEEDS = {"UBTC": "BTC", "UETH": "ETH", "USOL": "SOL", "HYPE": "HYPE"}


class DemoMarket:
    def __init__(self, node: Node, writer: Writer, *, period_s: float = 3.0, seed: int = 7) -> None:
        self.node, self.writer, self.period = node, writer, period_s
        self.rng = random.Random(seed)
        reg = node.exchange.registry
        self.prices = {k: Decimal(v) for k, v in SEED_PRICES.items() if k in reg.perp_by_name}
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()  # one of feed+quote or an operator price at a time
        self.ticks = 0
        """Feed steps taken (tests and the operator read it)."""
        self._thread = threading.Thread(target=self._run, name="netclear-demo", daemon=True)

    def start(self) -> None:
        self._bootstrap()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """Stop the feed and the maker's re-quoting (resting quotes stay); prices move only by the operator."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def operator_prices(self, action: A.SetPrices) -> Outcome:
        """Apply an operator price update, the maker first re-quoted around its prices (explicit marks win
        over oracles), so the book it meets, and any liquidation it triggers, is quoted there. Holds the
        feed's lock throughout: no feed step can land between the two, and the walk continues from the
        operator's prices. Re-quoting is best effort: a bad price is left to the action to reject."""
        reg = self.node.exchange.registry
        mids: dict[int, Decimal] = {}
        for name, px in (*action.oracle.items(), *action.marks.items()):
            perp = reg.perp_by_name.get(name)
            if perp is not None and px > 0:
                mids[perp.asset] = px
        for name, px in action.spot.items():
            pair = next((p for p in reg.spot_pairs.values() if p.name == name), None)
            if pair is not None and px > 0:
                mids[pair.asset] = px
        with self._lock:
            if mids:
                with contextlib.suppress(Exception):  # the demo must never fail an operator action
                    self._quote(mids)
            return self.writer.submit(action).result()

    def _submit(self, action: A.Action) -> None:
        self.writer.submit(action).result()

    def _bootstrap(self) -> None:
        reg = self.node.exchange.registry
        self._feed()
        if MAKER not in self.node.exchange.state.accounts:
            self._submit(A.Deposit(user=MAKER, amount=Decimal(50_000_000)))
            self._submit(A.SetAbstraction(user=MAKER, abstraction="unifiedAccount"))
            for token in ("UBTC", "UETH", "USOL", "HYPE", "USDT0", "USDH"):
                if token in reg.token_by_name:
                    perp = SPOT_SEEDS.get(token)
                    px = self.prices.get(perp, Decimal(1)) if perp else Decimal(1)
                    self._submit(
                        A.Deposit(
                            user=MAKER,
                            token=token,
                            amount=(Decimal(2_000_000) / px).quantize(Decimal("0.01")),
                        )
                    )
        self._quote()

    def _feed(self) -> None:
        oracle_now = self.node.read(lambda ex: dict(ex.state.prices.oracle))
        reg = self.node.exchange.registry
        for k in self.prices:
            current = oracle_now.get(reg.perp(k).asset)
            if current:  # the walk continues from the exchange's price (an operator's, if it set one)
                self.prices[k] = Decimal(current) / PX_SCALE
            step = Decimal(self.rng.randint(-10, 10)) / Decimal(10_000)
            self.prices[k] = self.prices[k] * (1 + step)
        reg = self.node.exchange.registry
        oracle = {k: _grid(v, reg.perp(k).sz_decimals, False) for k, v in self.prices.items()}
        spot = {}
        for token, perp in SPOT_SEEDS.items():
            tok = reg.token_by_name.get(token)
            if tok is not None and tok.spot_pair is not None and perp in oracle:
                spot[reg.spot_pairs[tok.spot_pair].name] = oracle[perp]
        for name in ("USDT0", "USDH"):
            tok = reg.token_by_name.get(name)
            if tok is not None and tok.spot_pair is not None:
                spot[reg.spot_pairs[tok.spot_pair].name] = Decimal(1)
        self._submit(A.SetPrices(oracle=oracle, spot=spot))

    def _quote(self, mids: dict[int, Decimal] | None = None) -> None:
        """Cancel the maker's quotes and place three levels each side around the mark (or ``mids``)."""
        ex = self.node.exchange
        reg = ex.registry
        orders: list[O.OrderSpec] = []
        markets: list[tuple[int, int, bool, Decimal]] = []
        for perp in reg.perp_by_name.values():
            if perp.asset in ex.state.prices.mark and not perp.only_isolated:
                markets.append(
                    (
                        perp.asset,
                        perp.sz_decimals,
                        False,
                        Decimal(ex.state.prices.mark[perp.asset]) / PX_SCALE,
                    )
                )
        for pair in reg.spot_pairs.values():
            spot_px = ex.state.prices.spot.get(pair.index)
            if spot_px:
                markets.append((pair.asset, pair.sz_decimals, True, Decimal(spot_px) / PX_SCALE))
        if mids:
            markets = [(a, szd, sp, mids.get(a, mid)) for a, szd, sp, mid in markets]
        self._submit(O.ScheduleCancel(user=MAKER, time=None))
        for asset, _szd, _spot, _mid in markets:
            book = ex.state.books.get(asset)
            mine = [o.oid for o in book.orders_of(MAKER)] if book is not None else []
            if mine:
                self._submit(O.Cancel(user=MAKER, cancels=[O.CancelSpec(asset, oid) for oid in mine]))
        for asset, szd, is_spot, mid in markets:
            for level in (1, 2, 3):
                off = Decimal(level * 5) / Decimal(10_000)
                size = (Decimal(20_000) / mid).quantize(Decimal(1).scaleb(-szd)) or Decimal(1).scaleb(-szd)
                for is_buy in (True, False):
                    level_px = mid * (1 - off) if is_buy else mid * (1 + off)
                    orders.append(
                        O.OrderSpec(
                            asset=asset,
                            is_buy=is_buy,
                            px=_grid(level_px, szd, is_spot),
                            sz=size,
                            limit=O.LimitSpec("Alo"),
                        )
                    )
        if orders:
            self._submit(O.PlaceOrder(user=MAKER, orders=orders))

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if self._paused.is_set():
                continue
            try:
                with self._lock:
                    self._feed()
                    self._quote()
            except Exception:  # the demo must never take the server down
                continue
            self.ticks += 1


def _grid(px: Decimal, sz_decimals: int, is_spot: bool) -> Decimal:
    units = round_price_to_grid(int(px * PX_SCALE), sz_decimals, is_spot)
    return Decimal(units) / Decimal(PX_SCALE)
