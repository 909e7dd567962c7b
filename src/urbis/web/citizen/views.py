"""Read models of the citizen app: air quality near a point, parking near a destination, the report form, the map.

Every page and its ``.json`` twin are built from the same view here; templates never query.
Texts a resident reads are chosen in the templates by key (an AQI level 1-6, a stage, an error
code), so both languages come from the one catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point, mapping

from urbis.citizens.model import (
    DESCRIPTION_LENGTH,
    MAX_PHOTOS,
    Category,
    Datatype,
    Question,
    Report,
    Update,
    answer_questions,
)
from urbis.citizens.places import CityPlaces, Place
from urbis.context.model import Entity, default_value
from urbis.context.query.geo import distance_m, representative_point
from urbis.core.errors import BadRequestData, UrbisError
from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.model import Concentration, ForecastPoint, us_sub_index
from urbis.solutions.air_quality.scales import US_2024
from urbis.solutions.air_quality.service import AirQualityService, AreaAirQuality, StationAirQuality
from urbis.solutions.parking.const import DEFAULT_GUIDANCE
from urbis.solutions.parking.guidance import GuidanceOption
from urbis.solutions.parking.service import ParkingService
from urbis.solutions.parking.timebands import band_at

#: Walking speed behind "minutes on foot" (4.8 km/h).
WALK_M_PER_MINUTE = 80.0
#: Arrivals the parking page offers, in minutes from now.
ARRIVALS = (0, 30, 60, 120)
#: Places a search offers besides the one it picked.
OTHER_MATCHES = 5


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


# -- places --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spot:
    """The point a page is about: typed coordinates, "my location", or a place found by name."""

    lat: float
    long: float
    place: Place | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin's ``point``."""
        return {
            "lat": self.lat,
            "long": self.long,
            "place": None if self.place is None else {"name": self.place.name, "kind": self.place.kind},
        }


def parse_coordinate(raw: str | None, low: float, high: float) -> float | None:
    """A typed latitude or longitude; None when empty, not a number, or out of range."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def find_spot(
    places: CityPlaces | None, lat: str | None, long: str | None, text: str | None
) -> tuple[Spot | None, list[Place]]:
    """The point asked for (coordinates win over a place name) and the other places the name matches."""
    latitude, longitude = parse_coordinate(lat, -90, 90), parse_coordinate(long, -180, 180)
    if latitude is not None and longitude is not None:
        return Spot(latitude, longitude), []
    if not text or not text.strip() or places is None:
        return None, []
    found = places.search(text.strip(), limit=OTHER_MATCHES + 1)
    if not found:
        return None, []
    return Spot(found[0].lat, found[0].long, found[0]), found[1:]


# -- air quality ---------------------------------------------------------------------------------


def aqi_level(index: int | None) -> int | None:
    """The US AQI category as a level 1 (good) to 6 (hazardous); None without an index."""
    if index is None:
        return None
    category = US_2024.category(max(0, index))
    return US_2024.categories.index(category) + 1


def pm25_level(concentration: float) -> int | None:
    """The AQI level of an hourly PM2.5 value read on the 24-hour table, as the NowCast is."""
    if not math.isfinite(concentration) or concentration < 0:
        return None
    sub = us_sub_index(Concentration(Pollutant.PM25, Averaging.NOWCAST, concentration, Unit.UG_M3))
    return aqi_level(sub.index)


@dataclass(frozen=True)
class ForecastSegment:
    """Hours in a row that share one AQI level: ``start`` up to (not including) ``end``."""

    level: int
    start: datetime
    end: datetime

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of a segment."""
        return {"level": self.level, "start": _iso(self.start), "end": _iso(self.end)}


def forecast_segments(points: Sequence[ForecastPoint]) -> list[ForecastSegment]:
    """The hourly forecast as runs of equal AQI level ("good until 17:00, moderate from 17:00")."""
    segments: list[ForecastSegment] = []
    for point in points:
        level = pm25_level(point.value)
        if level is None:
            continue
        end = point.start + timedelta(hours=1)
        if segments and segments[-1].level == level and segments[-1].end == point.start:
            segments[-1] = replace(segments[-1], end=end)
        else:
            segments.append(ForecastSegment(level, point.start, end))
    return segments


