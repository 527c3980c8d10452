"""Authentication of ``POST /exchange`` requests: Hyperliquid's two EIP-712 signing schemes.

A request body is ``{"action", "nonce", "signature": {"r", "s", "v"}, "vaultAddress"?, "expiresAfter"?}``.
:func:`verify_request` recovers the signer, checks chain, expiry and nonce, and resolves the acting user
(the signer, or the master of an approved API wallet). It records nothing: the engine commits the nonce
with :meth:`NonceStore.commit` when it applies the action.

**L1 actions** (orders, cancels, leverage, ``agentSetAbstraction``, ``borrowLend``, ...): the signed
message is the phantom agent ``Agent{source, connectionId}`` in domain ``Exchange``/``1``/chainId 1337/
verifying contract 0, with ``source`` ``"a"`` on Mainnet and ``"b"`` on Testnet and
``connectionId = keccak(msgpack(action) ‖ nonce:u64be ‖ (0x00 | 0x01 ‖ vault:20)
‖ [0x00 ‖ expiresAfter:u64be])``.

**User-signed actions** (transfers, withdrawals, ``approveAgent``, ``userSetAbstraction``, ...): the
action's own fields are the message, primary type ``HyperliquidTransaction:<Name>``, domain
``HyperliquidSignTransaction``/``1``/``int(signatureChainId, 16)``/verifying contract 0; the field
``hyperliquidChain`` (``"Mainnet"``/``"Testnet"``) binds it to a chain.

Field lists mirror ``hyperliquid-python-sdk`` 0.24.0 ``hyperliquid/utils/signing.py`` and ``exchange.py``.
The action must be the JSON object exactly as received (key order preserved, as ``json.loads`` does):
msgpack hashes keys in order. See ``docs/api-auth.md``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Literal

import coincurve
import msgpack  # type: ignore[import-untyped]  # msgpack ships no type information
from eth_utils.crypto import keccak

from netclear.errors import NetclearError
from netclear.ledger.nonces import MAX_UINT64, NonceError, NonceStore

__all__ = [
    "ACTIONS",
    "DEFAULT_CHAIN",
    "UNSUPPORTED_ACTIONS",
    "ActionExpired",
    "ActionSpec",
    "AgentRejected",
    "AuthError",
    "AuthResult",
    "BadSignature",
    "Chain",
    "MalformedRequest",
    "NonceRejected",
    "Scheme",
    "UnsupportedAction",
    "VaultRejected",
    "WrongChain",
    "l1_action_hash",
    "recover_l1_signer",
    "recover_user_signed_signer",
    "verify_request",
]

Chain = Literal["Mainnet", "Testnet"]
DEFAULT_CHAIN: Final[Chain] = "Testnet"
"""The SDK signs as testnet for every base URL but its mainnet one, so a local server defaults to it."""
L1_SOURCE: Final[Mapping[str, str]] = {"Mainnet": "a", "Testnet": "b"}
_OTHER_CHAIN: Final[Mapping[str, Chain]] = {"Mainnet": "Testnet", "Testnet": "Mainnet"}

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX_RE: Final = re.compile(r"0x[0-9a-fA-F]{1,64}")


# --- errors -------------------------------------------------------------------------------------------


class AuthError(NetclearError):
    """A request failed authentication; ``field`` names the body path at fault (``action.amount``)."""

    code = "auth"


class MalformedRequest(AuthError):
    """Missing, mistyped or unsigned field."""

    code = "auth_malformed"


class UnsupportedAction(MalformedRequest):
    """Unknown ``action.type``, or one this server knows but does not accept (``multiSig``)."""

    code = "auth_unsupported"


class BadSignature(AuthError):
    """The signature is malformed or recovers no public key."""

    code = "auth_signature"


class WrongChain(AuthError):
    """Signed for the other chain (``hyperliquidChain``, or the L1 phantom agent ``source``)."""

    code = "auth_chain"


class NonceRejected(AuthError, NonceError):
    """Nonce outside the time window, reused, or not above the signer's kept set."""

    code = "auth_nonce"


class ActionExpired(AuthError):
    """``expiresAfter`` is in the past."""

    code = "auth_expired"


class AgentRejected(AuthError):
    """Signer is neither a known user nor an approved API wallet, its approval expired, or an API wallet
    signed a user-signed action."""

    code = "auth_agent"


