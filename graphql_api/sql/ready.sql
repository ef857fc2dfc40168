-- Readiness: silver is readable. BigQuery dialect.
SELECT COUNT(*) AS tables_ok FROM (SELECT 1 FROM clean.shipment_events LIMIT 1)
