"""The city map: GeoJSON layers of districts, streets, lamps, stations, parking and alarms, and object details.

Everything is asked of the services (the context broker for districts and streets, the solutions
for their figures, operations for the alarms), never read from tables, and the whole map costs a
fixed handful of reads however many lamps the city has: one for all the lamps, one listing of the
active alarms, the parking overview, the stations' last 24 hours.

Districts are the ``AdministrativeArea`` entities that contain no other area (boroughs made of
districts would cover their districts twice).  An object belongs to the district its
``areaServed`` names (by the area's name or id, as the solutions report it) and, when that names
none, to the district its position lies in.  Each district feature carries the figures a
choropleth colours it by (:data:`CHOROPLETH_KPIS`): the US AQI of its worst station, the parking
occupancy of its zones and garages (counted as ``parking.overview().districts`` counts them), the
share of its street lights working (not concerned by an alarm) and how many alarms are active in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from urbis.citizens.model import Report, Stage
from urbis.citizens.places import leaf_areas
from urbis.citizens.service import ReportService, report_entity_id
from urbis.citizens.store import ReportFilter
from urbis.context.model import default_value
from urbis.context.query.geo import representative_point
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.clock import Clock, SystemClock
from urbis.core.errors import BadRequestData, NotFound
from urbis.dashboard.overview import aqi_band
from urbis.operations.model import Alarm, TicketState
from urbis.operations.service import OperationsService, alarm_entity_id
from urbis.operations.store import TicketFilter
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.model import CheckedValue
from urbis.solutions.air_quality.service import (
    AirQualityService,
    StationAirQuality,
    indices_of_checked,
    worst,
)
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import LampState, lamp_state, lamp_view
from urbis.solutions.lighting.views import Terms as LightingTerms
from urbis.solutions.parking.occupancy import EMPTY, Occupancy
from urbis.solutions.parking.service import ParkingService
from urbis.solutions.parking.views import ParkingOverview, PlaceView

Entity = dict[str, Any]
FeatureCollection = dict[str, Any]

#: The map's layers in the order the page lists them.
LAYERS = ("districts", "streets", "lights", "air", "parking", "alarms", "reports")
#: The district figures a choropleth can colour by (properties of each district feature).
CHOROPLETH_KPIS = ("usAqi", "parkingOccupancy", "lightsWorking", "openAlarms")
#: Kinds of object a detail can be about.
KINDS = ("lamp", "station", "zone", "garage", "group", "bay", "district", "street", "alarm", "report", "other")
#: Most open reports drawn (the newest); the console lists them all.
MAX_MAP_REPORTS = 2000
#: Hours of history a detail charts: the complete hours before now, as the air-quality indices use.
HISTORY_HOURS = 24
HOUR = timedelta(hours=1)
ACTIVE = (TicketState.OPEN, TicketState.ACKNOWLEDGED)
#: Alarms read per listing page.
ALARM_PAGE = 1000
ALERT_PREFIX = "urn:ngsi-ld:Alert:"
#: The measured pollutants a station's detail shows the latest hourly mean of.
STATION_POLLUTANTS = (Pollutant.PM25, Pollutant.PM10, Pollutant.NO2, Pollutant.O3)


def feature(feature_id: str, geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature (RFC 7946) whose id is the object's entity id."""
    return {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": {"id": feature_id, **properties}}


def collection(features: Iterable[dict[str, Any]]) -> FeatureCollection:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(features)}


