"""The charts page's series: a week or a month of the city, day by day, from the solutions' services.

Every series covers the last 7 or 30 *complete* local days of the city (up to yesterday): a day
still running would show as a dip in every chart.  Each read model is a plain dataclass with
``to_json()`` (the JSON twin the page's charts are drawn from), ``table()`` (its CSV) and
``summary()`` (the figures the page writes under a chart for readers who cannot see it); they
hold labels and numbers only, the page words them.

* ``aqi_daily``: the US AQI of each station and local day from its daily means (PM2.5 and PM10
  24-hour means, O3 daily maximum 8-hour mean; complete days only) through the air-quality
  model's index tables; a district's is its worst station's.
* ``energy_daily``: the street lighting's kWh per day against the baseline, and the saving.
* ``occupancy_profile``: the city's parking occupancy by hour of day and weekday (hourly means
  over the window).
* ``alarms_daily``: alarms opened per day, per severity and per solution.
* ``pm25_vs_parking``: per district and day, the mean PM2.5 of its stations against its mean
  parking occupancy, and their Pearson correlation.
* ``energy_vs_programs``: energy per day beside the days on which lighting programs, calendars,
  group calendars or overrides changed (the audit trail).

Reading a month costs one energy computation per day (about a second each with 5,000 lamps) and
one daily read per station, so answers are kept for :data:`KEEP_SECONDS` and each day's energy
for :data:`KEEP_ENERGY_SECONDS`: complete days rarely change afterwards, the page's charts are
fetched together, and a month after the week computes only the days the week did not cover.
"""

from __future__ import annotations

import statistics
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar
from zoneinfo import ZoneInfo

from urbis.core.audit import AuditEntry, AuditFilter, AuditService
from urbis.core.clock import Clock, SystemClock
from urbis.core.errors import BadRequestData, NotFound
from urbis.operations.model import Alarm, Severity
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter
from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.model import Concentration, DailyValue, IndexResult, us_aqi
from urbis.solutions.air_quality.service import AirQualityService
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import EnergyNode
from urbis.solutions.parking.service import ParkingService

#: The windows a chart may cover, in days.
WINDOW_DAYS = (7, 30)
#: The charts in the order the page shows them.
CHART_NAMES = (
    "aqi_daily",
    "energy_daily",
    "occupancy_profile",
    "alarms_daily",
    "pm25_vs_parking",
    "energy_vs_programs",
)
#: How long computed series are reused (complete days change only when late data arrives).
KEEP_SECONDS = 300.0
#: How long a day's lighting energy is reused: computing a day with 5,000 lamps takes about a second.
KEEP_ENERGY_SECONDS = 3600.0
#: Rows read per page from the alarm list and the audit trail.
PAGE = 1000
#: The severities most severe first, as the stacked bars pile them.
SEVERITIES = tuple(s.value for s in reversed(Severity))
#: The kinds of lighting control change the audit trail records, by the action's middle part.
CONTROL_KINDS = ("program", "calendar", "override")
#: Where a station or parking place names no district.
NO_DISTRICT = "(none)"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) / len(known) if known else None


# -- the window ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartWindow:
    """The local days a chart covers, and the UTC instant each begins (``edges`` has one more: the end)."""

    days: int
    first: date
    timezone: str
    edges: tuple[datetime, ...]

    @property
    def last(self) -> date:
        """The last day of the window."""
        return self.first + timedelta(days=self.days - 1)

    @property
    def start(self) -> datetime:
        """The instant the first day begins."""
        return self.edges[0]

    @property
    def end(self) -> datetime:
        """The instant after the last day ends."""
        return self.edges[-1]

    @property
    def dates(self) -> list[date]:
        """Every day of the window, oldest first."""
        return [self.first + timedelta(days=n) for n in range(self.days)]

    @property
    def day_starts(self) -> list[datetime]:
        """The instant each day begins (for the page's date formatting)."""
        return list(self.edges[:-1])

    def day_of(self, moment: datetime) -> int | None:
        """The position of the local day ``moment`` falls on; None outside the window."""
        position = bisect_right(self.edges, moment) - 1
        return position if 0 <= position < self.days else None

    def to_json(self) -> dict[str, Any]:
        """The window as every JSON twin gives it; ``labels`` are the days (ISO dates)."""
        return {
            "days": self.days,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "timezone": self.timezone,
            "labels": [day.isoformat() for day in self.dates],
        }


