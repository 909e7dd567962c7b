"""The composition root: ``create_app(settings)`` builds engine, services and routes."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import urbis
from urbis.context.jsonld import ContextResolver
from urbis.context.service import ContextService
from urbis.context.store import SqlContextStore
from urbis.core.auth.service import AccountService
from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.settings import Settings

log = logging.getLogger(__name__)

#: Modules that declare tables on ``urbis.core.db.metadata``.
TABLE_MODULES = (
    "urbis.core.auth.tables",
    "urbis.context.store",
)


def load_tables() -> None:
    """Import every module that declares tables, so ``metadata`` knows the whole schema."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build a complete Urbis web application for ``settings`` (the database must be migrated)."""
    from urbis.web import auth, system
    from urbis.web.errors import install_error_handlers
    from urbis.web.ngsild import batch, contexts, discovery, entities

    settings = settings or Settings()
    db = Database(settings.effective_database_url)
    bus = EventBus()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.ngsild_open:
            log.warning(
                "URBIS_NGSILD_OPEN=1: the NGSI-LD API accepts reads and writes WITHOUT any token. "
                "Use this only on a closed network or for conformance suites."
            )
        yield
        db.dispose()

    app = FastAPI(
        title="Urbis",
        version=urbis.__version__,
        description="Open-source smart-city platform: NGSI-LD context broker and city services.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.contexts = ContextResolver(
        base_url=settings.effective_base_url,
        fetch_timeout=settings.context_fetch_timeout,
        cache_size=settings.context_cache_size,
        store=SqlContextStore(db),
    )
    app.state.context = ContextService(db, bus, default_tenant=settings.default_tenant, clock=clock or SystemClock())
    app.state.accounts = AccountService(db, settings)
    app.state.metrics = system.HttpMetrics()
    app.state.metrics.install(app)
    install_error_handlers(app)
    for module in (entities, batch, discovery, contexts):
        app.include_router(module.router)
    app.include_router(auth.router)
    app.include_router(system.router)
    return app


def create_app_from_environment() -> FastAPI:
    """The app for settings read from the environment (used by multi-process serving)."""
    return create_app(Settings())