def point_geometry(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON Point."""
    return {"type": "Point", "coordinates": [lon, lat]}


def local_name(entity_id: str) -> str:
    """The last part of a URN, for objects without a name (``urn:ngsi-ld:Streetlight:l1`` -> ``l1``)."""
    return entity_id.rsplit(":", 1)[-1]


def type_name(iri: str) -> str:
    """The short name of an expanded type IRI."""
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def alarm_summary(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the map and its detail panel show it."""
    return {
        "id": alarm.id,
        "entityId": alarm_entity_id(alarm.id),
        "solution": alarm.solution,
        "kind": alarm.kind,
        "severity": alarm.severity.value,
        "state": alarm.state.value,
        "description": alarm.description,
        "source": alarm.source,
        "openedAt": alarm.opened_at,
        "acknowledgedBy": alarm.acknowledged_by,
        "assignee": alarm.assignee,
        "occurrences": alarm.occurrences,
    }


def _by_severity(alarms: Iterable[Alarm]) -> list[Alarm]:
    """Most severe first, then newest first."""
    return sorted(alarms, key=lambda a: (-a.severity.rank, -a.opened_at.timestamp(), a.id))


# -- the read models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CityMap:
    """Every layer of the map as a GeoJSON FeatureCollection."""

    tenant: str
    at: datetime
    districts: FeatureCollection
    streets: FeatureCollection
    lights: FeatureCollection
    air: FeatureCollection
    parking: FeatureCollection
    alarms: FeatureCollection
    reports: FeatureCollection = field(default_factory=lambda: collection(()))

    def layers(self) -> dict[str, FeatureCollection]:
        """The layers by name, in :data:`LAYERS` order."""
        return {name: getattr(self, name) for name in LAYERS}

    def to_json(self, only: Iterable[str] | None = None) -> dict[str, Any]:
        """The JSON twin's shape (with only the layers named in ``only`` when given)."""
        wanted = set(LAYERS if only is None else only)
        layers = {name: fc for name, fc in self.layers().items() if name in wanted}
        return {"tenant": self.tenant, "at": self.at, "kpis": list(CHOROPLETH_KPIS), "layers": layers}


@dataclass(frozen=True)
class HistorySeries:
    """One charted series: a value per hour (None where nothing is known)."""

    key: str  # level, power, pm25, aqi, occupancy
    unit: str  # "%", "W", "µg/m³" or "" (an index)
    values: list[float | None]


@dataclass(frozen=True)
class History:
    """The hourly history of an object over the last :data:`HISTORY_HOURS` complete hours."""

    start: datetime
    times: list[datetime]  # the start of each hour
    series: list[HistorySeries]

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        return {
            "start": self.start,
            "period": "PT1H",
            "times": self.times,
            "series": [{"key": s.key, "unit": s.unit, "values": s.values} for s in self.series],
        }


@dataclass(frozen=True)
class ObjectDetail:
    """What the map shows of one object: what it is, its values now, its active alarms and its recent history."""

    id: str
    kind: str  # one of KINDS
    type: str  # the entity type's short name
    name: str
    district: str | None
    at: datetime
    values: dict[str, Any]
    alarms: list[Alarm]
    history: History | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "name": self.name,
            "district": self.district,
            "at": self.at,
            "values": self.values,
            "alarms": [alarm_summary(a) for a in self.alarms],
            "history": None if self.history is None else self.history.to_json(),
        }


# -- districts and who belongs to them -------------------------------------------------------------


@dataclass(frozen=True)
class District:
    """A district of the map: its id, name and boundary."""

    id: str
    name: str
    geometry: dict[str, Any]
    shape: BaseGeometry | None


class DistrictIndex:
    """The city's districts, and which one an ``areaServed`` value or a position belongs to."""

    def __init__(self, districts: Sequence[District]):
        self.items = list(districts)
        self.by_key: dict[str, str] = {}
        for district in self.items:
            self.by_key.setdefault(district.name, district.id)
        for district in self.items:
            self.by_key[district.id] = district.id  # an id beats a name that happens to equal it
        located = [d for d in self.items if d.shape is not None]
        self._ids = [d.id for d in located]
        self._tree = shapely.STRtree([d.shape for d in located]) if located else None

    def locate(self, positions: Sequence[tuple[float, float] | None]) -> list[str | None]:
        """The district covering each position (None outside every district), in one vectorised query."""
        out: list[str | None] = [None] * len(positions)
        if self._tree is None:
            return out
        wanted = [(n, p) for n, p in enumerate(positions) if p is not None]
        if not wanted:
            return out
        points = shapely.points([p for _, p in wanted])
        hits = self._tree.query(points, predicate="intersects")
        for point_index, tree_index in zip(hits[0], hits[1], strict=True):
            slot = wanted[int(point_index)][0]
            if out[slot] is None:  # on a shared border the first district keeps it
                out[slot] = self._ids[int(tree_index)]
        return out

    def assign(self, items: Sequence[tuple[str | None, tuple[float, float] | None]]) -> list[str | None]:
        """:meth:`find` for many (area, position) pairs, the positions looked up together."""
        out: list[str | None] = [None if area is None else self.by_key.get(area) for area, _ in items]
        missing = [n for n, found in enumerate(out) if found is None]
        located = self.locate([items[n][1] for n in missing])
        for n, found in zip(missing, located, strict=True):
            out[n] = found
        return out


