"""The street-lighting service: faults become alarms and work orders, energy and savings, the planned levels.

It reads ``Streetlight``, ``StreetlightGroup`` and ``StreetlightControlCabinet`` entities
through the context service and runs the pure rules of :mod:`urbis.solutions.lighting.model`:

- :meth:`LightingService.evaluate` (called by the solution runner) turns the lamps' and
  cabinets' latest reports into fault evidence, runs the fault state machine and reports the
  faults that open (with a work order where a crew must go) and recovers those that close;
- :meth:`LightingService.energy` gives kWh per lamp, group, cabinet, district and the city,
  metered where counters exist and estimated otherwise, with the baseline and the savings;
- control: each group runs a calendar of control programs (stored per tenant and edited
  through the API; a built-in program and calendar stand in until the city sets its own), and
  operator overrides with an expiry take precedence.  Each evaluation decides every lamp's
  level; when it changes, the level goes to the lamp's controller as a device command
  (``setLightLevel``) through the ingestion command service, and the controller's next
  reports are checked against it (TALQ feedback): a lamp that keeps reporting another level
  opens a ``commandFeedbackMismatch`` alarm, closed when it follows again.

Every change an operator makes to the control (programs, calendars, a group's calendar,
overrides) is written to the audit trail (:mod:`urbis.core.audit`) in the transaction of the
change; a change that changes nothing (the same document again, the calendar a group runs
already) leaves no entry and no write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core import audit
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists, BadRequestData, Conflict, NotFound
from urbis.ingestion.service import CommandService, DeviceService
from urbis.operations.model import Alarm, AlarmReport
from urbis.operations.model import Severity as AlarmSeverity
from urbis.operations.service import OperationsService
from urbis.solutions.lighting import store
from urbis.solutions.lighting.const import (
    DEFAULT_FEEDBACK_GRACE,
    DEFAULT_TIMEZONE,
    FaultKind,
    FeedbackStatus,
    Severity,
    SourceKind,
)
from urbis.solutions.lighting.documents import (
    calendar_json,
    check_id,
    district_target,
    parse_calendar,
    parse_override,
    parse_program,
    program_json,
    programs_named,
)
from urbis.solutions.lighting.model import (
    DEFAULT_FAULT_RULES,
    AstroClockPeriod,
    CabinetReport,
    Calendar,
    CircuitTopology,
    ControlProgram,
    ControlSetup,
    CounterReading,
    DimmingCurve,
    EnergyFigure,
    FaultAction,
    FaultBook,
    FaultEvent,
    FaultKey,
    FaultPhase,
    FaultRules,
    FaultState,
    FixedTimeStep,
    LampReport,
    LastReport,
    LevelDecision,
    OverrideCommand,
    Site,
    baseline_energy_kwh,
    check_command_feedback,
    clip_counter,
    decide_level,
    energy_from_counter,
    energy_savings,
    evaluate_faults,
    illuminance_from_level,
    lamp_energy,
    level_changes,
    level_from_illuminance,
    level_segments,
    lighting_date,
    plan_night,
    roll_up_energy,
)
from urbis.solutions.lighting.views import (
    CITY_NODE,
    CabinetView,
    EnergyNode,
    EnergyReport,
    Expand,
    GroupView,
    LampState,
    LampView,
    NightScheduleView,
    Terms,
    cabinet_view,
    district_node,
    group_view,
    lamp_brief,
    lamp_state,
    lamp_view,
)

log = logging.getLogger(__name__)

SOLUTION = "lighting"

#: The maintenance work order each fault opens.
WORK_ORDER_TITLES: dict[FaultKind, str] = {
    FaultKind.COMMUNICATION_LOSS: "Silent controller: check its network link and its power",
    FaultKind.LAMP_FAILURE: "Replace or repair the failed lamp",
    FaultKind.LAMP_UNEXPECTED_ON: "Day-burning lamp: check its controller and photocell",
    FaultKind.LAMP_POWER_TOO_HIGH: "Lamp power above tolerance: check the driver",
    FaultKind.LAMP_POWER_TOO_LOW: "Lamp power below tolerance: check the driver and the LEDs",
    FaultKind.SUPPLY_LOSS: "Restore the mains supply",
}

#: The lighting model speaks X.733 severities, the alarms the Smart Data Models' ones.
ALARM_SEVERITY: dict[Severity, AlarmSeverity] = {
    Severity.CRITICAL: AlarmSeverity.CRITICAL,
    Severity.MAJOR: AlarmSeverity.HIGH,
    Severity.MINOR: AlarmSeverity.MEDIUM,
    Severity.WARNING: AlarmSeverity.LOW,
}

# Placeholders to be configured per city, not sourced figures: a round retail tariff and a
# round grid emission factor.
DEFAULT_TARIFF_PER_KWH = Decimal("0.30")  # EUR per kWh
DEFAULT_GRID_KG_CO2_PER_KWH = 0.38

#: The simulator's controllers switch at civil twilight (sun 6° down), which the astro clock
#: approximates as sunset + 40 min and sunrise − 40 min at the city's latitude.
TWILIGHT_OFFSET = timedelta(minutes=40)
#: Near a planned switch or dim step, a controller following the real twilight (or a clock a
#: few minutes off) disagrees with the program without being faulty: such reports are not
#: judged against the commanded level.  Civil twilight lasts up to about 50 min at 50° N.
DEFAULT_TRANSITION_MARGIN = timedelta(minutes=45)
#: What a controller draws with the lamp off; the entities do not carry it (the simulator's
#: controllers draw 0.5–1.5 W).
DEFAULT_STANDBY_W = 1.0

#: The device command that carries a commanded level (params: level in %, illuminanceLevel 0..1).
COMMAND_NAME = "setLightLevel"
#: The alarm kind of a controller that keeps reporting another level than commanded.
FEEDBACK_ALARM = "commandFeedbackMismatch"
#: How long a mismatch must last before it is an alarm: two report intervals, so a report
#: taken just before the controller switched does not raise one.
DEFAULT_FEEDBACK_ALARM_AFTER = timedelta(minutes=30)
#: A level change smaller than this (percentage points) is not worth a command.
LEVEL_EPSILON = 0.5
#: The id of the built-in program and calendar that run until a city stores its own.
BUILTIN_PROGRAM = "urbis-default"
DEFAULT_CALENDAR = "default"

#: The audit trail's names of operators' control actions (targets: program, calendar, group and override ids).
OVERRIDE_CREATE = "lighting.override.create"
OVERRIDE_WITHDRAW = "lighting.override.withdraw"
PROGRAM_PUT = "lighting.program.put"
PROGRAM_DELETE = "lighting.program.delete"
CALENDAR_PUT = "lighting.calendar.put"
CALENDAR_DELETE = "lighting.calendar.delete"
CALENDAR_ASSIGN = "lighting.calendar.assign"

#: How far beyond a window's edges the energy counters are read, to interpolate them at the
#: edges: a controller reports every 15 minutes, so an hour covers a missed report or three.
COUNTER_MARGIN = timedelta(hours=1)

# Positions are rounded before they pick a control setup: sunset moves by seconds over a
# kilometre, and equal setups share the cached night plans.
_POSITION_DECIMALS = 2


def default_program(program_id: str = "urbis-default") -> ControlProgram:
    """The simulator's dimming profile as a TALQ program: full at dusk, 50 % from 23:00 to 05:00, off at dawn."""
    return ControlProgram(
        program_id,
        active_period=AstroClockPeriod(sunset_offset=TWILIGHT_OFFSET, sunrise_offset=-TWILIGHT_OFFSET),
        level=100.0,
        steps=(FixedTimeStep(time(23, 0), 50.0), FixedTimeStep(time(5, 0), 100.0)),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Control:
    """One tenant's control configuration as the rules need it, read once per evaluation."""

    programs: dict[str, ControlProgram]
    calendars: dict[str, Calendar]
    assignments: dict[str, str]  # group id → calendar id
    overrides: tuple[OverrideCommand, ...]

    def calendar_of(self, group_id: str | None) -> Calendar:
        """The calendar a group runs: its own, else the tenant's ``default``, else the built-in one."""
        assigned = self.assignments.get(group_id) if group_id is not None else None
        if assigned is not None and assigned in self.calendars:
            return self.calendars[assigned]
        return self.calendars[DEFAULT_CALENDAR]

    def setup(self, group_id: str | None, site: Site, cache: dict[tuple[str, Site], ControlSetup]) -> ControlSetup:
        """The control setup of a group at a site (equal setups shared through ``cache``)."""
        calendar = self.calendar_of(group_id)
        key = (calendar.calendar_id, site)
        found = cache.get(key)
        if found is None:
            names = sorted(programs_named(calendar))
            found = ControlSetup(site, calendar, tuple(self.programs[name] for name in names))
            cache[key] = found
        return found


@dataclass
class _TenantFaults:
    """What the fault rules remember of one tenant between evaluations (in memory only)."""

    book: FaultBook = field(default_factory=FaultBook)
    seen: dict[str, datetime] = field(default_factory=dict)  # entity id → latest report already judged
    seeded: bool = False


@dataclass(frozen=True)
class _Installation:
    """One tenant's lighting entities as read models, and the sites the lamps stand at."""

    lamps: list[LampView]
    cabinets: list[CabinetView]
    groups: dict[str, GroupView]
    lamp_sites: dict[str, Site]
    group_sites: dict[str, Site]
    #: Presence detections that concern each lamp: a detection anywhere in a group boosts the
    #: whole group (the street ahead lights up, not one pole).
    detections: dict[str, tuple[datetime, ...]] = field(default_factory=dict)

    @property
    def topology(self) -> CircuitTopology:
        return CircuitTopology.from_lamps({lamp.id: lamp.cabinet_id for lamp in self.lamps if lamp.cabinet_id})


class LightingService:
    """Faults, energy and schedules of street lighting, for every tenant.

    The fault book (pending and open faults, which reports were already judged) is kept in
    memory per tenant: the runner keeps one service per process, in the process that leads
    the solution.  After a restart, persistence is learnt again from fresh reports; faults
    whose alarms are still active are taken back as open (from the alarms), so they close
    normally when their condition clears.
    """

    def __init__(
        self,
        context: ContextService,
        expand: Expand,
        operations: OperationsService,
        *,
        clock: Clock | None = None,
        temporal: TemporalService | None = None,
        tariff_per_kwh: Decimal = DEFAULT_TARIFF_PER_KWH,
        grid_kg_co2_per_kwh: float = DEFAULT_GRID_KG_CO2_PER_KWH,
        currency: str = "EUR",
        timezone: str = DEFAULT_TIMEZONE,
        program: ControlProgram | None = None,
        rules: FaultRules = DEFAULT_FAULT_RULES,
        transition_margin: timedelta = DEFAULT_TRANSITION_MARGIN,
        standby_w: float = DEFAULT_STANDBY_W,
        db: Database | None = None,
        devices: DeviceService | None = None,
        commands: CommandService | None = None,
        feedback_grace: timedelta = DEFAULT_FEEDBACK_GRACE,
        feedback_alarm_after: timedelta = DEFAULT_FEEDBACK_ALARM_AFTER,
    ) -> None:
        """``expand`` turns the Smart Data Models names into the broker's IRIs; ``temporal`` enables metered energy.

        ``db`` keeps the city's programs, calendars, overrides and commands (without it only
        the built-in program runs); ``devices`` and ``commands`` let the service command the
        lamps' controllers (without them levels are decided and judged, not sent).
        """
        self.context = context
        self.terms = Terms(expand)
        self.operations = operations
        self.clock = clock or SystemClock()
        self.temporal = temporal
        self.tariff_per_kwh = tariff_per_kwh
        self.grid_kg_co2_per_kwh = grid_kg_co2_per_kwh
        self.currency = currency
        self.timezone = timezone
        self.program = program or default_program()
        self.rules = rules
        self.transition_margin = transition_margin
        self.standby_w = standby_w
        self.db = db
        self.devices = devices
        self.commands = commands
        self.feedback_grace = feedback_grace
        self.feedback_alarm_after = feedback_alarm_after
        self._faults: dict[str, _TenantFaults] = {}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.terms.streetlight, self.terms.cabinet})

    # -- reading the installation ------------------------------------------------------------

    def _control(self, tenant: str, since: datetime | None = None) -> _Control:
        """The tenant's programs, calendars, group calendars, and the overrides in force at some time after ``since``.

        A withdrawn override counts as expiring when it was withdrawn: the lamps did follow it until then.
        """
        builtin = self.program
        programs: dict[str, ControlProgram] = {builtin.program_id: builtin}
        calendars = {DEFAULT_CALENDAR: Calendar(DEFAULT_CALENDAR, builtin.program_id)}
        if self.db is None:
            return _Control(programs, calendars, {}, ())
        with self.db.read() as conn:
            stored_programs = store.programs(conn, tenant)
            stored_calendars = store.calendars(conn, tenant)
            assignments = store.group_calendars(conn, tenant)
            overrides = store.overrides(conn, tenant, expiring_after=since) if since is not None else []
        for item in stored_programs:
            programs[item.id] = parse_program(item.document, item.id)[0]
        for item in stored_calendars:
            calendar = parse_calendar(item.document, item.id)[0]
            missing = programs_named(calendar) - set(programs)
            if missing:  # only a concurrent delete gets here: the API refuses it otherwise
                log.warning("lighting: calendar %s of %s names missing programs %s", item.id, tenant, sorted(missing))
                continue
            calendars[item.id] = calendar
        commands = []
        for o in overrides:
            expiry = o.expires_at if o.withdrawn_at is None else min(o.expires_at, o.withdrawn_at)
            if (since is not None and expiry <= since) or expiry <= o.starts_at:
                continue
            commands.append(
                OverrideCommand(o.override_id, frozenset(o.targets), o.level, o.starts_at, o.received_at, expiry)
            )
        commands.reverse()  # oldest first: on equal receipt times the later one in the sequence wins
        return _Control(programs, calendars, assignments, tuple(commands))

    def _site(self, position: tuple[float, float]) -> Site:
        lon, lat = position
        return Site(round(lat, _POSITION_DECIMALS), round(lon, _POSITION_DECIMALS), self.timezone)

    def _installation(self, tenant: str) -> _Installation:
        terms = self.terms
        lamps = [lamp_view(e, terms) for e in self.context.entities_of_type(tenant, terms.streetlight)]
        cabinets = [cabinet_view(e, terms) for e in self.context.entities_of_type(tenant, terms.cabinet)]
        groups = {g.id: g for g in (group_view(e, terms) for e in self.context.entities_of_type(tenant, terms.group))}
        # A group stands where its entity says, else at the centroid of its lamps.
        members: dict[str, list[tuple[float, float]]] = {}
        for lamp in lamps:
            if lamp.group_id is not None and lamp.position is not None:
                members.setdefault(lamp.group_id, []).append(lamp.position)
        group_sites: dict[str, Site] = {}
        for group_id in set(groups) | set(members):
            group = groups.get(group_id)
            position = group.position if group is not None else None
            if position is None and members.get(group_id):
                points = members[group_id]
                position = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
            if position is not None:
                group_sites[group_id] = self._site(position)
        lamp_sites: dict[str, Site] = {}
        for lamp in lamps:
            site = group_sites.get(lamp.group_id) if lamp.group_id is not None else None
            if site is None and lamp.position is not None:
                site = self._site(lamp.position)
            if site is not None:
                lamp_sites[lamp.id] = site
        return _Installation(lamps, cabinets, groups, lamp_sites, group_sites, _detections(lamps, groups))

    @staticmethod
    def _targets(lamp: LampView) -> tuple[str, ...]:
        """What an override may name to reach ``lamp``: the lamp, its group, its district."""
        targets = [lamp.id]
        if lamp.group_id is not None:
            targets.append(lamp.group_id)
        if lamp.district is not None:
            targets.append(district_target(lamp.district))
        return tuple(targets)

    # -- faults ------------------------------------------------------------------------------

    def evaluate(self, now: datetime) -> int:
        """Judge the latest reports of every tenant; the number of faults that opened or closed."""
        return sum(len(self.evaluate_tenant(tenant, now)) for tenant in self.context.tenants())

    def evaluate_tenant(self, tenant: str, now: datetime) -> list[FaultEvent]:
        """One tenant's evaluation: new reports → fault evidence → alarms opened and recovered."""
        installation = self._installation(tenant)
        if not installation.lamps and not installation.cabinets:
            return []
        memory = self._faults.setdefault(tenant, _TenantFaults())
        if not memory.seeded:
            memory.book = self._seed_from_alarms(tenant, installation)
            memory.seeded = True
        # Reports are at most a day old when judged: overrides that ended before do not matter.
        control = self._control(tenant, since=now - timedelta(days=1))
        setups: dict[tuple[str, Site], ControlSetup] = {}
        lamp_reports, cabinet_reports, judged = self._new_reports(installation, memory, control, setups)
        # Silence runs from the last report's arrival, not its observation: a device whose old
        # observations are still arriving (a backfill, a gateway emptying its buffer) is talking.
        last_reports = [
            LastReport(lamp.id, SourceKind.LAMP, since)
            for lamp in installation.lamps
            if (since := lamp.received_at or lamp.reported_at or lamp.created_at) is not None
        ]
        last_reports += [
            LastReport(cabinet.id, SourceKind.CABINET, since)
            for cabinet in installation.cabinets
            if (since := cabinet.received_at or cabinet.reported_at or cabinet.created_at) is not None
        ]
        step = evaluate_faults(
            memory.book,
            now,
            topology=installation.topology,
            lamp_reports=lamp_reports,
            cabinet_reports=cabinet_reports,
            last_reports=last_reports,
            rules=self.rules,
        )
        memory.book = step.book
        memory.seen.update(judged)
        locations: dict[str, dict[str, object] | None] = {lamp.id: lamp.location for lamp in installation.lamps}
        locations.update({cabinet.id: cabinet.location for cabinet in installation.cabinets})
        for event in step.events:
            self._publish(tenant, event, locations.get(event.entity_id))
        if self.db is not None:
            self._command_lamps(tenant, installation, control, setups, now, memory.book)
        return list(step.events)

    def _new_reports(
        self,
        installation: _Installation,
        memory: _TenantFaults,
        control: _Control,
        setups: dict[tuple[str, Site], ControlSetup],
    ) -> tuple[list[LampReport], list[CabinetReport], dict[str, datetime]]:
        """The reports not judged yet, as the model's inputs, and the report times they cover."""
        judged: dict[str, datetime] = {}
        lamp_reports: list[LampReport] = []
        for lamp in installation.lamps:
            at = lamp.reported_at
            seen = memory.seen.get(lamp.id)
            if at is None or (seen is not None and at <= seen):
                continue
            judged[lamp.id] = at
            site = installation.lamp_sites.get(lamp.id)
            if site is None:
                continue  # without a position there is no sun and no program to judge it by
            setup = control.setup(lamp.group_id, site, setups)
            targets = self._targets(lamp)
            detections = installation.detections.get(lamp.id, ())
            # Near a planned change the report still says the lamp talks and has supply (a
            # cabinet's outage must be able to end at 23:00), but not whether its level is right.
            settled = lamp.no_supply or not self._near_transition(setup, targets, control.overrides, detections, at)
            decision = decide_level(setup, at, targets=targets, overrides=control.overrides, detections=detections)
            curve = DimmingCurve(rated_w=lamp.rated_w or 0.0, standby_w=self.standby_w if lamp.rated_w else 0.0)
            lamp_reports.append(
                LampReport(
                    lamp.id,
                    at,
                    decision.level,
                    curve,
                    site,
                    # Without a rated power the draw cannot be judged; what the lamp says still can.
                    power_w=lamp.power_w if lamp.rated_w else None,
                    reported_on=lamp.reported_on,
                    no_supply=lamp.no_supply,
                    judge_level=settled,
                )
            )
        cabinet_reports: list[CabinetReport] = []
        for cabinet in installation.cabinets:
            at = cabinet.reported_at
            seen = memory.seen.get(cabinet.id)
            if at is None or (seen is not None and at <= seen):
                continue
            judged[cabinet.id] = at
            cabinet_reports.append(CabinetReport(cabinet.id, at, cabinet.supply_on, cabinet.voltage_v))
        return lamp_reports, cabinet_reports, judged

    def _near_transition(
        self,
        setup: ControlSetup,
        targets: tuple[str, ...],
        overrides: Sequence[OverrideCommand],
        detections: Sequence[datetime],
        at: datetime,
    ) -> bool:
        margin = self.transition_margin
        if margin <= timedelta(0):
            return False
        changes = level_changes(
            setup, at - margin, at + margin, targets=targets, overrides=overrides, detections=detections
        )
        return bool(changes)

    # -- control: commands and their feedback ---------------------------------------------

    def _command_lamps(
        self,
        tenant: str,
        installation: _Installation,
        control: _Control,
        setups: dict[tuple[str, Site], ControlSetup],
        now: datetime,
        book: FaultBook,
    ) -> None:
        """Command every lamp whose level changed, judge the others' feedback, raise or clear alarms."""
        assert self.db is not None
        with self.db.read() as conn:
            last = store.commands(conn, tenant)
        # A refusal stays a refusal: acknowledgements are read for every command not yet followed.
        waiting = [c.command_id for c in last.values() if c.command_id is not None and c.feedback != FeedbackStatus.OK]
        acks = self.commands.statuses(tenant, waiting) if self.commands is not None and waiting else {}
        changed: list[store.LampCommand] = []
        to_send: list[tuple[LampView, LevelDecision]] = []
        current: dict[str, store.LampCommand] = {}
        for lamp in installation.lamps:
            site = installation.lamp_sites.get(lamp.id)
            if site is None:
                continue
            setup = control.setup(lamp.group_id, site, setups)
            decision = decide_level(
                setup,
                now,
                targets=self._targets(lamp),
                overrides=control.overrides,
                detections=installation.detections.get(lamp.id, ()),
            )
            previous = last.get(lamp.id)
            if previous is None or abs(previous.level - decision.level) > LEVEL_EPSILON:
                to_send.append((lamp, decision))
                continue
            judged = self._judge_feedback(previous, lamp, acks.get(previous.command_id or ""), now)
            current[lamp.id] = judged
            if judged != previous:
                changed.append(judged)
        for command in self._send(tenant, to_send, now):
            current[command.lamp_id] = command
            changed.append(command)
        lamp_ids = {lamp.id for lamp in installation.lamps}
        gone = [lamp_id for lamp_id in last if lamp_id not in lamp_ids]
        if changed or gone:
            with self.db.write() as conn:
                store.save_commands(conn, tenant, changed, set(last), gone)
        self._feedback_alarms(tenant, installation, current, now, book)

    def _send(
        self, tenant: str, decisions: Sequence[tuple[LampView, LevelDecision]], now: datetime
    ) -> list[store.LampCommand]:
        """Send the decided levels to the lamps' controllers; the commands as stored."""
        if not decisions:
            return []
        controllers: dict[str, str] = {}
        if self.devices is not None and self.commands is not None:
            for device in self.devices.list_devices(tenant)[0]:
                if device.entity_id is not None and device.enabled:
                    controllers.setdefault(device.entity_id, device.id)
        outgoing = [
            (
                controllers[lamp.id],
                COMMAND_NAME,
                {
                    "level": decision.level,
                    "illuminanceLevel": illuminance_from_level(decision.level),
                    "reason": decision.reason.value,
                    "program": decision.program_id,
                },
            )
            for lamp, decision in decisions
            if lamp.id in controllers
        ]
        sent = self.commands.send_many(tenant, outgoing) if self.commands is not None and outgoing else []
        command_ids = {record.device_id: record.id for record in sent}
        stored: list[store.LampCommand] = []
        for lamp, decision in decisions:
            device_id = controllers.get(lamp.id)
            command_id = command_ids.get(device_id) if device_id is not None else None
            status = FeedbackStatus.PENDING if command_id is not None else FeedbackStatus.NO_FEEDBACK
            stored.append(
                store.LampCommand(
                    lamp.id,
                    device_id,
                    command_id,
                    decision.level,
                    decision.reason.value,
                    decision.detail,
                    now,
                    status.value,
                    "sent to the controller" if command_id is not None else "no controller to command",
                    None,
                )
            )
        if sent:
            log.info("lighting: %d level commands sent in tenant %s", len(sent), tenant)
        return stored

    def _judge_feedback(
        self, command: store.LampCommand, lamp: LampView, ack: str | None, now: datetime
    ) -> store.LampCommand:
        """The command with its feedback brought up to date from the lamp's latest report."""
        if command.command_id is None:
            return command  # nothing was sent: nothing to judge
        if ack == "error":
            status, detail = FeedbackStatus.MISMATCH, "the controller refused the command"
        else:
            reported = _reported_level(lamp, command.level)
            feedback = check_command_feedback(
                command.level,
                command.commanded_at,
                reported_level=reported,
                reported_at=lamp.reported_at,
                now=now,
                grace=self.feedback_grace,
            )
            status, detail = feedback.status, feedback.detail
        since = command.mismatch_since
        if status is FeedbackStatus.MISMATCH:
            since = since or now
        elif status is FeedbackStatus.OK:
            since = None
        return replace(command, feedback=status.value, feedback_detail=detail, mismatch_since=since)

    def _feedback_alarms(
        self,
        tenant: str,
        installation: _Installation,
        commands: dict[str, store.LampCommand],
        now: datetime,
        book: FaultBook,
    ) -> None:
        """Open an alarm for a lamp whose controller keeps reporting another level; close it when it follows again.

        A lamp with an open fault of its own, or behind a cabinet without supply, is left to that
        fault's alarm: one cause, one alarm.
        """
        explained = {state.key.entity_id for state in book.open_faults()}
        cabinet_of = {lamp.id: lamp.cabinet_id for lamp in installation.lamps}
        due = {
            lamp_id: command
            for lamp_id, command in commands.items()
            if command.mismatch_since is not None
            and command.feedback == FeedbackStatus.MISMATCH
            and now - command.mismatch_since >= self.feedback_alarm_after
            and lamp_id not in explained
            and cabinet_of.get(lamp_id) not in explained
        }
        active = {
            alarm.source for alarm in self.operations.active_alarms(tenant, SOLUTION) if alarm.kind == FEEDBACK_ALARM
        }
        locations = {lamp.id: lamp.location for lamp in installation.lamps}
        for lamp_id in sorted(set(due) - active):
            command = due[lamp_id]
            self.operations.report(
                AlarmReport(
                    tenant=tenant,
                    solution=SOLUTION,
                    kind=FEEDBACK_ALARM,
                    source=lamp_id,
                    severity=AlarmSeverity.MEDIUM,
                    description=f"The controller does not follow its command: {command.feedback_detail}",
                    at=now,
                    location=locations.get(lamp_id),
                    work_order="Check the lamp controller: it does not execute level commands",
                )
            )
        # Closed when the controller follows again (a new command alone proves nothing), when
        # another fault explains the lamp, or when the lamp is gone.
        for lamp_id in sorted(active - set(due)):
            latest = commands.get(lamp_id)
            followed = latest is None or latest.feedback == FeedbackStatus.OK
            if followed or lamp_id in explained or cabinet_of.get(lamp_id) in explained:
                self.operations.recover(tenant, SOLUTION, FEEDBACK_ALARM, lamp_id, now)

    def _seed_from_alarms(self, tenant: str, installation: _Installation) -> FaultBook:
        """The faults whose alarms are still active, taken back as open (after a restart)."""
        cabinets = {cabinet.id for cabinet in installation.cabinets}
        states: dict[FaultKey, FaultState] = {}
        for alarm in self.operations.active_alarms(tenant, SOLUTION):
            try:
                kind = FaultKind(alarm.kind)
            except ValueError:
                continue  # not one of the model's faults (raised by hand or by an older version)
            key = FaultKey(alarm.source, kind)
            source = SourceKind.CABINET if alarm.source in cabinets else SourceKind.LAMP
            states[key] = _state_from_alarm(key, source, alarm)
        return FaultBook(states)

    def _publish(self, tenant: str, event: FaultEvent, location: dict[str, object] | None) -> None:
        kind = event.kind.value
        if event.action is FaultAction.CLOSED:
            self.operations.recover(tenant, SOLUTION, kind, event.entity_id, event.at)
            return
        description = event.description
        if event.affected:
            description += f" ({len(event.affected)} lamps dark)"
        self.operations.report(
            AlarmReport(
                tenant=tenant,
                solution=SOLUTION,
                kind=kind,
                source=event.entity_id,
                severity=ALARM_SEVERITY[event.severity],
                description=description,
                at=event.at,
                location=location,
                work_order=WORK_ORDER_TITLES.get(event.kind),
            )
        )

    def lamp_states(self, tenant: str) -> list[LampState]:
        """Every lamp's state now; an alarm on a lamp, its group or its cabinet makes it a fault."""
        lamps = [lamp_brief(e, self.terms) for e in self.context.entities_of_type(tenant, self.terms.streetlight)]
        by_source: dict[str, list[str]] = {}
        for alarm in self.active_faults(tenant):
            by_source.setdefault(alarm.source, []).append(alarm.id)
        states = []
        for lamp in lamps:
            faults = [
                *by_source.get(lamp.id, ()),
                *(by_source.get(lamp.group_id, ()) if lamp.group_id else ()),
                *(by_source.get(lamp.cabinet_id, ()) if lamp.cabinet_id else ()),
            ]
            states.append(lamp_state(lamp, tuple(faults)))
        states.sort(key=lambda state: state.id)
        return states

    def active_faults(self, tenant: str) -> list[Alarm]:
        """The active lighting alarms (what the fault rules opened and has not closed yet)."""
        return self.operations.active_alarms(tenant, SOLUTION)

    # -- schedule ----------------------------------------------------------------------------

    def _group_setup(self, tenant: str, group_id: str, control: _Control) -> tuple[ControlSetup, tuple[str, ...]]:
        """The group's control setup and the override targets that reach it (the group, its district)."""
        installation = self._installation(tenant)
        site = installation.group_sites.get(group_id)
        if site is None:
            if group_id not in installation.groups:
                raise NotFound(f"streetlight group {group_id!r:.200} not found")
            raise BadRequestData(f"streetlight group {group_id!r:.200} has no location and no located lamps")
        group = installation.groups.get(group_id)
        district = group.district if group is not None else None
        if district is None:  # a group entity without areaServed: its lamps' district
            district = next((lamp.district for lamp in installation.lamps if lamp.group_id == group_id), None)
        targets = (group_id, district_target(district)) if district is not None else (group_id,)
        return control.setup(group_id, site, {}), targets

    def commanded_level(self, tenant: str, group_id: str, at: datetime) -> LevelDecision:
        """The level ``group_id`` is commanded to at ``at`` (its calendar, programs and overrides), and why."""
        control = self._control(tenant, since=at - timedelta(days=1))
        setup, targets = self._group_setup(tenant, group_id, control)
        return decide_level(setup, at, targets=targets, overrides=control.overrides)

    def night_schedule(self, tenant: str, group_id: str, day: date | None = None) -> NightScheduleView:
        """A group's planned lighting day ``day`` (local date; default: the one in progress or about to start).

        Overrides given so far are part of the plan.
        """
        control = self._control(tenant, since=datetime(1900, 1, 2, tzinfo=UTC))
        setup, targets = self._group_setup(tenant, group_id, control)
        if day is None:
            day = lighting_date(self.clock.now(), setup.site.zone, setup.calendar.day_starts_at)
        plan = plan_night(setup, day)
        changes = level_changes(setup, plan.starts, plan.ends, targets=targets, overrides=control.overrides)
        return NightScheduleView(group_id, day, plan, changes, setup.calendar.calendar_id)

    # -- programs, calendars and group calendars ---------------------------------------------

    def _database(self) -> Database:
        if self.db is None:
            raise RuntimeError("lighting control needs the database")
        return self.db

    def list_programs(self, tenant: str) -> list[dict[str, object]]:
        """Every program the tenant's calendars can use, the built-in one included (``builtIn``)."""
        with self._database().read() as conn:
            stored = {item.id: item for item in store.programs(conn, tenant)}
        out: list[dict[str, object]] = []
        if self.program.program_id not in stored:
            out.append({**program_json(self.program, "Built-in: dusk to dawn, dimmed at night"), "builtIn": True})
        for item in stored.values():
            out.append({**item.document, "builtIn": False, "updatedAt": item.updated_at, "updatedBy": item.updated_by})
        return out

    def get_program(self, tenant: str, program_id: str) -> dict[str, object]:
        """One program's document; :class:`NotFound` when absent."""
        for item in self.list_programs(tenant):
            if item["id"] == program_id:
                return item
        raise NotFound(f"no lighting program {program_id!r:.70} in tenant '{tenant}'")

    def put_program(self, tenant: str, program_id: str, body: object, by: str) -> tuple[dict[str, object], bool]:
        """Create or replace a program from its document; the stored document and whether it is new."""
        program, name = parse_program(body, check_id(program_id, "the program id"))
        document = program_json(program, name)
        created = False
        with self._database().write() as conn:
            before = store.get_program(conn, tenant, program.program_id)
            if before is None or before.document != store.stored_form(document):
                now = self.clock.now()
                created = store.put_program(conn, tenant, program.program_id, document, now, by)
                detail = {"created": created, "name": name}
                audit.record(
                    conn, tenant, actor=by, action=PROGRAM_PUT, target=program.program_id, at=now, detail=detail
                )
        return self.get_program(tenant, program.program_id), created

    def delete_program(self, tenant: str, program_id: str, *, by: str) -> None:
        """Delete a stored program (``by``: who does); :class:`Conflict` while a calendar uses it.

        Deleting a stored program that carries the built-in id brings the built-in one back;
        the built-in program itself cannot be deleted.
        """
        builtin = program_id == self.program.program_id
        with self._database().write() as conn:
            users = [
                item.id
                for item in store.calendars(conn, tenant)
                if program_id in programs_named(parse_calendar(item.document, item.id)[0])
            ]
            if users and not builtin:
                raise Conflict(
                    f"program {program_id!r:.70} is used by calendar(s) {', '.join(users)}; change them first"
                )
            if not store.delete_program(conn, tenant, program_id):
                if builtin:
                    raise Conflict("the built-in program cannot be deleted; store a program with its id to change it")
                raise NotFound(f"no lighting program {program_id!r:.70} in tenant '{tenant}'")
            audit.record(conn, tenant, actor=by, action=PROGRAM_DELETE, target=program_id, at=self.clock.now())

    def list_calendars(self, tenant: str) -> list[dict[str, object]]:
        """Every calendar with the groups that run it; the built-in ``default`` unless the city stored its own."""
        with self._database().read() as conn:
            stored = {item.id: item for item in store.calendars(conn, tenant)}
            assignments = store.group_calendars(conn, tenant)
        groups: dict[str, list[str]] = {}
        for group_id, calendar_id in sorted(assignments.items()):
            groups.setdefault(calendar_id, []).append(group_id)
        out: list[dict[str, object]] = []
        if DEFAULT_CALENDAR not in stored:
            builtin = calendar_json(Calendar(DEFAULT_CALENDAR, self.program.program_id), "Built-in default")
            out.append({**builtin, "builtIn": True, "groups": groups.get(DEFAULT_CALENDAR, [])})
        for item in stored.values():
            out.append(
                {
                    **item.document,
                    "builtIn": False,
                    "groups": groups.get(item.id, []),
                    "updatedAt": item.updated_at,
                    "updatedBy": item.updated_by,
                }
            )
        return out

    def get_calendar(self, tenant: str, calendar_id: str) -> dict[str, object]:
        """One calendar's document with its groups; :class:`NotFound` when absent."""
        for item in self.list_calendars(tenant):
            if item["id"] == calendar_id:
                return item
        raise NotFound(f"no lighting calendar {calendar_id!r:.70} in tenant '{tenant}'")

    def put_calendar(self, tenant: str, calendar_id: str, body: object, by: str) -> tuple[dict[str, object], bool]:
        """Create or replace a calendar; every program it names must exist (else :class:`BadRequestData`)."""
        calendar, name = parse_calendar(body, check_id(calendar_id, "the calendar id"))
        document = calendar_json(calendar, name)
        created = False
        with self._database().write() as conn:
            known = {item.id for item in store.programs(conn, tenant)} | {self.program.program_id}
            missing = sorted(programs_named(calendar) - known)
            if missing:
                raise BadRequestData(f"the calendar names unknown program(s) {', '.join(missing)}; create them first")
            before = store.get_calendar(conn, tenant, calendar.calendar_id)
            if before is None or before.document != store.stored_form(document):
                now = self.clock.now()
                created = store.put_calendar(conn, tenant, calendar.calendar_id, document, now, by)
                detail = {"created": created, "name": name, "defaultProgram": calendar.default_program}
                audit.record(
                    conn, tenant, actor=by, action=CALENDAR_PUT, target=calendar.calendar_id, at=now, detail=detail
                )
        return self.get_calendar(tenant, calendar.calendar_id), created

    def delete_calendar(self, tenant: str, calendar_id: str, *, by: str) -> None:
        """Delete a calendar (``by``: who does); :class:`Conflict` while groups run it."""
        with self._database().write() as conn:
            users = sorted(g for g, c in store.group_calendars(conn, tenant).items() if c == calendar_id)
            if users:
                shown = ", ".join(users[:5]) + (" …" if len(users) > 5 else "")
                raise Conflict(
                    f"calendar {calendar_id!r:.70} is run by {len(users)} group(s) ({shown}); reassign them first"
                )
            if not store.delete_calendar(conn, tenant, calendar_id):
                raise NotFound(f"no lighting calendar {calendar_id!r:.70} in tenant '{tenant}'")
            audit.record(conn, tenant, actor=by, action=CALENDAR_DELETE, target=calendar_id, at=self.clock.now())

    def assign_calendar(self, tenant: str, group_id: str, calendar_id: str, by: str) -> None:
        """Make a group run a calendar (its lamps follow from the next evaluation)."""
        groups = {
            g.id for g in (group_view(e, self.terms) for e in self.context.entities_of_type(tenant, self.terms.group))
        }
        if group_id not in groups:
            raise NotFound(f"streetlight group {group_id!r:.200} not found")
        with self._database().write() as conn:
            stored = {item.id for item in store.calendars(conn, tenant)}
            if calendar_id not in stored and calendar_id != DEFAULT_CALENDAR:
                raise BadRequestData(
                    f"no lighting calendar {check_id(calendar_id, 'calendarId')!r} in tenant '{tenant}'"
                )
            before = store.group_calendar(conn, tenant, group_id) or DEFAULT_CALENDAR
            if before == calendar_id:
                return
            now = self.clock.now()
            if calendar_id == DEFAULT_CALENDAR:
                store.unassign_calendar(conn, tenant, group_id)
            else:
                store.assign_calendar(conn, tenant, group_id, calendar_id, now, by)
            detail = {"before": before, "after": calendar_id}
            audit.record(conn, tenant, actor=by, action=CALENDAR_ASSIGN, target=group_id, at=now, detail=detail)

    # -- overrides ---------------------------------------------------------------------------

    def list_overrides(self, tenant: str, *, active: bool, limit: int, offset: int) -> list[store.StoredOverride]:
        """Overrides, newest first; ``active``: only those neither expired nor withdrawn now."""
        with self._database().read() as conn:
            found = store.overrides(
                conn, tenant, active_at=self.clock.now() if active else None, limit=limit, offset=offset
            )
        return found

    def get_override(self, tenant: str, override_id: str) -> store.StoredOverride:
        """One override; :class:`NotFound` when absent."""
        with self._database().read() as conn:
            found = store.get_override(conn, tenant, override_id) if len(override_id) <= 32 else None
        if found is None:
            raise NotFound(f"no lighting override {override_id!r:.40} in tenant '{tenant}'")
        return found

    def create_override(self, tenant: str, body: object, by: str) -> store.StoredOverride:
        """Hold lamps, groups or districts at a level until an expiry (applied from the next evaluation)."""
        now = self.clock.now()
        command, note = parse_override(body, override_id=uuid.uuid4().hex, now=now)
        assert command.expiry is not None  # parse_override always sets one
        stored = store.StoredOverride(
            command.override_id,
            tuple(sorted(command.targets)),
            command.level,
            command.start,
            command.expiry,
            command.received_at,
            by,
            note,
            None,
            None,
        )
        with self._database().write() as conn:
            if store.get_override(conn, tenant, stored.override_id) is not None:
                raise AlreadyExists("override id collision; try again")
            store.insert_override(conn, tenant, stored)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=OVERRIDE_CREATE,
                target=stored.override_id,
                at=now,
                detail=_override_detail(stored),
            )
        return stored

    def withdraw_override(self, tenant: str, override_id: str, by: str) -> store.StoredOverride:
        """End an override now (kept, marked withdrawn, for the audit trail); :class:`Conflict` if it has ended."""
        found = self.get_override(tenant, override_id)
        now = self.clock.now()
        with self._database().write() as conn:
            if not store.withdraw_override(conn, tenant, override_id, now, by):
                raise Conflict(f"override {override_id!r:.40} has already ended")
            audit.record(
                conn,
                tenant,
                actor=by,
                action=OVERRIDE_WITHDRAW,
                target=override_id,
                at=now,
                detail=_override_detail(found),
            )
        return self.get_override(tenant, override_id)

    # -- commands ----------------------------------------------------------------------------

    def lamp_commands(self, tenant: str, *, feedback: str | None = None) -> list[store.LampCommand]:
        """The last command of each lamp (optionally only those with one feedback status), by lamp."""
        with self._database().read() as conn:
            found = store.commands(conn, tenant)
        return [c for _, c in sorted(found.items()) if feedback is None or c.feedback == feedback]

    # -- energy ------------------------------------------------------------------------------

    def energy(self, tenant: str, start: datetime, end: datetime) -> EnergyReport:
        """kWh, baseline and savings over ``[start, end)`` per lamp, group, cabinet, district and the city.

        A lamp is metered when its energy counter has readings spanning the window (the
        counter's value at each edge is interpolated between the readings either side, read up
        to :data:`COUNTER_MARGIN` beyond it) or at least two inside it, and estimated from its
        calendar's programs, the overrides and its dimming curve otherwise.  A cabinet with
        metered readings stands for everything behind it.  The baseline is each lamp at full
        rated power from sunset to sunrise.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequestData("start and end must carry a time zone")
        if end <= start:
            raise BadRequestData("the end of the window must come after its start")
        installation = self._installation(tenant)
        control = self._control(tenant, since=start)
        setups: dict[tuple[str, Site], ControlSetup] = {}
        lamp_readings = self._counter_readings(tenant, [lamp.id for lamp in installation.lamps], start, end)
        cabinet_readings = self._counter_readings(tenant, [c.id for c in installation.cabinets], start, end)
        parent_of, levels = _hierarchy(installation)
        leaves: dict[str, EnergyFigure] = {}
        baseline_leaves: dict[str, float] = {}
        dark_kwh_per_kw: dict[tuple[Site, datetime, datetime], float] = {}
        for lamp in installation.lamps:
            site = installation.lamp_sites.get(lamp.id)
            readings = lamp_readings.get(lamp.id, [])
            rated = lamp.rated_w or 0.0
            curve = DimmingCurve(rated_w=rated, standby_w=self.standby_w if rated else 0.0)
            if site is None and len(readings) < 2:
                continue  # neither metered nor placeable under a program
            # The baseline covers what the figure covers: a meter that started reporting within the
            # window (a lamp installed this month) is compared with the nights since, not the whole month.
            span_start, span_end = start, end
            if len(readings) >= 2:
                span_start, span_end = max(start, readings[0].at), min(end, readings[-1].at)
            # The program's levels are needed only to estimate a lamp its meter does not count.
            segments = (
                level_segments(
                    control.setup(lamp.group_id, site, setups),
                    span_start,
                    span_end,
                    targets=self._targets(lamp),
                    overrides=control.overrides,
                )
                if site and len(readings) < 2
                else []
            )
            leaves[lamp.id] = lamp_energy(curve, segments, readings)
            baseline_leaves[lamp.id] = 0.0
            if site is not None and span_end > span_start:
                # Lamps of a group share a site and mostly a span: the dark hours are worked out once for them.
                key = (site, span_start, span_end)
                if key not in dark_kwh_per_kw:
                    dark_kwh_per_kw[key] = baseline_energy_kwh(1000.0, site, span_start, span_end)
                baseline_leaves[lamp.id] = rated / 1000.0 * dark_kwh_per_kw[key]
        meters = {
            cabinet_id: EnergyFigure.metered(energy_from_counter(readings).kwh)
            for cabinet_id, readings in cabinet_readings.items()
            if len(readings) >= 2
        }
        totals = roll_up_energy(leaves, parent_of, own_meters=meters)
        baselines = _roll_up_sum(baseline_leaves, parent_of)
        nodes = []
        for node_id, figure in totals.items():
            savings = energy_savings(
                figure,
                baselines.get(node_id, 0.0),
                tariff_per_kwh=self.tariff_per_kwh,
                grid_kg_co2_per_kwh=self.grid_kg_co2_per_kwh,
                currency=self.currency,
            )
            nodes.append(EnergyNode(node_id, levels.get(node_id, "lamp"), parent_of.get(node_id), figure, savings))
        if CITY_NODE not in totals:
            empty = energy_savings(
                EnergyFigure(),
                0.0,
                tariff_per_kwh=self.tariff_per_kwh,
                grid_kg_co2_per_kwh=self.grid_kg_co2_per_kwh,
                currency=self.currency,
            )
            nodes.append(EnergyNode(CITY_NODE, "city", None, EnergyFigure(), empty))
        return EnergyReport(start, end, self.tariff_per_kwh, self.grid_kg_co2_per_kwh, nodes)

    def _counter_readings(
        self, tenant: str, entity_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[CounterReading]]:
        """Each entity's ``energyConsumed`` counter over ``[start, end]`` (edges interpolated; none without history)."""
        if self.temporal is None or not entity_ids:
            return {}
        entities = list(self.context.get_entities(tenant, list(entity_ids)).values())
        # Every reading, never a truncated page: a counter read in part would give a wrong figure.
        found = self.temporal.numeric_readings(
            tenant, entities, self.terms.energy, _micros(start - COUNTER_MARGIN), _micros(end + COUNTER_MARGIN) + 1
        )
        out = {
            entity_id: [CounterReading(datetime.fromtimestamp(us / 1_000_000, UTC), value) for us, value in readings]
            for entity_id, readings in found.items()
        }
        return {entity_id: clip_counter(readings, start, end) for entity_id, readings in out.items()}


