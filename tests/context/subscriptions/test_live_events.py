"""The event-stream fan-out: bounded per-connection queues that never block the writer."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from urbis.context.service import EntityChanged
from urbis.context.subscriptions.live import LiveEvents

V = "https://uri.etsi.org/ngsi-ld/default-context/"


def change(number: int, kind: str = "Streetlight", tenant: str = "bonn") -> EntityChanged:
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:{kind}:{number}", "type": [V + kind], "attrs": {}}
    return EntityChanged(tenant, entity["id"], "create", entity, None, ())


def test_a_slow_reader_loses_the_oldest_changes_and_is_told_how_many() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        hub = LiveEvents(max_queue=3)
        listener = hub.listen("bonn")
        # Published from another thread, as writers do; nothing waits for the reader.
        writer = threading.Thread(target=lambda: [hub.on_entity_changed(change(n)) for n in range(10)])
        writer.start()
        writer.join()
        events, dropped = await listener.next_batch(timeout=5)
        hub.close(listener)
        return [e.entity_id for e in events], dropped, hub.count()

    ids, dropped, open_streams = asyncio.run(scenario())
    assert ids == [f"urn:ngsi-ld:Streetlight:{n}" for n in (7, 8, 9)]
    assert dropped == 7
    assert open_streams == 0


def test_types_and_tenants_are_filtered_before_queueing() -> None:
    async def scenario() -> list[str]:
        hub = LiveEvents()
        listener = hub.listen("bonn", {V + "Streetlight"})
        hub.on_entity_changed(change(1, "Cabinet"))
        hub.on_entity_changed(change(2, tenant="koeln"))
        hub.on_entity_changed(change(3))
        events, _ = await listener.next_batch(timeout=5)
        return [e.entity_id for e in events]

    assert asyncio.run(scenario()) == ["urn:ngsi-ld:Streetlight:3"]


def test_waiting_without_changes_times_out_empty() -> None:
    async def scenario() -> tuple[list[EntityChanged], int]:
        hub = LiveEvents()
        listener = hub.listen("bonn")
        return await listener.next_batch(timeout=0.05)

    assert asyncio.run(scenario()) == ([], 0)
