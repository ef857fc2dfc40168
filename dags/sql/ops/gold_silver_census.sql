-- gold_silver_census: per silver event day, how many events silver held and its newest ingest_time
-- when reconciliation last brought gold up to date. No parameters.
-- Staged by reconciliation's find step and published only when every partition it rebuilt
-- passed its gate, so a failed rebuild is retried: late_partitions.sql compares against it.
CREATE TABLE IF NOT EXISTS curated.gold_silver_census (
  event_date DATE NOT NULL,
  silver_events INT64 NOT NULL,
  silver_max_ingest_time TIMESTAMP
);  -- one row per day of silver, swapped whole by publish

CREATE OR REPLACE TABLE curated.gold_silver_census__staging AS
SELECT DATE(event_time) AS event_date, COUNT(*) AS silver_events, MAX(ingest_time) AS silver_max_ingest_time
FROM (
  SELECT event_time, ingest_time FROM clean.shipment_events
  UNION ALL
  SELECT event_time, ingest_time FROM clean.delivery_events
  UNION ALL
  SELECT event_time, ingest_time FROM clean.facility_events
  UNION ALL
  SELECT event_time, ingest_time FROM clean.driver_events
) AS silver
GROUP BY event_date;
