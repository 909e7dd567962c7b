"""Simulated residents who tell the city what they see, through the public reports API.

Now and then a resident reports a problem: most often a street light that is dark because one of
the simulation's lamp faults struck it (the report names the lamp, so it joins the fault the lamp
reported about itself), otherwise an everyday problem somewhere along a street: a pothole,
litter, graffiti.  They post as one logged-in resident (``POST /api/v1/reports``), so their reports
are public at once; like every simulator part they use only the public interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from urbis.sim.faults import Fault
from urbis.sim.provision import ProvisioningError
from urbis.sim.world import City, Light

log = logging.getLogger(__name__)

#: Everyday problems: (category, answers, what residents write).
EVERYDAY: tuple[tuple[str, dict[str, list[str]], str], ...] = (
    ("pothole", {"where": ["road"], "size_cm": ["30"]}, "A pothole in the road, cars swerve around it."),
    ("litter", {}, "Bags of rubbish left next to the bench."),
    ("graffiti", {"offensive": ["no"]}, "Fresh graffiti on the bus shelter."),
)


@dataclass
class ResidentStats:
    """What the residents did."""

    reported: int = 0
    failed: int = 0


class Residents:
    """Residents reporting every ``interval`` seconds (real time) while the simulation runs live."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tenant: str,
        login: Callable[[], Awaitable[str]],
        city: City,
        *,
        interval: float = 300.0,
        seed: int = 7,
    ) -> None:
        """``client`` is bound to the Urbis base URL; ``login`` gets a resident's access token (again when it expires)."""
        self.client = client
        self.tenant = tenant
        self.login = login
        self.token: str | None = None
        self.city = city
        self.interval = interval
        self.rng = random.Random(seed)
        self.stats = ResidentStats()
        self._reported_lamps: set[str] = set()
        self._lights = {light.device.id: light for light in city.lights}

    def next_report(self, faults: list[Fault]) -> dict[str, Any]:
        """What the next resident reports, given the lamp faults under way."""
        dark = [
            self._lights[f.device_id]
            for f in faults
            if f.kind == "lamp-failure" and f.device_id in self._lights and f.device_id not in self._reported_lamps
        ]
        if dark:
            light = dark[0]
            self._reported_lamps.add(light.device.id)
            return self._lamp_report(light)
        light = self.rng.choice(self.city.lights)
        code, answers, text = self.rng.choice(EVERYDAY)
        # A few metres beside a lamp: somewhere along a street.
        return {
            "service": code,
            "description": f"{text} ({light.street_name})",
            "lat": round(light.device.lat + self.rng.uniform(-0.0002, 0.0002), 6),
            "long": round(light.device.lon + self.rng.uniform(-0.0002, 0.0002), 6),
            "attribute": answers,
        }

    def _lamp_report(self, light: Light) -> dict[str, Any]:
        return {
            "service": "streetlight",
            "description": f"The street light in {light.street_name} stays dark at night.",
            "lat": light.device.lat,
            "long": light.device.lon,
            "objectType": "Streetlight",
            "objectId": light.device.entity_id,
            "attribute": {"fault": ["dark"]},
        }

    async def report(self, body: dict[str, Any]) -> bool:
        """Send one report (logging in first, and again once the token expired); whether Urbis took it."""
        try:
            for attempt in range(2):
                if self.token is None:
                    self.token = await self.login()
                headers = {"Authorization": f"Bearer {self.token}", "NGSILD-Tenant": self.tenant}
                response = await self.client.post("/api/v1/reports", json=body, headers=headers, timeout=30)
                if response.status_code != 401 or attempt:
                    break
                self.token = None
        except (httpx.HTTPError, ProvisioningError) as error:  # a resident who cannot report now tries again later
            log.warning("a resident's report failed: %s", error)
            self.stats.failed += 1
            return False
        if response.status_code != 201:
            log.warning("a resident's report was refused (%s): %s", response.status_code, response.text[:200])
            self.stats.failed += 1
            return False
        self.stats.reported += 1
        return True

    async def run(self, faults_now: Callable[[], list[Fault]], stop: asyncio.Event) -> None:
        """Report every ``interval`` seconds until ``stop``; the first report comes after a short while."""
        wait = min(30.0, self.interval)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                return
            await self.report(self.next_report(faults_now()))
            wait = self.interval * self.rng.uniform(0.5, 1.5)
