"""Tables of categories, reports, their history, photos, links to faults, API keys, and the personal-data store.

Personal data (who reported: name, e-mail, phone, account, the device's own position) lives in
``citizen_report_contacts`` and nowhere else: the report tables hold only what may be public, so
no query for a public answer can leak a reporter by accident.

Functions take an open connection; the service decides the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from urbis.citizens.model import (
    Author,
    Category,
    Channel,
    Choice,
    Datatype,
    Question,
    Report,
    Route,
    Stage,
    Update,
    UpdateKind,
)
from urbis.citizens.moderation import Moderation
from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata

TENANT = 64
ID = 32

categories = Table(
    "citizen_categories",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("name", String(150), nullable=False),
    Column("description", Text, nullable=False),
    Column("group_name", String(64), nullable=False),
    Column("department", String(150), nullable=False),
    Column("keywords", Text, nullable=False),  # JSON list
    Column("object_types", Text, nullable=False),  # JSON list
    Column("questions", Text, nullable=False),  # JSON list
    Column("active", Boolean, nullable=False),
    Column("position", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

routes = Table(
    "citizen_routes",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("route_id", String(ID), primary_key=True),
    Column("service_code", String(64), nullable=True),
    Column("district", String(200), nullable=True),
    Column("department", String(150), nullable=False),
)

reports = Table(
    "citizen_reports",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("report_id", String(ID), primary_key=True),
    Column("service_code", String(64), nullable=False),
    Column("service_name", String(150), nullable=False),
    Column("description", Text, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("status", String(8), nullable=False),  # open/closed, kept for Open311's status filter
    Column("status_notes", Text, nullable=True),
    Column("department", String(150), nullable=True),
    Column("district", String(200), nullable=True),
    Column("lat", Float, nullable=True),
    Column("long", Float, nullable=True),
    Column("address", String(300), nullable=True),
    Column("address_id", String(100), nullable=True),
    Column("zipcode", String(20), nullable=True),
    Column("answers", Text, nullable=False),  # JSON object
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("expected_at", UTCDateTime(), nullable=True),
    Column("confirmed", Boolean, nullable=False),
    Column("moderation", String(16), nullable=False),
    Column("object_type", String(100), nullable=True),
    Column("object_id", String(512), nullable=True),
    Column("parent_id", String(ID), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("public_name", String(100), nullable=True),
    Column("token", String(64), nullable=True, unique=True),
    Index("ix_citizen_reports_requested", "tenant", "requested_at"),
    Index("ix_citizen_reports_updated", "tenant", "updated_at"),
    Index("ix_citizen_reports_status", "tenant", "status", "service_code"),
    Index("ix_citizen_reports_object", "tenant", "object_id"),
)

updates = Table(
    "citizen_report_updates",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("update_id", String(ID), primary_key=True),
    Column("report_id", String(ID), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String(32), nullable=True),
    Column("description", Text, nullable=False),
    Column("author", String(16), nullable=False),
    Column("moderation", String(16), nullable=False),
    Column("by", String(150), nullable=True),  # staff only
    Index("ix_citizen_report_updates_report", "tenant", "report_id", "at"),
    Index("ix_citizen_report_updates_at", "tenant", "at"),
)

photos = Table(
    "citizen_photos",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("photo_id", String(ID), primary_key=True),
    Column("report_id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_citizen_photos_report", "tenant", "report_id"),
)

#: Which faults (alarms, work orders of the operations module) a report is linked to.
links = Table(
    "citizen_report_links",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("report_id", String(ID), primary_key=True),
    Column("ticket_kind", String(16), primary_key=True),  # "alarm" | "work_order"
    Column("ticket_id", String(ID), primary_key=True),
    Index("ix_citizen_report_links_ticket", "tenant", "ticket_id"),
)

#: The personal-data store: who sent a report.  Never read for a public answer.
contacts = Table(
    "citizen_report_contacts",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("report_id", String(ID), primary_key=True),
    Column("account", String(150), nullable=True, index=True),
    Column("email", String(320), nullable=True, index=True),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("device_id", String(200), nullable=True),
    Column("device_lat", Float, nullable=True),
    Column("device_long", Float, nullable=True),
    Column("confirm_hash", String(64), nullable=True),  # SHA-256 of the e-mail confirmation code
    Column("created_at", UTCDateTime(), nullable=False),
)

#: Open311 API keys: only a SHA-256 of each key is kept (keys are long random strings).
api_keys = Table(
    "citizen_api_keys",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("key_id", String(ID), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(150), nullable=False),
    Column("created_by", String(150), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)


# -- categories and routes -----------------------------------------------------------------


def _question_json(question: Question) -> dict[str, Any]:
    return {
        "code": question.code,
        "datatype": question.datatype.value,
        "description": question.description,
        "required": question.required,
        "variable": question.variable,
        "order": question.order,
        "datatype_description": question.datatype_description,
        "values": [{"key": c.key, "name": c.name} for c in question.values],
    }


def question_of(data: dict[str, Any]) -> Question:
    """A question from its stored (or submitted) JSON shape."""
    return Question(
        code=str(data["code"]),
        datatype=Datatype(data["datatype"]),
        description=str(data.get("description", "")),
        required=bool(data.get("required", False)),
        variable=bool(data.get("variable", True)),
        order=int(data.get("order", 1)),
        datatype_description=str(data.get("datatype_description", "")),
        values=tuple(Choice(str(v["key"]), str(v["name"])) for v in data.get("values", ())),
    )


def _category(row: Row[Any]) -> Category:
    return Category(
        code=row.code,
        name=row.name,
        description=row.description,
        group=row.group_name,
        department=row.department,
        keywords=tuple(orjson.loads(row.keywords)),
        object_types=tuple(orjson.loads(row.object_types)),
        questions=tuple(question_of(q) for q in orjson.loads(row.questions)),
        active=row.active,
        position=row.position,
    )


def category_values(tenant: str, category: Category, at: datetime) -> dict[str, Any]:
    """The row of a category."""
    return {
        "tenant": tenant,
        "code": category.code,
        "name": category.name,
        "description": category.description,
        "group_name": category.group,
        "department": category.department,
        "keywords": orjson.dumps(list(category.keywords)).decode(),
        "object_types": orjson.dumps(list(category.object_types)).decode(),
        "questions": orjson.dumps([_question_json(q) for q in category.questions]).decode(),
        "active": category.active,
        "position": category.position,
        "updated_at": at,
    }


def question_json(question: Question) -> dict[str, Any]:
    """A question in its stored JSON shape (also what the API shows)."""
    return _question_json(question)


def list_categories(conn: Connection, tenant: str) -> list[Category]:
    """Every category of a tenant, in display order."""
    rows = conn.execute(
        select(categories).where(categories.c.tenant == tenant).order_by(categories.c.position, categories.c.code)
    ).all()
    return [_category(row) for row in rows]


def has_categories(conn: Connection, tenant: str) -> bool:
    """Whether the tenant has set up any category (else it gets the defaults)."""
    return conn.execute(select(categories.c.code).where(categories.c.tenant == tenant).limit(1)).first() is not None


def get_category(conn: Connection, tenant: str, code: str) -> Category | None:
    """One category."""
    row = conn.execute(select(categories).where(categories.c.tenant == tenant, categories.c.code == code)).first()
    return None if row is None else _category(row)


def save_category(conn: Connection, tenant: str, category: Category, at: datetime) -> bool:
    """Insert or replace a category; True if it was new."""
    values = category_values(tenant, category, at)
    found = conn.execute(
        update(categories).where(categories.c.tenant == tenant, categories.c.code == category.code).values(**values)
    )
    if found.rowcount:
        return False
    conn.execute(insert(categories).values(**values))
    return True


def categories_changed_at(conn: Connection, tenant: str) -> datetime | None:
    """When a tenant's categories last changed."""
    latest: datetime | None = conn.execute(
        select(func.max(categories.c.updated_at)).where(categories.c.tenant == tenant)
    ).scalar_one()
    return latest