def _geometry_shape(geometry: Any) -> BaseGeometry | None:
    try:
        found = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    return found if found.is_valid and not found.is_empty else None


# -- the service ----------------------------------------------------------------------------------


class MapService:
    """The map's layers and object details of a city, from the solutions' services."""

    def __init__(
        self,
        context: ContextService,
        expand: Any,
        *,
        air_quality: AirQualityService,
        lighting: LightingService,
        parking: ParkingService,
        operations: OperationsService,
        temporal: TemporalService,
        reports: ReportService | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``expand`` turns the Urbis @context's terms into the broker's IRIs."""
        self.context = context
        self.reports = reports
        self.air_quality = air_quality
        self.lighting = lighting
        self.parking = parking
        self.operations = operations
        self.temporal = temporal
        self.clock = clock or SystemClock()
        self.lamp_terms = LightingTerms(expand)
        self.area_type = expand("AdministrativeArea")
        self.road_type = expand("Road")
        self.name = expand("name")
        self.location = expand("location")
        self.area_served = expand("areaServed")
        self.contained_in = expand("containedInPlace")
        self.road_class = expand("roadClass")
        self.length = expand("length")
        self.spot_status = expand("status")
        self.parking_site = expand("refParkingSite")
        self.kinds = {
            self.lamp_terms.streetlight: "lamp",
            air_quality.station_type: "station",
            parking.terms.on_street: "zone",
            parking.terms.off_street: "garage",
            parking.terms.group: "group",
            parking.terms.spot: "bay",
            self.area_type: "district",
            self.road_type: "street",
            expand("ServiceRequest"): "report",
        }

    # -- reading ----------------------------------------------------------------------------

    def _name(self, entity: Entity) -> str:
        return _text(default_value(entity, self.name)) or local_name(entity["id"])

    def _districts(self, tenant: str) -> DistrictIndex:
        districts = []
        for area in leaf_areas(self.context.entities_of_type(tenant, self.area_type), self.contained_in):
            geometry = default_value(area, self.location)
            if not isinstance(geometry, dict):
                continue
            districts.append(District(area["id"], self._name(area), geometry, _geometry_shape(geometry)))
        districts.sort(key=lambda d: (d.name, d.id))
        return DistrictIndex(districts)

    def active_alarms(self, tenant: str, source: str | None = None) -> list[Alarm]:
        """Every active (open or acknowledged) alarm of the city, or of one source, most severe first."""
        out: list[Alarm] = []
        offset = 0
        while True:
            wanted = TicketFilter(states=ACTIVE, source=source, limit=ALARM_PAGE, offset=offset)
            items, total = self.operations.list_alarms(tenant, wanted)
            out.extend(items)
            offset += ALARM_PAGE
            if offset >= total or not items:
                return _by_severity(out)

    # -- the map ----------------------------------------------------------------------------

    def city_map(self, tenant: str, at: datetime | None = None, *, streets: bool = True) -> CityMap:
        """Every layer of the city's map now (or at ``at``); ``streets=False`` leaves the street layer empty.

        The streets are the map's unchanging background: a page refreshing the live layers need
        not read them again.
        """
        moment = at or self.clock.now()
        districts = self._districts(tenant)
        roads = self.context.entities_of_type(tenant, self.road_type) if streets else []
        lamps = self.lighting.lamp_states(tenant)
        stations = self.air_quality.stations(tenant, moment)
        parking = self.parking.overview(tenant, moment)
        alarms = self.active_alarms(tenant)
        reports: list[Report] = []
        if self.reports is not None:
            wanted = ReportFilter(statuses=("open",), public_only=True, limit=MAX_MAP_REPORTS)
            reports, _ = self.reports.find(tenant, wanted)
        return CityMap(
            tenant=tenant,
            at=moment,
            districts=self._district_layer(districts, lamps, stations, parking, alarms),
            streets=collection(self._street_features(roads)),
            lights=collection(_lamp_features(lamps)),
            air=collection(_station_features(stations)),
            parking=collection(_place_features(parking)),
            alarms=collection(_alarm_features(alarms, _positions(lamps, stations, parking))),
            reports=collection(_report_features(reports)),
        )

    def _street_features(self, roads: Sequence[Entity]) -> Iterable[dict[str, Any]]:
        for road in sorted(roads, key=lambda r: str(r["id"])):
            geometry = default_value(road, self.location)
            if not isinstance(geometry, dict):
                continue
            yield feature(
                road["id"],
                geometry,
                {"kind": "street", "name": self._name(road), "roadClass": _text(default_value(road, self.road_class))},
            )

    def _district_layer(
        self,
        districts: DistrictIndex,
        lamps: Sequence[LampState],
        stations: Sequence[StationAirQuality],
        parking: ParkingOverview,
        alarms: Sequence[Alarm],
    ) -> FeatureCollection:
        figures, _ = district_figures(districts, lamps, stations, parking, alarms)
        return collection(
            feature(d.id, d.geometry, {"kind": "district", "name": d.name, **figures[d.id]}) for d in districts.items
        )

    # -- the detail of one object -------------------------------------------------------------

    def object_detail(self, tenant: str, entity_id: str, at: datetime | None = None) -> ObjectDetail:
        """What the map shows when an object is clicked; NotFound for an id the city does not know.

        An alarm's id (``urn:ngsi-ld:Alert:...``) shows the alarm's source, with the alarm among
        its active alarms (or the alarm alone when its source is gone).
        """
        moment = at or self.clock.now()
        alarm: Alarm | None = None
        if entity_id.startswith(ALERT_PREFIX):
            alarm = self.operations.get_alarm(tenant, entity_id.removeprefix(ALERT_PREFIX))
            entity_id = alarm.source
        try:
            entity = self.context.get_entity(tenant, entity_id)
        except (NotFound, BadRequestData):
            # A malformed id names no object either: the map says "not found" for both.
            if alarm is not None:
                return self._alarm_only(alarm, moment)
            raise NotFound(f"the map knows no object {entity_id!r:.200}") from None
        kind = next((self.kinds[t] for t in entity.get("type", ()) if t in self.kinds), "other")
        detail = ObjectDetail(
            id=entity["id"],
            kind=kind,
            type=type_name(entity["type"][0]) if entity.get("type") else "",
            name=self._name(entity),
            district=self._district_name(tenant, _text(default_value(entity, self.area_served))),
            at=moment,
            values={},
            alarms=[],
        )
        if kind == "lamp":
            return self._lamp(tenant, entity, detail)
        if kind == "station":
            return self._station(tenant, entity, detail)
        if kind in ("zone", "garage", "group", "bay"):
            return self._parking_place(tenant, entity, detail)
        if kind == "district":
            return self._district(tenant, entity, detail)
        if kind == "report" and self.reports is not None:
            return self._report(tenant, entity, detail)
        values: dict[str, Any] = {}
        if kind == "street":
            values = {
                "roadClass": _text(default_value(entity, self.road_class)),
                "length": default_value(entity, self.length),
            }
        return _with(detail, values=values, alarms=self.active_alarms(tenant, entity["id"]))

    def _report(self, tenant: str, entity: Entity, detail: ObjectDetail) -> ObjectDetail:
        assert self.reports is not None
        report = self.reports.get(tenant, str(entity["id"]).rsplit(":", 1)[-1])
        values = {
            "reportId": report.id,
            "service": report.service_name,
            "stage": report.stage.value,
            "department": report.department,
            "requestedAt": report.requested_at,
            "description": report.description,
        }
        return _with(detail, name=report.service_name, district=report.district, values=values)

    def _alarm_only(self, alarm: Alarm, moment: datetime) -> ObjectDetail:
        return ObjectDetail(
            id=alarm_entity_id(alarm.id),
            kind="alarm",
            type="Alert",
            name=alarm.description,
            district=None,
            at=moment,
            values={"source": alarm.source},
            alarms=[alarm] if alarm.state is not TicketState.CLOSED else [],
        )

    def _district_name(self, tenant: str, area: str | None) -> str | None:
        """An ``areaServed`` as readers know it: an area's id becomes its name."""
        if area is None or not area.startswith("urn:"):
            return area
        found = self.context.get_entities(tenant, [area]).get(area)
        return area if found is None else self._name(found)

    def _window(self, moment: datetime) -> tuple[datetime, list[datetime]]:
        """The start of the last :data:`HISTORY_HOURS` complete hours before ``moment``, and each hour's start."""
        utc = moment.astimezone(UTC)
        end = utc.replace(minute=0, second=0, microsecond=0)
        start = end - HISTORY_HOURS * HOUR
        return start, [start + n * HOUR for n in range(HISTORY_HOURS)]

    def _lamp(self, tenant: str, entity: Entity, detail: ObjectDetail) -> ObjectDetail:
        lamp = lamp_view(entity, self.lamp_terms)
        sources = {lamp.id, *(s for s in (lamp.group_id, lamp.cabinet_id) if s)}
        alarms = _by_severity(a for source in sorted(sources) for a in self.active_alarms(tenant, source))
        # The same rule as the lights layer: a lighting alarm on the lamp, its group or its cabinet is a fault.
        faults = tuple(a.id for a in alarms if a.solution == "lighting")
        state = lamp_state(lamp, faults)
        start, times = self._window(detail.at)
        start_us = int(start.timestamp() * 1_000_000)
        wanted = frozenset({self.lamp_terms.level, self.lamp_terms.power})
        found = {
            s.attr_iri: s.means
            for s in self.temporal.hourly_means(tenant, [entity], wanted, start_us, HISTORY_HOURS)
            if not s.dataset_id
        }
        levels = found.get(self.lamp_terms.level, [None] * HISTORY_HOURS)
        power = found.get(self.lamp_terms.power, [None] * HISTORY_HOURS)
        history = History(
            start,
            times,
            [
                HistorySeries("level", "%", [None if v is None else round(v * 100, 1) for v in levels]),
                HistorySeries("power", "W", [_rounded(v, 1) for v in power]),
            ],
        )
        values = {
            "state": state.state,
            "level": _rounded(lamp.level_fraction),
            "powerW": _rounded(lamp.power_w, 1),
            "ratedW": lamp.rated_w,
            "status": lamp.status,
            "group": lamp.group_id,
            "cabinet": lamp.cabinet_id,
            "reportedAt": lamp.reported_at,
        }
        return _with(detail, values=values, alarms=alarms, history=history)

    def _station(self, tenant: str, entity: Entity, detail: ObjectDetail) -> ObjectDetail:
        station = next((s for s in self.air_quality.stations(tenant, detail.at) if s.id == entity["id"]), None)
        alarms = self.active_alarms(tenant, entity["id"])
        if station is None:  # removed between the two reads
            return _with(detail, alarms=alarms)
        start, times = self._window(detail.at)
        pm25 = station.hourly.get(Pollutant.PM25, [None] * HISTORY_HOURS)
        history = History(
            start,
            times,
            [
                HistorySeries("pm25", "µg/m³", [_rounded(v, 1) for v in pm25]),
                HistorySeries("aqi", "", hourly_aqi(station)),
            ],
        )
        values: dict[str, Any] = {
            "usAqi": station.us.index,
            "aqiBand": aqi_band(station.us.index),
            "category": station.us.category,
            "pollutant": None if station.us.responsible_pollutant is None else station.us.responsible_pollutant.value,
            "eaqiLevel": station.eaqi.index,
            "sensorGrade": station.sensor_grade,
        }
        for pollutant in STATION_POLLUTANTS:
            series = station.hourly.get(pollutant)
            values[pollutant.value] = None if not series else _rounded(series[-1], 1)
        return _with(detail, values=values, alarms=alarms, history=history)

    def _parking_place(self, tenant: str, entity: Entity, detail: ObjectDetail) -> ObjectDetail:
        alarms = self.active_alarms(tenant, entity["id"])
        start, times = self._window(detail.at)
        if detail.kind == "bay":
            values: dict[str, Any] = {
                "status": _text(default_value(entity, self.spot_status)),
                "zone": _text(default_value(entity, self.parking_site)),
            }
        else:
            overview = self.parking.overview(tenant, detail.at)
            place = next(
                (p for p in (*overview.zones, *overview.garages, *overview.groups) if p.id == entity["id"]), None
            )
            values = {} if place is None else _occupancy_values(place.occupancy)
        occupancy = self.parking.occupancy_history(
            tenant, place_id=entity["id"], start=start, end=start + HISTORY_HOURS * HOUR, period="PT1H"
        )
        shares = {begin: share for begin, _, share in occupancy.values}
        history = History(
            start,
            times,
            [HistorySeries("occupancy", "%", [_percent(shares.get(t)) for t in times])],
        )
        return _with(detail, values=values, alarms=alarms, history=history)

    def _district(self, tenant: str, entity: Entity, detail: ObjectDetail) -> ObjectDetail:
        figures, alarms = district_figures(
            self._districts(tenant),
            self.lighting.lamp_states(tenant),
            self.air_quality.stations(tenant, detail.at),
            self.parking.overview(tenant, detail.at),
            self.active_alarms(tenant),
        )
        # The district's alarms are those counted in it (on its objects or within its boundary).
        return _with(detail, values=figures.get(entity["id"], {}), alarms=alarms.get(entity["id"], []))


def _with(detail: ObjectDetail, **changes: Any) -> ObjectDetail:
    return replace(detail, **changes)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _occupancy_values(occupancy: Occupancy) -> dict[str, Any]:
    return {
        "occupancy": _rounded(occupancy.rate),
        "occupied": occupancy.occupied,
        "free": occupancy.free,
        "capacity": occupancy.capacity,
        "closed": occupancy.closed,
        "unknown": occupancy.unknown,
    }


def hourly_aqi(station: StationAirQuality) -> list[float | None]:
    """The station's US AQI at the end of each of its hours, from the hourly means it was computed from.

    Hour ``k``'s index is computed as the station's index is now, from the hours up to ``k`` (the
    quality-control flags kept): the last value equals the station's index now.
    """
    checked = {
        pollutant: [
            CheckedValue(value, station.flagged.get(pollutant, {}).get(n, ())) for n, value in enumerate(values)
        ]
        for pollutant, values in station.hourly.items()
    }
    hours = max((len(series) for series in checked.values()), default=0)
    out: list[float | None] = []
    for end in range(1, hours + 1):
        us, _, _ = indices_of_checked({pollutant: series[:end] for pollutant, series in checked.items()})
        out.append(None if us.index is None else float(us.index))
    return out


# -- the layers ----------------------------------------------------------------------------------------


def district_figures(
    districts: DistrictIndex,
    lamps: Sequence[LampState],
    stations: Sequence[StationAirQuality],
    parking: ParkingOverview,
    alarms: Sequence[Alarm],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Alarm]]]:
    """The choropleth figures of every district, and the active alarms counted in each (both by district id).

    An alarm counts in its source's district when the source is a lamp, station or parking place
    of the map, else in the district its location (or its source's position) lies in.
    """
    lamp_districts = districts.assign([(lamp.district, lamp.position) for lamp in lamps])
    station_districts = districts.assign([(s.district, representative_point(s.location)) for s in stations])
    places = [*parking.zones, *parking.garages]
    place_districts = districts.assign(
        [(p.district, None if p.lon is None or p.lat is None else (p.lon, p.lat)) for p in places]
    )
    positions = _positions(lamps, stations, parking)
    known_districts = {
        **{lamp.id: d for lamp, d in zip(lamps, lamp_districts, strict=True)},
        **{s.id: d for s, d in zip(stations, station_districts, strict=True)},
        **{p.id: d for p, d in zip(places, place_districts, strict=True)},
    }
    alarm_positions = [representative_point(a.location) or positions.get(a.source) for a in alarms]
    alarm_located = districts.locate(alarm_positions)
    alarm_districts = [
        known_districts.get(alarm.source) or found for alarm, found in zip(alarms, alarm_located, strict=True)
    ]

    lamp_counts: dict[str, list[int]] = {}
    for lamp, district in zip(lamps, lamp_districts, strict=True):
        if district is not None:
            counts = lamp_counts.setdefault(district, [0, 0])
            counts[0] += 1
            counts[1] += lamp.state != "fault"
    station_groups: dict[str, list[StationAirQuality]] = {}
    for station, district in zip(stations, station_districts, strict=True):
        if district is not None:
            station_groups.setdefault(district, []).append(station)
    occupancy: dict[str, Occupancy] = {}
    for place, district in zip(places, place_districts, strict=True):
        if district is not None:
            occupancy[district] = occupancy.get(district, EMPTY) + place.occupancy
    alarms_in: dict[str, list[Alarm]] = {}
    for alarm, district in zip(alarms, alarm_districts, strict=True):
        if district is not None:
            alarms_in.setdefault(district, []).append(alarm)

    out: dict[str, dict[str, Any]] = {}
    for area in districts.items:
        total, working = lamp_counts.get(area.id, [0, 0])
        air = worst(area.name, station_groups.get(area.id, []))
        parked = occupancy.get(area.id)
        out[area.id] = {
            "usAqi": air.us_index,
            "aqiBand": aqi_band(air.us_index),
            "worstStation": air.worst_station,
            "stations": air.stations,
            "parkingOccupancy": None if parked is None else _rounded(parked.rate),
            "parkingFree": None if parked is None else parked.free,
            "parkingCapacity": None if parked is None else parked.capacity,
            "lightsWorking": _rounded(working / total) if total else None,
            "lamps": total,
            "lampsWorking": working,
            "openAlarms": len(alarms_in.get(area.id, ())),
        }
    return out, alarms_in