def parse_days(raw: str | None) -> int:
    """The ``days`` query parameter: 7 (the default) or 30; :class:`BadRequestData` otherwise."""
    if raw is None or raw == "":
        return WINDOW_DAYS[0]
    if raw not in {str(days) for days in WINDOW_DAYS}:
        raise BadRequestData(f"'days' must be 7 or 30, got {raw!r:.20}")
    return int(raw)


def parse_month(raw: str | None) -> date | None:
    """The ``month`` query parameter (``YYYY-MM``) as its first day; None when absent; BadRequestData otherwise."""
    if raw is None or raw == "":
        return None
    try:
        year, month = (int(part) for part in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise BadRequestData(f"'month' must be YYYY-MM, got {raw!r:.20}") from None


def month_window(month: date, today: date, timezone: str) -> ChartWindow:
    """The complete local days of ``month`` before ``today`` (all of them once the month is over)."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    last = min(following, today)  # exclusive
    if last <= first:
        raise BadRequestData(f"{first:%Y-%m} has no complete day yet")
    zone = ZoneInfo(timezone)
    days = (last - first).days
    edges = tuple(
        datetime.combine(first + timedelta(days=n), day_time(0), tzinfo=zone).astimezone(UTC) for n in range(days + 1)
    )
    return ChartWindow(days, first, timezone, edges)


def chart_window(days: int, today: date, timezone: str) -> ChartWindow:
    """The ``days`` complete local days before ``today`` in ``timezone``."""
    if days not in WINDOW_DAYS:
        raise BadRequestData(f"'days' must be 7 or 30, got {days}")
    zone = ZoneInfo(timezone)
    first = today - timedelta(days=days)
    # A midnight skipped by a DST change resolves to the change itself (fold 0: the offset before it).
    edges = tuple(
        datetime.combine(first + timedelta(days=n), day_time(0), tzinfo=zone).astimezone(UTC) for n in range(days + 1)
    )
    return ChartWindow(days, first, timezone, edges)


class ChartSeries(Protocol):
    """What every chart's read model offers."""

    name: ClassVar[str]
    window: ChartWindow

    def to_json(self) -> dict[str, Any]:
        """The JSON twin."""
        ...

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The CSV: header and rows."""
        ...

    def summary(self) -> dict[str, Any]:
        """The figures the page words under the chart."""
        ...


# -- air quality ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationDays:
    """A station's daily values per pollutant over the window, as the air-quality service gave them."""

    id: str
    name: str
    district: str | None
    days: Mapping[Pollutant, Sequence[DailyValue]]

    def complete(self, pollutant: Pollutant, position: int) -> float | None:
        """The pollutant's value on day ``position`` if that day is complete."""
        values = self.days.get(pollutant)
        if not values or position >= len(values) or not values[position].complete:
            return None
        return values[position].value


def day_index(pm25: float | None, pm10: float | None, o3_max_8h: float | None) -> IndexResult:
    """A day's US AQI from its 24-hour PM means and its maximum 8-hour O3 mean (µg/m³; None: incomplete).

    NO2 has only an hourly US AQI table, so its daily mean takes no part.
    """
    concentrations = [
        Concentration(pollutant, averaging, value, Unit.UG_M3)
        for pollutant, averaging, value in (
            (Pollutant.PM25, Averaging.HOUR_24, pm25),
            (Pollutant.PM10, Averaging.HOUR_24, pm10),
            (Pollutant.O3, Averaging.HOUR_8, o3_max_8h),
        )
        if value is not None
    ]
    return us_aqi(concentrations)


@dataclass(frozen=True)
class StationAqi:
    """One station's US AQI per day (None: no complete day), and the pollutant behind each."""

    id: str
    name: str
    district: str
    values: list[int | None]
    pollutants: list[str | None]


@dataclass(frozen=True)
class DistrictAqi:
    """A district's US AQI per day: its worst station's."""

    name: str
    values: list[int | None]
    worst_stations: list[str | None]


@dataclass(frozen=True)
class AqiDaily:
    """US AQI per station and district per local day."""

    name: ClassVar[str] = "aqi_daily"
    window: ChartWindow
    stations: list[StationAqi]
    districts: list[DistrictAqi]

    def summary(self) -> dict[str, Any]:
        """The worst district day (the latest of equals) and how many stations had an index."""
        worst: tuple[int, int, str] | None = None
        for district in self.districts:
            for position, value in enumerate(district.values):
                if value is not None and (worst is None or (value, position) > (worst[0], worst[1])):
                    worst = (value, position, district.name)
        rated = sum(1 for station in self.stations if any(value is not None for value in station.values))
        if worst is None:
            return {"highest": None, "stationsRated": rated}
        highest, position, name = worst
        return {
            "highest": {
                "value": highest,
                "day": self.window.dates[position].isoformat(),
                "dayStart": self.window.edges[position],
                "district": name,
            },
            "stationsRated": rated,
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: one line per district, the stations beside them."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "districts": [
                {"name": d.name, "usAqi": d.values, "worstStation": d.worst_stations} for d in self.districts
            ],
            "stations": [
                {"id": s.id, "name": s.name, "district": s.district, "usAqi": s.values, "pollutant": s.pollutants}
                for s in self.stations
            ],
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Per day: each district's index, then each station's."""
        rows: list[list[Any]] = []
        for position, day in enumerate(self.window.dates):
            for d in self.districts:
                rows.append([day, "district", d.name, d.name, d.name, d.values[position], None])
            for s in self.stations:
                rows.append([day, "station", s.id, s.name, s.district, s.values[position], s.pollutants[position]])
        return ["day", "level", "id", "name", "district", "usAqi", "pollutant"], rows


def build_aqi_daily(window: ChartWindow, stations: Sequence[StationDays]) -> AqiDaily:
    """Each station's daily index, and each district's (its worst station's), from the stations' daily values."""
    rated: list[StationAqi] = []
    for station in sorted(stations, key=lambda s: s.id):
        values: list[int | None] = []
        pollutants: list[str | None] = []
        for position in range(window.days):
            result = day_index(
                station.complete(Pollutant.PM25, position),
                station.complete(Pollutant.PM10, position),
                station.complete(Pollutant.O3, position),
            )
            values.append(result.index)
            pollutants.append(None if result.responsible_pollutant is None else result.responsible_pollutant.value)
        rated.append(StationAqi(station.id, station.name, station.district or NO_DISTRICT, values, pollutants))
    by_district: dict[str, list[StationAqi]] = {}
    for item in rated:
        by_district.setdefault(item.district, []).append(item)
    districts = []
    for name, members in sorted(by_district.items()):
        worst_values: list[int | None] = []
        worst_ids: list[str | None] = []
        for position in range(window.days):
            ranked = [(m.values[position], m.id) for m in members if m.values[position] is not None]
            top = max(ranked, default=None)  # ties go to the larger id, as the service's areas do
            worst_values.append(None if top is None else top[0])
            worst_ids.append(None if top is None else top[1])
        districts.append(DistrictAqi(name, worst_values, worst_ids))
    return AqiDaily(window, rated, districts)


# -- lighting energy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyDay:
    """One day of the city's street lighting: kWh used, the baseline, and what was saved."""

    kwh: float
    baseline_kwh: float
    saved_kwh: float
    saved_share: float
    saved_money: float
    saved_co2_kg: float
    basis: str

    @classmethod
    def of(cls, node: EnergyNode) -> EnergyDay:
        """The figures of the city's node of a day's energy report."""
        savings = node.savings
        return cls(
            kwh=node.figure.kwh,
            baseline_kwh=savings.baseline_kwh,
            saved_kwh=savings.saved_kwh,
            saved_share=savings.saved_share,
            saved_money=float(savings.saved_money),
            saved_co2_kg=savings.saved_co2_kg,
            basis=node.figure.basis.value,
        )


@dataclass(frozen=True)
class EnergyDaily:
    """Street-lighting kWh per local day against the baseline."""

    name: ClassVar[str] = "energy_daily"
    window: ChartWindow
    days: list[EnergyDay]
    currency: str

    def summary(self) -> dict[str, Any]:
        """The window's totals and the day that used the most."""
        used = sum(day.kwh for day in self.days)
        baseline = sum(day.baseline_kwh for day in self.days)
        saved = sum(day.saved_kwh for day in self.days)
        peak = max(range(len(self.days)), key=lambda n: (self.days[n].kwh, n), default=None)
        return {
            "kwh": used,
            "baselineKwh": baseline,
            "savedKwh": saved,
            "savedShare": saved / baseline if baseline else None,
            "savedMoney": sum(day.saved_money for day in self.days),
            "currency": self.currency,
            "highest": None
            if peak is None or not self.days[peak].kwh
            else {
                "value": self.days[peak].kwh,
                "day": self.window.dates[peak].isoformat(),
                "dayStart": self.window.edges[peak],
            },
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: parallel lists, one value per day."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "currency": self.currency,
            "kwh": [round(day.kwh, 3) for day in self.days],
            "baselineKwh": [round(day.baseline_kwh, 3) for day in self.days],
            "savedKwh": [round(day.saved_kwh, 3) for day in self.days],
            "savedShare": [round(day.saved_share, 4) for day in self.days],
            "savedMoney": [round(day.saved_money, 2) for day in self.days],
            "basis": [day.basis for day in self.days],
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per day."""
        rows = [
            [
                day,
                round(e.kwh, 3),
                round(e.baseline_kwh, 3),
                round(e.saved_kwh, 3),
                round(e.saved_share, 4),
                round(e.saved_money, 2),
                self.currency,
                round(e.saved_co2_kg, 3),
                e.basis,
            ]
            for day, e in zip(self.window.dates, self.days, strict=True)
        ]
        header = [
            "day",
            "kwh",
            "baselineKwh",
            "savedKwh",
            "savedShare",
            "savedMoney",
            "currency",
            "savedCo2Kg",
            "basis",
        ]
        return header, rows


# -- parking occupancy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OccupancyProfile:
    """The city's parking occupancy by hour of day and by weekday: means of the hourly values over the window.

    Weekdays count from Monday (0); ``matrix[weekday][hour]`` is the mean of that weekday's hour.
    """

    name: ClassVar[str] = "occupancy_profile"
    window: ChartWindow
    places: int
    by_hour: list[float | None]
    by_weekday: list[float | None]
    matrix: list[list[float | None]]
    samples: list[list[int]]

    def summary(self) -> dict[str, Any]:
        """The busiest and the quietest hour of the day, and the busiest weekday."""

        def extreme(values: Sequence[float | None], pick: Callable[..., Any]) -> dict[str, Any] | None:
            known = [(value, n) for n, value in enumerate(values) if value is not None]
            if not known:
                return None
            value, position = pick(known, key=lambda item: item[0])
            return {"value": value, "position": position}

        busiest, quietest = extreme(self.by_hour, max), extreme(self.by_hour, min)
        weekday = extreme(self.by_weekday, max)
        return {
            "places": self.places,
            "busiestHour": None if busiest is None else {"hour": busiest["position"], "value": busiest["value"]},
            "quietestHour": None if quietest is None else {"hour": quietest["position"], "value": quietest["value"]},
            "busiestWeekday": None if weekday is None else {"weekday": weekday["position"], "value": weekday["value"]},
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: shares 0–1 (None where nothing was known)."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "places": self.places,
            "hours": list(range(24)),
            "weekdays": list(range(7)),
            "byHour": [_round(value, 4) for value in self.by_hour],
            "byWeekday": [_round(value, 4) for value in self.by_weekday],
            "byWeekdayHour": [[_round(value, 4) for value in row] for row in self.matrix],
            "samples": self.samples,
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per weekday (ISO: 1 = Monday) and hour; ``all`` rows hold the means over every day."""
        rows: list[list[Any]] = []
        for weekday in range(7):
            for hour in range(24):
                rows.append([weekday + 1, hour, _round(self.matrix[weekday][hour], 4), self.samples[weekday][hour]])
        for hour in range(24):
            rows.append(["all", hour, _round(self.by_hour[hour], 4), sum(row[hour] for row in self.samples)])
        for weekday in range(7):
            rows.append([weekday + 1, "all", _round(self.by_weekday[weekday], 4), sum(self.samples[weekday])])
        return ["weekday", "hour", "occupancy", "samples"], rows


def build_occupancy_profile(
    window: ChartWindow, places: int, hourly: Sequence[tuple[datetime, float | None]]
) -> OccupancyProfile:
    """The profile from hourly shares (each period's start and share), by the local time each period starts."""
    zone = ZoneInfo(window.timezone)
    cells: list[list[list[float]]] = [[[] for _ in range(24)] for _ in range(7)]
    for start, share in hourly:
        if share is None or window.day_of(start) is None:
            continue
        local = start.astimezone(zone)
        cells[local.weekday()][local.hour].append(share)
    matrix = [[_mean(cell) for cell in row] for row in cells]
    samples = [[len(cell) for cell in row] for row in cells]
    by_hour = [_mean([share for row in cells for share in row[hour]]) for hour in range(24)]
    by_weekday = [_mean([share for cell in row for share in cell]) for row in cells]
    return OccupancyProfile(window, places, by_hour, by_weekday, matrix, samples)


# -- alarms ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmsDaily:
    """Alarms opened per local day, per severity and per solution."""

    name: ClassVar[str] = "alarms_daily"
    window: ChartWindow
    by_severity: dict[str, list[int]]
    by_solution: dict[str, list[int]]

    @property
    def totals(self) -> list[int]:
        """Alarms opened each day."""
        return [sum(counts[n] for counts in self.by_severity.values()) for n in range(self.window.days)]

    def summary(self) -> dict[str, Any]:
        """How many opened in all, and the day most did (the latest of equals)."""
        totals = self.totals
        peak = max(range(len(totals)), key=lambda n: (totals[n], n), default=None)
        return {
            "total": sum(totals),
            "bySeverity": {severity: sum(counts) for severity, counts in self.by_severity.items()},
            "highest": None
            if peak is None or not totals[peak]
            else {
                "value": totals[peak],
                "day": self.window.dates[peak].isoformat(),
                "dayStart": self.window.edges[peak],
            },
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: counts per day for each severity (most severe first) and each solution."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "severities": list(self.by_severity),
            "bySeverity": self.by_severity,
            "solutions": list(self.by_solution),
            "bySolution": self.by_solution,
            "total": self.totals,
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per day: the total, each severity, each solution."""
        rows = [
            [
                day,
                total,
                *(counts[n] for counts in self.by_severity.values()),
                *(counts[n] for counts in self.by_solution.values()),
            ]
            for n, (day, total) in enumerate(zip(self.window.dates, self.totals, strict=True))
        ]
        return ["day", "total", *self.by_severity, *self.by_solution], rows


def build_alarms_daily(window: ChartWindow, alarms: Sequence[Alarm]) -> AlarmsDaily:
    """Count the alarms opened on each day of the window (others are left out)."""
    by_severity = {severity: [0] * window.days for severity in SEVERITIES}
    by_solution: dict[str, list[int]] = {}
    for alarm in alarms:
        position = window.day_of(alarm.opened_at)
        if position is None:
            continue
        by_severity[alarm.severity.value][position] += 1
        by_solution.setdefault(alarm.solution, [0] * window.days)[position] += 1
    return AlarmsDaily(window, by_severity, dict(sorted(by_solution.items())))


# -- PM2.5 against parking ------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictScatter:
    """A district's daily mean PM2.5 (µg/m³) and mean parking occupancy (0–1), and their correlation."""

    name: str
    pm25: list[float | None]
    occupancy: list[float | None]
    correlation: float | None

    @property
    def pairs(self) -> int:
        """Days with both figures."""
        return sum(1 for x, y in zip(self.pm25, self.occupancy, strict=True) if x is not None and y is not None)


def pearson(xs: Sequence[float | None], ys: Sequence[float | None]) -> float | None:
    """Pearson's r over the positions where both are known; None with fewer than 3 pairs or a constant side."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    # Two points always lie on a line: r = ±1 says nothing.
    if len(pairs) < 3:
        return None
    try:
        return statistics.correlation([x for x, _ in pairs], [y for _, y in pairs])
    except statistics.StatisticsError:  # one side constant: no correlation is defined
        return None


@dataclass(frozen=True)
class Pm25VsParking:
    """Per district and day: mean PM2.5 of its stations against its mean parking occupancy."""

    name: ClassVar[str] = "pm25_vs_parking"
    window: ChartWindow
    districts: list[DistrictScatter]

    def summary(self) -> dict[str, Any]:
        """Each district's correlation and how many days it rests on."""
        return {"districts": [{"name": d.name, "correlation": d.correlation, "pairs": d.pairs} for d in self.districts]}

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: per district the two daily series (aligned with the labels) and r."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "districts": [
                {
                    "name": d.name,
                    "pm25": [_round(value, 2) for value in d.pm25],
                    "occupancy": [_round(value, 4) for value in d.occupancy],
                    "correlation": _round(d.correlation, 4),
                    "pairs": d.pairs,
                }
                for d in self.districts
            ],
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per district and day."""
        rows = [
            [d.name, day, _round(d.pm25[n], 2), _round(d.occupancy[n], 4), _round(d.correlation, 4)]
            for d in self.districts
            for n, day in enumerate(self.window.dates)
        ]
        return ["district", "day", "pm25", "occupancy", "correlation"], rows


def district_pm25(window: ChartWindow, stations: Sequence[StationDays]) -> dict[str, list[float | None]]:
    """Each district's daily mean PM2.5: the mean of its stations' complete days."""
    out: dict[str, list[float | None]] = {}
    by_district: dict[str, list[StationDays]] = {}
    for station in stations:
        if station.district and Pollutant.PM25 in station.days:
            by_district.setdefault(station.district, []).append(station)
    for name, members in sorted(by_district.items()):
        out[name] = [
            _mean([member.complete(Pollutant.PM25, position) for member in members]) for position in range(window.days)
        ]
    return out


def daily_occupancy(window: ChartWindow, hourly: Sequence[tuple[datetime, float | None]]) -> list[float | None]:
    """The mean of the hourly shares of each local day."""
    days: list[list[float | None]] = [[] for _ in range(window.days)]
    for start, share in hourly:
        position = window.day_of(start)
        if position is not None:
            days[position].append(share)
    return [_mean(values) for values in days]


def build_pm25_vs_parking(
    window: ChartWindow, pm25: Mapping[str, list[float | None]], occupancy: Mapping[str, list[float | None]]
) -> Pm25VsParking:
    """The scatter of every district that has both air-quality stations and parking."""
    districts = [
        DistrictScatter(name, pm25[name], occupancy[name], pearson(pm25[name], occupancy[name]))
        for name in sorted(set(pm25) & set(occupancy))
    ]
    return Pm25VsParking(window, districts)


# -- energy against lighting control changes ------------------------------------------------------


@dataclass(frozen=True)
class ControlChange:
    """One change to the lighting's control, from the audit trail (``kind``: program, calendar, override)."""

    at: datetime
    kind: str
    action: str
    target: str


def control_kind(action: str) -> str:
    """``lighting.program.put`` → ``program``; an action of another kind → ``other``."""
    parts = action.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in CONTROL_KINDS else "other"


@dataclass(frozen=True)
class EnergyVsPrograms:
    """Energy per day with the days on which the lighting's programs, calendars or overrides changed."""

    name: ClassVar[str] = "energy_vs_programs"
    window: ChartWindow
    kwh: list[float]
    baseline_kwh: list[float]
    changes: list[list[ControlChange]]  # per day, oldest first

    def counts(self, kind: str | None = None) -> list[int]:
        """Changes per day (of one kind, or all)."""
        return [sum(1 for change in day if kind is None or change.kind == kind) for day in self.changes]

    def summary(self) -> dict[str, Any]:
        """How many changes on how many days; the mean kWh of days with and without a change."""
        counts = self.counts()
        changed = [self.kwh[n] for n, count in enumerate(counts) if count]
        quiet = [self.kwh[n] for n, count in enumerate(counts) if not count]
        return {
            "changes": sum(counts),
            "daysWithChanges": len(changed),
            "meanKwhChangeDays": _mean(changed),
            "meanKwhOtherDays": _mean(quiet),
            "changeDays": [
                {"day": day.isoformat(), "dayStart": start, "changes": count}
                for day, start, count in zip(self.window.dates, self.window.day_starts, counts, strict=True)
                if count
            ],
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON twin: kWh per day, the count of changes per day and kind, and each change."""
        return {
            "chart": self.name,
            "window": self.window.to_json(),
            "kwh": [round(value, 3) for value in self.kwh],
            "baselineKwh": [round(value, 3) for value in self.baseline_kwh],
            "changes": self.counts(),
            "changesByKind": {kind: self.counts(kind) for kind in (*CONTROL_KINDS, "other")},
            "changeList": [
                {"day": day.isoformat(), "at": c.at, "kind": c.kind, "action": c.action, "target": c.target}
                for day, changes in zip(self.window.dates, self.changes, strict=True)
                for c in changes
            ],
            "summary": _summary_json(self.summary()),
        }

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per day: kWh and the changes by kind."""
        by_kind = {kind: self.counts(kind) for kind in (*CONTROL_KINDS, "other")}
        rows = [
            [day, round(self.kwh[n], 3), round(self.baseline_kwh[n], 3), count, *(by_kind[k][n] for k in by_kind)]
            for n, (day, count) in enumerate(zip(self.window.dates, self.counts(), strict=True))
        ]
        header = ["day", "kwh", "baselineKwh", "changes", *(f"{kind}Changes" for kind in by_kind)]
        return header, rows


def build_energy_vs_programs(
    window: ChartWindow, energy: Sequence[EnergyDay], entries: Sequence[AuditEntry]
) -> EnergyVsPrograms:
    """Energy per day beside the lighting control changes the audit trail recorded on each day."""
    changes: list[list[ControlChange]] = [[] for _ in range(window.days)]
    for entry in sorted(entries, key=lambda e: (e.at, e.id)):
        position = window.day_of(entry.at)
        if position is not None:
            changes[position].append(ControlChange(entry.at, control_kind(entry.action), entry.action, entry.target))
    return EnergyVsPrograms(window, [day.kwh for day in energy], [day.baseline_kwh for day in energy], changes)


def _summary_json(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A summary for JSON: the page-only ``dayStart`` instants left out."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: clean(item) for key, item in value.items() if key != "dayStart"}
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, float):
            return round(value, 4)
        return value

    cleaned: dict[str, Any] = clean(summary)
    return cleaned


# -- the service ----------------------------------------------------------------------------------

_T = TypeVar("_T")


@dataclass
class _Kept:
    """What the service keeps: values by key with the monotonic time each was computed and how long it lasts."""

    values: dict[tuple[Any, ...], tuple[float, float, Any]] = field(default_factory=dict)
    computing: dict[tuple[Any, ...], threading.Lock] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ChartService:
    """The charts' series for a city, from the solutions' services (never their tables)."""

    def __init__(
        self,
        *,
        air_quality: AirQualityService,
        lighting: LightingService,
        parking: ParkingService,
        operations: OperationsService,
        audit: AuditService,
        timezone: str,
        clock: Clock | None = None,
        keep_seconds: float = KEEP_SECONDS,
        keep_energy_seconds: float = KEEP_ENERGY_SECONDS,
    ) -> None:
        """``timezone`` sets the city's local days; answers are reused for ``keep_seconds`` (0: never).

        A day's energy, the dearest figure, is kept for ``keep_energy_seconds``.
        """
        self.air_quality = air_quality
        self.lighting = lighting
        self.parking = parking
        self.operations = operations
        self.audit = audit
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SystemClock()
        self.keep_seconds = keep_seconds
        self.keep_energy_seconds = keep_energy_seconds
        self._kept = _Kept()

    def window(self, days: int, at: datetime | None = None) -> ChartWindow:
        """The ``days`` complete local days before ``at`` (now)."""
        moment = at or self.clock.now()
        return chart_window(days, moment.astimezone(self.tz).date(), self.timezone)

    def month(self, month: date, at: datetime | None = None) -> ChartWindow:
        """The complete local days of ``month`` before ``at`` (now)."""
        moment = at or self.clock.now()
        return month_window(month, moment.astimezone(self.tz).date(), self.timezone)

    def series(self, tenant: str, name: str, days: int, at: datetime | None = None) -> ChartSeries:
        """One chart's series over the last ``days`` days; :class:`NotFound` for an unknown chart."""
        moment = at or self.clock.now()
        return self.series_in(tenant, name, self.window(days, moment), moment)

    def series_in(self, tenant: str, name: str, window: ChartWindow, at: datetime | None = None) -> ChartSeries:
        """One chart's series over ``window`` (the last days, or a month); :class:`NotFound` for an unknown chart."""
        if name not in CHART_NAMES:
            raise NotFound(f"no chart {name!r:.40}; the charts are {', '.join(CHART_NAMES)}")
        moment = at or self.clock.now()
        build: Callable[[str, ChartWindow, datetime], ChartSeries] = getattr(self, f"_{name}")
        return self._keep((tenant, name, window.first, window.days), lambda: build(tenant, window, moment))

    def _keep(self, key: tuple[Any, ...], compute: Callable[[], _T], seconds: float | None = None) -> _T:
        """``compute()``, or its answer kept from less than ``seconds`` (``keep_seconds``) ago.

        Callers asking for the same key at once wait for one computation: the page's charts
        are fetched together, and two of them need the same month of energy.
        """
        lasts = self.keep_seconds if seconds is None else seconds
        if lasts <= 0:
            return compute()
        kept = self._kept
        with kept.lock:
            computing = kept.computing.setdefault(key, threading.Lock())
        with computing:
            now = time.monotonic()
            with kept.lock:
                found = kept.values.get(key)
            if found is not None and now - found[0] < found[1]:
                value: _T = found[2]
                return value
            value = compute()
            with kept.lock:
                # Forget what has expired, so a server running for months keeps only current windows.
                for old in [k for k, (at, span, _) in kept.values.items() if now - at >= span]:
                    del kept.values[old]
                    waiting = kept.computing.get(old)
                    if waiting is not None and not waiting.locked():
                        del kept.computing[old]
                kept.values[key] = (time.monotonic(), lasts, value)
            return value

    # -- what several charts read -------------------------------------------------------------

    def _stations(self, tenant: str, window: ChartWindow, at: datetime) -> list[StationDays]:
        """Every station's daily values over the window (one daily read per station)."""

        def read() -> list[StationDays]:
            out = []
            for station in self.air_quality.stations(tenant, at):
                try:
                    daily = self.air_quality.daily(tenant, station.id, window.first, window.last, at)
                except NotFound:  # deleted since the list was read
                    continue
                out.append(StationDays(station.id, station.name, station.district, daily.days))
            return out

        return self._keep((tenant, "stations", window.first, window.days), read)

    def _energy(self, tenant: str, window: ChartWindow) -> list[EnergyDay]:
        """The city's lighting energy of each day: one energy report per day (about 1 s with 5,000 lamps)."""

        def day(start: datetime, end: datetime) -> EnergyDay:
            return EnergyDay.of(self.lighting.energy(tenant, start, end).city)

        # Kept day by day: a new day, or the month after the week, computes only the days not kept.
        return [
            self._keep(
                (tenant, "energy-day", start),
                partial(day, start, end),
                self.keep_energy_seconds,
            )
            for start, end in zip(window.edges, window.edges[1:], strict=False)
        ]

    def _hourly_occupancy(
        self, tenant: str, window: ChartWindow, district: str | None
    ) -> tuple[int, list[tuple[datetime, float | None]]]:
        """Hourly occupancy shares of the city or a district over the window, and how many places count."""

        def read() -> tuple[int, list[tuple[datetime, float | None]]]:
            try:
                history = self.parking.occupancy_history(
                    tenant, district=district, start=window.start, end=window.end, period="PT1H"
                )
            except NotFound:  # a district whose last parking place has gone
                return 0, []
            return history.places, [(start, share) for start, _, share in history.values]

        return self._keep((tenant, "occupancy", district, window.first, window.days), read)

    # -- the charts ----------------------------------------------------------------------------

    def _aqi_daily(self, tenant: str, window: ChartWindow, at: datetime) -> AqiDaily:
        return build_aqi_daily(window, self._stations(tenant, window, at))

    def _energy_daily(self, tenant: str, window: ChartWindow, at: datetime) -> EnergyDaily:
        return EnergyDaily(window, self._energy(tenant, window), self.lighting.currency)

    def _occupancy_profile(self, tenant: str, window: ChartWindow, at: datetime) -> OccupancyProfile:
        places, hourly = self._hourly_occupancy(tenant, window, None)
        return build_occupancy_profile(window, places, hourly)

    def _alarms_daily(self, tenant: str, window: ChartWindow, at: datetime) -> AlarmsDaily:
        found: list[Alarm] = []
        offset = 0
        while True:
            wanted = TicketFilter(opened_from=window.start, opened_until=window.end, limit=PAGE, offset=offset)
            page, total = self.operations.list_alarms(tenant, wanted)
            found.extend(page)
            offset += PAGE
            if not page or offset >= total:
                break
        return build_alarms_daily(window, found)

    def _pm25_vs_parking(self, tenant: str, window: ChartWindow, at: datetime) -> Pm25VsParking:
        pm25 = district_pm25(window, self._stations(tenant, window, at))
        parked = set(self.parking.overview(tenant, at).districts) - {NO_DISTRICT}
        occupancy = {
            name: daily_occupancy(window, self._hourly_occupancy(tenant, window, name)[1])
            for name in sorted(parked & set(pm25))
        }
        return build_pm25_vs_parking(window, pm25, occupancy)

    def _energy_vs_programs(self, tenant: str, window: ChartWindow, at: datetime) -> EnergyVsPrograms:
        entries: list[AuditEntry] = []
        offset = 0
        while True:
            wanted = AuditFilter(action="lighting.", since=window.start, until=window.end, limit=PAGE, offset=offset)
            page, total = self.audit.entries(tenant, wanted)
            entries.extend(page)
            offset += PAGE
            if not page or offset >= total:
                break
        return build_energy_vs_programs(window, self._energy(tenant, window), entries)
