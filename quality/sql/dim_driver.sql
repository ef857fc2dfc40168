-- curated.dim_driver with the columns its SCD2 invariants are checked on (quality/suites.py):
-- the next version's start (validity ranges must meet it exactly: no gap, no overlap) and
-- how many current versions the key has (exactly one). No parameters.
SELECT
  d.*,
  d.valid_to IS NULL AS is_open,
  LEAD(d.valid_from) OVER (PARTITION BY d.driver_id ORDER BY d.valid_from) AS next_valid_from,
  SUM(IF(d.is_current, 1, 0)) OVER (PARTITION BY d.driver_id) AS current_versions
FROM curated.dim_driver AS d;