def list_routes(conn: Connection, tenant: str) -> list[Route]:
    """Every routing rule of a tenant."""
    rows = conn.execute(select(routes).where(routes.c.tenant == tenant).order_by(routes.c.route_id)).all()
    return [Route(row.route_id, row.department, row.service_code, row.district) for row in rows]


def insert_route(conn: Connection, tenant: str, rule: Route) -> None:
    """Add a routing rule."""
    conn.execute(
        insert(routes).values(
            tenant=tenant,
            route_id=rule.id,
            service_code=rule.service_code,
            district=rule.district,
            department=rule.department,
        )
    )


def delete_route(conn: Connection, tenant: str, route_id: str) -> bool:
    """Remove a routing rule; False if there was none."""
    return bool(conn.execute(delete(routes).where(routes.c.tenant == tenant, routes.c.route_id == route_id)).rowcount)


# -- reports -------------------------------------------------------------------------------


def _report_values(report: Report) -> dict[str, Any]:
    return {
        "tenant": report.tenant,
        "report_id": report.id,
        "service_code": report.service_code,
        "service_name": report.service_name,
        "description": report.description,
        "stage": report.stage.value,
        "status": report.status.value,
        "status_notes": report.status_notes,
        "department": report.department,
        "district": report.district,
        "lat": report.lat,
        "long": report.long,
        "address": report.address,
        "address_id": report.address_id,
        "zipcode": report.zipcode,
        "answers": orjson.dumps(dict(report.answers)).decode(),
        "requested_at": report.requested_at,
        "updated_at": report.updated_at,
        "closed_at": report.closed_at,
        "expected_at": report.expected_at,
        "confirmed": report.confirmed,
        "moderation": report.moderation.value,
        "object_type": report.object_type,
        "object_id": report.object_id,
        "parent_id": report.parent_id,
        "channel": report.channel.value,
        "public_name": report.public_name,
        "token": report.token,
    }


