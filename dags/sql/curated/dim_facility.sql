-- dim_facility: SCD Type 2 over facility.created / facility.capacity_changed. No parameters.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter.
--
-- This file creates the dimension and its change log, and stages the facility events the
-- log does not have yet. The versions are recomputed from the whole log by the statement
-- every SCD2 dimension shares (logistics/gold/scd2.py; logistics/gold/tables.py marks this one
-- carry_forward, as a capacity change states only the capacity), run right after this file;
-- `logistics gold-sql dim_facility` prints both. Only staging tables are written; the
-- publish step swaps them in after the gate.
CREATE TABLE IF NOT EXISTS curated.dim_facility (
  facility_sk STRING NOT NULL,
  facility_id STRING NOT NULL,
  name STRING,
  facility_type STRING,
  region STRING,
  timezone STRING,
  latitude FLOAT64,
  longitude FLOAT64,
  capacity_per_hour INT64,
  valid_from TIMESTAMP NOT NULL,
  valid_to TIMESTAMP,
  is_current BOOL NOT NULL,
  version INT64 NOT NULL
)
CLUSTER BY facility_id;

CREATE TABLE IF NOT EXISTS curated.dim_facility_changes (
  change_id STRING NOT NULL,
  facility_id STRING NOT NULL,
  changed_at TIMESTAMP NOT NULL,
  ingest_time TIMESTAMP NOT NULL,
  change_kind STRING,  -- 'set' here (logistics/gold/scd2.py)
  name STRING,
  facility_type STRING,
  region STRING,
  timezone STRING,
  latitude FLOAT64,
  longitude FLOAT64,
  capacity_per_hour INT64
)
CLUSTER BY facility_id;

-- a log created before change_kind existed gets it (NULL reads as 'set')
ALTER TABLE curated.dim_facility_changes ADD COLUMN IF NOT EXISTS change_kind STRING;

-- changes silver has that the log does not yet: a capacity change carries only the capacity
-- (its other attributes are NULL here and carried forward from the version before it)
CREATE OR REPLACE TABLE curated.dim_facility_changes__staging AS
SELECT
  e.event_id AS change_id,
  e.facility_id,
  e.event_time AS changed_at,
  e.ingest_time,
  'set' AS change_kind,
  JSON_VALUE(e.payload, '$.name') AS name,
  JSON_VALUE(e.payload, '$.facility_type') AS facility_type,
  JSON_VALUE(e.payload, '$.region') AS region,
  JSON_VALUE(e.payload, '$.timezone') AS timezone,
  CAST(JSON_VALUE(e.payload, '$.location.lat') AS FLOAT64) AS latitude,
  CAST(JSON_VALUE(e.payload, '$.location.lon') AS FLOAT64) AS longitude,
  CAST(JSON_VALUE(e.payload, '$.capacity_per_hour') AS INT64) AS capacity_per_hour
FROM clean.facility_events AS e
WHERE e.event_type IN ('facility.created', 'facility.capacity_changed')
  AND e.facility_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM curated.dim_facility_changes AS c WHERE c.change_id = e.event_id);
