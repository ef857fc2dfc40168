-- One partition of curated.fact_shipments. Parameter: @day (DATE).
SELECT f.*
FROM curated.fact_shipments AS f
WHERE f.activity_date = @day;
