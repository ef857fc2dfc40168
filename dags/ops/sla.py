"""SLA checks: pipeline lag, DLQ rate, freshness per table, delivery on-time rate vs thresholds."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from dags.ops.notifiers import Alert
from logistics.gold.tables import SQL_DIR, ensure_published_tables
from logistics.settings import MartsSettings
from logistics.warehouse import Warehouse, sql_file


@dataclass(frozen=True)
class SlaMetrics:
    pipeline_lag_minutes: float | None  # None: silver holds nothing
    dlq_rate: float
    silver_staleness_minutes: dict[str, float | None]
    gold_staleness_hours: float | None  # None: gold never published
    on_time_rate: float | None  # None: no delivery with a promise yet
    latest_delivery_date: dt.date | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Breach:
    check: str
    observed: float | None
    threshold: float

    def describe(self) -> str:
        seen = "no data" if self.observed is None else f"{self.observed:.3f}"
        return f"{self.check}: {seen} (threshold {self.threshold})"


def measure(warehouse: Warehouse, *, now: dt.datetime, settings: MartsSettings) -> SlaMetrics:
    ensure_published_tables(warehouse)  # a fresh warehouse has no gold yet: that is a breach, not a crash
    window_start = now - dt.timedelta(minutes=settings.sla_dlq_window_minutes)
    silver = warehouse.query(
        sql_file(SQL_DIR / "ops" / "sla_metrics.sql"), {"now": now, "dlq_window_start": window_start}
    )
    gold = warehouse.query(sql_file(SQL_DIR / "ops" / "gold_health.sql"), {"now": now})[0]
    lags = [float(r["ingest_lag_minutes"]) for r in silver if r["ingest_lag_minutes"] is not None]
    recent = sum(int(r["recent_rows"]) for r in silver)
    dlq = int(silver[0]["recent_dlq_rows"]) if silver else 0
    return SlaMetrics(
        pipeline_lag_minutes=min(lags) if lags else None,
        dlq_rate=dlq / (dlq + recent) if dlq + recent else 0.0,
        silver_staleness_minutes={
            r["silver_table"]: None if r["staleness_minutes"] is None else float(r["staleness_minutes"]) for r in silver
        },
        gold_staleness_hours=None if gold["gold_staleness_hours"] is None else float(gold["gold_staleness_hours"]),
        on_time_rate=None if gold["on_time_rate"] is None else float(gold["on_time_rate"]),
        latest_delivery_date=gold["latest_delivery_date"],
    )


def evaluate(metrics: SlaMetrics, settings: MartsSettings) -> list[Breach]:
    breaches: list[Breach] = []

    def over(check: str, observed: float | None, threshold: float) -> None:
        if observed is None or observed > threshold:
            breaches.append(Breach(check=check, observed=observed, threshold=threshold))

    over("pipeline_lag_minutes", metrics.pipeline_lag_minutes, settings.sla_max_pipeline_lag_minutes)
    over("dlq_rate", metrics.dlq_rate, settings.sla_max_dlq_rate)
    for table, staleness in metrics.silver_staleness_minutes.items():
        over(f"freshness.clean.{table}_minutes", staleness, settings.sla_max_silver_staleness_minutes)
    over("freshness.gold_hours", metrics.gold_staleness_hours, settings.sla_max_gold_staleness_hours)
    if metrics.on_time_rate is not None and metrics.on_time_rate < settings.sla_min_on_time_rate:
        breaches.append(
            Breach(check="on_time_rate", observed=metrics.on_time_rate, threshold=settings.sla_min_on_time_rate)
        )
    return breaches


def alert_for(breaches: list[Breach], *, metrics: SlaMetrics) -> Alert:
    checks = sorted(b.check for b in breaches)
    return Alert(
        summary=f"logistics SLA breached: {'; '.join(b.describe() for b in breaches)}",
        severity="critical" if any(c.startswith(("pipeline_lag", "dlq")) for c in checks) else "error",
        dedup_key="sla:" + ",".join(checks),
        details={"breaches": [b.describe() for b in breaches], "metrics": metrics.as_dict()},
    )
