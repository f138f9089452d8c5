"""Optional AWS X-Ray tracing, on with ``FLIGHTDATA_XRAY=true``.

When on, the AWS SDK (botocore: DynamoDB, S3, SQS, EventBridge, SSM) and httpx (the
upstream APIs) are patched so that each call is recorded as a subsegment of the current
trace. Segments come from Lambda's active tracing; outside Lambda there is no segment and
calls go untraced (``context_missing=IGNORE_ERROR``) rather than failing.

``aws-xray-sdk`` is an optional dependency (``pip install 'flightdata[xray]'``), imported
only when tracing is on, so the default install neither needs it nor pays its import.
"""

from __future__ import annotations

import logging

from config import ConfigError, Settings

log = logging.getLogger(__name__)

PATCHED = ("botocore", "httpx")
_enabled = False


def enable(settings: Settings) -> bool:
    """Patch the SDKs when ``settings.xray`` is on (once per process); whether tracing is on.

    A ``ConfigError`` names the missing package when tracing is asked for but not installed.
    """
    global _enabled
    if not settings.xray:
        return False
    if _enabled:
        return True
    try:
        from aws_xray_sdk.core import patch, xray_recorder
    except ImportError as exc:
        raise ConfigError(
            "FLIGHTDATA_XRAY: tracing needs aws-xray-sdk (pip install 'flightdata[xray]')"
        ) from exc
    xray_recorder.configure(service="flightdata", context_missing="IGNORE_ERROR")
    patch(PATCHED)
    _enabled = True
    log.info("X-Ray tracing on for %s", ", ".join(PATCHED))
    return True
