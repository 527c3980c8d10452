"""Bots written for Hyperliquid, through the unmodified official SDK, against a live server with the real
market universe: only the URL differs from a mainnet or testnet run.

Each test follows the flow of one of the SDK's example bots (spot orders on ``PURR/USDC``, rounding a
perp order on ``OP`` from ``meta``, spot transfers by ``NAME:tokenId``, ``sendAsset`` to and from a
builder dex, the builder-dex order on ``test:ABC``, dex abstraction) with our own code, and asserts the
outcome computed by hand. Expected universe values are Hyperliquid's, as recorded in the bundled
snapshot (docs/config.md "The hyperliquid market universe").
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]
from hyperliquid.info import Info  # type: ignore[import-untyped]
from hyperliquid.utils.signing import get_timestamp_ms  # type: ignore[import-untyped]
from websockets.sync.client import connect

from netclear.config.snapshot import load_snapshot
from netclear.engine.handlers.funds import sub_account_address

if TYPE_CHECKING:
    from tests.api.conftest import Server

PURR_TOKEN = "PURR:0xc1fb593aeffbeb02f85e0308e9956a90"  # spotMeta: PURR, index 1, its mainnet tokenId
DEXES = ["", "xyz", "flx", "cash", "test"]


def addr(wallet: LocalAccount) -> str:
    return str(wallet.address).lower()


def statuses(resp: dict[str, Any]) -> list[Any]:
    assert resp["status"] == "ok", resp
    return list(resp["response"]["data"]["statuses"])


def ok(resp: dict[str, Any]) -> None:
    assert resp == {"status": "ok", "response": {"type": "default"}}, resp


def err(resp: dict[str, Any], *words: str) -> str:
    assert resp["status"] == "err", resp
    message = str(resp["response"])
    for word in words:
        assert word in message, (word, message)
    return message


def spot_total(info: Info, user: str, coin: str) -> Decimal:
    return sum(
        (Decimal(b["total"]) for b in info.spot_user_state(user)["balances"] if b["coin"] == coin), Decimal(0)
    )


def perp_value(info: Info, user: str, dex: str = "") -> Decimal:
    return Decimal(info.user_state(user, dex)["marginSummary"]["accountValue"])


@pytest.fixture(scope="module")
def info(server: Server) -> Info:
    return Info(server.url, skip_ws=True, perp_dexs=DEXES)


@pytest.fixture
def bot(server: Server) -> Exchange:
    """A fresh standard-mode account with 1,000 USDC (a deposit lands on the first perp dex)."""
    return Exchange(server.funded_wallet(1_000), server.url, perp_dexs=DEXES)


# ------------------------------------------------------------------------------------------ universe
def test_meta_and_spot_meta_are_mainnet_s(info: Info) -> None:
    snap = load_snapshot()
    meta = info.meta()
    assert [a["name"] for a in meta["universe"]] == [a["name"] for a in snap["meta"]["universe"]]
    assert len(meta["universe"]) == 220
    op = meta["universe"][9]
    assert op == {"name": "OP", "szDecimals": 1, "maxLeverage": 10, "marginTableId": 51}
    tables = dict((tid, t) for tid, t in meta["marginTables"])
    assert [(t["lowerBound"], t["maxLeverage"]) for t in tables[51]["marginTiers"]] == [
        ("0.0", 10),
        ("3000000.0", 5),
    ]
    matic = next(a for a in meta["universe"] if a["name"] == "MATIC")
    assert matic.get("isDelisted") is True
    hpos = next(a for a in meta["universe"] if a["name"] == "HPOS")
    assert hpos.get("onlyIsolated") is True and hpos["marginMode"] == "strictIsolated"
    # asset ids as the SDK derives them: perps by meta index, spot 10000 + pair index, builder dexes
    # 110000 + 10000 x position in perpDexs
    assert info.name_to_asset("OP") == 9 and info.name_to_asset("HYPE") == 159
    assert info.name_to_asset("PURR/USDC") == 10_000
    assert info.name_to_coin["UBTC/USDC"] == "@142" and info.name_to_coin["HYPE/USDC"] == "@107"
    assert info.name_to_asset("test:ABC") == 140_000 and info.name_to_asset("cash:USA500") == 130_000
    spot = info.spot_meta()
    purr = next(t for t in spot["tokens"] if t["name"] == "PURR")
    assert (purr["index"], purr["szDecimals"], purr["weiDecimals"]) == (1, 0, 5)
    assert purr["tokenId"] == PURR_TOKEN.split(":")[1]
    assert spot["universe"][0] == {"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True}
    assert len(spot["tokens"]) == 399 and len(spot["universe"]) == 233
    assert [d and d["name"] for d in info.perp_dexs()] == [None, *DEXES[1:]]


def test_demo_quotes_listed_markets_at_snapshot_mids(server: Server, info: Info) -> None:
    """The bootstrap moved every price once by at most 0.1% from the snapshot's mid (demo feed)."""
    mids = {k: Decimal(v) for k, v in info.all_mids().items()}
    snap = load_snapshot()["mids"]
    for coin in ("OP", "BTC", "kPEPE", "PURR/USDC", "@8"):
        want = Decimal(snap["perp"].get(coin) or snap["spot"][coin])
        assert abs(mids[coin] / want - 1) <= Decimal("0.0012"), (coin, mids[coin], want)
    for coin in ("OP", "PURR/USDC", "@8", "test:ABC", "xyz:XYZ100", "cash:USA500"):
        bids, asks = info.l2_snapshot(coin)["levels"]
        assert len(bids) == 3 and len(asks) == 3, coin
    assert "MATIC" not in mids or info.l2_snapshot("MATIC")["levels"] == [[], []]  # delisted: no quotes


