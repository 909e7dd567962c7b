"""Alarms and work orders stored on SQLite and PostgreSQL, and mirrored into the context broker."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from urbis.context.service import ContextService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import Conflict, NotFound
from urbis.operations.model import AlarmReport, Severity, TicketState
from urbis.operations.service import OperationsService, alarm_entity_id, work_order_entity_id
from urbis.operations.store import TicketFilter

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
CABINET = "urn:ngsi-ld:StreetlightControlCabinet:c-4"
ALERT = "https://smartdatamodels.org/dataModel.Alert/"


def context_terms(name: str) -> str:
    """The Urbis context's expansions of the few names these tests read back."""
    from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver

    resolver = ContextResolver(base_url="http://localhost")
    return resolver.resolve(URBIS_CONTEXT_URL).expand(name)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ops(database: Database, tenant: str, clock: FixedClock) -> OperationsService:
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=context_terms)
    return OperationsService(database, context, clock=clock)


def supply_loss(tenant: str, at: datetime = T0, severity: Severity = Severity.HIGH) -> AlarmReport:
    return AlarmReport(
        tenant=tenant,
        solution="lighting",
        kind="supplyLoss",
        source=CABINET,
        severity=severity,
        description="cabinet c-4 lost its supply",
        at=at,
        location={"type": "Point", "coordinates": [7.1, 50.73]},
        work_order="Restore supply of cabinet c-4",
    )


def test_a_condition_opens_one_alarm_and_one_work_order_however_often_reported(
    ops: OperationsService, tenant: str
) -> None:
    first = ops.report(supply_loss(tenant))
    again = ops.report(supply_loss(tenant, T0 + timedelta(minutes=1), Severity.CRITICAL))
    assert again.id == first.id and again.occurrences == 2 and again.severity is Severity.CRITICAL
    alarms, total = ops.list_alarms(tenant, TicketFilter())
    assert total == 1 and alarms[0].last_seen_at == T0 + timedelta(minutes=1)
    orders, total = ops.list_work_orders(tenant, TicketFilter(alarm_id=first.id))
    assert total == 1 and orders[0].title == "Restore supply of cabinet c-4"
    assert ops.summary(tenant) == {"lighting": {"critical": 1}}


def test_recovery_closes_the_alarm_and_its_work_orders_and_a_relapse_opens_a_new_one(
    ops: OperationsService, tenant: str, clock: FixedClock
) -> None:
    first = ops.report(supply_loss(tenant))
    clock.advance(minutes=30)
    closed = ops.recover(tenant, "lighting", "supplyLoss", CABINET)
    assert closed is not None and closed.state is TicketState.CLOSED and closed.close_reason == "recovered"
    assert closed.closed_at == T0 + timedelta(minutes=30)
    (order,) = ops.list_work_orders(tenant, TicketFilter())[0]
    assert order.state is TicketState.CLOSED and order.close_reason == "recovered"
    assert ops.recover(tenant, "lighting", "supplyLoss", CABINET) is None  # nothing active any more
    relapse = ops.report(supply_loss(tenant, T0 + timedelta(hours=1)))
    assert relapse.id != first.id and relapse.state is TicketState.OPEN
    assert ops.list_alarms(tenant, TicketFilter(states=(TicketState.OPEN,)))[1] == 1
    assert ops.list_alarms(tenant, TicketFilter())[1] == 2


def test_staff_acknowledge_assign_and_close(ops: OperationsService, tenant: str, clock: FixedClock) -> None:
    alarm = ops.report(supply_loss(tenant))
    clock.advance(minutes=3)
    seen = ops.acknowledge_alarm(tenant, alarm.id, "ops-anna")
    assert seen.state is TicketState.ACKNOWLEDGED and seen.acknowledged_at == T0 + timedelta(minutes=3)
    assert ops.assign_alarm(tenant, alarm.id, "night crew", by="ops-anna").assignee == "night crew"
    (order,) = ops.list_work_orders(tenant, TicketFilter())[0]
    assert ops.assign_work_order(tenant, order.id, "crew 3", by="ops-anna").assignee == "crew 3"
    assert ops.list_work_orders(tenant, TicketFilter(assignee="crew 3"))[1] == 1
    closed = ops.close_alarm(tenant, alarm.id, "false alarm: meter glitch", by="ops-anna")
    assert closed.close_reason == "false alarm: meter glitch"
    # Closing an alarm by hand leaves the crew's work order to them.
    assert ops.get_work_order(tenant, order.id).state is TicketState.OPEN
    with pytest.raises(Conflict):
        ops.acknowledge_alarm(tenant, alarm.id, "ops-bob")
    with pytest.raises(NotFound):
        ops.get_alarm(tenant, "nope")
    with pytest.raises(NotFound):
        ops.get_alarm("another-city", alarm.id)  # tenants never see each other's tickets


