"""Injected faults: reproducible from the seed, at the configured rates, whatever the order of questions."""

from __future__ import annotations

import pytest

from urbis.sim.faults import BLOCK_SECONDS, MAX_DURATION_SECONDS, Fault, FaultBook, FaultRates

DAY = 86_400.0
T0 = 1_795_000_000.0  # November 2026


def lamps(n: int) -> list[tuple[str, str]]:
    return [(f"lamp-{i}", "streetlight-controller") for i in range(n)]


def test_same_seed_same_faults_in_any_order() -> None:
    rates = FaultRates().scaled(50)
    first = FaultBook(1, rates, lamps(200))
    first.prepare(T0, T0 + 60 * DAY)
    second = FaultBook(1, rates, lamps(200))
    # Asked in small pieces and backwards: the same faults come out.
    for day in reversed(range(60)):
        second.prepare(T0 + day * DAY, T0 + (day + 1) * DAY)
    window = [f for f in first.all_faults() if f.start < T0 + 60 * DAY and f.end > T0]
    assert window == [f for f in second.all_faults() if f.start < T0 + 60 * DAY and f.end > T0]
    assert window, "faults at 50 times the default rates should happen in 60 days"
    other = FaultBook(2, rates, lamps(200))
    other.prepare(T0, T0 + 60 * DAY)
    assert [f for f in other.all_faults() if f.start < T0 + 60 * DAY and f.end > T0] != window


def test_rates_and_durations_match_the_configuration() -> None:
    rates = FaultRates.none().with_overrides({"lamp_failure": 0.1, "lamp_failure_hours": 5.0})
    book = FaultBook(3, rates, lamps(1000))
    start, end = 10 * BLOCK_SECONDS, 12 * BLOCK_SECONDS  # two whole blocks: 60 days
    book.prepare(start, end)
    faults = [f for f in book.all_faults() if start <= f.start < end]
    assert {f.kind for f in faults} == {"lamp-failure"}
    # Expected 0.1 x 1000 x 60 = 6000 starts (Poisson: sd 77); mean duration 5 h.
    assert 5_700 < len(faults) < 6_300
    mean_hours = sum(f.end - f.start for f in faults) / len(faults) / 3600
    assert 4.7 < mean_hours < 5.3
    assert all(f.end - f.start <= MAX_DURATION_SECONDS for f in faults)


def test_only_applicable_kinds_per_device_type() -> None:
    devices = [
        ("lamp", "streetlight-controller"),
        ("cabinet", "cabinet-meter"),
        ("station", "air-quality-station"),
        ("bay", "parking-bay-sensor"),
        ("garage", "garage-counter"),
        ("gateway", "gateway"),
    ]
    book = FaultBook(5, FaultRates().scaled(2000), devices)
    book.prepare(T0, T0 + 30 * DAY)
    kinds: dict[str, set[str]] = {}
    for fault in book.all_faults():
        kinds.setdefault(fault.device_id, set()).add(fault.kind)
    assert kinds["lamp"] == {"lamp-failure", "day-burner", "silent"}
    assert kinds["cabinet"] == {"supply-loss", "silent"}
    assert kinds["station"] == {"stuck", "drift", "silent"}
    assert kinds["bay"] == {"stuck", "silent"}
    assert kinds["garage"] == {"silent"}
    assert "gateway" not in kinds


def test_queries_active_faults_and_transitions() -> None:
    book = FaultBook(7, FaultRates.none().with_overrides({"silent": 1.0, "silent_hours": 2.0}), lamps(20))
    book.prepare(T0, T0 + 10 * DAY)
    fault = next(f for f in book.all_faults() if f.start > T0)
    middle = (fault.start + fault.end) / 2
    assert fault in book.active(fault.device_id, middle)
    assert book.active_kind(fault.device_id, "silent", middle) is not None
    assert book.active_kind(fault.device_id, "lamp-failure", middle) is None
    assert fault.active(fault.start) and not fault.active(fault.end)
    assert (fault.start, fault.device_id) in book.transitions(fault.start, fault.start + 1)
    assert (fault.end, fault.device_id) in book.transitions(fault.end - 1, fault.end + 1)
    assert fault in book.faults(fault.device_id, fault.start - 10, fault.start + 10)
    transitions = book.transitions(T0, T0 + 10 * DAY)
    assert transitions == sorted(transitions)
    book.prune(fault.end + 1)
    assert all(f.end >= fault.end + 1 for f in book.all_faults())


def test_no_faults_when_switched_off() -> None:
    book = FaultBook(9, FaultRates.none(), lamps(100))
    book.prepare(T0, T0 + 90 * DAY)
    assert book.all_faults() == [] and book.transitions(T0, T0 + 90 * DAY) == []
    assert not book.has_faults("lamp-1")


def test_overrides_are_checked() -> None:
    assert FaultRates().with_overrides({"day-burner": 0.5}).day_burner == 0.5
    with pytest.raises(ValueError, match="unknown fault setting"):
        FaultRates().with_overrides({"meteor_strike": 1.0})
    assert FaultRates().scaled(0) == FaultRates.none()


def test_fault_draw_is_fixed_per_fault() -> None:
    fault = Fault("aq-1", "drift", T0, T0 + DAY)
    assert fault.draw("rate") == Fault("aq-1", "drift", T0, T0 + DAY).draw("rate")
    assert fault.draw("rate") != Fault("aq-2", "drift", T0, T0 + DAY).draw("rate")
    assert 0 < fault.draw("rate") < 1
