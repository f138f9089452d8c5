"""Build the Lambda deployment packages: the project and the runtime dependencies each
function needs, one zip per group of functions (``ARTIFACTS``).

``serverless.yml`` packages individually and points each function's ``package.artifact`` at
its zip here, so ``osls package`` and ``osls deploy`` upload exactly what this built:

- ``analytics.zip``: the HTTP API, which answers live figures with DuckDB and past windows
  on Athena: without pyarrow;
- ``pipeline.zip``: the fetcher, the processor, the WebSocket handler and the daily
  analytics job (which compacts the Parquet with pyarrow and sums on Athena): without DuckDB.

Both come from one install; what a function never loads is left out of every zip (pyarrow's
Flight RPC, the extra names of a shared library, botocore's models of services the code
never calls) and the shared libraries are stripped of their symbol tables with GNU
``strip --strip-unneeded`` where the build machine has it, as
``serverless-python-requirements``' ``slim`` option does. ``bench/artifacts.py`` prints each
function's unzipped size and handler import time.

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
- The X-Ray SDK (the ``xray`` extra) ships, so ``tracing=Active`` needs no other build.
- The zips are deterministic: sorted entries, one timestamp, fixed modes. The same resolved
  versions (and the same ``strip``) give the same bytes, and so the same Lambda version
  hash. ``requirements.lock.txt`` written beside them lists what the install holds.

Usage: ``python scripts/build_lambda.py [--out-dir build/lambda] [--no-lock]``;
``--print-requirements`` prints the dependencies the lock is made from.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "build" / "lambda"
DEFAULT_LOCK = ROOT / "requirements-lambda.lock"
# The local ASGI server; on Lambda, Mangum is the server.
SERVER_ONLY = frozenset({"uvicorn"})
# Optional dependencies the functions ship: tracing when the stack turns X-Ray on.
EXTRAS = ("xray",)
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
PRUNE_SUFFIXES = (".pyc", ".pyx", ".pxd", ".pxi")
# Arrow Flight (RPC), which nothing here imports and no other library links: 22 MB.
PRUNE_GLOBS = ("pyarrow/*flight*", "pyarrow/_pyarrow_cpp_tests*")
# The AWS services the functions call (``aws_client`` and ``boto3.client``); botocore's
# models of the other 450 are 27 MB. tests/test_serverless.py keeps this in step.
AWS_SERVICES = frozenset(
    {"apigatewaymanagementapi", "athena", "dynamodb", "events", "s3", "sqs", "ssm", "sts"}
)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    """One zip: the functions of ``serverless.yml`` that run it and the distributions
    (canonical names) it leaves out."""

    name: str
    functions: tuple[str, ...]
    leave_out: frozenset[str] = frozenset()

    def path(self, out_dir: Path = DEFAULT_DIR) -> Path:
        return out_dir / f"{self.name}.zip"


ARTIFACTS = (
    # pyarrow (80 MB) reads and writes Parquet, which the API never does once Athena
    # answers its windows (tests/analytics/test_without_pyarrow.py).
    Artifact(
        "analytics",
        ("flight-api-handler", "appsync-resolver", "appsync-authorizer"),
        frozenset({"pyarrow"}),
    ),
    # DuckDB (60 MB) answers the API's live figures only; pyarrow stays: the processor
    # writes Parquet and the daily job compacts it.
    Artifact(
        "pipeline",
        (
            "flight-data-fetcher",
            "flight-data-processor",
            "websocket-handler",
            "appsync-publisher",
            "analytics-processor",
        ),
        frozenset({"duckdb"}),
    ),
)


def canonical(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def runtime_requirements(
    pyproject: Path, exclude: Iterable[str] = SERVER_ONLY, extras: Iterable[str] = EXTRAS
) -> list[str]:
    """The project's dependencies that the Lambda functions need, as pyproject gives them:
    its dependencies but ``exclude``, and those of the optional ``extras``."""
    dropped = {canonical(name) for name in exclude}
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    wanted = [*project["dependencies"], *(r for extra in extras for r in optional[extra])]
    return [r for r in wanted if requirement_name(r) not in dropped]


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
    for pattern in PRUNE_GLOBS:
        for path in site.glob(pattern):
            path.unlink()
    for cache in sorted(site.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for path in site.rglob("*"):
        if path.suffix in PRUNE_SUFFIXES and path.is_file():
            path.unlink()
    # Names the build machine's checkout: the same code built elsewhere must zip the same.
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()
    drop_library_copies(site)
    prune_aws_models(site / "botocore" / "data", AWS_SERVICES)


_LIBRARY = re.compile(r"(lib.+?\.so)((?:\.\d+)*)")


def drop_library_copies(site: Path) -> list[Path]:
    """A wheel holds a shared library under each of its names (``libx.so``, ``libx.so.2``,
    ``libx.so.2.0.0``) as copies, a zip having no symbolic links. The loader asks for the
    soname, ``libx.so.<major>``: keep that copy alone. Returns what was removed."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in site.rglob("lib*.so*"):
        if path.is_file() and (match := _LIBRARY.fullmatch(path.name)):
            groups.setdefault((path.parent, match.group(1)), []).append(path)
    removed = []
    for (_, stem), names in groups.items():
        soname = [p for p in names if p.name.count(".") == stem.count(".") + 1]
        if len(names) < 2 or len(soname) != 1:
            continue
        for path in names:
            if path != soname[0] and filecmp.cmp(path, soname[0], shallow=False):
                path.unlink()
                removed.append(path)
    return sorted(removed)


