"""Demo market: a price feed and market makers, so a fresh ``netclear serve --demo`` can be traded on.

Prices start at the mids of the bundled mainnet snapshot (docs/config.md "The hyperliquid market
universe"): every listed perp and every spot pair the snapshot prices. HIP-3 markets, which the snapshot
does not cover, start at round prices (``HIP3_PRICES``); a spot token that tracks a core perp (UBTC,
UETH, USOL, HYPE) trades at that perp's oracle, and the USDT0 and USDH stablecoins at 1. The feed walks
every price by a small deterministic random step every few seconds (seeded); makers keep three ALO
levels each side around the mark on every quoted market (all by default, or the ``markets`` given),
as many makers as Hyperliquid's open-order limit needs. Both submit ordinary actions through the
writer, so they are logged and replayed like any client's.

The operator stays in charge (docs/api.md "Demo market"): each step starts from the exchange's current
oracle, so an operator price becomes the walk's centre; :meth:`DemoMarket.operator_prices` re-quotes the
makers around an operator price before applying it; :meth:`DemoMarket.pause` / :meth:`DemoMarket.resume`
stop and restart the feed and the makers (``POST /operator/demo``).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from netclear.api.writer import Writer
from netclear.config.snapshot import snapshot_mids
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.fixedpoint import PX_SCALE
from netclear.ledger.node import Node, Outcome
from netclear.markets.registry import SPOT_ASSET_OFFSET
from netclear.markets.ticks import round_price_to_grid

MAKER = "0x00000000000000000000000000000000000d3e30"
HIP3_PRICES: dict[str, int | Decimal] = {
    "xyz:XYZ100": 20000,
    "xyz:NVDA": 180,
    "flx:GOLD": 3300,
    "cash:USA500": 6000,
    "test:ABC": 2,  # above 1, so the SDK builder-dex example's bid at 1 rests
}
STABLES = ("USDT0", "USDH")
LEVELS = 3
LEVEL_NOTIONAL = Decimal(20_000)


def maker_address(i: int) -> str:
    """The i-th demo maker: ``MAKER`` itself, then the next addresses."""
    return "0x" + format(int(MAKER, 16) + i, "040x")


@dataclass(frozen=True, slots=True)
class _Market:
    name: str
    asset: int
    sz_decimals: int
    is_spot: bool


class DemoMarket:
    def __init__(
        self,
        node: Node,
        writer: Writer,
        *,
        period_s: float = 3.0,
        seed: int = 7,
        markets: Collection[str] | None = None,
    ) -> None:
        self.node, self.writer, self.period = node, writer, period_s
        self.rng = random.Random(seed)
        reg = node.exchange.registry
        mids = snapshot_mids()
        self.prices: dict[str, Decimal] = {}  # perp wire name -> oracle centre
        for perp in reg.perp_by_name.values():
            px = HIP3_PRICES.get(perp.name, mids.get(perp.name))
            if px is not None and not perp.is_delisted:
                self.prices[perp.name] = Decimal(px)
        self.spot_prices: dict[str, Decimal] = {}  # spot pairs priced on their own
        for pair in reg.spot_pairs.values():
            follows = pair.base.spot_pair == pair.index and (pair.base.perp or pair.base.name in STABLES)
            if not follows and pair.name in mids:
                self.spot_prices[pair.name] = mids[pair.name]
        self.wanted = None if markets is None else self._resolve(markets)
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()  # one of feed+quote or an operator price at a time
        self.ticks = 0
        """Feed steps taken (tests and the operator read it)."""
        self._thread = threading.Thread(target=self._run, name="netclear-demo", daemon=True)

    def _resolve(self, names: Collection[str]) -> set[int]:
        reg = self.node.exchange.registry
        out = set()
        for name in names:
            if name in reg.perp_by_name:
                out.add(reg.perp_by_name[name].asset)
            else:
                out.add(reg.spot_pair(name, field="markets").asset)
        return out

    def start(self) -> None:
        self._bootstrap()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """Stop the feed and the makers' re-quoting (resting quotes stay); prices move only by the operator."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def operator_prices(self, action: A.SetPrices) -> Outcome:
        """Apply an operator price update, the makers first re-quoted around its prices (explicit marks win
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
            pair = reg.spot_by_name.get(name)
            if pair is not None and px > 0:
                mids[pair.asset] = px
        with self._lock:
            if mids:
                with contextlib.suppress(Exception):  # the demo must never fail an operator action
                    self._quote(mids)
            return self.writer.submit(action).result()

    def _submit(self, action: A.Action) -> None:
        self.writer.submit(action).result()

    def _markets(self) -> list[_Market]:
        """Quoted markets: listed cross-margin perps and spot pairs that have a price, by asset id."""
        ex = self.node.exchange
        reg = ex.registry
        out = [
            _Market(p.name, p.asset, p.sz_decimals, False)
            for p in reg.perps.values()
            if p.asset in ex.state.prices.mark and not p.only_isolated and not p.is_delisted
        ]
        out += [
            _Market(pair.name, pair.asset, pair.sz_decimals, True)
            for pair in reg.spot_pairs.values()
            if ex.state.prices.spot.get(pair.index)
        ]
        if self.wanted is not None:
            out = [m for m in out if m.asset in self.wanted]
        return sorted(out, key=lambda m: m.asset)

    def _groups(self) -> list[list[_Market]]:
        per_maker = self.node.exchange.registry.config.orders.max_open_orders // (2 * LEVELS)
        markets = self._markets()
        return [markets[i : i + per_maker] for i in range(0, len(markets), per_maker)]

    def _usd_price(self, token: str) -> Decimal | None:
        ex = self.node.exchange
        tok = ex.registry.token_by_name[token]
        if token in STABLES:
            return Decimal(1)
        spot: dict[int, int] = ex.state.prices.spot
        if tok.spot_pair is not None and spot.get(tok.spot_pair):
            return Decimal(spot[tok.spot_pair]) / Decimal(PX_SCALE)
        for pair in ex.registry.spot_pairs.values():
            px = spot.get(pair.index)
            if pair.base is tok and px and pair.quote.name in ("USDC", *STABLES):
                return Decimal(px) / Decimal(PX_SCALE)
        return None

    def _bootstrap(self) -> None:
        reg = self.node.exchange.registry
        self._feed()
        setup: list[A.Action] = []
        for i, group in enumerate(self._groups()):
            maker = maker_address(i)
            if maker in self.node.exchange.state.accounts:
                continue
            setup.append(A.Deposit(user=maker, amount=Decimal(50_000_000)))
            setup.append(A.SetAbstraction(user=maker, abstraction="unifiedAccount"))
            tokens = {
                t
                for m in group
                if m.is_spot
                for t in (reg.spot_pair(m.asset).base, reg.spot_pair(m.asset).quote)
            }
            for tok in sorted(tokens, key=lambda t: t.index):
                px = self._usd_price(tok.name)
                if tok.name == "USDC" or not px:
                    continue
                amount = (Decimal(2_000_000) / px).quantize(Decimal(1).scaleb(-min(tok.wei_decimals, 2)))
                setup.append(A.Deposit(user=maker, token=tok.name, amount=amount))
        # queued together, the writer commits them in a few batches instead of one fsync each
        for future in [self.writer.submit(action) for action in setup]:
            future.result()
        self._quote()

    def _feed(self) -> None:
        reg = self.node.exchange.registry
        oracle_now, spot_now = self.node.read(
            lambda ex: (dict(ex.state.prices.oracle), dict(ex.state.prices.spot))
        )
        for k in self.prices:  # the walk continues from the exchange's price (an operator's, if it set one)
            current = oracle_now.get(reg.perp(k).asset)
            if current:
                self.prices[k] = Decimal(current) / PX_SCALE
        for name in self.spot_prices:
            current = spot_now.get(reg.spot_pair(name).index)
            if current:
                self.spot_prices[name] = Decimal(current) / PX_SCALE
        for book in (self.prices, self.spot_prices):
            for k in book:
                step = Decimal(self.rng.randint(-10, 10)) / Decimal(10_000)
                book[k] = book[k] * (1 + step)
        oracle = {k: _grid(v, reg.perp(k).sz_decimals, False) for k, v in self.prices.items()}
        oracle = {k: v for k, v in oracle.items() if v > 0}
        spot: dict[str, Decimal] = {}
        for pair in reg.spot_pairs.values():
            base = pair.base
            if base.perp is not None and base.spot_pair == pair.index and base.perp in oracle:
                spot[pair.name] = oracle[base.perp]
            elif base.name in STABLES and base.spot_pair == pair.index:
                spot[pair.name] = Decimal(1)
            elif pair.name in self.spot_prices:
                px = _grid(self.spot_prices[pair.name], pair.sz_decimals, True)
                if px > 0:
                    spot[pair.name] = px
        self._submit(A.SetPrices(oracle=oracle, spot=spot))

    def _quote(self, mids: dict[int, Decimal] | None = None) -> None:
        """Cancel the makers' quotes and place three levels each side around the mark (or ``mids``)."""
        ex = self.node.exchange
        actions: list[A.Action] = []
        for i, group in enumerate(self._groups()):
            maker = maker_address(i)
            if maker not in ex.state.accounts:
                continue
            actions.append(O.ScheduleCancel(user=maker, time=None))
            mine = [
                O.CancelSpec(m.asset, o.oid)
                for m in group
                if (book := ex.state.books.get(m.asset)) is not None
                for o in book.orders_of(maker)
            ]
            if mine:
                actions.append(O.Cancel(user=maker, cancels=mine))
            orders = [o for m in group for o in self._levels(m, (mids or {}).get(m.asset))]
            if orders:
                actions.append(O.PlaceOrder(user=maker, orders=orders))
        for future in [self.writer.submit(action) for action in actions]:
            future.result()

    def _levels(self, m: _Market, mid: Decimal | None = None) -> list[O.OrderSpec]:
        if mid is None:
            prices = self.node.exchange.state.prices
            raw = prices.spot.get(m.asset - SPOT_ASSET_OFFSET) if m.is_spot else prices.mark.get(m.asset)
            if not raw:
                return []
            mid = Decimal(raw) / PX_SCALE
        unit = Decimal(1).scaleb(-m.sz_decimals)
        size = (LEVEL_NOTIONAL / mid).quantize(unit, rounding=ROUND_DOWN) or unit
        bids = [
            _grid(mid * (1 - Decimal(level * 5) / 10_000), m.sz_decimals, m.is_spot) for level in (1, 2, 3)
        ]
        asks = [
            _grid(mid * (1 + Decimal(level * 5) / 10_000), m.sz_decimals, m.is_spot) for level in (1, 2, 3)
        ]
        if min(bids) <= 0 or max(bids) >= min(asks):
            return []  # the price grid is too coarse here to quote around the mid
        return [
            O.OrderSpec(asset=m.asset, is_buy=is_buy, px=px, sz=size, limit=O.LimitSpec("Alo"))
            for bid, ask in zip(bids, asks, strict=True)
            for is_buy, px in ((True, bid), (False, ask))
        ]

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
