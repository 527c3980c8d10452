"""Authentication of /exchange bodies, checked against signatures made by the official SDK.

Every body goes through ``json.dumps``/``json.loads`` first, as it would over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]  # the SDK ships no type information
from hyperliquid.utils import signing as sdk  # type: ignore[import-untyped]
from hyperliquid.utils.types import Cloid  # type: ignore[import-untyped]

from netclear.api.auth import (
    ACTIONS,
    DEFAULT_CHAIN,
    ActionExpired,
    AgentRejected,
    AuthError,
    AuthResult,
    BadSignature,
    MalformedRequest,
    NonceRejected,
    Scheme,
    UnsupportedAction,
    VaultRejected,
    WrongChain,
    l1_action_hash,
    recover_l1_signer,
    recover_user_signed_signer,
    verify_request,
)
from netclear.errors import NetclearError
from netclear.ledger.nonces import DAY_MS, NonceError, NonceStore

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
LOCAL_URL = "http://127.0.0.1:3001"
SECP256K1_P = 2**256 - 2**32 - 977

MASTER: LocalAccount = Account.create()
OTHER: LocalAccount = Account.create()
AGENT: LocalAccount = Account.create()
SUB = "0x" + "5b" * 20  # a sub-account of MASTER
FOREIGN_SUB = "0x" + "7c" * 20  # a sub-account of OTHER
DEST = "0x" + "11" * 20

ORDER: dict[str, Any] = {
    "type": "order",
    "orders": [{"a": 0, "b": True, "p": "100000", "s": "0.01", "r": False, "t": {"limit": {"tif": "Gtc"}}}],
    "grouping": "na",
}


def addr(wallet: LocalAccount) -> str:
    return str(wallet.address).lower()


def wire(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(body))
    return out


def l1_body(
    wallet: LocalAccount,
    action: dict[str, Any],
    *,
    nonce: int = NOW,
    vault: str | None = None,
    expires_after: int | None = None,
    is_mainnet: bool = False,
) -> dict[str, Any]:
    signature = sdk.sign_l1_action(wallet, action, vault, nonce, expires_after, is_mainnet)
    return wire(
        {
            "action": action,
            "nonce": nonce,
            "signature": signature,
            "vaultAddress": vault,
            "expiresAfter": expires_after,
        }
    )


SignFn = Callable[[LocalAccount, dict[str, Any], bool], Any]


def user_body(
    wallet: LocalAccount, action: dict[str, Any], sign: SignFn, *, is_mainnet: bool = False
) -> dict[str, Any]:
    action = dict(action)
    nonce = action["nonce"] if "nonce" in action else action["time"]
    signature = sign(wallet, action, is_mainnet)  # adds signatureChainId and hyperliquidChain
    return wire(
        {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None, "expiresAfter": None}
    )


def verify(
    body: dict[str, Any],
    *,
    now: int = NOW,
    store: NonceStore | None = None,
    agents: Mapping[str, tuple[str, int | None]] | None = None,
    users: set[str] | None = None,
    vaults: Mapping[str, str] | None = None,
    chain: Any = "Testnet",
) -> AuthResult:
    return verify_request(
        body,
        chain=chain,
        now_ms=now,
        nonce_store=store if store is not None else NonceStore(),
        agents=agents or {},
        users=users,
        vaults=vaults,
    )


# --- recovery with the SDK's own signing functions ----------------------------------------------------

L1_ACTIONS: list[dict[str, Any]] = [
    ORDER,
    sdk.order_wires_to_order_action(
        [
            sdk.order_request_to_order_wire(
                {
                    "coin": "ETH",
                    "is_buy": False,
                    "sz": 1.25,
                    "limit_px": 3999.5,
                    "order_type": {"trigger": {"triggerPx": 3900.0, "isMarket": True, "tpsl": "sl"}},
                    "reduce_only": True,
                    "cloid": Cloid.from_int(7),
                },
                1,
            )
        ],
        {"b": DEST, "f": 10},
        "normalTpsl",
    ),
    {"type": "cancel", "cancels": [{"a": 0, "o": 123456789}]},
    {"type": "cancelByCloid", "cancels": [{"asset": 0, "cloid": Cloid.from_int(7).to_raw()}]},
    {"type": "batchModify", "modifies": [{"oid": 5, "order": ORDER["orders"][0]}]},
    {"type": "modify", "oid": 5, "order": ORDER["orders"][0]},
    {"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 20},
    {"type": "updateIsolatedMargin", "asset": 0, "isBuy": True, "ntli": 1_000_000},
    {"type": "scheduleCancel"},
    {"type": "scheduleCancel", "time": NOW + 60_000},
    {"type": "agentSetAbstraction", "abstraction": "p"},
    {"type": "agentEnableDexAbstraction"},
    {"type": "borrowLend", "operation": "supply", "token": 0, "amount": "30"},
    {"type": "borrowLend", "operation": "repay", "token": 0, "amount": None},
    {"type": "createSubAccount", "name": "desk-1"},
    {"type": "subAccountTransfer", "subAccountUser": SUB, "isDeposit": True, "usd": 1_000_000},
    {
        "type": "subAccountSpotTransfer",
        "subAccountUser": SUB,
        "isDeposit": False,
        "token": "USDC",
        "amount": "1",
    },
    {"type": "vaultTransfer", "vaultAddress": SUB, "isDeposit": True, "usd": 5},
    {"type": "setReferrer", "code": "NETCLEAR"},
    {"type": "evmUserModify", "usingBigBlocks": True},
    {"type": "twapOrder", "twap": {"a": 0, "b": True, "s": "1", "r": False, "m": 30, "t": False}},
    {"type": "twapCancel", "a": 0, "t": 3},
    {"type": "noop"},
]


@pytest.mark.parametrize("action", L1_ACTIONS, ids=lambda a: str(a["type"]))
def test_l1_action_recovers_signer(action: dict[str, Any]) -> None:
    result = verify(l1_body(MASTER, action))
    assert result.signer == addr(MASTER)
    assert result.user == addr(MASTER)
    assert result.vault_address is None
    assert result.action == wire(action)
    assert result.nonce == NOW
    assert not result.is_agent


USER_SIGNED: list[tuple[dict[str, Any], SignFn]] = [
    ({"type": "usdSend", "destination": DEST, "amount": "12.5", "time": NOW}, sdk.sign_usd_transfer_action),
    (
        {
            "type": "spotSend",
            "destination": DEST,
            "token": "HYPE:0x0d01dc56dcaaca66ad901c959b4011ec",
            "amount": "3",
            "time": NOW,
        },
        sdk.sign_spot_transfer_action,
    ),
    (
        {"type": "withdraw3", "destination": DEST, "amount": "100", "time": NOW},
        sdk.sign_withdraw_from_bridge_action,
    ),
    (
        {"type": "usdClassTransfer", "amount": "7.25", "toPerp": False, "nonce": NOW},
        sdk.sign_usd_class_transfer_action,
    ),
    (
        {
            "type": "sendAsset",
            "destination": DEST,
            "sourceDex": "",
            "destinationDex": "spot",
            "token": "USDC",
            "amount": "1",
            "fromSubAccount": "",
            "nonce": NOW,
        },
        sdk.sign_send_asset_action,
    ),
    (
        {"type": "approveAgent", "agentAddress": AGENT.address, "agentName": "bot", "nonce": NOW},
        sdk.sign_agent,
    ),
    (
        {"type": "approveBuilderFee", "maxFeeRate": "0.001%", "builder": DEST, "nonce": NOW},
        sdk.sign_approve_builder_fee,
    ),
    (
        {"type": "userDexAbstraction", "user": addr(MASTER), "enabled": True, "nonce": NOW},
        sdk.sign_user_dex_abstraction_action,
    ),
    (
        {"type": "userSetAbstraction", "user": addr(MASTER), "abstraction": "portfolioMargin", "nonce": NOW},
        sdk.sign_user_set_abstraction_action,
    ),
    (
        {"type": "tokenDelegate", "validator": DEST, "wei": 10**8, "isUndelegate": False, "nonce": NOW},
        sdk.sign_token_delegate_action,
    ),
    (
        {
            "type": "convertToMultiSigUser",
            "signers": json.dumps({"authorizedUsers": [DEST], "threshold": 1}),
            "nonce": NOW,
        },
        sdk.sign_convert_to_multi_sig_user_action,
    ),
]


@pytest.mark.parametrize(
    ("action", "sign"), USER_SIGNED, ids=lambda x: x["type"] if isinstance(x, dict) else ""
)
def test_user_signed_action_recovers_signer(action: dict[str, Any], sign: SignFn) -> None:
    body = user_body(MASTER, action, sign)
    assert body["action"]["hyperliquidChain"] == "Testnet"
    assert body["action"]["signatureChainId"] == "0x66eee"
    result = verify(body)
    assert (result.signer, result.user, result.vault_address) == (addr(MASTER), addr(MASTER), None)
    assert recover_user_signed_signer(body["action"], body["signature"], chain="Testnet") == addr(MASTER)


def test_default_chain_is_testnet_like_the_sdk_for_local_urls() -> None:
    assert DEFAULT_CHAIN == "Testnet"


SDK_SIGN_TYPES = {
    "usdSend": sdk.USD_SEND_SIGN_TYPES,
    "spotSend": sdk.SPOT_TRANSFER_SIGN_TYPES,
    "withdraw3": sdk.WITHDRAW_SIGN_TYPES,
    "usdClassTransfer": sdk.USD_CLASS_TRANSFER_SIGN_TYPES,
    "sendAsset": sdk.SEND_ASSET_SIGN_TYPES,
    "userDexAbstraction": sdk.USER_DEX_ABSTRACTION_SIGN_TYPES,
    "userSetAbstraction": sdk.USER_SET_ABSTRACTION_SIGN_TYPES,
    "tokenDelegate": sdk.TOKEN_DELEGATE_TYPES,
    "convertToMultiSigUser": sdk.CONVERT_TO_MULTI_SIG_USER_SIGN_TYPES,
}


@pytest.mark.parametrize("action_type", sorted(SDK_SIGN_TYPES))
def test_field_table_matches_sdk_constants(action_type: str) -> None:
    fields = [{"name": n, "type": t} for n, t in ACTIONS[action_type].fields]
    assert fields == SDK_SIGN_TYPES[action_type]


def test_table_schemes() -> None:
    l1 = {t for t, s in ACTIONS.items() if s.scheme is Scheme.L1}
    assert {
        "order",
        "cancel",
        "cancelByCloid",
        "modify",
        "batchModify",
        "updateLeverage",
        "updateIsolatedMargin",
        "scheduleCancel",
        "agentSetAbstraction",
        "borrowLend",
        "createSubAccount",
    } <= l1
    user = set(ACTIONS) - l1
    assert {
        "usdSend",
        "spotSend",
        "withdraw3",
        "usdClassTransfer",
        "approveAgent",
        "userSetAbstraction",
        "sendAsset",
        "approveBuilderFee",
    } <= user
    assert ACTIONS["usdSend"].type_string == (
        "HyperliquidTransaction:UsdSend(string hyperliquidChain,string destination,string amount,uint64 time)"
    )


@pytest.mark.parametrize(
    ("vault", "expires_after"),
    [(None, None), (SUB, None), (None, NOW + 5), (SUB.upper().replace("0X", "0x"), NOW)],
)
def test_l1_action_hash_matches_sdk(vault: str | None, expires_after: int | None) -> None:
    assert l1_action_hash(ORDER, vault, NOW, expires_after) == sdk.action_hash(
        ORDER, vault, NOW, expires_after
    )


def test_recover_l1_signer_directly() -> None:
    body = l1_body(MASTER, ORDER, vault=SUB, expires_after=NOW + 1)
    got = recover_l1_signer(
        body["action"],
        body["signature"],
        nonce=NOW,
        vault_address=SUB,
        expires_after=NOW + 1,
        chain="Testnet",
    )
    assert got == addr(MASTER)
    assert (
        got
        == sdk.recover_agent_or_user_from_l1_action(
            ORDER, body["signature"], SUB, NOW, NOW + 1, False
        ).lower()
    )


def test_mainnet_server_accepts_mainnet_signatures() -> None:
    assert verify(l1_body(MASTER, ORDER, is_mainnet=True), chain="Mainnet").signer == addr(MASTER)
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action, is_mainnet=True)
    assert verify(body, chain="Mainnet").signer == addr(MASTER)


def test_any_signature_chain_id_is_accepted() -> None:
    """signatureChainId is the wallet's chain (Arbitrum 0xa4b1 here); hyperliquidChain binds the network."""
    action = {
        "type": "usdSend",
        "signatureChainId": "0xa4b1",
        "hyperliquidChain": "Testnet",
        "destination": DEST,
        "amount": "1",
        "time": NOW,
    }
    payload = sdk.user_signed_payload("HyperliquidTransaction:UsdSend", sdk.USD_SEND_SIGN_TYPES, action)
    signature = sdk.sign_inner(MASTER, payload)
    body = wire({"action": action, "nonce": NOW, "signature": signature})
    assert verify(body).signer == addr(MASTER)


