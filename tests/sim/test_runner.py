"""The runner: backfill then live, accelerated but never ahead of the real clock, graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from urbis.sim.engine import Message
from urbis.sim.faults import FaultRates
from urbis.sim.runner import DAY, RunPlan, Simulation, live_start
from urbis.sim.transport import SendStats
from urbis.sim.world import City, CityConfig, build_city

NOW = 1_795_000_000.0  # a Monday in November 2026, 09:46 UTC


class FakeClock:
    """Real time for the runner: moves ``step`` seconds every time it is read."""

    def __init__(self, start: float, step: float):
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Recording:
    """A transport that keeps what it is given and when (by the fake clock)."""

    def __init__(self, clock: FakeClock, stop_after: int | None = None, stop: asyncio.Event | None = None):
        self.stats = SendStats()
        self.batches: list[tuple[float, list[Message]]] = []
        self.clock = clock
        self.stop_after = stop_after
        self.stop = stop
        self.flushed = 0

    async def send(self, messages: Sequence[Message]) -> None:
        self.batches.append((self.clock.now, list(messages)))
        self.stats.messages += len(messages)
        self.stats.accepted += len(messages)
        if self.stop is not None and self.stop_after is not None and len(self.batches) >= self.stop_after:
            self.stop.set()

    async def flush(self) -> None:
        self.flushed += 1

    async def close(self) -> None:
        await self.flush()

    @property
    def messages(self) -> list[Message]:
        return [m for _, batch in self.batches for m in batch]


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(CityConfig(seed=2, lights=30, stations=3, bays=20, garages=1, faults=FaultRates.none()))


def test_live_start_defaults() -> None:
    assert live_start(RunPlan(), NOW) == NOW
    assert live_start(RunPlan(speed=60), NOW) == NOW - DAY
    assert live_start(RunPlan(start=NOW - 5), NOW) == NOW - 5
    with pytest.raises(ValueError, match="future"):
        live_start(RunPlan(start=NOW + 3600), NOW)


def test_backfill_sends_the_history_before_the_start(city: City) -> None:
    clock = FakeClock(NOW, 0.001)
    sink = Recording(clock)
    plan = RunPlan(start=NOW, backfill_days=0.5, duration=0.0)
    report = asyncio.run(Simulation(city, sink, clock=clock, progress=lambda _: None).run(plan))
    times = [m.ts for m in sink.messages]
    assert min(times) == NOW - 0.5 * DAY  # the boot messages
    assert max(times) < NOW + 1
    assert report.backfill_messages == len(sink.messages) - report.live_messages
    # Every garage count of the half day is there (every 5 minutes), so nothing was skipped.
    garage = [m for m in sink.messages if m.device_id == "garage-01"]
    assert len(garage) == 1 + 12 * 12
    # Backfill windows are big batches (15 minutes each), not one request per message.
    assert len(sink.batches) <= 1 + 48 + 2
    assert sink.flushed >= 1


def test_accelerated_run_never_gets_ahead_of_the_real_clock(city: City) -> None:
    clock = FakeClock(NOW, 1.0)  # every read of the clock: one real second later
    sink = Recording(clock)
    plan = RunPlan(speed=600, start=NOW - 3600, duration=30, tick=0)
    report = asyncio.run(Simulation(city, sink, clock=clock, progress=lambda _: None).run(plan))
    for sent_at, batch in sink.batches:
        assert all(m.ts <= sent_at for m in batch)
    # 600 simulated seconds per real second catch up with the hour within a few seconds,
    # then the simulation follows real time.
    assert report.ended == pytest.approx(clock.now, abs=5)
    assert report.windows > 5
    stamps = [m.ts for m in sink.messages]
    assert min(stamps) == NOW - 3600
    assert stamps == sorted(stamps)


def test_real_time_run_follows_the_clock(city: City) -> None:
    clock = FakeClock(NOW, 0.5)
    sink = Recording(clock)
    report = asyncio.run(
        Simulation(city, sink, clock=clock, progress=lambda _: None).run(RunPlan(duration=120, tick=0))
    )
    assert report.started == pytest.approx(NOW + 0.5)
    assert report.ended <= clock.now
    assert report.ended - report.started == pytest.approx(120, abs=2)
    stations = [m for m in sink.messages if m.device_id.startswith("aq-")]
    assert stations  # a couple of minutes: every station has reported at least once or twice


def test_stop_ends_the_run_gracefully(city: City) -> None:
    clock = FakeClock(NOW, 1.0)

    async def go() -> Recording:
        stop = asyncio.Event()
        sink = Recording(clock, stop_after=3, stop=stop)
        await Simulation(city, sink, clock=clock, progress=lambda _: None).run(RunPlan(tick=0), stop)
        return sink

    sink = asyncio.run(go())
    assert len(sink.batches) == 3  # the boot, two live windows, then it stopped
    assert sink.flushed >= 1


def test_backfill_reports_progress(city: City) -> None:
    clock = FakeClock(NOW, 0.001)
    notes: list[str] = []
    plan = RunPlan(start=NOW, backfill_days=2, duration=0)
    asyncio.run(Simulation(city, Recording(clock), clock=clock, progress=notes.append).run(plan))
    assert len(notes) == 2 and notes[-1].startswith("backfill: 2.00 of 2.00 days")
