"""The city overview: headline figures (KPIs) from every solution, each with its trend.

Pure: the service gathers the solutions' answers, :func:`build_overview` turns them into figures.
A figure's ``value`` is a plain number (or ``None`` while unknown) so that snapshots can store it
and the trend compares like with like; ``detail`` carries what the page shows beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from urbis.citizens.service import ReportFigures
from urbis.operations.model import Severity
from urbis.solutions.air_quality.scales import US_2024
from urbis.solutions.air_quality.service import AreaAirQuality
from urbis.solutions.lighting.views import LAMP_STATES, EnergyNode, LampState
from urbis.solutions.parking.views import ParkingOverview

#: The occupancy band parking prices aim for (SFpark): at least 60 %, below 80 %.
TARGET_BAND = (0.60, 0.80)

#: The headline figures in the order the overview shows them.
KPI_KEYS = (
    "city_aqi",
    "who_days",
    "lights_working",
    "lighting_faults",
    "energy_saved_today",
    "energy_saved_month",
    "parking_occupancy",
    "parking_in_target",
    "citizen_reports_open",
    "citizen_resolution_hours",
    "alarms_active",
)

#: Which figures are better when lower (the page colours a change by it).
LOWER_IS_BETTER = frozenset(
    {"city_aqi", "who_days", "lighting_faults", "citizen_reports_open", "citizen_resolution_hours", "alarms_active"}
)

#: The overview's fragments (refreshed on their own) and the figures each shows.
FRAGMENTS: Mapping[str, tuple[str, ...]] = {
    "air": ("city_aqi", "who_days"),
    "lighting": ("lights_working", "lighting_faults"),
    "energy": ("energy_saved_today", "energy_saved_month"),
    "parking": ("parking_occupancy", "parking_in_target"),
    "reports": ("citizen_reports_open", "citizen_resolution_hours"),
    "alarms": ("alarms_active",),
}


@dataclass(frozen=True)
class Kpi:
    """One headline figure, with the same figure a day and a month before (``None``: not recorded)."""

    key: str
    value: float | None
    detail: dict[str, Any] = field(default_factory=dict)
    yesterday: float | None = None
    last_month: float | None = None
    available: bool = True  # False: the capability behind it does not exist yet (a slot)

    def change(self, before: float | None) -> float | None:
        """How much the figure moved since ``before``."""
        if self.value is None or before is None:
            return None
        return self.value - before

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        return {
            "key": self.key,
            "value": self.value,
            "available": self.available,
            "yesterday": self.yesterday,
            "lastMonth": self.last_month,
            "changeSinceYesterday": self.change(self.yesterday),
            "changeSinceLastMonth": self.change(self.last_month),
            "lowerIsBetter": self.key in LOWER_IS_BETTER,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CityOverview:
    """Every headline figure of a city at one moment."""

    tenant: str
    at: datetime
    kpis: dict[str, Kpi]

    def fragment(self, name: str) -> list[Kpi]:
        """The figures one fragment of the page shows."""
        return [self.kpis[key] for key in FRAGMENTS[name]]

    def figures(self) -> dict[str, float | None]:
        """Every figure's value, as snapshots keep them."""
        return {key: kpi.value for key, kpi in self.kpis.items() if kpi.available}

    def with_trends(self, yesterday: Mapping[str, Any] | None, last_month: Mapping[str, Any] | None) -> CityOverview:
        """The overview with each figure's values from the two earlier snapshots."""

        def number(snapshot: Mapping[str, Any] | None, key: str) -> float | None:
            value = None if snapshot is None else snapshot.get(key)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        kpis = {
            key: replace(kpi, yesterday=number(yesterday, key), last_month=number(last_month, key))
            for key, kpi in self.kpis.items()
        }
        return replace(self, kpis=kpis)

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        return {"tenant": self.tenant, "at": self.at, "kpis": [self.kpis[key].to_json() for key in KPI_KEYS]}


@dataclass(frozen=True)
class WhoFigure:
    """Days above the WHO 24-hour PM2.5 guideline this year: the city's (its worst station's)."""

    first: date
    last: date
    days: int | None
    worst_station: str | None
    stations_with_data: int


@dataclass(frozen=True)
class OverviewInputs:
    """What the solutions answered, gathered by the service."""

    tenant: str
    at: datetime
    air_city: AreaAirQuality | None
    air_districts: Sequence[AreaAirQuality]
    who: WhoFigure | None
    lamps: Sequence[LampState]
    lighting_alarms: int
    energy_today: EnergyNode | None
    energy_month: EnergyNode | None
    parking: ParkingOverview | None
    alarms: Mapping[str, Mapping[str, int]]  # {solution: {severity: count}}
    reports: ReportFigures | None = None  # the last 30 days' resolutions and what is open now


def aqi_band(index: float | None) -> int | None:
    """The US AQI category of an index as its rank, 1 (good) to 6 (hazardous)."""
    if index is None:
        return None
    for rank, category in enumerate(US_2024.categories, start=1):
        if index <= category.index_high:
            return rank
    return len(US_2024.categories)