# --- the SDK's Exchange client, end to end ------------------------------------------------------------

META = {"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "ETH", "szDecimals": 4}]}
SPOT_META = {
    "tokens": [
        {"name": "USDC", "szDecimals": 8, "index": 0},
        {"name": "HYPE", "szDecimals": 2, "index": 150},
    ],
    "universe": [{"name": "@107", "tokens": [150, 0], "index": 107}],
}


class CapturingExchange(Exchange):  # type: ignore[misc]  # untyped SDK base class
    """The SDK's client with its HTTP post replaced by a recorder (no network)."""

    def __init__(self, wallet: LocalAccount, vault_address: str | None = None) -> None:
        super().__init__(wallet, LOCAL_URL, meta=META, spot_meta=SPOT_META, vault_address=vault_address)
        self.sent: list[dict[str, Any]] = []

    def post(self, url_path: str, payload: Any = None) -> Any:
        assert url_path == "/exchange"
        self.sent.append(wire(payload))
        return {"status": "ok", "response": {"type": "default"}}


def sdk_body(
    wallet: LocalAccount, call: Callable[[CapturingExchange], Any], vault: str | None = None
) -> dict[str, Any]:
    exchange = CapturingExchange(wallet, vault)
    call(exchange)
    (body,) = exchange.sent
    return body


SDK_CALLS: dict[str, Callable[[CapturingExchange], Any]] = {
    "order": lambda e: e.order("BTC", True, 0.01, 100_000.0, {"limit": {"tif": "Gtc"}}),
    "order_cloid_builder": lambda e: e.order(
        "ETH",
        False,
        1.5,
        4000.0,
        {"limit": {"tif": "Alo"}},
        cloid=Cloid.from_int(1),
        builder={"b": DEST, "f": 5},
    ),
    "spot_order": lambda e: e.order("@107", True, 2.0, 40.5, {"limit": {"tif": "Ioc"}}),
    "market_open": lambda e: e.market_open("BTC", True, 0.01, px=100_000.0),
    "modify": lambda e: e.modify_order(9, "BTC", True, 0.02, 99_000.0, {"limit": {"tif": "Gtc"}}),
    "cancel": lambda e: e.cancel("BTC", 9),
    "cancel_by_cloid": lambda e: e.cancel_by_cloid("BTC", Cloid.from_int(1)),
    "schedule_cancel": lambda e: e.schedule_cancel(None),
    "update_leverage": lambda e: e.update_leverage(10, "ETH", is_cross=False),
    "update_isolated_margin": lambda e: e.update_isolated_margin(12.5, "ETH"),
    "agent_set_abstraction": lambda e: e.agent_set_abstraction("p"),
    "agent_enable_dex_abstraction": lambda e: e.agent_enable_dex_abstraction(),
    "create_sub_account": lambda e: e.create_sub_account("alpha"),
    "sub_account_transfer": lambda e: e.sub_account_transfer(SUB, True, 1_000_000),
    "sub_account_spot_transfer": lambda e: e.sub_account_spot_transfer(SUB, True, "USDC", 1.0),
    "vault_usd_transfer": lambda e: e.vault_usd_transfer(SUB, True, 5_000_000),
    "set_referrer": lambda e: e.set_referrer("ABC"),
    "use_big_blocks": lambda e: e.use_big_blocks(True),
    "noop": lambda e: e.noop(sdk.get_timestamp_ms()),
    "usd_transfer": lambda e: e.usd_transfer(1.5, DEST),
    "spot_transfer": lambda e: e.spot_transfer(2.0, DEST, "USDC:0x6d1e7cde53ba9467b783cb7c530ce054"),
    "withdraw_from_bridge": lambda e: e.withdraw_from_bridge(10.0, DEST),
    "usd_class_transfer": lambda e: e.usd_class_transfer(3.0, True),
    "send_asset": lambda e: e.send_asset(DEST, "", "spot", "USDC", 1.0),
    "approve_agent_unnamed": lambda e: e.approve_agent(),
    "approve_agent_named": lambda e: e.approve_agent("bot"),
    "approve_builder_fee": lambda e: e.approve_builder_fee(DEST, "0.01%"),
    "token_delegate": lambda e: e.token_delegate(DEST, 100, False),
    "convert_to_multi_sig_user": lambda e: e.convert_to_multi_sig_user([DEST], 1),
    "user_dex_abstraction": lambda e: e.user_dex_abstraction(MASTER.address, True),
    "user_set_abstraction": lambda e: e.user_set_abstraction(MASTER.address, "unifiedAccount"),
}


@pytest.mark.parametrize("name", sorted(SDK_CALLS))
def test_sdk_exchange_bodies_verify(name: str) -> None:
    body = sdk_body(MASTER, SDK_CALLS[name])
    result = verify(body, now=body["nonce"], users={addr(MASTER)})
    assert (result.signer, result.user, result.vault_address) == (addr(MASTER), addr(MASTER), None)


def test_sdk_approve_agent_without_name_drops_the_signed_empty_name() -> None:
    body = sdk_body(MASTER, SDK_CALLS["approve_agent_unnamed"])
    assert "agentName" not in body["action"]
    assert verify(body, now=body["nonce"]).signer == addr(MASTER)


VAULT_EXPECTED = {
    "order": SUB,  # L1, signed with vaultAddress
    "cancel": SUB,
    "update_leverage": SUB,
    "agent_set_abstraction": SUB,
    "sub_account_transfer": None,  # the SDK signs these with no vault: the posted vaultAddress is ignored
    "create_sub_account": None,
    "vault_usd_transfer": None,
    "usd_transfer": None,  # user-signed: vaultAddress is not signed, ignored
    "approve_agent_named": None,
    "usd_class_transfer": SUB,  # signed as "3.0 subaccount:0x..."
    "send_asset": SUB,  # signed as fromSubAccount
}


@pytest.mark.parametrize("name", sorted(VAULT_EXPECTED))
def test_sdk_exchange_with_vault_address(name: str) -> None:
    body = sdk_body(MASTER, SDK_CALLS[name], vault=SUB)
    result = verify(body, now=body["nonce"], vaults={SUB: addr(MASTER)})
    assert result.signer == addr(MASTER)
    assert result.user == addr(MASTER)
    assert result.vault_address == VAULT_EXPECTED[name]
    assert result.account == (VAULT_EXPECTED[name] or addr(MASTER))


def test_sdk_expires_after_on_l1_and_rejected_on_user_signed() -> None:
    exchange = CapturingExchange(MASTER)
    now = sdk.get_timestamp_ms()
    exchange.set_expires_after(now + 60_000)
    exchange.order("BTC", True, 0.01, 100_000.0, {"limit": {"tif": "Gtc"}})
    exchange.usd_transfer(1.0, DEST)
    order_body, transfer_body = exchange.sent
    assert verify(order_body, now=order_body["nonce"]).signer == addr(MASTER)
    with pytest.raises(ActionExpired):
        verify(order_body, now=now + 60_001)
    with pytest.raises(MalformedRequest) as err:
        verify(transfer_body, now=transfer_body["nonce"])
    assert err.value.field == "expiresAfter"


def test_agent_flow_through_the_sdk() -> None:
    """Master approves an API wallet with the SDK; its orders recover the agent and act for the master."""
    master_ex = CapturingExchange(MASTER)
    _, agent_key = master_ex.approve_agent("mm")
    approve = master_ex.sent[0]
    approval = verify(approve, now=approve["nonce"], users={addr(MASTER)})
    agent_wallet: LocalAccount = Account.from_key(agent_key)
    assert approval.action["agentAddress"].lower() == addr(agent_wallet)

    agents = {approval.action["agentAddress"].lower(): (approval.user, None)}
    body = sdk_body(agent_wallet, SDK_CALLS["order"])
    result = verify(body, now=body["nonce"], agents=agents, users={addr(MASTER)})
    assert result.signer == addr(agent_wallet)
    assert result.user == addr(MASTER)
    assert result.is_agent
    # ... and for a sub-account of the master
    body = sdk_body(agent_wallet, SDK_CALLS["order"], vault=SUB)
    result = verify(body, now=body["nonce"], agents=agents, vaults={SUB: addr(MASTER)})
    assert (result.user, result.vault_address, result.account) == (addr(MASTER), SUB, SUB)


# --- rejections ---------------------------------------------------------------------------------------


def test_tampered_l1_action_recovers_someone_else() -> None:
    body = l1_body(MASTER, ORDER)
    body["action"]["orders"][0]["p"] = "1"
    assert verify(body).signer != addr(MASTER)
    with pytest.raises(AgentRejected, match="does not exist"):
        verify(body, users={addr(MASTER)})


@pytest.mark.parametrize(
    ("key", "value"), [("nonce", NOW + 1), ("vaultAddress", SUB), ("expiresAfter", NOW + 10)]
)
def test_tampered_l1_envelope_recovers_someone_else(key: str, value: Any) -> None:
    body = l1_body(MASTER, ORDER)
    body[key] = value
    assert verify(body).signer != addr(MASTER)


def test_reordered_l1_action_keys_change_the_hash() -> None:
    body = l1_body(MASTER, ORDER)
    body["action"] = {"grouping": "na", "orders": ORDER["orders"], "type": "order"}
    assert verify(body).signer != addr(MASTER)


def test_tampered_user_signed_action_recovers_someone_else() -> None:
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    body["action"]["amount"] = "1000000"
    assert verify(body).signer != addr(MASTER)
    with pytest.raises(AgentRejected):
        verify(body, users={addr(MASTER)})


def test_user_signed_nonce_must_match_the_signed_one() -> None:
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    body["nonce"] = NOW + 1
    with pytest.raises(MalformedRequest) as err:
        verify(body)
    assert err.value.field == "nonce"


def test_unsigned_field_in_user_signed_action_is_rejected() -> None:
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    body["action"]["fromSubAccount"] = SUB
    with pytest.raises(MalformedRequest) as err:
        verify(body)
    assert err.value.field == "action.fromSubAccount"


def test_wrong_chain_user_signed() -> None:
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action, is_mainnet=True)
    with pytest.raises(WrongChain) as err:
        verify(body)
    assert err.value.field == "action.hyperliquidChain"
    body["action"]["hyperliquidChain"] = "Testnet"  # relabelled: the signature no longer matches
    assert verify(body).signer != addr(MASTER)
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    with pytest.raises(WrongChain):
        verify(body, chain="Mainnet")


