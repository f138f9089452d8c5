"""Observability: correlation ids, structured logs, metrics, health and tracing.

- ``context``: the request id and the ingest cycle id, carried in context variables so
  that everything logged while serving a request or running a cycle names it;
- ``logs``: the JSON (or text) log formatter that writes those ids;
- ``middleware``: the pure-ASGI middleware that takes or makes a request id per request;
- ``metrics``: Prometheus metrics and ``GET /metrics``;
- ``emf``: the same kind of figures as CloudWatch embedded-metric-format lines on Lambda;
- ``health``: ``GET /readyz``;
- ``xray``: optional AWS X-Ray tracing (``FLIGHTDATA_XRAY``).
"""
