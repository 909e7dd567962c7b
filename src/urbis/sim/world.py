"""The simulated city's inventory: what stands where, which device feeds which entity.

:func:`build_city` places everything on the generated map of Bonn, reproducibly from the
seed: street lights along the streets (main roads first, then local streets, denser in the
centre) in groups fed by cabinets, air-quality stations (a few reference monitors, mostly
low-cost nodes, some at the kerb of a main road), parking zones of on-street bays, and
garages.  Gateways, one per borough and domain, carry the devices' HTTP batches.

The :class:`City` gives the devices to register (``device_bodies``) and the NGSI-LD entities
that describe the static infrastructure (``entities``); the behaviour models in the
sibling modules make the devices' readings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import LineString, Point
from shapely.ops import substring

from urbis.sim.air_quality import Grade, StationSpec
from urbis.sim.faults import FaultRates
from urbis.sim.geography import (
    Geography,
    Street,
    generate,
    geojson_geometry,
    slug,
    to_lonlat,
)
from urbis.sim.incidents import IncidentSpec
from urbis.sim.lighting import DimmingProfile, LampSpec
from urbis.sim.noise import rng_for
from urbis.sim.parking import GarageKind, ZoneKind

_DISTRICT_WEIGHT = {"centre": 4.0, "urban": 3.0, "residential": 2.0, "suburban": 1.0}
_PARKING_WEIGHT = {"centre": 10.0, "urban": 4.0, "residential": 1.0, "suburban": 0.3}
_URBAN = {"centre": 1.0, "urban": 0.75, "residential": 0.45, "suburban": 0.2}
_LAMP_WATTS = {"primary": (90, 120, 120), "secondary": (60, 75, 90), "residential": (25, 35, 35, 45, 45, 60)}
BAY_SPACING = 5.5

#: Named garages: name, district, kind, capacity (Bonn's well-known car parks; numbers invented).
GARAGES: tuple[tuple[str, str, GarageKind, int], ...] = (
    ("Marktgarage", "Zentrum", "shopping", 420),
    ("Münsterplatzgarage", "Zentrum", "shopping", 450),
    ("Friedensplatzgarage", "Zentrum", "shopping", 630),
    ("Stadthausgarage", "Nordstadt", "office", 650),
    ("Bahnhofsgarage", "Zentrum", "commuter", 320),
    ("Beethovenhalle", "Castell", "mixed", 480),
    ("Parkhaus Theaterplatz", "Alt-Godesberg", "shopping", 460),
    ("Parkhaus Beuel Rathaus", "Beuel-Mitte", "shopping", 260),
    ("P+R Hardtberg", "Duisdorf", "commuter", 350),
    ("Parkhaus Universitätsklinikum", "Venusberg", "mixed", 900),
)


@dataclass(frozen=True)
class CityConfig:
    """Sizes and knobs of the simulated city (all reproducible from ``seed``)."""

    seed: int = 7
    lights: int = 5000
    lights_per_group: int = 50
    stations: int = 50
    reference_share: float = 0.1
    bays: int = 3000
    bays_per_zone: int = 50
    garages: int = 10
    garage_over_capacity: bool = False
    faults: FaultRates = field(default_factory=FaultRates)
    incidents: tuple[IncidentSpec, ...] = ()  # scripted on top of the random faults
    dimming: DimmingProfile = field(default_factory=DimmingProfile)
    light_interval: float = 900.0  # seconds between a lamp's (and a cabinet's) periodic reports
    bay_heartbeat: float = 3600.0
    garage_interval: float = 300.0


@dataclass(frozen=True)
class Device:
    """A device to register: what it is, which entity it feeds, through which gateway."""

    id: str
    device_type: str
    entity_id: str | None
    entity_type: str | None
    gateway_id: str | None
    lon: float
    lat: float
    name: str

    def registry_body(self) -> dict[str, Any]:
        """The device as ``POST /api/v1/devices`` (and the JSON import) takes it."""
        body: dict[str, Any] = {"id": self.id, "deviceType": self.device_type}
        if self.entity_id is not None:
            body["entityId"] = self.entity_id
        if self.entity_type is not None:
            body["entityType"] = self.entity_type
        if self.gateway_id is not None:
            body["gatewayId"] = self.gateway_id
        body["location"] = {"type": "Point", "coordinates": [self.lon, self.lat]}
        if self.entity_id is not None:  # a gateway feeds no entity, so it has nothing to seed
            body["attributes"] = {"name": {"type": "Property", "value": self.name}}
        return body


@dataclass(frozen=True)
class Light:
    """A street light and its controller."""

    index: int
    device: Device
    spec: LampSpec
    group_id: str
    cabinet_index: int
    district: str
    street_name: str
    lantern_height: float
    phase: float


@dataclass(frozen=True)
class LightGroup:
    """Lights switched together (≈ 50), fed by one cabinet."""

    id: str
    name: str
    district: str
    light_indices: tuple[int, ...]
    cabinet_id: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Cabinet:
    """A control cabinet with its meter, feeding 2–3 groups."""

    index: int
    device: Device
    district: str
    group_ids: tuple[str, ...]
    light_indices: tuple[int, ...]
    phase: float


@dataclass(frozen=True)
class Station:
    """An air-quality station."""

    device: Device
    spec: StationSpec
    district: str
    phase: float


@dataclass(frozen=True)
class Zone:
    """An on-street parking zone."""

    id: str
    name: str
    kind: ZoneKind
    district: str
    bay_ids: tuple[str, ...]
    geometry: dict[str, Any]
    max_stay_minutes: float | None


@dataclass(frozen=True)
class Bay:
    """An on-street bay with its sensor."""

    device: Device
    zone_id: str
    kind: ZoneKind
    district: str
    phase: float


@dataclass(frozen=True)
class Garage:
    """A multi-storey car park with its entry/exit counter."""

    device: Device
    kind: GarageKind
    capacity: int
    district: str


@dataclass
class City:
    """Everything the simulator placed, for one :class:`CityConfig`."""

    config: CityConfig
    geography: Geography
    lights: list[Light]
    groups: list[LightGroup]
    cabinets: list[Cabinet]
    stations: list[Station]
    zones: list[Zone]
    bays: list[Bay]
    garages: list[Garage]
    gateways: list[Device]

    def devices(self) -> Iterator[Device]:
        """Every device, gateways first (members name their gateway)."""
        yield from self.gateways
        yield from (light.device for light in self.lights)
        yield from (cabinet.device for cabinet in self.cabinets)
        yield from (station.device for station in self.stations)
        yield from (bay.device for bay in self.bays)
        yield from (garage.device for garage in self.garages)

    def device_bodies(self) -> list[dict[str, Any]]:
        """Every device as the registry's import takes it."""
        return [device.registry_body() for device in self.devices()]

    def entities(self) -> list[dict[str, Any]]:
        """The NGSI-LD entities of the city's infrastructure, in Urbis @context terms.

        Boroughs, districts and streets; lighting groups and cabinets; the entities the
        devices feed (lights, stations, bays, garages) with their static attributes only, so
        an ``upsert`` with ``options=update`` never erases live values; parking zones.
        """
        out = self.geography.entities()
        cabinets = {cabinet.index: cabinet for cabinet in self.cabinets}
        for group in self.groups:
            out.append(
                {
                    "id": group.id,
                    "type": "StreetlightGroup",
                    "name": _prop(group.name),
                    "areaServed": _prop(group.district),
                    "location": _point(group.lon, group.lat),
                    "refStreetlightControlCabinet": _rel(group.cabinet_id),
                    "refStreetlight": _rel([self.lights[i].device.entity_id for i in group.light_indices]),
                }
            )
        for cabinet in self.cabinets:
            peak_kw = sum(self.lights[i].spec.nominal_w + self.lights[i].spec.standby_w for i in cabinet.light_indices)
            out.append(
                {
                    "id": cabinet.device.entity_id,
                    "type": "StreetlightControlCabinet",
                    "name": _prop(cabinet.device.name),
                    "areaServed": _prop(cabinet.district),
                    "location": _point(cabinet.device.lon, cabinet.device.lat),
                    "refStreetlightGroup": _rel(list(cabinet.group_ids)),
                    "maximumPowerAvailable": _prop(round(peak_kw * 1.5 / 1000, 1), unitCode="KWT"),
                }
            )
        for light in self.lights:
            out.append(
                {
                    "id": light.device.entity_id,
                    "type": "Streetlight",
                    "name": _prop(light.device.name),
                    "areaServed": _prop(light.district),
                    "location": _point(light.device.lon, light.device.lat),
                    "refStreetlightGroup": _rel(light.group_id),
                    "refStreetlightControlCabinet": _rel(cabinets[light.cabinet_index].device.entity_id),
                    "lanternHeight": _prop(light.lantern_height, unitCode="MTR"),
                    "powerRating": _prop(light.spec.nominal_w, unitCode="WTT"),
                }
            )
        for station in self.stations:
            reference = station.spec.grade == "reference"
            out.append(
                {
                    "id": station.device.entity_id,
                    "type": "AirQualityObserved",
                    "name": _prop(station.device.name),
                    "areaServed": _prop(station.district),
                    "location": _point(station.device.lon, station.device.lat),
                    "description": _prop(
                        "Reference-grade monitor"
                        if reference
                        else "Low-cost sensor node (optical PM, electrochemical gases), uncorrected"
                    ),
                    "reliability": _prop(0.95 if reference else 0.7),
                    # Urbis term: a low-cost node's PM2.5 is corrected for humidity by the solution.
                    "sensorGrade": _prop("reference" if reference else "low-cost"),
                    "typeofLocation": _prop("outdoor"),
                }
            )
        for zone in self.zones:
            max_stay = zone.max_stay_minutes
            entity: dict[str, Any] = {
                "id": zone.id,
                "type": "OnStreetParking",
                "name": _prop(zone.name),
                "areaServed": _prop(zone.district),
                "location": {"type": "GeoProperty", "value": zone.geometry},
                "totalSpotNumber": _prop(len(zone.bay_ids)),
                "category": _prop(
                    ["public", "forResidents"] if zone.kind == "residents" else ["public", "feeCharged", "shortTerm"]
                ),
                "allowedVehicleType": _prop(["car"]),
                "refParkingSpot": _rel([f"urn:ngsi-ld:ParkingSpot:{bay_id}" for bay_id in zone.bay_ids]),
            }
            if max_stay is not None:
                entity["maximumParkingDuration"] = _prop(
                    f"PT{int(max_stay // 60)}H{int(max_stay % 60)}M".replace("H0M", "H")
                )
            out.append(entity)
        for bay in self.bays:
            out.append(
                {
                    "id": bay.device.entity_id,
                    "type": "ParkingSpot",
                    "name": _prop(bay.device.name),
                    "areaServed": _prop(bay.district),
                    "location": _point(bay.device.lon, bay.device.lat),
                    "category": _prop(["onStreet"]),
                    "refParkingSite": _rel(bay.zone_id),
                }
            )
        for garage in self.garages:
            out.append(
                {
                    "id": garage.device.entity_id,
                    "type": "OffStreetParking",
                    "name": _prop(garage.device.name),
                    "areaServed": _prop(garage.district),
                    "location": _point(garage.device.lon, garage.device.lat),
                    "totalSpotNumber": _prop(garage.capacity),
                    "category": _prop(["public", "feeCharged", "parkingGarage"]),
                    "maximumAllowedHeight": _prop(2.0, unitCode="MTR"),
                }
            )
        return out

    def feature_collection(self) -> dict[str, Any]:
        """The map plus every device's position as a GeoJSON FeatureCollection."""
        collection = self.geography.feature_collection()
        kinds = {
            "streetlight-controller": "light",
            "cabinet-meter": "cabinet",
            "air-quality-station": "station",
            "parking-bay-sensor": "bay",
            "garage-counter": "garage",
        }
        for device in self.devices():
            if device.device_type in kinds:
                collection["features"].append(
                    {
                        "type": "Feature",
                        "id": device.entity_id,
                        "geometry": {"type": "Point", "coordinates": [device.lon, device.lat]},
                        "properties": {"kind": kinds[device.device_type], "name": device.name, "device": device.id},
                    }
                )
        return collection


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def _rel(target: str | list[str | None] | None) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def gateway_id(borough: str, domain: str) -> str:
    """The gateway of one borough for one domain (``lighting``, ``air``, ``parking``)."""
    return f"gw-{slug(borough)}-{domain}"


