"""NGSI-LD subscriptions, the pure part: validate, compile, match a change, build the notification.

No I/O and no clock reads here: time is a parameter, JSON-LD terms are expanded and compacted by
callables the caller passes in (the subscription's compiled ``@context``).

A subscription is kept as the client wrote it (terms, not IRIs), after validation
(:func:`validate_subscription`), together with the ``@context`` it was written in.  To match
changes it is compiled once (:func:`compile_subscription`) into a :class:`Subscription`: type
selections, ``q``, ``geoQ`` and ``scopeQ`` become predicates over the internal entity form and
attribute names become expanded IRIs, so matching one change is a few set operations.

Semantics decided where the specification (ETSI GS CIM 009 V1.8, clauses 5.2.12, 5.8 and 5.11)
leaves room:

- an entity creation fires ``entityCreated`` and ``attributeCreated`` (for each of its attributes);
  a deletion fires ``entityDeleted`` and ``attributeDeleted`` (for each); an update fires
  ``entityUpdated`` and, per attribute, ``attributeCreated``/``attributeUpdated``/``attributeDeleted``
  (an attribute counts as updated when any of its instances changed, ``modifiedAt`` included, so
  re-writing the same value is an update, as a device re-reporting a reading is);
- ``q``, ``geoQ`` and ``scopeQ`` are evaluated on the entity after the change, and on the entity as
  it was for a deletion;
- ``throttling`` delays rather than drops: changes inside the window are coalesced and the latest
  state of each entity is sent when the window ends (see the service).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from urbis.context.model import (
    NGSILD_NULL,
    VALUE_MEMBER,
    Entity,
    check_name,
    is_geojson_geometry,
    is_uri,
    normalise_datetime,
    parse_datetime,
)
from urbis.context.query.geo import GeoQuery, entity_shapes, parse_geoquery
from urbis.context.query.qlang import compile_q, compile_scope_q, parse_q
from urbis.context.query.typesel import parse_type_selection
from urbis.context.representation import (
    Format,
    Projection,
    Renderer,
    RenderOptions,
    parse_projection,
    projection_options,
)
from urbis.core.errors import BadRequestData, UrbisError

Expand = Callable[[str], str]
Compact = Callable[[str], str]

SUBSCRIPTION_TYPE = "Subscription"
NOTIFICATION_TYPE = "Notification"

ENTITY_CREATED = "entityCreated"
ENTITY_UPDATED = "entityUpdated"
ENTITY_DELETED = "entityDeleted"
ATTRIBUTE_CREATED = "attributeCreated"
ATTRIBUTE_UPDATED = "attributeUpdated"
ATTRIBUTE_DELETED = "attributeDeleted"
TRIGGERS = (ENTITY_CREATED, ENTITY_UPDATED, ENTITY_DELETED, ATTRIBUTE_CREATED, ATTRIBUTE_UPDATED, ATTRIBUTE_DELETED)
#: Clause 5.2.12: without ``notificationTrigger`` a subscription fires on attribute creation and update.
DEFAULT_TRIGGERS = (ATTRIBUTE_CREATED, ATTRIBUTE_UPDATED)

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
ACCEPTS = (JSON, JSON_LD, GEO_JSON)

#: URI schemes a client may give as a notification endpoint.
ENDPOINT_SCHEMES = ("http", "https", "mqtt", "mqtts")
#: The scheme of in-process endpoints (``SubscriptionService.subscribe_local``); never accepted from clients.
LOCAL_SCHEME = "urbis-local"

Status = Literal["active", "paused", "expired"]

#: Members a client may write, in the order they are shown.
_MEMBERS = (
    "id",
    "type",
    "subscriptionName",
    "description",
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
)
#: Members only the broker writes: ignored on input (a client may send back what it read).
_BROKER_MEMBERS = frozenset({"status", "createdAt", "modifiedAt", "@context"})
#: Members of the specification Urbis does not implement: refused, never silently ignored.
_UNSUPPORTED = {
    "csf": "context source filters (csf) apply to federation, which this broker does not do",
    "temporalQ": "temporal queries in subscriptions (temporalQ) are not supported",
    "datasetId": "datasetId filters in subscriptions are not supported",
    "expandValues": "expandValues is not supported",
    "contextSourceInfo": "contextSourceInfo is not supported",
    "scope": "'scope' is not a subscription member; use scopeQ",
}
_NOTIFICATION_MEMBERS = ("attributes", "format", "sysAttrs", "showChanges", "pick", "omit", "endpoint")
_NOTIFICATION_BROKER_MEMBERS = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"}
)
_NOTIFICATION_UNSUPPORTED = {
    "join": "linked entity retrieval (join) in notifications is not supported",
    "joinLevel": "linked entity retrieval (joinLevel) in notifications is not supported",
    "containedBy": "containedBy is not supported",
}
_ENDPOINT_MEMBERS = ("uri", "accept", "timeout", "cooldown", "receiverInfo", "notifierInfo")
_ENTITY_MEMBERS = ("id", "idPattern", "type")
_FORMATS = {"normalized": "normalized", "concise": "concise", "keyValues": "keyValues", "simplified": "keyValues"}
_MQTT_QOS = {"0": 0, "1": 1, "2": 2}
_MQTT_VERSIONS = ("mqtt3.1.1", "mqtt5.0")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def new_subscription_id() -> str:
    """A fresh subscription id (a URN)."""
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def validate_subscription(body: Any, *, allow_local: bool = False) -> dict[str, Any]:
    """Check a complete subscription (without ``@context``) and return it in its stored shape.

    The result holds only client members, in a fixed order; an absent ``id`` gets a fresh URN.
    Every problem raises :class:`BadRequestData` naming the member.  ``allow_local`` admits the
    in-process endpoint scheme (only :meth:`SubscriptionService.subscribe_local` sets it).
    """
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    if not body:
        raise BadRequestData("the subscription is empty: it needs at least 'type' and 'notification'")
    _refuse_unknown(body, _MEMBERS, _BROKER_MEMBERS, _UNSUPPORTED, "subscription")
    out: dict[str, Any] = {}
    sub_id = body.get("id")
    if sub_id is None:
        sub_id = new_subscription_id()
    elif not is_uri(sub_id) or sub_id == NGSILD_NULL:
        raise BadRequestData(f"subscription id must be a URI, got {sub_id!r:.100}")
    out["id"] = sub_id
    if body.get("type") != SUBSCRIPTION_TYPE:
        raise BadRequestData(f"a subscription's type must be 'Subscription', got {body.get('type')!r:.60}")
    out["type"] = SUBSCRIPTION_TYPE
    for name in ("subscriptionName", "description", "lang"):
        if name in body:
            if not isinstance(body[name], str) or not body[name].strip():
                raise BadRequestData(f"'{name}' must be a non-empty string")
            out[name] = body[name]
    if "entities" in body:
        out["entities"] = _entities(body["entities"])
    if "watchedAttributes" in body:
        out["watchedAttributes"] = _names(body["watchedAttributes"], "watchedAttributes")
    if "entities" not in out and "watchedAttributes" not in out:
        raise BadRequestData("a subscription needs 'entities' or 'watchedAttributes' (or both)")
    if "notificationTrigger" in body:
        out["notificationTrigger"] = _triggers(body["notificationTrigger"])
    if "timeInterval" in body:
        out["timeInterval"] = _positive(body["timeInterval"], "timeInterval")
        if "throttling" in body:
            raise BadRequestData("'throttling' and 'timeInterval' cannot both be given")
        if "watchedAttributes" in out:
            raise BadRequestData("'watchedAttributes' cannot be used with 'timeInterval' (a periodic subscription)")
        if "entities" not in out:
            raise BadRequestData("a periodic subscription ('timeInterval') needs 'entities'")
    if "q" in body:
        out["q"] = _checked_q(body["q"])
    if "geoQ" in body:
        out["geoQ"] = _geo_q(body["geoQ"])
    if "scopeQ" in body:
        out["scopeQ"] = _checked_scope_q(body["scopeQ"])
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise BadRequestData(f"'isActive' must be true or false, got {body['isActive']!r:.40}")
        out["isActive"] = body["isActive"]
    if "expiresAt" in body:
        try:
            out["expiresAt"] = normalise_datetime(body["expiresAt"], "expiresAt")
        except UrbisError:
            raise BadRequestData(f"'expiresAt' must be an ISO 8601 date-time, got {body['expiresAt']!r:.60}") from None
    if "throttling" in body:
        out["throttling"] = _positive(body["throttling"], "throttling")
    if "notification" not in body:
        raise BadRequestData("a subscription needs a 'notification' member with an 'endpoint'")
    out["notification"] = _notification(body["notification"], allow_local=allow_local)
    if "jsonldContext" in body:
        if not isinstance(body["jsonldContext"], str) or not is_uri(body["jsonldContext"]):
            raise BadRequestData("'jsonldContext' must be the URI of a JSON-LD @context")
        out["jsonldContext"] = body["jsonldContext"]
    return out


def merge_fragment(stored: Mapping[str, Any], fragment: Any, subscription_id: str) -> dict[str, Any]:
    """The subscription after a PATCH with ``fragment`` (clause 5.8.2); validate the result afterwards.

    Each top-level member given replaces the stored one; a member set to ``null`` or the NGSI-LD
    Null is removed.  ``id`` may be repeated but not changed; ``type`` must stay ``Subscription``.
    """
    if not isinstance(fragment, dict):
        raise BadRequestData("a subscription update must be a JSON object")
    fragment = {k: v for k, v in fragment.items() if k != "@context"}
    if not fragment:
        raise BadRequestData("the subscription update is empty")
    _refuse_unknown(fragment, _MEMBERS, _BROKER_MEMBERS, _UNSUPPORTED, "subscription")
    if "id" in fragment and fragment["id"] != subscription_id:
        raise BadRequestData("a subscription's id cannot be changed")
    if "type" in fragment and fragment["type"] != SUBSCRIPTION_TYPE:
        raise BadRequestData(f"a subscription's type must be 'Subscription', got {fragment['type']!r:.60}")
    merged = dict(stored)
    for name, value in fragment.items():
        if name in _BROKER_MEMBERS:
            continue
        if value is None or value == NGSILD_NULL:
            if name in ("id", "type", "notification"):
                raise BadRequestData(f"'{name}' cannot be removed from a subscription")
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _refuse_unknown(
    body: Mapping[str, Any],
    members: Iterable[str],
    ignored: Iterable[str],
    unsupported: Mapping[str, str],
    what: str,
) -> None:
    allowed = set(members) | set(ignored)
    for name in body:
        if name in unsupported:
            raise BadRequestData(unsupported[name])
        if name not in allowed:
            raise BadRequestData(f"unknown {what} member {name!r:.60}; known members: {', '.join(members)}")


def _entities(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequestData("'entities' must be a non-empty array of entity selectors")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequestData(
                "each item of 'entities' must be an object with 'type' and optionally 'id' or 'idPattern'"
            )
        _refuse_unknown(item, _ENTITY_MEMBERS, (), {}, "entity selector")
        selector: dict[str, str] = {}
        if "id" in item:
            if not is_uri(item["id"]):
                raise BadRequestData(f"entity selector id must be a URI, got {item['id']!r:.100}")
            selector["id"] = item["id"]
        if "idPattern" in item:
            pattern = item["idPattern"]
            try:
                if not isinstance(pattern, str) or not pattern:
                    raise re.error("not a non-empty string")
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                raise BadRequestData(f"idPattern {pattern!r:.60} is not a valid regular expression: {exc}") from None
            selector["idPattern"] = pattern
        if "type" not in item:
            raise BadRequestData("each entity selector needs a 'type'")
        kind = item["type"]
        if not isinstance(kind, str):
            raise BadRequestData(f"entity selector type must be a string, got {kind!r:.60}")
        try:
            parse_type_selection(kind)
        except UrbisError as exc:
            raise BadRequestData(f"invalid entity type selection {kind!r:.60}: {exc.detail}") from None
        selector["type"] = kind
        out.append(selector)
    return out


def _names(value: Any, member: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"'{member}' must be a non-empty array of attribute names")
    seen: list[str] = []
    for name in value:
        try:
            if not isinstance(name, str):  # check_name hashes its argument
                raise BadRequestData("not a string")
            check_name(name)
        except UrbisError:
            raise BadRequestData(f"'{member}' holds an invalid attribute name: {name!r:.60}") from None
        if name not in seen:
            seen.append(name)
    return seen


def _triggers(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"'notificationTrigger' must be a non-empty array of: {', '.join(TRIGGERS)}")
    out: list[str] = []
    for item in value:
        if item not in TRIGGERS:
            raise BadRequestData(f"unknown notificationTrigger {item!r:.60}; allowed: {', '.join(TRIGGERS)}")
        if item not in out:
            out.append(item)
    return out


def _positive(value: Any, member: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or value != value:
        raise BadRequestData(f"'{member}' must be a positive number of seconds, got {value!r:.40}")
    if value > 10**9:
        raise BadRequestData(f"'{member}' is too large: {value!r:.40}")
    return float(value) if isinstance(value, float) else int(value)


def _checked_q(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequestData(f"'q' must be a string, got {value!r:.60}")
    try:
        parse_q(value)
    except UrbisError as exc:
        raise BadRequestData(f"invalid q: {exc.detail}") from None
    return value


def _checked_scope_q(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequestData(f"'scopeQ' must be a string, got {value!r:.60}")
    try:
        compile_scope_q(value)
    except UrbisError as exc:
        raise BadRequestData(f"invalid scopeQ: {exc.detail}") from None
    return value


def _geo_q(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("'geoQ' must be an object with georel, geometry and coordinates")
    _refuse_unknown(value, ("georel", "geometry", "coordinates", "geoproperty"), (), {}, "geoQ")
    for name in ("georel", "geometry", "coordinates"):
        if name not in value:
            raise BadRequestData(f"'geoQ' needs georel, geometry and coordinates; '{name}' is missing")
    coordinates = value["coordinates"]
    try:
        parse_geoquery(value["georel"], value["geometry"], coordinates, value.get("geoproperty"))
    except UrbisError as exc:
        raise BadRequestData(f"invalid geoQ: {exc.detail}") from None
    return {k: value[k] for k in ("georel", "geometry", "coordinates", "geoproperty") if k in value}


def _notification(value: Any, *, allow_local: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("'notification' must be an object with an 'endpoint'")
    _refuse_unknown(
        value, _NOTIFICATION_MEMBERS, _NOTIFICATION_BROKER_MEMBERS, _NOTIFICATION_UNSUPPORTED, "notification"
    )
    out: dict[str, Any] = {}
    if "attributes" in value:
        out["attributes"] = _names(value["attributes"], "notification.attributes")
    if "format" in value:
        if not isinstance(value["format"], str) or value["format"] not in _FORMATS:
            raise BadRequestData(
                f"unknown notification format {value['format']!r:.40}; use normalized, concise or keyValues"
            )
        out["format"] = value["format"]
    for flag in ("sysAttrs", "showChanges"):
        if flag in value:
            if not isinstance(value[flag], bool):
                raise BadRequestData(f"'notification.{flag}' must be true or false")
            out[flag] = value[flag]
    for kind in ("pick", "omit"):
        if kind in value:
            out[kind] = _projection_list(value[kind], kind)
    if "pick" in out and "omit" in out and set(out["pick"]) & set(out["omit"]):
        raise BadRequestData("a member cannot be both picked and omitted")
    if "attributes" in out and ("pick" in out or "omit" in out):
        raise BadRequestData("'notification.attributes' cannot be combined with pick or omit")
    if "endpoint" not in value:
        raise BadRequestData("'notification' needs an 'endpoint' with a 'uri'")
    out["endpoint"] = _endpoint(value["endpoint"], allow_local=allow_local)
    return out


def _projection_list(value: Any, kind: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise BadRequestData(f"'notification.{kind}' must be a non-empty array of member names")
    try:
        parse_projection(",".join(items))
    except ValueError as exc:
        raise BadRequestData(f"invalid notification.{kind}: {exc}") from None
    return [i.strip() for i in items]


def _endpoint(value: Any, *, allow_local: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("'notification.endpoint' must be an object with a 'uri'")
    _refuse_unknown(value, _ENDPOINT_MEMBERS, (), {}, "endpoint")
    uri = value.get("uri")
    if uri is None:
        raise BadRequestData("'notification.endpoint' needs a 'uri'")
    scheme = endpoint_scheme(uri) if isinstance(uri, str) and is_uri(uri) else None
    if scheme is None or not (scheme in ENDPOINT_SCHEMES or (allow_local and scheme == LOCAL_SCHEME)):
        raise BadRequestData(f"the endpoint uri must be an absolute http, https, mqtt or mqtts URI, got {uri!r:.100}")
    if scheme in ("http", "https", "mqtt", "mqtts") and not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]+", uri):
        raise BadRequestData(f"the endpoint uri names no host: {uri!r:.100}")
    if scheme in ("mqtt", "mqtts") and not mqtt_topic(uri):
        raise BadRequestData(f"an MQTT endpoint needs a topic (mqtt://host[:port]/topic), got {uri!r:.100}")
    out: dict[str, Any] = {"uri": uri}
    if "accept" in value:
        if value["accept"] not in ACCEPTS:
            raise BadRequestData(f"endpoint accept must be one of {', '.join(ACCEPTS)}, got {value['accept']!r:.60}")
        out["accept"] = value["accept"]
    if "timeout" in value:
        out["timeout"] = _non_negative(value["timeout"], "endpoint.timeout")
    if "cooldown" in value:
        out["cooldown"] = _non_negative(value["cooldown"], "endpoint.cooldown")
    for name in ("receiverInfo", "notifierInfo"):
        if name in value:
            out[name] = _key_values(value[name], name)
    for item in out.get("notifierInfo", ()):
        if item["key"] == "MQTT-QoS" and item["value"] not in _MQTT_QOS:
            raise BadRequestData(f"MQTT-QoS must be 0, 1 or 2, got {item['value']!r:.20}")
        if item["key"] == "MQTT-Version" and item["value"] not in _MQTT_VERSIONS:
            raise BadRequestData(f"MQTT-Version must be one of {', '.join(_MQTT_VERSIONS)}, got {item['value']!r:.20}")
    return out


def _non_negative(value: Any, member: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value > 10**9:
        raise BadRequestData(f"'{member}' must be a non-negative number, got {value!r:.40}")
    return float(value) if isinstance(value, float) else int(value)


def _key_values(value: Any, member: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise BadRequestData(f"'{member}' must be an array of {{key, value}} objects")
    out = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"key", "value"}
            or not isinstance(item["key"], str)
            or not isinstance(item["value"], str)
        ):
            raise BadRequestData(f"each item of '{member}' must be an object with a string 'key' and 'value'")
        if not _HEADER_NAME.match(item["key"]) or any(c in item["value"] for c in "\r\n\x00"):
            raise BadRequestData(f"'{member}' key {item['key']!r:.60} or its value cannot travel as a header")
        out.append({"key": item["key"], "value": item["value"]})
    return out


def endpoint_scheme(uri: str) -> str | None:
    """The lower-cased scheme of an endpoint URI."""
    match = _URI_SCHEME.match(uri)
    return match.group(1).lower() if match else None


def mqtt_topic(uri: str) -> str:
    """The topic of an ``mqtt://host[:port]/topic`` URI (everything after the first slash of the path)."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    _, _, topic = rest.partition("/")
    return topic


