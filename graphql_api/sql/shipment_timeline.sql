-- Every silver event of one shipment, oldest first. BigQuery dialect; parameter: @shipment_id.
SELECT event_id, event_type, event_time, facility_id, 'shipment' AS family
FROM clean.shipment_events
WHERE shipment_id = @shipment_id
UNION ALL
SELECT event_id, event_type, event_time, facility_id, 'delivery' AS family
FROM clean.delivery_events
WHERE shipment_id = @shipment_id
ORDER BY event_time, event_id
