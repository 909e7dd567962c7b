"""JSON-LD ``@context`` handling for the NGSI-LD broker: resolve, compile once, expand and compact by lookup.

A client's ``@context`` (a URL, an inline object or a list of both) is compiled **once** with PyLD, the
reference JSON-LD processor, into plain dictionaries; after that, expanding an attribute or type name and
compacting an IRI back are dictionary lookups (see "Speed by design" in DESIGN.md).  The compiled contexts
live in an LRU cache keyed by the canonical JSON of the ``@context`` value.

NGSI-LD rules applied on top of plain JSON-LD (ETSI GS CIM 009; Orion-LD's manual "the-context"):

- the core context is always in force and is applied **last**, so its terms win over user terms, whatever
  the client sends (listing the core context explicitly is fine);
- a term no context defines expands to ``https://uri.etsi.org/ngsi-ld/default-context/<term>``.

The core context, the Smart Data Models contexts Urbis uses and Urbis's own combined context are bundled
in ``contexts/`` and never fetched.  Other remote contexts are fetched once (with a timeout) and cached;
a context that cannot be fetched raises :class:`~urbis.core.errors.LdContextNotAvailable` (503).

The resolver also backs the ``/jsonldContexts`` endpoints (clauses 5.13 and 6.3 of the spec): contexts
added by clients ("Hosted"), remote ones the broker fetched ("Cached"), and the ones it created from
inline or list contexts so that a response can name them in a ``Link`` header ("ImplicitlyCreated").
These registries live in memory: hosted and implicit contexts do not survive a restart.

About the bundled core context (``contexts/ngsi-ld-core-context.jsonld``): it was written from the term
definitions of the V1.8 and V1.9 core contexts, one document for every ``…-core-context-v1.N`` URL.  It
differs in one place on purpose: V1.9's ``ngsildproof`` term carries a scoped context that points at
``https://w3id.org/security/data-integrity/v2``, and PyLD processes scoped contexts eagerly, which would
need the network at start-up; here the term is a plain ``ngsi-ld:ngsildproof``.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any, Final, Protocol
from urllib.parse import unquote, urlsplit

import httpx
import orjson
from pyld import jsonld
from pyld.context_resolver import ContextResolver as _PyLdContextResolver

from urbis.core.clock import Clock, SystemClock
from urbis.core.errors import BadRequestData, LdContextNotAvailable, NotFound, UrbisError

__all__ = [
    "BUNDLED_CONTEXTS",
    "CORE_CONTEXT_URL",
    "CORE_CONTEXT_URLS",
    "DEFAULT_VOCAB",
    "NGSILD_NS",
    "SDM_CONTEXT_URLS",
    "URBIS_CONTEXT_URL",
    "ContextResolver",
    "Fetcher",
    "LdContext",
    "http_fetcher",
]

CORE_CONTEXT_URL: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
NGSILD_NS: Final = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB: Final = "https://uri.etsi.org/ngsi-ld/default-context/"
URBIS_CONTEXT_URL: Final = "https://urbis.city/contexts/urbis-context.jsonld"

_CORE_FILE = "ngsi-ld-core-context.jsonld"

#: Every URL that names the NGSI-LD core context: the unversioned one and v1.3 to v1.9, over https and http.
CORE_CONTEXT_URLS: Final[frozenset[str]] = frozenset(
    f"{scheme}://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context{version}.jsonld"
    for scheme in ("https", "http")
    for version in ["", *(f"-v1.{n}" for n in range(3, 10))]
)

#: The Smart Data Models contexts Urbis bundles, by subject, under the URLs clients use for them.
SDM_CONTEXT_URLS: Final[dict[str, str]] = {
    subject: f"https://raw.githubusercontent.com/smart-data-models/dataModel.{subject}/master/context.jsonld"
    for subject in ("Streetlighting", "Environment", "Parking")
}

#: URL -> file name in ``contexts/`` of every bundled context except the core one (see CORE_CONTEXT_URLS).
BUNDLED_CONTEXTS: Final[dict[str, str]] = {
    **{url: f"sdm-{subject}.jsonld" for subject, url in SDM_CONTEXT_URLS.items()},
    URBIS_CONTEXT_URL: "urbis-context.jsonld",
}

#: ``fetcher(url, timeout)`` returns the parsed JSON document at ``url`` or raises.
Fetcher = Callable[[str, float], Any]

HOSTED: Final = "Hosted"
CACHED: Final = "Cached"
IMPLICIT: Final = "ImplicitlyCreated"
_KINDS: Final = (HOSTED, CACHED, IMPLICIT)

_API_PATH: Final = "/ngsi-ld/v1/jsonldContexts/"
_MAX_DOCUMENT_BYTES: Final = 2 * 1024 * 1024  # a context bigger than this is an attack or a mistake
_MEMO_LIMIT: Final = 50_000  # per compiled context; bounds memory when clients send endless unknown names


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The term maps of one processed active context (shared by every LdContext with the same meaning)."""

    terms: dict[str, str]  # term -> IRI (or keyword, e.g. "id" -> "@id")
    defined: frozenset[str]  # every term with a definition, including ones mapped to null
    prefixes: dict[str, str]  # terms usable as the prefix of a compact IRI -> their IRI
    curie_bases: tuple[tuple[str, str, bool], ...]  # (term, IRI, is prefix) of colon-free terms, for compaction
    vocab: str | None
    expanded: dict[str, str] = field(default_factory=dict)  # memo: term -> IRI
    compacted: dict[str, str] = field(default_factory=dict)  # memo: IRI -> term