def _report(row: Row[Any], photo_ids: Sequence[str] = ()) -> Report:
    return Report(
        id=row.report_id,
        tenant=row.tenant,
        service_code=row.service_code,
        service_name=row.service_name,
        description=row.description,
        stage=Stage(row.stage),
        requested_at=row.requested_at,
        updated_at=row.updated_at,
        lat=row.lat,
        long=row.long,
        address=row.address,
        address_id=row.address_id,
        zipcode=row.zipcode,
        answers=orjson.loads(row.answers),
        status_notes=row.status_notes,
        department=row.department,
        district=row.district,
        closed_at=row.closed_at,
        expected_at=row.expected_at,
        confirmed=row.confirmed,
        moderation=Moderation(row.moderation),
        object_type=row.object_type,
        object_id=row.object_id,
        parent_id=row.parent_id,
        channel=Channel(row.channel),
        public_name=row.public_name,
        token=row.token,
        photos=tuple(photo_ids),
    )


def insert_report(conn: Connection, report: Report) -> None:
    """Store a new report."""
    conn.execute(insert(reports).values(**_report_values(report)))


def save_report(conn: Connection, report: Report) -> None:
    """Store a changed report."""
    values = _report_values(report)
    conn.execute(
        update(reports).where(reports.c.tenant == report.tenant, reports.c.report_id == report.id).values(**values)
    )


def _photo_ids(conn: Connection, tenant: str, report_ids: Sequence[str]) -> dict[str, list[str]]:
    if not report_ids:
        return {}
    rows = conn.execute(
        select(photos.c.report_id, photos.c.photo_id)
        .where(photos.c.tenant == tenant, photos.c.report_id.in_(report_ids))
        .order_by(photos.c.report_id, photos.c.position)
    ).all()
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row.report_id, []).append(row.photo_id)
    return out


