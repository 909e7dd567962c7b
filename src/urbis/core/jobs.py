"""Periodic background jobs: a function run every N seconds in its own thread, surviving its failures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicJob:
    """Runs ``work`` every ``interval`` seconds until stopped; a failing run is logged and retried next time."""

    def __init__(self, name: str, interval: float, work: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"urbis-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, waiting for a run in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_once(self) -> None:
        """One run, counted; failures are logged, never raised."""
        try:
            self.work()
        except Exception:  # the job must outlive a bad run
            self.failures += 1
            log.exception("background job %s failed; retrying in %s s", self.name, self.interval)
        else:
            self.runs += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
