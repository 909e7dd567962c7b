"""The residents' participation pages on SQLite and PostgreSQL: proposals, budgets, polls.

Residents log in through the citizen app's login form; staff prepare budgets and polls through the
participation service, as the dashboard would.  The pages are read as a browser without JavaScript
reads them: every action is a form post, every refusal comes back with the service's message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from report_builders import DISTRICT_NORTH, add_city

from conftest import make_settings
from urbis.app import create_app
from urbis.citizens.participation.budgets import BudgetPhase, check_budget
from urbis.citizens.participation.polls import ResultsVisibility
from urbis.citizens.participation.proposals import AnswerStatus, check_draft
from urbis.citizens.participation.service import ParticipationService
from urbis.core.clock import FixedClock
from urbis.web.citizen import install_citizen_app
from urbis.web.citizen.participate import install_participation_pages

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
APP = "/app/participate"
PASSWORD = "correct horse battery staple 42"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def build_app(db_url: str, tenant: str, clock: FixedClock, **overrides: object) -> FastAPI:
    """The app with the citizen app and these pages (installing twice changes nothing), threshold 2."""
    values: dict[str, object] = {
        "participation_proposal_threshold": 2,
        "participation_proposal_days": 30,
        "citizen_rate_limit_ip": "1000/minute",
        "citizen_rate_limit_account": "1000/minute",
        "citizen_rate_limit_reads": "10000/minute",
    }
    app = create_app(make_settings(db_url, tenant, **(values | overrides)), clock=clock)
    install_citizen_app(app)
    install_participation_pages(app)
    return app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(db_url: str, tenant: str, clock: FixedClock) -> Iterator[FastAPI]:
    built = build_app(db_url, tenant, clock)
    with TestClient(built):  # runs the app's start-up and shut-down once
        yield built


class Person:
    """A browser: anonymous, or logged in through the citizen app's login form."""

    def __init__(self, app: FastAPI, username: str | None = None) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.username = username
        if username is not None:
            answer = self.client.post("/app/login", data={"username": username, "password": PASSWORD, "next": APP})
            assert answer.status_code == 303, answer.text
            assert "urbis_session" in self.client.cookies

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.client.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, *, page: str | None = None) -> Any:
        """Post a form as it is sent from ``page`` (with that page's CSRF token when logged in)."""
        fields = dict(data or {})
        if self.username is not None:
            fields.setdefault("csrf_token", self.csrf(page or path.rsplit("/", 1)[0]))
        return self.client.post(path, data=fields)


class City:
    """The people of one test's tenant (usernames are global: named after the tenant)."""

    def __init__(self, app: FastAPI, tenant: str) -> None:
        self.app = app
        self.tenant = tenant
        self.service: ParticipationService = app.state.participation

    def name(self, who: str) -> str:
        return f"{who}-{self.tenant}"

    def resident(self, who: str, *roles: str) -> Person:
        self.app.state.accounts.create_user(
            self.name(who), PASSWORD, tenant=self.tenant, roles=list(roles or ("citizen",))
        )
        return Person(self.app, self.name(who))

    def visitor(self) -> Person:
        return Person(self.app)

    def proposal(self, who: str = "alice", *, show_name: bool = False) -> str:
        draft = check_draft("More benches", "Along the river, please.", show_name=show_name)
        return self.service.create_proposal(self.tenant, self.name(who), draft).proposal.id

    def budget(
        self, rule: dict[str, Any] | None = None, *, phase: BudgetPhase = BudgetPhase.VOTING
    ) -> tuple[str, dict[str, str]]:
        """North: €1,000,000 (at least 70 % to spend unless told) with a 600k, b 500k, c 300k, d 100k."""
        draft = check_budget(
            "Budget 2027",
            "What should the districts build?",
            "EUR",
            [
                {
                    "id": "north",
                    "name": "North",
                    "amount": "1000000",
                    "rule": rule or {"kind": "minimum-percent", "minimumPercent": 70},
                },
                {
                    "id": "south",
                    "name": "South",
                    "amount": "400000",
                    "rule": {"kind": "minimum-projects", "minimumProjects": 1},
                },
            ],
        )
        staff = self.name("olga")
        budget_id = self.service.create_budget(self.tenant, draft, by=staff).budget.id
        projects = {}
        for title, cost in (("a", 600_000), ("b", 500_000), ("c", 300_000), ("d", 100_000)):
            project = self.service.add_project(
                self.tenant,
                budget_id,
                heading_id="north",
                title=f"Project {title}",
                description="",
                cost=cost,
                by=staff,
            )
            projects[title] = project.id
        projects["s"] = self.service.add_project(
            self.tenant, budget_id, heading_id="south", title="Project s", description="", cost=250_000, by=staff
        ).id
        for step in (BudgetPhase.INFORMING, BudgetPhase.VOTING, BudgetPhase.FINISHED):
            if list(BudgetPhase).index(step) > list(BudgetPhase).index(phase):
                break
            self.service.change_phase(self.tenant, budget_id, step, by=staff)
        return budget_id, projects