def measured_at(station: StationAirQuality, window_end: datetime) -> datetime | None:
    """The end of the last hour the station measured anything in (its indices' freshest hour)."""
    latest: int | None = None
    for series in station.hourly.values():
        for position, value in enumerate(series):
            if value is not None and (latest is None or position > latest):
                latest = position
    if latest is None:
        return None
    hours = max((len(series) for series in station.hourly.values()), default=24)
    return window_end - timedelta(hours=hours - 1 - latest)


@dataclass(frozen=True)
class StationView:
    """The station nearest the point, with its index and when it measured."""

    id: str
    name: str
    district: str | None
    distance_m: float | None
    index: int | None
    level: int | None
    pollutant: str | None
    measured_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of the station."""
        return {
            "id": self.id,
            "name": self.name,
            "district": self.district,
            "distance": None if self.distance_m is None else round(self.distance_m),
            "usAqi": self.index,
            "level": self.level,
            "pollutant": self.pollutant,
            "measuredAt": _iso(self.measured_at),
        }


@dataclass(frozen=True)
class AreaView:
    """A district's or the city's index: that of its worst station."""

    name: str
    index: int | None
    level: int | None
    stations: int

    @classmethod
    def of(cls, area: AreaAirQuality) -> AreaView:
        """The view of a service figure."""
        return cls(area.name, area.us_index, aqi_level(area.us_index), area.stations)

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of the figure."""
        return {"name": self.name, "usAqi": self.index, "level": self.level, "stations": self.stations}