# -- building ---------------------------------------------------------------------------


def build_city(config: CityConfig | None = None, geography: Geography | None = None) -> City:
    """Place the city's devices on the map of ``config.seed``."""
    config = config or CityConfig()
    geo = geography or generate(config.seed)
    used_gateways: dict[str, Device] = {}

    def gateway(district_key: str, domain: str) -> str:
        district = geo.district(district_key)
        gid = gateway_id(district.borough, domain)
        if gid not in used_gateways:
            x, y = district.site.x, district.site.y
            lon, lat = to_lonlat(x, y)
            used_gateways[gid] = Device(
                gid, "gateway", None, None, None, lon, lat, f"{domain} gateway {district.borough}"
            )
        return gid

    lights, groups, cabinets = _place_lighting(config, geo, gateway)
    stations = _place_stations(config, geo, gateway)
    zones, bays = _place_parking(config, geo, gateway)
    garages = _place_garages(config, geo, gateway)
    gateways = sorted(used_gateways.values(), key=lambda device: device.id)
    return City(config, geo, lights, groups, cabinets, stations, zones, bays, garages, gateways)


def _weighted_order(seed: int, key: str, items: list[Street], weight: Any) -> list[Street]:
    """``items`` in a random order where heavier items tend to come first (Efraimidis–Spirakis)."""
    rng = rng_for(seed, "order", key)
    keyed = [(-math.log(rng.random()) / max(1e-9, weight(item)), index) for index, item in enumerate(items)]
    return [items[index] for _, index in sorted(keyed)]