def get_report(conn: Connection, tenant: str, report_id: str, *, for_update: bool = False) -> Report | None:
    """One report, with its photos' ids."""
    query = select(reports).where(reports.c.tenant == tenant, reports.c.report_id == report_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None
    return _report(row, _photo_ids(conn, tenant, [report_id]).get(report_id, ()))


def report_by_token(conn: Connection, token: str) -> Report | None:
    """The report a token was handed out for."""
    row = conn.execute(select(reports).where(reports.c.token == token)).first()
    return None if row is None else _report(row, _photo_ids(conn, row.tenant, [row.report_id]).get(row.report_id, ()))


@dataclass(frozen=True)
class ReportFilter:
    """Which reports to list; ``None`` fields do not filter.

    ``public_only`` keeps confirmed reports whose moderation is public (what anyone may see).
    ``bbox`` (min long, min lat, max long, max lat) pre-selects a radius search.
    """

    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    stages: tuple[Stage, ...] | None = None
    requested_from: datetime | None = None
    requested_until: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    department: str | None = None
    district: str | None = None
    object_id: str | None = None
    object_type: str | None = None
    channels: tuple[Channel, ...] | None = None
    moderation: tuple[Moderation, ...] | None = None
    confirmed: bool | None = None
    public_only: bool = False
    bbox: tuple[float, float, float, float] | None = None
    search: str | None = None
    newest_first: bool = True
    order_by_updated: bool = False
    limit: int = 50
    offset: int = 0


def _conditions(tenant: str, wanted: ReportFilter) -> list[Any]:
    c = reports.c
    out: list[Any] = [c.tenant == tenant]
    if wanted.ids is not None:
        out.append(c.report_id.in_(wanted.ids))
    if wanted.service_codes is not None:
        out.append(c.service_code.in_(wanted.service_codes))
    if wanted.statuses is not None:
        out.append(c.status.in_(wanted.statuses))
    if wanted.stages is not None:
        out.append(c.stage.in_([s.value for s in wanted.stages]))
    if wanted.requested_from is not None:
        out.append(c.requested_at >= wanted.requested_from)
    if wanted.requested_until is not None:
        out.append(c.requested_at <= wanted.requested_until)
    if wanted.updated_after is not None:
        out.append(c.updated_at > wanted.updated_after)
    if wanted.updated_before is not None:
        out.append(c.updated_at < wanted.updated_before)
    if wanted.department is not None:
        out.append(c.department == wanted.department)
    if wanted.district is not None:
        out.append(c.district == wanted.district)
    if wanted.object_id is not None:
        out.append(c.object_id == wanted.object_id)
    if wanted.object_type is not None:
        out.append(c.object_type == wanted.object_type)
    if wanted.channels is not None:
        out.append(c.channel.in_([channel.value for channel in wanted.channels]))
    if wanted.moderation is not None:
        out.append(c.moderation.in_([m.value for m in wanted.moderation]))
    if wanted.confirmed is not None:
        out.append(c.confirmed == wanted.confirmed)
    if wanted.public_only:
        out.append(and_(c.confirmed.is_(True), c.moderation == Moderation.PUBLIC.value))
    if wanted.bbox is not None:
        west, south, east, north = wanted.bbox
        out.extend([c.long >= west, c.long <= east, c.lat >= south, c.lat <= north])
    if wanted.search:
        pattern = f"%{wanted.search.lower()}%"
        out.append(
            or_(
                func.lower(c.description).like(pattern),
                func.lower(c.address).like(pattern),
                func.lower(c.service_name).like(pattern),
                c.report_id == wanted.search,
            )
        )
    return out


def list_reports(conn: Connection, tenant: str, wanted: ReportFilter) -> tuple[list[Report], int]:
    """Reports matching ``wanted`` (newest first unless told otherwise), with their total count."""
    conditions = _conditions(tenant, wanted)
    total = int(conn.execute(select(func.count()).select_from(reports).where(*conditions)).scalar_one())
    column = reports.c.updated_at if wanted.order_by_updated else reports.c.requested_at
    order = (column.desc(), reports.c.report_id.desc()) if wanted.newest_first else (column, reports.c.report_id)
    rows = conn.execute(
        select(reports).where(*conditions).order_by(*order).limit(wanted.limit).offset(wanted.offset)
    ).all()
    ids = _photo_ids(conn, tenant, [row.report_id for row in rows])
    return [_report(row, ids.get(row.report_id, ())) for row in rows], total


def count_reports(conn: Connection, tenant: str, wanted: ReportFilter) -> int:
    """How many reports match."""
    return int(conn.execute(select(func.count()).select_from(reports).where(*_conditions(tenant, wanted))).scalar_one())


# -- history -------------------------------------------------------------------------------


def insert_update(conn: Connection, tenant: str, entry: Update) -> None:
    """Add an entry to a report's history."""
    conn.execute(
        insert(updates).values(
            tenant=tenant,
            update_id=entry.id,
            report_id=entry.report_id,
            at=entry.at,
            kind=entry.kind.value,
            stage=None if entry.stage is None else entry.stage.value,
            description=entry.description,
            author=entry.author.value,
            moderation=entry.moderation.value,
            by=entry.by,
        )
    )


def _update(row: Row[Any]) -> Update:
    return Update(
        id=row.update_id,
        report_id=row.report_id,
        at=row.at,
        kind=UpdateKind(row.kind),
        description=row.description,
        author=Author(row.author),
        stage=None if row.stage is None else Stage(row.stage),
        moderation=Moderation(row.moderation),
        by=row.by,
    )


def report_updates(conn: Connection, tenant: str, report_id: str) -> list[Update]:
    """A report's history, oldest first."""
    rows = conn.execute(
        select(updates)
        .where(updates.c.tenant == tenant, updates.c.report_id == report_id)
        .order_by(updates.c.at, updates.c.update_id)
    ).all()
    return [_update(row) for row in rows]


def get_update(conn: Connection, tenant: str, update_id: str) -> Update | None:
    """One history entry."""
    row = conn.execute(select(updates).where(updates.c.tenant == tenant, updates.c.update_id == update_id)).first()
    return None if row is None else _update(row)


def set_update_moderation(conn: Connection, tenant: str, update_id: str, state: Moderation) -> None:
    """Show or hide a comment."""
    conn.execute(
        update(updates)
        .where(updates.c.tenant == tenant, updates.c.update_id == update_id)
        .values(moderation=state.value)
    )


def public_notes(conn: Connection, tenant: str, report_ids: Sequence[str]) -> dict[str, list[Update]]:
    """The public status and system entries of many reports' histories, oldest first (one query per 500)."""
    u = updates.c
    notes: dict[str, list[Update]] = {}
    for start in range(0, len(report_ids), 500):
        rows = conn.execute(
            select(updates)
            .where(
                u.tenant == tenant,
                u.report_id.in_(report_ids[start : start + 500]),
                u.kind.in_([UpdateKind.STATUS.value, UpdateKind.SYSTEM.value]),
                u.moderation == Moderation.PUBLIC.value,
            )
            .order_by(u.report_id, u.at, u.update_id)
        ).all()
        for row in rows:
            notes.setdefault(row.report_id, []).append(_update(row))
    return notes


def updates_between(
    conn: Connection, tenant: str, start: datetime, end: datetime, *, limit: int = 1000
) -> list[Update]:
    """Public status updates of public reports in ``[start, end)`` (FixMyStreet's servicerequestupdates)."""
    r = reports.c
    rows = conn.execute(
        select(updates)
        .join(reports, and_(r.tenant == updates.c.tenant, r.report_id == updates.c.report_id))
        .where(
            updates.c.tenant == tenant,
            updates.c.at >= start,
            updates.c.at < end,
            updates.c.kind == UpdateKind.STATUS.value,
            updates.c.moderation == Moderation.PUBLIC.value,
            r.confirmed.is_(True),
            r.moderation == Moderation.PUBLIC.value,
        )
        .order_by(updates.c.at, updates.c.update_id)
        .limit(limit)
    ).all()
    return [_update(row) for row in rows]


def moderation_queue(conn: Connection, tenant: str, *, limit: int, offset: int) -> tuple[list[Update], int]:
    """Comments waiting for a moderator or hidden by flags."""
    condition = and_(
        updates.c.tenant == tenant,
        updates.c.kind == UpdateKind.COMMENT.value,
        updates.c.moderation != Moderation.PUBLIC.value,
    )
    total = int(conn.execute(select(func.count()).select_from(updates).where(condition)).scalar_one())
    rows = conn.execute(
        select(updates).where(condition).order_by(updates.c.at.desc()).limit(limit).offset(offset)
    ).all()
    return [_update(row) for row in rows], total


# -- photos --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPhoto:
    """A photo as kept: EXIF-free, resized."""

    id: str
    report_id: str
    media_type: str
    width: int
    height: int
    content: bytes


def insert_photo(conn: Connection, tenant: str, photo: StoredPhoto, position: int, at: datetime) -> None:
    """Keep a processed photo of a report."""
    conn.execute(
        insert(photos).values(
            tenant=tenant,
            photo_id=photo.id,
            report_id=photo.report_id,
            position=position,
            media_type=photo.media_type,
            width=photo.width,
            height=photo.height,
            content=photo.content,
            created_at=at,
        )
    )


def get_photo(conn: Connection, tenant: str, photo_id: str) -> StoredPhoto | None:
    """One photo with its bytes."""
    row = conn.execute(select(photos).where(photos.c.tenant == tenant, photos.c.photo_id == photo_id)).first()
    if row is None:
        return None
    return StoredPhoto(row.photo_id, row.report_id, row.media_type, row.width, row.height, bytes(row.content))


def delete_photos(conn: Connection, tenant: str, report_id: str) -> int:
    """Remove every photo of a report."""
    result = conn.execute(delete(photos).where(photos.c.tenant == tenant, photos.c.report_id == report_id))
    return int(result.rowcount)


# -- links to faults -----------------------------------------------------------------------


def add_link(conn: Connection, tenant: str, report_id: str, ticket_kind: str, ticket_id: str) -> bool:
    """Link a report to an alarm or work order; False if it was linked already."""
    found = conn.execute(
        select(links.c.ticket_id).where(
            links.c.tenant == tenant,
            links.c.report_id == report_id,
            links.c.ticket_kind == ticket_kind,
            links.c.ticket_id == ticket_id,
        )
    ).first()
    if found is not None:
        return False
    conn.execute(insert(links).values(tenant=tenant, report_id=report_id, ticket_kind=ticket_kind, ticket_id=ticket_id))
    return True


def links_of(conn: Connection, tenant: str, report_id: str) -> list[tuple[str, str]]:
    """The (kind, id) of every ticket a report is linked to."""
    rows = conn.execute(
        select(links.c.ticket_kind, links.c.ticket_id)
        .where(links.c.tenant == tenant, links.c.report_id == report_id)
        .order_by(links.c.ticket_kind, links.c.ticket_id)
    ).all()
    return [(row.ticket_kind, row.ticket_id) for row in rows]


def reports_linked_to(conn: Connection, tenant: str, ticket_id: str) -> list[str]:
    """The ids of the reports linked to a ticket."""
    rows = conn.execute(
        select(links.c.report_id).where(links.c.tenant == tenant, links.c.ticket_id == ticket_id)
    ).scalars()
    return sorted(set(rows))


#: Ids per query of a batch read (an export holds thousands; some SQLite builds bind at most 999 at once).
ID_CHUNK = 500


def linked_reports(conn: Connection, tenant: str, report_ids: Sequence[str]) -> set[str]:
    """Which of the reports are linked to any alarm or work order."""
    found: set[str] = set()
    for start in range(0, len(report_ids), ID_CHUNK):
        chunk = list(report_ids[start : start + ID_CHUNK])
        found |= set(
            conn.execute(
                select(links.c.report_id)
                .where(links.c.tenant == tenant, links.c.report_id.in_(chunk))
                .group_by(links.c.report_id)
            ).scalars()
        )
    return found


def open_linked_reports(conn: Connection) -> list[tuple[str, str]]:
    """(tenant, report id) of every open report linked to a ticket (for the reconciling sweep)."""
    r = reports.c
    rows = conn.execute(
        select(links.c.tenant, links.c.report_id)
        .join(reports, and_(r.tenant == links.c.tenant, r.report_id == links.c.report_id))
        .where(r.status == "open")
        .distinct()
    ).all()
    return [(row.tenant, row.report_id) for row in rows]


# -- personal data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Who sent a report: personal data, for staff and for the person themselves only."""

    report_id: str
    account: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    device_id: str | None = None
    device_lat: float | None = None
    device_long: float | None = None
    confirm_hash: str | None = None


def insert_contact(conn: Connection, tenant: str, contact: Contact, at: datetime) -> None:
    """Keep who sent a report."""
    conn.execute(
        insert(contacts).values(
            tenant=tenant,
            report_id=contact.report_id,
            account=contact.account,
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            phone=contact.phone,
            device_id=contact.device_id,
            device_lat=contact.device_lat,
            device_long=contact.device_long,
            confirm_hash=contact.confirm_hash,
            created_at=at,
        )
    )


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        report_id=row.report_id,
        account=row.account,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        device_id=row.device_id,
        device_lat=row.device_lat,
        device_long=row.device_long,
        confirm_hash=row.confirm_hash,
    )


