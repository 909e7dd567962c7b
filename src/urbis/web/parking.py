"""The smart-parking API: live occupancy and guidance, for anyone who may read the tenant's context."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.auth.roles import can_manage_operations, can_read_context, can_read_operations, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData, InvalidRequest
from urbis.solutions.parking.const import DEFAULT_GUIDANCE, GuidanceParams
from urbis.solutions.parking.guidance import GuidanceOption, PlaceKind
from urbis.solutions.parking.service import ALL_KINDS, ParkingService
from urbis.solutions.parking.sessions import ParkingSession
from urbis.solutions.parking.store import RateProposal
from urbis.solutions.parking.views import occupancy_json
from urbis.web.deps import current_actor, require_read
from urbis.web.ngsild.common import call, check_params, read_body, read_json, tenant_of
from urbis.web.params import instant_param, int_param, json_response, page_limit, page_offset, text_param

router = APIRouter(prefix="/api/v1/parking", tags=["parking"])

#: How far ahead guidance plans: the weekday-and-slot mean repeats weekly, so a week is its horizon.
MAX_ARRIVAL_AHEAD = timedelta(days=7)
#: An ``arriveAt`` this far in the past is read as now (clocks differ); earlier is a mistake.
ARRIVAL_SKEW = timedelta(minutes=5)
#: The default window of the occupancy history: the last day.
DEFAULT_HISTORY_WINDOW = timedelta(days=1)


def _parking(request: Request) -> ParkingService:
    service: ParkingService = request.app.state.parking
    return service


def _float_param(request: Request, name: str, low: float, high: float, default: float | None = None) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise BadRequestData(f"'{name}' is required")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequestData(f"'{name}' must be a number, got {raw!r:.40}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequestData(f"'{name}' must lie between {low:g} and {high:g}, got {raw!r:.40}")
    return value


def _arrival(request: Request, now: datetime) -> datetime:
    """``arriveAt`` (ISO 8601 with a zone) or ``arrivalMinutes`` from now; neither means now."""
    arrive_at = instant_param(request, "arriveAt")
    if arrive_at is not None and "arrivalMinutes" in request.query_params:
        raise BadRequestData("give 'arriveAt' or 'arrivalMinutes', not both")
    if arrive_at is None:
        minutes = int_param(request, "arrivalMinutes", 0, maximum=MAX_ARRIVAL_AHEAD // timedelta(minutes=1))
        return now + timedelta(minutes=minutes)
    if arrive_at < now - ARRIVAL_SKEW:
        raise BadRequestData("'arriveAt' lies in the past")
    if arrive_at > now + MAX_ARRIVAL_AHEAD:
        raise BadRequestData(f"'arriveAt' is at most {MAX_ARRIVAL_AHEAD.days} days ahead")
    return max(arrive_at, now)


def _kinds(request: Request) -> frozenset[PlaceKind]:
    raw = text_param(request, "kinds")
    if raw is None:
        return ALL_KINDS
    names = {name.strip() for name in raw.split(",")}
    chosen = frozenset(kind for kind in ALL_KINDS if kind in names)
    if not names or names - set(chosen):
        raise BadRequestData(f"'kinds' is a comma-separated list of bay, zone and garage, got {raw!r:.40}")
    return chosen


def _option_json(option: GuidanceOption) -> dict[str, object]:
    place = option.candidate
    document: dict[str, object] = {
        "id": place.place_id,
        "kind": place.kind,
        "name": place.name,
        "location": {"type": "Point", "coordinates": [place.lon, place.lat]},
        "capacity": place.capacity,
        "free": place.free,
        "walkingDistance": round(option.walking_m),
        "occupancyOnArrival": round(option.occupancy_on_arrival, 4),
        "occupancyBasis": place.basis,
        "occupancySd": round(option.occupancy_sd, 4),
        "probabilityOfSpace": round(option.probability_free, 4),
        "score": round(option.expected_cost_m, 1),
    }
    if place.kind == "bay":
        document["zoneId"] = place.site_id
    return document


@router.get("/occupancy", summary="Live parking occupancy")
async def occupancy(request: Request) -> Response:
    """Occupancy of the city, per district, per zone of bays and per garage (rates over known spaces)."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    overview = await call(_parking(request).overview, tenant)
    return json_response(overview.to_json())


