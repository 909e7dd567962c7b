"""Faults of lamps and cabinets: detection rules, persistence, and correlation, as a pure state machine.

``(previous book, new reports, time) → (new book, opened/closed events)`` — see
:func:`evaluate_faults`.  Each fault is identified by a stable :class:`FaultKey` (entity +
kind), so the alarm and the work order an opened event becomes can be closed by the event
that clears it.

**Detection** (domain reference §2.4), per lamp report:

- ``lampFailure`` — commanded on, but the lamp is not burning (its power is within a small
  share of the rated power above standby, or it says it is off);
- ``lampUnexpectedOn`` (day-burning) — burning while commanded off, or while the sun is above
  the horizon (astral's elevation above a margin);
- ``lampPowerTooHigh`` / ``lampPowerTooLow`` — burning as commanded, but the power is outside
  the dimming curve's expected power ± tolerance (TALQ ``lampPowerTolerance``);
- ``supplyLoss`` — the controller says its supply is gone;
- ``communicationLoss`` — no report for longer than the allowed silence (lamps and cabinets);

and per cabinet-meter report, ``supplyLoss`` when it says the supply is off or its voltage is
below the minimum.  A rule that cannot be judged from a report (power checks while commanded
off) gives no evidence either way, so it neither opens nor clears anything.

**Persistence.** A fault opens only when its condition has held for the configured number of
consecutive samples and/or for the configured duration (measured between the first and the
latest sample showing it) — a single bad sample opens nothing.  An open fault clears only when
the condition has been absent for the configured samples and/or duration.  Several reports at
the same instant count as one sample.  Transitions happen on evidence only: no report, no change
(silence itself is the evidence of a communication loss).

**Correlation.** A cabinet is *out* while it has a ``supplyLoss`` fault, pending or open — from
its meter, or inferred when at least a share of its lamps say their supply is gone.  While a
cabinet is out, the faults of its lamps are frozen: their pending faults are dropped, no new
evidence is taken, and once the cabinet's fault is open, lamp faults opened within the
correlation window before the outage began are closed as explained by it.  So one cabinet
alarm is raised, not one per lamp.  While a cabinet is silent, its lamps' communication losses
are suppressed likewise (one site gone dark, one alarm), and after its supply returns the
lamps' silence is counted from the return, so that they have time to report again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from urbis.solutions.lighting.const import (
    DEFAULT_MAX_SILENCE,
    LAMP_FAULT_KINDS,
    FaultKind,
    Severity,
    SourceKind,
)
from urbis.solutions.lighting.energy import DimmingCurve, expected_power_w
from urbis.solutions.lighting.schedule import Site, sun_elevation

# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persistence:
    """When a condition becomes a fault and when the fault clears.

    A fault opens when every configured opening criterion holds: at least ``open_samples``
    consecutive samples show the condition, and it has shown for at least ``open_after``
    (first to latest sample).  It clears likewise with ``clear_samples`` and ``clear_after``.
    Leave a criterion None to not use it; at least one of each pair must be set.
    """

    open_samples: int | None = 2
    open_after: timedelta | None = None
    clear_samples: int | None = None
    clear_after: timedelta | None = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.open_samples is None and self.open_after is None:
            raise ValueError("a fault needs an opening criterion: open_samples and/or open_after")
        if self.clear_samples is None and self.clear_after is None:
            raise ValueError("a fault needs a clearing criterion: clear_samples and/or clear_after")
        for name in ("open_samples", "clear_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("open_after", "clear_after"):
            value = getattr(self, name)
            if value is not None and value < timedelta(0):
                raise ValueError(f"{name} must not be negative")


def _default_persistence() -> dict[FaultKind, Persistence]:
    lamp = Persistence(open_samples=2, clear_after=timedelta(minutes=10))
    return {
        FaultKind.LAMP_FAILURE: lamp,
        FaultKind.LAMP_UNEXPECTED_ON: lamp,
        FaultKind.LAMP_POWER_TOO_HIGH: lamp,
        FaultKind.LAMP_POWER_TOO_LOW: lamp,
        # The allowed silence is the persistence already; one report ends it.
        FaultKind.COMMUNICATION_LOSS: Persistence(open_samples=1, clear_samples=1, clear_after=None),
        FaultKind.SUPPLY_LOSS: Persistence(open_samples=2, clear_samples=2, clear_after=None),
    }


def _default_severity() -> dict[tuple[SourceKind, FaultKind], Severity]:
    return {
        (SourceKind.CABINET, FaultKind.SUPPLY_LOSS): Severity.CRITICAL,  # a whole circuit dark
        (SourceKind.CABINET, FaultKind.COMMUNICATION_LOSS): Severity.MAJOR,
        (SourceKind.LAMP, FaultKind.SUPPLY_LOSS): Severity.MAJOR,  # one pole's feed or fuse
        (SourceKind.LAMP, FaultKind.LAMP_FAILURE): Severity.MAJOR,
        (SourceKind.LAMP, FaultKind.COMMUNICATION_LOSS): Severity.MINOR,
        (SourceKind.LAMP, FaultKind.LAMP_UNEXPECTED_ON): Severity.MINOR,
        (SourceKind.LAMP, FaultKind.LAMP_POWER_TOO_HIGH): Severity.WARNING,
        (SourceKind.LAMP, FaultKind.LAMP_POWER_TOO_LOW): Severity.WARNING,
    }


@dataclass(frozen=True, slots=True)
class FaultRules:
    """The thresholds of the detection rules and the persistence of each fault kind."""

    power_tolerance: float = 0.10  # TALQ lampPowerTolerance: share of the expected power
    power_tolerance_w: float = 2.0  # but never tighter than this, for low dim levels
    burning_share: float = 0.10  # above standby + this share of rated power, a lamp is burning
    day_elevation_deg: float = 2.0  # the sun this high: clearly day, not a late switch-off at dawn
    lamp_max_silence: timedelta = DEFAULT_MAX_SILENCE
    cabinet_max_silence: timedelta = DEFAULT_MAX_SILENCE
    min_supply_voltage_v: float = 100.0  # a cabinet meter reading less has no usable supply
    no_supply_share: float = 0.5  # this share of a cabinet's lamps saying "no supply" = cabinet out
    correlation_window: timedelta = timedelta(minutes=30)
    persistence: Mapping[FaultKind, Persistence] = field(default_factory=_default_persistence)
    severity: Mapping[tuple[SourceKind, FaultKind], Severity] = field(default_factory=_default_severity)

    def persistence_for(self, kind: FaultKind) -> Persistence:
        """The persistence of ``kind`` (the defaults for a kind not configured)."""
        return self.persistence.get(kind) or _default_persistence()[kind]

    def severity_for(self, source: SourceKind, kind: FaultKind) -> Severity:
        """The severity of ``kind`` on a ``source`` (warning for a combination not configured)."""
        return self.severity.get((source, kind)) or _default_severity().get((source, kind), Severity.WARNING)


DEFAULT_FAULT_RULES = FaultRules()

# -- what arrives -----------------------------------------------------------------------------


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"report times must be timezone-aware, got {at!r}")


@dataclass(frozen=True, slots=True)
class LampReport:
    """A lamp controller's report, with what the platform knows about the lamp at that instant."""

    lamp_id: str
    at: datetime
    commanded_level: float  # % the lamp should be at (the decision in force at ``at``)
    curve: DimmingCurve
    site: Site  # where the lamp is, for the sun's elevation
    power_w: float | None = None
    reported_on: bool | None = None
    no_supply: bool = False  # the controller says it has no mains (status "noSupply")
    #: False near a planned switch or dim step, where a healthy controller may not have followed
    #: yet: the report then counts for supply and silence only, not against the level.
    judge_level: bool = True

    def __post_init__(self) -> None:
        _require_aware(self.at)


