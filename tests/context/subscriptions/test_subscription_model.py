"""The pure subscription rules: validation, compilation, matching a change, the notified form."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from urbis.context.jsonld import ContextResolver
from urbis.context.representation import Renderer
from urbis.context.subscriptions.model import (
    Counters,
    compile_subscription,
    describe_change,
    matches,
    merge_fragment,
    notification,
    render_change,
    shown_subscription,
    status_of,
    trigger_of,
    validate_subscription,
)
from urbis.core.errors import BadRequestData

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOW_ISO = "2026-11-24T12:00:00.000000Z"
V = "https://uri.etsi.org/ngsi-ld/default-context/"
CTX = ContextResolver(base_url="http://localhost").core


def sub(**members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "urn:ngsi-ld:Subscription:1",
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    body.update(members)
    return {k: v for k, v in body.items() if v is not None}


def entity(entity_id: str = "urn:ngsi-ld:Streetlight:1", kind: str = "Streetlight", **attrs: Any) -> dict[str, Any]:
    """An internal-form entity; attribute values given as plain values become Properties."""
    out: dict[str, Any] = {
        "id": entity_id,
        "type": [V + kind],
        "createdAt": "2026-11-24T10:00:00.000000Z",
        "modifiedAt": "2026-11-24T10:00:00.000000Z",
        "attrs": {},
    }
    for name, value in attrs.items():
        iri = "https://uri.etsi.org/ngsi-ld/location" if name == "location" else V + name
        kind_of = "GeoProperty" if name == "location" else "Property"
        out["attrs"][iri] = [{"type": kind_of, "value": value, "modifiedAt": "2026-11-24T10:00:00.000000Z"}]
    return out


def compiled(**members: Any) -> Any:
    return compile_subscription("t", validate_subscription(sub(**members)), CTX.expand)


def updated(before: dict[str, Any], **changes: Any) -> dict[str, Any]:
    after = copy.deepcopy(before)
    for name, value in changes.items():
        iri = V + name
        if value is None:
            after["attrs"].pop(iri, None)
        else:
            after["attrs"][iri] = [{"type": "Property", "value": value, "modifiedAt": "2026-11-24T11:00:00.000000Z"}]
    return after


# ---------------------------------------------------------------------------- validation


def test_a_valid_subscription_keeps_its_members_and_gets_an_id_when_none_is_given() -> None:
    doc = validate_subscription(sub(id=None, q="power>10", throttling=5))
    assert doc["id"].startswith("urn:ngsi-ld:Subscription:")
    assert doc["q"] == "power>10" and doc["throttling"] == 5
    assert list(doc) == ["id", "type", "entities", "q", "throttling", "notification"]


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"notification": None}, "notification"),
        ({"notification": {"format": "keyValues"}}, "endpoint"),
        ({"notification": {"endpoint": {"uri": "not a uri"}}}, "uri"),
        ({"notification": {"endpoint": {"uri": "ftp://example.org/x"}}}, "http"),
        ({"notification": {"endpoint": {"uri": "mqtt://broker"}}}, "topic"),
        ({"notification": {"endpoint": {"uri": "http://x/n", "accept": "text/plain"}}}, "accept"),
        ({"notification": {"endpoint": {"uri": "urbis-local:x"}}}, "http"),
        ({"notification": {"format": "pretty", "endpoint": {"uri": "http://x/n"}}}, "format"),
        ({"notification": {"attributes": [], "endpoint": {"uri": "http://x/n"}}}, "attributes"),
        ({"timeInterval": 5, "throttling": 2}, "throttling"),
        ({"timeInterval": 5, "watchedAttributes": ["power"]}, "watchedAttributes"),
        ({"throttling": -1}, "throttling"),
        ({"timeInterval": 0}, "timeInterval"),
        ({"entities": []}, "entities"),
        ({"entities": None}, "entities"),
        ({"entities": [{"id": "urn:x:1"}]}, "type"),
        ({"entities": [{"type": "A;;B"}]}, "type selection"),
        ({"entities": [{"type": "A", "idPattern": "("}]}, "idPattern"),
        ({"watchedAttributes": []}, "watchedAttributes"),
        ({"notificationTrigger": ["entityExploded"]}, "notificationTrigger"),
        ({"notificationTrigger": []}, "notificationTrigger"),
        ({"q": "power>>3"}, "q"),
        ({"geoQ": {"georel": "near;maxDistance==10", "geometry": "Point"}}, "coordinates"),
        ({"geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": [[1, 2]]}}, "geoQ"),
        ({"scopeQ": "no-slash"}, "scopeQ"),
        ({"isActive": "yes"}, "isActive"),
        ({"expiresAt": "tomorrow"}, "expiresAt"),
        ({"type": "Subscriptions"}, "Subscription"),
        ({"id": "no uri"}, "URI"),
        ({"csf": "x==1"}, "csf"),
        ({"temporalQ": {"timerel": "after"}}, "temporalQ"),
        ({"color": "blue"}, "color"),
    ],
)
def test_invalid_subscriptions_are_refused_naming_the_problem(members: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        validate_subscription(sub(**members))
    assert fragment in caught.value.detail


def test_a_subscription_needs_entities_or_watched_attributes() -> None:
    with pytest.raises(BadRequestData, match="entities"):
        validate_subscription(sub(entities=None))
    assert validate_subscription(sub(entities=None, watchedAttributes=["power"]))["watchedAttributes"] == ["power"]


def test_endpoint_members_are_checked() -> None:
    endpoint = {
        "uri": "mqtt://user:pw@127.0.0.1:1883/city/lights",
        "accept": "application/ld+json",
        "timeout": 2500,
        "cooldown": 3,
        "receiverInfo": [{"key": "X-Key", "value": "v"}],
        "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
    }
    doc = validate_subscription(sub(notification={"endpoint": endpoint}))
    assert doc["notification"]["endpoint"] == endpoint
    for bad in (
        {"receiverInfo": [{"key": "bad key", "value": "v"}]},
        {"receiverInfo": [{"key": "X", "value": "a\nb"}]},
        {"notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]},
        {"timeout": -1},
    ):
        with pytest.raises(BadRequestData):
            validate_subscription(sub(notification={"endpoint": {"uri": "http://x/n", **bad}}))


def test_pick_and_attributes_do_not_combine() -> None:
    with pytest.raises(BadRequestData, match="pick"):
        validate_subscription(
            sub(notification={"attributes": ["a"], "pick": ["id"], "endpoint": {"uri": "http://x/n"}})
        )
    with pytest.raises(BadRequestData, match="picked and omitted"):
        validate_subscription(sub(notification={"pick": ["a"], "omit": ["a"], "endpoint": {"uri": "http://x/n"}}))


def test_merge_replaces_given_members_and_removes_null_ones() -> None:
    stored = validate_subscription(sub(q="power>1", throttling=5))
    merged = merge_fragment(stored, {"q": None, "throttling": "urn:ngsi-ld:null", "isActive": False}, stored["id"])
    assert "q" not in merged and "throttling" not in merged and merged["isActive"] is False
    with pytest.raises(BadRequestData, match="id"):
        merge_fragment(stored, {"id": "urn:other:1"}, stored["id"])
    with pytest.raises(BadRequestData, match="notification"):
        merge_fragment(stored, {"notification": None}, stored["id"])


# ---------------------------------------------------------------------------- status


def test_status_follows_is_active_and_expires_at() -> None:
    assert status_of(sub(), NOW) == "active"
    assert status_of(sub(isActive=False), NOW) == "paused"
    assert status_of(sub(expiresAt="2026-11-24T11:59:59Z"), NOW) == "expired"
    assert status_of(sub(expiresAt="2026-11-24T12:00:01Z"), NOW) == "active"
    assert compiled(expiresAt="2026-11-24T11:00:00Z").status(NOW) == "expired"


# ---------------------------------------------------------------------------- matching


def test_changes_are_classified_per_attribute() -> None:
    before = entity(power=1, dim=50, mode="auto")
    after = updated(before, power=2, mode=None, colour="warm")
    change = describe_change(before["id"], "update", after, before)
    assert change.updated == {V + "power"}
    assert change.deleted == {V + "mode"}
    assert change.created == {V + "colour"}
    assert V + "dim" not in change.changed


def test_default_triggers_are_attribute_created_and_updated() -> None:
    subscription = compiled()
    before = entity(power=1)
    create = describe_change(before["id"], "create", before, None)
    update = describe_change(before["id"], "update", updated(before, power=2), before)
    removal = describe_change(before["id"], "update", updated(before, power=None), before)
    delete = describe_change(before["id"], "delete", None, before)
    assert matches(subscription, create, NOW) == "attributeCreated"
    assert matches(subscription, update, NOW) == "attributeUpdated"
    assert matches(subscription, removal, NOW) is None
    assert matches(subscription, delete, NOW) is None


def test_entity_triggers() -> None:
    subscription = compiled(notificationTrigger=["entityCreated", "entityDeleted"])
    before = entity(power=1)
    assert trigger_of(subscription, describe_change(before["id"], "create", before, None)) == "entityCreated"
    assert trigger_of(subscription, describe_change(before["id"], "delete", None, before)) == "entityDeleted"
    assert trigger_of(subscription, describe_change(before["id"], "update", updated(before, power=3), before)) is None
    attribute_deleted = compiled(notificationTrigger=["attributeDeleted"])
    assert trigger_of(attribute_deleted, describe_change(before["id"], "delete", None, before)) == "attributeDeleted"


def test_watched_attributes_limit_what_fires() -> None:
    subscription = compiled(watchedAttributes=["power"])
    before = entity(power=1, dim=5)
    assert matches(subscription, describe_change(before["id"], "update", updated(before, dim=6), before), NOW) is None
    assert matches(subscription, describe_change(before["id"], "update", updated(before, power=2), before), NOW)


def test_entity_selectors_types_ids_and_patterns() -> None:
    by_type = compiled(entities=[{"type": "(Streetlight;Smart),Cabinet"}])
    light = entity(power=1)
    smart = copy.deepcopy(light)
    smart["type"].append(V + "Smart")
    cabinet = entity("urn:ngsi-ld:Cabinet:1", "Cabinet", power=1)
    assert not by_type.selects(light)
    assert by_type.selects(smart) and by_type.selects(cabinet)
    # One type of each alternative is enough to find the subscription (an entity of "A;B" has both).
    assert by_type.index_types() == {V + "Smart", V + "Cabinet"}
    by_pattern = compiled(entities=[{"type": "Streetlight", "idPattern": ":Streetlight:1$"}])
    assert by_pattern.selects(light)
    assert not by_pattern.selects(entity("urn:ngsi-ld:Streetlight:2", power=1))
    by_id = compiled(entities=[{"type": "Streetlight", "id": "urn:ngsi-ld:Streetlight:2"}])
    assert not by_id.selects(light)


def test_q_geo_and_scope_filters_apply_to_the_changed_entity() -> None:
    bonn = {"type": "Point", "coordinates": [7.1, 50.73]}
    subscription = compiled(
        q="power>10",
        geoQ={"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [7.1, 50.735]},
    )
    assert subscription.selects(entity(power=11, location=bonn))
    assert not subscription.selects(entity(power=9, location=bonn))
    assert not subscription.selects(entity(power=11, location={"type": "Point", "coordinates": [6.96, 50.94]}))
    scoped = compiled(scopeQ="/Bonn/#")
    inside = entity(power=1)
    inside["scope"] = ["/Bonn/Centre"]
    assert scoped.selects(inside) and not scoped.selects(entity(power=1))


def test_deletions_are_filtered_on_the_entity_as_it_was() -> None:
    subscription = compiled(q="power>10", notificationTrigger=["entityDeleted"])
    assert matches(subscription, describe_change("urn:ngsi-ld:Streetlight:1", "delete", None, entity(power=11)), NOW)
    assert not matches(subscription, describe_change("urn:ngsi-ld:Streetlight:1", "delete", None, entity(power=1)), NOW)


def test_paused_expired_and_periodic_subscriptions_are_not_notified_by_changes() -> None:
    change = describe_change("urn:ngsi-ld:Streetlight:1", "create", entity(power=1), None)
    assert matches(compiled(isActive=False), change, NOW) is None
    assert matches(compiled(expiresAt="2026-01-01T00:00:00Z"), change, NOW) is None
    assert matches(compiled(timeInterval=10), change, NOW) is None


# ---------------------------------------------------------------------------- the notified form


def render(subscription: Any, change: Any) -> dict[str, Any]:
    return render_change(subscription, change, Renderer(CTX.compact, subscription.render_options()), NOW_ISO)


def test_rendering_follows_format_and_attributes() -> None:
    before = entity(power=1, dim=50)
    change = describe_change(before["id"], "update", updated(before, power=2), before)
    assert render(compiled(notification={"format": "keyValues", "endpoint": {"uri": "http://x/n"}}), change) == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "power": 2,
        "dim": 50,
    }
    concise = render(
        compiled(notification={"format": "concise", "attributes": ["power"], "endpoint": {"uri": "http://x/n"}}), change
    )
    assert concise == {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": 2}
    normalized = render(compiled(), change)
    assert normalized["power"] == {"type": "Property", "value": 2}


def test_show_changes_adds_previous_values() -> None:
    before = entity(power=1, dim=50)
    change = describe_change(before["id"], "update", updated(before, power=2, dim=None), before)
    shown = render(compiled(notification={"showChanges": True, "endpoint": {"uri": "http://x/n"}}), change)
    assert shown["power"] == {"type": "Property", "value": 2, "previousValue": 1}
    assert shown["dim"] == {"type": "Property", "value": "urn:ngsi-ld:null", "previousValue": 50}
    concise = render(
        compiled(notification={"format": "concise", "showChanges": True, "endpoint": {"uri": "http://x/n"}}), change
    )
    assert concise["power"] == {"value": 2, "previousValue": 1}


def test_a_deleted_entity_is_notified_with_null_attributes_and_deleted_at() -> None:
    before = entity(power=1)
    change = describe_change(before["id"], "delete", None, before)
    assert render(compiled(notificationTrigger=["entityDeleted"]), change) == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "deletedAt": NOW_ISO,
        "power": {"type": "Property", "value": "urn:ngsi-ld:null"},
    }
    key_values = compiled(
        notificationTrigger=["entityDeleted"], notification={"format": "keyValues", "endpoint": {"uri": "http://x/n"}}
    )
    assert render(key_values, change)["power"] == "urn:ngsi-ld:null"


def test_notification_envelope() -> None:
    body = notification("urn:ngsi-ld:Subscription:1", [{"id": "urn:x:1"}], NOW_ISO, trigger="entityCreated")
    assert body["type"] == "Notification"
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert (body["subscriptionId"], body["notifiedAt"], body["triggerReason"]) == (
        "urn:ngsi-ld:Subscription:1",
        NOW_ISO,
        "entityCreated",
    )


def test_shown_subscription_adds_status_defaults_and_counters() -> None:
    counters = Counters(
        3, 1, "2026-11-24T11:00:02.000000Z", "2026-11-24T11:00:02.000000Z", "2026-11-24T11:00:01.000000Z"
    )
    shown = shown_subscription(validate_subscription(sub()), "active", counters, context_url="https://x/ctx.jsonld")
    assert shown["status"] == "active" and shown["isActive"] is True
    assert shown["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert shown["jsonldContext"] == "https://x/ctx.jsonld"
    params = shown["notification"]
    assert (params["timesSent"], params["timesFailed"], params["status"]) == (3, 1, "ok")
    assert params["format"] == "normalized" and params["endpoint"]["accept"] == "application/json"
    failing = Counters(1, 1, "2026-11-24T11:00:01.000000Z", None, "2026-11-24T11:00:01.000000Z")
    assert shown_subscription(validate_subscription(sub()), "active", failing)["notification"]["status"] == "failed"


def test_counters_add_up_and_keep_the_latest_times() -> None:
    total = Counters(1, 0, "2026-11-24T10:00:00.000000Z", "2026-11-24T10:00:00.000000Z", None).plus(
        Counters(1, 1, "2026-11-24T10:00:05.000000Z", None, "2026-11-24T10:00:05.000000Z")
    )
    assert total == Counters(
        2, 1, "2026-11-24T10:00:05.000000Z", "2026-11-24T10:00:00.000000Z", "2026-11-24T10:00:05.000000Z"
    )


# ---------------------------------------------------------------------------- robustness

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
MEMBERS = st.sampled_from(
    [
        "id",
        "type",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "scopeQ",
        "lang",
        "isActive",
        "expiresAt",
        "throttling",
        "notification",
        "jsonldContext",
        "subscriptionName",
    ]
)
NOTIFICATION_MEMBERS = st.sampled_from(["attributes", "format", "sysAttrs", "showChanges", "pick", "omit", "endpoint"])
ENDPOINT_MEMBERS = st.sampled_from(["uri", "accept", "timeout", "cooldown", "receiverInfo", "notifierInfo"])


@given(member=MEMBERS, value=JSON_VALUES)
def test_any_member_value_is_accepted_or_a_bad_request(member: str, value: Any) -> None:
    try:
        doc = validate_subscription(sub(**{member: value}))
    except BadRequestData:
        return
    compile_subscription("t", doc, CTX.expand)  # what validation accepts also compiles


@given(
    where=st.sampled_from(["notification", "endpoint"]),
    member=NOTIFICATION_MEMBERS | ENDPOINT_MEMBERS,
    value=JSON_VALUES,
)
def test_any_notification_value_is_accepted_or_a_bad_request(where: str, member: str, value: Any) -> None:
    notification_doc: dict[str, Any] = {"endpoint": {"uri": "http://x/n"}}
    if where == "notification":
        notification_doc[member] = value
    else:
        notification_doc["endpoint"][member] = value
    try:
        doc = validate_subscription(sub(notification=notification_doc))
    except BadRequestData:
        return
    compile_subscription("t", doc, CTX.expand)
