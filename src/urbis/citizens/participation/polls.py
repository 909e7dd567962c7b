"""Simple polls: a question, 2 to 20 options, one choice or up to N, an opening window.

Each person votes once.  Results (counts and the share of voters who chose each option) are
public either live or only after the poll closes, as staff decide when they make the poll;
staff may close a poll early.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from urbis.citizens.participation.model import check_text, parse_name, share
from urbis.core.errors import BadRequestData, Conflict

QUESTION_LENGTH = 300
OPTION_LENGTH = 200
OPTIONS_MINIMUM = 2
OPTIONS_MAXIMUM = 20


class ResultsVisibility(enum.StrEnum):
    """When the public sees a poll's results."""

    LIVE = "live"
    AFTER_CLOSE = "after_close"


class PollStatus(enum.StrEnum):
    """Where a poll stands at a moment."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


def parse_visibility(value: str) -> ResultsVisibility:
    """A results visibility from its name; 400 naming the known ones otherwise."""
    return parse_name(ResultsVisibility, value, "results visibility")


def parse_status(value: str) -> PollStatus:
    """A poll status from its name; 400 naming the known ones otherwise."""
    return parse_name(PollStatus, value, "poll status")


@dataclass(frozen=True)
class PollDraft:
    """What staff write about a poll, checked."""

    question: str
    options: tuple[str, ...]
    max_choices: int
    opens_at: datetime
    closes_at: datetime
    visibility: ResultsVisibility


def check_poll(
    question: object,
    options: object,
    *,
    max_choices: object,
    opens_at: datetime,
    closes_at: datetime,
    visibility: ResultsVisibility,
    now: datetime,
) -> PollDraft:
    """A poll checked: 2-20 distinct options, 1 to all of them to choose, closing after it opens and after now."""
    if not isinstance(options, list) or not OPTIONS_MINIMUM <= len(options) <= OPTIONS_MAXIMUM:
        raise BadRequestData(f"'options' is a list of {OPTIONS_MINIMUM} to {OPTIONS_MAXIMUM} texts")
    texts = tuple(check_text(option, "options", OPTION_LENGTH) for option in options)
    if len({text.casefold() for text in texts}) != len(texts):
        raise BadRequestData("each option appears once")
    if isinstance(max_choices, bool) or not isinstance(max_choices, int) or not 1 <= max_choices <= len(texts):
        raise BadRequestData(f"'maxChoices' must be a whole number from 1 to {len(texts)} (the number of options)")
    if closes_at <= opens_at:
        raise BadRequestData("'closesAt' must come after 'opensAt'")
    if closes_at <= now:
        raise BadRequestData("'closesAt' must lie in the future")
    return PollDraft(
        check_text(question, "question", QUESTION_LENGTH), texts, max_choices, opens_at, closes_at, visibility
    )


@dataclass(frozen=True)
class Poll:
    """A poll as stored (``created_by`` is for staff only)."""

    id: str
    question: str
    options: tuple[str, ...]
    max_choices: int
    opens_at: datetime
    closes_at: datetime
    visibility: ResultsVisibility
    created_at: datetime
    created_by: str
    closed_at: datetime | None = None  # when staff closed it early

    @property
    def ends_at(self) -> datetime:
        """When voting ends: the planned close, or earlier when staff closed it."""
        return self.closes_at if self.closed_at is None else min(self.closes_at, self.closed_at)

    def status_at(self, now: datetime) -> PollStatus:
        """Upcoming before it opens, open until it ends, closed from then on."""
        if now >= self.ends_at:
            return PollStatus.CLOSED
        if now < self.opens_at:
            return PollStatus.UPCOMING
        return PollStatus.OPEN

    def results_visible(self, now: datetime, *, staff: bool = False) -> bool:
        """Whether a reader may see the results now (staff always may)."""
        return staff or self.visibility is ResultsVisibility.LIVE or self.status_at(now) is PollStatus.CLOSED


def check_close(poll: Poll, now: datetime) -> None:
    """Only a poll that has not ended yet can be closed."""
    if poll.status_at(now) is PollStatus.CLOSED:
        raise Conflict("this poll is already closed")


def _options(count: int) -> str:
    return "one option" if count == 1 else f"at most {count} options"


def check_vote(poll: Poll, choices: object, now: datetime) -> tuple[int, ...]:
    """The chosen option numbers (0-based), sorted; refused outside the window or beyond ``max_choices``."""
    status = poll.status_at(now)
    if status is PollStatus.UPCOMING:
        raise Conflict("this poll has not opened yet")
    if status is PollStatus.CLOSED:
        raise Conflict("this poll is closed")
    if not isinstance(choices, list) or not choices:
        raise BadRequestData("'choices' is a list of option numbers (0 for the first option)")
    for choice in choices:
        if isinstance(choice, bool) or not isinstance(choice, int) or not 0 <= choice < len(poll.options):
            raise BadRequestData(f"each choice is an option number from 0 to {len(poll.options) - 1}")
    if len(set(choices)) != len(choices):
        raise BadRequestData("each option is chosen at most once")
    if len(choices) > poll.max_choices:
        raise BadRequestData(f"choose {_options(poll.max_choices)}; {len(choices)} chosen")
    return tuple(sorted(choices))


@dataclass(frozen=True)
class OptionResult:
    """One option's votes and the share of voters who chose it."""

    index: int
    text: str
    votes: int
    percent: float


@dataclass(frozen=True)
class PollResults:
    """A poll's results; with several choices the shares add up to more than 100."""

    voters: int
    options: tuple[OptionResult, ...]


def tally(poll: Poll, counts: Mapping[int, int], voters: int) -> PollResults:
    """The results from the votes per option number and the number of voters."""
    return PollResults(
        voters,
        tuple(
            OptionResult(index, text, counts.get(index, 0), share(counts.get(index, 0), voters))
            for index, text in enumerate(poll.options)
        ),
    )


def option_texts(poll: Poll, choices: Sequence[int]) -> tuple[str, ...]:
    """The texts of the chosen options."""
    return tuple(poll.options[index] for index in choices)
