"""Scripted incidents: a given fault on a given device, or a PM2.5 episode, at a given time.

The random faults (:mod:`urbis.sim.faults`) make a plausible city; an incident makes a story
one can watch for: *this* lamp burns by day from 10:05 for six minutes, *this* cabinet loses
mains, *this* district breathes smoke.  An incident is written

    KIND:TARGET@WHEN+DURATION[/EVERY][=LEVEL]

- ``KIND`` — a fault kind (``lamp-failure``, ``day-burner``, ``supply-loss``, ``silent``,
  ``stuck``, ``drift``) or ``pm25-episode``;
- ``TARGET`` — a device id (``lamp-00012``) or its entity id, or ``any`` (a device the kind
  applies to, chosen from the seed, a new one for each repetition).  A PM2.5 episode targets a
  district (its name or key), one station, ``any`` (a district with stations) or ``city``.
  ``any`` and ``city`` in a city without such devices skip the incident;
- ``WHEN`` — an ISO 8601 instant with a time zone, or an offset from the moment the run goes
  live (``-50m``, ``+2h``, ``0``): negative offsets fall into the backfill;
- ``DURATION`` and ``EVERY`` — ``90s``, ``20m``, ``1h30m``, ``2d`` or plain seconds; with
  ``EVERY`` the incident repeats for ever from ``WHEN`` on;
- ``LEVEL`` — a PM2.5 episode's level in µg/m³ (default 75, "unhealthy" for the US AQI).
  Any level is allowed: a low one (``=4``) is a clean, windy spell.

Incidents are faults like the random ones once resolved, so devices report their start and end
at once and every model treats them alike.  Everything is a pure function of the seed, the
specifications and the anchor (the live start): the same command tells the same story.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, cast, get_args

from urbis.sim.faults import APPLICABLE, MAX_DURATION_SECONDS, Fault, FaultKind
from urbis.sim.geography import slug
from urbis.sim.noise import unit

if TYPE_CHECKING:
    from urbis.sim.world import City

IncidentKind = Literal["lamp-failure", "day-burner", "supply-loss", "silent", "stuck", "drift", "pm25-episode"]
INCIDENT_KINDS: tuple[IncidentKind, ...] = get_args(IncidentKind)
PM25_EPISODE: IncidentKind = "pm25-episode"
#: A PM2.5 episode's level when none is given: US AQI about 160 (unhealthy), EAQI "poor".
DEFAULT_PM25_LEVEL = 75.0
MAX_PM25_LEVEL = 1000.0
#: Tries at finding a device for ``any`` that no earlier incident already affects at that time.
_PICK_ATTEMPTS = 64

_UNITS = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``20m``, ``1h30m``, ``2d`` or a plain number of seconds; ValueError otherwise."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION.fullmatch(value)
        if not value or match is None or not any(match.groups()):
            raise ValueError(f"not a duration: {text!r} (e.g. 90s, 20m, 1h30m, 2d)") from None
        seconds = sum(float(part) * _UNITS[name] for part, name in zip(match.groups(), "dhms", strict=True) if part)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as ``1h30m``, ``20m``, ``45s`` (whole seconds)."""
    rest = round(seconds)
    parts = []
    for name, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{name}")
            rest %= size
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class IncidentSpec:
    """One incident as written on the command line (see the module docstring)."""

    kind: IncidentKind
    target: str
    duration: float  # seconds
    at: float | None = None  # an absolute start (epoch seconds) ...
    offset: float | None = None  # ... or one relative to the live start
    every: float | None = None  # repeat period (seconds), None: once
    level: float | None = None  # PM2.5 episodes: µg/m³

    def __post_init__(self) -> None:
        if (self.at is None) == (self.offset is None):
            raise ValueError("an incident needs either an absolute start or an offset")
        if not 0 < self.duration <= MAX_DURATION_SECONDS:
            raise ValueError(f"an incident lasts more than 0 s and at most {MAX_DURATION_SECONDS / 86_400:g} days")
        if self.every is not None and self.every < self.duration:
            raise ValueError("an incident repeats no sooner than it ends (EVERY >= DURATION)")
        if self.level is not None and self.kind != PM25_EPISODE:
            raise ValueError("only a pm25-episode takes a =LEVEL")

    def first_start(self, anchor: float) -> float:
        """When the first occurrence starts, for a run that goes live at ``anchor``."""
        return self.at if self.at is not None else anchor + (self.offset or 0.0)

    @property
    def pm25_level(self) -> float:
        """The episode's level (µg/m³)."""
        return DEFAULT_PM25_LEVEL if self.level is None else self.level


