"""Process-level tuning for long-running server processes."""

from __future__ import annotations

import gc

#: Allocations between young-generation collections (CPython's default is 700).
YOUNG_GENERATION_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """Keep the cyclic garbage collector off the hot path of a server that has finished starting.

    Everything alive after start-up (modules, JSON-LD contexts, the device
    directory, ...) lives for the whole process, yet every full collection
    would walk it again: freezing moves it out of the collector's sight.
    Ingestion allocates many short-lived objects per message, so young
    collections run less often.  Call once per process, after start-up; not
    in tests, which build and drop many apps in one process (frozen objects
    are never freed).
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
