"""What residents see near them: the air quality near a point, and where to park near a destination.

Read models of the citizen app built from the solutions' services (air quality, parking) and the
city's places; pages and their JSON twins render them, the web layer only parses and shapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shapely.geometry import Point

from urbis.citizens.places import CityPlaces, Place
from urbis.context.query.geo import distance_m, representative_point
from urbis.core.errors import UrbisError
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


def iso_instant(moment: datetime | None) -> str | None:
    """An instant as the JSON twins write it (UTC with a ``Z``), or ``None``."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


_iso = iso_instant


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
