"""The GraphQL schema: root queries over the shipment graph, and the limits every request passes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from functools import partial
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from graphql_api import analytics, facilities, shipments
from graphql_api.cache import ReadCache
from graphql_api.documents import DocumentCache, PreparedDocuments
from graphql_api.errors import log_errors, public_error
from graphql_api.graph import (
    END_OF_TIME,
    EPOCH,
    Carrier,
    Ctx,
    DeliveryPerformanceGroup,
    Driver,
    Facility,
    PageInfo,
    PerformanceGroupBy,
    Shipment,
    ShipmentConnection,
    ShipmentEdge,
    ShipmentFilter,
    load_driver,
    load_facility,
)
from graphql_api.persisted import PersistedQueries, RegisteredQueries, load_registry
from graphql_api.protection import CostLimiter
from graphql_api.response_cache import ResponseCache
from graphql_api.subscriptions import Subscription
from logistics.settings import ApiSettings


def _bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


@strawberry.type
class Query:
    @strawberry.field(description="One shipment by id, or null when silver has never seen it.")
    async def shipment(self, info: Ctx, id: strawberry.ID) -> Shipment | None:
        record = await info.context.loaders.shipment.load(str(id))
        return Shipment(record=record) if record else None

    @strawberry.field(description="Shipments, oldest booking first, Relay-style: pass pageInfo.endCursor as `after`.")
    async def shipments(
        self, info: Ctx, first: int | None = None, after: str | None = None, filter: ShipmentFilter | None = None
    ) -> ShipmentConnection:
        api = info.context.api
        size = api.default_page_size if first is None else first
        if not 0 <= size <= api.max_page_size:  # also enforced before execution by CostLimiter
            raise _bad_input(f"first={size} is outside 0..{api.max_page_size}")
        chosen = filter or ShipmentFilter()
        values = shipments.ShipmentFilterValues(
            status=chosen.status.value if chosen.status else None,
            facility_id=str(chosen.facility_id) if chosen.facility_id else None,
            carrier_id=str(chosen.carrier_id) if chosen.carrier_id else None,
            created_from=chosen.created_from,
            created_to=chosen.created_to,
        )
        try:
            reader = info.context.reader
            page, has_next = await reader.call(
                lambda: shipments.shipment_page(reader, filters=values, first=size, after=after)
            )
        except shipments.InvalidCursorError as exc:
            raise _bad_input(str(exc)) from None
        records = await info.context.loaders.shipment.load_many([row.shipment_id for row in page])
        edges = [
            ShipmentEdge(cursor=row.cursor, node=Shipment(record=record))
            for row, record in zip(page, records, strict=True)
            if record is not None
        ]
        return ShipmentConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=page[0].cursor if page else None,
                end_cursor=page[-1].cursor if page else None,
            ),
        )

    @strawberry.field(description="One facility by id, or null.")
    async def facility(self, info: Ctx, id: strawberry.ID) -> Facility | None:
        return await load_facility(info, str(id))

    @strawberry.field(description="Every facility, by id (at most the maximum page size).")
    async def facilities(self, info: Ctx) -> list[Facility]:
        reader, limit = info.context.reader, info.context.api.max_page_size
        ids = await reader.call(lambda: facilities.facility_ids(reader, limit=limit))
        found = [await load_facility(info, fid) for fid in ids]
        return [f for f in found if f is not None]

    @strawberry.field(description="One carrier by id, or null when no event mentions it.")
    async def carrier(self, info: Ctx, id: strawberry.ID) -> Carrier | None:
        return Carrier(id=id) if await info.context.loaders.carrier_seen.load(str(id)) else None

    @strawberry.field(description="One driver by id, or null.")
    async def driver(self, info: Ctx, id: strawberry.ID) -> Driver | None:
        return await load_driver(info, str(id))

    @strawberry.field(description="Delivery KPIs over [from, to), grouped by day, facility or carrier.")
    async def delivery_performance(
        self,
        info: Ctx,
        from_: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        to: dt.datetime | None = None,
        group_by: PerformanceGroupBy = PerformanceGroupBy.DAY,
    ) -> list[DeliveryPerformanceGroup]:
        reader = info.context.reader
        rows = await reader.call(
            lambda: analytics.delivery_performance(
                reader, window_start=from_ or EPOCH, window_end=to or END_OF_TIME, group_by=group_by.value
            )
        )
        return [DeliveryPerformanceGroup.from_pydantic(r) for r in rows]


class GuardedSchema(strawberry.Schema):
    """A schema with a wall-clock limit per operation, whose errors reach clients and logs as ``errors`` says."""

    query_timeout_seconds: float = 10.0
    hide_suggestions: bool = False

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        try:
            result = await asyncio.wait_for(
                super().execute(
                    query,
                    variable_values,
                    context_value,
                    root_value,
                    operation_name,
                    allowed_operation_types,
                    operation_extensions,
                ),
                timeout=self.query_timeout_seconds,
            )
        except TimeoutError:
            reader = getattr(context_value, "reader", None)
            if reader is not None:
                reader.interrupt()  # stop the warehouse query that is still running in its thread
            error = GraphQLError(
                f"the query did not finish within {self.query_timeout_seconds:g} s and was cancelled",
                extensions={"code": "TIMEOUT"},
            )
            log_errors([error])
            result = ExecutionResult(data=None, errors=[error])
        return self._public(result)

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        return self._public_stream(results)

    async def _public_stream(self, results: StreamResult) -> StreamResult:
        # A limit refused in a parse or operation hook leaves Strawberry's stream as an exception:
        # it becomes the operation's error message, as it does over HTTP.
        try:
            async with aclosing(results):
                async for result in results:
                    yield self._public(result) if isinstance(result, ExecutionResult) else result
        except GraphQLError as refused:
            log_errors([refused])
            yield self._public(PreExecutionError(data=None, errors=[refused]))

    def _public(self, result: ExecutionResult) -> ExecutionResult:
        if result.errors:
            result.errors = [public_error(e, hide_suggestions=self.hide_suggestions) for e in result.errors]
        return result

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        log_errors(errors)


def build_schema(
    api: ApiSettings | None = None,
    *,
    persisted: dict[str, str] | None = None,
    response_cache: ReadCache | None = None,
) -> GuardedSchema:
    """The schema with ``api``'s limits: length, tokens, depth, aliases, cost, page size, timeout, introspection.

    With ``response_cache`` (and a positive TTL), accepted queries' answers are cached whole.
    Parsed documents and client-registered persisted queries are cached per schema, in bytes.
    """
    api = api or ApiSettings()
    registry = persisted if persisted is not None else load_registry()
    documents = DocumentCache(max_bytes=api.document_cache_bytes)
    registered = RegisteredQueries(max_bytes=api.persisted_cache_bytes)
    # The depth and alias rules are built once, so every request validates with the same rules
    # and a text's validation result can be cached with its document.
    limit_rules = [
        *QueryDepthLimiter(max_depth=api.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=api.max_aliases).validation_rules,
    ]
    # Factories, not instances: Strawberry builds each extension per request (they hold request state).
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(PersistedQueries, registry=registry, registered=registered, only=api.persisted_queries_only),
        partial(
            PreparedDocuments,
            cache=documents,
            max_query_bytes=api.max_query_bytes,
            max_tokens=api.max_tokens,
            hide_suggestions=not api.introspection,
        ),
        partial(AddValidationRules, limit_rules),
        partial(
            CostLimiter, max_cost=api.max_cost, max_page_size=api.max_page_size, default_page_size=api.default_page_size
        ),
    ]
    if response_cache is not None and response_cache.enabled:
        # After the limits: only a query they accepted can be answered from the cache.
        extensions.append(partial(ResponseCache, cache=response_cache, documents=documents))
    if not api.introspection:
        extensions.append(DisableIntrospection)
    schema = GuardedSchema(query=Query, subscription=Subscription, extensions=extensions)
    schema.query_timeout_seconds = api.query_timeout_seconds
    schema.hide_suggestions = not api.introspection
    return schema


def sdl() -> str:
    """The schema in SDL, as committed in ``graphql_api/schema.graphql``."""
    return build_schema().as_str() + "\n"
