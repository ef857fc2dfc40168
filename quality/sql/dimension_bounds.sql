-- Bounds on each dimension's row count from its sources: at least one version per key
-- silver (or the seed) knows, at most one per change (the published change log plus every
-- source row, which covers whatever the current build adds to the log). No parameters.
SELECT
  (SELECT COUNT(DISTINCT facility_id) FROM clean.facility_events
    WHERE event_type IN ('facility.created', 'facility.capacity_changed')) AS facility_keys,
  (SELECT COUNT(*) FROM curated.dim_facility_changes)
    + (SELECT COUNT(*) FROM clean.facility_events) AS facility_changes,
  (SELECT COUNT(DISTINCT carrier_id) FROM curated.seed_carriers) AS carrier_keys,
  (SELECT COUNT(*) FROM curated.dim_carrier_changes) + (SELECT COUNT(*) FROM curated.seed_carriers) AS carrier_changes,
  (SELECT COUNT(DISTINCT driver_id) FROM clean.driver_events WHERE event_type = 'driver.created') AS driver_keys,
  (SELECT COUNT(*) FROM curated.dim_driver_changes) + (SELECT COUNT(*) FROM clean.driver_events) AS driver_changes;
