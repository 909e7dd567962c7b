"""The air-quality service: indices per station, district and city from the stations' history, and alerts.

For every ``AirQualityObserved`` station it reads the last 24 hourly means of each pollutant
(the temporal API's roll-ups), screens them (range, stuck value, spike: flagged hours are kept
in the answer but left out of every index), and computes

* the **US AQI 2024**: PM2.5 and PM10 by NowCast over the last 12 hours, O3 as the 8-hour
  mean of the last 8 hours (6 valid needed), NO2 as the last hourly mean; gases converted from
  µg/m³ at 25 °C;
* the **European AQI 2024** from the last hourly means (its bands are in µg/m³, as reported).

A district's and the city's index is that of their worst station (the figure residents need:
where it is bad, not the average).  Each evaluation writes ``airQualityIndex`` (US AQI) and
``airQualityLevel`` onto the station's entity, and raises an alarm when a station's AQI reaches
the alert threshold (cleared below it minus the hysteresis), which the operations mirror
publishes as an NGSI-LD ``Alert`` entity: subscribers to ``Alert`` get it like any other change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from urbis.context.model import default_value
from urbis.context.service import ContextService
from urbis.context.temporal import Aggregation, TemporalQuery, TemporalRequest, TemporalService
from urbis.core.clock import Clock, SystemClock
from urbis.operations.model import AlarmReport, Severity
from urbis.operations.service import OperationsService
from urbis.solutions.air_quality.const import Averaging, Pollutant, QualityControlParams, Unit, pollutant_spec
from urbis.solutions.air_quality.model import (
    AlertChange,
    AlertState,
    Concentration,
    ForecastEvaluation,
    ForecastPoint,
    IndexResult,
    QcFlag,
    ThresholdRule,
    eaqi_index,
    evaluate_forecast,
    evaluate_threshold,
    forecast_next_hours,
    mean_if_complete,
    nowcast_pm,
    persistence_forecast,
    screen_series,
    us_aqi,
)
from urbis.solutions.air_quality.scales import EAQI_2024
from urbis.solutions.air_quality.units import convert

log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
#: The pollutants the stations report (NGSI-LD attribute names of AirQualityObserved).
MEASURED = (Pollutant.PM25, Pollutant.PM10, Pollutant.NO2, Pollutant.O3)
ALERT_KIND = "aqiThresholdExceeded"
#: Hours of history a forecast learns from (14 days of profile and a week of backtest before them).
FORECAST_HISTORY_HOURS = 21 * 24
#: Quality control of hourly means: a spike must also stand 10 µg/m³ clear of its neighbours'
#: median, else a quiet, smooth series flags its own small wiggles (the Hampel filter's MAD is tiny).
HOURLY_QC = QualityControlParams(spike_min_deviation=10.0)
#: Alert at a US AQI of 101 (unhealthy for sensitive groups); clear below 91.
DEFAULT_ALERT = ThresholdRule(threshold=101, hysteresis=10)


@dataclass(frozen=True)
class StationAirQuality:
    """One station's indices and the hourly means behind them (oldest first, None where missing)."""

    id: str
    name: str
    district: str | None
    location: dict[str, Any] | None
    us: IndexResult
    eaqi: IndexResult
    hourly: dict[Pollutant, list[float | None]]
    flagged: dict[Pollutant, dict[int, tuple[QcFlag, ...]]] = field(default_factory=dict)  # hour position -> flags


@dataclass(frozen=True)
class StationForecast:
    """A station's next 24 hours of one pollutant, and how the model did against persistence lately."""

    station_id: str
    pollutant: Pollutant
    origin: datetime | None  # the last hour with a value
    model: list[ForecastPoint]
    persistence: list[ForecastPoint]
    backtest: ForecastEvaluation


@dataclass(frozen=True)
class AreaAirQuality:
    """A district's or the city's index: that of its worst station."""

    name: str
    stations: int
    us_index: int | None
    us_category: str | None
    worst_station: str | None
    eaqi_level: int | None


def _severity(index: int) -> Severity:
    if index > 200:
        return Severity.CRITICAL
    if index > 150:
        return Severity.HIGH
    return Severity.MEDIUM


