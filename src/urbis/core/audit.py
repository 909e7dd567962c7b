"""The audit trail: who did what to which thing, and when, for every action taken by staff.

Services record an entry in the same transaction as the change itself (``record`` takes the
open connection), so an action is never done without its trace, nor traced without being done.
Entries are never changed or deleted by Urbis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Connection, Index, String, Table, Text, func, insert, select

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import Database, metadata
from urbis.core.errors import BadRequestData

audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entry_id", String(32), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_audit_log_tenant_at", "tenant", "at"),
    Index("ix_audit_log_tenant_target", "tenant", "target"),
)


@dataclass(frozen=True)
class AuditEntry:
    """One action: ``actor`` did ``action`` (``"alarm.acknowledge"``) to ``target`` at ``at``."""

    id: str
    tenant: str
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The entry as the API shows it."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read; ``None`` fields do not filter."""

    actor: str | None = None
    action: str | None = None  # an exact action, or a prefix ending in "." ("alarm.")
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


def record(
    conn: Connection,
    tenant: str,
    *,
    actor: str,
    action: str,
    target: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Write one entry inside the caller's transaction."""
    # Ids grow with the wall clock, so entries of the same instant still list in the order written.
    entry_id = f"{time.time_ns():020d}{uuid.uuid4().hex[:12]}"
    entry = AuditEntry(entry_id, tenant, at, actor[:256], action[:64], target[:512], dict(detail or {}))
    conn.execute(
        insert(audit_log).values(
            tenant=tenant,
            entry_id=entry.id,
            at=at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=orjson.dumps(entry.detail, default=str).decode(),
        )
    )
    return entry


def read(conn: Connection, tenant: str, wanted: AuditFilter) -> tuple[list[AuditEntry], int]:
    """Entries matching ``wanted``, newest first, with their total count."""
    conditions = [audit_log.c.tenant == tenant]
    if wanted.actor is not None:
        conditions.append(audit_log.c.actor == wanted.actor)
    if wanted.action is not None:
        if wanted.action.endswith("."):
            conditions.append(audit_log.c.action.startswith(wanted.action, autoescape=True))
        else:
            conditions.append(audit_log.c.action == wanted.action)
    if wanted.target is not None:
        conditions.append(audit_log.c.target == wanted.target)
    if wanted.since is not None:
        conditions.append(audit_log.c.at >= wanted.since)
    if wanted.until is not None:
        conditions.append(audit_log.c.at < wanted.until)
    total = conn.execute(select(func.count()).select_from(audit_log).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.at.desc(), audit_log.c.entry_id.desc())
        .limit(wanted.limit)
        .offset(wanted.offset)
    ).all()
    entries = [
        AuditEntry(row.entry_id, row.tenant, row.at, row.actor, row.action, row.target, orjson.loads(row.detail))
        for row in rows
    ]
    return entries, int(total)


class AuditService:
    """The audit trail as the operator console reads it: who did what, when, newest first."""

    def __init__(self, db: Database) -> None:
        """Read the trail from ``db``."""
        self.db = db

    def entries(self, tenant: str, wanted: AuditFilter) -> tuple[list[AuditEntry], int]:
        """A tenant's entries matching ``wanted``, newest first, with their total count.

        ``since`` counts from the instant on, ``until`` up to before it; a window that ends
        before it starts, a page size below 1 or a negative offset is :class:`BadRequestData`.
        """
        if wanted.limit < 1 or wanted.offset < 0:
            raise BadRequestData("'limit' must be at least 1 and 'offset' at least 0")
        if wanted.since is not None and wanted.until is not None and wanted.until <= wanted.since:
            raise BadRequestData("'until' must come after 'since'")
        with self.db.read() as conn:
            return read(conn, tenant, wanted)
