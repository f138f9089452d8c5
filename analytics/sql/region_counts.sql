-- Aircraft per region: distinct icao24 with a position in [since, until).
-- The grouping-set row (is_total = 1) counts each aircraft once: over the latest states,
-- one row per aircraft, the regions add up to it; over a window an aircraft that crossed
-- regions counts in each. On Athena `region` is the partition column, never NULL; in the
-- files it may be, and the writer puts such rows under region=unknown.
-- params: first_day, last_day, since, until
WITH seen AS (
    SELECT f.icao24, COALESCE(f.region, 'unknown') AS region
    FROM flights AS f
    WHERE f.year || '-' || f.month || '-' || f.day BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR)
      AND f."time" >= CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f."time" < CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f.latitude IS NOT NULL
      AND f.longitude IS NOT NULL
)
SELECT GROUPING(region) AS is_total, region, COUNT(DISTINCT icao24) AS aircraft
FROM seen
GROUP BY GROUPING SETS ((region), ())
