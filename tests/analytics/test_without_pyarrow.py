"""The deployed API ships without pyarrow and the daily job without DuckDB
(``scripts/build_lambda.py``): each runs here in an interpreter where the left-out library
cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_without(library: str, code: str, tmp_path: Path) -> str:
    script = f"import sys\nsys.modules[{library!r}] = None\n" + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_api_answers_live_figures_without_pyarrow(tmp_path: Path) -> None:
    out = run_without(
        "pyarrow",
        """
        from pathlib import Path

        import app, mangum, runtime.http
        from analytics.athena import AthenaTable
        from analytics.service import build_service
        from config import Settings
        from runtime.stores import open_stores
        from testkit import T0, make_state

        settings = Settings.from_env(
            {}, data_dir=Path(sys.argv[1]), athena_workgroup="wg", glue_database="db"
        )
        with open_stores(settings) as stores:
            stores.flights.put_states(
                [make_state("aaa111"), make_state("bbb222"), make_state("ccc333")]
            )
            service = build_service(stores, settings)
            assert isinstance(service.processed, AthenaTable)
            print(
                service.region_counts(None).aircraft,
                service.country_counts(None).aircraft,
                service.altitude_histogram(None, 1000.0).aircraft,
                service.traffic_density(None, 1.0, None).aircraft,
            )
        """,
        tmp_path,
    )
    assert out.split() == ["3", "3", "3", "3"]


def test_the_daily_job_sums_on_athena_without_duckdb(tmp_path: Path) -> None:
    out = run_without(
        "duckdb",
        """
        from datetime import date
        from pathlib import Path

        import runtime.lambdas
        from analytics import flights
        from analytics.athena import AthenaTable
        from analytics.compaction import build_compactor
        from analytics.daily import build_processor
        from analytics.engine import FlightsEngine
        from analytics.params import day_window
        from analytics.results import Basis
        from config import Settings
        from runtime.stores import open_stores

        settings = Settings.from_env(
            {}, data_dir=Path(sys.argv[1]), athena_workgroup="wg", glue_database="db"
        )
        with open_stores(settings) as stores:
            processor = build_processor(settings, stores.legs, stores.cycles)
        assert isinstance(processor.processed, AthenaTable)
        assert build_compactor(settings).compact_day(date(2026, 11, 20)) == []


        class Answered:
            def run_query(self, query, params):
                return [(12, 5)]


        window = day_window(date(2026, 11, 20))
        scope = flights.Scope(Answered(), window.start, window.end, Basis.PARQUET)
        print(*flights.day_totals(FlightsEngine(), scope))
        """,
        tmp_path,
    )
    assert out.split() == ["12", "5"]
