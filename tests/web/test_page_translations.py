"""Every page in English and German: the German catalogue covers every message of the templates."""

from __future__ import annotations

import re
from typing import Any

from babel.messages.pofile import read_po

from urbis.web.ui.i18n import LANGUAGES, Formats, catalogue_path, extract_messages, pick_language

PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")


def german() -> dict[Any, Any]:
    """msgid → msgstr; a counted message is (singular, plural) → (one, many)."""
    with catalogue_path("de").open("rb") as source:
        catalog = read_po(source, locale="de")
    assert not any(message.fuzzy for message in catalog if message.id), "fuzzy translations are not used"
    return {
        message.id if isinstance(message.id, str) else tuple(message.id): message.string
        if isinstance(message.string, str)
        else tuple(message.string)
        for message in catalog
        if message.id
    }


def test_every_template_message_has_a_german_translation() -> None:
    messages = [text for text, _ in extract_messages()]
    assert len(messages) > 50  # the extraction found the templates
    translated = german()
    missing = [text for text in messages if not translated.get(text) or not all(translated[text])]
    assert not missing, f"untranslated: {missing[:10]}"
    stale = sorted(set(translated) - set(messages), key=str)
    assert not stale, f"in the catalogue but no longer in a template: {stale[:10]}"
    # A counted message has both its forms in German.
    assert all(len(translated[text]) == 2 for text in messages if isinstance(text, tuple))


def test_translations_keep_every_placeholder() -> None:
    for source, target in german().items():
        pairs = zip(source, target, strict=True) if isinstance(source, tuple) else [(source, target)]
        for english, german_text in pairs:
            assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(german_text)), english


def test_counted_messages_are_german_in_the_running_pages() -> None:
    from urbis.web.ui.i18n import translations

    catalogue = translations("de")
    one = catalogue.ngettext("%(num)s comment", "%(num)s comments", 1)
    many = catalogue.ngettext("%(num)s comment", "%(num)s comments", 5)
    assert (one, many) == ("%(num)s Kommentar", "%(num)s Kommentare")


def test_the_offered_languages_and_the_negotiation() -> None:
    assert list(LANGUAGES) == ["en", "de"]
    assert pick_language("de", "en") == "de"
    assert pick_language("xx", "de-CH;q=0.8, en;q=0.9") == "en"
    assert pick_language(None, "de-CH;q=0.9, en;q=0.8") == "de"
    assert pick_language(None, "fr, es;q=0.5") == "en"
    assert pick_language(None, "de;q=0") == "en"


def test_numbers_and_times_follow_the_language() -> None:
    from datetime import UTC, datetime

    english, german_formats = Formats("en", "Europe/Berlin"), Formats("de", "Europe/Berlin")
    assert english.number(12345.678, 1) == "12,345.7" and german_formats.number(12345.678, 1) == "12.345,7"
    assert english.percent(0.756, 1) == "75.6%" and german_formats.percent(0.756, 1) == "75,6\xa0%"
    assert german_formats.money(12.5, "EUR") == "12,50\xa0€"
    # 23:30 UTC on 24 November is 00:30 on the 25th in Berlin.
    assert german_formats.day(datetime(2026, 11, 24, 23, 30, tzinfo=UTC), "short") == "25.11.26"
    assert english.number(None) == "–"
