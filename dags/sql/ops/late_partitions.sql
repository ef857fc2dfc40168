-- late_partitions: published gold partitions whose silver changed since they were built
-- (a newer ingest_time, or a different event count: a replay can carry old ingest times).
-- No parameters. Partitions never built are the daily DAG's job, not reconciliation's.
WITH silver AS (
  SELECT DATE(event_time) AS partition_date, MAX(ingest_time) AS silver_max_ingest_time, COUNT(*) AS silver_events
  FROM (
    SELECT event_time, ingest_time FROM clean.delivery_events
    UNION ALL
    SELECT event_time, ingest_time FROM clean.shipment_events
  ) AS events
  GROUP BY partition_date
)
SELECT
  s.partition_date,
  w.silver_max_ingest_time AS built_max_ingest_time,
  s.silver_max_ingest_time,
  w.silver_events AS built_events,
  s.silver_events
FROM silver AS s
JOIN curated.gold_watermarks AS w ON w.partition_date = s.partition_date
WHERE s.silver_max_ingest_time > w.silver_max_ingest_time
  OR w.silver_max_ingest_time IS NULL
  OR s.silver_events <> w.silver_events
ORDER BY s.partition_date;
