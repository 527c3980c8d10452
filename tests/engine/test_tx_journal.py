"""The transaction as an undo journal (engine/tx.py, netclear/undo.py): whatever an action changed before
it failed -- accounts, holds, books (with time priority), triggers and their parent index, markets,
cooldowns, agents, counters -- comes back exactly; snapshots keep their pickled shape.

The randomized test injects a fault at a random *write* of a random action: the journal itself raises
when its k-th entry is appended, i.e. just before the k-th change to the state, wherever in the handlers
that is. A rollback must then give back a state equal, field by field and in every map's order, to the
one before the action.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import random
from decimal import Decimal as D
from typing import Any

import pytest

from netclear import undo
from netclear.book.orderbook import OrderBook
from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.exchange import Exchange
from netclear.engine.handlers import matching
from netclear.engine.state import Account, ExchangeState, LeverageSetting, Position, TriggerOrder, Triggers
from netclear.engine.tx import Tx
from netclear.errors import NetclearError
from tests.conftest import ALICE, BOB, CAROL, MAKER
from tests.engine.test_orders import new_exchange, spec, trigger

USERS = (ALICE, BOB, CAROL, MAKER)
AGENT = "0x" + "9a" * 20
_SKIP = {"seq", "history", "fee_cache"}
"""Not part of what a rejected action must leave alone: ``seq`` counts rejected actions too; history
records are added only after an action commits; the fee cache is derived."""


class Boom(RuntimeError):
    """The injected engine defect."""


def dump(obj: Any) -> Any:
    """Everything in ``obj``, recursively, with every map's iteration order and every book's internals."""
    if isinstance(obj, OrderBook):
        sides = []
        for side in (obj._bids, obj._asks):
            sides.append(
                (
                    list(side.keys),
                    [
                        (lv.px, lv.total_sz, [dump(o) for o in lv.orders.values()])
                        for lv in side.iter_levels()
                    ],
                )
            )
        return (
            "book",
            obj.asset,
            sides,
            list(obj._orders),  # arrival order
            sorted((u, list(d)) for u, d in obj._by_user.items()),  # per user: arrival order
            sorted((k, o.oid) for k, o in obj._by_cloid.items()),  # (the order of index maps means nothing)
            sorted(obj._arrival.items()),
            obj._next_arrival,
        )
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (
            type(obj).__name__,
            [(f.name, dump(getattr(obj, f.name))) for f in dataclasses.fields(obj) if f.name not in _SKIP],
        )
    if isinstance(obj, Triggers):
        return ("triggers", [(k, dump(v)) for k, v in obj.items()], sorted(obj.by_parent.items()))
    if isinstance(obj, dict):
        return ("dict", [(k, dump(v)) for k, v in obj.items()])
    if isinstance(obj, set | frozenset):
        return ("set", sorted(obj))
    if isinstance(obj, list | tuple):
        return [dump(v) for v in obj]
    return obj


def _journal_faults(monkeypatch: pytest.MonkeyPatch, at: int) -> list[int]:
    """Make every journal raise :class:`Boom` just before its ``at``-th change; returns a one-item list
    that becomes ``[1]`` once the fault fired."""
    fired = [0]

    class Faulty(list[Any]):
        def append(self, entry: Any) -> None:
            if len(self) >= at and not fired[0]:
                fired[0] = 1
                raise Boom(f"defect at write {at}")
            super().append(entry)

    def begin() -> list[Any]:
        log = Faulty()
        undo._local.log = log
        return log

    monkeypatch.setattr(undo, "begin", begin)
    return fired


def _random_action(rng: random.Random, ex: Exchange) -> tuple[Any, int | None]:
    st = ex.state
    user = rng.choice(USERS)
    mark = st.prices.mark.get(0, 100_000 * 10**8) // 10**8
    kind = rng.random()
    px = mark + rng.randint(-300, 300)
    sz = D(rng.choice(["0.001", "0.002", "0.005", "0.01", "0.03"]))
    is_buy = rng.random() < 0.5
    if kind < 0.40:
        tif = rng.choice(["Gtc", "Gtc", "Ioc", "Alo"])
        cloid = "0x" + f"{rng.randrange(1 << 64):032x}" if rng.random() < 0.2 else None
        return O.PlaceOrder(user=user, orders=[spec("BTC", is_buy, px, sz, tif, cloid=cloid)]), None
    if kind < 0.50:
        side = 1 if is_buy else -1
        return (
            O.PlaceOrder(
                user=user,
                orders=[
                    spec("BTC", is_buy, px, sz),
                    trigger("BTC", not is_buy, px - side * 2000, sz, px - side * 1500, "sl"),
                    trigger("BTC", not is_buy, px + side * 2000, sz, px + side * 1500, "tp"),
                ],
                grouping="normalTpsl",
            ),
            None,
        )
    if kind < 0.56:
        tp = px + rng.choice([-1, 1]) * rng.randint(200, 1500)
        return O.PlaceOrder(
            user=user, orders=[trigger("BTC", is_buy, tp, sz, tp, "sl", reduce_only=False)]
        ), None
    if kind < 0.70:
        mine = [(0, o.oid) for o in st.books[0].orders_of(user)] if 0 in st.books else []
        mine += [(t.asset, t.oid) for t in st.triggers.values() if t.user == user]
        if mine:
            asset, oid = rng.choice(mine)
            if rng.random() < 0.7:
                return O.Cancel(user=user, cancels=[O.CancelSpec(asset, oid)]), None
            return O.Modify(user=user, oid=oid, order=spec("BTC", is_buy, px, sz)), None
        return O.Cancel(user=user, cancels=[O.CancelSpec(0, 10**9)]), None
    if kind < 0.82:
        move = D(mark) * (1 + D(rng.randint(-40, 40)) / 1000)
        move = move.to_integral_value()
        return A.SetPrices(oracle={"BTC": move}, marks={"BTC": move}), None
    if kind < 0.88:
        return A.AdvanceTime(), st.time_ms + rng.randint(1, 3_600_000)
    if kind < 0.92:
        return O.ScheduleCancel(user=user, time=st.time_ms + rng.randint(5_000, 4_000_000)), None
    if kind < 0.95:
        return A.ApproveAgent(user=user, agent=AGENT, name=rng.choice([None, "bot"])), None
    return A.Deposit(user=user, amount=D(rng.randint(1, 5000))), None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fault_at_any_write_rolls_everything_back(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    ex = new_exchange()
    faults = 0
    for _ in range(120):
        action, at = _random_action(rng, ex)
        before, before_hash = dump(ex.state), ex.state_hash()
        with monkeypatch.context() as mp:
            fired = _journal_faults(mp, int(rng.expovariate(0.15)))  # mostly early writes, some late
            try:
                ex.apply(action, at=at)
            except Boom:
                pass
            except NetclearError:
                continue
        if fired[0]:
            faults += 1
            assert undo.active() is None
            assert ex.state_hash() == before_hash
            assert dump(ex.state) == before
            for book in ex.state.books.values():
                book.assert_consistent()
            ex.screen.invalidate()
            with contextlib.suppress(NetclearError):  # the same action without the defect: as usual
                ex.apply(action, at=at)
    assert faults >= 40  # the faults really hit (most actions make more changes than the fault index)


def _crossing_book() -> Exchange:
    """Three resting asks at 100,000 / 100,100 / 100,200 from three makers, one of them a ``normalTpsl``
    parent whose two children wait for it to fill."""
    ex = new_exchange()
    ex.apply(O.PlaceOrder(user=ALICE, orders=[spec("BTC", False, 100000, "0.01")]))
    ex.apply(
        O.PlaceOrder(
            user=CAROL,
            orders=[
                spec("BTC", False, 100100, "0.01"),
                trigger("BTC", True, 110000, "0.01", 105000, "sl"),
                trigger("BTC", True, 90000, "0.01", 95000, "tp"),
            ],
            grouping="normalTpsl",
        )
    )
    ex.apply(O.PlaceOrder(user=MAKER, orders=[spec("BTC", False, 100200, "0.01")]))
    return ex


def test_a_defect_in_settlement_mid_match_leaves_books_holds_and_accounts_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ex = _crossing_book()
    book = ex.state.books[0]
    parent = book.orders_of(CAROL)[0].oid
    assert [t.parent for t in ex.state.triggers.values()] == [parent, parent]
    before, before_hash = dump(ex.state), ex.state_hash()
    holds = {u: dict(ex.state.accounts[u].order_margin) for u in USERS}
    real = matching.settle_trade
    calls = [0]

    def settle_then_fail(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:  # ALICE's and CAROL's asks have traded and left the book; CAROL's children are live
            assert len(book) == 1 and all(t.parent is None for t in ex.state.triggers.values())
            raise Boom("settlement defect")
        real(*args, **kwargs)

    monkeypatch.setattr(matching, "settle_trade", settle_then_fail)
    with pytest.raises(Boom):
        ex.apply(O.PlaceOrder(user=BOB, orders=[spec("BTC", True, 100200, "0.03", "Ioc")]))
    assert calls[0] == 3
    assert ex.state_hash() == before_hash
    assert dump(ex.state) == before
    assert [o.user for o in book.iter_orders()] == [ALICE, CAROL, MAKER]  # price-time priority intact
    assert {u: dict(ex.state.accounts[u].order_margin) for u in USERS} == holds
    assert [t.parent for t in ex.state.triggers.values()] == [parent, parent]
    assert ex.state.triggers.children(parent) == list(ex.state.triggers.values())
    book.assert_consistent()
    monkeypatch.setattr(matching, "settle_trade", real)
    ex.apply(O.PlaceOrder(user=BOB, orders=[spec("BTC", True, 100200, "0.03", "Ioc")]))
    assert len(book) == 0 and ex.state.accounts[BOB].positions[0].szi == 3_000


def test_a_rolled_back_fill_restores_the_queue_order_inside_a_level() -> None:
    ex = new_exchange()
    for user in (ALICE, CAROL, MAKER):
        ex.apply(O.PlaceOrder(user=user, orders=[spec("BTC", False, 100000, "0.01")]))
    book = ex.state.books[0]
    before = dump(ex.state)
    tx = Tx(ex.state)
    head = next(book.iter_orders())
    book.cancel(head.oid)  # the head leaves...
    book.match(BOB, 99, True, 100000 * 10**8, 1_500)  # ...the next one fills, the last is cut
    book.reduce(book.orders_of(MAKER)[0].oid, 100)
    sp = tx.savepoint()
    book.cancel(book.orders_of(MAKER)[0].oid)
    assert len(book) == 0
    tx.rollback_to(sp)
    assert len(book) == 1
    tx.rollback()
    assert dump(ex.state) == before and [o.user for o in book.iter_orders()] == [ALICE, CAROL, MAKER]
    book.assert_consistent()


def test_original_is_the_account_before_the_transaction() -> None:
    ex = new_exchange()
    ex.apply(O.PlaceOrder(user=ALICE, orders=[spec("BTC", False, 100000, "0.01")]))
    ex.apply(O.PlaceOrder(user=BOB, orders=[spec("BTC", True, 100000, "0.01", "Ioc")]))
    bob = ex.state.accounts[BOB]
    snapshot = dump(bob)
    tx = Tx(ex.state)
    acct = tx.account(BOB)
    pos = acct.positions[0]
    pos.szi += 7
    acct.spot[0] = acct.spot.get(0, 0) + 5
    sp = tx.savepoint()
    del acct.positions[0]  # the position object leaves after being changed
    acct.positions[5] = Position(5, szi=1)
    acct.perp_cash = {"": 1}  # a whole map replaced
    tx.release(sp)
    original = tx.original(BOB)
    assert original is not None and original is not bob and dump(original) == snapshot
    assert tx.original("0x" + "77" * 20) is None
    tx.account("0x" + "77" * 20)
    assert tx.original("0x" + "77" * 20) is None  # created by this transaction
    tx.rollback()
    assert dump(ex.state.accounts[BOB]) == snapshot and "0x" + "77" * 20 not in ex.state.accounts


def test_every_map_and_object_of_the_state_is_journaled() -> None:
    ex = _crossing_book()
    st = ex.state
    ex.apply(A.ApproveAgent(user=ALICE, agent=AGENT))
    before = dump(st)
    tx = Tx(st)
    st.liquidation_cooldown[ALICE] = 1
    st.agents.clear()
    st.scheduled_cancels[BOB] = 10**9
    st.pm_grants.add(BOB)
    st.markets[0].day_ntl_vlm += 1
    st.prices.mark[0] = 1
    st.prices = dataclasses.replace(st.prices)
    st.external_in = {}
    st.next_oid += 10
    next(iter(st.triggers.values())).trigger_px = 1
    st.triggers.clear()
    st.accounts[CAROL].leverage[0] = LeverageSetting(False, 3)
    st.reserves.clear()
    tx.rollback()
    assert dump(st) == before
    # whatever a handler assigns, the state's maps stay journaled ones
    assert type(st.external_in) is undo.JDict and type(st.triggers) is Triggers
    with pytest.raises(AttributeError):
        del st.accounts[ALICE].spot


def test_trigger_children_are_found_through_the_parent_index() -> None:
    """cancel_children / activate_children read only the parent's children: with thousands of other
    triggers resting, a map that refuses to be scanned still answers."""

    class NoScan(Triggers):
        __slots__ = ()

        def _refuse(self, *a: Any) -> Any:
            raise AssertionError("scanned every trigger")

        values = items = keys = __iter__ = _refuse  # type: ignore[assignment]

    ex = _crossing_book()
    st = ex.state
    carol_parent = st.books[0].orders_of(CAROL)[0].oid
    kids = [t.oid for t in st.triggers.children(carol_parent)]
    noise = NoScan(dict.items(st.triggers))
    for i in range(5_000):
        oid = 10**6 + i
        dict.__setitem__(noise, oid, TriggerOrder(oid, MAKER, 0, True, 1, 1, 1, True, "sl", False, 0))
    object.__setattr__(st, "triggers", noise)
    # a cancel of the parent takes exactly its two children
    ex.apply(O.Cancel(user=CAROL, cancels=[O.CancelSpec(0, carol_parent)]))
    assert all(k not in dict.keys(noise) for k in kids) and len(noise.by_parent) == 0
    assert dict.__len__(noise) == 5_000
    # a parent that fills activates its children
    ex.apply(
        O.PlaceOrder(
            user=CAROL,
            orders=[spec("BTC", False, 100000, "0.01"), trigger("BTC", True, 110000, "0.01", 105000, "sl")],
            grouping="normalTpsl",
        )
    )
    (child,) = [t for t in noise.by_parent.values()]
    ex.apply(O.PlaceOrder(user=BOB, orders=[spec("BTC", True, 100000, "0.02", "Ioc")]))
    assert dict.__getitem__(noise, child[0]).parent is None and not noise.by_parent


def test_the_parent_index_follows_rollbacks_and_loads() -> None:
    st = ExchangeState()
    t1 = TriggerOrder(5, ALICE, 0, True, 1, 1, 1, True, "sl", False, 0, parent=4)
    t2 = TriggerOrder(6, ALICE, 0, True, 1, 1, 1, True, "tp", False, 0, parent=4)
    st.triggers[5], st.triggers[6] = t1, t2
    tx = Tx(st)
    del st.triggers[5]
    assert st.triggers.children(4) == [t2]
    tx.rollback()
    assert list(st.triggers) == [5, 6] and st.triggers.children(4) == [t1, t2]
    loaded = pickle.loads(pickle.dumps(st))
    assert type(loaded.triggers) is Triggers and [t.oid for t in loaded.triggers.children(4)] == [5, 6]


def test_snapshots_keep_their_pickled_shape_and_load_journaled() -> None:
    ex = _crossing_book()
    ex.apply(A.ApproveAgent(user=ALICE, agent=AGENT))
    blob = pickle.dumps(ex.state, protocol=5)
    assert b"netclear.undo" not in blob and b"JDict" not in blob and b"_arrival" not in blob
    loaded: ExchangeState = pickle.loads(blob)
    again = Exchange("hyperliquid", state=loaded)
    assert again.state_hash() == ex.state_hash() and dump(loaded) == dump(ex.state)
    assert type(loaded.accounts) is undo.JDict and type(loaded.accounts[ALICE].spot) is undo.JDict
    # a snapshot written before journaling existed has plain maps (the same bytes): it loads journaled
    old = ExchangeState.__new__(ExchangeState)
    for f in dataclasses.fields(ExchangeState):
        value = getattr(ex.state, f.name)
        object.__setattr__(old, f.name, dict(value) if isinstance(value, dict) else value)
    old_loaded = pickle.loads(pickle.dumps(old))
    assert type(old_loaded.triggers) is Triggers and type(old_loaded.agents) is undo.JDict
    assert Exchange("hyperliquid", state=old_loaded).state_hash() == ex.state_hash()
    # and the loaded state rolls back like a live one
    before = dump(old_loaded)
    tx = Tx(old_loaded)
    old_loaded.books[0].cancel(next(old_loaded.books[0].iter_orders()).oid)
    old_loaded.accounts[ALICE].spot.clear()
    tx.rollback()
    assert dump(old_loaded) == before


def test_a_dropped_read_only_transaction_stops_its_journal() -> None:
    st = ExchangeState()
    Tx(st).account(ALICE)  # dropped at once, as a view does
    assert undo.active() is None
    tx = Tx(st)
    inner = Tx(st)  # nests: shares the journal
    st.accounts[BOB] = Account(BOB)
    inner.rollback()
    assert BOB not in st.accounts and undo.active() is not None
    tx.commit()
    assert undo.active() is None
