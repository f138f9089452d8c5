"""The ``flightdata`` command: serve, ingest, load airports, export the schema.

Every flag has an environment variable; a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson

from config import ConfigError, Settings

if TYPE_CHECKING:
    from domain.api_key import ApiKey
    from runtime.bootstrap import BootstrapReport
    from security.keys import KeyService
    from storage.stores import Stores

log = logging.getLogger("flightdata")

# Flag name -> environment variable, so the settings see flags and env alike and
# worker processes inherit them.
_ENV_OF = {
    "data_dir": "FLIGHTDATA_DATA_DIR",
    "source": "FLIGHTDATA_SOURCE",
    "interval": "FLIGHTDATA_INTERVAL",
    "host": "HOST",
    "port": "PORT",
    "workers": "WEB_CONCURRENCY",
}


def _export_flags(args: argparse.Namespace) -> Settings:
    for attr, env in _ENV_OF.items():
        value = getattr(args, attr, None)
        if value is not None:
            os.environ[env] = str(value)
    return Settings.from_env()


def _setup_logging(settings: Settings) -> None:
    from observability import bootstrap

    bootstrap.for_process(settings)  # LOG_FORMAT json (default) or text, at LOG_LEVEL


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.no_ingest:
        os.environ["FLIGHTDATA_INGEST"] = "false"
    settings = _export_flags(args)
    _setup_logging(settings)
    base = f"http://{settings.host}:{settings.port}"
    built = (settings.dashboard_dir / "index.html").is_file()
    print(f"flightdata: dashboard {base}/{'' if built else '  (not built: make dashboard)'}")
    print(f"flightdata: GraphiQL  {base}/graphql", flush=True)
    print(f"flightdata: health    {base}/healthz", flush=True)
    print(
        f"flightdata: source={settings.source} every {settings.interval_s:g}s, "
        f"data in {settings.data_dir.resolve()}",
        flush=True,
    )
    from runtime.ingest_process import IngestProcess, ingest_command

    # Ingest runs in a process of its own, so that a cycle never stalls the API; the API
    # processes hear of each cycle through Redis or the shared store.
    ingester = IngestProcess(ingest_command(settings.interval_s)) if settings.ingest else None
    with ingester or contextlib.nullcontext():
        uvicorn.run(
            "app:create_worker_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
            log_config=None,  # uvicorn logs through the root logger: JSON like ours
            access_log=False,
            ws_per_message_deflate=settings.ws_compression,
            ws_max_size=settings.max_body_bytes,  # a WebSocket message is a request body too
            ws_ping_interval=settings.ws_ping_interval_s,
            timeout_keep_alive=settings.keep_alive_s,
        )
    return 0


async def _ingest(settings: Settings, *, once: bool) -> int:
    from domain.events import InProcessBus
    from ingestion.reference import seed_airports
    from runtime.ingest import build_event_bus, build_ingest_loop
    from runtime.live import ingest_publisher
    from runtime.process import release_free_memory_every
    from runtime.stores import open_stores

    with open_stores(settings) as stores:
        seed_airports(stores)
        # EventBridge when configured (FlightDataProcessed feeds AppSync's publisher there).
        events = build_event_bus(settings) or InProcessBus()
        async with httpx.AsyncClient(timeout=settings.http_timeout_s) as client:
            hook = ingest_publisher(settings, stores)  # API processes hear of each cycle
            loop = build_ingest_loop(settings, stores, client, events, hook)
            if not once:
                trim = asyncio.create_task(release_free_memory_every(settings.interval_s))
                try:
                    await loop.run_forever()
                finally:
                    trim.cancel()
            await loop.recover()
            report = await loop.run_once()
            await loop.flush_processed()
    print(
        f"received {report.received}, stored {report.stored}, rejected {report.rejected}, "
        f"duplicates {report.duplicates}"
        + (f"; rejected by reason: {dict(report.reasons)}" if report.reasons else "")
    )
    if report.error:
        print(f"cycle failed: {report.error}", file=sys.stderr)
        return 1
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.every is not None:
        args.interval = args.every
    settings = _export_flags(args)
    _setup_logging(settings)
    once = args.once or (args.every is None and settings.source.startswith("file:"))
    try:
        return asyncio.run(_ingest(settings, once=once))
    except KeyboardInterrupt:
        return 0


def cmd_airports_load(args: argparse.Namespace) -> int:
    from ingestion.ourairports import CsvLayoutError
    from ingestion.reference import load_ourairports
    from runtime.stores import open_stores

    settings = _export_flags(args)
    stores = open_stores(settings)
    try:
        report = load_ourairports(stores.airports, args.path, args.runways)
    except (OSError, httpx.HTTPError, CsvLayoutError) as exc:
        print(f"flightdata: cannot load airports: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    print(report)
    return 0


def _parse_time(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def cmd_reprocess(args: argparse.Namespace) -> int:
    from ingestion.rerun import reprocess
    from runtime.ingest import build_pipeline
    from runtime.stores import open_stores

    settings = _export_flags(args)
    _setup_logging(settings)
    with open_stores(settings) as stores:
        pipeline = build_pipeline(settings, stores, None)
        summary = reprocess(stores.archive, pipeline, args.start, args.end)
        if pipeline.processed is not None:
            pipeline.processed.flush()
    print(summary)
    return 1 if summary.failed else 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from runtime.stores import open_stores

    settings = _export_flags(args)
    with open_stores(settings) as stores:
        page = stores.dead_letters.list(first=args.limit, reason=args.reason)
        by_reason = stores.dead_letters.reasons()
    print(
        f"{page.total_count} dead letters" + (f" with reason {args.reason}" if args.reason else "")
    )
    for reason, count in sorted(by_reason.items()):
        print(f"  {reason}: {count}")
    for letter in page.items:
        raw = orjson.dumps(letter.raw, default=str).decode()
        print(
            f"#{letter.id} {letter.received_at:%Y-%m-%dT%H:%M:%SZ} {letter.source} "
            f"{letter.reason} (attempts {letter.attempts}): {letter.detail}\n    {raw[:200]}"
        )
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from ingestion.rerun import redrive
    from runtime.ingest import build_pipeline
    from runtime.stores import open_stores

    settings = _export_flags(args)
    _setup_logging(settings)
    with open_stores(settings) as stores:
        letters = stores.dead_letters.list(first=args.limit, reason=args.reason).items
        summary = redrive(
            letters, build_pipeline(settings, stores, None), stores.dead_letters, stores.archive
        )
    print(summary)
    return 0


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a day such as 2026-11-26: {value!r}") from exc


def cmd_analytics_daily(args: argparse.Namespace) -> int:
    from analytics.daily import DayNotOver, yesterday
    from analytics.engine import QueryFailed
    from runtime.services import daily_processor
    from runtime.stores import open_stores
    from storage.base import StoreUnavailable

    settings = _export_flags(args)
    _setup_logging(settings)
    day = args.date or yesterday()
    stores = open_stores(settings)
    try:
        keys, summary = daily_processor(settings, stores).run(day)
    except DayNotOver as exc:
        print(f"flightdata: {exc}", file=sys.stderr)
        return 2
    except (StoreUnavailable, QueryFailed) as exc:
        print(f"flightdata: the analytics of {day} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    quality = summary.quality
    print(
        f"{day}: {summary.states:,} states of {summary.aircraft:,} aircraft; "
        f"{len(summary.airports.airports):,} airports with movements; "
        f"{sum(s.cycles for s in quality.sources):,} cycles, "
        f"{quality.rejected:,} of {quality.received:,} records rejected"
    )
    for key in keys:
        print(f"wrote {key}")
    return 0


def cmd_analytics_compact(args: argparse.Namespace) -> int:
    from analytics.compaction import build_compactor
    from analytics.daily import yesterday
    from storage.base import StoreUnavailable

    settings = _export_flags(args)
    _setup_logging(settings)
    day = args.date or yesterday()
    try:
        results = build_compactor(settings).compact_day(day)
    except (StoreUnavailable, OSError) as exc:
        print(f"flightdata: compacting {day} failed: {exc}", file=sys.stderr)
        return 1
    written = [r for r in results if r.written]
    deleted = sum(len(r.deleted) for r in results)
    print(
        f"{day}: {len(written)} partitions compacted, {deleted:,} files merged, "
        f"{sum(r.rows for r in written):,} rows"
    )
    return 0


def _key_service(settings: Settings) -> tuple[KeyService, Stores]:
    from runtime.services import key_service
    from runtime.stores import open_stores

    stores = open_stores(settings)
    return key_service(settings, stores), stores


def _print_key(key: ApiKey, now: float) -> None:
    from security.keys import iso_utc

    status = key.status(now)
    if key.rotated_to and status == "active":
        status = f"rotated to {key.rotated_to}, valid until {iso_utc(key.expires_at)}"
    print(
        f"{key.key_id}  {key.name:<24} {','.join(sorted(key.scopes)):<10} {key.tier:<10} "
        f"created {iso_utc(key.created_at)}  expires {iso_utc(key.expires_at)}  {status}"
    )


def cmd_keys_create(args: argparse.Namespace) -> int:
    settings = _export_flags(args)
    service, stores = _key_service(settings)
    try:
        issued = service.create(args.name, scope=args.scope, tier=args.tier, days=args.days)
    except ValueError as exc:
        print(f"flightdata: {exc}", file=sys.stderr)
        return 2
    finally:
        stores.close()
    _print_key(issued.record, issued.record.created_at)
    print("The key is shown once; only its SHA-256 is stored. Send it as X-API-Key:")
    print(issued.key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    import time

    settings = _export_flags(args)
    service, stores = _key_service(settings)
    try:
        keys = service.list()
    finally:
        stores.close()
    now = time.time()
    for key in keys:
        _print_key(key, now)
    print(f"{len(keys)} key{'' if len(keys) == 1 else 's'}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from security.keys import UnknownKey

    settings = _export_flags(args)
    service, stores = _key_service(settings)
    try:
        key = service.revoke(args.key_id)
    except UnknownKey as exc:
        print(f"flightdata: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    _print_key(key, key.revoked_at or 0.0)
    print("revoked: every API process refuses it within 30 s (their key caches)")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from security.keys import UnknownKey, iso_utc

    settings = _export_flags(args)
    service, stores = _key_service(settings)
    try:
        issued, old = service.rotate(args.key_id, grace=timedelta(hours=args.grace_hours))
    except (UnknownKey, ValueError) as exc:
        print(f"flightdata: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    print(f"{old.key_id} stays valid until {iso_utc(old.expires_at)}, then only the new key works")
    _print_key(issued.record, issued.record.created_at)
    print("The new key is shown once; only its SHA-256 is stored. Send it as X-API-Key:")
    print(issued.key)
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from ingestion.ourairports import CsvLayoutError
    from runtime.bootstrap import bootstrap
    from runtime.stores import open_stores

    if args.runways and not args.airports:
        print(
            "flightdata: --runways needs --airports (runways name their airports)", file=sys.stderr
        )
        return 2
    settings = _export_flags(args)
    stores = open_stores(settings)
    try:
        report = bootstrap(
            settings,
            stores,
            airports_csv=args.airports,
            runways_csv=args.runways,
            new_key=args.new_key,
            key_days=args.days,
        )
    except (OSError, httpx.HTTPError, CsvLayoutError) as exc:
        print(f"flightdata: cannot load airports: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    return _print_bootstrap(report)


def _print_bootstrap(report: BootstrapReport) -> int:
    if report.airports_seeded:
        print(f"airports: {report.airports_seeded:,} loaded from airportsdata")
    if report.ourairports is not None:
        print(report.ourairports)
    print(f"airports: {report.airports:,} in the airports table")
    for key in report.admin_keys:
        _print_key(key, key.created_at)
    if report.issued is None:
        print("an active admin key exists: no key issued (--new-key issues another)")
        return 0
    _print_key(report.issued.record, report.issued.record.created_at)
    print("The admin key is shown once; only its SHA-256 is stored. Send it as X-API-Key:")
    print(report.issued.key)
    return 0


def cmd_schema_export(args: argparse.Namespace) -> int:
    from appsync.sdl import SDL_PATH as APPSYNC_SDL_PATH
    from appsync.sdl import appsync_sdl
    from resolvers.root import build_schema
    from schema import SDL_PATH, export_sdl

    sdl = export_sdl(build_schema())
    output = Path(args.output) if args.output else SDL_PATH
    output.write_text(sdl, encoding="utf-8")
    print(f"wrote {output}")
    if not args.output:
        APPSYNC_SDL_PATH.write_text(appsync_sdl(sdl), encoding="utf-8")
        print(f"wrote {APPSYNC_SDL_PATH}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flightdata", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory [FLIGHTDATA_DATA_DIR, ./var]")

    def source_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--source", help="replay | opensky | adsbx | receiver | file:PATH [FLIGHTDATA_SOURCE]"
        )

    serve = commands.add_parser("serve", help="serve the API and ingest in the background")
    common(serve)
    source_flags(serve)
    serve.add_argument("--host", help="[HOST, 127.0.0.1]")
    serve.add_argument("--port", type=int, help="[PORT, 8000]")
    serve.add_argument("--workers", type=int, help="API worker processes [WEB_CONCURRENCY, 1]")
    serve.add_argument(
        "--interval", type=float, help="seconds between cycles [FLIGHTDATA_INTERVAL]"
    )
    serve.add_argument("--no-ingest", action="store_true", help="serve only [FLIGHTDATA_INGEST]")
    serve.set_defaults(func=cmd_serve)

    ingest = commands.add_parser("ingest", help="fetch, validate and store flight states")
    common(ingest)
    source_flags(ingest)
    ingest.add_argument("--once", action="store_true", help="run one cycle and exit")
    ingest.add_argument("--every", type=float, help="seconds between cycles [FLIGHTDATA_INTERVAL]")
    ingest.set_defaults(func=cmd_ingest)

    airports = commands.add_parser("airports", help="airport reference data")
    airport_cmds = airports.add_subparsers(dest="airports_command", required=True)
    load = airport_cmds.add_parser("load", help="import OurAirports airports.csv")
    common(load)
    load.add_argument("path", help="OurAirports airports.csv (path or URL)")
    load.add_argument("--runways", help="OurAirports runways.csv (path or URL)")
    load.set_defaults(func=cmd_airports_load)

    rerun = commands.add_parser("reprocess", help="run archived raw bodies through again")
    common(rerun)
    rerun.add_argument("--from", dest="start", type=_parse_time, required=True, help="ISO time")
    rerun.add_argument("--to", dest="end", type=_parse_time, required=True, help="ISO time")
    rerun.set_defaults(func=cmd_reprocess)

    dlq = commands.add_parser("dlq", help="dead letters: records that were not stored")
    dlq_cmds = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, func, text in (
        ("list", cmd_dlq_list, "show dead letters and counts by reason"),
        ("replay", cmd_dlq_replay, "retry dead letters; those that store are removed"),
    ):
        sub = dlq_cmds.add_parser(name, help=text)
        common(sub)
        sub.add_argument("--reason", help="only this reason code")
        sub.add_argument("--limit", type=int, default=100, help="at most this many [100]")
        sub.set_defaults(func=func)

    analytics = commands.add_parser("analytics", help="aggregates of the processed data")
    analytics_cmds = analytics.add_subparsers(dest="analytics_command", required=True)
    daily = analytics_cmds.add_parser(
        "daily", help="write a past UTC day's summary beside the processed Parquet"
    )
    common(daily)
    daily.add_argument("--date", type=_parse_day, help="the UTC day, YYYY-MM-DD [yesterday]")
    daily.set_defaults(func=cmd_analytics_daily)
    compact = analytics_cmds.add_parser(
        "compact", help="merge a UTC day's small Parquet files into one per region"
    )
    common(compact)
    compact.add_argument("--date", type=_parse_day, help="the UTC day, YYYY-MM-DD [yesterday]")
    compact.set_defaults(func=cmd_analytics_compact)

    keys = commands.add_parser("keys", help="API keys (X-API-Key)")
    key_cmds = keys.add_subparsers(dest="keys_command", required=True)
    create = key_cmds.add_parser("create", help="issue a key; it is printed alone on the last line")
    common(create)
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument("--scope", choices=["read", "admin"], default="read", help="[read]")
    create.add_argument("--tier", default="standard", help="quota tier [standard]")
    create.add_argument(
        "--days", type=float, help="days until it expires [FLIGHTDATA_API_KEY_DAYS, 90]"
    )
    create.set_defaults(func=cmd_keys_create)
    listing = key_cmds.add_parser("list", help="every key and its status (never the key)")
    common(listing)
    listing.set_defaults(func=cmd_keys_list)
    revoke = key_cmds.add_parser("revoke", help="refuse a key from now on")
    common(revoke)
    revoke.add_argument("key_id", help="the key's id (the 12 hex digits after fd_)")
    revoke.set_defaults(func=cmd_keys_revoke)
    rotate = key_cmds.add_parser(
        "rotate", help="issue a replacement; the old key works for a grace period"
    )
    common(rotate)
    rotate.add_argument("key_id", help="the key's id (the 12 hex digits after fd_)")
    rotate.add_argument(
        "--grace-hours", type=float, default=24.0, help="how long the old key still works [24]"
    )
    rotate.set_defaults(func=cmd_keys_rotate)

    boot = commands.add_parser(
        "bootstrap", help="a new deployment's day one: load the airports, issue the first admin key"
    )
    common(boot)
    boot.add_argument("--airports", help="also import OurAirports airports.csv (path or URL)")
    boot.add_argument("--runways", help="and its runways.csv (path or URL)")
    boot.add_argument(
        "--new-key", action="store_true", help="issue an admin key even if an active one exists"
    )
    boot.add_argument(
        "--days", type=float, help="days until the key expires [FLIGHTDATA_API_KEY_DAYS, 90]"
    )
    boot.set_defaults(func=cmd_bootstrap)

    schema = commands.add_parser("schema", help="the GraphQL schema")
    schema_cmds = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_cmds.add_parser(
        "export",
        help="write the SDL to schema/schema.graphql, its AppSync form to appsync/",
    )
    export.add_argument("--output", help="another path to write to")
    export.set_defaults(func=cmd_schema_export)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from runtime.process import tune_allocators, tune_gc

    tune_allocators()
    tune_gc()
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ConfigError as exc:
        print(f"flightdata: configuration error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
