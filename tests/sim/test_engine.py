"""The city in motion: what each device reports and when, and that windows do not change the story."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime

import pytest

from urbis.sim.engine import CABINET_LINE_LOSS, CABINET_OWN_W, CityEngine, Message, periodic
from urbis.sim.faults import FaultBook, FaultRates
from urbis.sim.lighting import BERLIN, lamp_joules
from urbis.sim.world import City, CityConfig, build_city

NOON = datetime(2026, 11, 24, 12, tzinfo=BERLIN).timestamp()
H = 3600.0


def make_city(**faults: float) -> City:
    rates = FaultRates.none().with_overrides(faults) if faults else FaultRates.none()
    return build_city(CityConfig(seed=5, lights=120, stations=6, bays=80, garages=2, faults=rates))


def fault_book(city: City, hours: float) -> FaultBook:
    """The city's faults as drawn from the seed (the engine's own book forgets old ones)."""
    book = FaultBook(city.config.seed, city.config.faults, [(d.id, d.device_type) for d in city.devices()])
    book.prepare(NOON, NOON + hours * H)
    return book


def run(engine: CityEngine, end: float, window: float) -> list[Message]:
    out: list[Message] = []
    while engine.time < end:
        out += engine.step(min(end, engine.time + window))
    return out


def by_device(messages: list[Message]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        out[message.device_id].append(message)
    return out


def test_periodic_reports_at_each_phase() -> None:
    phases, order = [10.0, 300.0, 899.0], [2, 0, 1]
    got = list(periodic(phases, order, 900.0, 0.0, 1800.0))
    assert got == [(10.0, 2), (300.0, 0), (899.0, 1), (910.0, 2), (1200.0, 0), (1799.0, 1)]
    assert list(periodic(phases, order, 900.0, 300.0, 301.0)) == [(300.0, 0)]
    assert list(periodic(phases, order, 900.0, 301.0, 301.0)) == []


def test_boot_reports_every_device_once() -> None:
    city = make_city()
    messages = CityEngine(city, NOON).boot()
    expected = {d.id for d in city.devices() if d.device_type != "gateway"}
    assert sorted(m.device_id for m in messages) == sorted(expected)
    assert all(m.ts == NOON for m in messages)
    lamp = next(m for m in messages if m.device_id.startswith("lamp-"))
    assert set(lamp.measures) == {"on", "dim", "power", "energy", "status"}
    assert lamp.payload()["ts"] == int(NOON * 1000)


def test_windows_do_not_change_the_story() -> None:
    city = make_city(lamp_failure=0.5, day_burner=0.5, supply_loss=1.0, silent=0.5, stuck=1.0, drift=1.0)
    coarse = run(CityEngine(city, NOON), NOON + 8 * H, 900.0)
    fine = run(CityEngine(city, NOON), NOON + 8 * H, 37.0)

    def key(m: Message) -> tuple[str, float, str]:
        measures = {k: v for k, v in m.measures.items() if k != "energy"}
        return m.device_id, m.ts, repr(sorted(measures.items()))

    assert sorted(map(key, coarse)) == sorted(map(key, fine))
    energies = {(m.device_id, m.ts): m.measures.get("energy") for m in coarse}
    for m in fine:
        if "energy" in m.measures:
            assert m.measures["energy"] == pytest.approx(energies[(m.device_id, m.ts)], abs=0.0011)
    assert all(NOON <= m.ts < NOON + 8 * H for m in coarse)
    assert [m.ts for m in coarse] == sorted(m.ts for m in coarse)


def test_lights_switch_on_at_dusk_dim_at_eleven_and_report_every_quarter_hour() -> None:
    city = make_city()
    engine = CityEngine(city, NOON)
    messages = by_device(run(engine, NOON + 24 * H, 900.0))
    dusk = engine.calendar.night(date(2026, 11, 24))[0].start
    for light in city.lights:
        reports = messages[light.device.id]
        # Every 15 minutes plus the four switching moments (on, dim, undim, off).
        assert len(reports) == 96 + 4
        first_on = next(m for m in reports if m.measures["on"])
        assert first_on.ts == pytest.approx(dusk + light.spec.switch_offset)
        assert first_on.measures["dim"] == 100
        dimmed = [m for m in reports if m.measures["dim"] == 50]
        assert dimmed and all(
            datetime.fromtimestamp(m.ts - light.spec.switch_offset, BERLIN).hour in (23, 0, 1, 2, 3, 4) for m in dimmed
        )
        for m in reports:
            expected = light.spec.standby_w + light.spec.nominal_w * m.measures["dim"] / 100
            # 2 % tolerance of the reading, and a rounding to 0.1 W.
            assert m.measures["power"] == pytest.approx(expected * light.spec.meter_factor, rel=0.05, abs=0.15)
        energies = [m.measures["energy"] for m in reports]
        assert energies == sorted(energies)


def test_cabinet_meters_the_sum_of_its_lamps() -> None:
    city = make_city()
    engine = CityEngine(city, NOON)
    messages = by_device(engine.boot() + run(engine, NOON + 24 * H, 900.0))
    for cabinet in city.cabinets:
        reports = messages[cabinet.device.id]
        assert all(m.measures["supply"] and 220 < m.measures["voltage"] < 240 for m in reports)
        used = reports[-1].measures["energy"] - reports[0].measures["energy"]
        span = reports[-1].ts - reports[0].ts
        # The true draw of its lamps (their meters' calibration aside) plus line losses and its own 15 W.
        lamps = sum(
            lamp_joules(city.lights[i].spec, engine.calendar, reports[0].ts, reports[-1].ts)
            for i in cabinet.light_indices
        )
        expected = lamps / 3.6e6 * (1 + CABINET_LINE_LOSS) + CABINET_OWN_W * span / 3.6e6
        rated_kwh = (
            sum(city.lights[i].spec.nominal_w + city.lights[i].spec.standby_w for i in cabinet.light_indices)
            * 24
            / 1000
        )
        assert 0.3 * rated_kwh < used < 0.7 * rated_kwh  # a November night: 15 h lit, 6 of them dimmed
        assert used == pytest.approx(expected, rel=0.01)
        night = [m for m in reports if m.measures["power"] > 100]
        assert night and all(
            m.measures["current"] == pytest.approx(m.measures["power"] / (m.measures["voltage"] * 0.95), abs=0.01)
            for m in night
        )


def test_a_cabinet_losing_supply_reads_zero_and_its_lamps_go_dark_or_silent() -> None:
    city = make_city(supply_loss=3.0, supply_loss_hours=2.0)
    engine = CityEngine(city, NOON)
    messages = run(engine, NOON + 48 * H, 900.0)
    faults = [
        f
        for f in fault_book(city, 48).all_faults()
        if f.kind == "supply-loss" and f.start > NOON and f.end < NOON + 48 * H
    ]
    assert faults
    reports = by_device(messages)
    for fault in faults:
        cabinet = next(c for c in city.cabinets if c.device.id == fault.device_id)
        during = [m for m in reports[cabinet.device.id] if fault.start <= m.ts < fault.end]
        assert during and all(not m.measures["supply"] and m.measures["voltage"] == 0 for m in during)
        lamp_reports = [
            m
            for i in cabinet.light_indices
            for m in reports[city.lights[i].device.id]
            if fault.start <= m.ts < fault.end
        ]
        assert all(m.measures["power"] == 0 and m.measures["status"] == "noSupply" for m in lamp_reports)
        # At the end of the fault every lamp says so at once (unless another loss goes on).
        if not any(o.device_id == fault.device_id and o.start <= fault.end < o.end for o in faults if o is not fault):
            back = {m.device_id for m in messages if m.ts == fault.end}
            assert {city.lights[i].device.id for i in cabinet.light_indices} <= back


def test_day_burners_and_failed_lamps_show_in_power() -> None:
    city = make_city(day_burner=0.5, lamp_failure=0.5, lamp_failure_hours=6.0, day_burner_hours=6.0)
    engine = CityEngine(city, NOON)
    messages = run(engine, NOON + 48 * H, 900.0)
    book = fault_book(city, 48)
    seen_burner = seen_failure = False
    for m in messages:
        if not m.device_id.startswith("lamp-"):
            continue
        active = {f.kind for f in book.active(m.device_id, m.ts)}
        light = city.lights[int(m.device_id.split("-")[1]) - 1]
        if "lamp-failure" in active and m.measures["on"]:
            assert m.measures["power"] < light.spec.standby_w * 1.2
            seen_failure = True
        elif "day-burner" in active and "lamp-failure" not in active:
            assert m.measures["on"] and m.measures["dim"] == 100
            assert m.measures["power"] > light.spec.nominal_w * 0.9
            seen_burner = True
    assert seen_burner and seen_failure


def test_silent_devices_say_nothing() -> None:
    city = make_city(silent=2.0, silent_hours=3.0)
    engine = CityEngine(city, NOON)
    messages = run(engine, NOON + 24 * H, 600.0)
    silent: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in fault_book(city, 24).all_faults():
        if f.kind == "silent":
            silent[f.device_id].append((f.start, f.end))
    assert silent
    for m in messages:
        assert not any(start <= m.ts < end for start, end in silent.get(m.device_id, ())), m


def test_stations_bays_and_garages_report_on_schedule() -> None:
    city = make_city()
    engine = CityEngine(city, NOON)
    reports = by_device(run(engine, NOON + 6 * H, 300.0))
    for station in city.stations:
        times = [m.ts for m in reports[station.device.id]]
        assert len(times) == 6 * H / station.spec.interval
        assert all(b - a == pytest.approx(station.spec.interval) for a, b in itertools.pairwise(times))
    for bay in city.bays:
        times = [m.ts for m in reports[bay.device.id]]
        assert len([t for t in times if (t - bay.phase) % H == pytest.approx(0.0, abs=1e-6)]) >= 5  # hourly heartbeats
        changes = [m.measures["occupied"] for m in reports[bay.device.id]]
        assert all(isinstance(value, bool) for value in changes)
    for garage in city.garages:
        counts = reports[garage.device.id]
        assert len(counts) == 6 * 12
        assert all(c.measures["occupied"] + c.measures["free"] == garage.capacity for c in counts)


def test_a_stuck_bay_sensor_keeps_reporting_occupied() -> None:
    city = make_city(stuck=2.0, stuck_hours=4.0)
    engine = CityEngine(city, NOON)
    messages = run(engine, NOON + 24 * H, 900.0)
    stuck = [f for f in fault_book(city, 24).all_faults() if f.kind == "stuck" and f.device_id.startswith("bay-")]
    assert stuck
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in stuck:
        spans[f.device_id].append((f.start, f.end))
    during = [m for m in messages if any(start <= m.ts < end for start, end in spans.get(m.device_id, ()))]
    assert during and all(m.measures["occupied"] is True for m in during)
