"""One DataLoader per edge of the graph, created per request: N parents -> one warehouse read per edge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graphql_api import drivers, facilities, shipments
from graphql_api.reader import Reader

K = TypeVar("K")
V = TypeVar("V")

MetricsKey = tuple[str, dt.datetime, dt.datetime]


def _threaded(reader: Reader, fn: Callable[[Reader, list[K]], Sequence[V]], *, memoize: bool) -> DataLoader[K, V]:
    """A DataLoader whose batch function is served from the cache, or reads the warehouse in a worker thread."""

    async def load(keys: list[K]) -> Sequence[V]:
        return await reader.call(fn, reader, list(keys))

    return DataLoader(load_fn=load, cache=memoize)


def _metrics(reader: Reader, keys: list[MetricsKey]) -> list[facilities.FacilityMetricsRecord]:
    # One read per distinct window (a query asks for one window in practice).
    by_window: dict[tuple[dt.datetime, dt.datetime], list[str]] = {}
    for fid, start, end in keys:
        by_window.setdefault((start, end), []).append(fid)
    found: dict[MetricsKey, facilities.FacilityMetricsRecord] = {}
    for (start, end), ids in by_window.items():
        for record in facilities.load_metrics(reader, ids, window_start=start, window_end=end):
            found[(record.facility_id, start, end)] = record
    return [found[key] for key in keys]


@dataclass
class Loaders:
    shipment: DataLoader[str, shipments.ShipmentRecord | None]
    facility: DataLoader[str, facilities.FacilityRecord | None]
    facility_metrics: DataLoader[MetricsKey, facilities.FacilityMetricsRecord]
    facility_history: DataLoader[str, list[dict[str, Any]]]
    driver: DataLoader[str, drivers.DriverRecord | None]
    driver_assignment: DataLoader[str, drivers.Assignment | None]
    carrier_drivers: DataLoader[str, list[str]]
    carrier_seen: DataLoader[str, bool]
    carrier_name: DataLoader[str, str | None]

    @classmethod
    def for_request(cls, reader: Reader, *, memoize: bool = True) -> Loaders:
        """``memoize=False`` for a WebSocket: batching still works, but a value loaded for one update
        is not served for the next hours of the connection (the read cache's TTL still applies)."""
        return cls(
            shipment=_threaded(reader, shipments.load_shipments, memoize=memoize),
            facility=_threaded(reader, facilities.load_facilities, memoize=memoize),
            facility_metrics=_threaded(reader, _metrics, memoize=memoize),
            facility_history=_threaded(reader, facilities.load_history, memoize=memoize),
            driver=_threaded(reader, drivers.load_drivers, memoize=memoize),
            driver_assignment=_threaded(reader, drivers.load_assignments, memoize=memoize),
            carrier_drivers=_threaded(reader, drivers.load_carrier_drivers, memoize=memoize),
            carrier_seen=_threaded(reader, drivers.load_carriers_seen, memoize=memoize),
            carrier_name=_threaded(reader, drivers.load_carrier_names, memoize=memoize),
        )
