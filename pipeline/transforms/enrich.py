"""enrich: add reference data (facility name/region, carrier name) to silver rows.

Reference data comes from the warehouse as a :class:`DimensionSnapshot`: the current rows
of the gold SCD2 dimensions (``curated.dim_facility`` / ``dim_carrier`` / ``dim_driver``)
when they exist and have rows, else the latest ``facility.created`` / ``driver.created``
payloads in silver (a fresh warehouse has no gold yet). In Beam the DoFn that enriches holds
the snapshot itself (:class:`~pipeline.transforms.dofns.DimensionCache`): loaded once for
bounded runs, reloaded when older than the refresh interval for unbounded ones. A side input
refreshed by ``PeriodicImpulse`` is Beam's textbook pattern, but the local streaming runner
cannot run ``PeriodicImpulse`` (docs/local-components.md); a DoFn-held snapshot runs alike
everywhere.

Missing reference data never fails an event: unknown ids enrich to ``None``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from logistics.settings import Settings
from logistics.warehouse import Warehouse, connect

ENRICHED_COLUMNS = ("facility_name", "facility_region", "carrier_name")


class Facility(NamedTuple):
    name: str | None
    region: str | None


class Driver(NamedTuple):
    home_facility_id: str | None
    carrier_id: str | None


@dataclass(frozen=True)
class DimensionSnapshot:
    """Reference data at one instant, small enough to live in every worker's memory."""

    facilities: Mapping[str, Facility] = field(default_factory=dict)
    carriers: Mapping[str, str | None] = field(default_factory=dict)  # carrier_id -> name
    drivers: Mapping[str, Driver] = field(default_factory=dict)
    # dimension -> the table it was read from (None: nowhere had it); for logs and tests
    sources: Mapping[str, str | None] = field(default_factory=dict)
    loaded_at: dt.datetime | None = None


# ---------------------------------------------------------------------------- loading

# Current rows of the gold dimensions (dags/sql/curated/dim_*.sql).
_DIM_FACILITIES = "SELECT facility_id, name, region FROM curated.dim_facility WHERE is_current"
_DIM_CARRIERS = "SELECT carrier_id, name FROM curated.dim_carrier WHERE is_current"
_DIM_DRIVERS = "SELECT driver_id, home_facility_id, carrier_id FROM curated.dim_driver WHERE is_current"

# Fallback: the latest creation event per key in silver (last by event time, then arrival).
_SILVER_FACILITIES = """
SELECT facility_id, JSON_VALUE(payload, '$.name') AS name, JSON_VALUE(payload, '$.region') AS region
FROM clean.facility_events
WHERE event_type = 'facility.created' AND facility_id IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY facility_id ORDER BY event_time DESC, ingest_time DESC) = 1
"""
_SILVER_DRIVERS = """
SELECT driver_id, JSON_VALUE(payload, '$.home_facility_id') AS home_facility_id, carrier_id
FROM clean.driver_events
WHERE event_type = 'driver.created' AND driver_id IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY driver_id ORDER BY event_time DESC, ingest_time DESC) = 1
"""


def _missing_table_errors() -> tuple[type[BaseException], ...]:
    """What each engine raises for a table (or dataset) that does not exist."""
    import duckdb

    errors: list[type[BaseException]] = [duckdb.CatalogException]
    try:
        from google.api_core.exceptions import NotFound
    except ImportError:  # pragma: no cover - google-cloud-bigquery is a base dependency
        pass
    else:
        errors.append(NotFound)
    return tuple(errors)


def query_if_exists(warehouse: Warehouse, sql: str) -> list[dict[str, Any]] | None:
    """Rows of ``sql``, or ``None`` when a table it reads does not exist (yet).

    Asking the engine is the one existence check that means the same on DuckDB and
    BigQuery (their information schemas are scoped differently), and it costs no extra
    round trip. Any other error (a wrong column, a permission) still raises.
    """
    try:
        return warehouse.query(sql)
    except _missing_table_errors():
        return None


