"""End to end: the simulator's incidents become alarms, work orders and alerts in a real server, and close.

A real ``urbis serve`` (SQLite, then PostgreSQL) runs its solutions every second or two.  Two
``urbis simulate`` processes feed it, because the two solutions judge time differently:

- **Street lighting** judges each lamp's latest report by the report's own time, but counts a
  device silent when its latest report is more than 35 minutes older than the server's clock.  So
  the lighting simulator replays the last 25 minutes at 20 times real speed (lamps and cabinet
  meters reporting every simulated minute) and catches up with the present.  Into that replay it
  injects a day-burner on one lamp and a supply loss on one cabinet, a few simulated minutes long:
  the faults persist over several reports (two samples open them), end, and stay absent long enough
  (ten minutes for a lamp, two samples for a cabinet) to close, all within about a real minute.
- **Air quality** judges the complete clock hours before the server's clock by the EPA NowCast,
  which needs 2 of the 3 most recent hours.  So the air simulator replays from two hours before the
  current clock hour at 60 times real speed: a PM2.5 episode of 80 µg/m³ fills the first half of
  hour −2, the rest of the air is held clean at 5 µg/m³ (the simulated weather alone reaches 30
  µg/m³ at a reference monitor about one hour in twenty, which would keep any alert up whatever the
  test did).  Worked by hand for the district's reference monitor (PM2.5 hourly means, the most
  recent hour first, w = max(min/max, 0.5) = 0.5):

  * while the replay is in the episode: hours [−1: none, −2: 80, −3: 5] →
    NowCast (0.5·80 + 0.25·5)/0.75 = 55.0 µg/m³ → US AQI 101 + (55.0 − 35.5)·49/19.9 = 149 ≥ 101:
    the alert opens (and it stays above 101 until about 49 minutes into hour −2);
  * once the replay is in hour −1: [−1: 5, −2: (30·80 + 30·5)/60 = 42.5, −3: 5] →
    (5 + 0.5·42.5 + 0.25·5)/1.75 = 15.7 µg/m³ → AQI 51 + (15.7 − 9.1)·49/26.3 = 63 < 91: it closes.

  The scenario is tied to the clock hour, so the air part starts only with at least three minutes
  of the hour left (it needs about 70 s), waiting for the next hour otherwise.

Whether a day-burner shows depends on the time of day, as on a real street: by day (lamps commanded
off) it is ``lampUnexpectedOn``; between 23:00 and 05:00 local, when lamps are dimmed to 50 %, it
draws full power: ``lampPowerTooHigh``; in the evening and morning hours at full power a stuck relay
changes nothing, and the right answer is no alarm.  The test works the phase out by hand with astral
(sunset + 40 min to sunrise − 40 min lit, the documented program) and expects accordingly; within
the 45 minutes around a planned switch, where the lighting solution does not judge lamps, it only
checks that nothing else is raised.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from astral import LocationInfo
from astral.sun import sunrise, sunset
from test_server_e2e import CLI, Server, run_cli, running_server, server_env

from context.subscriptions.notification_receivers import HttpReceiver, http_receiver
from urbis.sim.faults import FaultRates
from urbis.sim.world import City, CityConfig, build_city
from urbis.solutions.lighting.service import DEFAULT_TRANSITION_MARGIN, TWILIGHT_OFFSET

PASSWORD = "solutions-e2e-password"
LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
BERLIN = ZoneInfo("Europe/Berlin")
SEED = 7
LIGHTS = 200
STATIONS = 10
#: The lighting replay: how far back it starts and how fast it runs.
LIGHT_LAG = timedelta(minutes=25)
LIGHT_SPEED = 20
#: The air replay's speed, and the least of the clock hour it needs.
AIR_SPEED = 60
AIR_NEEDS = timedelta(minutes=3)
CLEAN_PM25 = 5.0
EPISODE_PM25 = 80.0
#: Every wait has an end.
LEAD_SECONDS = 120.0
SCENARIO_SECONDS = 240.0
STOP_SECONDS = 30.0


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LightingPlan:
    """The lighting replay and its two incidents."""

    start: datetime
    lamp: str  # device id of the day-burner
    cabinet: str  # device id of the cabinet that loses supply
    cabinet_lamps: frozenset[str]
    burner_from: datetime
    burner_to: datetime
    outage_from: datetime
    outage_to: datetime

    def args(self) -> list[str]:
        return [
            *("--lights", str(LIGHTS), "--stations", "0", "--bays", "0", "--garages", "0"),
            *("--light-interval", "60", "--speed", str(LIGHT_SPEED), "--start", iso(self.start)),
            "--incident",
            f"day-burner:{self.lamp}@{iso(self.burner_from)}+{minutes(self.burner_to - self.burner_from)}",
            "--incident",
            f"supply-loss:{self.cabinet}@{iso(self.outage_from)}+{minutes(self.outage_to - self.outage_from)}",
        ]


@dataclass(frozen=True)
class AirPlan:
    """The air replay: a clean city and an episode in one district, around clock hour ``hour``."""

    hour: datetime  # the current clock hour: hours -1, -2, -3 end at it
    district: str
    stations: frozenset[str]  # device ids in the district

    def args(self) -> list[str]:
        start = self.hour - timedelta(hours=2)
        return [
            *("--lights", "0", "--stations", str(STATIONS), "--bays", "0", "--garages", "0"),
            # Five minutes of hour -3 first (the NowCast needs 2 of the 3 latest hours), then the replay.
            *("--start", iso(start), "--backfill-days", f"{5 / 1440:.6f}", "--speed", str(AIR_SPEED)),
            "--incident",
            f"pm25-episode:city@{iso(start - timedelta(minutes=5))}+4h={CLEAN_PM25:g}",
            "--incident",
            f"pm25-episode:{self.district}@{iso(start)}+30m={EPISODE_PM25:g}",
        ]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def minutes(span: timedelta) -> str:
    return f"{round(span.total_seconds() / 60)}m"


def small_city(**sizes: int) -> City:
    return build_city(CityConfig(seed=SEED, faults=FaultRates.none(), bays=0, garages=0, **sizes))


def lighting_plan(now: datetime) -> tuple[LightingPlan, tuple[float, float]]:
    """The incidents, and the day-burner lamp's position (lon, lat)."""
    city = small_city(lights=LIGHTS, stations=0)
    assert len(city.cabinets) >= 2
    outage = city.cabinets[1]
    lamp = next(light for light in city.lights if light.cabinet_index != outage.index)
    start = (now - LIGHT_LAG).replace(microsecond=0)
    plan = LightingPlan(
        start=start,
        lamp=lamp.device.id,
        cabinet=outage.device.id,
        cabinet_lamps=frozenset(city.lights[i].device.id for i in outage.light_indices),
        burner_from=start + timedelta(minutes=2),
        burner_to=start + timedelta(minutes=8),
        outage_from=start + timedelta(minutes=3),
        outage_to=start + timedelta(minutes=9),
    )
    return plan, (lamp.device.lon, lamp.device.lat)


