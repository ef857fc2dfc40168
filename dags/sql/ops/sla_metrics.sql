-- sla_metrics: the health numbers sla_monitoring compares with its thresholds.
-- Parameters: @now (TIMESTAMP, the run's time), @dlq_window_start (TIMESTAMP).
WITH silver AS (
  SELECT 'shipment_events' AS silver_table, MAX(event_time) AS newest_event, MAX(ingest_time) AS newest_ingest,
    COUNTIF(ingest_time >= @dlq_window_start AND ingest_time <= @now) AS recent_rows
  FROM clean.shipment_events
  UNION ALL
  SELECT 'delivery_events', MAX(event_time), MAX(ingest_time),
    COUNTIF(ingest_time >= @dlq_window_start AND ingest_time <= @now)
  FROM clean.delivery_events
  UNION ALL
  SELECT 'facility_events', MAX(event_time), MAX(ingest_time),
    COUNTIF(ingest_time >= @dlq_window_start AND ingest_time <= @now)
  FROM clean.facility_events
  UNION ALL
  SELECT 'driver_events', MAX(event_time), MAX(ingest_time),
    COUNTIF(ingest_time >= @dlq_window_start AND ingest_time <= @now)
  FROM clean.driver_events
)
SELECT
  s.silver_table,
  TIMESTAMP_DIFF(@now, s.newest_event, SECOND) / 60.0 AS staleness_minutes,
  TIMESTAMP_DIFF(@now, s.newest_ingest, SECOND) / 60.0 AS ingest_lag_minutes,
  s.recent_rows,
  (SELECT COUNT(*) FROM clean.dlq_events WHERE failed_time >= @dlq_window_start AND failed_time <= @now)
    AS recent_dlq_rows
FROM silver AS s
ORDER BY s.silver_table;
