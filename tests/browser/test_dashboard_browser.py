"""The dashboard in a real browser: Debian's Chromium driven by Playwright against ``urbis demo``.

The demo runs as a newcomer starts it (``urbis demo``: SQLite, its accounts, the simulated city with
its scripted incidents), smaller so that it settles quickly.  The operator logs in, checks that the
overview shows what the APIs answer, sees a change arrive without reloading, opens a fault from the
map, acknowledges it and sees it leave the list of new alarms, and switches to German.  Screenshots of
the overview and the map are kept under ``test-artifacts/browser``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from test_server_e2e import free_port, server_env

from conftest import need_service
from urbis.cli.demo import DEMO_INCIDENTS

CHROMIUM = os.environ.get("URBIS_TEST_CHROMIUM", "/usr/bin/chromium")
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
#: A small city: the demo's incidents on a few hundred lamps settle within a minute.  One more cabinet
#: supply loss and two more PM2.5 episodes beside the demo's own (alerts show within a minute whatever
#: the time of day; a lamp's own faults need two fresh reports, up to half an hour), so every test has
#: an alarm of its own.
CITY = " ".join(
    [
        "--lights 300 --stations 8 --bays 400 --garages 2",
        *(f"--incident {incident}" for incident in DEMO_INCIDENTS),
        "--incident supply-loss:any@-4h45m+5h20m/6h",
        "--incident pm25-episode:any@-4h+5h/6h=80",
        "--incident pm25-episode:any@-4h+5h/6h=85",
    ]
)
READY_SECONDS = 180.0
#: Why the demo did not start, once it did not.
DEMO_FAILED: list[str] = []
T = TypeVar("T")


@dataclass
class Demo:
    """A running ``urbis demo`` and its accounts."""

    url: str
    passwords: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def token(self, user: str) -> str:
        answer = httpx.post(
            f"{self.url}/auth/token",
            data={"grant_type": "password", "username": user, "password": self.passwords[user]},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(self, user: str = "operator") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=10)


def wait_for(
    what: str | Callable[[], str], probe: Callable[[], T | None], seconds: float, demo: Demo | None = None
) -> T:
    """Poll ``probe`` until it returns something; fail with ``what`` (and the demo's log) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            found = probe()
            if found is not None:
                return found
        time.sleep(0.5)
    tail = demo.log.read_text(errors="replace")[-3000:] if demo is not None else ""
    if demo is not None:
        simulator = demo.log.parent / "data" / "simulator.log"
        if simulator.exists():
            tail += "\nsimulator:\n" + simulator.read_text(errors="replace")[-3000:]
    pytest.fail(f"timed out waiting for {what if isinstance(what, str) else what()}\n{tail}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    if DEMO_FAILED:  # pytest sets a failed module fixture up again for each test: fail fast instead
        pytest.fail(f"the demo did not start for an earlier test: {DEMO_FAILED[0][:2000]}")
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = server_env(
        URBIS_PORT=str(port),
        URBIS_DATA_DIR=str(workdir / "data"),
        URBIS_DEMO_SIMULATOR_ARGS=CITY,
        URBIS_SOLUTIONS_INTERVAL_SECONDS="5",
    )
    log = workdir / "demo.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from urbis.cli import main; main()", "demo"],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the demo server", lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200 or None, 60)
        passwords = json.loads((workdir / "data" / "demo-accounts.json").read_text())
        running = Demo(url, passwords, process, log)
        with running.api() as api:
            # The scripted incidents: an alarm to open on the map, one to acknowledge, one to close.
            seen: list[str] = []

            def enough() -> bool | None:
                found = api.get("/api/v1/alarms", params={"state": "open"}).json()
                seen[:] = [f"{a['solution']}/{a['kind']}/{a['source']}" for a in found]
                return (len([a for a in found if a["location"]]) >= 3) or None

            wait_for(lambda: f"three alarms with a place on the map (open: {seen})", enough, READY_SECONDS, running)
    except BaseException as failure:
        if isinstance(failure, pytest.fail.Exception):
            DEMO_FAILED.append(str(failure))
        process.terminate()
        raise
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    need_service(None if Path(CHROMIUM).exists() else f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=HEADLESS_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, demo: Demo, request: pytest.FixtureRequest) -> Iterator[Any]:
    # The accessibility checks inject axe-core, which the pages' Content-Security-Policy rightly refuses.
    inject = request.node.get_closest_marker("inject_scripts") is not None
    context = browser.new_context(
        base_url=demo.url, viewport={"width": 1366, "height": 900}, locale="en-GB", bypass_csp=inject
    )
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    # Nothing may be fetched from anywhere but the server itself.
    foreign: list[str] = []
    opened.on("request", lambda request: foreign.append(request.url) if not request.url.startswith(demo.url) else None)
    yield opened
    context.close()
    assert not foreign, f"requests left the server: {foreign[:5]}"
    assert not problems, f"errors in the browser console: {problems[:5]}"


def map_fault(demo: Demo) -> dict[str, Any]:
    """The alarm the map test opens: a street-lighting fault if one is open, else an air-quality alert."""
    with demo.api("mayor") as api:
        found = [a for a in api.get("/api/v1/alarms", params={"state": "open"}).json() if a["location"]]
    return dict(min(found, key=lambda alarm: (alarm["solution"] != "lighting", alarm["id"])))


def log_in(page: Any, demo: Demo, user: str = "operator") -> None:
    page.goto("/dashboard")
    assert "/login" in page.url
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(demo.passwords[user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard")


def shown(page: Any, key: str) -> float | None:
    """A figure as the overview shows it, once its fragment has arrived."""
    figure = page.locator(f'[data-kpi="{key}"]')
    figure.wait_for()
    raw = figure.get_attribute("data-value")
    return None if raw in (None, "") else float(raw)


def test_the_overview_shows_what_the_apis_return_and_updates_live(page: Any, demo: Demo) -> None:
    log_in(page, demo, "operator")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with demo.api("mayor") as api:

        def figures() -> dict[str, float | None]:
            air = api.get("/api/v1/air-quality/summary").json()["city"]
            alarms = api.get("/api/v1/alarms/summary").json()
            parking = api.get("/api/v1/parking/occupancy/summary").json()["city"]
            return {
                "city_aqi": air["usAqi"],
                "alarms_active": float(sum(sum(by.values()) for by in alarms.values())),
                "parking_occupancy": parking["occupancy"],
            }

        # The city is alive: figures move between reads.  A figure matches when the page shows what
        # the API said just before or just after reading the page.
        for key in ("city_aqi", "alarms_active", "parking_occupancy"):
            for _attempt in range(10):
                before = figures()[key]
                page.reload()
                on_page = shown(page, key)
                after = figures()[key]
                if key == "parking_occupancy" and on_page is not None:
                    on_page = round(on_page, 4)
                if on_page in (before, after):
                    break
            else:
                pytest.fail(f"{key}: the page shows {on_page}, the API {before} then {after}")
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

        # Live: an alarm closed through the API leaves the count without a reload, within 2 s.
        page.wait_for_selector('body[data-live-state="live"]', timeout=10_000)
        spared = map_fault(demo)["id"]
        listed = api.get("/api/v1/alarms", params={"state": "open,acknowledged"}).json()
        alarm = next(a for a in listed if a["id"] != spared)
    with demo.api("operator") as operator:
        shown(page, "alarms_active")
        # Mark the figure on the page: the fragment that replaces it carries no mark.
        page.evaluate("document.querySelector('[data-kpi=\"alarms_active\"]').dataset.before = 'yes'")
        closed = operator.post(f"/api/v1/alarms/{alarm['id']}/close", json={"note": "browser test"})
        assert closed.status_code == 200, closed.text
        started = time.monotonic()
        page.wait_for_function(
            "() => !document.querySelector('[data-kpi=\"alarms_active\"][data-before]')", timeout=2_000
        )
        # ... and, within the same 2 s, it shows what the API counts after the change.
        agreed = False
        while not agreed and time.monotonic() - started <= 2.0:
            now = sum(sum(by.values()) for by in operator.get("/api/v1/alarms/summary").json().values())
            agreed = shown(page, "alarms_active") == float(now)
            if not agreed:
                page.wait_for_timeout(100)
        assert agreed, "the alarm count on the page did not follow the API within 2 s"


def test_an_operator_acknowledges_an_alarm_and_it_leaves_the_new_list(page: Any, demo: Demo) -> None:
    spared = map_fault(demo)["id"]
    log_in(page, demo, "operator")
    page.goto("/dashboard/console/alarms?state=open")
    rows = page.locator(f'tr[data-alarm]:not([data-alarm="{spared}"])')
    assert rows.count() >= 1
    first = rows.first
    alarm_id = first.get_attribute("data-alarm")
    first.locator('button[data-action="acknowledge"]').click()
    page.wait_for_url("**/dashboard/console/alarms?**done=**")
    assert page.locator(f'tr[data-alarm="{alarm_id}"]').count() == 0
    page.goto("/dashboard/console/alarms?state=acknowledged")
    assert page.locator(f'tr[data-alarm="{alarm_id}"]').count() == 1
    with demo.api("mayor") as api:
        acknowledged = api.get(f"/api/v1/alarms/{alarm_id}").json()
    assert acknowledged["state"] == "acknowledged" and acknowledged["acknowledgedBy"] == "operator"


def test_the_alarm_list_follows_changes_without_a_reload(page: Any, demo: Demo) -> None:
    spared = map_fault(demo)["id"]
    log_in(page, demo, "operator")
    page.goto("/dashboard/console/alarms?state=unresolved")
    page.wait_for_selector('body[data-live-state="live"]', timeout=10_000)
    rows = page.locator(f'tr[data-alarm]:not([data-alarm="{spared}"])')
    assert rows.count() >= 1
    target = rows.first.get_attribute("data-alarm")
    with demo.api("operator") as operator:
        assert operator.post(f"/api/v1/alarms/{target}/close", json={"note": "from the browser test"}).is_success
    # The list is fetched again when the alarm's Alert entity changes: the closed alarm leaves it.
    page.wait_for_selector(f'tr[data-alarm="{target}"]', state="detached", timeout=2_000)


def test_keyboard_users_reach_the_content_and_switch_language(page: Any, demo: Demo) -> None:
    log_in(page, demo, "mayor")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.get_by_role("link", name="Deutsch").click()
    page.wait_for_url("**/dashboard")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", name="Wie es der Stadt geht").is_visible()
    # A viewer sees no console actions.
    page.goto("/dashboard/console/alarms")
    assert page.locator('button[data-action="acknowledge"]').count() == 0


def test_an_operator_opens_a_fault_on_the_map_and_acknowledges_it(page: Any, demo: Demo) -> None:
    fault = map_fault(demo)
    alarm_entity = f"urn:ngsi-ld:Alert:{fault['id']}"
    log_in(page, demo, "operator")
    page.goto("/dashboard/map")
    page.wait_for_function("(id) => window.urbisMap && window.urbisMap.marker(id) !== null", arg=alarm_entity)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    # Click the alarm's ring where the map draws it.
    box = page.locator("#city-map").bounding_box()
    point = page.evaluate(
        """(id) => {
            const map = window.urbisMap.map, shape = window.urbisMap.marker(id);
            map.setView(shape.getLatLng(), 17, {animate: false});
            const p = map.latLngToContainerPoint(shape.getLatLng());
            return [p.x, p.y];
        }""",
        alarm_entity,
    )
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    detail = page.locator("article.map-detail")
    detail.wait_for()
    assert detail.get_attribute("data-entity-id") in {fault["source"], alarm_entity}
    acknowledge = detail.locator(f'button[data-action="acknowledge"][data-alarm="{fault["id"]}"]')
    acknowledge.click()
    page.wait_for_url("**/dashboard/map?**")
    with demo.api("mayor") as api:
        assert api.get(f"/api/v1/alarms/{fault['id']}").json()["state"] == "acknowledged"
    # It has left the list of new alarms.
    page.goto("/dashboard/console/alarms?state=open")
    assert page.locator(f'tr[data-alarm="{fault["id"]}"]').count() == 0


def test_the_monthly_report_prints_to_pdf(page: Any, demo: Demo) -> None:
    log_in(page, demo, "mayor")
    page.goto("/dashboard/report")
    assert page.get_by_role("heading", level=1).inner_text().startswith("City report: ")
    # Every chart has loaded its series and written its summary (a text, not the loading note).
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-summary]')].every(p => p.textContent !== 'Loading…')"
    )
    assert page.locator("[data-summary]").count() == 4
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.emulate_media(media="print")
    assert page.locator("form.no-print").is_hidden() and page.locator("header.top").is_hidden()
    pdf = page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4", print_background=True)
    assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000


AXE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "urbis"
    / "web"
    / "assets"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.mark.inject_scripts
@pytest.mark.parametrize(
    "path",
    [
        "/dashboard",
        "/dashboard/map",
        "/dashboard/charts",
        "/dashboard/console/alarms",
        "/dashboard/console/work-orders",
        "/dashboard/console/lighting",
        "/dashboard/console/parking",
        "/dashboard/console/activity",
        "/dashboard/report",
    ],
)
def test_every_page_meets_wcag_2_1_aa_by_axe(page: Any, demo: Demo, path: str) -> None:
    """axe-core (from the npm registry, installed by make install) finds no WCAG 2.1 A/AA violation."""
    need_service(None if AXE.exists() else f"axe-core is not installed at {AXE} (run make install)")
    log_in(page, demo, "operator")
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]
    assert not violations, "\n".join(violations)
    # The checks ran: contrast among them (a page with no text would pass vacuously).
    assert {rule["id"] for rule in result["passes"]} >= {"color-contrast", "html-has-lang", "document-title"}


