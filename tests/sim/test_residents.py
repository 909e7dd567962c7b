"""Simulated residents: a dark lamp of the simulation is reported naming the lamp, through the real reports API."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from urbis.sim.faults import Fault, FaultRates
from urbis.sim.residents import Residents
from urbis.sim.world import CityConfig, build_city


def small_city():  # type: ignore[no-untyped-def]
    return build_city(CityConfig(seed=3, lights=20, stations=0, bays=0, garages=0, faults=FaultRates.none()))


def test_a_dark_lamp_is_reported_once_naming_the_lamp_and_other_days_bring_everyday_problems() -> None:
    city = small_city()
    lamp = city.lights[4]
    residents = Residents(httpx.AsyncClient(), "t", lambda: asyncio.sleep(0, "x"), city)  # type: ignore[arg-type]
    faults = [Fault(lamp.device.id, "lamp-failure", 0.0, 100.0), Fault(city.lights[5].device.id, "day-burner", 0, 9)]
    first = residents.next_report(faults)
    assert first["service"] == "streetlight"
    assert (first["objectType"], first["objectId"]) == ("Streetlight", lamp.device.entity_id)
    assert (first["lat"], first["long"]) == (lamp.device.lat, lamp.device.lon)
    second = residents.next_report(faults)  # the lamp is reported already; a day-burner is no dark lamp
    assert second["service"] in {"pothole", "litter", "graffiti"}
    assert "objectId" not in second


def test_residents_report_through_the_api_as_a_logged_in_resident(app: FastAPI, tenant: str) -> None:
    city = small_city()
    lamp = city.lights[0]
    app.state.context.upsert_documents(
        tenant,
        [
            {
                "id": lamp.device.entity_id,
                "type": "Streetlight",
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [lamp.device.lon, lamp.device.lat]},
                },
            }
        ],
    )
    app.state.accounts.create_user(f"neighbour-{tenant}", "a-long-enough-password-1", tenant=tenant, roles=["citizen"])
    logins = []

    async def scenario() -> Residents:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://city") as client:

            async def login() -> str:
                response = await client.post(
                    "/auth/token",
                    data={
                        "grant_type": "password",
                        "username": f"neighbour-{tenant}",
                        "password": "a-long-enough-password-1",
                    },
                )
                logins.append(response.status_code)
                return str(response.json()["access_token"])

            residents = Residents(client, tenant, login, city)
            assert await residents.report(residents.next_report([Fault(lamp.device.id, "lamp-failure", 0, 1)]))
            residents.token = "expired-or-broken"  # a stale token: the resident logs in again
            assert await residents.report(residents.next_report([]))
            return residents

    residents = asyncio.run(scenario())
    assert residents.stats.reported == 2 and residents.stats.failed == 0
    assert logins == [200, 200]
    mine = app.state.citizen_reports.reports_of(tenant, f"neighbour-{tenant}")
    assert len(mine) == 2 and all(report.public for report in mine)
    assert {report.object_id for report in mine} == {lamp.device.entity_id, None}
