"""Command feedback: whether the controller does what it was told.

TALQ separates the commanded level (``targetLightCommand``) from what the controller reports
(``feedbackLightCommand`` / ``actualLightState``).  A controller needs a moment to take a
command over a mesh or a PLC network, so a difference counts as a mismatch only after a grace
period; a report from before the command says nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from urbis.solutions.lighting.const import DEFAULT_FEEDBACK_GRACE, DEFAULT_FEEDBACK_TOLERANCE, FeedbackStatus


@dataclass(frozen=True, slots=True)
class CommandFeedback:
    """The outcome of comparing one command with the controller's latest report."""

    status: FeedbackStatus
    commanded_level: float
    commanded_at: datetime
    reported_level: float | None
    reported_at: datetime | None
    detail: str


def check_command_feedback(
    commanded_level: float,
    commanded_at: datetime,
    *,
    reported_level: float | None,
    reported_at: datetime | None,
    now: datetime,
    grace: timedelta = DEFAULT_FEEDBACK_GRACE,
    tolerance: float = DEFAULT_FEEDBACK_TOLERANCE,
) -> CommandFeedback:
    """Compare a command (level %, sent at ``commanded_at``) with the latest report, at ``now``.

    OK when a report since the command is within ``tolerance`` percentage points; otherwise
    PENDING until ``grace`` after the command, then MISMATCH (a report that differs) or
    NO_FEEDBACK (no report since the command).
    """
    for value, name in ((commanded_at, "commanded_at"), (now, "now"), (reported_at, "reported_at")):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    fresh = reported_at is not None and reported_level is not None and reported_at >= commanded_at
    late = now - commanded_at > grace
    target = f"commanded {commanded_level:g} %"
    if fresh and reported_level is not None:
        difference = abs(reported_level - commanded_level)
        if difference <= tolerance:
            status, detail = FeedbackStatus.OK, f"{target}, reported {reported_level:g} %"
        elif late:
            status, detail = FeedbackStatus.MISMATCH, f"{target}, still reported {reported_level:g} % after {grace}"
        else:
            status, detail = FeedbackStatus.PENDING, f"{target}, reported {reported_level:g} % within the grace period"
    elif late:
        status, detail = FeedbackStatus.NO_FEEDBACK, f"{target}, no report in the {grace} since"
    else:
        status, detail = FeedbackStatus.PENDING, f"{target}, waiting for the controller's report"
    return CommandFeedback(
        status,
        commanded_level,
        commanded_at.astimezone(UTC),
        reported_level if fresh else None,
        reported_at.astimezone(UTC) if fresh and reported_at is not None else None,
        detail,
    )
