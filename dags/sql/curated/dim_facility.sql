-- dim_facility: SCD Type 2 over facility.created / facility.capacity_changed. No parameters.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter.
--
-- Versions are derived, never patched: every accepted change lands once in an append-only
-- change log (dim_facility_changes), and the dimension is recomputed from the whole log.
-- So a late or out-of-order change slots into its place in history, several changes of
-- one key in one run each become a version, a re-run recomputes the same rows, and
-- history survives silver's retention (the log keeps what silver drops).
-- This file only writes staging tables; the publish step swaps them in after the gate.
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
  name STRING,
  facility_type STRING,
  region STRING,
  timezone STRING,
  latitude FLOAT64,
  longitude FLOAT64,
  capacity_per_hour INT64
)
CLUSTER BY facility_id;

-- changes silver has that the log does not yet: a capacity change carries only the capacity
-- (its other attributes are NULL here and carried forward from the version before it)
CREATE OR REPLACE TABLE curated.dim_facility_changes__staging AS
SELECT
  e.event_id AS change_id,
  e.facility_id,
  e.event_time AS changed_at,
  e.ingest_time,
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

CREATE OR REPLACE TABLE curated.dim_facility__staging AS
WITH changes AS (
  SELECT change_id, facility_id, changed_at, ingest_time, name, facility_type, region, timezone, latitude, longitude,
    capacity_per_hour
  FROM curated.dim_facility_changes
  UNION ALL
  SELECT change_id, facility_id, changed_at, ingest_time, name, facility_type, region, timezone, latitude, longitude,
    capacity_per_hour
  FROM curated.dim_facility_changes__staging
),
-- each change sees the latest known value of every attribute at its instant
filled AS (
  SELECT
    facility_id,
    changed_at,
    ingest_time,
    change_id,
    LAST_VALUE(name IGNORE NULLS) OVER history AS name,
    LAST_VALUE(facility_type IGNORE NULLS) OVER history AS facility_type,
    LAST_VALUE(region IGNORE NULLS) OVER history AS region,
    LAST_VALUE(timezone IGNORE NULLS) OVER history AS timezone,
    LAST_VALUE(latitude IGNORE NULLS) OVER history AS latitude,
    LAST_VALUE(longitude IGNORE NULLS) OVER history AS longitude,
    LAST_VALUE(capacity_per_hour IGNORE NULLS) OVER history AS capacity_per_hour
  FROM changes
  WINDOW history AS (
    PARTITION BY facility_id ORDER BY changed_at, ingest_time, change_id
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
  )
),
-- several changes at the same instant make one version: the last one ingested wins
instants AS (
  SELECT *
  FROM filled
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY facility_id, changed_at ORDER BY ingest_time DESC, change_id DESC) = 1
),
fingerprinted AS (
  SELECT
    *,
    TO_HEX(MD5(CONCAT(
      IFNULL(name, '~'), '|', IFNULL(facility_type, '~'), '|', IFNULL(region, '~'), '|', IFNULL(timezone, '~'), '|',
      IFNULL(CAST(latitude AS STRING), '~'), '|', IFNULL(CAST(longitude AS STRING), '~'), '|',
      IFNULL(CAST(capacity_per_hour AS STRING), '~')
    ))) AS attributes_hash
  FROM instants
),
-- a change that restates the current values (a re-sent facility.created) is not a new version
versions AS (
  SELECT *
  FROM fingerprinted
  WHERE TRUE
  QUALIFY attributes_hash IS DISTINCT FROM LAG(attributes_hash) OVER (PARTITION BY facility_id ORDER BY changed_at)
)
SELECT
  TO_HEX(MD5(CONCAT(facility_id, '|', CAST(UNIX_MICROS(changed_at) AS STRING)))) AS facility_sk,
  facility_id,
  name,
  facility_type,
  region,
  timezone,
  latitude,
  longitude,
  capacity_per_hour,
  changed_at AS valid_from,
  LEAD(changed_at) OVER (PARTITION BY facility_id ORDER BY changed_at) AS valid_to,
  LEAD(changed_at) OVER (PARTITION BY facility_id ORDER BY changed_at) IS NULL AS is_current,
  ROW_NUMBER() OVER (PARTITION BY facility_id ORDER BY changed_at) AS version
FROM versions;
