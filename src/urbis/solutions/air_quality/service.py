"""The air-quality service: indices per station, district and city from the stations' history, and alerts.

For every ``AirQualityObserved`` station it reads the last 24 hourly means of each pollutant
(the temporal API's roll-ups), screens them (range, stuck value, spike: flagged hours are kept
in the answer but left out of every index), and computes

* the **US AQI 2024**: PM2.5 and PM10 by NowCast over the last 12 hours, O3 as the 8-hour
  mean of the last 8 hours (6 valid needed), NO2 as the last hourly mean; gases converted from
  µg/m³ at 25 °C;
* the **European AQI 2024** from the last hourly means (its bands are in µg/m³, as reported).

Low-cost PM sensors may report their two laser channels as two instances of ``pm25``/``pm10``
(datasetIds :data:`CHANNEL_A_DATASET` and :data:`CHANNEL_B_DATASET`): each hour is then their
mean, flagged when they disagree.  A station whose ``sensorGrade`` is ``low-cost`` and that
reports ``relativeHumidity`` has its PM2.5 corrected for humidity (Barkjohn 2021) before any
index; hours without a humidity are flagged.

A district's and the city's index is that of their worst station (the figure residents need:
where it is bad, not the average).

Over a window of days (at most :data:`MAX_WINDOW_DAYS`) the service gives each station's daily
values on the city's calendar (24-h means of local days, 75 % of the hours needed; O3 as the
daily maximum 8-h mean) and the WHO 2021 figures: days above the short-term guideline and, over
a whole year, the annual mean; per district and for the city, the worst station's figure and
how many stations do not comply.  Each evaluation writes ``airQualityIndex`` (US AQI) and
``airQualityLevel`` onto the station's entity, and raises an alarm when a station's AQI reaches
the alert threshold (cleared below it minus the hysteresis), which the operations mirror
publishes as an NGSI-LD ``Alert`` entity: subscribers to ``Alert`` get it like any other change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from urbis.context.model import default_value
from urbis.context.service import ContextService
from urbis.context.temporal import Aggregation, TemporalQuery, TemporalRequest, TemporalService
from urbis.core.clock import Clock, SystemClock
from urbis.core.errors import BadRequestData
from urbis.operations.model import AlarmReport, Severity
from urbis.operations.service import OperationsService
from urbis.solutions.air_quality.const import (
    CHANNEL_A_DATASET,
    CHANNEL_B_DATASET,
    DEFAULT_TIMEZONE,
    RELATIVE_HUMIDITY,
    SENSOR_GRADE,
    Averaging,
    Pollutant,
    QualityControlParams,
    SensorGrade,
    Unit,
    pollutant_spec,
)
from urbis.solutions.air_quality.model import (
    BARKJOHN_2021_US,
    AlertChange,
    AlertState,
    CheckedValue,
    Concentration,
    DailyValue,
    ForecastEvaluation,
    ForecastPoint,
    IndexResult,
    PreparedHour,
    QcFlag,
    ThresholdRule,
    WhoAreaFigure,
    WhoSummary,
    daily_values,
    eaqi_index,
    evaluate_forecast,
    evaluate_threshold,
    forecast_next_hours,
    local_day_start,
    mean_if_complete,
    nowcast_pm,
    o3_day_start,
    persistence_forecast,
    prepare_pm_hours,
    screen_series,
    us_aqi,
    who_area,
    who_summary,
)
from urbis.solutions.air_quality.scales import EAQI_2024
from urbis.solutions.air_quality.units import convert

log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000
#: The pollutants the stations report (NGSI-LD attribute names of AirQualityObserved).
MEASURED = (Pollutant.PM25, Pollutant.PM10, Pollutant.NO2, Pollutant.O3)
#: The pollutants a PM sensor may report as two laser channels.
CHANNELLED = (Pollutant.PM25, Pollutant.PM10)
ALERT_KIND = "aqiThresholdExceeded"
#: Hours of history a forecast learns from (14 days of profile and a week of backtest before them).
FORECAST_HISTORY_HOURS = 21 * 24
#: Quality control of hourly means: a spike must also stand 10 µg/m³ clear of its neighbours'
#: median, else a quiet, smooth series flags its own small wiggles (the Hampel filter's MAD is tiny).
HOURLY_QC = QualityControlParams(spike_min_deviation=10.0)
#: Alert at a US AQI of 101 (unhealthy for sensitive groups); clear below 91.
DEFAULT_ALERT = ThresholdRule(threshold=101, hysteresis=10)
#: The longest window of days one daily or WHO request covers (a leap year).
MAX_WINDOW_DAYS = 366
#: Hourly buckets one history read may hold (stations × series × hours): long windows are read
#: a few stations at a time so that a year of a whole city never sits in memory at once.
READ_BUDGET = 200_000
#: Series a station can have per read: pm25 and pm10 as channels A and B, no2, o3, humidity.
SERIES_PER_STATION = 7
#: The datasetId of each laser channel.
CHANNELS = {CHANNEL_A_DATASET: "a", CHANNEL_B_DATASET: "b"}


@dataclass(frozen=True)
class PmInputs:
    """How a PM series reached the indices: from A/B channels or one value, corrected or not, hour by hour."""

    channels: bool
    correction: str | None  # the correction's id when one applied (e.g. epa-barkjohn-2021-us-wide)
    hours: list[PreparedHour]


@dataclass(frozen=True)
class StationAirQuality:
    """One station's indices and the hourly means behind them (oldest first, None where missing).

    ``hourly`` holds the values quality control judged: channel means and humidity-corrected
    PM2.5 where those apply (``inputs`` says how each PM series was made).
    """

    id: str
    name: str
    district: str | None
    location: dict[str, Any] | None
    us: IndexResult
    eaqi: IndexResult
    hourly: dict[Pollutant, list[float | None]]
    flagged: dict[Pollutant, dict[int, tuple[QcFlag, ...]]] = field(default_factory=dict)  # hour position -> flags
    # Only the PM series made from channels or corrected for humidity.
    inputs: dict[Pollutant, PmInputs] = field(default_factory=dict)
    sensor_grade: str | None = None
    stored: tuple[Any, Any] = (None, None)  # the airQualityIndex and airQualityLevel the entity holds now


@dataclass(frozen=True)
class StationDaily:
    """A station's daily values per pollutant over a window of local days, and its WHO figures."""

    station_id: str
    first: date
    last: date
    timezone: str
    days: dict[Pollutant, list[DailyValue]]
    who: dict[Pollutant, WhoSummary]


