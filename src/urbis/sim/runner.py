"""Running the simulated city: backfill, then live in real time or faster, until told to stop.

Simulated time maps to real time as ``sim = start + (real - real_start) · speed``, but never
beyond the real present: Urbis rejects measures stamped in the future, so an accelerated run
starts in the past (by default a day ago) and slows to real time once it catches up.

A backfill sends ``backfill_days`` of history before ``start`` as fast as Urbis takes it
(15-minute windows, gateway batches of thousands of measures, several requests in flight)
and then carries straight on live.  Stopping (``stop`` set, or ``duration`` real seconds
over) finishes the window being sent and waits for the requests under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from urbis.sim.engine import CityEngine
from urbis.sim.transport import SendStats, Transport
from urbis.sim.world import City

log = logging.getLogger(__name__)

DAY = 86_400.0
BACKFILL_WINDOW = 900.0


@dataclass(frozen=True)
class RunPlan:
    """How to run: from when, how fast, for how long, with how much history first."""

    speed: float = 1.0  # simulated seconds per real second
    start: float | None = None  # epoch seconds; default: now (speed 1) or a day ago (faster)
    duration: float | None = None  # real seconds of live running; None: until stopped
    backfill_days: float = 0.0
    tick: float = 1.0  # real seconds between live windows


@dataclass
class RunReport:
    """What a run did."""

    started: float  # simulated start of live running
    ended: float  # simulated time reached
    backfill_messages: int = 0
    live_messages: int = 0
    windows: int = 0


Progress = Callable[[str], None]


def live_start(plan: RunPlan, now: float) -> float:
    """The simulated instant live running starts at."""
    if plan.start is not None:
        if plan.start > now + 1.0:
            raise ValueError("the start lies in the future: Urbis would reject the measures")
        return plan.start
    return now - DAY if plan.speed > 1 else now


class Simulation:
    """Drives a :class:`CityEngine` and hands its messages to a :class:`Transport`."""

    def __init__(
        self,
        city: City,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
    ):
        self.city = city
        self.transport = transport
        self.clock = clock
        self.progress = progress or (lambda text: log.info("%s", text))
        self.engine: CityEngine | None = None

    @property
    def stats(self) -> SendStats:
        """The transport's counters."""
        return self.transport.stats

    async def run(self, plan: RunPlan, stop: asyncio.Event | None = None) -> RunReport:
        """Backfill (if asked), then run live until ``stop`` is set or ``plan.duration`` is over."""
        stop = stop or asyncio.Event()
        now = self.clock()
        live_from = live_start(plan, now)
        first = live_from - plan.backfill_days * DAY
        engine = CityEngine(self.city, first, anchor=live_from)
        self.engine = engine
        for line in engine.incidents.describe():
            self.progress(line)
        report = RunReport(started=live_from, ended=first)
        boot = engine.boot()
        await self.transport.send(boot)
        if plan.backfill_days > 0:
            report.backfill_messages = len(boot) + await self._backfill(engine, live_from, stop)
        else:
            report.live_messages = len(boot)
        await self._live(engine, plan, live_from, now, stop, report)
        await self.transport.flush()
        report.ended = engine.time
        return report

    async def _backfill(self, engine: CityEngine, until: float, stop: asyncio.Event) -> int:
        total = 0
        began = self.clock()
        next_note = engine.time + DAY
        days = (until - engine.time) / DAY
        while engine.time < until and not stop.is_set():
            messages = engine.step(min(until, engine.time + BACKFILL_WINDOW))
            total += len(messages)
            await self.transport.send(messages)
            if engine.time >= next_note or engine.time >= until:
                await asyncio.sleep(0)
                done = days - (until - engine.time) / DAY
                elapsed = max(1e-6, self.clock() - began)
                self.progress(
                    f"backfill: {done:.2f} of {days:.2f} days, {total:,} messages, "
                    f"{self.stats.accepted:,} measures accepted ({self.stats.accepted / elapsed:,.0f}/s)"
                )
                next_note += DAY
        await self.transport.flush()
        return total

    async def _live(
        self,
        engine: CityEngine,
        plan: RunPlan,
        live_from: float,
        real_start: float,
        stop: asyncio.Event,
        report: RunReport,
    ) -> None:
        # The simulated clock runs from the moment the run began, so the time a backfill took
        # is caught up with in the first live window instead of lagging for ever.
        speed = max(plan.speed, 1e-9)
        live_began = self.clock()
        while not stop.is_set():
            real = self.clock()
            if plan.duration is not None and real - live_began >= plan.duration:
                break
            target = min(real, live_from + (real - real_start) * speed)
            if target > engine.time:
                messages = engine.step(target)
                report.live_messages += len(messages)
                report.windows += 1
                await self.transport.send(messages)
            wait = plan.tick
            if plan.duration is not None:
                wait = min(wait, max(0.0, plan.duration - (self.clock() - live_began)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
