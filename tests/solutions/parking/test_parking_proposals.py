"""Price proposals on SQLite and PostgreSQL: a review proposes, an operator approves or rejects, all audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core import audit
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound
from urbis.solutions.parking.const import PricingRules
from urbis.solutions.parking.service import ParkingService, PricingSetup
from urbis.solutions.parking.store import ProposalState, RateProposal

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # a Tuesday
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
ZONE = "urn:ngsi-ld:OnStreetParking:z1"
#: What the SFpark rule makes of the readings below, worked by hand in test_parking_pricing_service.py.
PROPOSED = {
    "weekday-morning": Decimal("2.25"),
    "weekday-midday": Decimal("2.25"),
    "weekday-afternoon": Decimal("2.25"),
    "weekend-morning": Decimal("1.75"),
    "weekend-midday": Decimal("1.75"),
    "weekend-afternoon": Decimal("1.50"),
}


class City:
    """One tenant's context, history and clock, with parking services built on them as a test needs."""

    def __init__(self, database: Database, tenant: str) -> None:
        self.database = database
        self.tenant = tenant
        self.clock = FixedClock(NOW)
        self.context = ContextService(
            database, EventBus(), default_tenant=tenant, clock=self.clock, reading_terms=EXPAND
        )
        # Raw history, not roll-ups (see test_parking_pricing_service.py: the fixed clock lies in the past).
        self.temporal = TemporalService(database, self.context, instance_limit=1000, use_rollups=False)

    def parking(self, *, approval: bool = True, **setup: object) -> ParkingService:
        values: dict[str, object] = {"tz": BERLIN, "base_price": Decimal("2.00"), "needs_approval": approval, **setup}
        return ParkingService(
            self.context,
            EXPAND,
            clock=self.clock,
            db=self.database,
            temporal=self.temporal,
            pricing=PricingSetup(**values),  # type: ignore[arg-type]
        )

    def audit_entries(self) -> list[audit.AuditEntry]:
        with self.database.read() as conn:
            entries, _ = audit.read(conn, self.tenant, audit.AuditFilter(action="parking.price."))
        return entries

    def prices(self, service: ParkingService) -> dict[str, Decimal]:
        return {rate.time_band: rate.price for rate in service.current_rates(self.tenant)}


@pytest.fixture
def city(database: Database, tenant: str) -> City:
    found = City(database, tenant)
    zone = {"id": ZONE, "type": "OnStreetParking", "category": {"type": "Property", "value": ["public", "feeCharged"]}}
    assert not found.context.upsert_documents(tenant, [zone]).errors
    for observed, value in [
        ("2026-11-23T09:00:00Z", 0.95),
        ("2026-11-20T09:30:00Z", 0.85),
        ("2026-11-21T12:00:00Z", 0.2),
        ("2026-11-21T12:30:00Z", 0.2),
    ]:
        document = {
            "id": ZONE,
            "type": "OnStreetParking",
            "occupancy": {"type": "Property", "value": value, "observedAt": observed},
        }
        assert not found.context.update_documents(tenant, [document]).errors
    return found


def by_band(proposals: list[RateProposal]) -> dict[str, RateProposal]:
    return {p.time_band: p for p in proposals}


def test_with_approval_a_review_proposes_and_changes_no_price(city: City, tenant: str) -> None:
    parking = city.parking()
    review = parking.price_review(tenant, NOW)
    assert review.pending and {d.time_band: d.new_price for d in review.decisions} == PROPOSED
    pending, total = parking.proposals(tenant, "pending")
    assert total == 6 and len(pending) == 6
    assert set(review.proposal_ids.values()) == {p.proposal_id for p in pending}
    for band, proposal in by_band(pending).items():
        assert (proposal.zone_id, proposal.current_price, proposal.proposed_price) == (
            ZONE,
            Decimal("2.00"),
            PROPOSED[band],
        )
        assert proposal.proposed_at == NOW and proposal.decided_at is None and proposal.decided_by is None
        assert proposal.record["newPrice"] == str(PROPOSED[band]) and "occupancy" in proposal.record["reason"]
    # Nothing applied, nothing logged, nothing audited yet.
    assert set(city.prices(parking).values()) == {Decimal("2.00")}
    assert parking.price_log(tenant)[1] == 0 and city.audit_entries() == []
    assert parking.proposals(tenant, ProposalState.APPROVED) == ([], 0)
    page, total = parking.proposals(tenant, limit=2, offset=5)
    assert total == 6 and len(page) == 1


