"""HTTP endpoints beside the Strawberry view, and the static files they serve."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