def _place_lighting(
    config: CityConfig, geo: Geography, gateway: Any
) -> tuple[list[Light], list[LightGroup], list[Cabinet]]:
    rng = rng_for(config.seed, "lighting")
    main = [s for s in geo.streets if s.road_class != "residential"]
    local = [s for s in geo.streets if s.road_class == "residential"]
    order = main + _weighted_order(
        config.seed, "lit-streets", local, lambda s: _DISTRICT_WEIGHT[geo.district(s.district).kind]
    )
    placed: list[tuple[float, float, Street, int]] = []  # x, y, street, pole number on the street
    for street in order:
        if len(placed) >= config.lights:
            break
        spacing = 32.0 if street.road_class != "residential" else rng.uniform(34.0, 42.0)
        along = rng.uniform(5.0, spacing)
        pole = 1
        while along < street.line.length and len(placed) < config.lights:
            point = street.line.interpolate(along)
            placed.append((point.x, point.y, street, pole))
            along += spacing * rng.uniform(0.92, 1.08)
            pole += 1
    # Group lights per district in the order they were placed along the streets.
    by_district: dict[str, list[int]] = {}
    districts_of: list[str] = []
    for index, (x, y, street, _pole) in enumerate(placed):
        district = geo.district_at(x, y) or geo.district(street.district)
        districts_of.append(district.key)
        by_district.setdefault(district.key, []).append(index)
    size = max(1, config.lights_per_group)
    group_members: list[tuple[str, list[int]]] = []
    for district_key in sorted(by_district, key=lambda k: by_district[k][0]):
        members = by_district[district_key]
        chunks = [members[i : i + size] for i in range(0, len(members), size)]
        if len(chunks) > 1 and len(chunks[-1]) < size / 2:
            chunks[-2].extend(chunks.pop())
        group_members.extend((district_key, chunk) for chunk in chunks)
    # Cabinets: 2–3 consecutive groups of one district each.
    cabinet_of_group: list[int] = []
    cabinet_groups: list[list[int]] = []
    index = 0
    while index < len(group_members):
        district_key = group_members[index][0]
        take = rng.choice((2, 2, 3))
        members_idx = [index]
        while len(members_idx) < take and index + len(members_idx) < len(group_members):
            if group_members[index + len(members_idx)][0] != district_key:
                break
            members_idx.append(index + len(members_idx))
        cabinet_groups.append(members_idx)
        cabinet_of_group.extend([len(cabinet_groups) - 1] * len(members_idx))
        index += len(members_idx)
    cabinet_ids = [f"cabinet-{n + 1:03d}" for n in range(len(cabinet_groups))]
    group_ids = [f"urn:ngsi-ld:StreetlightGroup:group-{n + 1:03d}" for n in range(len(group_members))]
    light_group: dict[int, int] = {i: g for g, (_d, members) in enumerate(group_members) for i in members}
    lights: list[Light] = []
    for index, (x, y, street, pole) in enumerate(placed):
        lon, lat = to_lonlat(x, y)
        device_id = f"lamp-{index + 1:05d}"
        group = light_group[index]
        district = geo.district(districts_of[index])
        nominal = float(rng.choice(_LAMP_WATTS[street.road_class]))
        spec = LampSpec(
            nominal_w=nominal,
            standby_w=round(rng.uniform(0.5, 1.5), 2),
            meter_factor=1.0 + rng.gauss(0.0, 0.01),
            switch_offset=rng.uniform(-90.0, 90.0),
        )
        lights.append(
            Light(
                index=index,
                device=Device(
                    device_id,
                    "streetlight-controller",
                    f"urn:ngsi-ld:Streetlight:{device_id}",
                    "Streetlight",
                    gateway(district.key, "lighting"),
                    lon,
                    lat,
                    f"{street.name}, pole {pole}",
                ),
                spec=spec,
                group_id=group_ids[group],
                cabinet_index=cabinet_of_group[group],
                district=district.name,
                street_name=street.name,
                lantern_height=round(
                    rng.uniform(9.0, 12.0) if street.road_class != "residential" else rng.uniform(4.5, 7.0), 1
                ),
                phase=rng.uniform(0.0, config.light_interval),
            )
        )
    groups: list[LightGroup] = []
    for g, (district_key, members) in enumerate(group_members):
        xs = [placed[i][0] for i in members]
        ys = [placed[i][1] for i in members]
        lon, lat = to_lonlat(sum(xs) / len(xs), sum(ys) / len(ys))
        name = geo.district(district_key).name
        groups.append(
            LightGroup(
                group_ids[g],
                f"Lighting group {g + 1:03d} ({name})",
                name,
                tuple(members),
                f"urn:ngsi-ld:StreetlightControlCabinet:{cabinet_ids[cabinet_of_group[g]]}",
                lon,
                lat,
            )
        )
    cabinets: list[Cabinet] = []
    for c, members_idx in enumerate(cabinet_groups):
        first_light = group_members[members_idx[0]][1][0]
        x, y = placed[first_light][0] + 4.0, placed[first_light][1] + 4.0
        lon, lat = to_lonlat(x, y)
        district = geo.district(group_members[members_idx[0]][0])
        light_indices = tuple(i for g in members_idx for i in group_members[g][1])
        cabinets.append(
            Cabinet(
                index=c,
                device=Device(
                    cabinet_ids[c],
                    "cabinet-meter",
                    f"urn:ngsi-ld:StreetlightControlCabinet:{cabinet_ids[c]}",
                    "StreetlightControlCabinet",
                    gateway(district.key, "lighting"),
                    lon,
                    lat,
                    f"Cabinet {c + 1:03d} ({district.name})",
                ),
                district=district.name,
                group_ids=tuple(group_ids[g] for g in members_idx),
                light_indices=light_indices,
                phase=rng.uniform(0.0, config.light_interval),
            )
        )
    return lights, groups, cabinets


