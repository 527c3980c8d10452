"""The Hyperliquid-compatible HTTP and websocket API (FastAPI), served by ``netclear serve``.

* ``POST /info``: every view of the engine (:mod:`netclear.views`), Hyperliquid's JSON.
* ``POST /exchange``: signed actions (:mod:`netclear.api.auth`), answered as the exchange endpoint
  does: ``{"status": "ok", "response": ...}`` or ``{"status": "err", "response": "<message>"}``;
  served by :class:`ExchangeFastPath`, past FastAPI's routing (the route documents it).
* ``/ws``: ``subscribe`` / ``unsubscribe`` / ``ping`` (:mod:`netclear.api.ws`).
* ``/operator/*``: what the bridge and the oracle do on the real exchange (deposit, prices, time,
  snapshot), on loopback only and behind a bearer token (docs/api.md).

The official ``hyperliquid-python-sdk`` talks to it unchanged at ``http://127.0.0.1:3001``; for any
non-mainnet URL the SDK signs as testnet, which is this server's default chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
from fastapi import FastAPI, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from netclear.api import auth, wire
from netclear.api.lookups import AgentView, VaultView
from netclear.api.writer import Writer, WriterReadOnly
from netclear.api.ws import Hub
from netclear.engine import actions as A
from netclear.errors import InvalidAmount, NetclearError
from netclear.fixedpoint import parse_decimal
from netclear.ledger.node import Node, Outcome
from netclear.views import info as view_info


class ApiError(BaseModel):
    code: int
    msg: str
    data: Any = None


class DepositRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    amount: str
    token: str = "USDC"


class PricesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    oracle: dict[str, str] = Field(default_factory=dict)
    marks: dict[str, str] = Field(default_factory=dict)
    spot: dict[str, str] = Field(default_factory=dict)
    usdcOracle: str | None = None


class EligibilityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    eligible: bool = True


class DemoSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    running: bool


MAX_ADVANCE_MS = 10 * 366 * 86_400_000
"""One ``/operator/time`` call moves the clock by at most ten years (times are int64 milliseconds)."""


class TimeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advanceMs: int = Field(ge=0, le=MAX_ADVANCE_MS)


def _operator_decimal(value: str, field: str) -> Decimal:
    """Operator amounts and prices follow the wire's number grammar and bounds (fixedpoint)."""
    return parse_decimal(value, field=field)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _edge_json(payload: dict[str, Any]) -> Response:
    """An ``/exchange`` answer serialised by orjson (about 15x FastAPI's encoder on an order's answer,
    docs/benchmarks.md); anything orjson refuses (an int beyond 64 bits) takes the standard path."""
    try:
        return Response(orjson.dumps(payload), media_type="application/json")
    except TypeError:
        return JSONResponse(jsonable_encoder(payload))


