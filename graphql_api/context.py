"""Per-request context: how resolvers reach the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from strawberry.fastapi import BaseContext

from logistics.warehouse import Warehouse

WarehouseOpener = Callable[[], AbstractContextManager[Warehouse]]


class RequestContext(BaseContext):
    def __init__(self, warehouse: WarehouseOpener) -> None:
        super().__init__()
        # Opened per use and closed straight after: a reader must not pin the DuckDB file.
        self.warehouse = warehouse
