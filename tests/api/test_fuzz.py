"""Hostile input against ``/info`` and ``/exchange``: never a 5xx, and rejected input changes no state.

A live server (``start_server``) with a fixed clock runs the generated bodies, so a request that wedges
the server fails on a client timeout instead of hanging the suite. Signed bodies are made with the
SDK's own signing from valid templates with random mutations (missing fields, wrong types, huge
numbers, unknown keys), so they get past authentication and reach the translation and the engine.
At the end the log must replay to the live state hash. Bugs found here have minimal reproductions
below (``test_fixed_*``); the generators no longer steer around any of them. They also generate
hostile numbers (huge exponents, other scripts' digits, spaces, underscores) and deeply nested JSON
(issue 10; tests/api/test_hardening.py has one test per defect).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hyperliquid.utils import signing  # type: ignore[import-untyped]
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from tests.api.conftest import copy_of_log

from netclear.api.demo import DemoMarket
from netclear.api.server import create_app
from netclear.ledger.node import Node, open_log, replay

if TYPE_CHECKING:
    from tests.api.conftest import Server

T0 = 1_795_000_000_000  # the servers' fixed clock (2026-11-19)
TIMEOUT = 10
ADDR = "0x" + "3c" * 20
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Target:
    """The fuzzed server, a funded wallet that signs, and fresh nonces."""

    def __init__(self, url: str, db: Path, wallet: LocalAccount) -> None:
        self.url, self.db, self.wallet = url, db, wallet
        self._nonce = itertools.count(T0 - 3_600_000)
        self._lock = threading.Lock()
        self.wedged_by: str | None = None

    def nonce(self) -> int:
        with self._lock:
            return next(self._nonce)

    def health(self) -> dict[str, Any]:
        r = requests.get(f"{self.url}/health", timeout=TIMEOUT)
        assert r.status_code == 200
        return dict(r.json())

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None) -> requests.Response:
        """POST ``body`` as JSON (Python's dialect: ``Infinity`` passes too) or ``raw`` bytes.

        A timeout means the server is wedged: it is reported with the input that did it, and every
        later request fails at once with that input (rather than each waiting for its own timeout).
        """
        if self.wedged_by is not None:
            raise AssertionError(f"the server was wedged earlier by {self.wedged_by}")
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        try:
            return requests.post(f"{self.url}{path}", data=data, headers=headers, timeout=TIMEOUT)
        except requests.Timeout:
            self.wedged_by = f"POST {path} {data[:500]!r}"
            raise AssertionError(f"no answer in {TIMEOUT}s (server wedged?) to {self.wedged_by}") from None

    def signed_l1(self, action: dict[str, Any], vault: str | None = None, expires: int | None = None) -> Any:
        nonce = self.nonce()
        try:
            sig = signing.sign_l1_action(self.wallet, action, vault, nonce, expires, False)
        except (OverflowError, TypeError, ValueError):
            return None  # msgpack cannot encode it: the client cannot even sign it
        return {
            "action": action,
            "nonce": nonce,
            "signature": sig,
            "vaultAddress": vault,
            "expiresAfter": expires,
        }


@pytest.fixture(scope="module")
def target(server_factory: Callable[..., Server]) -> Target:
    srv = server_factory(clock=lambda: T0)
    wallet: LocalAccount = Account.create()
    srv.deposit(wallet.address, 1_000_000)
    return Target(srv.url, srv.db, wallet)


def is_rejection(resp: requests.Response) -> bool:
    """A 4xx or an ``{"status": "err"}`` answer: the action was refused as a whole.

    An ``ok`` order/cancel answer whose statuses are all errors is not one: the engine may still
    account for the action (a unified account's daily action count, for instance).
    """
    if 400 <= resp.status_code < 500:
        return True
    body = resp.json()
    return not isinstance(body, dict) or body.get("status") == "err"


def check(target: Target, resp: requests.Response, before: dict[str, Any]) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    event("rejected" if is_rejection(resp) else "accepted")
    if 400 <= resp.status_code < 500:
        err = resp.json()
        assert isinstance(err, dict)
    if is_rejection(resp):
        after = target.health()
        assert after["stateHash"] == before["stateHash"], resp.text[:500]


# ------------------------------------------------------------------------------------------ strategies
HUGE = st.sampled_from([2**63, 2**64, 2**64 + 1, -(2**63) - 1, 10**30, -(10**30), 1e308, -1e308, 1e-320])
scalars = st.none() | st.booleans() | st.integers() | HUGE | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
decimal_strings = st.sampled_from(
    [
        "0",
        "1",
        "0.1",
        "-1",
        "1e400",
        "1E-30",
        "NaN",
        "Infinity",
        "-0",
        "00.5",
        "1_000",
        " 1",
        "0x10",
        "",
        "3000",
        "1e999990",
        "1e200000",
        "-1e5000",
        "\u0662",
        "\uff12\uff10\uff10\uff10",
        " 2000 ",
        "9" * 40,
        "0." + "0" * 30 + "1",
    ]
)


def nest(depth: int, leaf: Any = 0, *, obj: bool = False) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if obj else [value]
    return value


deep_values = st.builds(nest, st.integers(50, 500), st.just(0), obj=st.booleans())
"""Nested values inside signed actions (the SDK's msgpack signing stops near 512 levels); far deeper
raw bodies are in ``test_deeply_nested_json_is_never_a_5xx``."""
users = st.sampled_from([ADDR, ADDR.upper().replace("0X", "0x"), "0x12", "", "0x" + "g" * 40]) | json_values
coins = st.sampled_from(["ETH", "BTC", "@107", "HYPE/USDC", "xyz:XYZ100", "eth", "", "NOPE"]) | json_values
times = st.integers(min_value=-(2**70), max_value=2**70) | HUGE | json_values

INFO_TYPES = [
    "meta",
    "spotMeta",
    "perpDexs",
    "metaAndAssetCtxs",
    "spotMetaAndAssetCtxs",
    "allMids",
    "l2Book",
    "clearinghouseState",
    "spotClearinghouseState",
    "openOrders",
    "frontendOpenOrders",
    "historicalOrders",
    "orderStatus",
    "userFills",
    "userFillsByTime",
    "userFunding",
    "fundingHistory",
    "userNonFundingLedgerUpdates",
    "userFees",
    "candleSnapshot",
    "activeAssetData",
    "userAbstraction",
    "borrowLendUserState",
    "borrowLendReserveState",
    "allBorrowLendReserveStates",
    "userBorrowLendInterest",
]
info_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(INFO_TYPES) | json_values},
        optional={
            "user": users,
            "coin": coins,
            "oid": st.integers() | HUGE | st.sampled_from(["0x" + "ab" * 16, "0xzz"]) | json_values,
            "startTime": times,
            "endTime": times,
            "dex": st.sampled_from(["", "xyz", "nope"]) | json_values,
            "token": st.integers(-5, 400) | HUGE | json_values,
            "aggregateByTime": json_values,
            "req": st.fixed_dictionaries(
                {},
                optional={
                    "coin": coins,
                    "interval": st.sampled_from(["1m", "1h", "1d", "7m"]) | json_values,
                    "startTime": times,
                    "endTime": times,
                },
            )
            | json_values,
        },
    ),
)

ORDER = {"a": 1, "b": True, "p": "3000", "s": "0.01", "r": False, "t": {"limit": {"tif": "Gtc"}}}
TRIGGER = ORDER | {"t": {"trigger": {"triggerPx": "3100", "isMarket": True, "tpsl": "tp"}}}
TEMPLATES: dict[str, dict[str, Any]] = {
    "order": {"type": "order", "orders": [ORDER, TRIGGER], "grouping": "na"},
    "cancel": {"type": "cancel", "cancels": [{"a": 1, "o": 1}]},
    "cancelByCloid": {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": "0x" + "00" * 16}]},
    "modify": {"type": "modify", "oid": 1, "order": ORDER},
    "batchModify": {"type": "batchModify", "modifies": [{"oid": 1, "order": ORDER}]},
    "scheduleCancel": {"type": "scheduleCancel", "time": T0 + 60_000},
    "updateLeverage": {"type": "updateLeverage", "asset": 1, "isCross": True, "leverage": 5},
    "updateIsolatedMargin": {"type": "updateIsolatedMargin", "asset": 1, "isBuy": True, "ntli": 1_000_000},
    "borrowLend": {"type": "borrowLend", "operation": "supply", "token": 0, "amount": "1"},
    "createSubAccount": {"type": "createSubAccount", "name": "fz"},
    "subAccountTransfer": {"type": "subAccountTransfer", "subAccountUser": ADDR, "isDeposit": True, "usd": 1},
    "subAccountSpotTransfer": {
        "type": "subAccountSpotTransfer",
        "subAccountUser": ADDR,
        "isDeposit": True,
        "token": "USDC:0x00000000000000000000000000000000",
        "amount": "1",
    },
    "agentSetAbstraction": {"type": "agentSetAbstraction", "abstraction": "u"},
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in ``value`` to mutate, down to 8 levels (a generated deep value is one leaf)."""
    out = [prefix] if prefix else []
    if len(prefix) >= 8:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated_actions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    action = copy.deepcopy(TEMPLATES[kind])
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(paths(action) or [("type",)]))
        parent: Any = action
        for key in where[:-1]:
            parent = parent[key]
        last = where[-1]
        op = draw(
            st.sampled_from(["replace", "replace", "delete", "huge", "decimal", "decimal", "add", "deep"])
        )
        if op == "delete" and where != ("type",):
            del parent[last]
        elif op == "huge":
            parent[last] = draw(HUGE | st.integers())
        elif op == "decimal":
            parent[last] = draw(decimal_strings)
        elif op == "deep":
            parent[last] = draw(deep_values)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values)
        else:
            parent[last] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        action["type"] = draw(st.text(max_size=16) | json_values)
    return action


# ------------------------------------------------------------------------------------------ /info
@FUZZ
@given(body=info_bodies)
def test_info_never_5xx_and_never_changes_state(target: Target, body: Any) -> None:
    before = target.health()
    resp = target.post("/info", body)
    assert resp.status_code < 500, (body, resp.status_code, resp.text[:300])
    resp.json()  # always JSON
    assert target.health() == before


@FUZZ
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_info_garbage_bytes(target: Target, raw: bytes) -> None:
    resp = target.post("/info", raw=raw)
    assert resp.status_code < 500, (raw, resp.status_code, resp.text[:300])


# ------------------------------------------------------------------------------------------ /exchange
exchange_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from(list(TEMPLATES.values())) | json_values,
            "nonce": st.integers(T0 - 10, T0 + 10) | times,
            "signature": st.fixed_dictionaries(
                {},
                optional={
                    "r": st.sampled_from(["0x" + "1" * 64, "0x0", "0x" + "f" * 64, "zz"]) | json_values,
                    "s": st.sampled_from(["0x" + "2" * 64, "0x" + "f" * 64, "0x"]) | json_values,
                    "v": st.sampled_from([27, 28, 0, 1, 35]) | json_values,
                },
            )
            | json_values,
            "vaultAddress": users,
            "expiresAfter": times,
        },
    ),
)


