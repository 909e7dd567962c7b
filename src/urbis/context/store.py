"""Storage of entities: tables and the queries the broker needs, on SQLite and PostgreSQL.

An entity is one row holding its internal form as JSON text, plus two narrow
index tables the queries filter on: its types, and the bounding boxes of its
GeoProperties.  Everything else (``q``, exact geometry, ``idPattern``) is
refined in Python over the few candidates these indexes leave.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from urbis.context.model import GEO_PROPERTY, Entity
from urbis.context.query.geo import bbox_of
from urbis.core.db import metadata

tenants = Table(
    "tenants",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", String(32), nullable=False),
)

entities = Table(
    "entities",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("modified_at", String(32), nullable=False),
    Column("doc", Text, nullable=False),
    PrimaryKeyConstraint("tenant", "entity_id"),
)

entity_types = Table(
    "entity_types",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("type_iri", String(512), nullable=False),
    Column("entity_id", String(512), nullable=False),
    PrimaryKeyConstraint("tenant", "type_iri", "entity_id"),
)

entity_geo = Table(
    "entity_geo",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("attr_iri", String(512), nullable=False),
    # One row per entity type, so a typed geo-query is answered from this index alone.
    Column("type_iri", String(512), nullable=False),
    Column("min_x", Float, nullable=False),
    Column("min_y", Float, nullable=False),
    Column("max_x", Float, nullable=False),
    Column("max_y", Float, nullable=False),
    # Small shapes (most: points, streets) are found by a range on min_x bounded on both
    # sides; the few large ones are always candidates and refined in Python.
    Column("large", Boolean, nullable=False),
    Index("ix_entity_geo_box", "tenant", "attr_iri", "large", "min_x", "min_y", "type_iri"),
    Index("ix_entity_geo_entity", "tenant", "entity_id"),
)

#: PostgreSQL types of the columns for binary COPY (a third of the client CPU of text COPY).
_COPY_TYPES: dict[type[Any], str] = {String: "text", Text: "text", Float: "float8", Boolean: "bool"}

#: Shapes wider or taller than this (in degrees, about 400 m) count as large for the index.
LARGE_SHAPE_DEGREES = 0.005
jsonld_contexts = Table(
    "jsonld_contexts",
    metadata,
    Column("local_id", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("document", Text, nullable=False),
)

_CHUNK = 500  # ids per IN (...) list: well inside SQLite's and PostgreSQL's parameter limits
_FETCH = 500  # rows fetched at a time when refining candidates in Python


def dumps(entity: Entity) -> str:
    """The stored JSON text of an entity."""
    return orjson.dumps(entity).decode()


def loads(text: str | bytes) -> Entity:
    """An entity from its stored JSON text."""
    result: Entity = orjson.loads(text)
    return result


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@dataclass(frozen=True)
class EntityFilter:
    """What a query selects; the store turns the indexable parts into SQL."""

    ids: tuple[str, ...] | None = None
    id_pattern: re.Pattern[str] | None = None
    type_dnf: tuple[frozenset[str], ...] | None = None  # OR of AND-sets of expanded types
    geo_iri: str | None = None  # GeoProperty the search box applies to
    search_box: tuple[float, float, float, float] | None = None
    refine: Callable[[Entity], bool] | None = None  # exact test in Python (q, geometry, scope, attrs)
    alternatives: tuple[EntityFilter, ...] | None = None  # OR of (ids, types) prefilters, e.g. entity selectors


@dataclass
class TableRows:
    """The rows that store a set of entities, table by table."""

    entities: list[dict[str, Any]]
    types: list[dict[str, Any]]
    geo: list[dict[str, Any]]


def table_rows(tenant: str, rows: Iterable[Entity], *, with_entities: bool = True) -> TableRows:
    """The entity, type-index and geo-index rows of ``rows`` (also the benchmark's raw baseline)."""
    out = TableRows([], [], [])
    for entity in rows:
        if with_entities:
            out.entities.append(
                {
                    "tenant": tenant,
                    "entity_id": entity["id"],
                    "created_at": entity["createdAt"],
                    "modified_at": entity["modifiedAt"],
                    "doc": dumps(entity),
                }
            )
        for type_iri in entity["type"]:
            out.types.append({"tenant": tenant, "type_iri": type_iri, "entity_id": entity["id"]})
        for attr_iri, instances in entity["attrs"].items():
            for instance in instances:
                if instance.get("type") != GEO_PROPERTY:
                    continue
                box = bbox_of(instance.get("value"))
                large = box[2] - box[0] > LARGE_SHAPE_DEGREES or box[3] - box[1] > LARGE_SHAPE_DEGREES
                for type_iri in entity["type"]:
                    out.geo.append(
                        {
                            "tenant": tenant,
                            "entity_id": entity["id"],
                            "attr_iri": attr_iri,
                            "type_iri": type_iri,
                            "min_x": box[0],
                            "min_y": box[1],
                            "max_x": box[2],
                            "max_y": box[3],
                            "large": large,
                        }
                    )
    return out


class EntityStore:
    """Entity rows of every tenant; each method takes a connection from the caller's transaction."""

    def __init__(self, *, is_postgres: bool):
        self.is_postgres = is_postgres
        self._inserted_since_analyze = 0
        self._rows_at_analyze = 0
        self._analyze_lock = threading.Lock()

    def note_growth(self, inserted: int) -> bool:
        """Count inserted rows; True when the planner's statistics are due for a refresh.

        PostgreSQL's autovacuum refreshes statistics a minute or more after a bulk
        load; until then it plans queries on a table it believes empty and scans
        whole tenants.  Analysing after the table grew by a fifth keeps plans right.
        """
        with self._analyze_lock:
            self._inserted_since_analyze += inserted
            due = self._inserted_since_analyze >= max(2000, self._rows_at_analyze // 5)
            if due:
                self._rows_at_analyze += self._inserted_since_analyze
                self._inserted_since_analyze = 0
            return due

    def analyze(self, conn: Connection) -> None:
        """Refresh the query planner's statistics of the entity tables."""
        tables = ", ".join(t.name for t in (entities, entity_types, entity_geo))
        conn.exec_driver_sql(f"ANALYZE {tables}" if self.is_postgres else "ANALYZE")

    # -- tenants ---------------------------------------------------------------------------

    def tenant_exists(self, conn: Connection, tenant: str) -> bool:
        """Whether ``tenant`` has been created."""
        return conn.execute(select(tenants.c.name).where(tenants.c.name == tenant)).first() is not None

    def ensure_tenant(self, conn: Connection, tenant: str, now: str) -> None:
        """Create ``tenant`` if it does not exist yet (safe when processes race to create it)."""
        if self.tenant_exists(conn, tenant):
            return
        dialect_insert = postgresql_insert if self.is_postgres else sqlite_insert
        conn.execute(dialect_insert(tenants).values(name=tenant, created_at=now).on_conflict_do_nothing())

    def list_tenants(self, conn: Connection) -> list[str]:
        """All tenant names."""
        return [row[0] for row in conn.execute(select(tenants.c.name).order_by(tenants.c.name))]

    # -- single and bulk reads -------------------------------------------------------------

    def get(self, conn: Connection, tenant: str, entity_id: str, *, for_update: bool = False) -> Entity | None:
        """One entity, or None."""
        query = select(entities.c.doc).where(entities.c.tenant == tenant, entities.c.entity_id == entity_id)
        if for_update and self.is_postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        return loads(row[0]) if row else None

    def get_many(
        self, conn: Connection, tenant: str, ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Entity]:
        """The existing entities among ``ids``, by id."""
        found: dict[str, Entity] = {}
        if self.is_postgres:
            # One array parameter: the same statement text for any number of ids (prepared once).
            lock = " FOR UPDATE" if for_update else ""
            rows = conn.exec_driver_sql(
                f"SELECT entity_id, doc FROM entities WHERE tenant = %s AND entity_id = ANY(%b::text[]){lock}",
                (tenant, list(dict.fromkeys(ids))),
            )
            for entity_id, doc in rows:
                found[entity_id] = loads(doc)
            return found
        for chunk in _chunks(list(dict.fromkeys(ids))):
            query = select(entities.c.entity_id, entities.c.doc).where(
                entities.c.tenant == tenant, entities.c.entity_id.in_(chunk)
            )
            for entity_id, doc in conn.execute(query):
                found[entity_id] = loads(doc)
        return found

    # -- writes ----------------------------------------------------------------------------

    def insert_many(self, conn: Connection, tenant: str, new: Sequence[Entity]) -> None:
        """Insert entities that do not exist yet."""
        if not new:
            return
        rows = table_rows(tenant, new)
        self.bulk_insert(conn, entities, rows.entities)
        self._insert_indexes(conn, rows)

    def update_many(self, conn: Connection, tenant: str, changed: Sequence[Entity]) -> None:
        """Overwrite existing entities and refresh their index rows."""
        if not changed:
            return
        from sqlalchemy import bindparam

        statement = (
            update(entities)
            .where(entities.c.tenant == bindparam("b_tenant"), entities.c.entity_id == bindparam("b_id"))
            .values(doc=bindparam("b_doc"), modified_at=bindparam("b_modified"), created_at=bindparam("b_created"))
        )
        conn.execute(
            statement,
            [
                {
                    "b_tenant": tenant,
                    "b_id": e["id"],
                    "b_doc": dumps(e),
                    "b_modified": e["modifiedAt"],
                    "b_created": e["createdAt"],
                }
                for e in changed
            ],
        )
        ids = [e["id"] for e in changed]
        self._delete_indexes(conn, tenant, ids)
        self._insert_indexes(conn, table_rows(tenant, changed, with_entities=False))

    def update_documents(self, conn: Connection, tenant: str, changed: Sequence[Entity]) -> None:
        """Overwrite entities whose types and GeoProperties did not change (device readings): no index rows."""
        if not changed:
            return
        if self.is_postgres:
            # One statement over arrays: thousands of row updates without a round trip each.
            # Binary parameters (%b): the text form escapes every document, ~50x slower.
            conn.exec_driver_sql(
                "UPDATE entities AS e SET doc = v.doc, modified_at = v.modified_at "
                "FROM unnest(%b::text[], %b::text[], %b::text[]) AS v(entity_id, doc, modified_at) "
                "WHERE e.tenant = %s AND e.entity_id = v.entity_id",
                ([e["id"] for e in changed], [dumps(e) for e in changed], [e["modifiedAt"] for e in changed], tenant),
            )
            return
        conn.exec_driver_sql(
            "UPDATE entities SET doc = ?, modified_at = ? WHERE tenant = ? AND entity_id = ?",
            [(dumps(e), e["modifiedAt"], tenant, e["id"]) for e in changed],
        )

    def delete_many(self, conn: Connection, tenant: str, ids: Sequence[str]) -> int:
        """Delete entities by id; returns how many existed."""
        removed = 0
        for chunk in _chunks(list(ids)):
            result = conn.execute(delete(entities).where(entities.c.tenant == tenant, entities.c.entity_id.in_(chunk)))
            removed += result.rowcount or 0
        self._delete_indexes(conn, tenant, ids)
        return removed

    def _delete_indexes(self, conn: Connection, tenant: str, ids: Sequence[str]) -> None:
        for chunk in _chunks(list(ids)):
            conn.execute(
                delete(entity_types).where(entity_types.c.tenant == tenant, entity_types.c.entity_id.in_(chunk))
            )
            conn.execute(delete(entity_geo).where(entity_geo.c.tenant == tenant, entity_geo.c.entity_id.in_(chunk)))

    def _insert_indexes(self, conn: Connection, rows: TableRows) -> None:
        self.bulk_insert(conn, entity_types, rows.types)
        self.bulk_insert(conn, entity_geo, rows.geo)

    def bulk_insert(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows with the driver's fastest path: COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        columns = [column.name for column in table.columns]
        if self.is_postgres:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            try:
                with cursor.copy(statement) as copy:
                    copy.set_types([_COPY_TYPES[type(column.type)] for column in table.columns])
                    for row in rows:
                        copy.write_row([row[name] for name in columns])
            except psycopg.errors.IntegrityError as exc:
                # The raw driver cursor bypasses SQLAlchemy: raise what callers catch for the other paths.
                raise IntegrityError(statement, None, exc) from exc
            return
        placeholders = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})",
            [tuple(row[name] for name in columns) for row in rows],
        )

    # -- queries ---------------------------------------------------------------------------

    def _conditions(self, tenant: str, where: EntityFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [entities.c.tenant == tenant]
        if where.ids is not None:
            conditions.append(entities.c.entity_id.in_(list(where.ids)))
        if where.alternatives:
            options = [and_(true(), *self._conditions(tenant, alt)[1:]) for alt in where.alternatives]
            conditions.append(or_(*options))
        geo_types = self._geo_type_filter(where)
        if where.type_dnf is not None and geo_types is None:
            alternatives: list[ColumnElement[bool]] = []
            for conjunction in where.type_dnf:
                parts = [
                    exists().where(
                        entity_types.c.tenant == tenant,
                        entity_types.c.type_iri == type_iri,
                        entity_types.c.entity_id == entities.c.entity_id,
                    )
                    for type_iri in sorted(conjunction)
                ]
                alternatives.append(and_(*parts))
            conditions.append(or_(*alternatives) if alternatives else entities.c.entity_id.is_(None))
        if where.search_box is not None and where.geo_iri is not None:
            conditions.append(
                entities.c.entity_id.in_(self._geo_candidates(tenant, where.geo_iri, where.search_box, geo_types))
            )
        return conditions

    @staticmethod
    def _geo_type_filter(where: EntityFilter) -> list[str] | None:
        """The types a geo subquery can filter on itself: when the selection is a plain OR of types."""
        if where.search_box is None or where.type_dnf is None:
            return None
        if not all(len(conjunction) == 1 for conjunction in where.type_dnf):
            return None
        return sorted(next(iter(conjunction)) for conjunction in where.type_dnf)

    @staticmethod
    def _geo_candidates(
        tenant: str, geo_iri: str, box: tuple[float, float, float, float], types: list[str] | None
    ) -> Any:
        """Ids of entities whose GeoProperty's bounding box meets ``box`` (an uncorrelated subquery)."""
        min_x, min_y, max_x, max_y = box
        g = entity_geo.c
        overlaps = [g.min_x <= max_x, g.max_x >= min_x, g.min_y <= max_y, g.max_y >= min_y]
        if types is not None:
            overlaps.append(g.type_iri.in_(types))
        scope = (g.tenant == tenant, g.attr_iri == geo_iri)
        # Two index seeks: a range bounded on both sides for small shapes, and the few large ones.
        small = select(g.entity_id).where(
            *scope,
            g.large == False,  # noqa: E712 - "= false" lets the index be used; "IS false" does not
            g.min_x.between(min_x - LARGE_SHAPE_DEGREES, max_x),
            g.min_y.between(min_y - LARGE_SHAPE_DEGREES, max_y),
            *overlaps,
        )
        large = select(g.entity_id).where(*scope, g.large == True, *overlaps)  # noqa: E712
        return union(small, large)

    def _single_type_query(self, tenant: str, where: EntityFilter) -> Any:
        # The common case "one type, maybe a box": drive the query from the type index,
        # which is already ordered by entity id, instead of probing it per entity.
        assert where.type_dnf is not None
        (type_iri,) = tuple(where.type_dnf[0])
        conditions = [entity_types.c.tenant == tenant, entity_types.c.type_iri == type_iri]
        other = EntityFilter(ids=where.ids, geo_iri=where.geo_iri, search_box=where.search_box)
        conditions.extend(self._conditions(tenant, other)[1:])
        return (
            select(entities.c.entity_id, entities.c.doc)
            .select_from(
                entity_types.join(
                    entities,
                    and_(entities.c.tenant == entity_types.c.tenant, entities.c.entity_id == entity_types.c.entity_id),
                )
            )
            .where(*conditions)
            .order_by(entity_types.c.entity_id)
        )

    def _base_query(self, tenant: str, where: EntityFilter) -> Any:
        single_type = (
            where.alternatives is None
            and where.type_dnf is not None
            and len(where.type_dnf) == 1
            and len(where.type_dnf[0]) == 1
        )
        if single_type and where.search_box is None:
            return self._single_type_query(tenant, where)
        return (
            select(entities.c.entity_id, entities.c.doc)
            .where(*self._conditions(tenant, where))
            .order_by(entities.c.entity_id)
        )

    def search(
        self, conn: Connection, tenant: str, where: EntityFilter, *, limit: int, offset: int, count: bool
    ) -> tuple[list[Entity], int | None]:
        """One page of matching entities in id order, and the total if ``count``."""
        base = self._base_query(tenant, where)
        if where.id_pattern is None and where.refine is None:
            page = [loads(doc) for _, doc in conn.execute(base.limit(limit).offset(offset))] if limit > 0 else []
            total = None
            if count:
                total = conn.execute(select(func.count()).select_from(base.order_by(None).subquery())).scalar_one()
            return page, total
        page = []
        matched = 0
        for entity in self._refined(conn, base, where):
            if offset <= matched < offset + limit:
                page.append(entity)
            matched += 1
            if not count and matched >= offset + limit:
                break
        return page, (matched if count else None)

    def _refined(self, conn: Connection, base: Any, where: EntityFilter) -> Iterator[Entity]:
        pattern = where.id_pattern
        refine = where.refine
        # A bounded candidate set (ids or a search box) is read in one go; an open-ended scan
        # streams, so that a query over a large tenant never holds it all in memory.
        bounded = where.ids is not None or where.search_box is not None
        result = conn.execute(base if bounded else base.execution_options(yield_per=_FETCH))
        for entity_id, doc in result:
            if pattern is not None and not pattern.search(entity_id):
                continue
            entity = loads(doc)
            if refine is None or refine(entity):
                yield entity

    def iter_all(self, conn: Connection, tenant: str, where: EntityFilter | None = None) -> Iterator[Entity]:
        """Every matching entity (for discovery, purge and exports)."""
        where = where or EntityFilter()
        yield from self._refined(conn, self._base_query(tenant, where), where)

    def type_counts(self, conn: Connection, tenant: str) -> dict[str, int]:
        """Number of entities per expanded type."""
        query = (
            select(entity_types.c.type_iri, func.count())
            .where(entity_types.c.tenant == tenant)
            .group_by(entity_types.c.type_iri)
            .order_by(entity_types.c.type_iri)
        )
        return {type_iri: n for type_iri, n in conn.execute(query)}


class SqlContextStore:
    """Hosted and implicitly created JSON-LD contexts in the database, shared by every process."""

    def __init__(self, db: Any):
        self.db = db

    def load(self, local_id: str) -> tuple[str, str, bytes] | None:
        """(kind, url, document) of a stored context, or None."""
        with self.db.read() as conn:
            row = conn.execute(
                select(jsonld_contexts.c.kind, jsonld_contexts.c.url, jsonld_contexts.c.document).where(
                    jsonld_contexts.c.local_id == local_id
                )
            ).first()
        return (row[0], row[1], row[2].encode()) if row else None

    def save(self, local_id: str, kind: str, url: str, document: bytes) -> None:
        """Store (or overwrite) a context document."""
        with self.db.write() as conn:
            conn.execute(delete(jsonld_contexts).where(jsonld_contexts.c.local_id == local_id))
            conn.execute(
                insert(jsonld_contexts).values(local_id=local_id, kind=kind, url=url, document=document.decode())
            )

    def remove(self, local_id: str) -> None:
        """Forget a stored context."""
        with self.db.write() as conn:
            conn.execute(delete(jsonld_contexts).where(jsonld_contexts.c.local_id == local_id))

    def list_ids(self) -> list[str]:
        """The local ids of every stored context."""
        with self.db.read() as conn:
            return [row[0] for row in conn.execute(select(jsonld_contexts.c.local_id))]
