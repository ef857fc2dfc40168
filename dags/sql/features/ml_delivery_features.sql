-- ml_delivery_features: one row per delivery of @day with what a delay model may know at its
-- prediction point. BigQuery dialect; rendered for DuckDB. Parameter: @day (DATE).
-- Reads this run's staged fact_deliveries (labels) and dim_facility (capacity, location).
--
-- Point-in-time rule: the prediction point (feature_time) is the delivery's latest
-- (re)scheduling at or before its outcome; every feature uses only data at or before
-- feature_time, and outcomes of other deliveries only when strictly earlier. The label
-- (on time or not) is known at label_time = the outcome, never before feature_time.
CREATE TABLE IF NOT EXISTS features.ml_delivery_features (
  delivery_id STRING NOT NULL,
  delivery_date DATE NOT NULL,
  shipment_id STRING,
  facility_id STRING,
  carrier_id STRING,
  feature_time TIMESTAMP NOT NULL,
  label_time TIMESTAMP NOT NULL,
  label_on_time BOOL,
  distance_km FLOAT64,
  promised_hours FLOAT64,
  hours_to_promise FLOAT64,
  weight_kg FLOAT64,
  service_level STRING,
  facility_capacity_per_hour INT64,
  facility_scans_prev_hour INT64,
  facility_load_ratio FLOAT64,
  carrier_deliveries_7d INT64,
  carrier_on_time_rate_7d FLOAT64,
  carrier_deliveries_30d INT64,
  carrier_on_time_rate_30d FLOAT64,
  prior_attempts INT64,
  prior_reschedules INT64
)
PARTITION BY delivery_date
CLUSTER BY carrier_id, facility_id;

