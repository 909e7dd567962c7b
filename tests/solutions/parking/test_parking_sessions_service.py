"""Parking sessions and enforcement on SQLite and PostgreSQL: overstays and unpaid bays from the sensors' history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.context.history import us_to_iso
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.solutions.parking.service import SESSION_RETENTION, ParkingService

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
ZONE = "urn:ngsi-ld:OnStreetParking:z1"


def bay(n: int) -> str:
    return f"urn:ngsi-ld:ParkingSpot:b{n}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def parking(database: Database, tenant: str, clock: FixedClock) -> ParkingService:
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    zone = {
        "id": ZONE,
        "type": "OnStreetParking",
        "category": {"type": "Property", "value": ["public", "feeCharged"]},
        "maximumParkingDuration": {"type": "Property", "value": "PT2H"},
    }
    bays = [
        {"id": bay(n), "type": "ParkingSpot", "refParkingSite": {"type": "Relationship", "object": ZONE}}
        for n in range(3)
    ]
    assert not context.upsert_documents(tenant, [zone, *bays]).errors

    def status(n: int, value: str, ago: timedelta) -> DeviceReadings:
        at = int((NOW - ago).timestamp() * 1_000_000)
        return DeviceReadings(tenant, f"bay-{n}", bay(n), "ParkingSpot", [Measure("status", value, us_to_iso(at), at)])

    context.record(
        [
            status(0, "free", timedelta(hours=5)),
            status(0, "occupied", timedelta(hours=3)),  # 3 h on a 2 h limit
            status(0, "occupied", timedelta(hours=1)),  # a repeated report does not restart the stay
            status(1, "occupied", timedelta(minutes=30)),  # no session: unpaid
            status(2, "occupied", timedelta(minutes=30)),  # a session covers it
        ],
        received_us=0,
    )
    return ParkingService(
        # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past, while other tests'
        # roll-up jobs on the shared database run on the real clock and would already have passed those hours.
        context,
        EXPAND,
        clock=clock,
        db=database,
        temporal=TemporalService(database, context, instance_limit=1000, use_rollups=False),
    )


def test_overstays_and_unpaid_bays(parking: ParkingService, tenant: str, clock: FixedClock) -> None:
    clock.moment = NOW - timedelta(minutes=30)
    covered = parking.start_session(tenant, ZONE, bay_id=bay(2), plate=" bn-ab 123 ")
    assert covered.plate == "BN-AB 123"
    clock.moment = NOW
    report = parking.compliance(tenant)
    (overstay,) = report.overstays
    # Arrived 11:00, 2 h allowed: over since 13:00, so 60 minutes over at 14:00 (past the 10 min grace).
    assert (overstay.bay_id, overstay.minutes_over, overstay.source) == (bay(0), 60, "sensor")
    assert overstay.stay_counted_from == NOW - timedelta(hours=3)
    assert [u.bay_id for u in report.unpaid] == [bay(0), bay(1)]  # neither has a session; bay 2 has one


def test_sessions_start_stop_and_are_forgotten_after_retention(
    parking: ParkingService, tenant: str, clock: FixedClock
) -> None:
    session = parking.start_session(tenant, ZONE, paid_minutes=60, rights=["disabled-badge"])
    assert session.paid_until == NOW + timedelta(hours=1) and [s.session_id for s in parking.open_sessions(tenant)] == [
        session.session_id
    ]
    stopped = parking.stop_session(tenant, session.session_id)
    assert stopped.ended_at == NOW and parking.open_sessions(tenant) == []
    with pytest.raises(Conflict):
        parking.stop_session(tenant, session.session_id)
    with pytest.raises(NotFound):
        parking.stop_session(tenant, "nope")
    with pytest.raises(BadRequestData):
        parking.start_session(tenant, bay(0))  # a bay is not a zone
    with pytest.raises(NotFound):
        parking.start_session(tenant, "urn:ngsi-ld:OnStreetParking:none")
    with pytest.raises(BadRequestData):
        parking.start_session(tenant, ZONE, paid_minutes=0)
    parking.evaluate(NOW + SESSION_RETENTION + timedelta(minutes=1))
    with pytest.raises(NotFound):  # the ended session (and its plate) is gone
        parking.stop_session(tenant, session.session_id)
