"""The participation pages in a real browser: Debian's Chromium driven by Playwright, on a phone.

A real server (uvicorn, in a thread of the test process, on SQLite) serves the citizen app with the
participation pages; staff's setup and a second resident's support go through the participation
service directly.  Resident A logs in through the app's login form, gives the support that takes a
proposal to its threshold and sees it go to the council; then votes in a budget: a ballot over the
district's money is refused with the rule named and no receipt, the fixed ballot is checked, confirmed
and its receipt verified.  axe-core finds no WCAG 2.1 A/AA violation on the proposal and budget pages.
Screenshots are kept under ``test-artifacts/browser``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from test_dashboard_browser import ARTIFACTS, AXE, CHROMIUM, HEADLESS_FLAGS, WCAG_AA
from test_server_e2e import free_port

from conftest import make_settings, need_service
from urbis.app import create_app
from urbis.citizens.participation.budgets import BudgetPhase, check_budget
from urbis.citizens.participation.proposals import check_draft
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC
from urbis.core.db import migrate
from urbis.web.citizen import install_citizen_app
from urbis.web.citizen.participate import install_participation_pages

PASSWORD = "correct horse battery staple 42"
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    """A running server with the participation pages, its tenant, and what the tests act on."""

    url: str
    tenant: str
    service: ParticipationService
    accounts: Any

    def name(self, who: str) -> str:
        return f"{who}-{self.tenant}"

    def resident(self, who: str) -> str:
        self.accounts.create_user(self.name(who), PASSWORD, tenant=self.tenant, roles=["citizen"])
        return self.name(who)

    def proposal(self, title: str) -> str:
        draft = check_draft(title, "Along the river, where people walk every day.")
        return self.service.create_proposal(
            self.tenant, self.resident(f"author{uuid.uuid4().hex[:4]}"), draft
        ).proposal.id

    def budget(self) -> tuple[str, dict[str, str]]:
        """North: €1,000,000, at least 70 % to spend; projects a 600k, b 500k, c 300k, d 100k; voting."""
        staff = self.name("olga")
        draft = check_budget(
            "Budget 2027",
            "What should the district build next year?",
            "EUR",
            [
                {
                    "id": "north",
                    "name": "North",
                    "amount": "1000000",
                    "rule": {"kind": "minimum-percent", "minimumPercent": 70},
                }
            ],
        )
        budget_id = self.service.create_budget(self.tenant, draft, by=staff).budget.id
        projects = {}
        for key, title, cost in (
            ("a", "A playground", 600_000),
            ("b", "A cycle lane", 500_000),
            ("c", "Trees on the square", 300_000),
            ("d", "Benches", 100_000),
        ):
            projects[key] = self.service.add_project(
                self.tenant, budget_id, heading_id="north", title=title, description="", cost=cost, by=staff
            ).id
        self.service.change_phase(self.tenant, budget_id, BudgetPhase.VOTING, by=staff)
        return budget_id, projects


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    url = f"sqlite:///{tmp_path_factory.mktemp('participate') / 'urbis.db'}"
    migrate(url)
    tenant = f"b{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        url,
        tenant,
        participation_proposal_threshold=2,
        citizen_rate_limit_ip="1000/minute",
        citizen_rate_limit_account="1000/minute",
        citizen_rate_limit_reads="10000/minute",
    )
    app = create_app(settings)
    install_citizen_app(app)
    install_participation_pages(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="participate-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    assert httpx.get(f"{base}/app/participate", timeout=10).status_code == 200
    try:
        yield Site(base, tenant, app.state.participation, app.state.accounts)
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=HEADLESS_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone's browser tab; it fails the test on a console error or a request to another host."""
    inject = request.node.get_closest_marker("inject_scripts") is not None
    context = browser.new_context(
        base_url=site.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB", bypass_csp=inject
    )
    opened = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        # A refused form comes back as a page with status 400 or 409, which Chromium also logs as a
        # failed load: failed loads are judged by the response hook below (files, not pages).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Any) -> None:
        if answer.status >= 400 and answer.request.resource_type != "document":
            problems.append(f"{answer.status} for {answer.url}")

    opened.on("console", console)
    opened.on("response", response)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    foreign: list[str] = []
    opened.on("request", lambda sent: foreign.append(sent.url) if not sent.url.startswith(site.url) else None)
    yield opened
    context.close()
    assert not foreign, f"requests left the server: {foreign[:5]}"
    assert not problems, f"errors in the browser console: {problems[:5]}"


