"""LIKE patterns with the user's text escaped."""

from __future__ import annotations


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped for ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
