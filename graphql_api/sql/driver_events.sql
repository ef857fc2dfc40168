-- Every silver event of a batch of drivers (onboarding, GPS pings). BigQuery dialect.
-- pii_sealed: the precise GPS a ping's payload holds generalized (revealed to read:pii callers only).
-- Parameters: @driver_ids ARRAY<STRING>.
SELECT driver_id, carrier_id, event_id, event_type, event_time, TO_JSON_STRING(payload) AS payload, pii_sealed
FROM clean.driver_events
WHERE driver_id IN UNNEST(@driver_ids)
ORDER BY event_time, event_id