def _client_error(status: int, msg: str, data: Any = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": status, "msg": msg, "data": data})


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host in ("localhost", "testclient")
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    return (mapped or addr).is_loopback  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d


def create_app(
    node: Node,
    *,
    chain: auth.Chain = auth.DEFAULT_CHAIN,
    operator_token: str | None = None,
    dashboard: bool = True,
    runs_dir: str | None = None,
) -> FastAPI:
    hub = Hub(node)
    writer = Writer(node, on_commit=hub.notify)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            writer.stop()
            await hub.stop()

    app = FastAPI(
        title="netclear",
        version="0.1.0",
        description="Hyperliquid-compatible exchange API over the netclear clearinghouse",
        lifespan=lifespan,
    )
    token = operator_token or secrets.token_hex(16)
    app.state.node = node
    app.state.writer = writer
    app.state.hub = hub
    app.state.operator_token = token

    # ------------------------------------------------------------------ /info
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        return _client_error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.post("/info", responses={422: {"model": ApiError}})
    async def info(request: Request) -> Any:
        try:
            payload = json.loads(await request.body(), parse_constant=_reject_constant)
        except ValueError:
            return _client_error(422, "Failed to deserialize the JSON body")
        except RecursionError:
            return _client_error(422, "Failed to deserialize the JSON body: nested too deeply")
        if not isinstance(payload, dict):
            return _client_error(422, "body: must be a JSON object with a type")
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                None, node.read, lambda ex: view_info(ex, payload)
            )
        except NetclearError as exc:
            return _client_error(422, f"{exc.field}: {exc.rule}")
        return result

    # ------------------------------------------------------------------ /exchange
    async def exchange_answer(raw: bytes) -> Response:
        """The answer to one ``/exchange`` body: authenticated on the event loop (signature recovery
        is ~0.1 ms of CPU under the interpreter lock either way; a thread hop only adds wake-ups),
        then queued for the writer, answered once the action is logged durably and applied."""
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
        except ValueError:
            return _client_error(422, "Failed to deserialize the JSON body")
        except RecursionError:
            return _client_error(422, "Failed to deserialize the JSON body: nested too deeply")
        if not isinstance(body, dict):
            return _client_error(422, "body must be a JSON object")
        try:
            result, action = _authenticate(node, body, chain)
        except NetclearError as exc:
            return _edge_json(
                wire.err_response(
                    f"{exc.rule}" if exc.field in ("signature", "body") else f"{exc.field}: {exc.rule}"
                )
            )
        except RecursionError:
            return _edge_json(wire.err_response("action: nested too deeply"))
        try:
            outcome: Outcome = await writer.submit_async(action, result.signer, result.nonce)
        except WriterReadOnly as exc:
            return _client_error(503, f"{exc.field}: {exc.rule}")
        except NetclearError as exc:
            return _edge_json(wire.err_response(f"{exc.field}: {exc.rule}"))
        if outcome.error is not None:
            return _edge_json(wire.err_response(f"{outcome.error.rule}"))
        assert outcome.events is not None
        return _edge_json(wire.ok_response(result.action.get("type", ""), outcome.events))

    @app.post("/exchange", responses={422: {"model": ApiError}})
    async def exchange(request: Request) -> Any:
        """Documents the route (OpenAPI); requests are answered by :class:`ExchangeFastPath`."""
        return await exchange_answer(await request.body())

    app.add_middleware(ExchangeFastPath, answer=exchange_answer)

    # ------------------------------------------------------------------ /ws
    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await hub.serve(socket)

    # ------------------------------------------------------------------ /operator
    def _operator(request: Request) -> JSONResponse | None:
        client = request.client.host if request.client else None
        if not _is_loopback(client):
            return _client_error(403, "operator API is available on loopback only")
        header = request.headers.get("authorization", "")
        if not secrets.compare_digest(header, f"Bearer {token}"):
            return _client_error(401, "missing or wrong operator token")
        return None

    async def _submit(action: A.Action) -> Any:
        return await _answer(writer.submit_async(action))

    async def _answer(pending: Awaitable[Outcome]) -> Any:
        try:
            outcome = await pending
        except WriterReadOnly as exc:
            return _client_error(503, f"{exc.field}: {exc.rule}")
        except NetclearError as exc:
            return _client_error(422, f"{exc.field}: {exc.rule}")
        if outcome.error is not None:
            return _client_error(422, f"{outcome.error.field}: {outcome.error.rule}")
        return {"status": "ok", "seq": outcome.seq, "time": outcome.time_ms}

    @app.post("/operator/deposit")
    async def deposit(req: DepositRequest, request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        try:
            amount = _operator_decimal(req.amount, "amount")
        except InvalidAmount as exc:
            return _client_error(422, f"{exc.field}: {exc.rule}")
        return await _submit(A.Deposit(user=req.user, amount=amount, token=req.token))

    @app.post("/operator/prices")
    async def prices(req: PricesRequest, request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        try:
            action = A.SetPrices(
                oracle={k: _operator_decimal(v, f"oracle.{k}") for k, v in req.oracle.items()},
                marks={k: _operator_decimal(v, f"marks.{k}") for k, v in req.marks.items()},
                spot={k: _operator_decimal(v, f"spot.{k}") for k, v in req.spot.items()},
                usdc_oracle=(
                    _operator_decimal(req.usdcOracle, "usdcOracle") if req.usdcOracle is not None else None
                ),
            )
        except InvalidAmount as exc:
            return _client_error(422, f"{exc.field}: {exc.rule}")
        demo = getattr(app.state, "demo", None)  # `serve --demo`: the maker re-quotes around these first
        if demo is not None:
            return await _answer(
                asyncio.get_running_loop().run_in_executor(None, demo.operator_prices, action)
            )
        return await _submit(action)

    @app.post("/operator/eligibility")
    async def eligibility(req: EligibilityRequest, request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        answer = await _submit(A.GrantPmEligibility(address=req.user, eligible=req.eligible))
        if isinstance(answer, JSONResponse):  # name the wire field, not the action's
            body = json.loads(bytes(answer.body))
            return _client_error(422, str(body["msg"]).replace("address:", "user:", 1))
        return answer

    @app.post("/operator/demo")
    async def demo_switch(req: DemoSwitch, request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        demo = getattr(app.state, "demo", None)
        if demo is None:
            return _client_error(409, "no demo market on this server (start it with netclear serve --demo)")
        demo.resume() if req.running else demo.pause()
        return {"status": "ok", "running": not demo.paused}

    @app.post("/operator/time")
    async def advance(req: TimeRequest, request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        node.clock_offset_ms += req.advanceMs
        return await _submit(A.AdvanceTime())

    @app.post("/operator/snapshot")
    async def snapshot(request: Request) -> Any:
        denied = _operator(request)
        if denied is not None:
            return denied
        snap = await asyncio.get_running_loop().run_in_executor(None, node.snapshot)
        return {"status": "ok", "seq": snap.seq, "stateHash": snap.state_hash}

    @app.get("/health")
    def health() -> Any:
        seq, state_hash = node.read(lambda ex: (node.seq, ex.state_hash()))  # one consistent state
        state = {"seq": seq, "stateHash": state_hash}
        if writer.read_only is not None:  # loud: monitors see a 503 with the cause (docs/api.md)
            return JSONResponse(
                status_code=503, content={"status": "readOnly", "reason": writer.read_only, **state}
            )
        return {"status": "ok", **state}

    if dashboard:  # GET / and /dashboard/*: files only, the page reads /info and /ws (docs/dashboard.md)
        from netclear.dashboard import mount

        mount(app, runs_dir=runs_dir)
    return app


class ExchangeFastPath:
    """``POST /exchange`` straight from the ASGI server to :func:`exchange_answer`, past FastAPI's
    routing, dependency solving and per-route exception wrappers (about half of the event loop's
    CPU per signed order; docs/benchmarks.md). Everything else goes on to the app. It sits inside
    FastAPI's outer middleware (server errors answer 500, body limits apply) and sends the same
    :class:`Response` objects as the route, so answers are byte for byte the route's."""

    def __init__(self, app: ASGIApp, answer: Callable[[bytes], Awaitable[Response]]) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/exchange" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # as starlette's Request.body()
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        response = await self.answer(b"".join(chunks))
        await response(scope, receive, send)


def _authenticate(node: Node, body: dict[str, Any], chain: auth.Chain) -> tuple[auth.AuthResult, A.Action]:
    """Recover the signer and translate the action (event loop; the writer re-checks the nonce).

    Lookups are O(1) views of the live state (:mod:`netclear.api.lookups`), not tables rebuilt from
    every account per request."""
    state = node.exchange.state
    result = auth.verify_request(
        body,
        chain=chain,
        now_ms=node.signer_now(),
        nonce_store=node.nonces,
        agents=AgentView(state.agents),
        users=state.accounts,  # an unknown signer is refused before the log
        vaults=VaultView(state.accounts),
    )
    return result, wire.to_engine(node.exchange.registry, result.action, result.account)
