"""A message that makes storage fail on its own is dead-lettered with reason 'storage' (both backends)."""

from __future__ import annotations

from fastapi import FastAPI

from urbis.ingestion.messages import RawMessage


def test_quarantined_messages_are_dead_letters_with_the_reason(app: FastAPI, tenant: str) -> None:
    message = RawMessage(tenant, "lamp-9", b'{"dim": 40}', 1_795_000_000_000_000, "mqtt")
    app.state.ingestion.quarantine(message, "storage failed on this message: ValueError('bug')")
    letters, total = app.state.deadletters.list_deadletters(tenant)
    assert total == 1
    [letter] = letters
    assert (letter.device_id, letter.transport, letter.reason, letter.payload) == (
        "lamp-9",
        "mqtt",
        "storage",
        b'{"dim": 40}',
    )
    assert "ValueError('bug')" in letter.detail