# ------------------------------------------------------------------------------------------ bots
def test_rounding_bot_on_op(info: Info, bot: Exchange) -> None:
    """The SDK's rounding example: size to szDecimals, price to 5 significant figures and 6 - szDecimals
    decimals, both read from ``meta``."""
    sz_decimals = {a["name"]: a["szDecimals"] for a in info.meta()["universe"]}
    best_bid = Decimal(info.l2_snapshot("OP")["levels"][0][0]["px"])
    raw_px, raw_sz = float(best_bid) * 0.9812345, 123.45678
    px = round(float(f"{raw_px:.5g}"), 6 - sz_decimals["OP"])
    sz = round(raw_sz, sz_decimals["OP"])
    assert sz == 123.5
    rest = statuses(bot.order("OP", True, sz, px, {"limit": {"tif": "Gtc"}}))[0]
    oid = rest["resting"]["oid"]
    assert info.open_orders(addr(bot.wallet))[0]["limitPx"] == str(Decimal(str(px)).normalize())
    assert statuses(bot.cancel("OP", oid)) == ["success"]
    # the same price with one significant figure too many is off the tick grid
    too_fine = px + 0.000001  # a sixth decimal: OP (szDecimals 1) allows 6 - 1 = 5
    assert "error" in statuses(bot.order("OP", True, sz, too_fine, {"limit": {"tif": "Gtc"}}))[0]


def test_spot_order_bot_on_purr(server: Server, info: Info, bot: Exchange) -> None:
    """The SDK's spot-order example: a resting PURR/USDC bid, its status, its cancel; then a taker buy."""
    me = addr(bot.wallet)
    ok(bot.send_asset(me, "", "spot", "USDC", 100))  # standard mode: spot needs its own USDC
    best_bid = Decimal(info.l2_snapshot("PURR/USDC")["levels"][0][0]["px"])
    bid_px = float(best_bid * Decimal("0.9"))
    oid = statuses(bot.order("PURR/USDC", True, 200, bid_px, {"limit": {"tif": "Gtc"}}))[0]["resting"]["oid"]
    assert info.query_order_by_oid(me, oid)["order"]["status"] == "open"
    assert statuses(bot.cancel("PURR/USDC", oid)) == ["success"]
    best_ask = Decimal(info.l2_snapshot("PURR/USDC")["levels"][1][0]["px"])
    filled = statuses(bot.order("PURR/USDC", True, 200, float(best_ask), {"limit": {"tif": "Ioc"}}))[0]
    assert filled["filled"]["totalSz"] == "200"
    # spot taker fee 0.07% is paid in the bought token: 200 x 0.0007 = 0.14 PURR (docs/rules/fees.md)
    assert spot_total(info, me, "PURR") == Decimal("199.86")
    assert spot_total(info, me, "USDC") == 100 - 200 * best_ask