@dataclass(frozen=True, slots=True)
class CabinetReport:
    """A cabinet meter's report."""

    cabinet_id: str
    at: datetime
    supply_on: bool | None = None
    voltage_v: float | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at)


@dataclass(frozen=True, slots=True)
class LastReport:
    """When an entity last reported (or was commissioned, if it never did): the input for silence."""

    entity_id: str
    source: SourceKind
    last_at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.last_at)


@dataclass(frozen=True)
class CircuitTopology:
    """Which cabinet feeds which lamp, both ways (build it once per change of the installation)."""

    cabinet_of: Mapping[str, str]
    lamps_of: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_lamps(cls, cabinet_of: Mapping[str, str]) -> CircuitTopology:
        """The topology from each lamp's cabinet."""
        lamps: dict[str, list[str]] = {}
        for lamp, cabinet in cabinet_of.items():
            lamps.setdefault(cabinet, []).append(lamp)
        return cls(dict(cabinet_of), {cabinet: tuple(sorted(ids)) for cabinet, ids in lamps.items()})


# -- state and events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultKey:
    """A fault's identity: the entity and the kind.  ``stable_key`` names its alarm and work order."""

    entity_id: str
    kind: FaultKind

    @property
    def stable_key(self) -> str:
        """A string that names this fault across evaluations (``<entity id>#<kind>``)."""
        return f"{self.entity_id}#{self.kind.value}"