def station_indices(
    hourly: dict[Pollutant, list[float | None]],
) -> tuple[IndexResult, IndexResult, dict[Pollutant, dict[int, tuple[QcFlag, ...]]]]:
    """US AQI and EAQI from 24 hourly means per pollutant (µg/m³, oldest first), after quality control."""
    clean: dict[Pollutant, list[float | None]] = {}
    flagged: dict[Pollutant, dict[int, tuple[QcFlag, ...]]] = {}
    for pollutant, values in hourly.items():
        checked = screen_series(values, pollutant_spec(pollutant), HOURLY_QC)
        clean[pollutant] = [c.value if c.usable else None for c in checked]
        flags = {n: c.flags for n, c in enumerate(checked) if c.flags}
        if flags:
            flagged[pollutant] = flags
    us_inputs: list[Concentration] = []
    for pollutant in (Pollutant.PM25, Pollutant.PM10):
        series = clean.get(pollutant)
        if series:
            estimate = nowcast_pm(list(reversed(series))[:12], pollutant)
            if estimate.valid:
                us_inputs.append(estimate.as_concentration())
    o3 = clean.get(Pollutant.O3)
    if o3:
        eight_hours = mean_if_complete(o3[-8:], 6)
        if eight_hours is not None:
            ppm = convert(eight_hours, Pollutant.O3, Unit.UG_M3, Unit.PPM)
            us_inputs.append(Concentration(Pollutant.O3, Averaging.HOUR_8, ppm, Unit.PPM))
    no2 = clean.get(Pollutant.NO2)
    if no2 and no2[-1] is not None:
        ppb = convert(no2[-1], Pollutant.NO2, Unit.UG_M3, Unit.PPB)
        us_inputs.append(Concentration(Pollutant.NO2, Averaging.HOUR_1, ppb, Unit.PPB))
    # The stations report µg/m³, the EAQI's own unit: the last hourly means go in as they are.
    eaqi_inputs = [
        Concentration(pollutant, Averaging.HOUR_1, series[-1], Unit.UG_M3)
        for pollutant, series in clean.items()
        if series and series[-1] is not None
    ]
    return us_aqi(us_inputs), eaqi_index(eaqi_inputs, EAQI_2024), flagged


def worst(name: str, stations: Sequence[StationAirQuality]) -> AreaAirQuality:
    """An area's figure: its worst station by the US AQI (the EAQI level likewise)."""
    rated = [s for s in stations if s.us.index is not None]
    top = max(rated, key=lambda s: (s.us.index or 0, s.id), default=None)
    levels = [s.eaqi.index for s in stations if s.eaqi.index is not None]
    return AreaAirQuality(
        name=name,
        stations=len(stations),
        us_index=None if top is None else top.us.index,
        us_category=None if top is None else top.us.category,
        worst_station=None if top is None else top.id,
        eaqi_level=max(levels) if levels else None,
    )


