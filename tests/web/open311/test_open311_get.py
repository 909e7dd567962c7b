"""The Open311 reads on SQLite and PostgreSQL: discovery, services, requests and their filters, updates, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import xmltodict
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_open311_support import (
    API,
    api_key,
    assert_errors,
    created_id,
    is_w3c_datetime,
    open311_app,
    parse_xml,
    post_report,
    whole_second_now,
)

from urbis.citizens.model import Stage
from urbis.citizens.moderation import Moderation
from urbis.core.clock import FixedClock

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]

#: About 30 m and 500 m north of the lamp report's position (1° of latitude is about 111.2 km).
NEAR = ("50.73577", "7.1010")
FAR = ("50.74000", "7.1010")


class City:
    """An app whose reports go public at once, on a fixed clock, with a client and a key."""

    def __init__(self, app: FastAPI, client: TestClient, clock: FixedClock, tenant: str) -> None:
        self.app, self.client, self.clock, self.tenant = app, client, clock, tenant
        self.key = api_key(app, tenant)
        self.reports = app.state.citizen_reports

    def report(self, **fields: str | None) -> str:
        return created_id(post_report(self.client, self.key, **fields))

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"{API}/{path}", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        return response.json()

    def ids(self, **params: Any) -> list[str]:
        return [item["service_request_id"] for item in self.get("requests.json", **params)]


@pytest.fixture
def city(db_url: str, tenant: str) -> Iterator[City]:
    clock = FixedClock(whole_second_now())
    app = open311_app(db_url, tenant, clock=clock, citizen_confirm_anonymous=False)
    with TestClient(app) as client:
        yield City(app, client, clock, tenant)


# -- discovery and services ----------------------------------------------------------------


def test_discovery_in_both_formats_and_both_places(city: City) -> None:
    for path in ("/open311/discovery", f"{API}/discovery"):
        as_json = city.client.get(f"{path}.json")
        assert as_json.status_code == 200
        assert as_json.headers["content-type"] == "application/json"  # exact, as the validator compares
        document = as_json.json()
        assert document["contact"] and document["key_service"]
        assert is_w3c_datetime(document["changeset"])
        assert datetime.fromisoformat(document["changeset"].replace("Z", "+00:00")) <= city.clock.now()
        [endpoint] = document["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2") and endpoint["url"].startswith("http")
        assert endpoint["type"] == "production" and is_w3c_datetime(endpoint["changeset"])
        assert endpoint["formats"] == ["text/xml", "application/json"]

        as_xml = city.client.get(f"{path}.xml")
        assert as_xml.headers["content-type"] == "text/xml"
        assert as_xml.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(as_xml.content)
        assert root.tag == "discovery"
        assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
        assert root.findtext("changeset") == document["changeset"]
        assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"


def test_the_service_list_and_definitions_carry_every_datatype(city: City) -> None:
    services = city.get("services.json")
    assert len(services) >= 2
    for service in services:
        assert set(service) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert isinstance(service["service_code"], str) and isinstance(service["metadata"], bool)
        assert service["type"] == "realtime"
    lamp = next(s for s in services if s["service_code"] == "streetlight")
    assert lamp["keywords"] == "lamp,light,dark,lighting" and lamp["group"] == "lighting" and lamp["metadata"] is True

    root = parse_xml(city.client.get(f"{API}/services.xml"))
    assert [s.findtext("service_code") for s in root.findall("service")] == [s["service_code"] for s in services]
    assert {s.findtext("metadata") for s in root.findall("service")} <= {"true", "false"}

    datatypes: set[str] = set()
    for service in services:
        if not service["metadata"]:
            continue
        definition = city.get(f"services/{service['service_code']}.json")
        assert definition["service_code"] == service["service_code"]
        orders = [a["order"] for a in definition["attributes"]]
        assert orders == sorted(orders) and len(set(orders)) == len(orders) and min(orders) >= 1
        for attribute in definition["attributes"]:
            datatypes.add(attribute["datatype"])
            assert isinstance(attribute["variable"], bool) and isinstance(attribute["required"], bool)
            is_list = attribute["datatype"] in ("singlevaluelist", "multivaluelist")
            assert ("values" in attribute) == is_list, attribute
            for value in attribute.get("values", ()):
                assert set(value) == {"key", "name"}
        xml_definition = parse_xml(city.client.get(f"{API}/services/{service['service_code']}.xml"))
        assert xml_definition.tag == "service_definition"
        attributes = xml_definition.findall("attributes/attribute")
        assert [a.findtext("code") for a in attributes] == [a["code"] for a in definition["attributes"]]
        assert {a.findtext("required") for a in attributes} <= {"true", "false"}
        assert {a.findtext("variable") for a in attributes} <= {"true", "false"}
    assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}

    fault = next(a for a in city.get("services/streetlight.json")["attributes"] if a["code"] == "fault")
    assert fault["required"] is True and fault["datatype"] == "singlevaluelist"
    assert {"key": "dark", "name": "It is dark at night"} in fault["values"]


# -- errors --------------------------------------------------------------------------------


def test_every_error_has_the_spec_shape(city: City) -> None:
    client = city.client
    assert_errors(client.get(f"{API}/services/no-such.json"), 404)
    assert_errors(client.get(f"{API}/services/no-such.xml"), 404, "xml")
    assert_errors(client.get(f"{API}/services.html"), 404)
    assert_errors(client.get(f"{API}/nothing.json"), 404)
    assert_errors(client.get(f"{API}/nothing.xml"), 404, "xml")
    assert_errors(client.get("/open311"), 404)
    assert "start_date" in assert_errors(client.get(f"{API}/requests.json?start_date=garbage"), 400)
    assert "start_date" in assert_errors(client.get(f"{API}/requests.xml?start_date=garbage"), 400, "xml")
    wrong_method = client.post(f"{API}/services.json")
    assert "POST" in assert_errors(wrong_method, 400, code=405)
    assert wrong_method.headers["allow"] == "GET"
    assert_errors(client.delete(f"{API}/requests.xml"), 400, "xml", code=405)
    assert_errors(client.get(f"{API}/requests/no-such.json"), 404)
    assert_errors(client.get(f"{API}/requests/%00bad.xml"), 404, "xml")
    assert "jurisdiction" in assert_errors(client.get(f"{API}/services.json?jurisdiction_id=atlantis"), 404)
    assert_errors(client.get(f"{API}/requests.json?status=%00"), 400)


def test_another_known_tenant_is_its_own_jurisdiction(city: City, tenant: str) -> None:
    other = f"{tenant}x"
    lamp = {"id": "urn:ngsi-ld:Streetlight:o1", "type": "Streetlight"}
    assert not city.app.state.context.upsert_documents(other, [lamp]).errors
    mine = city.report()
    _, their_key = city.reports.create_api_key(other, "their client", by="tester")
    theirs = created_id(post_report(city.client, their_key, jurisdiction_id=other))
    assert city.ids() == [mine]
    assert city.ids(jurisdiction_id="") == [mine]
    assert city.ids(jurisdiction_id=other) == [theirs]
    assert_errors(city.client.get(f"{API}/requests/{theirs}.json"), 404)
    assert city.get(f"requests/{theirs}.json", jurisdiction_id=other)[0]["service_request_id"] == theirs


# -- requests ------------------------------------------------------------------------------


def test_a_request_has_the_spec_fields_in_both_formats(city: City) -> None:
    report_id = city.report(address_string="Hauptstraße 12", zipcode="53111")
    [item] = city.get(f"requests/{report_id}.json")
    assert list(item) == REQUEST_FIELDS
    assert item["service_request_id"] == report_id
    assert (item["status"], item["service_code"], item["agency_responsible"]) == (
        "open",
        "streetlight",
        "Street lighting",
    )
    assert (item["lat"], item["long"], item["zipcode"]) == (50.7355, 7.101, "53111")
    assert item["address"] == "Hauptstraße 12"
    assert item["media_url"] is None and item["expected_datetime"] is None
    assert item["requested_datetime"] == city.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "extended_attributes" not in item

    root = parse_xml(city.client.get(f"{API}/requests/{report_id}.xml"))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [child.tag for child in request] == REQUEST_FIELDS
    assert is_w3c_datetime(request.findtext("requested_datetime"))
    assert is_w3c_datetime(request.findtext("updated_datetime"))
    assert request.findtext("lat") == "50.7355"
    parsed = xmltodict.parse(city.client.get(f"{API}/requests/{report_id}.xml").content)
    assert parsed["service_requests"]["request"]["service_request_id"] == report_id


def test_only_public_reports_are_listed(city: City) -> None:
    shown = city.report()
    hidden = city.report()
    city.reports.moderate(city.tenant, hidden, Moderation.HIDDEN, "abusive words", by="moderator")
    assert city.ids() == [shown]
    assert city.ids(service_request_id=f"{shown},{hidden}") == [shown]
    assert_errors(city.client.get(f"{API}/requests/{hidden}.json"), 404)


def test_status_and_service_code_filters_and_ids_overriding_them(city: City) -> None:
    lamp = city.report()
    city.clock.advance(seconds=1)
    hole = city.report(service_code="pothole", **{"attribute[fault]": None, "attribute[where]": "road"})
    city.clock.advance(seconds=1)
    city.reports.set_stage(city.tenant, lamp, Stage.FIXED, "New lamp fitted.", by="crew")
    assert city.ids(status="closed") == [lamp]
    assert city.ids(status="open") == [hole]
    assert city.ids(status="open,closed") == [hole, lamp]  # newest first
    assert city.ids(status=["open", "closed"]) == [hole, lamp]
    assert city.ids(service_code="streetlight,pothole") == [hole, lamp]
    assert city.ids(service_code="pothole") == [hole]
    assert city.ids(service_code="air-quality") == []
    # The ids override every other filter.
    assert city.ids(service_request_id=f"{lamp},{hole}", service_code="air-quality", status="open") == [hole, lamp]
    # Empty parameters count as absent ones.
    assert city.ids(status="", service_code="", page="", extensions="") == [hole, lamp]
    assert "status" in assert_errors(city.client.get(f"{API}/requests.json?status=broken"), 400)
    [closed] = city.get(f"requests/{lamp}.json")
    assert closed["status_notes"] == "New lamp fitted."
    assert closed["updated_datetime"] == city.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_dates_default_to_the_last_90_days_and_span_at_most_90(city: City) -> None:
    start = city.clock.now()
    old = city.report()
    city.clock.advance(days=10)
    recent = city.report()
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    day_after_start = (start + timedelta(days=1)).strftime(fmt)
    assert city.ids(start_date=day_after_start) == [recent]
    assert city.ids(start_date=(start - timedelta(days=1)).strftime(fmt), end_date=day_after_start) == [old]
    assert city.ids(start_date=start.strftime("%Y-%m-%d")) == [recent, old]  # a date alone is midnight UTC
    city.clock.advance(days=85)  # the old report is now 95 days old, the recent one 85
    assert city.ids() == [recent]
    too_long = {"start_date": start.strftime(fmt), "end_date": (start + timedelta(days=91)).strftime(fmt)}
    assert "90 days" in assert_errors(city.client.get(f"{API}/requests.json", params=too_long), 400)
    backwards = {"start_date": day_after_start, "end_date": start.strftime(fmt)}
    assert_errors(city.client.get(f"{API}/requests.json", params=backwards), 400)


def test_pages_with_counts_and_a_next_link(city: City) -> None:
    made = []
    for _ in range(3):
        made.append(city.report())
        city.clock.advance(seconds=1)
    newest_first = made[::-1]
    first = city.client.get(f"{API}/requests.json", params={"page_size": 2, "status": "open"})
    assert [i["service_request_id"] for i in first.json()] == newest_first[:2]
    assert (first.headers["x-total-count"], first.headers["x-page-count"]) == ("3", "2")
    next_url = urlsplit(first.headers["x-next-page-url"])
    assert next_url.path == f"{API}/requests.json"
    assert parse_qs(next_url.query) == {"status": ["open"], "page": ["2"], "page_size": ["2"]}
    second = city.client.get(f"{API}/requests.json?{next_url.query}")
    assert [i["service_request_id"] for i in second.json()] == newest_first[2:]
    assert "x-next-page-url" not in second.headers
    assert city.ids(page=1) == newest_first  # page_size 50
    assert "page_size" in assert_errors(city.client.get(f"{API}/requests.json?page_size=0"), 400)
    assert "page_size" in assert_errors(city.client.get(f"{API}/requests.json?page_size=1001"), 400)
    assert_errors(city.client.get(f"{API}/requests.json?page=-1"), 400)


def test_a_radius_search_finds_the_near_report_only(city: City) -> None:
    near = city.report(lat=NEAR[0], long=NEAR[1])
    far = city.report(lat=FAR[0], long=FAR[1])
    centre = {"lat": "50.7355", "long": "7.1010"}
    assert city.ids(**centre, radius="100") == [near]
    assert city.ids(**centre, radius="1000") == [near, far]  # nearest first
    assert "radius" in assert_errors(city.client.get(f"{API}/requests.json", params=centre), 400)
    assert_errors(city.client.get(f"{API}/requests.json", params={**centre, "radius": "-5"}), 400)


def test_updated_after_and_before(city: City) -> None:
    start = city.clock.now()
    first = city.report()
    city.clock.advance(hours=1)
    second = city.report()
    city.clock.advance(hours=1)
    city.reports.set_stage(city.tenant, first, Stage.IN_PROGRESS, "A crew is on its way.", by="operator")
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    assert city.ids(updated_after=(start + timedelta(minutes=90)).strftime(fmt)) == [first]
    assert city.ids(updated_before=(start + timedelta(minutes=90)).strftime(fmt)) == [second]
    # Bounded by updates only, a long-ago report still counts: no 90-day default on requested_datetime.
    city.clock.advance(days=100)
    assert city.ids(updated_after=start.strftime(fmt)) == [second, first]


def test_search_and_agency_filters(city: City) -> None:
    dark = city.report(description="Dark at the bus stop")
    city.clock.advance(seconds=1)
    hole = city.report(
        service_code="pothole", description="Deep hole", **{"attribute[fault]": None, "attribute[where]": "road"}
    )
    assert city.ids(search="bus stop") == [dark]
    assert city.ids(q="deep") == [hole]
    assert city.ids(agency_responsible="Roads and highways") == [hole]


def test_extended_attributes_with_extensions_true(city: City) -> None:
    report_id = city.report(**{"attribute[pole_number]": "L-12"})
    city.clock.advance(minutes=5)
    city.reports.set_stage(city.tenant, report_id, Stage.ACTION_SCHEDULED, "Repair on Friday.", by="operator")
    [item] = city.get("requests.json", extensions="true")
    extended = item["extended_attributes"]
    assert extended["detailed_status"] == "action-scheduled"
    assert extended["channel"] == "open311"
    assert (extended["duplicate"], extended["parent_service_request_id"]) == (False, None)
    assert (extended["service_object_type"], extended["service_object_id"], extended["media_urls"]) == (None, None, [])
    assert sorted(extended["attributes"], key=lambda a: a["code"]) == [
        {"code": "fault", "values": ["dark"]},
        {"code": "pole_number", "values": ["L-12"]},
    ]
    [note] = extended["notes"]
    assert note == {
        "datetime": city.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": "Repair on Friday.",
        "type": "status",
        "status": "open",
    }
    assert city.get(f"requests/{report_id}.json", extensions="true")[0]["extended_attributes"] == extended

    root = parse_xml(city.client.get(f"{API}/requests.xml", params={"extensions": "true"}))
    extended_xml = root.find("request/extended_attributes")
    assert extended_xml is not None
    assert extended_xml.findtext("duplicate") == "false"
    assert extended_xml.findtext("notes/note/description") == "Repair on Friday."
    assert is_w3c_datetime(extended_xml.findtext("notes/note/datetime"))
    assert {a.findtext("code") for a in extended_xml.findall("attributes/attribute")} == {"fault", "pole_number"}
    assert "extensions" in assert_errors(city.client.get(f"{API}/requests.json?extensions=maybe"), 400)


def test_a_merged_duplicate_names_its_original(city: City) -> None:
    original = city.report()
    duplicate = city.report()
    city.reports.merge(city.tenant, duplicate, original, by="operator")
    [item] = city.get(f"requests/{duplicate}.json", extensions="true")
    assert item["status"] == "closed"
    assert item["extended_attributes"]["duplicate"] is True
    assert item["extended_attributes"]["parent_service_request_id"] == original


def test_service_request_updates_in_a_window(city: City) -> None:
    report_id = city.report()
    city.clock.advance(hours=1)
    city.reports.set_stage(city.tenant, report_id, Stage.IN_PROGRESS, "A crew is on its way.", by="operator")
    [update] = city.get("servicerequestupdates.json")
    assert set(update) == {
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
        "external_status_code",
    }
    assert (update["service_request_id"], update["status"], update["external_status_code"]) == (
        report_id,
        "open",
        "in-progress",
    )
    assert update["description"] == "A crew is on its way."
    assert update["updated_datetime"] == city.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    root = parse_xml(city.client.get(f"{API}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    assert [u.findtext("update_id") for u in root.findall("request_update")] == [update["update_id"]]
    city.clock.advance(days=2)
    assert city.get("servicerequestupdates.json") == []  # the last 24 hours by default
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    window = {"start_date": (city.clock.now() - timedelta(days=3)).strftime(fmt)}
    assert [u["update_id"] for u in city.get("servicerequestupdates.json", **window)] == [update["update_id"]]