def test_wrong_chain_l1_is_diagnosed_for_known_signers() -> None:
    body = l1_body(MASTER, ORDER, is_mainnet=True)
    assert verify(body).signer != addr(MASTER)  # without a user list it is just someone else
    with pytest.raises(WrongChain, match="signed for Mainnet"):
        verify(body, users={addr(MASTER)})
    agent_body = l1_body(AGENT, ORDER, is_mainnet=True)
    with pytest.raises(WrongChain):
        verify(agent_body, users=set(), agents={addr(AGENT): (addr(MASTER), None)})
    with pytest.raises(WrongChain, match="signed for Testnet"):
        verify(l1_body(MASTER, ORDER), users={addr(MASTER)}, chain="Mainnet")


def test_replayed_nonce_is_rejected_after_commit() -> None:
    store = NonceStore()
    body = l1_body(MASTER, ORDER)
    result = verify(body, store=store)
    verify(body, store=store)  # verification alone records nothing
    store.commit(result.signer, result.nonce)
    with pytest.raises(NonceRejected, match="already used") as err:
        verify(body, store=store)
    assert err.value.field == "nonce"
    assert isinstance(err.value, NonceError) and isinstance(err.value, NetclearError)
    # the same nonce from another signer is fine: nonces are tracked per signer
    verify(l1_body(OTHER, ORDER), store=store)


