"""The JSON-LD @context layer: bundled contexts, expansion/compaction, fetching, caching, /jsonldContexts."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pyld import jsonld

from urbis.context.jsonld import (
    BUNDLED_CONTEXTS,
    CORE_CONTEXT_URL,
    CORE_CONTEXT_URLS,
    DEFAULT_VOCAB,
    NGSILD_NS,
    SDM_CONTEXT_URLS,
    URBIS_CONTEXT_URL,
    ContextResolver,
    LdContext,
)
from urbis.core.clock import FixedClock
from urbis.core.errors import BadRequestData, LdContextNotAvailable, NotFound

BASE = "http://broker.test:8080"
REMOTE = "https://contexts.example.org/city.jsonld"
SDM = "https://smartdatamodels.org/"


class StubFetcher:
    """A fake network: documents by URL, a log of calls, and URLs that fail."""

    def __init__(self, documents: dict[str, Any] | None = None, failing: dict[str, Exception] | None = None):
        """Serve ``documents``; raise the exception in ``failing`` for those URLs; 404 for the rest."""
        self.documents = dict(documents or {})
        self.failing = dict(failing or {})
        self.calls: list[tuple[str, float]] = []
        self.delay = 0.0

    def __call__(self, url: str, timeout: float) -> Any:
        """Answer like :func:`urbis.context.jsonld.http_fetcher` would, recording the call."""
        self.calls.append((url, timeout))
        if self.delay:
            time.sleep(self.delay)
        if url in self.failing:
            raise self.failing[url]
        if url not in self.documents:
            raise httpx.HTTPStatusError(
                "404 Not Found", request=httpx.Request("GET", url), response=httpx.Response(404)
            )
        return json.loads(json.dumps(self.documents[url]))  # a fresh copy, like a real fetch

    def urls(self) -> list[str]:
        """The URLs fetched so far, in order."""
        return [url for url, _ in self.calls]


def no_network(url: str, timeout: float) -> Any:
    """A fetcher for tests that must never touch the network."""
    raise AssertionError(f"unexpected fetch of {url}")


def make_resolver(fetcher: Any = no_network, **overrides: Any) -> ContextResolver:
    """A resolver on a fixed clock with a fake network (overridable)."""
    options: dict[str, Any] = {
        "base_url": BASE,
        "fetcher": fetcher,
        "clock": FixedClock(datetime(2025, 3, 1, tzinfo=UTC)),
    }
    options.update(overrides)
    return ContextResolver(**options)


@pytest.fixture
def resolver() -> ContextResolver:
    """A resolver that must not touch the network."""
    return make_resolver()


def bundled_terms(url: str) -> dict[str, Any]:
    """The term definitions of a bundled SDM context (keywords and prefixes left out)."""
    document = make_resolver().get_document(url)["@context"]
    return {
        k: v for k, v in document.items() if not k.startswith("@") and k not in {"ngsi-ld", "geojson", "id", "type"}
    }


# --------------------------------------------------------------------------- core context


def test_core_terms_expand_to_the_ngsi_ld_namespace(resolver: ContextResolver) -> None:
    """Core terms expand to the IRIs of the ETSI core context."""
    core = resolver.core
    assert core.is_default and core.source == CORE_CONTEXT_URL and core.link_url == CORE_CONTEXT_URL
    assert core.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert core.expand("observedAt") == NGSILD_NS + "observedAt"
    assert core.expand("Property") == NGSILD_NS + "Property"
    assert core.expand("value") == NGSILD_NS + "hasValue"
    assert core.expand("object") == NGSILD_NS + "hasObject"
    assert core.expand("languageMap") == NGSILD_NS + "hasLanguageMap"
    assert core.expand("Point") == "https://purl.org/geojson/vocab#Point"
    assert core.expand("description") == "http://purl.org/dc/terms/description"
    assert core.expand("type") == "@type"


def test_unknown_terms_fall_back_to_the_default_context(resolver: ContextResolver) -> None:
    """Undefined terms expand under the core @vocab and compact back."""
    core = resolver.core
    assert core.vocab == DEFAULT_VOCAB
    assert core.expand("speed") == "https://uri.etsi.org/ngsi-ld/default-context/speed"
    assert core.compact(DEFAULT_VOCAB + "speed") == "speed"
    assert core.compact(DEFAULT_VOCAB + "speed") == "speed"  # memoised path gives the same answer


def test_absolute_iris_and_compact_iris(resolver: ContextResolver) -> None:
    """Absolute IRIs stay as they are; core-prefixed names expand."""
    core = resolver.core
    assert core.expand("urn:ngsi-ld:Thing:1") == "urn:ngsi-ld:Thing:1"
    assert core.expand("https://example.org/a") == "https://example.org/a"
    assert core.expand("ngsi-ld:foo") == NGSILD_NS + "foo"
    assert core.compact(NGSILD_NS + "foo") == "ngsi-ld:foo"
    assert core.compact("https://example.org/a") == "https://example.org/a"
    assert core.expand("@id") == "@id"


def test_the_bundled_core_context_is_complete() -> None:
    """The bundled core context carries the full term set of V1.8/V1.9."""
    document = make_resolver().get_document(CORE_CONTEXT_URL)["@context"]
    assert document["@protected"] is True
    assert document["@vocab"] == DEFAULT_VOCAB
    terms = [k for k in document if not k.startswith("@")]
    assert len(terms) >= 200
    for term in [
        "LanguageProperty",
        "VocabProperty",
        "JsonProperty",
        "ListProperty",
        "ListRelationship",
        "Subscription",
        "Notification",
        "ContextSourceRegistration",
        "watchedAttributes",
        "endpoint",
        "notifiedAt",
        "instanceId",
        "datasetId",
        "unitCode",
        "observationSpace",
        "operationSpace",
        "MultiPolygon",
        "timesSent",
        "lastNotification",
        "json",
        "vocab",
        "valueList",
        "objectList",
    ]:
        assert term in document, term
    assert document["json"]["@type"] == "@json"
    assert document["vocab"]["@type"] == "@vocab"
    assert document["valueList"]["@container"] == "@list"
    assert document["languageMap"]["@container"] == "@language"


@pytest.mark.parametrize("url", sorted(CORE_CONTEXT_URLS))
def test_every_core_url_resolves_without_the_network(url: str) -> None:
    """Every published core URL is served from the bundled copy."""
    resolver = make_resolver(no_network)
    ctx = resolver.resolve(url)
    assert ctx.source == url and ctx.link_url == url and not ctx.is_default
    assert ctx.expand("observedAt") == NGSILD_NS + "observedAt"
    assert resolver.resolve([url]).expand("location") == NGSILD_NS + "location"


def test_bundled_smart_data_models_contexts_resolve_without_the_network(resolver: ContextResolver) -> None:
    """The SDM contexts Urbis uses are bundled."""
    parking = resolver.resolve(SDM_CONTEXT_URLS["Parking"])
    assert parking.expand("availableSpotNumber") == SDM + "dataModel.Parking/availableSpotNumber"
    assert parking.expand("ParkingSpot") == SDM + "dataModel.Parking/ParkingSpot"
    assert parking.expand("name") == SDM + "name"
    lighting = resolver.resolve(SDM_CONTEXT_URLS["Streetlighting"])
    assert lighting.expand("powerState") == SDM + "dataModel.Streetlighting/powerState"
    air = resolver.resolve(SDM_CONTEXT_URLS["Environment"])
    assert air.expand("pm25") == SDM + "dataModel.Environment/pm25"
    assert air.expand("dateObserved") == SDM + "dateObserved"
    # NGSI-LD: the core wins, so an SDM "status" is the core's.
    assert parking.expand("status") == NGSILD_NS + "status"


@pytest.mark.parametrize("subject", sorted(SDM_CONTEXT_URLS))
def test_sdm_terms_round_trip_and_agree_with_the_urbis_context(resolver: ContextResolver, subject: str) -> None:
    """Every SDM term round-trips and keeps its meaning in the Urbis context."""
    url = SDM_CONTEXT_URLS[subject]
    own = resolver.resolve(url)
    urbis = resolver.resolve(URBIS_CONTEXT_URL)
    combined = resolver.resolve([CORE_CONTEXT_URL, url])
    for term in bundled_terms(url):
        iri = own.expand(term)
        assert iri.startswith(("https://", "http://")), term
        assert own.compact(iri) == term
        assert urbis.expand(term) == iri, f"{term} means something else in the Urbis context"
        assert urbis.compact(iri) == term
        assert combined.expand(term) == iri


def test_urbis_context_is_bundled(resolver: ContextResolver) -> None:
    """The combined Urbis context covers the three subjects and ends with the core."""
    ctx = resolver.resolve(URBIS_CONTEXT_URL)
    assert ctx.link_url == URBIS_CONTEXT_URL
    assert ctx.expand("Streetlight") == SDM + "dataModel.Streetlighting/Streetlight"
    assert ctx.expand("AirQualityObserved") == SDM + "dataModel.Environment/AirQualityObserved"
    assert ctx.expand("OffStreetParking") == SDM + "dataModel.Parking/OffStreetParking"
    assert resolver.get_document(URBIS_CONTEXT_URL)["@context"][-1] == CORE_CONTEXT_URL
    assert set(BUNDLED_CONTEXTS) == {*SDM_CONTEXT_URLS.values(), URBIS_CONTEXT_URL}


# --------------------------------------------------------------------------- user contexts


def test_inline_user_terms(resolver: ContextResolver) -> None:
    """Terms of an inline user context expand and compact."""
    ctx = resolver.resolve({"temperature": "https://example.org/temperature", "Room": "https://example.org/Room"})
    assert not ctx.is_default
    assert ctx.expand("temperature") == "https://example.org/temperature"
    assert ctx.compact("https://example.org/temperature") == "temperature"
    assert ctx.expand("Room") == "https://example.org/Room"
    assert ctx.expand("humidity") == DEFAULT_VOCAB + "humidity"
    assert ctx.expand("location") == NGSILD_NS + "location"


def test_core_wins_over_a_user_redefinition(resolver: ContextResolver) -> None:
    """The core context applies last: user redefinitions of core terms lose."""
    for context in (
        {"location": "https://example.org/myLocation", "observedAt": "https://example.org/when"},
        [CORE_CONTEXT_URL, {"location": "https://example.org/myLocation"}],  # protected core term redefined
        [{"@vocab": "https://example.org/vocab/", "location": "https://example.org/myLocation"}],
    ):
        ctx = resolver.resolve(context)
        assert ctx.expand("location") == NGSILD_NS + "location"
        assert ctx.compact(NGSILD_NS + "location") == "location"
        assert ctx.expand("unknownThing") == DEFAULT_VOCAB + "unknownThing"


def test_user_prefixes_make_compact_iris(resolver: ContextResolver) -> None:
    """User prefixes expand ``prefix:suffix`` names and compact IRIs to them."""
    ctx = resolver.resolve({"ex": "https://example.org/ns/", "speed": "ex:speed"})
    assert ctx.expand("speed") == "https://example.org/ns/speed"
    assert ctx.expand("ex:heading") == "https://example.org/ns/heading"
    assert ctx.compact("https://example.org/ns/heading") == "ex:heading"
    assert ctx.compact("https://example.org/ns/speed") == "speed"
    assert ctx.compact(NGSILD_NS + "somethingNew") == "ngsi-ld:somethingNew"
    # a user context may use the core's prefixes without listing the core
    assert resolver.resolve({"brightness": "ngsi-ld:brightness"}).expand("brightness") == NGSILD_NS + "brightness"


def test_compaction_picks_the_shortest_then_least_term(resolver: ContextResolver) -> None:
    """Several terms for one IRI: the shortest, then least, wins."""
    ctx = resolver.resolve(
        {"zz": "https://example.org/x", "aaa": "https://example.org/x", "yy": "https://example.org/x"}
    )
    assert ctx.compact("https://example.org/x") == "yy"
    assert {ctx.expand(t) for t in ("zz", "aaa", "yy")} == {"https://example.org/x"}


def test_pyld_agrees_on_expansion_and_compaction(resolver: ContextResolver) -> None:
    """Cross-check against the reference implementation on a small document."""
    user = [SDM_CONTEXT_URLS["Parking"], {"ex": "https://example.org/ns/", "speed": "ex:speed", "rating": "ex:rating"}]
    ctx = resolver.resolve(user)
    names = ["availableSpotNumber", "name", "speed", "ex:heading", "noSuchTerm", "location", "unitCode", "status"]
    document = {
        "@context": [*user, CORE_CONTEXT_URL],
        "@id": "urn:ngsi-ld:OffStreetParking:1",
        "@type": "OffStreetParking",
    }
    document.update({name: {"@value": 1} for name in names})

    def loader(url: str, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": resolver.get_document(url),
        }

    expanded = jsonld.expand(document, {"documentLoader": loader})[0]
    assert expanded["@type"] == [ctx.expand("OffStreetParking")]
    assert sorted(k for k in expanded if not k.startswith("@")) == sorted(ctx.expand(n) for n in names)

    compacted = jsonld.compact(expanded, {"@context": document["@context"]}, {"documentLoader": loader})
    assert sorted(k for k in compacted if not k.startswith("@") and k not in {"id", "type"}) == sorted(
        ctx.compact(ctx.expand(n)) for n in names
    )
    assert compacted["type"] == ctx.compact(ctx.expand("OffStreetParking"))


def test_contexts_are_compiled_once_and_shared(resolver: ContextResolver) -> None:
    """Equal contexts (whatever their key order) share one compiled instance."""
    first = resolver.resolve({"b": "https://example.org/b", "a": "https://example.org/a"})
    again = resolver.resolve({"a": "https://example.org/a", "b": "https://example.org/b"})  # key order is irrelevant
    assert first is again and first == again and hash(first) == hash(again)
    assert resolver.resolve(None) is resolver.core


def test_ldcontext_is_immutable(resolver: ContextResolver) -> None:
    """A compiled context cannot be changed once shared."""
    with pytest.raises(AttributeError):
        resolver.core.source = "x"  # type: ignore[misc]
    assert isinstance(resolver.core, LdContext)


@pytest.mark.parametrize(
    "bad",
    [
        42,
        True,
        "not-a-url.jsonld",
        "urn:ngsi-ld:context",
        {"temperature": 42},
        {"@version": 2.0},
        {"@vocab": 5},
        {"term": {"@id": "https://example.org/t", "@type": 7}},
        [{"ok": "https://example.org/ok"}, 3],
    ],
)
def test_malformed_contexts_are_bad_request_data(resolver: ContextResolver, bad: Any) -> None:
    """Contexts that are not valid JSON-LD are the client's fault (400)."""
    with pytest.raises(BadRequestData) as info:
        resolver.resolve(bad)
    assert info.value.detail


