"""A real NGSI-LD client against a real server: Orange's ``ngsildclient`` 0.5.2, in a venv of its own.

Which client, and why this way (checked 2026-11):

- ``pyngsildclient`` (0.2.0 and 0.6.5, the 2026 fork) needs Python >= 3.12, and Urbis's venv is 3.11.
  Worse, neither release imports on 3.12 or 3.13: ``pyngsildclient/api/alt.py`` annotates with
  ``Client``, imported only under ``TYPE_CHECKING``, without ``from __future__ import annotations``
  (``NameError: name 'Client' is not defined``); it would need Python 3.14's deferred annotations.
- ``ngsildclient`` 0.5.2 (Orange, deprecated but the reference client) pins ``httpx<0.24``,
  ``rich<13``, ``networkx<3`` and more, which clash with Urbis's pinned stack (httpx 0.28, rich 14).

So the test builds, once per machine and in a few seconds, a separate venv with ``ngsildclient==0.5.2``
(from this interpreter, with pip and the package registry), runs :func:`client_scenario` in it against a
live ``urbis serve``, and checks what the client saw.  Without the registry the test skips (fails under
``URBIS_REQUIRE_SERVICES=1``).  :func:`test_requests_as_ngsildclient_sends_them` replays the client's
own requests with httpx and needs no venv: the probe ``GET /entities?type=None&limit=0&count=true`` on
connecting, ``application/ld+json`` bodies carrying their ``@context``, trailing-slash URLs.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_e2e import (
    CORE,
    LD,
    OPS,
    E,
    assert_problem,
    running_server,
    server_env,
)

from conftest import need_service

NGSILDCLIENT = "ngsildclient==0.5.2"
#: Building the venv takes about 6 s with a package registry at hand; give up well before a CI timeout.
INSTALL_SECONDS = 120
SCENARIO_SECONDS = 120


# --------------------------------------------------------------------------- the client's own venv


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One pytest-xdist worker at a time builds the venv (POSIX file lock; no lock elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _python_of(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _usable(python: Path) -> bool:
    if not python.exists():
        return False
    check = "import ngsildclient, sys; sys.exit(ngsildclient.__version__ != '0.5.2')"
    return subprocess.run([python, "-c", check], capture_output=True, timeout=60, check=False).returncode == 0


def _build(venv: Path) -> str | None:
    """Create ``venv`` with ngsildclient in it; the reason it could not be done, or None."""
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(_python_of(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", NGSILDCLIENT],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return f"installing {NGSILDCLIENT} took more than {INSTALL_SECONDS} s"
        if done.returncode != 0:
            return f"cannot install {NGSILDCLIENT} in a separate venv: {done.stderr.strip()[-800:]}"
    return None


@pytest.fixture(scope="session")
def ngsildclient_python(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a venv holding ngsildclient 0.5.2 (kept in pytest's cache between runs)."""
    cache = getattr(request.config, "cache", None)
    # Without the cache plugin: the parent of this run's temp folder, shared by the xdist workers.
    home = cache.mkdir("ngsildclient-0.5.2") if cache is not None else tmp_path_factory.getbasetemp().parent
    venv = home / "venv"
    with _exclusive(home / "build.lock"):
        if not _usable(_python_of(venv)):
            need_service(_build(venv))
    return _python_of(venv)


# --------------------------------------------------------------------------- what the client does


