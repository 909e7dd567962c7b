"""Tables of street lighting: control programs, calendars, group calendars, overrides, commands.

Which group runs which calendar, the operators' overrides, and the last level commanded to
each lamp with its feedback.

Programs and calendars are kept as their JSON documents (see :mod:`.documents`): they are
read whole, edited whole, and a new field of the document needs no migration.

Every function takes the caller's open connection, so the service writes a change and its
audit-trail entry (:mod:`urbis.core.audit`) in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Connection, Float, Index, String, Table, Text, bindparam, delete, insert, select, update

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata


def _document_table(name: str, key: str) -> Table:
    """A table of JSON documents by tenant and id, with who changed each last and when."""
    return Table(
        name,
        metadata,
        Column("tenant", String(64), primary_key=True),
        Column(key, String(64), primary_key=True),
        Column("document", Text, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        Column("updated_by", String(256), nullable=False),
    )


lighting_programs = _document_table("lighting_programs", "program_id")
lighting_calendars = _document_table("lighting_calendars", "calendar_id")

lighting_group_calendars = Table(
    "lighting_group_calendars",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("group_id", String(512), primary_key=True),
    Column("calendar_id", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(256), nullable=False),
)

lighting_overrides = Table(
    "lighting_overrides",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("override_id", String(32), primary_key=True),
    Column("targets", Text, nullable=False),  # JSON array of lamp ids, group ids, "district:<name>"
    Column("level", Float, nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("note", Text, nullable=False),
    Column("withdrawn_at", UTCDateTime(), nullable=True),
    Column("withdrawn_by", String(256), nullable=True),
    Index("ix_lighting_overrides_tenant_expires", "tenant", "expires_at"),
)

lighting_commands = Table(
    "lighting_commands",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("lamp_id", String(512), primary_key=True),
    Column("device_id", String(128), nullable=True),  # None: the lamp has no controller to command
    Column("command_id", String(32), nullable=True),
    Column("level", Float, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("commanded_at", UTCDateTime(), nullable=False),
    Column("feedback", String(16), nullable=False),
    Column("feedback_detail", Text, nullable=False),
    Column("mismatch_since", UTCDateTime(), nullable=True),
)


# -- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredDocument:
    """A program or calendar document with who changed it last and when."""

    id: str
    document: dict[str, Any]
    updated_at: datetime
    updated_by: str


def stored_form(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as it reads back from its table (JSON types only), to tell a change from a repeat."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(document))
    return loaded


def _documents(conn: Connection, table: Table, key: str, tenant: str) -> list[StoredDocument]:
    rows = conn.execute(select(table).where(table.c.tenant == tenant).order_by(table.c[key])).all()
    return [StoredDocument(row[1], orjson.loads(row.document), row.updated_at, row.updated_by) for row in rows]


def _document(conn: Connection, table: Table, key: str, tenant: str, identifier: str) -> StoredDocument | None:
    row = conn.execute(select(table).where(table.c.tenant == tenant, table.c[key] == identifier)).first()
    return None if row is None else StoredDocument(row[1], orjson.loads(row.document), row.updated_at, row.updated_by)


def _put_document(
    conn: Connection,
    table: Table,
    key: str,
    tenant: str,
    identifier: str,
    document: dict[str, Any],
    at: datetime,
    by: str,
) -> bool:
    """Insert or replace a document; True when it was new."""
    values = {"document": orjson.dumps(document).decode(), "updated_at": at, "updated_by": by}
    changed = conn.execute(
        update(table).where(table.c.tenant == tenant, table.c[key] == identifier).values(**values)
    ).rowcount
    if changed:
        return False
    conn.execute(insert(table), [{"tenant": tenant, key: identifier, **values}])
    return True


def _delete_document(conn: Connection, table: Table, key: str, tenant: str, identifier: str) -> bool:
    result = conn.execute(delete(table).where(table.c.tenant == tenant, table.c[key] == identifier))
    return bool(result.rowcount)


def programs(conn: Connection, tenant: str) -> list[StoredDocument]:
    """Every stored program of a tenant, by id."""
    return _documents(conn, lighting_programs, "program_id", tenant)


def get_program(conn: Connection, tenant: str, program_id: str) -> StoredDocument | None:
    """One stored program; None when there is none."""
    return _document(conn, lighting_programs, "program_id", tenant, program_id)


def put_program(
    conn: Connection, tenant: str, program_id: str, document: dict[str, Any], at: datetime, by: str
) -> bool:
    """Insert or replace a program; True when it was new."""
    return _put_document(conn, lighting_programs, "program_id", tenant, program_id, document, at, by)


def delete_program(conn: Connection, tenant: str, program_id: str) -> bool:
    """Delete a program; False when there was none."""
    return _delete_document(conn, lighting_programs, "program_id", tenant, program_id)


def calendars(conn: Connection, tenant: str) -> list[StoredDocument]:
    """Every stored calendar of a tenant, by id."""
    return _documents(conn, lighting_calendars, "calendar_id", tenant)


def get_calendar(conn: Connection, tenant: str, calendar_id: str) -> StoredDocument | None:
    """One stored calendar; None when there is none."""
    return _document(conn, lighting_calendars, "calendar_id", tenant, calendar_id)


def put_calendar(
    conn: Connection, tenant: str, calendar_id: str, document: dict[str, Any], at: datetime, by: str
) -> bool:
    """Insert or replace a calendar; True when it was new."""
    return _put_document(conn, lighting_calendars, "calendar_id", tenant, calendar_id, document, at, by)


def delete_calendar(conn: Connection, tenant: str, calendar_id: str) -> bool:
    """Delete a calendar; False when there was none."""
    return _delete_document(conn, lighting_calendars, "calendar_id", tenant, calendar_id)


# -- group assignments -----------------------------------------------------------------------


def group_calendars(conn: Connection, tenant: str) -> dict[str, str]:
    """Group id → the calendar it runs (groups not listed run the tenant's default)."""
    rows = conn.execute(
        select(lighting_group_calendars.c.group_id, lighting_group_calendars.c.calendar_id).where(
            lighting_group_calendars.c.tenant == tenant
        )
    ).all()
    return {row.group_id: row.calendar_id for row in rows}


def group_calendar(conn: Connection, tenant: str, group_id: str) -> str | None:
    """The calendar ``group_id`` runs; None when it runs the tenant's default."""
    table = lighting_group_calendars
    found: str | None = conn.execute(
        select(table.c.calendar_id).where(table.c.tenant == tenant, table.c.group_id == group_id)
    ).scalar_one_or_none()
    return found


def assign_calendar(conn: Connection, tenant: str, group_id: str, calendar_id: str, at: datetime, by: str) -> None:
    """Make ``group_id`` run ``calendar_id``."""
    values = {"calendar_id": calendar_id, "updated_at": at, "updated_by": by}
    table = lighting_group_calendars
    changed = conn.execute(
        update(table).where(table.c.tenant == tenant, table.c.group_id == group_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(table), [{"tenant": tenant, "group_id": group_id, **values}])


def unassign_calendar(conn: Connection, tenant: str, group_id: str) -> bool:
    """Put ``group_id`` back on the default calendar; False when it had none of its own."""
    table = lighting_group_calendars
    return bool(conn.execute(delete(table).where(table.c.tenant == tenant, table.c.group_id == group_id)).rowcount)


# -- overrides -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredOverride:
    """An operator's override as stored, with who gave it and whether it was withdrawn."""

    override_id: str
    targets: tuple[str, ...]
    level: float
    starts_at: datetime
    expires_at: datetime
    received_at: datetime
    created_by: str
    note: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None


def _override(row: Any) -> StoredOverride:
    return StoredOverride(
        row.override_id,
        tuple(orjson.loads(row.targets)),
        float(row.level),
        row.starts_at,
        row.expires_at,
        row.received_at,
        row.created_by,
        row.note,
        row.withdrawn_at,
        row.withdrawn_by,
    )


def insert_override(conn: Connection, tenant: str, override: StoredOverride) -> None:
    """Store a new override."""
    conn.execute(
        insert(lighting_overrides),
        [
            {
                "tenant": tenant,
                "override_id": override.override_id,
                "targets": orjson.dumps(sorted(override.targets)).decode(),
                "level": override.level,
                "starts_at": override.starts_at,
                "expires_at": override.expires_at,
                "received_at": override.received_at,
                "created_by": override.created_by,
                "note": override.note,
                "withdrawn_at": None,
                "withdrawn_by": None,
            }
        ],
    )


def get_override(conn: Connection, tenant: str, override_id: str) -> StoredOverride | None:
    """One override."""
    table = lighting_overrides
    row = conn.execute(select(table).where(table.c.tenant == tenant, table.c.override_id == override_id)).first()
    return None if row is None else _override(row)


def overrides(
    conn: Connection,
    tenant: str,
    *,
    expiring_after: datetime | None = None,
    active_at: datetime | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[StoredOverride]:
    """A tenant's overrides, newest first.

    ``expiring_after``: only those whose expiry is later (withdrawn ones included: they held
    until withdrawn); ``active_at``: only those neither withdrawn nor expired then.
    """
    table = lighting_overrides
    where = [table.c.tenant == tenant]
    if expiring_after is not None:
        where.append(table.c.expires_at > expiring_after)
    if active_at is not None:
        where += [table.c.expires_at > active_at, table.c.withdrawn_at.is_(None)]
    rows = conn.execute(
        select(table)
        .where(*where)
        .order_by(table.c.received_at.desc(), table.c.override_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [_override(row) for row in rows]


def withdraw_override(conn: Connection, tenant: str, override_id: str, at: datetime, by: str) -> bool:
    """Mark an override withdrawn (kept for the audit trail); False when it had already ended by ``at``.

    The test is part of the update, so of two operators withdrawing at once only one does.
    """
    table = lighting_overrides
    result = conn.execute(
        update(table)
        .where(
            table.c.tenant == tenant,
            table.c.override_id == override_id,
            table.c.withdrawn_at.is_(None),
            table.c.expires_at > at,
        )
        .values(withdrawn_at=at, withdrawn_by=by)
    )
    return bool(result.rowcount)


# -- commands and feedback --------------------------------------------------------------------


@dataclass(frozen=True)
class LampCommand:
    """The last level commanded to one lamp, and how its controller answered."""

    lamp_id: str
    device_id: str | None
    command_id: str | None
    level: float
    reason: str
    detail: str
    commanded_at: datetime
    feedback: str
    feedback_detail: str
    mismatch_since: datetime | None

    def row(self, tenant: str) -> dict[str, Any]:
        """The command as a table row."""
        return {
            "tenant": tenant,
            "lamp_id": self.lamp_id,
            "device_id": self.device_id,
            "command_id": self.command_id,
            "level": self.level,
            "reason": self.reason,
            "detail": self.detail,
            "commanded_at": self.commanded_at,
            "feedback": self.feedback,
            "feedback_detail": self.feedback_detail,
            "mismatch_since": self.mismatch_since,
        }


def commands(conn: Connection, tenant: str) -> dict[str, LampCommand]:
    """The last command of every lamp of a tenant, by lamp id."""
    rows = conn.execute(select(lighting_commands).where(lighting_commands.c.tenant == tenant)).all()
    return {
        row.lamp_id: LampCommand(
            row.lamp_id,
            row.device_id,
            row.command_id,
            float(row.level),
            row.reason,
            row.detail,
            row.commanded_at,
            row.feedback,
            row.feedback_detail,
            row.mismatch_since,
        )
        for row in rows
    }


def save_commands(
    conn: Connection, tenant: str, changed: Sequence[LampCommand], known: set[str], gone: Sequence[str] = ()
) -> None:
    """Write commands (``known``: lamps that already have a row) and drop those of lamps that are ``gone``."""
    table = lighting_commands
    updates = [command.row(tenant) for command in changed if command.lamp_id in known]
    inserts = [command.row(tenant) for command in changed if command.lamp_id not in known]
    if updates:
        names = [name for name in updates[0] if name not in ("tenant", "lamp_id")]
        conn.execute(
            update(table)
            .where(table.c.tenant == bindparam("b_tenant"), table.c.lamp_id == bindparam("b_lamp_id"))
            .values({name: bindparam(name) for name in names}),
            [{**{n: row[n] for n in names}, "b_tenant": row["tenant"], "b_lamp_id": row["lamp_id"]} for row in updates],
        )
    if inserts:
        conn.execute(insert(table), inserts)
    if gone:
        conn.execute(delete(table).where(table.c.tenant == tenant, table.c.lamp_id.in_(list(gone))))
