"""Leadership: one process of a deployment runs a given background job.

On PostgreSQL a session advisory lock on a dedicated connection (so every
process on every machine sharing the database agrees); on SQLite, whose
processes share one machine, an exclusive lock on a file beside the database.
Either way the lock is released when the holder dies, and a follower that
keeps trying takes over.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from urbis.core.db import Database

log = logging.getLogger(__name__)


class LeaderLock:
    """A named, non-blocking, process-wide lock: at most one holder in the deployment."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self._key = zlib.crc32(f"urbis:{name}".encode()) & 0x7FFFFFFF
        self._connection: Any = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process holds it afterwards."""
        if self.held:
            return True
        if self.db.is_postgres:
            connection = self.db.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = cursor.fetchone()
                connection.commit()
            except Exception:
                connection.close()
                raise
            if row and row[0]:
                self._connection = connection
                return True
            connection.close()
            return False
        path = self._lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        """Give the lock up (also happens when the process dies)."""
        if self._connection is not None:
            try:
                self._connection.cursor().execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                self._connection.commit()
            except Exception:  # noqa: BLE001 - closing the session releases it anyway
                log.debug("advisory unlock of %s failed; closing the session releases it", self.name)
            self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _lock_path(self) -> Path:
        database = make_url(self.db.url).database or ""
        base = Path(database) if database and database != ":memory:" else Path(os.getcwd()) / "urbis"
        return base.with_name(f"{base.name}.{self.name}.lock")


class LeaderRunner:
    """Runs ``start`` once this process becomes the leader for ``name``; ``stop`` when it shuts down."""

    def __init__(
        self,
        db: Database,
        name: str,
        start: Callable[[], None],
        stop: Callable[[], None],
        *,
        retry_seconds: float = 2.0,
        share: SlotShare | None = None,
    ) -> None:
        self.lock = LeaderLock(db, name)
        self._start = start
        self._stop = stop
        self._retry = retry_seconds
        self._share = share
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False

    def start(self) -> None:
        """Begin trying to become the leader (in a background thread)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"leader-{self.lock.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._acquire():
                    log.info("this process now runs %s", self.lock.name)
                    self._start()
                    self._running = True
                    return
            except Exception:
                log.exception("could not take the lead for %s; retrying", self.lock.name)
            self._stopping.wait(self._retry)

    def _acquire(self) -> bool:
        if self._share is None:
            return self.lock.try_acquire()
        return self._share.try_claim(self.lock)

    def stop(self) -> None:
        """Stop the job (if this process ran it) and release the lead."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._running:
            self._stop()
            self._running = False
        if self.lock.held and self._share is not None:
            self._share.released()
        self.lock.release()


class SlotShare:
    """Spreads interchangeable slots (e.g. MQTT sessions) over the processes: one each, then the orphans.

    A process that holds no slot takes any free one at once.  A process that
    holds one already takes another only after ``patience_seconds``, so that
    processes starting together end up with one slot each, while the slot of
    a process that died is still picked up by a survivor.
    """

    def __init__(self, patience_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.patience = patience_seconds
        self._clock = clock
        self._since = clock()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Slots this process holds."""
        return self._held

    def try_claim(self, lock: LeaderLock) -> bool:
        """Take ``lock`` if this process may take one more slot now and nobody holds it."""
        with self._lock:
            if lock.held:
                return True
            if self._held and self._clock() - self._since < self.patience:
                return False
            if not lock.try_acquire():
                return False
            self._held += 1
            return True

    def released(self) -> None:
        """One slot given up."""
        with self._lock:
            self._held = max(self._held - 1, 0)
