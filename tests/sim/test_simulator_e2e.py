"""End to end: ``urbis simulate`` against a real ``urbis serve`` process, over HTTP and over MQTT.

A small city (50 lights, 5 stations, 60 bays, 1 garage) is provisioned through the public API,
runs accelerated for a short while, and the NGSI-LD API (current values and the temporal API)
shows that it lives.  A second run against the same server reuses the saved tokens; a third,
without them, rotates the gateways' tokens.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import need_service
from e2e.test_server_e2e import CLI, Server, run_cli, running_server, server_env
from mqtt_broker import MOSQUITTO, PrivateBroker

PASSWORD = "simulator-e2e-password"
LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SMALL = ["--lights", "50", "--stations", "5", "--bays", "60", "--garages", "1", "--seed", "11"]
SIMULATE_SECONDS = 180


def _setup(tmp_path: Path, backend: dict[str, str], **extra: str) -> tuple[dict[str, str], str, str]:
    """The server's environment, the tenant and an admin's username (the password is PASSWORD)."""
    tenant = backend["URBIS_DEFAULT_TENANT"]
    # Usernames are platform-wide and the PostgreSQL database is shared by the run: one per test.
    user = f"sim{uuid.uuid4().hex[:10]}"
    env = server_env(**backend, **extra)
    env["URBIS_DATA_DIR"] = str(tmp_path / "data")
    assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
    made = run_cli(
        ["user", "create", user, "--tenant", tenant, "--role", "admin", "--password-stdin"],
        env=env,
        cwd=tmp_path,
        stdin=f"{PASSWORD}\n",
    )
    assert made.returncode == 0, made.stderr
    return env, tenant, user


def _simulate_args(server: Server, tenant: str, tokens: Path, *extra: str, user: str) -> list[str]:
    return [
        *CLI,
        "simulate",
        "--url",
        server.url,
        "--tenant",
        tenant,
        "--username",
        user,
        "--tokens-file",
        str(tokens),
        *SMALL,
        *extra,
    ]


def _simulate(server: Server, env: dict[str, str], cwd: Path, tenant: str, user: str, tokens: Path, *extra: str) -> str:
    """Run ``urbis simulate`` to completion; its standard output."""
    result = subprocess.run(
        _simulate_args(server, tenant, tokens, *extra, user=user),
        env={**env, "URBIS_SIMULATE_PASSWORD": PASSWORD},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SIMULATE_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.describe()}"
    return result.stdout


def _get(http: httpx.Client, path: str, **params: str) -> Any:
    response = http.get(path, params=params, headers={"Link": LINK})
    assert response.status_code in (200, 206), response.text
    return response.json()


def _count(http: httpx.Client, type_name: str, q: str | None = None) -> int:
    params = {"type": type_name, "count": "true", "limit": "0"}
    if q is not None:
        params["q"] = q
    response = http.get("/ngsi-ld/v1/entities", params=params, headers={"Link": LINK})
    assert response.status_code == 200, response.text
    return int(response.headers["NGSILD-Results-Count"])


def _wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def admin_http(tmp_path: Path) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def make(server: Server, tenant: str, user: str) -> httpx.Client:
        token = httpx.post(
            f"{server.url}/auth/token",
            data={"grant_type": "password", "username": user, "password": PASSWORD, "tenant": tenant},
            timeout=15,
        ).json()["access_token"]
        client = server.client(Authorization=f"Bearer {token}", **{"NGSILD-Tenant": tenant})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_the_simulated_city_lives_in_urbis_over_http(tmp_path: Path, backend: dict[str, str], admin_http: Any) -> None:
    env, tenant, user = _setup(tmp_path, backend)
    tokens = tmp_path / "tokens.json"
    start = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    with running_server(tmp_path, env, data_dir=tmp_path / "data") as server:
        http = admin_http(server, tenant, user)
        process = subprocess.Popen(
            _simulate_args(
                server,
                tenant,
                tokens,
                *("--speed", "900", "--start", start, "--duration", "20", "--backfill-days", "0.1"),
                user=user,
            ),
            env={**env, "URBIS_SIMULATE_PASSWORD": PASSWORD},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            garage_id = "urn:ngsi-ld:OffStreetParking:garage-01"
            station_id = "urn:ngsi-ld:AirQualityObserved:aq-001"

            def station_observed() -> str | None:
                response = http.get(f"/ngsi-ld/v1/entities/{station_id}", headers={"Link": LINK})
                if response.status_code != 200 or "pm25" not in response.json():
                    return None
                observed: str = response.json()["pm25"]["observedAt"]
                return observed

            first = _wait_for(station_observed, 60, "the first air-quality reading")
            later = _wait_for(lambda: (value := station_observed()) and value > first and value, 60, "a newer reading")
            assert later > first  # the station's values change over time, live
            stdout, stderr = process.communicate(timeout=SIMULATE_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, f"{stdout}\n{stderr}"
        assert "provisioned" in stdout and " 0 failed" in stdout, stdout

        # The whole small city is there, in the Urbis terms.
        assert _count(http, "Streetlight") == 50
        assert _count(http, "AirQualityObserved") == 5
        assert _count(http, "ParkingSpot") == 60
        assert _count(http, "OffStreetParking") == 1
        assert _count(http, "AdministrativeArea") == 56
        assert _count(http, "StreetlightControlCabinet") >= 1 and _count(http, "OnStreetParking") == 2
        # Every device has reported: lights with a power state, bays free or occupied.
        assert _count(http, "Streetlight", "powerState") == 50
        assert _count(http, "ParkingSpot", 'status=="free"') + _count(http, "ParkingSpot", 'status=="occupied"') == 60
        garage = _get(http, f"/ngsi-ld/v1/entities/{garage_id}", options="keyValues")
        assert garage["occupiedSpotNumber"] + garage["availableSpotNumber"] == garage["totalSpotNumber"]
        # History: the garage counted every five minutes over the hours simulated.
        temporal = _get(http, f"/ngsi-ld/v1/temporal/entities/{garage_id}", attrs="vehicleEntranceCount", lastN="100")
        entries = temporal["vehicleEntranceCount"]
        values = [instance["value"] for instance in entries]
        assert len(values) >= 20
        assert sorted(values) == values and values[-1] > values[0]  # a counter grows
        lamp = _get(
            http,
            "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Streetlight:lamp-00001",
            attrs="energyConsumed",
            lastN="100",
        )
        energy = [instance["value"] for instance in lamp["energyConsumed"]]
        assert len(energy) >= 10 and energy[-1] >= energy[0]

        # A second run reuses the saved tokens: nothing new, nothing rotated, measures accepted.
        again = _simulate(server, env, tmp_path, tenant, user, tokens, "--duration", "2")
        assert "0 new" in again and "0 tokens rotated" in again and " 0 failed" in again, again
        # A third run without the tokens file rotates the gateways' tokens and still works.
        fresh = _simulate(server, env, tmp_path, tenant, user, tmp_path / "other-tokens.json", "--duration", "2")
        assert "0 new" in fresh and "0 tokens rotated" not in fresh and " 0 failed" in fresh, fresh
        assert (tmp_path / "other-tokens.json").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    need_service(None if Path(MOSQUITTO).exists() else f"no mosquitto binary at {MOSQUITTO}")
    private = PrivateBroker(tmp_path / "broker")
    private.start()
    yield private
    private.stop()


def test_the_simulated_city_reports_over_mqtt(
    tmp_path: Path, backend: dict[str, str], broker: PrivateBroker, admin_http: Any
) -> None:
    env, tenant, user = _setup(
        tmp_path, backend, URBIS_MQTT_URL=broker.url, URBIS_MQTT_CLIENT_ID=f"urbis-{uuid.uuid4().hex[:8]}"
    )
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    with running_server(tmp_path, env, data_dir=tmp_path / "data") as server:
        http = admin_http(server, tenant, user)
        out = _simulate(
            server,
            env,
            tmp_path,
            tenant,
            user,
            tmp_path / "tokens.json",
            "--transport",
            "mqtt",
            "--mqtt-url",
            broker.url,
            "--speed",
            "900",
            "--start",
            start,
            "--duration",
            "6",
        )
        assert " 0 failed" in out, out

        def all_bays_reported() -> bool:
            return _count(http, "ParkingSpot", "status") == 60

        _wait_for(all_bays_reported, 60, "every bay's first MQTT report to be stored")
        _wait_for(lambda: _count(http, "Streetlight", "powerState") == 50, 30, "every lamp's first MQTT report")
        temporal = _get(
            http,
            "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:OffStreetParking:garage-01",
            attrs="occupiedSpotNumber",
            lastN="50",
        )
        assert len(temporal["occupiedSpotNumber"]) >= 6  # an hour of 5-minute counts came through the broker


def test_simulate_without_a_server_fails_cleanly(tmp_path: Path) -> None:
    env = server_env()
    result = subprocess.run(
        [*CLI, "simulate", "--url", "http://127.0.0.1:9", "--token", "x", "--wait", "1", *SMALL],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "not ready" in result.stderr and "Traceback" not in result.stderr