@router.get("/occupancy/summary", summary="Parking occupancy of the city and its districts")
async def occupancy_summary(request: Request) -> Response:
    """The city's and the districts' figures only (what a dashboard tile shows)."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    overview = await call(_parking(request).overview, tenant)
    document = overview.to_json()
    return json_response(
        {"at": document["at"], "city": occupancy_json(overview.city), "districts": document["districts"]}
    )


@router.get("/guidance", summary="Where to park near a destination")
async def guidance(request: Request) -> Response:
    """``lon``, ``lat`` of the destination; ``maxWalk`` metres (default 600), ``limit`` (default 5).

    ``arriveAt`` (ISO 8601 with a zone) or ``arrivalMinutes`` from now (up to 7 days) say when
    the driver arrives; neither means now, judged by the live occupancy.  ``kinds`` narrows the
    options (``bay,zone,garage``, all by default).  Options are ranked by an expected cost in
    metres: the walk plus, weighted by the chance of finding no space on arrival, the cost of
    driving on; each says which occupancy it used (``occupancyBasis``: live, forecast or
    historical mean) and the figure.
    """
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"lon", "lat", "maxWalk", "limit", "arriveAt", "arrivalMinutes", "kinds"})
    lon = _float_param(request, "lon", -180.0, 180.0)
    lat = _float_param(request, "lat", -90.0, 90.0)
    params = GuidanceParams(
        max_walk_m=_float_param(request, "maxWalk", 1.0, 5000.0, DEFAULT_GUIDANCE.max_walk_m),
        limit=int_param(request, "limit", DEFAULT_GUIDANCE.limit, minimum=1, maximum=50),
        detour_factor=DEFAULT_GUIDANCE.detour_factor,
        miss_penalty_m=DEFAULT_GUIDANCE.miss_penalty_m,
        occupancy_sd=DEFAULT_GUIDANCE.occupancy_sd,
        live_window=DEFAULT_GUIDANCE.live_window,
    )
    service = _parking(request)
    now = service.clock.now()
    arrival = _arrival(request, now)
    kinds = _kinds(request)
    options = await call(service.guidance, tenant, lon, lat, params, arrive_at=arrival, kinds=kinds, now=now)
    return json_response(
        {
            "destination": {"type": "Point", "coordinates": [lon, lat]},
            "at": now,
            "arriveAt": arrival,
            "options": [_option_json(o) for o in options],
        }
    )


@router.get("/occupancy/history", summary="Past occupancy of a bay, zone, garage, group, district or the city")
async def occupancy_history(request: Request) -> Response:
    """``id`` (a bay, zone, garage or group) or ``district`` (a district name); neither: the city.

    ``from``/``to`` (ISO 8601 with a zone; default the last day, ``to`` at most now) and
    ``period`` (``PT15M``, ``PT1H`` default, ``P1D``): windows of at most 31, 92 and 366 days.
    Periods run from ``from``; each value is a time-weighted share of the spaces taken.
    """
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"id", "district", "from", "to", "period"})
    service = _parking(request)
    end = instant_param(request, "to") or service.clock.now()
    try:
        start = instant_param(request, "from") or end - DEFAULT_HISTORY_WINDOW
    except OverflowError:  # 'to' on the calendar's first day
        raise BadRequestData("'to' lies too early for a day's window; give 'from' as well") from None
    history = await call(
        service.occupancy_history,
        tenant,
        place_id=text_param(request, "id"),
        district=text_param(request, "district"),
        start=start,
        end=end,
        period=text_param(request, "period") or "PT1H",
    )
    return json_response(history.to_json())


# -- prices -----------------------------------------------------------------------------------


@router.get("/rates", summary="Hourly prices per paid zone and time band")
async def rates(request: Request) -> Response:
    """The price in force for every paid zone and time band (the base price until a review moves it)."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    current = await call(_parking(request).current_rates, tenant)
    return json_response(
        [
            {
                "zoneId": r.zone_id,
                "timeBand": r.time_band,
                "price": str(r.price),
                "currency": r.currency,
                "lastChangeAt": r.last_change_at,
            }
            for r in current
        ]
    )


