"""Per-request context: who is calling, how resolvers reach the warehouse, and the request's DataLoaders."""

from __future__ import annotations

from strawberry.fastapi import BaseContext

from graphql_api.auth import Principal
from graphql_api.loaders import Loaders
from graphql_api.precise import Revealer
from graphql_api.reader import Reader
from logistics.settings import ApiSettings


class RequestContext(BaseContext):
    def __init__(
        self, *, reader: Reader, principal: Principal | None, api: ApiSettings, revealer: Revealer | None = None
    ) -> None:
        super().__init__()
        # The reader opens the warehouse on its first cache miss and is closed when the request ends:
        # a reader must never pin the DuckDB file between requests.
        self.reader = reader
        self.principal = principal
        self.api = api
        self.revealer = revealer  # opens sealed precise values for read:pii callers (see graphql_api.precise)
        self.loaders = Loaders.for_request(reader)