@dataclass(frozen=True)
class StationWho:
    """One station's WHO figures over a window."""

    id: str
    name: str
    district: str | None
    who: dict[Pollutant, WhoSummary]


@dataclass(frozen=True)
class AreaWho:
    """A district's or the city's WHO figures: per pollutant, the worst station's."""

    name: str
    stations: int
    figures: dict[Pollutant, WhoAreaFigure]


@dataclass(frozen=True)
class WhoReport:
    """WHO 2021 figures over a window for every station, district and the city."""

    first: date
    last: date
    timezone: str
    stations: list[StationWho]
    districts: list[AreaWho]
    city: AreaWho


@dataclass
class _Hourly:
    """One station's hourly means as read: per pollutant and datasetId ('' default, 'a', 'b'), and humidity."""

    entity: dict[str, Any]
    series: dict[tuple[Pollutant, str], list[float | None]] = field(default_factory=dict)
    humidity: list[float | None] | None = None


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
    return indices_of_checked(
        {pollutant: screen_series(values, pollutant_spec(pollutant), HOURLY_QC) for pollutant, values in hourly.items()}
    )


def prepare_station(
    series: dict[tuple[Pollutant, str], list[float | None]],
    humidity_percent: list[float | None] | None,
    pollutants: Sequence[Pollutant] = (Pollutant.PM25, Pollutant.PM10, Pollutant.NO2, Pollutant.O3),
) -> tuple[dict[Pollutant, list[CheckedValue]], dict[Pollutant, PmInputs]]:
    """A station's hourly means made ready for its figures: channels combined, PM2.5 corrected, all screened.

    ``series`` maps (pollutant, channel) to hourly means, the channel ``""`` for a single value,
    ``"a"``/``"b"`` for the laser channels.  ``humidity_percent`` is given for a low-cost
    station that reports humidity: its PM2.5 is then corrected.  Returns the screened series
    and, for each PM series made from channels or corrected, how it was made.
    """
    checked: dict[Pollutant, list[CheckedValue]] = {}
    inputs: dict[Pollutant, PmInputs] = {}
    for pollutant in pollutants:
        single, a, b = (series.get((pollutant, channel)) for channel in ("", "a", "b"))
        humidity = humidity_percent if pollutant == Pollutant.PM25 else None
        spec = pollutant_spec(pollutant)
        if a is None and b is None and (humidity is None or single is None):
            if single is not None:
                checked[pollutant] = screen_series(single, spec, HOURLY_QC)
            continue
        prepared = prepare_pm_hours(
            single=single if a is None and b is None else None, channel_a=a, channel_b=b, humidity_percent=humidity
        )
        checked[pollutant] = screen_series(
            [hour.value for hour in prepared], spec, HOURLY_QC, prior_flags=[hour.flags for hour in prepared]
        )
        inputs[pollutant] = PmInputs(a is not None or b is not None, BARKJOHN_2021_US if humidity else None, prepared)
    return checked, inputs