def test_replayed_user_signed_nonce_is_rejected() -> None:
    store = NonceStore()
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    result = verify(body, store=store)
    store.commit(result.signer, result.nonce)
    with pytest.raises(NonceRejected):
        verify(body, store=store)
    with pytest.raises(NonceRejected):  # shared with L1 actions of the same signer
        verify(l1_body(MASTER, ORDER), store=store)


@pytest.mark.parametrize(
    ("nonce", "ok"),
    [
        (NOW - 2 * DAY_MS, False),
        (NOW - 2 * DAY_MS + 1, True),
        (NOW + DAY_MS - 1, True),
        (NOW + DAY_MS, False),
        (1, False),
    ],
)
def test_nonce_time_window(nonce: int, ok: bool) -> None:
    body = l1_body(MASTER, ORDER, nonce=nonce)
    if ok:
        assert verify(body).nonce == nonce
    else:
        with pytest.raises(NonceRejected, match="outside the window"):
            verify(body)


def test_stale_nonce_below_the_kept_set_is_rejected() -> None:
    store = NonceStore()
    for i in range(100):
        store.commit(addr(MASTER), NOW - 1000 + i * 10)
    with pytest.raises(NonceRejected, match="not larger than the smallest"):
        verify(l1_body(MASTER, ORDER, nonce=NOW - 1001), store=store)
    assert verify(l1_body(MASTER, ORDER, nonce=NOW - 995), store=store).nonce == NOW - 995  # unused gap


