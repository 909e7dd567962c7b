"""What proposals, budgets and polls share: checked text, places, money, shares, and the events.

Pure rules: no database, no web, no clock (time is always a parameter).
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeGuard, TypeVar

from urbis.core.errors import BadRequestData

#: Longest title of a proposal, budget project or poll question.
TITLE_LENGTH = 150
#: Longest body of a proposal or description of a budget or project (plain text).
BODY_LENGTH = 4000
#: Longest comment (CONSUL's ``comments_body_max_length``).
COMMENT_LENGTH = 1000
#: Largest amount of money Urbis accepts (a city's yearly budget fits many times).
MONEY_MAXIMUM = Decimal("1000000000000")

_DISTRICT = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# Plain text keeps line breaks and tabs; other control characters only hide things from readers
# (and PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_Name = TypeVar("_Name", bound=enum.StrEnum)


def parse_name(kind: type[_Name], value: str, what: str) -> _Name:
    """A member of ``kind`` from its name; 400 naming the known ones otherwise."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise BadRequestData(f"unknown {what} {value!r:.40}; known: {known}") from None


def check_text(value: object, name: str, maximum: int, *, required: bool = True) -> str:
    """A resident's or staff member's text, trimmed: 1 to ``maximum`` characters of plain text.

    Not ``required``, an empty text is allowed (and given back empty).
    """
    if not isinstance(value, str):
        raise BadRequestData(f"'{name}' must be a string")
    text = value.strip().replace("\r\n", "\n")
    if _CONTROL.search(text):
        raise BadRequestData(f"'{name}' must not contain control characters")
    if required and not text:
        raise BadRequestData(f"'{name}' must not be empty")
    if len(text) > maximum:
        raise BadRequestData(f"'{name}' is at most {maximum} characters, got {len(text)}")
    return text


def check_district(value: object, name: str = "district") -> str:
    """A district (or budget heading) id: 1-64 letters, digits, '_', '.', ':' or '-'."""
    if not isinstance(value, str) or not _DISTRICT.match(value):
        raise BadRequestData(f"'{name}' is 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def is_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` could be the id of a proposal, comment, budget, project or poll (1-64 URL-safe characters).

    Checked before anything reaches the database: PostgreSQL refuses NUL characters with an error.
    """
    return isinstance(value, str) and _ID.match(value) is not None


@dataclass(frozen=True)
class Point:
    """A place in WGS 84 degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        """Refuse places off the globe."""
        for value, low, high, name in ((self.lat, -90.0, 90.0, "lat"), (self.lon, -180.0, 180.0, "lon")):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise BadRequestData(f"'{name}' must be a number")
            if not low <= value <= high:
                raise BadRequestData(f"'{name}' must lie between {low:g} and {high:g}, got {value:g}")


def parse_money(value: object, name: str, *, positive: bool = True) -> Decimal:
    """An amount of money from JSON (a number or a decimal string), exactly, with at most 2 decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequestData(f"'{name}' must be an amount (a number or a decimal string)")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRequestData(f"'{name}' must be an amount, got {str(value)!r:.40}") from None
    if not amount.is_finite():
        raise BadRequestData(f"'{name}' must be a finite amount")
    if abs(amount) >= MONEY_MAXIMUM:
        raise BadRequestData(f"'{name}' must be below {format_money(MONEY_MAXIMUM)}")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):  # type: ignore[operator]
        raise BadRequestData(f"'{name}' has at most 2 decimals")
    if amount < 0 or (positive and amount == 0):
        raise BadRequestData(f"'{name}' must be {'more than' if positive else 'at least'} 0")
    return Decimal(money_text(amount))


def format_money(amount: Decimal) -> str:
    """An amount as people read it: thousands separated, cents only when there are any (1,250,000)."""
    if amount == amount.to_integral_value():
        return f"{amount.quantize(Decimal(1)):,f}"
    return f"{amount.quantize(Decimal('0.01')):,f}"


def money_text(amount: Decimal) -> str:
    """An amount as the APIs carry it: a plain decimal string (no exponent, no separators)."""
    if amount == amount.to_integral_value():
        return f"{amount.quantize(Decimal(1)):f}"
    return f"{amount.quantize(Decimal('0.01')):f}"


def share(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, to one decimal; 0 when there is no whole."""
    if whole <= 0:
        return 0.0
    return round(100.0 * part / whole, 1)


# -- events (published after the change is committed) ------------------------------------------


@dataclass(frozen=True)
class ProposalStateChanged:
    """A proposal reached its threshold, expired or was withdrawn."""

    tenant: str
    proposal_id: str
    state: str


@dataclass(frozen=True)
class ProposalAnswered:
    """Staff published an official answer (``evaluating``, ``accepted`` or ``rejected``)."""

    tenant: str
    proposal_id: str
    answer: str


@dataclass(frozen=True)
class BudgetPhaseChanged:
    """A participatory budget moved to a later phase."""

    tenant: str
    budget_id: str
    phase: str