def air_plan(hour: datetime) -> AirPlan:
    city = small_city(lights=0, stations=STATIONS)
    # The district of the reference monitor, whose readings are the truth within 2 %.
    reference = next(s for s in city.stations if s.spec.grade == "reference")
    members = frozenset(s.device.id for s in city.stations if s.district == reference.district)
    assert all(s.spec.grade == "reference" for s in city.stations if s.device.id in members)
    return AirPlan(hour, reference.district, members)


# -- the lighting phase, by hand -----------------------------------------------------------------------


def program_changes(lon: float, lat: float, around: datetime) -> list[tuple[datetime, float]]:
    """``(instant, commanded level %)`` of every planned change on the nights around ``around``.

    The default program: on at sunset + 40 min (full), 50 % at 23:00 and full again at 05:00 local,
    off at sunrise - 40 min; sunset and sunrise from astral at the lamp's position.
    """
    observer = LocationInfo("lamp", "Bonn", "Europe/Berlin", lat, lon).observer
    local_day = around.astimezone(BERLIN).date()
    changes: list[tuple[datetime, float]] = []
    for shift in (-1, 0, 1):
        day = local_day + timedelta(days=shift)
        following = day + timedelta(days=1)
        changes += [
            (sunset(observer, day, tzinfo=UTC) + TWILIGHT_OFFSET, 100.0),
            (datetime.combine(day, datetime.min.time().replace(hour=23), BERLIN).astimezone(UTC), 50.0),
            (datetime.combine(following, datetime.min.time().replace(hour=5), BERLIN).astimezone(UTC), 100.0),
            (sunrise(observer, following, tzinfo=UTC) - TWILIGHT_OFFSET, 0.0),
        ]
    return sorted(changes)


def commanded_level(changes: list[tuple[datetime, float]], at: datetime) -> float:
    level = 0.0
    for instant, value in changes:
        if instant <= at:
            level = value
    return level