def test_spot_transfer_bot_sends_purr_by_token_id(server: Server, info: Info, bot: Exchange) -> None:
    """The SDK's spot-transfer example names the token ``PURR:<tokenId>``."""
    me, friend = addr(bot.wallet), Account.create().address.lower()
    ok(bot.send_asset(me, "", "spot", "USDC", 50))
    ask = Decimal(info.l2_snapshot("PURR/USDC")["levels"][1][0]["px"])
    statuses(bot.order("PURR/USDC", True, 100, float(ask), {"limit": {"tif": "Ioc"}}))
    ok(bot.spot_transfer(12, friend, PURR_TOKEN))
    assert spot_total(info, friend, "PURR") == 12
    assert spot_total(info, me, "PURR") == Decimal("99.93") - 12
    err(bot.spot_transfer(1, friend, "NOTATOKEN:0x00"), "unknown token")


def test_send_asset_between_spot_perp_and_builder_dexes(server: Server, info: Info, bot: Exchange) -> None:
    """``sendAsset`` in standard mode: spot, the first dex and the test dex are separate balances."""
    me, friend = addr(bot.wallet), Account.create().address.lower()
    ok(bot.send_asset(me, "", "spot", "USDC", 100))
    assert perp_value(info, me) == 900 and spot_total(info, me, "USDC") == 100
    ok(bot.send_asset(me, "spot", "test", "USDC", 1.23))
    assert perp_value(info, me, "test") == Decimal("1.23") and spot_total(info, me, "USDC") == Decimal(
        "98.77"
    )
    ok(bot.send_asset(me, "test", "spot", "USDC", 1.23))
    assert perp_value(info, me, "test") == 0 and spot_total(info, me, "USDC") == 100
    ok(bot.send_asset(friend, "", "test", "USDC", 5))  # to another user's builder-dex balance
    assert perp_value(info, friend, "test") == 5 and perp_value(info, me) == 895
    history = info.user_non_funding_ledger_updates(friend, 0)
    assert history[-1]["delta"] | {"amount": "5"} == {
        "type": "send",
        "user": me,
        "destination": friend,
        "sourceDex": "",
        "destinationDex": "test",
        "token": "USDC",
        "amount": "5",
        "fee": "0.0",
    }
    # a perp dex side moves only that dex's collateral (cash: USDT0); unknown dexes and no-op moves fail
    err(bot.send_asset(me, "spot", "cash", "USDC", 1), "USDT0")
    err(bot.send_asset(me, "spot", "nope", "USDC", 1), "unknown dex")
    err(bot.send_asset(me, "spot", "spot", "USDC", 1), "nothing to move")
    err(bot.send_asset(me, "spot", "", "USDC", 1000), "exceeds withdrawable")
    assert perp_value(info, me) == 895 and spot_total(info, me, "USDC") == 100


def test_send_asset_from_a_sub_account(server: Server, info: Info, bot: Exchange) -> None:
    master = addr(bot.wallet)
    assert bot.create_sub_account("desk")["status"] == "ok"
    sub = sub_account_address(master, "desk")
    ok(bot.sub_account_transfer(sub, True, 10_000_000))  # 10 USDC
    as_sub = Exchange(bot.wallet, server.url, vault_address=sub)
    ok(as_sub.send_asset(master, "", "test", "USDC", 2))  # fromSubAccount = the sub-account
    assert perp_value(info, sub) == 8 and perp_value(info, master, "test") == 2
    ok(as_sub.send_asset(sub, "", "spot", "USDC", 3))
    assert perp_value(info, sub) == 5 and spot_total(info, sub, "USDC") == 3


