"""How a solution runs: a periodic evaluation in the one process that holds its lead.

A solution's rules need the whole picture (a cabinet and all its lamps, every bay of a
zone), and a deployment may run several server processes, each storing a share of the
readings.  So each solution evaluates the city as the context broker holds it, on a
fixed interval, in exactly one process (leadership, see :mod:`urbis.core.leader`).  It
also subscribes in-process to ``EntityChanged`` for the types it watches: a change stored
by this process wakes the evaluation early (after a short quiet period that gathers a
burst), so a fault shows within seconds rather than at the next tick.

Each run is timed; ``lag`` is how far the last finished evaluation trails the clock,
the figure the solutions benchmark prints.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from urbis.context.service import EntityChanged
from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.leader import LeaderRunner

log = logging.getLogger(__name__)


@dataclass
class RunnerStatus:
    """What a solution runner has done so far."""

    runs: int = 0
    failures: int = 0
    last_run_at: datetime | None = None  # the evaluation instant of the last finished run
    last_duration: float = 0.0  # seconds the last run took
    wakeups: int = 0  # runs started early by a change


class SolutionRunner:
    """Runs ``evaluate(now)`` every ``interval`` seconds (and soon after watched changes) while leading."""

    def __init__(
        self,
        name: str,
        evaluate: Callable[[datetime], object],
        *,
        db: Database | None = None,
        bus: EventBus | None = None,
        watched_types: Collection[str] = (),
        interval: float = 30.0,
        quiet: float = 1.0,
        min_gap: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        """``db`` enables leadership (one process of a deployment runs it); without it this process always runs it."""
        self.name = name
        self.evaluate = evaluate
        self.interval = interval
        self.quiet = quiet
        # Under a steady stream of changes (a city reporting all the time) wake-ups would run
        # evaluations back to back; at most one per ``min_gap`` seconds keeps the cost bounded.
        self.min_gap = min_gap
        self._last_start = 0.0
        self.clock = clock or SystemClock()
        self.watched_types = frozenset(watched_types)
        self.status = RunnerStatus()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._leader = LeaderRunner(db, f"solution-{name}", self._begin, self._end) if db is not None else None
        self._bus = bus
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start running (once this process leads, when leadership is on)."""
        self._stopping.clear()
        if self._bus is not None and self.watched_types and self._unsubscribe is None:
            self._unsubscribe = self._bus.subscribe(EntityChanged, self.on_entity_changed)
        if self._leader is not None:
            self._leader.start()
        else:
            self._begin()

    def stop(self) -> None:
        """Finish the run in progress and stop."""
        self._stopping.set()
        self._wake.set()
        if self._leader is not None:
            self._leader.stop()
        else:
            self._end()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _begin(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"solution-{self.name}", daemon=True)
        self._thread.start()

    def _end(self) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    # -- the loop ----------------------------------------------------------------------------

    def on_entity_changed(self, event: EntityChanged) -> None:
        """Wake the evaluation when an entity of a watched type changed (cheap: no work here)."""
        entity = event.current or event.previous
        if entity is not None and not self.watched_types.isdisjoint(entity.get("type", ())):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            woken = self._wake.wait(self.interval)
            if self._stopping.is_set():
                return
            if woken:
                self.status.wakeups += 1
                # Let a burst of changes settle into one run, and keep runs min_gap apart.
                since = time.monotonic() - self._last_start
                self._stopping.wait(max(self.quiet, self.min_gap - since))
            self._wake.clear()

    def run_once(self) -> None:
        """One evaluation at the clock's current time; failures are logged and counted, never raised."""
        now = self.clock.now()
        self._last_start = time.monotonic()
        began = time.perf_counter()
        try:
            self.evaluate(now)
        except Exception:  # a bad run must not end the solution: the next one tries again
            self.status.failures += 1
            log.exception("solution %s: evaluation failed; retrying in %s s", self.name, self.interval)
            return
        self.status.runs += 1
        self.status.last_duration = time.perf_counter() - began
        self.status.last_run_at = now

    @property
    def leading(self) -> bool:
        """Whether this process runs the solution now."""
        return self._thread is not None and self._thread.is_alive()

    def describe(self) -> dict[str, object]:
        """The runner's figures, for the status endpoint."""
        lag = self.lag_seconds()
        return {
            "name": self.name,
            "leading": self.leading,
            "runs": self.status.runs,
            "failures": self.status.failures,
            "wakeups": self.status.wakeups,
            "lastRunAt": self.status.last_run_at,
            "lastDurationSeconds": round(self.status.last_duration, 3),
            "lagSeconds": None if lag is None else round(lag, 1),
        }

    def lag_seconds(self) -> float | None:
        """How far the last finished evaluation trails the clock (None before the first)."""
        if self.status.last_run_at is None:
            return None
        return (self.clock.now() - self.status.last_run_at).total_seconds()