def parse_incident(text: str) -> IncidentSpec:
    """``KIND:TARGET@WHEN+DURATION[/EVERY][=LEVEL]`` as an :class:`IncidentSpec`; ValueError if malformed."""
    example = "e.g. day-burner:lamp-00012@-10m+20m or pm25-episode:Zentrum@2026-11-24T18:00:00Z+3h=70"
    kind_text, colon, rest = text.strip().partition(":")
    kind = kind_text.strip().lower().replace("_", "-")
    if not colon or kind not in INCIDENT_KINDS:
        raise ValueError(f"unknown incident kind {kind_text!r}: one of {', '.join(INCIDENT_KINDS)} ({example})")
    target, at_sign, when_text = rest.partition("@")
    target = target.strip()
    if not target or not at_sign:
        raise ValueError(f"expected KIND:TARGET@WHEN+DURATION, got {text!r} ({example})")
    level: float | None = None
    if "=" in when_text:
        when_text, _, level_text = when_text.rpartition("=")
        try:
            level = float(level_text)
        except ValueError:
            raise ValueError(f"not a PM2.5 level in µg/m³: {level_text!r}") from None
        if not 0 <= level <= MAX_PM25_LEVEL:
            raise ValueError(f"a PM2.5 level lies between 0 and {MAX_PM25_LEVEL:g} µg/m³, got {level:g}")
    every: float | None = None
    if "/" in when_text:
        when_text, _, every_text = when_text.rpartition("/")
        every = parse_duration(every_text)
    start_text, plus, duration_text = when_text.rpartition("+")
    if not plus or not duration_text.strip():
        raise ValueError(f"no +DURATION in {text!r} ({example})")
    duration = parse_duration(duration_text)
    at, offset = _parse_when(start_text)
    return IncidentSpec(kind, target, duration, at=at, offset=offset, every=every, level=level)


def _parse_when(text: str) -> tuple[float | None, float | None]:
    value = text.strip()
    if not value:
        raise ValueError("no start after '@': an ISO 8601 instant or an offset such as -10m")
    if "T" in value or value.count("-") >= 2:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 instant: {value!r}") from None
        if moment.tzinfo is None:
            raise ValueError(f"give the incident's start with a time zone, e.g. {value}Z")
        return moment.astimezone(UTC).timestamp(), None
    sign = -1.0 if value.startswith("-") else 1.0
    return None, sign * parse_duration(value.lstrip("+-"))


