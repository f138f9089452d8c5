"""Analytics over the flight data: traffic density, counts, routes and data quality.

Aggregates over flight states are SQL (``analytics/sql/*.sql``) run by DuckDB over one
relation named ``flights`` with the columns of the processed Parquet: the latest states
for live figures, a window of ``processed/flights/`` for historical ones. The same files
run on Athena over the partitioned table. Route legs and ingest cycles are small lists
that the repositories already narrow by time; they are aggregated in Python.

The daily processor (``flightdata analytics daily``, Lambda ``analytics``) writes each
day's figures to ``processed/flights/aggregates/daily/YYYY-MM-DD-summary.json``; queries
over whole past days answer from those files when the figures add up across days.
"""
