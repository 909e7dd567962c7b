"""Tables of smart parking: prices, their log and the proposals awaiting an operator; parking sessions.

Prices are kept per zone and time band; every applied change is logged with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Index,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.solutions.parking.sessions import ParkingSession

parking_rates = Table(
    "parking_rates",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("zone_id", String(512), primary_key=True),
    Column("time_band", String(64), primary_key=True),
    Column("price", String(16), nullable=False),  # a Decimal, exactly
    Column("currency", String(3), nullable=False),
    Column("last_change_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

parking_rate_log = Table(
    "parking_rate_log",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("change_id", String(32), primary_key=True),
    Column("zone_id", String(512), nullable=False),
    Column("time_band", String(64), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("record", Text, nullable=False),  # the decision with its reason, as JSON
    Index("ix_parking_rate_log_tenant_decided", "tenant", "decided_at"),
    Index("ix_parking_rate_log_tenant_zone", "tenant", "zone_id"),
)


@dataclass(frozen=True)
class StoredRate:
    """The price in force for one zone and time band."""

    zone_id: str
    time_band: str
    price: Decimal
    currency: str
    last_change_at: datetime | None


def rates(conn: Connection, tenant: str) -> dict[tuple[str, str], StoredRate]:
    """Every stored rate of a tenant by (zone, time band)."""
    rows = conn.execute(select(parking_rates).where(parking_rates.c.tenant == tenant)).all()
    return {
        (row.zone_id, row.time_band): StoredRate(
            row.zone_id, row.time_band, Decimal(row.price), row.currency, row.last_change_at
        )
        for row in rows
    }


def save_rates(
    conn: Connection, tenant: str, changed: Sequence[StoredRate], known: set[tuple[str, str]], at: datetime
) -> None:
    """Insert or update rates (``known``: the keys already stored)."""
    for rate in changed:
        values = {
            "price": str(rate.price),
            "currency": rate.currency,
            "last_change_at": rate.last_change_at,
            "updated_at": at,
        }
        if (rate.zone_id, rate.time_band) in known:
            conn.execute(
                update(parking_rates).where(
                    parking_rates.c.tenant == tenant,
                    parking_rates.c.zone_id == rate.zone_id,
                    parking_rates.c.time_band == rate.time_band,
                ),
                values,
            )
        else:
            conn.execute(
                insert(parking_rates),
                [{"tenant": tenant, "zone_id": rate.zone_id, "time_band": rate.time_band, **values}],
            )


def log_changes(conn: Connection, tenant: str, entries: Sequence[tuple[str, dict[str, Any], datetime]]) -> None:
    """Append ``(change id, record, decided at)`` entries to the log."""
    if not entries:
        return
    conn.execute(
        insert(parking_rate_log),
        [
            {
                "tenant": tenant,
                "change_id": change_id,
                "zone_id": record["zoneId"],
                "time_band": record["timeBand"],
                "decided_at": decided_at,
                "record": orjson.dumps(record).decode(),
            }
            for change_id, record, decided_at in entries
        ],
    )


def read_log(
    conn: Connection, tenant: str, *, zone_id: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Logged changes, newest first, and how many there are."""
    where = [parking_rate_log.c.tenant == tenant]
    if zone_id is not None:
        where.append(parking_rate_log.c.zone_id == zone_id)
    total = conn.execute(select(func.count()).select_from(parking_rate_log).where(*where)).scalar_one()
    rows = conn.execute(
        select(parking_rate_log.c.record)
        .where(*where)
        .order_by(parking_rate_log.c.decided_at.desc(), parking_rate_log.c.change_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [orjson.loads(row.record) for row in rows], int(total)


def rate(conn: Connection, tenant: str, zone_id: str, time_band: str) -> StoredRate | None:
    """The stored rate of one zone and time band (None: the base price is in force)."""
    row = conn.execute(
        select(parking_rates).where(
            parking_rates.c.tenant == tenant,
            parking_rates.c.zone_id == zone_id,
            parking_rates.c.time_band == time_band,
        )
    ).first()
    if row is None:
        return None
    return StoredRate(row.zone_id, row.time_band, Decimal(row.price), row.currency, row.last_change_at)


# -- price proposals awaiting an operator -----------------------------------------------------


class ProposalState(StrEnum):
    """Where a price proposal stands."""

    PENDING = "pending"
    APPROVED = "approved"  # the price was applied
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer review judged the same zone and time band first


parking_rate_proposals = Table(
    "parking_rate_proposals",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("proposal_id", String(32), primary_key=True),
    Column("zone_id", String(512), nullable=False),
    Column("time_band", String(64), nullable=False),
    Column("current_price", String(16), nullable=False),  # Decimals, exactly
    Column("proposed_price", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("record", Text, nullable=False),  # the decision with its reason, as JSON
    Column("proposed_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(256), nullable=True),  # None when a newer review superseded it
    Column("note", Text, nullable=True),
    Index("ix_parking_rate_proposals_tenant_proposed", "tenant", "proposed_at"),
    Index("ix_parking_rate_proposals_tenant_state_proposed", "tenant", "state", "proposed_at"),
    # At most one proposal per zone and time band waits for a decision.
    Index(
        "uq_parking_rate_proposals_pending",
        "tenant",
        "zone_id",
        "time_band",
        unique=True,
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
)


@dataclass(frozen=True)
class RateProposal:
    """A price change a review recommends, and what became of it."""

    proposal_id: str
    zone_id: str
    time_band: str
    current_price: Decimal
    proposed_price: Decimal
    currency: str
    record: dict[str, Any]  # the decision (PriceChange.to_record()), reason included
    proposed_at: datetime
    state: ProposalState = ProposalState.PENDING
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The proposal as the API shows it (money as decimal strings)."""
        return {
            "id": self.proposal_id,
            "zoneId": self.zone_id,
            "timeBand": self.time_band,
            "currentPrice": str(self.current_price),
            "proposedPrice": str(self.proposed_price),
            "currency": self.currency,
            "reason": self.record.get("reason"),
            "decision": self.record,
            "proposedAt": self.proposed_at,
            "state": self.state.value,
            "decidedAt": self.decided_at,
            "decidedBy": self.decided_by,
            "note": self.note,
        }


def _proposal(row: Any) -> RateProposal:
    return RateProposal(
        row.proposal_id,
        row.zone_id,
        row.time_band,
        Decimal(row.current_price),
        Decimal(row.proposed_price),
        row.currency,
        orjson.loads(row.record),
        row.proposed_at,
        ProposalState(row.state),
        row.decided_at,
        row.decided_by,
        row.note,
    )


def insert_proposals(conn: Connection, tenant: str, proposals: Sequence[RateProposal]) -> None:
    """Store new proposals (in one batch)."""
    if not proposals:
        return
    conn.execute(
        insert(parking_rate_proposals),
        [
            {
                "tenant": tenant,
                "proposal_id": p.proposal_id,
                "zone_id": p.zone_id,
                "time_band": p.time_band,
                "current_price": str(p.current_price),
                "proposed_price": str(p.proposed_price),
                "currency": p.currency,
                "record": orjson.dumps(p.record).decode(),
                "proposed_at": p.proposed_at,
                "state": p.state.value,
                "decided_at": p.decided_at,
                "decided_by": p.decided_by,
                "note": p.note,
            }
            for p in proposals
        ],
    )


def pending_proposals(conn: Connection, tenant: str) -> list[RateProposal]:
    """Every proposal of a tenant that waits for a decision."""
    rows = conn.execute(
        select(parking_rate_proposals).where(
            parking_rate_proposals.c.tenant == tenant,
            parking_rate_proposals.c.state == ProposalState.PENDING.value,
        )
    ).all()
    return [_proposal(row) for row in rows]


def supersede_proposals(conn: Connection, tenant: str, notes: dict[str, str], at: datetime) -> None:
    """Mark the pending proposals ``notes`` names (id -> why) superseded, in one batch."""
    if not notes:
        return
    table = parking_rate_proposals
    conn.execute(
        update(table)
        .where(
            table.c.tenant == tenant,
            table.c.proposal_id == bindparam("b_proposal_id"),
            table.c.state == ProposalState.PENDING.value,
        )
        .values(state=ProposalState.SUPERSEDED.value, decided_at=at, note=bindparam("b_note")),
        [{"b_proposal_id": proposal_id, "b_note": note} for proposal_id, note in notes.items()],
    )


def get_proposal(conn: Connection, tenant: str, proposal_id: str) -> RateProposal | None:
    """One proposal."""
    row = conn.execute(
        select(parking_rate_proposals).where(
            parking_rate_proposals.c.tenant == tenant, parking_rate_proposals.c.proposal_id == proposal_id
        )
    ).first()
    return None if row is None else _proposal(row)


def decide_proposal(
    conn: Connection, tenant: str, proposal_id: str, state: ProposalState, *, at: datetime, by: str, note: str | None
) -> bool:
    """Record an operator's decision on a pending proposal; False when it was no longer pending."""
    table = parking_rate_proposals
    result = conn.execute(
        update(table)
        .where(
            table.c.tenant == tenant,
            table.c.proposal_id == proposal_id,
            # Only a pending proposal is decided, even when two operators decide it at once.
            table.c.state == ProposalState.PENDING.value,
        )
        .values(state=state.value, decided_at=at, decided_by=by[:256], note=note)
    )
    return result.rowcount == 1


def read_proposals(
    conn: Connection, tenant: str, *, state: ProposalState | None, limit: int, offset: int
) -> tuple[list[RateProposal], int]:
    """Proposals, newest first, and how many there are."""
    where = [parking_rate_proposals.c.tenant == tenant]
    if state is not None:
        where.append(parking_rate_proposals.c.state == state.value)
    total = conn.execute(select(func.count()).select_from(parking_rate_proposals).where(*where)).scalar_one()
    rows = conn.execute(
        select(parking_rate_proposals)
        .where(*where)
        .order_by(parking_rate_proposals.c.proposed_at.desc(), parking_rate_proposals.c.proposal_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [_proposal(row) for row in rows], int(total)


parking_sessions = Table(
    "parking_sessions",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("session_id", String(32), primary_key=True),
    Column("zone_id", String(512), nullable=False),
    Column("bay_id", String(512), nullable=True),
    Column("plate", String(16), nullable=True),  # personal data: dropped with the session after retention
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("paid_until", UTCDateTime(), nullable=True),
    Column("rights", Text, nullable=False),  # JSON array
    Index("ix_parking_sessions_tenant_ended", "tenant", "ended_at"),
)


def _session(row: Any) -> ParkingSession:
    return ParkingSession(
        row.session_id,
        row.zone_id,
        row.started_at,
        bay_id=row.bay_id,
        plate=row.plate,
        ended_at=row.ended_at,
        paid_until=row.paid_until,
        rights=frozenset(orjson.loads(row.rights)),
    )


def insert_session(conn: Connection, tenant: str, session: ParkingSession) -> None:
    """Store a new session."""
    conn.execute(
        insert(parking_sessions),
        [
            {
                "tenant": tenant,
                "session_id": session.session_id,
                "zone_id": session.zone_id,
                "bay_id": session.bay_id,
                "plate": session.plate,
                "started_at": session.started_at,
                "ended_at": session.ended_at,
                "paid_until": session.paid_until,
                "rights": orjson.dumps(sorted(session.rights)).decode(),
            }
        ],
    )


def get_session(conn: Connection, tenant: str, session_id: str) -> ParkingSession | None:
    """One session."""
    row = conn.execute(
        select(parking_sessions).where(parking_sessions.c.tenant == tenant, parking_sessions.c.session_id == session_id)
    ).first()
    return None if row is None else _session(row)


def end_session(conn: Connection, tenant: str, session_id: str, at: datetime) -> None:
    """Record a session's end."""
    conn.execute(
        update(parking_sessions)
        .where(parking_sessions.c.tenant == tenant, parking_sessions.c.session_id == session_id)
        .values(ended_at=at)
    )


def open_sessions(conn: Connection, tenant: str) -> list[ParkingSession]:
    """Sessions not stopped (prepaid ones may have lapsed: the model judges)."""
    rows = conn.execute(
        select(parking_sessions)
        .where(parking_sessions.c.tenant == tenant, parking_sessions.c.ended_at.is_(None))
        .order_by(parking_sessions.c.started_at, parking_sessions.c.session_id)
    ).all()
    return [_session(row) for row in rows]


def purge_sessions(conn: Connection, before: datetime) -> int:
    """Delete sessions that ended (or lapsed unpaid-for) before ``before``, in every tenant."""
    ended = parking_sessions.c.ended_at.is_not(None) & (parking_sessions.c.ended_at < before)
    lapsed = parking_sessions.c.ended_at.is_(None) & (parking_sessions.c.paid_until < before)
    result = conn.execute(delete(parking_sessions).where(ended | lapsed))
    return int(result.rowcount or 0)