@router.get("/rates/log", summary="Every price change and its reason")
async def rate_log(request: Request) -> Response:
    """Newest first; ``zoneId`` filters; ``limit``/``offset`` page; the total in ``X-Total-Count``."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"zoneId", "limit", "offset"})
    entries, total = await call(
        _parking(request).price_log,
        tenant,
        zone_id=text_param(request, "zoneId"),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    if not _staff(request, tenant):
        # Who approved a price is for staff; the change and its reason are public.
        entries = [{k: v for k, v in entry.items() if k not in STAFF_ONLY} for entry in entries]
    return json_response(entries, headers={"X-Total-Count": str(total)})


#: Members naming a member of staff, left out for readers who are not staff.
STAFF_ONLY = frozenset({"approvedBy", "decidedBy", "note"})


def _staff(request: Request, tenant: str) -> bool:
    actor = current_actor(request)
    return can_read_operations(actor, tenant)


def _price_operator(request: Request) -> tuple[str, Actor]:
    """The tenant and the caller, who must be an operator: the one check for reviewing and deciding prices."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_operations(actor, tenant), actor, f"review the parking prices of tenant '{tenant}'")
    return tenant, actor


@router.post("/rates/review", summary="Review prices now")
async def review_rates(request: Request) -> Response:
    """Apply the SFpark rule to every paid zone and time band now (operators); every decision, with its reason.

    Each changed decision says whether it was applied (``"changeState": "applied"``) or waits for
    an operator (``"pending"``, with its ``proposalId``); decisions that change nothing carry null.
    """
    tenant, _ = _price_operator(request)
    check_params(request, set())
    service = _parking(request)
    review = await call(service.price_review, tenant, service.clock.now())
    answer = []
    for decision in review.decisions:
        record: dict[str, Any] = dict(decision.to_record())
        proposal_id = review.proposal_ids.get((decision.zone_id, decision.time_band))
        record["changeState"] = None if not decision.changed else "pending" if review.pending else "applied"
        record["proposalId"] = proposal_id
        answer.append(record)
    return json_response(answer)


@router.get("/rates/proposals", summary="Price changes proposed by reviews, and their decisions")
async def rate_proposals(request: Request) -> Response:
    """Newest first; ``state`` (pending, approved, rejected, superseded) filters; ``limit``/``offset`` page.

    The total is in ``X-Total-Count``.
    """
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"state", "limit", "offset"})
    found, total = await call(
        _parking(request).proposals,
        tenant,
        text_param(request, "state"),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    proposals = [p.to_json() for p in found]
    if not _staff(request, tenant):
        proposals = [{k: v for k, v in p.items() if k not in STAFF_ONLY} for p in proposals]
    return json_response(proposals, headers={"X-Total-Count": str(total)})


async def _decision_note(request: Request) -> str | None:
    """The note of an optional ``{"note": "..."}`` body (within the body size limit)."""
    raw = await read_body(request)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequestData("'note' must be a string")
    return note


def _proposal_answer(proposal: RateProposal) -> Response:
    return json_response(proposal.to_json())


@router.post("/rates/proposals/{proposal_id}/approve", summary="Approve a proposed price")
async def approve_proposal(request: Request, proposal_id: str) -> Response:
    """Apply the proposed price now (operators); optional body ``{"note": "..."}``.

    409 when the proposal is no longer pending or the price in force changed since it was made.
    """
    tenant, actor = _price_operator(request)
    check_params(request, set())
    note = await _decision_note(request)
    return _proposal_answer(await call(_parking(request).approve_proposal, tenant, proposal_id, actor.subject, note))


@router.post("/rates/proposals/{proposal_id}/reject", summary="Reject a proposed price")
async def reject_proposal(request: Request, proposal_id: str) -> Response:
    """Leave the price as it is (operators); optional body ``{"note": "..."}``; 409 when no longer pending."""
    tenant, actor = _price_operator(request)
    check_params(request, set())
    note = await _decision_note(request)
    return _proposal_answer(await call(_parking(request).reject_proposal, tenant, proposal_id, actor.subject, note))


@router.get("/forecast", summary="A zone's or garage's occupancy 15, 30 and 60 minutes ahead")
async def forecast(request: Request) -> Response:
    """``zoneId`` (a zone or a garage); the predictions, and per horizon the held-out error of the model and the mean."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"zoneId"})
    zone_id = text_param(request, "zoneId")
    if zone_id is None:
        raise BadRequestData("'zoneId' is required")
    result = await call(_parking(request).forecast, tenant, zone_id)
    scores = {score.horizon_minutes: score for score in result.scores}
    horizons = []
    for minutes, occupancy in sorted(result.predictions.items()):
        score = scores.get(minutes)
        horizons.append(
            {
                "minutes": minutes,
                "occupancy": round(occupancy, 4),
                "model": "deviation" if score is not None and score.model_served else "historical-mean",
                "modelMae": None if score is None or score.model_mae is None else round(score.model_mae, 4),
                "baselineMae": None if score is None or score.baseline_mae is None else round(score.baseline_mae, 4),
                "evaluationPairs": None if score is None else score.pairs,
            }
        )
    return json_response(
        {
            "zoneId": result.zone_id,
            "from": result.at,
            "current": result.current,
            "horizons": horizons,
            "observations": result.observations,
        }
    )


# -- sessions and enforcement -----------------------------------------------------------------


def _session_json(session: ParkingSession) -> dict[str, object]:
    return {
        "id": session.session_id,
        "zoneId": session.zone_id,
        "bayId": session.bay_id,
        "plate": session.plate,
        "startedAt": session.started_at,
        "paidUntil": session.paid_until,
        "endedAt": session.ended_at,
        "rights": sorted(session.rights),
    }


def _driver(request: Request) -> str:
    """Sessions are started by signed-in people or clients of the tenant (a parking app, a meter)."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(
        actor.is_authenticated and can_read_context(actor, tenant, public=False), actor, f"park in tenant '{tenant}'"
    )
    return tenant


