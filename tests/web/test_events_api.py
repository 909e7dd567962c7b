"""The live event stream ``GET /api/v1/events`` through a real server (uvicorn in a thread) and httpx streaming.

Runs on SQLite and PostgreSQL.  Entities are written through the server's own NGSI-LD API while a
reader thread parses the server-sent events; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core.auth.tokens import USER, Actor, issue_token

EVENTS = "/api/v1/events"
E = "/ngsi-ld/v1/entities"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    app: Any

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@contextlib.contextmanager
def live_server(db_url: str, tenant: str, **settings: Any) -> Iterator[LiveServer]:
    # Frequent heartbeats also let the reader threads notice a closed stream at once.
    app = create_app(make_settings(db_url, tenant, **{"events_heartbeat_seconds": 0.2, **settings}))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


@dataclass
class SseReader:
    """Reads one event stream in a thread; keeps events and comment lines."""

    response: httpx.Response
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        kind, data, ident = "message", [], None
        with contextlib.suppress(httpx.HTTPError, RuntimeError):
            for line in self.response.iter_lines():
                with self.cond:
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line.startswith("id:"):
                        ident = line[3:].strip()
                    elif line == "" and data:
                        self.events.append(Event(kind, json.loads("\n".join(data)), ident))
                        kind, data, ident = "message", [], None
                    self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.events) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} events, got {self.events}")
                self.cond.wait(remaining)
            return list(self.events)

    def wait_comment(self, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.comments:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no heartbeat comment arrived")
                self.cond.wait(remaining)
            return self.comments[0]


@contextlib.contextmanager
def stream(
    server: LiveServer, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Iterator[SseReader]:
    client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=30))
    with client.stream("GET", EVENTS, params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        thread = threading.Thread(target=reader.run, daemon=True)
        thread.start()
        wait_for_listener(server)
        try:
            yield reader
        finally:
            response.close()
    client.close()
    thread.join(timeout=5)


def wait_for_listener(server: LiveServer, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while server.app.state.live_events.count() < count:
        if time.monotonic() > deadline:
            raise AssertionError("the stream never registered")
        time.sleep(0.02)


def entity(kind: str, number: int, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": f"urn:ngsi-ld:{kind}:{number}", "type": kind}
    for name, value in attrs.items():
        member = "GeoProperty" if name == "location" else "Property"
        body[name] = {"type": member, "value": value}
    return body


BONN = {"type": "Point", "coordinates": [7.1, 50.73]}
COLOGNE = {"type": "Point", "coordinates": [6.96, 50.94]}


def test_changes_stream_filtered_by_type(db_url: str, tenant: str) -> None:
    with (
        live_server(db_url, tenant) as server,
        server.http() as http,
        stream(server, {"type": "Streetlight"}) as reader,
    ):
        assert http.post(E, json=entity("Streetlight", 1, power=10, dim=50)).status_code == 201
        assert http.post(E, json=entity("Cabinet", 1, power=1)).status_code == 201
        fragment = {"power": {"type": "Property", "value": 20}}
        assert http.patch(f"{E}/urn:ngsi-ld:Streetlight:1/attrs", json=fragment).status_code == 204
        assert http.delete(f"{E}/urn:ngsi-ld:Streetlight:1").status_code == 204
        created, updated, deleted = reader.wait_for(3)
        assert {e.event for e in (created, updated, deleted)} == {"entity"}
        assert created.data == {
            "id": "urn:ngsi-ld:Streetlight:1",
            "type": "Streetlight",
            "operation": "create",
            "attributes": ["dim", "power"],
            "entity": {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": 10, "dim": 50},
        }
        assert updated.data["operation"] == "update" and updated.data["attributes"] == ["power"]
        assert updated.data["entity"]["power"] == 20
        assert deleted.data == {
            "id": "urn:ngsi-ld:Streetlight:1",
            "type": "Streetlight",
            "operation": "delete",
            "attributes": ["dim", "power"],
            "entity": None,
        }
        assert [e.id for e in (created, updated, deleted)] == ["1", "2", "3"]


def test_area_q_and_attrs_filters(db_url: str, tenant: str) -> None:
    with live_server(db_url, tenant) as server, server.http() as http:
        params = {"bbox": "7.0,50.6,7.2,50.8", "q": "power>5", "attrs": "power", "format": "normalized"}
        with stream(server, params) as reader:
            http.post(E, json=entity("Streetlight", 1, power=10, location=COLOGNE))  # outside the box
            http.post(E, json=entity("Streetlight", 2, power=1, location=BONN))  # q fails
            http.post(E, json=entity("Streetlight", 3, power=10, location=BONN, dim=5))
            http.patch(
                f"{E}/urn:ngsi-ld:Streetlight:3/attrs", json={"dim": {"type": "Property", "value": 9}}
            )  # not power
            http.patch(f"{E}/urn:ngsi-ld:Streetlight:3/attrs", json={"power": {"type": "Property", "value": 11}})
            first, second = reader.wait_for(2)
            assert (first.data["id"], first.data["operation"]) == ("urn:ngsi-ld:Streetlight:3", "create")
            assert first.data["entity"] == {
                "id": "urn:ngsi-ld:Streetlight:3",
                "type": "Streetlight",
                "power": {"type": "Property", "value": 10},
            }
            assert (second.data["operation"], second.data["attributes"]) == ("update", ["power"])
            assert len(reader.events) == 2
        georel = {
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": "[6.96,50.94]",
        }
        with stream(server, georel) as reader:
            http.patch(f"{E}/urn:ngsi-ld:Streetlight:3/attrs", json={"power": {"type": "Property", "value": 12}})
            http.patch(f"{E}/urn:ngsi-ld:Streetlight:1/attrs", json={"power": {"type": "Property", "value": 12}})
            [only] = reader.wait_for(1)
            assert only.data["id"] == "urn:ngsi-ld:Streetlight:1"


def test_heartbeats_keep_idle_streams_open(db_url: str, tenant: str) -> None:
    with live_server(db_url, tenant, events_heartbeat_seconds=0.2) as server, stream(server) as reader:
        assert reader.wait_comment().startswith(":")


def test_tenants_are_separate(db_url: str, tenant: str) -> None:
    with (
        live_server(db_url, tenant) as server,
        server.http() as http,
        stream(server, {"tenant": "other"}) as other,
        stream(server, headers={"NGSILD-Tenant": "other"}) as by_header,
    ):
        wait_for_listener(server, 2)
        http.post(E, json=entity("Streetlight", 1, power=1))
        http.post(E, json=entity("Streetlight", 2, power=1), headers={"NGSILD-Tenant": "other"})
        assert other.wait_for(1)[0].data["id"] == "urn:ngsi-ld:Streetlight:2"
        assert by_header.wait_for(1)[0].data["id"] == "urn:ngsi-ld:Streetlight:2"


def test_bad_filters_are_400(db_url: str, tenant: str) -> None:
    with live_server(db_url, tenant) as server, server.http() as http:
        for params, code in (
            ({"bbox": "1,2,3"}, "BadRequestData"),
            ({"bbox": "7.2,50.6,7.0,50.8"}, "BadRequestData"),
            ({"georel": "near;maxDistance==5"}, "BadRequestData"),
            ({"q": "power>>1"}, "InvalidRequest"),
            ({"format": "pretty"}, "InvalidRequest"),
            ({"colour": "red"}, "InvalidRequest"),
            ({"tenant": "bad tenant!"}, "BadRequestData"),
        ):
            assert_problem(http.get(EVENTS, params=params), 400, code)


@pytest.mark.parametrize("public", [True, False])
def test_reading_rules(db_url: str, tenant: str, public: bool) -> None:
    settings: dict[str, Any] = {"ngsild_open": False, "public_read_tenants": [tenant] if public else []}
    with live_server(db_url, tenant, **settings) as server, server.http() as http:
        if public:
            with stream(server):
                pass
        else:
            assert_problem(http.get(EVENTS), 401)
        token, _ = issue_token(Actor("ada", tenant, frozenset({"viewer"}), USER), server.app.state.settings)
        with stream(server, headers={"Authorization": f"Bearer {token}"}):
            pass
        with stream(server, {"access_token": token}):
            pass
        assert_problem(http.get(EVENTS, params={"access_token": "forged"}), 401)
        assert_problem(http.get(EVENTS, params={"access_token": token, "tenant": "someone-else"}), 403)


def test_a_closed_stream_stops_being_fed(db_url: str, tenant: str) -> None:
    with live_server(db_url, tenant) as server:
        with stream(server):
            assert server.app.state.live_events.count() == 1
        deadline = time.monotonic() + 10
        while server.app.state.live_events.count():
            assert time.monotonic() < deadline, "the closed stream is still registered"
            time.sleep(0.02)
