-- Aircraft per altitude band of bucket_m metres (barometric, else geometric altitude),
-- with a position in [since, until): kind 'air' with band = floor(altitude / bucket_m),
-- 'ground' (on the ground) or 'unknown' (airborne, no altitude). The grouping-set row
-- (is_total = 1) counts each aircraft once; over the latest states the kinds add up to it.
-- params: bucket_m, first_day, last_day, since, until
WITH seen AS (
    SELECT
        f.icao24,
        CASE
            WHEN f.on_ground THEN 'ground'
            WHEN COALESCE(f.baro_altitude_m, f.geo_altitude_m) IS NULL THEN 'unknown'
            ELSE 'air'
        END AS kind,
        CASE
            WHEN NOT f.on_ground THEN
                CAST(floor(COALESCE(f.baro_altitude_m, f.geo_altitude_m) / CAST(? AS DOUBLE)) AS BIGINT)
        END AS band
    FROM flights AS f
    WHERE f.year || '-' || f.month || '-' || f.day BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR)
      AND f."time" >= CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f."time" < CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f.latitude IS NOT NULL
      AND f.longitude IS NOT NULL
)
SELECT GROUPING(kind, band) AS is_total, kind, band, COUNT(DISTINCT icao24) AS aircraft
FROM seen
GROUP BY GROUPING SETS ((kind, band), ())
