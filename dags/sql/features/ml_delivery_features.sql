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
-- facility load: shipment scans at the facility in the hour up to feature_time. Scans and
-- prediction points share one time line per facility, so a window frame counts them
-- without a range join.
scan_points AS (
  SELECT facility_id, UNIX_MICROS(event_time) AS at_us, 1 AS is_scan, CAST(NULL AS STRING) AS delivery_id
  FROM clean.shipment_events
  WHERE event_time >= (SELECT TIMESTAMP_SUB(MIN(feature_time), INTERVAL 1 HOUR) FROM prediction)
    AND event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
    AND facility_id IN (SELECT facility_id FROM prediction)
  UNION ALL
  SELECT facility_id, UNIX_MICROS(feature_time), 0, delivery_id
  FROM prediction
),
facility_load AS (
  SELECT delivery_id, scans
  FROM (
    SELECT
      delivery_id,
      is_scan,
      SUM(is_scan) OVER (PARTITION BY facility_id ORDER BY at_us RANGE BETWEEN 3600000000 PRECEDING AND CURRENT ROW)
        AS scans
    FROM scan_points
  )
  WHERE is_scan = 0
),
-- carrier on-time rate: outcomes strictly before feature_time (published history of the
-- previous 31 days plus today's staged rows), on the same kind of shared time line
outcome_points AS (
  SELECT f.carrier_id, f.delivery_time, f.on_time_flag
  FROM curated.fact_deliveries AS f
  WHERE f.delivery_date >= DATE_SUB(@day, INTERVAL 31 DAY) AND f.delivery_date < @day
  UNION ALL
  SELECT l.carrier_id, l.delivery_time, l.on_time_flag
  FROM labels AS l
),
carrier_points AS (
  SELECT
    carrier_id,
    UNIX_MICROS(delivery_time) AS at_us,
    1 AS is_outcome,
    IF(on_time_flag, 1, 0) AS on_time,
    CAST(NULL AS STRING) AS delivery_id
  FROM outcome_points
  WHERE on_time_flag IS NOT NULL
  UNION ALL
  -- a prediction sits 1 µs before its feature_time, so frames ending at CURRENT ROW
  -- (fast, incremental) still see only outcomes strictly earlier than feature_time
  SELECT carrier_id, UNIX_MICROS(feature_time) - 1, 0, 0, delivery_id
  FROM prediction
),
carrier_rates AS (
  SELECT delivery_id, n7, ok7, n30, ok30
  FROM (
    SELECT
      delivery_id,
      is_outcome,
      SUM(is_outcome) OVER last_7d AS n7,
      SUM(on_time) OVER last_7d AS ok7,
      SUM(is_outcome) OVER last_30d AS n30,
      SUM(on_time) OVER last_30d AS ok30
    FROM carrier_points
    WINDOW
      last_7d AS (PARTITION BY carrier_id ORDER BY at_us RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW),
      last_30d AS (PARTITION BY carrier_id ORDER BY at_us RANGE BETWEEN 2591999999999 PRECEDING AND CURRENT ROW)
  )
  WHERE is_outcome = 0
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
LEFT JOIN facility_load AS fl ON fl.delivery_id = p.delivery_id
LEFT JOIN carrier_rates AS cr ON cr.delivery_id = p.delivery_id
LEFT JOIN attempt_history AS ah ON ah.delivery_id = p.delivery_id;
