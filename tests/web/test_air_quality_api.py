"""The air-quality API on SQLite and PostgreSQL: station indices and area figures, daily values, WHO figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.context.history import us_to_iso
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.solutions.air_quality.const import CHANNEL_A_DATASET, CHANNEL_B_DATASET
from urbis.solutions.air_quality.model import local_day_start


def test_station_indices_and_the_worst_station_per_area(client: TestClient, tenant: str) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    readings = []
    for n, (district, pm25) in enumerate([("Centre", 40.0), ("Centre", 12.0), ("North", 5.0)]):
        measures = []
        for back in range(1, 13):
            at = int((end - timedelta(hours=back, minutes=-30)).timestamp() * 1_000_000)
            measures.append(Measure("pm25", pm25 + (0.1 if back % 2 else -0.1), us_to_iso(at), at))
        seed = {"areaServed": {"type": "Property", "value": district}}
        readings.append(
            DeviceReadings(
                tenant, f"aq-{n}", f"urn:ngsi-ld:AirQualityObserved:s{n}", "AirQualityObserved", measures, seed
            )
        )
    client.app.state.context.record(readings, received_us=0)  # type: ignore[attr-defined]
    stations = client.get("/api/v1/air-quality/stations").json()
    # NowCasts 40.0 -> 112, 12.0 -> 51 + 49 / 26.3 * 2.9 = 56.4 -> 56, 5.0 -> 50 / 9 * 5 = 27.8 -> 28.
    assert [s["usAqi"]["index"] for s in stations] == [112, 56, 28]
    assert stations[0]["usAqi"]["responsiblePollutant"] == "pm25" and stations[0]["flaggedHours"] == {}
    summary = client.get("/api/v1/air-quality/summary").json()
    assert summary["city"]["usAqi"] == 112 and summary["city"]["worstStation"] == "urn:ngsi-ld:AirQualityObserved:s0"
    assert [(d["name"], d["usAqi"], d["stations"]) for d in summary["districts"]] == [
        ("Centre", 112, 2),
        ("North", 28, 1),
    ]
    assert_problem(client.get("/api/v1/air-quality/stations", params={"scale": "x"}), 400)
    forecast = client.get("/api/v1/air-quality/stations/urn:ngsi-ld:AirQualityObserved:s0/forecast").json()
    assert forecast["pollutant"] == "pm25" and len(forecast["hours"]) == 24
    assert "beatsPersistence" in forecast["backtest"]
    path = "/api/v1/air-quality/stations/urn:ngsi-ld:AirQualityObserved:s0/forecast"
    assert_problem(client.get(path, params={"pollutant": "radon"}), 400)
    assert_problem(client.get("/api/v1/air-quality/stations/urn:ngsi-ld:AirQualityObserved:none/forecast"), 404)


def test_reading_follows_the_context_read_rules(db_url: str, tenant: str) -> None:
    with TestClient(create_app(make_settings(db_url, tenant, ngsild_open=False))) as client:
        assert_problem(client.get("/api/v1/air-quality/summary"), 401)


def measure(attribute: str, hour: datetime, value: float, dataset_id: str | None = None) -> Measure:
    at = int((hour + timedelta(minutes=30)).timestamp() * 1_000_000)
    return Measure(attribute, value, us_to_iso(at), at, dataset_id=dataset_id)


def test_channels_and_the_humidity_correction_are_shown_per_hour(client: TestClient, tenant: str) -> None:
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hours = [last - timedelta(hours=1), last]
    measures = [
        *(measure("pm25", hour, 45.0, CHANNEL_A_DATASET) for hour in hours),
        *(measure("pm25", hour, 47.0, CHANNEL_B_DATASET) for hour in hours),
        measure("pm25", last - timedelta(hours=2), 10.0, CHANNEL_A_DATASET),
        measure("pm25", last - timedelta(hours=2), 40.0, CHANNEL_B_DATASET),
        *(measure("relativeHumidity", hour, 0.5) for hour in hours),
    ]
    seed = {"sensorGrade": {"type": "Property", "value": "low-cost"}}
    station = "urn:ngsi-ld:AirQualityObserved:pa"
    client.app.state.context.record(  # type: ignore[attr-defined]
        [DeviceReadings(tenant, "pa", station, "AirQualityObserved", measures, seed)], received_us=0
    )
    (found,) = client.get("/api/v1/air-quality/stations").json()
    # A/B mean 46 at 50 % RH: 0.524 · 46 − 0.0862 · 50 + 5.75 = 25.544 → NowCast 25.5 → AQI 82 (127 uncorrected).
    assert found["usAqi"]["index"] == 82 and found["sensorGrade"] == "low-cost"
    assert found["flaggedHours"] == {"pm25": [{"hour": 21, "flags": ["channel-disagreement", "humidity-missing"]}]}
    inputs = found["inputs"]["pm25"]
    assert (inputs["source"], inputs["correction"]) == ("channels", "epa-barkjohn-2021-us-wide")
    # Hour 21 has no humidity: flagged for it as well as for the disagreement, and left uncorrected.
    assert inputs["hours"] == [
        {
            "hour": 21,
            "channelA": 10.0,
            "channelB": 40.0,
            "raw": 25.0,
            "relativeHumidity": None,
            "value": 25.0,
            "corrected": False,
            "flags": ["channel-disagreement", "humidity-missing"],
        },
        *(
            {
                "hour": hour,
                "channelA": 45.0,
                "channelB": 47.0,
                "raw": 46.0,
                "relativeHumidity": 50.0,
                "value": 25.54,
                "corrected": True,
                "flags": [],
            }
            for hour in (22, 23)
        ),
    ]


def test_daily_values_and_who_figures(client: TestClient, tenant: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")  # the service's default time zone
    yesterday = datetime.now(berlin).date() - timedelta(days=1)
    start = local_day_start(yesterday, berlin)
    # 20 hours of yesterday (19 and 21 in turn: mean 20), enough for a day of 23, 24 or 25 hours.
    measures = [measure("pm25", start + timedelta(hours=n), 19.0 if n % 2 == 0 else 21.0) for n in range(20)]
    station = "urn:ngsi-ld:AirQualityObserved:d1"
    seed = {"areaServed": {"type": "Property", "value": "Centre"}}
    client.app.state.context.record(  # type: ignore[attr-defined]
        [DeviceReadings(tenant, "d1", station, "AirQualityObserved", measures, seed)], received_us=0
    )
    window = {"from": yesterday.isoformat(), "to": yesterday.isoformat()}
    daily = client.get(f"/api/v1/air-quality/stations/{station}/daily", params=window).json()
    assert (daily["from"], daily["to"], daily["timezone"]) == (window["from"], window["to"], "Europe/Berlin")
    pm25 = daily["pollutants"]["pm25"]
    assert pm25["statistic"] == "24h-mean"
    (day,) = pm25["days"]
    assert (day["date"], day["status"], day["value"], day["validHours"]) == (window["from"], "complete", 20.0, 20)
    who = pm25["who"]
    # 20 > 15 (AQG): one exceedance; 20 ≤ 25 (IT-4): none there.
    assert (who["exceedanceDays"], who["validDays"], who["complies"], who["guideline"]) == (1, 1, False, 15.0)
    assert who["exceedanceDaysByLevel"] == {"IT-1": 0, "IT-2": 0, "IT-3": 0, "IT-4": 0, "AQG": 1}
    assert who["annual"]["assessed"] is False and who["annual"]["exceeds"] is None
    report = client.get("/api/v1/air-quality/who", params=window).json()
    assert report["city"]["pollutants"]["pm25"]["worstStation"] == station
    assert [(d["name"], d["stations"]) for d in report["districts"]] == [("Centre", 1)]
    assert report["stations"][0]["pollutants"]["pm25"]["exceedanceDays"] == 1
    # This year so far by default.
    assert client.get("/api/v1/air-quality/who").json()["from"] == date(datetime.now(berlin).year, 1, 1).isoformat()
    path = f"/api/v1/air-quality/stations/{station}/daily"
    future = (datetime.now(berlin).date() + timedelta(days=2)).isoformat()
    for params in (
        {"from": "2026-13-01"},
        {"from": "0001-01-01"},
        {"from": window["from"], "to": (yesterday - timedelta(days=1)).isoformat()},
        {"from": "2024-01-01", "to": "2025-01-01"},  # 367 days
        {"from": future},
        {"day": window["from"]},
    ):
        assert_problem(client.get(path, params=params), 400)
        assert_problem(client.get("/api/v1/air-quality/who", params=params), 400)
    assert_problem(client.get("/api/v1/air-quality/stations/urn:ngsi-ld:AirQualityObserved:none/daily"), 404)


def test_the_alert_threshold_comes_from_the_settings(db_url: str, tenant: str) -> None:
    settings = make_settings(db_url, tenant, air_quality_alert_aqi=151, air_quality_alert_hysteresis=20)
    app = create_app(settings)
    rule = app.state.air_quality.alert_rule
    assert (rule.threshold, rule.clear_below) == (151, 131)