class FaultPhase(StrEnum):
    """Where a fault is in its life (a fault that cleared has no state at all)."""

    PENDING = "pending"  # the condition is showing, not yet long enough
    OPEN = "open"  # confirmed; it stays open until the condition has been absent long enough


@dataclass(frozen=True, slots=True)
class FaultState:
    """What is known about one fault between evaluations."""

    key: FaultKey
    source: SourceKind
    phase: FaultPhase
    first_seen: datetime
    last_seen: datetime
    samples: int  # consecutive samples (distinct instants) that showed the condition
    description: str
    opened_at: datetime | None = None
    absent_since: datetime | None = None  # open, and the condition has been absent since
    last_absent: datetime | None = None
    absent_samples: int = 0

    @property
    def last_sample(self) -> datetime:
        """The latest instant evidence was taken for this fault."""
        if self.last_absent is not None and self.last_absent > self.last_seen:
            return self.last_absent
        return self.last_seen


class FaultAction(StrEnum):
    """What happened to a fault."""

    OPENED = "opened"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """A fault opened (→ alarm and work order) or closed (→ both closed)."""

    action: FaultAction
    key: FaultKey
    source: SourceKind
    severity: Severity
    at: datetime
    description: str
    affected: tuple[str, ...] = ()  # a cabinet's supply loss: the lamps it leaves dark
    cause: FaultKey | None = None  # closed because this other fault explains it

    @property
    def entity_id(self) -> str:
        """The entity the fault is about."""
        return self.key.entity_id

    @property
    def kind(self) -> FaultKind:
        """The kind of fault."""
        return self.key.kind


@dataclass(frozen=True)
class FaultBook:
    """Everything the fault rules remember between evaluations (start with an empty one)."""

    states: Mapping[FaultKey, FaultState] = field(default_factory=dict)
    lamps_without_supply: frozenset[str] = frozenset()  # lamps whose latest report said "no supply"
    meters_without_supply: frozenset[str] = frozenset()  # cabinets whose latest meter reading had none
    supply_restored: Mapping[str, datetime] = field(default_factory=dict)  # cabinet → supply back at

    def open_faults(self) -> list[FaultState]:
        """The open faults, by entity and kind."""
        found = [state for state in self.states.values() if state.phase is FaultPhase.OPEN]
        return sorted(found, key=lambda state: (state.key.entity_id, state.key.kind.value))

    def state(self, entity_id: str, kind: FaultKind) -> FaultState | None:
        """The state of one fault, if it is pending or open."""
        return self.states.get(FaultKey(entity_id, kind))


