"""The ingestion benchmark: its batches are what it says, and a small run measures a real server."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from rich.console import Console

from conftest import need_service
from urbis.bench.ingest import MEASURES, _gateway_bodies, bench_backend


def test_gateway_batches_hold_distinct_readings_for_every_member() -> None:
    members = {"gw-0": ["aq-0", "aq-2"], "gw-1": ["aq-1", "aq-3"]}
    bodies = _gateway_bodies(members, per_device=3, requests=4, start_us=0)
    assert [gateway for gateway, _ in bodies] == ["gw-0", "gw-1", "gw-0", "gw-1"]
    stamps: dict[str, list[str]] = {}
    for _, body in bodies:
        for device, readings in orjson.loads(body).items():
            assert len(readings) == 3
            for reading in readings:
                assert set(reading) == {"ts", *MEASURES}
                stamps.setdefault(device, []).append(reading["ts"])
    # Two rounds of three readings per station, never the same instant twice (no duplicates to drop).
    assert {device: len(set(times)) for device, times in stamps.items()} == dict.fromkeys(stamps, 6)


def test_a_small_run_measures_both_paths(tmp_path: Path) -> None:
    need_service(None if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists() else "no mosquitto")
    figures = bench_backend(
        "sqlite",
        f"sqlite:///{tmp_path / 'bench.db'}",
        http_measures=12_000,
        mqtt_messages=400,
        stations=250,
        workers=1,
        publishers=1,
        console=Console(quiet=True),
    )
    assert figures.http_measures == 12_000
    assert figures.mqtt_measures == 400
    assert figures.http_per_s > 0 and figures.mqtt_per_s > 0 and figures.backlog_per_s > 0 and figures.raw_per_s > 0
    assert 0 <= figures.latency_p50_ms <= figures.latency_p99_ms