def indices_of_checked(
    checked: dict[Pollutant, list[CheckedValue]],
) -> tuple[IndexResult, IndexResult, dict[Pollutant, dict[int, tuple[QcFlag, ...]]]]:
    """US AQI and EAQI from 24 screened hourly means per pollutant (µg/m³, oldest first); flagged hours left out."""
    clean: dict[Pollutant, list[float | None]] = {}
    flagged: dict[Pollutant, dict[int, tuple[QcFlag, ...]]] = {}
    for pollutant, screened in checked.items():
        clean[pollutant] = [c.value if c.usable else None for c in screened]
        flags = {n: c.flags for n, c in enumerate(screened) if c.flags}
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


def _who_area(name: str, stations: Sequence[StationWho]) -> AreaWho:
    """An area's WHO figures per pollutant from its stations' (the worst station's, and the counts)."""
    figures = {
        pollutant: who_area(pollutant, [(s.id, s.who[pollutant]) for s in stations if pollutant in s.who])
        for pollutant in MEASURED
        if any(pollutant in s.who for s in stations)
    }
    return AreaWho(name, len(stations), figures)


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
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        """``alert_rule`` applies to each station's US AQI; ``timezone`` (IANA) sets the local days."""
        self.context = context
        self.temporal = temporal
        self.operations = operations
        self.clock = clock or SystemClock()
        self.alert_rule = alert_rule
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.station_type = expand("AirQualityObserved")
        self.name = expand("name")
        self.area = expand("areaServed")
        self.location = expand("location")
        self.index_attr = expand("airQualityIndex")
        self.level_attr = expand("airQualityLevel")
        self.grade = expand(SENSOR_GRADE)
        self.humidity = expand(RELATIVE_HUMIDITY)
        self.pollutants = {p: expand(p.value) for p in MEASURED}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.station_type})

    # -- reading hourly means ----------------------------------------------------------------

    def _low_cost(self, entity: dict[str, Any]) -> bool:
        return bool(default_value(entity, self.grade) == SensorGrade.LOW_COST.value)

    def _read_hourly(self, tenant: str, entities: Sequence[dict[str, Any]], start_us: int, hours: int) -> list[_Hourly]:
        """Hourly means of every measured pollutant (and humidity of low-cost stations) on ``hours`` hours from ``start_us``.

        One aggregated history read for all the stations (and one more for the humidity of the
        low-cost ones, so reference stations' humidity is never read).
        """
        out = [_Hourly(entity) for entity in entities]
        if not entities or hours <= 0:
            return out
        by_iri = {iri: p for p, iri in self.pollutants.items()}
        by_id = {item.entity["id"]: item for item in out}

        def read(
            selected: Sequence[dict[str, Any]], attrs: frozenset[str]
        ) -> Iterator[tuple[_Hourly, str, str, list[float | None]]]:
            for series in self.temporal.hourly_means(tenant, selected, attrs, start_us, hours):
                yield by_id[series.entity_id], series.attr_iri, series.dataset_id, series.means

        def key(iri: str, dataset_id: str) -> tuple[Pollutant, str] | None:
            channel = "" if not dataset_id else CHANNELS.get(dataset_id)
            pollutant = by_iri.get(iri)
            if pollutant is None or channel is None or (channel and pollutant not in CHANNELLED):
                return None
            return pollutant, channel

        for item, iri, dataset_id, slots in read(entities, frozenset(self.pollutants.values())):
            found = key(iri, dataset_id)
            if found is not None:
                item.series[found] = slots
        for item in out:
            # A pollutant the station measures but that has no data in the window is still
            # reported (its hours missing, its days incomplete), not dropped.
            for iri in self.pollutants.values():
                for instance in item.entity["attrs"].get(iri, ()):
                    missing = key(iri, instance.get("datasetId") or "")
                    if missing is not None and missing not in item.series:
                        item.series[missing] = [None] * hours
        low_cost = [entity for entity in entities if self._low_cost(entity)]
        if low_cost:
            for item, _, dataset_id, slots in read(low_cost, frozenset({self.humidity})):
                if not dataset_id:
                    # Smart Data Models give relative humidity as a fraction 0..1; the correction takes %.
                    item.humidity = [None if value is None else value * 100.0 for value in slots]
            for item in out:
                # A hygrometer that was silent in the window leaves every hour uncorrectable (flagged),
                # not silently uncorrected.
                if item.humidity is None and self._low_cost(item.entity) and self.humidity in item.entity["attrs"]:
                    item.humidity = [None] * hours
        return out

    def _prepare(self, hourly: _Hourly) -> tuple[dict[Pollutant, list[CheckedValue]], dict[Pollutant, PmInputs]]:
        humidity = hourly.humidity if self._low_cost(hourly.entity) else None
        return prepare_station(hourly.series, humidity, MEASURED)

    # -- the last 24 hours ---------------------------------------------------------------------

    def stations(self, tenant: str, at: datetime | None = None) -> list[StationAirQuality]:
        """Every station's indices over the 24 complete hours before ``at``."""
        moment = at or self.clock.now()
        entities = self.context.entities_of_type(tenant, self.station_type)
        if not entities:
            return []
        end_us = int(moment.timestamp() * 1_000_000) // HOUR_US * HOUR_US
        out = []
        for hourly in self._read_hourly(tenant, entities, end_us - 24 * HOUR_US, 24):
            checked, inputs = self._prepare(hourly)
            us, eaqi, flagged = indices_of_checked(checked)
            entity = hourly.entity
            out.append(
                StationAirQuality(
                    id=entity["id"],
                    name=default_value(entity, self.name) or entity["id"],
                    district=default_value(entity, self.area),
                    location=default_value(entity, self.location),
                    us=us,
                    eaqi=eaqi,
                    hourly={p: [c.value for c in series] for p, series in checked.items()},
                    flagged=flagged,
                    inputs=inputs,
                    sensor_grade=default_value(entity, self.grade),
                    stored=(default_value(entity, self.index_attr), default_value(entity, self.level_attr)),
                )
            )
        out.sort(key=lambda s: s.id)
        return out

    # -- daily values and WHO figures over a window of days ---------------------------------------

    def today(self, at: datetime | None = None) -> date:
        """The local date in the city."""
        return (at or self.clock.now()).astimezone(self.tz).date()

    def window(self, first: date | None, last: date | None, at: datetime | None = None) -> tuple[date, date]:
        """The days a request covers: ``first``..``last`` (default this calendar year so far), ended at today.

        Raises ``BadRequestData`` for a window that runs backwards, starts after today or is
        longer than :data:`MAX_WINDOW_DAYS` days.
        """
        today = self.today(at)
        end = last or today
        start = first or date(min(end, today).year, 1, 1)
        if start > today:
            raise BadRequestData(f"'from' ({start}) is after today ({today}): there is nothing to report yet")
        if end < start:
            raise BadRequestData(f"'to' ({end}) comes before 'from' ({start})")
        if (end - start).days + 1 > MAX_WINDOW_DAYS:
            raise BadRequestData(f"a window is at most {MAX_WINDOW_DAYS} days; ask for several")
        return start, min(end, today)

    def _daily(
        self, tenant: str, entities: Sequence[dict[str, Any]], first: date, last: date, moment: datetime
    ) -> Iterator[tuple[dict[str, Any], dict[Pollutant, list[DailyValue]]]]:
        """Each station's daily values per pollutant, read a few stations at a time."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        origin = local_day_start(first, self.tz)
        # The O3 day of the last date runs to 07:00 standard time the next morning.
        end = max(local_day_start(last + timedelta(days=1), self.tz), o3_day_start(last, self.tz) + timedelta(hours=24))
        until = datetime.fromtimestamp(int(moment.timestamp()) // 3600 * 3600, UTC)  # hours before it have ended
        origin_us = int(origin.timestamp()) * 1_000_000
        hours = max(0, (int(min(end, until).timestamp()) * 1_000_000 - origin_us) // HOUR_US)
        group = max(1, READ_BUDGET // (SERIES_PER_STATION * max(hours, 1)))
        for offset in range(0, len(entities), group):
            for hourly in self._read_hourly(tenant, entities[offset : offset + group], origin_us, hours):
                checked, _ = self._prepare(hourly)
                yield (
                    hourly.entity,
                    {
                        pollutant: daily_values(pollutant, origin, series, days, self.tz, until=until)
                        for pollutant, series in checked.items()
                    },
                )

    def daily(
        self,
        tenant: str,
        station_id: str,
        first: date | None = None,
        last: date | None = None,
        at: datetime | None = None,
    ) -> StationDaily:
        """A station's daily values and WHO figures over ``first``..``last`` (see :meth:`window`)."""
        moment = at or self.clock.now()
        start, end = self.window(first, last, moment)
        entity = self.context.get_entity(tenant, station_id)
        days: dict[Pollutant, list[DailyValue]] = {}
        for _, found in self._daily(tenant, [entity], start, end, moment):
            days = found
        return StationDaily(
            station_id,
            start,
            end,
            self.timezone,
            days,
            {pollutant: who_summary(pollutant, values) for pollutant, values in days.items()},
        )

    def who(
        self, tenant: str, first: date | None = None, last: date | None = None, at: datetime | None = None
    ) -> WhoReport:
        """WHO 2021 figures of every station, district and the city over ``first``..``last`` (see :meth:`window`)."""
        moment = at or self.clock.now()
        start, end = self.window(first, last, moment)
        entities = self.context.entities_of_type(tenant, self.station_type)
        stations = [
            StationWho(
                entity["id"],
                default_value(entity, self.name) or entity["id"],
                default_value(entity, self.area),
                {pollutant: who_summary(pollutant, values) for pollutant, values in days.items()},
            )
            for entity, days in self._daily(tenant, entities, start, end, moment)
        ]
        stations.sort(key=lambda station: station.id)
        districts: dict[str, list[StationWho]] = {}
        for station in stations:
            districts.setdefault(station.district or "(none)", []).append(station)
        return WhoReport(
            start,
            end,
            self.timezone,
            stations,
            [_who_area(name, group) for name, group in sorted(districts.items())],
            _who_area("city", stations),
        )

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
        """One tenant's evaluation: how many station entities were updated (those whose index changed)."""
        stations = self.stations(tenant, now)
        if not stations:
            return 0
        observed = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        documents = []
        for station in stations:
            # Evaluations run every few seconds while the hourly means change once an hour: writing
            # an unchanged index would only fill the history and wake subscribers for nothing.
            if station.us.index is None or station.stored == (station.us.index, station.us.category):
                continue
            documents.append(
                {
                    "id": station.id,
                    "type": "AirQualityObserved",
                    "airQualityIndex": {"type": "Property", "value": station.us.index, "observedAt": observed},
                    "airQualityLevel": {"type": "Property", "value": station.us.category, "observedAt": observed},
                }
            )
        written = 0
        if documents:
            result = self.context.update_documents(tenant, documents)
            for entity_id, error in result.errors:
                log.warning("air quality: index of %s not written: %s", entity_id, error.detail)
            written = len(result.success)
        self._alerts(tenant, stations, now)
        return written

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