@pytest.mark.parametrize(("expires_after", "ok"), [(NOW - 1, False), (NOW, True), (NOW + 1, True)])
def test_expires_after(expires_after: int, ok: bool) -> None:
    body = l1_body(MASTER, ORDER, expires_after=expires_after)
    if ok:
        assert verify(body).signer == addr(MASTER)
    else:
        with pytest.raises(ActionExpired) as err:
            verify(body)
        assert err.value.field == "expiresAfter"


def test_unapproved_agent_is_rejected() -> None:
    body = l1_body(AGENT, ORDER)
    with pytest.raises(AgentRejected, match=r"User or API Wallet 0x[0-9a-f]+ does not exist"):
        verify(body, users={addr(MASTER)})
    # without a user list the unknown signer is simply its own (empty) account
    assert verify(body).user == addr(AGENT)


def test_expired_agent_is_rejected() -> None:
    body = l1_body(AGENT, ORDER)
    with pytest.raises(AgentRejected, match="expired"):
        verify(body, agents={addr(AGENT): (addr(MASTER), NOW - 1)})
    assert verify(body, agents={addr(AGENT): (addr(MASTER), NOW)}).user == addr(MASTER)


def test_agent_signed_order_maps_to_master() -> None:
    result = verify(l1_body(AGENT, ORDER), agents={addr(AGENT): (MASTER.address, None)}, users={addr(MASTER)})
    assert result.signer == addr(AGENT)
    assert result.user == addr(MASTER)
    assert result.vault_address is None
    assert result.is_agent


