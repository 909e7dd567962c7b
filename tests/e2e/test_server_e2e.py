"""End to end: a real ``urbis serve`` process on a free port, driven over real HTTP.

Each test starts the server as an operator would (``python -c "from urbis.cli import main; main()" serve
--host 127.0.0.1 --port <free port> --data-dir <tmp>``), waits for ``/healthz`` and talks to it with httpx.
Servers run on SQLite (their own data folder) and on PostgreSQL (the run's throw-away database, named by
``URBIS_DATABASE_URL``); every server gets a fresh default tenant.  :func:`running_server` always stops
the process (terminate, then kill), and every wait has a timeout, so a broken server fails a test instead
of hanging the run.  The helpers here are reused by ``test_ngsild_client.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from problem_details import assert_problem
from urbis.core.settings import Settings

CLI = [sys.executable, "-c", "from urbis.cli import main; main()"]
SECRET = "e2e-secret-key-0123456789-abcdefghijklmnopq"
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
HTTP_TIMEOUT = httpx.Timeout(15.0)
E = "/ngsi-ld/v1/entities"
OPS = "/ngsi-ld/v1/entityOperations"
JSON = "application/json"
LD = "application/ld+json"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
OPEN_WARNING = "URBIS_NGSILD_OPEN=1: the NGSI-LD API accepts reads and writes WITHOUT any token"


# --------------------------------------------------------------------------- harness


def free_port() -> int:
    """A TCP port nobody listens on right now (the server may still lose a race for it: see _start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(**values: str) -> dict[str, str]:
    """This process's environment without any ``URBIS_*`` variable, plus test settings and ``values``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("URBIS_")}
    env.update(
        {
            "URBIS_ENVIRONMENT": "test",
            "URBIS_SECRET_KEY": SECRET,
            "URBIS_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        }
    )
    env.update(values)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if the test process dies, even by SIGKILL."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_cli(
    args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one ``urbis`` command to completion (60 s at most)."""
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@dataclass
class Server:
    """A running ``urbis serve`` process."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        return (self.log_dir / "stderr.log").read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return (self.log_dir / "stdout.log").read_text(errors="replace")

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT, headers=headers)

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> bool:
        """True once ``/healthz`` answers 200; False if the process exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Terminate (then kill) the process; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)

    def describe(self) -> str:
        return f"urbis serve on port {self.port} (exit code {self.process.poll()}); stderr:\n{self.stderr[-4000:]}"


