"""Tables of NGSI-LD subscriptions and the queries the subscription service needs.

One row per subscription: the validated document as JSON (with the ``@context`` it was written
in), the columns matching filters on (``is_active``, ``expires_at``), the delivery counters
(updated in batches, see :meth:`SubscriptionStore.add_counters`) and ``next_run_at``, the claim
that lets exactly one process of a server send each periodic (``timeInterval``) notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from urbis.context.subscriptions.model import Counters
from urbis.core.db import metadata

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("subscription_id", String(512), nullable=False),
    # {"subscription": <validated document>, "context": <its @context, null for the core context>}
    Column("doc", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("expires_at", String(32), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("modified_at", String(32), nullable=False),
    Column("times_sent", BigInteger, nullable=False),
    Column("times_failed", BigInteger, nullable=False),
    Column("last_notification", String(32), nullable=True),
    Column("last_success", String(32), nullable=True),
    Column("last_failure", String(32), nullable=True),
    # Seconds since the epoch when the next periodic notification is due; NULL unless timeInterval is set.
    Column("next_run_at", Float, nullable=True),
    PrimaryKeyConstraint("tenant", "subscription_id"),
)


@dataclass(frozen=True)
class StoredSubscription:
    """One row: the document, its @context and what the broker keeps."""

    tenant: str
    id: str
    doc: dict[str, Any]
    context: Any
    created_at: str
    modified_at: str
    counters: Counters


def _row(row: Any) -> StoredSubscription:
    stored = orjson.loads(row.doc)
    return StoredSubscription(
        tenant=row.tenant,
        id=row.subscription_id,
        doc=stored["subscription"],
        context=stored.get("context"),
        created_at=row.created_at,
        modified_at=row.modified_at,
        counters=Counters(
            int(row.times_sent),
            int(row.times_failed),
            row.last_notification,
            row.last_success,
            row.last_failure,
        ),
    )


def _first_run(doc: Mapping[str, Any]) -> float | None:
    # Periodic subscriptions are due at once (0); the others never have a run (NULL), which lets
    # a starting process find the tenants with periodic subscriptions cheaply.
    return 0.0 if "timeInterval" in doc else None


def _doc_text(doc: Mapping[str, Any], context: Any) -> str:
    return orjson.dumps({"subscription": doc, "context": context}).decode()


class SubscriptionStore:
    """Queries on the ``subscriptions`` table (the caller owns connections and transactions)."""

    def insert(self, conn: Connection, tenant: str, doc: Mapping[str, Any], context: Any, now: str) -> bool:
        """Add a subscription; False when its id is taken in the tenant."""
        taken = conn.execute(
            select(subscriptions.c.subscription_id).where(
                subscriptions.c.tenant == tenant, subscriptions.c.subscription_id == doc["id"]
            )
        ).first()
        if taken is not None:
            return False
        conn.execute(
            insert(subscriptions).values(
                tenant=tenant,
                subscription_id=doc["id"],
                doc=_doc_text(doc, context),
                is_active=bool(doc.get("isActive", True)),
                expires_at=doc.get("expiresAt"),
                created_at=now,
                modified_at=now,
                times_sent=0,
                times_failed=0,
                next_run_at=_first_run(doc),
            )
        )
        return True

    def replace(self, conn: Connection, tenant: str, doc: Mapping[str, Any], context: Any, now: str) -> bool:
        """Save a changed subscription; False when it does not exist."""
        result = conn.execute(
            update(subscriptions)
            .where(subscriptions.c.tenant == tenant, subscriptions.c.subscription_id == doc["id"])
            .values(
                doc=_doc_text(doc, context),
                is_active=bool(doc.get("isActive", True)),
                expires_at=doc.get("expiresAt"),
                modified_at=now,
                next_run_at=_first_run(doc),  # a changed interval starts afresh
            )
        )
        return bool(result.rowcount)

    def delete(self, conn: Connection, tenant: str, subscription_id: str) -> bool:
        """Remove a subscription; False when it does not exist."""
        result = conn.execute(
            delete(subscriptions).where(
                subscriptions.c.tenant == tenant, subscriptions.c.subscription_id == subscription_id
            )
        )
        return bool(result.rowcount)

    def get(
        self, conn: Connection, tenant: str, subscription_id: str, *, for_update: bool = False
    ) -> StoredSubscription | None:
        """One subscription, None when absent."""
        query = select(subscriptions).where(
            subscriptions.c.tenant == tenant, subscriptions.c.subscription_id == subscription_id
        )
        if for_update and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        return _row(row) if row is not None else None

    def page(
        self, conn: Connection, tenant: str, *, limit: int, offset: int, count: bool
    ) -> tuple[list[StoredSubscription], int | None]:
        """One page of the tenant's subscriptions in creation order, and the total if asked."""
        rows = conn.execute(
            select(subscriptions)
            .where(subscriptions.c.tenant == tenant)
            .order_by(subscriptions.c.created_at, subscriptions.c.subscription_id)
            .limit(limit)
            .offset(offset)
        ).all()
        total = None
        if count:
            total = int(
                conn.execute(
                    select(func.count()).select_from(subscriptions).where(subscriptions.c.tenant == tenant)
                ).scalar_one()
            )
        return [_row(row) for row in rows], total

    def all_of(self, conn: Connection, tenant: str) -> list[StoredSubscription]:
        """Every subscription of a tenant (the service caches them for matching)."""
        rows = conn.execute(select(subscriptions).where(subscriptions.c.tenant == tenant)).all()
        return [_row(row) for row in rows]

    def tenants(self, conn: Connection) -> list[str]:
        """Every tenant that has subscriptions."""
        return list(conn.execute(select(subscriptions.c.tenant).distinct()).scalars().all())

    def periodic_tenants(self, conn: Connection) -> list[str]:
        """Tenants that have periodic (``timeInterval``) subscriptions."""
        query = select(subscriptions.c.tenant).where(subscriptions.c.next_run_at.is_not(None)).distinct()
        return list(conn.execute(query).scalars().all())

    def signature(self, conn: Connection) -> tuple[int, str | None]:
        """(count, newest modification) over all tenants: changes whenever any subscription does.

        A creation or change moves the newest ``modified_at``; a deletion lowers the count.
        """
        row = conn.execute(select(func.count(), func.max(subscriptions.c.modified_at)).select_from(subscriptions)).one()
        return int(row[0]), row[1]

    def add_counters(self, conn: Connection, deltas: Mapping[tuple[str, str], Counters]) -> None:
        """Add delivery counters to many subscriptions in one statement (executemany)."""
        if not deltas:
            return
        table = subscriptions
        statement = (
            update(table)
            .where(table.c.tenant == bindparam("b_tenant"), table.c.subscription_id == bindparam("b_id"))
            .values(
                times_sent=table.c.times_sent + bindparam("b_sent"),
                times_failed=table.c.times_failed + bindparam("b_failed"),
                last_notification=func.coalesce(bindparam("b_last", type_=String(32)), table.c.last_notification),
                last_success=func.coalesce(bindparam("b_success", type_=String(32)), table.c.last_success),
                last_failure=func.coalesce(bindparam("b_failure", type_=String(32)), table.c.last_failure),
            )
        )
        conn.execute(
            statement,
            [
                {
                    "b_tenant": tenant,
                    "b_id": subscription_id,
                    "b_sent": delta.times_sent,
                    "b_failed": delta.times_failed,
                    "b_last": delta.last_notification,
                    "b_success": delta.last_success,
                    "b_failure": delta.last_failure,
                }
                for (tenant, subscription_id), delta in sorted(deltas.items())
            ],
        )

    def claim_run(self, conn: Connection, tenant: str, subscription_id: str, now: float, next_run: float) -> bool:
        """Claim the periodic notification due at ``now``: True for exactly one process.

        A compare-and-set on ``next_run_at``: the winner moves it to ``next_run``.
        """
        table = subscriptions
        result = conn.execute(
            update(table)
            .where(
                and_(
                    table.c.tenant == tenant,
                    table.c.subscription_id == subscription_id,
                    table.c.next_run_at <= now,  # NULL (not periodic) never matches
                )
            )
            .values(next_run_at=next_run)
        )
        return bool(result.rowcount)