def _random_point_in(rng: Any, shape: Any) -> Point:
    minx, miny, maxx, maxy = shape.bounds
    for _ in range(1000):
        point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if shape.contains(point):
            return point
    return shape.representative_point()  # type: ignore[no-any-return]


def _place_stations(config: CityConfig, geo: Geography, gateway: Any) -> list[Station]:
    rng = rng_for(config.seed, "stations")
    main = [s for s in geo.streets if s.road_class != "residential"]
    districts = geo.districts
    weights = [_DISTRICT_WEIGHT[d.kind] for d in districts]
    count = config.stations
    references = (
        set(rng.sample(range(count), min(count, max(1, round(count * config.reference_share))))) if count else set()
    )
    stations: list[Station] = []
    for n in range(count):
        device_id = f"aq-{n + 1:03d}"
        if n % 10 < 3 and main:  # three in ten at the kerb of a main road
            street = rng.choice(main)
            along = street.line.interpolate(rng.uniform(0.1, 0.9), normalized=True)
            ahead = street.line.interpolate(min(street.line.length, street.line.project(along) + 1.0))
            dx, dy = ahead.x - along.x, ahead.y - along.y
            norm = math.hypot(dx, dy) or 1.0
            side = rng.choice((-1, 1)) * rng.uniform(6.0, 15.0)
            point = Point(along.x - dy / norm * side, along.y + dx / norm * side)
            label = street.name
        else:
            district = rng.choices(districts, weights)[0]
            point = _random_point_in(rng, district.shape)
            label = district.name
        district = geo.district_at(point.x, point.y) or min(districts, key=lambda d: d.shape.distance(point))
        exposure = math.exp(-geo.distance_to_main_road(point.x, point.y) / 120.0)
        grade: Grade = "reference" if n in references else "low-cost"
        interval = 60.0 if grade == "reference" else float(rng.choice((120, 300, 300)))
        spec = StationSpec(
            device_id=device_id,
            grade=grade,
            traffic_exposure=round(exposure, 3),
            urban=_URBAN[district.kind],
            gain=1.0 + rng.gauss(0.0, 0.02 if grade == "reference" else 0.08),
            interval=interval,
        )
        lon, lat = to_lonlat(point.x, point.y)
        stations.append(
            Station(
                device=Device(
                    device_id,
                    "air-quality-station",
                    f"urn:ngsi-ld:AirQualityObserved:{device_id}",
                    "AirQualityObserved",
                    gateway(district.key, "air"),
                    lon,
                    lat,
                    f"Air quality {label} ({'reference' if grade == 'reference' else 'sensor'} {n + 1})",
                ),
                spec=spec,
                district=district.name,
                phase=rng.uniform(0.0, interval),
            )
        )
    return stations


