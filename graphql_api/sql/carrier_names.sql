-- Current carrier names from gold (curated.dim_carrier, SCD2). BigQuery dialect.
-- Parameters: @carrier_ids ARRAY<STRING>.
SELECT carrier_id, name
FROM curated.dim_carrier
WHERE carrier_id IN UNNEST(@carrier_ids) AND is_current