def expected_burner_kind(lon: float, lat: float, frm: datetime, to: datetime) -> tuple[str | None, bool]:
    """What a day-burner lamp judged over ``[frm, to]`` shows, and whether the whole span is judged.

    By day (commanded off) ``lampUnexpectedOn``; dimmed to 50 % ``lampPowerTooHigh``; at full
    power nothing.  ``False`` when a planned change lies within the transition margin of the span
    (plus two minutes of slack), where reports are not judged.
    """
    changes = program_changes(lon, lat, frm)
    margin = DEFAULT_TRANSITION_MARGIN + timedelta(minutes=2)
    judged = not any(frm - margin <= instant <= to + margin for instant, _ in changes)
    level = commanded_level(changes, frm)
    kind = {0.0: "lampUnexpectedOn", 50.0: "lampPowerTooHigh"}.get(level)
    return kind, judged


def test_program_phases_worked_by_hand() -> None:
    # Bonn, 24 November 2026: sunset about 16:35, sunrise next morning about 08:03 local (CET).
    lon, lat = 7.0982, 50.7374
    noon = datetime(2026, 11, 24, 12, tzinfo=BERLIN)
    changes = program_changes(lon, lat, noon)
    on = next(instant for instant, level in changes if level == 100.0 and instant > noon).astimezone(BERLIN)
    assert on.replace(second=0, microsecond=0) in {datetime(2026, 11, 24, 17, m, tzinfo=BERLIN) for m in (14, 15, 16)}
    off = next(instant for instant, level in changes if level == 0.0 and instant > noon).astimezone(BERLIN)
    assert off.replace(second=0, microsecond=0) in {datetime(2026, 11, 25, 7, m, tzinfo=BERLIN) for m in (23, 24, 25)}
    span = timedelta(minutes=20)
    assert expected_burner_kind(lon, lat, noon, noon + span) == ("lampUnexpectedOn", True)
    late = datetime(2026, 11, 25, 1, tzinfo=BERLIN)
    assert expected_burner_kind(lon, lat, late, late + span) == ("lampPowerTooHigh", True)
    evening_full = datetime(2026, 11, 24, 20, tzinfo=BERLIN)
    assert expected_burner_kind(lon, lat, evening_full, evening_full + span) == (None, True)
    near_dim = datetime(2026, 11, 24, 22, 40, tzinfo=BERLIN)
    assert expected_burner_kind(lon, lat, near_dim, near_dim + span)[1] is False


# -- talking to the server -------------------------------------------------------------------------------


def _setup(tmp_path: Path, backend: dict[str, str]) -> tuple[dict[str, str], str, str]:
    """The server's environment (solutions every 1-2 s), the tenant and an admin's username."""
    tenant = backend["URBIS_DEFAULT_TENANT"]
    user = f"sol{uuid.uuid4().hex[:10]}"  # usernames are platform-wide; PostgreSQL is shared by the run
    env = server_env(**backend, URBIS_SOLUTIONS_INTERVAL_SECONDS="2", URBIS_SOLUTIONS_MIN_GAP_SECONDS="1")
    env["URBIS_DATA_DIR"] = str(tmp_path / "data")
    assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
    made = run_cli(
        ["user", "create", user, "--tenant", tenant, "--role", "admin", "--password-stdin"],
        env=env,
        cwd=tmp_path,
        stdin=f"{PASSWORD}\n",
    )
    assert made.returncode == 0, made.stderr
    return env, tenant, user


def wait_for(condition: Callable[[], Any], timeout: float, what: str, describe: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1.0)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{describe()}")


def get_json(http: httpx.Client, path: str, **params: str) -> Any:
    response = http.get(path, params=params, headers={"Link": LINK})
    assert response.status_code == 200, response.text
    return response.json()


def alarms(http: httpx.Client, solution: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_json(http, "/api/v1/alarms", solution=solution, limit="1000")
    return found


def work_orders(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_json(http, "/api/v1/work-orders", limit="1000")
    return found


def lamp_entity(device_id: str) -> str:
    return f"urn:ngsi-ld:Streetlight:{device_id}"


def cabinet_entity(device_id: str) -> str:
    return f"urn:ngsi-ld:StreetlightControlCabinet:{device_id}"


def station_entity(device_id: str) -> str:
    return f"urn:ngsi-ld:AirQualityObserved:{device_id}"


class Simulator:
    """One ``urbis simulate`` process, always stopped."""

    def __init__(self, server: Server, env: dict[str, str], cwd: Path, tenant: str, user: str, name: str) -> None:
        self.log = cwd / f"{name}.log"
        self.tokens = cwd / f"{name}-tokens.json"
        self.base = [
            *CLI,
            "simulate",
            *("--url", server.url, "--tenant", tenant, "--username", user, "--seed", str(SEED)),
            *("--tokens-file", str(self.tokens), "--fault-scale", "0"),
        ]
        self.env = {**env, "URBIS_SIMULATE_PASSWORD": PASSWORD}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, args: list[str]) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*self.base, *args], env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_SECONDS)
        return process.returncode

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(not started)"


