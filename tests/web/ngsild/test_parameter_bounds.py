"""Query parameters at the edges: database integers, projection depth."""

from fastapi.testclient import TestClient


def test_an_offset_beyond_a_database_integer_is_a_400(client: TestClient) -> None:
    assert client.post("/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:T:1", "type": "T"}).status_code == 201
    response = client.get("/ngsi-ld/v1/entities", params={"type": "T", "offset": str(10**20)})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")
    largest = client.get("/ngsi-ld/v1/entities", params={"type": "T", "offset": str(2**31 - 1)})
    assert largest.status_code == 200 and largest.json() == []


def test_a_pick_nested_beyond_any_join_level_is_a_400(client: TestClient) -> None:
    assert client.post("/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:T:2", "type": "T"}).status_code == 201
    deep = "a{" * 1500 + "a" + "}" * 1500
    response = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:T:2", params={"pick": deep})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")