def log_in(page: Any, username: str, next_path: str) -> None:
    page.goto(f"/app/login?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def fits_the_phone(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow} px wider than the phone"


def test_a_resident_takes_a_proposal_to_the_council_and_votes_in_a_budget(phone: Any, site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proposal_id = site.proposal("Benches along the river")
    budget_id, projects = site.budget()
    alice, bob = site.resident("alice"), site.resident("bob")
    # Resident B supported it already (through the service): one support of the two needed.
    site.service.support(site.tenant, proposal_id, bob)

    log_in(phone, alice, f"/app/participate/proposals/{proposal_id}")
    assert phone.locator("#proposal-state").inner_text() == "Collecting supports"
    assert "1 support of 2 needed" in phone.locator("#progress-text-proposal").inner_text()
    phone.get_by_role("button", name="Support this proposal").click()
    phone.wait_for_url(re.compile(r".*\?done=supported"))
    assert phone.locator("#proposal-state").inner_text() == "Reached its threshold: goes to the council"
    assert "2 supports of 2 needed (100%)" in phone.locator("#progress-text-proposal").inner_text()
    assert phone.get_by_role("button", name="Support this proposal").count() == 0
    fits_the_phone(phone)
    phone.screenshot(path=str(ARTIFACTS / "participate-proposal-qualified-phone.png"), full_page=True)

    # The budget: a ballot over the district's money is refused, naming the rule; no receipt.
    phone.goto(f"/app/participate/budgets/{budget_id}")
    phone.get_by_role("link", name="Vote in North").click()
    phone.wait_for_url(re.compile(r".*/ballot\?heading=north$"))
    phone.get_by_label("A playground").check()
    phone.get_by_label("A cycle lane").check()
    # The running total (a help only: the server decides).
    assert phone.locator("[data-total]").inner_text() == "€1,100,000"
    assert phone.locator("[data-over]").is_visible()
    phone.get_by_role("button", name="Check my choices").click()
    problem = phone.locator("#ballot-problem")
    problem.wait_for()
    words = problem.inner_text()
    assert "The projects cost 1,100,000 but this district's budget is 1,000,000" in words
    assert "Choose projects worth at least 70% of €1,000,000" in words
    assert phone.locator("[data-fingerprint]").count() == 0
    assert phone.get_by_label("A playground").is_checked() and phone.get_by_label("A cycle lane").is_checked()
    fits_the_phone(phone)
    phone.screenshot(path=str(ARTIFACTS / "participate-ballot-refused-phone.png"), full_page=True)
    assert site.service.get_budget(site.tenant, budget_id, PUBLIC).to_json()["ballots"] == 0

    # Fixed: the cycle lane out, the trees in (€900,000); checked, then confirmed.
    phone.get_by_label("A cycle lane").uncheck()
    phone.get_by_label("Trees on the square").check()
    assert phone.locator("[data-total]").inner_text() == "€900,000"
    assert not phone.locator("[data-over]").is_visible()
    phone.get_by_role("button", name="Check my choices").click()
    phone.get_by_text("Your ballot is not cast yet.").wait_for()
    assert "Total: €900,000 of €1,000,000" in phone.locator("main").inner_text()
    phone.screenshot(path=str(ARTIFACTS / "participate-ballot-confirm-phone.png"), full_page=True)
    phone.get_by_role("button", name="Confirm my ballot").click()
    phone.wait_for_url(re.compile(r".*\?done=voted"))
    fingerprint = phone.locator("[data-fingerprint]").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert phone.locator("[data-ballot-id]").inner_text()
    assert phone.get_by_role("heading", name="Your ballot is cast").is_visible()
    fits_the_phone(phone)
    phone.screenshot(path=str(ARTIFACTS / "participate-receipt-phone.png"), full_page=True)
    mine = site.service.my_ballot(site.tenant, budget_id, alice).to_json()
    assert mine["fingerprint"] == fingerprint
    assert sorted(p["id"] for p in mine["projects"]) == sorted([projects["a"], projects["c"]])

    # Anyone verifies the receipt.
    phone.get_by_label("Fingerprint").fill(fingerprint)
    phone.get_by_role("button", name="Check the receipt").click()
    phone.wait_for_url(re.compile(r".*/receipt\?fingerprint="))
    assert phone.locator('[data-counted="yes"]').is_visible()


@pytest.mark.inject_scripts
@pytest.mark.parametrize("which", ["proposal", "budget", "ballot", "overview"])
def test_the_participation_pages_meet_wcag_2_1_aa_by_axe(phone: Any, site: Site, which: str) -> None:
    """axe-core (installed by make install) finds no WCAG 2.1 A/AA violation, for a logged-in resident."""
    need_service(None if AXE.exists() else f"axe-core is not installed at {AXE} (run make install)")
    proposal_id = site.proposal(f"A fountain ({which})")
    budget_id, _ = site.budget()
    paths = {
        "proposal": f"/app/participate/proposals/{proposal_id}",
        "budget": f"/app/participate/budgets/{budget_id}",
        "ballot": f"/app/participate/budgets/{budget_id}/ballot?heading=north",
        "overview": "/app/participate",
    }
    log_in(phone, site.resident(f"reader{which}"), paths[which])
    phone.wait_for_load_state("networkidle")
    phone.add_script_tag(path=str(AXE))
    result = phone.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]
    assert not violations, "\n".join(violations)
    assert {rule["id"] for rule in result["passes"]} >= {"color-contrast", "html-has-lang", "document-title"}
