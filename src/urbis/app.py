"""The composition root: ``create_app(settings)`` builds engine, services and routes."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import FastAPI

import urbis
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.rollup import HistoryMaintenance
from urbis.context.service import ContextService, EntityChanged
from urbis.context.store import SqlContextStore
from urbis.context.subscriptions.live import LiveEvents
from urbis.context.subscriptions.metrics import NotificationMetrics
from urbis.context.subscriptions.service import SubscriptionService
from urbis.context.temporal import TemporalService
from urbis.core.audit import AuditService
from urbis.core.auth.service import AccountService
from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.jobs import PeriodicJob
from urbis.core.leader import LeaderRunner, SlotShare
from urbis.core.runtime import settle_garbage_collector
from urbis.core.settings import Settings
from urbis.dashboard.charts import ChartService
from urbis.dashboard.mapdata import MapService
from urbis.dashboard.report import ReportService
from urbis.dashboard.service import DashboardService
from urbis.ingestion.messages import DeviceCommand
from urbis.ingestion.mqtt import MqttBridge
from urbis.ingestion.service import (
    CommandService,
    DeadLetterService,
    DeviceDirectory,
    DeviceService,
    IngestionService,
    IngestMetrics,
)
from urbis.operations.service import OperationsService
from urbis.solutions.air_quality.model import ThresholdRule
from urbis.solutions.air_quality.service import AirQualityService
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.parking.const import PricingRules
from urbis.solutions.parking.service import ParkingService, PricingSetup
from urbis.solutions.runtime import SolutionRunner

log = logging.getLogger(__name__)

#: Background workers: (start, stop) pairs run with the server's lifespan.
Background = list[tuple[Callable[[], None], Callable[[], None]]]

#: Modules that declare tables on ``urbis.core.db.metadata``.
TABLE_MODULES = (
    "urbis.core.auth.tables",
    "urbis.core.audit",
    "urbis.context.store",
    "urbis.context.history",
    "urbis.context.subscriptions.store",
    "urbis.ingestion.store",
    "urbis.operations.store",
    "urbis.solutions.parking.store",
    "urbis.solutions.lighting.store",
    "urbis.dashboard.store",
    "urbis.citizens.moderation",
    "urbis.citizens.mail",
    "urbis.citizens.store",
    "urbis.citizens.notify",
    "urbis.citizens.participation.store",
    "urbis.marketplace.ledger",
    "urbis.marketplace.store",
)


def load_tables() -> None:
    """Import every module that declares tables, so ``metadata`` knows the whole schema."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, server: bool = False) -> FastAPI:
    """Build a complete Urbis web application for ``settings`` (the database must be migrated).

    ``server`` marks the app as its process's only one (``urbis serve``): after
    start-up its long-lived objects are frozen out of the garbage collector's way.
    """
    from urbis.web import (
        air_quality,
        audit,
        auth,
        ckan,
        devices,
        events,
        lighting,
        marketplace,
        media,
        operations,
        parking,
        participation,
        reports,
        residents,
        system,
    )
    from urbis.web.errors import install_error_handlers
    from urbis.web.ngsild import batch, contexts, discovery, entities, subscriptions, temporal
    from urbis.web.open311 import routes as open311

    settings = settings or Settings()
    clock = clock or SystemClock()
    db = Database(settings.effective_database_url)
    bus = EventBus()

    # Background workers (notifiers, MQTT ingestion, roll-ups): started with the server and
    # stopped in reverse order, so a test client or `urbis serve` runs them and a bare
    # create_app() does not.
    background: Background = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.ngsild_open:
            log.warning(
                "URBIS_NGSILD_OPEN=1: the NGSI-LD API accepts reads and writes WITHOUT any token. "
                "Use this only on a closed network or for conformance suites."
            )
        started: list[Callable[[], None]] = []
        try:
            for start, stop in background:
                start()
                started.append(stop)
            if server:
                settle_garbage_collector()
            yield
        finally:
            for stop in reversed(started):
                stop()
            db.dispose()

    app = FastAPI(
        title="Urbis",
        version=urbis.__version__,
        description="Open-source smart-city platform: NGSI-LD context broker and city services.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.background = background
    app.state.db = db
    app.state.bus = bus
    app.state.contexts = ContextResolver(
        base_url=settings.effective_base_url,
        fetch_timeout=settings.context_fetch_timeout,
        cache_size=settings.context_cache_size,
        store=SqlContextStore(db),
    )
    app.state.context = ContextService(
        db,
        bus,
        default_tenant=settings.default_tenant,
        clock=clock,
        keep_history=settings.history_enabled,
        # Device mappings name attributes and types in the Urbis context (core + Smart Data Models).
        reading_terms=app.state.contexts.resolve(URBIS_CONTEXT_URL).expand,
    )
    app.state.accounts = AccountService(db, settings)
    app.state.metrics = system.HttpMetrics()
    app.state.metrics.install(app)
    install_error_handlers(app)
    _wire_history(app, settings, db, clock, background)
    _wire_ingestion(app, settings, db, bus, clock, background)
    _wire_subscriptions(app, settings, db, bus, clock, background)
    _wire_mqtt(app, settings, db, bus, background)
    # Alarms and work orders, mirrored into the context as Alert and WorkOrder entities.
    app.state.operations = OperationsService(db, app.state.context, clock=clock)
    # Who did what, when: written by the services in their own transactions, read by the console.
    app.state.audit = AuditService(db)
    _wire_solutions(app, settings, db, bus, clock, background)
    for module in (entities, batch, discovery, contexts, temporal, subscriptions):
        app.include_router(module.router)
    app.include_router(devices.router)
    app.include_router(operations.router)
    app.include_router(audit.router)
    app.include_router(parking.router)
    app.include_router(air_quality.router)
    app.include_router(lighting.router)
    app.include_router(events.router)
    app.include_router(auth.router)
    app.include_router(system.router)
    _wire_citizens(app, settings, db, bus, clock, background)
    app.include_router(participation.router)
    app.include_router(open311.router)
    app.include_router(media.router)
    app.include_router(reports.router)
    app.include_router(residents.router)
    _wire_marketplace(app, db, clock)
    app.include_router(marketplace.router)
    app.include_router(ckan.router)
    _wire_dashboard(app, settings, db, clock, background)
    # The residents' app after the dashboard's pages: its own error pages under /app win.
    from urbis.web.citizen import install_citizen_app
    from urbis.web.citizen.participate import install_participation_pages

    install_citizen_app(app)
    install_participation_pages(app)
    return app


def _wire_marketplace(app: FastAPI, db: Database, clock: Clock) -> None:
    """The data marketplace: the catalogue and the hash-chained log of what happens in it."""
    from urbis.marketplace.ledger import LedgerService
    from urbis.marketplace.service import CatalogService

    app.state.marketplace_ledger = LedgerService(db, clock=clock)
    app.state.catalog = CatalogService(db, clock=clock)


def _wire_citizens(
    app: FastAPI, settings: Settings, db: Database, bus: EventBus, clock: Clock, background: Background
) -> None:
    """Problem reports (Open311 and the citizen app), their mail, and the sweep that closes fixed ones."""
    from urbis.citizens.mail import Mailer
    from urbis.citizens.notify import Notifier, account_emails
    from urbis.citizens.participation.model import BudgetPhaseChanged, ProposalAnswered, ProposalStateChanged
    from urbis.citizens.participation.service import ParticipationService
    from urbis.citizens.photos import process_photo
    from urbis.citizens.places import Places
    from urbis.citizens.privacy import ResidentData
    from urbis.citizens.service import ReportChanged, ReportService, rules_from
    from urbis.web.ratelimit import RateLimits

    app.state.places = Places(app.state.context, app.state.contexts.resolve(URBIS_CONTEXT_URL).expand)
    app.state.mailer = Mailer(db, settings, clock=clock)
    app.state.citizen_reports = ReportService(
        db,
        app.state.context,
        app.state.operations,
        app.state.places,
        rules=rules_from(settings),
        mailer=app.state.mailer,
        process_photo=process_photo,
        bus=bus,
        clock=clock,
    )
    app.state.participation = ParticipationService(db, settings, clock=clock, bus=bus)
    # Followers hear of what changes: in their feed, and by mail when they asked for it.
    app.state.notifier = Notifier(
        db,
        reports=app.state.citizen_reports,
        email_of=account_emails(app.state.accounts),
        mailer=app.state.mailer,
        base_url=settings.effective_base_url,
        clock=clock,
    )
    bus.subscribe(ReportChanged, app.state.notifier.on_report_changed)
    app.state.resident_data = ResidentData(
        app.state.accounts, app.state.citizen_reports, app.state.participation, app.state.notifier
    )
    for event_type in (ProposalStateChanged, ProposalAnswered, BudgetPhaseChanged):
        bus.subscribe(event_type, app.state.notifier.on_participation_event)
    app.state.rate_limits = RateLimits.from_settings(
        settings, storage_uri=settings.citizen_rate_limit_storage, trusted_proxies=settings.trusted_proxies
    )
    # A closed work order (or alarm) closes the citizens' reports of the same fault.
    bus.subscribe(EntityChanged, app.state.citizen_reports.on_entity_changed)
    # One process sends the mail and settles reports whose faults another process closed.
    mail_job = PeriodicJob("citizen-mail", 15.0, app.state.mailer.send_pending)
    mail_runner = LeaderRunner(db, "citizen-mail", mail_job.start, mail_job.stop)
    background.append((mail_runner.start, mail_runner.stop))
    # Sent mail keeps its recipient (personal data) for a while, for support questions; then it goes.
    purge = PeriodicJob("citizen-mail-purge", 86400.0, app.state.mailer.purge)
    purge_runner = LeaderRunner(db, "citizen-mail-purge", purge.start, purge.stop)
    background.append((purge_runner.start, purge_runner.stop))
    # Proposals past their deadline are decided on read too; the job tells their followers in time.
    expiry = PeriodicJob("participation-expiry", 3600.0, app.state.participation.close_expired)
    expiry_runner = LeaderRunner(db, "participation-expiry", expiry.start, expiry.stop)
    background.append((expiry_runner.start, expiry_runner.stop))
    sweep = PeriodicJob("citizen-report-sweep", 300.0, app.state.citizen_reports.sweep)
    runner = LeaderRunner(db, "citizen-report-sweep", sweep.start, sweep.stop)
    background.append((runner.start, runner.stop))


def _wire_dashboard(app: FastAPI, settings: Settings, db: Database, clock: Clock, background: Background) -> None:
    """The mayor's dashboard and the operator console, and the job that keeps their figures' trends."""
    from urbis.web.ui.setup import install_pages

    app.state.dashboard = DashboardService(
        db,
        app.state.context,
        air_quality=app.state.air_quality,
        lighting=app.state.lighting,
        parking=app.state.parking,
        operations=app.state.operations,
        timezone=settings.city_timezone,
        reports=app.state.citizen_reports,
        clock=clock,
    )
    app.state.city_map = MapService(
        app.state.context,
        app.state.contexts.resolve(URBIS_CONTEXT_URL).expand,
        air_quality=app.state.air_quality,
        lighting=app.state.lighting,
        parking=app.state.parking,
        operations=app.state.operations,
        temporal=app.state.temporal,
        reports=app.state.citizen_reports,
        clock=clock,
    )
    app.state.charts = ChartService(
        air_quality=app.state.air_quality,
        lighting=app.state.lighting,
        parking=app.state.parking,
        operations=app.state.operations,
        audit=app.state.audit,
        timezone=settings.city_timezone,
        clock=clock,
    )
    app.state.reports = ReportService(
        db,
        charts=app.state.charts,
        air_quality=app.state.air_quality,
        lighting=app.state.lighting,
        operations=app.state.operations,
        reports=app.state.citizen_reports,
    )
    app.state.bus.subscribe(EntityChanged, app.state.dashboard.on_entity_changed)
    install_pages(app, settings)
    if settings.solutions_enabled:
        # Today's energy costs a long read: the leading process refreshes it whenever lamps report
        # (at most every min_gap seconds, at least every minute) and requests serve it.
        energy = SolutionRunner(
            "dashboard-energy",
            app.state.dashboard.refresh,
            db=db,
            bus=app.state.bus,
            watched_types=app.state.lighting.watched_types,
            interval=60.0,
            min_gap=settings.solutions_min_gap_seconds,
            clock=clock,
        )
        background.append((energy.start, energy.stop))
        # One process records the snapshots: the leader of "dashboard-snapshots".
        job = PeriodicJob(
            "dashboard-snapshots", settings.dashboard_snapshot_minutes * 60, app.state.dashboard.record_snapshots
        )
        runner = LeaderRunner(db, "dashboard-snapshots", job.start, job.stop)
        background.append((runner.start, runner.stop))


def _wire_solutions(
    app: FastAPI, settings: Settings, db: Database, bus: EventBus, clock: Clock, background: Background
) -> None:
    """The city solutions, each evaluated periodically by the one process that leads it."""
    urbis_terms = app.state.contexts.resolve(URBIS_CONTEXT_URL).expand
    pricing = PricingSetup(
        rules=PricingRules(
            step_up=Decimal(str(settings.parking_price_step)),
            step_down=Decimal(str(settings.parking_price_step)),
            big_step_down=Decimal(str(settings.parking_price_big_step)),
            minimum_price=Decimal(str(settings.parking_price_min)),
            maximum_price=Decimal(str(settings.parking_price_max)),
            currency=settings.parking_currency,
            adjustment_period=timedelta(days=settings.parking_price_period_days),
        ),
        base_price=Decimal(str(settings.parking_base_price)),
        tz=ZoneInfo(settings.city_timezone),
        needs_approval=settings.parking_price_approval,
    )
    app.state.parking = ParkingService(
        app.state.context, urbis_terms, clock=clock, db=db, temporal=app.state.temporal, pricing=pricing
    )
    app.state.lighting = LightingService(
        app.state.context,
        urbis_terms,
        app.state.operations,
        clock=clock,
        temporal=app.state.temporal,
        timezone=settings.city_timezone,
        tariff_per_kwh=Decimal(str(settings.lighting_tariff_per_kwh)),
        currency=settings.lighting_currency,
        grid_kg_co2_per_kwh=settings.lighting_grid_kg_co2_per_kwh,
        db=db,
        devices=app.state.devices,
        commands=app.state.commands,
    )
    app.state.air_quality = AirQualityService(
        app.state.context,
        urbis_terms,
        app.state.temporal,
        app.state.operations,
        clock=clock,
        timezone=settings.city_timezone,
        alert_rule=ThresholdRule(settings.air_quality_alert_aqi, settings.air_quality_alert_hysteresis),
    )
    app.state.solution_runners = [
        SolutionRunner(
            name,
            service.evaluate,
            db=db,
            bus=bus,
            watched_types=service.watched_types,
            interval=settings.solutions_interval_seconds,
            min_gap=settings.solutions_min_gap_seconds,
            clock=clock,
        )
        for name, service in (
            ("lighting", app.state.lighting),
            ("parking", app.state.parking),
            ("air-quality", app.state.air_quality),
        )
    ]
    if settings.solutions_enabled:
        for runner in app.state.solution_runners:
            background.append((runner.start, runner.stop))


def _wire_history(app: FastAPI, settings: Settings, db: Database, clock: Clock, background: Background) -> None:
    """The temporal API over history, and the roll-up/retention job."""
    # Instances (or aggregation periods) per attribute in one temporal answer; beyond it 206 + Content-Range.
    app.state.temporal = TemporalService(db, app.state.context, instance_limit=settings.temporal_instance_limit)
    app.state.history_maintenance = HistoryMaintenance(
        db,
        retention_days=settings.history_retention_days,
        interval_seconds=settings.rollup_interval_seconds,
        clock=clock,
        on_partitions_dropped=app.state.context.history.forget,
    )
    if settings.history_enabled:
        background.append((app.state.history_maintenance.start, app.state.history_maintenance.stop))


def _wire_ingestion(
    app: FastAPI, settings: Settings, db: Database, bus: EventBus, clock: Clock, background: Background
) -> None:
    """Devices, their measures (stored through the context service), dead letters and commands."""
    metrics = IngestMetrics(app.state.metrics.registry)  # exposed at /metrics with the HTTP metrics
    directory = DeviceDirectory(db)
    app.state.devices = DeviceService(db, clock=clock, directory=directory)
    app.state.deadletters = DeadLetterService(
        db, clock=clock, retention_days=settings.deadletter_retention_days, metrics=metrics
    )
    app.state.ingestion = IngestionService(
        directory,
        app.state.context,  # the ReadingSink: ContextService.record
        app.state.deadletters,
        clock=clock,
        metrics=metrics,
        future_tolerance_seconds=settings.ingest_future_tolerance_seconds,
        max_measures=settings.ingest_max_measures,
    )
    app.state.commands = CommandService(db, bus, clock=clock, deadletters=app.state.deadletters)
    housekeeping = PeriodicJob(
        "device-housekeeping",
        60.0,
        lambda: (app.state.deadletters.purge_expired(), app.state.commands.expire()),
    )
    background.append((housekeeping.start, housekeeping.stop))
    # Old commands go hourly: the delete scans the table, and a day's worth is small.
    command_purge = PeriodicJob("command-purge", 3600.0, app.state.commands.purge)
    background.append((command_purge.start, command_purge.stop))


def _wire_subscriptions(
    app: FastAPI, settings: Settings, db: Database, bus: EventBus, clock: Clock, background: Background
) -> None:
    """NGSI-LD subscriptions and the live event stream, both fed by EntityChanged."""
    app.state.subscriptions = SubscriptionService(db, app.state.context, app.state.contexts, settings, clock=clock)
    app.state.live_events = LiveEvents()
    bus.subscribe(EntityChanged, app.state.subscriptions.on_entity_changed)
    bus.subscribe(EntityChanged, app.state.live_events.on_entity_changed)
    background.append((app.state.subscriptions.start, app.state.subscriptions.stop))
    app.state.metrics.registry.register(NotificationMetrics(app.state.subscriptions, app.state.live_events))


def _wire_mqtt(
    app: FastAPI,
    settings: Settings,
    db: Database,
    bus: EventBus,
    background: Background,
) -> None:
    """Run the MQTT sessions (when a broker is set), each in the one process that holds its lead.

    With several sessions they share the device topics through an MQTT 5 shared
    subscription, so the processes split the load; a survivor takes over the
    session of a process that died (and with it the messages queued for it).
    """
    if not settings.mqtt_url:
        app.state.mqtt = []
        return
    sessions = settings.mqtt_sessions or settings.workers
    share = SlotShare()
    bridges = []
    for slot in range(sessions):
        client_id = settings.mqtt_client_id if sessions == 1 else f"{settings.mqtt_client_id}-{slot}"
        bridge = MqttBridge(
            settings.mqtt_url,
            app.state.ingestion,
            client_id=client_id,
            prefix=settings.mqtt_topic_prefix,
            commands=app.state.commands,
            batch_max=settings.mqtt_batch_max,
            share_group=settings.mqtt_client_id if sessions > 1 else None,
            publishes_commands=slot == 0,
        )
        if slot == 0:
            bus.subscribe(DeviceCommand, bridge.send_command)
        # One process per MQTT session: the lock is named after the session's client id.
        runner = LeaderRunner(db, f"mqtt-ingest-{client_id}", bridge.start, bridge.stop, share=share)
        background.append((runner.start, runner.stop))
        bridges.append(bridge)
    app.state.mqtt = bridges


def create_app_from_environment() -> FastAPI:
    """The app for settings read from the environment (used by multi-process serving)."""
    return create_app(Settings(), server=True)
