"""The operations service: solutions report and clear conditions; staff acknowledge, assign and close.

Every change is committed to the operations tables first, then mirrored into the context
broker as NGSI-LD entities (``Alert`` from Smart Data Models for alarms, ``WorkOrder`` for
work orders), so dashboards, subscriptions and the marketplace see them like any other
entity.  The mirror leaves out the assignee: a person's name is for staff only.  A failed
mirror is logged and repaired by the next change of the same ticket: the tables are the
record.

Every staff action (acknowledge, assign, close, open a work order by hand) writes an entry
to the audit trail (:mod:`urbis.core.audit`) in the transaction of the change itself; what the
solutions do on their own (report, recover) is not staff's doing and is not audited, and an
action that changes nothing (acknowledging twice) leaves no entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from urbis.context.model import is_uri
from urbis.context.service import ContextService
from urbis.core import audit
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, NotFound
from urbis.operations import model, store
from urbis.operations.model import RECOVERED, Alarm, AlarmReport, Ticket, WorkOrder
from urbis.operations.store import TicketFilter

log = logging.getLogger(__name__)

#: Smart Data Models ``Alert.category`` per solution (lighting faults are infrastructure upkeep).
ALERT_CATEGORY = {"air_quality": "environment", "parking": "traffic", "lighting": "infrastructure"}

#: The audit trail's names of staff actions; the target of each entry is the ticket's id.
ALARM_ACKNOWLEDGE = "alarm.acknowledge"
ALARM_ASSIGN = "alarm.assign"
ALARM_CLOSE = "alarm.close"
WORK_ORDER_ACKNOWLEDGE = "workorder.acknowledge"
WORK_ORDER_ASSIGN = "workorder.assign"
WORK_ORDER_CLOSE = "workorder.close"
WORK_ORDER_CREATE = "workorder.create"

#: What an entry tells beyond who, what and when, from the ticket before and after the action.
AuditDetail = Callable[[Alarm | WorkOrder, Alarm | WorkOrder], dict[str, Any]]


def _no_detail(_before: Alarm | WorkOrder, _after: Alarm | WorkOrder) -> dict[str, Any]:
    return {}


def _assignees(before: Alarm | WorkOrder, after: Alarm | WorkOrder) -> dict[str, Any]:
    return {"before": before.assignee, "after": after.assignee}


def _close_note(_before: Alarm | WorkOrder, after: Alarm | WorkOrder) -> dict[str, Any]:
    return {"note": after.close_reason}


def alarm_entity_id(alarm_id: str) -> str:
    """The NGSI-LD id of an alarm's entity."""
    return f"urn:ngsi-ld:Alert:{alarm_id}"


def work_order_entity_id(order_id: str) -> str:
    """The NGSI-LD id of a work order's entity."""
    return f"urn:ngsi-ld:WorkOrder:{order_id}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _datetime(moment: datetime) -> dict[str, Any]:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": _iso(moment)}}


def _ticket_attributes(ticket: Alarm | WorkOrder) -> dict[str, Any]:
    document: dict[str, Any] = {
        "status": {"type": "Property", "value": ticket.state.value},
        "severity": {"type": "Property", "value": ticket.severity.value},
        "description": {"type": "Property", "value": ticket.description},
        "dateIssued": _datetime(ticket.opened_at),
        "validFrom": _datetime(ticket.opened_at),
        "alertSource": {"type": "Relationship", "object": ticket.source},
    }
    if ticket.closed_at is not None:
        document["validTo"] = _datetime(ticket.closed_at)
    if ticket.location is not None:
        document["location"] = {"type": "GeoProperty", "value": ticket.location}
    return document


def alarm_document(alarm: Alarm) -> dict[str, Any]:
    """An alarm as an NGSI-LD ``Alert`` entity in Urbis's terms."""
    return {
        "id": alarm_entity_id(alarm.id),
        "type": "Alert",
        "category": {"type": "Property", "value": ALERT_CATEGORY.get(alarm.solution, alarm.solution)},
        "subCategory": {"type": "Property", "value": alarm.kind},
        **_ticket_attributes(alarm),
    }


def work_order_document(order: WorkOrder) -> dict[str, Any]:
    """A work order as an NGSI-LD ``WorkOrder`` entity in Urbis's terms."""
    document = {"id": work_order_entity_id(order.id), "type": "WorkOrder", **_ticket_attributes(order)}
    document["name"] = {"type": "Property", "value": order.title}
    if order.alarm_id is not None:
        document["refAlert"] = {"type": "Relationship", "object": alarm_entity_id(order.alarm_id)}
    return document


