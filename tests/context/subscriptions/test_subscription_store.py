"""The ``subscriptions`` table on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from urbis.context.subscriptions.model import Counters, validate_subscription
from urbis.context.subscriptions.store import SubscriptionStore
from urbis.core.db import Database

STORE = SubscriptionStore()


def doc(number: int, **members: Any) -> dict[str, Any]:
    return validate_subscription(
        {
            "id": f"urn:ngsi-ld:Subscription:{number}",
            "type": "Subscription",
            "entities": [{"type": "Streetlight"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
            **members,
        }
    )


def test_insert_get_replace_delete(database: Database, tenant: str) -> None:
    with database.write() as conn:
        assert STORE.insert(
            conn, tenant, doc(1, isActive=False), ["https://x/ctx.jsonld"], "2026-11-24T10:00:00.000000Z"
        )
        assert not STORE.insert(conn, tenant, doc(1), None, "2026-11-24T10:00:00.000000Z")
    with database.read() as conn:
        stored = STORE.get(conn, tenant, "urn:ngsi-ld:Subscription:1")
        assert STORE.get(conn, "other" + tenant, "urn:ngsi-ld:Subscription:1") is None
    assert stored is not None
    assert stored.doc["isActive"] is False and stored.context == ["https://x/ctx.jsonld"]
    assert stored.counters == Counters()
    with database.write() as conn:
        assert STORE.replace(conn, tenant, doc(1, q="power>1"), None, "2026-11-24T10:00:01.000000Z")
        assert not STORE.replace(conn, tenant, doc(2), None, "2026-11-24T10:00:01.000000Z")
    with database.read() as conn:
        again = STORE.get(conn, tenant, "urn:ngsi-ld:Subscription:1")
    assert again is not None and again.doc["q"] == "power>1" and again.context is None
    assert again.created_at == "2026-11-24T10:00:00.000000Z" and again.modified_at == "2026-11-24T10:00:01.000000Z"
    with database.write() as conn:
        assert STORE.delete(conn, tenant, "urn:ngsi-ld:Subscription:1")
        assert not STORE.delete(conn, tenant, "urn:ngsi-ld:Subscription:1")


def test_pages_in_creation_order_with_count(database: Database, tenant: str) -> None:
    with database.write() as conn:
        for number in range(5):
            STORE.insert(conn, tenant, doc(number), None, f"2026-11-24T10:00:0{number}.000000Z")
    with database.read() as conn:
        page, total = STORE.page(conn, tenant, limit=2, offset=1, count=True)
        rest, no_total = STORE.page(conn, tenant, limit=10, offset=3, count=False)
    assert [s.id for s in page] == ["urn:ngsi-ld:Subscription:1", "urn:ngsi-ld:Subscription:2"]
    assert total == 5 and no_total is None
    assert [s.id for s in rest] == ["urn:ngsi-ld:Subscription:3", "urn:ngsi-ld:Subscription:4"]


def test_counters_are_added_in_one_batch(database: Database, tenant: str) -> None:
    with database.write() as conn:
        STORE.insert(conn, tenant, doc(1), None, "2026-11-24T10:00:00.000000Z")
        STORE.insert(conn, tenant, doc(2), None, "2026-11-24T10:00:00.000000Z")
    first = "2026-11-24T10:00:05.000000Z"
    second = "2026-11-24T10:00:09.000000Z"
    with database.write() as conn:
        STORE.add_counters(
            conn,
            {
                (tenant, "urn:ngsi-ld:Subscription:1"): Counters(3, 1, first, first, first),
                (tenant, "urn:ngsi-ld:Subscription:2"): Counters(1, 0, first, first, None),
                (tenant, "urn:ngsi-ld:Subscription:gone"): Counters(1, 0, first, first, None),
            },
        )
    with database.write() as conn:
        STORE.add_counters(conn, {(tenant, "urn:ngsi-ld:Subscription:1"): Counters(2, 0, second, second, None)})
    with database.read() as conn:
        one = STORE.get(conn, tenant, "urn:ngsi-ld:Subscription:1")
        two = STORE.get(conn, tenant, "urn:ngsi-ld:Subscription:2")
    assert one is not None and two is not None
    # 3 + 2 sent, 1 failed; the last failure stays when the later batch had none.
    assert one.counters == Counters(5, 1, second, second, first)
    assert two.counters == Counters(1, 0, first, first, None)


def test_a_periodic_run_is_claimed_once(database: Database, tenant: str) -> None:
    with database.write() as conn:
        STORE.insert(conn, tenant, doc(1, timeInterval=10), None, "2026-11-24T10:00:00.000000Z")
        STORE.insert(conn, tenant, doc(2), None, "2026-11-24T10:00:00.000000Z")
    with database.write() as conn:
        assert tenant in STORE.periodic_tenants(conn)
        assert not STORE.claim_run(conn, tenant, "urn:ngsi-ld:Subscription:2", 1000.0, 1010.0)  # not periodic
    with database.write() as conn:
        assert STORE.claim_run(conn, tenant, "urn:ngsi-ld:Subscription:1", 1000.0, 1010.0)
    with database.write() as conn:
        assert not STORE.claim_run(conn, tenant, "urn:ngsi-ld:Subscription:1", 1005.0, 1015.0)
    with database.write() as conn:
        assert STORE.claim_run(conn, tenant, "urn:ngsi-ld:Subscription:1", 1010.0, 1020.0)
        STORE.delete(conn, tenant, "urn:ngsi-ld:Subscription:1")
    with database.read() as conn:
        assert tenant not in STORE.periodic_tenants(conn)


def test_the_signature_changes_with_every_change(database: Database, tenant: str) -> None:
    with database.read() as conn:
        start = STORE.signature(conn)
    with database.write() as conn:
        STORE.insert(conn, tenant, doc(1), None, "2099-01-01T00:00:00.000000Z")
    with database.read() as conn:
        created = STORE.signature(conn)
        assert tenant in STORE.tenants(conn)
    with database.write() as conn:
        STORE.replace(conn, tenant, doc(1, q="a>1"), None, "2099-01-01T00:00:01.000000Z")
    with database.read() as conn:
        changed = STORE.signature(conn)
    with database.write() as conn:
        STORE.delete(conn, tenant, "urn:ngsi-ld:Subscription:1")
    with database.read() as conn:
        deleted = STORE.signature(conn)
    # Each step differs from the one before (back where it started is no change to notice).
    assert start != created != changed != deleted
    assert deleted[0] == start[0]
