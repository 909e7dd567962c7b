"""The context service: every read and write of the city's entities goes through here.

Operations take and return entities in the internal form (see
:mod:`urbis.context.model`); the web layer turns requests into that form and
renders the results.  Each write runs in one transaction and, once committed,
publishes :class:`EntityChanged` for subscriptions, solutions and live views.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError

from urbis.context import model
from urbis.context.history import HistoryEntry, HistoryWriter, Learned, iso_to_us
from urbis.context.model import Entity
from urbis.context.query.geo import entity_shapes, parse_geoquery
from urbis.context.query.qlang import compile_q, compile_scope_q, parse_q
from urbis.context.query.typesel import parse_type_selection
from urbis.context.readings import apply_measures, change_history, instance_stamps, new_entity
from urbis.context.store import EntityFilter, EntityStore
from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import (
    AlreadyExists,
    BadRequestData,
    InvalidRequest,
    NonexistentTenant,
    NotFound,
    UrbisError,
)
from urbis.ingestion.messages import DeviceReadings, Measure, RejectedReadings, SinkResult

Expand = Callable[[str], str]
NGSILD_LOCATION = "https://uri.etsi.org/ngsi-ld/location"


@dataclass(frozen=True)
class EntityChanged:
    """An entity was created, changed or deleted (published after commit)."""

    tenant: str
    entity_id: str
    operation: Literal["create", "update", "delete"]
    current: Entity | None
    previous: Entity | None
    attributes: tuple[str, ...] = ()


@dataclass
class UpdateResult:
    """Outcome of an attribute operation that may partly fail (HTTP 207)."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class BatchResult:
    """Outcome of a batch operation: ids that succeeded, ids that failed and why."""

    success: list[str] = field(default_factory=list)
    errors: list[tuple[str | None, UrbisError]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EntitySelector:
    """One entity selector of a query body: its members hold together (AND)."""

    id: str | None = None
    id_pattern: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class QueryParams:
    """An entity query as the client gave it (terms not yet expanded)."""

    ids: tuple[str, ...] | None = None
    id_pattern: str | None = None
    type: str | None = None
    attrs: tuple[str, ...] | None = None
    q: str | None = None
    scope_q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False
    selectors: tuple[EntitySelector, ...] | None = None  # alternatives (OR), from a query body


class ContextService:
    """Entities of every tenant, with NGSI-LD semantics."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        default_tenant: str,
        clock: Clock | None = None,
        keep_history: bool = True,
        reading_terms: Expand | None = None,
    ):
        """``reading_terms`` expands the attribute and type names devices are mapped to (the Urbis context)."""
        self.db = db
        self.bus = bus
        self.clock = clock or SystemClock()
        self.default_tenant = default_tenant
        self.store = EntityStore(is_postgres=db.is_postgres)
        self.history = HistoryWriter(is_postgres=db.is_postgres)
        self.keep_history = keep_history
        self._reading_terms: Expand = reading_terms or (lambda name: name)
        self._known_tenants: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------

    def now(self) -> str:
        """The current time in the stored form."""
        return model.utc_now_iso(self.clock.now())

    def _check_tenant(self, tenant: str) -> None:
        """Reads of an unknown tenant fail with NonexistentTenant; the default always exists."""
        if tenant == self.default_tenant or tenant in self._known_tenants:
            return
        with self.db.read() as conn:
            if self.store.tenant_exists(conn, tenant):
                self._known_tenants.add(tenant)
                return
        raise NonexistentTenant(f"tenant '{tenant}' does not exist")

    def _ensure_tenant(self, conn: Any, tenant: str) -> None:
        if tenant not in self._known_tenants:
            self.store.ensure_tenant(conn, tenant, self.now())
            self._known_tenants.add(tenant)

    def _publish(self, events: Sequence[EntityChanged]) -> None:
        for event in events:
            self.bus.publish(event)

    def _keep(self, conn: Any, entries: Sequence[HistoryEntry]) -> tuple[int, Learned | None]:
        """Append history entries in the caller's transaction (no-op when history is off)."""
        if not self.keep_history or not entries:
            return 0, None
        return self.history.append(conn, entries, recorded_us=iso_to_us(self.now()))

    def _learned(self, learned: Learned | None) -> None:
        """Cache what a committed transaction created in history."""
        if learned is not None:
            self.history.remember(learned)

    def _load(self, conn: Any, tenant: str, entity_id: str) -> Entity:
        entity = self.store.get(conn, tenant, entity_id, for_update=True)
        if entity is None:
            raise NotFound(f"entity {entity_id} does not exist")
        return entity

    def tenants(self) -> list[str]:
        """Every tenant that holds or held data."""
        with self.db.read() as conn:
            names = set(self.store.list_tenants(conn))
        return sorted(names | {self.default_tenant})

    # -- single entities -------------------------------------------------------------------

    def create_entity(self, tenant: str, entity: Entity) -> None:
        """Create an entity; AlreadyExists if its id is taken."""
        now = self.now()
        model.stamp_new_entity(entity, now)
        try:
            with self.db.write() as conn:
                self._ensure_tenant(conn, tenant)
                if self.store.get(conn, tenant, entity["id"]) is not None:
                    raise AlreadyExists(f"entity {entity['id']} already exists")
                self.store.insert_many(conn, tenant, [entity])
                _, learned = self._keep(conn, change_history(tenant, entity, None))
        except IntegrityError as exc:  # another process created it between our check and insert
            raise AlreadyExists(f"entity {entity['id']} already exists") from exc
        self._learned(learned)
        self._publish([EntityChanged(tenant, entity["id"], "create", entity, None, tuple(entity["attrs"]))])

    def get_entity(self, tenant: str, entity_id: str) -> Entity:
        """One entity; NotFound if absent."""
        model.check_entity_id(entity_id)
        self._check_tenant(tenant)
        with self.db.read() as conn:
            entity = self.store.get(conn, tenant, entity_id)
        if entity is None:
            raise NotFound(f"entity {entity_id} does not exist")
        return entity

    def get_entities(self, tenant: str, ids: Sequence[str]) -> dict[str, Entity]:
        """The existing entities among ``ids`` (missing ones are simply absent)."""
        self._check_tenant(tenant)
        with self.db.read() as conn:
            return self.store.get_many(conn, tenant, ids)

    def delete_entity(self, tenant: str, entity_id: str) -> None:
        """Delete an entity; NotFound if absent."""
        model.check_entity_id(entity_id)
        self._check_tenant(tenant)
        with self.db.write() as conn:
            previous = self._load(conn, tenant, entity_id)
            self.store.delete_many(conn, tenant, [entity_id])
        self._publish([EntityChanged(tenant, entity_id, "delete", None, previous, tuple(previous["attrs"]))])

    def _change(self, tenant: str, entity_id: str, change: Callable[[Entity, str], Any]) -> Any:
        """Load, change in memory, save, publish: the shape of every single-entity update."""
        model.check_entity_id(entity_id)
        self._check_tenant(tenant)
        now = self.now()
        with self.db.write() as conn:
            current = self._load(conn, tenant, entity_id)
            previous = copy.deepcopy(current)
            outcome = change(current, now)
            if isinstance(outcome, dict) and "id" in outcome:
                current = outcome
            self.store.update_many(conn, tenant, [current])
            _, learned = self._keep(conn, change_history(tenant, current, instance_stamps(previous)))
        self._learned(learned)
        attributes = tuple(a for a in set(previous["attrs"]) | set(current["attrs"]))
        self._publish([EntityChanged(tenant, entity_id, "update", current, previous, attributes)])
        return outcome

    def replace_entity(self, tenant: str, entity_id: str, replacement: Entity) -> None:
        """Replace a whole entity, keeping its creation time."""
        self._change(tenant, entity_id, lambda current, now: model.replace_entity(current, replacement, now))

    def merge_entity(self, tenant: str, entity_id: str, fragment: Entity) -> None:
        """Merge a fragment into an entity (PATCH /entities/{id})."""
        self._change(tenant, entity_id, lambda current, now: model.merge_entity(current, fragment, now))

    def append_attributes(self, tenant: str, entity_id: str, fragment: Entity, *, no_overwrite: bool) -> UpdateResult:
        """Add attributes (POST /entities/{id}/attrs)."""

        def change(current: Entity, now: str) -> UpdateResult:
            updated, not_updated = model.append_attributes(current, fragment, now, no_overwrite=no_overwrite)
            if "scope" in fragment:
                model.append_scope(current, fragment["scope"], now, no_overwrite=no_overwrite)
                updated.append(model.SCOPE_IRI)
            return UpdateResult(updated, not_updated)

        result: UpdateResult = self._change(tenant, entity_id, change)
        return result

    def update_attributes(self, tenant: str, entity_id: str, fragment: Entity) -> UpdateResult:
        """Update existing attributes (PATCH /entities/{id}/attrs)."""

        def change(current: Entity, now: str) -> UpdateResult:
            updated, not_updated = model.update_attributes(current, fragment, now)
            if "scope" in fragment:
                if model.update_scope(current, fragment["scope"], now):
                    updated.append(model.SCOPE_IRI)
                else:
                    not_updated.append((model.SCOPE_IRI, "the entity has no scope to update"))
            return UpdateResult(updated, not_updated)

        result: UpdateResult = self._change(tenant, entity_id, change)
        return result

    def partial_update_attribute(
        self, tenant: str, entity_id: str, name: str, patch: model.Instance, *, dataset_id: str | None
    ) -> None:
        """Partially update one attribute instance (PATCH /entities/{id}/attrs/{attrId})."""

        def change(current: Entity, now: str) -> None:
            instances = current["attrs"].get(name)
            index = (
                None
                if instances is None
                else next((i for i, inst in enumerate(instances) if inst.get("datasetId") == dataset_id), None)
            )
            if instances is None or index is None:
                raise NotFound(f"entity {entity_id} has no attribute {name}" + _dataset_note(dataset_id))
            if model.is_null_instance(patch):
                del instances[index]
                if not instances:
                    del current["attrs"][name]
            else:
                # A partial update patches members of the attribute; it cannot change its type (5.6.4).
                if "type" in patch and patch["type"] != instances[index].get("type"):
                    raise BadRequestData(f"attribute {name} is a {instances[index].get('type')}, not a {patch['type']}")
                instances[index] = model.merge_instance(instances[index], patch, now)
            current["modifiedAt"] = now

        self._change(tenant, entity_id, change)

    def replace_attribute(self, tenant: str, entity_id: str, name: str, instance: model.Instance) -> None:
        """Replace one attribute instance (PUT /entities/{id}/attrs/{attrId})."""

        def change(current: Entity, now: str) -> None:
            instances = current["attrs"].get(name)
            dataset_id = instance.get("datasetId")
            index = (
                None
                if instances is None
                else next((i for i, inst in enumerate(instances) if inst.get("datasetId") == dataset_id), None)
            )
            if instances is None or index is None:
                raise NotFound(f"entity {entity_id} has no attribute {name}" + _dataset_note(dataset_id))
            created = instances[index].get("createdAt")
            model.stamp_new_entity({"attrs": {name: [instance]}}, now)
            instance["createdAt"] = created or now
            instances[index] = instance
            current["modifiedAt"] = now

        self._change(tenant, entity_id, change)

    def delete_attribute(
        self, tenant: str, entity_id: str, name: str, *, dataset_id: str | None = None, delete_all: bool = False
    ) -> None:
        """Delete an attribute or one of its instances."""

        def change(current: Entity, now: str) -> None:
            if not model.delete_attribute(current, name, dataset_id=dataset_id, delete_all=delete_all):
                raise NotFound(f"entity {entity_id} has no attribute {name}" + _dataset_note(dataset_id))
            current["modifiedAt"] = now

        self._change(tenant, entity_id, change)

    # -- batches ---------------------------------------------------------------------------

    def upsert_documents(self, tenant: str, documents: Sequence[dict[str, Any]]) -> BatchResult:
        """Create or replace entities written in Urbis's own terms (compact, the Urbis @context).

        How the solutions and operations write the entities they derive (alarms, indices,
        forecasts): each document is validated as an NGSI-LD entity, then upserted whole.
        """
        now = self.now()
        items = [model.build_entity(document, self._reading_terms, now) for document in documents]
        return self.batch(tenant, items, "upsert-replace")

    def update_documents(self, tenant: str, documents: Sequence[dict[str, Any]]) -> BatchResult:
        """Add or overwrite attributes of existing entities, given in Urbis's own terms.

        How a solution writes what it derives onto entities it does not own (a parking
        zone's occupancy): other attributes stay as they are.
        """
        now = self.now()
        items = [model.build_entity(document, self._reading_terms, now) for document in documents]
        return self.batch(tenant, items, "update")

    def batch(
        self,
        tenant: str,
        items: Sequence[Entity],
        operation: Literal["create", "upsert-replace", "upsert-update", "update", "update-noOverwrite", "merge"],
    ) -> BatchResult:
        """Apply one batch operation; each entity succeeds or fails on its own.

        Entities named twice in one batch are applied in order, the later on
        top of the earlier, so the batch means what it would sequentially.
        """
        if not items:
            return BatchResult()
        try:
            return self._batch_once(tenant, items, operation)
        except IntegrityError:
            # Another process inserted one of these ids since we read them: read again and redo.
            return self._batch_once(tenant, items, operation)

    def _batch_once(
        self,
        tenant: str,
        items: Sequence[Entity],
        operation: Literal["create", "upsert-replace", "upsert-update", "update", "update-noOverwrite", "merge"],
    ) -> BatchResult:
        result = BatchResult()
        now = self.now()
        events: list[EntityChanged] = []
        with self.db.write() as conn:
            stored = self.store.get_many(conn, tenant, [e["id"] for e in items], for_update=True)
            previous = (
                {entity_id: copy.deepcopy(doc) for entity_id, doc in stored.items()} if self._wants_events() else {}
            )
            stamps = {entity_id: instance_stamps(doc) for entity_id, doc in stored.items()} if self.keep_history else {}
            state: dict[str, Entity] = dict(stored)
            created: dict[str, Entity] = {}
            changed: dict[str, Entity] = {}
            succeeded: set[str] = set()
            for item in items:
                entity_id = item["id"]
                current = state.get(entity_id)
                try:
                    if current is None:
                        if operation in ("update", "update-noOverwrite", "merge"):
                            raise NotFound(f"entity {entity_id} does not exist")
                        if "type" not in item:
                            raise BadRequestData(f"entity {entity_id} has no type")
                        entity = model.stamp_new_entity(item, now)
                        state[entity_id] = created[entity_id] = entity
                    elif operation == "create":
                        raise AlreadyExists(f"entity {entity_id} already exists")
                    elif operation == "upsert-replace":
                        replacement = model.replace_entity(current, item, now)
                        state[entity_id] = replacement
                        (created if entity_id in created else changed)[entity_id] = replacement
                    elif operation == "merge":
                        model.merge_entity(current, item, now)
                        if entity_id not in created:
                            changed[entity_id] = current
                    else:
                        _, kept = model.append_attributes(
                            current, item, now, no_overwrite=operation == "update-noOverwrite"
                        )
                        if entity_id not in created:
                            changed[entity_id] = current
                        if kept:  # the new attributes are saved; the entity still reports what was kept
                            names = ", ".join(sorted({name for name, _ in kept}))
                            raise BadRequestData(f"attributes not updated (they exist, noOverwrite): {names}")
                except UrbisError as error:
                    result.errors.append((entity_id, error))
                    continue
                if entity_id not in succeeded:
                    succeeded.add(entity_id)
                    result.success.append(entity_id)
            result.created = list(created)
            if created:  # a batch that creates nothing must not create its tenant either
                self._ensure_tenant(conn, tenant)
            self.store.insert_many(conn, tenant, list(created.values()))
            self.store.update_many(conn, tenant, list(changed.values()))
            entries: list[HistoryEntry] = []
            if self.keep_history:
                for entity_id, entity in (*created.items(), *changed.items()):
                    entries.extend(change_history(tenant, entity, stamps.get(entity_id)))
            _, learned = self._keep(conn, entries)
        self._learned(learned)
        if created and self.store.note_growth(len(created)):
            with self.db.write() as conn:
                self.store.analyze(conn)
        if self._wants_events():
            for entity_id, entity in created.items():
                events.append(EntityChanged(tenant, entity_id, "create", entity, None, tuple(entity["attrs"])))
            for entity_id, entity in changed.items():
                events.append(
                    EntityChanged(tenant, entity_id, "update", entity, previous.get(entity_id), tuple(entity["attrs"]))
                )
            self._publish(events)
        return result

    def batch_delete(self, tenant: str, ids: Sequence[str]) -> BatchResult:
        """Delete many entities; missing ones are reported as errors."""
        result = BatchResult()
        self._check_tenant(tenant)
        with self.db.write() as conn:
            stored = self.store.get_many(conn, tenant, ids, for_update=True)
            for entity_id in ids:
                if entity_id in stored and entity_id not in result.success:
                    result.success.append(entity_id)
                elif entity_id not in result.success:
                    result.errors.append((entity_id, NotFound(f"entity {entity_id} does not exist")))
            self.store.delete_many(conn, tenant, result.success)
        if self._wants_events():
            self._publish(
                [EntityChanged(tenant, i, "delete", None, stored[i], tuple(stored[i]["attrs"])) for i in result.success]
            )
        return result

    def _wants_events(self) -> bool:
        return self.bus.has_subscribers(EntityChanged)

    # -- device readings (the ingestion sink) ---------------------------------------------

    def record(self, batch: Sequence[DeviceReadings], *, received_us: int) -> SinkResult:
        """Store device readings: current values and history, in one transaction (the ReadingSink).

        A device's first readings create its entity (with the device's seed
        attributes).  Readings that cannot be applied (e.g. a seed that is not
        valid NGSI-LD) are returned as rejected; the rest are stored.
        """
        if not batch:
            return SinkResult(stored=0)
        try:
            return self._record_once(batch)
        except IntegrityError:
            # Another process created one of these entities since we read them: read again and redo.
            return self._record_once(batch)

    def _record_once(self, batch: Sequence[DeviceReadings]) -> SinkResult:
        now = self.now()
        expand = self._reading_terms
        grouped: dict[str, dict[str, list[DeviceReadings]]] = {}
        for readings in batch:
            grouped.setdefault(readings.tenant, {}).setdefault(readings.entity_id, []).append(readings)
        rejected: list[RejectedReadings] = []
        events: list[EntityChanged] = []
        wants_events = self._wants_events()
        measures = 0
        inserted = 0
        created_count = 0
        with self.db.write() as conn:
            entries: list[HistoryEntry] = []
            for tenant, per_entity in grouped.items():
                self._ensure_tenant(conn, tenant)
                stored = self.store.get_many(conn, tenant, list(per_entity), for_update=True)
                created: list[Entity] = []
                changed: list[Entity] = []
                for entity_id, group in per_entity.items():
                    entity = stored.get(entity_id)
                    try:
                        model.check_entity_id(entity_id)
                        fresh = entity is None
                        if entity is None:
                            entity = new_entity(group[0], expand, now)
                        pairs: list[tuple[str, Measure]] = [
                            (expand(model.check_name(measure.attribute)), measure)
                            for readings in group
                            for measure in readings.measures
                        ]
                    except UrbisError as error:
                        rejected.extend(RejectedReadings(readings, error.detail) for readings in group)
                        continue
                    # Readings replace instances and never mutate them: a shallow snapshot is enough.
                    previous = None
                    if wants_events and not fresh:
                        previous = {**entity, "attrs": {k: list(v) for k, v in entity["attrs"].items()}}
                    attributes, history = apply_measures(tenant, entity, pairs, now)
                    entries.extend(history)
                    measures += len(pairs)
                    if fresh:
                        created.append(entity)
                    elif attributes:
                        changed.append(entity)
                    if wants_events and (fresh or attributes):
                        operation: Literal["create", "update"] = "create" if fresh else "update"
                        events.append(EntityChanged(tenant, entity_id, operation, entity, previous, tuple(attributes)))
                self.store.insert_many(conn, tenant, created)
                self.store.update_documents(conn, tenant, changed)
                created_count += len(created)
            inserted, learned = self._keep(conn, entries)
        self._learned(learned)
        if created_count and self.store.note_growth(created_count):
            with self.db.write() as conn:
                self.store.analyze(conn)
        self._publish(events)
        stored_count = inserted if self.keep_history else measures
        return SinkResult(stored=stored_count, duplicates=measures - stored_count, rejected=rejected)

    # -- queries ---------------------------------------------------------------------------

    def compile_filter(self, params: QueryParams, expand: Expand) -> EntityFilter:
        """Turn client query parameters into a store filter (terms expanded once)."""
        tests: list[Callable[[Entity], bool]] = []
        type_dnf = None
        if params.type is not None:
            type_dnf = tuple(parse_type_selection(params.type).to_dnf(expand))
        id_pattern = None
        if params.id_pattern is not None:
            try:
                id_pattern = re.compile(params.id_pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") from exc
        if params.ids is not None:
            for entity_id in params.ids:
                if not model.is_uri(entity_id):
                    raise BadRequestData(f"id must be a URI, got {entity_id!r:.100}")
        if params.q is not None:
            tests.append(compile_q(parse_q(params.q), expand))
        if params.scope_q is not None:
            scope_test = compile_scope_q(params.scope_q)
            tests.append(lambda entity: scope_test(entity.get("scope")))
        if params.attrs is not None:
            wanted = frozenset(expand(a) for a in params.attrs)
            tests.append(lambda entity: not wanted.isdisjoint(entity["attrs"]))
        geo = parse_geoquery(params.georel, params.geometry, params.coordinates, params.geoproperty)
        geo_iri = None
        search_box = None
        if geo is not None:
            geo_iri = expand(geo.geoproperty)
            search_box = geo.search_box()

            def geo_test(entity: Entity, geo: Any = geo, geo_iri: str = geo_iri or "") -> bool:
                return any(geo.matches(shape) for shape in entity_shapes(entity, geo_iri))

            tests.append(geo_test)
        alternatives = None
        if params.selectors:
            alternatives, selector_test = self._compile_selectors(params.selectors, expand)
            tests.append(selector_test)
        refine = None
        if tests:
            refine = tests[0] if len(tests) == 1 else (lambda entity: all(test(entity) for test in tests))
        return EntityFilter(
            ids=params.ids,
            id_pattern=id_pattern,
            type_dnf=type_dnf,
            geo_iri=geo_iri,
            search_box=search_box,
            refine=refine,
            alternatives=alternatives,
        )

    @staticmethod
    def _compile_selectors(
        selectors: Sequence[EntitySelector], expand: Expand
    ) -> tuple[tuple[EntityFilter, ...], Callable[[Entity], bool]]:
        """SQL prefilters (one per selector, OR'd) and the exact test in Python."""
        prefilters = []
        tests = []
        for selector in selectors:
            if selector.id is not None and not model.is_uri(selector.id):
                raise BadRequestData(f"id must be a URI, got {selector.id!r:.100}")
            type_expr = parse_type_selection(selector.type) if selector.type is not None else None
            pattern = None
            if selector.id_pattern is not None and selector.id is None:  # with an id, idPattern is ignored
                try:
                    pattern = re.compile(selector.id_pattern)
                except (re.error, RecursionError, OverflowError) as exc:
                    raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") from exc
            prefilters.append(
                EntityFilter(
                    ids=(selector.id,) if selector.id is not None else None,
                    type_dnf=tuple(type_expr.to_dnf(expand)) if type_expr is not None else None,
                )
            )
            type_test = type_expr.compile(expand) if type_expr is not None else None
            tests.append((selector.id, pattern, type_test))

        def matches(entity: Entity) -> bool:
            return any(
                (entity_id is None or entity["id"] == entity_id)
                and (pattern is None or pattern.search(entity["id"]) is not None)
                and (type_test is None or type_test(entity["type"]))
                for entity_id, pattern, type_test in tests
            )

        return tuple(prefilters), matches

    def query(
        self, tenant: str, params: QueryParams, expand: Expand, *, allow_unfiltered: bool = False
    ) -> tuple[list[Entity], int | None]:
        """One page of entities matching ``params`` and, if asked, the total count."""
        if (
            not allow_unfiltered
            and not params.selectors
            and params.type is None
            and params.ids is None
            and params.id_pattern is None
            and params.attrs is None
            and (params.q is None and params.georel is None and params.scope_q is None)
        ):
            raise BadRequestData("a query needs at least one of type, id, idPattern, attrs, q, geoQ or scopeQ")
        where = self.compile_filter(params, expand)
        self._check_tenant(tenant)
        with self.db.read() as conn:
            return self.store.search(conn, tenant, where, limit=params.limit, offset=params.offset, count=params.count)

    def entities_of_type(self, tenant: str, type_iri: str) -> list[Entity]:
        """Every entity of one (expanded) type: how the solutions read their part of the city."""
        with self.db.read() as conn:
            return list(self.store.iter_all(conn, tenant, EntityFilter(type_dnf=(frozenset({type_iri}),))))

    def purge(
        self,
        tenant: str,
        params: QueryParams,
        expand: Expand,
        *,
        keep: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
    ) -> int:
        """Delete every matching entity, or only some of their attributes (keep/drop)."""
        if keep is not None and drop is not None:
            raise BadRequestData("keep and drop cannot be used together")
        where = self.compile_filter(params, expand)
        self._check_tenant(tenant)
        now = self.now()
        with self.db.write() as conn:
            matched = list(self.store.iter_all(conn, tenant, where))
            if keep is None and drop is None:
                self.store.delete_many(conn, tenant, [e["id"] for e in matched])
                events = [EntityChanged(tenant, e["id"], "delete", None, e, tuple(e["attrs"])) for e in matched]
            else:
                names = {expand(n) for n in (keep if keep is not None else drop or ())}
                changed = []
                for entity in matched:
                    before = set(entity["attrs"])
                    entity["attrs"] = {k: v for k, v in entity["attrs"].items() if (k in names) == (keep is not None)}
                    if set(entity["attrs"]) != before:
                        entity["modifiedAt"] = now
                        changed.append(entity)
                self.store.update_many(conn, tenant, changed)
                events = [EntityChanged(tenant, e["id"], "update", e, None, tuple(e["attrs"])) for e in changed]
        if self._wants_events():
            self._publish(events)
        return len(matched)

    # -- discovery -------------------------------------------------------------------------

    def type_counts(self, tenant: str) -> dict[str, int]:
        """Entity count per expanded type."""
        self._check_tenant(tenant)
        with self.db.read() as conn:
            return self.store.type_counts(conn, tenant)

    def attribute_survey(self, tenant: str, type_iri: str | None = None) -> dict[str, dict[str, Any]]:
        """Per attribute IRI: how many entities carry it, its attribute types and entity types."""
        self._check_tenant(tenant)
        survey: dict[str, dict[str, Any]] = {}
        where = EntityFilter(type_dnf=(frozenset({type_iri}),)) if type_iri else None
        with self.db.read() as conn:
            for entity in self.store.iter_all(conn, tenant, where):
                for name, instances in entity["attrs"].items():
                    entry = survey.setdefault(name, {"count": 0, "attribute_types": set(), "type_names": set()})
                    entry["count"] += 1
                    entry["attribute_types"].update(i["type"] for i in instances)
                    entry["type_names"].update(entity["type"])
        return survey


def _dataset_note(dataset_id: str | None) -> str:
    return f" with datasetId {dataset_id}" if dataset_id else ""


def parse_ids(raw: str | None) -> tuple[str, ...] | None:
    """The ``id`` query parameter: a comma-separated list of URIs."""
    if raw is None:
        return None
    ids = tuple(part for part in raw.split(",") if part)
    if not ids:
        raise InvalidRequest("id must list at least one entity id")
    return ids