class OperationsService:
    """Alarms and work orders of every tenant."""

    def __init__(self, db: Database, context: ContextService | None, *, clock: Clock | None = None):
        """``context`` receives the NGSI-LD mirror of each ticket (``None``: no mirror, for tests of the rules)."""
        self.db = db
        self.context = context
        self.clock = clock or SystemClock()

    # -- what the solutions call -----------------------------------------------------------

    def report(self, report: AlarmReport) -> Alarm:
        """A condition holds: open its alarm (and work order), or count a repeat of the active one."""
        try:
            alarm, orders = self._report_once(report)
        except IntegrityError:
            # Another process opened the same condition's alarm a moment ago: count a repeat of it.
            alarm, orders = self._report_once(report)
        self._mirror([alarm], orders)
        return alarm

    def _report_once(self, report: AlarmReport) -> tuple[Alarm, list[WorkOrder]]:
        with self.db.write() as conn:
            active = store.active_alarm(conn, report.tenant, report.solution, report.kind, report.source)
            if active is not None:
                alarm = model.repeat(active, report)
                store.save_alarm(conn, alarm)
                return alarm, []
            alarm = model.open_alarm(report, model.new_id())
            store.insert_alarm(conn, alarm)
            orders: list[WorkOrder] = []
            if report.work_order:
                order = model.open_work_order(alarm, report.work_order[: model.TITLE_LENGTH], model.new_id())
                store.insert_work_order(conn, order)
                orders.append(order)
        return alarm, orders

    def recover(self, tenant: str, solution: str, kind: str, source: str, at: datetime | None = None) -> Alarm | None:
        """The condition no longer holds: close its alarm and the alarm's open work orders."""
        moment = at or self.clock.now()
        with self.db.write() as conn:
            active = store.active_alarm(conn, tenant, solution, kind, source)
            if active is None:
                return None
            alarm = model.close(active, RECOVERED, moment)
            store.save_alarm(conn, alarm)
            orders = [model.close(o, RECOVERED, moment) for o in store.active_work_orders_of(conn, tenant, active.id)]
            for order in orders:
                store.save_work_order(conn, order)
        self._mirror([alarm], orders)
        return alarm

    def active_alarms(self, tenant: str, solution: str, kinds: Sequence[str] | None = None) -> list[Alarm]:
        """A solution's active alarms (to clear those whose condition it no longer sees)."""
        with self.db.read() as conn:
            return store.all_active_alarms(conn, tenant, solution, kinds)

    # -- what staff do ---------------------------------------------------------------------

    def acknowledge_alarm(self, tenant: str, alarm_id: str, by: str) -> Alarm:
        """Mark an alarm seen by ``by`` (the acting user's subject)."""
        return self._change_alarm(
            tenant, alarm_id, lambda a, now: model.acknowledge(a, by, now), by, ALARM_ACKNOWLEDGE, _no_detail
        )

    def assign_alarm(self, tenant: str, alarm_id: str, assignee: str | None, *, by: str) -> Alarm:
        """Give an alarm to someone (``None``: nobody); ``by`` is who acts."""
        return self._change_alarm(
            tenant, alarm_id, lambda a, now: model.assign(a, assignee, now), by, ALARM_ASSIGN, _assignees
        )

    def close_alarm(self, tenant: str, alarm_id: str, note: str, *, by: str) -> Alarm:
        """Close an alarm by hand; its work orders stay, a crew may still have work to do."""
        return self._change_alarm(
            tenant, alarm_id, lambda a, now: model.close(a, note, now), by, ALARM_CLOSE, _close_note
        )

    def acknowledge_work_order(self, tenant: str, order_id: str, by: str) -> WorkOrder:
        """Mark a work order seen (taken up) by ``by``."""
        return self._change_order(
            tenant, order_id, lambda o, now: model.acknowledge(o, by, now), by, WORK_ORDER_ACKNOWLEDGE, _no_detail
        )

    def assign_work_order(self, tenant: str, order_id: str, assignee: str | None, *, by: str) -> WorkOrder:
        """Give a work order to a person or crew (``None``: nobody); ``by`` is who acts."""
        return self._change_order(
            tenant, order_id, lambda o, now: model.assign(o, assignee, now), by, WORK_ORDER_ASSIGN, _assignees
        )

    def close_work_order(self, tenant: str, order_id: str, note: str, *, by: str) -> WorkOrder:
        """Close a work order (the job is done, or not needed)."""
        return self._change_order(
            tenant, order_id, lambda o, now: model.close(o, note, now), by, WORK_ORDER_CLOSE, _close_note
        )

    def create_work_order(
        self, tenant: str, *, title: str, description: str, source: str, severity: model.Severity, by: str
    ) -> WorkOrder:
        """Open a work order by hand (no alarm behind it); ``source`` names the entity concerned, ``by`` who opens it."""
        if not is_uri(source):
            raise BadRequestData(f"'source' must be an entity id (a URI), got {source!r:.80}")
        order = model.manual_work_order(tenant, title, description, source, severity, self.clock.now(), model.new_id())
        with self.db.write() as conn:
            store.insert_work_order(conn, order)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=WORK_ORDER_CREATE,
                target=order.id,
                at=order.opened_at,
                detail={"title": order.title, "source": order.source, "severity": order.severity.value},
            )
        self._mirror([], [order])
        return order

    def _change_alarm(
        self,
        tenant: str,
        alarm_id: str,
        change: Callable[[Alarm, datetime], Alarm],
        by: str,
        action: str,
        detail: AuditDetail,
    ) -> Alarm:
        return self._change(
            tenant, alarm_id, "alarm", store.get_alarm, store.save_alarm, change, _StaffAction(by, action, detail)
        )

    def _change_order(
        self,
        tenant: str,
        order_id: str,
        change: Callable[[WorkOrder, datetime], WorkOrder],
        by: str,
        action: str,
        detail: AuditDetail,
    ) -> WorkOrder:
        return self._change(
            tenant,
            order_id,
            "work order",
            store.get_work_order,
            store.save_work_order,
            change,
            _StaffAction(by, action, detail),
        )

    def _change(
        self,
        tenant: str,
        ticket_id: str,
        what: str,
        load: Callable[[Connection, str, str], Ticket | None],
        save: Callable[[Connection, Ticket], None],
        change: Callable[[Ticket, datetime], Ticket],
        staff: _StaffAction,
    ) -> Ticket:
        """Load a ticket, apply a rule; save, audit and mirror it if the rule changed anything.

        A bare touch (assigning the person who has it already only moves ``updatedAt``) is no
        change: the ticket stays as it was and the trail records nothing.
        """
        with self.db.write() as conn:
            current = load(conn, tenant, ticket_id)
            if current is None:
                raise NotFound(f"{what} {ticket_id!r:.80} does not exist")
            now = self.clock.now()
            ticket = change(current, now)
            if replace(ticket, updated_at=current.updated_at) == current:
                return current
            save(conn, ticket)
            audit.record(
                conn,
                tenant,
                actor=staff.by,
                action=staff.action,
                target=ticket_id,
                at=now,
                detail=staff.detail(current, ticket),
            )
        if isinstance(ticket, Alarm):
            self._mirror([ticket], [])
        else:
            self._mirror([], [ticket])
        return ticket

    # -- reading ---------------------------------------------------------------------------

    def get_alarm(self, tenant: str, alarm_id: str) -> Alarm:
        """One alarm; NotFound if absent."""
        with self.db.read() as conn:
            alarm = store.get_alarm(conn, tenant, alarm_id)
        if alarm is None:
            raise NotFound(f"alarm {alarm_id!r:.80} does not exist")
        return alarm

    def list_alarms(self, tenant: str, wanted: TicketFilter) -> tuple[list[Alarm], int]:
        """Alarms matching ``wanted``, newest first, with the total count."""
        with self.db.read() as conn:
            return store.list_alarms(conn, tenant, wanted)

    def get_work_order(self, tenant: str, order_id: str) -> WorkOrder:
        """One work order; NotFound if absent."""
        with self.db.read() as conn:
            order = store.get_work_order(conn, tenant, order_id)
        if order is None:
            raise NotFound(f"work order {order_id!r:.80} does not exist")
        return order

    def list_work_orders(self, tenant: str, wanted: TicketFilter) -> tuple[list[WorkOrder], int]:
        """Work orders matching ``wanted``, newest first, with the total count."""
        with self.db.read() as conn:
            return store.list_work_orders(conn, tenant, wanted)

    def summary(self, tenant: str) -> dict[str, dict[str, int]]:
        """Active alarms per solution and severity."""
        with self.db.read() as conn:
            counts = store.count_active_alarms(conn, tenant)
        result: dict[str, dict[str, int]] = {}
        for (solution, severity), count in counts.items():
            result.setdefault(solution, {})[severity] = count
        return result

    # -- the NGSI-LD mirror ----------------------------------------------------------------

    def _mirror(self, alarms: Sequence[Alarm], orders: Sequence[WorkOrder]) -> None:
        if self.context is None or not (alarms or orders):
            return
        by_tenant: dict[str, list[dict[str, Any]]] = {}
        for alarm in alarms:
            by_tenant.setdefault(alarm.tenant, []).append(alarm_document(alarm))
        for order in orders:
            by_tenant.setdefault(order.tenant, []).append(work_order_document(order))
        for tenant, documents in by_tenant.items():
            try:
                result = self.context.upsert_documents(tenant, documents)
            except Exception:  # the tables hold the truth; the next change of the ticket mirrors it again
                log.exception("mirroring %d operations entities of tenant %s failed", len(documents), tenant)
                continue
            for entity_id, error in result.errors:
                log.error("operations entity %s not mirrored: %s", entity_id, error.detail)


@dataclass(frozen=True)
class _StaffAction:
    """Who acts, and how the audit trail names the action and tells its detail."""

    by: str
    action: str
    detail: AuditDetail
