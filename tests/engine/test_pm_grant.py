"""Operator-granted portfolio-margin eligibility (issue 9, defect 10; docs/api.md, README).

The ``hyperliquid-prealpha`` preset keeps Hyperliquid's pre-alpha gate (portfolio-margin page,
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/portfolio-margin: "$5M in volume"): a new account
is refused. The operator may grant an address eligibility (``GrantPmEligibility``, ``POST
/operator/eligibility``, ``netclear serve --grant-pm``); the account-value cap still applies.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from netclear import views
from netclear.api.server import create_app
from netclear.cli.main import app as cli_app
from netclear.engine import actions as A
from netclear.engine.exchange import Exchange
from netclear.errors import ModeError
from netclear.ledger.node import Node, open_log
from tests.conftest import ALICE, BOB

PM = "portfolioMargin"


def _funded() -> Exchange:
    ex = Exchange("hyperliquid-prealpha")
    ex.apply(A.SetPrices(oracle={"HYPE": D(40)}, spot={"@107": D(40)}), at=1_000)
    ex.apply(A.Deposit(user=ALICE, amount=D(1_000)))
    ex.apply(A.Deposit(user=BOB, amount=D(1_000)))
    return ex


def test_granted_address_may_enable_portfolio_margin_and_others_may_not() -> None:
    ex = _funded()
    with pytest.raises(ModeError, match="weighted volume above 5,000,000"):
        ex.apply(A.SetAbstraction(user=ALICE, abstraction=PM))
    ex.apply(A.GrantPmEligibility(address=ALICE))
    ex.apply(A.SetAbstraction(user=ALICE, abstraction=PM))
    assert ex.state.accounts[ALICE].mode.value == PM
    with pytest.raises(ModeError, match="weighted volume above 5,000,000"):
        ex.apply(A.SetAbstraction(user=BOB, abstraction=PM))  # the rule stands for everyone else
    assert views.info(ex, {"type": "userAbstraction", "user": ALICE}) == PM


def test_revoked_grant_and_the_account_value_cap_still_apply() -> None:
    ex = _funded()
    ex.apply(A.GrantPmEligibility(address=BOB))
    ex.apply(A.GrantPmEligibility(address=BOB, eligible=False))
    with pytest.raises(ModeError, match="weighted volume"):
        ex.apply(A.SetAbstraction(user=BOB, abstraction=PM))
    ex.apply(A.Deposit(user=ALICE, amount=D(6_000_000)))
    ex.apply(A.GrantPmEligibility(address=ALICE))
    with pytest.raises(ModeError, match="not below the 5,000,000 USDC limit"):
        ex.apply(A.SetAbstraction(user=ALICE, abstraction=PM))


def test_operator_endpoint_grants(tmp_path: Path) -> None:
    node = Node("hyperliquid-prealpha", open_log(tmp_path / "g.sqlite"))
    api = create_app(node, operator_token="tok")
    with TestClient(api) as client:
        headers = {"authorization": "Bearer tok"}
        r = client.post("/operator/eligibility", json={"user": ALICE, "eligible": True}, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        bad = client.post("/operator/eligibility", json={"user": "0x12"}, headers=headers)
        assert bad.status_code == 422 and "user" in bad.json()["msg"]
    node.submit(A.Deposit(user=ALICE, amount=D(100)))
    assert node.submit(A.SetAbstraction(user=ALICE, abstraction=PM)).error is None
    node.close()


def test_serve_flag_grants_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    db = tmp_path / "demo.sqlite"
    args = ["serve", "--preset", "hyperliquid-prealpha", "--db", str(db), "--grant-pm", ALICE]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert f"portfolio margin granted to {ALICE}" in result.output
    again = CliRunner().invoke(cli_app, ["serve", "--db", str(db), "--grant-pm", ALICE])  # idempotent
    assert again.exit_code == 0, again.output
    node = Node(None, open_log(db))
    assert sorted(node.exchange.state.pm_grants) == [ALICE]
    node.submit(A.Deposit(user=ALICE, amount=D(100)))
    assert node.submit(A.SetAbstraction(user=ALICE, abstraction=PM)).error is None
    node.close()
