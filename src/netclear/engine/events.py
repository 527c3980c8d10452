"""Events: what an applied action did, as typed data returned by ``Exchange.apply``.

One frozen struct per kind, a tagged union (``kind`` is the tag), in the manner of NautilusTrader's typed
events (its "Events" concept page: every event is its own class with typed fields). Money is integer
fixed-point as in the ledger: ``amount`` in the token's wei units with the token's index beside it, prices
in ``PX_DECIMALS`` units, sizes in lots of the market's ``szDecimals``. Order statuses and liquidated
positions stay in the wire's vocabulary (``/exchange`` responses and ledger deltas carry them verbatim).
Encoded (``msgspec.json``), fields take their wire names (camelCase) and ``kind`` the tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import msgspec

OrderStatus: TypeAlias = str | dict[str, Any]
"""One order's status as ``/exchange`` answers it: ``"success"``, ``{"resting": ...}``, ``{"filled": ...}``,
``{"error": ...}`` (Hyperliquid docs, "Exchange endpoint")."""


class _Base(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", rename="camel"):
    user: str | None = None
    """The account the event is about (``None`` for market-wide events: prices, fills)."""

    @property
    def kind(self) -> str:
        """The tag: today's kind string (``"deposit"``, ``"orderStatuses"``, ...)."""
        return str(self.__struct_config__.tag)


# ---------------------------------------------------------------- money in and out, transfers
class Deposit(_Base, frozen=True, tag="deposit"):
    token: int
    amount: int


class Withdraw(_Base, frozen=True, tag="withdraw"):
    token: int
    amount: int


class UsdSend(_Base, frozen=True, tag="usdSend"):
    destination: str
    token: int
    amount: int


class SpotSend(_Base, frozen=True, tag="spotSend"):
    destination: str
    token: int
    amount: int


class UsdClassTransfer(_Base, frozen=True, tag="usdClassTransfer"):
    token: int
    amount: int
    to_perp: bool
    dex: str


class SendAsset(_Base, frozen=True, tag="sendAsset"):
    destination: str
    source_dex: str
    destination_dex: str
    token: int
    amount: int


class SubAccountTransfer(_Base, frozen=True, tag="subAccountTransfer"):
    sub_account: str
    is_deposit: bool
    token: int
    amount: int


class CreateSubAccount(_Base, frozen=True, tag="createSubAccount"):
    sub_account: str
    name: str


class BorrowLend(_Base, frozen=True, tag="borrowLend"):
    operation: str
    token: int
    amount: int


# ---------------------------------------------------------------- account settings
class Abstraction(_Base, frozen=True, tag="abstraction"):
    previous: str
    abstraction: str


class PmEligibility(_Base, frozen=True, tag="pmEligibility"):
    eligible: bool


class DexAbstraction(_Base, frozen=True, tag="dexAbstraction"):
    enabled: bool


class Leverage(_Base, frozen=True, tag="leverage"):
    asset: int
    is_cross: bool
    leverage: int


class IsolatedMargin(_Base, frozen=True, tag="isolatedMargin"):
    """``amount`` is signed: positive adds margin to the position, negative removes it."""

    asset: int
    token: int
    amount: int


class ApproveAgent(_Base, frozen=True, tag="approveAgent"):
    agent: str
    name: str | None


# ---------------------------------------------------------------- orders and trades
class OrderStatuses(_Base, frozen=True, tag="orderStatuses"):
    statuses: Sequence[OrderStatus]
    """One per order of the action, in order (decodes as a list)."""


class Triggered(_Base, frozen=True, tag="triggered"):
    oid: int
    status: OrderStatus


class ScheduleCancel(_Base, frozen=True, tag="scheduleCancel"):
    time: int | None


class Fill(_Base, frozen=True, tag="fill"):
    tid: int
    asset: int
    px: int
    sz: int
    buyer: str
    seller: str


class Prices(_Base, frozen=True, tag="prices"):
    count: int


# ---------------------------------------------------------------- liquidation waterfall
class Liquidation(_Base, frozen=True, tag="liquidation"):
    leverage_type: str
    outcome: str
    positions: list[dict[str, str]]
    """The ledger's ``liquidatedPositions`` (``coin``, ``szi``) as the wire writes them."""


class Adl(_Base, frozen=True, tag="adl"):
    asset: int
    px: int
    counterparties: list[str]


class BadDebt(_Base, frozen=True, tag="badDebt"):
    token: int
    amount: int


class PmTakeover(_Base, frozen=True, tag="pmTakeover"):
    """``share``/``collateral_share``: exact fractions as text (``"1/4"``), the takeover's step."""

    share: str
    collateral_share: str
    health: str


Event: TypeAlias = (
    Deposit
    | Withdraw
    | UsdSend
    | SpotSend
    | UsdClassTransfer
    | SendAsset
    | SubAccountTransfer
    | CreateSubAccount
    | BorrowLend
    | Abstraction
    | PmEligibility
    | DexAbstraction
    | Leverage
    | IsolatedMargin
    | ApproveAgent
    | OrderStatuses
    | Triggered
    | ScheduleCancel
    | Fill
    | Prices
    | Liquidation
    | Adl
    | BadDebt
    | PmTakeover
)
"""Every event the engine emits; ``msgspec.json.decode(data, type=Event)`` picks the struct by ``kind``."""
