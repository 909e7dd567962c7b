"""The NGSI-LD temporal API through HTTP, on SQLite and PostgreSQL.

History is made the way clients make it: an entity is created and its attributes updated through
``/entities`` with ``observedAt``, and the context service records every instance.  The vehicle is
the ETSI suite's ``2020-08-vehicle-temporal-representation``; expected bodies are the suite's
expectation files (020_04, 020_11, 021_14, 021_17) or worked out by hand.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from context.history_builders import MINUTE_US, SPEED, us, write_bulk
from problem_details import assert_problem
from urbis.context.rollup import SAFETY_LAG_US
from urbis.context.temporal import TemporalService
from urbis.core.auth.tokens import Actor, issue_token

BASE = "/ngsi-ld/v1"
TEMPORAL = f"{BASE}/temporal/entities"
QUERY = f"{BASE}/temporal/entityOperations/query"
VEHICLE = "urn:ngsi-ld:Vehicle:A"


def prop(value: Any, observed: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": observed}


def make_vehicle(client: TestClient, entity_id: str = VEHICLE, headers: dict[str, str] | None = None) -> None:
    """speed 120 @12:03, 80 @12:05, 100 @12:07; fuelLevel 67 @12:03, 53 @13:05, 40 @14:07 (2020-08-01)."""
    headers = headers or {}
    created = client.post(
        f"{BASE}/entities",
        json={
            "id": entity_id,
            "type": "Vehicle",
            "speed": prop(120, "2020-08-01T12:03:00Z"),
            "fuelLevel": prop(67, "2020-08-01T12:03:00Z"),
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    for fragment in (
        {"speed": prop(80, "2020-08-01T12:05:00Z")},
        {"speed": prop(100, "2020-08-01T12:07:00Z")},
        {"fuelLevel": prop(53, "2020-08-01T13:05:00Z")},
        {"fuelLevel": prop(40, "2020-08-01T14:07:00Z")},
    ):
        response = client.patch(f"{BASE}/entities/{entity_id}/attrs", json=fragment, headers=headers)
        assert response.status_code == 204, response.text


def values(body: dict[str, Any], attr: str) -> list[tuple[Any, str]]:
    return [(i["value"], i["observedAt"]) for i in body.get(attr, [])]


T = "2020-08-01T{}:00.000000Z".format


# -- representations -------------------------------------------------------------------------


def test_normalized_temporal_representation(client: TestClient) -> None:
    make_vehicle(client)
    response = client.get(f"{TEMPORAL}/{VEHICLE}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "rel=" in response.headers["link"]
    body = response.json()
    assert body["id"] == VEHICLE and body["type"] == "Vehicle"
    assert values(body, "speed") == [(120, T("12:03")), (80, T("12:05")), (100, T("12:07"))]
    assert values(body, "fuelLevel") == [(67, T("12:03")), (53, T("13:05")), (40, T("14:07"))]
    ids = [i["instanceId"] for i in body["speed"] + body["fuelLevel"]]
    assert len(set(ids)) == 6 and all(i.startswith("urn:ngsi-ld:Instance:") for i in ids)
    assert all(i["type"] == "Property" and "modifiedAt" not in i for i in body["speed"])
    # The same instance has the same id in every answer.
    again = client.get(f"{TEMPORAL}/{VEHICLE}", params={"lastN": "1", "attrs": "speed"}).json()
    assert again["speed"][0]["instanceId"] == body["speed"][2]["instanceId"]
    assert "fuelLevel" not in again


def test_concise_sysattrs_and_json_ld(client: TestClient) -> None:
    make_vehicle(client)
    concise = client.get(f"{TEMPORAL}/{VEHICLE}", params={"options": "concise,sysAttrs", "attrs": "speed"}).json()
    first = concise["speed"][0]
    assert "type" not in first and first["value"] == 120 and first["observedAt"] == T("12:03")
    assert {"createdAt", "modifiedAt", "instanceId"} <= first.keys()
    assert {"createdAt", "modifiedAt"} <= concise.keys()
    ld = client.get(f"{TEMPORAL}/{VEHICLE}", headers={"Accept": "application/ld+json"})
    assert ld.status_code == 200
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert "@context" in ld.json()


def test_temporal_values(client: TestClient) -> None:
    make_vehicle(client)
    for params in ({"options": "temporalValues"}, {"format": "temporalValues"}, {"format": "simplified"}):
        response = client.get(f"{TEMPORAL}/{VEHICLE}", params=params)
        assert response.status_code == 200, response.text
        # The suite's 2020-08-vehicle-temporal-representation-temporal-values.json
        assert response.json() == {
            "id": VEHICLE,
            "type": "Vehicle",
            "fuelLevel": {
                "type": "Property",
                "values": [[67, "2020-08-01T12:03:00Z"], [53, "2020-08-01T13:05:00Z"], [40, "2020-08-01T14:07:00Z"]],
            },
            "speed": {
                "type": "Property",
                "values": [[120, "2020-08-01T12:03:00Z"], [80, "2020-08-01T12:05:00Z"], [100, "2020-08-01T12:07:00Z"]],
            },
        }


def test_aggregated_values_as_the_suite_expects(client: TestClient) -> None:
    make_vehicle(client)
    hourly = client.get(
        f"{TEMPORAL}/{VEHICLE}",
        params={"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "PT1H"},
    )
    assert hourly.status_code == 200, hourly.text
    # vehicle-temporal-representation-aggregated-avg-PT1H.json: periods start at the first instant.
    assert hourly.json() == {
        "id": VEHICLE,
        "type": "Vehicle",
        "speed": {"type": "Property", "avg": [[100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]},
        "fuelLevel": {
            "type": "Property",
            "avg": [
                [67.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
                [53.0, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
                [40.0, "2020-08-01T14:03:00Z", "2020-08-01T15:03:00Z"],
            ],
        },
    }
    daily = client.get(
        f"{TEMPORAL}/{VEHICLE}",
        params={"format": "aggregatedValues", "aggrMethods": "min,max", "aggrPeriodDuration": "P1D"},
    )
    day = ["2020-08-01T12:03:00Z", "2020-08-02T12:03:00Z"]
    # vehicle-temporal-representation-020-11-04.json
    assert daily.json() == {
        "id": VEHICLE,
        "type": "Vehicle",
        "speed": {"type": "Property", "min": [[80.0, *day]], "max": [[120.0, *day]]},
        "fuelLevel": {"type": "Property", "min": [[40.0, *day]], "max": [[67.0, *day]]},
    }
    # 021_17_02: one attribute, a query with timerel=after; 12:03 + whole hours since January.
    query = client.get(
        TEMPORAL,
        params={
            "type": "Vehicle",
            "attrs": "fuelLevel",
            "options": "aggregatedValues",
            "aggrMethods": "avg",
            "aggrPeriodDuration": "PT1H",
            "timerel": "after",
            "timeAt": "2020-01-01T12:03:00Z",
        },
    )
    assert query.status_code == 200, query.text
    assert query.json() == [
        {
            "id": VEHICLE,
            "type": "Vehicle",
            "fuelLevel": hourly.json()["fuelLevel"],
        }
    ]


def test_every_aggregation_method(client: TestClient) -> None:
    make_vehicle(client)
    response = client.get(
        f"{TEMPORAL}/{VEHICLE}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq",
            "attrs": "speed",
            "timerel": "between",
            "timeAt": "2020-08-01T12:00:00Z",
            "endTimeAt": "2020-08-01T12:06:00Z",
        },
    )
    assert response.status_code == 200, response.text
    speed = response.json()["speed"]
    span = ["2020-08-01T12:00:00Z", "2020-08-01T12:06:00Z"]
    # 120 and 80 (12:07 is outside): sum 200, mean 100, squares 14400 + 6400, population stddev 20.
    assert speed == {
        "type": "Property",
        "totalCount": [[2, *span]],
        "distinctCount": [[2, *span]],
        "sum": [[200.0, *span]],
        "avg": [[100.0, *span]],
        "min": [[80.0, *span]],
        "max": [[120.0, *span]],
        "stddev": [[20.0, *span]],
        "sumsq": [[20800.0, *span]],
    }


# -- time relations, lastN, queries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "speed", "fuel"),
    [
        # 020_04_01 .. 03: after is inclusive, before exclusive, between [timeAt, endTimeAt).
        ({"timerel": "after", "timeAt": "2020-08-01T13:03:00Z"}, [], [53, 40]),
        ({"timerel": "before", "timeAt": "2020-08-01T12:05:00Z"}, [120], [67]),
        (
            {"timerel": "between", "timeAt": "2020-08-01T12:00:00Z", "endTimeAt": "2020-08-01T13:00:00Z"},
            [120, 80, 100],
            [67],
        ),
        ({"timerel": "after", "timeAt": "2020-08-01T12:05:00Z"}, [80, 100], [53, 40]),
        ({"timerel": "before", "timeAt": "2020-08-01T12:03:00.000001Z"}, [120], [67]),
        ({"lastN": "2"}, [80, 100], [53, 40]),
        ({"lastN": "1", "timerel": "before", "timeAt": "2020-08-01T13:06:00Z"}, [100], [53]),
    ],
)
def test_time_relations(client: TestClient, params: dict[str, str], speed: list[int], fuel: list[int]) -> None:
    make_vehicle(client)
    response = client.get(f"{TEMPORAL}/{VEHICLE}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [v for v, _ in values(body, "speed")] == speed
    assert [v for v, _ in values(body, "fuelLevel")] == fuel


def test_query_get_and_post(client: TestClient) -> None:
    make_vehicle(client, "urn:ngsi-ld:Vehicle:A")
    make_vehicle(client, "urn:ngsi-ld:Vehicle:B")
    bus = client.post(
        f"{BASE}/entities", json={"id": "urn:ngsi-ld:Bus:C", "type": "Bus", "speed": prop(1, "2020-08-01T12:00:00Z")}
    )
    assert bus.status_code == 201
    response = client.get(
        TEMPORAL,
        params={
            "type": "Vehicle",
            "timerel": "after",
            "timeAt": "2020-08-01T12:04:00Z",
            "options": "temporalValues",
            "count": "true",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["NGSILD-Results-Count"] == "2"
    body = response.json()
    assert [e["id"] for e in body] == ["urn:ngsi-ld:Vehicle:A", "urn:ngsi-ld:Vehicle:B"]
    # 021_14_01: after 12:04
    assert body[0]["speed"]["values"] == [[80, "2020-08-01T12:05:00Z"], [100, "2020-08-01T12:07:00Z"]]
    page = client.get(TEMPORAL, params={"type": "Vehicle,Bus", "limit": "1", "offset": "1"})
    assert [e["id"] for e in page.json()] == ["urn:ngsi-ld:Vehicle:A"]
    assert 'rel="next"' in page.headers["link"] and 'rel="prev"' in page.headers["link"]
    posted = client.post(
        QUERY,
        json={
            "type": "Query",
            "entities": [{"type": "Vehicle"}],
            "attrs": ["speed"],
            "q": "speed>90",
            "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "lastN": 1},
        },
    )
    assert posted.status_code == 200, posted.text
    # q selects on the current values (100 for both vehicles); lastN=1 keeps the newest instance.
    assert [(e["id"], values(e, "speed")) for e in posted.json()] == [
        ("urn:ngsi-ld:Vehicle:A", [(100, T("12:07"))]),
        ("urn:ngsi-ld:Vehicle:B", [(100, T("12:07"))]),
    ]
    assert all("fuelLevel" not in e for e in posted.json())
    for aggregation in (
        {"temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "aggrMethods": ["avg"]}},
        {"temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "aggrMethods": "avg"}},
        {
            "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z"},
            "aggrParams": {"aggrMethods": ["avg"], "aggrPeriodDuration": "PT0S"},
        },
    ):
        answer = client.post(
            QUERY, json={"type": "Query", "entities": [{"id": "urn:ngsi-ld:Vehicle:A"}], **aggregation}
        )
        assert answer.status_code == 200, answer.text
        assert "instanceId" not in answer.text
        # One period, from timeAt to the last instant of the answer (fuelLevel's 14:07): (120 + 80 + 100) / 3.
        assert answer.json()[0]["speed"] == {
            "type": "Property",
            "avg": [[100.0, "2020-08-01T12:00:00Z", "2020-08-01T14:07:00Z"]],
        }


# -- truncation --------------------------------------------------------------------------------


def test_truncated_answers_are_206_with_content_range(app: FastAPI, client: TestClient) -> None:
    make_vehicle(client)
    app.state.temporal.instance_limit = 2
    response = client.get(f"{TEMPORAL}/{VEHICLE}")
    assert response.status_code == 206, response.text
    # speed runs out of room at 12:05, fuelLevel at 13:05: the answer ends at 12:05 for both.
    assert response.headers["content-range"] == "date-time 2020-08-01T12:03:00Z-2020-08-01T12:05:00Z/*"
    body = response.json()
    assert [v for v, _ in values(body, "speed")] == [120, 80]
    assert [v for v, _ in values(body, "fuelLevel")] == [67]
    # lastN counts from the newest: speed 12:07, 12:05; fuelLevel 14:07, 13:05 -> back to 13:05.
    last = client.get(f"{TEMPORAL}/{VEHICLE}", params={"lastN": "3", "options": "temporalValues"})
    assert last.status_code == 206
    assert last.headers["content-range"] == "date-time 2020-08-01T14:07:00Z-2020-08-01T13:05:00Z/3"
    assert last.json()["fuelLevel"]["values"] == [[53, "2020-08-01T13:05:00Z"], [40, "2020-08-01T14:07:00Z"]]
    assert "speed" not in last.json()
    between = client.get(
        TEMPORAL,
        params={
            "type": "Vehicle",
            "timerel": "between",
            "timeAt": "2020-08-01T12:00:00Z",
            "endTimeAt": "2020-08-02T00:00:00Z",
        },
    )
    assert between.status_code == 206
    assert between.headers["content-range"] == "date-time 2020-08-01T12:00:00Z-2020-08-01T12:05:00Z/*"
    # Within the limit: 200 and no Content-Range.
    whole = client.get(f"{TEMPORAL}/{VEHICLE}", params={"lastN": "2"})
    assert whole.status_code == 200 and "content-range" not in whole.headers


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "code", "mention"),
    [
        ({"timerel": "between", "timeAt": "2020-08-01T12:00:00Z"}, 400, "BadRequestData", "endTimeAt"),
        (
            {"timerel": "between", "timeAt": "2020-08-01T12:00:00Z", "endTimeAt": "yesterday"},
            400,
            "BadRequestData",
            "endTimeAt",
        ),
        (
            {"timerel": "between", "timeAt": "2020-08-02T00:00:00Z", "endTimeAt": "2020-08-01T00:00:00Z"},
            400,
            "BadRequestData",
            "endTimeAt",
        ),
        ({"timerel": "after"}, 400, "BadRequestData", "timeAt"),
        ({"timerel": "during", "timeAt": "2020-08-01T12:00:00Z"}, 400, "BadRequestData", "timerel"),
        ({"timerel": "after", "timeAt": "noon"}, 400, "BadRequestData", "timeAt"),
        ({"timeAt": "2020-08-01T12:00:00Z"}, 400, "BadRequestData", "timerel"),
        ({"timeproperty": "seenAt"}, 400, "BadRequestData", "timeproperty"),
        ({"timeproperty": "deletedAt"}, 400, "BadRequestData", "deletedAt"),
        ({"lastN": "0"}, 400, "BadRequestData", "lastN"),
        ({"lastN": "-1"}, 400, "BadRequestData", "lastN"),
        ({"lastN": "1.5"}, 400, "BadRequestData", "lastN"),
        ({"options": "aggregatedValues"}, 400, "BadRequestData", "aggrMethods"),
        ({"options": "aggregatedValues", "aggrMethods": "avg,median"}, 400, "BadRequestData", "aggrMethods"),
        (
            {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "PT1X"},
            400,
            "BadRequestData",
            "aggrPeriodDuration",
        ),
        (
            {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1H"},
            400,
            "BadRequestData",
            "aggrPeriodDuration",
        ),
        (
            {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P1M"},
            422,
            "OperationNotSupported",
            "aggrPeriodDuration",
        ),
        ({"options": "temporalValues,aggregatedValues", "aggrMethods": "avg"}, 400, "BadRequestData", "conflicting"),
        ({"options": "keyValuez"}, 400, "InvalidRequest", "keyValuez"),
        ({"format": "tabular"}, 400, "InvalidRequest", "tabular"),
        ({"colour": "red"}, 400, "InvalidRequest", "colour"),
        ({"pick": "speed{x}"}, 400, "BadRequestData", "pick"),
    ],
)
def test_bad_parameters(client: TestClient, params: dict[str, str], status: int, code: str, mention: str) -> None:
    make_vehicle(client)
    body = assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}", params=params), status, code)
    assert mention in body["detail"], body


def test_bad_requests_on_every_route(client: TestClient) -> None:
    make_vehicle(client)
    assert_problem(client.get(f"{TEMPORAL}/not-a-uri"), 400, "BadRequestData")
    assert_problem(client.get(f"{TEMPORAL}/urn:ngsi-ld:Vehicle:nobody"), 404, "ResourceNotFound")
    assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}", params={"type": "Bus"}), 404, "ResourceNotFound")
    # 021_12: a query needs an entity filter.
    assert_problem(
        client.get(TEMPORAL, params={"timerel": "after", "timeAt": "2020-07-01T12:05:00Z"}), 400, "BadRequestData"
    )
    assert_problem(client.get(TEMPORAL, params={"type": "Vehicle", "limit": "100000"}), 403, "TooManyResults")
    for body, status, code in (
        (
            {
                "type": "Query",
                "entities": [{"type": "Vehicle"}],
                "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "lastN": 0},
            },
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Query",
                "entities": [{"type": "Vehicle"}],
                "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "lastN": 1.5},
            },
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Query",
                "entities": [{"type": "Vehicle"}],
                "temporalQ": {"timerel": "between", "timeAt": "2020-08-01T12:00:00Z"},
            },
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Query",
                "entities": [{"type": "Vehicle"}],
                "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "timeproperty": "x"},
            },
            400,
            "BadRequestData",
        ),
        ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": "after"}, 400, "BadRequestData"),
        (
            {"type": "Query", "entities": [{"type": "Vehicle"}], "aggrParams": {"aggrMethods": ["bogus"]}},
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Query",
                "entities": [{"type": "Vehicle"}],
                "aggrParams": {"aggrMethods": ["avg"], "aggrPeriodDuration": "PTXS"},
            },
            400,
            "BadRequestData",
        ),
        ({"type": "Subscription", "entities": [{"type": "Vehicle"}]}, 400, "BadRequestData"),
        ([{"type": "Query"}], 400, "BadRequestData"),
    ):
        assert_problem(client.post(QUERY, json=body), status, code)
    assert_problem(
        client.post(QUERY, content=b"{", headers={"Content-Type": "application/json"}), 400, "InvalidRequest"
    )
    assert_problem(
        client.post(QUERY, content=b"{}", headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType"
    )
    assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}", headers={"Accept": "text/csv"}), 406, "NotAcceptable")


# -- tenants and access control ----------------------------------------------------------------


def test_tenants_are_isolated(client: TestClient) -> None:
    other = {"NGSILD-Tenant": f"other{int(time.time() * 1000) % 1_000_000}"}
    make_vehicle(client, headers=other)
    assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}"), 404, "ResourceNotFound")
    theirs = client.get(f"{TEMPORAL}/{VEHICLE}", headers=other)
    assert theirs.status_code == 200 and len(theirs.json()["speed"]) == 3
    make_vehicle(client)
    client.patch(f"{BASE}/entities/{VEHICLE}/attrs", json={"speed": prop(5, "2020-08-01T12:09:00Z")})
    assert len(client.get(f"{TEMPORAL}/{VEHICLE}").json()["speed"]) == 4
    assert len(client.get(f"{TEMPORAL}/{VEHICLE}", headers=other).json()["speed"]) == 3
    assert_problem(
        client.get(f"{TEMPORAL}/{VEHICLE}", headers={"NGSILD-Tenant": "nobody-here"}), 404, "NonexistentTenant"
    )


def test_reading_history_needs_a_reading_role(secured_app: FastAPI, tenant: str) -> None:
    settings = secured_app.state.settings

    def bearer(*roles: str) -> dict[str, str]:
        token, _ = issue_token(Actor(subject="u1", tenant=tenant, roles=frozenset(roles), kind="user"), settings)
        return {"Authorization": f"Bearer {token}"}

    with TestClient(secured_app) as client:
        make_vehicle(client, headers=bearer("operator"))
        assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}"), 401, "Unauthenticated")
        assert_problem(client.get(TEMPORAL, params={"type": "Vehicle"}), 401, "Unauthenticated")
        assert_problem(
            client.post(QUERY, json={"type": "Query", "entities": [{"type": "Vehicle"}]}), 401, "Unauthenticated"
        )
        assert_problem(client.get(f"{TEMPORAL}/{VEHICLE}", headers=bearer("device-less")), 403, "Forbidden")
        viewer = client.get(f"{TEMPORAL}/{VEHICLE}", headers=bearer("viewer"))
        assert viewer.status_code == 200, viewer.text
        assert len(viewer.json()["speed"]) == 3


# -- a month of minute data, answered from roll-ups --------------------------------------------


def test_a_month_of_minute_data_hourly_from_rollups(app: FastAPI, client: TestClient, tenant: str) -> None:
    entity_id = "urn:ngsi-ld:Vehicle:month"
    created = client.post(f"{BASE}/entities", json={"id": entity_id, "type": "Vehicle"})
    assert created.status_code == 201
    start = us("2024-04-01T00:00:00Z")
    points = [(start + i * MINUTE_US, (i * 31) % 97) for i in range(30 * 1440)]
    recorded = int(time.time() * 1_000_000)
    write_bulk(app.state.db, tenant, entity_id, SPEED, points, recorded_us=recorded)
    app.state.history_maintenance.rollup(recorded + SAFETY_LAG_US + 1)
    params = {
        "options": "aggregatedValues",
        "aggrMethods": "avg,max,totalCount",
        "aggrPeriodDuration": "PT1H",
        "timerel": "between",
        "timeAt": "2024-04-01T00:00:00Z",
        "endTimeAt": "2024-05-01T00:00:00Z",
    }
    response = client.get(f"{TEMPORAL}/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    speed = response.json()["speed"]
    assert len(speed["avg"]) == len(speed["max"]) == 720
    assert all(count == 60 for count, _, _ in speed["totalCount"])
    first_hour = [v for _, v in points[:60]]
    assert speed["avg"][0] == [sum(first_hour) / 60, "2024-04-01T00:00:00Z", "2024-04-01T01:00:00Z"]
    assert speed["max"][-1][2] == "2024-05-01T00:00:00Z"
    # The same numbers from raw rows only.
    raw = TemporalService(app.state.db, app.state.context, instance_limit=1000, use_rollups=False)
    app.state.temporal = raw
    assert client.get(f"{TEMPORAL}/{entity_id}", params=params).json()["speed"] == speed


def test_modified_at_selects_by_the_time_instances_were_recorded(client: TestClient) -> None:
    before = time.time()
    make_vehicle(client)
    after = time.time()

    def stamp(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1e6):06d}Z"

    recorded = client.get(
        f"{TEMPORAL}/{VEHICLE}",
        params={
            "timeproperty": "modifiedAt",
            "timerel": "between",
            "timeAt": stamp(before - 1),
            "endTimeAt": stamp(after + 1),
        },
    )
    assert recorded.status_code == 200, recorded.text
    # Observed in 2020, recorded just now: all six instances, in the order they were recorded.
    assert [v for v, _ in values(recorded.json(), "speed")] == [120, 80, 100]
    assert [v for v, _ in values(recorded.json(), "fuelLevel")] == [67, 53, 40]
    later = client.get(
        f"{TEMPORAL}/{VEHICLE}", params={"timeproperty": "modifiedAt", "timerel": "after", "timeAt": stamp(after + 1)}
    )
    assert later.json() == {"id": VEHICLE, "type": "Vehicle"}
    counted = client.get(
        f"{TEMPORAL}/{VEHICLE}",
        params={
            "timeproperty": "createdAt",
            "timerel": "before",
            "timeAt": stamp(after + 1),
            "aggrMethods": "totalCount",
        },
    )
    assert counted.status_code == 200, counted.text
    assert [c for c, _, _ in counted.json()["speed"]["totalCount"]] == [3]


# -- no server errors --------------------------------------------------------------------------

PARAMETER_VALUES = {
    "timerel": ["before", "after", "between", "", "AFTER"],
    "timeAt": ["2020-08-01T12:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2020-08-01", ""],
    "endTimeAt": ["2020-08-02T12:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "x"],
    "lastN": ["1", "0", "99999999999999999999999", "-3", "x"],
    "timeproperty": ["observedAt", "modifiedAt", "createdAt", "deletedAt", ""],
    "options": ["temporalValues", "aggregatedValues", "sysAttrs", "concise", "temporalValues,sysAttrs", ","],
    "format": ["normalized", "simplified", "aggregatedValues", "x"],
    "aggrMethods": ["avg", "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq", "", ","],
    "aggrPeriodDuration": ["PT1H", "PT0S", "PT1S", "P1D", "P99999999999999W", "PT0.000001S", "P"],
    "attrs": ["speed", "speed,name", "", "@id"],
    "lang": ["en", "*", "de;q=0.5"],
    "pick": ["id,speed", "{"],
    "datasetId": ["@none", "urn:x"],
    "type": ["Vehicle", "Bus|Vehicle", "("],
    "limit": ["0", "1", "x"],
    "offset": ["0", "99999999999999999"],
    "q": ["speed>1", "(("],
    "georel": ["near;maxDistance==10", "x"],
    "coordinates": ["[1,2]", "x"],
}


@pytest.fixture
def mixed_history(client: TestClient) -> TestClient:
    """A vehicle whose speed was a number, a string, a boolean, a list and an object."""
    created = client.post(
        f"{BASE}/entities",
        json={
            "id": VEHICLE,
            "type": "Vehicle",
            "speed": prop(1, "2020-08-01T12:03:00Z"),
            "name": {"type": "LanguageProperty", "languageMap": {"en": "a", "de": "b"}},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.7]}},
        },
    )
    assert created.status_code == 201, created.text
    for minute, value in enumerate(("x", True, [1, 2], {"a": 1}, 2.5), start=4):
        response = client.patch(
            f"{BASE}/entities/{VEHICLE}/attrs", json={"speed": prop(value, f"2020-08-01T12:0{minute}:00Z")}
        )
        assert response.status_code == 204, response.text
    return client


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(st.sampled_from(sorted(PARAMETER_VALUES)), st.just(""), max_size=6).flatmap(
        lambda chosen: st.fixed_dictionaries({name: st.sampled_from(PARAMETER_VALUES[name]) for name in chosen})
    ),
    single=st.booleans(),
)
def test_no_parameters_make_a_server_error(mixed_history: TestClient, params: dict[str, str], single: bool) -> None:
    response = mixed_history.get(f"{TEMPORAL}/{VEHICLE}" if single else TEMPORAL, params=params)
    assert response.status_code < 500, (params, response.text)
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
