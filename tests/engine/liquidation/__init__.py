"""Liquidation tests: shared helpers (conservation, book building, prices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from netclear import views
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.invariants import conservation_breaks

USDC = 10**8
"""One USDC in wei (8 decimals)."""


def usd(x: str | int) -> int:
    """USDC (or any 8-decimal token) amount in wei."""
    return int(Decimal(str(x)) * USDC)


def assert_conserved(ex: Exchange) -> None:
    """Every token: what is inside equals deposits - withdrawals (DESIGN rule 4; engine/invariants.py)."""
    assert conservation_breaks(ex.state, ex.registry) == {}


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
    status = ev[-1].statuses[0]
    assert "resting" in status, status
    return int(status["resting"]["oid"])


def ledger_liquidations(ex: Exchange, user: str) -> list[dict[str, Any]]:
    """``liquidation`` deltas of ``userNonFundingLedgerUpdates`` (Hyperliquid docs 'Liquidations')."""
    rows = views.info(ex, {"type": "userNonFundingLedgerUpdates", "user": user})
    return [r["delta"] for r in rows if r["delta"]["type"] == "liquidation"]