def _enforcer(request: Request) -> str:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_read_operations(actor, tenant), actor, f"see the parking sessions of tenant '{tenant}'")
    return tenant


@router.post("/sessions", status_code=201, summary="Start a parking session")
async def start_session(request: Request) -> Response:
    """Body ``{"zoneId", "bayId"?, "plate"?, "paidMinutes"?, "rights"? (e.g. ["disabled-badge"])}``."""
    tenant = _driver(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    zone_id = body.get("zoneId")
    bay_id = body.get("bayId")
    plate = body.get("plate")
    paid = body.get("paidMinutes")
    rights = body.get("rights", [])
    if not isinstance(zone_id, str):
        raise BadRequestData("'zoneId' is required and must be a string")
    if bay_id is not None and not isinstance(bay_id, str):
        raise BadRequestData("'bayId' must be a string")
    if plate is not None and not isinstance(plate, str):
        raise BadRequestData("'plate' must be a string")
    if paid is not None and (not isinstance(paid, int) or isinstance(paid, bool)):
        raise BadRequestData("'paidMinutes' must be a whole number")
    if not isinstance(rights, list) or not all(isinstance(r, str) and 0 < len(r) <= 64 for r in rights):
        raise BadRequestData("'rights' must be a list of short strings")
    session = await call(
        _parking(request).start_session, tenant, zone_id, bay_id=bay_id, plate=plate, paid_minutes=paid, rights=rights
    )
    return json_response(_session_json(session), 201, {"Location": f"/api/v1/parking/sessions/{session.session_id}"})


@router.post("/sessions/{session_id}/stop", summary="Stop a parking session")
async def stop_session(request: Request, session_id: str) -> Response:
    """End the session now."""
    tenant = _driver(request)
    return json_response(_session_json(await call(_parking(request).stop_session, tenant, session_id)))


@router.get("/sessions", summary="Open parking sessions")
async def list_sessions(request: Request) -> Response:
    """Sessions not stopped yet (staff only: they name plates)."""
    tenant = _enforcer(request)
    check_params(request, set())
    return json_response([_session_json(s) for s in await call(_parking(request).open_sessions, tenant)])


@router.get("/compliance", summary="Overstays and unpaid parking now")
async def compliance(request: Request) -> Response:
    """Overstays (by the bay sensors, else by the session), occupied bays without a session, zone shortfalls."""
    tenant = _enforcer(request)
    check_params(request, set())
    report = await call(_parking(request).compliance, tenant)
    return json_response(
        {
            "at": report.at,
            "overstays": [
                {
                    "zoneId": o.zone_id,
                    "bayId": o.bay_id,
                    "sessionId": o.session_id,
                    "plate": o.plate,
                    "since": o.stay_counted_from,
                    "allowedMinutes": o.allowed.total_seconds() / 60,
                    "minutesOver": o.minutes_over,
                    "source": o.source,
                }
                for o in report.overstays
            ],
            "unpaid": [
                {
                    "zoneId": u.zone_id,
                    "bayId": u.bay_id,
                    "since": u.occupied_since,
                    "minutes": u.occupied_for.total_seconds() / 60,
                }
                for u in report.unpaid
            ],
            "shortfalls": [
                {"zoneId": z.zone_id, "uncoveredBays": z.uncovered_bays, "zoneSessions": z.zone_sessions}
                for z in report.shortfalls
            ],
        }
    )
