-- gold_watermarks: per gold partition, what silver looked like when it was last built.
-- Parameter: @day (DATE). Staged with the day's facts and published with them, so a
-- watermark only moves when the partition it describes was actually published.
-- Reconciliation compares silver now against these rows (late_partitions.sql).
CREATE TABLE IF NOT EXISTS curated.gold_watermarks (
  partition_date DATE NOT NULL,
  silver_max_ingest_time TIMESTAMP,
  silver_events INT64 NOT NULL,
  built_at TIMESTAMP NOT NULL
)
PARTITION BY partition_date;

CREATE OR REPLACE TABLE curated.gold_watermarks__staging AS
SELECT
  @day AS partition_date,
  MAX(ingest_time) AS silver_max_ingest_time,
  COUNT(*) AS silver_events,
  CURRENT_TIMESTAMP() AS built_at
FROM (
  SELECT event_time, ingest_time FROM clean.delivery_events
  UNION ALL
  SELECT event_time, ingest_time FROM clean.shipment_events
) AS silver
WHERE silver.event_time >= TIMESTAMP(@day) AND silver.event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY));
