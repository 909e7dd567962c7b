"""Parking sessions, time limits and enforcement observations (APDS Session and Observation).

A session is bound to a bay or to a zone (and optionally a plate); it runs from its start to
its stop, or to the end of the time paid for.  Enforcement at an instant ``t`` combines the
sessions with the bay sensors:

- **Overstay by sensor.**  A bay's stay begins when its sensor turned occupied.  If the stay
  (counted from arrival, or from the opening of the restriction's time band if later) exceeds
  the zone's time limit — extended by the most generous exemption the bay's active session
  holds — plus the grace period, the bay is in overstay.  Buying a second ticket does not
  reset the stay: the sensor does not see the car leave.
- **Overstay by session.**  A session with no sensor to judge it (zone-bound, or its bay
  reports nothing) overstays when the session itself has run longer than that.
- **Occupied without a session.**  In a zone that requires payment, an occupied bay with no
  active session on it, past the payment grace, is unpaid.  Sessions bound to the zone
  rather than a bay may cover any bay, so where they exist only the zone's shortfall
  (unpaid bays beyond the zone sessions) can be told.

``minutes over`` counts from the end of the allowed stay (the limit plus any exemption), not
from the end of the grace period: the grace decides *whether* it is an overstay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from urbis.solutions.parking.const import SpotStatus, ZoneRestriction
from urbis.solutions.parking.timebands import band_at, require_aware


@dataclass(frozen=True, slots=True)
class ParkingSession:
    """A parking session; ``rights`` are the exemption keys the driver holds (e.g. a disabled badge)."""

    session_id: str
    zone_id: str
    started_at: datetime
    bay_id: str | None = None
    plate: str | None = None
    ended_at: datetime | None = None
    paid_until: datetime | None = None  # a prepaid session lapses here
    rights: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        require_aware(self.started_at, "started_at")
        for name in ("ended_at", "paid_until"):
            moment = getattr(self, name)
            if moment is not None:
                require_aware(moment, name)
                if moment < self.started_at:
                    raise ValueError(f"session {self.session_id}: {name} is before its start")

    @property
    def ends_at(self) -> datetime | None:
        """When the session stops covering the vehicle: its stop or the end of the time paid, if earlier."""
        ends = [moment for moment in (self.ended_at, self.paid_until) if moment is not None]
        return min(ends) if ends else None

    def is_active(self, at: datetime) -> bool:
        """Whether the session covers the vehicle at ``at`` (start inclusive, end exclusive)."""
        require_aware(at, "at")
        ends = self.ends_at
        return self.started_at <= at and (ends is None or at < ends)

    def stop(self, at: datetime) -> ParkingSession:
        """The session stopped at ``at``."""
        require_aware(at, "at")
        if self.ended_at is not None:
            raise ValueError(f"session {self.session_id} was already stopped at {self.ended_at.isoformat()}")
        return replace(self, ended_at=at)


def start_session(
    session_id: str,
    zone_id: str,
    at: datetime,
    *,
    bay_id: str | None = None,
    plate: str | None = None,
    paid_for: timedelta | None = None,
    rights: Iterable[str] = (),
) -> ParkingSession:
    """A session starting at ``at``; ``paid_for`` makes it prepaid (it lapses after that long)."""
    require_aware(at, "at")
    if paid_for is not None and paid_for <= timedelta(0):
        raise ValueError("paid_for must be positive")
    return ParkingSession(
        session_id,
        zone_id,
        at,
        bay_id=bay_id,
        plate=plate,
        paid_until=None if paid_for is None else at + paid_for,
        rights=frozenset(rights),
    )


def allowed_stay(restriction: ZoneRestriction, rights: Iterable[str] = ()) -> timedelta | None:
    """The longest stay allowed in the zone to a holder of ``rights``; None means no limit."""
    if restriction.time_limit is None:
        return None
    held = set(rights)
    extra = timedelta(0)
    for exemption in restriction.exemptions:
        if exemption.key in held:
            if exemption.extra_time is None:
                return None
            extra = max(extra, exemption.extra_time)
    return restriction.time_limit + extra


@dataclass(frozen=True, slots=True)
class BayEvent:
    """A bay sensor's report: the bay's status from ``at`` on."""

    bay_id: str
    at: datetime
    status: SpotStatus


@dataclass(frozen=True, slots=True)
class BayState:
    """A bay's status at an instant and since when it has held it without interruption."""

    status: SpotStatus
    since: datetime


def bay_states_at(events: Iterable[BayEvent], at: datetime) -> dict[str, BayState]:
    """Each bay's state at ``at`` from the events up to and including ``at``.

    Repeated reports of the same status (heartbeats) do not restart ``since``.
    """
    require_aware(at, "at")
    by_bay: dict[str, list[BayEvent]] = defaultdict(list)
    for event in events:
        require_aware(event.at, "bay event")
        if event.at <= at:
            by_bay[event.bay_id].append(event)
    states: dict[str, BayState] = {}
    for bay_id, bay_events in by_bay.items():
        state: BayState | None = None
        for event in sorted(bay_events, key=lambda e: e.at):
            if state is None or state.status is not event.status:
                state = BayState(event.status, event.at)
        if state is not None:
            states[bay_id] = state
    return states