class LdContext:
    """One compiled ``@context``: expand and compact names by dictionary lookup.

    Immutable; equal (and hashing equal) when built from the same ``@context`` value.
    """

    __slots__ = ("_compacted", "_compiled", "_expanded", "dependencies", "is_default", "key", "link_url", "source")

    source: Any  # the @context exactly as the client gave it (CORE_CONTEXT_URL when none was given)
    is_default: bool  # True when the client gave no context
    link_url: str | None  # one URL naming this context in a response Link header
    key: bytes  # canonical JSON of ``source``: the cache key
    dependencies: frozenset[str]  # URLs this context was built from (to forget it when one changes)
    _compiled: _Compiled
    _expanded: dict[str, str]
    _compacted: dict[str, str]

    def __init__(
        self,
        source: Any,
        compiled: _Compiled,
        *,
        is_default: bool,
        link_url: str | None,
        key: bytes,
        dependencies: Iterable[str] = (),
    ) -> None:
        """Wrap ``compiled`` term maps; use :meth:`ContextResolver.resolve` rather than this."""
        for name, value in (
            ("source", source),
            ("is_default", is_default),
            ("link_url", link_url),
            ("key", key),
            ("dependencies", frozenset(dependencies)),
            ("_compiled", compiled),
            # Bound once here so the hot path does one attribute read, not two.
            ("_expanded", compiled.expanded),
            ("_compacted", compiled.compacted),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse: a compiled context is shared between requests and threads."""
        raise AttributeError(f"LdContext is immutable (tried to set {name!r})")

    def __eq__(self, other: object) -> bool:
        """Equal when compiled from the same ``@context`` value."""
        return isinstance(other, LdContext) and other.key == self.key

    def __hash__(self) -> int:
        """Hash of the canonical ``@context`` value."""
        return hash(self.key)

    def __repr__(self) -> str:
        """Short form naming the context."""
        return f"LdContext({self.link_url or self.source!r})"

    @property
    def vocab(self) -> str | None:
        """The ``@vocab`` in force (the core context's default-context namespace)."""
        return self._compiled.vocab

    @property
    def terms(self) -> dict[str, str]:
        """A copy of the term -> IRI map (for diagnostics and tests; use :meth:`expand` on the hot path)."""
        return dict(self._compiled.terms)

    def expand(self, term: str) -> str:
        """Expand an attribute name, entity type, vocab value or sub-attribute name to its IRI.

        A defined term gives its IRI; ``prefix:suffix`` with a known prefix is expanded; any other absolute
        IRI (``https://…``, ``urn:…``) is returned unchanged; anything else is appended to ``@vocab``.
        """
        try:
            return self._expanded[term]
        except KeyError:
            return self._expand_miss(term)

    def compact(self, iri: str) -> str:
        """Compact an IRI: the best term for it, else a ``@vocab``-relative name, else ``prefix:suffix``, else itself.

        The inverse of :meth:`expand`: ``compact(expand(name)) == name`` for every term and vocab-relative name.
        """
        try:
            return self._compacted[iri]
        except KeyError:
            return self._compact_miss(iri)

    def _expand_miss(self, term: str) -> str:
        compiled = self._compiled
        result = term
        if not term.startswith("@"):  # keywords are never expanded
            colon = term.find(":")
            if colon > 0:
                prefix, suffix = term[:colon], term[colon + 1 :]
                # "_:" is a blank node, "scheme://…" already absolute; otherwise a known prefix expands.
                if prefix != "_" and not suffix.startswith("//") and prefix in compiled.prefixes:
                    result = compiled.prefixes[prefix] + suffix
            elif compiled.vocab is not None:
                result = compiled.vocab + term
        if len(self._expanded) < _MEMO_LIMIT:
            self._expanded[term] = result  # a single dict store is atomic under the GIL: no lock needed
        return result

    def _compact_miss(self, iri: str) -> str:
        # Steps of the JSON-LD 1.1 "IRI Compaction" algorithm (vocab = true) after term selection,
        # which the pre-built inverse map already answered.
        compiled = self._compiled
        result = iri
        vocab = compiled.vocab
        if vocab is not None and iri.startswith(vocab) and iri != vocab and iri[len(vocab) :] not in compiled.defined:
            result = iri[len(vocab) :]
        else:
            best: str | None = None
            for term, base, is_prefix in compiled.curie_bases:
                if base == iri or not iri.startswith(base):
                    continue
                curie = f"{term}:{iri[len(base) :]}"
                usable = (is_prefix and curie not in compiled.defined) or compiled.terms.get(curie) == iri
                if usable and (best is None or (len(curie), curie) < (len(best), best)):
                    best = curie
            if best is not None:
                result = best
        if len(self._compacted) < _MEMO_LIMIT:
            self._compacted[iri] = result
        return result


def _compile_active(active: Any) -> _Compiled:
    """Turn a PyLD active context into plain lookup dictionaries."""
    mappings = active.get("mappings", {})
    terms: dict[str, str] = {}
    inverse: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    curie_bases: list[tuple[str, str, bool]] = []
    for term, definition in mappings.items():
        if definition is None or not definition.get("@id"):
            continue  # a term explicitly mapped to null: expands like an undefined one
        iri: str = definition["@id"]
        terms[term] = iri
        if definition.get("_prefix"):
            prefixes[term] = iri
        if ":" not in term:
            curie_bases.append((term, iri, bool(definition.get("_prefix"))))
        if definition.get("reverse"):
            continue  # a reverse property never names an attribute
        # JSON-LD term selection: the shortest term, then the lexicographically least.
        current = inverse.get(iri)
        if current is None or (len(term), term) < (len(current), current):
            inverse[iri] = term
    curie_bases.sort()
    return _Compiled(
        terms=terms,
        defined=frozenset(mappings),
        prefixes=prefixes,
        curie_bases=tuple(curie_bases),
        vocab=active.get("@vocab"),
        expanded=dict(terms),
        compacted=inverse,
    )


def _read_bundled(name: str) -> bytes:
    return resources.files("urbis.context").joinpath("contexts", name).read_bytes()


def _utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise BadRequestData(f"the @context is not valid JSON: {exc}") from None


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _urbis_cause(exc: BaseException) -> UrbisError | None:
    """Our own error buried in PyLD's exception chain (PyLD wraps whatever a document loader raises)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, UrbisError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _describe_pyld_error(exc: BaseException) -> str:
    """The most specific message in a PyLD error chain (the outer ones are often generic wrappers)."""
    messages: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(messages) < 5:
        if isinstance(current, jsonld.JsonLdError):
            code = getattr(current, "code", None)
            text = str(getattr(current, "message", "") or current).splitlines()[0]
            messages.append(f"{text} ({code})" if code else text)
        else:
            messages.append(f"{current.__class__.__name__}: {current}")
        current = current.__cause__
    return "; ".join(messages[-2:]) if messages else str(exc)


def http_fetcher(url: str, timeout: float) -> Any:
    """Fetch and parse a remote JSON-LD document with httpx (redirects followed, size capped)."""
    headers = {"Accept": "application/ld+json, application/json;q=0.9"}
    with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
        response.raise_for_status()
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > _MAX_DOCUMENT_BYTES:
                raise ValueError(f"document larger than {_MAX_DOCUMENT_BYTES} bytes")
    return orjson.loads(bytes(body))


class HostedContextStore(Protocol):
    """Where hosted and implicitly created contexts outlive a process (and are shared by several)."""

    def load(self, local_id: str) -> tuple[str, str, bytes] | None:
        """(kind, url, document) of a stored context, or None."""
        ...

    def save(self, local_id: str, kind: str, url: str, document: bytes) -> None:
        """Store (or overwrite) a context document."""
        ...

    def remove(self, local_id: str) -> None:
        """Forget a stored context."""
        ...

    def list_ids(self) -> list[str]:
        """The local ids of every stored context."""
        ...


@dataclass(slots=True)
class _Entry:
    """A context document the broker serves at ``/jsonldContexts/{local_id}`` (mutable; guarded by the lock)."""

    local_id: str
    url: str
    kind: str
    document: bytes  # {"@context": ...} as JSON; bytes so nobody can mutate what we serve
    created: datetime
    bundled: bool = False
    last_usage: datetime | None = None
    hits: int = 0

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "URL": self.url,
            "localId": self.local_id,
            "kind": self.kind,
            "timestamp": _utc_iso(self.created),
            "numberOfHits": self.hits,
        }
        if self.last_usage is not None:
            out["lastUsage"] = _utc_iso(self.last_usage)
        if self.bundled:
            out["extraInfo"] = {"bundled": True, "note": "served from Urbis's offline copy, never fetched"}
        return out


class ContextResolver:
    """Resolves client ``@context`` values to compiled :class:`LdContext` objects and hosts context documents.

    Thread-safe: sync FastAPI routes call it from a thread pool.  One lock guards the caches; compiling and
    fetching happen outside it, so a slow remote context never blocks requests that use cached ones.
    """

    def __init__(
        self,
        *,
        base_url: str,
        fetch_timeout: float = 5.0,
        cache_size: int = 256,
        fetcher: Fetcher | None = None,
        clock: Clock | None = None,
        store: HostedContextStore | None = None,
    ) -> None:
        """Create a resolver serving its documents under ``{base_url}/ngsi-ld/v1/jsonldContexts/``.

        ``fetcher(url, timeout)`` retrieves remote contexts (default :func:`http_fetcher`); ``clock`` stamps
        the ``timestamp``/``lastUsage`` details (default the system clock).
        """
        self.base_url = base_url.rstrip("/")
        self.fetch_timeout = fetch_timeout
        self.cache_size = max(1, cache_size)
        self._fetcher: Fetcher = fetcher or http_fetcher
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._local_prefix = self.base_url + _API_PATH
        self._lock = threading.RLock()
        self._fetch_locks: dict[str, threading.Lock] = {}
        self._compiled: OrderedDict[bytes, LdContext] = OrderedDict()
        self._entries: dict[str, _Entry] = {}
        self._by_url: dict[str, str] = {}  # URL (and core aliases) -> local id
        self._max_entries = max(4 * self.cache_size, 1024)  # of evictable (fetched or implicit) entries

        core_bytes = _read_bundled(_CORE_FILE)
        self._core_local: Any = orjson.loads(core_bytes)["@context"]
        self._core_id = self._register_locked(CACHED, CORE_CONTEXT_URL, core_bytes, bundled=True)
        for alias in CORE_CONTEXT_URLS:
            self._by_url[alias] = self._core_id

        processor = jsonld.JsonLdProcessor()
        options = self._pyld_options(self._refuse_loads)
        initial = processor.process_context({"mappings": {}}, None, options)
        # The active context every compilation starts from: user contexts may use the core prefixes.
        self._core_active: Any = processor.process_context(initial, self._core_local, options)
        core_compiled = _compile_active(self._core_active)
        self.core: LdContext = LdContext(
            CORE_CONTEXT_URL, core_compiled, is_default=True, link_url=CORE_CONTEXT_URL, key=b"null"
        )

    # ------------------------------------------------------------------ resolving

    def resolve(self, context: Any | None) -> LdContext:
        """The compiled context for a client's ``@context`` value (``None`` = core only).

        Raises :class:`BadRequestData` for a malformed context and :class:`LdContextNotAvailable` when a
        remote context cannot be retrieved.
        """
        if context is None:
            with self._lock:
                self._touch_locked((CORE_CONTEXT_URL,))
            return self.core
        if not isinstance(context, str | list | dict):
            raise BadRequestData(
                f"@context must be a URL, an object or an array, not {type(context).__name__}: {context!r:.80}"
            )
        for item in context if isinstance(context, list) else [context]:
            if isinstance(item, str) and not _is_http_url(item):
                raise BadRequestData(f"@context entry {item!r:.200} is not an absolute http(s) URL")
        key = _canonical(context)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                self._touch_locked(found.dependencies)
                self._ensure_implicit_locked(found)
                return found

        built = self._build(context, key)

        with self._lock:
            found = self._compiled.get(key)
            if found is not None:  # another thread compiled it meanwhile: keep one instance
                built = found
                self._compiled.move_to_end(key)
            else:
                self._compiled[key] = built
                while len(self._compiled) > self.cache_size:
                    self._compiled.popitem(last=False)
            self._ensure_implicit_locked(built)
            self._touch_locked(built.dependencies)
        return built

    def _build(self, context: Any, key: bytes) -> LdContext:
        link_url: str | None
        if isinstance(context, str):
            link_url = context
        elif isinstance(context, list) and len(context) == 1 and isinstance(context[0], str):
            link_url = context[0]  # the test suite treats "url" and ["url"] alike
        else:
            link_url = self.context_url(self._implicit_id(key))
        if isinstance(context, str) and context in CORE_CONTEXT_URLS:
            # Core under another name: same meaning, but responses must echo the client's URL.
            compiled, deps = self.core._compiled, frozenset({context})
        else:
            # PyLD gets a private copy (key order is irrelevant to JSON-LD), never the caller's object.
            compiled, deps = self._compile(orjson.loads(key))
        dependencies = set(deps)
        if link_url is not None:
            dependencies.add(link_url)
        return LdContext(context, compiled, is_default=False, link_url=link_url, key=key, dependencies=dependencies)

    def _compile(self, context: Any) -> tuple[_Compiled, frozenset[str]]:
        """Run the JSON-LD context processing algorithm (PyLD): core, then the user context, then core again."""
        loaded: list[str] = []

        def loader(url: str, options: dict[str, Any]) -> dict[str, Any]:
            document, served_as = self._load(url)
            loaded.extend({url, served_as})
            return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}

        processor = jsonld.JsonLdProcessor()
        options = self._pyld_options(loader)
        try:
            # override_protected: the user context may redefine core terms (the core's are @protected);
            # JSON-LD would refuse, NGSI-LD simply lets the core win, which the last pass below ensures.
            active = processor._process_context(self._core_active, context, options, override_protected=True)
            active = processor._process_context(active, self._core_local, options, override_protected=True)
        except Exception as exc:  # noqa: BLE001 - pyld raises many kinds; each becomes a 400 or 503
            cause = _urbis_cause(exc)
            if cause is not None:
                raise cause from None
            raise BadRequestData(f"invalid @context: {_describe_pyld_error(exc)}") from None
        return _compile_active(active), frozenset(loaded)

    @staticmethod
    def _pyld_options(loader: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        # A private PyLD ContextResolver per compilation: PyLD's default one shares a module-wide cache
        # keyed by URL, which would bypass our loader (and so our hosted/deleted/reloaded documents).
        return {
            "base": "",
            "documentLoader": loader,
            "contextResolver": _PyLdContextResolver({}, loader),
        }

    @staticmethod
    def _refuse_loads(url: str, options: dict[str, Any]) -> dict[str, Any]:
        raise LdContextNotAvailable(f"the bundled core @context must not load {url}")

    def _load(self, url: str) -> tuple[Any, str]:
        """The parsed ``{"@context": …}`` document for a URL met while compiling, and the URL of its entry.

        Always a fresh copy: PyLD mutates the documents it is given.
        """
        if url in CORE_CONTEXT_URLS:
            return {"@context": orjson.loads(orjson.dumps(self._core_local))}, url
        local_id = self._local_id_of(url)
        with self._lock:
            entry_id = local_id if local_id is not None and local_id in self._entries else self._by_url.get(url)
            entry = self._entries.get(entry_id) if entry_id is not None else None
            if entry is not None:
                return orjson.loads(entry.document), entry.url
        stored = self._from_store(local_id) if local_id is not None else None
        if stored is not None:
            return orjson.loads(stored.document), stored.url
        if local_id is not None and url.startswith(self._local_prefix):
            raise LdContextNotAvailable(f"the @context {url} is not hosted by this broker (unknown id {local_id!r})")
        if url in BUNDLED_CONTEXTS:
            data = _read_bundled(BUNDLED_CONTEXTS[url])
            with self._lock:
                if url not in self._by_url:
                    self._register_locked(CACHED, url, data, bundled=True)
            return orjson.loads(data), url
        return orjson.loads(self._fetch_and_cache(url)), url

    def _local_id_of(self, url: str) -> str | None:
        """The local id if ``url`` has the shape of a jsonldContexts URL (ours, or ours under another host name)."""
        path = urlsplit(url).path
        position = path.find(_API_PATH)
        if position < 0:
            return None
        return unquote(path[position + len(_API_PATH) :]) or None

    def _fetch_and_cache(self, url: str) -> bytes:
        if not _is_http_url(url):
            raise LdContextNotAvailable(f"the @context {url} cannot be retrieved: only http(s) URLs are fetched")
        with self._lock:
            url_lock = self._fetch_locks.setdefault(url, threading.Lock())
        with url_lock:  # one fetch per URL even when many requests ask for it at once
            with self._lock:
                entry_id = self._by_url.get(url)
                if entry_id is not None:
                    return self._entries[entry_id].document
            data = self._fetch(url)
            with self._lock:
                self._register_locked(CACHED, url, data)
                self._fetch_locks.pop(url, None)
        return data

    def _fetch(self, url: str) -> bytes:
        """Fetch a remote context document, normalised to ``{"@context": …}`` JSON bytes."""
        try:
            document = self._fetcher(url, self.fetch_timeout)
        except Exception as exc:  # noqa: BLE001 - any failure to fetch means "not available"
            raise LdContextNotAvailable(
                f"the @context {url} could not be retrieved: {exc.__class__.__name__}: {exc}"
            ) from None
        if not isinstance(document, dict) or "@context" not in document:
            raise LdContextNotAvailable(f"the document at {url} is not a JSON-LD context (no @context member)")
        return orjson.dumps({"@context": document["@context"]})

    # ------------------------------------------------------------------ registry

    def _implicit_id(self, key: bytes) -> str:
        return hashlib.sha256(key).hexdigest()[:32]

    def _register_locked(
        self,
        kind: str,
        url: str,
        document: bytes,
        *,
        local_id: str | None = None,
        bundled: bool = False,
        persist: bool = True,
    ) -> str:
        if local_id is None:
            local_id = hashlib.sha256(url.encode()).hexdigest()[:32]
        self._entries[local_id] = _Entry(local_id, url, kind, document, self._clock.now(), bundled=bundled)
        if persist and self._store is not None and kind in (HOSTED, IMPLICIT):
            self._store.save(local_id, kind, url, document)
        self._by_url[url] = local_id
        if kind != HOSTED and not bundled:
            self._prune_locked()
        return local_id

    def _prune_locked(self) -> None:
        evictable = [e for e in self._entries.values() if e.kind != HOSTED and not e.bundled]
        if len(evictable) <= self._max_entries:
            return
        evictable.sort(key=lambda e: e.last_usage or e.created)
        for entry in evictable[: len(evictable) - self._max_entries]:
            self._remove_locked(entry, forget_stored=False)  # only out of memory

    def _ensure_implicit_locked(self, ctx: LdContext) -> None:
        if isinstance(ctx.source, str) or ctx.link_url is None or ctx.link_url in self._by_url:
            return
        if isinstance(ctx.source, list) and len(ctx.source) == 1 and isinstance(ctx.source[0], str):
            return
        local_id = self._implicit_id(ctx.key)
        self._register_locked(IMPLICIT, ctx.link_url, orjson.dumps({"@context": ctx.source}), local_id=local_id)

    def _touch_locked(self, urls: Iterable[str]) -> None:
        now: datetime | None = None
        for url in urls:
            entry_id = self._by_url.get(url)
            if entry_id is None:
                continue
            entry = self._entries.get(entry_id)
            if entry is None:
                continue
            now = now or self._clock.now()
            entry.hits += 1
            entry.last_usage = now

    def _remove_locked(self, entry: _Entry, *, forget_stored: bool = True) -> None:
        self._entries.pop(entry.local_id, None)
        if forget_stored and self._store is not None and entry.kind in (HOSTED, IMPLICIT):
            self._store.remove(entry.local_id)
        for url in [u for u, i in self._by_url.items() if i == entry.local_id]:
            del self._by_url[url]
        self._forget_compiled_locked(entry.url)

    def _forget_compiled_locked(self, url: str) -> None:
        """Drop compiled contexts built from ``url`` so the next use sees the change."""
        for key in [k for k, c in self._compiled.items() if url in c.dependencies]:
            del self._compiled[key]

    def _find(self, context_id: str) -> _Entry:
        """The entry named by a local id, its jsonldContexts URL, or the URL it was fetched from."""
        with self._lock:
            entry_id = context_id if context_id in self._entries else self._by_url.get(context_id)
            if entry_id is None:
                local = self._local_id_of(context_id)
                if local is not None and context_id.startswith(self._local_prefix):
                    entry_id = local
            entry = self._entries.get(entry_id) if entry_id is not None else None
        if entry is None:
            entry = self._from_store(entry_id or self._local_id_of(context_id) or context_id)
        elif self._store is not None and entry.kind in (HOSTED, IMPLICIT) and self._store.load(entry.local_id) is None:
            with self._lock:  # another process deleted it
                self._remove_locked(entry, forget_stored=False)
            entry = None
        if entry is None:
            raise NotFound(f"no @context {context_id!r} is known to this broker")
        return entry

    def _from_store(self, local_id: str) -> _Entry | None:
        """A context another process (or an earlier run) stored, now registered here too."""
        if self._store is None:
            return None
        found = self._store.load(local_id)
        if found is None:
            return None
        kind, url, document = found
        with self._lock:
            self._register_locked(kind, url, document, local_id=local_id, persist=False)
            return self._entries[local_id]

    # ------------------------------------------------------------------ /jsonldContexts

    def context_url(self, context_id: str) -> str:
        """The URL under which this broker serves the context with local id ``context_id``."""
        return f"{self._local_prefix}{context_id}"

    def add_hosted(self, document: dict[str, Any]) -> str:
        """Host a client's context document ``{"@context": …}``; returns its local id (a ``urn:uuid:``).

        The context is compiled first, so an invalid one is refused with :class:`BadRequestData`.
        """
        if not isinstance(document, dict) or "@context" not in document:
            raise BadRequestData('the body must be a JSON object with an "@context" member')
        context = document["@context"]
        if not isinstance(context, dict | list):
            raise BadRequestData("the @context to host must be an object or an array")
        for item in context if isinstance(context, list) else []:
            if isinstance(item, str) and not _is_http_url(item):
                raise BadRequestData(f"@context entry {item!r:.200} is not an absolute http(s) URL")
        self._compile(context)
        local_id = f"urn:uuid:{uuid.uuid4()}"
        with self._lock:
            self._register_locked(
                HOSTED, self.context_url(local_id), orjson.dumps({"@context": context}), local_id=local_id
            )
        return local_id

    def list_contexts(self, *, details: bool = False, kind: str | None = None) -> list[Any]:
        """The contexts this broker serves: their URLs, or detail objects when ``details`` is true.

        ``kind`` keeps one of ``Hosted``, ``Cached``, ``ImplicitlyCreated``; any other value is refused.
        """
        if kind is not None and kind not in _KINDS:
            raise BadRequestData(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
        if self._store is not None:
            stored = set(self._store.list_ids())
            for local_id in stored - set(self._entries):
                self._from_store(local_id)
            with self._lock:  # forget what another process deleted
                for entry in [e for e in self._entries.values() if e.kind in (HOSTED, IMPLICIT)]:
                    if entry.local_id not in stored:
                        self._remove_locked(entry, forget_stored=False)
        with self._lock:
            entries = [e for e in self._entries.values() if kind is None or e.kind == kind]
            return [e.details() for e in entries] if details else [e.url for e in entries]

    def get_details(self, context_id: str) -> dict[str, Any]:
        """The detail object of one context (``GET /jsonldContexts/{id}?details=true``); unknown -> NotFound."""
        entry = self._find(context_id)
        with self._lock:
            return entry.details()

    def get_document(self, context_id: str) -> dict[str, Any]:
        """The document ``{"@context": …}`` served at ``GET /jsonldContexts/{id}`` (local id or URL accepted)."""
        try:
            entry = self._find(context_id)
        except NotFound:
            if context_id in BUNDLED_CONTEXTS:  # bundled but not used yet
                document: dict[str, Any] = orjson.loads(_read_bundled(BUNDLED_CONTEXTS[context_id]))
                return document
            raise
        served: dict[str, Any] = orjson.loads(entry.document)
        return served

    def delete(self, context_id: str, *, reload: bool = False) -> None:
        """Delete a hosted or implicit context, or drop (``reload=True``: re-fetch) a cached one.

        The core context cannot be deleted (:class:`BadRequestData`); unknown ids give :class:`NotFound`;
        a failed reload gives :class:`LdContextNotAvailable` and keeps the cached copy.
        """
        entry = self._find(context_id)
        if entry.local_id == self._core_id:
            if reload:
                return  # bundled and immutable: reloading it is a no-op (Orion-LD allows it too)
            raise BadRequestData("the NGSI-LD core @context cannot be deleted")
        if reload and entry.kind != CACHED:
            raise BadRequestData(f"only cached @contexts can be reloaded; {context_id!r} is {entry.kind}")
        if reload:
            data = _read_bundled(BUNDLED_CONTEXTS[entry.url]) if entry.bundled else self._fetch(entry.url)
            with self._lock:
                entry.document = data
                entry.created = self._clock.now()
                self._forget_compiled_locked(entry.url)
            return
        with self._lock:
            self._remove_locked(entry)
