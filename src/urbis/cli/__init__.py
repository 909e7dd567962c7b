"""The ``urbis`` command: serve, demo, migrate, user, token, devices, simulate, aqi, bench, docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from urbis.cli.aqi import aqi_command
from urbis.cli.devices import devices_app
from urbis.cli.docs import docs_app
from urbis.cli.ledger import ledger_app
from urbis.cli.simulate import simulate_command
from urbis.cli.users import token_app, user_app
from urbis.core.settings import Settings

app = typer.Typer(help="Urbis: an open-source smart-city platform.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
bench_app = typer.Typer(
    help="Benchmarks: print a table of figures and the ratio to a raw baseline.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
app.add_typer(docs_app, name="docs")
app.add_typer(ledger_app, name="ledger")
app.command("simulate")(simulate_command)
app.command("aqi")(aqi_command)
app.add_typer(devices_app, name="devices")
console = Console()

HostOption = Annotated[str | None, typer.Option(help="Address to bind (default from settings: 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="TCP port (default from settings: 8000).")]
DataDirOption = Annotated[Path | None, typer.Option(help="Folder for the SQLite database and local state.")]


def load_settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    """Settings from the environment and ``urbis.toml``, with command-line values on top."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def print_settings_help() -> None:
    """Every setting with its environment variable, default and description (never truncated)."""
    from urbis.cli.docs import settings_reference_markdown

    typer.echo(settings_reference_markdown())


def run_server(settings: Settings) -> None:
    """Serve the app with uvicorn, in ``settings.workers`` processes."""
    import os

    import uvicorn

    from urbis.app import create_app

    if settings.workers == 1:
        uvicorn.run(
            create_app(settings, server=True),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
        )
        return
    # Worker processes build their own app from the environment: hand them these settings.
    for name, value in settings.model_dump(mode="json", exclude_unset=False).items():
        if value is not None:
            os.environ[f"URBIS_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    uvicorn.run(
        "urbis.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command()
def migrate(data_dir: DataDirOption = None) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from urbis.core.db import migrate as run_migrations

    settings = load_settings(data_dir=data_dir)
    run_migrations(settings.effective_database_url)
    console.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    help_settings: Annotated[bool, typer.Option("--help-settings", help="List every setting and exit.")] = False,
    skip_migrate: Annotated[bool, typer.Option(help="Do not apply pending migrations at start-up.")] = False,
    workers: Annotated[int | None, typer.Option(help="Server processes sharing the port.")] = None,
) -> None:
    """Run the Urbis server."""
    if help_settings:
        print_settings_help()
        return
    settings = load_settings(host, port, data_dir)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if not skip_migrate:
        from urbis.core.db import migrate as run_migrations

        run_migrations(settings.effective_database_url)
    run_server(settings)


