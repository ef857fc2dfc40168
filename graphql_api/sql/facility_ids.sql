-- Every facility silver knows, by id. BigQuery dialect. Parameters: @page_limit INT64.
SELECT DISTINCT facility_id
FROM clean.facility_events
WHERE event_type = 'facility.created'
ORDER BY facility_id
LIMIT @page_limit
