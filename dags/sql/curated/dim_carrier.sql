-- dim_carrier: SCD Type 2 over the carrier reference data (curated.seed_carriers). No parameters.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter.
--
-- This file creates the dimension, its change log and the seed table, and stages what the
-- latest loaded seed says that the log does not. The versions are recomputed from the whole
-- log by the statement every SCD2 dimension shares (logistics/gold/scd2.py), run right after this
-- file; `logistics gold-sql dim_carrier` prints both.
--
-- The seed is the whole truth at each load: a row is the carrier's attributes from its
-- effective_from. Compared per (carrier, instant) with the log's latest change, the load stages
-- - 'set' for a row the log lacks or states otherwise (a correction, and a reverted correction,
--   each land once, and the latest loaded wins),
-- - 'retract' for an instant the seed no longer has, of a carrier it still lists,
-- - 'close' (at the load's time) for a carrier it no longer lists: its current version ends.
-- A load that agrees with the log stages nothing.
CREATE TABLE IF NOT EXISTS curated.dim_carrier (
  carrier_sk STRING NOT NULL,
  carrier_id STRING NOT NULL,
  name STRING,
  scac STRING,
  service_mode STRING,
  hq_region STRING,
  valid_from TIMESTAMP NOT NULL,
  valid_to TIMESTAMP,
  is_current BOOL NOT NULL,
  version INT64 NOT NULL
)
CLUSTER BY carrier_id;

CREATE TABLE IF NOT EXISTS curated.dim_carrier_changes (
  change_id STRING NOT NULL,
  carrier_id STRING NOT NULL,
  changed_at TIMESTAMP NOT NULL,
  ingest_time TIMESTAMP NOT NULL,
  change_kind STRING,  -- 'set', 'retract' or 'close' (logistics/gold/scd2.py)
  name STRING,
  scac STRING,
  service_mode STRING,
  hq_region STRING
)
CLUSTER BY carrier_id;

CREATE TABLE IF NOT EXISTS curated.seed_carriers (
  carrier_id STRING NOT NULL,
  name STRING,
  scac STRING,
  service_mode STRING,
  hq_region STRING,
  effective_from TIMESTAMP NOT NULL
);

-- a log created before change_kind existed gets it (NULL reads as 'set')
ALTER TABLE curated.dim_carrier_changes ADD COLUMN IF NOT EXISTS change_kind STRING;

CREATE OR REPLACE TABLE curated.dim_carrier_changes__staging AS
WITH seed AS (  -- a row repeated in the file is one row (logistics.gold.seeds rejects conflicting repeats)
  SELECT DISTINCT carrier_id, effective_from AS changed_at, name, scac, service_mode, hq_region
  FROM curated.seed_carriers
),
-- the log now: per carrier and instant, its latest change
logged AS (
  SELECT carrier_id, changed_at, IFNULL(change_kind, 'set') AS change_kind, name, scac, service_mode, hq_region
  FROM curated.dim_carrier_changes
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY carrier_id, changed_at ORDER BY ingest_time DESC, change_id DESC) = 1
),
live AS (
  SELECT * FROM logged WHERE change_kind != 'retract'
),
sets AS (
  SELECT s.carrier_id, s.changed_at, 'set' AS change_kind, s.name, s.scac, s.service_mode, s.hq_region
  FROM seed AS s
  LEFT JOIN live AS l ON l.carrier_id = s.carrier_id AND l.changed_at = s.changed_at
  WHERE l.carrier_id IS NULL
    OR l.change_kind != 'set'
    OR l.name IS DISTINCT FROM s.name
    OR l.scac IS DISTINCT FROM s.scac
    OR l.service_mode IS DISTINCT FROM s.service_mode
    OR l.hq_region IS DISTINCT FROM s.hq_region
),
retractions AS (
  SELECT
    l.carrier_id, l.changed_at, 'retract' AS change_kind,
    CAST(NULL AS STRING) AS name, CAST(NULL AS STRING) AS scac,
    CAST(NULL AS STRING) AS service_mode, CAST(NULL AS STRING) AS hq_region
  FROM live AS l
  WHERE l.carrier_id IN (SELECT carrier_id FROM seed)
    AND NOT EXISTS (SELECT 1 FROM seed AS s WHERE s.carrier_id = l.carrier_id AND s.changed_at = l.changed_at)
),
latest AS (
  SELECT *
  FROM live
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY carrier_id ORDER BY changed_at DESC) = 1
),
closures AS (  -- not before the carrier's last instant: a future-dated row then never takes effect
  SELECT
    l.carrier_id, GREATEST(CURRENT_TIMESTAMP(), l.changed_at) AS changed_at, 'close' AS change_kind,
    CAST(NULL AS STRING) AS name, CAST(NULL AS STRING) AS scac,
    CAST(NULL AS STRING) AS service_mode, CAST(NULL AS STRING) AS hq_region
  FROM latest AS l
  WHERE l.change_kind != 'close'
    AND l.carrier_id NOT IN (SELECT carrier_id FROM seed)
),
staged AS (
  SELECT * FROM sets
  UNION ALL
  SELECT * FROM retractions
  UNION ALL
  SELECT * FROM closures
)
SELECT
  -- unique per load: a value the log held before (a reverted correction) is a new change
  TO_HEX(MD5(CONCAT(
    carrier_id, '|', CAST(UNIX_MICROS(changed_at) AS STRING), '|', change_kind, '|',
    CAST(UNIX_MICROS(CURRENT_TIMESTAMP()) AS STRING)
  ))) AS change_id,
  carrier_id,
  changed_at,
  CURRENT_TIMESTAMP() AS ingest_time,
  change_kind,
  name,
  scac,
  service_mode,
  hq_region
FROM staged;