def _start(workdir: Path, env: dict[str, str], data_dir: Path, port: int | None, extra: list[str]) -> Server:
    for attempt in range(3):
        chosen = port or free_port()
        log_dir = workdir / f"server-{chosen}-{attempt}"
        log_dir.mkdir(parents=True)
        with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
            process = subprocess.Popen(
                [*CLI, "serve", "--host", "127.0.0.1", "--port", str(chosen), "--data-dir", str(data_dir), *extra],
                env=env,
                cwd=workdir,  # no stray urbis.toml
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        server = Server(process, chosen, data_dir, log_dir)
        if server.wait_ready():
            return server
        server.stop()
        if port is None and "address already in use" in server.stderr.lower():
            continue  # another process took the free port first: pick another
        what = "exited" if server.process.poll() is not None else f"was not ready within {STARTUP_SECONDS:.0f} s"
        pytest.fail(f"the server {what}: {server.describe()}")
    pytest.fail("no free port could be bound in three attempts")


@contextlib.contextmanager
def running_server(
    workdir: Path,
    env: dict[str, str],
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    extra: list[str] | None = None,
) -> Iterator[Server]:
    """A ready ``urbis serve`` process, stopped on exit whatever happens."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = _start(workdir, env, data_dir or workdir / "data", port, extra or [])
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- checks


def streetlight(number: int, **overrides: Any) -> dict[str, Any]:
    """A small normalized entity with a property, a relationship and a location."""
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Streetlight:e2e-{number}",
        "type": "Streetlight",
        "powerState": {"type": "Property", "value": "on" if number % 2 else "off"},
        "illuminanceLevel": {"type": "Property", "value": number / 10, "unitCode": "C62"},
        "refStreet": {"type": "Relationship", "object": "urn:ngsi-ld:Street:main"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [13.40 + number / 1000, 52.52]}},
    }
    entity.update(overrides)
    return entity


# --------------------------------------------------------------------------- tests


def test_entities_lifecycle_over_http(tmp_path: Path, backend: dict[str, str]) -> None:
    env = server_env(URBIS_NGSILD_OPEN="1", **backend)
    with running_server(tmp_path, env) as server, server.client() as http:
        health = http.get("/healthz").json()
        assert health["status"] == "ok" and health["database"] == "ok"
        assert http.get("/version").json()["broker"] == "urbis"

        # Create: 201, Location, empty body; a second create is 409.
        created = http.post(E, json=streetlight(1))
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == f"{E}/urn:ngsi-ld:Streetlight:e2e-1"
        assert created.content == b""
        assert_problem(http.post(E, json=streetlight(1)), 409, "AlreadyExists")

        # Retrieve: normalized with a Link header, keyValues, and JSON-LD with the @context in the body.
        fetched = http.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["illuminanceLevel"] == {"type": "Property", "value": 0.1, "unitCode": "C62"}
        assert "json-ld#context" in fetched.headers["Link"]
        simple = http.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1", params={"options": "keyValues"}).json()
        assert simple["powerState"] == "on" and simple["refStreet"] == "urn:ngsi-ld:Street:main"
        as_ld = http.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1", headers={"Accept": LD})
        assert as_ld.headers["content-type"].startswith(LD) and as_ld.json()["@context"] == CORE

        # Batch create (201 + ids), upsert (204 when all exist), update (204).
        batch = [streetlight(n) for n in range(2, 12)]
        made = http.post(f"{OPS}/create", json=batch)
        assert made.status_code == 201, made.text
        assert sorted(made.json()) == sorted(e["id"] for e in batch)
        replaced = http.post(f"{OPS}/upsert", json=[streetlight(2, powerState={"type": "Property", "value": "broken"})])
        assert replaced.status_code == 204, replaced.text
        updated = http.post(
            f"{OPS}/update", json=[{"id": "urn:ngsi-ld:Streetlight:e2e-3", "note": {"type": "Property", "value": "x"}}]
        )
        assert updated.status_code == 204, updated.text

        # Query: type, q, count, paging links, geo.
        everything = http.get(E, params={"type": "Streetlight", "count": "true", "limit": "5"})
        assert everything.status_code == 200, everything.text
        assert everything.headers["NGSILD-Results-Count"] == "11"
        assert len(everything.json()) == 5 and 'rel="next"' in everything.headers["Link"]
        broken = http.get(E, params={"type": "Streetlight", "q": 'powerState=="broken"'}).json()
        assert [e["id"] for e in broken] == ["urn:ngsi-ld:Streetlight:e2e-2"]
        bright = http.get(E, params={"type": "Streetlight", "q": "illuminanceLevel>=1", "options": "keyValues"}).json()
        assert sorted(e["id"] for e in bright) == sorted(f"urn:ngsi-ld:Streetlight:e2e-{n}" for n in (10, 11))
        near = http.get(
            E,
            params={
                "type": "Streetlight",
                "georel": "near;maxDistance==150",
                "geometry": "Point",
                "coordinates": "[13.401,52.52]",
            },
        ).json()
        assert {e["id"] for e in near} == {f"urn:ngsi-ld:Streetlight:e2e-{n}" for n in (1, 2, 3)}
        posted_query = http.post(
            f"{OPS}/query", json={"type": "Query", "entities": [{"type": "Streetlight"}], "q": "note"}
        )
        assert [e["id"] for e in posted_query.json()] == ["urn:ngsi-ld:Streetlight:e2e-3"]
        types = http.get("/ngsi-ld/v1/types").json()
        assert types["typeList"] == ["Streetlight"]

        # Errors are ProblemDetails, and not found is 404.
        assert_problem(http.get(E, params={"type": "Streetlight", "q": "powerState==="}), 400, "InvalidRequest")
        assert_problem(http.post(E, content=b"{", headers={"Content-Type": JSON}), 400, "InvalidRequest")

        # Delete: batch (204), one (204), then 404.
        gone = http.post(f"{OPS}/delete", json=[e["id"] for e in batch])
        assert gone.status_code == 204, gone.text
        assert http.delete(f"{E}/urn:ngsi-ld:Streetlight:e2e-1").status_code == 204
        assert_problem(http.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1"), 404, "ResourceNotFound")
        left = http.get(E, params={"type": "Streetlight", "count": "true", "limit": "0"})
        assert left.headers["NGSILD-Results-Count"] == "0"

        metrics = http.get("/metrics")
        assert metrics.status_code == 200 and "urbis_http_requests" in metrics.text


def test_help_settings_prints_every_setting(tmp_path: Path) -> None:
    result = run_cli(["serve", "--help-settings"], env=server_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    missing = []
    for name, field in Settings.model_fields.items():
        variable = f"URBIS_{name.upper()}"
        description = " ".join((field.description or "").split())
        if variable not in result.stdout or not description or description not in flat:
            missing.append(variable)
    assert not missing, f"--help-settings does not list (with its description): {missing}\n{result.stdout}"
    assert not list(tmp_path.iterdir()), "--help-settings must not create a database or any file"


def test_two_servers_run_side_by_side(tmp_path: Path) -> None:
    env = server_env(URBIS_NGSILD_OPEN="1", URBIS_DEFAULT_TENANT="city")
    with (
        running_server(tmp_path / "a", env, data_dir=tmp_path / "a-data") as first,
        running_server(tmp_path / "b", env, data_dir=tmp_path / "b-data") as second,
        first.client() as one,
        second.client() as two,
    ):
        assert first.port != second.port
        assert one.post(E, json=streetlight(1)).status_code == 201
        assert two.post(E, json=streetlight(1, powerState={"type": "Property", "value": "off"})).status_code == 201
        assert two.post(E, json=streetlight(2)).status_code == 201
        assert (
            one.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1", params={"options": "keyValues"}).json()["powerState"] == "on"
        )
        assert (
            two.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-1", params={"options": "keyValues"}).json()["powerState"] == "off"
        )
        assert_problem(one.get(f"{E}/urn:ngsi-ld:Streetlight:e2e-2"), 404, "ResourceNotFound")
        assert (tmp_path / "a-data" / "urbis.db").is_file() and (tmp_path / "b-data" / "urbis.db").is_file()
        first.stop()
        assert second.process.poll() is None
        assert two.get("/healthz").status_code == 200


def test_secured_server_wants_a_token_from_a_cli_made_user(tmp_path: Path, backend: dict[str, str]) -> None:
    tenant = backend["URBIS_DEFAULT_TENANT"]
    data_dir = tmp_path / "data"
    env = server_env(**backend)  # no URBIS_NGSILD_OPEN
    with running_server(tmp_path, env, data_dir=data_dir) as server, server.client() as http:
        assert OPEN_WARNING not in server.stderr

        # Anonymous: 401 with a Bearer challenge, for writes and reads alike; nothing written.
        refused = http.post(E, json=streetlight(1))
        assert_problem(refused, 401, "Unauthenticated")
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert_problem(http.get(E, params={"type": "Streetlight"}), 401, "Unauthenticated")
        assert_problem(
            http.post(E, json=streetlight(1), headers={"Authorization": "Bearer nonsense"}), 401, "Unauthenticated"
        )

        # An operator made with the CLI, the password on standard input (the server is running).
        made = run_cli(
            ["user", "create", "alice", "--tenant", tenant, "--role", "operator", "--password-stdin"],
            env={**env, "URBIS_DATA_DIR": str(data_dir)},
            cwd=tmp_path,
            stdin="correct horse battery staple\n",
        )
        assert made.returncode == 0, made.stderr
        assert "correct horse" not in made.stdout + made.stderr

        wrong = http.post("/auth/token", data={"grant_type": "password", "username": "alice", "password": "nope"})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
        issued = http.post(
            "/auth/token",
            data={"grant_type": "password", "username": "alice", "password": "correct horse battery staple"},
        )
        assert issued.status_code == 200, issued.text
        grant = issued.json()
        assert grant["token_type"] == "Bearer" and grant["tenant"] == tenant and "operator" in grant["scope"].split()
        bearer = {"Authorization": f"Bearer {grant['access_token']}"}

        assert http.get("/auth/me", headers=bearer).json()["subject"] == "alice"
        assert http.post(E, json=streetlight(1), headers=bearer).status_code == 201
        listed = http.get(E, params={"type": "Streetlight"}, headers=bearer)
        assert listed.status_code == 200 and [e["id"] for e in listed.json()] == ["urn:ngsi-ld:Streetlight:e2e-1"]
        # The token is for one tenant: another one is forbidden, not merely unauthenticated.
        elsewhere = http.post(E, json=streetlight(2), headers={**bearer, "NGSILD-Tenant": f"{tenant}other"})
        assert_problem(elsewhere, 403, "Forbidden")


def test_open_mode_logs_a_loud_warning_at_start_up(tmp_path: Path) -> None:
    with running_server(tmp_path, server_env(URBIS_NGSILD_OPEN="1")) as server:
        assert OPEN_WARNING in server.stderr, server.describe()
        with server.client() as http:  # and it is open indeed
            assert http.post(E, json=streetlight(1)).status_code == 201