@dataclass(frozen=True)
class AirView:
    """What /app/air shows: the air near a point (or the city's), its advice level, and today's forecast."""

    at: datetime
    spot: Spot | None
    other_places: list[Place]
    searched: str | None
    station: StationView | None
    district: AreaView | None
    city: AreaView | None
    forecast: list[ForecastSegment]
    districts: list[AreaView] = field(default_factory=list)

    @property
    def level(self) -> int | None:
        """The level the advice is for: the nearest station's, else the city's."""
        if self.station is not None and self.station.level is not None:
            return self.station.level
        return None if self.city is None else self.city.level

    @property
    def worst_forecast(self) -> ForecastSegment | None:
        """The forecast's worst run of hours (the first, on a tie)."""
        return max(self.forecast, key=lambda s: (s.level, -s.start.timestamp()), default=None)

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of the page."""
        return {
            "at": _iso(self.at),
            "point": None if self.spot is None else self.spot.to_json(),
            "otherPlaces": [{"name": p.name, "kind": p.kind, "lat": p.lat, "long": p.long} for p in self.other_places],
            "station": None if self.station is None else self.station.to_json(),
            "district": None if self.district is None else self.district.to_json(),
            "city": None if self.city is None else self.city.to_json(),
            "districts": [d.to_json() for d in self.districts],
            "level": self.level,
            "forecast": {"pollutant": Pollutant.PM25.value, "segments": [s.to_json() for s in self.forecast]},
        }


def _station_point(station: StationAirQuality) -> Point | None:
    found = representative_point(station.location)
    return None if found is None else Point(found[0], found[1])


def air_view(
    service: AirQualityService,
    tenant: str,
    spot: Spot | None,
    now: datetime,
    *,
    other_places: Sequence[Place] = (),
    searched: str | None = None,
) -> AirView:
    """The air near ``spot`` (its nearest station and that station's district) and the city's, at ``now``."""
    stations = service.stations(tenant, now)
    city, districts = service.areas(stations) if stations else (None, [])
    nearest: tuple[StationAirQuality, float | None] | None = None
    if spot is not None:
        centre = Point(spot.long, spot.lat)
        for station in stations:
            point = _station_point(station)
            if point is None:
                continue
            distance = distance_m(point, centre)
            if nearest is None or (nearest[1] is not None and distance < nearest[1]):
                nearest = (station, distance)
    elif city is not None and city.worst_station is not None:
        # Without a point the city's figure leads, measured at its worst station.
        worst = next((s for s in stations if s.id == city.worst_station), None)
        nearest = None if worst is None else (worst, None)
    window_end = datetime.fromtimestamp(int(now.timestamp()) // 3600 * 3600, now.tzinfo)
    station_view = None
    district = None
    forecast: list[ForecastSegment] = []
    if nearest is not None:
        station, how_far = nearest
        pollutant = station.us.responsible_pollutant
        station_view = StationView(
            id=station.id,
            name=str(station.name),
            district=station.district,
            distance_m=how_far,
            index=station.us.index,
            level=aqi_level(station.us.index),
            pollutant=None if pollutant is None else pollutant.value,
            measured_at=measured_at(station, window_end),
        )
        found = next((d for d in districts if station.district and d.name == station.district), None)
        district = None if found is None else AreaView.of(found)
        try:
            forecast = forecast_segments(service.forecast(tenant, station.id, Pollutant.PM25, now).model)
        except (UrbisError, ValueError):
            forecast = []  # no forecast beats a broken page: the index still shows
    return AirView(
        at=now,
        spot=spot,
        other_places=list(other_places),
        searched=searched,
        station=station_view,
        district=district,
        city=None if city is None or not stations else AreaView.of(city),
        forecast=forecast,
        districts=[AreaView.of(d) for d in districts if d.name != "(none)"],
    )


# -- parking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParkingOptionView:
    """One place to park near the destination, in a resident's words."""

    id: str
    kind: str
    name: str
    lat: float
    long: float
    walking_m: float
    capacity: int
    free_now: int | None
    expected_free: int
    occupancy: float
    chance: float
    basis: str
    price: Decimal | None
    currency: str | None
    priced: bool

    @property
    def walking_minutes(self) -> int:
        """Minutes on foot to the destination (at least one)."""
        return max(1, round(self.walking_m / WALK_M_PER_MINUTE))

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of an option."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "lat": self.lat,
            "long": self.long,
            "walkingDistance": round(self.walking_m),
            "walkingMinutes": self.walking_minutes,
            "capacity": self.capacity,
            "freeNow": self.free_now,
            "expectedFree": self.expected_free,
            "occupancyOnArrival": round(self.occupancy, 4),
            "probabilityOfSpace": round(self.chance, 4),
            "occupancyBasis": self.basis,
            "pricePerHour": None if self.price is None else str(self.price),
            "currency": self.currency,
        }


@dataclass(frozen=True)
class ParkingView:
    """What /app/parking shows: the best places to park near a destination."""

    at: datetime
    arrive_at: datetime
    minutes: int
    spot: Spot | None
    other_places: list[Place]
    searched: str | None
    options: list[ParkingOptionView]

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of the page."""
        return {
            "at": _iso(self.at),
            "arriveAt": _iso(self.arrive_at),
            "destination": None if self.spot is None else self.spot.to_json(),
            "otherPlaces": [{"name": p.name, "kind": p.kind, "lat": p.lat, "long": p.long} for p in self.other_places],
            "options": [o.to_json() for o in self.options],
        }


def parking_option(option: GuidanceOption, price: tuple[Decimal, str] | None, priced: bool) -> ParkingOptionView:
    """The resident's view of one guidance option (price per hour on arrival, when the zone is paid)."""
    place = option.candidate
    capacity = max(0, place.capacity)
    return ParkingOptionView(
        id=place.place_id,
        kind=place.kind,
        name=place.name,
        lat=place.lat,
        long=place.lon,
        walking_m=option.walking_m,
        capacity=capacity,
        free_now=place.free,
        expected_free=max(0, round(capacity * (1.0 - option.occupancy_on_arrival))),
        occupancy=option.occupancy_on_arrival,
        chance=option.probability_free,
        basis=place.basis,
        price=None if price is None else price[0],
        currency=None if price is None else price[1],
        priced=priced,
    )


