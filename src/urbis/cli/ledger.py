"""``urbis ledger ...``: read and verify the marketplace's tamper-evident log from the command line."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from urbis.core.db import Database
from urbis.core.settings import Settings
from urbis.marketplace.ledger import LedgerService

ledger_app = typer.Typer(help="The marketplace's hash-chained log of accesses and agreements.", no_args_is_help=True)

TenantOption = Annotated[str | None, typer.Option("--tenant", "-t", help="One city's chain (default: every chain).")]


@ledger_app.command("verify")
def verify_command(tenant: TenantOption = None) -> None:
    """Walk each chain from its first entry; exit 1 naming the first entry that was changed, removed or moved."""
    settings = Settings()
    db = Database(settings.effective_database_url)
    try:
        verdicts = LedgerService(db).verify(tenant)
    finally:
        db.dispose()
    if not verdicts:
        typer.echo("no chain to verify" if tenant is None else f"{tenant}: no entries")
        return
    broken = False
    for verdict in verdicts:
        if verdict.intact:
            typer.echo(f"{verdict.tenant}: intact, {verdict.checked} entries")
        else:
            broken = True
            typer.echo(
                f"{verdict.tenant}: BROKEN at entry {verdict.broken_at}: {verdict.problem} "
                f"({verdict.checked} entries before it are intact)",
                err=True,
            )
    if broken:
        raise typer.Exit(1)


@ledger_app.command("show")
def show_command(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The city whose chain to show.")],
    after: Annotated[int, typer.Option(min=0, help="Show entries after this number.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many entries.")] = 50,
) -> None:
    """Print entries of a city's chain as JSON lines, oldest first."""
    settings = Settings()
    db = Database(settings.effective_database_url)
    try:
        for entry in LedgerService(db).entries(tenant, after=after, limit=limit):
            typer.echo(orjson.dumps(entry.to_json()).decode())
    finally:
        db.dispose()
