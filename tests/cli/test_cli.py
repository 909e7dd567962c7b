"""The ``urbis`` command: migrate, settings help, every command's help, and the demo city seeding."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

import urbis.cli
from conftest import POSTGRES_ADMIN_URL, _postgres_available, make_settings, need_service
from urbis.app import create_app, load_tables
from urbis.cli import app
from urbis.cli.demo import DEMO_ACCOUNTS, seed_demo
from urbis.core.db import (
    Database,
    alembic_config,
    metadata,
    migrate,
    throwaway_postgres_database,
)
from urbis.core.settings import Settings

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
TOP_LEVEL_COMMANDS = {
    "serve",
    "demo",
    "migrate",
    "user",
    "token",
    "bench",
    "docs",
    "devices",
    "simulate",
    "aqi",
    "ledger",
}
DEMO_TYPES = ("AdministrativeArea", "Streetlight", "AirQualityObserved", "ParkingSpot", "OffStreetParking")


@pytest.fixture(autouse=True)
def _clean(clean_environment: None) -> None:
    """Every test here starts from a clean environment."""


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args), prog_name="urbis")
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _tables_and_revision(url: str) -> tuple[set[str], str | None]:
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            return tables, MigrationContext.configure(connection).get_current_revision()
    finally:
        db.dispose()


def _assert_migrated(path: Path) -> None:
    assert path.is_file(), f"{path} was not created"
    url = f"sqlite:///{path}"
    tables, revision = _tables_and_revision(url)
    load_tables()
    assert set(metadata.tables) <= tables
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


# --- migrate --------------------------------------------------------------------------------------------


def test_migrate_creates_the_database_in_data_dir_option(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    result = invoke("migrate", "--data-dir", str(tmp_path / "state"))
    assert "database is up to date" in result.output
    _assert_migrated(tmp_path / "state" / "urbis.db")
    assert not (tmp_path / "var").exists()


def test_migrate_reads_urbis_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "from-env").mkdir()
    monkeypatch.setenv("URBIS_DATA_DIR", str(tmp_path / "from-env"))
    invoke("migrate")
    _assert_migrated(tmp_path / "from-env" / "urbis.db")


def test_migrate_reads_urbis_toml(tmp_path: Path) -> None:
    (tmp_path / "from-toml").mkdir()
    (tmp_path / "urbis.toml").write_text('data_dir = "from-toml"\n')
    invoke("migrate")
    _assert_migrated(tmp_path / "from-toml" / "urbis.db")


def test_migrate_creates_a_missing_data_dir(tmp_path: Path) -> None:
    invoke("migrate")  # default data_dir ./var, which does not exist yet
    _assert_migrated(tmp_path / "var" / "urbis.db")


def test_migrate_twice_is_fine(tmp_path: Path) -> None:
    invoke("migrate", "--data-dir", str(tmp_path))
    invoke("migrate", "--data-dir", str(tmp_path))
    _assert_migrated(tmp_path / "urbis.db")


def test_migrate_refuses_a_bad_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("URBIS_ENVIRONMENT", "production")  # with the placeholder secret
    result = CliRunner().invoke(app, ["migrate", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert not (tmp_path / "urbis.db").exists()


# --- help -----------------------------------------------------------------------------------------------


def _terminal_width(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    # The command's rich console fixes its width when created (from COLUMNS, which xdist sets to 80).
    monkeypatch.setattr(urbis.cli, "console", Console(width=width))


def test_help_settings_lists_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    _terminal_width(monkeypatch, 300)
    output = invoke("serve", "--help-settings").output
    for name, field in Settings.model_fields.items():
        assert f"URBIS_{name.upper()}" in output
        assert field.description is not None
        assert field.description in output, f"description of {name} missing"


def test_help_settings_keeps_variable_names_whole_in_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    _terminal_width(monkeypatch, 80)
    output = invoke("serve", "--help-settings").output
    missing = [f"URBIS_{name.upper()}" for name in Settings.model_fields if f"URBIS_{name.upper()}" not in output]
    assert missing == []


def test_top_level_help_lists_the_commands() -> None:
    output = invoke("--help").output
    for command in TOP_LEVEL_COMMANDS:
        assert command in output


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():  # a group (typer bundles its own click)
        yield from _command_paths(sub, (*path, name))


def test_every_command_has_working_help() -> None:
    root = typer.main.get_command(app)
    paths = list(_command_paths(root))
    assert {path[0] for path in paths if len(path) == 1} == TOP_LEVEL_COMMANDS
    assert ("bench", "broker") in paths and ("docs", "settings") in paths
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"], prog_name="urbis")
        assert result.exit_code == 0, (path, result.output, result.exception)
        assert "Usage: urbis" in result.output, path


# --- the demo city --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def own_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own, on each backend.

    The demo accounts have fixed, platform-wide usernames (``admin``...), so seeding tests
    cannot share a database the way tenant-scoped tests do.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.db'}"
        migrate(url)
        yield url
        return
    need_service(_postgres_available())
    with throwaway_postgres_database(POSTGRES_ADMIN_URL, "urbis_demo") as url:
        migrate(url)
        yield url


@pytest.fixture
def demo_settings(own_db_url: str, tenant: str, tmp_path: Path) -> Settings:
    return make_settings(own_db_url, tenant, data_dir=tmp_path / "data", ngsild_open=False)


def _ids_by_type(client: TestClient, headers: dict[str, str]) -> dict[str, list[str]]:
    found = {}
    for type_name in DEMO_TYPES:
        response = client.get(
            "/ngsi-ld/v1/entities",
            params={"type": type_name, "limit": "1000", "count": "true"},
            headers={"Link": LINK, **headers},
        )
        assert response.status_code == 200, response.text
        entities = response.json()
        assert int(response.headers["NGSILD-Results-Count"]) == len(entities)
        assert all(entity["type"] == type_name for entity in entities)
        found[type_name] = [entity["id"] for entity in entities]
    return found


def _token(client: TestClient, username: str, password: str, tenant: str) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"grant_type": "password", "username": username, "password": password, "tenant": tenant}
    )
    assert response.status_code == 200, (username, response.text)
    body: dict[str, str] = response.json()
    return body


def _admin_headers(client: TestClient, passwords: dict[str, str], tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(client, 'admin', passwords['admin'], tenant)['access_token']}"}


def test_seed_demo_makes_the_accounts_and_leaves_the_city_to_the_simulator(demo_settings: Settings) -> None:
    # The demo city arrives through the public device and NGSI-LD interfaces (tests/sim cover it);
    # seeding only prepares the accounts the simulator logs in with.
    passwords = seed_demo(demo_settings)
    with TestClient(create_app(demo_settings)) as client:
        ids = _ids_by_type(client, _admin_headers(client, passwords, demo_settings.default_tenant))
    assert ids == {type_name: [] for type_name in DEMO_TYPES}
    assert set(passwords) == set(DEMO_ACCOUNTS)


def test_seed_demo_accounts_get_tokens(demo_settings: Settings) -> None:
    passwords = seed_demo(demo_settings)
    assert set(passwords) == set(DEMO_ACCOUNTS) == {"admin", "operator", "mayor", "citizen", "neighbour"}
    with TestClient(create_app(demo_settings)) as client:
        for username, roles in DEMO_ACCOUNTS.items():
            body = _token(client, username, passwords[username], demo_settings.default_tenant)
            assert body["token_type"] == "Bearer"
            assert body["tenant"] == demo_settings.default_tenant
            assert body["scope"].split() == sorted(roles)
            wrong = client.post(
                "/auth/token", data={"grant_type": "password", "username": username, "password": "wrong-password"}
            )
            assert wrong.status_code == 400


def test_seed_demo_passwords_are_kept_in_the_data_dir(demo_settings: Settings) -> None:
    passwords = seed_demo(demo_settings)
    path = demo_settings.data_dir / "demo-accounts.json"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(set(passwords.values())) == len(passwords)
    assert all(len(password) >= 12 for password in passwords.values())


def test_seed_demo_again_is_idempotent_with_stable_passwords(demo_settings: Settings) -> None:
    first = seed_demo(demo_settings)
    with TestClient(create_app(demo_settings)) as client:
        before = _ids_by_type(client, _admin_headers(client, first, demo_settings.default_tenant))
    # A second run, as a fresh process would: settings built anew, same data folder.
    again = make_settings(
        demo_settings.effective_database_url,
        demo_settings.default_tenant,
        data_dir=demo_settings.data_dir,
        ngsild_open=False,
    )
    second = seed_demo(again)
    assert second == first
    with TestClient(create_app(again)) as client:
        after = _ids_by_type(client, _admin_headers(client, second, again.default_tenant))
        for username in DEMO_ACCOUNTS:
            _token(client, username, first[username], again.default_tenant)
        users = client.app.state.accounts.list_users(again.default_tenant)  # type: ignore[attr-defined]
    assert {name: sorted(ids) for name, ids in after.items()} == {name: sorted(ids) for name, ids in before.items()}
    assert sorted(user.username for user in users) == sorted(DEMO_ACCOUNTS)


def test_seed_demo_into_another_tenant_gives_the_accounts_roles_there(demo_settings: Settings) -> None:
    seed_demo(demo_settings)
    other = demo_settings.model_copy(update={"default_tenant": f"{demo_settings.default_tenant}x"})
    passwords = seed_demo(other)
    with TestClient(create_app(other)) as client:
        body = _token(client, "admin", passwords["admin"], other.default_tenant)
    assert body["tenant"] == other.default_tenant


def test_seed_demo_adds_new_demo_accounts_and_keeps_the_old_passwords(demo_settings: Settings) -> None:
    path = demo_settings.data_dir / "demo-accounts.json"
    demo_settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text('{"admin": "admin-from-an-older-demo", "citizen": "citizen-from-an-older-demo"}')
    passwords = seed_demo(demo_settings)
    assert passwords["admin"] == "admin-from-an-older-demo"
    assert set(passwords) == set(DEMO_ACCOUNTS)
    assert json.loads(path.read_text()) == passwords
