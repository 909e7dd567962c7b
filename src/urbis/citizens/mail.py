"""Notification mail: an outbox written with the change it tells of, and a sender that drains it.

A mail is queued in the same transaction as the change (a report's new status, a confirmation
link), so no change goes untold and no mail tells of a change that was rolled back.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata

outbox = Table(
    "citizen_outbox",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("mail_id", String(32), primary_key=True),
    Column("recipient", String(320), nullable=False),  # personal data: purged after sending
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("outcome", String(16), nullable=True),  # "sent", "skipped" (no server), "failed" (gave up)
    Column("last_error", String(500), nullable=True),
    Index("ix_citizen_outbox_pending", "sent_at", "next_attempt_at"),
)