def test_filters_and_paging(ops: OperationsService, tenant: str) -> None:
    for n in range(5):
        ops.report(
            AlarmReport(
                tenant=tenant,
                solution="air_quality" if n % 2 else "lighting",
                kind="thresholdExceeded" if n % 2 else "lampFailure",
                source=f"urn:ngsi-ld:Thing:{n}",
                severity=Severity.LOW if n < 3 else Severity.HIGH,
                description=f"#{n}",
                at=T0 + timedelta(minutes=n),
            )
        )
    page, total = ops.list_alarms(tenant, TicketFilter(limit=2, offset=1))
    assert total == 5 and [a.description for a in page] == ["#3", "#2"]  # newest first
    assert ops.list_alarms(tenant, TicketFilter(solution="air_quality"))[1] == 2
    assert ops.list_alarms(tenant, TicketFilter(severities=(Severity.HIGH,)))[1] == 2
    assert ops.list_alarms(tenant, TicketFilter(kind="lampFailure", source="urn:ngsi-ld:Thing:2"))[1] == 1
    assert ops.list_work_orders(tenant, TicketFilter())[1] == 0  # none asked for
    # Opened in a window: from (inclusive) until (exclusive); sorted by severity, the most severe first.
    window = TicketFilter(opened_from=T0 + timedelta(minutes=1), opened_until=T0 + timedelta(minutes=4))
    assert sorted(a.description for a in ops.list_alarms(tenant, window)[0]) == ["#1", "#2", "#3"]
    ranked = ops.list_alarms(tenant, TicketFilter(sort="-severity"))[0]
    assert [a.description for a in ranked] == ["#4", "#3", "#2", "#1", "#0"]  # high first, then newest first
    assert [a.description for a in ops.list_alarms(tenant, TicketFilter(sort="openedAt"))[0]][:2] == ["#0", "#1"]


def test_tickets_are_mirrored_as_ngsi_ld_entities(ops: OperationsService, tenant: str, clock: FixedClock) -> None:
    assert ops.context is not None
    alarm = ops.report(supply_loss(tenant))
    (order,) = ops.list_work_orders(tenant, TicketFilter())[0]
    entity = ops.context.get_entity(tenant, alarm_entity_id(alarm.id))
    assert entity["type"] == [ALERT + "Alert"]
    attrs = entity["attrs"]
    assert attrs[ALERT + "severity"][0]["value"] == "high"
    assert attrs[ALERT + "subCategory"][0]["value"] == "supplyLoss"
    assert attrs[ALERT + "alertSource"][0]["object"] == CABINET
    assert attrs[context_terms("status")][0]["value"] == "open"
    work = ops.context.get_entity(tenant, work_order_entity_id(order.id))
    assert work["attrs"][context_terms("refAlert")][0]["object"] == alarm_entity_id(alarm.id)
    clock.advance(minutes=10)
    ops.recover(tenant, "lighting", "supplyLoss", CABINET)
    entity = ops.context.get_entity(tenant, alarm_entity_id(alarm.id))
    assert entity["attrs"][context_terms("status")][0]["value"] == "closed"
    assert context_terms("validTo") in entity["attrs"]


def test_two_processes_reporting_the_same_condition_open_one_alarm(database: Database, tenant: str) -> None:
    # Two services on the same database stand for two server processes.
    services = [OperationsService(Database(database.url), None, clock=FixedClock(T0)) for _ in range(2)]
    barrier = threading.Barrier(2)
    ids: list[str] = []

    def race(service: OperationsService) -> None:
        barrier.wait()
        ids.append(service.report(supply_loss(tenant)).id)

    threads = [threading.Thread(target=race, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for service in services:
        service.db.dispose()
    assert len(set(ids)) == 1
    alarms, total = OperationsService(database, None).list_alarms(tenant, TicketFilter())
    assert total == 1 and alarms[0].occurrences == 2