def get_contact(conn: Connection, tenant: str, report_id: str) -> Contact | None:
    """Who sent a report, if anyone left their details."""
    row = conn.execute(select(contacts).where(contacts.c.tenant == tenant, contacts.c.report_id == report_id)).first()
    return None if row is None else _contact(row)


def contacts_of(
    conn: Connection, tenant: str, *, account: str | None = None, email: str | None = None
) -> list[Contact]:
    """Every report contact of an account or an e-mail address (a resident's own reports)."""
    conditions: list[Any] = []
    if account is not None:
        conditions.append(contacts.c.account == account)
    if email is not None:
        conditions.append(func.lower(contacts.c.email) == email.lower())
    if not conditions:
        return []
    rows = conn.execute(
        select(contacts).where(contacts.c.tenant == tenant, or_(*conditions)).order_by(contacts.c.created_at)
    ).all()
    return [_contact(row) for row in rows]


def clear_confirmation(conn: Connection, tenant: str, report_id: str) -> None:
    """Forget a used confirmation code."""
    conn.execute(
        update(contacts).where(contacts.c.tenant == tenant, contacts.c.report_id == report_id).values(confirm_hash=None)
    )


def erase_contact(conn: Connection, tenant: str, report_id: str) -> None:
    """Delete who sent a report (the report itself, being about the city, stays, anonymous)."""
    conn.execute(delete(contacts).where(contacts.c.tenant == tenant, contacts.c.report_id == report_id))


