"""What the benchmarks share: a fresh database, a real ``urbis serve`` subprocess, percentiles."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console

from urbis.core.db import throwaway_postgres_database


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(database_url: str, workers: int, environment: dict[str, str] | None = None) -> Iterator[str]:
    """An ``urbis serve`` subprocess on a free loopback port; yields its base URL."""
    port = free_port()
    # The broker and ingestion benchmarks measure the broker and ingestion alone: the city
    # solutions, which evaluate what comes in, are left off here and measured on their own.
    env = dict(os.environ, URBIS_DATABASE_URL=database_url, URBIS_LOG_LEVEL="warning", URBIS_SOLUTIONS_ENABLED="false")
    env.update(environment or {})
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from urbis.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--skip-migrate",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not start: {process.stderr.read().decode() if process.stderr else ''}"
                )
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def mosquitto(binary: str = "mosquitto") -> Iterator[int]:
    """A Mosquitto of the benchmark's own, configured as docs/devices.md advises; yields its port.

    The machine's broker may keep Mosquitto's defaults, which drop QoS 1 messages beyond
    1,000 queued for a subscriber that lags: a benchmark must not measure that.
    """
    import getpass
    import shutil
    import tempfile
    from pathlib import Path

    executable = shutil.which(binary) or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            f"persistence true\npersistence_location {folder}/\nmax_queued_messages 1000000\nset_tcp_nodelay true\n"
        )
        process = subprocess.Popen([executable, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the benchmark's Mosquitto did not start") from None
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=15)


def percentiles(samples: list[float], *points: float) -> list[float]:
    """The given percentiles (0–100) of ``samples`` by the nearest-rank rule."""
    ordered = sorted(samples)
    if not ordered:
        return [float("nan")] * len(points)
    return [ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))] for p in points]


def median(samples: list[float]) -> float:
    """The median of ``samples``."""
    return statistics.median(samples)


@contextmanager
def bench_database(backend: str, postgres_admin_url: str) -> Iterator[str]:
    """A fresh database URL for one benchmark run: a temporary SQLite file or a throw-away PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
    elif backend == "postgresql":
        with throwaway_postgres_database(postgres_admin_url, "urbis_bench") as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}; use sqlite, postgresql or both")


def profile_call(label: str, call: Callable[[], object], console: Console, *, entries: int = 20) -> None:
    """Print the top ``entries`` (cumulative time) of one call under cProfile."""
    profiler = cProfile.Profile()
    profiler.runcall(call)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(entries)
    console.print(f"[bold]cProfile: {label}[/bold]")
    console.print(stream.getvalue(), markup=False, highlight=False)