def _positions(
    lamps: Sequence[LampState], stations: Sequence[StationAirQuality], parking: ParkingOverview
) -> dict[str, tuple[float, float]]:
    """Where each object of the layers is (for alarms that carry no location of their own)."""
    out: dict[str, tuple[float, float]] = {}
    for lamp in lamps:
        if lamp.position is not None:
            out[lamp.id] = lamp.position
    for station in stations:
        found = representative_point(station.location)
        if found is not None:
            out[station.id] = found
    for place in (*parking.zones, *parking.garages, *parking.groups):
        if place.lon is not None and place.lat is not None:
            out[place.id] = (place.lon, place.lat)
    return out


def _lamp_features(lamps: Sequence[LampState]) -> Iterable[dict[str, Any]]:
    for lamp in lamps:
        if lamp.position is None:
            continue
        yield feature(
            lamp.id,
            point_geometry(*lamp.position),
            {
                "kind": "lamp",
                "name": local_name(lamp.id),
                "state": lamp.state,
                "level": _rounded(lamp.level),
                "district": lamp.district,
            },
        )


def _station_features(stations: Sequence[StationAirQuality]) -> Iterable[dict[str, Any]]:
    for station in stations:
        found = representative_point(station.location)
        if found is None:
            continue
        yield feature(
            station.id,
            point_geometry(*found),
            {
                "kind": "station",
                "name": station.name,
                "district": station.district,
                "usAqi": station.us.index,
                "band": aqi_band(station.us.index),
                "category": station.us.category,
            },
        )


