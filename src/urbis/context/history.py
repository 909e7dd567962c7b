"""History of attribute values: every instance an attribute ever had, for the temporal API.

A *series* is one attribute (one datasetId) of one entity of one tenant; its
instances live in ``history`` keyed by (series, observedAt in microseconds), so
a time range of one series is one index range scan and a retried message (same
observedAt) is stored once.  Numeric values are also kept in a float column for
aggregation; ``history_rollup`` holds hourly and daily aggregates so long
ranges stay fast after raw rows are dropped by retention.

On PostgreSQL ``history`` is partitioned by month on ``observed_at`` (native
range partitioning); partitions are created on demand before rows are written
and whole partitions are dropped by retention.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from urbis.core.db import metadata
from urbis.ingestion.decoders import format_us

log = logging.getLogger(__name__)

#: Partitions of ``history`` on PostgreSQL are named with this prefix (``history_p2026_11``).
PARTITION_PREFIX = "history_p"

history_series = Table(
    "history_series",
    metadata,
    Column("series_id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr_iri", String(512), nullable=False),
    Column("dataset_id", String(512), nullable=False),  # "" for the default instance
    UniqueConstraint("tenant", "entity_id", "attr_iri", "dataset_id", name="uq_history_series_key"),
)

history = Table(
    "history",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("observed_at", BigInteger, nullable=False),  # µs since epoch: observedAt, else modifiedAt
    Column("recorded_at", BigInteger, nullable=False),  # µs since epoch: when the row was written
    Column("value_num", Float, nullable=True),  # numeric (or boolean 0/1) value, for aggregation
    Column("instance", Text, nullable=False),  # the instance in internal form, as JSON
    PrimaryKeyConstraint("series_id", "observed_at", name="pk_history"),
    # Roll-ups scan rows by the time they were written; on PostgreSQL a BRIN index does that
    # for almost no write cost (recorded_at grows with the physical order of the rows).
    Index("ix_history_recorded", "recorded_at", postgresql_using="brin"),
    postgresql_partition_by="RANGE (observed_at)",
)

history_rollup = Table(
    "history_rollup",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("period_s", Integer, nullable=False),  # 3600 (hourly) or 86400 (daily)
    Column("bucket_start", BigInteger, nullable=False),  # µs since epoch, UTC-aligned
    Column("count", BigInteger, nullable=False),
    Column("sum", Float, nullable=False),
    Column("sumsq", Float, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    PrimaryKeyConstraint("series_id", "period_s", "bucket_start", name="pk_history_rollup"),
)

#: Roll-up bookkeeping: up to where (recorded_at, µs) raw rows have been rolled up.
history_watermark = Table(
    "history_watermark",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("recorded_at", BigInteger, nullable=False),
)


def is_partition_table(name: str) -> bool:
    """Whether ``name`` is one of the PostgreSQL partitions of ``history`` (not part of the declared schema)."""
    return name.startswith(PARTITION_PREFIX)


SeriesKey = tuple[str, str, str, str]  # tenant, entity id, attribute IRI, datasetId ("" for the default)

#: The month partitions are cut at: [start, end) in µs since the epoch.
_US = 1_000_000
#: COPY in PostgreSQL's binary format: about a third of the client CPU of the text format.
_BINARY = "(FORMAT BINARY)"
_HISTORY_TYPES = ["int4", "int8", "int8", "float8", "text"]
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_AGGREGATABLE_MIN = 1e-150
_AGGREGATABLE_MAX = 1e150


def iso_to_us(value: str) -> int:
    """Microseconds since the epoch of a stored ISO timestamp (``...Z``)."""
    if value[4:5] != "-":  # written before years were padded to four digits (e.g. "999-01-01...")
        year, _, rest = value.partition("-")
        value = f"{int(year):04d}-{rest}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # stored timestamps are always UTC
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US  # integer arithmetic: a float timestamp loses the last µs


def us_to_iso(value: int) -> str:
    """The stored ISO form (UTC, microseconds, ``Z``) of µs since the epoch."""
    return format_us(value)


def numeric_value(instance: dict[str, Any]) -> float | None:
    """The value of a numeric (or boolean) Property, for aggregation; None for anything else."""
    if instance.get("type") != "Property":
        return None
    value = instance.get("value")
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    # Outside this band a square or a sum overflows or underflows PostgreSQL's double precision
    # (an error there, not infinity): such values are kept, just not aggregated.
    if number != 0.0 and not (_AGGREGATABLE_MIN <= abs(number) <= _AGGREGATABLE_MAX):
        return None
    return number if math.isfinite(number) else None


def month_of(observed_us: int) -> tuple[int, int]:
    """(year, month) of an instant."""
    moment = datetime.fromtimestamp(observed_us // _US, tz=UTC)
    return moment.year, moment.month


def partition_name(year: int, month: int) -> str:
    """The name of the partition holding ``year``-``month``."""
    return f"{PARTITION_PREFIX}{year:04d}_{month:02d}"


def partition_bounds(year: int, month: int) -> tuple[int, int]:
    """The [start, end) of a month partition in µs since the epoch."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()) * _US, int(end.timestamp()) * _US