@dataclass(frozen=True, slots=True)
class FaultStep:
    """The outcome of one evaluation: the new book and what opened or closed."""

    book: FaultBook
    events: tuple[FaultEvent, ...]


@dataclass(frozen=True, slots=True)
class FaultCheck:
    """One piece of evidence: at ``at``, the condition of ``key`` was (``present``) or was not showing."""

    key: FaultKey
    source: SourceKind
    at: datetime
    present: bool
    description: str = ""


# -- the persistence machine ------------------------------------------------------------------


def _opens(state: FaultState, persistence: Persistence) -> bool:
    if persistence.open_samples is not None and state.samples < persistence.open_samples:
        return False
    return persistence.open_after is None or state.last_seen - state.first_seen >= persistence.open_after


def _clears(state: FaultState, persistence: Persistence) -> bool:
    if state.absent_since is None or state.last_absent is None:
        return False
    if persistence.clear_samples is not None and state.absent_samples < persistence.clear_samples:
        return False
    return persistence.clear_after is None or state.last_absent - state.absent_since >= persistence.clear_after


def apply_check(
    state: FaultState | None, check: FaultCheck, rules: FaultRules = DEFAULT_FAULT_RULES
) -> tuple[FaultState | None, FaultEvent | None]:
    """One fault's next state after one piece of evidence, and the event it causes (if any)."""
    persistence = rules.persistence_for(check.key.kind)
    severity = rules.severity_for(check.source, check.key.kind)
    at = check.at
    if state is None:
        if not check.present:
            return None, None
        state = FaultState(check.key, check.source, FaultPhase.PENDING, at, at, 1, check.description)
        return _maybe_open(state, persistence, severity)
    if at < state.last_sample:
        return state, None  # evidence older than what the state already took: out of order, ignore
    if state.phase is FaultPhase.PENDING:
        if not check.present:
            return None, None  # a blip: it never became a fault
        samples = state.samples + (1 if at > state.last_seen else 0)
        state = replace(state, last_seen=at, samples=samples, description=check.description or state.description)
        return _maybe_open(state, persistence, severity)
    if check.present:
        state = replace(
            state,
            last_seen=at,
            samples=state.samples + (1 if at > state.last_seen else 0),
            description=check.description or state.description,
            absent_since=None,
            last_absent=None,
            absent_samples=0,
        )
        return state, None
    if state.absent_since is None:
        state = replace(state, absent_since=at, last_absent=at, absent_samples=1)
    else:
        fresh = state.last_absent is None or at > state.last_absent
        state = replace(state, last_absent=at, absent_samples=state.absent_samples + (1 if fresh else 0))
    if _clears(state, persistence):
        return None, FaultEvent(
            FaultAction.CLOSED, state.key, state.source, severity, at, f"cleared: {state.description}"
        )
    return state, None


def _maybe_open(
    state: FaultState, persistence: Persistence, severity: Severity
) -> tuple[FaultState, FaultEvent | None]:
    if not _opens(state, persistence):
        return state, None
    opened = replace(state, phase=FaultPhase.OPEN, opened_at=state.last_seen)
    return opened, FaultEvent(FaultAction.OPENED, state.key, state.source, severity, state.last_seen, state.description)


# -- detection rules --------------------------------------------------------------------------


def is_burning(report: LampReport, rules: FaultRules = DEFAULT_FAULT_RULES) -> bool | None:
    """Whether the lamp is lit: by its power when known, else by what it says; None when neither is known."""
    if report.power_w is not None:
        threshold = report.curve.standby_w + rules.burning_share * report.curve.rated_w
        return report.power_w > threshold
    return report.reported_on


