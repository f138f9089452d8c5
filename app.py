"""The ASGI entry point: ``create_app`` for uvicorn (``flightdata serve``), ``handler`` for
AWS Lambda (API Gateway HTTP API) through Mangum.

Both are built by the composition root (``runtime``); nothing is built at import.
"""

from __future__ import annotations

from runtime import lambdas
from runtime.http import FlightGraphQL, Runtime, create_app, create_worker_app

__all__ = ["FlightGraphQL", "Runtime", "create_app", "create_worker_app", "handler"]

# The HTTP API's Lambda handler: this app through Mangum, built on the first invocation.
handler = lambdas.http

if __name__ == "__main__":  # python -m app: the flightdata command
    from cli import main

    main()
