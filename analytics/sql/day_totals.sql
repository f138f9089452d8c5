-- States and distinct aircraft in [since, until), with a position or not.
-- params: first_day, last_day, since, until
SELECT COUNT(*) AS states, COUNT(DISTINCT f.icao24) AS aircraft
FROM flights AS f
WHERE f.year || '-' || f.month || '-' || f.day BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR)
  AND f."time" >= CAST(? AS TIMESTAMP WITH TIME ZONE)
  AND f."time" < CAST(? AS TIMESTAMP WITH TIME ZONE)
