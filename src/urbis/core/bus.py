"""The in-process event bus: publish an event, every subscribed handler gets it.

Events are frozen dataclasses named in the past tense (``EntityChanged``).
Handlers run after the publisher's transaction has committed; a failing
handler is logged and never breaks the publisher or the other handlers.
Across processes the bus is bridged through Redis or NATS (production issue).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class EventBus:
    """Synchronous publish/subscribe keyed by event class."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: type, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every ``event_type`` published; returns an unsubscribe function."""
        with self._lock:
            self._handlers[event_type].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers[event_type]:
                    self._handlers[event_type].remove(handler)

        return unsubscribe

    def publish(self, event: Any) -> None:
        """Deliver ``event`` to its handlers, isolating their failures."""
        with self._lock:
            handlers = list(self._handlers.get(type(event), ()))
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # a consumer's bug must not break the producer
                log.exception("event handler %r failed on %s", handler, type(event).__name__)

    def has_subscribers(self, event_type: type) -> bool:
        """Whether anyone listens to ``event_type`` (lets producers skip building events)."""
        return bool(self._handlers.get(event_type))
