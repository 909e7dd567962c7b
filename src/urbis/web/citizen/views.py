"""Read models of the citizen app's own pages: the report form, reports, the map.

What residents see near them (air quality, parking) lives in :mod:`urbis.citizens.nearby`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point, mapping

from urbis.citizens.model import (
    DESCRIPTION_LENGTH,
    MAX_PHOTOS,
    Category,
    Datatype,
    Question,
    Report,
    Update,
    answer_questions,
)
from urbis.citizens.nearby import iso_instant as _iso
from urbis.citizens.nearby import parse_coordinate
from urbis.citizens.places import CityPlaces
from urbis.context.model import Entity, default_value
from urbis.context.query.geo import distance_m, representative_point
from urbis.core.errors import BadRequestData

# -- the report form -----------------------------------------------------------------------------


@dataclass
class ReportDraft:
    """What a resident typed into the report form, kept as typed so an error never loses it."""

    service: str = ""
    description: str = ""
    lat: str = ""
    long: str = ""
    address: str = ""
    object_type: str = ""
    object_id: str = ""
    email: str = ""
    name: str = ""
    show_name: bool = False
    answers: dict[str, list[str]] = field(default_factory=dict)

    def answer(self, code: str) -> str:
        """The one value typed for a question ('' when none)."""
        values = self.answers.get(code) or [""]
        return values[0]

    def chosen(self, code: str, key: str) -> bool:
        """Whether ``key`` is among the values picked for a list question."""
        return key in self.answers.get(code, [])


def _attribute_code(name: str) -> str | None:
    """``attribute[code]`` or ``attribute[code][]`` (Open311's form names) to ``code``."""
    if not name.startswith("attribute[") or "]" not in name:
        return None
    code = name[len("attribute[") : name.index("]")]
    rest = name[len("attribute[") + len(code) + 1 :]
    return code if code and rest in ("", "[]") else None


def parse_draft(items: Iterable[tuple[str, str]]) -> ReportDraft:
    """The report form's text fields (files are read apart) as a draft."""
    draft = ReportDraft()
    simple = {"service", "description", "lat", "long", "address", "object_type", "object_id", "email", "name"}
    for name, value in items:
        if name in simple:
            setattr(draft, name, value)
        elif name == "show_name":
            draft.show_name = value not in ("", "0", "false", "off")
        else:
            code = _attribute_code(name)
            if code is not None:
                draft.answers.setdefault(code, []).append(value)
    return draft


@dataclass(frozen=True)
class FieldError:
    """A problem with one field: a ``code`` the template words, or the service's own ``text``."""

    code: str
    text: str = ""


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and value.count("@") == 1 and not any(c.isspace() for c in value)


def _local_datetime(value: str, zone: ZoneInfo) -> str:
    """A browser's ``datetime-local`` value (no zone) as the city's local time with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the model words the problem
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def prepared_answers(category: Category, draft: ReportDraft, zone: ZoneInfo) -> dict[str, list[str]]:
    """The draft's answers to the category's questions, datetimes given the city's offset."""
    out: dict[str, list[str]] = {}
    for question in category.questions:
        if not question.variable:
            continue
        values = [v for v in draft.answers.get(question.code, []) if v.strip()]
        if question.datatype is Datatype.DATETIME:
            values = [_local_datetime(v.strip(), zone) for v in values]
        if values:
            out[question.code] = values
    return out


def check_answers(category: Category, answers: Mapping[str, Sequence[str]]) -> dict[str, FieldError]:
    """Each question's problem (keyed ``attribute-<code>``), checked one question at a time by the model."""
    errors: dict[str, FieldError] = {}
    for question in category.questions:
        if not question.variable:
            continue
        given = [v for v in answers.get(question.code, ()) if v.strip()]
        if not given:
            if question.required:
                errors[f"attribute-{question.code}"] = FieldError("required")
            continue
        try:
            answer_questions(replace(category, questions=(question,)), {question.code: given})
        except BadRequestData as problem:
            text = problem.detail.partition(": ")[2] or problem.detail
            errors[f"attribute-{question.code}"] = FieldError("invalid", text)
    return errors


#: The first bytes of the photo types the form accepts (the server checks the photo itself again).
_PHOTO_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"))


def photo_kind(data: bytes) -> str | None:
    """``jpeg``, ``png`` or ``webp`` by the file's first bytes; None for anything else."""
    for magic, kind in _PHOTO_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_draft(
    draft: ReportDraft,
    category: Category | None,
    *,
    anonymous: bool,
    email_needed: bool,
    photos: Sequence[bytes],
    photo_max_bytes: int,
    zone: ZoneInfo,
) -> dict[str, FieldError]:
    """Every problem of a draft the form can point at a field for (the service checks everything again)."""
    errors: dict[str, FieldError] = {}
    if category is None:
        errors["service"] = FieldError("service")
    else:
        errors.update(check_answers(category, prepared_answers(category, draft, zone)))
    lat = parse_coordinate(draft.lat, -90, 90)
    long = parse_coordinate(draft.long, -180, 180)
    typed = bool(draft.lat.strip() or draft.long.strip())
    if typed and (lat is None or long is None):
        errors["location"] = FieldError("coordinates")
    elif not typed and not draft.address.strip() and not draft.object_id.strip():
        errors["location"] = FieldError("location")
    if len(draft.description.strip()) > DESCRIPTION_LENGTH:
        errors["description"] = FieldError("too-long")
    if anonymous:
        if not draft.email.strip():
            if email_needed:
                errors["email"] = FieldError("email-required")
        elif not _looks_like_email(draft.email.strip()):
            errors["email"] = FieldError("email-invalid")
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = FieldError("too-many")
    elif any(len(data) > photo_max_bytes for data in photos):
        errors["photos"] = FieldError("too-big")
    elif any(photo_kind(data) is None for data in photos):
        errors["photos"] = FieldError("type")
    return errors


@dataclass(frozen=True)
class CategoryGroup:
    """Categories under one group heading, in the city's order."""

    name: str
    categories: list[Category]


def category_groups(categories: Iterable[Category]) -> list[CategoryGroup]:
    """Categories grouped (groups in the order of their first category)."""
    groups: dict[str, list[Category]] = {}
    for category in sorted(categories, key=lambda c: (c.position, c.name)):
        groups.setdefault(category.group or "", []).append(category)
    return [CategoryGroup(name, items) for name, items in groups.items()]


def questions_of(category: Category | None) -> list[Question]:
    """A category's questions in their Open311 order."""
    return [] if category is None else sorted(category.questions, key=lambda q: q.order)


def category_json(category: Category) -> dict[str, Any]:
    """A category as the form's JSON twin describes it (Open311 attribute names)."""
    return {
        "code": category.code,
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "department": category.department,
        "objectTypes": list(category.object_types),
        "questions": [
            {
                "code": q.code,
                "datatype": q.datatype.value,
                "description": q.description,
                "required": q.required,
                "variable": q.variable,
                "order": q.order,
                "datatypeDescription": q.datatype_description,
                "values": [{"key": v.key, "name": v.name} for v in q.values],
            }
            for q in questions_of(category)
        ],
    }


# -- reports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearbyReport:
    """An open report close to where a resident is about to report the same thing."""

    report: Report
    distance_m: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON twin of a nearby report (public fields only)."""
        return {
            "id": self.report.id,
            "serviceName": self.report.service_name,
            "stage": self.report.stage.value,
            "description": self.report.description,
            "requestedAt": _iso(self.report.requested_at),
            "distance": None if self.distance_m is None else round(self.distance_m),
        }


def nearby_reports(reports: Iterable[Report], lat: float, long: float) -> list[NearbyReport]:
    """Reports with their distance from the point the resident picked."""
    centre = Point(long, lat)
    out = []
    for report in reports:
        distance = None
        if report.lat is not None and report.long is not None:
            distance = distance_m(Point(report.long, report.lat), centre)
        out.append(NearbyReport(report, distance))
    return out


def answer_lines(category: Category | None, report: Report) -> list[tuple[Question | None, str, list[str]]]:
    """A report's answers as (question, code, shown values): list keys become their names."""
    questions = {q.code: q for q in questions_of(category)}
    lines: list[tuple[Question | None, str, list[str]]] = []
    for code, value in report.answers.items():
        question = questions.get(code)
        values = value if isinstance(value, list) else [value]
        names = {c.key: c.name for c in question.values} if question is not None else {}
        lines.append((question, code, [names.get(str(v), str(v)) for v in values]))
    order = {code: position for position, code in enumerate(questions)}
    lines.sort(key=lambda line: order.get(line[1], len(order)))
    return lines


def public_updates(updates: Sequence[Update]) -> list[Update]:
    """A report's history for the public page, newest first."""
    return sorted(updates, key=lambda u: u.at, reverse=True)


# -- the map -------------------------------------------------------------------------------------

#: Layers of /app/map.json: the city's outline, and the assets a report may name (by NGSI-LD type).
BASE_LAYERS = ("districts", "streets")
ASSET_LAYERS = {"Streetlight": "lights", "ParkingSpot": "bays", "OnStreetParking": "zones"}


def layers_of(category: Category) -> str:
    """The map layers of the assets a category's reports may name (``lights,bays``), for the map script."""
    return ",".join(ASSET_LAYERS[t] for t in category.object_types if t in ASSET_LAYERS)


def _rounded(geometry: Any, digits: int = 6) -> Any:
    """A GeoJSON geometry with coordinates rounded (smaller answers; a micro-degree is about 10 cm)."""
    if isinstance(geometry, dict):
        return {key: _rounded(value, digits) for key, value in geometry.items()}
    if isinstance(geometry, list | tuple):
        return [_rounded(value, digits) for value in geometry]
    if isinstance(geometry, float):
        return round(geometry, digits)
    return geometry


def _feature(feature_id: str, geometry: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": feature_id, "geometry": _rounded(geometry), "properties": properties}


def place_features(places: CityPlaces) -> dict[str, dict[str, Any]]:
    """The city's districts and streets as GeoJSON (public: names and shapes only)."""
    return {
        "districts": {
            "type": "FeatureCollection",
            "features": [
                _feature(a.place.id, mapping(a.shape), {"name": a.place.name, "kind": "district"})
                for a in places.districts
            ],
        },
        "streets": {
            "type": "FeatureCollection",
            "features": [
                _feature(a.place.id, mapping(a.shape), {"name": a.place.name, "kind": "street"}) for a in places.streets
            ],
        },
    }


def asset_features(object_type: str, entities: Iterable[Entity], location: str, name: str) -> dict[str, Any]:
    """Assets a report may name, as points (id, type and name only: nothing about their state)."""
    features = []
    for entity in entities:
        point = representative_point(default_value(entity, location))
        if point is None:
            continue
        label = default_value(entity, name)
        features.append(
            _feature(
                str(entity["id"]),
                {"type": "Point", "coordinates": [point[0], point[1]]},
                {
                    "name": label if isinstance(label, str) else str(entity["id"]).rsplit(":", 1)[-1],
                    "kind": "asset",
                    "objectType": object_type,
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}