def _air(inputs: OverviewInputs) -> Kpi:
    city = inputs.air_city
    if city is None or city.us_index is None:
        return Kpi("city_aqi", None, {"stations": 0 if city is None else city.stations})
    ranked = [d for d in inputs.air_districts if d.us_index is not None]
    worst = max(ranked, key=lambda d: (d.us_index or 0, d.name), default=None)
    return Kpi(
        "city_aqi",
        float(city.us_index),
        {
            "category": city.us_category,
            "band": aqi_band(city.us_index),
            "stations": city.stations,
            "worstStation": city.worst_station,
            "worstDistrict": None if worst is None else worst.name,
            "worstDistrictAqi": None if worst is None else worst.us_index,
            "eaqiLevel": city.eaqi_level,
        },
    )


def _who(inputs: OverviewInputs) -> Kpi:
    who = inputs.who
    if who is None:
        return Kpi("who_days", None, {})
    return Kpi(
        "who_days",
        None if who.days is None else float(who.days),
        {
            "pollutant": "pm25",
            "from": who.first.isoformat(),
            "to": who.last.isoformat(),
            "worstStation": who.worst_station,
            "stationsWithData": who.stations_with_data,
        },
    )


def _lights(inputs: OverviewInputs) -> list[Kpi]:
    counts = dict.fromkeys(LAMP_STATES, 0)
    for lamp in inputs.lamps:
        counts[lamp.state] = counts.get(lamp.state, 0) + 1
    total = len(inputs.lamps)
    working = total - counts["fault"]
    share = working / total if total else None
    return [
        Kpi("lights_working", share, {"working": working, "total": total, "states": counts}),
        Kpi("lighting_faults", float(inputs.lighting_alarms), {"lampsAffected": counts["fault"]}),
    ]


def _energy(key: str, node: EnergyNode | None) -> Kpi:
    if node is None:
        return Kpi(key, None, {})
    savings = node.savings
    return Kpi(
        key,
        round(savings.saved_kwh, 3),
        {
            "kwh": round(node.figure.kwh, 3),
            "baselineKwh": round(savings.baseline_kwh, 3),
            "savedShare": round(savings.saved_share, 4),
            "savedMoney": float(savings.saved_money),
            "currency": savings.currency,
            "savedCo2Kg": round(savings.saved_co2_kg, 3),
        },
    )


def _parking(inputs: OverviewInputs) -> list[Kpi]:
    overview = inputs.parking
    if overview is None:
        return [Kpi("parking_occupancy", None, {}), Kpi("parking_in_target", None, {})]
    city = overview.city
    low, high = TARGET_BAND
    rates = [zone.occupancy.rate for zone in overview.zones]
    judged = [rate for rate in rates if rate is not None]
    in_band = sum(1 for rate in judged if low <= rate < high)
    return [
        Kpi(
            "parking_occupancy",
            city.rate,
            {
                "occupied": city.occupied,
                "known": city.known,
                "capacity": city.capacity,
                "garages": len(overview.garages),
            },
        ),
        Kpi(
            "parking_in_target",
            in_band / len(judged) if judged else None,
            {
                "inTarget": in_band,
                "zones": len(judged),
                "above": sum(1 for rate in judged if rate >= high),
                "below": sum(1 for rate in judged if rate < low),
                "band": list(TARGET_BAND),
            },
        ),
    ]


def _alarms(inputs: OverviewInputs) -> Kpi:
    by_severity = dict.fromkeys((s.value for s in reversed(Severity)), 0)
    for counts in inputs.alarms.values():
        for severity, count in counts.items():
            by_severity[severity] = by_severity.get(severity, 0) + count
    by_solution = {solution: sum(counts.values()) for solution, counts in sorted(inputs.alarms.items())}
    return Kpi(
        "alarms_active",
        float(sum(by_severity.values())),
        {"bySeverity": by_severity, "bySolution": by_solution},
    )


def _reports(figures: ReportFigures | None) -> list[Kpi]:
    if figures is None:
        return [Kpi("citizen_reports_open", None), Kpi("citizen_resolution_hours", None)]
    return [
        Kpi("citizen_reports_open", float(figures.open_total), {"byStage": dict(figures.open_by_stage)}),
        Kpi(
            "citizen_resolution_hours",
            figures.median_resolution_hours,
            {
                "resolved": figures.resolved,
                "received": figures.received,
                "days": round((figures.end - figures.start).total_seconds() / 86400),
            },
        ),
    ]


def build_overview(inputs: OverviewInputs) -> CityOverview:
    """Every headline figure from the solutions' answers (trends are added from snapshots later)."""
    kpis = [
        _air(inputs),
        _who(inputs),
        *_lights(inputs),
        _energy("energy_saved_today", inputs.energy_today),
        _energy("energy_saved_month", inputs.energy_month),
        *_parking(inputs),
        *_reports(inputs.reports),
        _alarms(inputs),
    ]
    return CityOverview(inputs.tenant, inputs.at, {kpi.key: kpi for kpi in kpis})
