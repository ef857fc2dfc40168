-- SCD2 versions of a batch of facilities from gold, oldest first. BigQuery dialect.
-- Parameters: @facility_ids ARRAY<STRING>.
SELECT facility_id, name, facility_type, region, capacity_per_hour, valid_from, valid_to, is_current
FROM curated.dim_facility
WHERE facility_id IN UNNEST(@facility_ids)
ORDER BY facility_id, valid_from
