"""The part of the layer order import-linter cannot see (``[tool.importlinter]`` in
pyproject.toml): ``app.py``, ``cli.py`` and ``config.py`` are modules, not packages.

The entry points sit on top: no package imports them, and they do not import each other.
``config`` sits at the bottom beside ``domain``: it imports nothing of the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "analytics",
    "api",
    "appsync",
    "domain",
    "ingestion",
    "live",
    "observability",
    "resolvers",
    "runtime",
    "schema",
    "security",
    "storage",
    "subscriptions",
]


def _imported(path: Path) -> set[str]:
    """The top-level names of the modules ``path`` imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_an_entry_point(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported(path) & {"app", "cli"})
        for path in (ROOT / package).rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def test_config_imports_nothing_of_the_project() -> None:
    assert _imported(ROOT / "config.py") & {*PACKAGES, "app", "cli"} == set()


def test_the_entry_points_build_through_the_composition_root() -> None:
    """``app`` runs ``cli`` only as ``python -m app``; ``cli`` names ``app`` only as
    uvicorn's factory string, so neither imports the other at import."""
    assert _imported(ROOT / "app.py") - {"__future__"} == {"runtime", "cli"}
    assert "app" not in _imported(ROOT / "cli.py")
