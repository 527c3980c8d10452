"""HIP-3 dexes under portfolio margin in the ``hyperliquid`` preset (docs/config.md "HIP-3 dexes"):
USDT0 is borrowable within its published caps, so a ``cash:`` position's margin is auto-borrowed against
HYPE; USDH is not, so ``flx:`` needs USDH ("not all HIP-3 DEX collateral assets are borrowable",
Portfolio margin page)."""

from __future__ import annotations

from decimal import Decimal

from netclear.engine import actions as A
from netclear.engine.invariants import conservation_breaks
from netclear.errors import InsufficientMargin
from tests.conftest import ALICE, BOB, fund_lender
from tests.engine.test_rejections import gated, pm_hype, reject

D = Decimal
USDT0, USDT0_WEI = 268, 10**8


def test_cash_margin_is_borrowed_in_usdt0_and_flx_needs_usdh() -> None:
    ex = gated()
    ex.apply(
        A.SetPrices(oracle={"cash:USA500": D(6000), "flx:GOLD": D(3300)}, spot={"@166": D(1), "@230": D(1)})
    )
    fund_lender(ex, token="USDT0", user="0x" + "1f" * 20)
    pm_hype(ex)  # 1000 HYPE at $40, LTV 0.65: up to 26,000 USDT0 of borrowing power
    for token in ("USDT0", "USDH"):
        ex.apply(A.Deposit(user=BOB, amount=D(100_000), token=token))
    ex.apply(A.SetAbstraction(user=BOB, abstraction="unifiedAccount"))
    ex.apply(
        A.SettleFill(buyer=ALICE, seller=BOB, asset="cash:USA500", sz=D(1), px=D(6000), buyer_fee=D("2.7"))
    )
    # initial margin 6,000 / 20x = 300 USDT0 plus the 2.7 USDT0 fee, all borrowed: ALICE held no USDT0
    assert ex.valuer().borrowed(ex.state.accounts[ALICE], USDT0) == D("302.7") * USDT0_WEI
    assert conservation_breaks(ex.state, ex.registry) == {}
    # flx is USDH-collateralised and USDH is not borrowable: 3,300 / 20x = 165 USDH short
    reject(
        ex,
        A.SettleFill(buyer=ALICE, seller=BOB, asset="flx:GOLD", sz=D(1), px=D(3300)),
        InsufficientMargin,
        "buyer",
        "short of 165 USDH",
    )
