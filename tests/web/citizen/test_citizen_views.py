"""The citizen app's view helpers, by hand: AQI levels, the forecast in runs of hours, the report draft and its checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from urbis.citizens.categories import DEFAULT_CATEGORIES
from urbis.solutions.air_quality.model import ForecastPoint, IndexResult
from urbis.solutions.air_quality.service import StationAirQuality
from urbis.web.citizen.views import (
    ForecastSegment,
    ReportDraft,
    aqi_level,
    check_draft,
    forecast_segments,
    layers_of,
    measured_at,
    parse_coordinate,
    parse_draft,
    photo_kind,
    pm25_level,
    prepared_answers,
)

BERLIN = ZoneInfo("Europe/Berlin")
LAMP = next(c for c in DEFAULT_CATEGORIES if c.code == "streetlight")
AIR = next(c for c in DEFAULT_CATEGORIES if c.code == "air-quality")
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 20
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("index", "level"),
    [(None, None), (0, 1), (50, 1), (51, 2), (100, 2), (101, 3), (150, 3), (151, 4), (201, 5), (301, 6), (612, 6)],
)
def test_aqi_levels_follow_the_epa_categories(index: int | None, level: int | None) -> None:
    assert aqi_level(index) == level


@pytest.mark.parametrize(
    ("concentration", "level"),
    # PM2.5 rows of 2024: 0-9.0 good, 9.1-35.4 moderate, 35.5-55.4 sensitive, 55.5-125.4 unhealthy (values truncated).
    [(0.0, 1), (9.09, 1), (9.1, 2), (35.49, 2), (35.5, 3), (55.5, 4), (125.5, 5), (300.0, 6), (-1.0, None)],
)
def test_hourly_pm25_is_read_on_the_24_hour_table(concentration: float, level: int | None) -> None:
    assert pm25_level(concentration) == level


def test_the_forecast_is_told_in_runs_of_equal_level() -> None:
    values = [5.0, 6.0, 12.0, 20.0, 40.0, 8.0]  # good, good, moderate, moderate, sensitive, good
    points = [ForecastPoint(T0 + timedelta(hours=n), value) for n, value in enumerate(values)]
    assert forecast_segments(points) == [
        ForecastSegment(1, T0, T0 + timedelta(hours=2)),
        ForecastSegment(2, T0 + timedelta(hours=2), T0 + timedelta(hours=4)),
        ForecastSegment(3, T0 + timedelta(hours=4), T0 + timedelta(hours=5)),
        ForecastSegment(1, T0 + timedelta(hours=5), T0 + timedelta(hours=6)),
    ]
    # A missing hour starts a new run even at the same level.
    gap = [ForecastPoint(T0, 5.0), ForecastPoint(T0 + timedelta(hours=2), 5.0)]
    assert [(s.start, s.end) for s in forecast_segments(gap)] == [
        (T0, T0 + timedelta(hours=1)),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
    ]
    assert forecast_segments([]) == []


def test_a_station_measured_at_the_end_of_its_last_hour_with_a_value() -> None:
    empty = IndexResult("us-2024", None, None, None, None, ())
    hourly = {"pm25": [None] * 24, "no2": [None] * 24}
    hourly["pm25"][20] = 7.0  # the hour from end-4h to end-3h
    hourly["no2"][18] = 30.0
    station = StationAirQuality("s", "S", None, None, empty, empty, hourly)
    end = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert measured_at(station, end) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    silent = StationAirQuality("s", "S", None, None, empty, empty, {"pm25": [None] * 24})
    assert measured_at(silent, end) is None


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
