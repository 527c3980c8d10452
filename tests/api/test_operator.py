"""``/operator/*``: deposit, prices, time and snapshot work with the bearer token, on loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from fastapi.testclient import TestClient
from tests.api.conftest import copy_of_log

from netclear.api.server import _is_loopback, create_app
from netclear.ledger.node import Node, open_log

if TYPE_CHECKING:
    from tests.api.conftest import Server

USER = "0x" + "5e" * 20
ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("deposit", {"user": USER, "amount": "10"}),
    ("prices", {"oracle": {"ETH": "3500"}}),
    ("time", {"advanceMs": 1000}),
    ("snapshot", {}),
]


def post(server: Server, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return requests.post(f"{server.url}/operator/{path}", json=body, headers=headers or {}, timeout=10)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------------------ with the token
def test_deposit_is_logged_and_acknowledged_with_its_seq(server: Server) -> None:
    before = server.health()
    r = post(server, "deposit", {"user": USER, "amount": "123.45"}, auth(server.token))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["seq"] == before["seq"] + 1 and isinstance(body["time"], int)
    assert server.health()["seq"] == body["seq"]
    state = server.info({"type": "clearinghouseState", "user": USER})
    assert Decimal(state["withdrawable"]) >= Decimal("123.45")
    spot = post(server, "deposit", {"user": USER, "amount": "2", "token": "HYPE"}, auth(server.token)).json()
    assert spot["seq"] == body["seq"] + 1
    balances = server.info({"type": "spotClearinghouseState", "user": USER})["balances"]
    assert ("HYPE", "2") in [(b["coin"], b["total"]) for b in balances]


def test_rejected_operator_actions_are_422_with_code_and_msg(server: Server) -> None:
    token = auth(server.token)
    for path, body in [
        ("deposit", {"user": USER, "amount": "-5"}),
        ("deposit", {"user": "0x12", "amount": "5"}),
        ("deposit", {"user": USER, "amount": "5", "token": "NOPE"}),
        ("prices", {"oracle": {"ETH": "abc"}}),
        ("prices", {"oracle": {"NOPE": "1"}}),
    ]:
        r = post(server, path, body, token)
        assert r.status_code == 422, (path, body, r.text)
        err = r.json()
        assert err["code"] == 422 and isinstance(err["msg"], str) and err["msg"], err
    for path, body in [("deposit", {"user": USER}), ("time", {"advanceMs": -1}), ("prices", {"bogus": {}})]:
        assert post(server, path, body, token).status_code == 422, (path, body)


def test_prices(server: Server) -> None:
    body = {"oracle": {"SOL": "181.5", "HYPE": "41"}, "marks": {"HYPE": "41"}, "spot": {"@107": "41"}}
    r = post(server, "prices", body, auth(server.token))
    assert r.status_code == 200 and r.json()["status"] == "ok"
    meta, ctxs = server.info({"type": "metaAndAssetCtxs"})
    names = [a["name"] for a in meta["universe"]]
    assert ctxs[names.index("SOL")]["oraclePx"] == "181.5"
    # HYPE's lending price: the median of its spot price, perp mark and perp oracle
    hype = server.info({"type": "borrowLendReserveState", "token": 150})
    assert hype["oraclePx"] == "41"


def test_time_advances_the_clock(server: Server) -> None:
    first = post(server, "time", {"advanceMs": 0}, auth(server.token)).json()
    r = post(server, "time", {"advanceMs": 120_000}, auth(server.token))
    assert r.status_code == 200
    second = r.json()
    assert second["seq"] == first["seq"] + 1 and second["time"] >= first["time"] + 120_000


def test_snapshot_matches_health_and_is_stored(server: Server, tmp_path: Path) -> None:
    post(server, "deposit", {"user": USER, "amount": "1"}, auth(server.token))
    r = post(server, "snapshot", {}, auth(server.token))
    assert r.status_code == 200
    snap = r.json()
    health = server.health()
    assert snap == {"status": "ok", "seq": health["seq"], "stateHash": health["stateHash"]}
    log = open_log(copy_of_log(server.db, tmp_path / "copy.sqlite"))
    try:
        stored = log.latest_snapshot()
        assert stored is not None and (stored.seq, stored.state_hash) == (snap["seq"], snap["stateHash"])
    finally:
        log.close()


# ------------------------------------------------------------------------------------------ without it
@pytest.mark.parametrize(("path", "body"), ENDPOINTS, ids=[p for p, _ in ENDPOINTS])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": "Bearer "},
        {"authorization": "test-operator-token"},
        {"authorization": "Basic test-operator-token"},
        {"authorization": "bearer test-operator-token-and-more"},
        {"x-operator-token": "test-operator-token"},
    ],
    ids=["none", "wrong", "empty", "no-scheme", "basic", "longer", "other-header"],
)
def test_rejected_without_the_right_token(
    server: Server, path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    before = server.health()
    r = post(server, path, body, headers)
    assert r.status_code == 401, r.text
    assert r.json() == {"code": 401, "msg": "missing or wrong operator token", "data": None}
    assert server.health() == before  # nothing logged, nothing applied


def test_token_is_not_shown_in_responses(server: Server) -> None:
    r = post(server, "deposit", {"user": USER, "amount": "1"}, {"authorization": "Bearer nope"})
    assert server.token not in r.text


# ------------------------------------------------------------------------------------------ loopback only
@pytest.fixture
def app_node(tmp_path: Path) -> Iterator[tuple[Any, Node]]:
    node = Node("hyperliquid", open_log(tmp_path / "op.sqlite"))
    app = create_app(node, operator_token="tok")
    yield app, node
    app.state.writer.stop()
    node.close()


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.7", "8.8.8.8", "2001:db8::1", "example.com"])
def test_non_loopback_clients_are_refused(app_node: tuple[Any, Node], host: str) -> None:
    app, node = app_node
    with TestClient(app, client=(host, 1234)) as remote:
        for path, body in ENDPOINTS:
            r = remote.post(f"/operator/{path}", json=body, headers=auth("tok"))
            assert r.status_code == 403, (host, path, r.text)
            assert r.json()["code"] == 403 and "loopback" in r.json()["msg"]
        # the public API is not restricted
        assert remote.get("/health").status_code == 200
        assert remote.post("/info", json={"type": "meta"}).status_code == 200
    assert node.seq == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1"])
def test_loopback_clients_are_served(app_node: tuple[Any, Node], host: str) -> None:
    app, node = app_node
    with TestClient(app, client=(host, 1234)) as local:
        r = local.post("/operator/deposit", json={"user": USER, "amount": "5"}, headers=auth("tok"))
        assert r.status_code == 200 and r.json()["seq"] == 1
        assert local.post("/operator/deposit", json={"user": USER, "amount": "5"}).status_code == 401
    assert node.seq == 1


def test_is_loopback() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback(None) and not _is_loopback("10.0.0.1") and not _is_loopback("0.0.0.0")
    assert not _is_loopback("::ffff:10.0.0.1") and not _is_loopback("example.com") and not _is_loopback("")
    assert _is_loopback("::ffff:127.0.0.1")  # an IPv4 loopback peer on a dual-stack socket


def test_forwarded_remote_client_is_refused(server: Server) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 (a local reverse proxy): the remote origin wins."""
    headers = auth(server.token) | {"x-forwarded-for": "10.0.0.1"}
    r = post(server, "deposit", {"user": USER, "amount": "1"}, headers)
    assert r.status_code == 403


def test_random_token_when_none_is_given(tmp_path: Path) -> None:
    node = Node("hyperliquid", open_log(tmp_path / "rnd.sqlite"))
    try:
        a = create_app(node)
        b = create_app(node)
        assert len(a.state.operator_token) >= 32 and a.state.operator_token != b.state.operator_token
        a.state.writer.stop()
        b.state.writer.stop()
    finally:
        node.close()