class VaultRejected(AuthError):
    """The action acts for a vault or sub-account the user does not control."""

    code = "auth_vault"


# --- the action table ---------------------------------------------------------------------------------


class Scheme(StrEnum):
    """Which of the two signing schemes an action uses."""

    L1 = "l1"
    USER_SIGNED = "userSigned"


FieldType = Literal["string", "address", "uint64", "bool"]
VaultSource = Literal["body", "none", "amount", "fromSubAccount", "user"]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """How one action type is signed.

    L1: ``required`` keys must be present; ``vault`` is ``"body"`` when the body's ``vaultAddress`` is
    hashed and honoured, ``"none"`` when the SDK signs it with no vault (the body's is then ignored).
    User-signed: ``primary_type`` and ``fields`` (name, EIP-712 type; ``hyperliquidChain`` first, as the
    SDK lists them), ``nonce_field`` (``"nonce"`` or ``"time"``) that must equal the body's nonce,
    ``defaults`` for fields the SDK signs but may omit on the wire, and ``vault``: where a signed
    sub-account comes from (``amount`` suffix, ``fromSubAccount``, or ``user``).
    """

    type: str
    scheme: Scheme
    required: tuple[str, ...] = ()
    vault: VaultSource = "none"
    primary_type: str | None = None
    fields: tuple[tuple[str, FieldType], ...] = ()
    nonce_field: str | None = None
    defaults: tuple[tuple[str, Any], ...] = ()
    type_hash: bytes = field(default=b"", repr=False)

    @property
    def type_string(self) -> str:
        """EIP-712 ``encodeType`` of a user-signed action, e.g. ``HyperliquidTransaction:UsdSend(...)``."""
        return f"{self.primary_type}({','.join(f'{t} {n}' for n, t in self.fields)})"


def _l1(type_: str, *required: str, vault: VaultSource = "body") -> ActionSpec:
    return ActionSpec(type=type_, scheme=Scheme.L1, required=required, vault=vault)


def _user(
    type_: str,
    name: str,
    fields: tuple[tuple[str, FieldType], ...],
    *,
    nonce_field: str = "nonce",
    vault: VaultSource = "none",
    defaults: tuple[tuple[str, Any], ...] = (),
) -> ActionSpec:
    spec = ActionSpec(
        type=type_,
        scheme=Scheme.USER_SIGNED,
        vault=vault,
        primary_type=f"HyperliquidTransaction:{name}",
        fields=(("hyperliquidChain", "string"), *fields),
        nonce_field=nonce_field,
        defaults=defaults,
    )
    return replace(spec, type_hash=keccak(text=spec.type_string))


