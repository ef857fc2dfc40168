"""FastAPI dependencies: settings and a short-lived read-only warehouse per use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from graphql_api.context import WarehouseOpener
from logistics.settings import Settings
from logistics.warehouse import Warehouse, connect


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def read_only_opener(settings: Settings) -> WarehouseOpener:
    @contextmanager
    def open_warehouse() -> Iterator[Warehouse]:
        with connect(settings, read_only=True) as warehouse:
            yield warehouse

    return open_warehouse


def get_warehouse_opener(settings: SettingsDep) -> WarehouseOpener:
    return read_only_opener(settings)


WarehouseDep = Annotated[WarehouseOpener, Depends(get_warehouse_opener)]

__all__ = ["SettingsDep", "WarehouseDep", "read_only_opener"]
