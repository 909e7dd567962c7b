"""Rate limits through a tiny FastAPI app of the test's own: per IP, per account, reads apart, proxies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from urbis.core.auth.tokens import Actor, issue_token
from urbis.core.settings import Settings
from urbis.web.ratelimit import RateLimits, TooManyRequests, limit_read, limit_submission

ALICE_IP = "203.0.113.10"
BOB_IP = "198.51.100.20"
PROXY_IP = "192.0.2.1"


def tiny_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"environment": "test", "secret_key": "test-secret-key-that-is-long-enough-0123456789"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def tiny_app(limits: RateLimits | None) -> FastAPI:
    """Two routes (a submission, a read), the limits on app.state, and a handler that honours headers."""
    app = FastAPI()
    app.state.settings = tiny_settings()
    if limits is not None:
        app.state.rate_limits = limits

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, error: TooManyRequests) -> JSONResponse:
        return JSONResponse(
            {"type": error.code, "detail": error.detail, **error.extra}, status_code=error.status, headers=error.headers
        )

    @app.post("/reports", status_code=201, dependencies=[Depends(limit_submission)])
    async def submit() -> dict[str, str]:
        return {"ok": "submitted"}

    @app.get("/reports", dependencies=[Depends(limit_read)])
    async def read() -> dict[str, str]:
        return {"ok": "read"}

    return app


def limits_of(
    per_ip: str = "3/minute", per_account: str = "10/minute", reads: str = "300/minute", **options: object
) -> RateLimits:
    return RateLimits(per_ip=per_ip, per_account=per_account, reads=reads, **options)  # type: ignore[arg-type]


def client_from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def bearer(app: FastAPI, name: str) -> dict[str, str]:
    actor = Actor(subject=name, tenant="somewhere", roles=frozenset(), kind="user")
    token, _ = issue_token(actor, app.state.settings)
    return {"Authorization": f"Bearer {token}"}


def statuses(client: TestClient, count: int, method: str = "POST", **kwargs: object) -> list[int]:
    return [client.request(method, "/reports", **kwargs).status_code for _ in range(count)]  # type: ignore[arg-type]


@pytest.fixture
def app() -> Iterator[FastAPI]:
    yield tiny_app(limits_of())


# -- per IP -------------------------------------------------------------------------------------------


def test_the_fourth_submission_in_a_minute_is_refused_with_retry_after(app: FastAPI) -> None:
    alice = client_from(app, ALICE_IP)
    assert statuses(alice, 3) == [201, 201, 201]

    refused = alice.post("/reports")

    assert refused.status_code == 429
    assert refused.json()["type"] == "TooManyRequests"
    retry_after = int(refused.headers["Retry-After"])
    # The oldest of the three hits frees its slot one minute after it was made, i.e. just under 60 s from now.
    assert 50 <= retry_after <= 60
    assert refused.json()["retryAfter"] == retry_after


def test_another_address_is_not_affected(app: FastAPI) -> None:
    alice, bob = client_from(app, ALICE_IP), client_from(app, BOB_IP)
    assert statuses(alice, 4) == [201, 201, 201, 429]
    assert statuses(bob, 3) == [201, 201, 201]
    assert alice.post("/reports").status_code == 429


def test_ipv6_clients_count_per_64_network() -> None:
    app = tiny_app(limits_of(per_ip="2/minute"))
    assert statuses(client_from(app, "2001:db8:0:7::1"), 1) == [201]
    # Another address of the same /64 (the same home or phone) shares the count.
    assert statuses(client_from(app, "2001:db8:0:7::beef"), 2) == [201, 429]
    # The neighbouring /64 is someone else.
    assert statuses(client_from(app, "2001:db8:0:8::1"), 2) == [201, 201]


def test_without_limits_on_the_app_nothing_is_limited() -> None:
    app = tiny_app(None)
    assert set(statuses(client_from(app, ALICE_IP), 20)) == {201}
    assert set(statuses(client_from(app, ALICE_IP), 20, method="GET")) == {200}


# -- per account --------------------------------------------------------------------------------------


def test_the_account_limit_follows_the_user_across_addresses() -> None:
    app = tiny_app(limits_of(per_ip="100/minute", per_account="3/minute"))
    alice_token = bearer(app, "alice")
    assert statuses(client_from(app, "203.0.113.1"), 2, headers=alice_token) == [201, 201]
    assert statuses(client_from(app, "203.0.113.2"), 1, headers=alice_token) == [201]

    refused = client_from(app, "203.0.113.3").post("/reports", headers=alice_token)

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The address is fine for everyone else: it was alice's account that ran out.
    assert client_from(app, "203.0.113.3").post("/reports").status_code == 201
    assert client_from(app, "203.0.113.3").post("/reports", headers=bearer(app, "bob")).status_code == 201


def test_a_refused_submission_costs_nothing() -> None:
    app = tiny_app(limits_of(per_ip="3/minute", per_account="1/minute"))
    alice = client_from(app, ALICE_IP)
    alice_token = bearer(app, "alice")
    # 1 accepted (address: 1 of 3 used), 2 refused by the account limit (address still 1 of 3).
    assert statuses(alice, 3, headers=alice_token) == [201, 429, 429]
    # So two more anonymous submissions fit from that address before it is refused.
    assert statuses(alice, 3) == [201, 201, 429]


def test_check_submission_takes_an_api_key_account_directly() -> None:
    limits = limits_of(per_ip="100/minute", per_account="2/minute")
    app = FastAPI()

    @app.post("/open311")
    async def post_request(request: Request) -> dict[str, bool]:
        limits.check_submission(request, "key:k-42")
        return {"ok": True}

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, error: TooManyRequests) -> JSONResponse:
        return JSONResponse({}, status_code=429, headers=error.headers)

    codes = [client_from(app, f"203.0.113.{n}").post("/open311").status_code for n in range(1, 4)]
    assert codes == [200, 200, 429]


# -- reads apart from submissions ---------------------------------------------------------------------


def test_reads_have_their_own_limit() -> None:
    # The same figure for both, so that only separate counters can keep them apart.
    app = tiny_app(limits_of(per_ip="3/minute", reads="3/minute"))
    alice = client_from(app, ALICE_IP)
    assert statuses(alice, 4, method="POST") == [201, 201, 201, 429]
    # Submissions used up; reading still works, up to its own limit.
    assert statuses(alice, 4, method="GET") == [200, 200, 200, 429]
    bob = client_from(app, BOB_IP)
    assert statuses(bob, 4, method="GET") == [200, 200, 200, 429]
    # Reads used up; submitting still works.
    assert statuses(bob, 3, method="POST") == [201, 201, 201]


# -- X-Forwarded-For ----------------------------------------------------------------------------------


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(app: FastAPI) -> None:
    alice = client_from(app, ALICE_IP)
    # A fresh address in the header each time must not buy fresh submissions.
    codes = [alice.post("/reports", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(4)]
    assert codes == [201, 201, 201, 429]


def test_a_trusted_proxy_names_the_client() -> None:
    app = tiny_app(limits_of(trusted_proxies=[PROXY_IP]))
    proxy = client_from(app, PROXY_IP)
    alice, bob = {"X-Forwarded-For": ALICE_IP}, {"X-Forwarded-For": BOB_IP}
    assert statuses(proxy, 4, headers=alice) == [201, 201, 201, 429]
    # Bob comes through the same proxy but is another client.
    assert statuses(proxy, 3, headers=bob) == [201, 201, 201]


def test_behind_a_trusted_proxy_a_spoofed_hop_does_not_help() -> None:
    app = tiny_app(limits_of(trusted_proxies=["192.0.2.0/24"]))
    proxy = client_from(app, PROXY_IP)
    # Alice writes made-up addresses; the proxy appends the one it saw (hers): she is still counted.
    codes = [
        proxy.post("/reports", headers={"X-Forwarded-For": f"10.9.9.{n}, {ALICE_IP}"}).status_code for n in range(4)
    ]
    assert codes == [201, 201, 201, 429]


def request_from(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        pytest.param("203.0.113.10", ["198.51.100.1"], "203.0.113.10", id="untrusted peer: header ignored"),
        pytest.param(PROXY_IP, ["198.51.100.1"], "198.51.100.1", id="trusted peer: its client"),
        pytest.param(PROXY_IP, ["6.6.6.6, 198.51.100.1"], "198.51.100.1", id="right-most untrusted hop"),
        pytest.param(PROXY_IP, ["198.51.100.1, 192.0.2.77"], "198.51.100.1", id="through two trusted proxies"),
        pytest.param(PROXY_IP, ["6.6.6.6", "198.51.100.1"], "198.51.100.1", id="header repeated"),
        pytest.param(PROXY_IP, ["not-an-ip, 198.51.100.1"], "198.51.100.1", id="garbage left of the client"),
        pytest.param(PROXY_IP, ["198.51.100.1, garbage"], PROXY_IP, id="garbage from the proxy: the proxy"),
        pytest.param(PROXY_IP, [], PROXY_IP, id="no header: the proxy itself"),
    ],
)
def test_client_address_walks_back_through_trusted_proxies(peer: str, forwarded: list[str], expected: str) -> None:
    limits = limits_of(trusted_proxies=["192.0.2.0/24"])
    assert limits.client_address(request_from(peer, *forwarded)) == expected


# -- construction ---------------------------------------------------------------------------------------


def test_limits_are_read_from_the_settings() -> None:
    settings = tiny_settings(
        citizen_rate_limit_ip="7/hour", citizen_rate_limit_account="2/second", citizen_rate_limit_reads="50/minute"
    )
    limits = RateLimits.from_settings(settings)
    assert (limits.per_ip.amount, limits.per_ip.GRANULARITY.name) == (7, "hour")
    assert (limits.per_account.amount, limits.per_account.GRANULARITY.name) == (2, "second")
    assert (limits.reads.amount, limits.reads.GRANULARITY.name) == (50, "minute")


@pytest.mark.parametrize(
    "options",
    [
        {"per_ip": "lots"},
        {"trusted_proxies": ["proxy.example.org"]},
        {"storage_uri": "async+memory://"},
    ],
)
def test_bad_configuration_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        limits_of(**options)  # type: ignore[arg-type]


def test_too_many_requests_carries_its_retry_after() -> None:
    error = TooManyRequests("slow down", retry_after=17)
    assert (error.status, error.code, error.retry_after) == (429, "TooManyRequests", 17)
    assert error.headers == {"Retry-After": "17"}
