"""One Great Expectations suite per gold table, over that table's violation summary.

The gate does not hand GX the rows: ``quality.summary`` reduces the partition (or the
whole dimension) to one row in the warehouse, with a count of the rows that break each
rule (``duplicate_delivery_id``, ``gaps_or_overlaps``, ``orphan_facility_id``, ...) plus the
row count and totals. Each suite expects every violation count to be 0 and the totals to
match :class:`Lookups` (what silver says the table should hold), so bounds are never
hard-coded. Validating millions of pandas rows cost more than building them; the summary is
exact (every row is counted in SQL) and costs one scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as _expectations
from great_expectations.expectations.expectation import Expectation

from dags.gold.scd2 import spec_of
from dags.gold.tables import DIM_CARRIER, DIM_DRIVER, DIM_FACILITY, GoldTable

# GX re-exports its expectation classes without declaring them (no __all__), which strict
# mypy rejects attribute by attribute; the classes themselves are checked at suite build time.
gxe: Any = _expectations


@dataclass(frozen=True)
class Lookups:
    day: dt.date | None
    bounds: dict[str, Any] = field(default_factory=dict)  # silver_bounds.sql / dimension_bounds.sql row


def _none(*violations: str) -> list[Expectation]:
    """Each column counts the rows breaking one rule: no row may."""
    return [gxe.ExpectColumnMaxToBeBetween(column=c, min_value=0, max_value=0) for c in violations]


def _between(column: str, low: Any, high: Any) -> Expectation:
    return gxe.ExpectColumnMaxToBeBetween(column=column, min_value=int(low), max_value=int(high))


def _summary() -> list[Expectation]:
    # the summary query aggregates without GROUP BY: anything but one row means it is broken
    return [gxe.ExpectTableRowCountToEqual(value=1)]


def _scd2(table: GoldTable, lookups: Lookups) -> list[Expectation]:
    """The SCD2 invariants every dimension's summary counts (``quality.summary``), and its row-count bounds."""
    scd2 = spec_of(table)
    key, surrogate = scd2.key, scd2.surrogate
    dimension = table.short_name.removeprefix("dim_")  # the prefix of its columns in dimension_bounds.sql
    return [
        *_summary(),
        *_none(*(f"null_{c}" for c in (surrogate, key, "valid_from", "is_current", "version"))),
        *_none(f"duplicate_{surrogate}", "duplicate_valid_from"),
        # exactly one current version per key; current <=> open-ended
        *_none("keys_without_one_current", "current_not_open_ended"),
        # a version ends after it starts, exactly where the next one starts (no gap, no overlap)
        *_none("empty_ranges", "gaps_or_overlaps"),
        _between("row_count", lookups.bounds[f"{dimension}_keys"], lookups.bounds[f"{dimension}_changes"]),
    ]


def dim_facility(lookups: Lookups) -> list[Expectation]:
    return [*_scd2(DIM_FACILITY, lookups), *_none("negative_capacity_per_hour")]


def dim_carrier(lookups: Lookups) -> list[Expectation]:
    return _scd2(DIM_CARRIER, lookups)


def dim_driver(lookups: Lookups) -> list[Expectation]:
    return [*_scd2(DIM_DRIVER, lookups), *_none("orphan_carrier_id")]


def fact_deliveries(lookups: Lookups) -> list[Expectation]:
    return [
        *_summary(),
        *_none("null_delivery_id", "null_status", "null_delivery_time", "null_attempt_count"),
        *_none("duplicate_delivery_id", "unknown_status", "negative_attempt_count", "attempt_after_delivery"),
        *_none("delivery_time_off_partition", "on_time_flag_mismatch"),
        *_none("orphan_facility_id", "orphan_carrier_id", "orphan_driver_id"),
        _between("row_count", lookups.bounds["deliveries_min"], lookups.bounds["deliveries_max"]),
    ]


def fact_shipments(lookups: Lookups) -> list[Expectation]:
    created, delivered = lookups.bounds["created_events"], lookups.bounds["delivered_events"]
    return [
        *_summary(),
        *_none("null_activity_date", "null_created_count", "null_delivered_count", "null_built_at"),
        *_none("duplicate_grain", "negative_transit_hours", "orphan_facility_id", "orphan_carrier_id"),
        # every shipment event of the day is counted exactly once
        _between("created_total", created, created),
        _between("delivered_total", delivered, delivered),
        # at most one row per (facility, carrier) that had any shipment event that day
        _between("row_count", 0, lookups.bounds["shipment_events"]),
    ]


def ml_delivery_features(lookups: Lookups) -> list[Expectation]:
    return [
        *_summary(),
        *_none("null_delivery_id", "null_feature_time", "null_label_time", "duplicate_delivery_id"),
        # point in time: features are taken at or before the label is known
        *_none("feature_after_label", "label_mismatch"),
        *_none("rate_7d_out_of_range", "rate_30d_out_of_range", "negative_load_ratio", "negative_prior_attempts"),
        *_none("orphan_facility_id", "orphan_carrier_id"),
        # exactly one row per delivery in the same partition of fact_deliveries
        _between("row_count", lookups.bounds["fact_rows"], lookups.bounds["fact_rows"]),
    ]


SUITES: dict[str, Callable[[Lookups], list[Expectation]]] = {
    "dim_facility": dim_facility,
    "dim_carrier": dim_carrier,
    "dim_driver": dim_driver,
    "fact_deliveries": fact_deliveries,
    "fact_shipments": fact_shipments,
    "ml_delivery_features": ml_delivery_features,
}