# --------------------------------------------------------------------------- remote contexts


def test_remote_context_is_fetched_once() -> None:
    """A remote context is fetched once, with the configured timeout."""
    fetcher = StubFetcher({REMOTE: {"@context": {"brightness": "https://example.org/brightness"}}})
    resolver = make_resolver(fetcher, fetch_timeout=1.5)
    first = resolver.resolve(REMOTE)
    assert first.expand("brightness") == "https://example.org/brightness"
    assert first.link_url == REMOTE and first.source == REMOTE
    assert resolver.resolve(REMOTE) is first
    # another context that uses the same remote document reuses the cached copy
    other = resolver.resolve([REMOTE, {"dim": "https://example.org/dim"}])
    assert other.expand("brightness") == "https://example.org/brightness"
    assert fetcher.calls == [(REMOTE, 1.5)]


def test_nested_and_relative_remote_contexts() -> None:
    """Remote contexts may include others, by relative URL too."""
    fetcher = StubFetcher(
        {
            REMOTE: {"@context": ["terms.jsonld", CORE_CONTEXT_URL]},  # relative to the document's URL
            "https://contexts.example.org/terms.jsonld": {"@context": {"level": "https://example.org/level"}},
        }
    )
    resolver = make_resolver(fetcher)
    assert resolver.resolve(REMOTE).expand("level") == "https://example.org/level"
    assert fetcher.urls() == [REMOTE, "https://contexts.example.org/terms.jsonld"]


