"""Liquidation tests: shared helpers (conservation, book building, prices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange

USDC = 10**8
"""One USDC in wei (8 decimals)."""


def usd(x: str | int) -> int:
    """USDC (or any 8-decimal token) amount in wei."""
    return int(Decimal(str(x)) * USDC)


def totals(ex: Exchange) -> dict[int, int]:
    """Per token: Σ spot + Σ perp cash + Σ isolated raw_usd + reserve cash (state.py's identity)."""
    st = ex.state
    reg = ex.registry
    out: dict[int, int] = {}
    for acct in st.accounts.values():
        for t, v in acct.spot.items():
            out[t] = out.get(t, 0) + v
        for dex, cash in acct.perp_cash.items():
            t = reg.dex(dex).collateral.index
            out[t] = out.get(t, 0) + cash
        for pos in acct.positions.values():
            if not pos.is_cross:
                t = reg.perps[pos.asset].collateral.index
                out[t] = out.get(t, 0) + pos.raw_usd
    for t, res in st.reserves.items():
        out[t] = out.get(t, 0) + res.cash
    return out


def assert_conserved(ex: Exchange) -> None:
    """Every token: what is inside equals deposits - withdrawals (DESIGN rule 4)."""
    st = ex.state
    tot = totals(ex)
    for t in set(tot) | set(st.external_in):
        expected = st.external_in.get(t, 0) - st.external_out.get(t, 0)
        assert tot.get(t, 0) == expected, f"token {t}: {tot.get(t, 0)} != {expected}"


def set_marks(
    ex: Exchange, marks: dict[str, Any], at: int | None = None, spot: dict[str, Any] | None = None
) -> Any:
    """Oracle and mark moved together (explicit marks, so the mark is exactly what the test says)."""
    px = {k: Decimal(str(v)) for k, v in marks.items()}
    return ex.apply(
        A.SetPrices(oracle=px, marks=px, spot={k: Decimal(str(v)) for k, v in (spot or {}).items()}), at=at
    )


def rest(ex: Exchange, user: str, asset: str, is_buy: bool, px: Any, sz: Any, at: int | None = None) -> int:
    """A resting GTC order; returns its oid."""
    ev = ex.apply(
        O.PlaceOrder(
            user=user,
            orders=[
                O.OrderSpec(
                    asset=asset,
                    is_buy=is_buy,
                    px=Decimal(str(px)),
                    sz=Decimal(str(sz)),
                    limit=O.LimitSpec("Gtc"),
                )
            ],
        ),
        at=at,
    )
    status = ev[-1].data["statuses"][0]
    assert "resting" in status, status
    return int(status["resting"]["oid"])


def ledger_liquidations(ex: Exchange, user: str) -> list[dict[str, Any]]:
    """``liquidation`` deltas of ``userNonFundingLedgerUpdates`` (research §2.6)."""
    rows = ex.info({"type": "userNonFundingLedgerUpdates", "user": user})
    return [r["delta"] for r in rows if r["delta"]["type"] == "liquidation"]
