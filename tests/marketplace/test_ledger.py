"""The marketplace's hash-chained log on both databases: appends link up, and any tampering is pinpointed."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from urbis.cli import app as cli
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.marketplace import ledger
from urbis.marketplace.ledger import GENESIS, LedgerService, entry_hash

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def fill(service: LedgerService, tenant: str, count: int) -> None:
    for number in range(count):
        service.record(
            tenant,
            actor=f"uni-{number % 2}",
            action="data.read",
            target="dataset:air-quality-hourly",
            detail={"rows": number, "purpose": "research", "at": T0},
        )


def test_entries_link_to_their_predecessor_and_verify(database: Database, tenant: str) -> None:
    service = LedgerService(database, clock=FixedClock(T0))
    fill(service, tenant, 5)
    chain = service.entries(tenant)
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    # The first hash, worked out from its fields as documented.
    first = chain[0]
    assert first.hash == entry_hash(
        tenant, 1, T0, "uni-0", "data.read", "dataset:air-quality-hourly", first.detail_text, GENESIS
    )
    (verdict,) = service.verify(tenant)
    assert verdict.intact and verdict.checked == 5
    assert service.verify("nobody-here") == [ledger.Verdict("nobody-here", 0)]


def test_a_changed_entry_is_pinpointed(database: Database, tenant: str) -> None:
    service = LedgerService(database, clock=FixedClock(T0))
    fill(service, tenant, 6)
    with database.write() as conn:
        conn.execute(
            update(ledger.ledger)
            .where(ledger.ledger.c.tenant == tenant, ledger.ledger.c.seq == 4)
            .values(detail='{"purpose":"commercial","rows":3}')
        )
    (verdict,) = service.verify(tenant)
    assert (verdict.broken_at, verdict.checked) == (4, 3)
    assert "changed" in (verdict.problem or "")


def test_a_removed_entry_and_a_rewritten_tail_are_found(database: Database, tenant: str) -> None:
    service = LedgerService(database, clock=FixedClock(T0))
    fill(service, tenant, 6)
    with database.write() as conn:
        conn.execute(delete(ledger.ledger).where(ledger.ledger.c.tenant == tenant, ledger.ledger.c.seq == 3))
    (verdict,) = service.verify(tenant)
    assert verdict.broken_at == 3 and "missing" in (verdict.problem or "")
    # Renumbering the rest to hide the gap breaks the link of the moved entry instead.
    with database.write() as conn:
        for seq in (4, 5, 6):
            conn.execute(
                update(ledger.ledger)
                .where(ledger.ledger.c.tenant == tenant, ledger.ledger.c.seq == seq)
                .values(seq=seq - 1)
            )
    (verdict,) = service.verify(tenant)
    assert verdict.broken_at == 3 and "link" in (verdict.problem or "")


def test_times_in_any_zone_hash_as_the_same_instant(database: Database, tenant: str) -> None:
    berlin = timezone(timedelta(hours=1))
    service = LedgerService(database, clock=FixedClock(T0.astimezone(berlin)))
    fill(service, tenant, 2)
    assert service.verify(tenant)[0].intact


def test_concurrent_appends_make_one_unbroken_chain(database: Database, tenant: str) -> None:
    service = LedgerService(database, clock=FixedClock(T0))
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            fill(service, tenant, 10)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    (verdict,) = service.verify(tenant)
    assert verdict.intact and verdict.checked == 40


def test_the_cli_verifies_and_names_the_tampered_entry(
    db_url: str, tenant: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URBIS_DATABASE_URL", db_url)
    service = LedgerService(database, clock=FixedClock(T0))
    fill(service, tenant, 3)
    runner = CliRunner()
    ok = runner.invoke(cli, ["ledger", "verify", "--tenant", tenant])
    assert ok.exit_code == 0 and f"{tenant}: intact, 3 entries" in ok.output
    shown = runner.invoke(cli, ["ledger", "show", "--tenant", tenant, "--limit", "2"])
    assert shown.exit_code == 0 and len(shown.output.strip().splitlines()) == 2
    with database.write() as conn:
        conn.execute(
            update(ledger.ledger)
            .where(ledger.ledger.c.tenant == tenant, ledger.ledger.c.seq == 2)
            .values(actor="someone-else")
        )
    broken = runner.invoke(cli, ["ledger", "verify", "--tenant", tenant])
    assert broken.exit_code == 1
    assert f"{tenant}: BROKEN at entry 2" in broken.output
