"""No personal data through any public interface: every GET route of the app, enumerated, as the public sees it.

Residents leave personal data in many places: the names, e-mail, phone and device of an Open311
client's POST, a resident's account and device position with an app report, the authors of
comments and proposals, who supported, voted and cast a ballot.  The test then walks **every GET
route the app has** (from its route table, so a route added later is walked too) with every path
parameter filled by the ids of what was created, as an anonymous visitor and as another logged-in
resident, plus the NGSI-LD queries that reach the reports' mirror; no answer may contain any of the
personal values.  Staff answers are not public and are not asked for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from report_builders import LAMP_ID, add_city, jpeg_with_gps, lamp_alarm
from starlette.routing import BaseRoute, Route

from conftest import login_headers
from urbis.citizens.participation.budgets import BudgetPhase, check_budget
from urbis.citizens.participation.polls import ResultsVisibility
from urbis.citizens.participation.proposals import check_draft
from urbis.citizens.service import Submission, report_entity_id

#: Streams never end: they are checked by the live-event tests, not fetched here.
STREAMS = ("/api/v1/events",)
#: Device positions are personal; these digits appear nowhere else in the city.
DEVICE_LAT, DEVICE_LONG = 50.7291357, 7.0864213


def personal_values(tenant: str) -> dict[str, str]:
    return {
        "first_name": "Zyxwerika",
        "last_name": "Qorvathsen",
        "email": f"leak-check-{tenant}@example.org",
        "phone": "+49 30 5550 1234",
        "device_id": f"device-secret-{tenant}",
        "app_email": f"app-resident-{tenant}@example.org",
        "resident": f"resident-{tenant}",
        "supporter": f"supporter-{tenant}",
        "voter": f"voter-{tenant}",
        "commenter": f"commenter-{tenant}",
        "device_lat": str(DEVICE_LAT),
        "device_long": str(DEVICE_LONG),
    }


@pytest.fixture
def city(app: FastAPI, client: TestClient, tenant: str) -> dict[str, Any]:
    """A city where residents reported, commented, proposed, supported, voted and cast ballots."""
    pii = personal_values(tenant)
    add_city(app, tenant)
    lamp_alarm(app, tenant)
    reports = app.state.citizen_reports
    _, key = reports.create_api_key(tenant, "client", by="staff")
    # An Open311 client's report with every personal field the spec allows.
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "jurisdiction_id": tenant,
            "service_code": "streetlight",
            "attribute[fault]": "dark",
            "lat": "50.7355",
            "long": "7.1010",
            "service_object_type": "Streetlight",
            "service_object_id": LAMP_ID,
            "description": "Dark since Monday.",
            "first_name": pii["first_name"],
            "last_name": pii["last_name"],
            "email": pii["email"],
            "phone": pii["phone"],
            "device_id": pii["device_id"],
        },
    )
    assert posted.status_code == 200, posted.text
    token = posted.json()[0]["token"]
    waiting = reports.by_token(token)
    code_mail = _confirmation_code(app, tenant)
    reports.confirm(tenant, waiting.id, code_mail)
    # A logged-in resident's report from the app, with a photo and their phone's own position.
    resident = reports.submit(
        tenant,
        Submission(
            service_code="pothole",
            description="Hole by the bus stop.",
            lat=50.7361,
            long=7.1002,
            answers={"where": ["road"]},
            photos=[jpeg_with_gps()],
            account=pii["resident"],
            email=pii["app_email"],
            first_name=pii["first_name"],
            device_lat=DEVICE_LAT,
            device_long=DEVICE_LONG,
            trusted=True,
        ),
    ).report
    reports.comment(tenant, resident.id, "Still there today.", by=pii["commenter"])
    participation = app.state.participation
    proposal = participation.create_proposal(tenant, pii["resident"], check_draft("More trees", "Plant trees."))
    participation.support(tenant, proposal.proposal.id, pii["supporter"])
    participation.add_comment(tenant, proposal.proposal.id, pii["commenter"], "Yes please", False)
    budget = participation.create_budget(
        tenant,
        check_budget(
            "Budget",
            "",
            "EUR",
            [
                {
                    "id": "north",
                    "name": "North",
                    "amount": "1000",
                    "rule": {"kind": "minimum-projects", "minimumProjects": 1},
                }
            ],
        ),
        by="staff",
    )
    budget_id = budget.budget.id
    project = participation.add_project(
        tenant, budget_id, heading_id="north", title="Bench", description="", cost="500", by="staff"
    )
    participation.change_phase(tenant, budget_id, BudgetPhase.VOTING, by="staff")
    ballot = participation.cast_ballot(tenant, budget_id, pii["voter"], "north", [project.id])
    from datetime import UTC, datetime, timedelta

    poll = participation.create_poll(
        tenant,
        "Lights on?",
        ["Yes", "No"],
        max_choices=1,
        opens_at=None,
        closes_at=datetime.now(UTC) + timedelta(days=1),
        visibility=ResultsVisibility.LIVE,
        by="staff",
    )
    participation.vote(tenant, poll.poll.id, pii["voter"], [0])
    return {
        "pii": pii,
        "reports": [waiting.id, resident.id],
        "photos": list(resident.photos),
        "token": token,
        "proposal": proposal.proposal.id,
        "budget": budget_id,
        "fingerprint": ballot.ballot.fingerprint,
        "poll": poll.poll.id,
    }


def _confirmation_code(app: FastAPI, tenant: str) -> str:
    from sqlalchemy import select

    from urbis.citizens.mail import outbox

    with app.state.db.read() as conn:
        bodies = conn.execute(select(outbox.c.body).where(outbox.c.tenant == tenant)).scalars().all()
    for body in bodies:
        found = re.search(r"confirm\?code=([A-Za-z0-9_-]+)", body)
        if found:
            return found.group(1)
    raise AssertionError("no confirmation mail was queued")


def _candidates(name: str, city: dict[str, Any], tenant: str) -> list[str]:
    lowered = name.lower()
    if lowered in ("fmt", "format"):
        return ["json", "xml"]
    if "photo" in lowered:
        return city["photos"]
    if "proposal" in lowered:
        return [city["proposal"]]
    if "budget" in lowered:
        return [city["budget"]]
    if "poll" in lowered:
        return [city["poll"]]
    if "fingerprint" in lowered or "receipt" in lowered:
        return [city["fingerprint"]]
    if "token" in lowered:
        return [city["token"]]
    if "code" in lowered or "service" in lowered:
        return ["streetlight"]
    if "tenant" in lowered:
        return [tenant]
    if "entity" in lowered:
        return [report_entity_id(r) for r in city["reports"]]
    if "report" in lowered or "request" in lowered or lowered == "id":
        return city["reports"]
    if lowered == "lang" or lowered == "code":
        return ["de"]
    return ["x"]


def get_paths(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Every GET path of a route table, through the routers it includes (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, Route):
            if "GET" in (route.methods or ()):
                yield prefix + route.path
            continue
        context = getattr(route, "include_context", None)
        if context is not None:
            yield from get_paths(context.included_router.routes, prefix + context.prefix)


def _urls(app: FastAPI, city: dict[str, Any], tenant: str) -> Iterator[str]:
    for route_path in get_paths(app.routes):
        if route_path.startswith(STREAMS):
            continue
        names = re.findall(r"{([^}:]+)(?::[^}]+)?}", route_path)
        choices = [_candidates(name, city, tenant) for name in names]
        for values in itertools.product(*choices):
            path = route_path
            for name, value in zip(names, values, strict=True):
                path = re.sub(r"{" + re.escape(name) + r"(?::[^}]+)?}", value, path, count=1)
            yield path
    # Queries that reach the reports through their public projections.
    yield "/ngsi-ld/v1/entities?type=ServiceRequest"
    yield "/ngsi-ld/v1/entities?type=ServiceRequest&options=keyValues"
    yield "/ngsi-ld/v1/temporal/entities?type=ServiceRequest&timerel=after&timeAt=2000-01-01T00:00:00Z"
    for report_id in city["reports"]:
        yield f"/ngsi-ld/v1/entities/{report_entity_id(report_id)}"
        yield f"/ngsi-ld/v1/temporal/entities/{report_entity_id(report_id)}"
        yield f"/open311/v2/requests/{report_id}.json?extensions=true&jurisdiction_id={tenant}"
        yield f"/open311/v2/requests/{report_id}.xml?extensions=true&jurisdiction_id={tenant}"
    yield f"/open311/v2/requests.json?extensions=true&jurisdiction_id={tenant}"
    yield f"/open311/v2/requests.xml?extensions=true&jurisdiction_id={tenant}"
    yield f"/open311/v2/servicerequestupdates.xml?jurisdiction_id={tenant}"
    yield "/api/v1/reports?limit=100"
    yield "/api/v1/reports/nearby?service=streetlight&lat=50.7355&long=7.1010"
    yield "/api/v1/participation/proposals"
    yield "/app/report/nearby?service=streetlight&lat=50.7355&long=7.1010"


def test_no_public_answer_carries_personal_data(
    app: FastAPI, client: TestClient, tenant: str, city: dict[str, Any]
) -> None:
    pii: dict[str, str] = city["pii"]
    visitors = {
        "anonymous": {"NGSILD-Tenant": tenant},
        "another resident": login_headers(client, tenant, "citizen", subject=f"other-{tenant}"),
    }
    fetched: dict[str, int] = {}
    leaks: list[str] = []
    for url in sorted(set(_urls(app, city, tenant))):
        for who, headers in visitors.items():
            client.cookies.clear()
            response = client.get(url, headers=headers, follow_redirects=True)
            fetched[url] = response.status_code
            body = response.content.decode("utf-8", errors="replace")
            for name, value in pii.items():
                if value in body:
                    leaks.append(f"{who} GET {url} ({response.status_code}) shows {name}")
    assert not leaks, "\n".join(leaks)
    # The walk reached the public surfaces, with real answers (not only refusals).
    answered = {url for url, status in fetched.items() if status == 200}
    for prefix in (
        "/open311/v2/requests/",
        "/open311/v2/services",
        "/api/v1/reports/",
        "/api/v1/participation/",
        "/media/reports/",
        "/ngsi-ld/v1/entities/",
    ):
        assert any(url.startswith(prefix) for url in answered), f"nothing under {prefix} answered 200"
    assert len(fetched) >= 60
