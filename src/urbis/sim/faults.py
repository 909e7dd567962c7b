"""Injected faults: when each device misbehaves, reproducible from the seed.

Each (device, fault kind) is a Poisson process of fault starts at a rate per device per day,
each fault lasting an exponential time (capped).  Time is cut into fixed 30-day blocks and
the faults starting in a block are drawn from a stream seeded by ``(seed, kind, device,
block)``, so the faults at any instant are a pure function of the seed: they do not depend on
when the simulation started or on the order in which it was asked.

Kinds (domain reference §2.4 and §1.5):

- ``lamp-failure`` — the lamp is commanded on but draws only the controller's standby power;
- ``day-burner`` — a stuck relay: the lamp burns at full power day and night;
- ``supply-loss`` — a cabinet loses mains: its meter reads 0 V, its lamps report off/0 W or
  go silent (which of the two is drawn per fault);
- ``silent`` — the device stops reporting (communication loss);
- ``stuck`` — an air-quality sensor repeats the same values (flatline); a bay sensor reports
  "occupied" whatever is above it;
- ``drift`` — an air-quality sensor's gain drifts away, a few per cent a day.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Literal

from urbis.sim.noise import rng_for, unit

FaultKind = Literal["lamp-failure", "day-burner", "supply-loss", "silent", "stuck", "drift"]
FAULT_KINDS: tuple[FaultKind, ...] = ("lamp-failure", "day-burner", "supply-loss", "silent", "stuck", "drift")

#: Which faults each device type can have.
APPLICABLE: dict[str, tuple[FaultKind, ...]] = {
    "streetlight-controller": ("lamp-failure", "day-burner", "silent"),
    "cabinet-meter": ("supply-loss", "silent"),
    "air-quality-station": ("stuck", "drift", "silent"),
    "parking-bay-sensor": ("stuck", "silent"),
    "garage-counter": ("silent",),
}

BLOCK_SECONDS = 30 * 86_400.0
#: No fault lasts longer than this (it would be repaired): keeps look-backs to one block.
MAX_DURATION_SECONDS = 28 * 86_400.0


@dataclass(frozen=True)
class FaultRates:
    """Fault starts per device per day, and their mean durations in hours.

    The defaults give a city of 5,000 lamps about two lamp failures and one day-burner a
    day, a cabinet without supply every few days, and a few stuck or drifting sensors a week.
    """

    lamp_failure: float = 0.0004
    day_burner: float = 0.0002
    supply_loss: float = 0.005
    silent: float = 0.0005
    stuck: float = 0.003
    drift: float = 0.002
    lamp_failure_hours: float = 72.0
    day_burner_hours: float = 48.0
    supply_loss_hours: float = 3.0
    silent_hours: float = 8.0
    stuck_hours: float = 24.0
    drift_hours: float = 240.0

    def rate(self, kind: FaultKind) -> float:
        """Starts per device per day of ``kind``."""
        rate: float = getattr(self, kind.replace("-", "_"))
        return rate

    def mean_seconds(self, kind: FaultKind) -> float:
        """Mean duration of ``kind`` in seconds."""
        hours: float = getattr(self, f"{kind.replace('-', '_')}_hours")
        return hours * 3600.0

    def scaled(self, factor: float) -> FaultRates:
        """Every rate multiplied by ``factor`` (0 switches faults off), durations unchanged."""
        return replace(self, **{kind.replace("-", "_"): self.rate(kind) * factor for kind in FAULT_KINDS})

    @classmethod
    def none(cls) -> FaultRates:
        """No faults at all."""
        return cls().scaled(0.0)

    @classmethod
    def field_names(cls) -> list[str]:
        """The names accepted by :meth:`with_overrides`."""
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict[str, float]) -> FaultRates:
        """A copy with some fields set, by name (``lamp_failure`` or ``lamp-failure``)."""
        clean = {name.replace("-", "_"): value for name, value in overrides.items()}
        unknown = set(clean) - set(self.field_names())
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **clean)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of one device over ``[start, end)`` (epoch seconds)."""

    device_id: str
    kind: FaultKind
    start: float
    end: float

    def active(self, t: float) -> bool:
        """True while the fault lasts."""
        return self.start <= t < self.end

    def draw(self, *parts: object) -> float:
        """A uniform number fixed for this fault (e.g. how strongly a sensor drifts)."""
        return unit("fault-draw", self.device_id, self.kind, self.start, *parts)


