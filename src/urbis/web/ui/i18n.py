"""Languages of the web pages: gettext catalogues (Babel) and locale-aware numbers and dates.

Messages are written in English in the templates; ``translations/<lang>/LC_MESSAGES/messages.po``
holds each other language.  Catalogues are compiled in memory when first used, so a change to a
``.po`` file needs no build step.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

#: The languages every page is offered in; the first is the source language of the templates.
LANGUAGES: Mapping[str, str] = {"en": "English", "de": "Deutsch"}
DEFAULT_LANGUAGE = "en"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


def catalogue_path(language: str) -> Path:
    """Where the ``.po`` catalogue of ``language`` lives."""
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (English needs none: it is the templates' own language)."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    with catalogue_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def pick_language(chosen: str | None, accept_language: str | None) -> str:
    """The page language: an explicit choice if offered, else the browser's preference, else English."""
    if chosen is not None and chosen in LANGUAGES:
        return chosen
    if accept_language:
        preferred = []
        for part in accept_language.split(","):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if tag and quality > 0:
                preferred.append((quality, tag.strip().replace("-", "_")))
        ordered = [tag for _, tag in sorted(preferred, key=lambda item: -item[0])]
        found = negotiate_locale(ordered, list(LANGUAGES), sep="_")
        if found in LANGUAGES:
            return str(found)
    return DEFAULT_LANGUAGE


class Formats:
    """Numbers, money, percentages and instants written as a reader of ``language`` expects."""

    def __init__(self, language: str, timezone: str):
        self.locale = Locale.parse(language)
        self.zone = ZoneInfo(timezone)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        """A number with the locale's separators; a dash for no value."""
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, share: float | None, digits: int = 0) -> str:
        """A share (0.25) as a percentage ("25 %" in German, "25%" in English)."""
        if share is None:
            return "–"
        # German sets the sign apart with a no-break space, English does not.
        sign = "%" if self.locale.language == "en" else "\xa0%"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + sign
        return format_percent(share, format=pattern, locale=self.locale)

    def money(self, amount: float | None, currency: str) -> str:
        """An amount of money in ``currency``."""
        if amount is None:
            return "–"
        return format_currency(amount, currency, locale=self.locale)

    def when(self, moment: datetime | None, style: str = "medium") -> str:
        """An instant in the city's local time."""
        if moment is None:
            return "–"
        return format_datetime(moment.astimezone(self.zone), format=style, locale=self.locale)

    def day(self, moment: datetime | None, style: str = "medium") -> str:
        """The local date of an instant."""
        if moment is None:
            return "–"
        return format_date(moment.astimezone(self.zone).date(), format=style, locale=self.locale)

    def month(self, moment: datetime | None) -> str:
        """The local month and year of an instant ("November 2026", "November 2026" in German too)."""
        if moment is None:
            return "–"
        return format_date(moment.astimezone(self.zone).date(), format="LLLL yyyy", locale=self.locale)

    def clock(self, moment: datetime | None) -> str:
        """The local time of day of an instant."""
        if moment is None:
            return "–"
        return format_time(moment.astimezone(self.zone), format="short", locale=self.locale)


#: A message's id: its text, or (singular, plural) for a message counted with ``ngettext``.
MessageId = str | tuple[str, str]


def extract_messages() -> list[tuple[MessageId, list[str]]]:
    """Every message the templates ask to translate, with where it occurs (``file:line``), sorted."""
    from babel.messages.extract import extract_from_dir

    templates = TRANSLATIONS_DIR.parent / "templates"
    found: dict[MessageId, list[str]] = {}
    method_map = [("**.html", "jinja2.ext:babel_extract")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(templates), method_map=method_map, options_map=options
    ):
        key: MessageId = message if isinstance(message, str) else (str(message[0]), str(message[1]))
        found.setdefault(key, []).append(f"{filename}:{line}")
    return sorted(found.items(), key=lambda item: (item[0] if isinstance(item[0], str) else item[0][0], str(item[0])))


def update_catalogue(language: str) -> tuple[int, int]:
    """Bring ``language``'s ``.po`` file up to the templates: new messages added untranslated, gone ones dropped.

    Returns (messages, untranslated).  Existing translations are kept.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = catalogue_path(language)
    old: dict[MessageId, str | tuple[str, ...]] = {}
    if path.exists():
        with path.open("rb") as source:
            for message in read_po(source, locale=language):
                if message.id:
                    key = message.id if isinstance(message.id, str) else (str(message.id[0]), str(message.id[1]))
                    old[key] = message.string if isinstance(message.string, str) else tuple(message.string or ())
    catalog = Catalog(
        locale=language,
        domain=DOMAIN,
        project="Urbis",
        version="",
        copyright_holder="the Urbis authors",
        msgid_bugs_address="",
        last_translator="the Urbis authors",
        language_team=f"Urbis {LANGUAGES.get(language, language)}",
        charset="utf-8",
        fuzzy=False,
    )
    missing = 0
    for text, places in extract_messages():
        translated = old.get(text, "" if isinstance(text, str) else ("", ""))
        missing += not all(translated) if isinstance(translated, tuple) else not translated
        locations = [(place.rsplit(":", 1)[0], int(place.rsplit(":", 1)[1])) for place in places]
        catalog.add(text, translated, locations=locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as target:
        write_po(target, catalog, width=120, omit_header=False, sort_output=True)
    translations.cache_clear()
    return len(catalog), missing