class AirQualityService:
    """Indices, area figures and alerts for every tenant."""

    def __init__(
        self,
        context: ContextService,
        expand: Any,
        temporal: TemporalService,
        operations: OperationsService | None,
        *,
        clock: Clock | None = None,
        alert_rule: ThresholdRule = DEFAULT_ALERT,
    ) -> None:
        """``alert_rule`` applies to each station's US AQI."""
        self.context = context
        self.temporal = temporal
        self.operations = operations
        self.clock = clock or SystemClock()
        self.alert_rule = alert_rule
        self.station_type = expand("AirQualityObserved")
        self.name = expand("name")
        self.area = expand("areaServed")
        self.location = expand("location")
        self.index_attr = expand("airQualityIndex")
        self.pollutants = {p: expand(p.value) for p in MEASURED}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.station_type})

    def stations(self, tenant: str, at: datetime | None = None) -> list[StationAirQuality]:
        """Every station's indices over the 24 complete hours before ``at``."""
        moment = at or self.clock.now()
        entities = self.context.entities_of_type(tenant, self.station_type)
        if not entities:
            return []
        end_us = int(moment.timestamp() * 1_000_000) // HOUR_US * HOUR_US
        start_us = end_us - 24 * HOUR_US
        request = TemporalRequest(
            temporal=TemporalQuery(timerel="between", time_at=start_us, end_time_at=end_us),
            attrs=frozenset(self.pollutants.values()),
            aggregation=Aggregation(("avg",), HOUR_US),
        )
        by_iri = {iri: p for p, iri in self.pollutants.items()}
        answer = self.temporal.history_of(tenant, entities, request)
        out = []
        for found in answer.entities:
            hourly: dict[Pollutant, list[float | None]] = {}
            for series in found.series:
                pollutant = by_iri.get(series.attr_iri)
                if pollutant is None or series.dataset_id:
                    continue
                slots: list[float | None] = [None] * 24
                for mean, period_start, _ in series.aggregates.get("avg", []):
                    position = (period_start - start_us) // HOUR_US
                    if 0 <= position < 24 and isinstance(mean, int | float):
                        slots[position] = float(mean)
                hourly[pollutant] = slots
            us, eaqi, flagged = station_indices(hourly)
            entity = found.entity
            out.append(
                StationAirQuality(
                    id=entity["id"],
                    name=default_value(entity, self.name) or entity["id"],
                    district=default_value(entity, self.area),
                    location=default_value(entity, self.location),
                    us=us,
                    eaqi=eaqi,
                    hourly=hourly,
                    flagged=flagged,
                )
            )
        out.sort(key=lambda s: s.id)
        return out

    def forecast(
        self, tenant: str, station_id: str, pollutant: Pollutant = Pollutant.PM25, at: datetime | None = None
    ) -> StationForecast:
        """The next 24 hourly means of ``pollutant`` at a station, with the backtest against persistence.

        Fitted on the station's last 21 days of hourly means: the diurnal profile of the last 14
        days plus today's deviation, fading hour by hour; the backtest rolls the origin over the
        same history and scores both forecasts on what followed.
        """
        moment = at or self.clock.now()
        entity = self.context.get_entity(tenant, station_id)
        end_us = int(moment.timestamp() * 1_000_000) // HOUR_US * HOUR_US
        start_us = end_us - FORECAST_HISTORY_HOURS * HOUR_US
        request = TemporalRequest(
            temporal=TemporalQuery(timerel="between", time_at=start_us, end_time_at=end_us),
            attrs=frozenset({self.pollutants[pollutant]}),
            aggregation=Aggregation(("avg",), HOUR_US),
        )
        means: dict[int, float] = {}
        for found in self.temporal.history_of(tenant, [entity], request).entities:
            for series in found.series:
                if not series.dataset_id:
                    means.update(
                        (start, float(mean))
                        for mean, start, _ in series.aggregates.get("avg", [])
                        if isinstance(mean, int | float)
                    )
        first = min(means, default=end_us)
        hourly = [(datetime.fromtimestamp(slot / 1e6, UTC), means.get(slot)) for slot in range(first, end_us, HOUR_US)]
        while hourly and hourly[-1][1] is None:  # forecast from the last hour that has a value
            hourly.pop()
        if not hourly:
            return StationForecast(station_id, pollutant, None, [], [], ForecastEvaluation(None, None, 0, 0))
        return StationForecast(
            station_id,
            pollutant,
            hourly[-1][0],
            forecast_next_hours(hourly),
            persistence_forecast(hourly),
            evaluate_forecast(hourly),
        )

    def areas(self, stations: Sequence[StationAirQuality]) -> tuple[AreaAirQuality, list[AreaAirQuality]]:
        """The city's figure and each district's."""
        districts: dict[str, list[StationAirQuality]] = {}
        for station in stations:
            districts.setdefault(station.district or "(none)", []).append(station)
        return worst("city", stations), [worst(name, group) for name, group in sorted(districts.items())]

    # -- the periodic evaluation -----------------------------------------------------------

    def evaluate(self, now: datetime) -> int:
        """Write each station's index onto its entity and raise or clear alerts, in every tenant."""
        written = 0
        for tenant in self.context.tenants():
            written += self.evaluate_tenant(tenant, now)
        return written

    def evaluate_tenant(self, tenant: str, now: datetime) -> int:
        """One tenant's evaluation: how many station entities were updated."""
        stations = self.stations(tenant, now)
        if not stations:
            return 0
        observed = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        documents = []
        for station in stations:
            if station.us.index is None:
                continue
            documents.append(
                {
                    "id": station.id,
                    "type": "AirQualityObserved",
                    "airQualityIndex": {"type": "Property", "value": station.us.index, "observedAt": observed},
                    "airQualityLevel": {"type": "Property", "value": station.us.category, "observedAt": observed},
                }
            )
        if documents:
            result = self.context.update_documents(tenant, documents)
            for entity_id, error in result.errors:
                log.warning("air quality: index of %s not written: %s", entity_id, error.detail)
        self._alerts(tenant, stations, now)
        return len(documents)

    def _alerts(self, tenant: str, stations: Sequence[StationAirQuality], now: datetime) -> None:
        if self.operations is None:
            return
        # The alert state lives in the operations tables, so any process can take over.
        active = {alarm.source for alarm in self.operations.active_alarms(tenant, "air_quality", [ALERT_KIND])}
        for station in stations:
            index = station.us.index
            was = AlertState(active=station.id in active, since=now if station.id in active else None)
            decision = evaluate_threshold(was, None if index is None else float(index), self.alert_rule, now)
            if decision.change is AlertChange.CLEARED:
                self.operations.recover(tenant, "air_quality", ALERT_KIND, station.id, now)
            elif decision.change is AlertChange.RAISED and index is not None:
                pollutant = station.us.responsible_pollutant
                self.operations.report(
                    AlarmReport(
                        tenant=tenant,
                        solution="air_quality",
                        kind=ALERT_KIND,
                        source=station.id,
                        severity=_severity(index),
                        description=(
                            f"US AQI {index} ({station.us.category}) at {station.name}"
                            + (f", driven by {pollutant.value}" if pollutant is not None else "")
                        ),
                        at=now,
                        location=station.location,
                    )
                )