@pytest.fixture
def city(app: FastAPI, tenant: str) -> City:
    return City(app, tenant)


def text_of(html: str) -> str:
    """The page's visible text, tags dropped and spaces collapsed (what a reader sees)."""
    main = html[html.find("<main") :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace("&#39;", "'").replace("&#34;", '"')


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:3000]
    return response


def supports_of(person: Person, proposal_id: str) -> int:
    return int(person.get(f"{APP}/proposals/{proposal_id}.json").json()["proposal"]["progress"]["supports"])


# -- every page, in English and German ---------------------------------------------------------


def test_every_page_answers_in_english_and_german_with_a_json_twin(city: City, clock: FixedClock) -> None:
    proposal_id = city.proposal()
    budget_id, _ = city.budget()
    poll = city.service.create_poll(
        city.tenant,
        "Which day for the market?",
        ["Saturday", "Sunday"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=7),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    )
    bob = city.resident("bob")
    pages = [
        APP,
        f"{APP}/proposals",
        f"{APP}/proposals/new",
        f"{APP}/proposals/{proposal_id}",
        f"{APP}/budgets/{budget_id}",
        f"{APP}/budgets/{budget_id}/ballot?heading=north",
        f"{APP}/budgets/{budget_id}/receipt?fingerprint={'0' * 64}",
        f"{APP}/polls/{poll.poll.id}",
    ]
    for language, skip_link in (("en", "Skip to content"), ("de", "Zum Inhalt springen")):
        bob.client.cookies.set("urbis_lang", language)
        for path in pages:
            answer = ok(bob.get(path))
            assert f'<html lang="{language}">' in answer.text, path
            assert skip_link in answer.text, path
            assert answer.headers["content-security-policy"].startswith("default-src 'self'"), path
            assert (
                'aria-current="page">' in answer.text and 'href="/app/participate" aria-current="page"' in answer.text
            )
            # The JSON twin of the same view.
            base, _, query = path.partition("?")
            twin = ok(bob.get(f"{base}.json" + (f"?{query}" if query else "")))
            assert twin.headers["content-type"] == "application/json"
    overview = bob.get(f"{APP}.json").json()
    assert overview["rules"] == {"proposalThreshold": 2, "proposalDays": 30}
    assert [p["id"] for p in overview["proposals"]["mostSupported"]] == [proposal_id]
    assert [b["id"] for b in overview["budgets"]] == [budget_id]
    assert [p["id"] for p in overview["polls"]["open"]] == [poll.poll.id]
    # The rules with their consequence, on the overview.
    words = text_of(ok(city.visitor().get(APP)).text)
    assert "When 2 residents support a proposal, it goes to the city council." in words
    assert "Each proposal has 30 days to get there; otherwise it expires." in words


def test_unknown_things_are_404_pages_and_bad_queries_400(city: City) -> None:
    visitor = city.visitor()
    assert visitor.get(f"{APP}/proposals/nope").status_code == 404
    assert visitor.get(f"{APP}/proposals/bad%00id").status_code == 404
    assert visitor.get(f"{APP}/budgets/nope").status_code == 404
    assert visitor.get(f"{APP}/polls/nope.json").status_code == 404
    assert visitor.get(f"{APP}/proposals?order=loudest").status_code == 400
    # A budget still in drafting is staff's: not found for residents.
    draft_id, _ = city.budget(phase=BudgetPhase.DRAFTING)
    assert visitor.get(f"{APP}/budgets/{draft_id}").status_code == 404


# -- proposals -------------------------------------------------------------------------------------