@FUZZ
@given(body=exchange_bodies)
def test_unsigned_exchange_bodies_are_rejected_without_state_change(target: Target, body: Any) -> None:
    before = target.health()
    resp = target.post("/exchange", body)
    check(target, resp, before)
    if resp.status_code == 200:
        assert resp.json()["status"] == "err", resp.text[:300]  # nobody funded signed these


@FUZZ
@given(raw=st.binary(max_size=80))
def test_exchange_garbage_bytes(target: Target, raw: bytes) -> None:
    before = target.health()
    resp = target.post("/exchange", raw=raw)
    check(target, resp, before)


@FUZZ
@given(action=mutated_actions(), vault=st.none() | st.none() | users, expires=st.none() | st.none() | times)
def test_signed_mutated_actions_never_5xx(
    target: Target, action: dict[str, Any], vault: Any, expires: Any
) -> None:
    if not (vault is None or isinstance(vault, str)) or not (expires is None or isinstance(expires, int)):
        vault, expires = None, None  # the SDK's signer takes only these types
    body = target.signed_l1(action, vault, expires)
    assume(body is not None)
    before = target.health()
    resp = target.post("/exchange", body)
    check(target, resp, before)


user_signed = st.sampled_from(
    [
        ("usdSend", signing.USD_SEND_SIGN_TYPES, "HyperliquidTransaction:UsdSend", "time"),
        ("spotSend", signing.SPOT_TRANSFER_SIGN_TYPES, "HyperliquidTransaction:SpotSend", "time"),
        ("withdraw3", signing.WITHDRAW_SIGN_TYPES, "HyperliquidTransaction:Withdraw", "time"),
        (
            "usdClassTransfer",
            signing.USD_CLASS_TRANSFER_SIGN_TYPES,
            "HyperliquidTransaction:UsdClassTransfer",
            "nonce",
        ),
        (
            "userSetAbstraction",
            signing.USER_SET_ABSTRACTION_SIGN_TYPES,
            "HyperliquidTransaction:UserSetAbstraction",
            "nonce",
        ),
    ]
)


