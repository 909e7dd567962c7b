"""The real PyPI client ``georeport`` reads a real server (uvicorn) in JSON and XML, on SQLite and PostgreSQL.

The client cannot POST, so the reports it reads are filed by raw form posts first.  In XML mode it
hands back what xmltodict makes of the document (strings; a list only for two or more items), so the
test files two reports.
"""

from __future__ import annotations

import httpx
from georeport import GeoReport
from test_open311_support import API, LAMP_FORM, api_key, created_id, live_server, open311_app


def test_georeport_reads_services_definitions_and_requests_in_both_formats(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant, citizen_confirm_anonymous=False)
    with live_server(app) as root, httpx.Client(base_url=root, timeout=10) as http:
        key = api_key(app, tenant)
        lamp = created_id(http.post(f"{API}/requests.json", data={**LAMP_FORM, "api_key": key}))
        smoke = {
            "api_key": key,
            "service_code": "air-quality",
            "address_string": "Marktplatz 1",
            "attribute[kind][]": ["smoke", "smell"],
        }
        air = created_id(http.post(f"{API}/requests.json", data=smoke))
        for fmt in ("json", "xml"):
            client = GeoReport(root + API, jurisdiction=tenant, output_format=fmt)
            services = client.get_service_list()
            assert isinstance(services, list) and len(services) >= 2
            codes = [service["service_code"] for service in services]
            assert {"streetlight", "parking-bay", "air-quality", "pothole"} <= set(codes)
            datatypes = set()
            for service in services:
                assert str(service["metadata"]).lower() in ("true", "false")
                if str(service["metadata"]).lower() != "true":
                    continue
                definition = client.get_service_definition(service["service_code"])
                assert definition["service_code"] == service["service_code"]
                attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
                attributes = attributes if isinstance(attributes, list) else [attributes]
                datatypes |= {attribute["datatype"] for attribute in attributes}
            assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}

            open_requests = client.get_service_requests(status="open")
            assert isinstance(open_requests, list)
            assert {r["service_request_id"] for r in open_requests} >= {lamp, air}
            by_ids = client.get_service_requests(service_request_id=f"{lamp},{air}")
            assert sorted(r["service_request_id"] for r in by_ids) == sorted([lamp, air])
            if fmt == "json":  # an empty XML list is <service_requests/>, which this client cannot index
                assert client.get_service_requests(status="closed") == []

            one = client.get_service_request(lamp)
            assert one["service_request_id"] == lamp
            assert one["service_code"] == "streetlight"
            assert one["status"] == "open"
            assert str(one["lat"]) == "50.7355"
