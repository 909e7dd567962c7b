"""Who uses the citizen app: an optional resident login, its CSRF token, and the reports this browser sent.

Residents log in with the same ``urbis_session`` cookie as the dashboard (any account counts: a
resident, and staff when they report something themselves).  A form that changes something while
logged in carries the CSRF token derived from that cookie, exactly as on the dashboard.

Someone without an account can still see the report they just sent while it waits for their
e-mail confirmation: the browser keeps the ids it sent in a signed cookie (:data:`SENT_COOKIE`),
and only that browser is shown the unconfirmed report.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from urbis.core.auth.tokens import Actor
from urbis.core.errors import PolicyDenied
from urbis.core.settings import Settings
from urbis.web.ui.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    cookie_is_secure,
    csrf_token_for,
    page_language,
    page_tenant,
    session_actor,
)

#: The signed list of report ids this browser sent without an account.
SENT_COOKIE = "urbis_sent"
#: How long a browser may see its unconfirmed reports (the confirmation link lives as long).
SENT_MAX_AGE = 14 * 24 * 3600
#: A browser remembers this many of its latest reports.
SENT_KEEP = 10
#: The form field that carries the CSRF token (the dashboard's name, so the same helpers apply).
CSRF_FIELD_NAME = CSRF_FIELD


@dataclass(frozen=True)
class Resident:
    """A logged-in person using the citizen app: who, in which city, and the token their forms carry."""

    actor: Actor
    tenant: str
    csrf_token: str

    @property
    def username(self) -> str:
        """The account's name (reports and comments are filed under it)."""
        return self.actor.subject


@dataclass(frozen=True)
class Visit:
    """One request to the citizen app: the city it shows, its language, and the resident if logged in."""

    tenant: str
    language: str
    resident: Resident | None


def resident_of(request: Request, settings: Settings) -> Resident | None:
    """The logged-in resident, or None (no cookie, or an expired or forged one)."""
    found = session_actor(request, settings)
    if found is None:
        return None
    actor, token = found
    return Resident(actor=actor, tenant=page_tenant(actor, settings), csrf_token=csrf_token_for(token, settings))


def visit_of(request: Request, settings: Settings) -> Visit:
    """Who is visiting, in which city and language (the default city for visitors without a login)."""
    resident = resident_of(request, settings)
    tenant = resident.tenant if resident is not None else settings.default_tenant
    return Visit(tenant=tenant, language=page_language(request), resident=resident)


def csrf_ok(request: Request, resident: Resident | None, form_token: str | None) -> bool:
    """Whether a state-changing request may go on: always without a login, else only with the session's token.

    Without a login the cookie carries no authority a forged form could borrow; with one, the
    token proves the form came from one of our pages.
    """
    if resident is None:
        return True
    offered = request.headers.get(CSRF_HEADER) or form_token or ""
    return hmac.compare_digest(offered, resident.csrf_token)


def require_csrf(request: Request, resident: Resident | None, form_token: str | None) -> None:
    """Refuse a state-changing request of a logged-in resident without the session's CSRF token."""
    if not csrf_ok(request, resident, form_token):
        raise PolicyDenied("the form has expired or did not come from this site; reload the page and try again")


def _signature(ids: str, settings: Settings) -> str:
    return hmac.new(settings.secret_key.encode(), b"sent:" + ids.encode(), hashlib.sha256).hexdigest()[:32]


def sent_reports(request: Request, settings: Settings) -> list[str]:
    """The ids of the reports this browser sent without an account (empty when the cookie is missing or forged)."""
    raw = request.cookies.get(SENT_COOKIE, "")
    ids, _, signature = raw.rpartition(".")
    if not ids or not hmac.compare_digest(signature, _signature(ids, settings)):
        return []
    return [item for item in ids.split("-") if item]


def remember_sent(response: Response, request: Request, settings: Settings, report_id: str) -> None:
    """Let this browser see a report it sent (while it waits for its confirmation)."""
    ids = [report_id, *[item for item in sent_reports(request, settings) if item != report_id]][:SENT_KEEP]
    joined = "-".join(ids)
    response.set_cookie(
        SENT_COOKIE,
        f"{joined}.{_signature(joined, settings)}",
        max_age=SENT_MAX_AGE,
        httponly=True,
        secure=cookie_is_secure(settings, request),
        samesite="lax",
        path="/app",
    )