def _detections(lamps: Sequence[LampView], groups: dict[str, GroupView]) -> dict[str, tuple[datetime, ...]]:
    """Each lamp's presence detections: its group's and its group members' (else its own)."""
    by_group: dict[str, set[datetime]] = {}
    for group in groups.values():
        if group.presence_at is not None:
            by_group.setdefault(group.id, set()).add(group.presence_at)
    for lamp in lamps:
        if lamp.group_id is not None and lamp.presence_at is not None:
            by_group.setdefault(lamp.group_id, set()).add(lamp.presence_at)
    out: dict[str, tuple[datetime, ...]] = {}
    for lamp in lamps:
        found = by_group.get(lamp.group_id, set()) if lamp.group_id is not None else set()
        if lamp.group_id is None and lamp.presence_at is not None:
            found = {lamp.presence_at}
        if found:
            out[lamp.id] = tuple(sorted(found))
    return out


def _reported_level(lamp: LampView, commanded: float) -> float | None:
    """The level (%) the lamp's latest report says it is at, or None when it does not say.

    A controller that reports only on/off is taken at its word: on while commanded on counts
    as following the command.
    """
    if lamp.reported_on is False:
        return 0.0
    if lamp.level_fraction is not None:
        return level_from_illuminance(lamp.level_fraction)
    if lamp.reported_on is True:
        return commanded if commanded > 0.0 else 100.0
    return None


