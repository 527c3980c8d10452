"""Hyperliquid ``/exchange`` wire actions -> engine actions, and engine events -> wire responses.

Field names follow ``hyperliquid-python-sdk`` 0.24.0 (``exchange.py``, ``utils/signing.py``) and
Hyperliquid docs 'Exchange endpoint'. Amounts arrive as decimal strings; integer USD
fields (``ntli``, ``usd``) are 1e6 units. A malformed field raises ``InvalidAction`` naming it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from netclear.engine import actions as A
from netclear.engine import order_actions as O
from netclear.engine.events import CreateSubAccount, Event, OrderStatuses
from netclear.errors import InvalidAction
from netclear.fixedpoint import parse_decimal
from netclear.markets.registry import Registry

ABSTRACTION_CODES = {"u": "unifiedAccount", "p": "portfolioMargin", "i": "disabled"}


def _get(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise InvalidAction(where, "must be an object")
    if key not in d:
        raise InvalidAction(f"{where}.{key}", "is required")
    return d[key]


def _dec(value: Any, where: str) -> Decimal:
    return parse_decimal(value, field=where)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAction(where, "must be an integer")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidAction(where, "must be a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidAction(where, "must be true or false")
    return value


def _oid_ref(value: Any, where: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidAction(where, "an order id or a cloid")
    return value


def order_spec(w: Any, where: str) -> O.OrderSpec:
    if not isinstance(w, dict):
        raise InvalidAction(where, "must be an order object")
    t = _get(w, "t", where)
    if not isinstance(t, dict) or len(t) != 1 or next(iter(t)) not in ("limit", "trigger"):
        raise InvalidAction(f"{where}.t", 'must be {"limit": {...}} or {"trigger": {...}}')
    limit = trigger = None
    if "limit" in t:
        tif = t["limit"].get("tif") if isinstance(t["limit"], dict) else None
        if tif not in ("Gtc", "Ioc", "Alo", "FrontendMarket"):
            raise InvalidAction(f"{where}.t.limit.tif", "must be Gtc, Ioc or Alo")
        limit = O.LimitSpec(tif)
    else:
        tr = t["trigger"]
        if not isinstance(tr, dict):
            raise InvalidAction(f"{where}.t.trigger", "must be an object")
        tpsl = tr.get("tpsl")
        if tpsl not in ("tp", "sl"):
            raise InvalidAction(f"{where}.t.trigger.tpsl", 'must be "tp" or "sl"')
        trigger = O.TriggerSpec(
            _dec(_get(tr, "triggerPx", f"{where}.t.trigger"), f"{where}.t.trigger.triggerPx"),
            _bool(_get(tr, "isMarket", f"{where}.t.trigger"), f"{where}.t.trigger.isMarket"),
            tpsl,
        )
    cloid = w.get("c")
    if cloid is not None and not isinstance(cloid, str):
        raise InvalidAction(f"{where}.c", "must be a hex string")
    return O.OrderSpec(
        asset=_int(_get(w, "a", where), f"{where}.a"),
        is_buy=_bool(_get(w, "b", where), f"{where}.b"),
        px=_dec(_get(w, "p", where), f"{where}.p"),
        sz=_dec(_get(w, "s", where), f"{where}.s"),
        reduce_only=_bool(w.get("r", False), f"{where}.r"),
        limit=limit,
        trigger=trigger,
        cloid=cloid,
    )


def _token_name(reg: Registry, raw: Any, where: str) -> str:
    """``"HYPE:0x0d01..."`` (name:tokenId, the SDK's spot token form) or a plain name."""
    if not isinstance(raw, str):
        raise InvalidAction(where, "must be a token name")
    name = raw.split(":", 1)[0]
    reg.token(name, field=where)
    return name


def to_engine(reg: Registry, action: dict[str, Any], account: str) -> A.Action:
    """Translate a verified wire action acting for ``account`` into one engine action."""
    kind = action.get("type")
    w = "action"
    if kind == "order":
        orders = _get(action, "orders", w)
        if not isinstance(orders, list) or not orders:
            raise InvalidAction("action.orders", "must be a non-empty list")
        grouping = action.get("grouping", "na")
        if grouping not in ("na", "normalTpsl", "positionTpsl"):
            raise InvalidAction("action.grouping", "must be na, normalTpsl or positionTpsl")
        return O.PlaceOrder(
            user=account,
            orders=[order_spec(o, f"action.orders[{i}]") for i, o in enumerate(orders)],
            grouping=grouping,
        )
    if kind == "cancel":
        cancels = _get(action, "cancels", w)
        if not isinstance(cancels, list):
            raise InvalidAction("action.cancels", "must be a list")
        return O.Cancel(
            user=account,
            cancels=[
                O.CancelSpec(
                    _int(_get(c, "a", f"action.cancels[{i}]"), f"action.cancels[{i}].a"),
                    _int(_get(c, "o", f"action.cancels[{i}]"), f"action.cancels[{i}].o"),
                )
                for i, c in enumerate(cancels)
            ],
        )
    if kind == "cancelByCloid":
        cancels = _get(action, "cancels", w)
        if not isinstance(cancels, list):
            raise InvalidAction("action.cancels", "must be a list")
        return O.CancelByCloid(
            user=account,
            cancels=[
                O.CloidCancelSpec(
                    _int(_get(c, "asset", f"action.cancels[{i}]"), f"action.cancels[{i}].asset"),
                    str(_get(c, "cloid", f"action.cancels[{i}]")),
                )
                for i, c in enumerate(cancels)
            ],
        )
    if kind == "modify":
        return O.Modify(
            user=account,
            oid=_oid_ref(_get(action, "oid", w), "action.oid"),
            order=order_spec(_get(action, "order", w), "action.order"),
        )
    if kind == "batchModify":
        mods = _get(action, "modifies", w)
        if not isinstance(mods, list):
            raise InvalidAction("action.modifies", "must be a list")
        return O.BatchModify(
            user=account,
            modifies=[
                O.ModifySpec(
                    _oid_ref(_get(m, "oid", f"action.modifies[{i}]"), f"action.modifies[{i}].oid"),
                    order_spec(_get(m, "order", f"action.modifies[{i}]"), f"action.modifies[{i}].order"),
                )
                for i, m in enumerate(mods)
            ],
        )
    if kind == "scheduleCancel":
        t = action.get("time")
        return O.ScheduleCancel(user=account, time=None if t is None else _int(t, "action.time"))
    if kind == "updateLeverage":
        return A.UpdateLeverage(
            user=account,
            asset=_int(_get(action, "asset", w), "action.asset"),
            is_cross=_bool(_get(action, "isCross", w), "action.isCross"),
            leverage=_int(_get(action, "leverage", w), "action.leverage"),
        )
    if kind == "updateIsolatedMargin":
        ntli = _int(_get(action, "ntli", w), "action.ntli")
        return A.UpdateIsolatedMargin(
            user=account,
            asset=_int(_get(action, "asset", w), "action.asset"),
            amount=Decimal(ntli).scaleb(-6),
        )
    if kind == "usdClassTransfer":
        raw = str(_get(action, "amount", w))
        amount = raw.split(" subaccount:", 1)[0]
        return A.UsdClassTransfer(
            user=account,
            amount=_dec(amount, "action.amount"),
            to_perp=_bool(_get(action, "toPerp", w), "action.toPerp"),
        )
    if kind == "usdSend":
        return A.UsdSend(
            user=account,
            destination=str(_get(action, "destination", w)),
            amount=_dec(_get(action, "amount", w), "action.amount"),
        )
    if kind == "spotSend":
        return A.SpotSend(
            user=account,
            destination=str(_get(action, "destination", w)),
            token=_token_name(reg, _get(action, "token", w), "action.token"),
            amount=_dec(_get(action, "amount", w), "action.amount"),
        )
    if kind == "sendAsset":
        return A.SendAsset(
            user=account,
            destination=str(_get(action, "destination", w)),
            source_dex=_str(_get(action, "sourceDex", w), "action.sourceDex"),
            destination_dex=_str(_get(action, "destinationDex", w), "action.destinationDex"),
            token=_token_name(reg, _get(action, "token", w), "action.token"),
            amount=_dec(_get(action, "amount", w), "action.amount"),
        )
    if kind == "userDexAbstraction":
        return A.SetDexAbstraction(user=account, enabled=_bool(_get(action, "enabled", w), "action.enabled"))
    if kind == "noop":
        return A.Noop(user=account)
    if kind == "agentEnableDexAbstraction":
        return A.SetDexAbstraction(user=account, enabled=True)
    if kind == "withdraw3":
        return A.Withdraw(user=account, amount=_dec(_get(action, "amount", w), "action.amount"))
    if kind == "approveAgent":
        agent_name = action.get("agentName")
        return A.ApproveAgent(
            user=account,
            agent=str(_get(action, "agentAddress", w)),
            name=agent_name if isinstance(agent_name, str) and agent_name else None,
        )
    if kind == "userSetAbstraction":
        return A.SetAbstraction(user=account, abstraction=_abstraction(_get(action, "abstraction", w), False))
    if kind == "agentSetAbstraction":
        return A.SetAbstraction(user=account, abstraction=_abstraction(_get(action, "abstraction", w), True))
    if kind == "borrowLend":
        op = _get(action, "operation", w)
        if op not in ("supply", "withdraw", "borrow", "repay"):
            raise InvalidAction("action.operation", "must be supply, withdraw, borrow or repay")
        raw_amount = action.get("amount")
        return A.BorrowLend(
            user=account,
            operation=op,
            token=_int(_get(action, "token", w), "action.token"),
            amount=None if raw_amount is None else _dec(raw_amount, "action.amount"),
        )
    if kind == "createSubAccount":
        return A.CreateSubAccount(user=account, name=str(_get(action, "name", w)))
    if kind == "subAccountTransfer":
        usd = _int(_get(action, "usd", w), "action.usd")
        return A.SubAccountTransfer(
            user=account,
            sub_account=str(_get(action, "subAccountUser", w)),
            is_deposit=_bool(_get(action, "isDeposit", w), "action.isDeposit"),
            amount=Decimal(usd).scaleb(-6),
        )
    if kind == "subAccountSpotTransfer":
        return A.SubAccountTransfer(
            user=account,
            sub_account=str(_get(action, "subAccountUser", w)),
            is_deposit=_bool(_get(action, "isDeposit", w), "action.isDeposit"),
            amount=_dec(_get(action, "amount", w), "action.amount"),
            token=_token_name(reg, _get(action, "token", w), "action.token"),
        )
    raise InvalidAction("action.type", f"{kind!r} is not supported by this server")


def _abstraction(raw: Any, agent: bool) -> Any:
    if not isinstance(raw, str):
        raise InvalidAction("action.abstraction", "must be a string")
    if agent:
        if raw not in ABSTRACTION_CODES:
            raise InvalidAction("action.abstraction", 'must be "u", "p" or "i"')
        return ABSTRACTION_CODES[raw]
    if raw not in ("disabled", "unifiedAccount", "portfolioMargin"):
        raise InvalidAction("action.abstraction", "must be disabled, unifiedAccount or portfolioMargin")
    return raw


# ---------------------------------------------------------------------------- responses
_STATUS_RESPONSES = {
    "order": "order",
    "cancel": "cancel",
    "cancelByCloid": "cancel",
    "batchModify": "batchModify",
}


def ok_response(kind: str, events: list[Event]) -> dict[str, Any]:
    """``{"status": "ok", "response": ...}`` in the exchange endpoint's shapes."""
    statuses = next((e.statuses for e in reversed(events) if isinstance(e, OrderStatuses)), None)
    if kind in _STATUS_RESPONSES and statuses is not None:
        return {"status": "ok", "response": {"type": _STATUS_RESPONSES[kind], "data": {"statuses": statuses}}}
    if kind == "modify" and statuses and isinstance(statuses[0], dict) and "error" in statuses[0]:
        return {"status": "err", "response": statuses[0]["error"]}
    created = next((e.sub_account for e in events if isinstance(e, CreateSubAccount)), None)
    if kind == "createSubAccount" and created is not None:
        return {"status": "ok", "response": {"type": "createSubAccount", "data": created}}
    return {"status": "ok", "response": {"type": "default"}}


def err_response(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}