@pytest.fixture
def simulators() -> Iterator[list[Simulator]]:
    started: list[Simulator] = []
    yield started
    for simulator in started:
        simulator.stop()


def lead_everything(http: httpx.Client) -> bool:
    """Whether this server runs all three solutions (on a shared database another server may lead)."""
    runners = get_json(http, "/api/v1/solutions/status")
    return len(runners) == 3 and all(r["leading"] and r["runs"] >= 1 for r in runners)


def subscribe_to_alerts(http: httpx.Client, receiver: HttpReceiver) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Alert"}],
        "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
    }
    response = http.post("/ngsi-ld/v1/subscriptions", json=body, headers={"Link": LINK})
    assert response.status_code == 201, response.text


def alert_states(receiver: HttpReceiver, alert_id: str) -> list[str]:
    """The ``status`` of an Alert entity in each notification about it, in the order received."""
    states: list[str] = []
    for body in receiver.bodies():
        for entity in (body or {}).get("data", []):
            if entity.get("id") == alert_id and "status" in entity:
                status = entity["status"]
                states.append(status["value"] if isinstance(status, dict) else status)
    return states


def wait_for_the_next_hour_if_needed(now: datetime) -> datetime:
    """Now, or just after the next clock hour when less than :data:`AIR_NEEDS` of this one is left."""
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if next_hour - now >= AIR_NEEDS:
        return now
    time.sleep((next_hour - now).total_seconds() + 2.0)
    return datetime.now(UTC)


# -- the test -------------------------------------------------------------------------------------------


