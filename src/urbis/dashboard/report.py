"""The monthly city report: a month's headline figures, its charts and its tables, ready to print.

Built from the same services as the overview and the charts, over the complete local days of a
calendar month (the days so far while the month runs).  Pure assembly lives in
:func:`build_report`; :class:`ReportService` gathers the answers.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from urbis.citizens.service import ReportFigures
from urbis.citizens.service import ReportService as CitizenReports
from urbis.core.db import Database
from urbis.dashboard import store
from urbis.dashboard.charts import ChartService, ChartWindow, OccupancyProfile
from urbis.operations.model import Alarm, Severity, TicketState, WorkOrder
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.service import AirQualityService, AreaWho
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import EnergyNode

T = TypeVar("T")

#: Rows read per page when counting a month's tickets.
PAGE = 1000
#: The charts the report shows, in order.
REPORT_CHARTS = ("aqi_daily", "energy_daily", "occupancy_profile", "alarms_daily")


@dataclass(frozen=True)
class TicketFigures:
    """A month's alarms or work orders: opened, by severity and solution, closed, and how fast."""

    opened: int
    by_severity: dict[str, int]
    by_solution: dict[str, int]
    closed: int
    median_hours_to_close: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        return {
            "opened": self.opened,
            "bySeverity": self.by_severity,
            "bySolution": self.by_solution,
            "closed": self.closed,
            "medianHoursToClose": self.median_hours_to_close,
        }


def ticket_figures(tickets: Sequence[Alarm | WorkOrder]) -> TicketFigures:
    """Count ``tickets`` (opened in the month) and how long the closed ones took."""
    by_severity = {s.value: 0 for s in reversed(Severity)}
    by_solution: dict[str, int] = {}
    hours = []
    for ticket in tickets:
        by_severity[ticket.severity.value] += 1
        by_solution[ticket.solution] = by_solution.get(ticket.solution, 0) + 1
        if ticket.state is TicketState.CLOSED and ticket.closed_at is not None:
            hours.append((ticket.closed_at - ticket.opened_at).total_seconds() / 3600)
    median = round(statistics.median(hours), 2) if hours else None
    return TicketFigures(len(tickets), by_severity, dict(sorted(by_solution.items())), len(hours), median)


@dataclass(frozen=True)
class WhoRow:
    """Days above the WHO 24-hour PM2.5 guideline in an area, and its worst station."""

    name: str
    stations: int
    days: int | None
    worst_station: str | None


def who_row(area: AreaWho) -> WhoRow:
    """An area's PM2.5 row of the WHO table."""
    figure = area.figures.get(Pollutant.PM25)
    return WhoRow(
        area.name,
        area.stations,
        None if figure is None else figure.exceedance_days,
        None if figure is None else figure.worst_station,
    )


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the monthly report shows."""

    tenant: str
    month: date
    window: ChartWindow
    complete: bool  # the month is over
    generated_at: datetime
    energy: EnergyNode | None
    who_city: WhoRow | None
    who_districts: list[WhoRow]
    alarms: TicketFigures
    work_orders: TicketFigures
    parking_mean: float | None
    month_end_figures: dict[str, Any]  # the overview's figures as last recorded in the month
    citizen_reports: ReportFigures | None = None  # received and resolved in the month

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The month's figures as a table (the CSV export): figure, value, unit."""
        rows: list[list[Any]] = [
            ["whoPm25DaysAbove", None if self.who_city is None else self.who_city.days, "days"],
        ]
        if self.energy is not None:
            savings = self.energy.savings
            rows += [
                ["energyKwh", round(self.energy.figure.kwh, 3), "kWh"],
                ["baselineKwh", round(savings.baseline_kwh, 3), "kWh"],
                ["savedKwh", round(savings.saved_kwh, 3), "kWh"],
                ["savedMoney", savings.saved_money, savings.currency],
                ["savedCo2", round(savings.saved_co2_kg, 3), "kg"],
            ]
        rows += [
            ["parkingMeanOccupancy", None if self.parking_mean is None else round(self.parking_mean, 4), "share"],
            ["lightsWorkingAtEnd", self.month_end_figures.get("lights_working"), "share"],
            ["alarmsOpened", self.alarms.opened, "alarms"],
            ["alarmsClosed", self.alarms.closed, "alarms"],
            ["alarmsMedianHoursToClose", self.alarms.median_hours_to_close, "h"],
            *([f"alarmsOpened.{severity}", count, "alarms"] for severity, count in self.alarms.by_severity.items()),
            ["workOrdersOpened", self.work_orders.opened, "work orders"],
            ["workOrdersClosed", self.work_orders.closed, "work orders"],
            ["workOrdersMedianHoursToClose", self.work_orders.median_hours_to_close, "h"],
        ]
        if self.citizen_reports is not None:
            figures = self.citizen_reports
            rows += [
                ["citizenReportsReceived", figures.received, "reports"],
                ["citizenReportsResolved", figures.resolved, "reports"],
                ["citizenReportsMedianHoursToResolve", figures.median_resolution_hours, "h"],
            ]
        return ["figure", "value", "unit"], rows

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        energy = None
        if self.energy is not None:
            savings = self.energy.savings
            energy = {
                "kwh": round(self.energy.figure.kwh, 3),
                "baselineKwh": round(savings.baseline_kwh, 3),
                "savedKwh": round(savings.saved_kwh, 3),
                "savedShare": round(savings.saved_share, 4),
                "savedMoney": str(savings.saved_money),
                "currency": savings.currency,
                "savedCo2Kg": round(savings.saved_co2_kg, 3),
            }

        def who(row: WhoRow) -> dict[str, Any]:
            return {"name": row.name, "stations": row.stations, "days": row.days, "worstStation": row.worst_station}

        return {
            "tenant": self.tenant,
            "month": f"{self.month:%Y-%m}",
            "window": self.window.to_json(),
            "complete": self.complete,
            "generatedAt": self.generated_at,
            "energy": energy,
            "whoPm25": {
                "city": None if self.who_city is None else who(self.who_city),
                "districts": [who(row) for row in self.who_districts],
            },
            "alarms": self.alarms.to_json(),
            "workOrders": self.work_orders.to_json(),
            "parkingMeanOccupancy": None if self.parking_mean is None else round(self.parking_mean, 4),
            "monthEndFigures": self.month_end_figures,
            "citizenReports": None
            if self.citizen_reports is None
            else {
                "received": self.citizen_reports.received,
                "resolved": self.citizen_reports.resolved,
                "medianHoursToResolve": self.citizen_reports.median_resolution_hours,
            },
        }


