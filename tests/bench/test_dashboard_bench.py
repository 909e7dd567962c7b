"""The dashboard benchmark: its city's history checked against the simulator, and a tiny run end to end."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from urbis.bench.dashboard import (
    NOW,
    DashboardScale,
    _slots,
    cabinet_history,
    lamp_history,
    parking_history,
    run_dashboard_bench,
    targets,
)
from urbis.sim.lighting import BurnCalendar, LampEnergy
from urbis.sim.world import build_city

END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_slots_run_every_step_from_the_first_day_to_the_end_both_included() -> None:
    slots = _slots(END, 2, 60)
    assert len(slots) == 49  # 48 hours and the end itself
    assert slots[0][0] == END - timedelta(days=2) and slots[-1][0] == END
    assert slots[1][1] == "2026-11-22T13:00:00.000000Z"
    assert slots[1][2] == int(datetime(2026, 11, 22, 13, tzinfo=UTC).timestamp()) * 1_000_000
    assert len(_slots(END, 1, 15)) == 97


def test_lamp_counters_grow_as_the_simulated_controllers_count_and_cabinets_sum_their_lamps() -> None:
    city = build_city(DashboardScale(lights=100, stations=1, bays=50, days=1).config())
    slots = _slots(END, 1, 60)
    counters = [[0.0] * len(slots) for _ in city.cabinets]
    readings = list(lamp_history(city, slots, counters))
    calendar = BurnCalendar(city.config.dimming)
    for light, reading in zip(city.lights, readings, strict=True):
        energy = [m.value for m in reading.measures if m.attribute == "energyConsumed"]
        assert len(energy) == len(slots)
        # The simulator's own counter (a closed form over its burn calendar) grows by the same amounts.
        simulated = LampEnergy(light.spec, calendar, slots[0][0].timestamp())
        for (at, _, _), value in zip(slots, energy, strict=True):
            assert value - energy[0] == pytest.approx(simulated.energy_at(at.timestamp()), abs=2e-3)
        levels = {m.value for m in reading.measures if m.attribute == "illuminanceLevel"}
        assert levels <= {0.0, 0.5, 1.0} and 0.0 in levels and 1.0 in levels  # off by day, full and dimmed by night
        # A November night in Bonn: lit about 15.5 h from dusk to dawn, 6 of them at 50 %: some 12.5 h of
        # full output a day, and the controller's standby draw around the clock.
        full_hours = (energy[-1] - energy[0]) * 1000 / light.spec.nominal_w
        assert 11.0 < full_hours < 14.0
    cabinets = cabinet_history(city, slots, counters)
    for cabinet, meter in zip(city.cabinets, cabinets, strict=True):
        first = sum(readings[i].measures[0].value for i in cabinet.light_indices)
        assert meter.measures[0].value == pytest.approx(first, abs=5e-4 * len(cabinet.light_indices))  # rounded to Wh


def test_every_bay_has_a_state_and_zones_and_garages_an_hourly_history() -> None:
    city = build_city(DashboardScale(lights=50, stations=1, bays=120, days=1).config())
    readings = parking_history(city, _slots(END, 1, 60))
    by_type: dict[str, list[object]] = {}
    for reading in readings:
        by_type.setdefault(reading.entity_type, []).append(reading)
    assert len(by_type["ParkingSpot"]) == len(city.bays) == 120
    assert len(by_type["OnStreetParking"]) == len(city.zones)
    for reading in readings:
        if reading.entity_type == "OnStreetParking":
            assert len(reading.measures) == 2 * 25  # occupancy and occupied bays, 25 hours
            assert all(0.0 <= m.value <= 1.0 for m in reading.measures if m.attribute == "occupancy")
        if reading.entity_type == "ParkingSpot":
            (status,) = reading.measures
            assert status.value in ("free", "occupied") and status.observed_us < int(NOW.timestamp() * 1e6)


def test_a_tiny_city_on_sqlite_end_to_end() -> None:
    output = io.StringIO()
    console = Console(file=output, width=200)
    scale = DashboardScale(lights=50, stations=3, bays=60, days=2)
    (result,) = run_dashboard_bench(
        backends=["sqlite"],
        postgres_admin_url="postgresql://unused",
        scale=scale,
        requests=3,
        cold_requests=2,
        console=console,
        settle_gc=False,
    )
    assert [t.name for t in result.targets] == [name for name, _ in targets()]
    assert [t.name for t in result.targets][:3] == ["page", "json", "fragment air"]
    for measured in result.targets:
        assert len(measured.cold) == 2 and len(measured.warm) == 3
        assert all(0 < seconds < 30 for seconds in measured.cold + measured.warm)
    volumes = result.volumes
    # 50 lamps and their one cabinet, 49 hourly slots, 2 readings each, and 3 more at the end per lamp.
    assert volumes.lamp_rows == 50 * (49 * 2 + 3) + len(build_city(scale.config()).cabinets) * (49 + 1)
    assert volumes.station_rows > 3 * 48 * 4 and volumes.parking_rows > 60
    assert volumes.alarms > 0 and volumes.snapshots == 3 and volumes.rolled_rows >= volumes.history_rows
    figures = result.figures
    for key in ("city_aqi", "lights_working", "energy_saved_today", "energy_saved_month", "parking_occupancy"):
        assert (figures[key] or 0) > 0, key
    assert (figures["alarms_active"] or 0) > 0 and figures["who_days"] is not None
    assert result.baseline > 0 and set(result.baseline_parts) == {
        "lamps counted",
        "bay documents",
        "24 h of station hours",
    }
    text = output.getvalue()
    for name, path in targets():
        assert f"{name} ({path})" in text
    assert "plain SQL reads (baseline)" in text and "sharing between browsers OFF" in text