def parking_view(
    service: ParkingService,
    tenant: str,
    spot: Spot | None,
    now: datetime,
    minutes: int,
    *,
    other_places: Sequence[Place] = (),
    searched: str | None = None,
) -> ParkingView:
    """The parking options near ``spot`` for an arrival ``minutes`` from ``now`` (nothing without a spot)."""
    arrive_at = now + timedelta(minutes=minutes)
    options: list[ParkingOptionView] = []
    if spot is not None:
        found = service.guidance(tenant, spot.long, spot.lat, DEFAULT_GUIDANCE, arrive_at=arrive_at, now=now)
        rates: dict[str, dict[str, tuple[Decimal, str]]] = {}
        if service.db is not None:
            for rate in service.current_rates(tenant):
                rates.setdefault(rate.zone_id, {})[rate.time_band] = (rate.price, rate.currency)
        band = band_at(arrive_at, service.pricing.bands, service.pricing.tz)
        for option in found:
            zone = option.candidate.site_id if option.candidate.kind == "bay" else option.candidate.place_id
            zone_rates = rates.get(zone or "")
            price = None if zone_rates is None or band is None else zone_rates.get(band.name)
            options.append(parking_option(option, price, zone_rates is not None))
    return ParkingView(now, arrive_at, minutes, spot, list(other_places), searched, options)


# -- the report form -----------------------------------------------------------------------------


@dataclass
class ReportDraft:
    """What a resident typed into the report form, kept as typed so an error never loses it."""

    service: str = ""
    description: str = ""
    lat: str = ""
    long: str = ""
    address: str = ""
    object_type: str = ""
    object_id: str = ""
    email: str = ""
    name: str = ""
    show_name: bool = False
    answers: dict[str, list[str]] = field(default_factory=dict)

    def answer(self, code: str) -> str:
        """The one value typed for a question ('' when none)."""
        values = self.answers.get(code) or [""]
        return values[0]

    def chosen(self, code: str, key: str) -> bool:
        """Whether ``key`` is among the values picked for a list question."""
        return key in self.answers.get(code, [])


def _attribute_code(name: str) -> str | None:
    """``attribute[code]`` or ``attribute[code][]`` (Open311's form names) to ``code``."""
    if not name.startswith("attribute[") or "]" not in name:
        return None
    code = name[len("attribute[") : name.index("]")]
    rest = name[len("attribute[") + len(code) + 1 :]
    return code if code and rest in ("", "[]") else None


def parse_draft(items: Iterable[tuple[str, str]]) -> ReportDraft:
    """The report form's text fields (files are read apart) as a draft."""
    draft = ReportDraft()
    simple = {"service", "description", "lat", "long", "address", "object_type", "object_id", "email", "name"}
    for name, value in items:
        if name in simple:
            setattr(draft, name, value)
        elif name == "show_name":
            draft.show_name = value not in ("", "0", "false", "off")
        else:
            code = _attribute_code(name)
            if code is not None:
                draft.answers.setdefault(code, []).append(value)
    return draft


@dataclass(frozen=True)
class FieldError:
    """A problem with one field: a ``code`` the template words, or the service's own ``text``."""

    code: str
    text: str = ""


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and value.count("@") == 1 and not any(c.isspace() for c in value)


def _local_datetime(value: str, zone: ZoneInfo) -> str:
    """A browser's ``datetime-local`` value (no zone) as the city's local time with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the model words the problem
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def prepared_answers(category: Category, draft: ReportDraft, zone: ZoneInfo) -> dict[str, list[str]]:
    """The draft's answers to the category's questions, datetimes given the city's offset."""
    out: dict[str, list[str]] = {}
    for question in category.questions:
        if not question.variable:
            continue
        values = [v for v in draft.answers.get(question.code, []) if v.strip()]
        if question.datatype is Datatype.DATETIME:
            values = [_local_datetime(v.strip(), zone) for v in values]
        if values:
            out[question.code] = values
    return out