@FUZZ
@given(spec=user_signed, strings=st.lists(decimal_strings | st.text(max_size=50), min_size=4, max_size=4))
def test_signed_user_actions_with_odd_strings(target: Target, spec: Any, strings: list[str]) -> None:
    kind, types, primary, nonce_field = spec
    nonce = target.nonce()
    action: dict[str, Any] = {"type": kind, nonce_field: nonce}
    candidates = iter(strings)
    for field in types:
        name = field["name"]
        if name in ("hyperliquidChain", nonce_field):
            continue
        if field["type"] == "bool":
            action[name] = True
        elif field["type"] == "address":
            action[name] = "0x" + "1" * 40
        else:
            action[name] = next(candidates, "1")
    try:
        sig = signing.sign_user_signed_action(target.wallet, action, types, primary, False)
    except (TypeError, ValueError, OverflowError):
        assume(False)
    body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}
    before = target.health()
    resp = target.post("/exchange", body)
    check(target, resp, before)


@settings(FUZZ, max_examples=30)
@given(
    path=st.sampled_from(["/info", "/exchange"]),
    depth=st.integers(1, 200_000),
    opener=st.sampled_from([b"[", b'{"a":', b'{"action":']),
    closed=st.booleans(),
)
def test_deeply_nested_json_is_never_a_5xx(
    target: Target, path: str, depth: int, opener: bytes, closed: bool
) -> None:
    """Issue 10 defect 9: 100,000 nested ``[`` was a 500 (RecursionError) on both endpoints."""
    closer = b"]" if opener == b"[" else b"}"
    raw = opener * depth + b"0" + (closer * depth if closed else b"")
    before = target.health()
    resp = target.post(path, raw=raw)
    check(target, resp, before)


