"""``urbis demo``: the demo accounts, and the simulated city of Bonn running against the server.

The accounts are made in-process before the server starts.  The city comes from the
simulator (``urbis simulate``), started as a separate process once the server is up: it logs
in as the demo admin, creates the city's entities and devices through the public API and
keeps their measures flowing over HTTP, so the demo shows a living city and needs no other
service; a few scripted incidents (a cabinet outage, lamp faults, a PM2.5 episode) give the
solutions something to raise at once.  Its output goes to ``<data dir>/simulator.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import typer

from urbis.core.auth.service import AccountService
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists
from urbis.core.settings import Settings

#: The demo accounts: username -> roles in the demo tenant.
DEMO_ACCOUNTS = {
    "admin": ["admin"],
    "operator": ["operator"],
    "mayor": ["viewer"],
    "citizen": ["citizen"],
    # The simulated residents report problems as this neighbour of the demo citizen.
    "neighbour": ["citizen"],
}


def demo_passwords(data_dir: Path) -> dict[str, str]:
    """The demo accounts' passwords: made once per data folder, then read back."""
    path = data_dir / "demo-accounts.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if all(name in stored for name in DEMO_ACCOUNTS):
        return stored
    # Accounts a newer demo added get their passwords; the ones made before keep theirs.
    passwords = {name: stored.get(name) or f"{name}-{secrets.token_urlsafe(9)}" for name in DEMO_ACCOUNTS}
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords, indent=2))
    path.chmod(0o600)
    return passwords


def seed_demo(settings: Settings) -> dict[str, str]:
    """Put the demo accounts into the default tenant; returns the passwords.

    The city itself is created by the simulator through the API (see :func:`run_with_simulator`).
    """
    db = Database(settings.effective_database_url)
    try:
        tenant = settings.default_tenant
        accounts = AccountService(db, settings)
        passwords = demo_passwords(settings.data_dir)
        for username, roles in DEMO_ACCOUNTS.items():
            try:
                accounts.create_user(username, passwords[username], tenant=tenant, roles=roles)
            except AlreadyExists:  # seeded before: same password, and roles in this tenant too
                accounts.set_password(username, passwords[username])
                for role in roles:
                    accounts.grant_role(username, tenant, role)
        return passwords
    finally:
        db.dispose()


STOP_SECONDS = 15.0

#: Scripted incidents of the demo, so a fresh demo shows alarms, work orders and an air-quality
#: alert within a minute, and one left running keeps showing new ones.  Each starts hours into
#: the backfill: the solutions judge the reports they find at each run, and a fault needs two of
#: them (a lamp reports every quarter hour), so only a fault already under way when the backfill
#: passes through it is confirmed by the time it ends; the NowCast likewise wants the episode in
#: the last complete hours.  Staggered by a few minutes, repeated every six hours on another
#: device or district each time.  Both lamp faults run: by day only a day-burner shows, at night
#: only a failed lamp (a stuck relay changes nothing while lamps are meant to burn at full power).
DEMO_INCIDENTS = (
    "supply-loss:any@-5h+5h20m/6h",
    "day-burner:any@-4h55m+5h20m/6h",
    "lamp-failure:any@-4h50m+5h20m/6h",
    "pm25-episode:any@-4h+5h/6h=75",
)


def simulator_command(settings: Settings, *, backfill_days: float, extra: list[str] | None = None) -> list[str]:
    """The ``urbis simulate`` command line that runs the demo city against the demo server.

    The demo's incidents (:data:`DEMO_INCIDENTS`) come along unless ``extra`` names incidents
    of its own.
    """
    extra = extra or []
    incidents = [] if "--incident" in extra else [arg for text in DEMO_INCIDENTS for arg in ("--incident", text)]
    return [
        sys.executable,
        "-c",
        "from urbis.cli import main; main()",
        "simulate",
        "--url",
        _local_url(settings),
        "--tenant",
        settings.default_tenant,
        "--username",
        "admin",
        "--tokens-file",
        str(settings.data_dir / "simulator-tokens.json"),
        "--backfill-days",
        f"{backfill_days:g}",
        "--wait",
        "120",
        "--resident",
        "neighbour",
        *incidents,
        *extra,
    ]


def _local_url(settings: Settings) -> str:
    # The server binds settings.host; 0.0.0.0 (all interfaces) is reached through loopback.
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the simulator gets SIGTERM if the demo dies, even by SIGKILL."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_simulator(settings: Settings, passwords: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """Start the simulator in the background (it waits for the server); None when switched off."""
    # Tuned by settings (URBIS_DEMO_SIMULATE, URBIS_DEMO_BACKFILL_DAYS, URBIS_DEMO_SIMULATOR_ARGS).
    if not settings.demo_simulate:
        return None
    backfill = settings.demo_backfill_days
    extra = settings.demo_simulator_args.split()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "simulator.log"
    env = {
        **os.environ,
        "URBIS_SIMULATE_PASSWORD": passwords["admin"],
        "URBIS_SIMULATE_RESIDENT_PASSWORD": passwords["neighbour"],
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            simulator_command(settings, backfill_days=backfill, extra=extra),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def stop_simulator(process: subprocess.Popen[bytes] | None) -> None:
    """Ask the simulator to stop (it finishes the requests under way), then make sure it did."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_SECONDS)


def run_with_simulator(settings: Settings, passwords: dict[str, str]) -> None:
    """Serve Urbis with the simulated city running against it; both stop together."""
    from urbis.cli import run_server

    process = start_simulator(settings, passwords)
    if process is not None:
        typer.echo(
            f"  Simulator    the city of Bonn comes alive in a few seconds (log: {settings.data_dir / 'simulator.log'})"
        )
    try:
        run_server(settings)
    finally:
        stop_simulator(process)
