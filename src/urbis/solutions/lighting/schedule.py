"""Control programs, calendars and overrides: the level a lamp or group is commanded to, and why.

The vocabulary is TALQ's (domain reference §2.1):

- a :class:`ControlProgram` has an astro-clock active period (on at sunset + offset, off at
  sunrise + offset; astral computes both for the group's latitude and longitude), fixed-time
  steps in local wall-clock time, steps tied to sunset or sunrise, and an optional
  presence-adaptive boost;
- a :class:`Calendar` is an ordered list of :class:`CalendarRule` (date range, weekdays,
  specific dates → program); the first rule that matches wins, else the default program;
- an :class:`OverrideCommand` targets lamps or groups from a start to an expiry; of those in
  force, the one received last wins.

**Lighting day (TALQ dayOffset).** A lighting day starts at local noon (configurable): the night
from Friday evening to Saturday morning is Friday's, so Friday's calendar rule decides all of it.

**DST rule for fixed-time steps.** A step is given as a local wall-clock time and fires exactly
once per lighting day.  On the spring-forward night a time inside the gap (02:00–03:00 in
Europe/Berlin) does not exist: the step fires at the first instant after the gap (03:00 CEST),
which keeps the steps in their order.  On the fall-back night a time inside the repeated hour
fires at its first occurrence (CEST), never twice.

Nothing here reads the clock: every instant is a parameter, timezone-aware, and comes back in UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from urbis.solutions.lighting.const import (
    DEFAULT_DAY_STARTS_AT,
    DEFAULT_TIMEZONE,
    DecisionReason,
    SunEvent,
)

_JUST_BEFORE = timedelta(microseconds=1)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _require_level(value: float, name: str) -> None:
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{name} must be a level between 0 and 100 %, got {value!r}")


def level_from_illuminance(fraction: float) -> float:
    """A Smart Data Models ``illuminanceLevel`` (0..1) as the model's level in percent."""
    return round(fraction * 100.0, 6)


def illuminance_from_level(level: float) -> float:
    """A level in percent as a Smart Data Models ``illuminanceLevel`` (0..1)."""
    return round(level / 100.0, 6)


# -- where the sun is -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """Where a group of lamps stands: position for the sun, time zone for the wall clock."""

    latitude: float
    longitude: float
    timezone: str = DEFAULT_TIMEZONE
    elevation_m: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude must be within ±90°, got {self.latitude!r}")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude must be within ±180°, got {self.longitude!r}")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in the middle of a night

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def observer(self) -> Observer:
        """The site as astral's observer."""
        return Observer(self.latitude, self.longitude, self.elevation_m)


@lru_cache(maxsize=4096)
def sun_event(site: Site, day: date, event: SunEvent) -> datetime | None:
    """The UTC instant of sunset or sunrise on the local date ``day``, or None if it does not happen.

    None means the sun stays above (polar day) or below (polar night) the horizon all that day.
    """
    compute = sunset if event is SunEvent.SUNSET else sunrise
    try:
        return compute(site.observer, day, tzinfo=site.zone).astimezone(UTC)
    except ValueError:  # astral: "Sun is always above/below the horizon on this day"
        return None


def sun_elevation(site: Site, at: datetime) -> float:
    """The sun's apparent elevation (degrees, refraction included) at the site at instant ``at``."""
    _require_aware(at, "at")
    return float(elevation(site.observer, at.astimezone(UTC)))


