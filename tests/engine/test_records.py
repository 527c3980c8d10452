"""History records kept as integers and rendered when read (engine/records.py): a fill, a public trade
and a cancel's order record are stored deferred, read as the same JSON the views serve, survive a
snapshot (pickle) deferred, and the /info answers are plain dicts."""

from __future__ import annotations

import pickle
from typing import Any

from netclear import views
from netclear.engine import order_actions as O
from netclear.engine.records import Deferred, plain
from tests.conftest import ALICE, BOB
from tests.engine.test_orders import new_exchange, order


def _render(coin: str, px: int) -> dict[str, Any]:
    return {"coin": coin, "px": str(px), "time": 7}


def test_a_deferred_record_renders_once_on_first_read_and_reads_as_its_json() -> None:
    r = Deferred(7, _render, "BTC", 5)
    assert r["time"] == 7 and r._json is None  # the time is read without rendering
    assert r == {"coin": "BTC", "px": "5", "time": 7} and r == {"coin": "BTC", "px": "5", "time": 7}
    assert {**r, "px": "6"} == {"coin": "BTC", "px": "6", "time": 7}
    assert r.json() is r.json() and plain(r) is r.json()
    # an order status holding a deferred order is copied with the order rendered
    status = {"order": Deferred(None, _render, "ETH", 1), "status": "canceled"}
    assert plain(status) == {"order": {"coin": "ETH", "px": "1", "time": 7}, "status": "canceled"}
    assert type(plain(status)["order"]) is dict


def test_pickled_deferred_records_stay_deferred_until_rendered() -> None:
    fresh = pickle.loads(pickle.dumps(Deferred(7, _render, "BTC", 5)))
    assert isinstance(fresh, Deferred) and fresh._json is None and fresh == _render("BTC", 5)
    read = Deferred(7, _render, "BTC", 5)
    read.json()
    back = pickle.loads(pickle.dumps(read))
    assert type(back) is dict and back == _render("BTC", 5)


def test_fill_trade_and_cancel_records_are_stored_deferred_and_served_as_plain_json() -> None:
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    order(ex, BOB, "BTC", True, 102000, "0.1")
    hist = ex.state.history
    (fa,) = hist.fills[ALICE]
    (trade,) = hist.trades["BTC"]
    assert isinstance(fa, Deferred) and fa._json is None
    assert isinstance(trade, Deferred) and trade._json is None
    # the same numbers test_orders checks through userFills: 0.1 BTC at 101,000, maker fee 1.515 USDC
    (served,) = views.info(ex, {"type": "userFills", "user": ALICE})
    assert type(served) is dict
    assert (served["px"], served["sz"], served["side"], served["fee"], served["dir"]) == (
        "101000",
        "0.1",
        "A",
        "1.515",
        "Open Short",
    )
    assert served["hash"] == "0x" + format(served["tid"], "064x")
    assert trade["px"] == "101000" and trade["users"] == [BOB, ALICE]
    # a resting order canceled: its status record keeps the order deferred until read
    assert order(ex, ALICE, "BTC", False, 105000, "0.2") == {"resting": {"oid": 3}}
    ex.apply(_cancel(ALICE, 3))
    last = hist.orders[ALICE][-1]
    assert last["status"] == "canceled" and isinstance(last["order"], Deferred)
    answer = views.info(ex, {"type": "orderStatus", "user": ALICE, "oid": 3})
    assert answer["order"]["status"] == "canceled"
    assert type(answer["order"]["order"]) is dict
    assert (answer["order"]["order"]["limitPx"], answer["order"]["order"]["sz"]) == ("105000", "0.2")
    assert answer["order"]["order"]["coin"] == "BTC"


def _cancel(user: str, oid: int) -> O.Cancel:
    return O.Cancel(user=user, cancels=[O.CancelSpec(asset="BTC", oid=oid)])


def test_a_filled_makers_status_record_stays_deferred_and_shows_size_zero() -> None:
    """A maker filled in full: its "filled" status record holds the order deferred (no formatting at fill
    time) and reads as the order with ``sz`` "0.0" and its original size kept."""
    ex = new_exchange()
    assert order(ex, ALICE, "BTC", False, 101000, "0.1") == {"resting": {"oid": 1}}
    order(ex, BOB, "BTC", True, 102000, "0.1")
    last = ex.state.history.orders[ALICE][-1]
    assert last["status"] == "filled" and isinstance(last["order"], Deferred) and last["order"]._json is None
    answer = views.info(ex, {"type": "orderStatus", "user": ALICE, "oid": 1})
    served = answer["order"]["order"]
    assert answer["order"]["status"] == "filled" and type(served) is dict
    assert (served["oid"], served["side"], served["limitPx"], served["sz"], served["origSz"]) == (
        1,
        "A",
        "101000",
        "0.0",
        "0.1",
    )


def test_a_deferred_limit_order_renders_as_its_order_json() -> None:
    """order_json.deferred_order_json (a limit order's status record kept as integers) reads as the eager
    order_json of the same order, for perps and spot, with and without cloid."""
    from netclear.engine import order_json as oj

    ex = new_exchange()
    for asset in (0, 3, 10_107):
        m = oj.market_of(ex.registry, asset)
        for args in (
            (7, ALICE, True, 9_000_000_000_000, 123, 456, 1_000, None, False, "Gtc"),
            (8, BOB, False, 12_345_000, 0, 10**9, 2_000, "0x" + "ab" * 16, True, "Ioc"),
        ):
            oid, user, is_buy, px, sz, orig_sz, time, cloid, reduce_only, tif = args
            eager = oj.order_json(
                oid=oid, user=user, m=m, is_buy=is_buy, px=px, sz=sz, orig_sz=orig_sz, time=time,
                cloid=cloid, reduce_only=reduce_only, tif=tif,
            )  # fmt: skip
            deferred = oj.deferred_order_json(m, *args)
            assert deferred._json is None and deferred == eager and list(deferred) == list(eager)
            assert pickle.loads(pickle.dumps(deferred)) == eager
