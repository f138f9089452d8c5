-- Aircraft per grid cell of cell_deg degrees inside a box, with a position in
-- [since, until). Cells are numbered as ingestion.enrich.grid_cell numbers them:
-- row = floor(latitude / cell_deg) (the top row takes latitude 90), col = floor(longitude /
-- cell_deg) with longitude 180 taken as -180, each with a tolerance of 1e-9 cell. The box
-- crosses the antimeridian when crosses is true (west > east). The grouping-set row
-- (is_total = 1) counts each aircraft in the box once.
-- params: cell_deg, top_row, cell_deg, first_day, last_day, since, until, south, north, crosses, west, east, west, east
WITH seen AS (
    SELECT
        f.icao24,
        LEAST(
            CAST(floor(f.latitude / CAST(? AS DOUBLE) + 1e-9) AS BIGINT), CAST(? AS BIGINT)
        ) AS cell_row,
        CAST(
            floor(
                (CASE WHEN f.longitude >= 180 THEN f.longitude - 360 ELSE f.longitude END)
                / CAST(? AS DOUBLE) + 1e-9
            ) AS BIGINT
        ) AS cell_col
    FROM flights AS f
    WHERE f.year || '-' || f.month || '-' || f.day BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR)
      AND f."time" >= CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f."time" < CAST(? AS TIMESTAMP WITH TIME ZONE)
      AND f.latitude BETWEEN CAST(? AS DOUBLE) AND CAST(? AS DOUBLE)
      AND (
          CASE
              WHEN CAST(? AS BOOLEAN)
                  THEN f.longitude >= CAST(? AS DOUBLE) OR f.longitude <= CAST(? AS DOUBLE)
              ELSE f.longitude BETWEEN CAST(? AS DOUBLE) AND CAST(? AS DOUBLE)
          END
      )
)
SELECT GROUPING(cell_row, cell_col) AS is_total, cell_row, cell_col, COUNT(DISTINCT icao24) AS aircraft
FROM seen
GROUP BY GROUPING SETS ((cell_row, cell_col), ())