def test_a_resident_makes_a_proposal_shown_as_a_resident_unless_they_choose(city: City, app: FastAPI) -> None:
    add_city(app, city.tenant)
    alice = city.resident("alice")
    form = ok(alice.get(f"{APP}/proposals/new")).text
    assert DISTRICT_NORTH in form and 'name="show_name" value="1">' in form  # unchecked by default
    created = ok(
        alice.post(
            f"{APP}/proposals/new",
            {
                "title": "A bench by the pond",
                "body": "Old people need a rest.",
                "district": "urn:ngsi-ld:AdministrativeArea:north",
                "lat": "50.74",
                "long": "7.10",
            },
            page=f"{APP}/proposals/new",
        ),
        303,
    )
    location = created.headers["location"]
    assert re.fullmatch(rf"{APP}/proposals/[0-9a-f]{{12}}\?done=created", location)
    page = text_of(ok(city.visitor().get(location.split("?")[0])).text)
    assert "A bench by the pond" in page and "by a resident" in page
    assert city.name("alice") not in page
    assert DISTRICT_NORTH in page and "Collecting supports" in page
    assert "0 supports of 2 needed (0%) · 2 more needed · 30 days left" in page
    # Chosen: the name shows.
    shown = alice.post(
        f"{APP}/proposals/new", {"title": "Named", "body": "By me", "show_name": "1"}, page=f"{APP}/proposals/new"
    )
    assert f"by {city.name('alice')}" in text_of(ok(city.visitor().get(shown.headers["location"].split("?")[0])).text)


def test_a_proposal_with_a_problem_comes_back_with_what_was_typed(city: City) -> None:
    alice = city.resident("alice")
    again = ok(
        alice.post(f"{APP}/proposals/new", {"title": "  ", "body": "Keep this text"}, page=f"{APP}/proposals/new"), 400
    )
    assert "Keep this text</textarea>" in again.text
    assert "&#39;title&#39; must not be empty" in again.text
    assert 'id="proposal-title" name="title"' in again.text and 'aria-invalid="true"' in again.text
    half_place = alice.post(
        f"{APP}/proposals/new", {"title": "T", "body": "B", "lat": "50.7"}, page=f"{APP}/proposals/new"
    )
    assert half_place.status_code == 400 and "both a latitude and a longitude" in half_place.text
    unknown_district = alice.post(
        f"{APP}/proposals/new", {"title": "T", "body": "B", "district": "atlantis"}, page=f"{APP}/proposals/new"
    )
    assert unknown_district.status_code == 400 and "one of the city" in unknown_district.text
    assert alice.get(f"{APP}/proposals.json").json()["total"] == 0
    # Without a login the form sends to the login page.
    assert city.visitor().get(f"{APP}/proposals/new").headers["location"].startswith("/app/login?next=")


def test_support_twice_counts_once_and_the_button_follows(city: City) -> None:
    proposal_id = city.proposal()
    bob = city.resident("bob")
    page = f"{APP}/proposals/{proposal_id}"
    assert ">Support this proposal</button>" in bob.get(page).text
    assert ok(bob.post(f"{page}/support", page=page), 303).headers["location"] == f"{page}?done=supported#support"
    after = bob.get(page).text
    assert "You support this proposal." in after and ">Take back my support</button>" in after
    assert ">Support this proposal</button>" not in after
    twice = ok(bob.post(f"{page}/support", page=page), 409)
    assert "You already support this proposal" in twice.text
    assert "1 support of 2 needed (50%)" in text_of(twice.text)
    assert supports_of(bob, proposal_id) == 1
    ok(bob.post(f"{page}/unsupport", page=page), 303)
    assert supports_of(bob, proposal_id) == 0
    assert ">Support this proposal</button>" in bob.get(page).text


def test_a_proposal_reaching_its_threshold_goes_to_the_council(city: City) -> None:
    proposal_id = city.proposal()
    page = f"{APP}/proposals/{proposal_id}"
    bob, carol = city.resident("bob"), city.resident("carol")
    ok(bob.post(f"{page}/support", page=page), 303)
    assert "Collecting supports" in text_of(city.visitor().get(page).text)
    ok(carol.post(f"{page}/support", page=page), 303)
    for reader in (carol, city.visitor()):
        shown = text_of(reader.get(page).text)
        assert "Reached its threshold: goes to the council" in shown
        assert "2 supports of 2 needed (100%)" in shown and "more needed" not in shown
        assert "It reached its threshold on Nov 25, 2026 and goes to the city council." in shown
    assert 'data-state="qualified"' in carol.get(page).text
    # Supports are closed: no button, and a late support is refused with the reason.
    dave = city.resident("dave")
    assert '/support"' not in dave.get(page).text
    late = ok(dave.post(f"{page}/support", page=page), 409)
    assert "already reached its threshold" in late.text
    assert city.visitor().get(f"{page}.json").json()["proposal"]["state"] == "qualified"