class FaultBook:
    """Every device's faults, drawn block by block as time moves on.

    ``scripted`` gives the faults of scripted incidents (:mod:`urbis.sim.incidents`) starting
    in a span of time; they join the random ones block by block and are treated alike.
    """

    def __init__(
        self,
        seed: int,
        rates: FaultRates,
        devices: Iterable[tuple[str, str]],
        scripted: Callable[[float, float], Iterable[Fault]] | None = None,
    ):
        self.seed = seed
        self.rates = rates
        self._scripted = scripted
        self._plans: list[tuple[str, FaultKind, float, float]] = []
        for device_id, device_type in devices:
            for kind in APPLICABLE.get(device_type, ()):
                rate = rates.rate(kind)
                if rate > 0:
                    self._plans.append((device_id, kind, rate / 86_400.0, rates.mean_seconds(kind)))
        self._blocks: set[int] = set()
        self._ready = (0.0, 0.0)  # instants for which every fault that can matter is drawn
        self._by_device: dict[str, list[Fault]] = {}
        self._transitions: list[tuple[float, str]] = []  # (instant, device) of every start and end, sorted

    def _block(self, number: int) -> None:
        if number in self._blocks:
            return
        self._blocks.add(number)
        block_start = number * BLOCK_SECONDS
        new: list[Fault] = []
        for device_id, kind, rate, mean in self._plans:
            rng = rng_for(self.seed, "fault", kind, device_id, number)
            t = block_start + rng.expovariate(rate)
            while t < block_start + BLOCK_SECONDS:
                duration = min(MAX_DURATION_SECONDS, max(60.0, rng.expovariate(1.0 / mean)))
                new.append(Fault(device_id, kind, t, t + duration))
                t += rng.expovariate(rate)
        if self._scripted is not None:
            new.extend(self._scripted(block_start, block_start + BLOCK_SECONDS))
        for fault in new:
            bisect.insort(self._by_device.setdefault(fault.device_id, []), fault, key=lambda f: f.start)
            bisect.insort(self._transitions, (fault.start, fault.device_id))
            bisect.insort(self._transitions, (fault.end, fault.device_id))

    def prepare(self, start: float, end: float) -> None:
        """Draw the faults that can matter in ``[start, end]`` (those starting a block earlier too)."""
        if self._ready[0] <= start and end < self._ready[1]:
            return
        first = int(start // BLOCK_SECONDS) - 1
        last = int(end // BLOCK_SECONDS)
        for number in range(first, last + 1):
            self._block(number)
        # Blocks are drawn contiguously from the first one asked for, so the ready span grows.
        low = min(self._blocks)
        high = max(self._blocks)
        if all(n in self._blocks for n in range(low, high + 1)):
            self._ready = ((low + 1) * BLOCK_SECONDS, (high + 1) * BLOCK_SECONDS)

    def faults(self, device_id: str, start: float, end: float) -> list[Fault]:
        """The device's faults overlapping ``[start, end]``."""
        self.prepare(start, end)
        return [f for f in self._by_device.get(device_id, ()) if f.start <= end and f.end > start]

    def active(self, device_id: str, t: float) -> list[Fault]:
        """The device's faults in force at ``t``."""
        self.prepare(t, t)
        return [f for f in self._by_device.get(device_id, ()) if f.start <= t < f.end]

    def has_faults(self, device_id: str) -> bool:
        """Whether any fault of the device is known (cheap: use before the exact queries)."""
        return device_id in self._by_device

    def active_kind(self, device_id: str, kind: FaultKind, t: float) -> Fault | None:
        """The device's fault of ``kind`` in force at ``t``, if any."""
        return next((f for f in self.active(device_id, t) if f.kind == kind), None)

    def transitions(self, start: float, end: float) -> list[tuple[float, str]]:
        """``(instant, device)`` of every fault start or end in ``[start, end)``, in time order."""
        self.prepare(start, end)
        lo = bisect.bisect_left(self._transitions, (start, ""))
        hi = bisect.bisect_left(self._transitions, (end, ""))
        return self._transitions[lo:hi]

    def prune(self, before: float) -> None:
        """Forget faults that ended before ``before`` (keeps memory flat in long runs)."""
        for device_id, faults in list(self._by_device.items()):
            kept = [f for f in faults if f.end >= before]
            if kept:
                self._by_device[device_id] = kept
            else:
                del self._by_device[device_id]
        self._transitions = [item for item in self._transitions if item[0] >= before]

    def all_faults(self) -> list[Fault]:
        """Every fault drawn so far, in start order (for reports and tests)."""
        return sorted((f for faults in self._by_device.values() for f in faults), key=lambda f: (f.start, f.device_id))
