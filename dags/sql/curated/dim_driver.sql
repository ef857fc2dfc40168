-- dim_driver: SCD Type 2 over driver.created (a re-sent driver.created with new values is a
-- change). No parameters. Same shape as dim_facility.sql: an append-only change log, the
-- dimension recomputed from it. The driver's name and phone are PII (tokenized in silver)
-- and stay out of gold.
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
  carrier_id STRING,
  home_facility_id STRING,
  vehicle_type STRING
)
CLUSTER BY driver_id;

CREATE OR REPLACE TABLE curated.dim_driver_changes__staging AS
SELECT
  e.event_id AS change_id,
  e.driver_id,
  e.event_time AS changed_at,
  e.ingest_time,
  e.carrier_id,
  JSON_VALUE(e.payload, '$.home_facility_id') AS home_facility_id,
  JSON_VALUE(e.payload, '$.vehicle_type') AS vehicle_type
FROM clean.driver_events AS e
WHERE e.event_type = 'driver.created'
  AND e.driver_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM curated.dim_driver_changes AS c WHERE c.change_id = e.event_id);

CREATE OR REPLACE TABLE curated.dim_driver__staging AS
WITH changes AS (
  SELECT change_id, driver_id, changed_at, ingest_time, carrier_id, home_facility_id, vehicle_type
  FROM curated.dim_driver_changes
  UNION ALL
  SELECT change_id, driver_id, changed_at, ingest_time, carrier_id, home_facility_id, vehicle_type
  FROM curated.dim_driver_changes__staging
),
instants AS (
  SELECT *
  FROM changes
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY driver_id, changed_at ORDER BY ingest_time DESC, change_id DESC) = 1
),
fingerprinted AS (
  SELECT
    *,
    TO_HEX(MD5(CONCAT(IFNULL(carrier_id, '~'), '|', IFNULL(home_facility_id, '~'), '|', IFNULL(vehicle_type, '~'))))
      AS attributes_hash
  FROM instants
),
versions AS (
  SELECT *
  FROM fingerprinted
  WHERE TRUE
  QUALIFY attributes_hash IS DISTINCT FROM LAG(attributes_hash) OVER (PARTITION BY driver_id ORDER BY changed_at)
)
SELECT
  TO_HEX(MD5(CONCAT(driver_id, '|', CAST(UNIX_MICROS(changed_at) AS STRING)))) AS driver_sk,
  driver_id,
  carrier_id,
  home_facility_id,
  vehicle_type,
  changed_at AS valid_from,
  LEAD(changed_at) OVER (PARTITION BY driver_id ORDER BY changed_at) AS valid_to,
  LEAD(changed_at) OVER (PARTITION BY driver_id ORDER BY changed_at) IS NULL AS is_current,
  ROW_NUMBER() OVER (PARTITION BY driver_id ORDER BY changed_at) AS version
FROM versions;
