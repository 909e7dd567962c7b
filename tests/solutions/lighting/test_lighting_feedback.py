"""Command feedback: commanded against reported level, with a grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.solutions.lighting.const import FeedbackStatus
from urbis.solutions.lighting.feedback import check_command_feedback

SENT = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
GRACE = timedelta(minutes=2)  # the default


@pytest.mark.parametrize(
    ("reported", "reported_after", "now_after", "status"),
    [
        (70.0, 30 * SECOND, 30 * SECOND, FeedbackStatus.OK),
        (70.8, 30 * SECOND, 10 * GRACE, FeedbackStatus.OK),  # within the 1-point tolerance
        (100.0, 30 * SECOND, 60 * SECOND, FeedbackStatus.PENDING),  # still ramping, inside the grace period
        (100.0, 30 * SECOND, GRACE, FeedbackStatus.PENDING),  # exactly at the end of the grace period
        (100.0, 30 * SECOND, GRACE + SECOND, FeedbackStatus.MISMATCH),
        (72.0, 3 * GRACE, 3 * GRACE, FeedbackStatus.MISMATCH),  # 2 points off, late
        (None, None, 60 * SECOND, FeedbackStatus.PENDING),  # nothing heard yet
        (None, None, GRACE + SECOND, FeedbackStatus.NO_FEEDBACK),
    ],
)
def test_feedback_statuses(
    reported: float | None, reported_after: timedelta | None, now_after: timedelta, status: FeedbackStatus
) -> None:
    reported_at = SENT + reported_after if reported_after is not None else None
    result = check_command_feedback(70.0, SENT, reported_level=reported, reported_at=reported_at, now=SENT + now_after)
    assert result.status is status


def test_a_report_from_before_the_command_is_not_feedback() -> None:
    # The controller said 70 % a minute before the command to 70 % was sent: that proves nothing.
    result = check_command_feedback(
        70.0, SENT, reported_level=70.0, reported_at=SENT - 60 * SECOND, now=SENT + GRACE + SECOND
    )
    assert result.status is FeedbackStatus.NO_FEEDBACK
    assert result.reported_level is None and result.reported_at is None


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 1, 15, 21)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        check_command_feedback(70.0, naive, reported_level=None, reported_at=None, now=SENT)
