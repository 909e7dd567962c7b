"""The live event stream's fan-out: entity changes to server-sent-event connections.

One bus consumer (:meth:`LiveEvents.on_entity_changed`) hands every change of a tenant to the
listeners of that tenant.  It runs in the writer's thread, so it only appends to each listener's
bounded queue (a slow browser loses its oldest events, counted, and never blocks a writer) and
wakes the listener's asyncio task at most once per batch.  Filtering by ``q``, area and
attributes and rendering happen in the listener's task, off the writer's path; only the cheap
type check runs here, so a stream for one type costs other writers nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Iterable

from urbis.context.service import EntityChanged

#: Events a connection may have waiting before the oldest are dropped.
DEFAULT_QUEUE_MAX = 1000


class LiveListener:
    """One stream's queue of changes; read it with :meth:`next_batch` from its event loop."""

    def __init__(
        self,
        tenant: str,
        types: frozenset[str] | None,
        max_queue: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.tenant = tenant
        self.types = types
        self.max_queue = max(1, max_queue)
        self._loop = loop
        self._queue: deque[EntityChanged] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._signalled = False
        self._dropped = 0
        self.closed = False

    def offer(self, event: EntityChanged) -> None:
        """Queue a change if its entity has a wanted type (called in the writer's thread)."""
        if self.types is not None:
            entity = event.current if event.current is not None else event.previous
            if entity is None or self.types.isdisjoint(entity.get("type", ())):
                return
        with self._lock:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(event)
            if self._signalled:
                return
            self._signalled = True
        with contextlib.suppress(RuntimeError):  # the loop is closing: the stream is ending anyway
            self._loop.call_soon_threadsafe(self._ready.set)

    async def next_batch(self, timeout: float | None = None) -> tuple[list[EntityChanged], int]:
        """The changes queued since the last call and how many were dropped; waits for at least one.

        Returns empty lists when ``timeout`` seconds pass without any change.
        """
        if timeout is None:
            await self._ready.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
            dropped, self._dropped = self._dropped, 0
            self._signalled = False
            self._ready.clear()
        return events, dropped


class LiveEvents:
    """Every open event stream, by tenant."""

    def __init__(self, max_queue: int = DEFAULT_QUEUE_MAX) -> None:
        self.max_queue = max_queue
        self._listeners: dict[str, tuple[LiveListener, ...]] = {}
        self._lock = threading.Lock()

    def on_entity_changed(self, event: EntityChanged) -> None:
        """Bus consumer: offer the change to the tenant's streams."""
        listeners = self._listeners.get(event.tenant)
        if not listeners:
            return
        for listener in listeners:
            listener.offer(event)

    def listen(self, tenant: str, types: Iterable[str] | None = None) -> LiveListener:
        """Open a stream of ``tenant``'s changes (call from the event loop that will read it)."""
        listener = LiveListener(
            tenant, frozenset(types) if types is not None else None, self.max_queue, asyncio.get_running_loop()
        )
        with self._lock:
            self._listeners[tenant] = (*self._listeners.get(tenant, ()), listener)
        return listener

    def close(self, listener: LiveListener) -> None:
        """Stop feeding a stream."""
        listener.closed = True
        with self._lock:
            remaining = tuple(item for item in self._listeners.get(listener.tenant, ()) if item is not listener)
            if remaining:
                self._listeners[listener.tenant] = remaining
            else:
                self._listeners.pop(listener.tenant, None)

    def count(self) -> int:
        """Open streams (for metrics and tests)."""
        return sum(len(items) for items in self._listeners.values())