def test_the_map_follows_a_closed_alarm_without_a_reload(page: Any, demo: Demo) -> None:
    spared = map_fault(demo)["id"]
    with demo.api("mayor") as api:
        placed = [a for a in api.get("/api/v1/alarms", params={"state": "open,acknowledged"}).json() if a["location"]]
    target = next(a for a in placed if a["id"] != spared)
    entity = f"urn:ngsi-ld:Alert:{target['id']}"
    log_in(page, demo, "operator")
    page.goto("/dashboard/map")
    page.wait_for_function("(id) => window.urbisMap && window.urbisMap.marker(id) !== null", arg=entity)
    page.wait_for_selector('body[data-live-state="live"]', timeout=10_000)
    with demo.api("operator") as operator:
        assert operator.post(f"/api/v1/alarms/{target['id']}/close", json={"note": "map test"}).is_success
    # The alarm's ring leaves the map within 2 s, without a reload.
    page.wait_for_function("(id) => window.urbisMap.marker(id) === null", arg=entity, timeout=2_000)


def test_the_pages_fit_a_phone(browser: Any, demo: Demo) -> None:
    context = browser.new_context(base_url=demo.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        log_in(phone, demo, "mayor")
        for path in ("/dashboard", "/dashboard/console/alarms", "/dashboard/map", "/dashboard/report"):
            phone.goto(path)
            phone.wait_for_load_state("networkidle")
            # No sideways scrolling of the page itself (wide tables scroll inside their own box).
            overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} is {overflow} px wider than the phone"
        phone.goto("/dashboard")
        phone.locator('[data-kpi="alarms_active"]').wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    finally:
        context.close()
