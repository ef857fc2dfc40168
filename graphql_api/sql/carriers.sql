-- Carriers silver has seen (on shipments or drivers): a carrier exists once it moved a parcel
-- or onboarded a driver. BigQuery dialect. Parameters: @carrier_ids ARRAY<STRING>.
SELECT DISTINCT carrier_id FROM clean.shipment_events WHERE carrier_id IN UNNEST(@carrier_ids)
UNION DISTINCT
SELECT DISTINCT carrier_id FROM clean.driver_events WHERE carrier_id IN UNNEST(@carrier_ids)