def lamp_checks(report: LampReport, rules: FaultRules = DEFAULT_FAULT_RULES) -> list[FaultCheck]:
    """The evidence one lamp report gives, rule by rule (a rule it cannot judge gives none)."""
    lamp, at = report.lamp_id, report.at.astimezone(UTC)

    def check(kind: FaultKind, present: bool, description: str) -> FaultCheck:
        return FaultCheck(FaultKey(lamp, kind), SourceKind.LAMP, at, present, description)

    checks = [check(FaultKind.COMMUNICATION_LOSS, False, f"{lamp} reported")]
    if report.no_supply:
        # Without mains nothing else about the lamp can be judged.
        return [*checks, check(FaultKind.SUPPLY_LOSS, True, f"{lamp} reports no supply")]
    checks.append(check(FaultKind.SUPPLY_LOSS, False, f"{lamp} has supply"))
    burning = is_burning(report, rules)
    if burning is None or not report.judge_level:
        return checks
    commanded = report.commanded_level
    elevation = sun_elevation(report.site, at)
    by_day = elevation > rules.day_elevation_deg
    if burning and commanded == 0.0:
        checks.append(check(FaultKind.LAMP_UNEXPECTED_ON, True, f"{lamp} burning while commanded off"))
    elif burning and by_day:
        checks.append(check(FaultKind.LAMP_UNEXPECTED_ON, True, f"{lamp} burning by day (sun at {elevation:.1f}°)"))
    elif not burning:
        checks.append(check(FaultKind.LAMP_UNEXPECTED_ON, False, f"{lamp} not day-burning"))
    # Burning at night while commanded on says nothing about a stuck relay: no evidence either
    # way, so a day-burner's alarm stays open through the night instead of reopening each morning.
    if commanded == 0.0:
        return checks  # the lamp's power says nothing about its health while it is meant to be off
    checks.append(
        check(
            FaultKind.LAMP_FAILURE,
            not burning,
            f"{lamp} commanded to {commanded:g} % but not burning"
            + (f" ({report.power_w:g} W)" if report.power_w is not None else ""),
        )
    )
    if report.power_w is None or not burning:
        return checks
    expected = expected_power_w(report.curve, commanded)
    tolerance = max(rules.power_tolerance * expected, rules.power_tolerance_w)
    measured = report.power_w
    band = f"{measured:g} W against {expected:g} ± {tolerance:g} W at {commanded:g} %"
    checks.append(check(FaultKind.LAMP_POWER_TOO_HIGH, measured > expected + tolerance, f"{lamp} power {band}"))
    checks.append(check(FaultKind.LAMP_POWER_TOO_LOW, measured < expected - tolerance, f"{lamp} power {band}"))
    return checks


def _meter_supply_lost(report: CabinetReport, rules: FaultRules) -> bool | None:
    if report.supply_on is False:
        return True
    if report.voltage_v is not None:
        return report.voltage_v < rules.min_supply_voltage_v
    if report.supply_on is True:
        return False
    return None


# -- the evaluation ---------------------------------------------------------------------------