# -- API keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    """An Open311 client's key, as staff see it (never the key itself)."""

    id: str
    tenant: str
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def _api_key(row: Row[Any]) -> ApiKey:
    return ApiKey(row.key_id, row.tenant, row.name, row.created_by, row.created_at, row.revoked_at)


def insert_api_key(conn: Connection, key: ApiKey, key_hash: str) -> None:
    """Keep a new API key's hash."""
    conn.execute(
        insert(api_keys).values(
            tenant=key.tenant,
            key_id=key.id,
            key_hash=key_hash,
            name=key.name,
            created_by=key.created_by,
            created_at=key.created_at,
            revoked_at=None,
        )
    )


def api_key_by_hash(conn: Connection, key_hash: str) -> ApiKey | None:
    """The key with this hash."""
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
    return None if row is None else _api_key(row)


def list_api_keys(conn: Connection, tenant: str) -> list[ApiKey]:
    """A tenant's keys, newest first."""
    rows = conn.execute(
        select(api_keys).where(api_keys.c.tenant == tenant).order_by(api_keys.c.created_at.desc())
    ).all()
    return [_api_key(row) for row in rows]


def revoke_api_key(conn: Connection, tenant: str, key_id: str, at: datetime) -> bool:
    """Revoke a key; False if there is no such active key."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.tenant == tenant, api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)


# -- figures -------------------------------------------------------------------------------

#: Stages that count as a report dealt with (duplicates and cancellations are not resolutions).
RESOLVED_STAGES = (Stage.FIXED.value, Stage.NO_FURTHER_ACTION.value, Stage.NOT_RESPONSIBLE.value)


def open_counts(conn: Connection, tenant: str) -> dict[Stage, int]:
    """Confirmed open reports per stage."""
    rows = conn.execute(
        select(reports.c.stage, func.count())
        .where(reports.c.tenant == tenant, reports.c.status == "open", reports.c.confirmed.is_(True))
        .group_by(reports.c.stage)
    ).all()
    return {Stage(stage): int(count) for stage, count in rows}


def resolutions(conn: Connection, tenant: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(requested, closed) of the confirmed reports resolved in ``[start, end)``."""
    rows = conn.execute(
        select(reports.c.requested_at, reports.c.closed_at).where(
            reports.c.tenant == tenant,
            reports.c.confirmed.is_(True),
            reports.c.stage.in_(RESOLVED_STAGES),
            reports.c.closed_at >= start,
            reports.c.closed_at < end,
        )
    ).all()
    return [(row.requested_at, row.closed_at) for row in rows]


def received_count(conn: Connection, tenant: str, start: datetime, end: datetime) -> int:
    """Confirmed reports received in ``[start, end)``."""
    query = select(func.count()).where(
        reports.c.tenant == tenant,
        reports.c.confirmed.is_(True),
        reports.c.requested_at >= start,
        reports.c.requested_at < end,
    )
    return int(conn.execute(query).scalar_one())
