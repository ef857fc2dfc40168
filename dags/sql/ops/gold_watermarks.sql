-- gold_watermarks: per gold partition, what silver held when it was last built.
-- Parameter: @day (DATE). Staged with the day's facts and published with them, so a
-- watermark only moves when the partition it describes was actually published.
-- silver_max_ingest_time is the newest ingest_time in all of silver at the build: an event
-- ingested later is one this build cannot have read (late_partitions.sql). silver_events counts
-- the events of the day itself, for the record.
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
  (
    SELECT MAX(ingest_time)
    FROM (
      SELECT MAX(ingest_time) AS ingest_time FROM clean.shipment_events
      UNION ALL
      SELECT MAX(ingest_time) FROM clean.delivery_events
      UNION ALL
      SELECT MAX(ingest_time) FROM clean.facility_events
      UNION ALL
      SELECT MAX(ingest_time) FROM clean.driver_events
    ) AS newest
  ) AS silver_max_ingest_time,
  (
    SELECT COUNT(*)
    FROM (
      SELECT event_time FROM clean.delivery_events
      UNION ALL
      SELECT event_time FROM clean.shipment_events
    ) AS silver
    WHERE silver.event_time >= TIMESTAMP(@day) AND silver.event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
  ) AS silver_events,
  CURRENT_TIMESTAMP() AS built_at;
