"""Actions: the only inputs that change state (DESIGN rule 1). Plain data (msgspec structs).

Amounts and prices are decimal strings or ``Decimal`` like on Hyperliquid's wire; the engine turns
them into exact integer units and rejects values with more decimals than the unit allows. Users are
lower-case ``0x`` addresses. Every action is tagged by ``type`` so a log can store it as JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Union

import msgspec


class Action(msgspec.Struct, tag_field="type", frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base class of all actions."""


# ---------------------------------------------------------------------------- funds
class Deposit(Action, tag="deposit", frozen=True):
    """Bridge deposit (operator). Standard mode credits USDC to the first dex's cross balance
    (Hyperliquid docs 'Margining' "Deposits are credited first to the cross margin balance"), other tokens to
    spot."""

    user: str
    amount: Decimal
    token: str = "USDC"


class Withdraw(Action, tag="withdraw", frozen=True):
    """Withdrawal to the outside world (``withdraw3`` for USDC; spot tokens likewise)."""

    user: str
    amount: Decimal
    token: str = "USDC"


class UsdSend(Action, tag="usdSend", frozen=True):
    """Send USDC to another user (from the perp balance in standard mode)."""

    user: str
    destination: str
    amount: Decimal


class SpotSend(Action, tag="spotSend", frozen=True):
    user: str
    destination: str
    token: str
    amount: Decimal


class UsdClassTransfer(Action, tag="usdClassTransfer", frozen=True):
    """Move collateral between spot and a dex's perp balance; standard mode only (Hyperliquid docs 'Account
    abstraction modes')."""

    user: str
    amount: Decimal
    to_perp: bool
    dex: str = ""


class SendAsset(Action, tag="sendAsset", frozen=True):
    """Move a token from one balance of ``user`` to a balance of ``destination`` (may be ``user``).

    A balance is ``"spot"``, ``""`` (the first perp dex) or a builder dex's name; a perp dex side moves
    only that dex's collateral token (Hyperliquid docs, exchange endpoint "Send asset").
    """

    user: str
    destination: str
    source_dex: str
    destination_dex: str
    token: str
    amount: Decimal


class CreateSubAccount(Action, tag="createSubAccount", frozen=True):
    user: str
    name: str


class SubAccountTransfer(Action, tag="subAccountTransfer", frozen=True):
    """Move a token between a master and one of its sub-accounts (spot, or USDC perp in standard mode)."""

    user: str
    sub_account: str
    is_deposit: bool
    amount: Decimal
    token: str = "USDC"


# ---------------------------------------------------------------------------- modes and leverage
class SetAbstraction(Action, tag="userSetAbstraction", frozen=True):
    user: str
    abstraction: Literal["disabled", "unifiedAccount", "portfolioMargin"]


class SetDexAbstraction(Action, tag="userDexAbstraction", frozen=True):
    """The discontinued HIP-3 DEX abstraction (``userDexAbstraction``, ``agentEnableDexAbstraction``)."""

    user: str
    enabled: bool


class Noop(Action, tag="noop", frozen=True):
    """Does nothing but use up its nonce (Hyperliquid docs, exchange endpoint "Invalidate pending nonce")."""

    user: str


class UpdateLeverage(Action, tag="updateLeverage", frozen=True):
    user: str
    asset: int | str
    is_cross: bool
    leverage: int


class UpdateIsolatedMargin(Action, tag="updateIsolatedMargin", frozen=True):
    """Add (positive) or remove (negative) isolated margin, in collateral units (``ntli`` / 1e6)."""

    user: str
    asset: int | str
    amount: Decimal


class ApproveAgent(Action, tag="approveAgent", frozen=True):
    """Approve an API wallet (agent) to sign L1 actions for ``user`` (Hyperliquid docs 'Info endpoint';
    hyperliquid-python-sdk 0.24.0).

    One unnamed agent per user (a new one replaces it) and up to three named ones.
    """

    user: str
    agent: str
    name: str | None = None
    valid_until: int | None = None


# ---------------------------------------------------------------------------- lending
class BorrowLend(Action, tag="borrowLend", frozen=True):
    """``borrowLend`` (Hyperliquid docs 'Info endpoint'): supply / withdraw / borrow / repay; ``amount`` None
    = all."""

    user: str
    operation: Literal["supply", "withdraw", "borrow", "repay"]
    token: int | str
    amount: Decimal | None = None


# ---------------------------------------------------------------------------- trading primitive
class SettleFill(Action, tag="settleFill", frozen=True):
    """Settle one trade between two accounts (the order books call the same primitive).

    ``buyer_fee`` / ``seller_fee`` are amounts (negative for a rebate) in the fee token: the perp's
    collateral, or for spot the token each side receives (docs/accounting.md).
    ``check_margin`` applies the opening-side margin checks (with auto-borrow under PM).
    """

    buyer: str
    seller: str
    asset: int | str
    sz: Decimal
    px: Decimal
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)
    check_margin: bool = True


# ---------------------------------------------------------------------------- prices and time
class SetPrices(Action, tag="setPrices", frozen=True):
    """Oracle feed (operator). Keys are coin names ("BTC", "xyz:XYZ100") or spot pair names.

    The mark of a perp whose oracle moves is recomputed as the published median (oracle + EMA of
    mid - oracle, median of bid/ask/last trade, Hyperliquid docs 'Robust price indices'); ``marks`` set it
    explicitly instead (external perp mids, scenarios).
    """

    oracle: dict[str, Decimal] = msgspec.field(default_factory=dict)
    marks: dict[str, Decimal] = msgspec.field(default_factory=dict)
    spot: dict[str, Decimal] = msgspec.field(default_factory=dict)
    usdc_oracle: Decimal | None = None


class GrantPmEligibility(Action, tag="grantPmEligibility", frozen=True):
    """Operator: let ``address`` (and its sub-accounts) enable portfolio margin without meeting the volume
    or account-value gate (``eligible=False`` withdraws the grant). The account-value cap still applies.
    Not a wire action: ``POST /operator/eligibility`` and ``netclear serve --grant-pm`` send it."""

    address: str
    eligible: bool = True


class AdvanceTime(Action, tag="advanceTime", frozen=True):
    """Let time pass (interest indexing); the new time is the action's timestamp."""


def action_types() -> list[type[Action]]:
    """Every concrete action class, including those defined by other modules (orders, operator)."""
    out: list[type[Action]] = []
    stack: list[type[Action]] = list(Action.__subclasses__())
    while stack:
        cls = stack.pop()
        out.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(out, key=lambda c: c.__name__)


_encoder = msgspec.json.Encoder(decimal_format="string")
_decoders: dict[int, msgspec.json.Decoder[Any]] = {}


def encode_action(action: Action) -> bytes:
    return _encoder.encode(action)


def decode_action(data: bytes) -> Action:
    """Decode a JSON action of any registered type (raises msgspec.ValidationError on bad input)."""
    types = action_types()
    decoder = _decoders.get(len(types))
    if decoder is None:
        decoder = msgspec.json.Decoder(Union[tuple(types)])  # noqa: UP007
        _decoders[len(types)] = decoder
    result: Action = decoder.decode(data)
    return result