# -- resolved against a city ------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What one specification may hit: fixed devices (or stations), or a pool to pick from.

    ``any`` or ``city`` in a city that has nothing of the kind (no lamps, no stations) hits
    nothing: the incident is skipped, with ``note`` saying why.
    """

    fixed: tuple[str, ...] | None
    pool: tuple[str, ...] = ()
    districts: dict[str, tuple[str, ...]] | None = None  # ``any`` district of an episode: district -> stations
    note: str | None = None

    @property
    def empty(self) -> bool:
        return self.fixed == () or (self.fixed is None and not self.pool)


class IncidentPlan:
    """The incidents of one run: device faults per time span and PM2.5 levels per station.

    ``anchor`` is the simulated instant the run goes live (offsets count from it).  Building a
    plan checks every target against the city and raises ValueError with a readable reason.
    """

    def __init__(self, specs: Sequence[IncidentSpec], city: City, *, anchor: float, seed: int | None = None) -> None:
        """Resolve ``specs`` on ``city``; ``seed`` (default: the city's) picks the ``any`` targets."""
        self.specs = tuple(specs)
        self.anchor = anchor
        self.seed = city.config.seed if seed is None else seed
        self._types = {d.id: d.device_type for d in city.devices() if d.device_type != "gateway"}
        entity_ids = {d.entity_id: d.id for d in city.devices() if d.entity_id is not None}
        self._cabinet_of = {light.device.id: city.cabinets[light.cabinet_index].device.id for light in city.lights}
        stations_by_district: dict[str, list[str]] = {}
        for station in city.stations:
            stations_by_district.setdefault(station.district, []).append(station.device.id)
        names = {d.name.lower(): d.name for d in city.geography.districts}
        names.update({d.key: d.name for d in city.geography.districts})
        self._targets: list[_Target] = []
        for spec in self.specs:
            self._targets.append(self._resolve(spec, entity_ids, stations_by_district, names))
        self._starts = [spec.first_start(anchor) for spec in self.specs]
        self._picked: dict[tuple[int, int], tuple[str, ...]] = {}

    @property
    def has_episodes(self) -> bool:
        """Whether any PM2.5 episode is planned."""
        return any(spec.kind == PM25_EPISODE and not t.empty for spec, t in zip(self.specs, self._targets, strict=True))

    def _resolve(
        self,
        spec: IncidentSpec,
        entity_ids: dict[str, str],
        stations_by_district: dict[str, list[str]],
        names: dict[str, str],
    ) -> _Target:
        target = spec.target
        if spec.kind == PM25_EPISODE:
            stations = sorted(d for d, kind in self._types.items() if kind == "air-quality-station")
            if target in ("city", "any") and not stations:
                return _Target((), note="the city has no air-quality station")
            if target == "city":
                return _Target(tuple(stations))
            if target == "any":
                districts = {name: tuple(sorted(ids)) for name, ids in sorted(stations_by_district.items())}
                return _Target(None, tuple(districts), districts)
            device = entity_ids.get(target, target)
            if self._types.get(device) == "air-quality-station":
                return _Target((device,))
            name = names.get(target.lower()) or names.get(slug(target))
            if name is None:
                raise ValueError(f"pm25-episode: {target!r} is neither a district, a station, 'any' nor 'city'")
            members = stations_by_district.get(name)
            if not members:
                raise ValueError(f"pm25-episode: district {name!r} has no air-quality station")
            return _Target(tuple(sorted(members)))
        kind = cast(FaultKind, spec.kind)
        if target == "any":
            pool = tuple(sorted(d for d, dtype in self._types.items() if kind in APPLICABLE.get(dtype, ())))
            if not pool:
                return _Target((), note=f"the city has no device a {kind} happens to")
            return _Target(None, pool)
        device = entity_ids.get(target, target)
        device_type = self._types.get(device)
        if device_type is None:
            raise ValueError(f"{kind}: no device {target!r} in the simulated city")
        if kind not in APPLICABLE.get(device_type, ()):
            raise ValueError(f"{kind} does not happen to {device} (a {device_type})")
        return _Target((device,))

    # -- occurrences --------------------------------------------------------------------------

    def _occurrences(self, index: int, start: float, end: float) -> range:
        """Numbers of the occurrences of specification ``index`` overlapping ``[start, end)``."""
        spec, first = self.specs[index], self._starts[index]
        if spec.every is None:
            return range(1) if first < end and first + spec.duration > start else range(0)
        low = max(0, math.floor((start - first - spec.duration) / spec.every) + 1)
        high = math.ceil((end - first) / spec.every)
        return range(low, max(low, high))

    def _span(self, index: int, number: int) -> tuple[float, float]:
        spec = self.specs[index]
        begin = self._starts[index] + number * (spec.every or 0.0)
        return begin, begin + spec.duration

    def hits(self, index: int, number: int) -> tuple[str, ...]:
        """The devices (stations for an episode) occurrence ``number`` of specification ``index`` affects."""
        key = (index, number)
        found = self._picked.get(key)
        if found is None:
            found = self._pick(index, number)
            self._picked[key] = found
        return found

    def _pick(self, index: int, number: int) -> tuple[str, ...]:
        target = self._targets[index]
        if target.fixed is not None:
            return target.fixed
        pool = target.pool
        choice = pool[0]
        for attempt in range(_PICK_ATTEMPTS):
            choice = pool[int(unit(self.seed, "incident", index, number, attempt) * len(pool))]
            candidate = target.districts[choice] if target.districts is not None else (choice,)
            if not self._clashes(index, number, candidate):
                break
        return target.districts[choice] if target.districts is not None else (choice,)

    def _clashes(self, index: int, number: int, candidate: tuple[str, ...]) -> bool:
        """Whether an earlier incident already affects ``candidate`` (or its cabinet) at the same time."""
        begin, end = self._span(index, number)
        episode = self.specs[index].kind == PM25_EPISODE
        for other in range(index):
            if (self.specs[other].kind == PM25_EPISODE) != episode:
                continue
            for occurrence in self._occurrences(other, begin, end):
                taken = self.hits(other, occurrence)
                if any(self._related(a, b) for a in candidate for b in taken):
                    return True
        return False

    def _related(self, a: str, b: str) -> bool:
        # A lamp and the cabinet feeding it are one circuit: an outage would hide the lamp's fault.
        return a == b or self._cabinet_of.get(a) == b or self._cabinet_of.get(b) == a

    # -- what the engine asks ---------------------------------------------------------------------

    def faults_between(self, start: float, end: float) -> list[Fault]:
        """The device faults of every occurrence starting in ``[start, end)``."""
        out: list[Fault] = []
        for index, spec in enumerate(self.specs):
            if spec.kind == PM25_EPISODE or self._targets[index].empty:
                continue
            kind = cast(FaultKind, spec.kind)
            for number in self._occurrences(index, start, end):
                begin, finish = self._span(index, number)
                if start <= begin < end:
                    out.extend(Fault(device, kind, begin, finish) for device in self.hits(index, number))
        return out

    def pm25_level(self, station_id: str, t: float) -> float | None:
        """The PM2.5 level an episode holds ``station_id`` at, at ``t`` (the highest if several); None outside."""
        level: float | None = None
        for index, spec in enumerate(self.specs):
            if spec.kind != PM25_EPISODE or self._targets[index].empty:
                continue
            first = self._starts[index]
            if t < first:
                continue
            number = math.floor((t - first) / spec.every) if spec.every else 0
            begin, end = self._span(index, number)
            if begin <= t < end and station_id in self.hits(index, number):
                level = spec.pm25_level if level is None else max(level, spec.pm25_level)
        return level

    def describe(self, occurrences: int = 1) -> list[str]:
        """One line per specification and occurrence (the first ``occurrences`` of each), for people."""
        lines = []
        for index, spec in enumerate(self.specs):
            note = self._targets[index].note
            if note is not None:
                lines.append(f"incident: {spec.kind} on {spec.target} skipped: {note}")
                continue
            repeats = f", every {format_duration(spec.every)}" if spec.every else ""
            level = f" at {spec.pm25_level:g} µg/m³" if spec.kind == PM25_EPISODE else ""
            for number in range(occurrences if spec.every else 1):
                begin, _ = self._span(index, number)
                when = datetime.fromtimestamp(begin, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
                hit = self.hits(index, number)
                shown = ", ".join(hit[:5]) + (f" and {len(hit) - 5} more" if len(hit) > 5 else "")
                lines.append(
                    f"incident: {spec.kind}{level} on {shown} from {when} for {format_duration(spec.duration)}{repeats}"
                )
        return lines
