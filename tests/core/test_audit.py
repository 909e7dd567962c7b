"""The audit trail on SQLite and PostgreSQL: recording, reading with filters and pages, the reading service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.core.audit import AuditFilter, AuditService, read, record
from urbis.core.db import Database
from urbis.core.errors import BadRequestData

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

#: (minutes after T0, actor, action, target): one entry each, written oldest first.
TRAIL = [
    (0, "anna", "alarm.acknowledge", "a1"),
    (1, "anna", "alarm.assign", "a1"),
    (2, "bob", "workorder.close", "w1"),
    (3, "bob", "alarm.close", "a1"),
    (4, "carl", "lighting.override.create", "o1"),
    (5, "dora", "alarmist.watch", "a1"),  # shares the letters of "alarm" but not the "alarm." prefix
]


def write_trail(database: Database, tenant: str) -> None:
    with database.write() as conn:
        for minutes, actor, action, target in TRAIL:
            at = T0 + timedelta(minutes=minutes)
            record(conn, tenant, actor=actor, action=action, target=target, at=at, detail={"n": minutes})


def actions(database: Database, tenant: str, wanted: AuditFilter) -> tuple[list[str], int]:
    with database.read() as conn:
        entries, total = read(conn, tenant, wanted)
    return [entry.action for entry in entries], total


def test_an_entry_reads_back_as_it_was_written(database: Database, tenant: str) -> None:
    detail = {"before": None, "after": "crew 3", "note": "Grüße, 100 %"}
    with database.write() as conn:
        written = record(conn, tenant, actor="ops-anna", action="alarm.assign", target="a1", at=T0, detail=detail)
    with database.read() as conn:
        (entry,), total = read(conn, tenant, AuditFilter())
    assert total == 1 and entry == written
    assert (entry.tenant, entry.actor, entry.action, entry.target) == (tenant, "ops-anna", "alarm.assign", "a1")
    assert entry.at == T0 and entry.at.tzinfo is not None
    assert entry.detail == {"before": None, "after": "crew 3", "note": "Grüße, 100 %"}
    assert entry.to_json() == {
        "id": entry.id,
        "at": T0,
        "actor": "ops-anna",
        "action": "alarm.assign",
        "target": "a1",
        "detail": detail,
    }


def test_an_entry_goes_with_its_transaction(database: Database, tenant: str) -> None:
    with pytest.raises(RuntimeError), database.write() as conn:
        record(conn, tenant, actor="anna", action="alarm.close", target="a1", at=T0)
        raise RuntimeError("the change itself failed")
    assert actions(database, tenant, AuditFilter()) == ([], 0)


def test_newest_first_and_filters_by_actor_action_target_and_time(database: Database, tenant: str) -> None:
    write_trail(database, tenant)
    every = [
        "alarmist.watch",
        "lighting.override.create",
        "alarm.close",
        "workorder.close",
        "alarm.assign",
        "alarm.acknowledge",
    ]
    assert actions(database, tenant, AuditFilter()) == (every, 6)
    assert actions(database, tenant, AuditFilter(actor="bob")) == (["alarm.close", "workorder.close"], 2)
    assert actions(database, tenant, AuditFilter(action="alarm.close")) == (["alarm.close"], 1)
    # A prefix ends in "."; without the dot the name must match exactly.
    assert actions(database, tenant, AuditFilter(action="alarm.")) == (
        ["alarm.close", "alarm.assign", "alarm.acknowledge"],
        3,
    )
    assert actions(database, tenant, AuditFilter(action="alarm")) == ([], 0)
    assert actions(database, tenant, AuditFilter(action="%.")) == ([], 0)  # LIKE wildcards are plain characters
    assert actions(database, tenant, AuditFilter(action="lighting.")) == (["lighting.override.create"], 1)
    assert actions(database, tenant, AuditFilter(target="a1"))[1] == 4
    assert actions(database, tenant, AuditFilter(target="a1", action="alarm.", actor="anna")) == (
        ["alarm.assign", "alarm.acknowledge"],
        2,
    )
    # since counts from its instant on, until stops before its own: 18:01 and 18:02 here.
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert actions(database, tenant, window) == (["workorder.close", "alarm.assign"], 2)


def test_pages_count_the_whole_selection(database: Database, tenant: str) -> None:
    write_trail(database, tenant)
    assert actions(database, tenant, AuditFilter(limit=2, offset=1)) == (
        ["lighting.override.create", "alarm.close"],
        6,
    )
    assert actions(database, tenant, AuditFilter(action="alarm.", limit=2, offset=2)) == (["alarm.acknowledge"], 3)
    assert actions(database, tenant, AuditFilter(limit=5, offset=6)) == ([], 6)


def test_tenants_never_read_each_other(database: Database, tenant: str) -> None:
    write_trail(database, tenant)
    assert actions(database, f"{tenant}-other", AuditFilter()) == ([], 0)


def test_the_service_reads_a_tenant_and_refuses_nonsense_windows_and_pages(database: Database, tenant: str) -> None:
    write_trail(database, tenant)
    service = AuditService(database)
    entries, total = service.entries(tenant, AuditFilter(actor="carl"))
    assert total == 1 and [(e.target, e.at, e.detail) for e in entries] == [("o1", T0 + timedelta(minutes=4), {"n": 4})]
    with pytest.raises(BadRequestData, match="until"):
        service.entries(tenant, AuditFilter(since=T0, until=T0))
    with pytest.raises(BadRequestData, match="limit"):
        service.entries(tenant, AuditFilter(limit=0))
    with pytest.raises(BadRequestData, match="offset"):
        service.entries(tenant, AuditFilter(offset=-1))
