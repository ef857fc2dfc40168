-- Every silver event of a batch of shipments (shipment and delivery families): the timeline,
-- status, booking and deliveries all come from this one read. BigQuery dialect.
-- pii_sealed: the precise values of generalized fields (door GPS, postcodes), for read:pii callers only.
-- Parameters: @shipment_ids ARRAY<STRING>.
SELECT shipment_id, event_id, event_type, event_time, facility_id, carrier_id,
       CAST(NULL AS STRING) AS delivery_id, CAST(NULL AS STRING) AS driver_id, TO_JSON_STRING(payload) AS payload,
       pii_sealed
FROM clean.shipment_events
WHERE shipment_id IN UNNEST(@shipment_ids)
UNION ALL
SELECT shipment_id, event_id, event_type, event_time, facility_id, carrier_id,
       delivery_id, driver_id, TO_JSON_STRING(payload) AS payload, pii_sealed
FROM clean.delivery_events
WHERE shipment_id IN UNNEST(@shipment_ids)
