"""``urbis user ...`` and ``urbis token ...`` against a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine
from typer.testing import CliRunner

from urbis.cli.users import account_service_from_settings, token_app, user_app
from urbis.core.auth import tables
from urbis.core.auth.service import AccountService
from urbis.core.auth.tokens import decode_token
from urbis.core.db import metadata
from urbis.core.settings import Settings

SECRET = "cli-test-secret-0123456789-abcdefghijk"
PASSWORD = "correct horse battery"
AUTH_TABLES = [
    tables.users,
    tables.memberships,
    tables.organisations,
    tables.organisation_members,
    tables.clients,
    tables.client_roles,
]

cli = typer.Typer()
cli.add_typer(user_app, name="user")
cli.add_typer(token_app, name="token")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A migrated SQLite file, named to the CLI through URBIS_* variables as an operator would."""
    url = f"sqlite:///{tmp_path / 'urbis.db'}"
    engine = create_engine(url)
    metadata.create_all(engine, tables=AUTH_TABLES)
    engine.dispose()
    monkeypatch.chdir(tmp_path)  # no stray urbis.toml
    monkeypatch.setenv("URBIS_DATABASE_URL", url)
    monkeypatch.setenv("URBIS_SECRET_KEY", SECRET)
    monkeypatch.setenv("URBIS_ENVIRONMENT", "test")
    return Settings()


@pytest.fixture
def accounts(settings: Settings) -> Iterator[AccountService]:
    """The same database, seen through the service, to check what the CLI did."""
    service = account_service_from_settings(settings)
    yield service
    service.database.dispose()


def run(*args: str, input: str | None = None) -> str:
    """Run the CLI, expect success, return standard output."""
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fail(*args: str, input: str | None = None, code: int = 1) -> str:
    """Run the CLI, expect failure with ``code``, return everything printed."""
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_service_from_settings(settings: Settings, accounts: AccountService) -> None:
    assert accounts.database.url == settings.database_url
    assert accounts.settings is settings


def test_create_list_and_issue(accounts: AccountService, settings: Settings) -> None:
    out = run("user", "create", "ann", "--tenant", "city", "--role", "operator", "-r", "viewer", "--password", PASSWORD)
    assert "created user ann" in out
    assert accounts.get_user("ann").roles == {"city": {"operator", "viewer"}}
    assert run("user", "list", "--tenant", "city").splitlines() == ["ann\toperator,viewer\t"]
    token = run("token", "issue", "--username", "ann", "--password", PASSWORD).strip()
    actor = decode_token(token, settings)
    assert (actor.subject, actor.tenant, actor.roles) == ("ann", "city", frozenset({"operator", "viewer"}))


def test_password_from_stdin_and_prompt(accounts: AccountService) -> None:
    run("user", "create", "bob", "--tenant", "city", "--role", "viewer", "--password-stdin", input=PASSWORD + "\n")
    assert accounts.authenticate_password("bob", PASSWORD).subject == "bob"
    run("user", "create", "cat", "--tenant", "city", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert accounts.authenticate_password("cat", PASSWORD).subject == "cat"
    fail("user", "create", "dan", "--tenant", "city", "--role", "viewer", "--password", "x", "--password-stdin", code=2)


def test_grant_revoke_passwd_delete(accounts: AccountService) -> None:
    run("user", "create", "eve", "--tenant", "city", "--role", "viewer", "--password", PASSWORD)
    assert "granted operator" in run("user", "grant", "eve", "--tenant", "city", "--role", "operator")
    assert "already has" in run("user", "grant", "eve", "--tenant", "city", "--role", "operator")
    assert "revoked viewer" in run("user", "revoke", "eve", "--tenant", "city", "--role", "viewer")
    assert "did not have" in run("user", "revoke", "eve", "--tenant", "city", "--role", "viewer")
    assert accounts.get_user("eve").roles == {"city": {"operator"}}
    run("user", "passwd", "eve", "--password-stdin", input="another password\n")
    assert accounts.authenticate_password("eve", "another password").subject == "eve"
    # Without --yes, a "no" keeps the user.
    fail("user", "delete", "eve", input="n\n")
    accounts.get_user("eve")
    run("user", "delete", "eve", "--yes")
    assert accounts.list_users("city") == []


def test_errors_are_messages_not_tracebacks(accounts: AccountService) -> None:
    run("user", "create", "fay", "--tenant", "city", "--role", "viewer", "--password", PASSWORD)
    assert "already exists" in fail(
        "user", "create", "fay", "--tenant", "city", "--role", "viewer", "--password", PASSWORD
    )
    assert "unknown role" in fail("user", "grant", "fay", "--tenant", "city", "--role", "root")
    assert "not found" in fail("user", "delete", "nobody", "--yes")
    assert "invalid username or password" in fail("token", "issue", "--username", "fay", "--password", "wrong-password")


def test_client_create_prints_the_secret_once(accounts: AccountService, settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["token", "client-create", "gateway-1", "--tenant", "city", "--role", "device"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    actor = accounts.authenticate_client("gateway-1", secret)
    assert (actor.subject, actor.tenant, actor.roles, actor.kind) == (
        "gateway-1",
        "city",
        frozenset({"device"}),
        "client",
    )