# -- local wall-clock time ------------------------------------------------------------------


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local wall-clock ``wall`` happens on local date ``day``.

    A repeated wall time (fall-back hour) gives its first occurrence; a wall time that does
    not exist (spring-forward gap) gives the first instant after the gap.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None))
    first = naive.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of a repeated time
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In the gap, fold=1 reads the wall time with the offset after the change, which lands
    # before the transition; fold=0 with the offset before it, which lands after.  The
    # transition (the first instant after the gap) lies between: find it to the second.
    low = int(naive.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    after_offset = first.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def lighting_date(at: datetime, zone: ZoneInfo, day_starts_at: time = DEFAULT_DAY_STARTS_AT) -> date:
    """The lighting day ``at`` belongs to: the local date on which the current lighting day began."""
    _require_aware(at, "at")
    local = at.astimezone(zone)
    if local.time() >= day_starts_at:
        return local.date()
    return local.date() - timedelta(days=1)


# -- control programs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AstroClockPeriod:
    """TALQ ``AstroClockActivePeriod``: lit from sunset + ``sunset_offset`` to sunrise + ``sunrise_offset``.

    Offsets are signed: ``sunrise_offset=timedelta(minutes=-15)`` switches off a quarter of an
    hour before sunrise.
    """

    sunset_offset: timedelta = timedelta(0)
    sunrise_offset: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class FixedTimeStep:
    """TALQ ``fixedTimeControl``: from local wall-clock ``start`` on, command ``level`` (%)."""

    start: time
    level: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise ValueError("a fixed-time step is a local wall-clock time: give it without tzinfo")
        _require_level(self.level, "level")


@dataclass(frozen=True, slots=True)
class AstroTimeStep:
    """TALQ ``astroClockTimeControl``: at sunset/sunrise + ``offset``, command ``level`` (%).

    Sunset steps belong to the evening that starts the lighting day, sunrise steps to the
    morning that ends it, so "100 % from an hour before sunrise" stays tied to the dawn.
    """

    event: SunEvent
    offset: timedelta
    level: float

    def __post_init__(self) -> None:
        _require_level(self.level, "level")


Step = FixedTimeStep | AstroTimeStep


@dataclass(frozen=True, slots=True)
class PresenceBoost:
    """TALQ ``dynamicControl`` driven by a ``PresenceSensorFunction``: raise the level after a detection.

    After a detection at ``d`` the lamps are at ``boost_level`` during ``[d, d + hold)``
    (a new detection extends it), then back.  The level never drops because of a detection:
    if the level underneath is higher than the boost, it stays.  ``background_level`` replaces
    the fixed-time level while lit; None keeps the fixed-time steps as the background.
    """

    boost_level: float = 100.0
    hold: timedelta = timedelta(seconds=60)
    background_level: float | None = None

    def __post_init__(self) -> None:
        _require_level(self.boost_level, "boost_level")
        if self.background_level is not None:
            _require_level(self.background_level, "background_level")
        if self.hold <= timedelta(0):
            raise ValueError("the boost hold time must be positive")


@dataclass(frozen=True, slots=True)
class ControlProgram:
    """TALQ ``ControlProgram``: when lamps burn (active period) and how bright (steps, presence).

    While lit and before the first step of the lighting day has fired, the lamps are at
    ``level``.  A step fires at its instant and holds until the next one; a step that fired
    before switch-on sets the level the lamps come on at (the steps describe a daily state,
    the active period gates it).
    """

    program_id: str
    active_period: AstroClockPeriod = AstroClockPeriod()
    level: float = 100.0
    steps: tuple[Step, ...] = ()
    presence: PresenceBoost | None = None

    def __post_init__(self) -> None:
        _require_level(self.level, "level")


# -- calendars --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarRule:
    """TALQ ``CalendarRule``: on lighting days that match, run ``program_id``.

    A day matches when it lies in ``[start_date, end_date]`` (either end open when None), its
    ISO weekday (1 = Monday … 7 = Sunday) is in ``weekdays`` (any when empty) and it is one of
    ``dates`` (any when empty).  A holiday is a rule with ``dates``; an event season a rule with
    a date range.
    """

    program_id: str
    name: str = ""
    start_date: date | None = None
    end_date: date | None = None
    weekdays: frozenset[int] = frozenset()
    dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if any(not 1 <= day <= 7 for day in self.weekdays):
            raise ValueError("weekdays are ISO numbers 1 (Monday) … 7 (Sunday)")
        if self.start_date is not None and self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("a calendar rule's end date must not precede its start date")

    def matches(self, day: date) -> bool:
        """Whether the lighting day ``day`` falls under this rule."""
        if self.start_date is not None and day < self.start_date:
            return False
        if self.end_date is not None and day > self.end_date:
            return False
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        return not self.dates or day in self.dates


@dataclass(frozen=True, slots=True)
class Calendar:
    """TALQ ``Calendar``: ordered rules and a default program; the first matching rule wins."""

    calendar_id: str
    default_program: str
    rules: tuple[CalendarRule, ...] = ()
    day_starts_at: time = DEFAULT_DAY_STARTS_AT  # TALQ dayOffset: noon-to-noon by default

    def select(self, day: date) -> tuple[str, CalendarRule | None]:
        """The program for lighting day ``day`` and the rule that chose it (None: the default)."""
        for rule in self.rules:
            if rule.matches(day):
                return rule.program_id, rule
        return self.default_program, None


@dataclass(frozen=True, slots=True)
class ControlSetup:
    """Everything that decides a group's levels: where it is, its calendar and the programs it names."""

    site: Site
    calendar: Calendar
    programs: tuple[ControlProgram, ...]

    def __post_init__(self) -> None:
        known = [program.program_id for program in self.programs]
        if len(set(known)) != len(known):
            raise ValueError("program ids must be unique within a control setup")
        named = {self.calendar.default_program, *(rule.program_id for rule in self.calendar.rules)}
        missing = sorted(named - set(known))
        if missing:
            raise ValueError(f"the calendar names programs the setup lacks: {', '.join(missing)}")

    def program(self, program_id: str) -> ControlProgram:
        """The program called ``program_id``."""
        for program in self.programs:
            if program.program_id == program_id:
                return program
        raise KeyError(program_id)


# -- overrides --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverrideCommand:
    """TALQ ``OverrideCommand``: hold ``targets`` (lamp or group ids) at ``level`` from ``start`` to ``expiry``.

    ``expiry`` None holds until the command is withdrawn.  Of the overrides in force, the one
    with the latest ``received_at`` wins (on a tie, the later one in the sequence given).
    """

    override_id: str
    targets: frozenset[str]
    level: float
    start: datetime
    received_at: datetime
    expiry: datetime | None = None

    def __post_init__(self) -> None:
        _require_level(self.level, "level")
        _require_aware(self.start, "start")
        _require_aware(self.received_at, "received_at")
        if self.expiry is not None:
            _require_aware(self.expiry, "expiry")
            if self.expiry <= self.start:
                raise ValueError("an override must expire after it starts")

    def in_force(self, at: datetime) -> bool:
        """Whether the override holds at ``at`` (start inclusive, expiry exclusive)."""
        return self.start <= at and (self.expiry is None or at < self.expiry)


def override_in_force(
    overrides: Iterable[OverrideCommand], targets: Collection[str], at: datetime
) -> OverrideCommand | None:
    """The override that decides ``targets`` at ``at``: in force, aimed at one of them, received last."""
    winner: OverrideCommand | None = None
    for override in overrides:
        if not override.in_force(at) or override.targets.isdisjoint(targets):
            continue
        if winner is None or override.received_at >= winner.received_at:
            winner = override
    return winner


# -- one lighting day, planned ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduledStep:
    """A step of one lighting day, placed at its UTC instant."""

    at: datetime
    level: float
    reason: DecisionReason
    label: str


@dataclass(frozen=True, slots=True)
class NightPlan:
    """One lighting day of one setup: its bounds, program, switching instants and steps (all UTC)."""

    lighting_date: date
    starts: datetime
    ends: datetime
    program: ControlProgram
    calendar_rule: CalendarRule | None
    on: datetime | None  # None: the lamps stay off this lighting day (the sun does not set)
    off: datetime | None
    steps: tuple[ScheduledStep, ...]

    def lit(self, at: datetime) -> bool:
        """Whether the active period covers ``at``."""
        return self.on is not None and self.off is not None and self.on <= at < self.off


def _day_bounds(site: Site, day: date, day_starts_at: time) -> tuple[datetime, datetime]:
    zone = site.zone
    return (
        local_instant(day, day_starts_at, zone),
        local_instant(day + timedelta(days=1), day_starts_at, zone),
    )


def astro_period_interval(
    site: Site,
    day: date,
    period: AstroClockPeriod | None = None,
    day_starts_at: time = DEFAULT_DAY_STARTS_AT,
) -> tuple[datetime, datetime] | None:
    """When the astro clock lights lighting day ``day``: ``(on, off)`` in UTC, or None if it does not.

    On at sunset + offset, off at next sunrise + offset, both kept inside the lighting day.
    In a polar night (no sunset, sun below the horizon) the lamps burn the whole lighting day;
    in a polar day (no sunset, sun above) they stay off.
    """
    period = period or AstroClockPeriod()
    starts, ends = _day_bounds(site, day, day_starts_at)
    dusk = sun_event(site, day, SunEvent.SUNSET)
    dawn = sun_event(site, day + timedelta(days=1), SunEvent.SUNRISE)
    if dusk is not None:
        on = dusk + period.sunset_offset
    elif sun_elevation(site, starts) < 0.0:
        on = starts
    else:
        return None
    if dawn is not None:
        off = dawn + period.sunrise_offset
    elif sun_elevation(site, ends) < 0.0:
        off = ends
    else:
        return None
    on, off = max(on, starts), min(off, ends)
    if on >= off:
        return None
    return on, off


def _place_step(site: Site, day: date, step: Step, day_starts_at: time) -> ScheduledStep | None:
    if isinstance(step, FixedTimeStep):
        # A wall time before the day boundary belongs to the morning after (00:00 → next date).
        on_date = day if step.start >= day_starts_at else day + timedelta(days=1)
        at = local_instant(on_date, step.start, site.zone)
        return ScheduledStep(at, step.level, DecisionReason.FIXED_TIME_STEP, f"{step.start:%H:%M} local")
    if step.event is SunEvent.SUNSET:
        base = sun_event(site, day, SunEvent.SUNSET)
    else:
        base = sun_event(site, day + timedelta(days=1), SunEvent.SUNRISE)
    if base is None:
        return None  # the sun does not set or rise: a step tied to it does not happen
    minutes = step.offset.total_seconds() / 60.0
    return ScheduledStep(
        base + step.offset, step.level, DecisionReason.ASTRO_TIME_STEP, f"{step.event} {minutes:+g} min"
    )


@lru_cache(maxsize=2048)
def plan_night(setup: ControlSetup, day: date) -> NightPlan:
    """The plan of lighting day ``day`` (a local date) for ``setup``: program, switching, steps."""
    calendar = setup.calendar
    program_id, rule = calendar.select(day)
    program = setup.program(program_id)
    starts, ends = _day_bounds(setup.site, day, calendar.day_starts_at)
    interval = astro_period_interval(setup.site, day, program.active_period, calendar.day_starts_at)
    placed: list[tuple[datetime, int, ScheduledStep]] = []
    for index, step in enumerate(program.steps):
        scheduled = _place_step(setup.site, day, step, calendar.day_starts_at)
        if scheduled is not None and starts <= scheduled.at < ends:
            placed.append((scheduled.at, index, scheduled))
    # Steps landing on the same instant (two times inside a DST gap) apply in program order.
    placed.sort(key=lambda item: (item[0], item[1]))
    return NightPlan(
        lighting_date=day,
        starts=starts,
        ends=ends,
        program=program,
        calendar_rule=rule,
        on=interval[0] if interval else None,
        off=interval[1] if interval else None,
        steps=tuple(item[2] for item in placed),
    )


# -- the decision -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelDecision:
    """The level (0–100 %) commanded at ``at`` and the rule that decided it."""

    at: datetime
    level: float
    reason: DecisionReason
    lighting_date: date
    program_id: str
    calendar_rule: str | None  # the rule's name; None when the calendar's default program ran
    override_id: str | None = None
    detail: str = ""


def _rule_name(rule: CalendarRule | None) -> str | None:
    if rule is None:
        return None
    return rule.name or rule.program_id


def decide_level(
    setup: ControlSetup,
    at: datetime,
    *,
    targets: Collection[str] = (),
    overrides: Sequence[OverrideCommand] = (),
    detections: Sequence[datetime] = (),
) -> LevelDecision:
    """The level ``targets`` (a lamp id and/or its group id) should be commanded to at ``at``, and why.

    Precedence: an override in force aimed at one of ``targets`` (received last wins); then,
    outside the active period, off; then the presence boost after one of ``detections``; then
    the presence background; then the latest step of the lighting day; then the program level.
    """
    _require_aware(at, "at")
    at = at.astimezone(UTC)
    day = lighting_date(at, setup.site.zone, setup.calendar.day_starts_at)
    night = plan_night(setup, day)
    program = night.program
    rule = _rule_name(night.calendar_rule)
    override = override_in_force(overrides, targets, at)
    if override is not None:
        until = f" until {override.expiry.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if override.expiry else ""
        return LevelDecision(
            at,
            override.level,
            DecisionReason.OVERRIDE,
            day,
            program.program_id,
            rule,
            override.override_id,
            f"override {override.override_id} at {override.level:g} %{until}",
        )
    if not night.lit(at):
        return LevelDecision(
            at, 0.0, DecisionReason.DAYLIGHT, day, program.program_id, rule, None, "outside the astro-clock period"
        )
    level, reason, detail = program.level, DecisionReason.PROGRAM_LEVEL, f"program {program.program_id} level"
    for step in night.steps:
        if step.at > at:
            break
        level, reason, detail = step.level, step.reason, f"step at {step.label}"
    boost = program.presence
    if boost is not None:
        if boost.background_level is not None:
            level, reason, detail = boost.background_level, DecisionReason.PRESENCE_BACKGROUND, "presence background"
        latest = max((d for d in detections if d <= at < d + boost.hold), default=None)
        if latest is not None and boost.boost_level > level:
            level, reason = boost.boost_level, DecisionReason.PRESENCE_BOOST
            detail = f"presence detected at {latest.astimezone(UTC):%H:%M:%S} UTC"
    return LevelDecision(at, level, reason, day, program.program_id, rule, None, detail)


def level_changes(
    setup: ControlSetup,
    start: datetime,
    end: datetime,
    *,
    targets: Collection[str] = (),
    overrides: Sequence[OverrideCommand] = (),
    detections: Sequence[datetime] = (),
) -> list[LevelDecision]:
    """Every instant in ``[start, end)`` at which the commanded level changes, with the new decision.

    A change exactly at ``start`` (against the level just before it) is included, so that
    consecutive windows neither miss nor repeat a change.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    zone, day_starts_at = setup.site.zone, setup.calendar.day_starts_at
    candidates: set[datetime] = set()
    day = lighting_date(start, zone, day_starts_at) - timedelta(days=1)
    last_day = lighting_date(end, zone, day_starts_at)
    while day <= last_day:
        night = plan_night(setup, day)
        candidates.update((night.starts, night.ends))
        candidates.update(t for t in (night.on, night.off) if t is not None)
        candidates.update(step.at for step in night.steps)
        day += timedelta(days=1)
    for override in overrides:
        candidates.add(override.start.astimezone(UTC))
        if override.expiry is not None:
            candidates.add(override.expiry.astimezone(UTC))
    holds = {program.presence.hold for program in setup.programs if program.presence is not None}
    for detection in detections:
        candidates.add(detection.astimezone(UTC))
        candidates.update(detection.astimezone(UTC) + hold for hold in holds)

    def decide(t: datetime) -> LevelDecision:
        return decide_level(setup, t, targets=targets, overrides=overrides, detections=detections)

    previous = decide(start - _JUST_BEFORE).level
    changes: list[LevelDecision] = []
    for instant in sorted(t for t in candidates if start <= t < end):
        decision = decide(instant)
        if decision.level != previous:
            changes.append(decision)
            previous = decision.level
    return changes


@dataclass(frozen=True, slots=True)
class LevelSegment:
    """A stretch ``[start, end)`` at one commanded level (%)."""

    start: datetime
    end: datetime
    level: float

    @property
    def duration(self) -> timedelta:
        """How long the segment lasts."""
        return self.end - self.start


def level_segments(
    setup: ControlSetup,
    start: datetime,
    end: datetime,
    *,
    targets: Collection[str] = (),
    overrides: Sequence[OverrideCommand] = (),
    detections: Sequence[datetime] = (),
) -> list[LevelSegment]:
    """The commanded levels over ``[start, end)`` as consecutive segments that cover it exactly."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    first = decide_level(setup, start, targets=targets, overrides=overrides, detections=detections)
    changes = level_changes(setup, start, end, targets=targets, overrides=overrides, detections=detections)
    segments: list[LevelSegment] = []
    cursor, level = start, first.level
    for change in changes:
        if change.at > cursor:
            segments.append(LevelSegment(cursor, change.at, level))
        cursor, level = change.at, change.level
    segments.append(LevelSegment(cursor, end, level))
    return segments
