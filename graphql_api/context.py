"""Per-request context: who is calling, how resolvers reach the warehouse, and the request's DataLoaders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.fastapi import BaseContext

from graphql_api.auth import Principal
from graphql_api.loaders import Loaders
from graphql_api.precise import Revealer
from graphql_api.reader import Reader
from logistics.settings import ApiSettings

if TYPE_CHECKING:
    from graphql_api.live import LiveUpdates, UpdateHub


class RequestContext(BaseContext):
    def __init__(
        self,
        *,
        reader: Reader,
        principal: Principal | None,
        api: ApiSettings,
        revealer: Revealer | None = None,
        live: LiveUpdates | None = None,
        connection: bool = False,
    ) -> None:
        """``connection``: a WebSocket's context, which lives as long as the socket (hours), not a request."""
        super().__init__()
        # The reader opens the warehouse on its first cache miss and is closed when the request ends:
        # a reader must never pin the DuckDB file between requests.
        self.reader = reader
        self.principal = principal
        self.api = api
        self.revealer = revealer  # opens sealed precise values for read:pii callers (see graphql_api.precise)
        self.live = live
        self.loaders = Loaders.for_request(reader, memoize=not connection)
        self.connection_params: dict[str, object] = {}  # a WebSocket's connection_init payload

    def live_updates(self) -> UpdateHub:
        """The process's update hub, or the GraphQL error that says why subscriptions are refused."""
        from graphql_api.live import LiveUpdatesUnavailableError

        if self.live is None:
            raise LiveUpdatesUnavailableError("this context has no updates feed")
        return self.live.require()
