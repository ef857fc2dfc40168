-- seed_carriers: carrier reference data (dags/seeds/carriers.csv), reloaded whole each run.
-- Rows are inserted by logistics.gold.seeds with bound parameters; this file only shapes the table.
-- One row per (carrier_id, effective_from): a later row is a change to the carrier (SCD2 source).
CREATE OR REPLACE TABLE curated.seed_carriers (
  carrier_id STRING NOT NULL,
  name STRING,
  scac STRING,
  service_mode STRING,
  hq_region STRING,
  effective_from TIMESTAMP NOT NULL
);
