"""The roll-up and retention job on SQLite and PostgreSQL.

Roll-up rows are checked against values worked out by hand; retention against what must stay
(roll-ups, recent months, rows not rolled up yet) and what must go (old months).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from history_builders import HOUR_US, MINUTE_US, SPEED, us, write_history
from sqlalchemy import text

from urbis.context.history import partition_name
from urbis.context.rollup import SAFETY_LAG_US, HistoryMaintenance, retention_cut
from urbis.core.clock import SystemClock
from urbis.core.db import Database

T0 = us("2026-02-03T10:00:00Z")


class Clock:
    """``recorded_at`` stamps after every earlier one (the watermark is shared by all tests of a database)."""

    def __init__(self) -> None:
        self.last = 0

    def tick(self) -> int:
        self.last = max(self.last + 1, int(time.time() * 1_000_000))
        return self.last

    def after_rollup(self, jobs: HistoryMaintenance) -> None:
        """Roll up everything recorded so far."""
        jobs.rollup(self.tick() + SAFETY_LAG_US + 1)
        self.last += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jobs(database: Database) -> Iterator[HistoryMaintenance]:
    maintenance = HistoryMaintenance(database, retention_days=0, interval_seconds=60)
    yield maintenance
    maintenance.stop()


def rollups(db: Database, sid: int) -> dict[tuple[int, int], tuple[int, float, float, float, float]]:
    """(period, bucket start) -> (count, sum, sumsq, min, max) of one series."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                'SELECT period_s, bucket_start, "count", "sum", sumsq, "min", "max" FROM history_rollup '
                "WHERE series_id = :sid ORDER BY period_s, bucket_start"
            ),
            {"sid": sid},
        ).all()
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6]) for r in rows}


def six(db: Database, tenant: str, clock: Clock) -> int:
    points = [(T0 + m * MINUTE_US, v) for m, v in ((0, 10), (20, 20), (40, 30), (60, 40), (80, 40), (100, 70))]
    return write_history(db, tenant, "urn:ngsi-ld:Vehicle:A", SPEED, points, recorded_us=clock.tick())


def test_hourly_and_daily_rollups(database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance) -> None:
    sid = six(database, tenant, clock)
    clock.after_rollup(jobs)
    day = us("2026-02-03T00:00:00Z")
    assert rollups(database, sid) == {
        # 10:00: 10, 20, 30 (squares 100 + 400 + 900); 11:00: 40, 40, 70 (1600 + 1600 + 4900).
        (3600, T0): (3, 60.0, 1400.0, 10.0, 30.0),
        (3600, T0 + HOUR_US): (3, 150.0, 8100.0, 40.0, 70.0),
        (86400, day): (6, 210.0, 9500.0, 10.0, 70.0),
    }


def test_late_rows_recompute_their_hour_and_day(
    database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance
) -> None:
    sid = six(database, tenant, clock)
    clock.after_rollup(jobs)
    # A late reading for 10:50, a retried one (same instant: stored once), and a string.
    write_history(
        database, tenant, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0 + 50 * MINUTE_US, 5)], recorded_us=clock.tick()
    )
    write_history(database, tenant, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0, 10)], recorded_us=clock.tick())
    write_history(
        database, tenant, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0 + 70 * MINUTE_US, "n/a")], recorded_us=clock.tick()
    )
    clock.after_rollup(jobs)
    day = us("2026-02-03T00:00:00Z")
    assert rollups(database, sid) == {
        (-3600, T0 + HOUR_US): (1, 0.0, 0.0, 0.0, 0.0),  # one non-numeric instance at 11:10
        (3600, T0): (4, 65.0, 1425.0, 5.0, 30.0),
        (3600, T0 + HOUR_US): (3, 150.0, 8100.0, 40.0, 70.0),
        (86400, day): (7, 215.0, 9525.0, 5.0, 70.0),
    }


def test_backlog_in_small_steps_gives_the_same_rollups(
    database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance
) -> None:
    sid = six(database, tenant, clock)
    for i in range(5):  # five more transactions, each its own recorded_at
        write_history(
            database,
            tenant,
            "urn:ngsi-ld:Vehicle:A",
            SPEED,
            [(T0 + (101 + i) * MINUTE_US, i)],
            recorded_us=clock.tick(),
        )
    stepwise = HistoryMaintenance(database, retention_days=0, interval_seconds=60, chunk_rows=2)
    report = stepwise.rollup(clock.tick() + SAFETY_LAG_US + 1)
    clock.last += 1
    assert report.steps >= 4
    # 11:00 gains 0, 1, 2, 3, 4 at 11:41 .. 11:45: count 8, sum 160, squares 8100 + 30, min 0.
    assert rollups(database, sid)[(3600, T0 + HOUR_US)] == (8, 160.0, 8130.0, 0.0, 70.0)
    assert rollups(database, sid)[(86400, us("2026-02-03T00:00:00Z"))] == (11, 220.0, 9530.0, 0.0, 70.0)


def test_the_watermark_trails_the_clock(
    database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance
) -> None:
    clock.after_rollup(jobs)
    recorded = clock.tick()
    sid = write_history(database, tenant, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0, 1)], recorded_us=recorded)
    jobs.rollup(recorded + SAFETY_LAG_US - 1)  # still inside the safety lag: not rolled up yet
    assert rollups(database, sid) == {}
    assert jobs.watermark() == recorded - 1
    jobs.rollup(recorded + SAFETY_LAG_US)
    assert rollups(database, sid)[(3600, T0)] == (1, 1.0, 1.0, 1.0, 1.0)
    clock.last = max(clock.last, recorded)


