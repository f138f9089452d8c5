"""Errors of the ingestion side, translated once from vendor exceptions."""

from __future__ import annotations


class UpstreamError(RuntimeError):
    """An upstream source failed or answered with something unusable.

    ``status`` is the HTTP status when there was one; ``transient`` says whether trying
    again may succeed (timeouts, 5xx, a truncated body), so retry policies need not know
    the vendor's exceptions.
    """

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient
