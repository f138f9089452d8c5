"""Build the Lambda deployment package: the project and its runtime dependencies in one zip.

``serverless.yml`` points ``package.artifact`` at the zip written here, so ``osls package``
and ``osls deploy`` upload exactly what this built. Every function shares it.

- Dependencies are ``[project].dependencies`` of ``pyproject.toml`` minus those only the
  local server needs (``SERVER_ONLY``), installed as binary wheels for the Lambda runtime
  whatever the build machine: CPython 3.11 on x86_64 Amazon Linux 2, whose glibc 2.26
  takes ``manylinux2014`` wheels and not ``manylinux_2_28`` ones (newer pyarrow releases
  are 2_28 only, so pip settles on the newest 2014 one).
- The project itself is installed from its own wheel, so the package data that ships with
  ``pip install`` (GraphiQL assets, reference data, the SDL) ships here too.
- The versions are the lock's: ``requirements-lambda.lock`` (``make lock`` writes it from
  ``pyproject.toml`` for that platform, with hashes) is installed with ``--require-hashes``,
  so a build months later ships the same bytes. ``--no-lock`` resolves afresh instead (pin
  with ``--constraint FILE``); the build fails if ``pyproject.toml`` names a dependency the
  lock lacks.
- The zip is deterministic: sorted entries, one timestamp, fixed modes. The same resolved
  versions give the same bytes, and so the same Lambda version hash.
  ``requirements.lock.txt`` written beside the zip lists what it holds.

Usage: ``python scripts/build_lambda.py [--out build/lambda/flightdata.zip] [--no-lock]``;
``--print-requirements`` prints the dependencies the lock is made from.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "lambda" / "flightdata.zip"
DEFAULT_LOCK = ROOT / "requirements-lambda.lock"
# The local ASGI server; on Lambda, Mangum is the server.
SERVER_ONLY = frozenset({"uvicorn"})
# The Lambda python3.11 runtime: Amazon Linux 2, x86_64 (serverless.yml's architecture).
PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
)
# Unzipped code and layers of one function; AWS refuses more.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
# Build-time files of pyarrow (C++ headers, Cython sources, its test suite): 9 MB unused.
PRUNE_DIRS = ("bin", "pyarrow/include", "pyarrow/includes", "pyarrow/src", "pyarrow/tests")
PRUNE_SUFFIXES = (".pyc", ".pyx", ".pxd")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def canonical(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def runtime_requirements(pyproject: Path, exclude: Iterable[str] = SERVER_ONLY) -> list[str]:
    """The project's dependencies that the Lambda functions need, as pyproject gives them."""
    dropped = {canonical(name) for name in exclude}
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [r for r in project["dependencies"] if requirement_name(r) not in dropped]


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    subprocess.run([*command, "--no-warn-conflicts", *args], check=True)


def locked_names(lock: Path) -> set[str]:
    """Names pinned (``name==version``) in a pip requirements file such as the lock."""
    pinned = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", re.MULTILINE)
    return {canonical(m.group(1)) for m in pinned.finditer(lock.read_text(encoding="utf-8"))}


def install(
    site: Path, requirements: list[str], constraints: list[Path], lock: Path | None = None
) -> None:
    if lock is not None:
        missing = sorted({requirement_name(r) for r in requirements} - locked_names(lock))
        if missing:
            raise SystemExit(f"{lock.name} lacks {', '.join(missing)}: run make lock")
        _pip("--target", str(site), *PLATFORM_ARGS, "--require-hashes", "-r", str(lock))
    else:
        pins = [arg for c in constraints for arg in ("--constraint", str(c))]
        _pip("--target", str(site), *PLATFORM_ARGS, *pins, *requirements)
    # The project is pure Python: built here, from its own pyproject.toml.
    _pip("--target", str(site), "--upgrade", "--no-deps", str(ROOT))


def prune(site: Path) -> None:
    for relative in PRUNE_DIRS:
        shutil.rmtree(site / relative, ignore_errors=True)
    for cache in sorted(site.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for path in site.rglob("*"):
        if path.suffix in PRUNE_SUFFIXES and path.is_file():
            path.unlink()
    # Names the build machine's checkout: the same code built elsewhere must zip the same.
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()


def _files(site: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(site):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(directory, name)


def write_zip(site: Path, out: Path) -> int:
    """Zip ``site`` reproducibly; returns the unzipped size in bytes."""
    unzipped = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in _files(site):
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), ZIP_DATE)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data)
    partial.replace(out)
    return unzipped


def installed_versions(site: Path) -> list[str]:
    """``name==version`` of each distribution installed in ``site``."""
    dists = (metadata.Distribution.at(info) for info in site.glob("*.dist-info"))
    return sorted(f"{canonical(d.metadata['Name'])}=={d.version}" for d in dists)


def build(out: Path, constraints: list[Path], lock: Path | None = DEFAULT_LOCK) -> None:
    requirements = runtime_requirements(ROOT / "pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="flightdata-lambda-") as tmp:
        site = Path(tmp, "site")
        install(site, requirements, constraints, lock)
        prune(site)
        pins = installed_versions(site)
        unzipped = write_zip(site, out)
    lock = out.with_name("requirements.lock.txt")
    own = canonical(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])
    lock.write_text("".join(f"{p}\n" for p in pins if not p.startswith(f"{own}==")))
    print(
        f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: "
        f"{out.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, "
        f"{len(pins)} distributions (versions in {lock.name})"
    )
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise SystemExit(
            f"unzipped size {unzipped} bytes is over Lambda's limit of {LAMBDA_UNZIPPED_LIMIT}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="zip to write")
    parser.add_argument(
        "--constraint",
        type=Path,
        action="append",
        default=[],
        help="with --no-lock: pip constraints file pinning versions (repeatable)",
    )
    parser.add_argument(
        "--lock", type=Path, default=DEFAULT_LOCK, help="the hashed lock to install from"
    )
    parser.add_argument(
        "--no-lock", action="store_true", help="resolve the versions afresh instead"
    )
    parser.add_argument(
        "--print-requirements",
        action="store_true",
        help="print the dependencies the Lambda lock is compiled from, and exit",
    )
    args = parser.parse_args(argv)
    if args.print_requirements:
        print("\n".join(runtime_requirements(ROOT / "pyproject.toml")))
        return
    lock = None if args.no_lock else args.lock.resolve()
    build(args.out.resolve(), [c.resolve() for c in args.constraint], lock)


if __name__ == "__main__":
    main()