def test_retention_cut_keeps_whole_months() -> None:
    assert retention_cut(us("2026-04-15T12:00:00Z"), 0) is None
    # 30 days before 15 April is 16 March: March is kept whole, February and older may go.
    assert retention_cut(us("2026-04-15T12:00:00Z"), 30) == us("2026-03-01T00:00:00Z")
    assert retention_cut(us("2026-03-31T00:00:00Z"), 30) == us("2026-03-01T00:00:00Z")
    assert retention_cut(us("2026-03-30T23:00:00Z"), 30) == us("2026-02-01T00:00:00Z")


def test_retention_drops_old_months_and_keeps_rollups(
    database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance
) -> None:
    # Months far in the past, so no other test's rows share them.
    jan, feb, mar = us("2001-01-10T00:00:00Z"), us("2001-02-10T00:00:00Z"), us("2001-03-10T00:00:00Z")
    entity = "urn:ngsi-ld:Vehicle:old"
    sid = write_history(database, tenant, entity, SPEED, [(jan, 1), (feb, 2), (mar, 3)], recorded_us=clock.tick())
    clock.after_rollup(jobs)
    unrolled = write_history(database, tenant, entity + "2", SPEED, [(jan + HOUR_US, 9)], recorded_us=clock.tick())
    keeper = HistoryMaintenance(database, retention_days=30, interval_seconds=60)
    report = keeper.retain(us("2001-04-15T00:00:00Z"))  # cut: 2001-03-01
    # Other tests may leave still older months in the shared database: look at ours only.
    ours = {partition_name(2001, month) for month in (1, 2, 3)}
    with database.read() as conn:
        left = conn.execute(
            text("SELECT series_id, observed_at FROM history WHERE series_id IN (:a, :b) ORDER BY observed_at"),
            {"a": sid, "b": unrolled},
        ).all()
    # January still holds a row the roll-up has not seen: on PostgreSQL its partition stays whole,
    # on SQLite only that row stays.
    if database.is_postgres:
        assert ours & set(report.partitions) == {partition_name(2001, 2)}
        assert [tuple(r) for r in left] == [(sid, jan), (unrolled, jan + HOUR_US), (sid, mar)]
    else:
        assert report.rows >= 2
        assert [tuple(r) for r in left] == [(unrolled, jan + HOUR_US), (sid, mar)]
    assert rollups(database, sid)[(86400, us("2001-02-10T00:00:00Z"))] == (1, 2.0, 4.0, 2.0, 2.0)
    # Once rolled up, January goes too; its roll-ups stay.
    clock.after_rollup(jobs)
    report = keeper.retain(us("2001-04-15T00:00:00Z"))
    with database.read() as conn:
        left = conn.execute(
            text("SELECT series_id, observed_at FROM history WHERE series_id IN (:a, :b)"), {"a": sid, "b": unrolled}
        ).all()
    assert [tuple(r) for r in left] == [(sid, mar)]
    if database.is_postgres:
        assert ours & set(report.partitions) == {partition_name(2001, 1)}
    assert rollups(database, unrolled)[(3600, jan + HOUR_US)] == (1, 9.0, 81.0, 9.0, 9.0)


def test_rows_older_than_the_cut_are_added_to_their_rollup(
    database: Database, tenant: str, clock: Clock, jobs: HistoryMaintenance
) -> None:
    old = us("2002-05-10T08:00:00Z")
    entity = "urn:ngsi-ld:Vehicle:late"
    sid = write_history(database, tenant, entity, SPEED, [(old, 4), (old + MINUTE_US, 6)], recorded_us=clock.tick())
    keeper = HistoryMaintenance(database, retention_days=30, interval_seconds=60)
    keeper.rollup(clock.tick() + SAFETY_LAG_US + 1)
    clock.last += 1
    # The raw rows go (as retention would), then a very late reading for the same hour arrives.
    with database.write() as conn:
        conn.execute(text("DELETE FROM history WHERE series_id = :sid"), {"sid": sid})
    write_history(database, tenant, entity, SPEED, [(old + 2 * MINUTE_US, 10)], recorded_us=clock.tick())
    keeper.rollup(clock.tick() + SAFETY_LAG_US + 1)
    clock.last += 1
    # Added to what was rolled up, not recomputed from the one raw row left: 4 + 6 + 10.
    assert rollups(database, sid)[(3600, old)] == (3, 20.0, 152.0, 4.0, 10.0)
    assert rollups(database, sid)[(86400, old - 8 * HOUR_US)] == (3, 20.0, 152.0, 4.0, 10.0)


def test_the_background_thread_runs_and_stops(database: Database) -> None:
    maintenance = HistoryMaintenance(database, retention_days=0, interval_seconds=0.05, clock=SystemClock())
    maintenance.start()
    maintenance.start()  # once per application: a second start does not add a thread
    try:
        deadline = time.monotonic() + 10
        while maintenance.runs < 2:
            if time.monotonic() > deadline:
                pytest.fail("the roll-up thread did not run")
            time.sleep(0.02)
    finally:
        maintenance.stop()
    assert maintenance._thread is None
    assert maintenance.failures == 0
    stopped = maintenance.runs
    time.sleep(0.2)
    assert maintenance.runs == stopped
    # The watermark is at most the safety lag behind the clock (other tests may have moved it further).
    assert (maintenance.watermark() or 0) >= int(time.time() * 1_000_000) - SAFETY_LAG_US - 20_000_000
