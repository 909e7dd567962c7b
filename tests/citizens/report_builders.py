"""Builders the citizen tests share: a small city (a district, a street, a lamp), a lamp fault, photos."""

from __future__ import annotations

import io

from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select

from urbis.citizens import store
from urbis.operations.model import Alarm, AlarmReport, Severity

DISTRICT_NORTH = "Nordstadt"
LAMP_ID = "urn:ngsi-ld:Streetlight:lamp-12"


def _square(west: float, south: float, east: float, north: float) -> dict[str, object]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def add_city(app: FastAPI, tenant: str) -> None:
    """Two districts side by side (north of 50.73 is Nordstadt), a street through the north one, a lamp on it."""
    documents = [
        {
            "id": "urn:ngsi-ld:AdministrativeArea:north",
            "type": "AdministrativeArea",
            "name": {"type": "Property", "value": DISTRICT_NORTH},
            "location": {"type": "GeoProperty", "value": _square(7.09, 50.73, 7.12, 50.75)},
        },
        {
            "id": "urn:ngsi-ld:AdministrativeArea:south",
            "type": "AdministrativeArea",
            "name": {"type": "Property", "value": "Südstadt"},
            "location": {"type": "GeoProperty", "value": _square(7.09, 50.71, 7.12, 50.73)},
        },
        {
            "id": "urn:ngsi-ld:Road:haupt",
            "type": "Road",
            "name": {"type": "Property", "value": "Hauptstraße"},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "LineString", "coordinates": [[7.0950, 50.7356], [7.1100, 50.7356]]},
            },
        },
        {
            "id": LAMP_ID,
            "type": "Streetlight",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1010, 50.7356]}},
        },
    ]
    result = app.state.context.upsert_documents(tenant, documents)
    assert not result.errors, result.errors
    app.state.places.forget(tenant)


def lamp_alarm(app: FastAPI, tenant: str, work_order: str | None = "Replace the lamp") -> Alarm:
    """The lamp reports its own failure (with a work order for a crew)."""
    from datetime import UTC, datetime

    alarm: Alarm = app.state.operations.report(
        AlarmReport(
            tenant=tenant,
            solution="lighting",
            kind="lampFailure",
            source=LAMP_ID,
            severity=Severity.MEDIUM,
            description="The lamp draws no current although it is switched on.",
            at=datetime.now(UTC),
            work_order=work_order,
        )
    )
    return alarm


def jpeg_with_gps(width: int = 64, height: int = 48) -> bytes:
    """A JPEG whose EXIF holds a camera model and a GPS position (Bonn, 50°44'N 7°6'E)."""
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 3000"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (50.0, 44.0, 0.0)
    gps[3] = "E"
    gps[4] = (7.0, 6.0, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def reports_of(app: FastAPI, tenant: str) -> int:
    """How many reports a tenant has."""
    with app.state.db.read() as conn:
        return int(conn.execute(select(func.count()).where(store.reports.c.tenant == tenant)).scalar_one())