def test_send_asset_under_unified_account(server: Server, info: Info, bot: Exchange) -> None:
    """One balance per asset: own-balance moves have nothing to move; sends to others work."""
    me, friend = addr(bot.wallet), Account.create().address.lower()
    ok(bot.user_set_abstraction(me, "unifiedAccount"))
    assert spot_total(info, me, "USDC") == 1_000
    err(bot.send_asset(me, "", "spot", "USDC", 1), "share one USDC balance")
    ok(bot.send_asset(friend, "spot", "test", "USDC", 3))
    assert spot_total(info, me, "USDC") == 997 and perp_value(info, friend, "test") == 3


def test_builder_dex_order_bot_on_test_dex(server: Server, info: Info, bot: Exchange) -> None:
    """The SDK's builder-dex examples: fund the ``test`` dex from spot, trade ``test:ABC``, send back."""
    me = addr(bot.wallet)
    ok(bot.send_asset(me, "", "spot", "USDC", 100))
    ok(bot.send_asset(me, "spot", "test", "USDC", 100))
    assert [a["name"] for a in info.meta(dex="test")["universe"]] == ["test:ABC"]
    rest = statuses(bot.order("test:ABC", True, 20, 1, {"limit": {"tif": "Gtc"}}))[0]
    assert "resting" in rest, rest
    oid = rest["resting"]["oid"]
    status = info.query_order_by_oid(me, oid)
    assert status["order"]["status"] == "open" and status["order"]["order"]["coin"] == "test:ABC"
    assert statuses(bot.cancel("test:ABC", oid)) == ["success"]
    ok(bot.send_asset(me, "test", "spot", "USDC", 100))
    assert perp_value(info, me, "test") == 0 and spot_total(info, me, "USDC") == 100


def test_dex_abstraction_answers_as_discontinued(server: Server, info: Info, bot: Exchange) -> None:
    """DEX abstraction is discontinued (Hyperliquid docs, "Account abstraction modes"): enabling it is
    refused with the way forward, disabling it is accepted and changes nothing, and reads say false."""
    me = addr(bot.wallet)
    err(bot.agent_enable_dex_abstraction(), "discontinued", "userSetAbstraction")
    err(bot.user_dex_abstraction(me, True), "discontinued")
    ok(bot.user_dex_abstraction(me, False))
    assert info.query_user_dex_abstraction_state(me) is False
    assert info.query_user_abstraction_state(me) == "disabled"
    assert bot.create_sub_account("One")["status"] == "ok"
    sub = sub_account_address(me, "One")
    as_sub = Exchange(bot.wallet, server.url, vault_address=sub)
    err(as_sub.agent_enable_dex_abstraction(), "discontinued")
    ok(bot.user_dex_abstraction(sub, False))
    assert info.query_user_dex_abstraction_state(sub) is False


def test_roles_agents_multisig_and_noop(server: Server, info: Info, bot: Exchange) -> None:
    me = addr(bot.wallet)
    assert info.user_role(me) == {"role": "user"}
    assert info.user_role(Account.create().address) == {"role": "missing"}
    assert bot.create_sub_account("r1")["status"] == "ok"
    sub = sub_account_address(me, "r1")
    assert info.user_role(sub) == {"role": "subAccount", "data": {"master": me}}
    result, key = bot.approve_agent("bot1")
    ok(result)
    agent = Account.from_key(key).address.lower()
    assert info.user_role(agent) == {"role": "agent", "data": {"user": me}}
    assert [(a["address"], a["name"]) for a in info.extra_agents(me)] == [(agent, "bot1")]
    assert info.query_user_to_multi_sig_signers(me) is None
    nonce = get_timestamp_ms()
    ok(bot.noop(nonce))
    err(bot.noop(nonce), "nonce")  # the noop used the nonce up