_SPECS: tuple[ActionSpec, ...] = (
    # L1, signed with the Exchange's vault_address (SDK) -> body vaultAddress is part of the hash.
    _l1("order", "orders", "grouping"),
    _l1("cancel", "cancels"),
    _l1("cancelByCloid", "cancels"),
    _l1("modify", "oid", "order"),
    _l1("batchModify", "modifies"),
    _l1("scheduleCancel"),
    _l1("updateLeverage", "asset", "isCross", "leverage"),
    _l1("updateIsolatedMargin", "asset", "isBuy", "ntli"),
    _l1("twapOrder", "twap"),
    _l1("twapCancel", "a", "t"),
    _l1("agentSetAbstraction", "abstraction"),
    _l1("agentEnableDexAbstraction"),
    _l1("borrowLend", "operation", "token", "amount"),
    _l1("noop"),
    # L1, signed by the SDK with vault None whatever the Exchange's vault_address -> body's ignored.
    _l1("createSubAccount", "name", vault="none"),
    _l1("subAccountTransfer", "subAccountUser", "isDeposit", "usd", vault="none"),
    _l1("subAccountSpotTransfer", "subAccountUser", "isDeposit", "token", "amount", vault="none"),
    _l1("vaultTransfer", "vaultAddress", "isDeposit", "usd", vault="none"),
    _l1("setReferrer", "code", vault="none"),
    _l1("evmUserModify", "usingBigBlocks", vault="none"),
    # User-signed (EIP-712 over the action's fields).
    _user(
        "usdSend",
        "UsdSend",
        (("destination", "string"), ("amount", "string"), ("time", "uint64")),
        nonce_field="time",
    ),
    _user(
        "spotSend",
        "SpotSend",
        (("destination", "string"), ("token", "string"), ("amount", "string"), ("time", "uint64")),
        nonce_field="time",
    ),
    _user(
        "withdraw3",
        "Withdraw",
        (("destination", "string"), ("amount", "string"), ("time", "uint64")),
        nonce_field="time",
    ),
    _user(
        "usdClassTransfer",
        "UsdClassTransfer",
        (("amount", "string"), ("toPerp", "bool"), ("nonce", "uint64")),
        vault="amount",
    ),
    _user(
        "sendAsset",
        "SendAsset",
        (
            ("destination", "string"),
            ("sourceDex", "string"),
            ("destinationDex", "string"),
            ("token", "string"),
            ("amount", "string"),
            ("fromSubAccount", "string"),
            ("nonce", "uint64"),
        ),
        vault="fromSubAccount",
    ),
    _user(
        "approveAgent",
        "ApproveAgent",
        (("agentAddress", "address"), ("agentName", "string"), ("nonce", "uint64")),
        defaults=(("agentName", ""),),  # the SDK signs "" and drops the key when no name is given
    ),
    _user(
        "approveBuilderFee",
        "ApproveBuilderFee",
        (("maxFeeRate", "string"), ("builder", "address"), ("nonce", "uint64")),
    ),
    _user(
        "userDexAbstraction",
        "UserDexAbstraction",
        (("user", "address"), ("enabled", "bool"), ("nonce", "uint64")),
        vault="user",
    ),
    _user(
        "userSetAbstraction",
        "UserSetAbstraction",
        (("user", "address"), ("abstraction", "string"), ("nonce", "uint64")),
        vault="user",
    ),
    _user(
        "tokenDelegate",
        "TokenDelegate",
        (("validator", "address"), ("wei", "uint64"), ("isUndelegate", "bool"), ("nonce", "uint64")),
    ),
    _user("convertToMultiSigUser", "ConvertToMultiSigUser", (("signers", "string"), ("nonce", "uint64"))),
)

ACTIONS: Final[Mapping[str, ActionSpec]] = {spec.type: spec for spec in _SPECS}
"""Every action type this server authenticates, by wire ``type``."""

UNSUPPORTED_ACTIONS: Final[Mapping[str, str]] = {
    "multiSig": "multi-sig actions are not supported (inner signatures need the multi-sig user's signer set)",
    "spotDeploy": "HIP-1/HIP-2 deployment is not supported by this server",
    "perpDeploy": "HIP-3 deployment is not supported by this server",
    "CSignerAction": "validator actions are not supported by this server",
    "CValidatorAction": "validator actions are not supported by this server",
    "gossipPriorityBid": "validator gossip bids are not supported by this server",
}
"""Action types the SDK can send that are rejected by design, with the reason given."""


# --- result -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthResult:
    """An authenticated request.

    ``signer``: address that signed (lower-case); ``user``: the account owner it acts as (the signer, or
    the master of the API wallet); ``vault_address``: the vault or sub-account it acts for, taken only
    from signed data (``None`` when acting for ``user`` itself; the engine checks ``user`` controls it
    unless ``vaults`` was given to :func:`verify_request`); ``action``: the verified action as received;
    ``nonce``: to commit to the nonce store under ``signer`` when the action is applied.
    """

    user: str
    signer: str
    action: dict[str, Any]
    nonce: int
    vault_address: str | None

    @property
    def account(self) -> str:
        """The account the action applies to: the vault/sub-account, else the user."""
        return self.vault_address or self.user

    @property
    def is_agent(self) -> bool:
        """True when an API wallet signed for its master."""
        return self.signer != self.user


# --- EIP-712 ------------------------------------------------------------------------------------------

_DOMAIN_TYPE_HASH: Final = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_AGENT_TYPE_HASH: Final = keccak(text="Agent(string source,bytes32 connectionId)")


def _domain_separator(name: str, chain_id: int) -> bytes:
    # verifyingContract is the zero address: 32 zero bytes.
    return keccak(
        _DOMAIN_TYPE_HASH + keccak(text=name) + keccak(text="1") + chain_id.to_bytes(32, "big") + bytes(32)
    )


