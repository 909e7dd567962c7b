"""The marketplace's tamper-evident log: every catalogue request, negotiation step, agreement and data access.

Entries form one hash chain per city: each entry's hash covers its own content and the hash of the
entry before it, so changing, removing or reordering any entry breaks every hash after it.
:func:`verify` walks a chain and names the first entry that does not match.

An entry is appended in the transaction of what it records (``append`` takes the open connection),
so nothing is done without its trace.  Appends to one city's chain are serialised: PostgreSQL takes
a transaction-scoped advisory lock for the city, SQLite's write transactions are exclusive anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Connection, String, Table, Text, func, insert, select, text

from urbis.core.auth.tables import UTCDateTime
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database, metadata

#: The hash the first entry of a chain links to.
GENESIS = "0" * 64
#: Entries read per query when a chain is verified.
VERIFY_PAGE = 1000

ledger = Table(
    "marketplace_ledger",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("detail", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded event: ``actor`` did ``action`` to ``target`` at ``at``."""

    tenant: str
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    #: The detail exactly as stored and hashed.
    detail_text: str = field(default="", repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The entry as APIs and the CLI show it."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }


def _canonical(detail: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(detail), option=orjson.OPT_SORT_KEYS, default=str).decode()


def entry_hash(
    tenant: str, seq: int, at: datetime, actor: str, action: str, target: str, detail: str, prev: str
) -> str:
    """The SHA-256 of an entry's content and its predecessor's hash (fields joined unambiguously as JSON)."""
    content = orjson.dumps([tenant, seq, at.astimezone(UTC).isoformat(), actor, action, target, detail, prev])
    return hashlib.sha256(content).hexdigest()


def _lock_chain(conn: Connection, tenant: str) -> None:
    if conn.dialect.name == "postgresql":
        # Held to the end of the transaction: concurrent appends to one city's chain queue up here.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"urbis-ledger:{tenant}"})


def append(
    conn: Connection,
    tenant: str,
    *,
    actor: str,
    action: str,
    target: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry to the city's chain, inside the caller's transaction."""
    _lock_chain(conn, tenant)
    last = conn.execute(
        select(ledger.c.seq, ledger.c.hash).where(ledger.c.tenant == tenant).order_by(ledger.c.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else int(last.seq) + 1
    prev = GENESIS if last is None else str(last.hash)
    body = _canonical(detail or {})
    actor, action, target = actor[:256], action[:64], target[:512]
    digest = entry_hash(tenant, seq, at, actor, action, target, body, prev)
    conn.execute(
        insert(ledger).values(
            tenant=tenant,
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            target=target,
            detail=body,
            prev_hash=prev,
            hash=digest,
        )
    )
    return LedgerEntry(tenant, seq, at, actor, action, target, orjson.loads(body), prev, digest, body)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        row.tenant,
        int(row.seq),
        row.at,
        row.actor,
        row.action,
        row.target,
        orjson.loads(row.detail),
        row.prev_hash,
        row.hash,
        row.detail,
    )


def entries(conn: Connection, tenant: str, *, after: int = 0, limit: int = VERIFY_PAGE) -> list[LedgerEntry]:
    """Entries of a city's chain with ``seq`` above ``after``, oldest first."""
    rows = conn.execute(
        select(ledger).where(ledger.c.tenant == tenant, ledger.c.seq > after).order_by(ledger.c.seq).limit(limit)
    ).all()
    return [_entry(row) for row in rows]


def chains(conn: Connection) -> list[str]:
    """The cities that have a chain."""
    return sorted(str(t) for t in conn.execute(select(ledger.c.tenant).group_by(ledger.c.tenant)).scalars())


@dataclass(frozen=True)
class Verdict:
    """What walking a chain found: how many entries were checked, and the first broken one (if any)."""

    tenant: str
    checked: int
    broken_at: int | None = None  # the seq of the first entry that does not match
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """Whether every entry matched."""
        return self.broken_at is None


def _walk(conn: Connection, tenant: str) -> Iterator[LedgerEntry]:
    after = 0
    while True:
        page = entries(conn, tenant, after=after)
        yield from page
        if len(page) < VERIFY_PAGE:
            return
        after = page[-1].seq


def verify(conn: Connection, tenant: str) -> Verdict:
    """Walk a city's chain from its first entry; the first entry whose hash, link or number does not match."""
    expected_seq, prev, checked = 1, GENESIS, 0
    for entry in _walk(conn, tenant):
        if entry.seq != expected_seq:
            return Verdict(tenant, checked, expected_seq, f"entry {expected_seq} is missing (found {entry.seq} next)")
        if entry.prev_hash != prev:
            return Verdict(tenant, checked, entry.seq, "its link does not name the entry before it")
        digest = entry_hash(
            tenant, entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.detail_text, entry.prev_hash
        )
        if digest != entry.hash:
            return Verdict(tenant, checked, entry.seq, "its content does not match its hash (it was changed)")
        prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    return Verdict(tenant, checked)


def head(conn: Connection, tenant: str) -> LedgerEntry | None:
    """The newest entry of a city's chain (its hash seals everything before it)."""
    row = conn.execute(select(ledger).where(ledger.c.tenant == tenant).order_by(ledger.c.seq.desc()).limit(1)).first()
    return None if row is None else _entry(row)


def count(conn: Connection, tenant: str) -> int:
    """How many entries a city's chain has."""
    return int(conn.execute(select(func.count()).where(ledger.c.tenant == tenant)).scalar_one())


class LedgerService:
    """The chains of every city: append (in a transaction of its own), read and verify."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        """Keep the chains in ``db``; stamp entries with ``clock``."""
        self.db = db
        self.clock = clock or SystemClock()

    def record(
        self, tenant: str, *, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None
    ) -> LedgerEntry:
        """Append one entry now, in a transaction of its own (use :func:`append` inside a change's transaction)."""
        with self.db.write() as conn:
            return append(conn, tenant, actor=actor, action=action, target=target, at=self.clock.now(), detail=detail)

    def entries(self, tenant: str, *, after: int = 0, limit: int = 100) -> list[LedgerEntry]:
        """A page of a city's chain, oldest first."""
        with self.db.read() as conn:
            return entries(conn, tenant, after=after, limit=limit)

    def verify(self, tenant: str | None = None) -> list[Verdict]:
        """Verify one city's chain, or every chain."""
        with self.db.read() as conn:
            tenants = [tenant] if tenant is not None else chains(conn)
            return [verify(conn, name) for name in tenants]