def mean_occupancy(profile: OccupancyProfile) -> float | None:
    """The month's mean parking occupancy: the mean over the hours that had a value, weighted by samples."""
    total = weight = 0.0
    for row, counts in zip(profile.matrix, profile.samples, strict=True):
        for value, count in zip(row, counts, strict=True):
            if value is not None and count:
                total += value * count
                weight += count
    return total / weight if weight else None


class ReportService:
    """Gathers a month's report from the solutions' services and the dashboard's snapshots."""

    def __init__(
        self,
        db: Database,
        *,
        charts: ChartService,
        air_quality: AirQualityService,
        lighting: LightingService,
        operations: OperationsService,
        reports: CitizenReports | None = None,
    ) -> None:
        self.db = db
        self.reports = reports
        self.charts = charts
        self.air_quality = air_quality
        self.lighting = lighting
        self.operations = operations

    def monthly(self, tenant: str, month: date, at: datetime | None = None) -> MonthlyReport:
        """The report of ``month`` (its complete days before ``at``); BadRequestData before its first day ends."""
        moment = at or self.charts.clock.now()
        window = self.charts.month(month, moment)
        following = (window.first + timedelta(days=32)).replace(day=1)
        energy = self.lighting.energy(tenant, window.start, window.end).city
        who = self.air_quality.who(tenant, window.first, window.last, moment)
        who_city = who_row(who.city) if who.city.stations else None
        profile = self.charts.series_in(tenant, "occupancy_profile", window, moment)
        assert isinstance(profile, OccupancyProfile)
        alarms: list[Alarm] = _opened_in(self.operations.list_alarms, tenant, window)
        orders: list[WorkOrder] = _opened_in(self.operations.list_work_orders, tenant, window)
        with self.db.read() as conn:
            last = store.snapshot_near(conn, tenant, window.end, window.start)
        return MonthlyReport(
            tenant=tenant,
            month=window.first,
            window=window,
            complete=window.last + timedelta(days=1) >= following,
            generated_at=moment,
            energy=energy if energy.savings.baseline_kwh or energy.figure.kwh else None,
            who_city=who_city,
            who_districts=[who_row(area) for area in who.districts if area.stations],
            alarms=ticket_figures(alarms),
            work_orders=ticket_figures(orders),
            parking_mean=mean_occupancy(profile),
            month_end_figures={} if last is None else {"takenAt": last[0], **last[1]},
            citizen_reports=None if self.reports is None else self.reports.figures(tenant, window.start, window.end),
        )


def _opened_in(
    read: Callable[[str, TicketFilter], tuple[Sequence[T], int]], tenant: str, window: ChartWindow
) -> list[T]:
    """Every ticket opened in ``window``, page by page."""
    found: list[T] = []
    offset = 0
    while True:
        wanted = TicketFilter(opened_from=window.start, opened_until=window.end, limit=PAGE, offset=offset)
        page, total = read(tenant, wanted)
        found.extend(page)
        offset += PAGE
        if not page or offset >= total:
            return found
