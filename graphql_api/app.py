"""FastAPI application: GraphQL at /graphql (HTTP and WebSocket), REST under /api/v1, /health, /ready, /docs."""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from graphql import GraphQLError
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from graphql_api import graphiql, swagger
from graphql_api.auth import KeyRing, Principal
from graphql_api.cache import ReadCache
from graphql_api.context import RequestContext
from graphql_api.live import LiveUpdates
from graphql_api.precise import Revealer
from graphql_api.queries import SQL
from graphql_api.rate_limit import RateLimiter
from graphql_api.reader import Reader, WarehouseSource, warehouse_source
from graphql_api.rest import build_router
from graphql_api.schema import build_schema
from logistics.settings import ApiSettings, Settings, get_settings

log = logging.getLogger("graphql_api")


class ReaderPerRequest:
    """ASGI middleware: one :class:`Reader` per HTTP request, closed when the response is done.

    The reader leases a cursor on the process's warehouse snapshot on its first cache miss (the
    warehouse file itself is only held while a snapshot is copied). The response carries
    ``X-Warehouse-Queries``: the reads this request cost.
    """

    def __init__(self, app: ASGIApp, *, source: WarehouseSource, cache: ReadCache) -> None:
        self.app = app
        self.source = source
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reader = Reader(self.source, self.cache)
        scope.setdefault("state", {})["reader"] = reader

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Warehouse-Queries"] = str(reader.statements_run)
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            reader.close()


class _BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 while it is read, before any parsing.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a body
    without one (chunked) is counted as it arrives and refused at the first chunk past the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLargeError:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"detail": f"request body larger than {self.max_bytes} bytes"})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        # The rest of the body is never read: the connection cannot be reused.
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Gatekeeper:
    """Who may call: API keys, the per-key rate limit, and the per-address limit on failed authentications."""

    def __init__(self, api: ApiSettings) -> None:
        self.api = api
        self.keys = KeyRing(api.keys)
        self.per_key = RateLimiter(per_minute=api.rate_limit_per_minute)
        self.failed_auth = RateLimiter(per_minute=api.failed_auth_per_minute)

    def authenticate(self, headers: Mapping[str, str], client: str) -> Principal:
        """The caller, or an HTTPException (401, or 429 for an address that keeps failing)."""
        principal = self.keys.authenticate(headers)
        if principal is None:
            wait = self.failed_auth.acquire(client)
            if wait is not None:
                raise HTTPException(
                    status_code=429,
                    detail="too many requests without a valid API key from this address",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            raise HTTPException(
                status_code=401,
                detail="missing or invalid API key: send `X-API-Key: <key>` or `Authorization: Bearer <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        self.admit(principal)
        return principal

    def admit(self, principal: Principal) -> None:
        """One request (or WebSocket operation) of ``principal``, or a 429."""
        wait = self.per_key.acquire(principal.name)
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail=f"rate limit of {self.api.rate_limit_per_minute} requests/minute exceeded for this key",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def client_address(connection: HTTPConnection) -> str:
    # Behind a proxy uvicorn's --proxy-headers/--forwarded-allow-ips put the caller's address here.
    return connection.client.host if connection.client else "unknown"


class _TransportWSHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """graphql-transport-ws under the HTTP rules: the key in connection_init (or the handshake), a rate limit per op."""

    view: _Router

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        request = self.context.request
        if isinstance(payload, dict) and not self.connection_init_received and isinstance(request, HTTPConnection):
            headers = {k.lower(): v for k, v in request.headers.items()}
            for name, value in payload.items():  # {"X-API-Key": ...}, {"Authorization": "Bearer ..."}, {"apiKey": ...}
                if isinstance(value, str):
                    headers["x-api-key" if name.lower() in ("apikey", "api_key") else name.lower()] = value
            try:
                self.context.principal = self.view.gate.authenticate(headers, client_address(request))
            except HTTPException as refused:
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                await self.websocket.close(code=4403, reason=str(refused.detail)[:120])
                return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        principal = self.context.principal
        if self.connection_acknowledged and principal is not None:
            try:
                self.view.gate.admit(principal)
            except HTTPException as refused:
                error = GraphQLError(str(refused.detail), extensions={"code": "RATE_LIMITED"})
                await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error.formatted]))
                return
        await super().handle_subscribe(message)


class _TextWebSocket(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames (clients refuse binary ones); HTTP keeps orjson's bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class _Router(GraphQLRouter[RequestContext, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    websocket_adapter_class = _TextWebSocket
    gate: Gatekeeper
    graphiql_headers: dict[str, str]

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql.graphiql_html(headers=self.graphiql_headers))

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET carrying only a persisted query's hash is an operation, not a visit to the IDE.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses lone surrogates ("\ud800") that the stdlib decoder lets through into queries.
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # several times faster than the stdlib encoder Strawberry defaults to

    async def parse_http_body(self, request: Any) -> Any:
        """Strawberry assumes the JSON body is an object: a string, number or null must be a 400, not a 500."""
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and "application/json" in content_type:
            body = self.parse_json(await request.get_body())
            if not isinstance(body, dict):
                raise StrawberryHTTPException(
                    400, 'the request body must be a JSON object: {"query": "...", "variables": {...}}'
                )
            if not isinstance(body.get("operationName"), str | None):
                raise StrawberryHTTPException(400, "operationName must be a string or null")
        return await super().parse_http_body(request)