@dataclass(slots=True)
class HistoryEntry:
    """One instance to keep: which series, when, and the instance itself."""

    key: SeriesKey
    observed_us: int
    instance: dict[str, Any]


@dataclass
class Learned:
    """Series ids and partitions one transaction created; cached only once it commits."""

    series: dict[SeriesKey, int] = field(default_factory=dict)
    partitions: set[tuple[int, int]] = field(default_factory=set)


class HistoryWriter:
    """Appends instances to history inside the caller's transaction.

    Series ids and existing partitions are cached per process.  What a
    transaction creates is returned as :class:`Learned` and must be handed to
    :meth:`remember` after commit: caching it earlier would keep ids of a
    rolled-back transaction.
    """

    def __init__(self, *, is_postgres: bool) -> None:
        self.is_postgres = is_postgres
        self._series: dict[SeriesKey, int] = {}
        self._partitions: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def remember(self, learned: Learned) -> None:
        """Cache what a committed transaction created."""
        with self._lock:
            self._series.update(learned.series)
            self._partitions.update(learned.partitions)

    def forget(self) -> None:
        """Drop the caches (after retention dropped partitions, or in tests)."""
        with self._lock:
            self._series.clear()
            self._partitions.clear()

    # -- series ----------------------------------------------------------------------------

    def _resolve_series(self, conn: Connection, keys: set[SeriesKey], learned: Learned) -> dict[SeriesKey, int]:
        with self._lock:
            found = {key: self._series[key] for key in keys if key in self._series}
        missing = keys - found.keys()
        if not missing:
            return found
        loaded = self._load_series(conn, missing)
        absent = missing - loaded.keys()
        if absent:
            dialect_insert = postgresql_insert if self.is_postgres else sqlite_insert
            rows = [{"tenant": t, "entity_id": e, "attr_iri": a, "dataset_id": d} for t, e, a, d in sorted(absent)]
            conn.execute(dialect_insert(history_series).on_conflict_do_nothing(), rows)
            loaded.update(self._load_series(conn, absent))
        learned.series.update(loaded)
        found.update(loaded)
        return found

    @staticmethod
    def _load_series(conn: Connection, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
        wanted: dict[tuple[str, str], set[SeriesKey]] = {}
        for key in keys:
            wanted.setdefault((key[0], key[1]), set()).add(key)
        by_tenant: dict[str, list[str]] = {}
        for tenant, entity_id in wanted:
            by_tenant.setdefault(tenant, []).append(entity_id)
        loaded: dict[SeriesKey, int] = {}
        c = history_series.c
        for tenant, entity_ids in by_tenant.items():
            for start in range(0, len(entity_ids), 500):
                chunk = entity_ids[start : start + 500]
                query = select(c.series_id, c.entity_id, c.attr_iri, c.dataset_id).where(
                    c.tenant == tenant, c.entity_id.in_(chunk)
                )
                for series_id, entity_id, attr_iri, dataset_id in conn.execute(query):
                    key = (tenant, entity_id, attr_iri, dataset_id)
                    if key in keys:
                        loaded[key] = series_id
        return loaded

    # -- partitions (PostgreSQL) ---------------------------------------------------------

    def _ensure_partitions(self, conn: Connection, months: set[tuple[int, int]], learned: Learned) -> None:
        with self._lock:
            missing = months - self._partitions
        for year, month in sorted(missing):
            name = partition_name(year, month)
            start, end = partition_bounds(year, month)
            # Serialise creators across processes; the lock ends with the transaction.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('urbis.history.partitions'))")
            exists = conn.exec_driver_sql("SELECT to_regclass(%(name)s) IS NOT NULL", {"name": name}).scalar()
            if not exists:
                try:
                    with conn.begin_nested():
                        conn.exec_driver_sql(
                            f"CREATE TABLE {name} PARTITION OF history FOR VALUES FROM ({start}) TO ({end})"
                        )
                except DBAPIError:
                    # Rows for this month already sit in the default partition (written before
                    # the partition existed): they stay there and new rows join them.
                    log.warning("history partition %s not created; rows go to the default partition", name)
            learned.partitions.add((year, month))

    # -- appends ---------------------------------------------------------------------------

    def append(self, conn: Connection, entries: Sequence[HistoryEntry], *, recorded_us: int) -> tuple[int, Learned]:
        """Store ``entries``; instances already in history (same series and instant) are skipped.

        Returns how many were stored and what must be :meth:`remember`-ed after commit.
        """
        learned = Learned()
        if not entries:
            return 0, learned
        series = self._resolve_series(conn, {entry.key for entry in entries}, learned)
        rows = []
        seen: set[tuple[int, int]] = set()
        for entry in entries:
            series_id = series[entry.key]
            if (series_id, entry.observed_us) in seen:  # the same instant twice in one batch: keep the first
                continue
            seen.add((series_id, entry.observed_us))
            rows.append(
                (
                    series_id,
                    entry.observed_us,
                    recorded_us,
                    numeric_value(entry.instance),
                    orjson.dumps(entry.instance).decode(),
                )
            )
        if self.is_postgres:
            days = {row[1] // _DAY_US for row in rows}  # few distinct days per batch: convert those only
            self._ensure_partitions(conn, {month_of(day * _DAY_US) for day in days}, learned)
            return self._append_postgres(conn, rows), learned
        result = conn.exec_driver_sql(
            "INSERT OR IGNORE INTO history (series_id, observed_at, recorded_at, value_num, instance) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        return max(result.rowcount, 0), learned

    @staticmethod
    def _append_postgres(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = "series_id, observed_at, recorded_at, value_num, instance"
        try:
            # Fast path: retried messages are rare, so COPY straight in and fall back on a clash.
            with conn.begin_nested(), cursor.copy(f"COPY history ({columns}) FROM STDIN {_BINARY}") as copy:
                copy.set_types(_HISTORY_TYPES)
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        except (IntegrityError, psycopg.errors.UniqueViolation):
            pass
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS history_stage "
            "(series_id integer, observed_at bigint, recorded_at bigint, value_num double precision, instance text) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE history_stage")
        with cursor.copy(f"COPY history_stage ({columns}) FROM STDIN {_BINARY}") as copy:
            copy.set_types(_HISTORY_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO history ({columns}) SELECT {columns} FROM history_stage ON CONFLICT DO NOTHING")
        inserted: int = cursor.rowcount
        cursor.execute("TRUNCATE history_stage")
        return inserted