@dataclass(frozen=True, slots=True)
class Overstay:
    """A vehicle past its allowed stay (an APDS Observation / TALQ ``overstayDetected``)."""

    zone_id: str
    bay_id: str | None
    session_id: str | None
    plate: str | None
    stay_counted_from: datetime
    allowed: timedelta
    grace: timedelta
    over_by: timedelta  # beyond the allowed stay (grace included)
    source: Literal["sensor", "session"]

    @property
    def minutes_over(self) -> int:
        """Whole minutes beyond the allowed stay."""
        return int(self.over_by.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class UnpaidOccupancy:
    """An occupied bay with no session in a zone that requires payment."""

    zone_id: str
    bay_id: str
    occupied_since: datetime
    occupied_for: timedelta


@dataclass(frozen=True, slots=True)
class ZoneShortfall:
    """More occupied, uncovered bays in a zone than zone-bound sessions can cover."""

    zone_id: str
    uncovered_bays: int
    zone_sessions: int

    @property
    def shortfall(self) -> int:
        """Bays that no session can account for."""
        return self.uncovered_bays - self.zone_sessions


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """What enforcement should look at, at one instant."""

    at: datetime
    overstays: tuple[Overstay, ...]
    unpaid: tuple[UnpaidOccupancy, ...]
    shortfalls: tuple[ZoneShortfall, ...]


def _counted_from(restriction: ZoneRestriction, arrival: datetime, at: datetime, tz: tzinfo) -> datetime | None:
    """When the stay starts to count at ``at``, or None if the restriction is not in force then."""
    if not restriction.in_force:
        return arrival
    band = band_at(at, restriction.in_force, tz)
    if band is None:
        return None
    return max(arrival, band.window_start(at, tz))


def _overstay(
    restriction: ZoneRestriction,
    counted_from: datetime,
    at: datetime,
    rights: Iterable[str],
) -> tuple[timedelta, timedelta] | None:
    """(allowed stay, over by) if the stay from ``counted_from`` to ``at`` is an overstay."""
    allowed = allowed_stay(restriction, rights)
    if allowed is None:
        return None
    stay = at - counted_from
    if stay <= allowed + restriction.grace:
        return None
    return allowed, stay - allowed


def check_compliance(
    at: datetime,
    *,
    restrictions: Mapping[str, ZoneRestriction],
    bay_zones: Mapping[str, str],
    sessions: Iterable[ParkingSession],
    events: Iterable[BayEvent],
    tz: tzinfo = UTC,
) -> ComplianceReport:
    """Overstays, unpaid bays and zone shortfalls at ``at``.

    ``restrictions`` maps zone ids to their rules (zones without one are not enforced),
    ``bay_zones`` maps bay ids to their zone, ``tz`` is the local zone of the time bands.
    """
    require_aware(at, "at")
    states = bay_states_at(events, at)
    active = [session for session in sessions if session.is_active(at)]
    on_bay: dict[str, list[ParkingSession]] = defaultdict(list)
    on_zone: dict[str, int] = defaultdict(int)
    for session in active:
        if session.bay_id is None:
            on_zone[session.zone_id] += 1
        else:
            on_bay[session.bay_id].append(session)

    overstays: list[Overstay] = []
    uncovered: dict[str, list[UnpaidOccupancy]] = defaultdict(list)
    for bay_id, state in sorted(states.items()):
        zone_id = bay_zones.get(bay_id)
        restriction = restrictions.get(zone_id) if zone_id is not None else None
        if zone_id is None or restriction is None or state.status is not SpotStatus.OCCUPIED:
            continue
        counted_from = _counted_from(restriction, state.since, at, tz)
        if counted_from is None:
            continue
        bay_sessions = sorted(on_bay.get(bay_id, []), key=lambda s: (s.started_at, s.session_id))
        rights = frozenset(right for session in bay_sessions for right in session.rights)
        judged = _overstay(restriction, counted_from, at, rights)
        if judged is not None:
            first = bay_sessions[0] if bay_sessions else None
            overstays.append(
                Overstay(
                    zone_id=zone_id,
                    bay_id=bay_id,
                    session_id=first.session_id if first else None,
                    plate=first.plate if first else None,
                    stay_counted_from=counted_from,
                    allowed=judged[0],
                    grace=restriction.grace,
                    over_by=judged[1],
                    source="sensor",
                )
            )
        occupied_for = at - counted_from
        if restriction.payment_required and not bay_sessions and occupied_for > restriction.payment_grace:
            uncovered[zone_id].append(UnpaidOccupancy(zone_id, bay_id, counted_from, occupied_for))

    for session in sorted(active, key=lambda s: s.session_id):
        if session.bay_id is not None and session.bay_id in states:
            continue  # its bay's sensor judged the stay above
        restriction = restrictions.get(session.zone_id)
        if restriction is None:
            continue
        counted_from = _counted_from(restriction, session.started_at, at, tz)
        if counted_from is None:
            continue
        judged = _overstay(restriction, counted_from, at, session.rights)
        if judged is not None:
            overstays.append(
                Overstay(
                    zone_id=session.zone_id,
                    bay_id=session.bay_id,
                    session_id=session.session_id,
                    plate=session.plate,
                    stay_counted_from=counted_from,
                    allowed=judged[0],
                    grace=restriction.grace,
                    over_by=judged[1],
                    source="session",
                )
            )

    unpaid: list[UnpaidOccupancy] = []
    shortfalls: list[ZoneShortfall] = []
    for zone_id, bays in sorted(uncovered.items()):
        zone_sessions = on_zone.get(zone_id, 0)
        if zone_sessions == 0:
            unpaid.extend(bays)
        elif len(bays) > zone_sessions:
            shortfalls.append(ZoneShortfall(zone_id, len(bays), zone_sessions))
    overstays.sort(key=lambda o: (o.zone_id, o.bay_id or "", o.session_id or ""))
    return ComplianceReport(at, tuple(overstays), tuple(unpaid), tuple(shortfalls))