@app.command()
def demo(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Run Urbis with the demo city in the default tenant (SQLite under ./var by default)."""
    from urbis.cli.demo import run_with_simulator, seed_demo
    from urbis.cli.demo_participation import seed_participation
    from urbis.core.db import migrate as run_migrations

    settings = demo_settings(load_settings(host, port, data_dir))
    run_migrations(settings.effective_database_url)
    passwords = seed_demo(settings)
    seed_participation(settings)
    base = settings.effective_base_url
    link = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    lines = [
        f"Urbis demo: {base}",
        f"  Dashboard    {base}/dashboard  (log in as mayor or operator, below)",
        f"  Citizen app  {base}/app  (log in as citizen: report a problem, take part at {base}/app/participate)",
        f"  Open311      {base}/open311/v2/requests.json",
        f"  API docs     {base}/docs",
        f"  NGSI-LD      {base}/ngsi-ld/v1/entities?type=Streetlight&limit=5",
        f"  Reads of tenant '{settings.default_tenant}' are public in the demo; writes need a token"
        f" (POST {base}/auth/token).",
        "  The city uses Smart Data Models terms; name their @context in a header:",
        f"    Link: {link}",
        f"  Demo accounts (tenant '{settings.default_tenant}'):",
    ]
    from urbis.cli.demo import DEMO_ACCOUNTS

    for username, roles in DEMO_ACCOUNTS.items():
        lines.append(f"    {username:<9} {passwords[username]:<24} {', '.join(roles)}")
    # Plain lines, not a rich table: they must stay whole and copyable in any terminal width.
    typer.echo("\n".join(lines))
    run_with_simulator(settings, passwords)


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: the demo tenant readable without a token, so any NGSI-LD client sees the city."""
    public = list(dict.fromkeys([*settings.public_read_tenants, settings.default_tenant]))
    return settings.model_copy(update={"public_read_tenants": public})


@bench_app.command("broker")
def bench_broker(
    entities: Annotated[int, typer.Option(help="How many entities to load.")] = 100_000,
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    postgres_url: Annotated[
        str, typer.Option(help="Admin URL of a PostgreSQL server; a throw-away database is made on it.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    queries: Annotated[int, typer.Option(help="Requests per latency measurement.")] = 300,
    workers: Annotated[int, typer.Option(help="Server processes (and concurrent upload clients).")] = 2,
) -> None:
    """Batch upsert, GET and geo-query figures of the NGSI-LD broker over HTTP."""
    from urbis.bench.broker import run_broker_bench

    backends = ["sqlite", "postgresql"] if backend == "both" else [backend]
    run_broker_bench(
        entities=entities,
        backends=backends,
        postgres_admin_url=postgres_url,
        queries=queries,
        console=console,
        workers=workers,
    )


@bench_app.command("ingest")
def bench_ingest(
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    postgres_url: Annotated[
        str, typer.Option(help="Admin URL of a PostgreSQL server; a throw-away database is made on it.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    http_measures: Annotated[int, typer.Option(help="Measures sent as HTTP gateway batches.")] = 1_200_000,
    mqtt_messages: Annotated[int, typer.Option(help="One-measure MQTT messages sent.")] = 100_000,
    stations: Annotated[int, typer.Option(help="Air-quality stations provisioned (250 per gateway).")] = 2000,
    workers: Annotated[int, typer.Option(help="Server processes (and concurrent HTTP clients).")] = 2,
    publishers: Annotated[int, typer.Option(help="MQTT publisher processes.")] = 2,
) -> None:
    """End-to-end ingestion figures: HTTP gateway batches and one-measure MQTT messages, with history."""
    from urbis.bench.ingest import run_ingest_bench

    run_ingest_bench(
        backends=["sqlite", "postgresql"] if backend == "both" else [backend],
        postgres_admin_url=postgres_url,
        http_measures=http_measures,
        mqtt_messages=mqtt_messages,
        stations=stations,
        workers=workers,
        publishers=publishers,
        console=console,
    )


@bench_app.command("solutions")
def bench_solutions(
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    postgres_url: Annotated[
        str, typer.Option(help="Admin URL of a PostgreSQL server; a throw-away database is made on it.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    speed: Annotated[float, typer.Option(min=1, help="Simulated seconds per wall second.")] = 10.0,
    minutes: Annotated[
        float, typer.Option(min=0.1, help="Simulated minutes of the live run (60 at 10x: 6 wall minutes).")
    ] = 60.0,
    backfill_hours: Annotated[
        float, typer.Option(min=0, help="Hours of the city's history sent before the live run.")
    ] = 24.0,
    start: Annotated[
        str | None,
        typer.Option(help="Simulated start of the live run (ISO 8601 with zone); default: before yesterday's dusk."),
    ] = None,
    stations: Annotated[
        int, typer.Option(min=0, help="Air-quality stations whose indices are recomputed (0: skip that part).")
    ] = 1000,
    runs: Annotated[int, typer.Option(min=1, help="Timed evaluations of the stations (the median is shown).")] = 5,
    quick: Annotated[
        bool, typer.Option(help="A small city for 2 simulated minutes and 50 stations: checks the path, not speed.")
    ] = False,
    profile: Annotated[bool, typer.Option(help="Print cProfile's top entries of each solution's evaluation.")] = False,
) -> None:
    """The city solutions against the simulated city at 10x (lag printed), and the indices of 1,000 stations."""
    from datetime import datetime

    from urbis.bench.solutions import CityPlan, run_solutions_bench
    from urbis.sim.world import CityConfig

    moment = None
    if start is not None:
        try:
            moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"not an ISO 8601 date-time: {start!r}") from None
        if moment.tzinfo is None:
            raise typer.BadParameter("give the start with a time zone, e.g. 2026-11-23T15:00:00Z")
    config = CityConfig(lights=300, stations=10, bays=300, garages=2) if quick else CityConfig()
    plan = CityPlan(
        config=config,
        speed=speed,
        minutes=2.0 if quick else minutes,
        backfill_hours=3.0 if quick else backfill_hours,
        start=moment,
    )
    run_solutions_bench(
        backends=["sqlite", "postgresql"] if backend == "both" else [backend],
        postgres_admin_url=postgres_url,
        plan=plan,
        stations=min(stations, 50) if quick else stations,
        runs=min(runs, 3) if quick else runs,
        console=console,
        profile=profile,
    )


@bench_app.command("dashboard")
def bench_dashboard(
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    postgres_url: Annotated[
        str, typer.Option(help="Admin URL of a PostgreSQL server; a throw-away database is made on it.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    requests: Annotated[int, typer.Option(min=1, help="Warm requests per URL (the page and each fragment).")] = 50,
    cold_requests: Annotated[
        int, typer.Option(min=1, help="Cold requests per URL, each after the dashboard forgot what it keeps.")
    ] = 3,
    lights: Annotated[int, typer.Option(min=1, help="Street lights of the city.")] = 5000,
    stations: Annotated[int, typer.Option(min=1, help="Air-quality stations.")] = 50,
    bays: Annotated[int, typer.Option(min=1, help="On-street parking bays.")] = 3000,
    days: Annotated[int, typer.Option(min=1, help="Days of history before the measured instant.")] = 30,
    lamp_step: Annotated[int, typer.Option(min=1, help="Minutes between a lamp's history readings.")] = 60,
    profile: Annotated[
        bool, typer.Option(help="Print cProfile's top entries of each URL's figures, cold and warm.")
    ] = False,
) -> None:
    """Server time of the overview page and its KPI fragments at city scale, cold and warm."""
    from urbis.bench.dashboard import DashboardScale, run_dashboard_bench

    run_dashboard_bench(
        backends=["sqlite", "postgresql"] if backend == "both" else [backend],
        postgres_admin_url=postgres_url,
        scale=DashboardScale(lights=lights, stations=stations, bays=bays, days=days, lamp_step_minutes=lamp_step),
        requests=requests,
        cold_requests=cold_requests,
        console=console,
        profile=profile,
    )


@bench_app.command("citizens")
def bench_citizens(
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    postgres_url: Annotated[
        str, typer.Option(help="Admin URL of a PostgreSQL server; a throw-away database is made on it.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    reports: Annotated[int, typer.Option(min=1, help="Public reports in the city when the reads are timed.")] = 10_000,
    posts: Annotated[int, typer.Option(min=1, help="Open311 POSTs timed (part of the reports).")] = 300,
    reads: Annotated[int, typer.Option(min=1, help="Timed requests per Open311 read.")] = 30,
    ballots: Annotated[int, typer.Option(min=1, help="Budget ballots timed.")] = 300,
) -> None:
    """Open311 writes and reads and budget ballots at city scale, against plain SQL."""
    from urbis.bench.citizens import run_citizens_bench

    run_citizens_bench(
        backends=["sqlite", "postgresql"] if backend == "both" else [backend],
        postgres_admin_url=postgres_url,
        reports=reports,
        posts=min(posts, reports),
        reads=reads,
        ballots=ballots,
        console=console,
    )


def main() -> None:
    """Entry point of the ``urbis`` command."""
    app()
