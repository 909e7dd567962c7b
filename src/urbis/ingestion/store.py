"""Tables of the device registry, the dead-letter store and device commands, and their queries.

SQLAlchemy Core only.  Every key starts with the tenant.  Functions take an
open connection, so a service decides the transaction (one per request, one
per ingestion batch); bulk writes are single ``executemany`` statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.ingestion.devices import Device, mapping_to_json, parse_mapping

TENANT_LENGTH = 64
DEVICE_ID_LENGTH = 128
#: Largest IN (...) list sent in one statement (SQLite allows 32766 variables, PostgreSQL 65535).
CHUNK = 2000

devices = Table(
    "devices",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("device_id", String(DEVICE_ID_LENGTH), primary_key=True),
    Column("device_type", String(32), nullable=False),
    Column("entity_id", String(512), nullable=True),  # None for gateways
    Column("entity_type", String(512), nullable=True),
    Column("mapping", Text, nullable=False),  # JSON array in the API's shape
    Column("gateway_id", String(DEVICE_ID_LENGTH), nullable=True),
    Column("location", Text, nullable=True),  # GeoJSON geometry
    Column("attributes", Text, nullable=False),  # JSON object of seed attributes
    Column("enabled", Boolean, nullable=False),
    Column("token_sha256", String(64), nullable=False),  # hex digest of the device token
    Column("mqtt_hash", String(255), nullable=False),  # Mosquitto $7$ PBKDF2-SHA512 hash of the token
    Column("created_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=True),
    # Listing by type and by gateway; finding the device that feeds an entity (commands from solutions).
    Index("ix_devices_type", "tenant", "device_type"),
    Index("ix_devices_gateway", "tenant", "gateway_id"),
    Index("ix_devices_entity", "tenant", "entity_id"),
)

deadletters = Table(
    "device_deadletters",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("deadletter_id", String(32), primary_key=True),  # time-ordered hex id
    Column("device_id", String(DEVICE_ID_LENGTH), nullable=False),  # as claimed by the message
    Column("transport", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("count", Integer, nullable=False),  # measures (or entries) refused
    Column("rejections", Text, nullable=False),  # JSON array of the individual rejections (bounded)
    Column("payload", LargeBinary, nullable=False),  # the raw message, truncated
    Column("payload_size", Integer, nullable=False),  # its full size in bytes
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_device_deadletters_time", "tenant", "received_at"),
    Index("ix_device_deadletters_device", "tenant", "device_id", "received_at"),
    # Retention deletes across tenants by age.
    Index("ix_device_deadletters_received", "received_at"),
)

commands = Table(
    "device_commands",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("command_id", String(64), primary_key=True),
    Column("device_id", String(DEVICE_ID_LENGTH), nullable=False),
    Column("command", String(64), nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("status", String(16), nullable=False),  # pending, sent, ok, error, expired
    Column("result", Text, nullable=True),  # JSON, from the acknowledgement
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Index("ix_device_commands_device", "tenant", "device_id", "created_at"),
    # Expiry finds open commands by age.
    Index("ix_device_commands_open", "status", "created_at"),
)


# -- devices ----------------------------------------------------------------------------------


def device_values(device: Device, token_sha256: str, mqtt_hash: str) -> dict[str, Any]:
    """The ``devices`` row of ``device`` with its credentials."""
    return {
        "tenant": device.tenant,
        "device_id": device.id,
        "device_type": device.device_type,
        "entity_id": device.entity_id,
        "entity_type": device.entity_type,
        "mapping": orjson.dumps(mapping_to_json(device.mapping)).decode(),
        "gateway_id": device.gateway_id,
        "location": None if device.location is None else orjson.dumps(device.location).decode(),
        "attributes": orjson.dumps(device.attributes).decode(),
        "enabled": device.enabled,
        "token_sha256": token_sha256,
        "mqtt_hash": mqtt_hash,
        "created_at": device.created_at,
        "modified_at": device.modified_at,
        "last_seen_at": device.last_seen_at,
    }


def device_of(row: Row[Any]) -> Device:
    """The :class:`Device` of a ``devices`` row."""
    return Device(
        id=row.device_id,
        device_type=row.device_type,
        entity_id=row.entity_id,
        entity_type=row.entity_type,
        mapping=parse_mapping(orjson.loads(row.mapping)),
        gateway_id=row.gateway_id,
        location=None if row.location is None else orjson.loads(row.location),
        attributes=orjson.loads(row.attributes),
        tenant=row.tenant,
        enabled=bool(row.enabled),
        created_at=row.created_at,
        modified_at=row.modified_at,
        last_seen_at=row.last_seen_at,
    )


def insert_devices(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert device rows in one statement."""
    if rows:
        conn.execute(devices.insert(), list(rows))