def test_incidents_become_alarms_work_orders_and_alerts_and_close(
    tmp_path: Path, backend: dict[str, str], simulators: list[Simulator]
) -> None:
    env, tenant, user = _setup(tmp_path, backend)
    with (
        running_server(tmp_path, env, data_dir=tmp_path / "data") as server,
        http_receiver() as receiver,
        server.client() as anonymous,
    ):
        grant = anonymous.post(
            "/auth/token", data={"grant_type": "password", "username": user, "password": PASSWORD, "tenant": tenant}
        )
        assert grant.status_code == 200, grant.text
        bearer = {"Authorization": f"Bearer {grant.json()['access_token']}", "NGSILD-Tenant": tenant}
        with server.client(**bearer) as http:
            wait_for(lambda: lead_everything(http), LEAD_SECONDS, "this server to lead the solutions", server.describe)
            subscribe_to_alerts(http, receiver)

            lights, lamp_position = lighting_plan(datetime.now(UTC))
            lighting = Simulator(server, env, tmp_path, tenant, user, "lighting")
            simulators.append(lighting)
            lighting.start(lights.args())

            now = wait_for_the_next_hour_if_needed(datetime.now(UTC))
            air = air_plan(now.replace(minute=0, second=0, microsecond=0))
            air_sim = Simulator(server, env, tmp_path, tenant, user, "air")
            simulators.append(air_sim)
            air_sim.start(air.args())

            def logs() -> str:
                return (
                    f"lighting simulator:\n{lighting.output[-3000:]}\nair simulator:\n{air_sim.output[-3000:]}\n"
                    f"lighting alarms: {alarms(http, 'lighting')}\nair alarms: {alarms(http, 'air_quality')}\n"
                    f"{server.describe()}"
                )

            burner = lamp_entity(lights.lamp)
            cabinet = cabinet_entity(lights.cabinet)
            stations = {station_entity(s) for s in air.stations}
            kind, judged = expected_burner_kind(
                *lamp_position, lights.burner_from, lights.burner_to + timedelta(minutes=12)
            )

            def replay_caught_up() -> bool:
                entity = get_json(http, f"/ngsi-ld/v1/entities/{burner}")
                observed = entity.get("powerConsumption", {}).get("observedAt")
                reached = observed is not None and datetime.fromisoformat(observed.replace("Z", "+00:00"))
                return bool(reached) and reached >= lights.start + LIGHT_LAG - timedelta(minutes=1)

            def air_story_told() -> bool:
                mine = [a for a in alarms(http, "air_quality") if a["source"] in stations]
                return {a["source"] for a in mine} == stations and all(a["state"] == "closed" for a in mine)

            # Near a planned switch the lamp is not judged throughout: its alarm may then stay open.
            awaited = {cabinet} | ({burner} if kind is not None and judged else set())

            def lighting_story_told() -> bool:
                mine = [a for a in alarms(http, "lighting") if a["source"] in awaited]
                return {a["source"] for a in mine} == awaited and all(a["state"] == "closed" for a in mine)

            wait_for(air_story_told, SCENARIO_SECONDS, "the PM2.5 alert to open and close", logs)
            wait_for(replay_caught_up, SCENARIO_SECONDS, "the lighting replay to reach the present", logs)
            wait_for(lighting_story_told, SCENARIO_SECONDS, "the lighting alarms to open and close", logs)
            # Two more evaluations after the replay caught up, so nothing is left unjudged.
            runs = {r["name"]: r["runs"] for r in get_json(http, "/api/v1/solutions/status")}
            wait_for(
                lambda: all(r["runs"] >= runs[r["name"]] + 2 for r in get_json(http, "/api/v1/solutions/status")),
                60,
                "two more evaluations",
                logs,
            )

            lighting_alarms = alarms(http, "lighting")
            air_alarms = alarms(http, "air_quality")
            orders = work_orders(http)
            assert lighting.stop() == 0, logs()
            assert air_sim.stop() == 0, logs()
            assert " 0 failed" in lighting.output and " 0 failed" in air_sim.output, logs()

            # The cabinet: exactly one supply-loss alarm, none for the lamps it left dark; all closed.
            outage = [a for a in lighting_alarms if a["source"] == cabinet]
            assert [(a["kind"], a["state"], a["closeReason"]) for a in outage] == [
                ("supplyLoss", "closed", "recovered")
            ], logs()
            assert not [a for a in lighting_alarms if a["source"] in {lamp_entity(d) for d in lights.cabinet_lamps}]
            outage_orders = [o for o in orders if o["alarmId"] == outage[0]["id"]]
            assert [o["state"] for o in outage_orders] == ["closed"], orders

            # The day-burner: the kind the time of day calls for, with its work order; all closed.
            burning = [a for a in lighting_alarms if a["source"] == burner]
            if judged:
                expected = [] if kind is None else [(kind, "closed", "recovered")]
                assert [(a["kind"], a["state"], a["closeReason"]) for a in burning] == expected, logs()
            else:
                assert {a["kind"] for a in burning} <= {"lampUnexpectedOn", "lampPowerTooHigh"}, logs()
            for alarm in burning:
                # One work order per alarm, closed with it.
                assert [o["state"] for o in orders if o["alarmId"] == alarm["id"]] == [alarm["state"]], orders
            # Nothing else went wrong in a city without random faults.
            assert {a["source"] for a in lighting_alarms} <= {cabinet, burner}, logs()

            # Air quality: an alert for each station of the district, opened and closed; no other station.
            assert {a["source"] for a in air_alarms} == stations, logs()
            for alarm in air_alarms:
                assert (alarm["kind"], alarm["state"], alarm["closeReason"]) == (
                    "aqiThresholdExceeded",
                    "closed",
                    "recovered",
                ), alarm
                assert alarm["closedAt"] > alarm["openedAt"]
                assert "US AQI" in alarm["description"]
                # Its NGSI-LD Alert shows it closed, and subscribers heard it open and close.
                alert = get_json(http, f"/ngsi-ld/v1/entities/{alarm['entityId']}", options="keyValues")
                assert alert["type"] == "Alert" and alert["status"] == "closed" and "validTo" in alert, alert
                assert alert["subCategory"] == "aqiThresholdExceeded" and alert["alertSource"] == alarm["source"]
                receiver.wait_for(1, 30, lambda r, a=alarm: "closed" in alert_states_of(r, a["entityId"]))
                states = alert_states(receiver, alarm["entityId"])
                assert states[0] == "open" and states[-1] == "closed", states
            # The lighting alarms are Alerts too.
            cabinet_alert = get_json(http, f"/ngsi-ld/v1/entities/{outage[0]['entityId']}", options="keyValues")
            assert cabinet_alert["status"] == "closed" and cabinet_alert["subCategory"] == "supplyLoss"


def alert_states_of(received: Any, alert_id: str) -> list[str]:
    body = received.body or {}
    return [
        (e["status"]["value"] if isinstance(e["status"], dict) else e["status"])
        for e in body.get("data", [])
        if e.get("id") == alert_id and "status" in e
    ]
