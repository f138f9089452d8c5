"""Set up logging, metrics and tracing once per process: the CLI's, or a Lambda container's."""

from __future__ import annotations

import os

from config import Settings
from observability import logs, metrics, xray
from observability.emf import EmfWriter


def for_process(settings: Settings) -> None:
    """JSON (or text) logs at ``LOG_LEVEL``, and X-Ray when ``FLIGHTDATA_XRAY`` is on."""
    logs.configure(settings.log_level, settings.log_format)
    xray.enable(settings)


def on_lambda() -> bool:
    """Whether this process is a Lambda container (its runtime sets the function name)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def for_lambda(settings: Settings, *, graphql: bool = False) -> EmfWriter:
    """The EMF writer of a Lambda function. On Lambda itself, also ``for_process`` and,
    with ``graphql``, each GraphQL execution's latency as an EMF metric (no Prometheus
    scrapes a Lambda container); elsewhere (a test calling a handler) nothing global is
    touched."""
    writer = EmfWriter(settings.metrics_namespace)
    if on_lambda():
        for_process(settings)
        if graphql:
            metrics.add_graphql_sink(writer.graphql)
    return writer
