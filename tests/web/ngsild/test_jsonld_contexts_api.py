"""The @context store through HTTP (``/jsonldContexts``) and @context resolution in requests.

No test touches the network: the Smart Data Models contexts are bundled, hosted contexts live in the
broker, and the one remote URL used (``http://127.0.0.1:9/``, the discard port) refuses at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from problem_details import assert_problem
from urbis.app import create_app

BASE = "/ngsi-ld/v1"
CONTEXTS = f"{BASE}/jsonldContexts"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_PARKING = "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
UNREACHABLE = "http://127.0.0.1:9/ctx.jsonld"
NS = "https://example.org/ns/"
MY_CONTEXT = {"@context": {"myTerm": NS + "myTerm", "Widget": NS + "Widget"}}


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}


def host(client: TestClient, document: dict[str, Any] | None = None) -> str:
    """Host a context; its URL (as the Location header gives it)."""
    response = client.post(CONTEXTS, json=document or MY_CONTEXT)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["location"]
    assert f"{CONTEXTS}/" in location
    return location


def path_of(url: str) -> str:
    return urlsplit(url).path


def details_of(client: TestClient, url: str) -> dict[str, Any]:
    """The detail object of the listed context with this URL (hosted contexts are shared broker-wide)."""
    (found,) = [d for d in client.get(CONTEXTS, params={"details": "true"}).json() if d["URL"] == url]
    return found


# -- hosting ------------------------------------------------------------------------------------


def test_host_serve_list_and_delete(client: TestClient) -> None:
    url = host(client)
    served = client.get(path_of(url))
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/ld+json")
    assert served.json() == MY_CONTEXT

    assert url in client.get(CONTEXTS).json()
    assert url in client.get(CONTEXTS, params={"kind": "Hosted"}).json()
    assert url not in client.get(CONTEXTS, params={"kind": "Cached"}).json()
    details = details_of(client, url)
    assert details["kind"] == "Hosted"
    assert url.endswith(details["localId"])
    assert "timestamp" in details
    one = client.get(f"{CONTEXTS}/{details['localId']}", params={"details": "true"})
    assert one.json()["URL"] == url

    assert client.delete(path_of(url)).status_code == 204
    assert_problem(client.get(path_of(url)), 404, "ResourceNotFound")
    assert url not in client.get(CONTEXTS).json()
    assert_problem(client.delete(path_of(url)), 404)


def test_hosted_context_expands_and_compacts(client: TestClient) -> None:
    url = host(client)
    entity = {"id": "urn:ngsi-ld:Widget:1", "type": "Widget", "myTerm": {"type": "Property", "value": 7}}
    assert client.post(f"{BASE}/entities", json=entity, headers=link(url)).status_code == 201
    found = client.get(f"{BASE}/entities", params={"type": "Widget", "q": "myTerm==7"}, headers=link(url))
    assert found.status_code == 200, found.text
    assert found.json() == [entity]
    assert url in found.headers["link"]
    # With the core context only, the same entity shows its full IRIs.
    plain = client.get(f"{BASE}/entities/urn:ngsi-ld:Widget:1")
    assert plain.json() == {"id": entity["id"], "type": NS + "Widget", NS + "myTerm": entity["myTerm"]}
    assert details_of(client, url)["numberOfHits"] >= 2


def test_deleted_hosted_context_is_no_longer_available(client: TestClient) -> None:
    url = host(client)
    assert client.get(f"{BASE}/entities", params={"type": "Widget"}, headers=link(url)).status_code == 200
    assert client.delete(path_of(url)).status_code == 204
    response = client.get(f"{BASE}/entities", params={"type": "Widget"}, headers=link(url))
    assert_problem(response, 503, "LdContextNotAvailable")


def test_hosted_contexts_are_shared_by_every_process(client: TestClient) -> None:
    url = host(client)
    other = create_app(client.app.state.settings)  # type: ignore[attr-defined]
    with TestClient(other) as second:
        assert second.get(path_of(url)).json() == MY_CONTEXT
        entity = {"id": "urn:ngsi-ld:Widget:5", "type": "Widget"}
        assert second.post(f"{BASE}/entities", json=entity, headers=link(url)).status_code == 201
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Widget:5").json()["type"] == NS + "Widget"


def test_deleting_a_hosted_context_reaches_every_process(client: TestClient) -> None:
    url = host(client)
    assert client.get(path_of(url)).status_code == 200  # known to this process
    with TestClient(create_app(client.app.state.settings)) as second:  # type: ignore[attr-defined]
        assert second.delete(path_of(url)).status_code == 204
    assert url not in client.get(CONTEXTS).json()
    assert_problem(client.get(path_of(url)), 404)


def test_cached_and_implicit_contexts_are_listed(client: TestClient) -> None:
    entity = {"id": "urn:ngsi-ld:OffStreetParking:1", "type": "OffStreetParking"}
    assert client.post(f"{BASE}/entities", json=entity, headers=link(SDM_PARKING)).status_code == 201
    cached = client.get(CONTEXTS, params={"kind": "Cached"}).json()
    assert SDM_PARKING in cached
    assert CORE in cached
    inline = {
        "id": "urn:ngsi-ld:Widget:2",
        "type": "Widget",
        "@context": [{"Widget": NS + "Widget"}, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
    }
    response = client.post(f"{BASE}/entities", json=inline, headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 201, response.text
    (implicit,) = [
        url
        for url in client.get(CONTEXTS, params={"kind": "ImplicitlyCreated"}).json()
        if client.get(path_of(url)).json() == {"@context": inline["@context"]}
    ]
    # The broker's URL for the inline context works in a Link header.
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Widget:2").json()["type"] == NS + "Widget"
    back = client.get(f"{BASE}/entities/urn:ngsi-ld:Widget:2", headers=link(implicit))
    assert back.json()["type"] == "Widget"
    assert set(client.get(CONTEXTS).json()) >= {SDM_PARKING, CORE, implicit}


def test_core_context_is_served_and_cannot_be_deleted(client: TestClient) -> None:
    core = details_of(client, CORE)
    document = client.get(f"{CONTEXTS}/{core['localId']}").json()
    assert "@context" in document
    by_url = client.get(f"{CONTEXTS}/{quote(CORE, safe='')}")
    assert by_url.status_code == 200
    assert by_url.json() == document
    assert_problem(client.delete(f"{CONTEXTS}/{core['localId']}"), 400)
    assert client.delete(f"{CONTEXTS}/{core['localId']}", params={"reload": "true"}).status_code == 204


def test_reload(client: TestClient) -> None:
    url = host(client)
    assert_problem(client.delete(path_of(url), params={"reload": "true"}), 400)
    created = client.post(f"{BASE}/entities", json={"id": "urn:x:1", "type": "T"}, headers=link(SDM_PARKING))
    assert created.status_code == 201
    sdm = details_of(client, SDM_PARKING)
    assert client.delete(f"{CONTEXTS}/{sdm['localId']}", params={"reload": "true"}).status_code == 204
    assert SDM_PARKING in client.get(CONTEXTS, params={"kind": "Cached"}).json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"myTerm": "https://example.org/x"}',
        b'{"@context": "https://example.org/ctx.jsonld"}',
        b'{"@context": 5}',
        b'{"@context": {"bad": 5}}',
        b'{"@context": ["not a url"]}',
        b"[]",
        b"{",
        b"",
    ],
)
def test_bad_context_documents_are_400(client: TestClient, body: bytes) -> None:
    before = client.get(CONTEXTS).json()
    response = client.post(CONTEXTS, content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)
    assert client.get(CONTEXTS).json() == before


def test_hosting_needs_a_json_media_type(client: TestClient) -> None:
    response = client.post(CONTEXTS, content=b'{"@context": {}}', headers={"Content-Type": "text/plain"})
    assert_problem(response, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("params", [{"kind": "Remote"}, {"details": "maybe"}, {"bogus": "1"}])
def test_bad_list_parameters_are_400(client: TestClient, params: dict[str, str]) -> None:
    assert_problem(client.get(CONTEXTS, params=params), 400)


def test_unknown_context_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"{CONTEXTS}/urn:uuid:00000000-0000-0000-0000-000000000000"), 404, "ResourceNotFound")
    assert_problem(client.delete(f"{CONTEXTS}/nothing-here"), 404, "ResourceNotFound")


# -- unreachable remote contexts ----------------------------------------------------------------


def test_unreachable_link_context_is_503(client: TestClient) -> None:
    headers = link(UNREACHABLE)
    entity = {"id": "urn:ngsi-ld:Widget:9", "type": "Widget"}
    calls = [
        client.get(f"{BASE}/entities", params={"type": "Widget"}, headers=headers),
        client.post(f"{BASE}/entities", json=entity, headers=headers),
        client.get(f"{BASE}/types", headers=headers),
        client.get(f"{BASE}/attributes", headers=headers),
        client.post(
            f"{BASE}/entityOperations/query", json={"type": "Query", "entities": [{"type": "W"}]}, headers=headers
        ),
    ]
    for response in calls:
        body = assert_problem(response, 503, "LdContextNotAvailable")
        assert UNREACHABLE in body["detail"]
    # Nothing was created on the way.
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Widget:9").status_code == 404


def test_unreachable_body_context_is_503(client: TestClient) -> None:
    entity = {"id": "urn:ngsi-ld:Widget:8", "type": "Widget", "@context": [UNREACHABLE]}
    response = client.post(f"{BASE}/entities", json=entity, headers={"Content-Type": "application/ld+json"})
    assert_problem(response, 503, "LdContextNotAvailable")
    assert_problem(client.post(CONTEXTS, json={"@context": [UNREACHABLE]}), 503, "LdContextNotAvailable")


def test_malformed_link_context_is_400(client: TestClient) -> None:
    response = client.get(f"{BASE}/entities", params={"type": "W"}, headers=link("not-a-url"))
    assert_problem(response, 400)