CREATE OR REPLACE TABLE features.ml_delivery_features__staging AS
WITH labels AS (
  SELECT delivery_id, shipment_id, facility_id, carrier_id, delivery_date, delivery_time, on_time_flag
  FROM curated.fact_deliveries__staging
),
delivery_history AS (
  SELECT e.delivery_id, e.event_type, e.event_time
  FROM clean.delivery_events AS e
  JOIN labels AS l ON l.delivery_id = e.delivery_id AND e.event_time <= l.delivery_time
),
schedule AS (
  SELECT
    delivery_id,
    MAX(IF(event_type IN ('delivery.scheduled', 'delivery.rescheduled'), event_time, NULL)) AS scheduled_at
  FROM delivery_history
  GROUP BY delivery_id
),
prediction AS (
  SELECT l.*, IFNULL(s.scheduled_at, l.delivery_time) AS feature_time
  FROM labels AS l
  LEFT JOIN schedule AS s ON s.delivery_id = l.delivery_id
),
attempt_history AS (
  SELECT
    p.delivery_id,
    COUNTIF(h.event_type = 'delivery.attempted' AND h.event_time < p.feature_time) AS prior_attempts,
    COUNTIF(h.event_type = 'delivery.rescheduled' AND h.event_time <= p.feature_time) AS prior_reschedules
  FROM prediction AS p
  LEFT JOIN delivery_history AS h ON h.delivery_id = p.delivery_id
  GROUP BY p.delivery_id
),
-- the shipment as known at feature_time: its latest shipment.created at or before it
shipment AS (
  SELECT
    p.delivery_id,
    s.event_time AS created_time,
    JSON_VALUE(s.payload, '$.origin_facility_id') AS origin_facility_id,
    JSON_VALUE(s.payload, '$.destination_facility_id') AS destination_facility_id,
    JSON_VALUE(s.payload, '$.service_level') AS service_level,
    CAST(JSON_VALUE(s.payload, '$.weight_kg') AS FLOAT64) AS weight_kg,
    TIMESTAMP(JSON_VALUE(s.payload, '$.expected_delivery')) AS expected_delivery
  FROM prediction AS p
  JOIN clean.shipment_events AS s
    ON s.shipment_id = p.shipment_id AND s.event_type = 'shipment.created' AND s.event_time <= p.feature_time
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY p.delivery_id ORDER BY s.event_time DESC, s.ingest_time DESC, s.event_id DESC) = 1
),
-- facility versions valid at feature_time (SCD2 point-in-time join)
places AS (
  SELECT
    p.delivery_id,
    here.capacity_per_hour AS facility_capacity_per_hour,
    origin.latitude AS origin_lat,
    origin.longitude AS origin_lon,
    dest.latitude AS dest_lat,
    dest.longitude AS dest_lon
  FROM prediction AS p
  LEFT JOIN shipment AS s ON s.delivery_id = p.delivery_id
  LEFT JOIN curated.dim_facility__staging AS here
    ON here.facility_id = p.facility_id
    AND here.valid_from <= p.feature_time AND (here.valid_to IS NULL OR p.feature_time < here.valid_to)
  LEFT JOIN curated.dim_facility__staging AS origin
    ON origin.facility_id = s.origin_facility_id
    AND origin.valid_from <= p.feature_time AND (origin.valid_to IS NULL OR p.feature_time < origin.valid_to)
  LEFT JOIN curated.dim_facility__staging AS dest
    ON dest.facility_id = s.destination_facility_id
    AND dest.valid_from <= p.feature_time AND (dest.valid_to IS NULL OR p.feature_time < dest.valid_to)
),
-- Windowed counts (scans in the last hour, outcomes in the last 7/30 days) are differences
-- of running totals: count(lo <= t < hi) = count(t < hi) - count(t < lo). Events and
-- query marks share one time line per key; a running SUM along it (ROWS UNBOUNDED
-- PRECEDING: one streaming pass after the sort) is each mark's "events before me".
-- `position` = microseconds * 4 + tie: events are tie 1, and a mark's tie puts events at
-- the same instant before it (tie 2: "at or before") or after it (tie 0: "strictly
-- before"). One INT64 sort key sorts at about half the cost of (time, tie); RANGE frames
-- with an offset would count the same but search per row, growing faster than linearly.
-- Events are counted per (key, instant) and marks taken per distinct (key, feature_time)
-- before the sort: exact, and the sorted line shrinks wherever instants repeat.
-- A NULL facility or carrier has no window (its counts are 0, its rates NULL).
--
-- facility load: shipment scans at the facility in [feature_time - 1 h, feature_time]
scan_points AS (
  SELECT facility_id, UNIX_MICROS(event_time) * 4 + 1 AS position, COUNT(*) AS scans, 0 AS sign,
    CAST(NULL AS TIMESTAMP) AS feature_time
  FROM clean.shipment_events
  WHERE event_time >= (SELECT TIMESTAMP_SUB(MIN(feature_time), INTERVAL 1 HOUR) FROM prediction)
    AND event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
    AND facility_id IN (SELECT facility_id FROM prediction)
  GROUP BY facility_id, event_time
  UNION ALL
  -- scans at or before feature_time ...
  SELECT DISTINCT facility_id, UNIX_MICROS(feature_time) * 4 + 2, 0, 1, feature_time
  FROM prediction
  WHERE facility_id IS NOT NULL
  UNION ALL
  -- ... minus those strictly before feature_time - 1 h
  SELECT DISTINCT facility_id, (UNIX_MICROS(feature_time) - 3600000000) * 4, 0, -1, feature_time
  FROM prediction
  WHERE facility_id IS NOT NULL
),
facility_load AS (
  SELECT facility_id, feature_time, SUM(sign * scans_before) AS scans
  FROM (
    SELECT
      facility_id,
      feature_time,
      sign,
      SUM(scans) OVER (PARTITION BY facility_id ORDER BY position ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        AS scans_before
    FROM scan_points
  )
  WHERE sign != 0
  GROUP BY facility_id, feature_time
),
-- carrier on-time rate: outcomes in [feature_time - N days, feature_time), i.e. strictly
-- before feature_time (published history of the previous 31 days plus today's staged rows)
outcome_points AS (
  SELECT f.carrier_id, f.delivery_time, f.on_time_flag
  FROM curated.fact_deliveries AS f
  WHERE f.delivery_date >= DATE_SUB(@day, INTERVAL 31 DAY) AND f.delivery_date < @day
  UNION ALL
  SELECT l.carrier_id, l.delivery_time, l.on_time_flag
  FROM labels AS l
),
carrier_instants AS (
  SELECT DISTINCT carrier_id, feature_time
  FROM prediction
  WHERE carrier_id IS NOT NULL
),
carrier_points AS (
  SELECT
    carrier_id,
    UNIX_MICROS(delivery_time) * 4 + 1 AS position,
    COUNT(*) AS outcomes,
    SUM(IF(on_time_flag, 1, 0)) AS on_time,
    0 AS sign_7d,
    0 AS sign_30d,
    CAST(NULL AS TIMESTAMP) AS feature_time
  FROM outcome_points
  WHERE on_time_flag IS NOT NULL AND carrier_id IS NOT NULL
  GROUP BY carrier_id, delivery_time
  UNION ALL
  -- outcomes strictly before feature_time (counted by both windows) ...
  SELECT carrier_id, UNIX_MICROS(feature_time) * 4, 0, 0, 1, 1, feature_time
  FROM carrier_instants
  UNION ALL
  -- ... minus those strictly before feature_time - 7 days
  SELECT carrier_id, (UNIX_MICROS(feature_time) - 604800000000) * 4, 0, 0, -1, 0, feature_time
  FROM carrier_instants
  UNION ALL
  -- ... minus those strictly before feature_time - 30 days
  SELECT carrier_id, (UNIX_MICROS(feature_time) - 2592000000000) * 4, 0, 0, 0, -1, feature_time
  FROM carrier_instants
),
carrier_rates AS (
  SELECT
    carrier_id,
    feature_time,
    SUM(sign_7d * outcomes_before) AS n7,
    SUM(sign_7d * on_time_before) AS ok7,
    SUM(sign_30d * outcomes_before) AS n30,
    SUM(sign_30d * on_time_before) AS ok30
  FROM (
    SELECT
      carrier_id,
      feature_time,
      sign_7d,
      sign_30d,
      SUM(outcomes) OVER timeline AS outcomes_before,
      SUM(on_time) OVER timeline AS on_time_before
    FROM carrier_points
    WINDOW timeline AS (PARTITION BY carrier_id ORDER BY position ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  )
  WHERE feature_time IS NOT NULL
  GROUP BY carrier_id, feature_time
)
SELECT
  p.delivery_id,
  p.delivery_date,
  p.shipment_id,
  p.facility_id,
  p.carrier_id,
  p.feature_time,
  p.delivery_time AS label_time,
  p.on_time_flag AS label_on_time,
  -- great-circle distance origin -> destination (haversine, km): the distance proxy
  6371.0 * 2 * ASIN(SQRT(
    POW(SIN((pl.dest_lat - pl.origin_lat) * ACOS(-1) / 360), 2)
    + COS(pl.origin_lat * ACOS(-1) / 180) * COS(pl.dest_lat * ACOS(-1) / 180)
    * POW(SIN((pl.dest_lon - pl.origin_lon) * ACOS(-1) / 360), 2)
  )) AS distance_km,
  TIMESTAMP_DIFF(s.expected_delivery, s.created_time, SECOND) / 3600.0 AS promised_hours,
  TIMESTAMP_DIFF(s.expected_delivery, p.feature_time, SECOND) / 3600.0 AS hours_to_promise,
  s.weight_kg,
  s.service_level,
  pl.facility_capacity_per_hour,
  IFNULL(fl.scans, 0) AS facility_scans_prev_hour,
  SAFE_DIVIDE(IFNULL(fl.scans, 0), pl.facility_capacity_per_hour) AS facility_load_ratio,
  IFNULL(cr.n7, 0) AS carrier_deliveries_7d,
  SAFE_DIVIDE(cr.ok7, cr.n7) AS carrier_on_time_rate_7d,
  IFNULL(cr.n30, 0) AS carrier_deliveries_30d,
  SAFE_DIVIDE(cr.ok30, cr.n30) AS carrier_on_time_rate_30d,
  IFNULL(ah.prior_attempts, 0) AS prior_attempts,
  IFNULL(ah.prior_reschedules, 0) AS prior_reschedules
FROM prediction AS p
LEFT JOIN shipment AS s ON s.delivery_id = p.delivery_id
LEFT JOIN places AS pl ON pl.delivery_id = p.delivery_id
LEFT JOIN facility_load AS fl ON fl.facility_id = p.facility_id AND fl.feature_time = p.feature_time
LEFT JOIN carrier_rates AS cr ON cr.carrier_id = p.carrier_id AND cr.feature_time = p.feature_time
LEFT JOIN attempt_history AS ah ON ah.delivery_id = p.delivery_id;