def _place_parking(config: CityConfig, geo: Geography, gateway: Any) -> tuple[list[Zone], list[Bay]]:
    rng = rng_for(config.seed, "parking")
    per_zone = max(2, config.bays_per_zone)
    zone_count = math.ceil(config.bays / per_zone) if config.bays else 0
    needed = math.ceil(per_zone / 2) * BAY_SPACING + 20.0
    candidates = [s for s in geo.streets if s.road_class == "residential" and s.line.length >= needed]
    order = _weighted_order(
        config.seed, "parking-streets", candidates, lambda s: _PARKING_WEIGHT[geo.district(s.district).kind]
    )
    zones: list[Zone] = []
    bays: list[Bay] = []
    remaining = config.bays
    for z in range(zone_count):
        street = order[z % len(order)]
        size = min(per_zone, remaining)
        remaining -= size
        district = geo.district(street.district)
        kind: ZoneKind
        if district.kind == "centre":
            kind = "short-stay"
        elif district.kind == "urban":
            kind = "medium-stay" if rng.random() < 0.6 else "residents"
        else:
            kind = "residents"
        max_stay = {"short-stay": 120.0, "medium-stay": 180.0, "residents": None}[kind]
        zone_id = f"urn:ngsi-ld:OnStreetParking:zone-{z + 1:03d}"
        per_side = math.ceil(size / 2)
        length = per_side * BAY_SPACING
        start = rng.uniform(10.0, max(10.0, street.line.length - length - 10.0))
        # A street used twice (tiny cities of many zones) shifts the second zone along.
        if z >= len(order):
            start = (start + length * (z // len(order))) % max(1.0, street.line.length - length)
        piece = substring(street.line, start, start + length)
        zone_line = piece if isinstance(piece, LineString) else street.line
        polygon = zone_line.buffer(7.0, cap_style="flat")
        bay_ids: list[str] = []
        for k in range(size):
            side = 1 if k % 2 == 0 else -1
            at = start + (k // 2 + 0.5) * BAY_SPACING
            point = street.line.interpolate(min(at, street.line.length))
            ahead = street.line.interpolate(min(street.line.length, at + 1.0))
            behind = street.line.interpolate(max(0.0, at - 1.0))
            dx, dy = ahead.x - behind.x, ahead.y - behind.y
            norm = math.hypot(dx, dy) or 1.0
            x, y = point.x - dy / norm * 4.0 * side, point.y + dx / norm * 4.0 * side
            lon, lat = to_lonlat(x, y)
            bay_id = f"bay-{len(bays) + 1:05d}"
            bay_ids.append(bay_id)
            bays.append(
                Bay(
                    device=Device(
                        bay_id,
                        "parking-bay-sensor",
                        f"urn:ngsi-ld:ParkingSpot:{bay_id}",
                        "ParkingSpot",
                        gateway(district.key, "parking"),
                        lon,
                        lat,
                        f"{street.name}, bay {k + 1}",
                    ),
                    zone_id=zone_id,
                    kind=kind,
                    district=district.name,
                    phase=rng.uniform(0.0, config.bay_heartbeat),
                )
            )
        zones.append(
            Zone(
                id=zone_id,
                name=f"{street.name} ({district.name})",
                kind=kind,
                district=district.name,
                bay_ids=tuple(bay_ids),
                geometry=geojson_geometry(polygon),
                max_stay_minutes=max_stay,
            )
        )
    return zones, bays


def _place_garages(config: CityConfig, geo: Geography, gateway: Any) -> list[Garage]:
    rng = rng_for(config.seed, "garages")
    garages: list[Garage] = []
    central = [d for d in geo.districts if d.kind in ("centre", "urban")]
    for n in range(config.garages):
        if n < len(GARAGES):
            name, district_name, kind, capacity = GARAGES[n]
            district = geo.district(slug(district_name))
        else:
            district = rng.choice(central)
            name, kind, capacity = (
                f"Parkhaus {district.name} {n + 1}",
                rng.choice(("shopping", "office", "mixed")),
                rng.randrange(200, 700, 10),
            )
        near = district.site.buffer(300.0).intersection(district.shape)
        point = _random_point_in(rng, near if not near.is_empty else district.shape)
        lon, lat = to_lonlat(point.x, point.y)
        device_id = f"garage-{n + 1:02d}"
        garages.append(
            Garage(
                device=Device(
                    device_id,
                    "garage-counter",
                    f"urn:ngsi-ld:OffStreetParking:{device_id}",
                    "OffStreetParking",
                    gateway(district.key, "parking"),
                    lon,
                    lat,
                    name,
                ),
                kind=kind,
                capacity=capacity,
                district=district.name,
            )
        )
    return garages
