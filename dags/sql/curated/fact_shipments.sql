-- fact_shipments: one row per (activity_date, facility, carrier) with the day's shipment activity.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter. Parameter: @day (DATE).
-- Writes the day's rows to a staging table; the publish step replaces the day's partition
-- (so a re-run changes nothing but built_at).
CREATE TABLE IF NOT EXISTS curated.fact_shipments (
  activity_date DATE NOT NULL,
  facility_id STRING,
  carrier_id STRING,
  created_count INT64 NOT NULL,
  in_transit_scans INT64 NOT NULL,
  out_for_delivery_count INT64 NOT NULL,
  delivered_count INT64 NOT NULL,
  exception_count INT64 NOT NULL,
  avg_transit_hours FLOAT64,
  built_at TIMESTAMP NOT NULL
)
PARTITION BY activity_date
CLUSTER BY facility_id, carrier_id;

CREATE OR REPLACE TABLE curated.fact_shipments__staging AS
WITH day_events AS (
  SELECT
    event_id,
    event_type,
    shipment_id,
    carrier_id,
    facility_id,  -- for shipment.created: the origin (see key_columns in contracts/registry.yaml)
    event_time
  FROM clean.shipment_events
  WHERE event_time >= TIMESTAMP(@day)
    AND event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
),
-- only shipments delivered today need their creation time
created AS (
  SELECT shipment_id, MIN(event_time) AS created_time
  FROM clean.shipment_events
  WHERE event_type = 'shipment.created'
    AND shipment_id IN (SELECT shipment_id FROM day_events WHERE event_type = 'shipment.delivered')
  GROUP BY shipment_id
),
-- keyed by event_id, so joining it back can never multiply rows
transit AS (
  SELECT d.event_id, TIMESTAMP_DIFF(d.event_time, c.created_time, SECOND) / 3600.0 AS transit_hours
  FROM day_events AS d
  JOIN created AS c ON c.shipment_id = d.shipment_id
  WHERE d.event_type = 'shipment.delivered'
)
SELECT
  @day AS activity_date,
  e.facility_id,
  e.carrier_id,
  COUNTIF(e.event_type = 'shipment.created') AS created_count,
  COUNTIF(e.event_type = 'shipment.in_transit') AS in_transit_scans,
  COUNTIF(e.event_type = 'shipment.out_for_delivery') AS out_for_delivery_count,
  COUNTIF(e.event_type = 'shipment.delivered') AS delivered_count,
  COUNTIF(e.event_type = 'shipment.exception') AS exception_count,
  AVG(t.transit_hours) AS avg_transit_hours,
  CURRENT_TIMESTAMP() AS built_at
FROM day_events AS e
LEFT JOIN transit AS t ON t.event_id = e.event_id
GROUP BY e.facility_id, e.carrier_id;
