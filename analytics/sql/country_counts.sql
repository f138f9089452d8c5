-- Aircraft per country of registration (origin_country; NULL when unknown): distinct
-- icao24 with a position in [since, until). The grouping-set row (is_total = 1) counts
-- each aircraft once.
-- params: first_day, last_day, since, until
WITH seen AS (
    SELECT f.icao24, f.origin_country AS country
    FROM flights AS f
    WHERE f.year || '-' || f.month || '-' || f.day BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR)
      AND f."time" >= CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f."time" < CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f.latitude IS NOT NULL
      AND f.longitude IS NOT NULL
)
SELECT GROUPING(country) AS is_total, country, COUNT(DISTINCT icao24) AS aircraft
FROM seen
GROUP BY GROUPING SETS ((country), ())
