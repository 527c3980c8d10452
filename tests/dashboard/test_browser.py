"""The dashboard in a real headless Chromium against a live server (issue "web dashboard").

One server and one browser for the module; every test uses fresh wallets. The SDK is the official
``hyperliquid-python-sdk``; funding and price moves go through ``/operator``. The page reads only
``/info`` and ``/ws``, so what it shows is compared with what ``/info`` answers. Screenshots of each panel
go to docs/dashboard/ (docs/dashboard.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from hyperliquid.exchange import Exchange  # type: ignore[import-untyped]
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action  # type: ignore[import-untyped]
from playwright.sync_api import expect

from netclear.engine import actions as A
from netclear.ledger.node import Node, Submission
from tests.dashboard.conftest import Dash, Page, start_dashboard_server

LIVE_S = 5_000  # ms: "within a few seconds"


def _ok(resp: dict[str, Any]) -> None:
    assert resp["status"] == "ok", resp


def _filled(resp: dict[str, Any]) -> dict[str, Any]:
    _ok(resp)
    status = resp["response"]["data"]["statuses"][0]
    assert "filled" in status, status
    return dict(status["filled"])


def test_page_loads_with_no_console_errors(dash: Dash, page: Page) -> None:
    page.open(dash.server.url + "/")
    perps = page.page.locator("#perps tr[data-coin]")
    expect(perps.first).to_be_visible()
    coins = {c for c in perps.evaluate_all("rows => rows.map(r => r.dataset.coin)")}
    meta = dash.server.info({"type": "meta"})["universe"]
    listed = {m["name"] for m in meta if not m.get("isDelisted")}
    assert listed <= coins  # every listed market of the preset, none assumed (delisted ones hidden)
    expect(page.page.locator("#ladder tr[data-side=bid]").first).to_be_visible()
    page.tab("lending")
    expect(page.page.locator("#reserves tr[data-token=USDC]")).to_be_visible()
    expect(page.page.locator("#curve-USDC .main-svg").first).to_be_attached()
    page.tab("liquidations")
    expect(page.page.locator("#backstops tbody tr").first).to_be_visible()
    page.tab("risk")
    expect(page.page.get_by_test_id("runs-empty")).to_contain_text("netclear simulate oct-10-2025 --out")
    page.shot("risk-lab")
    page.tab("account")
    expect(page.page.locator("#account-empty")).to_be_visible()
    page.tab("markets")
    page.page.wait_for_timeout(500)
    assert page.errors == []
    assert page.outside == []  # everything came from the server: works with no network


def _supply_usdc(url: str, wallet: Any, amount: str) -> None:
    """borrowLend has no SDK method: sign it as an L1 action the SDK's way (as tests/api do)."""
    nonce = get_timestamp_ms()
    action = {"type": "borrowLend", "operation": "supply", "token": 0, "amount": amount}
    signature = sign_l1_action(wallet, action, None, nonce, None, False)
    body = {
        "action": action,
        "nonce": nonce,
        "signature": signature,
        "vaultAddress": None,
        "expiresAfter": None,
    }
    r = requests.post(f"{url}/exchange", json=body, timeout=10)
    assert r.json() == {"status": "ok", "response": {"type": "default"}}, r.text


def _spot_pair(srv: Any, base: str) -> str:
    """The spot pair name (``@n``) of ``base``/USDC, from spotMeta (no index assumed)."""
    meta = srv.info({"type": "spotMeta"})
    token = next(t["index"] for t in meta["tokens"] if t["name"] == base)
    return str(next(u["name"] for u in meta["universe"] if u["tokens"] == [token, 0]))


def _mark(srv: Any, coin: str) -> Decimal:
    meta, ctxs = srv.info({"type": "metaAndAssetCtxs"})
    i = next(i for i, m in enumerate(meta["universe"]) if m["name"] == coin)
    return Decimal(ctxs[i]["markPx"])