def prune_aws_models(data: Path, services: Iterable[str]) -> None:
    """Keep botocore's models of ``services`` and its shared files (endpoints, partitions)."""
    keep = set(services)
    if not data.is_dir():
        return
    for model in data.iterdir():
        if model.is_dir() and model.name not in keep:
            shutil.rmtree(model)


def gnu_strip() -> str | None:
    """GNU binutils' ``strip``, which reads the Linux libraries wherever the build runs."""
    found = shutil.which("strip")
    if found is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return found if "GNU" in version.stdout else None


def strip_libraries(site: Path, strip: str) -> None:
    """Symbol tables and debug sections out of every shared library: the loader needs the
    dynamic symbols only, which ``--strip-unneeded`` keeps (pyarrow and DuckDB: -25 MB)."""
    libraries = sorted(p for p in site.rglob("*.so*") if p.is_file() and _is_elf(p))
    if libraries:
        subprocess.run([strip, "--strip-unneeded", *map(str, libraries)], check=True)


def _is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def left_out_files(site: Path, distributions: Iterable[str]) -> set[Path]:
    """The files (relative to ``site``) that the ``distributions`` installed there."""
    wanted = {canonical(name) for name in distributions}
    paths: set[Path] = set()
    for info in site.glob("*.dist-info"):
        dist = metadata.Distribution.at(info)
        if canonical(dist.metadata["Name"]) in wanted:
            paths |= {Path(os.path.normpath(f)) for f in dist.files or ()}
            paths |= {p.relative_to(site) for p in info.rglob("*")}
    return paths


def _files(site: Path, leave_out: set[Path] | frozenset[Path] = frozenset()) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(site):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory, name)
            if path.relative_to(site) not in leave_out:
                yield path


def write_zip(site: Path, out: Path, leave_out: set[Path] | frozenset[Path] = frozenset()) -> int:
    """Zip ``site`` but the files ``leave_out`` names (relative to ``site``) reproducibly;
    returns the unzipped size in bytes."""
    unzipped = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in _files(site, leave_out):
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


def build(out_dir: Path, constraints: list[Path], lock: Path | None = DEFAULT_LOCK) -> None:
    requirements = runtime_requirements(ROOT / "pyproject.toml")
    strip = gnu_strip()
    sizes: dict[Path, int] = {}
    with tempfile.TemporaryDirectory(prefix="flightdata-lambda-") as tmp:
        site = Path(tmp, "site")
        install(site, requirements, constraints, lock)
        prune(site)
        if strip is not None:
            strip_libraries(site, strip)
        pins = installed_versions(site)
        for artifact in ARTIFACTS:
            out = artifact.path(out_dir)
            sizes[out] = write_zip(site, out, left_out_files(site, artifact.leave_out))
    versions = out_dir / "requirements.lock.txt"
    own = canonical(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])
    versions.write_text("".join(f"{p}\n" for p in pins if not p.startswith(f"{own}==")))
    for out, unzipped in sizes.items():
        print(
            f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: "
            f"{out.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped"
        )
    print(
        f"{len(pins)} distributions (versions in {versions.name}); shared libraries "
        + ("stripped" if strip else "not stripped: no GNU strip here")
    )
    over = [out.name for out, unzipped in sizes.items() if unzipped > LAMBDA_UNZIPPED_LIMIT]
    if over:
        raise SystemExit(f"{', '.join(over)}: unzipped over Lambda's {LAMBDA_UNZIPPED_LIMIT} bytes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir", type=Path, default=DEFAULT_DIR, help="where the zips are written"
    )
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
    build(args.out_dir.resolve(), [c.resolve() for c in args.constraint], lock)


if __name__ == "__main__":
    main()