def test_agent_nonces_are_its_own() -> None:
    store = NonceStore()
    store.commit(addr(MASTER), NOW)
    agents = {addr(AGENT): (addr(MASTER), None)}
    assert verify(l1_body(AGENT, ORDER), store=store, agents=agents).signer == addr(AGENT)


def test_agent_for_another_user_is_rejected() -> None:
    agents = {addr(AGENT): (addr(MASTER), None)}
    vaults = {SUB: addr(MASTER), FOREIGN_SUB: addr(OTHER)}
    body = l1_body(AGENT, ORDER, vault=FOREIGN_SUB)
    with pytest.raises(VaultRejected) as err:
        verify(body, agents=agents, vaults=vaults)
    assert err.value.field == "vaultAddress"
    # without the vault map the engine gets the claim to check; the user is still the agent's master
    result = verify(body, agents=agents)
    assert (result.user, result.vault_address) == (addr(MASTER), FOREIGN_SUB)
    assert verify(l1_body(AGENT, ORDER, vault=SUB), agents=agents, vaults=vaults).account == SUB


def test_vault_address_of_another_user_is_rejected() -> None:
    vaults = {SUB: addr(MASTER)}
    with pytest.raises(VaultRejected):
        verify(l1_body(OTHER, ORDER, vault=SUB), vaults=vaults)
    with pytest.raises(VaultRejected):  # unknown vault
        verify(l1_body(MASTER, ORDER, vault=FOREIGN_SUB), vaults=vaults)
    result = verify(l1_body(MASTER, ORDER, vault=SUB), vaults=vaults)
    assert (result.user, result.vault_address) == (addr(MASTER), SUB)
    assert verify(l1_body(MASTER, ORDER, vault=addr(MASTER)), vaults=vaults).vault_address is None