def _is_ide_page(request: HTTPConnection) -> bool:
    """GET /graphql from a browser without a query: the static GraphiQL page, which holds no data."""
    return (
        request.scope["type"] == "http"
        and request.scope["method"] == "GET"
        and "query" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )


class ReadyCheck:
    """/ready's answer, re-checked at most every ``seconds``: probes must not cost a warehouse job each."""

    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        self._answer: tuple[float, int, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def answer(self, reader: Reader) -> tuple[int, dict[str, str]]:
        with self._lock:
            now = time.monotonic()
            if self._answer is not None and now < self._answer[0]:
                return self._answer[1], self._answer[2]
            try:
                reader.uncached(SQL.ready)
                status, body = 200, {"status": "ready"}
            except Exception as exc:
                status, body = 503, {"status": "unavailable", "reason": type(exc).__name__}
            self._answer = (now + self.seconds, status, body)
            return status, body


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    live: LiveUpdates = app.state.live
    await live.start()
    # Everything alive at startup (modules, schema, routes) lives as long as the process. Freezing
    # it takes ~100k objects out of the collector's view: a full collection then costs ~12 ms
    # instead of ~80 ms, and those pauses were the p99 of cached reads.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        await live.stop()  # deletes this process's subscription on the updates topic
        source: WarehouseSource = app.state.warehouse_source
        source.close()  # the process's snapshot copies go with it


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    api = settings.api
    app = FastAPI(title="Logistics shipment graph", version="0.2.0", lifespan=_lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    source = warehouse_source(settings)
    cache = ReadCache(ttl_seconds=api.cache_ttl_seconds, max_entries=api.cache_max_entries)
    gate = Gatekeeper(api)
    live = LiveUpdates(settings)
    revealer = Revealer(settings)
    ready_check = ReadyCheck(seconds=api.ready_cache_seconds)
    app.state.warehouse_source = source
    app.state.read_cache = cache
    app.state.live = live
    app.state.gate = gate

    # Async although it never awaits: a sync dependency would cost every request a thread-pool hop.
    # A WebSocket authenticates in its connection_init message (_TransportWSHandler), not here.
    async def authorize(connection: HTTPConnection) -> Principal | None:
        if connection.scope["type"] == "websocket" or _is_ide_page(connection):
            return None
        principal = gate.authenticate(connection.headers, client_address(connection))
        connection.state.principal = principal
        return principal

    # A plain default, not Annotated: the annotations are strings and `authorize` is local to this factory.
    async def graphql_context(
        connection: HTTPConnection,
        principal: Principal | None = Depends(authorize),  # noqa: B008
    ) -> RequestContext:
        if connection.scope["type"] == "websocket":
            # Lives as long as the socket: holds no warehouse lease between statements.
            reader = Reader(source, cache, hold=False)
            return RequestContext(reader=reader, principal=None, api=api, revealer=revealer, live=live, connection=True)
        return RequestContext(
            reader=connection.state.reader, principal=principal, api=api, revealer=revealer, live=live
        )

    graphql = _Router(
        build_schema(api, response_cache=cache),
        context_getter=graphql_context,
        graphql_ide="graphiql" if api.introspection else None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        max_subscriptions_per_connection=api.max_subscriptions_per_connection,
        allowed_origins=api.cors_origins,
    )
    graphql.gate = gate
    graphql.graphiql_headers = api.graphiql_headers
    app.include_router(graphql, prefix="/graphql", include_in_schema=False)
    app.include_router(build_router(), dependencies=[Depends(authorize)])
    if api.introspection:
        app.mount(graphiql.ASSETS_PATH, StaticFiles(directory=graphiql.ASSETS_DIR), name="graphiql-assets")
    app.mount(swagger.ASSETS_PATH, StaticFiles(directory=swagger.ASSETS_DIR), name="swagger-ui-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return swagger.swagger_html(openapi_url=app.openapi_url or "/openapi.json", title=app.title)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the process answers (no warehouse access)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "The warehouse is not readable."}})
    def ready(request: Request) -> Any:
        """Readiness: silver is readable (checked at most every `api.ready_cache_seconds`); the live-updates state."""
        status, body = ready_check.answer(request.state.reader)
        body = {**body, "live_updates": live.state}
        return JSONResponse(status_code=status, content=body)

    # Outermost: CORS, the body limit (before anything reads a byte), then a reader per request.
    app.add_middleware(ReaderPerRequest, source=source, cache=cache)
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After", "X-Warehouse-Queries"],
            max_age=600,
        )
    return app
