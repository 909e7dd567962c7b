"""No Open311 read ever shows who reported: not in JSON, not in XML, not with extensions, not in headers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_open311_support import API, api_key, created_id, open311_app, post_report

from urbis.citizens.model import Stage

PERSONAL = {
    "first_name": "Erika",
    "last_name": "Mustermann",
    "email": "erika.mustermann@example.org",
    "phone": "+49 228 555 0199",
    "device_id": "phone-4711-secret",
}


def test_personal_details_sent_with_a_report_never_come_back(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant, citizen_confirm_anonymous=False)
    with TestClient(app) as client:
        report_id = created_id(post_report(client, api_key(app, tenant), **PERSONAL))
        app.state.citizen_reports.set_stage(tenant, report_id, Stage.INVESTIGATING, "We are looking.", by="operator")
        # The details did reach the personal-data store: the test would catch a leak if there were one.
        contact = app.state.citizen_reports.contact(tenant, report_id)
        assert (contact.first_name, contact.email, contact.device_id) == (
            "Erika",
            PERSONAL["email"],
            "phone-4711-secret",
        )

        reads = []
        for fmt in ("json", "xml"):
            for extensions in ("", "true"):
                params = {"extensions": extensions, "page_size": "1"}
                reads.append(client.get(f"{API}/requests.{fmt}", params=params))
                reads.append(client.get(f"{API}/requests/{report_id}.{fmt}", params=params))
                reads.append(client.get(f"{API}/requests.{fmt}", params={**params, "service_request_id": report_id}))
            reads.append(client.get(f"{API}/servicerequestupdates.{fmt}"))
        for response in reads:
            assert response.status_code == 200, response.text
            seen = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            assert report_id in seen or "request_update" in seen or "update_id" in seen
            for value in (*PERSONAL.values(), "Mustermann", "4711", "555 0199"):
                assert value not in seen, (value, response.url)
