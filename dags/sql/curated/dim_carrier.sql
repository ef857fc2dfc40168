-- dim_carrier: SCD Type 2 over the carrier reference data (curated.seed_carriers). No parameters.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter.
--
-- This file creates the dimension, its change log and the seed table, and stages the seed
-- rows the log does not have yet. The versions are recomputed from the whole log by the
-- statement every SCD2 dimension shares (dags/gold/scd2.py), run right after this file;
-- `logistics gold-sql dim_carrier` prints both. A seed row states every attribute and is a
-- change at its effective_from; editing a row in place (a correction) adds a change at the
-- same instant, and the latest loaded one wins.
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

CREATE OR REPLACE TABLE curated.dim_carrier_changes__staging AS
WITH seeded AS (
  SELECT
    TO_HEX(MD5(CONCAT(
      s.carrier_id, '|', CAST(UNIX_MICROS(s.effective_from) AS STRING), '|', IFNULL(s.name, '~'), '|',
      IFNULL(s.scac, '~'), '|', IFNULL(s.service_mode, '~'), '|', IFNULL(s.hq_region, '~')
    ))) AS change_id,
    s.carrier_id,
    s.effective_from AS changed_at,
    s.name,
    s.scac,
    s.service_mode,
    s.hq_region
  FROM curated.seed_carriers AS s
)
SELECT
  change_id,
  carrier_id,
  changed_at,
  CURRENT_TIMESTAMP() AS ingest_time,
  name,
  scac,
  service_mode,
  hq_region
FROM seeded AS n
WHERE NOT EXISTS (SELECT 1 FROM curated.dim_carrier_changes AS c WHERE c.change_id = n.change_id);
