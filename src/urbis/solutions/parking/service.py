"""The parking service: occupancy per bay, zone, garage and district (live and past), guidance, forecasts.

It reads ``ParkingSpot``, ``OnStreetParking`` and ``OffStreetParking`` entities through the
context service.  Each evaluation writes every zone's counts (``occupiedSpotNumber``,
``availableSpotNumber``, ``occupancy``) back onto its ``OnStreetParking`` entity, and every
garage's ``occupancy`` onto its ``OffStreetParking`` entity, when they changed, so the broker,
its subscribers and the history all carry them: historical occupancy, forecasts and prices are
read from that history through the temporal service, in one batch for all places at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from urbis.context.model import default_value as value_of
from urbis.context.service import ContextService
from urbis.context.temporal import Aggregation, TemporalQuery, TemporalRequest, TemporalService, parse_duration
from urbis.core import audit
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
    ArrivalEstimate,
    ForecastSelection,
    HorizonScore,
    OccupancyObservation,
    estimate_on_arrival,
    select_forecaster,
    split_chronologically,
)
from urbis.solutions.parking.guidance import (
    Destination,
    GuidanceOption,
    ParkingCandidate,
    PlaceKind,
    haversine_m,
    rank_options,
)
from urbis.solutions.parking.occupancy import parse_status, step_means
from urbis.solutions.parking.pricing import PriceChange, money, recommend_price
from urbis.solutions.parking.sessions import BayEvent, ComplianceReport, ParkingSession, check_compliance, start_session
from urbis.solutions.parking.store import ProposalState, RateProposal, StoredRate
from urbis.solutions.parking.timebands import TimeBand
from urbis.solutions.parking.views import (
    Entity,
    Expand,
    OccupancyHistory,
    ParkingOverview,
    PlaceView,
    Terms,
    build_overview,
    free_bays,
)

log = logging.getLogger(__name__)


HOUR_US = 3_600_000_000
#: Ended parking sessions (they may name a plate) are deleted this long after they end.
SESSION_RETENTION = timedelta(days=7)
#: How far back bay statuses are read to tell how long a car has stood.
STAY_LOOKBACK = timedelta(hours=24)
#: Zone categories that mean parking there is free of charge: no price to set.
UNPRICED = frozenset({"forResidents", "free"})
#: Forecasters are refitted when they are this old: a new hour of history changes them little.
FORECAST_REFIT = timedelta(hours=1)
#: Pages of a bay's status changes read for one history answer (1,000 changes a page by default).
MAX_STATUS_PAGES = 50
#: What guidance offers when the client does not choose.
ALL_KINDS: frozenset[PlaceKind] = frozenset({"bay", "zone", "garage"})
#: Longest note an operator may give with a decision on a price proposal.
DECISION_NOTE_LENGTH = 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _us(moment: datetime) -> int:
    """µs since the epoch, in integers (a float timestamp can miss a bucket start by a microsecond)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def floor_to(moment: datetime, minutes: int) -> datetime:
    """``moment`` floored to a whole multiple of ``minutes`` since the epoch (UTC slots)."""
    step = minutes * 60_000_000
    return _from_us(_us(moment) // step * step)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bay_share(value: Any) -> float | None:
    """A bay's status as an occupancy share: 1 taken, 0 free, None closed or unknown (left out)."""
    status = parse_status(value)
    if status is const.SpotStatus.OCCUPIED:
        return 1.0
    if status is const.SpotStatus.FREE:
        return 0.0
    return None


@dataclass(frozen=True)
class PricingSetup:
    """A city's demand-based pricing: the SFpark rule, the starting price, its time bands and zone."""

    rules: const.PricingRules = DEFAULT_PRICING
    base_price: Decimal = Decimal("2.00")
    bands: tuple[TimeBand, ...] = DEFAULT_TIME_BANDS
    tz: tzinfo = UTC
    review_every: timedelta = field(default=timedelta(days=1))
    #: Reviews only propose their changes, for an operator to approve; off, they apply them at once.
    needs_approval: bool = False


@dataclass(frozen=True)
class PriceReview:
    """What one price review decided, and whether its changes wait for an operator or were applied."""

    decisions: list[PriceChange]
    pending: bool
    #: (zone, time band) -> id of the proposal made for a change (empty when changes were applied).
    proposal_ids: dict[tuple[str, str], str] = field(default_factory=dict)


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
    periods: Sequence[tuple[Any, int, int]],
    start: datetime,
    end: datetime,
    slot_minutes: int,
    *,
    initial: float | None = None,
) -> list[OccupancyObservation]:
    """Occupancy per slot from ``[start, end)``, carrying the last value over slots without a change.

    A zone's occupancy is written only when it changes, so a slot without a row means "as
    before", not "unknown".  ``initial`` is the value in force at ``start`` (the last one
    recorded before it), if any; slots before the first value are left out.
    """
    values = {start_us: float(mean) for mean, start_us, _ in periods if _number(mean) is not None}
    step = timedelta(minutes=slot_minutes)
    step_us = slot_minutes * 60_000_000
    out: list[OccupancyObservation] = []
    last = initial
    slot, slot_us = start, _us(start)
    while slot < end:
        last = values.get(slot_us, last)
        if last is not None:
            out.append(OccupancyObservation(slot, last))
        slot += step
        slot_us += step_us
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
        # (tenant, place) -> (fitted at, served forecaster or None without enough history, slots seen)
        self._forecasters: dict[tuple[str, str], tuple[datetime, ForecastSelection | None, int]] = {}

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.terms.spot, self.terms.off_street, self.terms.group})

    def overview(self, tenant: str, at: datetime | None = None) -> ParkingOverview:
        """The city's parking occupancy now, from the entities the broker holds."""
        return build_overview(
            at or self.clock.now(),
            self.context.entities_of_type(tenant, self.terms.spot),
            self.context.entities_of_type(tenant, self.terms.on_street),
            self.context.entities_of_type(tenant, self.terms.off_street),
            self.terms,
            self.context.entities_of_type(tenant, self.terms.group),
        )

    def guidance(
        self,
        tenant: str,
        lon: float,
        lat: float,
        params: GuidanceParams = DEFAULT_GUIDANCE,
        *,
        arrive_at: datetime | None = None,
        kinds: frozenset[PlaceKind] = ALL_KINDS,
        now: datetime | None = None,
    ) -> list[GuidanceOption]:
        """The best bays, zones and garages to park near ``(lon, lat)`` on arrival at ``arrive_at``, best first.

        ``arrive_at`` None (or earlier than now) means now: the live occupancy.  Within
        ``params.live_window`` of now every place is judged by its live state; later, zones and
        garages by their served forecaster (see :func:`~.forecast.estimate_on_arrival`), and a
        bay free now by its zone's share on arrival (it is taken with the probability that any
        bay of its street is).  Forecasters come from the hourly cache, fitted in one batch for
        the places within reach that lack one; nothing is read per option.
        """
        moment = now or self.clock.now()
        arrival = max(arrive_at or moment, moment)
        spots = self.context.entities_of_type(tenant, self.terms.spot)
        zones = self.context.entities_of_type(tenant, self.terms.on_street)
        garages = self.context.entities_of_type(tenant, self.terms.off_street)
        overview = build_overview(moment, spots, zones, garages, self.terms)
        # Straight-line pre-filter: only places within reach need an estimate (and a forecaster).
        reach = params.max_walk_m / params.detour_factor

        def near(candidate: ParkingCandidate) -> bool:
            return haversine_m(lon, lat, candidate.lon, candidate.lat) <= reach

        places = [c for c in overview.candidates() if c.kind in kinds and near(c)]
        bays = [b for b in free_bays(spots, self.terms) if near(b)] if "bay" in kinds else []
        live = {p.id: p.occupancy.rate for p in (*overview.zones, *overview.garages)}
        needed = {c.place_id for c in places} | {b.site_id for b in bays if b.site_id is not None}
        selections: dict[str, ForecastSelection | None] = {}
        if arrival - moment > params.live_window and self.temporal is not None:
            entities = [e for e in (*zones, *garages) if e["id"] in needed]
            selections = {key: found for key, (found, _) in self._selections(tenant, entities, moment).items()}
        origin = floor_to(moment, self.forecast_params.slot_minutes)
        estimates: dict[str, ArrivalEstimate | None] = {
            place_id: estimate_on_arrival(
                selections.get(place_id),
                origin=origin,
                now=moment,
                arrival=arrival,
                current=live.get(place_id),
                live_sd=params.occupancy_sd,
                live_within=params.live_window,
            )
            for place_id in needed
        }
        candidates: list[ParkingCandidate] = []
        for place in places:
            estimate = estimates.get(place.place_id)
            if estimate is not None:
                candidates.append(_with_estimate(place, estimate))
        for bay in bays:
            if arrival - moment <= params.live_window:
                # The live rule: a bay free now is taken on an arrival this soon with probability 0.
                candidates.append(replace(bay, forecast_occupancy=0.0, occupancy_sd=0.0, basis="live"))
                continue
            estimate = estimates.get(bay.site_id) if bay.site_id is not None else None
            if estimate is not None:  # a bay outside any zone has no share to go by later than that
                candidates.append(_with_estimate(bay, estimate))
        return rank_options(Destination(lon, lat), candidates, params)

    # -- the periodic evaluation -----------------------------------------------------------

    def evaluate(self, now: datetime) -> int:
        """Write changed occupancies back and refit stale forecasters in every tenant; review prices daily; forget old sessions."""
        written = 0
        for tenant in self.context.tenants():
            written += self.evaluate_tenant(tenant, now)
            if self.temporal is not None:
                self.refresh_forecasters(tenant, now)
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
        """One tenant's evaluation: changed zone counts and garage and group shares written back."""
        zones = self.context.entities_of_type(tenant, self.terms.on_street)
        garages = self.context.entities_of_type(tenant, self.terms.off_street)
        groups = self.context.entities_of_type(tenant, self.terms.group)
        if not zones and not garages and not groups:
            return 0
        overview = build_overview(
            now,
            self.context.entities_of_type(tenant, self.terms.spot) if zones or groups else [],
            zones,
            garages,
            self.terms,
            groups,
        )
        by_id = {entity["id"]: entity for entity in (*zones, *garages, *groups)}
        documents = [
            self._zone_document(place, now) for place in overview.zones if self._changed(by_id[place.id], place)
        ]
        # A garage's or group's counters are its devices'; only the share is derived, so that they have
        # an occupancy history like zones (forecasts and historical occupancy read it).
        for places, entity_type in (
            (overview.garages, const.OFF_STREET_PARKING),
            (overview.groups, const.PARKING_GROUP),
        ):
            documents += [
                self._share_document(place, entity_type, now)
                for place in places
                if place.occupancy.rate is not None
                and value_of(by_id[place.id], self.terms.occupancy) != round(place.occupancy.rate, 4)
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

    @staticmethod
    def _share_document(place: PlaceView, entity_type: str, now: datetime) -> dict[str, Any]:
        rate = place.occupancy.rate
        assert rate is not None
        return {
            "id": place.id,
            "type": entity_type,
            const.OCCUPANCY: {"type": "Property", "value": round(rate, 4), "unitCode": "C62", "observedAt": _iso(now)},
        }

    # -- history of occupancy ----------------------------------------------------------------

    def _occupancy_slots(
        self, tenant: str, entities: Sequence[Entity], start: datetime, end: datetime, slot_minutes: int
    ) -> dict[str, list[OccupancyObservation]]:
        """Each zone's or garage's ``occupancy`` per slot of ``[start, end)``, carried over slots without a row.

        Two reads for all the places at once: the slot means (aggregated ``avg``) and the last
        value before ``start`` (what holds until the first change in the window).
        """
        if self.temporal is None:
            raise RuntimeError("occupancy history needs the temporal service")
        if not entities:
            return {}
        lower, upper = _us(start), _us(end)
        attrs = frozenset({self.terms.occupancy})
        aggregated = self.temporal.history_of(
            tenant,
            entities,
            TemporalRequest(
                temporal=TemporalQuery(timerel="between", time_at=lower, end_time_at=upper),
                attrs=attrs,
                aggregation=Aggregation(("avg",), slot_minutes * 60_000_000),
            ),
        )
        before = self.temporal.history_of(
            tenant,
            entities,
            TemporalRequest(temporal=TemporalQuery(timerel="before", time_at=lower, last_n=1), attrs=attrs),
        )
        initial: dict[str, float] = {}
        for found in before.entities:
            for series in found.series:
                if series.dataset_id == "" and series.instances:
                    value = _number(series.instances[-1][2].get("value"))
                    if value is not None:
                        initial[found.entity["id"]] = value
        periods: dict[str, list[tuple[Any, int, int]]] = {}
        for found in aggregated.entities:
            for series in found.series:
                if series.dataset_id == "":
                    periods.setdefault(found.entity["id"], []).extend(series.aggregates.get("avg", []))
        return {
            entity["id"]: on_grid(
                periods.get(entity["id"], []), start, end, slot_minutes, initial=initial.get(entity["id"])
            )
            for entity in entities
        }

    def _bay_history(self, tenant: str, bay: Entity, start: datetime, edges: Sequence[datetime]) -> list[float | None]:
        """A bay's time-weighted occupancy per period, from its status changes (paged) and the status before."""
        assert self.temporal is not None
        attrs = frozenset({self.terms.status})
        lower, upper = _us(start), _us(edges[-1])
        steps: list[tuple[datetime, float | None]] = []
        before = self.temporal.history_of(
            tenant,
            [bay],
            TemporalRequest(temporal=TemporalQuery(timerel="before", time_at=lower, last_n=1), attrs=attrs),
        )
        for found in before.entities:
            for series in found.series:
                if series.dataset_id == "" and series.instances:
                    steps.append((start, _bay_share(series.instances[-1][2].get("value"))))
        for _ in range(MAX_STATUS_PAGES):
            answer = self.temporal.history_of(
                tenant,
                [bay],
                TemporalRequest(
                    temporal=TemporalQuery(timerel="between", time_at=lower, end_time_at=upper), attrs=attrs
                ),
            )
            for found in answer.entities:
                for series in found.series:
                    if series.dataset_id == "":
                        steps += [(_from_us(at), _bay_share(i.get("value"))) for at, _, i in series.instances]
            if answer.content_range is None:
                break
            lower = answer.content_range.end_us + 1  # the page ended with every instance at its last instant
        else:
            raise BadRequestData("this bay changed too often in the window to answer at once; ask for a shorter one")
        return step_means(steps, edges)

    def occupancy_history(
        self,
        tenant: str,
        *,
        place_id: str | None = None,
        district: str | None = None,
        start: datetime,
        end: datetime,
        period: str,
    ) -> OccupancyHistory:
        """The occupancy per period of a bay, zone, garage or group (``place_id``), a district or the city (neither).

        A bay's share is its time taken over its known (free or taken) time, from its status
        changes.  A zone's, garage's or group's is the time-weighted mean of its written-back occupancy on
        the period's base grid (see :data:`const.HISTORY_PERIODS`).  A district's or the city's
        weights each place by its usable spaces now (capacity less closed bays), over the places
        with a value in that period.  Periods run from ``start`` in steps of the period's length;
        the window ends at ``end`` or now, whichever is earlier.
        """
        if self.temporal is None:
            raise RuntimeError("occupancy history needs the temporal service")
        spec = const.HISTORY_PERIODS.get(period)
        if spec is None:
            raise BadRequestData(f"'period' must be one of {', '.join(const.HISTORY_PERIODS)}, got {period!r:.40}")
        if place_id is not None and district is not None:
            raise BadRequestData("ask for one place ('id') or one district, not both")
        now = self.clock.now()
        end = min(end, now)
        if start >= end:
            raise BadRequestData("'from' must come before 'to' and before now")
        if end - start > spec.max_window:
            raise BadRequestData(f"at {spec.name} a window is at most {spec.max_window.days} days; ask for several")
        edges = [start]
        while edges[-1] + spec.length < end:
            edges.append(edges[-1] + spec.length)
        edges.append(end)
        base = int(spec.base.total_seconds() // 60)
        spots = self.context.entities_of_type(tenant, self.terms.spot)
        zones = self.context.entities_of_type(tenant, self.terms.on_street)
        garages = self.context.entities_of_type(tenant, self.terms.off_street)
        groups = self.context.entities_of_type(tenant, self.terms.group)
        overview = build_overview(now, spots, zones, garages, self.terms, groups)
        views = {place.id: place for place in (*overview.zones, *overview.garages, *overview.groups)}
        current: float | None
        if place_id is not None:
            entity = self.context.get_entity(tenant, place_id)
            types = entity.get("type", ())
            if self.terms.spot in types:
                kind = "bay"
                shares = self._bay_history(tenant, entity, start, edges)
                current = _bay_share(value_of(entity, self.terms.status))
            elif self.terms.on_street in types or self.terms.off_street in types or self.terms.group in types:
                kind = (
                    "zone" if self.terms.on_street in types else "garage" if self.terms.off_street in types else "group"
                )
                slots = self._occupancy_slots(tenant, [entity], start, end, base)[place_id]
                shares = step_means([(slot.at, slot.occupancy) for slot in slots], edges)
                view = views.get(place_id)
                current = None if view is None else view.occupancy.rate
            else:
                raise BadRequestData(f"{place_id:.200} is not a parking bay, zone, garage or group")
            return OccupancyHistory(place_id, kind, spec.name, start, end, current, 1, _periods(edges, shares))
        # Groups lie inside zones and garages that count their spaces already.
        sites = (*overview.zones, *overview.garages)
        chosen = [p for p in sites if district is None or (p.district or "(none)") == district]
        if district is not None and not chosen:
            raise NotFound(f"no parking zone or garage in district {district!r:.80}")
        weights = {p.id: p.occupancy.capacity - p.occupancy.closed for p in chosen}
        weights = {key: weight for key, weight in weights.items() if weight > 0}
        entities = [e for e in (*zones, *garages) if e["id"] in weights]
        per_place = {
            key: step_means([(slot.at, slot.occupancy) for slot in slots], edges)
            for key, slots in self._occupancy_slots(tenant, entities, start, end, base).items()
        }
        shares = []
        for index in range(len(edges) - 1):
            total = weight = 0.0
            for key, spaces in weights.items():
                share = per_place[key][index]
                if share is not None:
                    total += spaces * share
                    weight += spaces
            shares.append(total / weight if weight else None)
        if district is None:
            return OccupancyHistory(
                "city", "city", spec.name, start, end, overview.city.rate, len(weights), _periods(edges, shares)
            )
        counted = overview.districts.get(district)
        current = None if counted is None else counted.rate
        return OccupancyHistory(
            district, "district", spec.name, start, end, current, len(weights), _periods(edges, shares)
        )

    # -- demand-based pricing (SFpark) ------------------------------------------------------

    def _priced_zones(self, tenant: str) -> list[dict[str, Any]]:
        return [
            zone
            for zone in self.context.entities_of_type(tenant, self.terms.on_street)
            if _is_priced(zone, self.category)
        ]

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
        """Judge every paid zone and time band by the SFpark rule; apply (or propose) the changes; every decision."""
        return self.price_review(tenant, now).decisions

    def price_review(self, tenant: str, now: datetime) -> PriceReview:
        """Judge every paid zone and time band by the SFpark rule, and apply or propose the changes.

        Without approval (``PricingSetup.needs_approval`` off) changed prices are written and
        logged at once.  With it, each change is stored as a pending proposal for an operator.
        Either way the review supersedes the proposals still pending for the zones and bands it
        judged: the newest judgement is the one an operator decides on.
        """
        if self.db is None or self.temporal is None:
            raise RuntimeError("parking prices need the database and the occupancy history")
        self._last_review[tenant] = now
        approval = self.pricing.needs_approval
        zones = self._priced_zones(tenant)
        if not zones:
            return PriceReview([], approval)
        # Whole hours, and an hour without a row carried from the one before: a zone's occupancy is
        # written only when it changes, so a street full all afternoon leaves no row in those hours.
        window_end = floor_to(now, 60)
        window_start = window_end - self.pricing.rules.adjustment_period
        hourly: dict[str, list[tuple[Any, int, int]]] = {
            zone_id: [(slot.occupancy, _us(slot.at), _us(slot.at) + HOUR_US) for slot in slots]
            for zone_id, slots in self._occupancy_slots(tenant, zones, window_start, window_end, 60).items()
        }
        try:
            with self.db.write() as conn:
                stored = store.rates(conn, tenant)
                decisions: list[PriceChange] = []
                for zone in zones:
                    for band in self.pricing.bands:
                        rate = stored.get((zone["id"], band.name))
                        decisions.append(
                            recommend_price(
                                zone["id"],
                                band.name,
                                band_occupancy(hourly.get(zone["id"], []), band, self.pricing.tz),
                                rate.price if rate is not None else money(self.pricing.base_price),
                                now=now,
                                last_change_at=rate.last_change_at if rate is not None else None,
                                rules=self.pricing.rules,
                            )
                        )
                changes = [d for d in decisions if d.changed]
                proposals = [
                    RateProposal(
                        uuid.uuid4().hex,
                        d.zone_id,
                        d.time_band,
                        d.old_price,
                        d.new_price,
                        d.currency,
                        dict(d.to_record()),
                        now,
                    )
                    for d in (changes if approval else [])
                ]
                proposal_ids = {(p.zone_id, p.time_band): p.proposal_id for p in proposals}
                judged = {(d.zone_id, d.time_band): d for d in decisions}
                superseded = {
                    old.proposal_id: _superseded_note(judged[cell], proposal_ids.get(cell), approval, now)
                    for old in store.pending_proposals(conn, tenant)
                    if (cell := (old.zone_id, old.time_band)) in judged
                }
                # Before the new proposals go in: one proposal per zone and band may be pending.
                store.supersede_proposals(conn, tenant, superseded, now)
                if approval:
                    store.insert_proposals(conn, tenant, proposals)
                else:
                    changed = [StoredRate(d.zone_id, d.time_band, d.new_price, d.currency, now) for d in changes]
                    store.save_rates(conn, tenant, changed, set(stored), now)
                    store.log_changes(conn, tenant, [(uuid.uuid4().hex, d.to_record(), now) for d in changes])
        except IntegrityError:
            # Another review of this tenant committed its proposals (or rates) in the meantime.
            raise Conflict(f"the parking prices of tenant {tenant!r} are being reviewed already") from None
        return PriceReview(decisions, approval, proposal_ids)

    def proposals(
        self, tenant: str, state: ProposalState | str | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[RateProposal], int]:
        """Price proposals, newest first (``state`` filters: pending, approved, rejected, superseded), and their total."""
        wanted = None if state is None else _proposal_state(state)
        with self._pricing_db().read() as conn:
            return store.read_proposals(conn, tenant, state=wanted, limit=limit, offset=offset)

    def approve_proposal(self, tenant: str, proposal_id: str, by: str, note: str | None = None) -> RateProposal:
        """Apply a pending proposal's price (rate and log entry, noting who approved) and audit it.

        Conflict when the proposal is no longer pending, when the price in force is no longer the
        one it was made from, or when its zone or time band is no longer priced.
        """
        db = self._pricing_db()
        note = _decision_note(note)
        found = self._stored_proposal(tenant, proposal_id)
        if not self._still_priced(tenant, found):
            raise Conflict(
                f"zone {found.zone_id!r:.200} and time band {found.time_band!r} are no longer priced; reject the proposal"
            )
        now = self.clock.now()
        with db.write() as conn:
            proposal = self._pending(conn, tenant, proposal_id)
            rate = store.rate(conn, tenant, proposal.zone_id, proposal.time_band)
            price = rate.price if rate is not None else money(self.pricing.base_price)
            currency = rate.currency if rate is not None else self.pricing.rules.currency
            if (price, currency) != (proposal.current_price, proposal.currency):
                raise Conflict(
                    f"the price of zone {proposal.zone_id!r:.200} in {proposal.time_band!r} is {price} {currency} now, "
                    f"not the {proposal.current_price} {proposal.currency} proposal {proposal_id} was made from"
                )
            if not store.decide_proposal(conn, tenant, proposal_id, ProposalState.APPROVED, at=now, by=by, note=note):
                raise Conflict(f"price proposal {proposal_id} has been decided already")
            applied = StoredRate(proposal.zone_id, proposal.time_band, proposal.proposed_price, currency, now)
            store.save_rates(conn, tenant, [applied], set() if rate is None else {(rate.zone_id, rate.time_band)}, now)
            record = {
                **proposal.record,
                # The price changes now, so the adjustment period runs from now.
                "nextChangeAllowedAt": (now + self.pricing.rules.adjustment_period).isoformat(),
                "proposalId": proposal_id,
                "approvedBy": by,
                "approvedAt": now.isoformat(),
                "note": note,
            }
            store.log_changes(conn, tenant, [(uuid.uuid4().hex, record, now)])
            audit.record(
                conn,
                tenant,
                actor=by,
                action="parking.price.approve",
                target=proposal.zone_id,
                at=now,
                detail=_audit_detail(proposal, note),
            )
        return replace(proposal, state=ProposalState.APPROVED, decided_at=now, decided_by=by, note=note)

    def reject_proposal(self, tenant: str, proposal_id: str, by: str, note: str | None) -> RateProposal:
        """Turn down a pending proposal (the price stays) and audit it; Conflict when it is no longer pending."""
        db = self._pricing_db()
        note = _decision_note(note)
        self._stored_proposal(tenant, proposal_id)  # 404 before anything else
        now = self.clock.now()
        with db.write() as conn:
            proposal = self._pending(conn, tenant, proposal_id)
            if not store.decide_proposal(conn, tenant, proposal_id, ProposalState.REJECTED, at=now, by=by, note=note):
                raise Conflict(f"price proposal {proposal_id} has been decided already")
            audit.record(
                conn,
                tenant,
                actor=by,
                action="parking.price.reject",
                target=proposal.zone_id,
                at=now,
                detail=_audit_detail(proposal, note),
            )
        return replace(proposal, state=ProposalState.REJECTED, decided_at=now, decided_by=by, note=note)

    def _pricing_db(self) -> Database:
        if self.db is None:
            raise RuntimeError("parking prices need the database")
        return self.db

    def _stored_proposal(self, tenant: str, proposal_id: str) -> RateProposal:
        # Ids are 32 hex digits: anything else (a NUL byte PostgreSQL refuses, say) names no proposal.
        found = None
        if 0 < len(proposal_id) <= 32 and all(c in "0123456789abcdef" for c in proposal_id):
            with self._pricing_db().read() as conn:
                found = store.get_proposal(conn, tenant, proposal_id)
        if found is None:
            raise NotFound(f"price proposal {proposal_id!r:.80} does not exist")
        return found

    @staticmethod
    def _pending(conn: Connection, tenant: str, proposal_id: str) -> RateProposal:
        proposal = store.get_proposal(conn, tenant, proposal_id)
        if proposal is None:
            raise NotFound(f"price proposal {proposal_id!r:.80} does not exist")
        if proposal.state is not ProposalState.PENDING:
            raise Conflict(f"price proposal {proposal_id} is {proposal.state.value}, not pending")
        return proposal

    def _still_priced(self, tenant: str, proposal: RateProposal) -> bool:
        if proposal.time_band not in {band.name for band in self.pricing.bands}:
            return False
        try:
            zone = self.context.get_entity(tenant, proposal.zone_id)
        except NotFound:
            return False
        return self.terms.on_street in zone.get("type", ()) and _is_priced(zone, self.category)

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
        """A zone's (or a garage's or group's) occupancy 15, 30 and 60 minutes ahead.

        Fitted on the zone's last weeks of occupancy (refitted hourly): the served forecaster is
        the deviation model where it beat the weekday-and-slot mean on the held-out days, and
        that historical mean otherwise; ``scores`` carry both errors.
        """
        if self.temporal is None:
            raise RuntimeError("forecasts need the occupancy history")
        moment = now or self.clock.now()
        place = self.context.get_entity(tenant, zone_id)
        types = place.get("type", ())
        if not {self.terms.on_street, self.terms.off_street, self.terms.group} & set(types):
            raise BadRequestData(f"{zone_id:.200} is not a parking zone, garage or group")
        end = floor_to(moment, self.forecast_params.slot_minutes)
        current_value = _number(value_of(place, self.terms.occupancy))
        selection, count = self._selections(tenant, [place], moment)[zone_id]
        if selection is None:  # nothing to learn from yet: no forecast rather than a guess
            return ZoneForecast(zone_id, end, current_value, {}, (), count)
        predictions = {
            h: selection.served.predict(end, current_value, h) for h in self.forecast_params.horizons_minutes
        }
        return ZoneForecast(zone_id, end, current_value, predictions, selection.scores, count)

    def refresh_forecasters(self, tenant: str, now: datetime) -> int:
        """Refit the stale forecasters of every zone and garage, so that guidance finds them cached.

        The background evaluation calls this: the hourly refit (one batch read of a few weeks of
        history) then happens there rather than in the first guidance request of the hour.
        Returns how many places have a served forecaster.
        """
        places = [
            *self.context.entities_of_type(tenant, self.terms.on_street),
            *self.context.entities_of_type(tenant, self.terms.off_street),
        ]
        return sum(selection is not None for selection, _ in self._selections(tenant, places, now).values())

    def _selections(
        self, tenant: str, places: Sequence[Entity], moment: datetime
    ) -> dict[str, tuple[ForecastSelection | None, int]]:
        """The served forecaster of each zone or garage (None without enough history) and the slots it saw.

        From the cache while younger than :data:`FORECAST_REFIT`; the others are fitted together,
        from one batch read of their last weeks of occupancy.  Places without enough history are
        cached too, so they cost no read until the next refit either.
        """
        out: dict[str, tuple[ForecastSelection | None, int]] = {}
        stale = []
        for place in places:
            cached = self._forecasters.get((tenant, place["id"]))
            if cached is not None and abs(moment - cached[0]) < FORECAST_REFIT:
                out[place["id"]] = cached[1], cached[2]
            else:
                stale.append(place)
        if not stale:
            return out
        minutes = self.forecast_params.slot_minutes
        end = floor_to(moment, minutes)
        start = end - self.forecast_history
        for place_id, observations in self._occupancy_slots(tenant, stale, start, end, minutes).items():
            selection = None
            if len(observations) >= 2:
                training, held_out = split_chronologically(observations)
                selection = select_forecaster(training, held_out, tz=self.pricing.tz, params=self.forecast_params)
            self._forecasters[(tenant, place_id)] = (moment, selection, len(observations))
            out[place_id] = selection, len(observations)
        return out

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


def _is_priced(zone: Entity, category_term: str) -> bool:
    """Whether parking in a zone is charged for (residents' and free zones are not)."""
    category = value_of(zone, category_term)
    categories = set(category) if isinstance(category, list) else {category}
    return categories.isdisjoint(UNPRICED)


def _proposal_state(value: ProposalState | str) -> ProposalState:
    try:
        return ProposalState(value)
    except ValueError:
        known = ", ".join(state.value for state in ProposalState)
        raise BadRequestData(f"unknown proposal state {value!r:.40}; known: {known}") from None


def _decision_note(note: str | None) -> str | None:
    """An operator's note, trimmed; None when blank."""
    if note is None or not note.strip():
        return None
    note = note.strip()
    if len(note) > DECISION_NOTE_LENGTH:
        raise BadRequestData(f"a note is at most {DECISION_NOTE_LENGTH} characters")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in note):
        raise BadRequestData("a note must not contain control characters")
    return note


def _superseded_note(decision: PriceChange, proposal_id: str | None, approval: bool, at: datetime) -> str:
    when = _iso(at)
    if not decision.changed:
        return f"superseded by the review at {when}: {decision.reason}"
    if approval and proposal_id is not None:
        return f"superseded by proposal {proposal_id} of the review at {when}"
    return f"superseded by the review at {when}, which applied {decision.new_price} {decision.currency}"


def _audit_detail(proposal: RateProposal, note: str | None) -> dict[str, Any]:
    return {
        "proposalId": proposal.proposal_id,
        "timeBand": proposal.time_band,
        "currentPrice": str(proposal.current_price),
        "proposedPrice": str(proposal.proposed_price),
        "currency": proposal.currency,
        "note": note,
    }


def _periods(
    edges: Sequence[datetime], shares: Sequence[float | None]
) -> list[tuple[datetime, datetime, float | None]]:
    return [(start, end, share) for start, end, share in zip(edges, edges[1:], shares, strict=False)]


def _with_estimate(candidate: ParkingCandidate, estimate: ArrivalEstimate) -> ParkingCandidate:
    return replace(candidate, forecast_occupancy=estimate.occupancy, occupancy_sd=estimate.sd, basis=estimate.basis)