_L1_DOMAIN: Final = _domain_separator("Exchange", 1337)


@lru_cache(maxsize=64)
def _user_signed_domain(chain_id: int) -> bytes:
    return _domain_separator("HyperliquidSignTransaction", chain_id)


def _recover(domain: bytes, struct_hash: bytes, vrs: tuple[int, int, int]) -> str:
    """EIP-712 signer: ``keccak(0x19 0x01 ‖ domainSeparator ‖ hashStruct)`` recovered with libsecp256k1.

    The digest is EIP-712's (https://eips.ethereum.org/EIPS/eip-712, "Specification"), the same one
    ``eth_account``'s ``recover_message`` builds for a version-``0x01`` message; recovery goes to
    ``coincurve`` directly (``eth_account`` wraps the same library at about 1.5x the cost,
    docs/benchmarks.md). ``v`` is 27 or 28 (``_parse_signature``), the recovery id is ``v - 27``;
    the address is the last 20 bytes of ``keccak`` of the uncompressed public key (Ethereum yellow
    paper, appendix F).
    """
    v, r, s = vrs
    digest = keccak(b"\x19\x01" + domain + struct_hash)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v - 27,))
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except Exception as exc:  # libsecp256k1 refuses an r that is no curve point's x
        raise BadSignature("signature", f"recovers no public key ({exc})") from exc
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def _parse_signature(raw: object) -> tuple[int, int, int]:
    if not isinstance(raw, Mapping):
        raise BadSignature("signature", 'must be an object {"r", "s", "v"}')
    values: list[int] = []
    for part in ("r", "s"):
        text = raw.get(part)
        if not isinstance(text, str) or not _HEX_RE.fullmatch(text):
            raise BadSignature(f"signature.{part}", "must be a 0x-prefixed hex string of at most 32 bytes")
        value = int(text, 16)
        if not 0 < value < _SECP256K1_N:
            raise BadSignature(f"signature.{part}", "must be in [1, n) of secp256k1")
        values.append(value)
    v = raw.get("v")
    if isinstance(v, bool) or not isinstance(v, int) or v not in (0, 1, 27, 28):
        raise BadSignature("signature.v", "must be 27 or 28 (0 or 1 accepted)")
    return (v if v >= 27 else v + 27, values[0], values[1])


# --- L1 actions ---------------------------------------------------------------------------------------


def l1_action_hash(
    action: Mapping[str, Any], vault_address: str | None, nonce: int, expires_after: int | None
) -> bytes:
    """``connectionId``: keccak of msgpack(action), nonce, vault flag/address and optional expiresAfter."""
    try:
        data: bytes = msgpack.packb(action)
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
        raise MalformedRequest("action", f"cannot be msgpack-encoded ({exc})") from exc
    data += nonce.to_bytes(8, "big")
    data += b"\x00" if vault_address is None else b"\x01" + bytes.fromhex(vault_address[2:])
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak(data)


_L1_SOURCE_HASH: Final[Mapping[str, bytes]] = {c: keccak(text=s) for c, s in L1_SOURCE.items()}
"""``keccak(source)`` of each chain's phantom agent, hashed once."""


def _l1_struct_hash(connection_id: bytes, chain: Chain) -> bytes:
    return keccak(_AGENT_TYPE_HASH + _L1_SOURCE_HASH[chain] + connection_id)


def recover_l1_signer(
    action: Mapping[str, Any],
    signature: Mapping[str, Any],
    *,
    nonce: int,
    vault_address: str | None,
    expires_after: int | None,
    chain: Chain,
) -> str:
    """Lower-case address that signed an L1 action for ``chain``; any signature recovers *some* address."""
    vrs = _parse_signature(signature)
    connection_id = l1_action_hash(action, vault_address, nonce, expires_after)
    return _recover(_L1_DOMAIN, _l1_struct_hash(connection_id, chain), vrs)


# --- user-signed actions ------------------------------------------------------------------------------