# ---------------------------------------------------------------------------
# Compilation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where and how notifications of one subscription go."""

    uri: str
    scheme: str
    accept: str = JSON
    timeout: float | None = None  # seconds (the API gives milliseconds)
    cooldown: float = 0.0  # seconds
    receiver_info: tuple[tuple[str, str], ...] = ()
    notifier_info: tuple[tuple[str, str], ...] = ()

    def notifier_value(self, key: str) -> str | None:
        """One ``notifierInfo`` value (e.g. ``MQTT-QoS``), None when absent."""
        return next((value for name, value in self.notifier_info if name == key), None)


@dataclass(frozen=True)
class Selector:
    """One compiled entity selector: every given member must hold."""

    entity_id: str | None
    pattern: re.Pattern[str] | None
    type_test: Callable[[Iterable[str]], bool]
    #: One type IRI per alternative of the type selection: an entity that matches has one of them.
    index_types: frozenset[str]

    def matches(self, entity: Entity) -> bool:
        """Whether ``entity`` is selected."""
        if self.entity_id is not None and entity["id"] != self.entity_id:
            return False
        if self.pattern is not None and self.pattern.search(entity["id"]) is None:
            return False
        return self.type_test(entity["type"])


@dataclass(frozen=True, eq=False)
class Subscription:
    """A subscription compiled for matching (immutable; rebuilt when the subscription changes)."""

    tenant: str
    id: str
    doc: dict[str, Any]  # the validated client document (see validate_subscription)
    selectors: tuple[Selector, ...]
    watched: frozenset[str] | None  # attribute IRIs
    triggers: frozenset[str]
    q: Callable[[Entity], bool] | None
    geo: tuple[GeoQuery, str] | None  # the query and its GeoProperty IRI
    scope: Callable[[list[str] | None], bool] | None
    is_active: bool
    expires_at: datetime | None
    throttling: float | None
    time_interval: float | None
    format: Format
    attributes: frozenset[str] | None  # attribute IRIs to show
    sys_attrs: bool
    show_changes: bool
    lang: tuple[str, ...] | None
    pick: Projection | None
    omit: Projection | None
    endpoint: Endpoint
    local: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: datetime) -> Status:
        """``paused`` when inactive, ``expired`` after ``expiresAt``, else ``active``."""
        if not self.is_active:
            return "paused"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def index_types(self) -> frozenset[str] | None:
        """Type IRIs to index this subscription under; None when it must see every change."""
        if not self.selectors:
            return None
        types: set[str] = set()
        for selector in self.selectors:
            types |= selector.index_types
        return frozenset(types)

    def index_entity_ids(self) -> frozenset[str] | None:
        """Entity ids to index this subscription under when every selector names one, else None."""
        if not self.selectors or any(s.entity_id is None for s in self.selectors):
            return None
        return frozenset(s.entity_id for s in self.selectors if s.entity_id is not None)

    def selects(self, entity: Entity) -> bool:
        """Whether ``entity`` passes the entity selectors, ``q``, ``geoQ`` and ``scopeQ``."""
        if self.selectors and not any(s.matches(entity) for s in self.selectors):
            return False
        if self.q is not None and not self.q(entity):
            return False
        if self.scope is not None and not self.scope(entity.get("scope")):
            return False
        if self.geo is not None:
            query, iri = self.geo
            if not any(query.matches(shape) for shape in entity_shapes(entity, iri)):
                return False
        return True

    def render_options(self) -> RenderOptions:
        """How notified entities are shown."""
        options = RenderOptions(format=self.format, sys_attrs=self.sys_attrs, attrs=self.attributes, lang=self.lang)
        if self.pick is not None:
            return projection_options(options, self.pick, "pick")
        if self.omit is not None:
            return projection_options(options, self.omit, "omit")
        return options


