"""What the risk lab reads from the engine, for the metrics (docs/risk-lab.md "Metrics").

Around each action: the accounts' positions and marks before it, and its ``liquidation`` / ``adl``
events after it. After each step: new loss-waterfall records (``history.liquidations``: PM takeovers,
perp deficits, lending bad debt) and ``liquidation`` ledger deltas (including those made during a clock
advance, whose events ``Exchange.apply`` does not return). Each step: a row of state (oracle, mark, spot
and spot-book prices, utilization and rate, open interest). Nothing here changes state.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from netclear.engine.events import Adl, Event, Liquidation
from netclear.engine.exchange import Exchange
from netclear.engine.state import Mode
from netclear.fixedpoint import PX_SCALE
from netclear.lending.rates import borrow_rate, utilization
from netclear.markets.prices import local_mark_price
from netclear.sim import agents as ag
from netclear.sim.metrics import PathMetrics
from netclear.sim.paths import PricePaths

Snapshot = dict[str, dict[int, tuple[int, int]]]


class Observer:
    def __init__(self, ex: Exchange, metrics: PathMetrics) -> None:
        self.ex = ex
        self.reg = ex.registry
        self.m = metrics
        self._seen_records: dict[str, int] = {}
        self._seen_ledger: dict[str, int] = {}

    def positions(self) -> dict[str, dict[int, tuple[int, int]]]:
        return {
            a.address: {k: (p.szi, p.entry_ntl) for k, p in a.positions.items() if p.szi}
            for a in self.ex.state.accounts.values()
            if a.positions
        }

    def ntl(self, asset: int, lots: int, mark: int) -> float:
        perp = self.reg.perps[asset]
        return float(abs(lots) / 10**perp.sz_decimals * mark / PX_SCALE)

    def read_liquidations(
        self, events: list[Event], before: Snapshot, marks: dict[int, int], minute: float
    ) -> None:
        accounts = self.ex.state.accounts
        for e in events:
            if isinstance(e, Liquidation) and e.user is not None:
                user = e.user
                market: dict[int, int] = {}
                for p in e.positions:
                    perp = self.reg.perp(p["coin"])
                    market[perp.asset] = market.get(perp.asset, 0) + abs(
                        int(Decimal(p["szi"]).scaleb(perp.sz_decimals))
                    )
                outcome = e.outcome
                now = accounts[user].positions if user in accounts else {}
                for asset, (szi, _entry) in sorted(before.get(user, {}).items()):
                    after = now[asset].szi if asset in now else 0
                    reduced = abs(szi) - abs(after) if (after == 0 or (after > 0) == (szi > 0)) else abs(szi)
                    if reduced <= 0:
                        continue
                    mk = marks.get(asset, 0)
                    name = self.reg.perps[asset].name
                    sold = min(market.get(asset, 0), reduced)
                    self.m.liquidation(user, minute, "market", name, self.ntl(asset, sold, mk))
                    rest = reduced - sold
                    if rest:
                        mech = outcome if outcome in ("backstop", "adl") else "market"
                        self.m.liquidation(user, minute, mech, name, self.ntl(asset, rest, mk))
                self.m.account_liquidated(user, minute, outcome)
                before[user] = {}  # counted once per action even if it met several rounds
            elif isinstance(e, Adl):
                perp = self.reg.perps[e.asset]
                mk = marks.get(perp.asset, 0)
                for cp in e.counterparties:
                    old = before.get(cp, {}).get(perp.asset)
                    if old is None:
                        continue
                    szi, entry = old
                    now_pos = accounts[cp].positions.get(perp.asset) if cp in accounts else None
                    after = now_pos.szi if now_pos is not None else 0
                    closed = abs(szi) - abs(after) if (after == 0 or (after > 0) == (szi > 0)) else abs(szi)
                    if closed <= 0:
                        continue
                    self.m.adl_notional += self.ntl(perp.asset, closed, mk)
                    sign = 1 if szi > 0 else -1
                    scale = 10**perp.sz_decimals * PX_SCALE
                    upnl = (szi * mk - sign * entry) / scale
                    if upnl > 0:
                        self.m.adl_haircut += upnl * closed / abs(szi)
                    before.setdefault(cp, {})[perp.asset] = (after, entry)

    def open_interest(self) -> float:
        total = 0.0
        for asset, ms in self.ex.state.markets.items():
            mark = self.ex.state.prices.mark.get(asset)
            if mark and ms.open_interest and asset in self.reg.perps:
                total += self.ntl(asset, ms.open_interest, mark)
        return total

    def borrow_usage(self) -> float:
        v = self.ex.valuer()
        borrowed = power = Fraction(0)
        for acct in self.ex.state.accounts.values():
            if acct.mode is Mode.PORTFOLIO and not acct.is_system:
                borrowed += v.borrowed_value(acct)
                power += v.borrowing_power(acct)
        return float(borrowed / power) if power > 0 else 0.0

    def sweep(self, minute: float, tracked: set[str]) -> None:
        """New loss-waterfall records (bad debt per pool) and ledger liquidations (also those the clock
        advance made, whose events ``apply`` does not return)."""
        hist = self.ex.state.history
        v = self.ex.valuer()
        for user, recs in hist.liquidations.items():
            seen = self._seen_records.get(user, 0)
            for r in recs[seen:]:
                self._waterfall(user, r, v, minute)
            self._seen_records[user] = len(recs)
        for user in sorted(tracked):
            recs = hist.ledger.get(user, [])
            seen = self._seen_ledger.get(user, 0)
            if len(recs) > seen:
                for r in recs[seen:]:
                    if r["delta"].get("type") == "liquidation":
                        self.m.account_liquidated(user, minute, "market")
                self._seen_ledger[user] = len(recs)

    def _waterfall(self, user: str, r: dict[str, Any], v: Any, minute: float) -> None:
        kind = r.get("kind")
        if kind == "pmTakeover":
            debt = float(Fraction(r["debtValue"])) * float(Fraction(r["debtShare"]))
            self.m.liquidation(user, minute, "pmTakeover", "debt", debt)
            return
        wf = r.get("waterfall") or {}
        tok = self.reg.token_by_name.get(wf.get("token", "USDC"), self.reg.quote)
        px = float(v.token_price(tok))

        def amt(key: str) -> float:
            return float(Decimal(wf.get(key, "0"))) * px

        if kind == "perpDeficit":
            self.m.bad_debt["vault"] += amt("vault")
            self.m.bad_debt["insurance"] += amt("reserveBuffer")
            self.m.bad_debt["adlSocialized"] += amt("socialized")
            self.m.adl_deficit += float(Decimal(r["deficit"])) * px
        elif kind == "badDebt":
            self.m.bad_debt["backstop"] += amt("vault")
            self.m.bad_debt["insurance"] += amt("reserveBuffer")
            self.m.bad_debt["lendingReserve"] += amt("socialized")

    def record(self, minute: float, k: int, prices: PricePaths) -> None:
        st = self.ex.state
        row: dict[str, Any] = {"minute": minute}
        for name in sorted(prices.oracle):
            if name in self.reg.perp_by_name:
                asset = self.reg.perp(name).asset
                o, mk = st.prices.oracle.get(asset, 0) / PX_SCALE, st.prices.mark.get(asset, 0) / PX_SCALE
                row[f"oracle_{name}"], row[f"mark_{name}"] = o, mk
                sm = ag.spot_market(self.reg, name)
                if sm is not None:
                    pair = self.reg.spot_pair(sm[0]).index
                    row[f"spot_{name}"] = st.prices.spot.get(pair, 0) / PX_SCALE
                    book = st.books.get(self.reg.spot_pairs[pair].asset)
                    ms = st.markets.get(self.reg.spot_pairs[pair].asset)
                    local = local_mark_price(
                        book.best_bid() if book else None,
                        book.best_ask() if book else None,
                        ms.last_px if ms is not None else None,
                    )
                    row[f"book_{name}"] = float(local) / PX_SCALE if local is not None else 0.0
                if o > 0:
                    self.m.fire_sale_impact = max(self.m.fire_sale_impact, abs(mk - o) / o)
        u_max, r_max = 0.0, 0.0
        for token, res in sorted(st.reserves.items()):
            params = self.reg.borrowable(token)
            if params is None:
                continue
            u = utilization(res.total_borrowed, res.total_supplied)
            u_max = max(u_max, float(u))
            r_max = max(r_max, float(borrow_rate(params.curve, u)))
        row["utilization"] = u_max
        row["borrowRate"] = r_max
        self.m.peak_utilization = max(self.m.peak_utilization, u_max)
        self.m.peak_borrow_rate = max(self.m.peak_borrow_rate, r_max)
        row["liquidatedNotional"] = self.m.liquidated_total
        row["accountsLiquidated"] = len(self.m.liquidated_accounts)
        row["badDebt"] = self.m.bad_debt_total
        row["adlNotional"] = self.m.adl_notional
        row["openInterest"] = self.open_interest()
        row["depth"] = float(prices.depth[k]) if prices.depth is not None else 1.0
        self.m.rows.append(row)
