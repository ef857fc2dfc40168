"""One Great Expectations suite per gold table.

Each suite is built from :class:`Lookups` (what silver and the dimensions say the table
should hold), so bounds are never hard-coded: row counts come from silver, referential
integrity from the dimension keys of the same build.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as _expectations
from great_expectations.expectations.expectation import Expectation

# GX re-exports its expectation classes without declaring them (no __all__), which strict
# mypy rejects attribute by attribute; the classes themselves are checked at suite build time.
gxe: Any = _expectations


@dataclass(frozen=True)
class Lookups:
    day: dt.date | None
    dimension_keys: dict[str, list[str]] = field(default_factory=dict)  # "facility" -> ids in dim_facility
    bounds: dict[str, Any] = field(default_factory=dict)  # silver_bounds.sql / dimension_bounds.sql row


def _not_null(*columns: str) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def _references(lookups: Lookups, **columns: str) -> list[Expectation]:
    """Facts -> dimensions: every non-null ``column`` value is a key of dimension ``name``."""
    return [
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=lookups.dimension_keys[dimension])
        for column, dimension in columns.items()
    ]


def _rows_between(low: Any, high: Any) -> Expectation:
    return gxe.ExpectTableRowCountToBeBetween(min_value=int(low), max_value=int(high))


def _scd2(key: str, surrogate: str, lookups: Lookups, dimension: str) -> list[Expectation]:
    return [
        *_not_null(surrogate, key, "valid_from", "is_current", "version"),
        gxe.ExpectColumnValuesToBeUnique(column=surrogate),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[key, "valid_from"]),
        # exactly one current version per key
        gxe.ExpectColumnValuesToBeBetween(column="current_versions", min_value=1, max_value=1),
        # current <=> open-ended
        gxe.ExpectColumnPairValuesToBeEqual(column_A="is_current", column_B="is_open"),
        # a version ends after it starts, exactly where the next one starts (no gap, no overlap)
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="valid_to", column_B="valid_from", ignore_row_if="either_value_is_missing"
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="valid_to", column_B="next_valid_from", ignore_row_if="both_values_are_missing"
        ),
        _rows_between(lookups.bounds[f"{dimension}_keys"], lookups.bounds[f"{dimension}_changes"]),
    ]


def dim_facility(lookups: Lookups) -> list[Expectation]:
    return [
        *_scd2("facility_id", "facility_sk", lookups, "facility"),
        gxe.ExpectColumnValuesToBeBetween(column="capacity_per_hour", min_value=0),
    ]


def dim_carrier(lookups: Lookups) -> list[Expectation]:
    return _scd2("carrier_id", "carrier_sk", lookups, "carrier")


def dim_driver(lookups: Lookups) -> list[Expectation]:
    return [*_scd2("driver_id", "driver_sk", lookups, "driver"), *_references(lookups, carrier_id="carrier")]


def fact_deliveries(lookups: Lookups) -> list[Expectation]:
    return [
        *_not_null("delivery_id", "delivery_date", "status", "delivery_time", "attempt_count"),
        gxe.ExpectColumnValuesToBeUnique(column="delivery_id"),
        gxe.ExpectColumnValuesToBeInSet(column="delivery_date", value_set=[lookups.day]),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["COMPLETED", "FAILED"]),
        gxe.ExpectColumnValuesToBeBetween(column="attempt_count", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="delivery_time",
            column_B="first_attempt_time",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        # on_time_flag agrees with the row's own times
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="on_time_flag", column_B="expected_on_time", ignore_row_if="both_values_are_missing"
        ),
        *_references(lookups, facility_id="facility", carrier_id="carrier", driver_id="driver"),
        _rows_between(lookups.bounds["deliveries_min"], lookups.bounds["deliveries_max"]),
    ]


def fact_shipments(lookups: Lookups) -> list[Expectation]:
    created, delivered = int(lookups.bounds["created_events"]), int(lookups.bounds["delivered_events"])
    return [
        *_not_null("activity_date", "created_count", "delivered_count", "built_at"),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["activity_date", "facility_id", "carrier_id"], ignore_row_if="never"
        ),
        gxe.ExpectColumnValuesToBeInSet(column="activity_date", value_set=[lookups.day]),
        gxe.ExpectColumnSumToBeBetween(column="created_count", min_value=created, max_value=created),
        gxe.ExpectColumnSumToBeBetween(column="delivered_count", min_value=delivered, max_value=delivered),
        gxe.ExpectColumnValuesToBeBetween(column="avg_transit_hours", min_value=0),
        *_references(lookups, facility_id="facility", carrier_id="carrier"),
        # at most one row per (facility, carrier) that had any shipment event that day
        _rows_between(0, lookups.bounds["shipment_events"]),
    ]


def ml_delivery_features(lookups: Lookups) -> list[Expectation]:
    return [
        *_not_null("delivery_id", "delivery_date", "feature_time", "label_time"),
        gxe.ExpectColumnValuesToBeUnique(column="delivery_id"),
        gxe.ExpectColumnValuesToBeInSet(column="delivery_date", value_set=[lookups.day]),
        # point in time: features are taken at or before the label is known
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="label_time", column_B="feature_time", or_equal=True),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="label_on_time", column_B="fact_on_time_flag", ignore_row_if="both_values_are_missing"
        ),
        gxe.ExpectColumnValuesToBeBetween(column="carrier_on_time_rate_7d", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="carrier_on_time_rate_30d", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="facility_load_ratio", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="prior_attempts", min_value=0),
        *_references(lookups, facility_id="facility", carrier_id="carrier"),
        # exactly one row per delivery in the same partition of fact_deliveries
        _rows_between(lookups.bounds["fact_rows"], lookups.bounds["fact_rows"]),
    ]


SUITES: dict[str, Callable[[Lookups], list[Expectation]]] = {
    "dim_facility": dim_facility,
    "dim_carrier": dim_carrier,
    "dim_driver": dim_driver,
    "fact_deliveries": fact_deliveries,
    "fact_shipments": fact_shipments,
    "ml_delivery_features": ml_delivery_features,
}
