"""The citizen app's page helpers, by hand: the report draft and its checks, coordinates, map layers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from urbis.citizens.categories import DEFAULT_CATEGORIES
from urbis.citizens.nearby import (
    parse_coordinate,
)
from urbis.web.citizen.views import (
    ReportDraft,
    check_draft,
    layers_of,
    parse_draft,
    photo_kind,
    prepared_answers,
)

BERLIN = ZoneInfo("Europe/Berlin")
LAMP = next(c for c in DEFAULT_CATEGORIES if c.code == "streetlight")
AIR = next(c for c in DEFAULT_CATEGORIES if c.code == "air-quality")
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 20
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_the_draft_keeps_every_field_as_typed() -> None:
    draft = parse_draft(
        [
            ("service", "air-quality"),
            ("description", "  Smoke  "),
            ("attribute[kind][]", "smoke"),
            ("attribute[kind][]", "smell"),
            ("attribute[details]", "From the yard"),
            ("attribute[bad", "ignored"),
            ("attribute[x]y", "ignored"),
            ("show_name", "1"),
            ("csrf_token", "t"),
        ]
    )
    assert draft.service == "air-quality" and draft.description == "  Smoke  " and draft.show_name
    assert draft.answers == {"kind": ["smoke", "smell"], "details": ["From the yard"]}
    assert draft.chosen("kind", "smell") and not draft.chosen("kind", "dust")
    assert draft.answer("details") == "From the yard" and draft.answer("none") == ""


def test_a_browser_time_becomes_the_city_time_with_its_offset() -> None:
    draft = ReportDraft(
        service="streetlight", answers={"noticed_at": ["2026-07-01T22:15"], "fault": ["dark"], "emergency": ["x"]}
    )
    # Berlin is UTC+2 in summer; the notice-only question takes no answer.
    assert prepared_answers(LAMP, draft, BERLIN) == {"noticed_at": ["2026-07-01T22:15:00+02:00"], "fault": ["dark"]}


def checked(draft: ReportDraft, *, anonymous: bool = True, photos: tuple[bytes, ...] = ()) -> dict[str, str]:
    found = check_draft(
        draft,
        LAMP if draft.service == "streetlight" else (AIR if draft.service == "air-quality" else None),
        anonymous=anonymous,
        email_needed=True,
        photos=photos,
        photo_max_bytes=100,
        zone=BERLIN,
    )
    return {key: error.code for key, error in found.items()}


def test_the_draft_checks_name_each_field() -> None:
    good = ReportDraft(service="streetlight", lat="50.7", long="7.1", email="a@b.org", answers={"fault": ["dark"]})
    assert checked(good) == {}
    assert checked(ReportDraft(service="streetlight", lat="50.7", long="7.1"), anonymous=False) == {
        "attribute-fault": "required"
    }
    assert checked(ReportDraft(service="", address="Hauptstraße"), anonymous=False) == {"service": "service"}
    assert checked(ReportDraft(service="air-quality", lat="50.7", email="x"), anonymous=True) == {
        "attribute-kind": "required",
        "location": "coordinates",
        "email": "email-invalid",
    }
    wrong_choice = ReportDraft(service="air-quality", address="Markt", email="a@b.org", answers={"kind": ["fog"]})
    assert checked(wrong_choice) == {"attribute-kind": "invalid"}
    nowhere = ReportDraft(service="streetlight", answers={"fault": ["dark"]}, email="a@b.org", description="x" * 4001)
    assert checked(nowhere) == {"location": "location", "description": "too-long"}
    assert (
        checked(ReportDraft(service="streetlight", object_id="urn:ngsi-ld:Streetlight:1", answers={"fault": ["dark"]}))[
            "email"
        ]
        == "email-required"
    )
    assert checked(good, photos=(JPEG,) * 4) == {"photos": "too-many"}
    assert checked(good, photos=(JPEG + b"\0" * 100,)) == {"photos": "too-big"}
    assert checked(good, photos=(b"GIF89a" + b"\0" * 10,)) == {"photos": "type"}


def test_photo_kinds_by_their_first_bytes() -> None:
    assert photo_kind(JPEG) == "jpeg"
    assert photo_kind(b"\x89PNG\r\n\x1a\n" + b"\0" * 8) == "png"
    assert photo_kind(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert photo_kind(b"RIFF\0\0\0\0AVI ") is None
    assert photo_kind(b"<svg/>") is None


def test_coordinates_and_map_layers() -> None:
    assert parse_coordinate(" 50,7356 ", -90, 90) == 50.7356  # a decimal comma, as German keyboards type it
    assert parse_coordinate("91", -90, 90) is None and parse_coordinate("nan", -90, 90) is None
    assert parse_coordinate("", -90, 90) is None
    assert [layers_of(c) for c in DEFAULT_CATEGORIES] == ["lights", "bays,zones", "", "", "", ""]
