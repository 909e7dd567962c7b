"""Lighting control on SQLite and PostgreSQL: stored programs and calendars, overrides, commands and feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from test_lighting_service import EXPAND, GROUP, WINTER_EVENING, make_installation, meter_report, prop

from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound
from urbis.ingestion.service import CommandService, DeviceService
from urbis.operations.model import TicketState
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter
from urbis.solutions.lighting.const import DecisionReason, EnergyBasis, FeedbackStatus
from urbis.solutions.lighting.service import COMMAND_NAME, FEEDBACK_ALARM, LightingService

L1, L2 = "urn:ngsi-ld:Streetlight:l1", "urn:ngsi-ld:Streetlight:l2"


@dataclass
class Control:
    clock: FixedClock
    context: ContextService
    operations: OperationsService
    commands: CommandService
    lighting: LightingService

    def at(self, moment: datetime) -> datetime:
        self.clock.moment = moment
        return moment

    def report(self, tenant: str, documents: list[dict[str, Any]]) -> None:
        result = self.context.update_documents(tenant, documents)
        assert not result.errors, result.errors

    def sent(self, tenant: str, device_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The commands a device got, oldest first."""
        return [(c.command, c.params) for c in reversed(self.commands.list_commands(tenant, device_id))]


def make_control(database: Database, tenant: str, lamps: int = 2) -> Control:
    clock = FixedClock(WINTER_EVENING)
    bus = EventBus()
    context = ContextService(database, bus, default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    assert not context.upsert_documents(tenant, make_installation(lamps)).errors
    operations = OperationsService(database, None, clock=clock)
    devices = DeviceService(database, clock=clock)
    for n in range(1, lamps + 1):
        devices.create(
            tenant,
            {"id": f"lamp-{n}", "deviceType": "streetlight-controller", "entityId": f"urn:ngsi-ld:Streetlight:l{n}"},
        )
    commands = CommandService(database, bus, clock=clock)
    # Raw history, not roll-ups: see test_lighting_service.make_city.
    temporal = TemporalService(database, context, instance_limit=1000, use_rollups=False)
    lighting = LightingService(
        context, EXPAND, operations, clock=clock, temporal=temporal, db=database, devices=devices, commands=commands
    )
    return Control(clock, context, operations, commands, lighting)


def reports(at: datetime, *levels: float) -> list[dict[str, Any]]:
    """Each lamp's level report (lamp 1 first) and the cabinet meter's, all at ``at``."""
    return [
        *(level_report(n, at, level) for n, level in enumerate(levels, start=1)),
        meter_report(at, supply=True, voltage=230.0),
    ]


def level_report(n: int, at: datetime, level: float) -> dict[str, Any]:
    """A controller's report of its level only (no power: the power rules stay out of these tests)."""
    return {
        "id": f"urn:ngsi-ld:Streetlight:l{n}",
        "type": "Streetlight",
        "powerState": prop("on" if level > 0 else "off", at),
        "illuminanceLevel": prop(level, at),
        "status": prop("ok", at),
    }


def feedback_of(control: Control, tenant: str) -> dict[str, tuple[float, str]]:
    return {c.lamp_id: (c.level, c.feedback) for c in control.lighting.lamp_commands(tenant)}


def test_levels_go_to_the_controllers_and_a_controller_that_does_not_follow_raises_an_alarm_until_it_does(
    database: Database, tenant: str
) -> None:
    control = make_control(database, tenant)
    lighting, ops = control.lighting, control.operations

    # 21:00 in Bonn: the built-in program burns at 100 %; both controllers are told so, once.
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING))
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=1)))
    for device in ("lamp-1", "lamp-2"):
        ((name, params),) = control.sent(tenant, device)
        assert name == COMMAND_NAME
        assert (params["level"], params["illuminanceLevel"], params["reason"]) == (100.0, 1.0, "programLevel")
    assert feedback_of(control, tenant) == {L1: (100.0, "pending"), L2: (100.0, "pending")}

    # Lamp 1 reports 100 %, lamp 2 stays at 50 %: after the 2-minute grace, OK and mismatch.
    t = WINTER_EVENING + timedelta(minutes=5)
    control.report(tenant, reports(t, 1.0, 0.5))
    lighting.evaluate_tenant(tenant, control.at(t))
    assert feedback_of(control, tenant) == {L1: (100.0, "ok"), L2: (100.0, "mismatch")}
    assert ops.active_alarms(tenant, "lighting") == []  # not yet: 30 minutes make an alarm

    t = WINTER_EVENING + timedelta(minutes=35)
    control.report(tenant, reports(t, 1.0, 0.5))
    lighting.evaluate_tenant(tenant, control.at(t))
    (alarm,) = ops.active_alarms(tenant, "lighting")
    assert (alarm.kind, alarm.source) == (FEEDBACK_ALARM, L2)
    (order,) = ops.list_work_orders(tenant, TicketFilter(source=L2))[0]
    assert order.state is TicketState.OPEN

    # An operator holds the district at 30 % for an hour: both get the new level at once.
    override = lighting.create_override(
        tenant, {"targets": ["district:Centre"], "level": 30, "durationMinutes": 60, "note": "test"}, "op"
    )
    t = WINTER_EVENING + timedelta(minutes=36)
    lighting.evaluate_tenant(tenant, control.at(t))
    for device in ("lamp-1", "lamp-2"):
        name, params = control.sent(tenant, device)[-1]
        assert (params["level"], params["reason"]) == (30.0, "override")
    assert ops.active_alarms(tenant, "lighting") != []  # a new command proves nothing yet

    # Lamp 2 follows this time: its alarm and work order close.
    t = WINTER_EVENING + timedelta(minutes=40)
    control.report(tenant, reports(t, 0.3, 0.3))
    lighting.evaluate_tenant(tenant, control.at(t))
    assert feedback_of(control, tenant) == {L1: (30.0, "ok"), L2: (30.0, "ok")}
    assert ops.active_alarms(tenant, "lighting") == []
    (order,) = ops.list_work_orders(tenant, TicketFilter(source=L2))[0]
    assert order.state is TicketState.CLOSED

    # Withdrawn early: back to the program's 100 %.
    lighting.withdraw_override(tenant, override.override_id, "op")
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=45)))
    assert feedback_of(control, tenant) == {L1: (100.0, "pending"), L2: (100.0, "pending")}
    assert [o.override_id for o in lighting.list_overrides(tenant, active=True, limit=10, offset=0)] == []
    (withdrawn,) = lighting.list_overrides(tenant, active=False, limit=10, offset=0)
    assert withdrawn.withdrawn_by == "op" and withdrawn.created_by == "op"
    with pytest.raises(Conflict):
        lighting.withdraw_override(tenant, override.override_id, "op")


