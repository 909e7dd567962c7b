"""A resident's own data: everything Urbis keeps about them, to download, and to erase.

One place gathers it from every store that holds personal data — the account, the reports' sender
details and comments, participation (proposals, comments, supports, ballots, votes), follows and
the feed — so the JSON API and the citizen app offer the same download and the same erasure.

Erasing keeps what belongs to the city: reports stay (without their sender), supports, ballots
and votes still count (under a pseudonym, so one person still votes once). Follows and the feed
go. The login itself stays: deleting it is the account's own step.
"""

from __future__ import annotations

from typing import Any

from urbis.citizens.notify import FEED_PAGE_MAX, FeedEntry, Notifier, entry_json, follow_json
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.service import ReportService
from urbis.core.auth.service import AccountService
from urbis.core.errors import NotFound


class ResidentData:
    """Download and erasure of one resident's data in one city."""

    def __init__(
        self,
        accounts: AccountService,
        reports: ReportService,
        participation: ParticipationService,
        notifier: Notifier,
    ) -> None:
        """The stores that hold personal data."""
        self.accounts = accounts
        self.reports = reports
        self.participation = participation
        self.notifier = notifier

    def export(self, tenant: str, account: str) -> dict[str, Any]:
        """Everything kept about ``account`` in ``tenant``, as one JSON-ready document."""
        try:
            user = self.accounts.get_user(account)
            who: dict[str, Any] = {"username": user.username, "email": user.email, "fullName": user.full_name}
        except NotFound:  # a token whose user is gone
            who = {"username": account, "email": None, "fullName": None}
        entries: list[FeedEntry] = []
        while True:
            page = self.notifier.feed_of(tenant, account, limit=FEED_PAGE_MAX, offset=len(entries))
            entries.extend(page.entries)
            if not page.entries or len(entries) >= page.total:
                break
        return {
            "tenant": tenant,
            "account": who,
            "reports": self.reports.personal_data(tenant, account)["reports"],
            "participation": self.participation.personal_data(tenant, account),
            "follows": [follow_json(f) for f in self.notifier.follows_of(tenant, account)],
            "feed": [entry_json(e) for e in entries],
        }

    def erase(self, tenant: str, account: str) -> None:
        """Forget ``account`` in ``tenant``: sender details, authorship, who supported and voted, follows, feed."""
        self.reports.erase_personal_data(tenant, account)
        self.participation.erase_personal_data(tenant, account)
        self.notifier.erase(tenant, account)
