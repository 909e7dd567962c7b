"""The city map's read model on a small city, both backends: layers, choropleth figures and object details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from test_aq_service import STATION, record
from test_lighting_service import LAT, LON, lamp_report, make_installation, make_streetlight, point, prop
from test_parking_service import bay, garage, zone

from conftest import make_settings
from urbis.app import create_app
from urbis.context.history import us_to_iso
from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.core.clock import FixedClock
from urbis.core.errors import NotFound
from urbis.dashboard.mapdata import LAYERS, MapService, hourly_aqi
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.operations.model import Alarm, AlarmReport, Severity

NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
TODAY = NOW.replace(minute=0)
CENTRE = "urn:ngsi-ld:AdministrativeArea:centre"
NORTH = "urn:ngsi-ld:AdministrativeArea:north"
BOROUGH = "urn:ngsi-ld:AdministrativeArea:bonn"
ROAD = "urn:ngsi-ld:Road:main-street"
ZONE1, ZONE2 = "urn:ngsi-ld:OnStreetParking:z1", "urn:ngsi-ld:OnStreetParking:z2"
GARAGE = "urn:ngsi-ld:OffStreetParking:g1"


def lamp_id(n: int) -> str:
    return f"urn:ngsi-ld:Streetlight:l{n}"


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [ring]}}


def area(entity_id: str, name: str, location: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"id": entity_id, "type": "AdministrativeArea", "name": prop(name), "location": location}
    if parent is not None:
        document["containedInPlace"] = {"type": "Relationship", "object": parent}
    return document


def at(hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return TODAY.replace(hour=int(hours), minute=int(minutes))


def readings(tenant: str, entity: str, entity_type: str, series: dict[str, list[tuple[str, Any]]]) -> DeviceReadings:
    measures = []
    for name, values in series.items():
        for hh_mm, value in values:
            moment = int(at(hh_mm).timestamp() * 1_000_000)
            measures.append(Measure(name, value, us_to_iso(moment), moment))
    return DeviceReadings(tenant, entity, entity, entity_type, measures)


def build_city(app: FastAPI, tenant: str) -> dict[str, Alarm]:
    """A small city: two districts in a borough, a street, five lamps, a station, two zones, a garage, alarms.

    * Centre (7.09-7.11 E, 50.72-50.74 N): lamps l1-l4 (areaServed "Centre"), l2 with a failure alarm;
      the station (US AQI 112); zone 1 with 3 of 5 bays taken and the garage with 20 of 100 spaces.
    * North (7.09-7.11 E, 50.74-50.78 N): lamp l5 with no areaServed, placed by its position, dimmed;
      zone 2 with both bays taken; a parking alarm located there on a source that is not on the map.
    """
    context = app.state.context
    documents = [
        area(BOROUGH, "Bonn", box(7.0, 50.6, 7.2, 50.9)),
        area(CENTRE, "Centre", box(7.09, 50.72, 7.11, 50.74), BOROUGH),
        area(NORTH, "North", box(7.09, 50.74, 7.11, 50.78), BOROUGH),
        {
            "id": ROAD,
            "type": "Road",
            "name": prop("Main Street"),
            "roadClass": prop("primary"),
            "length": prop(1420.5),
            "location": {
                "type": "GeoProperty",
                "value": {"type": "LineString", "coordinates": [[7.09, 50.73], [7.11, 50.75]]},
            },
        },
        *make_installation(4),
        {key: value for key, value in make_streetlight(5, location=point(7.10, 50.75)).items() if key != "areaServed"},
        zone(1, "Centre", 7.10, 50.73),
        zone(2, "North", 7.10, 50.76),
        *(bay(i, 1, "occupied" if i < 3 else "free") for i in range(5)),
        *(bay(i, 2, "occupied") for i in range(2)),
        garage(100, 20, 7.101, 50.731),
    ]
    assert not context.upsert_documents(tenant, documents).errors
    # History for the details: lamp l1's level and power, zone 1's written-back occupancy.
    context.record(
        [
            readings(
                tenant,
                lamp_id(1),
                "Streetlight",
                {
                    "powerConsumption": [("10:30", 40.0), ("10:45", 20.0), ("11:30", 10.0)],
                    "illuminanceLevel": [("10:30", 1.0), ("10:45", 0.5), ("11:30", 0.2)],
                },
            ),
            readings(tenant, ZONE1, "OnStreetParking", {"occupancy": [("10:00", 0.5), ("10:30", 1.0)]}),
        ],
        received_us=0,
    )
    reports = [lamp_report(n, NOW - timedelta(minutes=5), on=True, power_w=40.0) for n in range(1, 5)]
    reports.append({"id": lamp_id(5), "type": "Streetlight", "powerState": prop("on"), "illuminanceLevel": prop(0.5)})
    assert not context.update_documents(tenant, reports).errors
    # Air: PM2.5 about 40 µg/m³ for the last 12 hours (US AQI 112, worked in test_aq_service), at a position in Centre.
    record(context, tenant, TODAY, 40.0)
    station_place = {"id": STATION, "type": "AirQualityObserved", "location": point(7.102, 50.732)}
    assert not context.update_documents(tenant, [station_place]).errors
    operations = app.state.operations
    failure = operations.report(
        AlarmReport(tenant, "lighting", "lampFailure", lamp_id(2), Severity.HIGH, "lamp l2 is dark", NOW)
    )
    silent = operations.report(
        AlarmReport(
            tenant,
            "parking",
            "sensorSilent",
            "urn:ngsi-ld:Device:sensor-9",
            Severity.LOW,
            "sensor 9 silent",
            NOW,
            location={"type": "Point", "coordinates": [7.10, 50.77]},
        )
    )
    # Neither on the map nor counted: an alarm with no position, and a closed one.
    operations.report(AlarmReport(tenant, "parking", "misc", "urn:ngsi-ld:Thing:x", Severity.INFORMATIONAL, "?", NOW))
    operations.report(AlarmReport(tenant, "lighting", "lampFailure", lamp_id(3), Severity.HIGH, "dark", NOW))
    operations.recover(tenant, "lighting", "lampFailure", lamp_id(3), NOW)
    return {"failure": failure, "silent": silent}


def map_service(app: FastAPI) -> MapService:
    state = app.state
    return MapService(
        state.context,
        state.contexts.resolve(URBIS_CONTEXT_URL).expand,
        air_quality=state.air_quality,
        lighting=state.lighting,
        parking=state.parking,
        operations=state.operations,
        temporal=state.temporal,
        clock=state.dashboard.clock,
    )


@pytest.fixture
def city_app(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant), clock=FixedClock(NOW))
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    app.state.city_alarms = build_city(app, tenant)
    return app


def features(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in collection["features"]}


def test_the_layers_of_a_small_city_worked_by_hand(city_app: FastAPI, tenant: str) -> None:
    alarms = city_app.state.city_alarms
    city = map_service(city_app).city_map(tenant)
    assert list(city.layers()) == list(LAYERS) and city.at == NOW
    assert city.reports == {"type": "FeatureCollection", "features": []}
    # The borough contains the two districts: only they are drawn.
    districts = features(city.districts)
    assert list(districts) == [CENTRE, NORTH]  # by name
    assert districts[CENTRE]["geometry"]["type"] == "Polygon" and districts[CENTRE]["properties"]["name"] == "Centre"
    (street,) = city.streets["features"]
    assert (street["id"], street["properties"]["roadClass"], street["geometry"]["type"]) == (
        ROAD,
        "primary",
        "LineString",
    )

    lights = features(city.lights)
    assert {key: f["properties"]["state"] for key, f in lights.items()} == {
        lamp_id(1): "dimmed",  # on at level 0.2, its last report
        lamp_id(2): "fault",
        lamp_id(3): "on",  # its alarm was closed
        lamp_id(4): "on",
        lamp_id(5): "dimmed",  # level 0.5
    }
    assert lights[lamp_id(2)]["geometry"] == {"type": "Point", "coordinates": [LON + 0.0004, LAT]}
    assert lights[lamp_id(5)]["properties"]["level"] == 0.5

    (station,) = city.air["features"]
    assert station["id"] == STATION and station["geometry"]["coordinates"] == [7.102, 50.732]
    assert (station["properties"]["usAqi"], station["properties"]["band"]) == (112, 3)

    parking = features(city.parking)
    assert list(parking) == [ZONE1, ZONE2, GARAGE]
    assert {
        k: (p["properties"]["occupancy"], p["properties"]["free"], p["properties"]["capacity"])
        for k, p in parking.items()
    } == {
        ZONE1: (0.6, 2, 5),
        ZONE2: (1.0, 0, 2),
        GARAGE: (0.2, 80, 100),
    }

    # The failure has no location of its own: it sits on its lamp. The informational alarm has none at all.
    on_map = [
        (f["properties"]["alarmId"], f["properties"]["severity"], f["geometry"]["coordinates"])
        for f in city.alarms["features"]
    ]
    assert on_map == [
        (alarms["failure"].id, "high", [LON + 0.0004, LAT]),
        (alarms["silent"].id, "low", [7.10, 50.77]),
    ]
    assert city.alarms["features"][0]["id"] == f"urn:ngsi-ld:Alert:{alarms['failure'].id}"


def test_the_choropleth_figures_of_each_district_worked_by_hand(city_app: FastAPI, tenant: str) -> None:
    districts = features(map_service(city_app).city_map(tenant).districts)
    centre = {k: v for k, v in districts[CENTRE]["properties"].items() if k not in ("id", "kind", "name")}
    # Centre: the station's 112 (band 3); zone 1 (3 taken, 2 free) and the garage (20 taken, 80 free):
    # 23 of 105 known spaces = 0.21905; lamps l1-l4 with l2 faulty: 3 / 4; one active alarm (on l2).
    assert centre == {
        "usAqi": 112,
        "aqiBand": 3,
        "worstStation": STATION,
        "stations": 1,
        "parkingOccupancy": 0.219,
        "parkingFree": 82,
        "parkingCapacity": 105,
        "lightsWorking": 0.75,
        "lamps": 4,
        "lampsWorking": 3,
        "openAlarms": 1,
    }
    north = districts[NORTH]["properties"]
    # North: no station; zone 2 full; l5 placed by its position and working; the located parking alarm.
    assert (north["usAqi"], north["aqiBand"], north["stations"]) == (None, None, 0)
    assert (north["parkingOccupancy"], north["parkingFree"], north["parkingCapacity"]) == (1.0, 0, 2)
    assert (north["lightsWorking"], north["lamps"], north["openAlarms"]) == (1.0, 1, 1)


def test_a_lamp_s_detail_has_its_values_alarms_and_hourly_level_and_power(city_app: FastAPI, tenant: str) -> None:
    maps = map_service(city_app)
    lamp = maps.object_detail(tenant, lamp_id(1))
    assert (lamp.kind, lamp.type, lamp.name, lamp.district) == ("lamp", "Streetlight", "l1", "Centre")
    assert (lamp.values["state"], lamp.values["level"], lamp.values["powerW"]) == ("dimmed", 0.2, 40.0)
    assert lamp.alarms == []
    history = lamp.history
    assert history is not None
    # The 24 complete hours before 12:10: from 12:00 yesterday to 11:00 today.
    assert history.start == NOW.replace(minute=0) - timedelta(days=1) and len(history.times) == 24
    assert history.times[-1] == at("11:00")
    level, power = history.series
    # 10h: level (1.0 + 0.5) / 2 = 75 %, power (40 + 20) / 2 = 30 W; 11h: 20 % and 10 W.
    assert (level.key, level.unit, level.values) == ("level", "%", [None] * 22 + [75.0, 20.0])
    assert (power.key, power.unit, power.values) == ("power", "W", [None] * 22 + [30.0, 10.0])

    faulty = maps.object_detail(tenant, lamp_id(2))
    assert faulty.values["state"] == "fault"
    assert [a.id for a in faulty.alarms] == [city_app.state.city_alarms["failure"].id]
    # An alarm's id opens its source's detail.
    failure_id = city_app.state.city_alarms["failure"].id
    assert maps.object_detail(tenant, f"urn:ngsi-ld:Alert:{failure_id}").id == lamp_id(2)


def test_a_station_s_detail_charts_its_hourly_pm25_and_aqi(city_app: FastAPI, tenant: str) -> None:
    station = map_service(city_app).object_detail(tenant, STATION)
    assert (station.kind, station.name, station.district) == ("station", "Bonn Centre", "Centre")
    assert (station.values["usAqi"], station.values["aqiBand"], station.values["pollutant"]) == (112, 3, "pm25")
    assert station.values["pm25"] == 40.1 and station.values["no2"] == 100.0  # the last hour's means
    assert station.history is not None
    pm25, aqi = station.history.series
    # Readings 1 to 12 hours back at half past: 40.1 at odd hours back, 39.9 at even ones (the last, 11:30, odd).
    assert pm25.values == [None] * 12 + [39.9, 40.1] * 6
    # One hour of PM2.5 is no NowCast (2 of the 3 latest hours needed); from two hours on NowCast 40.0 -> 112.
    assert aqi.values == [None] * 13 + [112.0] * 11


def test_hourly_aqi_ends_with_the_station_s_index(city_app: FastAPI, tenant: str) -> None:
    (station,) = city_app.state.air_quality.stations(tenant, NOW)
    assert hourly_aqi(station)[-1] == station.us.index == 112


def test_parking_details_chart_the_occupancy(city_app: FastAPI, tenant: str) -> None:
    maps = map_service(city_app)
    zone1 = maps.object_detail(tenant, ZONE1)
    assert zone1.kind == "zone" and zone1.district == "Centre"
    assert (zone1.values["occupancy"], zone1.values["free"], zone1.values["capacity"]) == (0.6, 2, 5)
    assert zone1.history is not None
    # 10h: quarters 0.5, 0.5 (carried), 1.0, 1.0 -> 75 %; 11h: 1.0 carried -> 100 %; nothing known before 10:00.
    assert zone1.history.series[0].values == [None] * 22 + [75.0, 100.0]
    garage_detail = maps.object_detail(tenant, GARAGE)
    assert garage_detail.kind == "garage" and garage_detail.values["occupancy"] == 0.2
    bay_detail = maps.object_detail(tenant, "urn:ngsi-ld:ParkingSpot:z1-b0")
    assert (bay_detail.kind, bay_detail.values["status"], bay_detail.values["zone"]) == ("bay", "occupied", ZONE1)


def test_district_and_street_details(city_app: FastAPI, tenant: str) -> None:
    maps = map_service(city_app)
    north = maps.object_detail(tenant, NORTH)
    assert north.kind == "district" and north.values["parkingOccupancy"] == 1.0 and north.values["lamps"] == 1
    # The district's alarms are those counted in it.
    assert [a.id for a in north.alarms] == [city_app.state.city_alarms["silent"].id]
    street = maps.object_detail(tenant, ROAD)
    assert (street.kind, street.name, street.values) == (
        "street",
        "Main Street",
        {"roadClass": "primary", "length": 1420.5},
    )
    assert street.history is None
    detail = street.to_json()
    assert detail["id"] == ROAD and detail["alarms"] == [] and detail["history"] is None


def test_an_alarm_whose_source_is_not_in_the_city_is_shown_alone(city_app: FastAPI, tenant: str) -> None:
    silent = city_app.state.city_alarms["silent"]
    detail = map_service(city_app).object_detail(tenant, f"urn:ngsi-ld:Alert:{silent.id}")
    assert (detail.kind, detail.id, detail.name) == ("alarm", f"urn:ngsi-ld:Alert:{silent.id}", "sensor 9 silent")
    assert detail.values == {"source": "urn:ngsi-ld:Device:sensor-9"} and [a.id for a in detail.alarms] == [silent.id]


def test_the_streets_can_be_left_out(city_app: FastAPI, tenant: str) -> None:
    city = map_service(city_app).city_map(tenant, streets=False)
    assert city.streets["features"] == [] and len(city.lights["features"]) == 5
    assert list(city.to_json(["lights"])["layers"]) == ["lights"]


@pytest.mark.parametrize("unknown", ["urn:ngsi-ld:Streetlight:nowhere", "not an id", "urn:ngsi-ld:Alert:nothing"])
def test_unknown_objects_are_not_found(city_app: FastAPI, tenant: str, unknown: str) -> None:
    with pytest.raises(NotFound):
        map_service(city_app).object_detail(tenant, unknown)


def test_an_empty_city_has_empty_layers(db_url: str, tenant: str) -> None:
    app = create_app(make_settings(db_url, tenant), clock=FixedClock(NOW))
    city = map_service(app).city_map(tenant).to_json()
    assert city["kpis"] == ["usAqi", "parkingOccupancy", "lightsWorking", "openAlarms"]
    assert all(layer["features"] == [] for layer in city["layers"].values())
