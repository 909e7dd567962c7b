"""Scripted incidents: parsing, resolution on the city, and what the devices then report."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from urbis.sim.air_quality import AirModel, StationSpec
from urbis.sim.engine import CityEngine, Message
from urbis.sim.faults import FaultRates
from urbis.sim.incidents import (
    DEFAULT_PM25_LEVEL,
    IncidentPlan,
    IncidentSpec,
    format_duration,
    parse_duration,
    parse_incident,
)
from urbis.sim.lighting import BERLIN
from urbis.sim.runner import RunPlan, Simulation
from urbis.sim.transport import SendStats
from urbis.sim.world import City, CityConfig, build_city

NOON = datetime(2026, 11, 24, 12, tzinfo=BERLIN).timestamp()  # broad daylight in Bonn (sunset 16:35)
H = 3600.0
M = 60.0


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(CityConfig(seed=7, lights=200, stations=10, bays=20, garages=1, faults=FaultRates.none()))


def with_incidents(city: City, *texts: str) -> City:
    config = city.config
    return build_city(
        CityConfig(
            seed=config.seed,
            lights=config.lights,
            stations=config.stations,
            bays=config.bays,
            garages=config.garages,
            faults=FaultRates.none(),
            incidents=tuple(parse_incident(text) for text in texts),
            light_interval=config.light_interval,
        ),
        city.geography,
    )


def run(engine: CityEngine, end: float, window: float) -> list[Message]:
    out: list[Message] = []
    while engine.time < end:
        out += engine.step(min(end, engine.time + window))
    return out


# -- the notation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("20m", 1200.0), ("1h30m", 5400.0), ("2d", 172_800.0), ("0.5h", 1800.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1x", "5m3h", "m", "-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_are_shown_in_units() -> None:
    assert [format_duration(s) for s in (45, 1200, 5400, 90_061, 0)] == ["45s", "20m", "1h30m", "1d1h1m1s", "0s"]


def test_an_offset_incident() -> None:
    spec = parse_incident("day-burner:lamp-00012@-10m+20m")
    assert spec == IncidentSpec("day-burner", "lamp-00012", 1200.0, offset=-600.0)
    assert spec.first_start(anchor=10_000.0) == 9_400.0


def test_a_repeating_incident_and_underscores() -> None:
    spec = parse_incident("supply_loss:any@+5m+1h30m/4h")
    assert (spec.kind, spec.target, spec.offset, spec.duration, spec.every) == (
        "supply-loss",
        "any",
        300.0,
        5400.0,
        14_400.0,
    )


def test_an_episode_at_an_iso_instant_with_an_offset_zone_and_a_level() -> None:
    spec = parse_incident("pm25-episode:Zentrum@2026-11-24T18:00:00+01:00+3h/1d=80")
    # 18:00 at UTC+1 is 17:00 UTC; the last '+' starts the duration, not the zone's.
    assert spec.at == datetime(2026, 11, 24, 17, tzinfo=UTC).timestamp()
    assert (spec.duration, spec.every, spec.level, spec.pm25_level) == (10_800.0, 86_400.0, 80.0, 80.0)
    assert parse_incident("pm25-episode:city@0+1h").pm25_level == DEFAULT_PM25_LEVEL
    assert parse_incident("pm25-episode:city@2026-11-24T17:00:00Z+1h").at == spec.at


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("meteor:lamp-00001@0+1h", "unknown incident kind"),
        ("day-burner", "unknown incident kind"),
        ("day-burner:lamp-00001+1h", "expected KIND:TARGET@WHEN"),
        (":lamp-00001@0+1h", "unknown incident kind"),
        ("day-burner:@0+1h", "expected KIND:TARGET@WHEN"),
        ("day-burner:lamp-00001@-10m", "no +DURATION"),
        ("day-burner:lamp-00001@+1h", "no start"),
        ("day-burner:lamp-00001@2026-11-24T18:00:00+1h", "with a time zone"),
        ("day-burner:lamp-00001@2026-13-24T18:00:00Z+1h", "not an ISO 8601 instant"),
        ("day-burner:lamp-00001@0+1h/30m", "EVERY >= DURATION"),
        ("day-burner:lamp-00001@0+29d", "at most 28 days"),
        ("day-burner:lamp-00001@0+0s", "more than 0 s"),
        ("day-burner:lamp-00001@0+1h=80", "only a pm25-episode takes a =LEVEL"),
        ("pm25-episode:city@0+1h=lots", "not a PM2.5 level"),
        ("pm25-episode:city@0+1h=2000", "between 0 and 1000"),
    ],
)
def test_malformed_incidents_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_incident(text)


# -- resolved on the city ------------------------------------------------------------------------


def plan(city: City, *texts: str, anchor: float = NOON) -> IncidentPlan:
    return IncidentPlan([parse_incident(t) for t in texts], city, anchor=anchor)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day-burner:lamp-99999@0+1h", "no device 'lamp-99999'"),
        ("day-burner:cabinet-001@0+1h", "does not happen to cabinet-001"),
        ("supply-loss:lamp-00001@0+1h", "does not happen to lamp-00001"),
        ("stuck:gw-bonn-lighting@0+1h", "no device"),
        ("pm25-episode:Atlantis@0+1h", "neither a district"),
        ("pm25-episode:lamp-00001@0+1h", "neither a district"),
    ],
)
def test_targets_are_checked_against_the_city(city: City, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(city, text)


def test_a_district_without_a_station_is_refused(city: City) -> None:
    measured = {s.district for s in city.stations}
    empty = next(d for d in city.geography.districts if d.name not in measured)
    with pytest.raises(ValueError, match="has no air-quality station"):
        plan(city, f"pm25-episode:{empty.name}@0+1h")


def test_any_or_city_without_such_devices_skips_the_incident() -> None:
    bare = build_city(CityConfig(seed=7, lights=10, stations=0, bays=0, garages=0, faults=FaultRates.none()))
    incidents = plan(bare, "pm25-episode:city@0+1h", "pm25-episode:any@0+1h", "stuck:any@0+1h", "day-burner:any@0+1h")
    assert not incidents.has_episodes
    assert incidents.pm25_level("aq-001", NOON) is None
    assert [f.kind for f in incidents.faults_between(NOON - H, NOON + H)] == ["day-burner"]
    assert incidents.describe()[:3] == [
        "incident: pm25-episode on city skipped: the city has no air-quality station",
        "incident: pm25-episode on any skipped: the city has no air-quality station",
        "incident: stuck on any skipped: the city has no device a stuck happens to",
    ]
    # A named district still has to exist and be measured.
    with pytest.raises(ValueError, match="has no air-quality station"):
        plan(bare, f"pm25-episode:{bare.geography.districts[0].name}@0+1h")


def test_device_and_entity_ids_name_the_same_device(city: City) -> None:
    by_device = plan(city, "day-burner:lamp-00007@0+1h")
    by_entity = plan(city, "day-burner:urn:ngsi-ld:Streetlight:lamp-00007@0+1h")
    assert by_device.hits(0, 0) == by_entity.hits(0, 0) == ("lamp-00007",)


def test_districts_by_name_key_or_case_and_the_whole_city(city: City) -> None:
    station = city.stations[0]
    district = next(d for d in city.geography.districts if d.name == station.district)
    members = tuple(sorted(s.device.id for s in city.stations if s.district == station.district))
    for target in (district.name, district.key, district.name.upper()):
        assert plan(city, f"pm25-episode:{target}@0+1h").hits(0, 0) == members
    assert plan(city, f"pm25-episode:{station.device.entity_id}@0+1h").hits(0, 0) == (station.device.id,)
    assert plan(city, "pm25-episode:city@0+1h").hits(0, 0) == tuple(sorted(s.device.id for s in city.stations))


def test_repetitions_and_offsets_from_the_live_start(city: City) -> None:
    incidents = plan(city, "lamp-failure:lamp-00003@-30m+10m/1h")
    faults = incidents.faults_between(NOON - 2 * H, NOON + 3 * H)
    # First at the anchor minus 30 minutes, then every hour; none before the first.
    assert [(f.start - NOON, f.end - NOON) for f in faults] == [
        (-1800.0, -1200.0),
        (1800.0, 2400.0),
        (5400.0, 6000.0),
        (9000.0, 9600.0),
    ]
    assert {(f.device_id, f.kind) for f in faults} == {("lamp-00003", "lamp-failure")}
    # Asked in pieces, each occurrence comes exactly once.
    pieces = [f for hour in range(-2, 3) for f in incidents.faults_between(NOON + hour * H, NOON + (hour + 1) * H)]
    assert pieces == faults


def test_a_single_incident_happens_once(city: City) -> None:
    absolute = datetime(2026, 11, 24, 10, tzinfo=UTC).timestamp()
    incidents = plan(city, "silent:bay-00001@2026-11-24T10:00:00Z+15m")
    assert [(f.device_id, f.start, f.end) for f in incidents.faults_between(0.0, 4e9)] == [
        ("bay-00001", absolute, absolute + 900.0)
    ]
    assert incidents.faults_between(absolute + 1.0, 4e9) == []


def test_any_picks_a_device_per_repetition_from_the_seed(city: City) -> None:
    first = plan(city, "day-burner:any@0+20m/1h")
    again = plan(city, "day-burner:any@0+20m/1h", anchor=NOON + 5 * H)  # the anchor moves times, not picks
    picks = [first.hits(0, n) for n in range(24)]
    assert picks == [again.hits(0, n) for n in range(24)]
    lamps = {light.device.id for light in city.lights}
    assert all(len(p) == 1 and p[0] in lamps for p in picks)
    assert len(set(picks)) > 12  # a new lamp most hours
    other_seed = IncidentPlan([parse_incident("day-burner:any@0+20m/1h")], city, anchor=NOON, seed=8)
    assert [other_seed.hits(0, n) for n in range(24)] != picks


def test_any_keeps_lamp_faults_off_circuits_that_are_out(city: City) -> None:
    # The cabinet's outage comes first: the lamp picked after it must not hang on that cabinet
    # at the same time, else the outage would hide the lamp's own fault.
    incidents = plan(city, "supply-loss:any@0+30m/1h", "day-burner:any@0+30m/1h", "day-burner:any@0+30m/1h")
    cabinet_of = {light.device.id: city.cabinets[light.cabinet_index].device.id for light in city.lights}
    for n in range(40):
        (cabinet,) = incidents.hits(0, n)
        (first,) = incidents.hits(1, n)
        (second,) = incidents.hits(2, n)
        assert cabinet_of[first] != cabinet and cabinet_of[second] != cabinet
        assert first != second


def test_any_district_of_an_episode_has_stations(city: City) -> None:
    incidents = plan(city, "pm25-episode:any@0+1h/2h")
    districts = {s.device.id: s.district for s in city.stations}
    for n in range(10):
        hit = incidents.hits(0, n)
        assert hit and len({districts[s] for s in hit}) == 1
        assert set(hit) == {s for s, d in districts.items() if d == districts[hit[0]]}


def test_episode_levels_in_and_out_of_their_window(city: City) -> None:
    station = city.stations[0]
    incidents = plan(
        city, f"pm25-episode:{station.device.id}@0+1h=80", "pm25-episode:city@-1h+3h=5", "pm25-episode:city@5h+1h/1d"
    )
    other = next(s.device.id for s in city.stations if s.device.id != station.device.id)
    assert incidents.pm25_level(station.device.id, NOON - 2 * H) is None
    assert incidents.pm25_level(station.device.id, NOON - 30 * M) == 5.0
    assert incidents.pm25_level(station.device.id, NOON) == 80.0  # overlapping: the highest level holds
    assert incidents.pm25_level(other, NOON) == 5.0
    assert incidents.pm25_level(station.device.id, NOON + 1 * H) == 5.0  # the end is exclusive
    assert incidents.pm25_level(station.device.id, NOON + 2 * H) is None
    assert incidents.pm25_level(other, NOON + 5.5 * H) == DEFAULT_PM25_LEVEL
    assert incidents.pm25_level(other, NOON + 29.5 * H) == DEFAULT_PM25_LEVEL  # a day later, again
    assert incidents.pm25_level(other, NOON + 7 * H) is None


def test_descriptions_name_devices_and_times(city: City) -> None:
    lines = plan(city, "day-burner:lamp-00005@-10m+6m", "pm25-episode:city@0+20m/1h=90").describe()
    assert lines[0] == "incident: day-burner on lamp-00005 from 2026-11-24T10:50:00Z for 6m"
    assert lines[1].startswith(
        "incident: pm25-episode at 90 µg/m³ on aq-001, aq-002, aq-003, aq-004, aq-005 and 5 more"
    )
    assert lines[1].endswith("from 2026-11-24T11:00:00Z for 20m, every 1h")


# -- what the devices report ---------------------------------------------------------------------


def test_a_day_burner_burns_at_noon_and_goes_out_when_it_ends(city: City) -> None:
    scripted = with_incidents(city, "day-burner:lamp-00011@+5m+30m")
    messages = run(CityEngine(scripted, NOON), NOON + 2 * H, 300.0)
    light = scripted.lights[10]
    reports = [m for m in messages if m.device_id == "lamp-00011"]
    during = [m for m in reports if NOON + 5 * M <= m.ts < NOON + 35 * M]
    # It says so at once when the relay sticks, then every quarter hour, at full power by day.
    assert during[0].ts == NOON + 5 * M
    assert len(during) >= 2
    full = (light.spec.nominal_w + light.spec.standby_w) * light.spec.meter_factor
    for m in during:
        assert m.measures["on"] is True and m.measures["dim"] == 100
        assert full * 0.9 < m.measures["power"] < full * 1.1
    after = [m for m in reports if m.ts >= NOON + 35 * M]
    assert after[0].ts == NOON + 35 * M
    assert all(m.measures["on"] is False and m.measures["power"] < light.spec.standby_w * 1.2 for m in after)
    # Its neighbours never noticed anything.
    others = [m for m in messages if m.device_id.startswith("lamp-") and m.device_id != "lamp-00011"]
    assert others and all(m.measures["on"] is False for m in others)


def test_a_cabinet_outage_reads_zero_and_darkens_only_its_lamps(city: City) -> None:
    scripted = with_incidents(city, "supply-loss:cabinet-002@+10m+20m")
    # Evening: the lamps burn, so an outage shows in every lamp behind the cabinet.
    evening = datetime(2026, 11, 24, 20, tzinfo=BERLIN).timestamp()
    messages = run(CityEngine(scripted, evening), evening + H, 120.0)
    cabinet = next(c for c in scripted.cabinets if c.device.id == "cabinet-002")
    out_from, out_to = evening + 10 * M, evening + 30 * M
    meter = [m for m in messages if m.device_id == "cabinet-002"]
    during = [m for m in meter if out_from <= m.ts < out_to]
    assert during[0].ts == out_from
    assert all(
        m.measures["supply"] is False and m.measures["voltage"] == 0 and m.measures["power"] == 0 for m in during
    )
    back = [m for m in meter if m.ts >= out_to]
    assert back[0].ts == out_to and back[0].measures["supply"] is True and back[0].measures["voltage"] > 200
    mine = {scripted.lights[i].device.id for i in cabinet.light_indices}
    dark = [m for m in messages if m.device_id in mine and out_from <= m.ts < out_to]
    # Battery-backed controllers say "no supply"; the others say nothing until it is back.
    assert all(m.measures["status"] == "noSupply" and m.measures["power"] == 0 for m in dark)
    assert mine <= {m.device_id for m in messages if m.ts == out_to}
    lit_elsewhere = [m for m in messages if m.device_id.startswith("lamp-") and m.device_id not in mine]
    assert lit_elsewhere and all(m.measures["on"] and m.measures["status"] == "ok" for m in lit_elsewhere)


def test_a_reference_station_reads_the_episode_level() -> None:
    park = StationSpec(device_id="aq-park", grade="reference", traffic_exposure=0.0, urban=0.5, gain=1.0, interval=60)
    kerb = StationSpec(device_id="aq-kerb", grade="reference", traffic_exposure=1.0, urban=0.5, gain=1.0, interval=60)

    def episode(station: str, t: float) -> float | None:
        return 80.0 if NOON <= t < NOON + H else None

    model = AirModel(7, episode)
    plain = AirModel(7)
    for minute in range(0, 60, 5):
        t = NOON + minute * M
        # A reference monitor in a park: the level itself, within its 2 % noise (4 sigma).
        assert model.truth(park, t).pm25 == 80.0
        assert 80.0 * 0.92 < model.reading(park, t).pm25 < 80.0 * 1.08
        # At the kerb the traffic's share comes on top; PM10 follows PM2.5 up.
        assert model.truth(kerb, t).pm25 > 80.0
        assert model.truth(park, t).pm10 > 80.0
        # The gases do not change.
        assert model.truth(park, t).no2 == plain.truth(park, t).no2
    after = NOON + H + 5 * M
    assert model.reading(park, after) == plain.reading(park, after)


def test_a_low_cost_station_reads_an_episode_high_as_ever() -> None:
    node = StationSpec(device_id="aq-node", grade="low-cost", traffic_exposure=0.0, urban=0.5, gain=1.0, interval=120)
    model = AirModel(7, lambda station, t: 60.0)
    sample = model.truth(node, NOON)
    # The node reports the raw optical value: the inverse of the Barkjohn correction, about 40 % high.
    raw = (60.0 + 0.0862 * sample.humidity - 5.75) / 0.524
    assert 0.7 * raw < model.reading(node, NOON).pm25 < 1.3 * raw


def test_an_episode_in_a_district_reaches_only_its_stations(city: City) -> None:
    station = next(s for s in city.stations if s.spec.grade == "reference")
    scripted = with_incidents(city, f"pm25-episode:{station.district}@0+30m=150")
    messages = run(CityEngine(scripted, NOON), NOON + 45 * M, 300.0)
    members = {s.device.id for s in scripted.stations if s.district == station.district}
    episode = [m for m in messages if m.device_id in members and m.ts < NOON + 30 * M]
    mine = [m for m in episode if m.device_id == station.device.id]
    assert len(mine) == 30  # a reference monitor reports every minute
    assert all(150 * 0.9 < m.measures["pm25"] < 150 * 1.1 for m in mine)  # within its gain and noise
    assert all(m.measures["pm25"] > 100 for m in episode)
    elsewhere = [m for m in messages if m.device_id.startswith("aq-") and m.device_id not in members]
    assert elsewhere and all(m.measures["pm25"] < 100 for m in elsewhere)
    later = [m for m in messages if m.device_id == station.device.id and m.ts >= NOON + 30 * M]
    assert later and all(m.measures["pm25"] < 100 for m in later)


def test_incidents_do_not_depend_on_how_time_is_cut(city: City) -> None:
    scripted = with_incidents(
        city, "day-burner:any@+5m+40m/1h", "supply-loss:any@+20m+15m/2h", "pm25-episode:any@0+30m/1h=90"
    )
    coarse = run(CityEngine(scripted, NOON), NOON + 4 * H, 900.0)
    fine = run(CityEngine(scripted, NOON), NOON + 4 * H, 47.0)

    def key(m: Message) -> tuple[str, float, str]:
        return m.device_id, m.ts, repr(sorted((k, v) for k, v in m.measures.items() if k != "energy"))

    assert sorted(map(key, coarse)) == sorted(map(key, fine))


# -- the runner anchors them -----------------------------------------------------------------------


class Collect:
    """A transport that keeps every message."""

    def __init__(self) -> None:
        self.stats = SendStats()
        self.messages: list[Message] = []

    async def send(self, messages: Sequence[Message]) -> None:
        self.messages.extend(messages)

    async def flush(self) -> None:
        pass

    async def close(self) -> None:
        pass


def test_offsets_count_from_the_live_start_after_a_backfill(city: City) -> None:
    scripted = with_incidents(city, "day-burner:lamp-00002@-1h+10m")
    transport = Collect()
    lines: list[str] = []
    clock = iter(NOON + n * 0.01 for n in range(10_000))
    simulation = Simulation(scripted, transport, clock=lambda: next(clock), progress=lines.append)
    asyncio.run(simulation.run(RunPlan(start=NOON, backfill_days=2 * H / 86_400.0, duration=0.0)))
    burning = [m for m in transport.messages if m.device_id == "lamp-00002" and m.measures["on"]]
    # The incident lies an hour before the live start, inside the two hours of backfill.
    assert burning and {m.ts for m in burning} >= {NOON - H}
    assert all(NOON - H <= m.ts < NOON - 50 * M for m in burning)
    assert "incident: day-burner on lamp-00002 from 2026-11-24T10:00:00Z for 10m" in lines
