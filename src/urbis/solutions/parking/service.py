"""The parking service: live occupancy per zone, garage and district, written back to the city, and guidance.

It reads ``ParkingSpot``, ``OnStreetParking`` and ``OffStreetParking`` entities through the
context service.  Each evaluation writes every zone's counts (``occupiedSpotNumber``,
``availableSpotNumber``, ``occupancy``) back onto its ``OnStreetParking`` entity when they
changed, so the broker, its subscribers and the history (hence historical occupancy per
zone through the temporal API) all carry them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from urbis.context.model import default_value as value_of
from urbis.context.service import ContextService
from urbis.context.temporal import Aggregation, TemporalQuery, TemporalRequest, TemporalService, parse_duration
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound, UrbisError
from urbis.solutions.parking import const, store
from urbis.solutions.parking.const import (
    DEFAULT_FORECAST,
    DEFAULT_GUIDANCE,
    DEFAULT_PRICING,
    DEFAULT_TIME_BANDS,
    ForecastParams,
    GuidanceParams,
)
from urbis.solutions.parking.forecast import (
    ForecastSelection,
    HorizonScore,
    OccupancyObservation,
    select_forecaster,
    split_chronologically,
)
from urbis.solutions.parking.guidance import Destination, GuidanceOption, rank_options
from urbis.solutions.parking.occupancy import parse_status
from urbis.solutions.parking.pricing import PriceChange, money, recommend_price
from urbis.solutions.parking.sessions import BayEvent, ComplianceReport, ParkingSession, check_compliance, start_session
from urbis.solutions.parking.store import StoredRate
from urbis.solutions.parking.timebands import TimeBand
from urbis.solutions.parking.views import Expand, ParkingOverview, PlaceView, Terms, build_overview

log = logging.getLogger(__name__)


HOUR_US = 3_600_000_000
#: Ended parking sessions (they may name a plate) are deleted this long after they end.
SESSION_RETENTION = timedelta(days=7)
#: How far back bay statuses are read to tell how long a car has stood.
STAY_LOOKBACK = timedelta(hours=24)
#: Zone categories that mean parking there is free of charge: no price to set.
UNPRICED = frozenset({"forResidents", "free"})


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class PricingSetup:
    """A city's demand-based pricing: the SFpark rule, the starting price, its time bands and zone."""

    rules: const.PricingRules = DEFAULT_PRICING
    base_price: Decimal = Decimal("2.00")
    bands: tuple[TimeBand, ...] = DEFAULT_TIME_BANDS
    tz: tzinfo = UTC
    review_every: timedelta = field(default=timedelta(days=1))


@dataclass(frozen=True)
class ZoneForecast:
    """A zone's expected occupancy some minutes ahead, with how the served model scored."""

    zone_id: str
    at: datetime  # the slot the forecast starts from
    current: float | None
    predictions: dict[int, float]  # horizon minutes -> occupancy share
    scores: tuple[HorizonScore, ...]
    observations: int  # 15-minute slots the forecaster learnt from and was scored on


def on_grid(
    periods: Sequence[tuple[Any, int, int]], start: datetime, end: datetime, slot_minutes: int
) -> list[OccupancyObservation]:
    """Occupancy per slot from ``[start, end)``, carrying the last value over slots without a change.

    A zone's occupancy is written only when it changes, so a slot without a row means "as
    before", not "unknown".  Slots before the first value are left out.
    """
    values = {start_us: float(mean) for mean, start_us, _ in periods if isinstance(mean, int | float)}
    step = timedelta(minutes=slot_minutes)
    out: list[OccupancyObservation] = []
    last: float | None = None
    slot = start
    while slot < end:
        last = values.get(int(slot.timestamp() * 1_000_000), last)
        if last is not None:
            out.append(OccupancyObservation(slot, last))
        slot += step
    return out