def _encode_field(name: str, kind: FieldType, value: object) -> bytes:
    where = f"action.{name}"
    if kind == "string":
        if not isinstance(value, str):
            raise MalformedRequest(where, "must be a string")
        try:
            return keccak(value.encode("utf-8"))
        except UnicodeError as exc:
            raise MalformedRequest(where, "must be valid UTF-8") from exc
    if kind == "address":
        if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
            raise MalformedRequest(where, "must be a 0x-prefixed 20-byte hex address")
        return bytes(12) + bytes.fromhex(value[2:])
    if kind == "uint64":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
            raise MalformedRequest(where, "must be an unsigned 64-bit integer")
        return value.to_bytes(32, "big")
    if not isinstance(value, bool):  # kind == "bool"
        raise MalformedRequest(where, "must be a boolean")
    return (1 if value else 0).to_bytes(32, "big")


def _user_signed_message(spec: ActionSpec, action: Mapping[str, Any], chain: Chain) -> tuple[bytes, bytes]:
    """Validate a user-signed action and return its (domain separator, struct hash)."""
    signed = {name for name, _ in spec.fields}
    for key in action:
        if key not in signed and key not in ("type", "signatureChainId"):
            raise MalformedRequest(f"action.{key}", "is not covered by the signature of a user-signed action")
    hl_chain = action.get("hyperliquidChain")
    if hl_chain != chain:
        if hl_chain in L1_SOURCE:
            raise WrongChain("action.hyperliquidChain", f"signed for {hl_chain}, this server is {chain}")
        raise MalformedRequest("action.hyperliquidChain", f'must be "{chain}"')
    chain_id_text = action.get("signatureChainId")
    if not isinstance(chain_id_text, str) or not _HEX_RE.fullmatch(chain_id_text):
        raise MalformedRequest(
            "action.signatureChainId", 'must be a 0x-prefixed hex chain id (the SDK sends "0x66eee")'
        )
    defaults = dict(spec.defaults)
    parts = [spec.type_hash]
    for name, kind in spec.fields:
        if name in action:
            value = action[name]
        elif name in defaults:
            value = defaults[name]
        else:
            raise MalformedRequest(f"action.{name}", f"is required by {spec.primary_type}")
        parts.append(_encode_field(name, kind, value))
    return _user_signed_domain(int(chain_id_text, 16)), keccak(b"".join(parts))


def recover_user_signed_signer(
    action: Mapping[str, Any], signature: Mapping[str, Any], *, chain: Chain
) -> str:
    """Lower-case address that signed a user-signed action; checks ``hyperliquidChain`` against ``chain``."""
    spec = _spec(action)
    if spec.scheme is not Scheme.USER_SIGNED:
        raise MalformedRequest("action.type", f"{spec.type} is an L1 action, not user-signed")
    vrs = _parse_signature(signature)
    return _recover(*_user_signed_message(spec, action, chain), vrs)


# --- request ------------------------------------------------------------------------------------------


def _spec(action: object) -> ActionSpec:
    if not isinstance(action, Mapping):
        raise MalformedRequest("action", "must be an object")
    type_ = action.get("type")
    if not isinstance(type_, str):
        raise MalformedRequest("action.type", "must be a string")
    spec = ACTIONS.get(type_)
    if spec is None:
        raise UnsupportedAction(
            "action.type", UNSUPPORTED_ACTIONS.get(type_, f"unknown action type {type_!r}")
        )
    return spec