def test_account_panel_shows_the_pmr_and_balances_of_info(dash: Dash, page: Page) -> None:
    """A lender supplies 100,000 USDC. The account: 20,000 USDC and 500 HYPE, portfolio margin, short
    0.1 BTC and buy 0.25 UBTC (about 25,000 USDC: more than the USDC held, so some is borrowed), all
    through the SDK."""
    srv = dash.server
    lender = srv.funded_wallet(100_000)
    _ok(Exchange(lender, srv.url).user_set_abstraction(lender.address.lower(), "unifiedAccount"))
    _supply_usdc(srv.url, lender, "100000")
    wallet = srv.funded_wallet(20_000)
    srv.deposit(wallet.address, 500, "HYPE")
    ex = Exchange(wallet, srv.url)
    user = wallet.address.lower()
    _ok(ex.user_set_abstraction(user, "portfolioMargin"))
    _filled(ex.market_open("BTC", False, 0.1))
    _filled(ex.market_open(_spot_pair(srv, "UBTC"), True, 0.25))
    srv.operator("time", {"advanceMs": 3_600_000})  # an hour: interest is indexed on the borrow
    spot = srv.info({"type": "spotClearinghouseState", "user": user})
    usdc = next(b for b in spot["balances"] if b["coin"] == "USDC")
    assert Decimal(usdc["borrowed"]) > 0
    interest = srv.info({"type": "userBorrowLendInterest", "user": user})
    paid = sum(Decimal(r["borrow"]) for r in interest if r["token"] == "USDC")
    assert paid > 0

    page.open(f"{srv.url}/?user={user}")
    expect(page.page.get_by_test_id("account-mode")).to_have_text("portfolioMargin")
    expect(page.page.get_by_test_id("ratio")).to_have_text(spot["portfolioMarginRatio"])
    for b in spot["balances"]:
        expect(page.page.get_by_test_id(f"total-{b['coin']}")).to_have_text(b["total"])
        expect(page.page.get_by_test_id(f"hold-{b['coin']}")).to_have_text(b["hold"])
    modes = srv.info({"type": "marginModes", "user": user})
    expect(page.page.get_by_test_id("worst-leg")).to_contain_text(
        f"worst leg: {modes['portfolioMargin']['worstLeg']}"
    )
    expect(page.page.locator("#modes tr[data-mode=portfolioMargin]")).to_contain_text("(current)")
    expect(page.page.locator("#positions tr[data-coin=BTC]")).to_contain_text("-0.1")
    expect(page.page.get_by_test_id("interest-paid-USDC")).to_have_text(f"{paid:,.6f}")
    page.shot("account")
    page.tab("lending")
    util = srv.info({"type": "borrowLendReserveParams"})[0]
    assert util["name"] == "USDC" and Decimal(util["utilization"]) > 0
    expect(page.page.get_by_test_id("util-USDC")).to_have_text(f"{Decimal(util['utilization']) * 100:.2f}%")
    page.shot("lending")
    assert page.errors == []


def test_an_sdk_fill_appears_in_the_trades_panel(dash: Dash, page: Page) -> None:
    srv = dash.server
    page.open(srv.url + "/#markets")
    page.page.click("#perps tr[data-coin=BTC]")
    expect(page.page.get_by_test_id("book-coin")).to_have_text("BTC")
    expect(page.page.locator("#ladder tr[data-side=ask]").first).to_be_visible()
    wallet = srv.funded_wallet(10_000)
    ex = Exchange(wallet, srv.url)
    filled = _filled(ex.market_open("BTC", True, 0.01))
    [fill] = srv.info({"type": "userFills", "user": wallet.address.lower()})
    row = page.page.locator(f"#trades tr[data-tid='{fill['tid']}']")
    expect(row).to_be_visible(timeout=LIVE_S)
    expect(row).to_contain_text("buy")
    assert fill["px"] == filled["avgPx"]
    page.shot("markets")
    assert page.errors == []


