"""Moderation shared by everything residents write: reports, comments, proposals.

An item is ``unmoderated`` (waiting for staff), ``public`` (listed) or ``hidden`` (taken down,
with a reason).  Residents flag items they think do not belong; once ``threshold`` different
people have flagged a public item it is hidden until staff look at it (Decidim hides after 3).
Staff decisions carry a reason and go to the audit trail (the services record them).

The flags table is shared: ``kind`` names what was flagged (``report``, ``comment``,
``proposal``) so one moderation queue can show them all.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Index, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.core.errors import BadRequestData


class Moderation(enum.StrEnum):
    """Where an item stands with the moderators."""

    UNMODERATED = "unmoderated"
    PUBLIC = "public"
    HIDDEN = "hidden"


class FlagReason(enum.StrEnum):
    """Why a resident flags an item (Decidim's three reasons, plus personal data)."""

    SPAM = "spam"
    OFFENSIVE = "offensive"
    DOES_NOT_BELONG = "does-not-belong"
    PERSONAL_DATA = "personal-data"


#: Longest reason a moderator gives.
REASON_LENGTH = 500


def parse_moderation(value: str) -> Moderation:
    """A moderation state from its name; a clear error for anything else."""
    try:
        return Moderation(value)
    except ValueError:
        known = ", ".join(m.value for m in Moderation)
        raise BadRequestData(f"unknown moderation state {value!r:.40}; known: {known}") from None


def parse_flag_reason(value: str) -> FlagReason:
    """A flag reason from its name; a clear error for anything else."""
    try:
        return FlagReason(value)
    except ValueError:
        known = ", ".join(r.value for r in FlagReason)
        raise BadRequestData(f"unknown flag reason {value!r:.40}; known: {known}") from None


def check_reason(reason: str) -> str:
    """A moderator's reason, trimmed; one is required to hide an item."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise BadRequestData(f"a moderation reason is 1 to {REASON_LENGTH} characters")
    return reason


def after_flag(state: Moderation, flags: int, threshold: int) -> Moderation:
    """The state of an item once it has ``flags`` flags: hidden at the threshold, else unchanged.

    Only a public item is hidden by flags: an unmoderated one is not listed anyway, and a
    hidden one stays hidden.
    """
    if state is Moderation.PUBLIC and flags >= threshold:
        return Moderation.HIDDEN
    return state


def listed(state: Moderation) -> bool:
    """Whether the public sees the item."""
    return state is Moderation.PUBLIC


flags = Table(
    "citizen_flags",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    # Who flagged: an account ("user:alice") or a hashed IP address ("ip:…"), so one person counts once.
    Column("flagger", String(200), primary_key=True),
    Column("reason", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_citizen_flags_item", "tenant", "kind", "item_id"),
)


@dataclass(frozen=True)
class Flag:
    """One resident's flag on one item."""

    kind: str
    item_id: str
    reason: FlagReason
    at: datetime


def add_flag(
    conn: Connection, tenant: str, kind: str, item_id: str, flagger: str, reason: FlagReason, at: datetime
) -> int:
    """Record a flag (a second flag by the same flagger counts once); the item's flag count after it."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(flags).values(
                    tenant=tenant, kind=kind, item_id=item_id, flagger=flagger[:200], reason=reason.value, at=at
                )
            )
    except IntegrityError:
        pass  # already flagged by this person
    return count_flags(conn, tenant, kind, item_id)


def count_flags(conn: Connection, tenant: str, kind: str, item_id: str) -> int:
    """How many different people flagged an item."""
    query = select(func.count()).where(flags.c.tenant == tenant, flags.c.kind == kind, flags.c.item_id == item_id)
    return int(conn.execute(query).scalar_one())


def flag_counts(conn: Connection, tenant: str, kind: str, item_ids: Sequence[str]) -> dict[str, int]:
    """How many people flagged each of many items (those never flagged are left out)."""
    counted: dict[str, int] = {}
    for start in range(0, len(item_ids), 500):  # some SQLite builds bind at most 999 values at once
        chunk = list(item_ids[start : start + 500])
        query = (
            select(flags.c.item_id, func.count())
            .where(flags.c.tenant == tenant, flags.c.kind == kind, flags.c.item_id.in_(chunk))
            .group_by(flags.c.item_id)
        )
        counted |= {item_id: int(count) for item_id, count in conn.execute(query).all()}
    return counted


def flag_reasons_of(
    conn: Connection, tenant: str, items: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, int]]:
    """How often each reason was given, per (kind, item id) of ``items``, in one query (a moderation queue's page)."""
    if not items:
        return {}
    ids = {item_id for _, item_id in items}
    kinds = {kind for kind, _ in items}
    query = (
        select(flags.c.kind, flags.c.item_id, flags.c.reason, func.count())
        .where(flags.c.tenant == tenant, flags.c.kind.in_(kinds), flags.c.item_id.in_(ids))
        .group_by(flags.c.kind, flags.c.item_id, flags.c.reason)
    )
    reasons: dict[tuple[str, str], dict[str, int]] = {}
    for kind, item_id, reason, count in conn.execute(query).all():
        reasons.setdefault((kind, item_id), {})[reason] = int(count)
    return reasons


def clear_flags(conn: Connection, tenant: str, kind: str, item_id: str) -> None:
    """Forget an item's flags (a moderator judged them and made the item public again)."""
    conn.execute(flags.delete().where(flags.c.tenant == tenant, flags.c.kind == kind, flags.c.item_id == item_id))
