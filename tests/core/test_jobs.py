"""Periodic jobs run repeatedly, survive failing runs and stop cleanly."""

from __future__ import annotations

import threading

from urbis.core.jobs import PeriodicJob


def test_a_job_runs_repeatedly_and_survives_failures() -> None:
    calls: list[int] = []
    enough = threading.Event()

    def work() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bad run")
        if len(calls) >= 4:
            enough.set()

    job = PeriodicJob("test", 0.01, work)
    job.start()
    try:
        assert enough.wait(10)
    finally:
        job.stop()
    assert job.failures == 1
    assert job.runs >= 3
    after = len(calls)
    assert not enough.wait(0.05) or len(calls) == after  # stopped: no further runs


def test_run_once_counts_without_a_thread() -> None:
    job = PeriodicJob("once", 60, lambda: None)
    job.run_once()
    assert (job.runs, job.failures) == (1, 0)
