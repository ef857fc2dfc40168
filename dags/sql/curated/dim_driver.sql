-- dim_driver: SCD Type 2 over driver.created (a re-sent driver.created with new values is a
-- change). No parameters. BigQuery dialect; rendered for DuckDB by the warehouse adapter.
--
-- This file creates the dimension and its change log, and stages the driver.created events
-- the log does not have yet. The versions are recomputed from the whole log by the statement
-- every SCD2 dimension shares (logistics/gold/scd2.py), run right after this file;
-- `logistics gold-sql dim_driver` prints both. The driver's name and phone are PII
-- (tokenized in silver) and stay out of gold.
CREATE TABLE IF NOT EXISTS curated.dim_driver (
  driver_sk STRING NOT NULL,
  driver_id STRING NOT NULL,
  carrier_id STRING,
  home_facility_id STRING,
  vehicle_type STRING,
  valid_from TIMESTAMP NOT NULL,
  valid_to TIMESTAMP,
  is_current BOOL NOT NULL,
  version INT64 NOT NULL
)
CLUSTER BY driver_id;

CREATE TABLE IF NOT EXISTS curated.dim_driver_changes (
  change_id STRING NOT NULL,
  driver_id STRING NOT NULL,
  changed_at TIMESTAMP NOT NULL,
  ingest_time TIMESTAMP NOT NULL,
  change_kind STRING,  -- 'set' here (logistics/gold/scd2.py)
  carrier_id STRING,
  home_facility_id STRING,
  vehicle_type STRING
)
CLUSTER BY driver_id;

-- a log created before change_kind existed gets it (NULL reads as 'set')
ALTER TABLE curated.dim_driver_changes ADD COLUMN IF NOT EXISTS change_kind STRING;

CREATE OR REPLACE TABLE curated.dim_driver_changes__staging AS
SELECT
  e.event_id AS change_id,
  e.driver_id,
  e.event_time AS changed_at,
  e.ingest_time,
  'set' AS change_kind,
  e.carrier_id,
  JSON_VALUE(e.payload, '$.home_facility_id') AS home_facility_id,
  JSON_VALUE(e.payload, '$.vehicle_type') AS vehicle_type
FROM clean.driver_events AS e
WHERE e.event_type = 'driver.created'
  AND e.driver_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM curated.dim_driver_changes AS c WHERE c.change_id = e.event_id);
