"""The subscription service: CRUD of NGSI-LD subscriptions and the consumer of ``EntityChanged``.

The event handler runs in the writer's thread, after its commit, so it only *matches* — against
an in-memory index of the tenant's subscriptions by entity type — and hands notifications to the
:class:`~urbis.context.subscriptions.notifier.Dispatcher`; rendering and delivery happen in the
dispatcher's threads.  Matching one change costs a dictionary lookup per entity type plus a few
set operations per candidate subscription, so device readings at thousands per second stay cheap.

The index is rebuilt at once when this process changes a subscription.  Other processes of the
same server notice changes through a cheap signature query (count and newest modification of
the ``subscriptions`` table) run every ``refresh_seconds`` by a housekeeping thread, which also
writes the delivery counters in batches (one executemany per round, not one UPDATE per
notification).

Throttling and the per-subscription state behind it live in the process that matched the change.
Periodic subscriptions (``timeInterval``) are claimed in the database before each run, so a
server with several processes sends each periodic notification once.

Urbis's own solutions subscribe in-process with :meth:`SubscriptionService.subscribe_local`: the
same validation, matching, throttling and Notification payloads, delivered to a Python callback
by the same worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from urbis.context.jsonld import ContextResolver, LdContext
from urbis.context.model import utc_now_iso
from urbis.context.representation import Renderer
from urbis.context.service import ContextService, EntityChanged, EntitySelector, QueryParams
from urbis.context.subscriptions.model import (
    GEO_JSON,
    JSON,
    JSON_LD,
    LOCAL_SCHEME,
    Change,
    Counters,
    Subscription,
    compile_subscription,
    describe_change,
    geojson_data,
    geojson_feature,
    matches,
    merge_fragment,
    notification,
    render_change,
    shown_subscription,
    status_of,
    validate_subscription,
)
from urbis.context.subscriptions.notifier import Delivery, Dispatcher, Key, Rendered, Timer, link_header
from urbis.context.subscriptions.store import StoredSubscription, SubscriptionStore
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists, BadRequestData, NotFound, UrbisError
from urbis.core.settings import Settings

log = logging.getLogger(__name__)

NGSILD_LOCATION = "https://uri.etsi.org/ngsi-ld/location"
#: Most entities in one periodic notification.
PERIODIC_MAX_ENTITIES = 10_000
_PERIODIC_PAGE = 1000

LocalCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, eq=False)
class _Entry:
    """A compiled subscription with the contexts it needs and, for local ones, its callback."""

    sub: Subscription
    expand_ctx: LdContext  # the @context it was written in (terms of q, attributes, types)
    render_ctx: LdContext  # the @context notifications are compacted with (jsonldContext, else expand_ctx)
    callback: LocalCallback | None = None

    @property
    def key(self) -> Key:
        return (self.sub.tenant, self.sub.id)


@dataclass(frozen=True)
class _Index:
    """The subscriptions of one tenant, arranged for matching."""

    by_type: dict[str, tuple[_Entry, ...]]  # subscriptions selecting entities by type
    by_entity: dict[str, tuple[_Entry, ...]]  # subscriptions naming every entity they select by id
    everything: tuple[_Entry, ...]  # subscriptions without entity selectors see every change
    by_id: dict[str, _Entry]  # every subscription by its own id

    @classmethod
    def build(cls, entries: list[_Entry]) -> _Index:
        by_type: dict[str, list[_Entry]] = {}
        by_entity: dict[str, list[_Entry]] = {}
        everything = []
        for entry in entries:
            if entry.sub.time_interval is not None:
                continue  # periodic: changes never notify it
            # One subscription per street light must not cost every street light's change a look.
            entity_ids = entry.sub.index_entity_ids()
            if entity_ids is not None:
                for entity_id in entity_ids:
                    by_entity.setdefault(entity_id, []).append(entry)
                continue
            types = entry.sub.index_types()
            if types is None:
                everything.append(entry)
                continue
            for type_iri in types:
                by_type.setdefault(type_iri, []).append(entry)
        return cls(
            by_type={k: tuple(v) for k, v in by_type.items()},
            by_entity={k: tuple(v) for k, v in by_entity.items()},
            everything=tuple(everything),
            by_id={entry.sub.id: entry for entry in entries},
        )

    @property
    def empty(self) -> bool:
        """Whether no change can match here."""
        return not (self.by_type or self.by_entity or self.everything)

    def candidates(self, entity_id: str, types: list[str]) -> list[_Entry]:
        """Subscriptions that may select this entity (exact checks follow)."""
        named = self.by_entity.get(entity_id, ())
        if len(types) == 1 and not self.everything and not named:
            return list(self.by_type.get(types[0], ()))
        found: dict[int, _Entry] = {id(e): e for e in self.everything}
        for entry in named:
            found[id(entry)] = entry
        for type_iri in types:
            for entry in self.by_type.get(type_iri, ()):
                found[id(entry)] = entry
        return list(found.values())


_EMPTY = _Index({}, {}, (), {})


@dataclass(eq=False)
class _Chain:
    """The tick chain of one periodic subscription; replaced (and so stopped) when the subscription changes."""

    doc: dict[str, Any]


@dataclass
class _Throttle:
    """Throttling state of one subscription in this process."""

    next_allowed: float  # monotonic time
    pending: dict[str, tuple[Change, str]] = field(default_factory=dict)
    scheduled: bool = False


class LocalSubscription:
    """Handle of an in-process subscription (:meth:`SubscriptionService.subscribe_local`)."""

    def __init__(self, service: SubscriptionService, tenant: str, subscription_id: str) -> None:
        self._service = service
        self.tenant = tenant
        self.id = subscription_id

    @property
    def counters(self) -> Counters:
        """Deliveries so far (in-process subscriptions are not stored)."""
        return self._service._local_counters.get((self.tenant, self.id), Counters())

    def cancel(self) -> None:
        """Stop the subscription."""
        self._service._remove_local(self.tenant, self.id)


class SubscriptionService:
    """NGSI-LD subscriptions of every tenant, and the notifications they cause."""

    def __init__(
        self,
        db: Database,
        context: ContextService,
        resolver: ContextResolver,
        settings: Settings,
        *,
        clock: Clock | None = None,
        refresh_seconds: float = 1.5,
        flush_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.context = context
        self.resolver = resolver
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.store = SubscriptionStore()
        self.refresh_seconds = refresh_seconds
        self.flush_seconds = flush_seconds
        self.timer = Timer()
        self.dispatcher = Dispatcher(
            workers=settings.notification_workers,
            queue_max=settings.notification_queue_max,
            retries=settings.notification_retries,
            backoff=settings.notification_backoff,
            timeout=settings.notification_timeout,
            on_outcome=self._outcome,
            now=self.clock.now,
            timer=self.timer,
        )
        self._lock = threading.RLock()
        self._indexes: dict[str, _Index] = {}
        self._stored: dict[str, list[_Entry]] = {}
        self._locals: dict[str, dict[str, _Entry]] = {}
        self._throttles: dict[Key, _Throttle] = {}
        self._periodic: dict[Key, _Chain] = {}  # periodic subscriptions with a running tick chain
        self._pending: dict[Key, Counters] = {}  # counters not yet written
        self._local_counters: dict[Key, Counters] = {}
        self._totals = {"sent": 0, "failed": 0, "dropped": 0}
        self._flush_lock = threading.Lock()
        self._signature: tuple[int, str | None] | None = None
        self._running = False
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the timer, the delivery threads and the housekeeping thread."""
        if self._running:
            return
        self._stop.clear()
        with self._lock:
            self._periodic.clear()  # chains start again with the reloads below
        self.timer.start()
        self.dispatcher.start()
        self._running = True
        self._housekeeper = threading.Thread(target=self._housekeep, name="urbis-subscriptions", daemon=True)
        self._housekeeper.start()

    def stop(self) -> None:
        """Stop every thread; counters not yet written are written now."""
        if not self._running:
            return
        self._running = False
        self._stop.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=10)
            self._housekeeper = None
        self.dispatcher.stop()
        self.timer.stop()
        self.flush_counters()

    def _load_periodic(self) -> None:
        """Load the tenants with periodic subscriptions: those run without any change happening.

        Other tenants are loaded when their first change arrives.
        """
        with self.db.read() as conn:
            self._signature = self.store.signature(conn)
            tenants = self.store.periodic_tenants(conn)
        for tenant in tenants:
            self.reload(tenant)

    def _housekeep(self) -> None:
        try:
            self._load_periodic()
        except Exception:  # the database may be briefly away; the periodic ones start with a reload
            log.exception("loading periodic subscriptions failed")
        last_refresh = time.monotonic()
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush_counters()
                if time.monotonic() - last_refresh >= self.refresh_seconds:
                    last_refresh = time.monotonic()
                    self.refresh_if_changed()
            except Exception:  # the database may be briefly away; try again next round
                log.exception("subscription housekeeping failed")

    def refresh_if_changed(self) -> None:
        """Reload the cached subscriptions when another process changed any (a cheap query)."""
        with self.db.read() as conn:
            signature = self.store.signature(conn)
        if signature == self._signature:
            return
        self._signature = signature
        with self.db.read() as conn:
            known = set(self._stored) | set(self.store.periodic_tenants(conn))
        for tenant in known:
            self.reload(tenant)

    def flush_counters(self) -> None:
        """Write the delivery counters gathered since the last flush (one batched statement)."""
        # Readers take the same lock, so they never see counters both in memory and in the table.
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                with self.db.write() as conn:
                    self.store.add_counters(conn, pending)
            except Exception:
                with self._lock:  # keep them for the next round
                    for key, delta in pending.items():
                        self._pending[key] = delta.plus(self._pending.get(key, Counters()))
                raise

    # ------------------------------------------------------------------ CRUD

    def now(self) -> datetime:
        """The current time (UTC)."""
        return self.clock.now()

    def create(self, tenant: str, body: Any, ctx: LdContext) -> str:
        """Create a subscription written in ``ctx``; returns its id (AlreadyExists if taken)."""
        doc = validate_subscription(body)
        self._compile(tenant, doc, ctx)  # refuses what cannot be compiled (e.g. too complex types)
        context = None if ctx.is_default else ctx.source
        with self.db.write() as conn:
            # Stamped with the real clock: other processes notice changes by these stamps.
            if not self.store.insert(conn, tenant, doc, context, utc_now_iso()):
                raise AlreadyExists(f"subscription {doc['id']} already exists")
        self.reload(tenant)
        return str(doc["id"])

    def get(self, tenant: str, subscription_id: str) -> dict[str, Any]:
        """One subscription as clients see it (NotFound if absent)."""
        with self._flush_lock:
            with self.db.read() as conn:
                stored = self.store.get(conn, tenant, subscription_id)
            if stored is None:
                raise NotFound(f"subscription {subscription_id} does not exist")
            return self._shown(stored)

    def page(self, tenant: str, *, limit: int, offset: int, count: bool) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the tenant's subscriptions and, if asked, their number."""
        with self._flush_lock:
            with self.db.read() as conn:
                rows, total = self.store.page(conn, tenant, limit=limit, offset=offset, count=count)
            return [self._shown(row) for row in rows], total

    def update(self, tenant: str, subscription_id: str, fragment: Any) -> None:
        """Apply a PATCH fragment (terms in the subscription's own @context)."""
        with self.db.read() as conn:
            stored = self.store.get(conn, tenant, subscription_id)
        if stored is None:
            raise NotFound(f"subscription {subscription_id} does not exist")
        doc = validate_subscription(merge_fragment(stored.doc, fragment, subscription_id))
        self._compile(tenant, doc, self.resolver.resolve(stored.context))
        with self.db.write() as conn:
            if not self.store.replace(conn, tenant, doc, stored.context, utc_now_iso()):
                raise NotFound(f"subscription {subscription_id} does not exist")
        self.reload(tenant)

    def delete(self, tenant: str, subscription_id: str) -> None:
        """Delete a subscription (NotFound if absent)."""
        with self.db.write() as conn:
            if not self.store.delete(conn, tenant, subscription_id):
                raise NotFound(f"subscription {subscription_id} does not exist")
        self.reload(tenant)

    def _shown(self, stored: StoredSubscription) -> dict[str, Any]:
        key = (stored.tenant, stored.id)
        with self._lock:
            counters = stored.counters.plus(self._pending.get(key, Counters()))
        context_url = None
        if isinstance(stored.context, str):
            context_url = stored.context
        elif isinstance(stored.context, list) and len(stored.context) == 1 and isinstance(stored.context[0], str):
            context_url = stored.context[0]
        return shown_subscription(stored.doc, status_of(stored.doc, self.now()), counters, context_url=context_url)

    def _compile(
        self, tenant: str, doc: Mapping[str, Any], ctx: LdContext, callback: LocalCallback | None = None
    ) -> _Entry:
        try:
            sub = compile_subscription(tenant, doc, ctx.expand, local=callback is not None)
        except UrbisError as exc:
            if exc.status == 400:
                raise BadRequestData(exc.detail) from None
            raise
        render_ctx = ctx
        if "jsonldContext" in doc:
            render_ctx = self.resolver.resolve(doc["jsonldContext"])
        return _Entry(sub, ctx, render_ctx, callback)

    # ------------------------------------------------------------------ in-process subscriptions

    def subscribe_local(
        self,
        tenant: str,
        subscription: Mapping[str, Any],
        callback: LocalCallback,
        *,
        context: Any = None,
    ) -> LocalSubscription:
        """Subscribe a Python callback: it receives the same Notification dicts as HTTP receivers.

        ``subscription`` is a subscription document (``entities``/``watchedAttributes``, ``q``,
        ``throttling``, ``notification.format``/``attributes`` ...) whose terms are read with
        ``context`` (default: the core context); ``type`` and ``notification.endpoint`` may be
        left out.  The callback runs in a delivery thread; exceptions are logged and counted.
        """
        body = dict(subscription)
        body.setdefault("type", "Subscription")
        body.setdefault("id", f"urn:ngsi-ld:Subscription:local:{uuid.uuid4()}")
        notification_doc = dict(body.get("notification") or {})
        notification_doc["endpoint"] = {"uri": f"{LOCAL_SCHEME}:{body['id']}"}
        body["notification"] = notification_doc
        doc = validate_subscription(body, allow_local=True)
        entry = self._compile(tenant, doc, self.resolver.resolve(context), callback)
        with self._lock:
            self._locals.setdefault(tenant, {})[entry.sub.id] = entry
        self._refresh_index(tenant)
        return LocalSubscription(self, tenant, entry.sub.id)

    def _remove_local(self, tenant: str, subscription_id: str) -> None:
        with self._lock:
            self._locals.get(tenant, {}).pop(subscription_id, None)
        self._refresh_index(tenant)

    def _refresh_index(self, tenant: str) -> None:
        """Rebuild a tenant's index after its local subscriptions changed (loading its stored ones first)."""
        with self._lock:
            if tenant in self._stored:
                self._rebuild_locked(tenant)
                return
        self.reload(tenant)

    # ------------------------------------------------------------------ the cache

    def reload(self, tenant: str) -> _Index:
        """Read the tenant's stored subscriptions again and rebuild its index."""
        with self.db.read() as conn:
            rows = self.store.all_of(conn, tenant)
        entries = []
        for row in rows:
            try:
                entries.append(self._compile(tenant, row.doc, self.resolver.resolve(row.context)))
            except Exception:  # e.g. its @context cannot be fetched right now: skip it until the next reload
                log.exception("subscription %s of tenant %s cannot be compiled; it is skipped", row.id, tenant)
        with self._lock:
            self._stored[tenant] = entries
            return self._rebuild_locked(tenant)

    def _rebuild_locked(self, tenant: str) -> _Index:
        entries = list(self._stored.get(tenant, ())) + list(self._locals.get(tenant, {}).values())
        index = _Index.build(entries)
        self._indexes[tenant] = index
        current = {entry.key for entry in entries}
        for key in [k for k in self._throttles if k[0] == tenant and k not in current]:
            del self._throttles[key]
        for key in [k for k in self._periodic if k[0] == tenant and k not in current]:
            del self._periodic[key]
        for entry in entries:
            if entry.sub.time_interval is None:
                self._periodic.pop(entry.key, None)
                continue
            chain = self._periodic.get(entry.key)
            if chain is not None and chain.doc == entry.sub.doc:
                continue  # unchanged: its tick chain goes on (a reload recompiles every subscription)
            chain = _Chain(entry.sub.doc)
            self._periodic[entry.key] = chain
            if self._running:
                self._schedule_tick(entry.key, chain, 0)
        return index

    def _index(self, tenant: str) -> _Index:
        index = self._indexes.get(tenant)
        if index is None:
            index = self.reload(tenant)
        return index

    # ------------------------------------------------------------------ matching changes

    def on_entity_changed(self, event: EntityChanged) -> None:
        """Match one change against the tenant's subscriptions and queue the notifications."""
        if not self._running:
            return
        index = self._indexes.get(event.tenant)
        if index is None:
            index = self._index(event.tenant)
        if index.empty:
            return
        entity = event.current if event.current is not None else event.previous
        if entity is None:
            return
        candidates = index.candidates(event.entity_id, entity.get("type", []))
        if not candidates:
            return
        change = describe_change(event.entity_id, event.operation, event.current, event.previous, event.attributes)
        now = self.now()
        for entry in candidates:
            try:
                reason = matches(entry.sub, change, now)
            except Exception:  # a filter that fails on odd data must not stop the others
                log.exception("matching subscription %s failed", entry.sub.id)
                continue
            if reason is not None:
                self._notify(entry, change, reason)

    def _notify(self, entry: _Entry, change: Change, reason: str) -> None:
        throttling = entry.sub.throttling
        if throttling:
            key = entry.key
            moment = time.monotonic()
            with self._lock:
                state = self._throttles.get(key)
                if state is not None and (moment < state.next_allowed or state.pending):
                    # Inside the window: keep the latest change per entity, send them when it ends.
                    state.pending[change.entity_id] = (change, reason)
                    if not state.scheduled:
                        state.scheduled = True
                        self.timer.call_at(max(state.next_allowed, moment), lambda: self._release_throttled(key))
                    return
                self._throttles[key] = _Throttle(next_allowed=moment + throttling)
        self._submit(entry, [(change, reason)])

    def _release_throttled(self, key: Key) -> None:
        with self._lock:
            state = self._throttles.get(key)
            entry = self._indexes.get(key[0], _EMPTY).by_id.get(key[1])
            if state is None or entry is None:
                return
            pending, state.pending, state.scheduled = state.pending, {}, False
            if not pending:
                return
            state.next_allowed = time.monotonic() + (entry.sub.throttling or 0)
        if entry.sub.status(self.now()) == "active":
            self._submit(entry, list(pending.values()))

    def _submit(self, entry: _Entry, changes: list[tuple[Change, str]]) -> None:
        self.dispatcher.submit(
            Delivery(
                key=entry.key,
                endpoint=entry.sub.endpoint,
                render=lambda: self._render_changes(entry, changes),
                callback=entry.callback,
            )
        )

    # ------------------------------------------------------------------ notifications

    def _render_changes(self, entry: _Entry, changes: list[tuple[Change, str]]) -> Rendered:
        sub = entry.sub
        now_iso = utc_now_iso(self.now())
        renderer = Renderer(entry.render_ctx.compact, sub.render_options())
        rendered = [render_change(sub, change, renderer, now_iso) for change, _ in changes]
        data: Any = rendered
        if sub.endpoint.accept == GEO_JSON:
            data = geojson_data(
                [geojson_feature(item, _geometry(change)) for item, (change, _) in zip(rendered, changes, strict=True)]
            )
        reasons = {reason for _, reason in changes}
        return self._wrap(
            entry, notification(sub.id, data, now_iso, trigger=reasons.pop() if len(reasons) == 1 else None)
        )

    def _wrap(self, entry: _Entry, body: dict[str, Any]) -> Rendered:
        accept = entry.sub.endpoint.accept
        ctx = entry.render_ctx
        if accept == JSON_LD:
            return Rendered({"@context": ctx.source, **body}, JSON_LD, None)
        return Rendered(
            body, accept if accept == GEO_JSON else JSON, link_header(ctx.link_url) if ctx.link_url else None
        )

    # ------------------------------------------------------------------ periodic subscriptions

    def _schedule_tick(self, key: Key, chain: _Chain, delay: float) -> None:
        self.timer.call_later(delay, lambda: self._periodic_tick(key, chain))

    def _periodic_tick(self, key: Key, chain: _Chain) -> None:
        with self._lock:
            if not self._running or self._periodic.get(key) is not chain:
                return  # changed or deleted meanwhile (a changed one has a chain of its own)
            entry = self._indexes.get(key[0], _EMPTY).by_id.get(key[1])
            if entry is None or entry.sub.time_interval is None:
                self._periodic.pop(key, None)
                return
            interval = entry.sub.time_interval
        if entry.sub.status(self.now()) == "active":
            self.dispatcher.submit(
                Delivery(
                    key=key,
                    endpoint=entry.sub.endpoint,
                    render=lambda: self._render_periodic(entry, interval),
                    callback=entry.callback,
                )
            )
        self._schedule_tick(key, chain, interval)

    def _render_periodic(self, entry: _Entry, interval: float) -> Rendered | None:
        sub = entry.sub
        if not sub.local:
            moment = time.time()
            # Every process of a server ticks; the one that claims the run in the database sends it.
            with self.db.write() as conn:
                if not self.store.claim_run(conn, sub.tenant, sub.id, moment + 0.05 * interval, moment + interval):
                    return None
        doc = sub.doc
        geo = doc.get("geoQ") or {}
        selectors = tuple(
            EntitySelector(id=item.get("id"), id_pattern=item.get("idPattern"), type=item.get("type"))
            for item in doc.get("entities", ())
        )
        found: list[Any] = []
        offset = 0
        while len(found) < PERIODIC_MAX_ENTITIES:
            params = QueryParams(
                selectors=selectors,
                q=doc.get("q"),
                scope_q=doc.get("scopeQ"),
                georel=geo.get("georel"),
                geometry=geo.get("geometry"),
                coordinates=geo.get("coordinates"),
                geoproperty=geo.get("geoproperty"),
                limit=_PERIODIC_PAGE,
                offset=offset,
            )
            try:
                page, _ = self.context.query(sub.tenant, params, entry.expand_ctx.expand, allow_unfiltered=True)
            except UrbisError:  # e.g. the tenant holds no entities yet
                return None
            found.extend(page)
            if len(page) < _PERIODIC_PAGE:
                break
            offset += _PERIODIC_PAGE
        if not found:
            return None
        now_iso = utc_now_iso(self.now())
        renderer = Renderer(entry.render_ctx.compact, sub.render_options())
        data: Any = [renderer.entity(entity) for entity in found[:PERIODIC_MAX_ENTITIES]]
        if sub.endpoint.accept == GEO_JSON:
            data = renderer.geojson_collection(found[:PERIODIC_MAX_ENTITIES], NGSILD_LOCATION)
        return self._wrap(entry, notification(sub.id, data, now_iso))

    # ------------------------------------------------------------------ counters

    def _outcome(self, key: Key, ok: bool, when: datetime, detail: str, *, sent: bool) -> None:
        moment = utc_now_iso(when)
        delta = Counters(
            times_sent=1 if sent else 0,
            times_failed=0 if ok else 1,
            last_notification=moment if sent else None,
            last_success=moment if ok else None,
            last_failure=None if ok else moment,
        )
        with self._lock:
            self._totals["sent" if sent else "dropped"] += 1
            if not ok and sent:
                self._totals["failed"] += 1
            entry = self._indexes.get(key[0], _EMPTY).by_id.get(key[1])
            if entry is not None and entry.sub.local:
                self._local_counters[key] = self._local_counters.get(key, Counters()).plus(delta)
            else:
                self._pending[key] = self._pending.get(key, Counters()).plus(delta)

    def pending_notifications(self) -> int:
        """Notifications queued in this process (for metrics and tests)."""
        return self.dispatcher.pending()

    def stats(self) -> dict[str, int]:
        """Delivery totals of this process since it started: attempts, failed attempts, drops, queued."""
        with self._lock:
            totals = dict(self._totals)
        totals["queued"] = self.dispatcher.pending()
        return totals


def _geometry(change: Change) -> Any:
    entity = change.current if change.current is not None else change.previous
    if entity is None:
        return None
    instances = entity["attrs"].get(NGSILD_LOCATION)
    if instances and instances[0].get("type") == "GeoProperty" and change.current is not None:
        return instances[0].get("value")
    return None


__all__ = ["JSON", "LocalSubscription", "SubscriptionService"]
