"""The street-lighting service: faults become alarms and work orders, energy and savings, the planned levels.

It reads ``Streetlight``, ``StreetlightGroup`` and ``StreetlightControlCabinet`` entities
through the context service and runs the pure rules of :mod:`urbis.solutions.lighting.model`:

- :meth:`LightingService.evaluate` (called by the solution runner) turns the lamps' and
  cabinets' latest reports into fault evidence, runs the fault state machine and reports the
  faults that open (with a work order where a crew must go) and recovers those that close;
- :meth:`LightingService.energy` gives kWh per lamp, group, cabinet, district and the city,
  metered where counters exist and estimated otherwise, with the baseline and the savings;
- :meth:`LightingService.commanded_level` and :meth:`LightingService.night_schedule` give what
  the default control program commands a group.

Device commands are not sent yet: the controllers run the same program locally (the simulator
does), so this service only judges what they report against it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from urbis.context.service import ContextService
from urbis.context.temporal import TemporalQuery, TemporalRequest, TemporalService
from urbis.core.clock import Clock, SystemClock
from urbis.core.errors import BadRequestData, NotFound
from urbis.operations.model import Alarm, AlarmReport
from urbis.operations.model import Severity as AlarmSeverity
from urbis.operations.service import OperationsService
from urbis.solutions.lighting.const import (
    DEFAULT_DAY_STARTS_AT,
    DEFAULT_TIMEZONE,
    FaultKind,
    Severity,
    SourceKind,
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
    Site,
    baseline_energy_kwh,
    decide_level,
    energy_from_counter,
    energy_savings,
    evaluate_faults,
    lamp_energy,
    level_changes,
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
    LampView,
    NightScheduleView,
    Terms,
    cabinet_view,
    district_node,
    group_view,
    lamp_view,
)

log = logging.getLogger(__name__)

SOLUTION = "lighting"

#: Faults a crew has to go out for; a silent controller is first a network matter.
WORK_ORDER_TITLES: dict[FaultKind, str] = {
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
    ) -> None:
        """``expand`` turns the Smart Data Models names into the broker's IRIs; ``temporal`` enables metered energy."""
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
        self._faults: dict[str, _TenantFaults] = {}
        self._setups: dict[tuple[float, float], ControlSetup] = {}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.terms.streetlight, self.terms.cabinet})

    # -- reading the installation ------------------------------------------------------------

    def _setup(self, site: Site) -> ControlSetup:
        key = (site.latitude, site.longitude)
        setup = self._setups.get(key)
        if setup is None:
            calendar = Calendar("urbis-default", self.program.program_id)
            setup = ControlSetup(site, calendar, (self.program,))
            self._setups[key] = setup
        return setup

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
        return _Installation(lamps, cabinets, groups, lamp_sites, group_sites)

    @staticmethod
    def _targets(lamp: LampView) -> tuple[str, ...]:
        return (lamp.id, lamp.group_id) if lamp.group_id is not None else (lamp.id,)

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
        lamp_reports, cabinet_reports, judged = self._new_reports(installation, memory)
        last_reports = [
            LastReport(lamp.id, SourceKind.LAMP, since)
            for lamp in installation.lamps
            if (since := lamp.reported_at or lamp.created_at) is not None
        ]
        last_reports += [
            LastReport(cabinet.id, SourceKind.CABINET, since)
            for cabinet in installation.cabinets
            if (since := cabinet.reported_at or cabinet.created_at) is not None
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
        return list(step.events)

    def _new_reports(
        self, installation: _Installation, memory: _TenantFaults
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
            setup = self._setup(site)
            if not lamp.no_supply and self._near_transition(setup, lamp, at):
                continue
            decision = decide_level(setup, at, targets=self._targets(lamp))
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

    def _near_transition(self, setup: ControlSetup, lamp: LampView, at: datetime) -> bool:
        margin = self.transition_margin
        if margin <= timedelta(0):
            return False
        return bool(level_changes(setup, at - margin, at + margin, targets=self._targets(lamp)))

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

    def active_faults(self, tenant: str) -> list[Alarm]:
        """The active lighting alarms (what the fault rules opened and has not closed yet)."""
        return self.operations.active_alarms(tenant, SOLUTION)

    # -- schedule ----------------------------------------------------------------------------

    def _group_setup(self, tenant: str, group_id: str) -> ControlSetup:
        installation = self._installation(tenant)
        site = installation.group_sites.get(group_id)
        if site is None:
            if group_id not in installation.groups:
                raise NotFound(f"streetlight group {group_id!r:.200} not found")
            raise BadRequestData(f"streetlight group {group_id!r:.200} has no location and no located lamps")
        return self._setup(site)

    def commanded_level(self, tenant: str, group_id: str, at: datetime) -> LevelDecision:
        """The level the default program commands ``group_id`` at ``at``, and why."""
        return decide_level(self._group_setup(tenant, group_id), at, targets=(group_id,))

    def night_schedule(self, tenant: str, group_id: str, day: date | None = None) -> NightScheduleView:
        """A group's planned lighting day ``day`` (local date; default: the one in progress or about to start)."""
        setup = self._group_setup(tenant, group_id)
        if day is None:
            day = lighting_date(self.clock.now(), setup.site.zone, DEFAULT_DAY_STARTS_AT)
        plan = plan_night(setup, day)
        changes = level_changes(setup, plan.starts, plan.ends, targets=(group_id,))
        return NightScheduleView(group_id, day, plan, changes)

    # -- energy ------------------------------------------------------------------------------

    def energy(self, tenant: str, start: datetime, end: datetime) -> EnergyReport:
        """kWh, baseline and savings over ``[start, end)`` per lamp, group, cabinet, district and the city.

        A lamp is metered when its energy counter has at least two readings in the window
        (the kWh between the window's edges and the first and last reading are not counted),
        and estimated from the default program and its dimming curve otherwise.  A cabinet
        with at least two meter readings stands for everything behind it.  The baseline is each
        lamp at full rated power from sunset to sunrise.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequestData("start and end must carry a time zone")
        if end <= start:
            raise BadRequestData("the end of the window must come after its start")
        installation = self._installation(tenant)
        lamp_readings = self._counter_readings(tenant, [lamp.id for lamp in installation.lamps], start, end)
        cabinet_readings = self._counter_readings(tenant, [c.id for c in installation.cabinets], start, end)
        parent_of, levels = _hierarchy(installation)
        leaves: dict[str, EnergyFigure] = {}
        baseline_leaves: dict[str, float] = {}
        for lamp in installation.lamps:
            site = installation.lamp_sites.get(lamp.id)
            readings = lamp_readings.get(lamp.id, [])
            rated = lamp.rated_w or 0.0
            curve = DimmingCurve(rated_w=rated, standby_w=self.standby_w if rated else 0.0)
            if site is None and len(readings) < 2:
                continue  # neither metered nor placeable under a program
            segments = level_segments(self._setup(site), start, end, targets=self._targets(lamp)) if site else []
            leaves[lamp.id] = lamp_energy(curve, segments, readings)
            baseline_leaves[lamp.id] = baseline_energy_kwh(rated, site, start, end) if site else 0.0
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
                EnergyFigure(), 0.0, tariff_per_kwh=self.tariff_per_kwh, grid_kg_co2_per_kwh=self.grid_kg_co2_per_kwh
            )
            nodes.append(EnergyNode(CITY_NODE, "city", None, EnergyFigure(), empty))
        return EnergyReport(start, end, self.tariff_per_kwh, self.grid_kg_co2_per_kwh, nodes)

    def _counter_readings(
        self, tenant: str, entity_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[CounterReading]]:
        """Each entity's ``energyConsumed`` readings in ``[start, end]`` from the history (none without it)."""
        if self.temporal is None or not entity_ids:
            return {}
        entities = list(self.context.get_entities(tenant, list(entity_ids)).values())
        request = TemporalRequest(
            temporal=TemporalQuery(
                timerel="between",
                time_at=_micros(start),
                end_time_at=_micros(end) + 1,  # a reading exactly at the end still closes the window
            ),
            attrs=frozenset({self.terms.energy}),
        )
        answer = self.temporal.history_of(tenant, entities, request)
        if answer.content_range is not None:
            log.warning("lighting: energy history truncated at %s; the rest is estimated", answer.content_range)
        out: dict[str, list[CounterReading]] = {}
        for found in answer.entities:
            for series in found.series:
                if series.dataset_id:
                    continue
                for observed_us, _key, instance in series.instances:
                    value = instance.get("value")
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        at = datetime.fromtimestamp(observed_us / 1_000_000, UTC)
                        out.setdefault(found.entity["id"], []).append(CounterReading(at, float(value)))
        return out


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
