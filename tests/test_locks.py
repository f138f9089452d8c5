"""The lock files agree with ``pyproject.toml``: every dependency it names is pinned, with
hashes, where ``make``, CI and the Lambda build install from (``make lock`` fixes them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from scripts import build_lambda

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {build_lambda.canonical(name): version for name, version in PIN.findall(text)}


def names(requirements: list[str]) -> set[str]:
    return {build_lambda.requirement_name(r) for r in requirements}


RUNTIME = names(PYPROJECT["project"]["dependencies"])
DEV = names(PYPROJECT["project"]["optional-dependencies"]["dev"])


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [
        ("requirements.lock", RUNTIME),
        ("requirements-dev.lock", RUNTIME | DEV),
        (
            "requirements-lambda.lock",
            names(build_lambda.runtime_requirements(ROOT / "pyproject.toml")),
        ),
    ],
)
def test_every_dependency_of_pyproject_is_pinned_in_the_lock(lock: str, wanted: set[str]) -> None:
    missing = wanted - set(pins(lock))
    assert not missing, f"{lock} lacks {sorted(missing)}: run make lock"


@pytest.mark.parametrize(
    "lock", ["requirements.lock", "requirements-dev.lock", "requirements-lambda.lock"]
)
def test_every_pin_has_hashes_and_says_how_it_was_made(lock: str) -> None:
    text = (ROOT / lock).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert "make lock" in text.split("\n", 2)[1]
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)


@pytest.mark.parametrize(
    "lock", ["requirements.lock", "requirements-dev.lock", "requirements-lambda.lock"]
)
def test_the_executor_runs_on_the_versions_pyproject_pins(lock: str) -> None:
    exact = {
        build_lambda.requirement_name(r): r.split("==", 1)[1]
        for r in PYPROJECT["project"]["dependencies"]
        if "==" in r
    }
    assert {"strawberry-graphql", "graphql-core"} <= set(exact)
    locked = pins(lock)
    assert {name: locked[name] for name in exact} == exact


def test_the_lambda_lock_leaves_out_the_local_server() -> None:
    assert "uvicorn" not in pins("requirements-lambda.lock")