def compile_subscription(tenant: str, doc: Mapping[str, Any], expand: Expand, *, local: bool = False) -> Subscription:
    """Compile a validated subscription with the ``expand`` of its @context."""
    selectors = []
    for item in doc.get("entities", ()):
        expression = parse_type_selection(item["type"])
        dnf = expression.to_dnf(expand)
        selectors.append(
            Selector(
                entity_id=item.get("id"),
                # With an id, idPattern is ignored (as in entity queries).
                pattern=re.compile(item["idPattern"]) if "idPattern" in item and "id" not in item else None,
                type_test=expression.compile(expand),
                index_types=frozenset(min(conjunction) for conjunction in dnf if conjunction),
            )
        )
    geo = None
    if "geoQ" in doc:
        geo_doc = doc["geoQ"]
        parsed = parse_geoquery(
            geo_doc["georel"], geo_doc["geometry"], geo_doc["coordinates"], geo_doc.get("geoproperty")
        )
        if parsed is not None:
            geo = (parsed, expand(parsed.geoproperty))
    notification = doc["notification"]
    endpoint_doc = notification["endpoint"]
    timeout_ms = endpoint_doc.get("timeout")
    endpoint = Endpoint(
        uri=endpoint_doc["uri"],
        scheme=endpoint_scheme(endpoint_doc["uri"]) or "",
        accept=endpoint_doc.get("accept", JSON),
        timeout=timeout_ms / 1000.0 if timeout_ms else None,
        cooldown=float(endpoint_doc.get("cooldown", 0)),
        receiver_info=tuple((i["key"], i["value"]) for i in endpoint_doc.get("receiverInfo", ())),
        notifier_info=tuple((i["key"], i["value"]) for i in endpoint_doc.get("notifierInfo", ())),
    )
    lang = doc.get("lang")
    return Subscription(
        tenant=tenant,
        id=doc["id"],
        doc=dict(doc),
        selectors=tuple(selectors),
        watched=frozenset(expand(n) for n in doc["watchedAttributes"]) if "watchedAttributes" in doc else None,
        triggers=frozenset(doc.get("notificationTrigger", DEFAULT_TRIGGERS)),
        q=compile_q(parse_q(doc["q"]), expand) if "q" in doc else None,
        geo=geo,
        scope=compile_scope_q(doc["scopeQ"]) if "scopeQ" in doc else None,
        is_active=doc.get("isActive", True),
        expires_at=parse_datetime(doc["expiresAt"], "expiresAt") if "expiresAt" in doc else None,
        throttling=float(doc["throttling"]) if "throttling" in doc else None,
        time_interval=float(doc["timeInterval"]) if "timeInterval" in doc else None,
        format=_FORMATS[notification.get("format", "normalized")],  # type: ignore[arg-type]
        attributes=frozenset(expand(n) for n in notification["attributes"]) if "attributes" in notification else None,
        sys_attrs=notification.get("sysAttrs", False),
        show_changes=notification.get("showChanges", False),
        lang=tuple(part.strip() for part in lang.split(",")) if lang else None,
        pick=parse_projection(",".join(notification["pick"])) if "pick" in notification else None,
        omit=parse_projection(",".join(notification["omit"])) if "omit" in notification else None,
        endpoint=endpoint,
        local=local,
    )


