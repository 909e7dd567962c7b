"""Shared fixtures: databases on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings

from urbis.app import create_app
from urbis.core.db import Database, create_throwaway_engine, throwaway_postgres_database
from urbis.core.settings import Settings

# In CI the property tests replay the same examples every run, so a landing never hangs on a lucky
# draw; on a developer's machine they explore new examples each time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

POSTGRES_ADMIN_URL = os.environ.get("URBIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("URBIS_REQUIRE_SERVICES") == "1"


def _postgres_available() -> str | None:
    """None when the PostgreSQL server answers, else the reason it does not."""
    try:
        engine = create_throwaway_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc.__class__.__name__}: {exc}"


def need_service(reason: str | None) -> None:
    """Skip (on a laptop) or fail (in CI, URBIS_REQUIRE_SERVICES=1) when a server is missing."""
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test run, dropped at the end."""
    need_service(_postgres_available())
    with throwaway_postgres_database(POSTGRES_ADMIN_URL, "urbis_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database file for this test run."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'urbis.db'}"


def _prepare(url: str) -> None:
    from urbis.core.db import migrate

    migrate(url)


_prepared: set[str] = set()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated database, once per backend: every storage test runs on both."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    if url not in _prepared:
        _prepare(url)
        _prepared.add(url)
    return url


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A :class:`Database` on each backend."""
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def tenant() -> str:
    """A fresh tenant name, so tests sharing a database never see each other's data."""
    return f"t{uuid.uuid4().hex[:10]}"


def make_settings(db_url: str, tenant: str, **overrides: object) -> Settings:
    """Test settings: the given database, a fresh default tenant, NGSI-LD open unless overridden."""
    values: dict[str, object] = {
        "database_url": db_url,
        "default_tenant": tenant,
        "ngsild_open": True,
        "environment": "test",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        # Tests share a database across tenants: a solution evaluating every tenant in the
        # background would write into other tests' entities. Solution tests switch them on.
        "solutions_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def app(db_url: str, tenant: str) -> FastAPI:
    """A full Urbis app on each backend, its default tenant fresh, NGSI-LD open."""
    return create_app(make_settings(db_url, tenant))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client of :func:`app`."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def secured_app(db_url: str, tenant: str) -> FastAPI:
    """A full Urbis app with access control on (tokens required to write)."""
    return create_app(make_settings(db_url, tenant, ngsild_open=False))


@pytest.fixture
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``URBIS_*`` variable from the outside and no stray ``urbis.toml`` (settings and CLI tests)."""
    for name in list(os.environ):
        if name.startswith("URBIS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def backend_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """``URBIS_*`` values naming the database of backend ``request.param`` and a fresh default tenant.

    PostgreSQL comes from the ``postgres_url`` fixture: skipped when absent, failed under
    ``URBIS_REQUIRE_SERVICES=1``.
    """
    values = {"URBIS_DEFAULT_TENANT": f"e2e{uuid.uuid4().hex[:10]}"}
    if request.param == "postgres":
        values["URBIS_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return values


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings (``URBIS_*`` values) for a real server on each backend (end-to-end tests)."""
    return backend_settings(request)


def login_headers(client: TestClient, tenant: str, *roles: str, subject: str = "someone") -> dict[str, str]:
    """Headers of a signed-in user holding ``roles`` in ``tenant`` (a token issued by ``client``'s app)."""
    from urbis.core.auth.tokens import Actor, issue_token

    actor = Actor(subject=subject, tenant=tenant, roles=frozenset(roles), kind="user")
    token, _ = issue_token(actor, client.app.state.settings)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant}
