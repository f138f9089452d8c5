"""What each Lambda function ships and how long its handler takes to import.

For every function of ``serverless.yml``: the unzipped size of its ``package.artifact``
(``scripts/build_lambda.py`` writes them), against a floor of 150 MB (Lambda refuses
250 MB), and the import time of its handler in a fresh CPython 3.11 that sees the
extracted zip alone (``-I -S``), a proxy of the cold start's import phase. The handlers
build their runtime on the first invocation, so a second figure adds the modules that
invocation imports (``FIRST_CALL``). Each figure is the median of ``--repeat`` fresh
interpreters; the files are read from the page cache after the first.

Usage: ``python scripts/build_lambda.py && python -m bench.artifacts [--repeat 7]``;
``--repeat 1`` is the import smoke test ``.ci/package-check`` runs. It exits non-zero when
a handler does not import, or with ``--strict`` when a function is over the floor.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOOR_MB = 150.0
PYTHON = "python3.11"  # the zips hold cp311 wheels
# What the first invocation of each function imports beyond its handler's module
# (runtime/lambdas.py): the Parquet writer, the app and DuckDB, the compactor, the WebSocket
# API's schema.
FIRST_CALL = {
    "flight-data-processor": ("storage.processed",),
    "flight-api-handler": ("mangum", "runtime.http", "analytics.service", "duckdb"),
    "analytics-processor": ("analytics.daily", "analytics.compaction"),
    "websocket-handler": (
        "resolvers.root",
        "security.gate",
        "storage.dynamodb.connections",
        "subscriptions.lambda_ws",
    ),
}
_TIMER = """
import sys, time
sys.path.insert(0, ".")
start = time.perf_counter()
for name in sys.argv[1].split(","):
    __import__(name)
after_handler = time.perf_counter()
for name in filter(None, sys.argv[2].split(",")):
    __import__(name)
print(after_handler - start, time.perf_counter() - start)
"""


@dataclass(frozen=True)
class Function:
    name: str
    module: str
    artifact: Path


def _template_loader() -> Any:
    """A YAML loader that reads CloudFormation's short tags as plain values (pyyaml, a dev
    dependency, has no type stubs here)."""
    yaml = importlib.import_module("yaml")
    loader: Any = type("TemplateLoader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return loader


def functions(template: Path = ROOT / "serverless.yml") -> list[Function]:
    """Each function's handler module and artifact, as ``serverless.yml`` names them."""
    yaml = importlib.import_module("yaml")
    text = template.read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=_template_loader())
    found = []
    for name, spec in loaded["functions"].items():
        artifact = spec.get("package", {}).get("artifact") or loaded["package"]["artifact"]
        module = spec["handler"].rpartition(".")[0].replace("/", ".")
        found.append(Function(name, module, ROOT / artifact))
    return found


def unzipped_bytes(artifact: Path) -> int:
    with zipfile.ZipFile(artifact) as archive:
        return sum(info.file_size for info in archive.infolist())


def import_seconds(
    directory: Path, modules: tuple[str, ...], first_call: tuple[str, ...], repeat: int
) -> tuple[float, float]:
    """Median seconds to import ``modules``, then those and ``first_call``, in fresh
    interpreters that see ``directory`` alone."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [PYTHON, "-I", "-S", "-B", "-c", _TIMER, ",".join(modules), ",".join(first_call)],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(
                f"{directory.name}: {', '.join(modules)} does not import:\n{out.stderr}"
            )
        handler, total = map(float, out.stdout.split())
        runs.append((handler, total))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def run(repeat: int = 7, strict: bool = False) -> dict[str, float]:
    """Prints one line per function; returns each one's unzipped MB."""
    if shutil.which(PYTHON) is None:
        raise SystemExit(f"{PYTHON} is needed to load the artifacts' cp311 wheels")
    listed = functions()
    sizes: dict[str, float] = {}
    print(f"Lambda artifacts: unzipped size (floor {FLOOR_MB:.0f} MB) and handler import time")
    print(f"  {'function':<24}{'artifact':<16}{'MB':>7}  {'import ms':>10}{'first call ms':>15}")
    with tempfile.TemporaryDirectory(prefix="flightdata-artifacts-") as tmp:
        extracted: dict[Path, Path] = {}
        for function in listed:
            if function.artifact not in extracted:
                extracted[function.artifact] = Path(tmp, function.artifact.stem)
                with zipfile.ZipFile(function.artifact) as archive:
                    archive.extractall(extracted[function.artifact])
            mb = unzipped_bytes(function.artifact) / 1e6
            handler, first = import_seconds(
                extracted[function.artifact],
                (function.module,),
                FIRST_CALL.get(function.name, ()),
                repeat,
            )
            sizes[function.name] = mb
            mark = "" if mb <= FLOOR_MB else f"  over the {FLOOR_MB:.0f} MB floor"
            print(
                f"  {function.name:<24}{function.artifact.name:<16}{mb:>7.1f}"
                f"  {handler * 1e3:>10.0f}{first * 1e3:>15.0f}{mark}",
                flush=True,
            )
    over = [name for name, mb in sizes.items() if mb > FLOOR_MB]
    if strict and over:
        raise SystemExit(f"over {FLOOR_MB:.0f} MB unzipped: {', '.join(over)}")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters a figure")
    parser.add_argument("--strict", action="store_true", help="fail above the floor")
    args = parser.parse_args(argv)
    run(args.repeat, args.strict)


if __name__ == "__main__":
    main()
