"""Ground truth: what the simulator planted, and where an independent check should find it.

Counted while the run streams (never from the written lines), so a check that compares the
pipeline's ledger or gold tables against these numbers compares two independent computations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from contracts.generated.catalog import FAMILIES, SUBJECTS

FAULT_KINDS = ("duplicate", "late", "out_of_order", "malformed", "unknown_type", "old_version", "camel_case")


@dataclass
class CarrierTruth:
    """One carrier's deliveries as gold's fact_deliveries counts them: a delivery's outcome is its
    completion, or its last failed attempt (``will_retry`` false); on time means completed no later
    than the shipment's ``expected_delivery``."""

    shipments: int = 0
    delivered: int = 0
    exceptions: int = 0  # shipments ended by an exception (lost, damaged, returned); not weather delays
    deliveries: int = 0  # deliveries with an outcome
    on_time: int = 0
    failed_attempts: int = 0
    by_day: dict[str, dict[str, int]] = field(default_factory=dict)  # outcome date -> {deliveries, on_time}

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.deliveries, 6) if self.deliveries else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "shipments": self.shipments,
            "delivered": self.delivered,
            "exceptions": self.exceptions,
            "deliveries": self.deliveries,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "failed_attempts": self.failed_attempts,
            "by_day": dict(sorted(self.by_day.items())),
        }


@dataclass
class GroundTruth:
    seed: int
    records: int = 0  # lines written, faults included: what the pipeline's ledger calls "received"
    events: int = 0  # distinct contract-valid events (each once, whatever its shape or timing)
    by_type: Counter[str] = field(default_factory=Counter)
    by_version: Counter[str] = field(default_factory=Counter)  # "subject vN" -> events
    faults: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(FAULT_KINDS, 0)))
    shipments: int = 0
    first_shipment: str | None = None
    delivered_per_day: Counter[str] = field(default_factory=Counter)
    carriers: dict[str, CarrierTruth] = field(default_factory=dict)
    pii_samples: list[str] = field(default_factory=list)  # clear values a check can look for in sinks

    def carrier(self, carrier_id: str) -> CarrierTruth:
        if carrier_id not in self.carriers:
            self.carriers[carrier_id] = CarrierTruth()
        return self.carriers[carrier_id]

    def delivery_outcome(self, *, carrier_id: str, day: str, completed: bool, on_time: bool) -> None:
        truth = self.carrier(carrier_id)
        truth.deliveries += 1
        truth.on_time += on_time
        slot = truth.by_day.setdefault(day, {"deliveries": 0, "completed": 0, "on_time": 0})
        slot["deliveries"] += 1
        slot["completed"] += completed
        slot["on_time"] += on_time

    def expected(self) -> dict[str, Any]:
        """Where every record should end up after one pipeline run into an empty warehouse."""
        tables: Counter[str] = Counter()
        for subject, count in self.by_type.items():
            tables[FAMILIES[SUBJECTS[subject].family].silver_table] += count
        return {
            "received": self.records,
            "silver": self.events,
            "silver_by_table": dict(sorted(tables.items())),
            # truncated writes -> malformed_json; events of unregistered types -> unknown_event_type
            "dlq": self.faults["malformed"] + self.faults["unknown_type"],
            "dlq_by_reason": {
                "malformed_json": self.faults["malformed"],
                "unknown_event_type": self.faults["unknown_type"],
            },
            "duplicates": self.faults["duplicate"],
            "alerts": self.by_type["shipment.exception"] + self.by_type["delivery.failed"],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "records": self.records,
            "events": self.events,
            "by_type": dict(sorted(self.by_type.items())),
            "by_version": dict(sorted(self.by_version.items())),
            "faults": dict(self.faults),
            "expected": self.expected(),
            "shipments": self.shipments,
            "first_shipment": self.first_shipment,
            "delivered_per_day": dict(sorted(self.delivered_per_day.items())),
            "carriers": {cid: c.as_dict() for cid, c in sorted(self.carriers.items())},
            "pii_samples": self.pii_samples,
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z) + b"\n")
        return path