def _first_with_rows(warehouse: Warehouse, *candidates: tuple[str, str]) -> tuple[list[dict[str, Any]], str | None]:
    for table, sql in candidates:
        rows = query_if_exists(warehouse, sql)
        if rows:
            return rows, table
    return [], None


def load_dimensions(warehouse: Warehouse) -> DimensionSnapshot:
    """Gold dimensions where built and non-empty, else silver's latest creation events."""
    facility_rows, facility_source = _first_with_rows(
        warehouse, ("curated.dim_facility", _DIM_FACILITIES), ("clean.facility_events", _SILVER_FACILITIES)
    )
    # Carriers have no events: their reference data only reaches the warehouse through gold.
    carrier_rows, carrier_source = _first_with_rows(warehouse, ("curated.dim_carrier", _DIM_CARRIERS))
    driver_rows, driver_source = _first_with_rows(
        warehouse, ("curated.dim_driver", _DIM_DRIVERS), ("clean.driver_events", _SILVER_DRIVERS)
    )
    return DimensionSnapshot(
        facilities={r["facility_id"]: Facility(r["name"], r["region"]) for r in facility_rows},
        carriers={r["carrier_id"]: r["name"] for r in carrier_rows},
        drivers={r["driver_id"]: Driver(r["home_facility_id"], r["carrier_id"]) for r in driver_rows},
        sources={"facilities": facility_source, "carriers": carrier_source, "drivers": driver_source},
        loaded_at=dt.datetime.now(dt.UTC),
    )


def load_dimensions_for(settings: Settings) -> DimensionSnapshot:
    """Open the configured warehouse read-only for just this read (the DuckDB lock rule)."""
    if settings.warehouse.backend == "duckdb" and not settings.storage.duckdb_path.exists():
        return DimensionSnapshot(loaded_at=dt.datetime.now(dt.UTC))  # first run: nothing known yet
    with connect(settings, read_only=True) as warehouse:
        return load_dimensions(warehouse)


# ---------------------------------------------------------------------------- enrich


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_NO_PAYLOAD: Mapping[str, Any] = MappingProxyType({})


def enrich(row: dict[str, Any], dims: DimensionSnapshot) -> dict[str, Any]:
    """A new silver row with ``facility_name``, ``facility_region`` and ``carrier_name`` added.

    Ids come from the row's key columns, else its payload; a driver's carrier (and, for
    driver events, home facility) stands in when the event names none.
    """
    payload = row.get("payload")
    if isinstance(payload, str | bytes):  # rows read back from a warehouse carry JSON text
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            payload = None
    return enrich_in_place(dict(row), payload, dims)


def enrich_in_place(row: dict[str, Any], payload: Any, dims: DimensionSnapshot) -> dict[str, Any]:
    """:func:`enrich` for a row its caller just built and owns: the columns are added to ``row``
    itself (no copy), ids read from ``payload`` (the row's payload as an object). ``row``."""
    body: Mapping[str, Any] = payload if isinstance(payload, dict) else _NO_PAYLOAD

    driver_id = _text(row.get("driver_id") or body.get("driver_id"))
    driver = dims.drivers.get(driver_id) if driver_id else None
    facility_id = _text(row.get("facility_id") or body.get("facility_id"))
    if facility_id is None and str(row.get("event_type", "")).startswith("driver."):
        facility_id = _text(body.get("home_facility_id")) or (driver.home_facility_id if driver else None)
    carrier_id = _text(row.get("carrier_id") or body.get("carrier_id")) or (driver.carrier_id if driver else None)

    facility = dims.facilities.get(facility_id) if facility_id else None
    row["facility_name"] = facility.name if facility else None
    row["facility_region"] = facility.region if facility else None
    row["carrier_name"] = dims.carriers.get(carrier_id) if carrier_id else None
    return row