def test_the_official_answer_shows_with_its_status_reason_and_cost(city: City) -> None:
    proposal_id = city.proposal()
    city.service.answer(
        city.tenant,
        proposal_id,
        AnswerStatus.ACCEPTED,
        "The parks office will build it.",
        "12500",
        by=city.name("olga"),
    )
    shown = text_of(city.visitor().get(f"{APP}/proposals/{proposal_id}").text)
    assert "The city's official answer Accepted" in shown
    assert "The parks office will build it." in shown and "Estimated cost: €12,500" in shown
    assert city.name("olga") not in shown  # who answered is for staff only


def test_the_author_withdraws_and_others_cannot(city: City) -> None:
    alice, bob = city.resident("alice"), city.resident("bob")
    proposal_id = city.proposal("alice")
    page = f"{APP}/proposals/{proposal_id}"
    assert ">Withdraw my proposal</button>" in alice.get(page).text
    assert ">Withdraw my proposal</button>" not in bob.get(page).text
    refused = ok(bob.post(f"{page}/withdraw", page=page), 403)
    assert "Only the author may withdraw a proposal" in refused.text
    ok(alice.post(f"{page}/withdraw", page=page), 303)
    assert "Withdrawn by its author" in text_of(city.visitor().get(page).text)


def test_comments_are_added_with_the_name_hidden_and_can_be_flagged(city: City) -> None:
    proposal_id = city.proposal()
    page = f"{APP}/proposals/{proposal_id}"
    bob, carol = city.resident("bob"), city.resident("carol")
    assert (
        ok(bob.post(f"{page}/comments", {"body": "Yes, please!"}, page=page), 303)
        .headers["location"]
        .endswith("?done=commented#comments")
    )
    empty = ok(bob.post(f"{page}/comments", {"body": "   ", "show_name": "1"}, page=page), 400)
    assert "&#39;body&#39; must not be empty" in empty.text
    shown = city.visitor().get(page).text
    assert "Yes, please!" in shown and "1 comment" in text_of(shown) and city.name("bob") not in shown
    comment_id = city.visitor().get(f"{page}.json").json()["comments"][0]["id"]
    flagged = ok(carol.post(f"{page}/comments/{comment_id}/flag", {"reason": "spam"}, page=page), 303)
    assert flagged.headers["location"] == f"{page}?done=comment-flagged#comments"
    assert ok(carol.post(f"{page}/flag", {"reason": "nonsense"}, page=page), 400)
    assert "Unknown flag reason" in carol.post(f"{page}/flag", {"reason": "nonsense"}, page=page).text


def test_visitors_see_progress_but_get_login_links_instead_of_buttons(city: City) -> None:
    proposal_id = city.proposal()
    budget_id, _ = city.budget()
    poll = city.service.create_poll(
        city.tenant,
        "Market day?",
        ["Sat", "Sun"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=3),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    )
    visitor = city.visitor()
    proposal_page = visitor.get(f"{APP}/proposals/{proposal_id}").text
    assert "0 supports of 2 needed" in text_of(proposal_page)
    assert f'href="/app/login?next=/app/participate/proposals/{proposal_id}"' in proposal_page
    assert "<form" not in proposal_page.split('<main id="main"')[1]
    budget_page = visitor.get(f"{APP}/budgets/{budget_id}").text
    assert "0 ballots cast in this district" in text_of(budget_page) and "Log in to vote in North" in budget_page
    assert "/ballot/review" not in budget_page
    poll_page = visitor.get(f"{APP}/polls/{poll.poll.id}").text
    assert "Log in to vote" in poll_page and 'name="choice"' not in poll_page and "0 votes (0%)" in text_of(poll_page)
    # Posting anyway leads to the login and changes nothing.
    refused = visitor.client.post(f"{APP}/proposals/{proposal_id}/support")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/app/login?next=")
    assert supports_of(visitor, proposal_id) == 0
    assert visitor.client.get(f"{APP}/budgets/{budget_id}/ballot").headers["location"].startswith("/app/login")


