"""Setting the simulated city up in Urbis through its public API.

- the operator's access token: given, or by the OAuth2 password grant (``POST /auth/token``);
- the infrastructure as NGSI-LD entities: ``POST /ngsi-ld/v1/entityOperations/upsert``
  with ``options=update`` (so a second run never erases live values), in chunks;
- the devices: ``POST /api/v1/devices/import`` (JSON array, in chunks, gateways first),
  which answers each new device's token once;
- devices that exist already (a second run): their tokens come from the saved tokens file,
  or are rotated (``POST /api/v1/devices/{id}/token``) for the senders the chosen transport
  needs — gateways for HTTP gateway batches, every device for HTTP per device, none for MQTT
  (the broker authenticates MQTT devices).

Tokens are kept in memory and may be saved to a JSON file (mode 0600) for the next run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

log = logging.getLogger(__name__)

URBIS_CONTEXT_URL = "https://urbis.city/contexts/urbis-context.jsonld"
LINK = f'<{URBIS_CONTEXT_URL}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class ProvisioningError(Exception):
    """Urbis refused part of the set-up (the message says what and why)."""


@dataclass
class ImportOutcome:
    """What a device import did."""

    tokens: dict[str, str] = field(default_factory=dict)  # newly created device -> token
    existing: list[str] = field(default_factory=list)  # devices that were there already
    errors: list[dict[str, Any]] = field(default_factory=list)  # any other refusal


class UrbisClient:
    """The few Urbis API calls the simulator needs, for one tenant."""

    def __init__(
        self,
        base_url: str,
        tenant: str,
        *,
        token: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 120.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.token = token
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._own_client = client is None

    async def close(self) -> None:
        """Release the HTTP client (if this object made it)."""
        if self._own_client:
            await self._client.aclose()

    def _headers(self, **extra: str) -> dict[str, str]:
        headers = {"NGSILD-Tenant": self.tenant, **extra}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until ``/healthz`` answers 200 (the server may still be starting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = "no answer"
        while loop.time() < deadline:
            try:
                response = await self._client.get(f"{self.base_url}/healthz", timeout=5.0)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.25)
        raise ProvisioningError(f"Urbis at {self.base_url} is not ready after {timeout:.0f} s ({last})")

    async def login(self, username: str, password: str) -> str:
        """An access token for ``username`` in this tenant (OAuth2 password grant)."""
        response = await self._client.post(
            f"{self.base_url}/auth/token",
            data={"grant_type": "password", "username": username, "password": password, "tenant": self.tenant},
        )
        if response.status_code != 200:
            raise ProvisioningError(f"login as {username!r} failed: HTTP {response.status_code}: {response.text[:300]}")
        token: str = response.json()["access_token"]
        self.token = token
        return token

    async def upsert_entities(self, entities: Sequence[dict[str, Any]], *, chunk: int = 1000) -> int:
        """Create or update entities (``options=update`` keeps attributes not named); returns how many."""
        url = f"{self.base_url}/ngsi-ld/v1/entityOperations/upsert"
        headers = self._headers(**{"Content-Type": "application/json", "Link": LINK})
        for start in range(0, len(entities), chunk):
            part = entities[start : start + chunk]
            response = await self._client.post(
                url, params={"options": "update"}, content=orjson.dumps(part), headers=headers
            )
            if response.status_code not in (200, 201, 204):
                raise ProvisioningError(
                    f"upsert of entities {start}-{start + len(part) - 1} failed: HTTP {response.status_code}: {response.text[:500]}"
                )
        return len(entities)

    async def import_devices(self, bodies: Sequence[dict[str, Any]], *, chunk: int = 2000) -> ImportOutcome:
        """Register devices in chunks (keep gateways before their members); tokens of the new ones."""
        outcome = ImportOutcome()
        url = f"{self.base_url}/api/v1/devices/import"
        headers = self._headers(**{"Content-Type": "application/json"})
        for start in range(0, len(bodies), chunk):
            part = bodies[start : start + chunk]
            response = await self._client.post(url, content=orjson.dumps(part), headers=headers)
            if response.status_code not in (200, 201):
                raise ProvisioningError(f"device import failed: HTTP {response.status_code}: {response.text[:500]}")
            answer = response.json()
            for created in answer.get("created", []):
                outcome.tokens[created["id"]] = created["token"]
            for error in answer.get("errors", []):
                row = error.get("row")
                device_id = error.get("id")
                if device_id is None and isinstance(row, int) and 1 <= row <= len(part):
                    device_id = part[row - 1].get("id")
                if "already exists" in str(error.get("detail", "")) and device_id is not None:
                    outcome.existing.append(device_id)
                else:
                    outcome.errors.append({**error, "id": device_id})
        return outcome

    async def rotate_token(self, device_id: str) -> str:
        """A new token for an existing device (the old one stops working)."""
        response = await self._client.post(
            f"{self.base_url}/api/v1/devices/{quote(device_id, safe='')}/token", headers=self._headers()
        )
        if response.status_code != 200:
            raise ProvisioningError(
                f"token rotation of {device_id!r} failed: HTTP {response.status_code}: {response.text[:300]}"
            )
        token: str = response.json()["token"]
        return token

    async def entity(self, entity_id: str, **params: str) -> dict[str, Any] | None:
        """One entity (``None`` when it does not exist), in Urbis @context terms."""
        response = await self._client.get(
            f"{self.base_url}/ngsi-ld/v1/entities/{quote(entity_id, safe='')}",
            params=params,
            headers=self._headers(Link=LINK),
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        entity: dict[str, Any] = response.json()
        return entity


class TokenStore:
    """Device tokens in memory, optionally backed by a JSON file for the next run."""

    def __init__(self, path: Path | None, base_url: str, tenant: str):
        self.path = path
        self.key = f"{base_url.rstrip('/')}|{tenant}"
        self.tokens: dict[str, str] = {}
        if path is not None and path.exists():
            stored = orjson.loads(path.read_bytes())
            # One file may hold the tokens of several servers or tenants.
            self.tokens = dict(stored.get(self.key, {}))

    def save(self) -> None:
        """Write the tokens (readable by the owner only); other servers' tokens are kept."""
        if self.path is None:
            return
        stored: dict[str, Any] = orjson.loads(self.path.read_bytes()) if self.path.exists() else {}
        stored[self.key] = self.tokens
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_bytes(orjson.dumps(stored, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)


@dataclass
class ProvisionReport:
    """What provisioning did."""

    entities: int = 0
    created: int = 0
    existing: int = 0
    rotated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


async def provision(
    client: UrbisClient,
    entities: Sequence[dict[str, Any]],
    devices: Sequence[dict[str, Any]],
    store: TokenStore,
    needed: Iterable[str],
    *,
    concurrency: int = 8,
) -> ProvisionReport:
    """Upsert ``entities``, import ``devices`` and make sure every sender in ``needed`` has a token."""
    report = ProvisionReport()
    report.entities = await client.upsert_entities(entities)
    outcome = await client.import_devices(devices)
    store.tokens.update(outcome.tokens)
    report.created = len(outcome.tokens)
    report.existing = len(outcome.existing)
    report.errors = outcome.errors
    existing = set(outcome.existing)
    # Existing devices without a saved token (or whose token may be stale) get a new one.
    missing = [
        device_id for device_id in dict.fromkeys(needed) if device_id not in store.tokens and device_id in existing
    ]
    unknown = [
        device_id for device_id in dict.fromkeys(needed) if device_id not in store.tokens and device_id not in existing
    ]
    if unknown:
        raise ProvisioningError(
            f"no device and no token for: {', '.join(unknown[:10])}; see the import errors: {report.errors[:3]}"
        )
    slots = asyncio.Semaphore(concurrency)

    async def rotate(device_id: str) -> None:
        async with slots:
            store.tokens[device_id] = await client.rotate_token(device_id)

    await asyncio.gather(*(rotate(device_id) for device_id in missing))
    report.rotated = len(missing)
    store.save()
    return report