def test_without_approval_a_review_applies_at_once_and_proposes_nothing(city: City, tenant: str) -> None:
    parking = city.parking(approval=False)
    review = parking.price_review(tenant, NOW)
    assert not review.pending and review.proposal_ids == {}
    assert city.prices(parking) == PROPOSED and parking.price_log(tenant)[1] == 6
    assert parking.proposals(tenant) == ([], 0)


def test_approving_applies_the_price_logs_who_approved_and_audits(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    proposal = by_band(parking.proposals(tenant)[0])["weekday-morning"]
    approved_at = NOW + timedelta(hours=3)
    city.clock.moment = approved_at
    decided = parking.approve_proposal(tenant, proposal.proposal_id, "olga", "  busy all morning  ")
    assert (decided.state, decided.decided_at, decided.decided_by, decided.note) == (
        ProposalState.APPROVED,
        approved_at,
        "olga",
        "busy all morning",
    )
    rates = {r.time_band: r for r in parking.current_rates(tenant)}
    # The approved band moves, from the moment of approval; the others stay until decided.
    assert (rates["weekday-morning"].price, rates["weekday-morning"].last_change_at) == (Decimal("2.25"), approved_at)
    assert {band: r.price for band, r in rates.items() if band != "weekday-morning"} == {
        band: Decimal("2.00") for band in PROPOSED if band != "weekday-morning"
    }
    log, total = parking.price_log(tenant)
    assert total == 1
    assert (log[0]["timeBand"], log[0]["newPrice"], log[0]["approvedBy"], log[0]["proposalId"]) == (
        "weekday-morning",
        "2.25",
        "olga",
        proposal.proposal_id,
    )
    # 2026-11-24 21:00 UTC + 42 days = 2027-01-05 21:00 UTC: the period runs from the approval.
    assert log[0]["nextChangeAllowedAt"] == "2027-01-05T21:00:00+00:00" and log[0]["note"] == "busy all morning"
    (entry,) = city.audit_entries()
    assert (entry.actor, entry.action, entry.target, entry.at) == ("olga", "parking.price.approve", ZONE, approved_at)
    assert entry.detail == {
        "proposalId": proposal.proposal_id,
        "timeBand": "weekday-morning",
        "currentPrice": "2.00",
        "proposedPrice": "2.25",
        "currency": "USD",
        "note": "busy all morning",
    }
    assert parking.proposals(tenant, "pending")[1] == 5
    stored = by_band(parking.proposals(tenant, "approved")[0])["weekday-morning"]
    assert (stored.decided_by, stored.decided_at, stored.note) == ("olga", approved_at, "busy all morning")


def test_rejecting_leaves_the_price_and_audits(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    proposal = by_band(parking.proposals(tenant)[0])["weekend-afternoon"]
    city.clock.moment = NOW + timedelta(minutes=5)
    decided = parking.reject_proposal(tenant, proposal.proposal_id, "olga", "market day")
    assert (decided.state, decided.note) == (ProposalState.REJECTED, "market day")
    assert city.prices(parking)["weekend-afternoon"] == Decimal("2.00") and parking.price_log(tenant)[1] == 0
    (entry,) = city.audit_entries()
    assert (entry.action, entry.target, entry.at, entry.detail["note"]) == (
        "parking.price.reject",
        ZONE,
        NOW + timedelta(minutes=5),
        "market day",
    )
    assert by_band(parking.proposals(tenant, "rejected")[0])["weekend-afternoon"].decided_by == "olga"


def test_a_newer_review_supersedes_the_pending_proposals(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    first = by_band(parking.proposals(tenant)[0])
    later = NOW + timedelta(days=1)
    city.clock.moment = later
    review = parking.price_review(tenant, later)
    second = by_band(parking.proposals(tenant, "pending")[0])
    assert len(second) == 6 and not {p.proposal_id for p in second.values()} & {p.proposal_id for p in first.values()}
    superseded = by_band(parking.proposals(tenant, "superseded")[0])
    for band, old in superseded.items():
        new_id = review.proposal_ids[(ZONE, band)]
        assert (old.proposal_id, old.decided_at, old.decided_by) == (first[band].proposal_id, later, None)
        assert old.note == f"superseded by proposal {new_id} of the review at 2026-11-25T18:00:00Z"
    with pytest.raises(Conflict, match="superseded"):
        parking.approve_proposal(tenant, first["weekday-morning"].proposal_id, "olga")
    assert parking.proposals(tenant)[1] == 12 and city.audit_entries() == []


def test_a_review_that_changes_nothing_supersedes_too(city: City, tenant: str) -> None:
    city.parking().review_prices(tenant, NOW)
    # The city widened its target band to everything below 100 %: every band is on target now.
    wide = city.parking(rules=PricingRules(raise_at=1.0, lower_at=0.0, lower_more_below=0.0))
    review = wide.price_review(tenant, NOW + timedelta(hours=1))
    assert review.proposal_ids == {} and not any(d.changed for d in review.decisions)
    superseded, total = wide.proposals(tenant, "superseded")
    assert total == 6 and wide.proposals(tenant, "pending")[1] == 0
    assert all(
        p.note is not None and p.note.startswith("superseded by the review at 2026-11-24T19:00:00Z: occupancy")
        for p in superseded
    )


def test_a_review_that_applies_at_once_supersedes_the_pending_proposals(city: City, tenant: str) -> None:
    city.parking().review_prices(tenant, NOW)
    direct = city.parking(approval=False)
    direct.review_prices(tenant, NOW + timedelta(hours=1))
    superseded = by_band(direct.proposals(tenant, "superseded")[0])
    assert superseded["weekend-afternoon"].note == (
        "superseded by the review at 2026-11-24T19:00:00Z, which applied 1.50 USD"
    )
    assert len(superseded) == 6 and city.prices(direct) == PROPOSED


def test_deciding_twice_or_on_a_moved_price_is_a_conflict(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    proposals = by_band(parking.proposals(tenant)[0])
    morning, midday = proposals["weekday-morning"].proposal_id, proposals["weekday-midday"].proposal_id
    city.clock.moment = NOW + timedelta(minutes=1)
    parking.approve_proposal(tenant, morning, "olga")
    with pytest.raises(Conflict, match="approved, not pending"):
        parking.approve_proposal(tenant, morning, "olga")
    with pytest.raises(Conflict, match="approved, not pending"):
        parking.reject_proposal(tenant, morning, "piet", None)
    city.clock.moment = NOW + timedelta(minutes=2)
    parking.reject_proposal(tenant, midday, "olga", None)
    with pytest.raises(Conflict, match="rejected, not pending"):
        parking.approve_proposal(tenant, midday, "piet")
    # The city raised its base price since the review: the afternoon's price in force is 2.50 now, not 2.00.
    dearer = city.parking(base_price=Decimal("2.50"))
    afternoon = proposals["weekday-afternoon"].proposal_id
    with pytest.raises(Conflict, match=r"is 2\.50 USD now, not the 2\.00 USD"):
        dearer.approve_proposal(tenant, afternoon, "olga")
    assert dearer.proposals(tenant, "pending")[1] == 4 and city.prices(parking)["weekday-afternoon"] == Decimal("2.00")
    # One approval and one rejection were audited; the refused attempts left no trace.
    assert [e.action for e in city.audit_entries()] == ["parking.price.reject", "parking.price.approve"]


def test_a_zone_no_longer_priced_cannot_have_its_proposal_approved(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    proposal = parking.proposals(tenant)[0][0]
    residents = {"id": ZONE, "type": "OnStreetParking", "category": {"type": "Property", "value": ["forResidents"]}}
    assert not city.context.update_documents(tenant, [residents]).errors
    with pytest.raises(Conflict, match="no longer priced"):
        parking.approve_proposal(tenant, proposal.proposal_id, "olga")
    assert (
        parking.reject_proposal(tenant, proposal.proposal_id, "olga", "zone turned residential").state
        is ProposalState.REJECTED
    )


def test_unknown_proposals_bad_notes_and_bad_states_are_refused(city: City, tenant: str) -> None:
    parking = city.parking()
    parking.review_prices(tenant, NOW)
    proposal_id = parking.proposals(tenant)[0][0].proposal_id
    for unknown in ("0" * 32, "not-an-id", "a\x00b", ""):
        with pytest.raises(NotFound):
            parking.approve_proposal(tenant, unknown, "olga")
        with pytest.raises(NotFound):
            parking.reject_proposal(tenant, unknown, "olga", None)
    with pytest.raises(NotFound):  # another tenant's proposal does not exist here
        parking.approve_proposal("tother", proposal_id, "olga")
    with pytest.raises(BadRequestData, match="at most 1000"):
        parking.approve_proposal(tenant, proposal_id, "olga", "x" * 1001)
    with pytest.raises(BadRequestData, match="control characters"):
        parking.reject_proposal(tenant, proposal_id, "olga", "a\x00b")
    with pytest.raises(BadRequestData, match="unknown proposal state"):
        parking.proposals(tenant, "open")
    assert parking.proposals(tenant, "pending")[1] == 6 and city.audit_entries() == []