def check_answers(category: Category, answers: Mapping[str, Sequence[str]]) -> dict[str, FieldError]:
    """Each question's problem (keyed ``attribute-<code>``), checked one question at a time by the model."""
    errors: dict[str, FieldError] = {}
    for question in category.questions:
        if not question.variable:
            continue
        given = [v for v in answers.get(question.code, ()) if v.strip()]
        if not given:
            if question.required:
                errors[f"attribute-{question.code}"] = FieldError("required")
            continue
        try:
            answer_questions(replace(category, questions=(question,)), {question.code: given})
        except BadRequestData as problem:
            text = problem.detail.partition(": ")[2] or problem.detail
            errors[f"attribute-{question.code}"] = FieldError("invalid", text)
    return errors


#: The first bytes of the photo types the form accepts (the server checks the photo itself again).
_PHOTO_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"))


def photo_kind(data: bytes) -> str | None:
    """``jpeg``, ``png`` or ``webp`` by the file's first bytes; None for anything else."""
    for magic, kind in _PHOTO_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_draft(
    draft: ReportDraft,
    category: Category | None,
    *,
    anonymous: bool,
    email_needed: bool,
    photos: Sequence[bytes],
    photo_max_bytes: int,
    zone: ZoneInfo,
) -> dict[str, FieldError]:
    """Every problem of a draft the form can point at a field for (the service checks everything again)."""
    errors: dict[str, FieldError] = {}
    if category is None:
        errors["service"] = FieldError("service")
    else:
        errors.update(check_answers(category, prepared_answers(category, draft, zone)))
    lat = parse_coordinate(draft.lat, -90, 90)
    long = parse_coordinate(draft.long, -180, 180)
    typed = bool(draft.lat.strip() or draft.long.strip())
    if typed and (lat is None or long is None):
        errors["location"] = FieldError("coordinates")
    elif not typed and not draft.address.strip() and not draft.object_id.strip():
        errors["location"] = FieldError("location")
    if len(draft.description.strip()) > DESCRIPTION_LENGTH:
        errors["description"] = FieldError("too-long")
    if anonymous:
        if not draft.email.strip():
            if email_needed:
                errors["email"] = FieldError("email-required")
        elif not _looks_like_email(draft.email.strip()):
            errors["email"] = FieldError("email-invalid")
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = FieldError("too-many")
    elif any(len(data) > photo_max_bytes for data in photos):
        errors["photos"] = FieldError("too-big")
    elif any(photo_kind(data) is None for data in photos):
        errors["photos"] = FieldError("type")
    return errors


@dataclass(frozen=True)
class CategoryGroup:
    """Categories under one group heading, in the city's order."""

    name: str
    categories: list[Category]


def category_groups(categories: Iterable[Category]) -> list[CategoryGroup]:
    """Categories grouped (groups in the order of their first category)."""
    groups: dict[str, list[Category]] = {}
    for category in sorted(categories, key=lambda c: (c.position, c.name)):
        groups.setdefault(category.group or "", []).append(category)
    return [CategoryGroup(name, items) for name, items in groups.items()]


def questions_of(category: Category | None) -> list[Question]:
    """A category's questions in their Open311 order."""
    return [] if category is None else sorted(category.questions, key=lambda q: q.order)


def category_json(category: Category) -> dict[str, Any]:
    """A category as the form's JSON twin describes it (Open311 attribute names)."""
    return {
        "code": category.code,
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "department": category.department,
        "objectTypes": list(category.object_types),
        "questions": [
            {
                "code": q.code,
                "datatype": q.datatype.value,
                "description": q.description,
                "required": q.required,
                "variable": q.variable,
                "order": q.order,
                "datatypeDescription": q.datatype_description,
                "values": [{"key": v.key, "name": v.name} for v in q.values],
            }
            for q in questions_of(category)
        ],
    }


