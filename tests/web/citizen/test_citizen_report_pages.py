"""Reporting a problem in the citizen app, on SQLite and PostgreSQL: the form and its six kinds of question,
sending with photos (with and without an account), errors that keep what was typed, duplicates nearby, the
report's public page without personal data, the e-mail confirmation, comments, flags and the rate limit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from report_builders import LAMP_ID, jpeg_with_gps, reports_of
from sqlalchemy import select
from test_citizen_pages import (
    assert_page,
    citizen_app_for,
    csrf_of,
    log_in,
    make_resident,
    public_report,
)

from urbis.citizens.mail import outbox
from urbis.citizens.moderation import Moderation

#: On Hauptstraße, 7 m east of the lamp.
LAMP_POINT = {"lat": "50.7356", "long": "7.1011"}


@pytest.fixture
def citizen_app(db_url: str, tenant: str) -> FastAPI:
    return citizen_app_for(db_url, tenant)


@pytest.fixture
def citizen(citizen_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(citizen_app) as client:
        yield client


def lamp_form(**changes: str) -> dict[str, str]:
    """A street-light report as the form sends it."""
    form = {
        "service": "streetlight",
        "attribute[fault]": "dark",
        "attribute[pole_number]": "",
        "attribute[noticed_at]": "2026-11-20T18:30",
        "description": "The lamp outside number 12 is dark.",
        **LAMP_POINT,
        "address": "",
        "object_type": "",
        "object_id": "",
        "email": "",
        "name": "",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def send(client: TestClient, form: dict[str, str], photos: int = 0, **extra: Any) -> Any:
    files = [("photo", (f"p{n}.jpg", jpeg_with_gps(), "image/jpeg")) for n in range(photos)]
    return client.post("/app/report", data=form, files=files or None, follow_redirects=False, **extra)


def report_id_of(response: Any) -> str:
    assert response.status_code == 303, response.text[:3000]
    match = re.fullmatch(r"/app/reports/([0-9a-f]{12})\?new=1", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def mailed_code(app: FastAPI, tenant: str, report_id: str) -> str:
    with app.state.db.read() as conn:
        bodies = conn.execute(select(outbox.c.body).where(outbox.c.tenant == tenant)).scalars().all()
    links = [line for body in bodies for line in body.splitlines() if f"/app/reports/{report_id}/confirm?code=" in line]
    assert len(links) == 1, bodies
    return links[0].rsplit("code=", 1)[1]


# -- the form -------------------------------------------------------------------------------------------


def test_the_form_lists_the_categories_and_renders_each_datatype(citizen: TestClient) -> None:
    html = assert_page(citizen.get("/app/report"))
    names = re.findall(r'<input type="radio" id="service-([a-z-]+)" name="service"', html)
    assert names == ["streetlight", "parking-bay", "air-quality", "pothole", "litter", "graffiti"]
    for name in [
        "Street light not working",
        "Parking bay blocked or sensor wrong",
        "Air pollution or smell",
        "Pothole or damaged road",
        "Litter or fly-tipping",
        "Graffiti",
    ]:
        assert name in html
    # Street lights concern lamps on the map; the map draws them when the category is chosen.
    assert (
        'id="service-streetlight" name="service" value="streetlight" aria-describedby="service-streetlight-text"'
        in html
    )
    assert 'data-layers="lights"' in html and 'data-layers="bays,zones"' in html
    lamp = citizen.get("/app/report/questions", params={"service": "streetlight"}).text
    # singlevaluelist -> select, string -> text input, datetime -> datetime-local, variable=false -> a notice.
    assert re.search(r'<select id="q-fault" name="attribute\[fault\]"[^>]*aria-required="true"', lamp)
    assert '<option value="day-burning">It is on during the day</option>' in lamp
    assert '<input id="q-pole_number" name="attribute[pole_number]" type="text"' in lamp
    assert 'aria-describedby="q-pole_number-hint"' in lamp and "Printed on a plate about 2 m up the pole." in lamp
    assert '<input id="q-noticed_at" name="attribute[noticed_at]" type="datetime-local"' in lamp
    assert '<p class="notice important" role="note">Danger to people' in lamp
    assert 'name="attribute[emergency]"' not in lamp
    assert "Reports of this kind go to: Street lighting." in lamp
    bay = citizen.get("/app/report/questions", params={"service": "parking-bay"}).text
    assert '<input id="q-bays" name="attribute[bays]" type="number" step="any"' in bay  # number
    air = citizen.get("/app/report/questions", params={"service": "air-quality"}).text
    # multivaluelist -> checkboxes in a fieldset with a legend; text -> textarea.
    assert air.count('type="checkbox" name="attribute[kind][]"') == 4
    assert re.search(r'<fieldset class="question" id="q-kind"[^>]*>\s*<legend>What do you notice\?', air)
    assert '<textarea id="q-details" name="attribute[details]"' in air
    assert citizen.get("/app/report/questions", params={"service": "nothing"}).text.strip() == ""
    twin = citizen.get("/app/report.json").json()
    assert [c["code"] for c in twin["categories"]][:2] == ["streetlight", "parking-bay"]
    assert twin["maxPhotos"] == 3 and twin["emailNeeded"] is True
    datatypes = {q["datatype"] for c in twin["categories"] for q in c["questions"]}
    assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def test_without_javascript_a_category_shows_its_questions_and_an_address_sets_the_point(citizen: TestClient) -> None:
    shown = citizen.post("/app/report", data={"service": "parking-bay", "description": "Blocked", "refresh": "1"})
    assert shown.status_code == 200
    assert 'name="attribute[bays]" type="number"' in shown.text and ">Blocked</textarea>" in shown.text
    found = citizen.post("/app/report", data={"service": "litter", "address": "Hauptstr", "find": "1"})
    assert found.status_code == 200 and "Found: Hauptstraße." in found.text
    assert re.search(r'id="field-lat" name="lat" type="text" inputmode="decimal" value="50\.735600"', found.text)
    missing = citizen.post("/app/report", data={"service": "litter", "address": "Atlantis", "find": "1"})
    assert "No street or district of the city has that name." in missing.text


# -- sending --------------------------------------------------------------------------------------------


def test_an_anonymous_report_with_a_photo_waits_for_its_e_mail_confirmation(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    response = send(citizen, lamp_form(email="resident@example.org", name="Rita Resident"), photos=1)
    report_id = report_id_of(response)
    assert "urbis_sent=" in response.headers["set-cookie"]
    report = citizen_app.state.citizen_reports.get(tenant, report_id)
    assert not report.confirmed and len(report.photos) == 1
    assert report.answers == {"fault": "dark", "noticed_at": "2026-11-20T18:30:00+01:00"}  # Berlin in November
    # This browser sees its unconfirmed report, and is told to check its mail.
    html = assert_page(citizen.get(f"/app/reports/{report_id}?new=1"))
    assert "Please check your e-mail." in html
    assert f'href="http://127.0.0.1:8000/app/reports/{report_id}" data-tracking-link' in html
    assert "resident@example.org" not in html and "Rita" not in html
    assert "Your photos will show here once the report is confirmed." in html
    # Nobody else does.
    with TestClient(citizen_app) as stranger:
        assert stranger.get(f"/app/reports/{report_id}").status_code == 404
        assert stranger.get(f"/app/reports/{report_id}.json").status_code == 404
        # A mail scanner opening the link confirms nothing; the button does.
        code = mailed_code(citizen_app, tenant, report_id)
        form = assert_page(stranger.get(f"/app/reports/{report_id}/confirm", params={"code": code}))
        assert f'name="code" value="{code}"' in form
        assert not citizen_app.state.citizen_reports.get(tenant, report_id).confirmed
        wrong = stranger.post(f"/app/reports/{report_id}/confirm", data={"code": code + "x"})
        assert wrong.status_code == 403 and "This confirmation link is not valid." in wrong.text
        confirmed = stranger.post(f"/app/reports/{report_id}/confirm", data={"code": code}, follow_redirects=False)
        assert confirmed.headers["location"] == f"/app/reports/{report_id}?confirmed=1"
        public = assert_page(stranger.get(f"/app/reports/{report_id}?confirmed=1"))
        assert "your report is confirmed and now public" in public
        (photo,) = re.findall(r'<img src="(/media/reports/[0-9a-f]{12}\?tenant=[^"]+)"', public)
        served = stranger.get(photo)
        assert served.status_code == 200
        with Image.open(io.BytesIO(served.content)) as image:
            assert not image.getexif()  # the GPS position and the camera are gone


def test_a_logged_in_resident_reports_publicly_at_once(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    username = make_resident(citizen_app, tenant)
    log_in(citizen, username)
    form_page = citizen.get("/app/report").text
    assert "You are reporting as" in form_page and 'name="email"' not in form_page
    response = send(
        citizen,
        lamp_form(csrf_token=csrf_of(form_page), object_type="Streetlight", object_id=LAMP_ID),
        photos=2,
    )
    report_id = report_id_of(response)
    assert "urbis_sent" not in response.headers.get("set-cookie", "")
    report = citizen_app.state.citizen_reports.get(tenant, report_id)
    assert report.public and report.object_id == LAMP_ID and report.public_name is None
    html = assert_page(citizen.get(f"/app/reports/{report_id}?new=1"))
    assert "Your report has been sent to Street lighting." in html
    assert len(re.findall(r'<img src="/media/reports/[0-9a-f]{12}\?tenant=[^"]+"', html)) == 2
    assert username not in html.replace(f"You are reporting as {username}", "")  # names are private by default
    assert citizen_app.state.citizen_reports.sender_is(tenant, report_id, username)
    # An asset chosen for a category that does not concern it is dropped, not an error.
    litter = send(
        citizen,
        lamp_form(service="litter", csrf_token=csrf_of(form_page), object_type="Streetlight", object_id=LAMP_ID),
    )
    assert citizen_app.state.citizen_reports.get(tenant, report_id_of(litter)).object_id is None
    # Without the page's token a logged-in resident's form is not taken, but nothing typed is lost.
    forged = send(citizen, lamp_form(description="Forged?"))
    assert forged.status_code == 403 and ">Forged?</textarea>" in forged.text and "The form has expired." in forged.text


def test_a_missing_answer_shows_the_form_again_with_everything_typed(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    response = send(
        citizen,
        lamp_form(
            **{"attribute[fault]": "", "attribute[pole_number]": "L-12", "email": "r@example.org"},
            description="Dark & dangerous since Monday",
        ),
        photos=1,
    )
    assert response.status_code == 400
    html = response.text
    assert reports_of(citizen_app, tenant) == 0
    assert ">Dark &amp; dangerous since Monday</textarea>" in html
    assert 'value="L-12"' in html and 'value="r@example.org"' in html and 'value="2026-11-20T18:30"' in html
    assert re.search(r'id="service-streetlight" name="service" value="streetlight"[^>]*checked>', html)
    # The problem sits under its field, tied to it for screen readers, and listed on top with a link to it.
    assert '<p class="field-error" id="error-attribute-fault">Please answer this question.</p>' in html
    assert re.search(
        r'<select id="q-fault" name="attribute\[fault\]" aria-describedby="error-attribute-fault" aria-invalid="true"',
        html,
    )
    assert '<a href="#q-fault">Please answer this question.</a>' in html
    assert "Please attach your photos again." in html


def test_where_and_who_are_checked_by_field(citizen: TestClient) -> None:
    response = send(citizen, lamp_form(lat="", long="", email="not-an-address"))
    assert response.status_code == 400
    assert 'id="error-location"' in response.text and "Please show where the problem is" in response.text
    assert 'id="error-email">This does not look like an e-mail address.' in response.text
    no_email = send(citizen, lamp_form())
    assert no_email.status_code == 400 and 'id="error-email"' in no_email.text
    bad_numbers = send(citizen, lamp_form(lat="north", email="r@example.org"))
    assert "Latitude and longitude must both be numbers" in bad_numbers.text
    no_category = send(citizen, lamp_form(service="", email="r@example.org"))
    assert "Please choose what kind of problem it is." in no_category.text


def test_more_than_three_photos_and_other_files_are_refused(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    four = send(citizen, lamp_form(email="r@example.org"), photos=4)
    assert four.status_code == 400 and "Attach at most 3 photos." in four.text
    text_file = citizen.post(
        "/app/report", data=lamp_form(email="r@example.org"), files=[("photo", ("a.jpg", b"hello", "image/jpeg"))]
    )
    assert text_file.status_code == 400 and "Photos must be JPEG, PNG or WebP images." in text_file.text
    assert reports_of(citizen_app, tenant) == 0


def test_too_many_reports_get_a_friendly_answer_that_keeps_the_form(db_url: str, tenant: str) -> None:
    app = citizen_app_for(db_url, tenant, citizen_rate_limit_ip="1/minute")
    with TestClient(app) as client:
        report_id_of(send(client, lamp_form(email="r@example.org")))
        again = send(client, lamp_form(email="r@example.org", description="A second lamp"))
        assert again.status_code == 429 and 1 <= int(again.headers["retry-after"]) <= 60
        assert "Please try again in" in again.text and ">A second lamp</textarea>" in again.text
        assert reports_of(app, tenant) == 1


# -- duplicates nearby ----------------------------------------------------------------------------------


def test_open_reports_of_the_same_kind_nearby_are_offered_first(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    close = public_report(citizen_app, tenant, description="Dark since Friday")
    public_report(citizen_app, tenant, service_code="litter", answers={})  # another kind
    public_report(citizen_app, tenant, lat=50.7370, long=7.1010)  # 0.0014 deg north: 156 m, beyond 50 m
    fragment = citizen.get("/app/report/nearby", params={"service": "streetlight", **LAMP_POINT})
    assert fragment.status_code == 200
    assert re.findall(r'href="/app/reports/([0-9a-f]{12})"', fragment.text) == [close, close]
    assert "Dark since Friday" in fragment.text and "See this report instead" in fragment.text
    # 0.0001 deg of longitude at 50.7356 N is 7 m.
    assert "7 m away" in fragment.text
    twin = citizen.get("/app/report/nearby.json", params={"service": "streetlight", **LAMP_POINT}).json()
    assert [(n["id"], n["distance"]) for n in twin] == [(close, 7)]
    assert citizen.get("/app/report/nearby", params={"service": "graffiti", **LAMP_POINT}).text.strip() == ""
    # The form itself shows them too when it is drawn with a category and a point (no JavaScript).
    assert "Dark since Friday" in citizen.get("/app/report", params={"service": "streetlight", **LAMP_POINT}).text
    # A logged-in resident may follow the report instead.
    log_in(citizen, make_resident(citizen_app, tenant))
    follow = citizen.get("/app/report/nearby", params={"service": "streetlight", **LAMP_POINT}).text
    assert "Follow this report instead" in follow and f'name="target" value="{close}"' in follow


# -- the report's page ----------------------------------------------------------------------------------


def test_the_report_page_shows_no_personal_data(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    secrets = {
        "email": "secret.person@example.org",
        "first_name": "Sigrid",
        "last_name": "Secretova",
        "phone": "+49 228 555 0199",
        "device_id": "phone-4711",
    }
    report_id = public_report(citizen_app, tenant, device_lat=50.7001, device_long=7.0501, **secrets)
    html = assert_page(citizen.get(f"/app/reports/{report_id}"))
    twin = citizen.get(f"/app/reports/{report_id}.json").text
    for page in (html, twin):
        for value in [*secrets.values(), "50.7001", "7.0501"]:
            assert value not in page
    assert "It is dark at night" in html  # the answer's name, not its key
    assert "Received, waiting to be looked at" in html and "Street lighting" in html
    assert citizen.get(f"/app/reports/{report_id}.json").json()["confirmed"] is True
    named = public_report(citizen_app, tenant, first_name="Nora", last_name="Named", show_name=True)
    assert "by Nora Named" in citizen.get(f"/app/reports/{named}").text


def test_residents_comment_and_anyone_flags(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    report_id = public_report(citizen_app, tenant)
    anonymous = citizen.get(f"/app/reports/{report_id}").text
    assert "Log in to add a comment." in anonymous
    flagged = citizen.post(f"/app/reports/{report_id}/flag", data={"reason": "spam"}, follow_redirects=False)
    assert flagged.headers["location"] == f"/app/reports/{report_id}?flagged=1"
    assert "The moderators will look at this report." in citizen.get(flagged.headers["location"]).text
    assert citizen.post(f"/app/reports/{report_id}/flag", data={"reason": "boring"}).status_code == 400
    log_in(citizen, make_resident(citizen_app, tenant))
    page = citizen.get(f"/app/reports/{report_id}").text
    forged = citizen.post(f"/app/reports/{report_id}/comment", data={"text": "Still dark tonight."})
    assert forged.status_code == 403 and ">Still dark tonight.</textarea>" in forged.text
    empty = citizen.post(f"/app/reports/{report_id}/comment", data={"text": " ", "csrf_token": csrf_of(page)})
    assert empty.status_code == 400 and 'id="comment-error"' in empty.text
    added = citizen.post(
        f"/app/reports/{report_id}/comment",
        data={"text": "Still dark tonight.", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert added.status_code == 303
    shown = citizen.get(f"/app/reports/{report_id}").text
    assert "<p>Still dark tonight.</p>" in shown and "A resident" in shown


def test_a_resident_still_sees_their_own_report_once_moderators_hide_it(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    username = make_resident(citizen_app, tenant)
    report_id = public_report(citizen_app, tenant, account=username)
    citizen_app.state.citizen_reports.moderate(tenant, report_id, Moderation.HIDDEN, "A name in the text", by="mod")
    assert citizen.get(f"/app/reports/{report_id}").status_code == 404
    log_in(citizen, username)
    html = assert_page(citizen.get(f"/app/reports/{report_id}"))
    assert "Follow this report" not in html and "Add a comment" not in html  # not public: no follows, no comments
