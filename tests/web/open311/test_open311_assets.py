"""A report naming a city asset (service_object_type/id) joins the asset's open fault, and closes with its work order.

End to end on SQLite and PostgreSQL: the lamp is created through the NGSI-LD API, its fault through the
operations service, the report through an Open311 form post; closing the work order closes the report.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from test_open311_support import API, api_key, assert_errors, created_id, open311_app, parse_xml, post_report

from urbis.operations.model import AlarmReport, Severity
from urbis.operations.store import TicketFilter

LAMP = "urn:ngsi-ld:Streetlight:lamp-7"
OTHER_LAMP = "urn:ngsi-ld:Streetlight:lamp-8"


def test_a_report_on_a_lamp_follows_the_lamps_work_order_to_fixed(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant, citizen_confirm_anonymous=False)
    with TestClient(app) as client:
        for lamp_id in (LAMP, OTHER_LAMP):
            created = client.post(
                "/ngsi-ld/v1/entities",
                json={
                    "id": lamp_id,
                    "type": "Streetlight",
                    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.101, 50.7355]}},
                },
                headers={"NGSILD-Tenant": tenant},
            )
            assert created.status_code == 201, created.text
        operations = app.state.operations
        operations.report(
            AlarmReport(
                tenant=tenant,
                solution="lighting",
                kind="lampFailure",
                source=LAMP,
                severity=Severity.MEDIUM,
                description="The lamp draws no current although it is switched on.",
                at=datetime.now(UTC),
                work_order="Replace lamp",
            )
        )
        [order], _ = operations.list_work_orders(tenant, TicketFilter(source=LAMP))

        key = api_key(app, tenant)
        asset = {"service_object_type": "Streetlight", "service_object_id": LAMP}
        report_id = created_id(post_report(client, key, **asset))

        [item] = client.get(f"{API}/requests/{report_id}.json", params={"extensions": "true"}).json()
        extended = item["extended_attributes"]
        assert (extended["service_object_type"], extended["service_object_id"]) == ("Streetlight", LAMP)
        notes = [note["description"] for note in extended["notes"]]
        assert any("already knows about this fault" in n and "Work order: Replace lamp" in n for n in notes), notes
        assert item["status"] == "open"

        # The asset filter finds the report under the lamp, and not under another one.
        found = client.get(f"{API}/requests.json", params=asset).json()
        assert [r["service_request_id"] for r in found] == [report_id]
        elsewhere = {"service_object_type": "Streetlight", "service_object_id": OTHER_LAMP}
        assert client.get(f"{API}/requests.json", params=elsewhere).json() == []
        wrong_type = {"service_object_type": "ParkingSpot", "service_object_id": LAMP}
        assert client.get(f"{API}/requests.json", params=wrong_type).json() == []
        half = client.get(f"{API}/requests.json", params={"service_object_id": LAMP})
        assert "together" in assert_errors(half, 400)

        operations.close_work_order(tenant, order.id, "lamp replaced", by="crew")

        [closed] = client.get(f"{API}/requests/{report_id}.json", params={"extensions": "true"}).json()
        assert closed["status"] == "closed"
        assert closed["extended_attributes"]["detailed_status"] == "fixed"
        assert "lamp replaced" in closed["status_notes"]
        root = parse_xml(client.get(f"{API}/requests/{report_id}.xml"))
        assert root.findtext("request/status") == "closed"
        updates = client.get(f"{API}/servicerequestupdates.json").json()
        assert [(u["service_request_id"], u["status"], u["external_status_code"]) for u in updates] == [
            (report_id, "closed", "fixed")
        ]

        # An asset must exist and be of a type the service concerns.
        missing = post_report(client, key, service_object_type="Streetlight", service_object_id=f"{LAMP}-gone")
        assert "no asset" in assert_errors(missing, 400)
        bay = post_report(client, key, service_object_type="ParkingSpot", service_object_id=LAMP)
        assert "ParkingSpot" in assert_errors(bay, 400)
