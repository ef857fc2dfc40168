"""The conservation ledger: every received record ends in exactly one place.

A bounded run's ledger is written to the warehouse (``clean.pipeline_ledger``) in the same
transaction that makes its silver and DLQ rows visible (:func:`pipeline.sinks.silver.load_staged`),
so a run killed at any point leaves either its rows *and* its ledger, or neither: the ledgers
in the warehouse always cover exactly what silver and the DLQ hold from bounded runs, and
``logistics ledger`` sums them into the whole stream's balance after any crash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from logistics.warehouse import Warehouse, pipeline_ledger_table


@dataclass
class Ledger:
    """Silver, the DLQ or the duplicate count, for every received record.

    Alerts are copies of silver events (not a destination of their own) and are reported
    beside the balance.
    """

    run_id: str
    received: int = 0
    duplicates: int = 0
    silver_inserted: dict[str, int] = field(default_factory=dict)
    silver_already_present: int = 0  # replays: unique in this run, already in silver from an earlier one
    dlq: int = 0
    dlq_already_present: int = 0
    alerts: int = 0

    @property
    def silver_total(self) -> int:
        return sum(self.silver_inserted.values())

    @property
    def accounted(self) -> int:
        return self.silver_total + self.silver_already_present + self.dlq + self.dlq_already_present + self.duplicates

    @property
    def balanced(self) -> bool:
        return self.accounted == self.received

    def row(self, *, committed_at: dt.datetime, input: str | None) -> dict[str, Any]:
        """This ledger as a ``clean.pipeline_ledger`` row."""
        return {
            "run_id": self.run_id,
            "committed_at": committed_at,
            "input": input,
            "received": self.received,
            "duplicates": self.duplicates,
            "silver_inserted": self.silver_total,
            "silver_already_present": self.silver_already_present,
            "dlq_inserted": self.dlq,
            "dlq_already_present": self.dlq_already_present,
            "alerts": self.alerts,
            "silver_inserted_by_table": orjson.dumps(self.silver_inserted, option=orjson.OPT_SORT_KEYS).decode(),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Ledger:
        return cls(
            run_id=row["run_id"],
            received=row["received"],
            duplicates=row["duplicates"],
            silver_inserted=orjson.loads(row["silver_inserted_by_table"]),
            silver_already_present=row["silver_already_present"],
            dlq=row["dlq_inserted"],
            dlq_already_present=row["dlq_already_present"],
            alerts=row["alerts"],
        )


def summed(ledgers: Iterable[Ledger], *, run_id: str) -> Ledger:
    """Ledgers added up into one (balanced iff every one balanced, or their errors cancel)."""
    total = Ledger(run_id=run_id)
    for ledger in ledgers:
        total.received += ledger.received
        total.duplicates += ledger.duplicates
        total.silver_already_present += ledger.silver_already_present
        total.dlq += ledger.dlq
        total.dlq_already_present += ledger.dlq_already_present
        total.alerts += ledger.alerts
        for table, count in ledger.silver_inserted.items():
            total.silver_inserted[table] = total.silver_inserted.get(table, 0) + count
    return total


def record(warehouse: Warehouse, ledger: Ledger, *, input: str | None) -> None:
    """Write ``ledger`` (inside the caller's transaction: the one that loads the run's rows)."""
    warehouse.merge_rows(pipeline_ledger_table(), [ledger.row(committed_at=dt.datetime.now(dt.UTC), input=input)])


_COLUMNS = (
    "run_id, committed_at, input, received, duplicates, silver_inserted, silver_already_present, "
    "dlq_inserted, dlq_already_present, alerts, silver_inserted_by_table"
)


def committed(
    warehouse: Warehouse, *, since: dt.datetime | None = None, run_id: str | None = None
) -> list[tuple[dt.datetime, str | None, Ledger]]:
    """``(committed_at, input, ledger)`` of every committed run, oldest first (``since``: from then on)."""
    params = {name: value for name, value in {"since": since, "run_id": run_id}.items() if value is not None}
    conditions = " AND ".join({"since": "committed_at >= @since", "run_id": "run_id = @run_id"}[n] for n in params)
    rows = warehouse.query(
        f"SELECT {_COLUMNS} FROM clean.pipeline_ledger"
        f"{' WHERE ' + conditions if conditions else ''} ORDER BY committed_at, run_id",
        params or None,
    )
    return [(row["committed_at"], row["input"], Ledger.from_row(row)) for row in rows]
