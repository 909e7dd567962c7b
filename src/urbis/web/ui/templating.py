"""Jinja2 templates of the web pages: one environment per language, autoescaping on, shared globals.

Templates never query: a route builds a view model (a plain dataclass from ``urbis.dashboard``)
and hands it to :meth:`Pages.render`, which adds what every page needs (the user, the language,
the CSRF token, the navigation) and answers HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.core.auth.tokens import Actor
from urbis.core.settings import Settings
from urbis.dashboard.overview import LOWER_IS_BETTER
from urbis.web.ui.i18n import LANGUAGES, Formats, translations

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Viewer:
    """The person looking at a page: who, in which city, may they act, which language."""

    actor: Actor
    tenant: str
    language: str
    csrf_token: str
    can_act: bool

    @property
    def name(self) -> str:
        """The name to greet."""
        return self.actor.subject


def _query(params: Mapping[str, Any], **changes: Any) -> str:
    """A query string from ``params`` with ``changes`` applied (``None`` removes a parameter)."""
    merged = {key: value for key, value in {**params, **changes}.items() if value is not None and value != ""}
    return "?" + urlencode(merged) if merged else ""


class Pages:
    """Renders templates for a request in the viewer's language."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.environments = {language: self._environment(language) for language in LANGUAGES}

    def _environment(self, language: str) -> Environment:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(["html", "xml"], default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        formats = Formats(language, self.settings.city_timezone)
        environment.globals.update(
            fmt=formats,
            languages=LANGUAGES,
            language=language,
            query=_query,
            tile_url=self.settings.dashboard_tile_url,
            tile_attribution=self.settings.dashboard_tile_attribution,
            context_url=URBIS_CONTEXT_URL,
            lower_is_better=LOWER_IS_BETTER,
        )
        return environment

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        context: Mapping[str, Any] | None = None,
        *,
        language: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The HTML of ``template`` for ``viewer`` (``None`` on the login page)."""
        chosen = language or (viewer.language if viewer is not None else "en")
        page = self.environments[chosen].get_template(template)
        html = page.render(
            request=request,
            viewer=viewer,
            path=request.url.path,
            params=dict(request.query_params),
            **(context or {}),
        )
        return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
