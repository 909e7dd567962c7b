"""Dependencies every route shares: the caller, and the one place permissions are checked."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from urbis.core.auth.roles import can_read_context, can_write_context, require
from urbis.core.auth.tokens import ANONYMOUS, Actor, actor_from_authorization
from urbis.core.settings import Settings
from urbis.web.ui.session import CSRF_HEADER, SAFE_METHODS, csrf_token_for, session_actor


def settings_dep(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def current_actor(request: Request) -> Actor:
    """The caller named by the Bearer token (anonymous without one; 401 for a bad one).

    Without an Authorization header, the dashboard's login cookie names the caller: for reading,
    and for changes that carry the session's CSRF token (the pages' own scripts send it).
    """
    cached = getattr(request.state, "actor", None)
    if cached is not None:
        actor: Actor = cached
        return actor
    settings = settings_dep(request)
    header = request.headers.get("authorization")
    actor = actor_from_authorization(header, settings)
    if header is None:
        actor = _cookie_actor(request, settings) or actor
    request.state.actor = actor
    return actor


def _cookie_actor(request: Request, settings: Settings) -> Actor | None:
    found = session_actor(request, settings)
    if found is None:
        return None
    actor, token = found
    if request.method in SAFE_METHODS:
        return actor
    offered = request.headers.get(CSRF_HEADER, "")
    return actor if hmac.compare_digest(offered, csrf_token_for(token, settings)) else None


SettingsDep = Annotated[Settings, Depends(settings_dep)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


async def require_read(request: Request, tenant: str) -> Actor:
    """Allow reading the tenant's context: open mode, a public tenant, or a reading role."""
    settings = settings_dep(request)
    if settings.ngsild_open:
        return ANONYMOUS
    actor = current_actor(request)
    public = tenant in settings.public_read_tenants
    require(can_read_context(actor, tenant, public), actor, f"read the context of tenant '{tenant}'")
    return actor


async def require_write(request: Request, tenant: str) -> Actor:
    """Allow changing the tenant's context: open mode, or a role that may write."""
    settings = settings_dep(request)
    if settings.ngsild_open:
        return ANONYMOUS
    actor = current_actor(request)
    require(can_write_context(actor, tenant), actor, f"change the context of tenant '{tenant}'")
    return actor