def band_occupancy(hourly: Sequence[tuple[Any, int, int]], band: TimeBand, tz: tzinfo) -> float | None:
    """The mean of a zone's hourly mean occupancies over the hours that lie in ``band`` (local time).

    ``hourly`` holds ``(mean, start µs, end µs)`` per hour with data; an hour counts when it
    starts inside the band.  None when no hour of the band has data.
    """
    values = [
        float(mean)
        for mean, start_us, _ in hourly
        if isinstance(mean, int | float) and band.contains(datetime.fromtimestamp(start_us / 1e6, UTC), tz)
    ]
    return sum(values) / len(values) if values else None


class ParkingService:
    """Occupancy and guidance for every tenant."""

    def __init__(
        self,
        context: ContextService,
        expand: Expand,
        *,
        clock: Clock | None = None,
        db: Database | None = None,
        temporal: TemporalService | None = None,
        pricing: PricingSetup | None = None,
    ) -> None:
        """``expand`` turns the Smart Data Models names the solution uses into the broker's IRIs.

        Pricing needs ``db`` (the rates and their log) and ``temporal`` (the occupancy history).
        """
        self.context = context
        self.terms = Terms(expand)
        self.category = expand(const.CATEGORY)
        self.clock = clock or SystemClock()
        self.db = db
        self.temporal = temporal
        self.pricing = pricing or PricingSetup()
        self._last_review: dict[str, datetime] = {}
        self.forecast_params: ForecastParams = DEFAULT_FORECAST
        self.forecast_history = timedelta(weeks=4)
        self._forecasters: dict[tuple[str, str], tuple[datetime, ForecastSelection, int]] = {}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.terms.spot, self.terms.off_street})

    def overview(self, tenant: str, at: datetime | None = None) -> ParkingOverview:
        """The city's parking occupancy now, from the entities the broker holds."""
        return build_overview(
            at or self.clock.now(),
            self.context.entities_of_type(tenant, self.terms.spot),
            self.context.entities_of_type(tenant, self.terms.on_street),
            self.context.entities_of_type(tenant, self.terms.off_street),
            self.terms,
        )

    def guidance(
        self, tenant: str, lon: float, lat: float, params: GuidanceParams = DEFAULT_GUIDANCE
    ) -> list[GuidanceOption]:
        """The best zones and garages to park near ``(lon, lat)``, best first."""
        return rank_options(Destination(lon, lat), self.overview(tenant).candidates(), params)

    # -- the periodic evaluation -----------------------------------------------------------

    def evaluate(self, now: datetime) -> int:
        """Write changed zone occupancies back in every tenant; review prices daily; forget old sessions."""
        written = 0
        for tenant in self.context.tenants():
            written += self.evaluate_tenant(tenant, now)
            last = self._last_review.get(tenant)
            if (
                self.db is not None
                and self.temporal is not None
                and (last is None or now - last >= self.pricing.review_every)
            ):
                self.review_prices(tenant, now)
        if self.db is not None:
            with self.db.write() as conn:
                store.purge_sessions(conn, now - SESSION_RETENTION)
        return written

    def evaluate_tenant(self, tenant: str, now: datetime) -> int:
        """One tenant's evaluation."""
        zones = self.context.entities_of_type(tenant, self.terms.on_street)
        if not zones:
            return 0
        overview = build_overview(
            now,
            self.context.entities_of_type(tenant, self.terms.spot),
            zones,
            [],
            self.terms,
        )
        by_id = {zone["id"]: zone for zone in zones}
        documents = [
            self._zone_document(place, now) for place in overview.zones if self._changed(by_id[place.id], place)
        ]
        if not documents:
            return 0
        result = self.context.update_documents(tenant, documents)
        for entity_id, error in result.errors:
            log.warning("parking: occupancy of %s not written: %s", entity_id, error.detail)
        return len(result.success)

    def _changed(self, zone: dict[str, Any], place: PlaceView) -> bool:
        rate = place.occupancy.rate
        return bool(
            value_of(zone, self.terms.occupied) != place.occupancy.occupied
            or value_of(zone, self.terms.available) != place.occupancy.free
            or value_of(zone, self.terms.occupancy) != (None if rate is None else round(rate, 4))
        )

    @staticmethod
    def _zone_document(place: PlaceView, now: datetime) -> dict[str, Any]:
        observed = _iso(now)
        rate = place.occupancy.rate
        document: dict[str, Any] = {
            "id": place.id,
            "type": const.ON_STREET_PARKING,
            const.OCCUPIED_SPOT_NUMBER: {"type": "Property", "value": place.occupancy.occupied, "observedAt": observed},
            const.AVAILABLE_SPOT_NUMBER: {"type": "Property", "value": place.occupancy.free, "observedAt": observed},
        }
        if rate is not None:
            document[const.OCCUPANCY] = {
                "type": "Property",
                "value": round(rate, 4),
                "unitCode": "C62",
                "observedAt": observed,
            }
        return document

    # -- demand-based pricing (SFpark) ------------------------------------------------------

    def _priced_zones(self, tenant: str) -> list[dict[str, Any]]:
        zones = []
        for zone in self.context.entities_of_type(tenant, self.terms.on_street):
            category = value_of(zone, self.category)
            categories = set(category) if isinstance(category, list) else {category}
            if categories.isdisjoint(UNPRICED):
                zones.append(zone)
        return zones

    def current_rates(self, tenant: str) -> list[StoredRate]:
        """The price in force for every paid zone and time band (the base price until a review changes it)."""
        if self.db is None:
            raise RuntimeError("parking prices need the database")
        with self.db.read() as conn:
            stored = store.rates(conn, tenant)
        out = []
        for zone in self._priced_zones(tenant):
            for band in self.pricing.bands:
                out.append(
                    stored.get(
                        (zone["id"], band.name),
                        StoredRate(
                            zone["id"], band.name, money(self.pricing.base_price), self.pricing.rules.currency, None
                        ),
                    )
                )
        return out

    def review_prices(self, tenant: str, now: datetime) -> list[PriceChange]:
        """Judge every paid zone and time band by the SFpark rule; apply and log the changes; every decision."""
        if self.db is None or self.temporal is None:
            raise RuntimeError("parking prices need the database and the occupancy history")
        self._last_review[tenant] = now
        zones = self._priced_zones(tenant)
        if not zones:
            return []
        window_start = now - self.pricing.rules.adjustment_period
        request = TemporalRequest(
            temporal=TemporalQuery(
                timerel="between",
                time_at=int(window_start.timestamp() * 1e6),
                end_time_at=int(now.timestamp() * 1e6),
            ),
            attrs=frozenset({self.terms.occupancy}),
            aggregation=Aggregation(("avg",), HOUR_US),
        )
        history = self.temporal.history_of(tenant, zones, request)
        hourly: dict[str, list[tuple[Any, int, int]]] = {}
        for found in history.entities:
            for series in found.series:
                hourly.setdefault(found.entity["id"], []).extend(series.aggregates.get("avg", []))
        with self.db.write() as conn:
            stored = store.rates(conn, tenant)
            decisions: list[PriceChange] = []
            changed: list[StoredRate] = []
            for zone in zones:
                for band in self.pricing.bands:
                    rate = stored.get((zone["id"], band.name))
                    decision = recommend_price(
                        zone["id"],
                        band.name,
                        band_occupancy(hourly.get(zone["id"], []), band, self.pricing.tz),
                        rate.price if rate is not None else money(self.pricing.base_price),
                        now=now,
                        last_change_at=rate.last_change_at if rate is not None else None,
                        rules=self.pricing.rules,
                    )
                    decisions.append(decision)
                    if decision.changed:
                        changed.append(StoredRate(zone["id"], band.name, decision.new_price, decision.currency, now))
            store.save_rates(conn, tenant, changed, set(stored), now)
            store.log_changes(conn, tenant, [(uuid.uuid4().hex, d.to_record(), now) for d in decisions if d.changed])
        return decisions

    def price_log(
        self, tenant: str, *, zone_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Logged price changes with their reasons, newest first."""
        if self.db is None:
            raise RuntimeError("parking prices need the database")
        with self.db.read() as conn:
            return store.read_log(conn, tenant, zone_id=zone_id, limit=limit, offset=offset)

    # -- occupancy forecast ----------------------------------------------------------------

    def forecast(self, tenant: str, zone_id: str, now: datetime | None = None) -> ZoneForecast:
        """A zone's occupancy 15, 30 and 60 minutes ahead.

        Fitted on the zone's last weeks of occupancy (refitted hourly): the served forecaster is
        the deviation model where it beat the weekday-and-slot mean on the held-out days, and
        that historical mean otherwise; ``scores`` carry both errors.
        """
        if self.temporal is None:
            raise RuntimeError("forecasts need the occupancy history")
        moment = now or self.clock.now()
        zone = self.context.get_entity(tenant, zone_id)
        minutes = self.forecast_params.slot_minutes
        slot_us = minutes * 60_000_000
        end = datetime.fromtimestamp((int(moment.timestamp() * 1e6) // slot_us) * slot_us / 1e6, UTC)
        current = value_of(zone, self.terms.occupancy)
        current_value = float(current) if isinstance(current, int | float) else None
        cached = self._forecasters.get((tenant, zone_id))
        if cached is None or moment - cached[0] >= timedelta(hours=1):
            start = end - self.forecast_history
            request = TemporalRequest(
                temporal=TemporalQuery(
                    timerel="between", time_at=int(start.timestamp() * 1e6), end_time_at=int(end.timestamp() * 1e6)
                ),
                attrs=frozenset({self.terms.occupancy}),
                aggregation=Aggregation(("avg",), slot_us),
            )
            history = self.temporal.history_of(tenant, [zone], request)
            periods = [
                p for found in history.entities for series in found.series for p in series.aggregates.get("avg", [])
            ]
            observations = on_grid(periods, start, end, minutes)
            if len(observations) < 2:  # nothing to learn from yet: no forecast rather than a guess
                return ZoneForecast(zone_id, end, current_value, {}, (), len(observations))
            training, held_out = split_chronologically(observations)
            selection = select_forecaster(training, held_out, tz=self.pricing.tz, params=self.forecast_params)
            cached = (moment, selection, len(observations))
            self._forecasters[(tenant, zone_id)] = cached
        _, selection, count = cached
        predictions = {
            h: selection.served.predict(end, current_value, h) for h in self.forecast_params.horizons_minutes
        }
        return ZoneForecast(zone_id, end, current_value, predictions, selection.scores, count)

    # -- sessions and enforcement ----------------------------------------------------------

    def _db(self) -> Database:
        if self.db is None:
            raise RuntimeError("parking sessions need the database")
        return self.db

    def start_session(
        self,
        tenant: str,
        zone_id: str,
        *,
        bay_id: str | None = None,
        plate: str | None = None,
        paid_minutes: int | None = None,
        rights: Sequence[str] = (),
    ) -> ParkingSession:
        """Start a session in a zone (optionally on one bay, for a plate, prepaid for some minutes)."""
        zone = self.context.get_entity(tenant, zone_id)
        if self.terms.on_street not in zone.get("type", ()):
            raise BadRequestData(f"{zone_id} is not an on-street parking zone")
        if bay_id is not None:
            bay = self.context.get_entity(tenant, bay_id)
            if value_of(bay, self.terms.site) != zone_id:
                raise BadRequestData(f"bay {bay_id} is not in zone {zone_id}")
        if plate is not None and not (1 <= len(plate.strip()) <= 16):
            raise BadRequestData("a plate is 1 to 16 characters")
        if paid_minutes is not None and not 1 <= paid_minutes <= 24 * 60:
            raise BadRequestData("paidMinutes must lie between 1 and 1440")
        session = start_session(
            uuid.uuid4().hex,
            zone_id,
            self.clock.now(),
            bay_id=bay_id,
            plate=None if plate is None else plate.strip().upper(),
            paid_for=None if paid_minutes is None else timedelta(minutes=paid_minutes),
            rights=rights,
        )
        with self._db().write() as conn:
            store.insert_session(conn, tenant, session)
        return session

    def stop_session(self, tenant: str, session_id: str) -> ParkingSession:
        """End a session now (409 if it has ended already)."""
        now = self.clock.now()
        with self._db().write() as conn:
            session = store.get_session(conn, tenant, session_id)
            if session is None:
                raise NotFound(f"parking session {session_id!r:.80} does not exist")
            if session.ended_at is not None:
                raise Conflict(f"parking session {session_id} has ended already")
            store.end_session(conn, tenant, session_id, now)
        return session.stop(now)

    def open_sessions(self, tenant: str) -> list[ParkingSession]:
        """Sessions not stopped yet."""
        with self._db().read() as conn:
            return store.open_sessions(conn, tenant)

    def compliance(self, tenant: str, at: datetime | None = None) -> ComplianceReport:
        """Overstays, bays occupied without a session where payment is due, and zone shortfalls, now."""
        if self.temporal is None:
            raise RuntimeError("enforcement needs the bays' status history")
        moment = at or self.clock.now()
        restrictions = {}
        for zone in self.context.entities_of_type(tenant, self.terms.on_street):
            restriction = self._restriction(zone)
            if restriction is not None:
                restrictions[zone["id"]] = restriction
        spots = self.context.entities_of_type(tenant, self.terms.spot)
        bay_zones = {}
        occupied = []
        for spot in spots:
            site = value_of(spot, self.terms.site)
            if isinstance(site, str) and site in restrictions:
                bay_zones[spot["id"]] = site
                if parse_status(value_of(spot, self.terms.status)) is const.SpotStatus.OCCUPIED:
                    occupied.append(spot)
        events = self._bay_events(tenant, occupied, moment)
        return check_compliance(
            moment,
            restrictions=restrictions,
            bay_zones=bay_zones,
            sessions=self.open_sessions(tenant),
            events=events,
            tz=self.pricing.tz,
        )

    def _restriction(self, zone: dict[str, Any]) -> const.ZoneRestriction | None:
        category = value_of(zone, self.category)
        categories = set(category) if isinstance(category, list) else {category}
        if not categories.isdisjoint(UNPRICED):
            return None  # residents' and free zones are not enforced here
        limit = None
        duration = value_of(zone, self.terms.maximum_duration)
        if isinstance(duration, str):
            try:
                limit = timedelta(microseconds=parse_duration(duration)) or None
            except UrbisError:
                log.warning("parking: zone %s has an unreadable maximumParkingDuration %r", zone["id"], duration)
        return const.ZoneRestriction(zone["id"], time_limit=limit)

    def _bay_events(self, tenant: str, spots: Sequence[dict[str, Any]], at: datetime) -> list[BayEvent]:
        assert self.temporal is not None
        if not spots:
            return []
        request = TemporalRequest(
            temporal=TemporalQuery(timerel="after", time_at=int((at - STAY_LOOKBACK).timestamp() * 1e6)),
            attrs=frozenset({self.terms.status}),
        )
        events = []
        for found in self.temporal.history_of(tenant, spots, request).entities:
            for series in found.series:
                for time_us, _, instance in series.instances:
                    when = datetime.fromtimestamp(time_us / 1e6, UTC)
                    events.append(BayEvent(found.entity["id"], when, parse_status(instance.get("value"))))
        return events