def test_user_set_abstraction_for_a_sub_account() -> None:
    action = {"type": "userSetAbstraction", "user": SUB, "abstraction": "portfolioMargin", "nonce": NOW}
    body = user_body(MASTER, action, sdk.sign_user_set_abstraction_action)
    assert verify(body, vaults={SUB: addr(MASTER)}).account == SUB
    with pytest.raises(VaultRejected):
        verify(user_body(OTHER, action, sdk.sign_user_set_abstraction_action), vaults={SUB: addr(MASTER)})


def test_agent_cannot_sign_user_signed_actions() -> None:
    body = user_body(AGENT, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    with pytest.raises(AgentRejected, match="cannot sign usdSend"):
        verify(body, agents={addr(AGENT): (addr(MASTER), None)})


@pytest.mark.parametrize(
    ("action_type", "message"),
    [("bogus", "unknown action type 'bogus'"), ("multiSig", "multi-sig"), ("spotDeploy", "not supported")],
)
def test_unknown_and_unsupported_action_types(action_type: str, message: str) -> None:
    body = l1_body(MASTER, {"type": action_type})
    with pytest.raises(UnsupportedAction, match=message) as err:
        verify(body)
    assert err.value.field == "action.type"


def _off_curve_r() -> str:
    x = 1
    while pow(x**3 + 7, (SECP256K1_P - 1) // 2, SECP256K1_P) == 1:
        x += 1
    return hex(x)


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], type[AuthError], str]] = [
    ("no signature", lambda b: b.pop("signature"), BadSignature, "signature"),
    ("signature not object", lambda b: b.update(signature="0xdead"), BadSignature, "signature"),
    ("r not hex", lambda b: b["signature"].update(r="12ab"), BadSignature, "signature.r"),
    ("r too long", lambda b: b["signature"].update(r="0x" + "1" * 65), BadSignature, "signature.r"),
    ("s zero", lambda b: b["signature"].update(s="0x0"), BadSignature, "signature.s"),
    ("s >= n", lambda b: b["signature"].update(s="0x" + "f" * 64), BadSignature, "signature.s"),
    ("v 29", lambda b: b["signature"].update(v=29), BadSignature, "signature.v"),
    ("v string", lambda b: b["signature"].update(v="27"), BadSignature, "signature.v"),
    ("r off curve", lambda b: b["signature"].update(r=_off_curve_r()), BadSignature, "signature"),
    ("no nonce", lambda b: b.pop("nonce"), MalformedRequest, "nonce"),
    ("nonce float", lambda b: b.update(nonce=float(NOW)), MalformedRequest, "nonce"),
    ("nonce bool", lambda b: b.update(nonce=True), MalformedRequest, "nonce"),
    ("nonce negative", lambda b: b.update(nonce=-1), MalformedRequest, "nonce"),
    ("no action", lambda b: b.pop("action"), MalformedRequest, "action"),
    ("action list", lambda b: b.update(action=[1]), MalformedRequest, "action"),
    ("no type", lambda b: b["action"].pop("type"), MalformedRequest, "action.type"),
    ("missing key", lambda b: b["action"].pop("grouping"), MalformedRequest, "action.grouping"),
    ("vault malformed", lambda b: b.update(vaultAddress="0x1234"), MalformedRequest, "vaultAddress"),
    ("expires string", lambda b: b.update(expiresAfter="soon"), MalformedRequest, "expiresAfter"),
    ("huge int", lambda b: b["action"]["orders"][0].update(a=2**64), MalformedRequest, "action"),
]


