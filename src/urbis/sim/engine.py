"""The city in motion: which device says what, and when, over a window of simulated time.

:class:`CityEngine` owns the state of every device (energy counters, bay occupancy, garage
counters) and hands out :class:`Message` objects for consecutive windows
``[t0, t1)`` of simulated time.  The messages of a window do not depend on how time was cut
into windows, so a backfill in 15-minute windows and a live run in one-second windows tell
the same story for the same seed and start.

Reporting (as real devices do):

- lamp controllers and cabinet meters every 15 minutes (each at its own phase) and on every
  change: switching on at dusk, dimming, switching off at dawn, a fault starting or ending,
  the cabinet losing or regaining supply;
- air-quality stations every 1–5 minutes;
- bay sensors on every change, plus an hourly heartbeat;
- garage counters every 5 minutes.

A silent device (fault) says nothing; when a cabinet loses supply its lamps either report
off/0 W (battery-backed controllers) or go silent, drawn per fault.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from urbis.sim.air_quality import AirModel
from urbis.sim.faults import Fault, FaultBook
from urbis.sim.incidents import IncidentPlan
from urbis.sim.lighting import BurnCalendar, LampEnergy, LampSpec, dim_percent, lamp_joules, lamp_power, level_for
from urbis.sim.noise import gauss, spread, unit
from urbis.sim.parking import BayProcess, GarageProcess
from urbis.sim.world import City

#: A cabinet's own draw (controller, contactors, heating) and the losses in its cables.
CABINET_OWN_W = 15.0
CABINET_LINE_LOSS = 0.03
CHECKPOINT_EVERY = 3600.0
MAINS_VOLTAGE = 230.0
POWER_FACTOR = 0.95


@dataclass(frozen=True, slots=True)
class Message:
    """Measures of one device at one instant (``ts``: epoch seconds UTC)."""

    device_id: str
    gateway_id: str | None
    ts: float
    measures: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The measures as a device sends them: ``ts`` in epoch milliseconds plus the values."""
        return {"ts": round(self.ts * 1000), **self.measures}


def periodic(
    phases: Sequence[float], order: Sequence[int], period: float, start: float, end: float
) -> Iterator[tuple[float, int]]:
    """``(instant, item)`` of every periodic report in ``[start, end)``.

    Item ``order[j]`` reports at ``phases[j] + k·period`` for every integer ``k``; ``phases``
    is sorted and within ``[0, period)``.
    """
    k = math.floor(start / period)
    while k * period < end:
        base = k * period
        lo = bisect.bisect_left(phases, start - base)
        hi = bisect.bisect_left(phases, end - base)
        for j in range(lo, hi):
            yield base + phases[j], order[j]
        k += 1


def _sorted_phases(phases: Sequence[float]) -> tuple[list[float], list[int]]:
    order = sorted(range(len(phases)), key=lambda i: phases[i])
    return [phases[i] for i in order], order


