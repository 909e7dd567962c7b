"""The citizen app in a real browser: Debian's Chromium driven by Playwright, on a phone's screen.

A small server of its own (SQLite, a city of two districts, a street and a lamp) runs the app with the
citizen pages installed.  A resident logs in, reports a dark street light with a photo carrying a GPS
position, and sees the confirmation with its tracking link; the photo the city serves has no EXIF left.
The app, once visited, reads offline from its service worker.  axe-core finds no WCAG 2.1 A/AA violation
on any page.  Screenshots are kept under ``test-artifacts/browser``.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from report_builders import jpeg_with_gps
from test_dashboard_browser import ARTIFACTS, AXE, CHROMIUM, HEADLESS_FLAGS, WCAG_AA, wait_for
from test_server_e2e import free_port, server_env

from conftest import need_service

PHONE = {"width": 390, "height": 844}
PASSWORD = "resident-password-1"
LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
CLI = [sys.executable, "-c", "from urbis.cli import main; main()"]
#: The app as ``urbis serve`` builds it, with the citizen pages installed (a no-op once create_app does it).
SERVER = """
import uvicorn
from urbis.app import create_app
from urbis.core.db import migrate
from urbis.core.settings import Settings
from urbis.web.citizen import install_citizen_app

settings = Settings()
migrate(settings.effective_database_url)
app = create_app(settings)
install_citizen_app(app)
uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning")
"""


def _square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


CITY = [
    {
        "id": "urn:ngsi-ld:AdministrativeArea:north",
        "type": "AdministrativeArea",
        "name": {"type": "Property", "value": "Nordstadt"},
        "location": {"type": "GeoProperty", "value": _square(7.09, 50.73, 7.12, 50.75)},
    },
    {
        "id": "urn:ngsi-ld:AdministrativeArea:south",
        "type": "AdministrativeArea",
        "name": {"type": "Property", "value": "Südstadt"},
        "location": {"type": "GeoProperty", "value": _square(7.09, 50.71, 7.12, 50.73)},
    },
    {
        "id": "urn:ngsi-ld:Road:haupt",
        "type": "Road",
        "name": {"type": "Property", "value": "Hauptstraße"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "LineString", "coordinates": [[7.0950, 50.7356], [7.1100, 50.7356]]},
        },
    },
    {
        "id": "urn:ngsi-ld:Streetlight:lamp-12",
        "type": "Streetlight",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1010, 50.7356]}},
    },
]


@dataclass
class CitizenServer:
    """A running server with the citizen app, its city and a resident's account."""

    url: str
    tenant: str
    username: str
    operator: str
    report_id: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitizenServer]:
    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    workdir = tmp_path_factory.mktemp("citizen-app")
    tenant = f"app{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = server_env(
        URBIS_PORT=str(port),
        URBIS_DATA_DIR=str(workdir / "data"),
        URBIS_DEFAULT_TENANT=tenant,
        URBIS_NGSILD_OPEN="1",
        URBIS_SOLUTIONS_ENABLED="false",
    )
    log = workdir / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool | None:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text(errors='replace')[-3000:]}")
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200 or None

        wait_for("the citizen app's server", ready, 60)
        username = f"rita-{tenant}"
        created = subprocess.run(
            [*CLI, "user", "create", username, "--tenant", tenant, "--role", "citizen", "--password", PASSWORD],
            env=env,
            cwd=workdir,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stderr.decode(errors="replace")
        operator = f"olga-{tenant}"
        staff = subprocess.run(
            [*CLI, "user", "create", operator, "--tenant", tenant, "--role", "operator", "--password", PASSWORD],
            env=env,
            cwd=workdir,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert staff.returncode == 0, staff.stderr.decode(errors="replace")
        seeded = httpx.post(
            f"{url}/ngsi-ld/v1/entityOperations/upsert",
            json=CITY,
            headers={"Link": LINK, "NGSILD-Tenant": tenant},
            timeout=10,
        )
        assert seeded.status_code in (201, 204), seeded.text
        yield CitizenServer(url, tenant, username, operator, first_report(url, username), process, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def first_report(url: str, username: str) -> str:
    """A public report of the resident's, sent through the app's own form (so every page has something to show)."""
    with httpx.Client(base_url=url, timeout=10, follow_redirects=False) as client:
        assert client.post("/app/login", data={"username": username, "password": PASSWORD}).status_code == 303
        form = client.get("/app/report").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        sent = client.post(
            "/app/report",
            data={
                "csrf_token": token,
                "service": "litter",
                "description": "Bags left by the bench.",
                "lat": "50.7356",
                "long": "7.1011",
            },
        )
        assert sent.status_code == 303, sent.text[:2000]
        return sent.headers["location"].split("/app/reports/", 1)[1].split("?", 1)[0]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=HEADLESS_FLAGS, headless=True)
        yield launched
        launched.close()


@contextlib.contextmanager
def phone(
    chromium: Any, server: CitizenServer, *, bypass_csp: bool = False, expected: tuple[str, ...] = ()
) -> Iterator[tuple[Any, Any]]:
    """A phone-sized browser context and page; fails on console errors (but ``expected`` ones) or requests elsewhere."""
    context = chromium.new_context(
        base_url=server.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB", bypass_csp=bypass_csp
    )
    page = context.new_page()
    problems: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: foreign.append(request.url) if not request.url.startswith(server.url) else None)
    try:
        yield context, page
    finally:
        context.close()
    assert not foreign, f"requests left the server: {foreign[:5]}"
    # Offline, the browser reports the failed network fetches the service worker then answers from its cache.
    known = ("net::ERR_INTERNET_DISCONNECTED", "Failed to fetch", *expected)
    real = [p for p in problems if not any(text in p for text in known)]
    assert not real, f"errors in the browser console: {real[:5]}"


def log_in(page: Any, server: CitizenServer, next_path: str) -> None:
    page.goto(f"/app/login?next={next_path}")
    page.get_by_label("Username").fill(server.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_resident_reports_a_dark_street_light_from_a_phone(
    chromium: Any, server: CitizenServer, tmp_path: Path
) -> None:
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(jpeg_with_gps(640, 480))
    with phone(chromium, server) as (_, page):
        log_in(page, server, "/app/report")
        page.wait_for_selector("#report-map[data-loaded='true']")
        # A tap on the map sets the report's point (the fields hold it for the form).
        box = page.locator("#report-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        lat = float(page.locator("#field-lat").input_value())
        long = float(page.locator("#field-long").input_value())
        assert 50.71 < lat < 50.75 and 7.09 < long < 7.12, (lat, long)  # the city fills the map
        assert page.locator("#point-status").inner_text().startswith("Point chosen:")
        page.get_by_label("Street light not working").check()
        # Street lights concern lamps: the map now draws them, and a tap on the lamp names it in the report.
        lamp = "urn:ngsi-ld:Streetlight:lamp-12"
        page.wait_for_function("(id) => window.urbisReportMap.asset(id) !== null", arg=lamp)
        page.locator("#report-map").scroll_into_view_if_needed()  # choosing the category scrolled it away
        page.evaluate("window.urbisReportMap.map.setView([50.7356, 7.1010], 17, {animate: false})")
        spot = page.evaluate(
            "(id) => { const p = window.urbisReportMap.map.latLngToContainerPoint("
            "window.urbisReportMap.asset(id).getLatLng()); return {x: p.x, y: p.y}; }",
            lamp,
        )
        box = page.locator("#report-map").bounding_box()
        page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
        assert page.locator("input[name=object_id]").input_value() == lamp
        assert page.locator("#field-lat").input_value() == "50.735600"
        assert page.locator("#point-status").inner_text().startswith("Chosen: lamp-12")
        page.get_by_label("What is wrong with the light?").select_option("dark")
        page.get_by_label("The number on the pole, if you can read it.").fill("L-12")
        page.get_by_label("Description").fill("The lamp by the bakery is dark every night.")
        page.set_input_files("#field-photos", str(photo))
        screenshot(page, "citizen-report-form.png")
        page.get_by_role("button", name="Send the report").click()
        page.wait_for_url("**/app/reports/*?new=1")
        confirmation = page.locator(".confirmation")
        assert "Thank you for your report" in confirmation.inner_text()
        assert "Your report has been sent to Street lighting." in confirmation.inner_text()
        tracking = page.locator("[data-tracking-link]").get_attribute("href")
        report_id = page.url.split("/app/reports/")[1].split("?")[0]
        assert tracking.endswith(f"/app/reports/{report_id}")
        assert "It is dark at night" in page.locator("article.report").inner_text()
        twin = httpx.get(f"{server.url}/app/reports/{report_id}.json", timeout=10).json()
        assert (twin["objectType"], twin["objectId"]) == ("Streetlight", "urn:ngsi-ld:Streetlight:lamp-12")
        screenshot(page, "citizen-report-confirmation.png")
        photo_path = page.locator("ul.photos img").first.get_attribute("src")
        served = httpx.get(server.url + photo_path, timeout=10)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(served.content)) as stored:
            assert not stored.getexif(), "the stored photo still carries EXIF"
        assert b"SecretCam" not in served.content and b"GPS" not in served.content


def test_staff_triage_and_close_a_report_and_the_resident_sees_the_update(
    chromium: Any, server: CitizenServer, tmp_path: Path
) -> None:
    photo = tmp_path / "flicker.jpg"
    photo.write_bytes(jpeg_with_gps(320, 240))
    with phone(chromium, server) as (_, resident):
        # The resident reports a flickering lamp with a photo.
        log_in(resident, server, "/app/report")
        resident.goto("/app/report?service=streetlight&lat=50.7357&long=7.1012")
        resident.get_by_label("What is wrong with the light?").select_option("flickering")
        resident.get_by_label("Description").fill("It flickers all night long.")
        resident.set_input_files("#field-photos", str(photo))
        resident.get_by_role("button", name="Send the report").click()
        resident.wait_for_url("**/app/reports/*?new=1")
        report_id = resident.url.split("/app/reports/")[1].split("?")[0]
        served = httpx.get(server.url + resident.locator("ul.photos img").first.get_attribute("src"), timeout=10)
        with Image.open(io.BytesIO(served.content)) as stored:
            assert not stored.getexif(), "the stored photo still carries EXIF"

        # An operator finds it new in the triage queue, answers it, and sends a crew.
        staff_context = chromium.new_context(base_url=server.url, locale="en-GB")
        staff = staff_context.new_page()
        try:
            staff.goto("/login?next=/dashboard/console/reports")
            staff.get_by_label("Username").fill(server.operator)
            staff.get_by_label("Password").fill(PASSWORD)
            staff.get_by_role("button", name="Log in").click()
            staff.wait_for_url("**/dashboard/console/reports")
            row = staff.locator(f"#report-{report_id}")
            assert row.get_attribute("data-new") == "true"
            row.get_by_role("link", name=report_id).click()
            staff.wait_for_url(f"**/dashboard/console/reports/{report_id}")
            staff.get_by_label("New stage").select_option("investigating")
            staff.get_by_label("Public note (the sender is told)").fill("A crew will look at it tonight.")
            staff.get_by_role("button", name="Set stage").click()
            staff.wait_for_load_state()
            staff.get_by_role("button", name="Open a work order").click()
            staff.wait_for_selector("#report-links [data-link^='work_order:']")
            order_id = staff.locator("#report-links [data-link^='work_order:'] a").first.inner_text().strip()
            screenshot(staff, "back-office-report.png")
            # The crew's job is closed in the work-order console: that closes the report.
            staff.goto("/dashboard/console/work-orders?state=all")
            order = staff.locator(f"#order-{order_id}")
            order.locator("input[name=note]").fill("Lamp replaced")
            order.get_by_role("button", name="Close").click()
            wait_for(
                "the report to close with its work order",
                lambda: (
                    httpx.get(f"{server.url}/app/reports/{report_id}.json", timeout=5).json()["stage"] == "fixed"
                    or None
                ),
                30,
            )
        finally:
            staff_context.close()

        # The resident sees the answer and the fix on the report's page and among their reports.
        resident.goto(f"/app/reports/{report_id}")
        page_text = resident.locator("main").inner_text()
        assert "Fixed" in page_text
        assert "A crew will look at it tonight." in page_text
        assert "Lamp replaced" in page_text
        screenshot(resident, "citizen-report-fixed.png")
        resident.goto("/app/me")
        assert report_id in resident.locator("main").inner_html()


def test_the_app_reads_offline_after_one_visit(chromium: Any, server: CitizenServer) -> None:
    with phone(chromium, server) as (context, page):
        page.goto("/app")
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now under the worker's control: this visit is kept
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.goto("/app/air")
        page.wait_for_load_state("networkidle")
        context.set_offline(True)
        page.goto("/app")
        assert page.locator("h1").inner_text() == "Your city, at hand"
        banner = page.locator("#offline-banner")
        banner.wait_for(state="visible")
        assert banner.inner_text().startswith("You are offline. This page shows the data as of")
        page.goto("/app/air")
        assert page.locator("h1").inner_text() == "Air quality"
        assert page.locator("body").get_attribute("data-cached") == "1"
        screenshot(page, "citizen-offline.png")
        context.set_offline(False)


@pytest.mark.inject_scripts
def test_every_page_meets_wcag_2_1_aa_by_axe(chromium: Any, server: CitizenServer) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on any citizen page, on a phone's screen."""
    need_service(None if AXE.exists() else f"axe-core is not installed at {AXE} (run make install)")
    found: list[str] = []

    def check(page: Any, what: str) -> None:
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
        found.extend(
            f"{what}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"]
        )
        # The checks ran: contrast among them (a page with no text would pass vacuously).
        assert {rule["id"] for rule in result["passes"]} >= {"color-contrast", "html-has-lang", "document-title"}

    # The form sent without an e-mail comes back as a 400, which the browser logs.
    with phone(chromium, server, bypass_csp=True, expected=("status of 400",)) as (_, page):
        for path in ["/app", "/app/air", "/app/parking?place=Haupt", "/app/report", "/app/login", "/app/signup"]:
            page.goto(path)
            check(page, path)
        page.goto("/app/report?service=streetlight&lat=50.7356&long=7.1011")
        page.get_by_label("Description").fill("Dark")
        page.get_by_role("button", name="Send the report").click()  # no e-mail, no answer: the form with its errors
        page.wait_for_selector(".error-summary")
        check(page, "the report form with its errors")
        log_in(page, server, "/app/me")
        for path in [
            "/app/me",
            f"/app/reports/{server.report_id}",
            f"/app/reports/{server.report_id}?new=1",
            "/app/report",
        ]:
            page.goto(path)
            check(page, path)
    assert not found, "\n".join(found)