# ------------------------------------------------------------------------------------------ websocket
def _read(conn: Any, channel: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(conn.recv(timeout=deadline - time.monotonic()))
        if msg.get("channel") == channel:
            return dict(msg)
    raise AssertionError(f"no {channel} message")


def test_ws_spot_state_and_all_dexs_channels(server: Server, info: Info, bot: Exchange) -> None:
    me = addr(bot.wallet)
    ok(bot.send_asset(me, "", "spot", "USDC", 40))
    ok(bot.send_asset(me, "spot", "test", "USDC", 15))
    with connect(server.ws_url, open_timeout=5) as conn:
        for sub in (
            {"type": "spotState", "user": me},
            {"type": "allDexsClearinghouseState", "user": me},
            {"type": "allDexsAssetCtxs"},
        ):
            conn.send(json.dumps({"method": "subscribe", "subscription": sub}))
        spot = _read(conn, "spotState")["data"]
        assert spot["user"] == me
        assert [(b["coin"], Decimal(b["total"])) for b in spot["spotState"]["balances"]] == [("USDC", 25)]
        states = _read(conn, "allDexsClearinghouseState")["data"]
        assert [name for name, _ in states["clearinghouseStates"]] == DEXES
        values = {
            name: Decimal(s["marginSummary"]["accountValue"]) for name, s in states["clearinghouseStates"]
        }
        assert values == {"": 960, "xyz": 0, "flx": 0, "cash": 0, "test": 15}
        ctxs = _read(conn, "allDexsAssetCtxs")["data"]["ctxs"]
        assert [name for name, _ in ctxs] == DEXES
        assert [len(c) for _, c in ctxs] == [220, 2, 1, 1, 1]
        # a change reaches the subscriber: another 5 USDC to the test dex
        ok(bot.send_asset(me, "spot", "test", "USDC", 5))
        states = _read(conn, "allDexsClearinghouseState")["data"]
        assert Decimal(dict(states["clearinghouseStates"])["test"]["marginSummary"]["accountValue"]) == 20


def test_sdk_candle_subscription_follows_trades(server: Server, bot: Exchange) -> None:
    """``Info.subscribe({"type": "candle", ...})`` through the SDK's own websocket manager."""
    live = Info(server.url, skip_ws=False)
    got: list[dict[str, Any]] = []
    try:
        live.subscribe({"type": "candle", "coin": "OP", "interval": "1m"}, got.append)
        time.sleep(0.3)
        filled = statuses(bot.market_open("OP", True, 30))[0]["filled"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(m["data"]["c"] == filled["avgPx"] for m in got):
            time.sleep(0.05)
    finally:
        live.disconnect_websocket()
    candle = next(m["data"] for m in got if m["data"]["c"] == filled["avgPx"])
    assert (candle["s"], candle["i"]) == ("OP", "1m") and candle["T"] - candle["t"] == 59_999
    assert Decimal(candle["v"]) >= 30 and candle["n"] >= 1


def test_demo_quotes_a_chosen_set_of_markets(server_factory: Any) -> None:
    """``netclear serve --demo --demo-markets BTC,PURR/USDC``: only those two books get quotes."""
    from netclear.api.demo import DemoMarket, maker_address
    from netclear.errors import UnknownEntity

    srv = server_factory(bootstrap=False)
    demo = DemoMarket(srv.node, srv.app.state.writer, markets=["BTC", "PURR/USDC"])
    demo._bootstrap()
    books = srv.node.exchange.state.books
    quoted = {asset for asset, book in books.items() if book.orders_of(maker_address(0))}
    assert quoted == {0, 10_000}  # BTC, PURR/USDC
    assert maker_address(1) not in srv.node.exchange.state.accounts  # one maker is enough
    with pytest.raises(UnknownEntity):
        DemoMarket(srv.node, srv.app.state.writer, markets=["NOPE"])
