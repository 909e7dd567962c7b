"""Who is looking at a page: the login cookie, the CSRF token and the page language.

Logging in on ``/login`` issues the same signed access token as ``POST /auth/token`` and keeps it
in an HttpOnly, SameSite=Lax cookie (Secure when the server is reached over https).  A form or htmx
request that changes something must carry the CSRF token derived from that cookie (HMAC with the
server's secret), in the ``csrf_token`` field or the ``X-CSRF-Token`` header; SameSite alone does
not protect older browsers or same-site subdomains.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from fastapi import Request

from urbis.core.auth.roles import PLATFORM_TENANT, can_manage_operations, can_read_operations
from urbis.core.auth.tokens import Actor, decode_token
from urbis.core.errors import PolicyDenied, Unauthenticated, UrbisError
from urbis.core.settings import Settings
from urbis.web.ui.i18n import pick_language
from urbis.web.ui.templating import Viewer

SESSION_COOKIE = "urbis_session"
LANGUAGE_COOKIE = "urbis_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(UrbisError):
    """A page was asked for without a valid login: the browser goes to the login page."""

    code = "Unauthenticated"
    title = "Login required"
    status = 401

    def __init__(self, next_path: str):
        super().__init__("log in to see this page")
        self.next_path = next_path


def csrf_token_for(session_token: str, settings: Settings) -> str:
    """The CSRF token that goes with a login cookie (stateless: recomputed on every request)."""
    return hmac.new(settings.secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def session_actor(request: Request, settings: Settings) -> tuple[Actor, str] | None:
    """The actor and raw token of the login cookie; ``None`` without a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return decode_token(token, settings), token
    except Unauthenticated:
        return None


def cookie_is_secure(settings: Settings, request: Request) -> bool:
    """Whether the login cookie must only travel over https."""
    return request.url.scheme == "https" or settings.effective_base_url.startswith("https://")


def safe_next(path: str | None, default: str = "/dashboard") -> str:
    """A local path to return to after login or a language switch (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def page_language(request: Request) -> str:
    """The language chosen by cookie, else negotiated from the browser."""
    return pick_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


def page_tenant(actor: Actor, settings: Settings) -> str:
    """The city a page shows: the token's tenant (a platform admin sees the default city)."""
    if actor.tenant is None or actor.tenant == PLATFORM_TENANT:
        return settings.default_tenant
    return actor.tenant


def check_csrf(request: Request, viewer: Viewer, form_token: str | None) -> None:
    """Refuse a state-changing request without the session's CSRF token."""
    offered = request.headers.get(CSRF_HEADER) or form_token or ""
    if not hmac.compare_digest(offered, viewer.csrf_token):
        raise PolicyDenied("the form has expired or did not come from this site; reload the page and try again")


def viewer_of(request: Request, settings: Settings) -> Viewer:
    """The logged-in member of staff looking at a page; :class:`LoginRequired` or 403 otherwise."""
    found = session_actor(request, settings)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target, safe="/?=&"))
    actor, token = found
    tenant = page_tenant(actor, settings)
    if not can_read_operations(actor, tenant):
        raise PolicyDenied(f"{actor.subject!r} may not see the dashboard of '{tenant}' (a staff role is needed)")
    return Viewer(
        actor=actor,
        tenant=tenant,
        language=page_language(request),
        csrf_token=csrf_token_for(token, settings),
        can_act=can_manage_operations(actor, tenant),
    )