def test_a_form_without_the_csrf_token_is_refused(city: City) -> None:
    proposal_id = city.proposal()
    bob = city.resident("bob")
    forged = bob.client.post(f"{APP}/proposals/{proposal_id}/support", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403 and "The form has expired" in forged.text
    assert supports_of(bob, proposal_id) == 0


def test_a_staff_account_sees_but_cannot_take_part(city: City) -> None:
    proposal_id = city.proposal()
    mayor = city.resident("mayor", "viewer")
    page = f"{APP}/proposals/{proposal_id}"
    assert "Your account cannot take part here" in mayor.get(page).text
    assert ok(mayor.post(f"{page}/support", page=page), 403)
    assert supports_of(mayor, proposal_id) == 0


def test_submissions_are_rate_limited_per_resident(db_url: str, tenant: str, clock: FixedClock) -> None:
    app = build_app(db_url, tenant, clock, citizen_rate_limit_account="2/minute")
    city = City(app, tenant)
    bob = city.resident("bob")
    first, second = city.proposal(), city.proposal()
    third = city.proposal()
    for proposal_id in (first, second):
        ok(bob.post(f"{APP}/proposals/{proposal_id}/support", page=f"{APP}/proposals/{proposal_id}"), 303)
    busy = ok(bob.post(f"{APP}/proposals/{third}/support", page=f"{APP}/proposals/{third}"), 429)
    assert int(busy.headers["retry-after"]) >= 1
    assert "You have sent a lot in a short time" in busy.text
    assert supports_of(bob, third) == 0


# -- budgets -------------------------------------------------------------------------------------


def choose(person: Person, budget_id: str, *projects: str, heading: str = "north", step: str = "review") -> Any:
    ballot = f"{APP}/budgets/{budget_id}/ballot?heading={heading}"
    return person.post(
        f"{APP}/budgets/{budget_id}/ballot/{step}", {"heading": heading, "project": list(projects)}, page=ballot
    )


def ballots_of(person: Person, budget_id: str) -> int:
    return int(person.get(f"{APP}/budgets/{budget_id}.json").json()["budget"]["ballots"])


def test_the_budget_page_shows_phases_money_and_rules_in_words(city: City) -> None:
    budget_id, _ = city.budget(phase=BudgetPhase.INFORMING)
    page = city.visitor().get(f"{APP}/budgets/{budget_id}").text
    current = re.search(
        r'<li class="phase current" aria-current="step">\s*<span class="phase-name">([^<]+)</span>', page
    )
    assert current and current.group(1) == "Projects published"
    words = text_of(page)
    assert "Budget: €1,000,000" in words
    assert "Choose projects worth at least 70% of €1,000,000, and no more than €1,000,000 in total." in words
    assert "Choose at least 1 project, worth no more than €400,000 in total." in words
    assert "Project a €600,000" in words
    assert "ballots cast" not in words  # turnout is shown from voting on
    assert "Vote in North" not in words


def test_a_ballot_that_breaks_the_rule_comes_back_with_the_rule_and_the_choices(city: City) -> None:
    budget_id, p = city.budget()
    bob = city.resident("bob")
    over = ok(choose(bob, budget_id, p["a"], p["b"]), 400)
    words = text_of(over.text)
    assert "Your ballot was not accepted" in words
    assert "The projects cost 1,100,000 but this district's budget is 1,000,000" in words
    assert "The rule in North: Choose projects worth at least 70% of €1,000,000" in words
    checked = set(re.findall(r'value="([0-9a-f]{12})" data-cost="[0-9.]+" checked', over.text))
    assert checked == {p["a"], p["b"]}
    assert "Chosen: €1,100,000 of €1,000,000 · 2 projects chosen" in words
    assert "This is more than the district" in words and "data-over hidden" not in over.text
    under = ok(choose(bob, budget_id, p["d"]), 400)
    assert "at least 70% of this district's budget (700,000) must be spent" in text_of(under.text)
    # Casting directly is checked by the service too; nothing was counted.
    direct = ok(choose(bob, budget_id, p["a"], p["b"], step="confirm"), 400)
    assert "The projects cost 1,100,000" in direct.text
    assert "Project of another district" not in direct.text
    other_district = ok(choose(bob, budget_id, p["a"], p["s"]), 400)
    assert "no project" in other_district.text
    assert ballots_of(bob, budget_id) == 0


def test_a_valid_ballot_is_confirmed_then_its_receipt_verifies_and_a_second_is_refused(city: City) -> None:
    budget_id, p = city.budget()
    bob = city.resident("bob")
    check = ok(choose(bob, budget_id, p["a"], p["c"]))
    words = text_of(check.text)
    assert "Check your choices, then confirm" in words and "Your ballot is not cast yet." in words
    assert "Total: €900,000 of €1,000,000" in words
    assert 'aria-current="step"' in check.text and "Check and confirm (current step)" in words
    assert ballots_of(bob, budget_id) == 0  # checking is not casting
    change = re.search(r'href="([^"]+)">Change my choices', check.text)
    assert change is not None
    back = bob.get(change.group(1).replace("&amp;", "&")).text
    assert set(re.findall(r'value="([0-9a-f]{12})" data-cost="[0-9.]+" checked', back)) == {p["a"], p["c"]}

    cast = ok(choose(bob, budget_id, p["a"], p["c"], step="confirm"), 303)
    assert cast.headers["location"] == f"{APP}/budgets/{budget_id}?done=voted#my-ballot"
    page = bob.get(cast.headers["location"].split("#")[0]).text
    assert "Your ballot is cast" in page
    ballot_id = re.search(r"<code data-ballot-id>([0-9a-f]{12})</code>", page)
    fingerprint = re.search(r'<code class="fingerprint" data-fingerprint>([0-9a-f]{64})</code>', page)
    assert ballot_id and fingerprint
    canonical = json.dumps(
        {"ballot": ballot_id.group(1), "budget": budget_id, "heading": "north", "projects": sorted([p["a"], p["c"]])},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert fingerprint.group(1) == hashlib.sha256(canonical.encode()).hexdigest()
    assert "Total: €900,000" in text_of(page) and "1 ballot cast in this district" in text_of(page)

    # Anyone verifies the receipt; a made-up one was not counted; a malformed one is explained.
    visitor = city.visitor()
    counted = ok(visitor.get(f"{APP}/budgets/{budget_id}/receipt?fingerprint={fingerprint.group(1)}"))
    assert 'data-counted="yes"' in counted.text and city.name("bob") not in counted.text
    assert visitor.get(f"{APP}/budgets/{budget_id}/receipt.json?fingerprint={fingerprint.group(1)}").json()["counted"]
    unknown = ok(visitor.get(f"{APP}/budgets/{budget_id}/receipt?fingerprint={'ab' * 32}"))
    assert 'data-counted="no"' in unknown.text
    malformed = ok(visitor.get(f"{APP}/budgets/{budget_id}/receipt?fingerprint=xyz"), 400)
    assert "64 lower-case hexadecimal digits" in malformed.text

    # One person, one ballot.
    second = ok(choose(bob, budget_id, p["b"], p["c"], step="confirm"), 409)
    assert "You already cast a ballot in this budget" in second.text
    assert "You have already cast your ballot" in bob.get(f"{APP}/budgets/{budget_id}/ballot?heading=north").text
    assert ballots_of(bob, budget_id) == 1
    mine = bob.get(f"{APP}/budgets/{budget_id}.json").json()["myBallot"]
    assert sorted(project["id"] for project in mine["projects"]) == sorted([p["a"], p["c"]])


def test_the_finished_budget_ranks_projects_and_marks_the_funded_ones(city: City) -> None:
    budget_id, p = city.budget()
    voters = [city.resident(who) for who in ("bob", "carol", "dave")]
    # a+c by two, b+d+c by one: c 3 votes, a 2, b 1, d 1 → c (300k) + a (600k) funded, then d (100k) fits, b not.
    for person, chosen in zip(voters, ([p["a"], p["c"]], [p["a"], p["c"]], [p["b"], p["c"], p["d"]]), strict=True):
        ok(choose(person, budget_id, *chosen, step="confirm"), 303)
    city.service.change_phase(city.tenant, budget_id, BudgetPhase.FINISHED, by=city.name("olga"))
    page = city.visitor().get(f"{APP}/budgets/{budget_id}").text
    rows = re.findall(
        r'<tr class="(selected|not-selected)">\s*<td>(\d+)</td>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>', page
    )
    assert [(rank, title, votes, kind) for kind, rank, title, votes in rows[:4]] == [
        ("1", "Project c", "3", "selected"),
        ("2", "Project a", "2", "selected"),
        ("3", "Project d", "1", "selected"),
        ("4", "Project b", "1", "not-selected"),
    ]
    assert "Money used: €1,000,000 of €1,000,000 (€0 left)." in text_of(page)
    assert "✓ Funded" in page and "Not funded" in page


# -- polls ---------------------------------------------------------------------------------------


def test_a_poll_takes_one_vote_each_and_shows_its_results(city: City) -> None:
    poll = city.service.create_poll(
        city.tenant,
        "Which day for the market?",
        ["Saturday", "Sunday", "Monday"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=7),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    ).poll
    page = f"{APP}/polls/{poll.id}"
    bob, carol = city.resident("bob"), city.resident("carol")
    assert 'type="radio"' in bob.get(page).text
    assert (
        ok(bob.post(f"{page}/vote", {"choice": "1"}, page=page), 303).headers["location"]
        == f"{page}?done=voted#results"
    )
    ok(carol.post(f"{page}/vote", {"choice": "1"}, page=page), 303)
    shown = text_of(bob.get(page).text)
    assert "You voted: Sunday" in shown and "2 people voted" in shown
    assert "Sunday 2 votes (100%)" in shown and "Saturday 0 votes (0%)" in shown
    again = ok(bob.post(f"{page}/vote", {"choice": "0"}, page=page), 409)
    assert "You already voted in this poll" in again.text
    nothing = ok(city.resident("dave").post(f"{page}/vote", {}, page=page), 400)
    assert "Choose at least one option" in nothing.text


def test_a_poll_with_several_choices_keeps_them_when_refused(city: City) -> None:
    poll = city.service.create_poll(
        city.tenant,
        "What should the square have?",
        ["Trees", "Benches", "A fountain"],
        max_choices=2,
        opens_at=None,
        closes_at=NOW + timedelta(days=7),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    ).poll
    page = f"{APP}/polls/{poll.id}"
    bob = city.resident("bob")
    assert "Choose up to 2 options" in bob.get(page).text
    refused = ok(bob.post(f"{page}/vote", {"choice": ["0", "1", "2"]}, page=page), 400)
    assert "Choose at most 2 options; 3 chosen" in refused.text
    assert len(re.findall(r'name="choice" value="\d" checked', refused.text)) == 3
    ok(bob.post(f"{page}/vote", {"choice": ["0", "2"]}, page=page), 303)
    shown = text_of(bob.get(page).text)
    assert "You voted: Trees, A fountain" in shown and "shares add up to more than 100%" in shown


def test_results_after_close_stay_hidden_until_the_poll_closes(city: City, clock: FixedClock) -> None:
    poll = city.service.create_poll(
        city.tenant,
        "Rename the bridge?",
        ["Yes", "No"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=2),
        visibility=ResultsVisibility.AFTER_CLOSE,
        by=city.name("olga"),
    ).poll
    page = f"{APP}/polls/{poll.id}"
    bob = city.resident("bob")
    ok(bob.post(f"{page}/vote", {"choice": "0"}, page=page), 303)
    hidden = text_of(city.visitor().get(page).text)
    assert "The results are published when the poll closes" in hidden and "1 person voted" in hidden
    assert "1 vote (100%)" not in hidden
    assert city.visitor().get(f"{page}.json").json()["results"] is None
    clock.advance(days=3)
    shown = text_of(city.visitor().get(page).text)
    assert "Yes 1 vote (100%)" in shown and "Closed on" in shown


# -- privacy -------------------------------------------------------------------------------------


def test_no_supporter_or_voter_is_named_on_any_public_page(city: City) -> None:
    proposal_id = city.proposal("alice")
    budget_id, p = city.budget()
    poll = city.service.create_poll(
        city.tenant,
        "Market day?",
        ["Sat", "Sun"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=3),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    ).poll
    bob, carol, dave = city.resident("bob"), city.resident("carol"), city.resident("dave")
    page = f"{APP}/proposals/{proposal_id}"
    ok(bob.post(f"{page}/support", page=page), 303)
    ok(bob.post(f"{page}/comments", {"body": "Agreed."}, page=page), 303)
    ok(choose(carol, budget_id, p["a"], p["c"], step="confirm"), 303)
    ok(dave.post(f"{APP}/polls/{poll.id}/vote", {"choice": "0"}, page=f"{APP}/polls/{poll.id}"), 303)
    paths = [
        APP,
        f"{APP}/proposals",
        page,
        f"{APP}/budgets/{budget_id}",
        f"{APP}/polls/{poll.id}",
    ]
    people = [city.name(who) for who in ("alice", "bob", "carol", "dave", "olga")]
    readers = [city.visitor(), city.resident("erin")]
    for reader in readers:
        for path in paths:
            for shown in (reader.get(path).text, reader.get(f"{path}.json").text):
                assert not [name for name in people if name in shown], path


# -- robustness ----------------------------------------------------------------------------------


def test_bad_input_is_a_4xx_never_a_server_error(city: City) -> None:
    proposal_id = city.proposal()
    budget_id, p = city.budget()
    poll = city.service.create_poll(
        city.tenant,
        "Market day?",
        ["Sat", "Sun"],
        max_choices=1,
        opens_at=None,
        closes_at=NOW + timedelta(days=3),
        visibility=ResultsVisibility.LIVE,
        by=city.name("olga"),
    ).poll
    bob = city.resident("bob")
    nasty = ["\x00", "%00", "a" * 300, "ü😀", "../../etc", "' OR 1=1 --", ""]
    proposal_page, ballot_page = f"{APP}/proposals/{proposal_id}", f"{APP}/budgets/{budget_id}/ballot?heading=north"
    for value in nasty:
        q = quote(value, safe="") or "x"  # as a browser sends it
        reads = [
            f"{APP}/proposals?district={q}",
            f"{APP}/proposals?state={q}&page={q}",
            f"{APP}/proposals/{q}",
            f"{APP}/budgets/{budget_id}/ballot?heading={q}&project={q}",
            f"{APP}/budgets/{budget_id}/receipt?fingerprint={q}",
            f"{APP}/budgets/{budget_id}/receipt.json?fingerprint={q}",
            f"{APP}/polls/{q}.json",
        ]
        for path in reads:
            assert bob.get(path).status_code < 500, path
        posts = [
            (
                f"{APP}/proposals/new",
                {"title": value, "body": value, "district": value, "lat": value, "long": value},
                f"{APP}/proposals/new",
            ),
            (f"{proposal_page}/comments", {"body": value, "show_name": value}, proposal_page),
            (f"{proposal_page}/flag", {"reason": value}, proposal_page),
            (f"{proposal_page}/comments/{q}/flag", {"reason": "spam"}, proposal_page),
            (f"{APP}/budgets/{budget_id}/ballot/review", {"heading": value, "project": [value, p["a"]]}, ballot_page),
            (f"{APP}/budgets/{budget_id}/ballot/confirm", {"heading": "north", "project": [value]}, ballot_page),
            (f"{APP}/polls/{poll.id}/vote", {"choice": [value]}, f"{APP}/polls/{poll.id}"),
        ]
        for path, data, page in posts:
            answer = bob.post(path, data, page=page)
            assert answer.status_code < 500, (path, value, answer.text[:500])
            # Only a comment may go through: its text is free (below 1000 characters, no control ones).
            assert answer.status_code != 303 or path.endswith("/comments"), (path, value)
    # A form that is not UTF-8, or too big, is refused too.
    token = bob.csrf(proposal_page)
    broken = bob.client.post(
        f"{proposal_page}/comments",
        content=b"csrf_token=" + token.encode() + b"&body=%FF%FE",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code == 400
    huge = bob.client.post(f"{proposal_page}/comments", data={"csrf_token": token, "body": "x" * 100_000})
    assert huge.status_code == 413
    assert ballots_of(bob, budget_id) == 0 and supports_of(bob, proposal_id) == 0
    # The comments that are plain text: "%00", the 300 a's, "ü😀", "../../etc" and the quote (not NUL, not empty).
    assert city.visitor().get(f"{proposal_page}.json").json()["commentsTotal"] == 5
    assert city.visitor().get(f"{APP}/proposals.json").json()["total"] == 1