def get_device_row(conn: Connection, tenant: str, device_id: str) -> Row[Any] | None:
    """The row of one device, or None."""
    return conn.execute(select(devices).where(devices.c.tenant == tenant, devices.c.device_id == device_id)).first()


def get_device_rows(conn: Connection, tenant: str, device_ids: Iterable[str]) -> list[Row[Any]]:
    """The rows of the devices among ``device_ids`` that exist (in chunks)."""
    ids = list(dict.fromkeys(device_ids))
    rows: list[Row[Any]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows.extend(
            conn.execute(select(devices).where(devices.c.tenant == tenant, devices.c.device_id.in_(chunk))).all()
        )
    return rows


def existing_device_ids(conn: Connection, tenant: str, device_ids: Iterable[str]) -> set[str]:
    """Which of ``device_ids`` are registered in ``tenant``."""
    ids = list(dict.fromkeys(device_ids))
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(
            conn.execute(
                select(devices.c.device_id).where(devices.c.tenant == tenant, devices.c.device_id.in_(chunk))
            ).scalars()
        )
    return found


def list_device_rows(
    conn: Connection,
    tenant: str,
    *,
    device_type: str | None = None,
    gateway_id: str | None = None,
    entity_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """A page of the tenant's devices (ordered by id) and how many match in all."""
    conditions = [devices.c.tenant == tenant]
    if device_type is not None:
        conditions.append(devices.c.device_type == device_type)
    if gateway_id is not None:
        conditions.append(devices.c.gateway_id == gateway_id)
    if entity_id is not None:
        conditions.append(devices.c.entity_id == entity_id)
    where = and_(*conditions)
    query = select(devices).where(where).order_by(devices.c.device_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query).all())
    total = conn.execute(select(func.count()).select_from(devices).where(where)).scalar_one()
    return rows, int(total)


def update_device(conn: Connection, tenant: str, device_id: str, values: dict[str, Any]) -> bool:
    """Change columns of one device; False when it does not exist."""
    result = conn.execute(
        update(devices).where(devices.c.tenant == tenant, devices.c.device_id == device_id).values(**values)
    )
    return bool(result.rowcount)


def delete_device(conn: Connection, tenant: str, device_id: str) -> bool:
    """Delete one device and its commands; False when it did not exist."""
    result = conn.execute(delete(devices).where(devices.c.tenant == tenant, devices.c.device_id == device_id))
    conn.execute(delete(commands).where(commands.c.tenant == tenant, commands.c.device_id == device_id))
    return bool(result.rowcount)


def touch_devices(conn: Connection, seen: Sequence[tuple[str, str, datetime]]) -> None:
    """Set ``last_seen_at`` of many devices in one statement."""
    if not seen:
        return
    statement = (
        update(devices)
        .where(devices.c.tenant == bindparam("b_tenant"), devices.c.device_id == bindparam("b_device"))
        .values(last_seen_at=bindparam("b_seen"))
    )
    conn.execute(statement, [{"b_tenant": t, "b_device": d, "b_seen": s} for t, d, s in seen])


def credential_rows(conn: Connection, tenant: str | None = None) -> list[Row[Any]]:
    """(tenant, device id, device type, mqtt hash) of every enabled device, ordered."""
    query = select(devices.c.tenant, devices.c.device_id, devices.c.device_type, devices.c.mqtt_hash).where(
        devices.c.enabled.is_(True)
    )
    if tenant is not None:
        query = query.where(devices.c.tenant == tenant)
    return list(conn.execute(query.order_by(devices.c.tenant, devices.c.device_id)).all())


# -- dead letters -----------------------------------------------------------------------------


def insert_deadletters(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dead-letter rows in one statement."""
    if rows:
        conn.execute(deadletters.insert(), list(rows))


def list_deadletter_rows(
    conn: Connection,
    tenant: str,
    *,
    device_id: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """A page of the tenant's dead letters, newest first, and how many match in all."""
    conditions = [deadletters.c.tenant == tenant]
    if device_id is not None:
        conditions.append(deadletters.c.device_id == device_id)
    if reason is not None:
        conditions.append(deadletters.c.reason == reason)
    if since is not None:
        conditions.append(deadletters.c.received_at >= since)
    where = and_(*conditions)
    rows = conn.execute(
        select(deadletters)
        .where(where)
        .order_by(deadletters.c.received_at.desc(), deadletters.c.deadletter_id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = conn.execute(select(func.count()).select_from(deadletters).where(where)).scalar_one()
    return list(rows), int(total)


def get_deadletter_row(conn: Connection, tenant: str, deadletter_id: str) -> Row[Any] | None:
    """One dead letter, or None."""
    return conn.execute(
        select(deadletters).where(deadletters.c.tenant == tenant, deadletters.c.deadletter_id == deadletter_id)
    ).first()


def delete_deadletter(conn: Connection, tenant: str, deadletter_id: str) -> bool:
    """Discard one dead letter; False when it did not exist."""
    result = conn.execute(
        delete(deadletters).where(deadletters.c.tenant == tenant, deadletters.c.deadletter_id == deadletter_id)
    )
    return bool(result.rowcount)


def purge_deadletters(conn: Connection, before: datetime) -> int:
    """Delete every dead letter received before ``before`` (all tenants); how many."""
    result = conn.execute(delete(deadletters).where(deadletters.c.received_at < before))
    return int(result.rowcount or 0)


# -- commands ---------------------------------------------------------------------------------


def insert_command(conn: Connection, values: dict[str, Any]) -> None:
    """Insert one command row."""
    conn.execute(commands.insert(), values)


def command_statuses(conn: Connection, tenant: str, command_ids: Sequence[str]) -> dict[str, str]:
    """Command id → status for the ids that exist (in chunks)."""
    out: dict[str, str] = {}
    for start in range(0, len(command_ids), CHUNK):
        chunk = list(command_ids[start : start + CHUNK])
        rows = conn.execute(
            select(commands.c.command_id, commands.c.status).where(
                commands.c.tenant == tenant, commands.c.command_id.in_(chunk)
            )
        ).all()
        out.update({row.command_id: row.status for row in rows})
    return out


def get_command_row(conn: Connection, tenant: str, command_id: str) -> Row[Any] | None:
    """One command, or None."""
    return conn.execute(
        select(commands).where(commands.c.tenant == tenant, commands.c.command_id == command_id)
    ).first()


def list_command_rows(
    conn: Connection,
    tenant: str,
    device_id: str,
    *,
    statuses: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    oldest_first: bool = False,
) -> list[Row[Any]]:
    """Commands of one device (newest first unless ``oldest_first``)."""
    query = select(commands).where(commands.c.tenant == tenant, commands.c.device_id == device_id)
    if statuses is not None:
        query = query.where(commands.c.status.in_(list(statuses)))
    order = (
        (commands.c.created_at, commands.c.command_id)
        if oldest_first
        else (commands.c.created_at.desc(), commands.c.command_id.desc())
    )
    return list(conn.execute(query.order_by(*order).limit(limit).offset(offset)).all())


def list_open_commands(conn: Connection, since: datetime, *, limit: int = 500) -> list[Row[Any]]:
    """Pending commands of every tenant created after ``since``, oldest first (for the MQTT sweep)."""
    query = (
        select(commands)
        .where(commands.c.status == "pending", commands.c.created_at >= since)
        .order_by(commands.c.created_at, commands.c.command_id)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def update_command(
    conn: Connection,
    tenant: str,
    command_id: str,
    values: dict[str, Any],
    *,
    only_statuses: Sequence[str] | None = None,
) -> bool:
    """Change one command (optionally only while its status is one of ``only_statuses``); whether it changed."""
    statement = update(commands).where(commands.c.tenant == tenant, commands.c.command_id == command_id)
    if only_statuses is not None:
        statement = statement.where(commands.c.status.in_(list(only_statuses)))
    return bool(conn.execute(statement.values(**values)).rowcount)


def mark_commands(conn: Connection, tenant: str, command_ids: Sequence[str], values: dict[str, Any]) -> None:
    """Change many commands of one tenant alike."""
    for start in range(0, len(command_ids), CHUNK):
        chunk = list(command_ids[start : start + CHUNK])
        conn.execute(
            update(commands).where(commands.c.tenant == tenant, commands.c.command_id.in_(chunk)).values(**values)
        )


def purge_commands(conn: Connection, before: datetime) -> int:
    """Delete commands created before ``before``, in every tenant; how many."""
    return int(conn.execute(commands.delete().where(commands.c.created_at < before)).rowcount or 0)


def expire_commands(conn: Connection, before: datetime, *, tenant: str | None = None) -> int:
    """Mark pending and sent commands created before ``before`` as expired; how many."""
    statement = update(commands).where(commands.c.status.in_(["pending", "sent"]), commands.c.created_at < before)
    if tenant is not None:
        statement = statement.where(commands.c.tenant == tenant)
    return int(conn.execute(statement.values(status="expired")).rowcount or 0)
