"""Errors that carry a message meant for the API client."""

from __future__ import annotations


class InvalidArgument(ValueError):
    """A caller-supplied value is wrong; the message says what and why.

    The offending value is kept in ``value`` so logs can show it.
    """

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value