@dataclass
class _Run:
    """The working copy of one evaluation (local to :func:`evaluate_faults`, never shared)."""

    rules: FaultRules
    topology: CircuitTopology
    states: dict[FaultKey, FaultState]
    restored: dict[str, datetime]
    events: list[FaultEvent] = field(default_factory=list)

    def apply(self, check: FaultCheck) -> None:
        before = self.states.get(check.key)
        state, event = apply_check(before, check, self.rules)
        if state is None:
            self.states.pop(check.key, None)
        else:
            self.states[check.key] = state
        if event is None:
            return
        if event.kind is FaultKind.SUPPLY_LOSS and event.source is SourceKind.CABINET:
            # The cabinet's alarm names the lamps it leaves dark, opening and closing.
            event = replace(event, affected=self.topology.lamps_of.get(event.entity_id, ()))
            if event.action is FaultAction.CLOSED and before is not None:
                # Supply is back: the lamps' allowed silence starts again from that moment.
                self.restored[event.entity_id] = before.absent_since or event.at
        self.events.append(event)

    def cabinet_out(self, cabinet: str | None) -> bool:
        return cabinet is not None and FaultKey(cabinet, FaultKind.SUPPLY_LOSS) in self.states

    def cabinet_silent(self, cabinet: str | None) -> bool:
        return cabinet is not None and FaultKey(cabinet, FaultKind.COMMUNICATION_LOSS) in self.states

    def drop_pending(self, key: FaultKey) -> None:
        state = self.states.get(key)
        if state is not None and state.phase is FaultPhase.PENDING:
            del self.states[key]

    def explain_by_outages(self, at: datetime) -> None:
        """Lamps of a cabinet that is out lose their pending faults; confirmed outages close what they explain."""
        for key, outage in list(self.states.items()):
            if key.kind is not FaultKind.SUPPLY_LOSS or outage.source is not SourceKind.CABINET:
                continue
            explained_from = outage.first_seen - self.rules.correlation_window
            for lamp in self.topology.lamps_of.get(key.entity_id, ()):
                for kind in (*sorted(LAMP_FAULT_KINDS), FaultKind.SUPPLY_LOSS):
                    lamp_key = FaultKey(lamp, kind)
                    state = self.states.get(lamp_key)
                    if state is None:
                        continue
                    if state.phase is FaultPhase.PENDING:
                        del self.states[lamp_key]
                    elif (
                        outage.phase is FaultPhase.OPEN
                        and state.opened_at is not None
                        and state.opened_at >= explained_from
                    ):
                        del self.states[lamp_key]
                        description = f"explained by the supply loss of cabinet {key.entity_id}: {state.description}"
                        self.events.append(
                            FaultEvent(
                                FaultAction.CLOSED,
                                lamp_key,
                                SourceKind.LAMP,
                                self.rules.severity_for(SourceKind.LAMP, kind),
                                at,
                                description,
                                cause=key,
                            )
                        )
        for key, state in list(self.states.items()):
            if key.kind is FaultKind.COMMUNICATION_LOSS and state.source is SourceKind.CABINET:
                for lamp in self.topology.lamps_of.get(key.entity_id, ()):
                    self.drop_pending(FaultKey(lamp, FaultKind.COMMUNICATION_LOSS))


def _cabinet_supply_checks(
    book: FaultBook,
    lamp_reports: Sequence[LampReport],
    cabinet_reports: Sequence[CabinetReport],
    topology: CircuitTopology,
    rules: FaultRules,
) -> tuple[list[FaultCheck], frozenset[str], frozenset[str]]:
    """Cabinet supply evidence from meters and lamps, in time order, and the updated supply sets."""
    meters_out = set(book.meters_without_supply)
    lamps_out = set(book.lamps_without_supply)
    timeline: list[tuple[datetime, int, LampReport | CabinetReport]] = [
        (report.at, 0, report) for report in cabinet_reports
    ]
    timeline += [(report.at, 1, report) for report in lamp_reports]
    timeline.sort(key=lambda item: (item[0], item[1]))
    checks: list[FaultCheck] = []
    for at, _order, report in timeline:
        if isinstance(report, CabinetReport):
            lost = _meter_supply_lost(report, rules)
            if lost is None:
                continue
            (meters_out.add if lost else meters_out.discard)(report.cabinet_id)
            cabinet = report.cabinet_id
        else:
            (lamps_out.add if report.no_supply else lamps_out.discard)(report.lamp_id)
            feeding = topology.cabinet_of.get(report.lamp_id)
            if feeding is None:
                continue
            cabinet = feeding
        lamps = topology.lamps_of.get(cabinet, ())
        dark = sum(1 for lamp in lamps if lamp in lamps_out)
        inferred = bool(lamps) and dark > 0 and dark >= rules.no_supply_share * len(lamps)
        metered = cabinet in meters_out
        if metered:
            why = f"cabinet {cabinet} meter shows no supply"
        elif inferred:
            why = f"cabinet {cabinet}: {dark} of {len(lamps)} lamps report no supply"
        else:
            why = f"cabinet {cabinet} has supply"
        checks.append(
            FaultCheck(
                FaultKey(cabinet, FaultKind.SUPPLY_LOSS),
                SourceKind.CABINET,
                at.astimezone(UTC),
                metered or inferred,
                why,
            )
        )
    return checks, frozenset(meters_out), frozenset(lamps_out)