def test_an_acknowledged_error_is_a_mismatch_and_a_silent_controller_no_feedback(
    database: Database, tenant: str
) -> None:
    control = make_control(database, tenant)
    lighting = control.lighting
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING))
    (first,) = control.commands.list_commands(tenant, "lamp-1")
    control.commands.acknowledge(tenant, "lamp-1", first.id, "ERROR", {"reason": "driver fault"})
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=1)))
    commands = {c.lamp_id: c for c in lighting.lamp_commands(tenant)}
    assert commands[L1].feedback == FeedbackStatus.MISMATCH and "refused" in commands[L1].feedback_detail
    assert commands[L2].feedback == FeedbackStatus.PENDING  # within the grace period, no report yet
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=3)))
    assert {c.lamp_id for c in lighting.lamp_commands(tenant, feedback="noFeedback")} == {L2}


def test_a_stored_calendar_runs_its_programs_for_the_groups_assigned_to_it(database: Database, tenant: str) -> None:
    control = make_control(database, tenant)
    lighting = control.lighting
    late = {"level": 100, "activePeriod": {"sunsetOffsetMinutes": 40, "sunriseOffsetMinutes": -40}}
    late["steps"] = [{"at": "22:00", "level": 30}]
    document, created = lighting.put_program(tenant, "late", late, "op")
    assert created and document["updatedBy"] == "op"
    assert lighting.put_program(tenant, "late", late, "op2")[1] is False  # replaced, not new
    calendar = {"defaultProgram": "urbis-default", "rules": [{"name": "Thursdays", "program": "late", "weekdays": [4]}]}
    lighting.put_calendar(tenant, "week", calendar, "op")
    lighting.assign_calendar(tenant, GROUP, "week", "op")
    assert lighting.get_calendar(tenant, "week")["groups"] == [GROUP]

    # 2026-01-15 is a Thursday: the group dims to 30 % at 22:00 CET (21:00 UTC) instead of 50 % at 23:00.
    night = lighting.night_schedule(tenant, GROUP, date(2026, 1, 15))
    assert night.to_json()["calendar"] == "week" and night.to_json()["calendarRule"] == "Thursdays"
    dim = [c for c in night.changes if c.reason is DecisionReason.FIXED_TIME_STEP]
    assert [(c.at, c.level) for c in dim] == [(datetime(2026, 1, 15, 21, 0, tzinfo=UTC), 30.0)]
    friday = lighting.night_schedule(tenant, GROUP, date(2026, 1, 16))
    assert [(c.at.hour, c.level) for c in friday.changes if c.reason is DecisionReason.FIXED_TIME_STEP] == [
        (22, 50.0),  # 23:00 CET
        (4, 100.0),  # 05:00 CET
    ]
    # The lamps follow the group's calendar: at 21:30 UTC they are commanded 30 %.
    lighting.evaluate_tenant(tenant, control.at(datetime(2026, 1, 15, 21, 30, tzinfo=UTC)))
    assert feedback_of(control, tenant)[L1] == (30.0, "pending")

    with pytest.raises(Conflict, match="week"):
        lighting.delete_program(tenant, "late", by="op")
    with pytest.raises(Conflict, match="1 group"):
        lighting.delete_calendar(tenant, "week", by="op")
    with pytest.raises(BadRequestData, match="unknown program"):
        lighting.put_calendar(tenant, "bad", {"defaultProgram": "nope"}, "op")
    with pytest.raises(BadRequestData, match="no lighting calendar"):
        lighting.assign_calendar(tenant, GROUP, "nope", "op")
    with pytest.raises(NotFound):
        lighting.assign_calendar(tenant, "urn:ngsi-ld:StreetlightGroup:none", "week", "op")
    with pytest.raises(Conflict, match="built-in"):
        lighting.delete_program(tenant, "urbis-default", by="op")

    # Back on the default calendar, the calendar and then the program can go.
    lighting.assign_calendar(tenant, GROUP, "default", "op")
    assert lighting.commanded_level(tenant, GROUP, datetime(2026, 1, 15, 21, 30, tzinfo=UTC)).level == 100.0
    lighting.delete_calendar(tenant, "week", by="op")
    lighting.delete_program(tenant, "late", by="op")
    assert [p["id"] for p in lighting.list_programs(tenant)] == ["urbis-default"]
    with pytest.raises(NotFound):
        lighting.get_program(tenant, "late")


