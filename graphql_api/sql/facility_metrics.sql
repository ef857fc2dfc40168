-- Volume and dwell time per facility over [@window_start, @window_end): shipments scanned there,
-- and hours from a shipment's first to its last scan there (arrival to departure). BigQuery dialect.
-- Parameters: @facility_ids ARRAY<STRING>; @window_start, @window_end TIMESTAMP.
WITH scans AS (
  SELECT facility_id, shipment_id, event_time
  FROM clean.shipment_events
  WHERE facility_id IN UNNEST(@facility_ids)
    AND event_type IN ('shipment.created', 'shipment.in_transit', 'shipment.out_for_delivery')
    AND event_time >= @window_start AND event_time < @window_end
),
per_shipment AS (
  SELECT facility_id, shipment_id, TIMESTAMP_DIFF(MAX(event_time), MIN(event_time), SECOND) / 3600.0 AS dwell_hours
  FROM scans
  GROUP BY facility_id, shipment_id
)
SELECT facility_id, COUNT(*) AS volume, AVG(dwell_hours) AS average_dwell_hours
FROM per_shipment
GROUP BY facility_id