def test_the_log_replays_to_the_live_state_after_fuzzing(target: Target, tmp_path: Path) -> None:
    """Runs last in this module: every fuzzed action that was logged replays to the same state."""
    live = target.health()
    assert live["seq"] > 10, "the fuzzers above reached the log"
    log = open_log(copy_of_log(target.db, tmp_path / "copy.sqlite"))
    try:
        exchange, seq = replay(None, log, from_snapshot=False)
        assert (seq, exchange.state_hash()) == (live["seq"], live["stateHash"])
    finally:
        log.close()


# ------------------------------------------------------------------------------------------ known bugs
@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, LocalAccount, Path]]:
    """An in-process app (TestClient) on its own log, with a funded wallet: for the bug reproductions."""
    db = tmp_path / "bug.sqlite"
    node = Node("hyperliquid", open_log(db), clock=lambda: T0)
    app = create_app(node, operator_token="tok")
    DemoMarket(node, app.state.writer)._bootstrap()
    wallet: LocalAccount = Account.create()
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/operator/deposit",
            json={"user": wallet.address, "amount": "1000"},
            headers={"authorization": "Bearer tok"},
        )
        assert r.status_code == 200
        yield client, wallet, db
    node.close()


def signed_body(wallet: LocalAccount, action: dict[str, Any], nonce: int = T0) -> dict[str, Any]:
    sig = signing.sign_l1_action(wallet, action, None, nonce, None, False)
    return {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}


