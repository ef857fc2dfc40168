-- late_partitions: the published gold partitions that silver events arriving after their build
-- would change, found through the keys those events touch. Parameter: @grace_minutes (INT64).
-- BigQuery dialect; rendered for DuckDB by the warehouse adapter. docs/architecture.md
-- ("How reconciliation chooses partitions") states the rules in prose.
--
-- Late events: those silver received since reconciliation last brought gold up to date
-- (curated.gold_silver_census: per event day, the count then, and the newest ingest_time). A day
-- that grew by more events than it has ingest_times newer than that received events carrying old
-- ingest times (a bronze replay restoring lost rows): all its events count as late, for every
-- partition. A day that shrank lost rows to retention: gold keeps what it built from them.
-- An event is late for a partition built before it arrived: ingested after the newest ingest
-- in silver at that build (gold_watermarks), less @grace_minutes for loads that commit out of
-- ingest order (0 where one writer loads in order: DuckDB).
--
-- A late event changes, through its keys:
--   shipment event            fact_shipments of its day; facility load of features at its
--                             facility whose feature_time is in [event, event + 1 h]
--   shipment.created          also the promise (on_time_flag, features) of the shipment's
--                             delivery rows; transit hours on the days the shipment was delivered
--   delivery event            its delivery's row (attempts, schedule, features)
--   terminal delivery event   also the day of the event (the delivery may move there)
--   either of the last three  carrier on-time rates of features of the delivery's carrier whose
--                             feature_time is in (outcome, outcome + 30 days]: the row's outcome
--                             or on-time flag may change (not for a late attempt or schedule)
--   facility event            features whose facility, origin or destination it is, from the
--                             change until that facility's next change stating the same attributes
--   driver event              no partition: facts carry driver_id from the delivery events and
--                             read no driver attribute (dim_driver is republished)
WITH silver AS (
  SELECT 'shipment' AS family, event_type, event_time, ingest_time, shipment_id,
    CAST(NULL AS STRING) AS delivery_id, facility_id, carrier_id, payload
  FROM clean.shipment_events
  UNION ALL
  SELECT 'delivery', event_type, event_time, ingest_time, shipment_id, delivery_id, facility_id, carrier_id, payload
  FROM clean.delivery_events
  UNION ALL
  SELECT 'facility', event_type, event_time, ingest_time, NULL, NULL, facility_id, NULL, payload
  FROM clean.facility_events
  UNION ALL
  SELECT 'driver', event_type, event_time, ingest_time, NULL, NULL, NULL, carrier_id, payload
  FROM clean.driver_events
),
-- the newest ingest_time silver held at the last reconciliation (less the grace); NULL before the first
census_cut AS (
  SELECT TIMESTAMP_SUB(MAX(silver_max_ingest_time), INTERVAL @grace_minutes MINUTE) AS ingest_time
  FROM curated.gold_silver_census
),
days AS (
  SELECT
    DATE(s.event_time) AS event_date,
    COUNT(*) AS silver_events,
    COUNT(IF(cut.ingest_time IS NULL OR s.ingest_time > cut.ingest_time, 1, NULL)) AS fresh_events,
    IFNULL(ANY_VALUE(c.silver_events), 0) AS census_events
  FROM silver AS s
  CROSS JOIN census_cut AS cut
  LEFT JOIN curated.gold_silver_census AS c ON c.event_date = DATE(s.event_time)
  GROUP BY DATE(s.event_time)
),
late AS (
  SELECT
    s.*,
    d.silver_events > d.census_events + d.fresh_events AS replayed,
    IF(s.event_type = 'delivery.completed'
      OR (s.event_type = 'delivery.failed' AND JSON_VALUE(s.payload, '$.will_retry') = 'false'), TRUE, FALSE) AS terminal
  FROM silver AS s
  CROSS JOIN census_cut AS cut
  JOIN days AS d ON d.event_date = DATE(s.event_time)
  WHERE cut.ingest_time IS NULL
    OR s.ingest_time > cut.ingest_time
    OR d.silver_events > d.census_events + d.fresh_events
),
facts AS (
  SELECT delivery_id, shipment_id, carrier_id, delivery_date, delivery_time
  FROM curated.fact_deliveries
),
features AS (
  SELECT delivery_id, shipment_id, delivery_date, facility_id, carrier_id, feature_time
  FROM features.ml_delivery_features
),
-- deliveries whose outcome or on-time flag a late event may change: (carrier, outcome time)
moved_outcomes AS (
  SELECT l.carrier_id, l.event_time AS outcome_time, l.ingest_time, l.replayed
  FROM late AS l
  WHERE l.terminal
  UNION ALL
  SELECT f.carrier_id, f.delivery_time, l.ingest_time, l.replayed
  FROM late AS l
  JOIN facts AS f ON f.delivery_id = l.delivery_id
  WHERE l.terminal
  UNION ALL
  SELECT f.carrier_id, f.delivery_time, l.ingest_time, l.replayed
  FROM late AS l
  JOIN facts AS f ON f.shipment_id = l.shipment_id
  WHERE l.event_type = 'shipment.created'
),
-- Windows are merged per facility and hour (scans) and per carrier and day (outcomes) before
-- they meet the features: a replayed day of events is then a few hundred windows, not millions
-- of rows each joined to every feature near it. Events less than a window apart make one
-- contiguous window, so the merge is exact; a window counts as late with its newest event.
scan_windows AS (  -- features whose facility load counts a late scan: feature_time in [scan, scan + 1 h]
  SELECT
    facility_id,
    MIN(event_time) AS starts,
    TIMESTAMP_ADD(MAX(event_time), INTERVAL 1 HOUR) AS ends,
    MAX(ingest_time) AS ingest_time,
    LOGICAL_OR(replayed) AS replayed
  FROM late
  WHERE family = 'shipment' AND facility_id IS NOT NULL
  GROUP BY facility_id, TIMESTAMP_TRUNC(event_time, HOUR)
),
rate_windows AS (  -- features whose 30-day carrier rates count a moved outcome: feature_time in (outcome, + 30 d]
  SELECT
    carrier_id,
    MIN(outcome_time) AS starts,
    TIMESTAMP_ADD(MAX(outcome_time), INTERVAL 30 DAY) AS ends,
    MAX(ingest_time) AS ingest_time,
    LOGICAL_OR(replayed) AS replayed
  FROM moved_outcomes
  WHERE carrier_id IS NOT NULL
  GROUP BY carrier_id, DATE(outcome_time)
),
-- a facility change holds until the facility's next change that states the same attributes
-- (facility.created states all of them; a capacity change only the capacity)
facility_changes AS (
  SELECT
    facility_id,
    event_type,
    event_time,
    MIN(IF(event_type = 'facility.created', event_time, NULL)) OVER later AS next_created,
    MIN(event_time) OVER later AS next_change
  FROM clean.facility_events
  WHERE event_type IN ('facility.created', 'facility.capacity_changed')
  WINDOW later AS (PARTITION BY facility_id ORDER BY event_time ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
late_facility_changes AS (
  SELECT
    l.facility_id, l.event_time, l.ingest_time, l.replayed,
    ANY_VALUE(IF(l.event_type = 'facility.created', c.next_created, c.next_change)) AS holds_until
  FROM late AS l
  JOIN facility_changes AS c ON c.facility_id = l.facility_id AND c.event_time = l.event_time
  WHERE l.family = 'facility'
  GROUP BY l.facility_id, l.event_time, l.ingest_time, l.replayed
),
routes AS (  -- each feature row's origin and destination, from its shipment's creation events
  SELECT DISTINCT
    m.delivery_id,
    m.delivery_date,
    m.feature_time,
    JSON_VALUE(s.payload, '$.origin_facility_id') AS origin_facility_id,
    JSON_VALUE(s.payload, '$.destination_facility_id') AS destination_facility_id
  FROM features AS m
  JOIN clean.shipment_events AS s ON s.shipment_id = m.shipment_id AND s.event_type = 'shipment.created'
  WHERE m.feature_time >= (SELECT MIN(event_time) FROM late_facility_changes)
),
affected AS (
  SELECT DATE(l.event_time) AS partition_date, 'shipment events of the day' AS reason, l.ingest_time, l.replayed
  FROM late AS l
  WHERE l.family = 'shipment'
  UNION ALL
  SELECT DATE(l.event_time), 'delivery outcome on the day', l.ingest_time, l.replayed
  FROM late AS l
  WHERE l.terminal
  UNION ALL
  SELECT f.delivery_date, 'delivery history', l.ingest_time, l.replayed
  FROM late AS l
  JOIN facts AS f ON f.delivery_id = l.delivery_id
  UNION ALL
  SELECT f.delivery_date, 'shipment promise', l.ingest_time, l.replayed
  FROM late AS l
  JOIN facts AS f ON f.shipment_id = l.shipment_id
  WHERE l.event_type = 'shipment.created'
  UNION ALL
  SELECT DATE(d.event_time), 'shipment transit time', l.ingest_time, l.replayed
  FROM late AS l
  JOIN clean.shipment_events AS d ON d.shipment_id = l.shipment_id AND d.event_type = 'shipment.delivered'
  WHERE l.event_type = 'shipment.created'
  UNION ALL
  SELECT m.delivery_date, 'facility load', w.ingest_time, w.replayed
  FROM scan_windows AS w
  JOIN features AS m
    ON m.facility_id = w.facility_id AND m.feature_time >= w.starts AND m.feature_time <= w.ends
  UNION ALL
  SELECT m.delivery_date, 'carrier on-time rates', w.ingest_time, w.replayed
  FROM rate_windows AS w
  JOIN features AS m
    ON m.carrier_id = w.carrier_id AND m.feature_time > w.starts AND m.feature_time <= w.ends
  UNION ALL
  SELECT m.delivery_date, 'facility version', c.ingest_time, c.replayed
  FROM late_facility_changes AS c
  JOIN features AS m
    ON m.facility_id = c.facility_id
    AND m.feature_time >= c.event_time AND (c.holds_until IS NULL OR m.feature_time < c.holds_until)
  UNION ALL
  SELECT r.delivery_date, 'facility version', c.ingest_time, c.replayed
  FROM late_facility_changes AS c
  JOIN routes AS r
    ON c.facility_id IN (r.origin_facility_id, r.destination_facility_id)
    AND r.feature_time >= c.event_time AND (c.holds_until IS NULL OR r.feature_time < c.holds_until)
)
SELECT
  a.partition_date,
  STRING_AGG(DISTINCT a.reason, ', ' ORDER BY a.reason) AS reasons,
  COUNT(*) AS late_links,
  w.silver_max_ingest_time AS built_max_ingest_time
FROM affected AS a
JOIN curated.gold_watermarks AS w ON w.partition_date = a.partition_date
WHERE a.replayed
  OR w.silver_max_ingest_time IS NULL
  OR a.ingest_time > TIMESTAMP_SUB(w.silver_max_ingest_time, INTERVAL @grace_minutes MINUTE)
GROUP BY a.partition_date, w.silver_max_ingest_time
ORDER BY a.partition_date
