"""The cursor that the query-language parsers (``q``, type selection) share."""

from __future__ import annotations

from urbis.core.errors import InvalidRequest

WHITESPACE = " \t\r\n"


class Scanner:
    """A position in a query text, with the helpers every recursive-descent parser needs."""

    #: How errors name the language, e.g. "q" or "type selection".
    language = "query"

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, message: str, pos: int | None = None) -> InvalidRequest:
        """An InvalidRequest pointing at ``pos`` (default: here), quoting the text around it."""
        at = self.pos if pos is None else pos
        near = self.text[max(0, at - 12) : at + 12]
        return InvalidRequest(f"invalid {self.language} at position {at + 1}: {message} (near {near!r})")

    def peek(self) -> str:
        """The next character, or "" at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        """Move past whitespace."""
        while self.pos < len(self.text) and self.text[self.pos] in WHITESPACE:
            self.pos += 1
