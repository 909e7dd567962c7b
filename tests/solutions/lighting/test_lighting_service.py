"""The lighting service on SQLite and PostgreSQL: faults become alarms, energy and savings, planned levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import NotFound
from urbis.operations.model import Severity, TicketState
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter
from urbis.solutions.lighting.const import DecisionReason, EnergyBasis
from urbis.solutions.lighting.service import LightingService

EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
LON, LAT = 7.10, 50.73  # Bonn
SUMMER_MORNING = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # the sun about 55° up
WINTER_EVENING = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)  # 21:00 in Bonn: lit at 100 %, dimming at 23:00
CABINET = "urn:ngsi-ld:StreetlightControlCabinet:c1"
GROUP = "urn:ngsi-ld:StreetlightGroup:g1"


def prop(value: Any, at: datetime | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "Property", "value": value}
    if at is not None:
        document["observedAt"] = at.isoformat().replace("+00:00", "Z")
    return document


def rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def make_streetlight(n: int, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Streetlight:l{n}",
        "type": "Streetlight",
        "areaServed": prop("Centre"),
        "location": point(LON + n * 0.0002, LAT),
        "refStreetlightGroup": rel(GROUP),
        "refStreetlightControlCabinet": rel(CABINET),
        "powerRating": prop(40.0),
    }
    document.update(overrides)
    return document


def make_installation(lamps: int) -> list[dict[str, Any]]:
    return [
        {
            "id": CABINET,
            "type": "StreetlightControlCabinet",
            "areaServed": prop("Centre"),
            "location": point(LON, LAT),
        },
        {
            "id": GROUP,
            "type": "StreetlightGroup",
            "areaServed": prop("Centre"),
            "location": point(LON, LAT),
            "refStreetlightControlCabinet": rel(CABINET),
        },
        *(make_streetlight(n) for n in range(1, lamps + 1)),
    ]


def lamp_report(n: int, at: datetime, *, on: bool, power_w: float, status: str = "ok") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Streetlight:l{n}",
        "type": "Streetlight",
        "powerState": prop("on" if on else "off", at),
        "powerConsumption": prop(power_w, at),
        "status": prop(status, at),
    }


def meter_report(at: datetime, *, supply: bool, voltage: float) -> dict[str, Any]:
    return {
        "id": CABINET,
        "type": "StreetlightControlCabinet",
        "powerState": prop("on" if supply else "off", at),
        "voltage": prop(voltage, at),
    }


@dataclass
class City:
    clock: FixedClock
    context: ContextService
    operations: OperationsService
    lighting: LightingService

    def report(self, tenant: str, documents: list[dict[str, Any]], at: datetime | None = None) -> None:
        """Store reports as received at ``at`` (the broker stamps modifiedAt: when reports arrive)."""
        if at is not None:
            self.clock.moment = max(self.clock.moment, at)
        result = self.context.update_documents(tenant, documents)
        assert not result.errors, result.errors


def make_city(database: Database, tenant: str, start: datetime, lamps: int) -> City:
    clock = FixedClock(start)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    assert not context.upsert_documents(tenant, make_installation(lamps)).errors
    operations = OperationsService(database, None, clock=clock)
    # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past, while other tests'
    # roll-up jobs on the shared database run on the real clock and would already have passed those hours.
    temporal = TemporalService(database, context, instance_limit=1000, use_rollups=False)
    lighting = LightingService(context, EXPAND, operations, clock=clock, temporal=temporal)
    return City(clock, context, operations, lighting)


def test_a_day_burner_opens_one_alarm_with_a_work_order_and_both_close_when_it_goes_off(
    database: Database, tenant: str
) -> None:
    city = make_city(database, tenant, SUMMER_MORNING, lamps=1)
    minutes = [SUMMER_MORNING + timedelta(minutes=15 * k) for k in range(4)]
    meter = [meter_report(at, supply=True, voltage=230.0) for at in minutes]

    city.report(tenant, [lamp_report(1, minutes[0], on=True, power_w=41.0), meter[0]])
    assert city.lighting.evaluate_tenant(tenant, minutes[0]) == []  # one sample is not a fault yet
    assert city.operations.active_alarms(tenant, "lighting") == []

    city.clock.advance(minutes=15)
    city.report(tenant, [lamp_report(1, minutes[1], on=True, power_w=41.0), meter[1]])
    city.lighting.evaluate_tenant(tenant, minutes[1])
    city.lighting.evaluate_tenant(tenant, minutes[1])  # nothing new: no second alarm, no repeat
    (alarm,) = city.operations.active_alarms(tenant, "lighting")
    assert (alarm.kind, alarm.source, alarm.severity) == (
        "lampUnexpectedOn",
        "urn:ngsi-ld:Streetlight:l1",
        Severity.MEDIUM,
    )
    assert alarm.occurrences == 1 and alarm.location == {"type": "Point", "coordinates": [LON + 0.0002, LAT]}
    (order,) = city.operations.list_work_orders(tenant, TicketFilter(alarm_id=alarm.id))[0]
    assert order.state is TicketState.OPEN and "Day-burning" in order.title

    # Off, and off for the clearing time (10 minutes, two reports): both close.
    for at in minutes[2:]:
        city.clock.advance(minutes=15)
        city.report(tenant, [lamp_report(1, at, on=False, power_w=0.8), meter[minutes.index(at)]])
        city.lighting.evaluate_tenant(tenant, at)
    assert city.operations.active_alarms(tenant, "lighting") == []
    assert city.operations.get_alarm(tenant, alarm.id).state is TicketState.CLOSED
    assert city.operations.get_work_order(tenant, order.id).state is TicketState.CLOSED


def test_a_cabinet_without_supply_raises_one_alarm_not_one_per_lamp(database: Database, tenant: str) -> None:
    city = make_city(database, tenant, WINTER_EVENING, lamps=3)
    for k in range(2):
        at = WINTER_EVENING + timedelta(minutes=15 * k)
        if k:
            city.clock.advance(minutes=15)
        dark = [lamp_report(n, at, on=False, power_w=0.0, status="noSupply") for n in (1, 2, 3)]
        city.report(tenant, [meter_report(at, supply=False, voltage=0.0), *dark])
        city.lighting.evaluate_tenant(tenant, at)
    (alarm,) = city.operations.active_alarms(tenant, "lighting")
    assert (alarm.kind, alarm.source, alarm.severity) == ("supplyLoss", CABINET, Severity.CRITICAL)
    assert "3 lamps dark" in alarm.description
    (order,) = city.operations.list_work_orders(tenant, TicketFilter(alarm_id=alarm.id))[0]
    assert order.title == "Restore the mains supply"

    # Supply back, lamps burning as commanded: the one alarm closes, nothing else opens.
    for k in range(2, 4):
        at = WINTER_EVENING + timedelta(minutes=15 * k)
        lit = [lamp_report(n, at, on=True, power_w=41.0) for n in (1, 2, 3)]
        city.report(tenant, [meter_report(at, supply=True, voltage=231.0), *lit], at)
        city.lighting.evaluate_tenant(tenant, at)
    assert city.operations.active_alarms(tenant, "lighting") == []
    assert city.operations.get_alarm(tenant, alarm.id).state is TicketState.CLOSED


def test_a_restarted_service_takes_active_alarms_back_and_closes_them(database: Database, tenant: str) -> None:
    city = make_city(database, tenant, SUMMER_MORNING, lamps=1)
    for k in range(2):
        at = SUMMER_MORNING + timedelta(minutes=15 * k)
        city.report(
            tenant, [lamp_report(1, at, on=True, power_w=41.0), meter_report(at, supply=True, voltage=230.0)], at
        )
        city.lighting.evaluate_tenant(tenant, at)
    assert len(city.operations.active_alarms(tenant, "lighting")) == 1
    restarted = LightingService(city.context, EXPAND, city.operations, clock=city.clock)
    for k in range(2, 4):
        at = SUMMER_MORNING + timedelta(minutes=15 * k)
        city.report(
            tenant, [lamp_report(1, at, on=False, power_w=0.8), meter_report(at, supply=True, voltage=230.0)], at
        )
        restarted.evaluate_tenant(tenant, at)
    assert city.operations.active_alarms(tenant, "lighting") == []


def test_energy_metered_and_estimated_with_savings_worked_by_hand(database: Database, tenant: str) -> None:
    start = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)  # 22:00 in Bonn, long after dusk
    end = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # 04:00 in Bonn, long before dawn
    city = make_city(database, tenant, start, lamps=2)
    lamp = "urn:ngsi-ld:Streetlight:l1"
    for at, kwh in ((start, 10.0), (end, 10.12)):
        city.report(tenant, [{"id": lamp, "type": "Streetlight", "energyConsumed": prop(kwh, at)}])
    report = city.lighting.energy(tenant, start, end)

    # Lamp 1 is metered: 10.12 - 10.00 = 0.12 kWh.
    l1 = report.node(lamp)
    assert l1.figure.basis is EnergyBasis.METERED and l1.figure.kwh == pytest.approx(0.12)
    # Lamp 2 has no counter: estimated from the program with 1 W standby,
    # 1 h at 100 % (22:00-23:00 local) = 41 Wh, then 5 h at 50 % = 5 x 21 W = 105 Wh: 0.146 kWh.
    l2 = report.node("urn:ngsi-ld:Streetlight:l2")
    assert l2.figure.basis is EnergyBasis.ESTIMATED and l2.figure.kwh == pytest.approx(0.146)
    # Baseline: each lamp at its 40 W for all 6 dark hours = 0.24 kWh; two lamps 0.48 kWh.
    assert l2.savings.baseline_kwh == pytest.approx(0.24)
    for node_id in (GROUP, CABINET, "district:Centre", "city"):
        node = report.node(node_id)
        assert node.figure.basis is EnergyBasis.MIXED
        assert node.figure.kwh == pytest.approx(0.266)
        assert node.savings.baseline_kwh == pytest.approx(0.48)
        # Saved 0.48 - 0.266 = 0.214 kWh: 0.214 x 0.30 EUR = 0.0642 -> 0.06 EUR; 0.214 x 0.38 = 0.08132 kg CO2.
        assert node.savings.saved_kwh == pytest.approx(0.214)
        assert node.savings.saved_money == Decimal("0.06")
        assert node.savings.saved_co2_kg == pytest.approx(0.08132)
    assert report.node(GROUP).parent == CABINET and report.node(CABINET).parent == "district:Centre"
    assert report.city.savings.saved_share == pytest.approx(0.214 / 0.48)


def test_a_meter_that_starts_reporting_inside_the_window_is_compared_with_the_nights_since(
    database: Database, tenant: str
) -> None:
    start = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)  # 22:00 in Bonn
    end = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # 04:00 in Bonn
    city = make_city(database, tenant, start, lamps=1)
    lamp = "urn:ngsi-ld:Streetlight:l1"
    # The controller was installed at 01:00 local: readings from 00:00 UTC to the end only.
    for at, kwh in ((start + timedelta(hours=3), 0.0), (end, 0.063)):
        city.report(tenant, [{"id": lamp, "type": "Streetlight", "energyConsumed": prop(kwh, at)}])
    node = city.lighting.energy(tenant, start, end).node(lamp)
    # Metered 0.063 kWh over 3 dark hours; the baseline is 40 W over those 3 hours (0.12 kWh),
    # not over the 6 hours of the window (0.24 kWh, which would claim savings from before it existed).
    assert node.figure.kwh == pytest.approx(0.063)
    assert node.savings.baseline_kwh == pytest.approx(0.12)
    assert node.savings.saved_kwh == pytest.approx(0.057)


def test_energy_reads_every_counter_reading_however_many(database: Database, tenant: str) -> None:
    start = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    city = make_city(database, tenant, start, lamps=3)
    # A temporal answer keeps at most 5 instances: the energy figure must not depend on it.
    city.lighting.temporal = TemporalService(database, city.context, instance_limit=5, use_rollups=False)
    for n in (1, 2, 3):
        lamp = f"urn:ngsi-ld:Streetlight:l{n}"
        for minute in range(0, 361, 15):  # 25 readings, 10 Wh each quarter hour (40 W)
            at = start + timedelta(minutes=minute)
            city.report(tenant, [{"id": lamp, "type": "Streetlight", "energyConsumed": prop(minute / 15 * 0.01, at)}])
    report = city.lighting.energy(tenant, start, start + timedelta(hours=6))
    for n in (1, 2, 3):
        assert report.node(f"urn:ngsi-ld:Streetlight:l{n}").figure.kwh == pytest.approx(0.24)
    assert report.city.figure.kwh == pytest.approx(0.72)


def test_commanded_level_and_the_planned_night(database: Database, tenant: str) -> None:
    city = make_city(database, tenant, WINTER_EVENING, lamps=2)
    evening = city.lighting.commanded_level(tenant, GROUP, WINTER_EVENING)
    assert (evening.level, evening.reason) == (100.0, DecisionReason.PROGRAM_LEVEL)
    late = city.lighting.commanded_level(tenant, GROUP, datetime(2026, 1, 15, 22, 30, tzinfo=UTC))
    assert (late.level, late.reason) == (50.0, DecisionReason.FIXED_TIME_STEP)
    noon = city.lighting.commanded_level(tenant, GROUP, datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    assert (noon.level, noon.reason) == (0.0, DecisionReason.DAYLIGHT)

    night = city.lighting.night_schedule(tenant, GROUP, date(2026, 1, 15))
    assert [c.level for c in night.changes] == [100.0, 50.0, 100.0, 0.0]
    on, dim, undim, off = night.changes
    assert night.plan.on == on.at and night.plan.off == off.at
    # On 40 min after sunset (about 16:57 CET in Bonn): between 16:30 and 17:00 UTC.
    assert datetime(2026, 1, 15, 16, 30, tzinfo=UTC) < on.at < datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
    assert dim.at == datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 23:00 CET
    assert undim.at == datetime(2026, 1, 16, 4, 0, tzinfo=UTC)  # 05:00 CET
    with pytest.raises(NotFound):
        city.lighting.commanded_level(tenant, "urn:ngsi-ld:StreetlightGroup:nope", WINTER_EVENING)


def test_silence_runs_from_when_reports_arrive_so_a_backfill_raises_no_communication_loss(
    database: Database, tenant: str
) -> None:
    city = make_city(database, tenant, WINTER_EVENING, lamps=1)
    # Three hours of old observations arriving now (a simulator's backfill, a gateway emptying its buffer).
    for k in range(12, 0, -1):
        observed = WINTER_EVENING - timedelta(minutes=15 * k)
        city.report(
            tenant,
            [lamp_report(1, observed, on=True, power_w=41.0), meter_report(observed, supply=True, voltage=230.0)],
        )
        city.lighting.evaluate_tenant(tenant, WINTER_EVENING)
    assert city.operations.active_alarms(tenant, "lighting") == []
    # Then nothing for 40 minutes: now both are silent (allowed: 35 minutes).
    city.clock.advance(minutes=40)
    city.lighting.evaluate_tenant(tenant, WINTER_EVENING + timedelta(minutes=40))
    kinds = sorted((a.kind, a.source) for a in city.operations.active_alarms(tenant, "lighting"))
    assert kinds == [("communicationLoss", CABINET)]  # the lamps behind a silent cabinet are its alarm
    (order,) = city.operations.list_work_orders(tenant, TicketFilter(source=CABINET))[0]
    assert order.title == "Silent controller: check its network link and its power"


def test_a_cabinet_outage_ending_near_a_dim_step_still_closes(database: Database, tenant: str) -> None:
    # 22:30-23:15 CET: within 45 minutes of the 23:00 dim step, where lamp levels are not judged.
    start = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
    city = make_city(database, tenant, start, lamps=3)
    for k in range(4):
        at = start + timedelta(minutes=15 * k)
        out = k < 2
        lamps = [
            lamp_report(n, at, on=not out, power_w=0.0 if out else 41.0, status="noSupply" if out else "ok")
            for n in (1, 2, 3)
        ]
        city.report(tenant, [meter_report(at, supply=not out, voltage=0.0 if out else 231.0), *lamps], at)
        city.lighting.evaluate_tenant(tenant, at)
        if k == 1:
            (alarm,) = city.operations.active_alarms(tenant, "lighting")
            assert alarm.kind == "supplyLoss"
    # The lamps' reports near 23:00 still say they have supply again: the one alarm closes.
    assert city.operations.active_alarms(tenant, "lighting") == []