@pytest.mark.parametrize(
    "action",
    [
        {"type": "cancel", "cancels": [5]},
        {"type": "cancelByCloid", "cancels": ["asset"]},
        {"type": "batchModify", "modifies": [5]},
    ],
    ids=["cancel", "cancelByCloid", "batchModify"],
)
def test_fixed_non_object_list_items_are_500(app_client: Any, action: dict[str, Any]) -> None:
    client, wallet, _db = app_client
    before = client.get("/health").json()
    resp = client.post("/exchange", json=signed_body(wallet, action))
    assert resp.status_code == 200 and resp.json()["status"] == "err", resp.text
    assert client.get("/health").json()["stateHash"] == before["stateHash"]


@pytest.mark.parametrize("abstraction", [[], {"u": 1}], ids=["list", "object"])
def test_fixed_unhashable_agent_abstraction_is_500(app_client: Any, abstraction: Any) -> None:
    client, wallet, _db = app_client
    before = client.get("/health").json()
    action = {"type": "agentSetAbstraction", "abstraction": abstraction}
    resp = client.post("/exchange", json=signed_body(wallet, action))
    assert resp.status_code == 200 and resp.json()["status"] == "err", resp.text
    assert client.get("/health").json()["stateHash"] == before["stateHash"]


@pytest.mark.parametrize("oid", [None, 1.5, True], ids=["null", "float", "bool"])
def test_fixed_batch_modify_odd_oid_poisons_the_log(app_client: Any, oid: Any) -> None:
    client, wallet, db = app_client
    action = {"type": "batchModify", "modifies": [{"oid": oid, "order": ORDER}]}
    resp = client.post("/exchange", json=signed_body(wallet, action))
    assert resp.status_code == 200
    live = client.get("/health").json()
    restarted = Node(None, open_log(copy_of_log(db, db.with_name("copy.sqlite"))))
    try:
        assert (restarted.seq, restarted.exchange.state_hash()) == (live["seq"], live["stateHash"])
    finally:
        restarted.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_fixed_batch_modify_unhashable_oid_kills_the_writer(server_factory: Callable[..., Server]) -> None:
    srv = server_factory(bootstrap=False, clock=lambda: T0)
    try:
        wallet: LocalAccount = Account.create()
        srv.deposit(wallet.address, 100)
        action = {"type": "batchModify", "modifies": [{"oid": [1], "order": ORDER}]}
        with contextlib.suppress(requests.RequestException):  # the request itself may hang
            requests.post(f"{srv.url}/exchange", json=signed_body(wallet, action), timeout=2)
        r = requests.post(
            f"{srv.url}/operator/deposit",
            json={"user": wallet.address, "amount": "1"},
            headers={"authorization": f"Bearer {srv.token}"},
            timeout=2,
        )
        assert r.status_code == 200
    finally:
        srv.stop(force=True)  # do not wait for the request stuck on the dead writer


@pytest.mark.parametrize(
    "body",
    [
        {"type": "meta", "dex": [1]},
        {"type": "allMids", "dex": {"a": 1}},
        {"type": "metaAndAssetCtxs", "dex": ["xyz"]},
        {"type": "clearinghouseState", "user": ADDR, "dex": ["xyz"]},
        {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": ["1m"], "startTime": 0, "endTime": 1}},
    ],
    ids=["meta", "allMids", "metaAndAssetCtxs", "clearinghouseState", "candleSnapshot"],
)
def test_fixed_info_unhashable_fields_are_500(target: Target, body: dict[str, Any]) -> None:
    resp = target.post("/info", body)
    assert resp.status_code == 422 and resp.json()["code"] == 422, resp.text


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"[1, -Infinity]"])
def test_fixed_info_nonfinite_non_object_body_is_500(target: Target, raw: bytes) -> None:
    assert target.post("/info", raw=raw).status_code == 422


def test_fixed_info_non_object_body_error_shape_breaks_the_sdk(target: Target) -> None:
    from hyperliquid.api import API  # type: ignore[import-untyped]
    from hyperliquid.utils.error import ClientError  # type: ignore[import-untyped]

    with pytest.raises(ClientError) as info:
        API(target.url).post("/info", [1, 2])  # type: ignore[arg-type]
    assert info.value.status_code == 422
