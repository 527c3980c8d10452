"""A Chainlink-style price feed for the EVM market, reading Hyperliquid's prices from the engine.

HyperEVM lenders price collateral off HyperCore: HyperLend's oracle serves the perp oracle price that
Hyperliquid's validators publish (https://github.com/hyperlendx/hyperevm-oracle, README: "If the asset
is available as perp on Hyperliquid, we just use the perp oracle price"), HypurrFi reads
"Hyperliquid validator feeds" (https://docs.hypurr.fi/products/pooled-markets). The feed reads one of
HyperCore's prices (``oracle``: the perp oracle; ``mark``: the perp mark; ``spot``: the spot price;
``book``: the spot book's median of best bid, best ask and last trade, which fire sales move) as
it stood ``lag`` seconds ago and publishes it, like a push oracle, only when it moved by at least the
deviation threshold from the last published answer or when the heartbeat elapsed (Chainlink Data Feeds,
"deviation threshold" and "heartbeat": https://docs.chain.link/data-feeds#check-the-timestamp-of-the-
latest-answer). Prices are integers with 8 decimals (Aave's base currency unit), read exactly from the
engine's 1e-8 price integers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from netclear.engine.state import ExchangeState
from netclear.markets.prices import local_mark_price
from netclear.markets.registry import Registry


@dataclass
class Feed:
    token: str
    source: str
    lag_steps: int
    deviation_bps: int
    heartbeat_s: int
    history: deque[int] = field(default_factory=deque)
    answer: int | None = None
    updated_at: int = 0
    updates: int = 0

    def read(self, reg: Registry, state: ExchangeState) -> int | None:
        """The HyperCore price this feed follows, now (1e-8 USD), or None where there is none."""
        tok = reg.token_by_name[self.token]
        prices = state.prices
        if tok.index == reg.quote.index:
            return 10**8
        if self.source in ("spot", "book"):
            if tok.spot_pair is None:
                return None
            if self.source == "spot":
                return prices.spot.get(tok.spot_pair)
            asset = reg.spot_pairs[tok.spot_pair].asset
            book, ms = state.books.get(asset), state.markets.get(asset)
            local = local_mark_price(
                book.best_bid() if book else None,
                book.best_ask() if book else None,
                ms.last_px if ms is not None else None,
            )
            return int(local) if local is not None else prices.spot.get(tok.spot_pair)
        if tok.perp is None:
            return None
        asset = reg.perp(tok.perp).asset
        src = prices.mark if self.source == "mark" else prices.oracle
        return src.get(asset)

    def observe(self, reg: Registry, state: ExchangeState, now: int) -> bool:
        """Record this step's HyperCore price; publish the lagged one when the feed's rules say so.
        Returns True when a new answer was published."""
        px = self.read(reg, state)
        if px is not None:
            self.history.append(px)
        while len(self.history) > self.lag_steps + 1:
            self.history.popleft()
        if not self.history:
            return False
        lagged = self.history[0]
        if self.answer is not None:
            moved = abs(lagged - self.answer) * 10_000 >= self.deviation_bps * self.answer
            stale = self.heartbeat_s > 0 and now - self.updated_at >= self.heartbeat_s
            if not (moved or stale or self.deviation_bps == 0) or lagged == self.answer:
                return False
        self.answer, self.updated_at = lagged, now
        self.updates += 1
        return True