def test_a_liquidating_price_move_shows_in_the_feed(dash: Dash, page: Page) -> None:
    """1,000 USDC, long 0.15 BTC at 20x at the demo maker's ask (0.05% above the mark M); BTC then 6% lower:
    equity about 1,000 - 0.15 x 0.0605 M (with M = 100,000: 1,000 - 907.5 - 6.75 fee = 85.75) is below
    maintenance 0.15 x 0.94 M / 80 (176.25) -> liquidated."""
    srv = dash.server
    page.open(srv.url + "/#liquidations")
    expect(page.page.get_by_test_id("liq-count")).to_have_text("0")
    wallet = srv.funded_wallet(1_000)
    user = wallet.address.lower()
    ex = Exchange(wallet, srv.url)
    _ok(ex.update_leverage(20, "BTC", True))
    _filled(ex.market_open("BTC", True, 0.15))
    low = str((_mark(srv, "BTC") * Decimal("0.94")).quantize(Decimal(1)))
    srv.operator("prices", {"oracle": {"BTC": low}, "marks": {"BTC": low}})
    feed = srv.info({"type": "liquidations"})
    [event] = [e for e in feed["events"] if e["user"] == user]
    row = page.page.locator(f"#liq-feed tr[data-user='{user}']")
    expect(row).to_be_visible(timeout=LIVE_S)
    expect(row).to_contain_text(event["method"])
    expect(page.page.get_by_test_id("liq-count")).to_have_text(str(feed["totals"]["count"]))
    page.shot("liquidations")
    assert page.errors == []


def test_risk_lab_lists_a_run_and_opens_its_report(dash: Dash, page: Page) -> None:
    run = dash.runs / "oct10"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"scenario": "oct-10-2025", "paths": 4}))
    (run / "report.html").write_text("<html><body><h1 id=title>oct-10-2025 report</h1></body></html>")
    page.open(dash.server.url + "/#risk")
    row = page.page.locator("#runs tr[data-run=oct10]")
    expect(row).to_contain_text("oct-10-2025")
    row.get_by_text("open").click()
    frame = page.page.frame_locator("#report")
    expect(frame.locator("#title")).to_have_text("oct-10-2025 report")
    assert page.errors == []


def _info_bytes(page: Page) -> list[int]:
    sizes: list[int] = page.page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/info'))"
        ".map(e => e.encodedBodySize)"
    )
    return sizes


def _visit_all(page: Page, url: str, user: str) -> list[int]:
    page.page.add_init_script("performance.setResourceTimingBufferSize(100000)")
    page.open(url + "/")
    expect(page.page.locator("#perps tr[data-coin=BTC]")).to_be_visible()
    for panel in ("lending", "liquidations"):
        page.tab(panel)
        page.page.wait_for_load_state("networkidle")
    page.tab("account")
    page.page.fill("#account-input", user)
    page.page.click("[data-testid=account-load]")
    expect(page.page.get_by_test_id("perp-main")).to_have_text("1000")  # a standard account's perp balance
    return _info_bytes(page)


def test_ten_thousand_funded_accounts_change_no_request(tmp_path: Path, browser: Any, dash: Dash) -> None:
    """No request lists every account: on a server with 10,000 funded accounts the page reads the same
    /info bodies (in size) as on one with a single account, and each stays small."""
    users = ["0x%040x" % (0x5000 + i) for i in range(10_000)]

    def fund_all(node: Node) -> None:
        subs = [Submission(A.Deposit(user=u, amount=Decimal(1000))) for u in users]
        for i in range(0, len(subs), 2_000):
            node.submit_many(subs[i : i + 2_000])

    def fund_one(node: Node) -> None:
        node.submit_many([Submission(A.Deposit(user=users[0], amount=Decimal(1000)))])

    sizes: dict[str, list[int]] = {}
    for name, prepare in (("one", fund_one), ("many", fund_all)):
        srv = start_dashboard_server(tmp_path / f"{name}.sqlite", dash.runs, prepare)
        try:
            assert len(srv.node.exchange.state.accounts) >= (10_000 if name == "many" else 1)
            ctx = browser.new_context(viewport={"width": 1440, "height": 900})
            p = Page(ctx.new_page())
            p.page.on("pageerror", lambda e, p=p: p.errors.append(str(e)))
            sizes[name] = _visit_all(p, srv.url, users[0])
            assert p.errors == []
            ctx.close()
        finally:
            srv.stop()
    # 10,000 addresses alone are 420 KB; the largest body is the universe (metaAndAssetCtxs, ~120 KB)
    assert max(sizes["many"]) < 200_000, max(sizes["many"])
    one, many = sorted(sizes["one"]), sorted(sizes["many"])
    # the same requests; a body may differ by a few bytes (a timestamp), never by the account count
    assert abs(max(many) - max(one)) < 200
