"""The solution runner: periodic runs, early wake-ups on watched changes, failures survived, one leader."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime

from mqtt_broker import wait_until
from urbis.context.service import EntityChanged
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.solutions.runtime import SolutionRunner

LIGHT = "https://smartdatamodels.org/dataModel.Streetlighting/Streetlight"
T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def changed(type_iri: str) -> EntityChanged:
    entity = {"id": "urn:ngsi-ld:X:1", "type": [type_iri], "attrs": {}}
    return EntityChanged("city", "urn:ngsi-ld:X:1", "update", entity, None, ())


def test_runs_at_start_and_when_a_watched_type_changes() -> None:
    bus = EventBus()
    seen: list[datetime] = []
    runner = SolutionRunner(
        "lighting",
        seen.append,
        bus=bus,
        watched_types={LIGHT},
        interval=3600,
        quiet=0.05,
        min_gap=0.0,
        clock=FixedClock(T0),
    )
    runner.start()
    try:
        assert wait_until(lambda: len(seen) == 1)
        bus.publish(changed("https://example.org/Other"))
        time.sleep(0.3)
        assert len(seen) == 1  # not a watched type: no extra run
        for _ in range(20):  # a burst of changes settles into one run
            bus.publish(changed(LIGHT))
        assert wait_until(lambda: len(seen) == 2)
        time.sleep(0.3)
        assert len(seen) == 2 and runner.status.wakeups == 1
        assert seen == [T0, T0] and runner.lag_seconds() == 0.0
    finally:
        runner.stop()
    bus.publish(changed(LIGHT))  # unsubscribed on stop: nothing breaks, nothing runs
    assert len(seen) == 2


def test_a_failing_evaluation_is_counted_and_the_next_run_happens() -> None:
    calls = []

    def evaluate(now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("a bug")

    runner = SolutionRunner("parking", evaluate, interval=0.05)
    runner.start()
    try:
        assert wait_until(lambda: len(calls) >= 3)
    finally:
        runner.stop()
    assert runner.status.failures == 1 and runner.status.runs >= 2


def test_only_one_process_of_a_deployment_runs_a_solution(database: Database) -> None:
    name = f"air-{time.monotonic_ns()}"
    counts = [0, 0]
    lock = threading.Lock()

    def counter(i: int) -> object:
        def evaluate(_now: datetime) -> None:
            with lock:
                counts[i] += 1

        return evaluate

    # Two Database objects on the same database stand for two server processes.
    dbs = [Database(database.url) for _ in range(2)]
    runners = [SolutionRunner(name, counter(i), db=dbs[i], interval=0.05) for i in range(2)]  # type: ignore[arg-type]
    for runner in runners:
        runner.start()
    try:
        assert wait_until(lambda: sum(counts) >= 5)
        assert min(counts) == 0  # the other one waits for the lead
        leader = 0 if counts[0] else 1
        runners[leader].stop()  # the leader goes away: the follower takes over
        before = counts[1 - leader]
        assert wait_until(lambda: counts[1 - leader] > before + 2, timeout=20)
    finally:
        for runner in runners:
            runner.stop()
        for db in dbs:
            db.dispose()


def test_wake_ups_are_kept_a_minimum_gap_apart() -> None:
    bus = EventBus()
    seen: list[float] = []
    runner = SolutionRunner(
        "air",
        lambda _now: seen.append(time.monotonic()),
        bus=bus,
        watched_types={LIGHT},
        interval=3600,
        quiet=0.01,
        min_gap=0.5,
    )
    runner.start()
    try:
        assert wait_until(lambda: len(seen) == 1)
        deadline = time.monotonic() + 2.6
        while time.monotonic() < deadline:  # a steady stream of changes
            bus.publish(changed(LIGHT))
            time.sleep(0.01)
        assert wait_until(lambda: len(seen) >= 3)
    finally:
        runner.stop()
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert min(gaps) >= 0.45 and len(seen) <= 7  # about one run per 0.5 s, not one per change (about 260)