def test_metered_energy_is_interpolated_at_the_window_edges_from_readings_outside_it(
    database: Database, tenant: str
) -> None:
    control = make_control(database, tenant, lamps=1)
    for minute, kwh in ((-10, 100.0), (10, 100.2), (50, 100.6), (70, 100.8)):
        at = WINTER_EVENING + timedelta(minutes=minute)
        control.report(tenant, [{"id": L1, "type": "Streetlight", "energyConsumed": prop(kwh, at)}])
    report = control.lighting.energy(tenant, WINTER_EVENING, WINTER_EVENING + timedelta(hours=1))
    # 100.1 kWh at 20:00 (between 19:50 and 20:10), 100.7 at 21:00 (between 20:50 and 21:10).
    lamp = report.node(L1)
    assert lamp.figure.basis is EnergyBasis.METERED and lamp.figure.kwh == pytest.approx(0.6)


def test_an_override_counts_in_the_estimated_energy(database: Database, tenant: str) -> None:
    control = make_control(database, tenant, lamps=1)
    control.lighting.create_override(
        tenant, {"targets": [L1], "level": 0, "start": "2026-01-15T20:00:00Z", "durationMinutes": 30}, "op"
    )
    report = control.lighting.energy(tenant, WINTER_EVENING, WINTER_EVENING + timedelta(hours=1))
    # 30 min off (1 W standby) then 30 min at 100 % (40 W + 1 W): 0.5 Wh + 20.5 Wh = 0.021 kWh.
    lamp = report.node(L1)
    assert lamp.figure.basis is EnergyBasis.ESTIMATED and lamp.figure.kwh == pytest.approx(0.021)


def test_a_presence_detection_at_one_pole_boosts_its_whole_group_for_the_hold_time(
    database: Database, tenant: str
) -> None:
    control = make_control(database, tenant)
    lighting = control.lighting
    adaptive = {
        "level": 100,
        "activePeriod": {"sunsetOffsetMinutes": 40, "sunriseOffsetMinutes": -40},
        "presence": {"boostLevel": 100, "holdSeconds": 120, "backgroundLevel": 20},
    }
    lighting.put_program(tenant, "adaptive", adaptive, "op")
    lighting.put_calendar(tenant, "quiet", {"defaultProgram": "adaptive"}, "op")
    lighting.assign_calendar(tenant, GROUP, "quiet", "op")

    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING))
    assert feedback_of(control, tenant) == {L1: (20.0, "pending"), L2: (20.0, "pending")}

    detected = WINTER_EVENING + timedelta(seconds=30)
    control.report(tenant, [{"id": L2, "type": "Streetlight", "presenceDetected": prop(True, detected)}])
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=1)))
    assert feedback_of(control, tenant) == {L1: (100.0, "pending"), L2: (100.0, "pending")}
    (_, params) = control.sent(tenant, "lamp-1")[-1]
    assert params["reason"] == DecisionReason.PRESENCE_BOOST.value

    # The hold ends 120 s after the detection (20:02:30): back to the background level.
    lighting.evaluate_tenant(tenant, control.at(WINTER_EVENING + timedelta(minutes=3)))
    assert feedback_of(control, tenant) == {L1: (20.0, "pending"), L2: (20.0, "pending")}