def client_scenario(port: int, tenant: str) -> dict[str, Any]:
    """Drive Urbis with ngsildclient's sync ``Client``; runs in the client's venv (no Urbis, no pytest there)."""
    import json
    import logging

    from ngsildclient import Client, Entity
    from ngsildclient.api.exceptions import NgsiAlreadyExistsError, NgsiResourceNotFoundError

    logging.disable(logging.CRITICAL)
    seen: dict[str, Any] = {}
    kind = "AirQualityObserved"
    with Client(hostname="127.0.0.1", port=port, tenant=tenant) as client:  # probes, then creates the tenant
        seen["connected"] = client.is_connected()

        # One entity from the builder: a DateTime, a GeoProperty, a Property with metadata, a Relationship.
        observed = Entity(kind, "Madrid:Obsv4567")
        observed.tprop("dateObserved", "2018-08-07T12:00:00Z")
        observed.gprop("location", (40.42, -3.70))
        observed.prop("NO2", 22, unitcode="GP", observedat="2018-08-07T12:00:00Z")
        observed.rel("refPointOfInterest", "PointOfInterest:Madrid:PlazaMayor")
        seen["sent"] = json.loads(observed.to_json())
        seen["created"] = client.create(observed)
        try:
            client.create(observed)
            seen["duplicate"] = "accepted"
        except NgsiAlreadyExistsError as error:
            seen["duplicate"] = [type(error).__name__, error.problemdetails.status, error.problemdetails.title]
        seen["retrieved"] = client.get(observed.id, asdict=True)
        seen["retrieved_entity_id"] = client.get(observed.id).id
        seen["exists"] = client.exists(observed.id)

        # 130 more through batch upsert: the client sends them in chunks of 100.
        fleet = []
        for number in range(130):
            item = Entity(kind, f"Madrid:Batch{number:03d}")
            item.prop("NO2", number)
            item.gprop("location", (40.40 + number / 10_000, -3.70))
            fleet.append(item)
        upserted = client.upsert(fleet)
        seen["upserted"] = [upserted.n_ok, upserted.n_err]
        again = client.upsert(fleet[:5])  # all exist: 204, which the client reads as success too
        seen["upserted_again"] = [again.n_ok, again.n_err]

        # Counting and querying (the client pages with limit=100).
        seen["count"] = client.count(type=kind)
        seen["count_q"] = client.count(type=kind, q="NO2>=100")
        seen["query_ids"] = sorted(entity.id for entity in client.query(type=kind, q="NO2>=100"))
        seen["query_all"] = len(client.query(type=kind))
        seen["types"] = client.types.list()

        # Batch update, then check one entity changed.
        for item in fleet[:3]:
            item.prop("NO2", 999)
        updated = client.update(fleet[:3])
        seen["updated"] = [updated.n_ok, updated.n_err]
        seen["updated_value"] = client.get(fleet[0].id, asdict=True)["NO2"]["value"]

        # Delete one, delete the rest in batches, and a missing entity is ResourceNotFound.
        seen["deleted_one"] = client.delete(observed)
        seen["exists_after"] = client.exists(observed.id)
        try:
            client.get(observed.id)
            seen["missing"] = "found"
        except NgsiResourceNotFoundError as error:
            seen["missing"] = [type(error).__name__, error.problemdetails.status]
        deleted = client.delete(fleet)
        seen["deleted"] = [deleted.n_ok, deleted.n_err]
        seen["count_after"] = client.count(type=kind)
    return seen