def _silence_check(last: LastReport, at: datetime, limit: timedelta, since: datetime | None) -> FaultCheck:
    quiet_from = max(last.last_at, since) if since is not None else last.last_at
    silent_for = at - quiet_from
    present = silent_for > limit
    minutes = silent_for.total_seconds() / 60.0
    description = f"{last.entity_id} silent for {minutes:.0f} min (allowed {limit.total_seconds() / 60.0:.0f} min)"
    return FaultCheck(FaultKey(last.entity_id, FaultKind.COMMUNICATION_LOSS), last.source, at, present, description)


def evaluate_faults(
    book: FaultBook,
    at: datetime,
    *,
    topology: CircuitTopology,
    lamp_reports: Sequence[LampReport] = (),
    cabinet_reports: Sequence[CabinetReport] = (),
    last_reports: Iterable[LastReport] = (),
    rules: FaultRules = DEFAULT_FAULT_RULES,
) -> FaultStep:
    """The fault book after new reports and at time ``at``, and the faults that opened or closed.

    ``lamp_reports`` and ``cabinet_reports`` are the reports received since the last
    evaluation; ``last_reports`` gives, for the entities to watch for silence, when each last
    reported (a periodic tick passes only these).  Cabinets are judged first, then their lamps
    in their light (see the module docstring for the correlation rule).  ``book`` is not changed.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    at = at.astimezone(UTC)
    run = _Run(rules, topology, dict(book.states), dict(book.supply_restored))
    watched = list(last_reports)

    # 1. Cabinets: supply (their meters, and their lamps saying "no supply") and silence.
    cabinet_checks, meters_out, lamps_out = _cabinet_supply_checks(book, lamp_reports, cabinet_reports, topology, rules)
    cabinet_checks += [
        FaultCheck(
            FaultKey(report.cabinet_id, FaultKind.COMMUNICATION_LOSS),
            SourceKind.CABINET,
            report.at.astimezone(UTC),
            False,
            f"{report.cabinet_id} reported",
        )
        for report in cabinet_reports
    ]
    cabinet_checks += [
        _silence_check(last, at, rules.cabinet_max_silence, None)
        for last in watched
        if last.source is SourceKind.CABINET
    ]
    for check in sorted(cabinet_checks, key=lambda c: c.at):
        run.apply(check)

    # 2. Correlation: what the cabinets' outages and silences explain.
    run.explain_by_outages(at)

    # 3. Lamps, in the light of their cabinets.
    checks: list[FaultCheck] = []
    for report in lamp_reports:
        from_lamp = lamp_checks(report, rules)
        if run.cabinet_out(topology.cabinet_of.get(report.lamp_id)):
            # A report still proves the lamp can talk; everything else waits for the supply.
            from_lamp = [c for c in from_lamp if c.key.kind is FaultKind.COMMUNICATION_LOSS]
        checks += from_lamp
    for last in watched:
        if last.source is not SourceKind.LAMP:
            continue
        cabinet = topology.cabinet_of.get(last.entity_id)
        if run.cabinet_out(cabinet) or run.cabinet_silent(cabinet):
            continue
        since = run.restored.get(cabinet) if cabinet is not None else None
        checks.append(_silence_check(last, at, rules.lamp_max_silence, since))
    for check in sorted(checks, key=lambda c: c.at):
        run.apply(check)

    # A restoration matters only while a lamp silent since before it could still be overdue.
    restored = {cabinet: when for cabinet, when in run.restored.items() if at - when <= rules.lamp_max_silence}
    return FaultStep(FaultBook(run.states, lamps_out, meters_out, restored), tuple(run.events))
