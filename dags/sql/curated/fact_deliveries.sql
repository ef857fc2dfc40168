-- fact_deliveries: one row per delivery, in the partition of the day its outcome was recorded.
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter. Parameter: @day (DATE).
-- Writes the day's rows to a staging table; the publish step replaces the day's partition.
--
-- Joining every shipment event of the shipment (to read expected_delivery) and every completed
-- event would multiply rows, so each input is reduced to one row per key before it is joined:
-- one outcome per delivery, one promise per shipment.
CREATE TABLE IF NOT EXISTS curated.fact_deliveries (
  delivery_id STRING NOT NULL,
  shipment_id STRING,
  delivery_date DATE NOT NULL,
  facility_id STRING,
  driver_id STRING,
  carrier_id STRING,
  status STRING NOT NULL,
  delivery_time TIMESTAMP NOT NULL,
  first_attempt_time TIMESTAMP,
  attempt_count INT64 NOT NULL,
  expected_delivery TIMESTAMP,
  on_time_flag BOOL
)
PARTITION BY delivery_date
CLUSTER BY facility_id, carrier_id;

CREATE OR REPLACE TABLE curated.fact_deliveries__staging AS
WITH
-- deliveries with an outcome recorded on @day (partition-pruned scan)
day_deliveries AS (
  SELECT DISTINCT delivery_id
  FROM clean.delivery_events
  WHERE event_time >= TIMESTAMP(@day)
    AND event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
    AND delivery_id IS NOT NULL
    AND (
      event_type = 'delivery.completed'
      OR (event_type = 'delivery.failed' AND JSON_VALUE(payload, '$.will_retry') = 'false')
    )
),
-- the outcome is the delivery's first terminal event ever: a re-sent completion on a later
-- day does not move the delivery out of the day it was first completed
outcome AS (
  SELECT
    e.delivery_id,
    e.shipment_id,
    e.facility_id,
    e.driver_id,
    e.carrier_id,
    e.event_time AS delivery_time,
    IF(e.event_type = 'delivery.completed', 'COMPLETED', 'FAILED') AS status
  FROM clean.delivery_events AS e
  JOIN day_deliveries AS d ON d.delivery_id = e.delivery_id
  WHERE e.event_type = 'delivery.completed'
    OR (e.event_type = 'delivery.failed' AND JSON_VALUE(e.payload, '$.will_retry') = 'false')
  QUALIFY ROW_NUMBER() OVER (PARTITION BY e.delivery_id ORDER BY e.event_time, e.event_id) = 1
),
day_outcome AS (
  SELECT * FROM outcome WHERE DATE(delivery_time) = @day
),
-- attempts up to the outcome, one row per delivery
attempts AS (
  SELECT a.delivery_id, MIN(a.event_time) AS first_attempt_time, COUNT(DISTINCT a.event_id) AS attempt_count
  FROM clean.delivery_events AS a
  JOIN day_outcome AS o ON o.delivery_id = a.delivery_id AND a.event_time <= o.delivery_time
  WHERE a.event_type = 'delivery.attempted'
  GROUP BY a.delivery_id
),
-- the promise, one row per shipment: its latest shipment.created (a corrected re-send wins)
promise AS (
  SELECT s.shipment_id, TIMESTAMP(JSON_VALUE(s.payload, '$.expected_delivery')) AS expected_delivery
  FROM clean.shipment_events AS s
  WHERE s.event_type = 'shipment.created'
    AND s.shipment_id IN (SELECT shipment_id FROM day_outcome)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY s.shipment_id ORDER BY s.event_time DESC, s.ingest_time DESC, s.event_id DESC) = 1
)
SELECT
  o.delivery_id,
  o.shipment_id,
  DATE(o.delivery_time) AS delivery_date,
  o.facility_id,
  o.driver_id,
  o.carrier_id,
  o.status,
  o.delivery_time,
  a.first_attempt_time,
  IFNULL(a.attempt_count, 0) AS attempt_count,
  p.expected_delivery,
  CASE
    WHEN p.expected_delivery IS NULL THEN NULL
    ELSE o.status = 'COMPLETED' AND o.delivery_time <= p.expected_delivery
  END AS on_time_flag
FROM day_outcome AS o
LEFT JOIN attempts AS a ON a.delivery_id = o.delivery_id
LEFT JOIN promise AS p ON p.shipment_id = o.shipment_id;
