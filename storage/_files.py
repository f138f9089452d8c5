"""Helpers for the file trees the embedded default writes under its data directory."""

from __future__ import annotations

from pathlib import Path


def remove_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and then each parent below ``top`` while they are empty."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or gone: what is left stays
            return
        folder = folder.parent
