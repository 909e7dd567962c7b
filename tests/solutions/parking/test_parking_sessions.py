"""Sessions, time limits, grace, exemptions, overstays and occupied-without-session detection."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from urbis.solutions.parking.const import DISABLED_BADGE, Exemption, SpotStatus, ZoneRestriction
from urbis.solutions.parking.sessions import (
    BayEvent,
    BayState,
    ParkingSession,
    ZoneShortfall,
    allowed_stay,
    bay_states_at,
    check_compliance,
    start_session,
)
from urbis.solutions.parking.timebands import WEEKDAYS, TimeBand

OCC, FREE = SpotStatus.OCCUPIED, SpotStatus.FREE
BERLIN = ZoneInfo("Europe/Berlin")


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


NOW = at(14)

# Zone Z: 2 h limit, 10 min grace, payment required (5 min to pay), disabled badge +2 h.
ZONE_Z = ZoneRestriction(
    "zone-z",
    time_limit=timedelta(hours=2),
    grace=timedelta(minutes=10),
    payment_required=True,
    payment_grace=timedelta(minutes=5),
    exemptions=(Exemption(DISABLED_BADGE, timedelta(hours=2)), Exemption("doctor", None)),
)
ZONE_Y = ZoneRestriction("zone-y")  # defaults: 2 h, 10 min grace, payment, 5 min to pay
ZONE_R = ZoneRestriction("zone-r", time_limit=None, payment_required=False)  # residents
RESTRICTIONS = {z.zone_id: z for z in (ZONE_Z, ZONE_Y, ZONE_R)}


def session(
    session_id: str, bay: str | None, start: datetime, zone: str = "zone-z", **kwargs: object
) -> ParkingSession:
    return ParkingSession(session_id, zone, start, bay_id=bay, plate=f"B-{session_id.upper()}", **kwargs)  # type: ignore[arg-type]


def test_allowed_stay_with_exemptions() -> None:
    assert allowed_stay(ZONE_Z) == timedelta(hours=2)
    assert allowed_stay(ZONE_Z, {DISABLED_BADGE}) == timedelta(hours=4)
    assert allowed_stay(ZONE_Z, {"doctor"}) is None  # exempt from the limit
    assert allowed_stay(ZONE_Z, {"unrelated"}) == timedelta(hours=2)
    assert allowed_stay(ZONE_R) is None


def test_session_lifecycle() -> None:
    started = start_session("s1", "zone-z", at(10), bay_id="bay-1", plate="B-AB 123", rights=[DISABLED_BADGE])
    assert started.is_active(at(10))  # start inclusive
    assert started.rights == frozenset({DISABLED_BADGE})
    stopped = started.stop(at(11))
    assert stopped.is_active(at(10, 59))
    assert not stopped.is_active(at(11))  # end exclusive
    assert not stopped.is_active(at(9, 59))
    with pytest.raises(ValueError, match="already stopped"):
        stopped.stop(at(12))
    prepaid = start_session("s2", "zone-z", at(10), paid_for=timedelta(hours=1))
    assert prepaid.ends_at == at(11)
    assert not prepaid.is_active(at(11))
    # Stopping before the prepaid time runs out ends it at the stop.
    assert prepaid.stop(at(10, 30)).ends_at == at(10, 30)
    with pytest.raises(ValueError):
        ParkingSession("s3", "zone-z", at(10), ended_at=at(9))
    with pytest.raises(ValueError):
        start_session("s4", "zone-z", datetime(2026, 3, 2, 10))  # noqa: DTZ001


def test_bay_state_ignores_heartbeats_and_future_events() -> None:
    events = [
        BayEvent("bay-1", at(11), OCC),
        BayEvent("bay-1", at(12), OCC),  # heartbeat: still occupied since 11:00
        BayEvent("bay-1", at(15), FREE),  # after NOW
        BayEvent("bay-2", at(12), OCC),
        BayEvent("bay-2", at(13), FREE),
        BayEvent("bay-2", at(13, 30), OCC),  # a new arrival
    ]
    assert bay_states_at(events, NOW) == {"bay-1": BayState(OCC, at(11)), "bay-2": BayState(OCC, at(13, 30))}


def scenario() -> tuple[dict[str, str], list[ParkingSession], list[BayEvent]]:
    bay_zones = {f"bay-{n}": "zone-z" for n in range(1, 13)} | {
        "bay-y1": "zone-y",
        "bay-y2": "zone-y",
        "bay-r1": "zone-r",
    }
    events = [
        BayEvent("bay-1", at(11, 30), OCC),
        BayEvent("bay-2", at(11, 55), OCC),
        BayEvent("bay-3", at(11, 45), OCC),
        BayEvent("bay-4", at(11, 45), OCC),
        BayEvent("bay-5", at(13, 57), OCC),
        BayEvent("bay-6", at(13, 50), OCC),
        BayEvent("bay-7", at(13), FREE),
        BayEvent("bay-8", at(11), OCC),
        BayEvent("bay-8", at(12), OCC),
        BayEvent("bay-8", at(13), OCC),
        BayEvent("bay-11", at(11, 59), OCC),
        BayEvent("bay-12", at(13, 30), OCC),
        BayEvent("bay-y1", at(13), OCC),
        BayEvent("bay-y2", at(13, 30), OCC),
        BayEvent("bay-r1", at(8, day=1), OCC),
    ]
    sessions = [
        session("s1", "bay-1", at(11, 32)),
        session("s2", "bay-2", at(11, 56)),
        session("s3", "bay-3", at(11, 46), rights=frozenset({DISABLED_BADGE})),
        session("s4", "bay-4", at(11, 46)),
        session("s9", None, at(11, 40), zone="zone-y"),  # zone-bound, pay-by-plate
        session("s10", "bay-10", at(11)),  # bay-10 has no sensor reports
        session("s11", "bay-11", at(12), paid_until=at(13)),  # prepaid, lapsed at 13:00
        session("s12", "bay-12", at(10), ended_at=at(12)),  # stopped; a new car came at 13:30
    ]
    return bay_zones, sessions, events


def test_overstays_with_grace_and_exemption() -> None:
    bay_zones, sessions, events = scenario()
    report = check_compliance(NOW, restrictions=RESTRICTIONS, bay_zones=bay_zones, sessions=sessions, events=events)
    found = {(o.bay_id, o.session_id): o for o in report.overstays}
    # At 14:00, limit 2 h, grace 10 min → an overstay needs a stay of more than 2 h 10 min.
    #   bay-1  occupied since 11:30 → 2 h 30 → over by 30 min (s1, counted from the sensor, not the 11:32 ticket)
    #   bay-2  since 11:55 → 2 h 05: within grace, no overstay
    #   bay-3  since 11:45 → 2 h 15, disabled badge → allowed 4 h: no overstay
    #   bay-4  since 11:45 → 2 h 15, no badge → over by 15 min
    #   bay-8  since 11:00 (heartbeats at 12 and 13 do not restart it) → 3 h → over by 60 min, no session
    #   bay-11 since 11:59 → 2 h 01: within the limit (its prepaid session lapsed, see unpaid)
    #   s9     zone-y session since 11:40 → 2 h 20 → over by 20 min (judged by the session: no bay)
    #   s10    bay-10 never reported → judged by the session since 11:00 → over by 60 min
    assert set(found) == {
        ("bay-1", "s1"),
        ("bay-4", "s4"),
        ("bay-8", None),
        (None, "s9"),
        ("bay-10", "s10"),
    }
    assert found["bay-1", "s1"].minutes_over == 30
    assert found["bay-1", "s1"].source == "sensor"
    assert found["bay-1", "s1"].plate == "B-S1"
    assert found["bay-1", "s1"].stay_counted_from == at(11, 30)
    assert found["bay-1", "s1"].allowed == timedelta(hours=2)
    assert found["bay-1", "s1"].grace == timedelta(minutes=10)
    assert found["bay-4", "s4"].minutes_over == 15
    assert found["bay-8", None].minutes_over == 60
    assert found[None, "s9"].minutes_over == 20
    assert found[None, "s9"].source == "session"
    assert found[None, "s9"].zone_id == "zone-y"
    assert found["bay-10", "s10"].minutes_over == 60
    assert found["bay-10", "s10"].source == "session"


def test_grace_boundary_is_exclusive() -> None:
    # Exactly 2 h 10 min is still within grace; one second more is an overstay of 10 min.
    events = [BayEvent("bay-1", at(11, 50), OCC)]
    zones = {"bay-1": "zone-z"}
    sessions = [session("s1", "bay-1", at(11, 50))]
    on_edge = check_compliance(NOW, restrictions=RESTRICTIONS, bay_zones=zones, sessions=sessions, events=events)
    assert on_edge.overstays == ()
    after = check_compliance(
        NOW + timedelta(seconds=1), restrictions=RESTRICTIONS, bay_zones=zones, sessions=sessions, events=events
    )
    [overstay] = after.overstays
    assert overstay.over_by == timedelta(minutes=10, seconds=1)
    assert overstay.minutes_over == 10


def test_occupied_without_session_in_paid_zones() -> None:
    bay_zones, sessions, events = scenario()
    report = check_compliance(NOW, restrictions=RESTRICTIONS, bay_zones=bay_zones, sessions=sessions, events=events)
    unpaid = {u.bay_id: u for u in report.unpaid}
    #   bay-5  occupied 3 min, within the 5 min to pay: not yet
    #   bay-6  occupied 10 min, no session → unpaid
    #   bay-8  3 h, no session → unpaid
    #   bay-11 its prepaid session lapsed at 13:00 → unpaid (occupied 2 h 01)
    #   bay-12 its session was stopped at 12:00; a new car since 13:30 → unpaid
    #   bay-r1 residents' zone: no payment required
    assert set(unpaid) == {"bay-6", "bay-8", "bay-11", "bay-12"}
    assert unpaid["bay-6"].occupied_for == timedelta(minutes=10)
    assert unpaid["bay-6"].occupied_since == at(13, 50)
    assert unpaid["bay-11"].occupied_for == timedelta(hours=2, minutes=1)
    # Zone-y has one zone-bound session (s9) for two occupied bays: one bay is unaccounted for.
    assert report.shortfalls == (ZoneShortfall("zone-y", uncovered_bays=2, zone_sessions=1),)
    assert report.shortfalls[0].shortfall == 1


def test_restriction_counts_only_while_in_force() -> None:
    # Weekdays 09:00–18:00 Berlin (UTC+1 in March).  A car parked at 07:00 local (06:00 UTC).
    daytime = ZoneRestriction("zone-d", in_force=(TimeBand("day", WEEKDAYS, time(9), time(18)),))
    restrictions = {"zone-d": daytime}
    zones = {"bay-d": "zone-d"}
    events = [BayEvent("bay-d", at(6), OCC)]

    def check(moment: datetime):
        return check_compliance(
            moment, restrictions=restrictions, bay_zones=zones, sessions=[], events=events, tz=BERLIN
        )

    # 10:30 local: counted from 09:00 → 1 h 30 → no overstay, but unpaid for 1 h 30.
    early = check(at(9, 30))
    assert early.overstays == ()
    assert [(u.bay_id, u.occupied_since, u.occupied_for) for u in early.unpaid] == [
        ("bay-d", at(8), timedelta(hours=1, minutes=30))
    ]
    # 11:30 local: 2 h 30 since 09:00 → over by 30 min.
    [late] = check(at(10, 30)).overstays
    assert late.minutes_over == 30
    assert late.stay_counted_from == at(8)  # 09:00 local
    # 19:00 local: not in force — neither overstay nor unpaid.
    evening = check(at(18))
    assert evening.overstays == () and evening.unpaid == ()


def test_stay_sessions_and_badges_combine_on_one_bay() -> None:
    # Meter feeding: the car arrived at 11:00; a second ticket at 13:00 does not reset the stay.
    events = [BayEvent("bay-1", at(11), OCC)]
    sessions = [session("s1", "bay-1", at(11), ended_at=at(13)), session("s2", "bay-1", at(13))]
    report = check_compliance(
        NOW, restrictions=RESTRICTIONS, bay_zones={"bay-1": "zone-z"}, sessions=sessions, events=events
    )
    [overstay] = report.overstays
    assert (overstay.session_id, overstay.minutes_over) == ("s2", 60)
    assert report.unpaid == ()
    # The same with a fully exempt driver ("doctor": no limit): nothing to report.
    exempt = [session("s3", "bay-1", at(11), rights=frozenset({"doctor"}))]
    clear = check_compliance(
        NOW, restrictions=RESTRICTIONS, bay_zones={"bay-1": "zone-z"}, sessions=exempt, events=events
    )
    assert clear.overstays == () and clear.unpaid == ()


def test_unknown_zones_and_free_bays_are_not_enforced() -> None:
    events = [BayEvent("bay-x", at(8), OCC), BayEvent("bay-1", at(8), FREE)]
    sessions = [session("s1", "bay-1", at(8))]  # a stale session on a bay the sensor says is free
    report = check_compliance(
        NOW,
        restrictions=RESTRICTIONS,
        bay_zones={"bay-x": "zone-unknown", "bay-1": "zone-z"},
        sessions=sessions,
        events=events,
    )
    assert report.overstays == () and report.unpaid == () and report.shortfalls == ()