def _override_detail(override: store.StoredOverride) -> dict[str, object]:
    """What the audit trail keeps of an override: the level, the targets and the time it holds."""
    return {
        "level": override.level,
        "targets": list(override.targets),
        "start": _iso(override.starts_at),
        "expiry": _iso(override.expires_at),
    }


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _state_from_alarm(key: FaultKey, source: SourceKind, alarm: Alarm) -> FaultState:
    return FaultState(
        key,
        source,
        FaultPhase.OPEN,
        first_seen=alarm.opened_at,
        last_seen=alarm.last_seen_at,
        samples=alarm.occurrences,
        description=alarm.description,
        opened_at=alarm.opened_at,
    )


def _hierarchy(installation: _Installation) -> tuple[dict[str, str], dict[str, str]]:
    """Each node's parent (lamp → group → cabinet → district → city) and each node's level."""
    parent_of: dict[str, str] = {}
    levels: dict[str, str] = {CITY_NODE: "city"}
    cabinets = {cabinet.id: cabinet for cabinet in installation.cabinets}
    district_of: dict[str, str | None] = {}

    def district(node: str, name: str | None) -> None:
        if district_of.get(node) is None:
            district_of[node] = name

    for lamp in installation.lamps:
        levels[lamp.id] = "lamp"
        group = installation.groups.get(lamp.group_id) if lamp.group_id is not None else None
        cabinet_id = (group.cabinet_id if group is not None else None) or lamp.cabinet_id
        if lamp.group_id is not None:
            parent_of[lamp.id] = lamp.group_id
            levels[lamp.group_id] = "group"
            district(lamp.group_id, (group.district if group is not None else None) or lamp.district)
            if cabinet_id is not None:
                parent_of.setdefault(lamp.group_id, cabinet_id)
        elif cabinet_id is not None:
            parent_of[lamp.id] = cabinet_id
        else:
            district(lamp.id, lamp.district)
        if cabinet_id is not None:
            levels[cabinet_id] = "cabinet"
            cabinet = cabinets.get(cabinet_id)
            district(cabinet_id, (cabinet.district if cabinet is not None else None) or lamp.district)
    for cabinet in installation.cabinets:
        levels[cabinet.id] = "cabinet"
        district(cabinet.id, cabinet.district)
    for node, name in district_of.items():
        if node in parent_of:
            continue  # a group under a cabinet: the cabinet places it
        target = district_node(name) if name is not None else CITY_NODE
        parent_of[node] = target
        if name is not None:
            levels[target] = "district"
            parent_of[target] = CITY_NODE
    return parent_of, levels


def _roll_up_sum(leaves: dict[str, float], parent_of: dict[str, str]) -> dict[str, float]:
    """Plain sums up the hierarchy (the baseline has no meters standing in for subtrees)."""
    totals: dict[str, float] = {}
    for leaf, value in leaves.items():
        node: str | None = leaf
        hops = 0
        while node is not None and hops < 16:  # five levels deep; the bound only guards against cycles
            totals[node] = totals.get(node, 0.0) + value
            node = parent_of.get(node)
            hops += 1
    return totals