def run_scenario(python: Path, port: int, tenant: str, workdir: Path) -> dict[str, Any]:
    """Run :func:`client_scenario` in the client's venv; its result comes back as JSON in a file."""
    result = workdir / "scenario.json"
    driver = (
        "from typing import Any\n\n"
        + textwrap.dedent(inspect.getsource(client_scenario))
        + "\nimport json, sys\n"
        + "json.dump(client_scenario(int(sys.argv[1]), sys.argv[2]), open(sys.argv[3], 'w'), default=str)\n"
    )
    script = workdir / "scenario.py"
    script.write_text(driver)
    done = subprocess.run(
        [str(python), str(script), str(port), tenant, str(result)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=SCENARIO_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"ngsildclient failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    scenario: dict[str, Any] = json.loads(result.read_text())
    return scenario


# --------------------------------------------------------------------------- tests


def test_ngsildclient_drives_urbis(ngsildclient_python: Path, tmp_path: Path, backend: dict[str, str]) -> None:
    tenant = f"client{uuid.uuid4().hex[:8]}"  # not the default: the client creates it on connecting
    with running_server(tmp_path / "server", server_env(URBIS_NGSILD_OPEN="1", **backend)) as server:
        seen = run_scenario(ngsildclient_python, server.port, tenant, tmp_path)

    assert seen["connected"] is True
    assert seen["created"] is True
    assert seen["duplicate"] == ["NgsiAlreadyExistsError", 409, "Already exists"]
    retrieved = seen["retrieved"]
    sent = seen["sent"]
    assert retrieved["@context"] == CORE
    assert retrieved["id"] == sent["id"] == "urn:ngsi-ld:AirQualityObserved:Madrid:Obsv4567"
    assert retrieved["type"] == "AirQualityObserved"
    assert retrieved["dateObserved"] == sent["dateObserved"]
    assert retrieved["location"] == sent["location"]
    assert retrieved["refPointOfInterest"] == sent["refPointOfInterest"]
    assert retrieved["NO2"]["value"] == 22 and retrieved["NO2"]["unitCode"] == "GP"
    assert retrieved["NO2"]["observedAt"].startswith("2018-08-07T12:00:00")
    assert seen["retrieved_entity_id"] == sent["id"]
    assert seen["exists"] is True
    assert seen["upserted"] == [130, 0]
    assert seen["upserted_again"] == [5, 0]
    assert seen["count"] == 131
    assert seen["count_q"] == 30
    assert seen["query_ids"] == [f"urn:ngsi-ld:AirQualityObserved:Madrid:Batch{n:03d}" for n in range(100, 130)]
    assert seen["query_all"] == 131
    assert sorted(seen["types"]) == ["AirQualityObserved", "__NGSILD-Tenant__"]  # with the client's tenant marker
    assert seen["updated"] == [3, 0]
    assert seen["updated_value"] == 999
    assert seen["deleted_one"] is True
    assert seen["exists_after"] is False
    assert seen["missing"] == ["NgsiResourceNotFoundError", 404]
    assert seen["deleted"] == [130, 0]
    assert seen["count_after"] == 0


def test_requests_as_ngsildclient_sends_them(tmp_path: Path) -> None:
    tenant = f"replay{uuid.uuid4().hex[:8]}"
    ld = {"Accept": LD, "Content-Type": LD, "User-Agent": "ngsildclient-replay"}
    link_core = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD}"'
    with running_server(tmp_path, server_env(URBIS_NGSILD_OPEN="1")) as server, server.client(**ld) as http:
        # Connecting: the probe (JSON accepted, no Content-Type), in the default tenant...
        probe = http.get(
            E, params={"type": "None", "limit": "0", "count": "true"}, headers={"Accept": "application/json"}
        )
        assert probe.status_code == 200, probe.text
        assert probe.json() == [] and probe.headers["NGSILD-Results-Count"] == "0"
        # ... and in an unknown tenant: 404, so the client creates the tenant with a marker entity.
        tenant_headers = {"NGSILD-Tenant": tenant}
        unknown = http.get(E, params={"type": "None", "limit": "0", "count": "true"}, headers=tenant_headers)
        assert_problem(unknown, 404, "NonexistentTenant")
        marker = {
            "id": f"urn:ngsi-ld:__NGSILD-Tenant__:{tenant}",
            "type": "__NGSILD-Tenant__",
            "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
        }
        made = http.post(f"{OPS}/upsert/", json=[marker], headers=tenant_headers)
        assert made.status_code == 201, made.text
        assert (
            http.get(E, params={"type": "None", "limit": "0", "count": "true"}, headers=tenant_headers).status_code
            == 200
        )
        assert http.get("/version").status_code == 200  # the vendor guess

        # Entities go as application/ld+json with their @context, to URLs with a trailing slash.
        entity = {
            "@context": CORE,
            "id": "urn:ngsi-ld:AirQualityObserved:replay",
            "type": "AirQualityObserved",
            "NO2": {"type": "Property", "value": 22, "unitCode": "GP"},
        }
        assert http.post(f"{E}/", json=entity, headers=tenant_headers).status_code == 201
        fetched = http.get(f"{E}/{entity['id']}", headers={**tenant_headers, "Content-Type": ""})
        assert fetched.status_code == 200 and fetched.json()["@context"] == CORE
        counted = http.get(
            E,
            params={"type": "AirQualityObserved", "limit": "0", "count": "true"},
            headers={**tenant_headers, "Link": link_core},
        )
        assert counted.headers["NGSILD-Results-Count"] == "1" and counted.json() == []
        batch = [{**entity, "id": f"urn:ngsi-ld:AirQualityObserved:replay{n}"} for n in range(3)]
        upserted = http.post(f"{OPS}/upsert/", params={"options": "replace"}, json=batch, headers=tenant_headers)
        assert upserted.status_code == 201, upserted.text
        updated = http.post(f"{OPS}/update/", json=batch, headers=tenant_headers)
        assert updated.status_code == 204, updated.text
        deleted = http.post(f"{OPS}/delete/", json=[entity["id"]] + [e["id"] for e in batch], headers=tenant_headers)
        assert deleted.status_code == 204, deleted.text
        # An ld+json body without @context is the client's mistake, reported as the suite expects.
        assert_problem(
            http.post(f"{E}/", json={"id": "urn:x:y", "type": "T"}, headers=tenant_headers), 400, "BadRequestData"
        )