# ---------------------------------------------------------------------------
# Matching a change
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entity change, reduced to what matching needs (computed once per event)."""

    entity_id: str
    operation: Literal["create", "update", "delete"]
    current: Entity | None
    previous: Entity | None
    created: frozenset[str]  # attribute IRIs
    updated: frozenset[str]
    deleted: frozenset[str]

    @property
    def subject(self) -> Entity:
        """The entity selectors and filters are evaluated on: as it is now, or as it was (deletion)."""
        entity = self.current if self.current is not None else self.previous
        assert entity is not None
        return entity

    @property
    def changed(self) -> frozenset[str]:
        """Every attribute IRI the change touched."""
        return self.created | self.updated | self.deleted


def describe_change(
    entity_id: str,
    operation: Literal["create", "update", "delete"],
    current: Entity | None,
    previous: Entity | None,
    attributes: Iterable[str] = (),
) -> Change:
    """Which attributes a change created, updated and deleted."""
    if operation == "create" and current is not None:
        return Change(entity_id, operation, current, None, frozenset(current["attrs"]), frozenset(), frozenset())
    if operation == "delete":
        gone = frozenset(previous["attrs"]) if previous is not None else frozenset(attributes)
        return Change(entity_id, operation, None, previous, frozenset(), frozenset(), gone)
    now_attrs: dict[str, Any] = current["attrs"] if current is not None else {}
    if previous is None:
        # The publisher did not keep the entity as it was: every named attribute counts as updated.
        named = frozenset(attributes) or frozenset(now_attrs)
        return Change(entity_id, "update", current, None, frozenset(), named, frozenset())
    before: dict[str, Any] = previous["attrs"]
    created = frozenset(name for name in now_attrs if name not in before)
    deleted = frozenset(name for name in before if name not in now_attrs)
    updated = frozenset(name for name, value in now_attrs.items() if name in before and before[name] != value)
    return Change(entity_id, "update", current, previous, created, updated, deleted)


def trigger_of(subscription: Subscription, change: Change) -> str | None:
    """The reason ``change`` notifies ``subscription`` (a notificationTrigger), or None.

    Only the kind of change and ``watchedAttributes`` are checked here; entity selectors and
    filters are :meth:`Subscription.selects`.
    """
    triggers = subscription.triggers
    watched = subscription.watched
    if change.operation == "create":
        if ENTITY_CREATED in triggers and (watched is None or not watched.isdisjoint(change.created)):
            return ENTITY_CREATED
        if ATTRIBUTE_CREATED in triggers and _touches(watched, change.created):
            return ATTRIBUTE_CREATED
        return None
    if change.operation == "delete":
        if ENTITY_DELETED in triggers and (watched is None or not watched.isdisjoint(change.deleted)):
            return ENTITY_DELETED
        if ATTRIBUTE_DELETED in triggers and _touches(watched, change.deleted):
            return ATTRIBUTE_DELETED
        return None
    for trigger, names in (
        (ATTRIBUTE_UPDATED, change.updated),
        (ATTRIBUTE_CREATED, change.created),
        (ATTRIBUTE_DELETED, change.deleted),
    ):
        if trigger in triggers and _touches(watched, names):
            return trigger
    if ENTITY_UPDATED in triggers and _touches(watched, change.changed):
        return ENTITY_UPDATED
    return None


def _touches(watched: frozenset[str] | None, names: frozenset[str]) -> bool:
    if not names:
        return False
    return watched is None or not watched.isdisjoint(names)


def matches(subscription: Subscription, change: Change, now: datetime) -> str | None:
    """The trigger reason when ``change`` must be notified to ``subscription`` now, else None.

    Periodic subscriptions (``timeInterval``) are never notified by changes.
    """
    if subscription.time_interval is not None or subscription.status(now) != "active":
        return None
    reason = trigger_of(subscription, change)
    if reason is None or not subscription.selects(change.subject):
        return None
    return reason


# ---------------------------------------------------------------------------
# The notification
# ---------------------------------------------------------------------------


def _previous_member(kind: str) -> str:
    member = VALUE_MEMBER.get(kind, "value")
    return "previous" + member[0].upper() + member[1:]


def render_change(subscription: Subscription, change: Change, renderer: Renderer, now_iso: str) -> dict[str, Any]:
    """The notified form of one changed entity.

    Deleted attributes (and every attribute of a deleted entity) appear with the NGSI-LD Null as
    value, as the test suite expects; ``showChanges`` adds ``previousValue``/``previousObject``/...
    for updated and deleted attributes (not in keyValues, which has no room for them).
    """
    compact = renderer.compact
    key_values = subscription.format == "keyValues"
    if change.operation == "delete":
        previous = change.previous or {"id": change.entity_id, "type": [], "attrs": {}}
        types = [compact(t) for t in previous.get("type", [])]
        out: dict[str, Any] = {"id": change.entity_id, "type": types[0] if len(types) == 1 else types}
        if subscription.sys_attrs:
            for key in ("createdAt", "modifiedAt"):
                if key in previous:
                    out[key] = previous[key]
        out["deletedAt"] = now_iso
        for iri, instances in previous["attrs"].items():
            if _shown(subscription, iri, compact):
                out[compact(iri)] = _null_attribute(subscription, instances[0], key_values, now_iso)
        return out
    assert change.current is not None
    out = renderer.entity(change.current)
    previous_attrs = change.previous["attrs"] if change.previous is not None else {}
    for iri in change.deleted:
        if _shown(subscription, iri, compact):
            out[compact(iri)] = _null_attribute(subscription, previous_attrs[iri][0], key_values, now_iso)
    if subscription.show_changes and not key_values:
        for iri in change.updated:
            name = compact(iri)
            before = previous_attrs.get(iri)
            shown = out.get(name)
            if not before or shown is None:
                continue
            kind = before[0].get("type", "Property")
            previous_value = before[0].get(VALUE_MEMBER.get(kind, "value"))
            if isinstance(shown, dict) and not is_geojson_geometry(shown):
                shown[_previous_member(kind)] = previous_value
            else:  # a bare concise value: give it its object form to carry the previous one
                out[name] = {"value": shown, _previous_member(kind): previous_value}
    return out


def _shown(subscription: Subscription, iri: str, compact: Compact) -> bool:
    if subscription.attributes is not None and iri not in subscription.attributes:
        return False
    name = compact(iri)
    if subscription.pick is not None and name not in subscription.pick:
        return False
    omit = subscription.omit
    return not (omit is not None and name in omit and omit[name] is None)


def _null_attribute(subscription: Subscription, before: Mapping[str, Any], key_values: bool, now_iso: str) -> Any:
    if key_values:
        return NGSILD_NULL
    kind = before.get("type", "Property")
    member = VALUE_MEMBER.get(kind, "value")
    out: dict[str, Any] = {"type": kind, member: NGSILD_NULL}
    if subscription.show_changes:
        out[_previous_member(kind)] = before.get(member)
    if subscription.sys_attrs:
        for key in ("createdAt", "modifiedAt"):
            if key in before:
                out[key] = before[key]
        out["deletedAt"] = now_iso
    return out


def notification(
    subscription_id: str, data: list[Any] | dict[str, Any], now_iso: str, *, trigger: str | None = None
) -> dict[str, Any]:
    """A Notification (clause 5.3.1): ``id``, ``type``, ``subscriptionId``, ``notifiedAt``, ``data``."""
    out: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": NOTIFICATION_TYPE,
        "subscriptionId": subscription_id,
        "notifiedAt": now_iso,
        "data": data,
    }
    if trigger is not None:
        out["triggerReason"] = trigger
    return out


def geojson_data(features: list[dict[str, Any]]) -> dict[str, Any]:
    """``data`` of a notification to a GeoJSON endpoint."""
    return {"type": "FeatureCollection", "features": features}


def geojson_feature(rendered: Mapping[str, Any], geometry: Any) -> dict[str, Any]:
    """One notified entity as a GeoJSON Feature."""
    properties = {k: v for k, v in rendered.items() if k != "id"}
    return {"id": rendered["id"], "type": "Feature", "geometry": geometry, "properties": properties}


# ---------------------------------------------------------------------------
# The shape shown to clients
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    """What the broker keeps about a subscription's deliveries."""

    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None

    def plus(self, other: Counters) -> Counters:
        """These counters with ``other`` (later) added."""
        return Counters(
            self.times_sent + other.times_sent,
            self.times_failed + other.times_failed,
            _later(self.last_notification, other.last_notification),
            _later(self.last_success, other.last_success),
            _later(self.last_failure, other.last_failure),
        )