def test_concurrent_requests_fetch_a_remote_context_once() -> None:
    """Concurrent first uses of a remote context share one fetch."""
    fetcher = StubFetcher({REMOTE: {"@context": {"brightness": "https://example.org/brightness"}}})
    fetcher.delay = 0.05
    resolver = make_resolver(fetcher)
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(
                resolver.resolve([REMOTE, {f"t{i}": "https://e.org/t"}]).expand("brightness")
            )
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["https://example.org/brightness"] * 8
    assert fetcher.urls() == [REMOTE]


@pytest.mark.parametrize(
    ("document", "failure"),
    [
        (None, httpx.ConnectError("connection refused")),
        (None, httpx.ReadTimeout("timed out")),
        (None, None),  # 404
        (["not", "an", "object"], None),
        ({"no": "context member"}, None),
    ],
)
def test_unavailable_remote_context_is_503(document: Any, failure: Exception | None) -> None:
    """Network errors, timeouts, 404s and non-context documents give 503."""
    fetcher = StubFetcher({REMOTE: document} if document is not None else {}, {REMOTE: failure} if failure else {})
    resolver = make_resolver(fetcher)
    with pytest.raises(LdContextNotAvailable) as info:
        resolver.resolve([{"a": "https://example.org/a"}, REMOTE])
    assert info.value.status == 503
    assert REMOTE in info.value.detail
    assert resolver.list_contexts(kind="Cached") == [CORE_CONTEXT_URL]  # nothing half-cached


