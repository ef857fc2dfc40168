-- dim_carrier: SCD Type 2 over the carrier reference data (curated.seed_carriers). No parameters.
-- Same shape as dim_facility.sql: an append-only change log, the dimension recomputed from it.
-- A seed row is a change at its effective_from; editing a row in place (a correction) adds a
-- change at the same instant, and the latest loaded one wins.
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

CREATE OR REPLACE TABLE curated.dim_carrier__staging AS
WITH changes AS (
  SELECT change_id, carrier_id, changed_at, ingest_time, name, scac, service_mode, hq_region
  FROM curated.dim_carrier_changes
  UNION ALL
  SELECT change_id, carrier_id, changed_at, ingest_time, name, scac, service_mode, hq_region
  FROM curated.dim_carrier_changes__staging
),
-- a seed row states every attribute, so the last change at an instant is the version
instants AS (
  SELECT *
  FROM changes
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY carrier_id, changed_at ORDER BY ingest_time DESC, change_id DESC) = 1
),
fingerprinted AS (
  SELECT
    *,
    TO_HEX(MD5(CONCAT(
      IFNULL(name, '~'), '|', IFNULL(scac, '~'), '|', IFNULL(service_mode, '~'), '|', IFNULL(hq_region, '~')
    ))) AS attributes_hash
  FROM instants
),
versions AS (
  SELECT *
  FROM fingerprinted
  WHERE TRUE
  QUALIFY attributes_hash IS DISTINCT FROM LAG(attributes_hash) OVER (PARTITION BY carrier_id ORDER BY changed_at)
)
SELECT
  TO_HEX(MD5(CONCAT(carrier_id, '|', CAST(UNIX_MICROS(changed_at) AS STRING)))) AS carrier_sk,
  carrier_id,
  name,
  scac,
  service_mode,
  hq_region,
  changed_at AS valid_from,
  LEAD(changed_at) OVER (PARTITION BY carrier_id ORDER BY changed_at) AS valid_to,
  LEAD(changed_at) OVER (PARTITION BY carrier_id ORDER BY changed_at) IS NULL AS is_current,
  ROW_NUMBER() OVER (PARTITION BY carrier_id ORDER BY changed_at) AS version
FROM versions;
