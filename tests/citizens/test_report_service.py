"""The report service on both databases, inside a whole app: placing, routing, confirming, faults, staff, privacy."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from report_builders import DISTRICT_NORTH, LAMP_ID, add_city, jpeg_with_gps, lamp_alarm, reports_of
from sqlalchemy import select

from urbis.citizens import store
from urbis.citizens.mail import outbox
from urbis.citizens.model import Channel, Route, Stage, UpdateKind
from urbis.citizens.moderation import FlagReason, Moderation
from urbis.citizens.service import ReportService, Submission, report_entity_id
from urbis.core.audit import AuditFilter
from urbis.core.errors import BadRequestData, Conflict, NotFound, PolicyDenied
from urbis.operations.service import OperationsService

PERSONAL = {
    "email": "erika.mustermann@example.org",
    "first_name": "Erika",
    "last_name": "Mustermann",
    "phone": "+49 228 555 0199",
    "device_id": "phone-4711-secret",
}


@pytest.fixture
def reports(app: FastAPI) -> ReportService:
    service: ReportService = app.state.citizen_reports
    return service


def lamp_report(**changes: Any) -> Submission:
    values: dict[str, Any] = {
        "service_code": "streetlight",
        "description": "The lamp outside number 12 is dark every night.",
        "lat": 50.7355,
        "long": 7.1010,
        "answers": {"fault": ["dark"]},
    }
    values.update(changes)
    return Submission(**values)


def mails(app: FastAPI, tenant: str) -> list[Any]:
    with app.state.db.read() as conn:
        return conn.execute(select(outbox).where(outbox.c.tenant == tenant).order_by(outbox.c.queued_at)).all()


def test_a_resident_with_an_account_reports_and_the_city_places_and_routes_it(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    add_city(app, tenant)
    receipt = reports.submit(tenant, lamp_report(account=f"alice-{tenant}", **PERSONAL))
    report = receipt.report
    assert not receipt.awaiting_confirmation
    assert report.public
    assert report.stage is Stage.SUBMITTED
    assert report.district == DISTRICT_NORTH
    assert report.address == "near Hauptstraße"
    assert report.department == "Street lighting"
    assert report.answers == {"fault": "dark"}
    assert "Street lighting" in receipt.notice
    # Who sent it is kept apart ...
    contact = reports.contact(tenant, report.id)
    assert contact is not None
    assert (contact.account, contact.email, contact.phone) == (f"alice-{tenant}", PERSONAL["email"], PERSONAL["phone"])
    # ... and never reaches the public mirror.
    entity = app.state.context.get_entity(tenant, report_entity_id(report.id))
    text = orjson.dumps(entity).decode()
    for value in (*PERSONAL.values(), f"alice-{tenant}", "Erika"):
        assert value not in text
    assert "ServiceRequest" in text
    assert reports.reports_of(tenant, f"alice-{tenant}") == [report]


def test_routing_rules_send_a_district_s_reports_to_its_crew(app: FastAPI, reports: ReportService, tenant: str) -> None:
    add_city(app, tenant)
    rule = reports.add_route(
        tenant, "North lighting crew", service_code="streetlight", district=DISTRICT_NORTH, by="boss"
    )
    assert reports.routes(tenant) == [Route(rule.id, "North lighting crew", "streetlight", DISTRICT_NORTH)]
    assert reports.submit(tenant, lamp_report(trusted=True)).report.department == "North lighting crew"
    with pytest.raises(BadRequestData, match="names a category, a district or both"):
        reports.add_route(tenant, "Nobody", service_code=None, district=None, by="boss")
    reports.delete_route(tenant, rule.id, by="boss")
    assert reports.submit(tenant, lamp_report(trusted=True)).report.department == "Street lighting"
    actions = [e.action for e in app.state.audit.entries(tenant, AuditFilter(action="route."))[0]]
    assert actions == ["route.delete", "route.add"]


def test_an_anonymous_report_waits_for_its_e_mail_confirmation(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    with pytest.raises(BadRequestData, match="e-mail address"):
        reports.submit(tenant, lamp_report())
    receipt = reports.submit(tenant, lamp_report(email="resident@example.org"))
    report = receipt.report
    assert receipt.awaiting_confirmation
    assert not report.public
    assert report.token
    assert reports.by_token(report.token).id == report.id
    with pytest.raises(NotFound):
        reports.public_report(tenant, report.id)
    with pytest.raises(NotFound):
        app.state.context.get_entity(tenant, report_entity_id(report.id))
    (mail,) = mails(app, tenant)
    assert mail.recipient == "resident@example.org"
    link = next(line for line in mail.body.splitlines() if "/confirm?code=" in line)
    code = link.rsplit("code=", 1)[1]
    with pytest.raises(PolicyDenied):
        reports.confirm(tenant, report.id, code + "x")
    confirmed = reports.confirm(tenant, report.id, code)
    assert confirmed.public
    assert reports.public_report(tenant, report.id).confirmed
    app.state.context.get_entity(tenant, report_entity_id(report.id))  # mirrored now
    assert reports.confirm(tenant, report.id, "used-already").confirmed  # confirming twice changes nothing
    with pytest.raises(NotFound):
        reports.confirm(tenant, "nope", code)


def test_confirmation_can_be_switched_off(db_url: str, tenant: str) -> None:
    from conftest import make_settings
    from urbis.app import create_app

    app = create_app(make_settings(db_url, tenant, citizen_confirm_anonymous=False))
    report = app.state.citizen_reports.submit(tenant, lamp_report()).report
    assert report.public
    assert report.token is None


def test_a_report_on_a_faulty_lamp_joins_its_fault_and_closes_with_the_work_order(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    add_city(app, tenant)
    alarm = lamp_alarm(app, tenant)
    (order,) = app.state.operations.list_work_orders(tenant, _by_source())[0]
    report = reports.submit(tenant, lamp_report(trusted=True, object_type="Streetlight", object_id=LAMP_ID)).report
    assert set(reports.links(tenant, report.id)) == {("alarm", alarm.id), ("work_order", order.id)}
    notes = [u.description for u in reports.history(tenant, report.id)]
    assert any("already knows" in note and "Replace the lamp" in note for note in notes)
    app.state.operations.close_work_order(tenant, order.id, "lamp replaced", by="crew-7")
    closed = reports.get(tenant, report.id)
    assert closed.stage is Stage.FIXED
    assert "lamp replaced" in (closed.status_notes or "")
    last = reports.history(tenant, report.id)[-1]
    assert (last.kind, last.stage) == (UpdateKind.STATUS, Stage.FIXED)


def test_a_fault_the_lamp_reports_later_joins_the_open_report_and_its_recovery_fixes_it(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    add_city(app, tenant)
    report = reports.submit(tenant, lamp_report(trusted=True, object_type="Streetlight", object_id=LAMP_ID)).report
    assert reports.links(tenant, report.id) == []
    alarm = lamp_alarm(app, tenant)
    assert ("alarm", alarm.id) in reports.links(tenant, report.id)
    app.state.operations.recover(tenant, "lighting", "lampFailure", LAMP_ID)
    fixed = reports.get(tenant, report.id)
    assert fixed.stage is Stage.FIXED
    assert fixed.status_notes == "Fixed: the asset reports working again."


def test_the_sweep_settles_reports_whose_fault_closed_elsewhere(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    add_city(app, tenant)
    lamp_alarm(app, tenant)
    report = reports.submit(tenant, lamp_report(trusted=True, object_type="Streetlight", object_id=LAMP_ID)).report
    (order,) = app.state.operations.list_work_orders(tenant, _by_source())[0]
    # Another process closes the job: no event reaches this one.
    OperationsService(app.state.db, None).close_work_order(tenant, order.id, "done", by="crew")
    assert reports.get(tenant, report.id).stage is Stage.SUBMITTED
    assert reports.sweep() >= 1
    assert reports.get(tenant, report.id).stage is Stage.FIXED


def test_an_asset_must_exist_and_suit_the_category(app: FastAPI, reports: ReportService, tenant: str) -> None:
    add_city(app, tenant)
    with pytest.raises(BadRequestData, match="go together"):
        reports.submit(tenant, lamp_report(trusted=True, object_id=LAMP_ID))
    with pytest.raises(BadRequestData, match="does not concern assets of type 'ParkingSpot'"):
        reports.submit(tenant, lamp_report(trusted=True, object_type="ParkingSpot", object_id=LAMP_ID))
    app.state.context.upsert_documents(tenant, [{"id": "urn:ngsi-ld:Road:ring", "type": "Road"}])
    with pytest.raises(BadRequestData, match="is not a 'Streetlight'"):
        reports.submit(tenant, lamp_report(trusted=True, object_type="Streetlight", object_id="urn:ngsi-ld:Road:ring"))
    with pytest.raises(BadRequestData, match="there is no asset"):
        reports.submit(
            tenant, lamp_report(trusted=True, object_type="Streetlight", object_id="urn:ngsi-ld:Streetlight:nowhere")
        )


def test_staff_move_merge_and_moderate_reports_with_an_audit_trail(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    first = reports.submit(tenant, lamp_report(account=f"a-{tenant}", email="a@example.org")).report
    second = reports.submit(tenant, lamp_report(account=f"b-{tenant}", email="b@example.org")).report
    moved = reports.set_stage(tenant, first.id, Stage.ACTION_SCHEDULED, "A crew comes on Monday.", by="op")
    assert moved.stage is Stage.ACTION_SCHEDULED
    assert [u.description for u in reports.history(tenant, first.id)][-1] == "A crew comes on Monday."
    assert reports.history(tenant, first.id)[-1].by is None  # the public history hides who
    assert reports.history(tenant, first.id, public=False)[-1].by == "op"
    merged = reports.merge(tenant, second.id, first.id, by="op")
    assert (merged.stage, merged.parent_id) == (Stage.DUPLICATE, first.id)
    with pytest.raises(Conflict):
        reports.comment(tenant, second.id, "still dark", by=f"b-{tenant}")
    hidden = reports.moderate(tenant, first.id, Moderation.HIDDEN, "shows a face", by="mod")
    assert not hidden.public
    with pytest.raises(NotFound):
        app.state.context.get_entity(tenant, report_entity_id(first.id))
    entries, _ = app.state.audit.entries(tenant, AuditFilter(action="report."))
    assert [(e.action, e.target) for e in reversed(entries)] == [
        ("report.status", first.id),
        ("report.merge", second.id),
        ("report.moderate", first.id),
    ]
    assert entries[0].detail["reason"] == "shows a face"
    # The senders were told (each by mail).
    recipients = [m.recipient for m in mails(app, tenant)]
    assert recipients == ["a@example.org", "b@example.org"]


def test_three_flags_by_different_people_hide_a_report_and_a_moderator_restores_it(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    report = reports.submit(tenant, lamp_report(trusted=True)).report
    assert reports.flag(tenant, "report", report.id, FlagReason.SPAM, flagger="user:x") is Moderation.PUBLIC
    assert reports.flag(tenant, "report", report.id, FlagReason.SPAM, flagger="user:x") is Moderation.PUBLIC
    assert reports.flag(tenant, "report", report.id, FlagReason.OFFENSIVE, flagger="ip:1") is Moderation.PUBLIC
    assert reports.flag(tenant, "report", report.id, FlagReason.SPAM, flagger="ip:2") is Moderation.HIDDEN
    assert not reports.get(tenant, report.id).public
    queue = reports.moderation_queue(tenant)
    assert [r.id for r in queue["reports"]] == [report.id]
    assert queue["reportFlags"][report.id] == {"spam": 2, "offensive": 1}
    reports.moderate(tenant, report.id, Moderation.PUBLIC, "flags were unfounded", by="mod")
    assert reports.get(tenant, report.id).public
    assert reports.moderation_queue(tenant)["reports"] == []


def test_comments_are_moderated_like_reports(app: FastAPI, reports: ReportService, tenant: str) -> None:
    report = reports.submit(tenant, lamp_report(trusted=True)).report
    comment = reports.comment(tenant, report.id, "Still dark tonight.", by=f"c-{tenant}")
    for flagger in ("ip:1", "ip:2", "ip:3"):
        reports.flag(tenant, "report-comment", comment.id, FlagReason.OFFENSIVE, flagger=flagger)
    assert comment.id not in [u.id for u in reports.history(tenant, report.id)]
    assert [c.id for c in reports.moderation_queue(tenant)["comments"]] == [comment.id]
    reports.moderate_comment(tenant, comment.id, Moderation.PUBLIC, "fine", by="mod")
    assert comment.id in [u.id for u in reports.history(tenant, report.id)]
    with pytest.raises(BadRequestData, match="plain text"):
        reports.comment(tenant, report.id, "<script>x</script>", by="c")


def test_nearby_open_reports_of_the_same_category_are_offered_first(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    here = reports.submit(tenant, lamp_report(trusted=True, lat=50.73550, long=7.10100)).report
    # 0.0003° of latitude is about 33 m; 0.003° about 334 m.
    close = reports.submit(tenant, lamp_report(trusted=True, lat=50.73580, long=7.10100)).report
    reports.submit(tenant, lamp_report(trusted=True, lat=50.73850, long=7.10100))
    reports.submit(tenant, lamp_report(trusted=True, service_code="litter", answers={}, lat=50.7355, long=7.1010))
    found = reports.nearby(tenant, "streetlight", 50.73560, 7.10100)
    assert [r.id for r in found] == [here.id, close.id]
    reports.set_stage(tenant, close.id, Stage.FIXED, "done", by="op")
    assert [r.id for r in reports.nearby(tenant, "streetlight", 50.73560, 7.10100)] == [here.id]


def test_a_resident_downloads_and_erases_their_data(app: FastAPI, reports: ReportService, tenant: str) -> None:
    account = f"dora-{tenant}"
    report = reports.submit(tenant, lamp_report(account=account, show_name=True, **PERSONAL)).report
    assert report.public_name == "Erika Mustermann"
    reports.comment(tenant, report.id, "Thanks!", by=account)
    data = reports.personal_data(tenant, account)
    (item,) = data["reports"]
    assert item["report"] == report.id
    assert item["contact"]["email"] == PERSONAL["email"]
    assert item["comments"][0]["text"] == "Thanks!"
    assert reports.erase_personal_data(tenant, account) == 1
    assert reports.contact(tenant, report.id) is None
    assert reports.get(tenant, report.id).public_name is None
    assert reports.personal_data(tenant, account) == {"reports": []}
    assert all(u.by != account for u in reports.history(tenant, report.id, public=False))


def test_open311_keys_are_kept_hashed_and_can_be_revoked(app: FastAPI, reports: ReportService, tenant: str) -> None:
    key, secret = reports.create_api_key(tenant, "Mobile app", by="admin")
    assert reports.check_api_key(tenant, secret) == key
    assert reports.check_api_key("other-city", secret) is None
    assert reports.check_api_key(tenant, secret + "x") is None
    with app.state.db.read() as conn:
        stored = conn.execute(select(store.api_keys.c.key_hash).where(store.api_keys.c.key_id == key.id)).scalar_one()
    assert secret not in stored
    reports.revoke_api_key(tenant, key.id, by="admin")
    assert reports.check_api_key(tenant, secret) is None
    with pytest.raises(NotFound):
        reports.revoke_api_key(tenant, key.id, by="admin")


def test_staff_categories_replace_the_defaults_and_are_checked(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    codes = [c.code for c in reports.categories(tenant)]
    assert codes[:2] == ["streetlight", "parking-bay"]
    litter = reports.category(tenant, "litter")
    from dataclasses import replace

    assert reports.save_category(tenant, replace(litter, active=False), by="admin") is False
    assert "litter" not in [c.code for c in reports.categories(tenant)]
    with pytest.raises(BadRequestData, match="no longer takes reports"):
        reports.submit(tenant, lamp_report(service_code="litter", answers={}, trusted=True))
    with pytest.raises(NotFound):
        reports.category(tenant, "nothing")


def test_photos_are_stored_cleaned_and_only_shown_with_a_public_report(
    app: FastAPI, reports: ReportService, tenant: str
) -> None:
    receipt = reports.submit(tenant, lamp_report(email="p@example.org", photos=[jpeg_with_gps()]))
    (photo_id,) = receipt.report.photos
    with pytest.raises(NotFound):
        reports.photo(tenant, photo_id)
    stored = reports.photo(tenant, photo_id, staff=True)
    assert stored.media_type == "image/jpeg"
    assert b"Exif" not in stored.content
    with pytest.raises(BadRequestData, match="at most 3 photos"):
        reports.submit(tenant, lamp_report(trusted=True, photos=[jpeg_with_gps()] * 4))
    assert reports_of(app, tenant) == 1  # the refused report left nothing behind


def _by_source() -> Any:
    from urbis.operations.store import TicketFilter

    return TicketFilter(source=LAMP_ID)


def test_channels_are_recorded(reports: ReportService, tenant: str) -> None:
    report = reports.submit(tenant, lamp_report(trusted=True, channel=Channel.STAFF)).report
    assert reports.get(tenant, report.id).channel is Channel.STAFF