@pytest.mark.parametrize(("case", "mutate", "error", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_l1_requests(
    case: str, mutate: Callable[[dict[str, Any]], None], error: type[AuthError], field: str
) -> None:
    body = l1_body(MASTER, ORDER)
    mutate(body)
    with pytest.raises(error) as err:
        verify(body)
    assert err.value.field == field


USER_MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("missing field", lambda a: a.pop("destination"), "action.destination"),
    ("wrong type", lambda a: a.update(amount=1.5), "action.amount"),
    ("chain missing", lambda a: a.pop("hyperliquidChain"), "action.hyperliquidChain"),
    ("chain bogus", lambda a: a.update(hyperliquidChain="Devnet"), "action.hyperliquidChain"),
    ("chain id missing", lambda a: a.pop("signatureChainId"), "action.signatureChainId"),
    ("chain id decimal", lambda a: a.update(signatureChainId="421614"), "action.signatureChainId"),
    ("time negative", lambda a: a.update(time=-1), "action.time"),
]


@pytest.mark.parametrize(("case", "mutate", "field"), USER_MALFORMED, ids=[m[0] for m in USER_MALFORMED])
def test_malformed_user_signed_requests(
    case: str, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    body = user_body(MASTER, USER_SIGNED[0][0], sdk.sign_usd_transfer_action)
    mutate(body["action"])
    with pytest.raises(MalformedRequest) as err:
        verify(body)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "approveAgent", "agentAddress": "0x12", "nonce": NOW}, "action.agentAddress"),
        ({"type": "usdClassTransfer", "amount": "1", "toPerp": "yes", "nonce": NOW}, "action.toPerp"),
        (
            {"type": "usdClassTransfer", "amount": "1 subaccount:0xzz", "toPerp": True, "nonce": NOW},
            "action.amount",
        ),
        (
            {"type": "tokenDelegate", "validator": DEST, "wei": True, "isUndelegate": False, "nonce": NOW},
            "action.wei",
        ),
    ],
)
def test_malformed_user_signed_field_types(action: dict[str, Any], field: str) -> None:
    body = wire(
        {
            "action": {**action, "signatureChainId": "0x66eee", "hyperliquidChain": "Testnet"},
            "nonce": NOW,
            "signature": l1_body(MASTER, ORDER)["signature"],
        }
    )
    with pytest.raises(MalformedRequest) as err:
        verify(body)
    assert err.value.field == field


def test_body_must_be_an_object_and_chain_must_be_known() -> None:
    with pytest.raises(MalformedRequest):
        verify([])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verify(l1_body(MASTER, ORDER), chain="testnet")


def test_rejections_record_nothing() -> None:
    store = NonceStore()
    store.commit(addr(MASTER), NOW - 5)
    before = store.to_dict()
    for body in (l1_body(MASTER, ORDER, expires_after=NOW - 1), l1_body(MASTER, ORDER, nonce=NOW - 5)):
        with pytest.raises(AuthError):
            verify(body, store=store)
    verify(l1_body(MASTER, ORDER), store=store)
    assert store.to_dict() == before


# --- NonceStore ---------------------------------------------------------------------------------------


def test_nonce_store_keeps_the_highest_capacity_nonces() -> None:
    store = NonceStore(capacity=3)
    for n in (NOW + 5, NOW + 1, NOW + 3):
        store.check("0xA", n, NOW)
        store.commit("0xA", n)
    assert store.used("0xa") == (NOW + 1, NOW + 3, NOW + 5)
    store.check("0xa", NOW + 2, NOW)  # above the smallest, unused: fine
    with pytest.raises(NonceError, match="not larger than the smallest"):
        store.check("0xa", NOW, NOW)
    with pytest.raises(NonceError, match="already used"):
        store.check("0xa", NOW + 3, NOW)
    store.use("0xa", NOW + 2, NOW)
    assert store.used("0xa") == (NOW + 2, NOW + 3, NOW + 5)
    with pytest.raises(NonceError):
        store.commit("0xa", NOW + 1)  # evicted, now below the smallest
    with pytest.raises(NonceError):
        store.commit("0xa", NOW + 5)
    assert store.used("0xa") == (NOW + 2, NOW + 3, NOW + 5)


def test_nonce_store_not_full_accepts_any_unused_nonce_in_window() -> None:
    store = NonceStore()
    store.use("0xa", NOW + 100, NOW)
    store.use("0xa", NOW - 100, NOW)  # lower than the max is fine while the set is not full
    assert store.used("0xa") == (NOW - 100, NOW + 100)


def test_nonce_store_snapshot_round_trip() -> None:
    store = NonceStore(capacity=5)
    for signer in ("0xbb", "0xAA"):
        for n in (NOW + 2, NOW, NOW + 1):
            store.commit(signer, n)
    data = store.to_dict()
    assert list(data["used"]) == ["0xaa", "0xbb"]
    assert data["used"]["0xaa"] == [NOW, NOW + 1, NOW + 2]
    restored = NonceStore.from_dict(json.loads(json.dumps(data)))
    assert restored == store
    assert restored.to_dict() == data
    store.forget("0xaa")
    assert store.used("0xaa") == ()
    assert restored != store
    with pytest.raises(ValueError):
        NonceStore.from_dict({**data, "used": {"0xaa": [NOW + 1, NOW]}})
    with pytest.raises(ValueError):
        NonceStore(capacity=0)


def test_nonce_store_rejects_non_integer_nonces() -> None:
    store = NonceStore()
    for bad in (True, -1, 2**64, 1.0):
        with pytest.raises(NonceError):
            store.check("0xa", bad, NOW)  # type: ignore[arg-type]
