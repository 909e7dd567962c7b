"""``urbis simulate`` options and exports, and ``urbis demo`` running the simulator against its server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from e2e.test_server_e2e import CLI, free_port, server_env
from urbis.cli import app
from urbis.cli.demo import DEMO_INCIDENTS, simulator_command, start_simulator, stop_simulator
from urbis.core.settings import Settings
from urbis.sim.incidents import IncidentPlan, parse_incident
from urbis.sim.world import CityConfig, build_city

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SMALL = ["--lights", "40", "--stations", "3", "--bays", "30", "--garages", "1"]


@pytest.fixture(autouse=True)
def _clean(clean_environment: None) -> None:
    """No URBIS_* variable of the caller leaks into these tests."""


def test_export_only_writes_the_map_and_the_entities(tmp_path: Path) -> None:
    geojson, entities = tmp_path / "bonn.geojson", tmp_path / "entities.json"
    result = CliRunner().invoke(
        app,
        ["simulate", *SMALL, "--export-only", "--geojson", str(geojson), "--entities-file", str(entities)],
        prog_name="urbis",
    )
    assert result.exit_code == 0, result.output
    collection = json.loads(geojson.read_text())
    kinds = {feature["properties"]["kind"] for feature in collection["features"]}
    assert {"borough", "district", "street", "river", "light", "station", "bay", "garage", "cabinet"} <= kinds
    items = json.loads(entities.read_text())
    assert sum(item["type"] == "Streetlight" for item in items) == 40
    assert sum(item["type"] == "ParkingSpot" for item in items) == 30


def test_same_seed_same_export(tmp_path: Path) -> None:
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = CliRunner().invoke(
            app,
            ["simulate", *SMALL, "--seed", seed, "--export-only", "--entities-file", str(tmp_path / name)],
            prog_name="urbis",
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() != (tmp_path / "c").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transport", "pigeon"], "--transport must be http or mqtt"),
        (["--http-mode", "bulk"], "--http-mode must be gateway or device"),
        (["--fault", "lamp_failure"], "expected NAME=NUMBER"),
        (["--fault", "meteor=1"], "unknown fault setting"),
        ([], "give --token, or --username with --password"),
        (["--token", "x", "--start", "yesterday"], "not an ISO 8601 date-time"),
        (["--token", "x", "--start", "2026-11-24T06:00:00"], "with a time zone"),
        (["--token", "x", "--start", "2999-01-01T00:00:00Z"], "--start lies in the future"),
        (["--incident", "meteor:lamp-00001@0+1h"], "unknown incident kind"),
        (["--incident", "day-burner:lamp-00001@-10m"], "no +DURATION"),
        (["--incident", "day-burner:lamp-09999@0+1h"], "no device 'lamp-09999'"),
        (["--incident", "supply-loss:lamp-00001@0+1h"], "supply-loss does not happen to lamp-00001"),
        (["--incident", "pm25-episode:Atlantis@0+1h"], "'Atlantis' is neither a district"),
        (["--light-interval", "0"], "--light-interval"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", *SMALL, *args], prog_name="urbis")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_incidents_are_checked_and_shown_before_anything_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            *SMALL,
            "--export-only",
            "--entities-file",
            str(tmp_path / "entities.json"),
            "--incident",
            "day-burner:lamp-00002@2026-11-24T10:00:00Z+20m",
            "--incident",
            "pm25-episode:city@-1h+2h=60",
            "--light-interval",
            "60",
        ],
        prog_name="urbis",
    )
    assert result.exit_code == 0, result.output
    stations = [
        item for item in json.loads((tmp_path / "entities.json").read_text()) if item["type"] == "AirQualityObserved"
    ]
    assert {item["sensorGrade"]["value"] for item in stations} <= {"reference", "low-cost"}


def test_demo_incidents_are_under_way_when_the_backfill_ends() -> None:
    backfill = Settings().demo_backfill_days * 86_400.0
    city = build_city(CityConfig())  # the demo's city
    plan = IncidentPlan([parse_incident(text) for text in DEMO_INCIDENTS], city, anchor=0.0)
    kinds = {spec.kind for spec in plan.specs}
    assert kinds == {"supply-loss", "day-burner", "lamp-failure", "pm25-episode"}
    for spec in plan.specs:
        # Inside the backfill, still going at the live start, and again later.
        assert spec.offset is not None and -backfill <= spec.offset < 0 < spec.offset + spec.duration
        assert spec.every is not None
    lamps = [
        plan.hits(index, 0)[0] for index, spec in enumerate(plan.specs) if spec.kind in ("day-burner", "lamp-failure")
    ]
    (cabinet,) = plan.hits(0, 0)
    dark = {city.lights[i].device.id for c in city.cabinets if c.device.id == cabinet for i in c.light_indices}
    assert len(set(lamps)) == 2 and not dark & set(lamps)  # the outage hides neither lamp fault
    # A city without stations or lamps still runs the demo: those incidents are skipped.
    bare = build_city(CityConfig(lights=0, stations=0, bays=10, garages=0))
    assert (
        IncidentPlan([parse_incident(text) for text in DEMO_INCIDENTS], bare, anchor=0.0).faults_between(-1e6, 1e6)
        == []
    )


def test_demo_simulator_command_and_switch(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, port=8123, host="0.0.0.0", default_tenant="bonn")
    command = simulator_command(settings, backfill_days=0.5, extra=["--speed", "60"])
    assert command[command.index("--url") + 1] == "http://127.0.0.1:8123"
    assert command[command.index("--tenant") + 1] == "bonn"
    assert command[command.index("--username") + 1] == "admin"
    assert command[command.index("--backfill-days") + 1] == "0.5"
    assert command[command.index("--tokens-file") + 1] == str(tmp_path / "simulator-tokens.json")
    assert command[-2:] == ["--speed", "60"]
    assert "--password" not in command  # the password travels in the environment, not in `ps`
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--incident"] == list(DEMO_INCIDENTS)
    # Incidents of one's own replace the demo's.
    own = simulator_command(settings, backfill_days=0.5, extra=["--incident", "silent:any@0+1h"])
    assert [own[i + 1] for i, arg in enumerate(own) if arg == "--incident"] == ["silent:any@0+1h"]
    switched_off = settings.model_copy(update={"demo_simulate": False})
    assert start_simulator(switched_off, {"admin": "secret"}) is None
    stop_simulator(None)


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_demo_runs_the_simulated_city_and_stops_it_with_the_server(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(
        URBIS_DEMO_SIMULATOR_ARGS=" ".join([*SMALL, "--seed", "9"]),
        URBIS_DEMO_BACKFILL_DAYS="0",
        URBIS_LOG_LEVEL="warning",
    )
    env.pop("URBIS_ENVIRONMENT", None)  # the demo is a development run
    data = tmp_path / "data"
    demo = subprocess.Popen(
        [*CLI, "demo", "--port", str(port), "--data-dir", str(data)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        lights = 0
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                response = httpx.get(
                    f"{base}/ngsi-ld/v1/entities",
                    params={"type": "Streetlight", "q": "powerState", "count": "true", "limit": "0"},
                    headers={"Link": LINK},
                    timeout=5,
                )
                if response.status_code == 200:
                    lights = int(response.headers["NGSILD-Results-Count"])
                    if lights == 40:
                        break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        log = (data / "simulator.log").read_text() if (data / "simulator.log").exists() else "(no simulator log)"
        assert lights == 40, f"the demo city did not come alive: {lights} lights reported\n{log}"
        children = _children(demo.pid)
        assert children, "the simulator should run as a child of the demo"
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
        text = output.decode(errors="replace")
        assert "Simulator" in text and "simulator.log" in text, text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in children), "the simulator outlived the demo"
        assert "stopped at" in (data / "simulator.log").read_text()  # it stopped gracefully
        assert (data / "simulator-tokens.json").exists()
        assert oct((data / "simulator-tokens.json").stat().st_mode & 0o777) == "0o600"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
        for pid in _children(demo.pid):
            os.kill(pid, signal.SIGKILL)
