"""Rate limits for citizen submissions and public reads: per IP address and per account, 429 with Retry-After.

Counting uses the ``limits`` library with a moving window, so a burst at the end of one minute and another at
the start of the next cannot add up to twice the limit. The counters live in memory by default (one process);
a ``storage_uri`` such as ``redis://host:6379`` shares them between processes.

The client's address is the TCP peer. ``X-Forwarded-For`` is believed only when the peer is one of the
``trusted_proxies`` (addresses or networks), and then only up to the first hop that is not trusted: anyone can
send the header, so trusting it from everyone would let a client pick a fresh address for every request.
IPv6 clients are counted per /64 network, the block a single home or phone is usually given.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable, Sequence

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from urbis.core.errors import UrbisError
from urbis.core.settings import Settings
from urbis.web.deps import current_actor

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Prefix length under which IPv6 addresses count as one client.
IPV6_CLIENT_PREFIX = 64

#: First identifier of every counter, so that Urbis' keys never meet another user of a shared store.
_NAMESPACE = "urbis-citizen"


class TooManyRequests(UrbisError):
    """The caller sent more requests than its limit allows; it may try again after ``retry_after`` seconds."""

    code = "TooManyRequests"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail, extra={"retryAfter": retry_after})
        self.retry_after = retry_after
        #: Headers the error response must carry (RFC 9110 §10.2.3).
        self.headers = {"Retry-After": str(retry_after)}


class RateLimits:
    """The citizen limits: submissions per IP and per account, and reads per IP, each counted on its own."""

    def __init__(
        self,
        *,
        per_ip: str,
        per_account: str,
        reads: str,
        storage_uri: str = "memory://",
        trusted_proxies: Iterable[str] = (),
    ):
        """Limits as ``'N/second|minute|hour|day'`` strings; a bad string or proxy address raises ValueError."""
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_account: RateLimitItem = parse(per_account)
        self.reads: RateLimitItem = parse(reads)
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"rate limit storage {storage_uri!r} is asynchronous; name a synchronous one")
        self.storage = storage
        # Stores without moving windows (memcached) still work, counting per fixed window.
        self.limiter: RateLimiter = (
            MovingWindowRateLimiter(self.storage)
            if isinstance(self.storage, MovingWindowSupport)
            else FixedWindowRateLimiter(self.storage)
        )
        self.trusted_proxies: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(proxy.strip(), strict=False) for proxy in trusted_proxies
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, storage_uri: str = "memory://", trusted_proxies: Iterable[str] = ()
    ) -> RateLimits:
        """The limits named by ``settings`` (``citizen_rate_limit_ip``, ``_account``, ``_reads``)."""
        return cls(
            per_ip=settings.citizen_rate_limit_ip,
            per_account=settings.citizen_rate_limit_account,
            reads=settings.citizen_rate_limit_reads,
            storage_uri=storage_uri,
            trusted_proxies=trusted_proxies,
        )

    def check_submission(self, request: Request, account: str | None) -> None:
        """Count one submission against the caller's address and, when given, ``account``.

        ``account`` names the submitter across addresses: ``"user:<name>"`` or ``"key:<api key id>"``.
        Raises TooManyRequests (nothing counted) when either limit is used up.
        """
        counters: list[tuple[RateLimitItem, tuple[str, ...]]] = [
            (self.per_ip, ("submit", "ip", self.client_key(request)))
        ]
        if account:
            counters.append((self.per_account, ("submit", "account", account)))
        self._count(counters, "submissions")

    def check_read(self, request: Request) -> None:
        """Count one public read against the caller's address; raises TooManyRequests when used up."""
        self._count([(self.reads, ("read", "ip", self.client_key(request)))], "requests")

    def reset(self) -> None:
        """Forget every count (tests; an operator lifting a block)."""
        self.storage.reset()

    def client_key(self, request: Request) -> str:
        """The caller's address as counted: IPv4 as it is, IPv6 as its /64 network."""
        address = self.client_address(request)
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return address  # not an IP (a test client, a Unix socket): counted as it is
        if isinstance(parsed, ipaddress.IPv6Address):
            if parsed.ipv4_mapped is not None:
                return str(parsed.ipv4_mapped)
            return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
        return str(parsed)

    def client_address(self, request: Request) -> str:
        """The caller's IP address: the peer, or what trusted proxies say in X-Forwarded-For."""
        peer = request.client.host if request.client else "unknown"
        if not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
        client = peer
        # Each proxy appends the address it was reached from: walk back from the nearest one and stop at the
        # first address our proxies did not vouch for. Anything left of it was written by the client.
        for hop in reversed(hops):
            try:
                address = ipaddress.ip_address(hop)
            except ValueError:
                break
            client = str(address)
            if not self._is_trusted(client):
                break
        return client

    def _is_trusted(self, address: str) -> bool:
        if not self.trusted_proxies:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.trusted_proxies)

    def _count(self, counters: Sequence[tuple[RateLimitItem, tuple[str, ...]]], what: str) -> None:
        """Hit every counter, or none when one is used up (a refused request costs nothing)."""
        exhausted = [(item, keys) for item, keys in counters if not self.limiter.test(item, _NAMESPACE, *keys)]
        if not exhausted:
            refused = [(item, keys) for item, keys in counters if not self.limiter.hit(item, _NAMESPACE, *keys)]
            if not refused:
                return
            exhausted = refused  # another request took the last slot in between
        retry_after = max(self._seconds_until_free(item, keys) for item, keys in exhausted)
        limit = exhausted[0][0]
        raise TooManyRequests(
            f"Too many {what}: at most {limit.amount} per {_window(limit)}. Try again in {retry_after} s.",
            retry_after=retry_after,
        )

    def _seconds_until_free(self, item: RateLimitItem, keys: tuple[str, ...]) -> int:
        reset_at = self.limiter.get_window_stats(item, _NAMESPACE, *keys).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def _window(item: RateLimitItem) -> str:
    """``'minute'``, ``'10 minutes'``: the window of ``item`` in words."""
    granularity = item.GRANULARITY.name
    return granularity if item.multiples == 1 else f"{item.multiples} {granularity}s"


def _rate_limits(request: Request) -> RateLimits | None:
    found = getattr(request.app.state, "rate_limits", None)
    return found if isinstance(found, RateLimits) else None


def _account(request: Request) -> str | None:
    """``"user:<subject>"`` for a signed-in caller, else None (also for a bad token, refused by the route)."""
    try:
        actor = current_actor(request)
    except UrbisError:
        # Counted by address only: the route itself answers the bad token with 401.
        return None
    return f"user:{actor.subject}" if actor.is_authenticated else None


async def limit_submission(request: Request) -> None:
    """FastAPI dependency: count a citizen submission (``app.state.rate_limits``; none there, no limit)."""
    limits = _rate_limits(request)
    if limits is not None:
        limits.check_submission(request, _account(request))


async def limit_read(request: Request) -> None:
    """FastAPI dependency: count a public read (``app.state.rate_limits``; none there, no limit)."""
    limits = _rate_limits(request)
    if limits is not None:
        limits.check_read(request)