def test_unavailable_context_inside_a_scoped_context_is_still_503() -> None:
    """A failing URL deep inside PyLD still surfaces as 503."""
    resolver = make_resolver(StubFetcher())
    with pytest.raises(LdContextNotAvailable):
        resolver.resolve({"device": {"@id": "https://example.org/device", "@context": REMOTE}})


def test_cache_is_lru_bounded() -> None:
    """Compiled contexts are LRU-evicted; fetched documents are kept."""
    fetcher = StubFetcher({REMOTE: {"@context": {"x": "https://example.org/x"}}})
    resolver = make_resolver(fetcher, cache_size=2)
    first = resolver.resolve(REMOTE)
    resolver.resolve({"a": "https://example.org/a"})
    resolver.resolve({"b": "https://example.org/b"})
    again = resolver.resolve(REMOTE)
    assert again is not first and again == first
    assert fetcher.urls() == [REMOTE]  # the document stayed cached; only the compiled form was evicted


@pytest.fixture
def context_server() -> Iterator[str]:
    """A real HTTP server on loopback serving one context document (and 404 elsewhere)."""
    seen_accept: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen_accept.append(self.headers.get("Accept", ""))
            if self.path != "/ctx.jsonld":
                self.send_error(404)
                return
            body = json.dumps({"@context": {"lux": "https://example.org/lux"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    assert all("application/ld+json" in accept for accept in seen_accept)


def test_real_http_fetch(context_server: str) -> None:
    """The default fetcher retrieves a context over real HTTP (and turns a 404 into 503)."""
    resolver = ContextResolver(base_url=BASE, fetch_timeout=5.0)
    ctx = resolver.resolve(f"{context_server}/ctx.jsonld")
    assert ctx.expand("lux") == "https://example.org/lux"
    with pytest.raises(LdContextNotAvailable) as info:
        resolver.resolve(f"{context_server}/missing.jsonld")
    assert "missing.jsonld" in info.value.detail


def test_real_http_fetch_failure_is_503() -> None:
    """A refused connection gives 503 naming the URL."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    resolver = ContextResolver(base_url=BASE, fetch_timeout=2.0)
    url = f"http://127.0.0.1:{port}/ctx.jsonld"
    with pytest.raises(LdContextNotAvailable) as info:
        resolver.resolve(url)
    assert url in info.value.detail


# --------------------------------------------------------------------------- implicit contexts


def test_inline_context_gets_a_local_url_that_resolves_locally() -> None:
    """Inline contexts get a served URL that resolves without HTTP."""
    resolver = make_resolver(no_network)
    source = [SDM_CONTEXT_URLS["Parking"], {"ex": "https://example.org/ns/"}]
    ctx = resolver.resolve(source)
    assert ctx.source == source
    assert ctx.link_url is not None and ctx.link_url.startswith(f"{BASE}/ngsi-ld/v1/jsonldContexts/")
    local_id = ctx.link_url.rsplit("/", 1)[1]
    assert resolver.get_document(local_id) == {"@context": source}
    assert resolver.get_document(ctx.link_url) == {"@context": source}
    via_link = resolver.resolve(ctx.link_url)
    assert via_link.expand("ex:a") == ctx.expand("ex:a") == "https://example.org/ns/a"
    assert via_link.expand("totalSpotNumber") == SDM + "dataModel.Parking/totalSpotNumber"
    # the id is a stable hash of the context, not a per-process counter
    assert make_resolver().resolve(source).link_url == ctx.link_url
    assert ctx.link_url in resolver.list_contexts(kind="ImplicitlyCreated")


def test_local_urls_under_another_host_name_resolve_locally() -> None:
    """Our jsonldContexts URLs resolve locally whatever host name the client used."""
    resolver = make_resolver(no_network)
    link = resolver.resolve({"ex": "https://example.org/ns/"}).link_url
    assert link is not None
    other_host = link.replace(BASE, "http://127.0.0.1:8080")
    assert resolver.resolve(other_host).expand("ex:b") == "https://example.org/ns/b"


def test_unknown_local_context_is_503(resolver: ContextResolver) -> None:
    """An unknown id under our own jsonldContexts URL is not available."""
    with pytest.raises(LdContextNotAvailable):
        resolver.resolve(resolver.context_url("no-such-id"))


def test_deleting_an_implicit_context(resolver: ContextResolver) -> None:
    """An implicit context can be deleted; using the inline context again re-creates it."""
    source = {"ex": "https://example.org/ns/"}
    link = resolver.resolve(source).link_url
    assert link is not None
    resolver.delete(link)
    with pytest.raises(NotFound):
        resolver.get_document(link)
    assert resolver.resolve(source).link_url == link  # using it again brings it back
    assert resolver.get_document(link) == {"@context": source}


# --------------------------------------------------------------------------- hosted contexts


def test_hosted_context_lifecycle(resolver: ContextResolver) -> None:
    """Add, serve, resolve, list and delete a hosted context."""
    context = {"pressure": "https://example.org/pressure"}
    local_id = resolver.add_hosted({"@context": context})
    assert local_id.startswith("urn:uuid:")
    url = resolver.context_url(local_id)
    assert url == f"{BASE}/ngsi-ld/v1/jsonldContexts/{local_id}"
    assert resolver.get_document(local_id) == {"@context": context}
    assert resolver.get_document(url) == {"@context": context}
    assert resolver.resolve(url).expand("pressure") == "https://example.org/pressure"
    assert resolver.resolve([url, {"x": "https://example.org/x"}]).expand("pressure") == "https://example.org/pressure"
    assert resolver.list_contexts(kind="Hosted") == [url]
    (details,) = resolver.list_contexts(details=True, kind="Hosted")
    assert details["URL"] == url and details["localId"] == local_id and details["kind"] == "Hosted"
    assert details["timestamp"] == "2025-03-01T00:00:00.000Z"
    assert details["numberOfHits"] == 2 and details["lastUsage"] == "2025-03-01T00:00:00.000Z"
    assert resolver.get_details(local_id) == details

    resolver.delete(local_id)
    with pytest.raises(NotFound):
        resolver.get_document(local_id)
    with pytest.raises(LdContextNotAvailable):  # the compiled copy went with it
        resolver.resolve(url)
    with pytest.raises(LdContextNotAvailable):
        resolver.resolve([url, {"x": "https://example.org/x"}])
    with pytest.raises(NotFound):
        resolver.delete(local_id)


@pytest.mark.parametrize(
    "body",
    [[], {"context": {}}, {"@context": 5}, {"@context": "https://example.org/c.jsonld"}, {"@context": {"t": 5}}],
)
def test_invalid_hosted_context_is_refused(resolver: ContextResolver, body: Any) -> None:
    """Only valid context documents can be hosted."""
    with pytest.raises(BadRequestData):
        resolver.add_hosted(body)
    assert resolver.list_contexts(kind="Hosted") == []


def test_reloading_a_hosted_context_is_refused(resolver: ContextResolver) -> None:
    """Only cached contexts can be reloaded."""
    local_id = resolver.add_hosted({"@context": {"t": "https://example.org/t"}})
    with pytest.raises(BadRequestData):
        resolver.delete(local_id, reload=True)


# --------------------------------------------------------------------------- cached contexts


def test_cached_context_delete_and_reload() -> None:
    """Cached contexts can be reloaded (keeping the old copy on failure) or dropped."""
    fetcher = StubFetcher({REMOTE: {"@context": {"lux": "https://example.org/v1/lux"}}})
    resolver = make_resolver(fetcher)
    assert resolver.resolve(REMOTE).expand("lux") == "https://example.org/v1/lux"
    (details,) = resolver.list_contexts(details=True, kind="Cached")[1:]
    assert details["URL"] == REMOTE and details["kind"] == "Cached"
    assert resolver.get_document(details["localId"]) == {"@context": {"lux": "https://example.org/v1/lux"}}

    fetcher.documents[REMOTE] = {"@context": {"lux": "https://example.org/v2/lux"}}
    resolver.delete(REMOTE, reload=True)  # the original URL works as an id, too
    assert resolver.resolve(REMOTE).expand("lux") == "https://example.org/v2/lux"
    assert fetcher.urls() == [REMOTE, REMOTE]

    fetcher.failing[REMOTE] = httpx.ConnectError("down")
    with pytest.raises(LdContextNotAvailable):
        resolver.delete(REMOTE, reload=True)
    assert resolver.resolve(REMOTE).expand("lux") == "https://example.org/v2/lux"  # the old copy is kept

    del fetcher.failing[REMOTE]
    fetcher.documents[REMOTE] = {"@context": {"lux": "https://example.org/v3/lux"}}
    resolver.delete(details["localId"])
    assert REMOTE not in resolver.list_contexts()
    assert resolver.resolve(REMOTE).expand("lux") == "https://example.org/v3/lux"  # fetched again on use
    assert len(fetcher.calls) == 4


def test_the_core_context_cannot_be_deleted(resolver: ContextResolver) -> None:
    """The core context cannot be deleted under any of its names."""
    for name in (CORE_CONTEXT_URL, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"):
        with pytest.raises(BadRequestData):
            resolver.delete(name)
    resolver.delete(CORE_CONTEXT_URL, reload=True)  # a no-op: it is bundled
    assert resolver.resolve(CORE_CONTEXT_URL).expand("location") == NGSILD_NS + "location"


def test_unknown_contexts_are_not_found(resolver: ContextResolver) -> None:
    """Unknown ids give 404."""
    with pytest.raises(NotFound):
        resolver.get_document("urn:uuid:00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        resolver.delete("nope")
    with pytest.raises(NotFound):
        resolver.get_details("nope")


def test_listing(resolver: ContextResolver) -> None:
    """Listing shows every kind, in order of creation, with details on demand."""
    resolver.resolve(SDM_CONTEXT_URLS["Parking"])
    hosted = resolver.context_url(resolver.add_hosted({"@context": {"t": "https://example.org/t"}}))
    implicit = resolver.resolve({"u": "https://example.org/u"}).link_url
    assert resolver.list_contexts() == [CORE_CONTEXT_URL, SDM_CONTEXT_URLS["Parking"], hosted, implicit]
    assert resolver.list_contexts(kind="Cached") == [CORE_CONTEXT_URL, SDM_CONTEXT_URLS["Parking"]]
    details = resolver.list_contexts(details=True)
    assert [d["kind"] for d in details] == ["Cached", "Cached", "Hosted", "ImplicitlyCreated"]
    assert details[0]["extraInfo"]["bundled"] is True
    assert all({"URL", "localId", "kind", "timestamp", "numberOfHits"} <= set(d) for d in details)
    with pytest.raises(BadRequestData):
        resolver.list_contexts(kind="Remote")


def test_bundled_documents_are_served_before_first_use(resolver: ContextResolver) -> None:
    """Bundled documents are served, as copies, even before first use."""
    document = resolver.get_document(SDM_CONTEXT_URLS["Environment"])
    assert document["@context"]["AirQualityObserved"] == SDM + "dataModel.Environment/AirQualityObserved"
    document["@context"]["AirQualityObserved"] = "tampered"
    assert resolver.get_document(SDM_CONTEXT_URLS["Environment"])["@context"]["AirQualityObserved"] != "tampered"