def _place_features(parking: ParkingOverview) -> Iterable[dict[str, Any]]:
    places: list[PlaceView] = [*parking.zones, *parking.garages]
    for place in places:
        if place.lon is None or place.lat is None:
            continue
        yield feature(
            place.id,
            point_geometry(place.lon, place.lat),
            {
                "kind": place.kind,
                "name": place.name,
                "district": place.district,
                "occupancy": _rounded(place.occupancy.rate),
                "free": place.occupancy.free,
                "capacity": place.occupancy.capacity,
            },
        )


def _report_features(reports: Sequence[Report]) -> Iterable[dict[str, Any]]:
    for report in reports:
        if report.lat is None or report.long is None:
            continue
        yield feature(
            report_entity_id(report.id),
            point_geometry(report.long, report.lat),
            {
                "kind": "report",
                "name": report.service_name,
                "reportId": report.id,
                "serviceCode": report.service_code,
                "stage": report.stage.value,
                "district": report.district,
                "requestedAt": report.requested_at,
                # The map draws a report as a ring like an alarm; a new, untriaged one stands out.
                "severity": "medium" if report.stage is Stage.SUBMITTED else "informational",
            },
        )


def _alarm_features(alarms: Sequence[Alarm], positions: dict[str, tuple[float, float]]) -> Iterable[dict[str, Any]]:
    for alarm in alarms:
        found = representative_point(alarm.location) or positions.get(alarm.source)
        if found is None:
            continue
        yield feature(
            alarm_entity_id(alarm.id),
            point_geometry(*found),
            {
                "kind": "alarm",
                "name": alarm.description,
                "alarmId": alarm.id,
                "source": alarm.source,
                "solution": alarm.solution,
                "alarmKind": alarm.kind,
                "severity": alarm.severity.value,
                "severityRank": alarm.severity.rank,
                "state": alarm.state.value,
                "openedAt": alarm.opened_at,
            },
        )
