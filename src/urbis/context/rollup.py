"""History maintenance: hourly and daily roll-ups, and retention of raw rows.

**Roll-ups.**  ``history_rollup`` holds, per series and UTC hour (``period_s`` 3600)
and UTC day (86400), the count, sum, sum of squares, min and max of the numeric
instances.  The job keeps a watermark on ``recorded_at`` (when rows were
written): each run takes the rows recorded since the watermark, recomputes
every hour they fall into from all raw rows of that hour (so late data and
retried messages land in the right bucket), then recomputes the days of those
hours from their hours, and moves the watermark, all in one transaction.
Hours that also hold non-numeric instances get a marker row (``period_s``
-3600, ``count`` = how many) so the temporal API knows that totalCount, min
and max cannot be answered from numeric roll-ups there.

The watermark trails the clock by :data:`SAFETY_LAG_US`: a write transaction
that takes longer than that to commit after stamping its rows could otherwise
slip under the watermark unseen.  The temporal API reads raw rows for every
bucket touched by rows recorded after the watermark, so answers are exact
between runs.

**Retention.**  Raw rows older than ``history_retention_days`` are removed;
roll-ups stay.  Whole UTC months are kept: a month goes once it lies entirely
before the horizon.  On PostgreSQL that is ``DROP TABLE`` of the month
partition (instant, no vacuum debt) plus a delete of such rows from the
default partition; on SQLite a ``DELETE`` in chunks.  Rows the roll-up has not
seen yet are never removed.  Hours older than the retention cut are no longer
recomputed from raw rows (they are partly gone): rows arriving that late are
added to their roll-up instead.

The job runs in one background thread per application (``start``/``stop``,
registered by ``create_app``).  Several processes sharing a database are safe
(PostgreSQL: an advisory lock lets one run at a time; SQLite: one writer), but
each does the work on its own schedule; electing one cluster-wide runner is
left to the production issue.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from urbis.context.history import PARTITION_PREFIX, month_of, partition_bounds
from urbis.context.temporal import DAILY, DAY_US, HOUR_US, HOURLY, HOURLY_OTHER, ROLLUP_WATERMARK, US
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database

log = logging.getLogger(__name__)

#: How far the watermark trails the clock (µs of ``recorded_at``).
SAFETY_LAG_US = 30 * US
#: About how many raw rows one roll-up transaction takes (a backlog is worked off in steps).
CHUNK_ROWS = 200_000
#: Raw rows one retention DELETE removes (SQLite; the PostgreSQL default partition).
DELETE_CHUNK = 20_000
#: The lowest watermark: nothing rolled up yet.
_NEVER = -(2**62)
_PARTITION = re.compile(rf"^{PARTITION_PREFIX}(\d{{4}})_(\d{{2}})$")


def _floor(column: str, unit: int) -> str:
    """SQL: ``column`` rounded down to a multiple of ``unit`` (also before 1970: % truncates)."""
    return f"({column} - ((({column} % {unit}) + {unit}) % {unit}))"


def to_us(moment: datetime) -> int:
    """µs since the epoch of an aware datetime."""
    moment = moment.astimezone(UTC)
    return int(moment.timestamp()) * US + moment.microsecond


def retention_cut(now_us: int, retention_days: int) -> int | None:
    """Start of the oldest month that is kept (raw rows before it may go); None keeps everything."""
    if retention_days <= 0:
        return None
    year, month = month_of(now_us - retention_days * DAY_US)
    return partition_bounds(year, month)[0]


@dataclass
class RollupReport:
    """What one roll-up run did."""

    rows: int = 0  # raw rows recorded since the previous watermark
    steps: int = 0  # transactions
    watermark: int | None = None
    skipped: bool = False  # another process was rolling up


@dataclass
class RetentionReport:
    """What one retention run removed."""

    partitions: tuple[str, ...] = ()
    rows: int = 0


class HistoryMaintenance:
    """The roll-up and retention job over the history tables."""

    def __init__(
        self,
        db: Database,
        *,
        retention_days: int,
        interval_seconds: float,
        clock: Clock | None = None,
        on_partitions_dropped: Callable[[], None] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ):
        """``on_partitions_dropped`` is told when partitions went (the writer forgets its cache)."""
        self.db = db
        self.retention_days = retention_days
        self.interval_seconds = interval_seconds
        self.clock = clock or SystemClock()
        self.on_partitions_dropped = on_partitions_dropped
        self.chunk_rows = chunk_rows
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: completed and failed background runs (diagnostics)
        self.runs = 0
        self.failures = 0

    def now_us(self) -> int:
        """The clock, in µs since the epoch."""
        return to_us(self.clock.now())

    # -- the background thread -------------------------------------------------------------

    def start(self) -> None:
        """Run the job every ``interval_seconds`` in a background thread (once per application)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="urbis-history-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (waits for a run in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.run_once()
            except Exception:  # the job must outlive a bad run; the next one retries
                self.failures += 1
                log.exception("history maintenance failed; retrying in %s s", self.interval_seconds)
            else:
                self.runs += 1

    def run_once(self, now_us: int | None = None) -> tuple[RollupReport, RetentionReport]:
        """Bring roll-ups up to date, then apply retention (in that order: nothing unrolled goes)."""
        now = self.now_us() if now_us is None else now_us
        rolled = self.rollup(now)
        return rolled, self.retain(now)

    # -- roll-ups --------------------------------------------------------------------------

    def watermark(self) -> int | None:
        """Up to which ``recorded_at`` raw rows are rolled up (None: never)."""
        with self.db.read() as conn:
            return _read_watermark(conn)

    def rollup(self, now_us: int | None = None) -> RollupReport:
        """Roll up every raw row recorded up to ``now - SAFETY_LAG_US``, in steps of about ``chunk_rows``."""
        now = self.now_us() if now_us is None else now_us
        target = now - SAFETY_LAG_US
        cut = retention_cut(now, self.retention_days)
        report = RollupReport()
        while True:
            with self.db.write() as conn:
                if (
                    self.db.is_postgres
                    and not conn.execute(
                        text("SELECT pg_try_advisory_xact_lock(hashtext('urbis.history.rollup'))")
                    ).scalar()
                ):
                    report.skipped = True
                    return report
                # Read inside the write transaction: a concurrent run has either finished or not started.
                start = _read_watermark(conn)
                low = _NEVER if start is None else start
                report.watermark = start
                if target <= low:
                    return report
                end = conn.execute(
                    text(
                        "SELECT recorded_at FROM history WHERE recorded_at > :low AND recorded_at <= :target "
                        "ORDER BY recorded_at LIMIT 1 OFFSET :n"
                    ),
                    {"low": low, "target": target, "n": self.chunk_rows - 1},
                ).scalar()
                end = target if end is None else int(end)
                report.rows += self._rollup_step(conn, low, end, cut)
                _write_watermark(conn, end, exists=start is not None)
                report.steps += 1
                report.watermark = end
            if end >= target:
                return report

    def _rollup_step(self, conn: Connection, low: int, end: int, cut: int | None) -> int:
        window = "recorded_at > :low AND recorded_at <= :end"
        params = {"low": low, "end": end, "cut": cut if cut is not None else _NEVER}
        rows = conn.execute(text(f"SELECT COUNT(*) FROM history WHERE {window}"), params).scalar() or 0
        if not rows:
            return 0
        hour = _floor("observed_at", HOUR_US)
        day = _floor("observed_at", DAY_US)
        affected_hours = f"SELECT DISTINCT series_id, {hour} AS b FROM history WHERE {window} AND observed_at >= :cut"
        affected_days = f"SELECT DISTINCT series_id, {day} AS d FROM history WHERE {window}"
        columns = 'series_id, period_s, bucket_start, "count", "sum", sumsq, "min", "max"'
        # Hours inside the retention window: recompute from all of their raw rows.
        conn.execute(
            text(
                f"DELETE FROM history_rollup WHERE period_s IN ({HOURLY}, {HOURLY_OTHER}) "
                f"AND (series_id, bucket_start) IN ({affected_hours})"
            ),
            params,
        )
        join = (
            f"FROM ({affected_hours}) AS a JOIN history AS h ON h.series_id = a.series_id "
            f"AND h.observed_at >= a.b AND h.observed_at < a.b + {HOUR_US}"
        )
        conn.execute(
            text(
                f"INSERT INTO history_rollup ({columns}) SELECT h.series_id, {HOURLY}, a.b, COUNT(h.value_num), "
                "SUM(h.value_num), SUM(h.value_num * h.value_num), MIN(h.value_num), MAX(h.value_num) "
                f"{join} WHERE h.value_num IS NOT NULL GROUP BY h.series_id, a.b"
            ),
            params,
        )
        conn.execute(
            text(
                f"INSERT INTO history_rollup ({columns}) SELECT h.series_id, {HOURLY_OTHER}, a.b, COUNT(*), 0, 0, 0, 0 "
                f"{join} WHERE h.value_num IS NULL GROUP BY h.series_id, a.b"
            ),
            params,
        )
        if cut is not None:
            self._merge_late(conn, window, params)
        # Days of the touched hours: recomputed from their hours (24 rows, not 1,440 raw ones).
        conn.execute(
            text(
                f"DELETE FROM history_rollup WHERE period_s = {DAILY} AND (series_id, bucket_start) IN ({affected_days})"
            ),
            params,
        )
        conn.execute(
            text(
                f'INSERT INTO history_rollup ({columns}) SELECT r.series_id, {DAILY}, a.d, SUM(r."count"), '
                'SUM(r."sum"), SUM(r.sumsq), MIN(r."min"), MAX(r."max") '
                f"FROM ({affected_days}) AS a JOIN history_rollup AS r ON r.series_id = a.series_id "
                f"AND r.period_s = {HOURLY} AND r.bucket_start >= a.d AND r.bucket_start < a.d + {DAY_US} "
                "GROUP BY r.series_id, a.d"
            ),
            params,
        )
        return int(rows)

    def _merge_late(self, conn: Connection, window: str, params: dict[str, int]) -> None:
        """Rows older than the retention cut: add them to their hour (its raw rows may be gone)."""
        hour = _floor("observed_at", HOUR_US)
        smaller, larger = ("LEAST", "GREATEST") if self.db.is_postgres else ("MIN", "MAX")
        columns = 'series_id, period_s, bucket_start, "count", "sum", sumsq, "min", "max"'
        merge = (
            'ON CONFLICT (series_id, period_s, bucket_start) DO UPDATE SET "count" = history_rollup."count" + '
            'excluded."count", "sum" = history_rollup."sum" + excluded."sum", '
            "sumsq = history_rollup.sumsq + excluded.sumsq, "
            f'"min" = {smaller}(history_rollup."min", excluded."min"), "max" = {larger}(history_rollup."max", excluded."max")'
        )
        conn.execute(
            text(
                f"INSERT INTO history_rollup ({columns}) SELECT series_id, {HOURLY}, {hour}, COUNT(value_num), "
                "SUM(value_num), SUM(value_num * value_num), MIN(value_num), MAX(value_num) FROM history "
                f"WHERE {window} AND observed_at < :cut AND value_num IS NOT NULL GROUP BY series_id, {hour} {merge}"
            ),
            params,
        )
        conn.execute(
            text(
                f"INSERT INTO history_rollup ({columns}) SELECT series_id, {HOURLY_OTHER}, {hour}, COUNT(*), 0, 0, 0, 0 "
                f"FROM history WHERE {window} AND observed_at < :cut AND value_num IS NULL "
                f"GROUP BY series_id, {hour} {merge}"
            ),
            params,
        )

    # -- retention -------------------------------------------------------------------------

    def retain(self, now_us: int | None = None) -> RetentionReport:
        """Remove raw rows of the months entirely older than ``history_retention_days``."""
        now = self.now_us() if now_us is None else now_us
        cut = retention_cut(now, self.retention_days)
        watermark = self.watermark()
        if cut is None or watermark is None:  # keep everything, or nothing rolled up yet
            return RetentionReport()
        if self.db.is_postgres:
            return self._retain_postgres(cut, watermark)
        removed = 0
        while True:
            with self.db.write() as conn:
                result = conn.execute(
                    text(
                        "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history "
                        "WHERE observed_at < :cut AND recorded_at <= :wm LIMIT :n)"
                    ),
                    {"cut": cut, "wm": watermark, "n": DELETE_CHUNK},
                )
            removed += max(result.rowcount, 0)
            if result.rowcount < DELETE_CHUNK:
                return RetentionReport(rows=removed)

    def _retain_postgres(self, cut: int, watermark: int) -> RetentionReport:
        with self.db.read() as conn:
            names = [
                row[0]
                for row in conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'history'::regclass ORDER BY c.relname"
                    )
                )
            ]
        dropped: list[str] = []
        for name in names:
            match = _PARTITION.match(name)
            if match is None or partition_bounds(int(match.group(1)), int(match.group(2)))[1] > cut:
                continue
            with self.db.write() as conn:
                unrolled = conn.execute(
                    text(f"SELECT 1 FROM {name} WHERE recorded_at > :wm LIMIT 1"), {"wm": watermark}
                ).first()
                if unrolled is not None:
                    continue  # the roll-up has not seen all of it yet: next run
                conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
            log.info("history retention dropped partition %s", name)
        removed = 0
        while True:  # rows that landed in the default partition (months without a partition)
            with self.db.write() as conn:
                result = conn.execute(
                    text(
                        f"DELETE FROM {PARTITION_PREFIX}default WHERE ctid IN (SELECT ctid FROM "
                        f"{PARTITION_PREFIX}default WHERE observed_at < :cut AND recorded_at <= :wm LIMIT :n)"
                    ),
                    {"cut": cut, "wm": watermark, "n": DELETE_CHUNK},
                )
            removed += max(result.rowcount, 0)
            if result.rowcount < DELETE_CHUNK:
                break
        if dropped and self.on_partitions_dropped is not None:
            self.on_partitions_dropped()
        return RetentionReport(tuple(dropped), removed)


def _read_watermark(conn: Connection) -> int | None:
    value = conn.execute(
        text("SELECT recorded_at FROM history_watermark WHERE name = :name"), {"name": ROLLUP_WATERMARK}
    ).scalar()
    return None if value is None else int(value)


def _write_watermark(conn: Connection, value: int, *, exists: bool) -> None:
    if exists:
        conn.execute(
            text("UPDATE history_watermark SET recorded_at = :v WHERE name = :name"),
            {"v": value, "name": ROLLUP_WATERMARK},
        )
    else:
        conn.execute(
            text("INSERT INTO history_watermark (name, recorded_at) VALUES (:name, :v)"),
            {"v": value, "name": ROLLUP_WATERMARK},
        )
