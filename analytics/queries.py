"""The SQL of ``analytics/sql``: loaded once, with the names of their parameters.

Each file is one standard SQL statement over a relation ``flights`` with the columns of
the processed Parquet plus the partition columns ``year``, ``month`` and ``day`` (strings,
as Hive writes them), so that it runs unchanged on DuckDB and on Athena (Trino). Values
come in as positional ``?`` parameters, which both engines bind; the file's
``-- params:`` line names them in order. Nothing engine-specific: no ``$name``
parameters, no ``median``, no ``%`` on doubles.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_PARAMS = re.compile(r"^-- params:(.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    text: str
    params: tuple[str, ...]

    def bind(self, values: dict[str, Any]) -> list[Any]:
        """The positional parameters of ``values``; every named one must be given."""
        missing = [p for p in self.params if p not in values]
        if missing:
            raise KeyError(f"{self.name}: no value for {', '.join(missing)}")
        return [values[p] for p in self.params]


@functools.cache
def load(name: str) -> Query:
    """``analytics/sql/{name}.sql``; checks that its ``?`` match its ``-- params:`` line."""
    text = resources.files("analytics").joinpath("sql", f"{name}.sql").read_text("utf-8")
    declared = _PARAMS.search(text)
    params = tuple(p.strip() for p in declared.group(1).split(",")) if declared else ()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    if body.count("?") != len(params):
        raise ValueError(f"{name}.sql has {body.count('?')} '?' but names {len(params)} params")
    return Query(name, text, params)