class CityEngine:
    """Generates the devices' messages of a :class:`City` from ``start`` on.

    ``anchor`` is the simulated instant the run goes live (default ``start``): the offsets of
    the city's scripted incidents count from it.
    """

    def __init__(self, city: City, start: float, *, anchor: float | None = None):
        self.city = city
        config = city.config
        self.seed = config.seed
        self.start = start
        self.time = start
        self.calendar = BurnCalendar(config.dimming)
        self.incidents = IncidentPlan(config.incidents, city, anchor=start if anchor is None else anchor)
        self.faults = FaultBook(
            config.seed,
            config.faults,
            [(d.id, d.device_type) for d in city.devices()],
            scripted=self.incidents.faults_between if config.incidents else None,
        )
        self.air = AirModel(config.seed, self.incidents.pm25_level if self.incidents.has_episodes else None)
        self.counts = {"lights": 0, "cabinets": 0, "stations": 0, "bays": 0, "garages": 0}
        # Lighting: energy counters that have run since the lamps were installed.
        self._lamp_energy = [
            LampEnergy(
                light.spec,
                self.calendar,
                start,
                initial_kwh=round(100 + 1900 * unit(self.seed, "kwh", light.device.id), 3),
            )
            for light in city.lights
        ]
        # A cabinet meters the true draw of its lamps (not what their controllers think):
        # the whole circuit as one big lamp, corrected for the lamps that are faulty.
        self._true_specs = [replace(light.spec, meter_factor=1.0) for light in city.lights]
        self._circuits = [
            LampSpec(
                nominal_w=sum(city.lights[i].spec.nominal_w for i in c.light_indices),
                standby_w=sum(city.lights[i].spec.standby_w for i in c.light_indices),
            )
            for c in city.cabinets
        ]
        self._own = LampSpec(nominal_w=0.0, standby_w=CABINET_OWN_W)
        self._cabinet_kwh = [
            round(
                sum(self._lamp_energy[i].initial_kwh for i in c.light_indices) * 1.05
                + 300 * unit(self.seed, "own", c.device.id),
                3,
            )
            for c in city.cabinets
        ]
        self._light_phases = _sorted_phases([light.phase for light in city.lights])
        self._cabinet_phases = _sorted_phases([cabinet.phase for cabinet in city.cabinets])
        offsets = sorted(range(len(city.lights)), key=lambda i: city.lights[i].spec.switch_offset)
        self._by_offset = ([city.lights[i].spec.switch_offset for i in offsets], offsets)
        self._max_offset = max((abs(light.spec.switch_offset) for light in city.lights), default=0.0)
        self._light_index = {light.device.id: light.index for light in city.lights}
        self._cabinet_index = {cabinet.device.id: cabinet.index for cabinet in city.cabinets}
        self._checkpointed = start
        # Air quality: stations grouped by reporting interval.
        self._station_groups: list[tuple[float, list[float], list[int]]] = []
        for interval in sorted({s.spec.interval for s in city.stations}):
            members = [i for i, s in enumerate(city.stations) if s.spec.interval == interval]
            phases, order = _sorted_phases([city.stations[i].phase for i in members])
            self._station_groups.append((interval, phases, [members[j] for j in order]))
        self._station_index = {s.device.id: i for i, s in enumerate(city.stations)}
        # Parking.
        self._bays = [BayProcess(self.seed, bay.device.id, bay.kind, start) for bay in city.bays]
        self._bay_heap = [(process.next_change, i) for i, process in enumerate(self._bays)]
        heapq.heapify(self._bay_heap)
        self._bay_phases = _sorted_phases([bay.phase for bay in city.bays])
        self._bay_index = {bay.device.id: i for i, bay in enumerate(city.bays)}
        self._garages = [
            GarageProcess(
                self.seed, g.device.id, g.kind, g.capacity, start, allow_over_capacity=config.garage_over_capacity
            )
            for g in city.garages
        ]
        self._garage_index = {g.device.id: i for i, g in enumerate(city.garages)}

    # -- public -------------------------------------------------------------------------

    def boot(self) -> list[Message]:
        """Every device's full state at the start (what devices send when they come up)."""
        t = self.start
        out: list[Message | None] = []
        out += [self._light(i, t) for i in range(len(self.city.lights))]
        out += [self._cabinet(i, t) for i in range(len(self.city.cabinets))]
        out += [self._station(i, t) for i in range(len(self.city.stations))]
        out += [self._bay(i, t, self._bays[i].occupied) for i in range(len(self._bays))]
        out += [self._garage_now(i, t) for i in range(len(self._garages))]
        return [m for m in out if m is not None]

    def step(self, end: float) -> list[Message]:
        """The messages of ``[self.time, end)``, in time order; then the clock moves to ``end``."""
        start = self.time
        if end <= start:
            return []
        self.faults.prepare(start, end)
        out: list[Message | None] = []
        out += self._lighting(start, end)
        out += self._air(start, end)
        out += self._parking(start, end)
        self.time = end
        if end - self._checkpointed >= CHECKPOINT_EVERY:
            self._checkpoint(end)
        messages = [m for m in out if m is not None]
        messages.sort(key=lambda m: m.ts)
        return messages

    # -- lighting -------------------------------------------------------------------------

    def _lighting(self, start: float, end: float) -> list[Message | None]:
        due: set[tuple[float, int]] = set(periodic(*self._light_phases, self.city.config.light_interval, start, end))
        cabinets_due: set[tuple[float, int]] = set(
            periodic(*self._cabinet_phases, self.city.config.light_interval, start, end)
        )
        # Switching moments: each controller switches at its own small offset from the schedule.
        offsets, order = self._by_offset
        for change in self.calendar.changes(start - self._max_offset - 1.0, end + self._max_offset + 1.0):
            lo = bisect.bisect_left(offsets, start - change)
            hi = bisect.bisect_left(offsets, end - change)
            due.update((change + offsets[j], order[j]) for j in range(lo, hi))
        # Fault starts and ends: the device reports at once (a cabinet's lamps too).
        for instant, device_id in self.faults.transitions(start, end):
            if device_id in self._light_index:
                due.add((instant, self._light_index[device_id]))
            elif device_id in self._cabinet_index:
                cabinet_index = self._cabinet_index[device_id]
                cabinets_due.add((instant, cabinet_index))
                due.update((instant, i) for i in self.city.cabinets[cabinet_index].light_indices)
        out = [self._light(i, t) for t, i in due]
        out += [self._cabinet(i, t) for t, i in cabinets_due]
        return out

    def _lamp_faults(self, index: int, a: float, b: float) -> list[tuple[float, float, str]]:
        light = self.city.lights[index]
        cabinet = self.city.cabinets[light.cabinet_index]
        intervals: list[tuple[float, float, str]] = [
            (f.start, f.end, f.kind)
            for f in self.faults.faults(light.device.id, a, b)
            if f.kind in ("lamp-failure", "day-burner")
        ]
        intervals += [
            (f.start, f.end, "no-supply")
            for f in self.faults.faults(cabinet.device.id, a, b)
            if f.kind == "supply-loss"
        ]
        return intervals

    def _lamp_state(self, index: int, t: float) -> tuple[str, float, Fault | None]:
        """The lamp's mode, commanded level and the supply-loss fault in force (if any)."""
        light = self.city.lights[index]
        supply = self.faults.active_kind(self.city.cabinets[light.cabinet_index].device.id, "supply-loss", t)
        level = level_for(self.calendar, light.spec, t)
        if supply is not None:
            return "no-supply", level, supply
        mode = "normal"
        for fault in self.faults.active(light.device.id, t):
            if fault.kind == "lamp-failure":
                mode = "lamp-failure"
            elif fault.kind == "day-burner" and mode == "normal":
                mode = "day-burner"
        return mode, level, None

    def _light(self, index: int, t: float) -> Message | None:
        light = self.city.lights[index]
        device = light.device
        noise = spread(self.seed, "power", device.id, int(t))
        if not self.faults.has_faults(device.id) and not self.faults.has_faults(
            self.city.cabinets[light.cabinet_index].device.id
        ):
            # The common case, kept lean: a healthy lamp on a healthy circuit.
            level = level_for(self.calendar, light.spec, t)
            energy = self._lamp_energy[index].energy_at(t)
            measures: dict[str, Any] = {
                "on": level > 0,
                "dim": dim_percent(level),
                "power": round(lamp_power(light.spec, level, "normal", noise), 1),
                "energy": round(energy, 3),
                "status": "ok",
            }
            self.counts["lights"] += 1
            return Message(device.id, device.gateway_id, t, measures)
        if self.faults.active_kind(device.id, "silent", t) is not None:
            return None
        mode, level, supply = self._lamp_state(index, t)
        energy = self._lamp_energy[index].energy_at(t, self._lamp_faults(index, self._checkpointed, t))
        if supply is not None:
            if supply.draw("lamps-silent") < 0.5:
                return None  # controllers without a battery: nothing to say without mains
            measures = {"on": False, "dim": 0, "power": 0.0, "energy": round(energy, 3), "status": "noSupply"}
        else:
            on = mode == "day-burner" or level > 0
            shown = 1.0 if mode == "day-burner" else level
            power = lamp_power(light.spec, level, mode, noise)  # type: ignore[arg-type]
            measures = {
                "on": on,
                "dim": dim_percent(shown),
                "power": round(power, 1),
                "energy": round(energy, 3),
                "status": "ok",
            }
        self.counts["lights"] += 1
        return Message(device.id, device.gateway_id, t, measures)

    def _cabinet_joules(self, index: int, a: float, b: float) -> float:
        """Energy (J) through the cabinet's meter over ``[a, b]``."""
        cabinet = self.city.cabinets[index]
        supply = [
            (f.start, f.end, "no-supply")
            for f in self.faults.faults(cabinet.device.id, a, b)
            if f.kind == "supply-loss"
        ]
        lamps = lamp_joules(self._circuits[index], self.calendar, a, b, supply)
        for i in cabinet.light_indices:
            if not self.faults.has_faults(self.city.lights[i].device.id):
                continue
            own = self._lamp_faults(i, a, b)
            if len(own) > len(supply):
                spec = self._true_specs[i]
                lamps += lamp_joules(spec, self.calendar, a, b, own) - lamp_joules(spec, self.calendar, a, b, supply)
        return lamps * (1 + CABINET_LINE_LOSS) + lamp_joules(self._own, self.calendar, a, b, supply)

    def _cabinet(self, index: int, t: float) -> Message | None:
        cabinet = self.city.cabinets[index]
        device = cabinet.device
        if self.faults.active_kind(device.id, "silent", t) is not None:
            return None
        supply = self.faults.active_kind(device.id, "supply-loss", t)
        energy = self._cabinet_kwh[index] + self._cabinet_joules(index, self._checkpointed, t) / 3.6e6
        if supply is not None:
            measures: dict[str, Any] = {
                "energy": round(energy, 3),
                "power": 0.0,
                "voltage": 0.0,
                "current": 0.0,
                "supply": False,
            }
        else:
            circuit = self._circuits[index]
            load = circuit.standby_w + circuit.nominal_w * self.calendar.level_at(t)
            for i in cabinet.light_indices:
                light = self.city.lights[i]
                if self.faults.has_faults(light.device.id):
                    mode, level, _ = self._lamp_state(i, t)
                    if mode != "normal":
                        spec = self._true_specs[i]
                        load += lamp_power(spec, level, mode) - lamp_power(spec, level)  # type: ignore[arg-type]
            power = (load * (1 + CABINET_LINE_LOSS) + CABINET_OWN_W) * (
                1 + 0.005 * gauss(self.seed, "cab-p", device.id, int(t))
            )
            voltage = MAINS_VOLTAGE + 2.5 * gauss(self.seed, "cab-v", device.id, int(t))
            measures = {
                "energy": round(energy, 3),
                "power": round(power, 1),
                "voltage": round(voltage, 1),
                "current": round(power / (voltage * POWER_FACTOR), 2),
                "supply": True,
            }
        self.counts["cabinets"] += 1
        return Message(device.id, device.gateway_id, t, measures)

    def _checkpoint(self, t: float) -> None:
        for index, energy in enumerate(self._lamp_energy):
            energy.checkpoint(t, self._lamp_faults(index, self._checkpointed, t))
        for index in range(len(self.city.cabinets)):
            self._cabinet_kwh[index] += self._cabinet_joules(index, self._checkpointed, t) / 3.6e6
        self._checkpointed = t
        self.faults.prune(t - 3600.0)

    # -- air quality ----------------------------------------------------------------------

    def _air(self, start: float, end: float) -> list[Message | None]:
        out: list[Message | None] = []
        for interval, phases, order in self._station_groups:
            out += [self._station(i, t) for t, i in periodic(phases, order, interval, start, end)]
        return out

    def _station(self, index: int, t: float) -> Message | None:
        station = self.city.stations[index]
        device = station.device
        faults = self.faults.active(device.id, t)
        if any(f.kind == "silent" for f in faults):
            return None
        sample = self.air.reading(station.spec, t, faults)
        self.counts["stations"] += 1
        return Message(device.id, device.gateway_id, t, sample.as_measures())

    # -- parking --------------------------------------------------------------------------

    def _parking(self, start: float, end: float) -> list[Message | None]:
        out: list[Message | None] = []
        changed: dict[int, tuple[bool, list[tuple[float, bool]]]] = {}
        heap = self._bay_heap
        while heap and heap[0][0] < end:
            _, index = heapq.heappop(heap)
            process = self._bays[index]
            before = process.occupied
            events = process.advance(end)
            changed[index] = (before, events)
            heapq.heappush(heap, (process.next_change, index))
            for t, occupied in events:
                if self.faults.active_kind(process.bay_id, "stuck", t) is None:
                    out.append(self._bay(index, t, occupied))
        for t, index in periodic(*self._bay_phases, self.city.config.bay_heartbeat, start, end):
            out.append(self._bay(index, t, self._bay_state(index, t, changed)))
        for instant, device_id in self.faults.transitions(start, end):
            if device_id in self._bay_index:
                index = self._bay_index[device_id]
                out.append(self._bay(index, instant, self._bay_state(index, instant, changed)))
        for index, garage in enumerate(self._garages):
            device = self.city.garages[index].device
            for t, count in garage.advance(end):
                if self.faults.active_kind(device.id, "silent", t) is None:
                    self.counts["garages"] += 1
                    out.append(Message(device.id, device.gateway_id, t, count.as_measures()))
        return out

    def _bay_state(self, index: int, t: float, changed: dict[int, tuple[bool, list[tuple[float, bool]]]]) -> bool:
        if index not in changed:
            return self._bays[index].occupied
        state, events = changed[index]
        for instant, occupied in events:
            if instant > t:
                break
            state = occupied
        return state

    def _bay(self, index: int, t: float, occupied: bool) -> Message | None:
        device = self.city.bays[index].device
        faults = self.faults.active(device.id, t)
        if any(f.kind == "silent" for f in faults):
            return None
        if any(f.kind == "stuck" for f in faults):
            occupied = True  # a stuck magnetometer keeps seeing a car
        self.counts["bays"] += 1
        return Message(device.id, device.gateway_id, t, {"occupied": occupied})

    def _garage_now(self, index: int, t: float) -> Message | None:
        device = self.city.garages[index].device
        if self.faults.active_kind(device.id, "silent", t) is not None:
            return None
        self.counts["garages"] += 1
        return Message(device.id, device.gateway_id, t, self._garages[index].count().as_measures())
