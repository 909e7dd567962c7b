"""The air-quality API on SQLite and PostgreSQL: station indices and area figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.context.history import us_to_iso
from urbis.ingestion.messages import DeviceReadings, Measure


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
