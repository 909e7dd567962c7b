"""``urbis user ...`` and ``urbis token ...``: accounts and access from the command line.

The main CLI mounts :data:`user_app` as ``user`` and :data:`token_app` as
``token``.  Settings are read when a command runs (never at import), from
``URBIS_*`` variables and ``urbis.toml``; the database must already be migrated.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from pydantic import ValidationError

from urbis.core.auth.service import AccountService
from urbis.core.db import Database
from urbis.core.errors import UrbisError
from urbis.core.settings import Settings

user_app = typer.Typer(help="Manage user accounts and their roles per tenant.", no_args_is_help=True)
token_app = typer.Typer(help="Issue access tokens and register OAuth2 clients.", no_args_is_help=True)

TenantOption = Annotated[
    str, typer.Option("--tenant", "-t", help="Tenant (city) the roles apply in; '*' is the platform.")
]
RolesOption = Annotated[
    list[str],
    typer.Option("--role", "-r", help="Role: admin, operator, viewer, citizen, data-consumer or device. Repeatable."),
]
PasswordOption = Annotated[
    str | None, typer.Option("--password", help="The password (visible in shell history; prefer the prompt).")
]
PasswordStdinOption = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def account_service_from_settings(settings: Settings) -> AccountService:
    """An :class:`AccountService` on the database named by ``settings`` (assumed migrated)."""
    return AccountService(Database(settings.effective_database_url), settings)


@contextlib.contextmanager
def _accounts() -> Iterator[AccountService]:
    """The service for one command; service errors become a message and exit status 1."""
    try:
        # Fields come from URBIS_* variables and urbis.toml; mypy needs the pydantic plugin to see that.
        settings = Settings()  # type: ignore[call-arg, unused-ignore]
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    service = account_service_from_settings(settings)
    try:
        yield service
    except UrbisError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        service.database.dispose()


def _read_password(password: str | None, password_stdin: bool, *, confirm: bool = True) -> str:
    if password is not None and password_stdin:
        raise typer.BadParameter("give either --password or --password-stdin, not both")
    if password is not None:
        return password
    if password_stdin:
        # One line, without its line ending, so `echo secret | urbis ...` works.
        return sys.stdin.readline().rstrip("\r\n")
    answer: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return answer


@user_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Login name, unique on the platform.")],
    tenant: TenantOption,
    role: RolesOption,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    full_name: Annotated[str | None, typer.Option("--full-name", help="Display name.")] = None,
    organisation: Annotated[str | None, typer.Option(help="Organisation (in the tenant) to join.")] = None,
) -> None:
    """Create a user with roles in one tenant."""
    secret = _read_password(password, password_stdin)
    with _accounts() as accounts:
        accounts.create_user(
            username,
            secret,
            tenant=tenant,
            roles=role,
            email=email,
            full_name=full_name,
            organisation=organisation,
        )
    typer.echo(f"created user {username} in {tenant} with roles {', '.join(sorted(role))}")


@user_app.command("list")
def list_users(tenant: TenantOption) -> None:
    """List the users of a tenant: username, roles, e-mail (tab-separated)."""
    with _accounts() as accounts:
        users = accounts.list_users(tenant)
    for user in users:
        roles = ",".join(sorted(user.roles.get(tenant, frozenset())))
        typer.echo(f"{user.username}\t{roles}\t{user.email or ''}")


@user_app.command("grant")
def grant(username: str, tenant: TenantOption, role: RolesOption) -> None:
    """Give a user roles in a tenant."""
    with _accounts() as accounts:
        for name in role:
            changed = accounts.grant_role(username, tenant, name)
            typer.echo(f"granted {name} in {tenant} to {username}" if changed else f"{username} already has {name}")


@user_app.command("revoke")
def revoke(username: str, tenant: TenantOption, role: RolesOption) -> None:
    """Take roles in a tenant from a user."""
    with _accounts() as accounts:
        for name in role:
            changed = accounts.revoke_role(username, tenant, name)
            typer.echo(f"revoked {name} in {tenant} from {username}" if changed else f"{username} did not have {name}")


@user_app.command("passwd")
def passwd(username: str, password: PasswordOption = None, password_stdin: PasswordStdinOption = False) -> None:
    """Set a user's password."""
    secret = _read_password(password, password_stdin)
    with _accounts() as accounts:
        accounts.set_password(username, secret)
    typer.echo(f"password of {username} changed")


@user_app.command("delete")
def delete(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with all its roles and memberships."""
    if not yes:
        typer.confirm(f"Delete user {username} and all its roles?", abort=True)
    with _accounts() as accounts:
        accounts.delete_user(username)
    typer.echo(f"deleted user {username}")


@token_app.command("issue")
def issue(
    username: Annotated[str, typer.Option("--username", "-u", help="Login name.")],
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant the token is for.")] = None,
) -> None:
    """Print an access token for a user (only the token, for use in scripts)."""
    secret = _read_password(password, password_stdin, confirm=False)
    with _accounts() as accounts:
        actor = accounts.authenticate_password(username, secret, tenant)
        token, _expires_in = accounts.issue_token(actor)
    typer.echo(token)


@token_app.command("client-create")
def client_create(
    client_id: Annotated[str, typer.Argument(help="Client id, unique on the platform.")],
    tenant: TenantOption,
    role: RolesOption,
    organisation: Annotated[str | None, typer.Option(help="Organisation (in the tenant) owning the client.")] = None,
) -> None:
    """Register an OAuth2 client and print its secret — shown this once only."""
    with _accounts() as accounts:
        secret = accounts.create_client(client_id, tenant=tenant, roles=role, organisation=organisation)
    typer.echo("store this client secret now; it cannot be shown again:", err=True)
    typer.echo(secret)