def _uint64(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
        raise MalformedRequest(where, "must be an unsigned 64-bit integer")
    return value


def _address(where: str, value: object) -> str:
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise MalformedRequest(where, "must be a 0x-prefixed 20-byte hex address")
    return value.lower()


def _signed_vault(spec: ActionSpec, action: Mapping[str, Any]) -> str | None:
    """The sub-account a user-signed action names in its signed fields, if any."""
    if spec.vault == "amount":  # SDK: f"{amount} subaccount:{vault_address}"
        amount = action["amount"]
        _, sep, sub = amount.partition(" subaccount:")
        return _address("action.amount", sub) if sep else None
    if spec.vault == "fromSubAccount":
        sub = action["fromSubAccount"]
        return _address("action.fromSubAccount", sub) if sub else None
    if spec.vault == "user":
        return _address("action.user", action["user"])
    return None


def verify_request(
    body: Mapping[str, Any],
    *,
    chain: Chain,
    now_ms: int,
    nonce_store: NonceStore,
    agents: Mapping[str, tuple[str, int | None]],
    users: Container[str] | None = None,
    vaults: Mapping[str, str] | None = None,
) -> AuthResult:
    """Authenticate one ``/exchange`` body; raise an :class:`AuthError` subclass naming field and rule.

    ``agents``: approved API wallet -> (master user, valid-until ms or ``None``). ``users``: optional set
    of existing accounts; when given, a signer that is neither a user nor an agent is rejected ("User or
    API Wallet does not exist", as Hyperliquid does) and an L1 signature made for the other chain is
    diagnosed as such. ``vaults``: optional vault/sub-account -> controlling user; when given, acting for
    one the user does not control is rejected here instead of in the engine. All addresses lower-case.
    Reads ``nonce_store`` only: commit ``(result.signer, result.nonce)`` when the action is applied.
    """
    if chain not in L1_SOURCE:
        raise ValueError(f"chain must be 'Mainnet' or 'Testnet', not {chain!r}")
    if not isinstance(body, Mapping):
        raise MalformedRequest("body", "must be a JSON object")
    raw_action = body.get("action")
    spec = _spec(raw_action)
    assert isinstance(raw_action, Mapping)  # checked by _spec
    action = raw_action if isinstance(raw_action, dict) else dict(raw_action)
    nonce = _uint64("nonce", body.get("nonce"))
    vrs = _parse_signature(body.get("signature"))
    raw_expires = body.get("expiresAfter")

    if spec.scheme is Scheme.L1:
        for key in spec.required:
            if key not in action:
                raise MalformedRequest(f"action.{key}", f"is required by {spec.type}")
        raw_vault = body.get("vaultAddress")
        vault = (
            _address("vaultAddress", raw_vault) if spec.vault == "body" and raw_vault is not None else None
        )
        expires_after = None if raw_expires is None else _uint64("expiresAfter", raw_expires)
        if expires_after is not None and now_ms > expires_after:
            raise ActionExpired("expiresAfter", f"{expires_after} is in the past (now {now_ms})")
        connection_id = l1_action_hash(action, vault, nonce, expires_after)
        signer = _recover(_L1_DOMAIN, _l1_struct_hash(connection_id, chain), vrs)
    else:
        if raw_expires is not None:
            raise MalformedRequest("expiresAfter", "is not supported on user-signed actions (must be null)")
        domain, struct_hash = _user_signed_message(spec, action, chain)
        assert spec.nonce_field is not None
        if action[spec.nonce_field] != nonce:
            raise MalformedRequest("nonce", f"must equal the signed action.{spec.nonce_field}")
        signer = _recover(domain, struct_hash, vrs)
        vault = _signed_vault(spec, action)  # the body's vaultAddress is not signed here: ignored
        connection_id = b""

    agent = agents.get(signer)
    if agent is not None:
        master, valid_until = agent
        if spec.scheme is Scheme.USER_SIGNED:
            raise AgentRejected(
                "signature", f"API wallet {signer} cannot sign {spec.type}; sign with the account's own key"
            )
        if valid_until is not None and now_ms > valid_until:
            raise AgentRejected(
                "signature", f"API wallet {signer} of {master.lower()} expired at {valid_until}"
            )
        user = master.lower()
    else:
        if users is not None and signer not in users:
            if spec.scheme is Scheme.L1:
                other = _OTHER_CHAIN[chain]
                alt = _recover(_L1_DOMAIN, _l1_struct_hash(connection_id, other), vrs)
                if alt in users or agents.get(alt) is not None:
                    raise WrongChain(
                        "signature",
                        f"L1 action signed for {other} (source {L1_SOURCE[other]!r}), this server is {chain}",
                    )
            raise AgentRejected("signature", f"User or API Wallet {signer} does not exist")
        user = signer

    if vault == user:
        vault = None
    if vault is not None and vaults is not None:
        owner = vaults.get(vault)
        if owner is None or owner.lower() != user:
            raise VaultRejected("vaultAddress", f"{vault} is not a vault or sub-account controlled by {user}")

    try:
        nonce_store.check(signer, nonce, now_ms)
    except NonceError as exc:
        raise NonceRejected(exc.field, exc.rule) from exc

    return AuthResult(user=user, signer=signer, action=action, nonce=nonce, vault_address=vault)