# -- reports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearbyReport:
    """An open report close to where a resident is about to report the same thing."""

    report: Report
    distance_m: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of a nearby report (public fields only)."""
        return {
            "id": self.report.id,
            "serviceName": self.report.service_name,
            "stage": self.report.stage.value,
            "description": self.report.description,
            "requestedAt": _iso(self.report.requested_at),
            "distance": None if self.distance_m is None else round(self.distance_m),
        }


def nearby_reports(reports: Iterable[Report], lat: float, long: float) -> list[NearbyReport]:
    """Reports with their distance from the point the resident picked."""
    centre = Point(long, lat)
    out = []
    for report in reports:
        distance = None
        if report.lat is not None and report.long is not None:
            distance = distance_m(Point(report.long, report.lat), centre)
        out.append(NearbyReport(report, distance))
    return out


def answer_lines(category: Category | None, report: Report) -> list[tuple[Question | None, str, list[str]]]:
    """A report's answers as (question, code, shown values): list keys become their names."""
    questions = {q.code: q for q in questions_of(category)}
    lines: list[tuple[Question | None, str, list[str]]] = []
    for code, value in report.answers.items():
        question = questions.get(code)
        values = value if isinstance(value, list) else [value]
        names = {c.key: c.name for c in question.values} if question is not None else {}
        lines.append((question, code, [names.get(str(v), str(v)) for v in values]))
    order = {code: position for position, code in enumerate(questions)}
    lines.sort(key=lambda line: order.get(line[1], len(order)))
    return lines


def public_updates(updates: Sequence[Update]) -> list[Update]:
    """A report's history for the public page, newest first."""
    return sorted(updates, key=lambda u: u.at, reverse=True)


# -- the map -------------------------------------------------------------------------------------

#: Layers of /app/map.json: the city's outline, and the assets a report may name (by NGSI-LD type).
BASE_LAYERS = ("districts", "streets")
ASSET_LAYERS = {"Streetlight": "lights", "ParkingSpot": "bays", "OnStreetParking": "zones"}


def layers_of(category: Category) -> str:
    """The map layers of the assets a category's reports may name (``lights,bays``), for the map script."""
    return ",".join(ASSET_LAYERS[t] for t in category.object_types if t in ASSET_LAYERS)


def _rounded(geometry: Any, digits: int = 6) -> Any:
    """A GeoJSON geometry with coordinates rounded (smaller answers; a micro-degree is about 10 cm)."""
    if isinstance(geometry, dict):
        return {key: _rounded(value, digits) for key, value in geometry.items()}
    if isinstance(geometry, list | tuple):
        return [_rounded(value, digits) for value in geometry]
    if isinstance(geometry, float):
        return round(geometry, digits)
    return geometry


def _feature(feature_id: str, geometry: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": feature_id, "geometry": _rounded(geometry), "properties": properties}


def place_features(places: CityPlaces) -> dict[str, dict[str, Any]]:
    """The city's districts and streets as GeoJSON (public: names and shapes only)."""
    return {
        "districts": {
            "type": "FeatureCollection",
            "features": [
                _feature(a.place.id, mapping(a.shape), {"name": a.place.name, "kind": "district"})
                for a in places.districts
            ],
        },
        "streets": {
            "type": "FeatureCollection",
            "features": [
                _feature(a.place.id, mapping(a.shape), {"name": a.place.name, "kind": "street"}) for a in places.streets
            ],
        },
    }


def asset_features(object_type: str, entities: Iterable[Entity], location: str, name: str) -> dict[str, Any]:
    """Assets a report may name, as points (id, type and name only: nothing about their state)."""
    features = []
    for entity in entities:
        point = representative_point(default_value(entity, location))
        if point is None:
            continue
        label = default_value(entity, name)
        features.append(
            _feature(
                str(entity["id"]),
                {"type": "Point", "coordinates": [point[0], point[1]]},
                {
                    "name": label if isinstance(label, str) else str(entity["id"]).rsplit(":", 1)[-1],
                    "kind": "asset",
                    "objectType": object_type,
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}