def _later(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)  # the stored form (UTC, fixed width) sorts as time does


def shown_subscription(
    doc: Mapping[str, Any], status: Status, counters: Counters, *, context_url: str | None = None
) -> dict[str, Any]:
    """A subscription as GET answers it: the client's members plus status and delivery counters."""
    out = {k: v for k, v in doc.items() if k != "notification"}
    if "isActive" not in out:
        out["isActive"] = True
    out["status"] = status
    if "notificationTrigger" not in out:
        out["notificationTrigger"] = list(DEFAULT_TRIGGERS)
    if context_url is not None and "jsonldContext" not in out:
        out["jsonldContext"] = context_url
    notification_doc = dict(doc["notification"])
    notification_doc.setdefault("format", "normalized")
    notification_doc["endpoint"] = dict(notification_doc["endpoint"])
    notification_doc["endpoint"].setdefault("accept", JSON)
    notification_doc["timesSent"] = counters.times_sent
    notification_doc["timesFailed"] = counters.times_failed
    for name, value in (
        ("lastNotification", counters.last_notification),
        ("lastSuccess", counters.last_success),
        ("lastFailure", counters.last_failure),
    ):
        if value is not None:
            notification_doc[name] = value
    if counters.last_notification is not None:
        failed = counters.last_failure is not None and (
            counters.last_success is None or counters.last_failure > counters.last_success
        )
        notification_doc["status"] = "failed" if failed else "ok"
    out["notification"] = notification_doc
    return out


def status_of(doc: Mapping[str, Any], now: datetime) -> Status:
    """The status of a stored subscription document at ``now`` (without compiling it)."""
    if not doc.get("isActive", True):
        return "paused"
    expires = doc.get("expiresAt")
    if expires is not None and parse_datetime(expires, "expiresAt") <= now:
        return "expired"
    return "active"
