"""Follows and notifications: residents follow a report, an area or a category and hear of what changes.

Each follow belongs to an account.  A change (a report's new status, a new public report in a
followed area or category, a proposal's new state) becomes an entry in the follower's in-app
feed and, when the follower asked for it and has an e-mail address, a mail in the outbox,
queued in the same transaction as the feed entry.  Whoever caused a change (the staff member
who moved a report, the resident who commented, the sender of a new report) is not told of it.

A resident with an account follows their own report from the start (in the feed only: the report
service mails the sender itself).  The followers of a report merged into another follow the
original from then on.  Participation events are read by class name and attributes, so this
module does not depend on the participation package.
"""

from __future__ import annotations

import enum
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from shapely.geometry import Point
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from urbis.citizens.model import Category, Report, Update, check_position, plain_text
from urbis.citizens.moderation import Moderation
from urbis.citizens.service import REPORT_PAGE, MailQueue, ReportChanged
from urbis.citizens.store import Contact
from urbis.context.query.geo import distance_m
from urbis.core.auth.tables import UTCDateTime
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database, metadata
from urbis.core.errors import BadRequestData, Conflict, NotFound

log = logging.getLogger(__name__)

follows = Table(
    "citizen_follows",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("follow_id", String(32), primary_key=True),
    Column("account", String(150), nullable=False),
    Column("kind", String(16), nullable=False),  # "report" | "area" | "category" | "proposal" | "budget"
    Column("target", String(200), nullable=True),  # report id, service code, proposal id ...
    Column("lat", Float, nullable=True),  # an area's centre
    Column("long", Float, nullable=True),
    Column("radius_m", Float, nullable=True),
    Column("by_mail", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_citizen_follows_account", "tenant", "account"),
    Index("ix_citizen_follows_target", "tenant", "kind", "target"),
)

feed = Table(
    "citizen_feed",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entry_id", String(32), primary_key=True),
    Column("account", String(150), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),  # what the entry is about: "report", "proposal", ...
    Column("item_id", String(64), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("link", String(500), nullable=False),  # a path in the citizen app
    Column("read_at", UTCDateTime(), nullable=True),
    Index("ix_citizen_feed_account", "tenant", "account", "at"),
)


# -- the rules -----------------------------------------------------------------------------------


class FollowKind(enum.StrEnum):
    """What a resident can follow."""

    REPORT = "report"  # one report: its status changes, comments, merging
    AREA = "area"  # new public reports within a circle
    CATEGORY = "category"  # new public reports of one service
    PROPOSAL = "proposal"  # a proposal's state and official answer
    BUDGET = "budget"  # a participatory budget's phases


#: Smallest and largest radius of a followed area, in metres.
MIN_RADIUS_M = 10.0
MAX_RADIUS_M = 5000.0
#: The radius of an area follow that does not name one.
DEFAULT_RADIUS_M = 500.0
#: Most follows one account may hold in a tenant (each new report is checked against every area).
MAX_FOLLOWS = 200
#: Longest target (a report id, a service code, a proposal id, an area's label).
TARGET_LENGTH = 200
#: Most feed entries one page shows.
FEED_PAGE_MAX = 200

#: Paths in the citizen app that feed entries link to.
PROPOSAL_PAGE = "/app/participate/proposals/{proposal_id}"
BUDGET_PAGE = "/app/participate/budgets/{budget_id}"

_ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
#: Report changes its followers hear of; a new public report is told to category and area followers instead.
_REPORT_NEWS = frozenset({"status", "merged", "comment", "linked"})
_TITLE_LENGTH = 300


@dataclass(frozen=True)
class Follow:
    """One thing an account follows."""

    id: str
    tenant: str
    account: str
    kind: FollowKind
    target: str | None
    lat: float | None
    long: float | None
    radius_m: float | None
    by_mail: bool
    created_at: datetime

    def covers(self, lat: float, long: float) -> bool:
        """Whether an area follow's circle holds the point (always False for other kinds)."""
        if self.kind is not FollowKind.AREA or self.lat is None or self.long is None or self.radius_m is None:
            return False
        # A cheap test first: a degree of latitude is about 111 km everywhere.
        if abs(lat - self.lat) * 110_000 > self.radius_m:
            return False
        return distance_m(Point(long, lat), Point(self.long, self.lat)) <= self.radius_m


@dataclass(frozen=True)
class FeedEntry:
    """One notification in a resident's in-app feed."""

    id: str
    account: str
    at: datetime
    kind: str
    item_id: str
    title: str
    body: str
    link: str
    read_at: datetime | None

    @property
    def read(self) -> bool:
        """Whether the resident has marked it read."""
        return self.read_at is not None


@dataclass(frozen=True)
class Feed:
    """A page of a resident's feed, newest first, with how many entries there are and how many are unread."""

    entries: list[FeedEntry]
    total: int
    unread: int


@dataclass(frozen=True)
class Notice:
    """What a change tells its followers: a title, a public note, a link into the citizen app."""

    kind: str
    item_id: str
    title: str
    body: str
    link: str


def parse_follow_kind(value: str) -> FollowKind:
    """A follow kind from its name; a clear error for anything else."""
    try:
        return FollowKind(value)
    except ValueError:
        known = ", ".join(k.value for k in FollowKind)
        raise BadRequestData(f"unknown follow kind {value!r:.40}; known: {known}") from None


def check_area(lat: float | None, long: float | None, radius_m: float | None) -> tuple[float, float, float]:
    """An area's centre and radius (the default radius when none is given)."""
    if lat is None or long is None:
        raise BadRequestData("an area follow needs lat and long (its centre)")
    check_position(lat, long)
    radius = DEFAULT_RADIUS_M if radius_m is None else radius_m
    if not (math.isfinite(radius) and MIN_RADIUS_M <= radius <= MAX_RADIUS_M):
        raise BadRequestData(f"radius is in metres, from {MIN_RADIUS_M:g} to {MAX_RADIUS_M:g} (got {radius:g})")
    return lat, long, radius


def check_item_id(value: str | None, kind: FollowKind) -> str:
    """The id a report, category, proposal or budget follow names."""
    if value is None or not value.strip():
        raise BadRequestData(f"a {kind.value} follow names its target")
    if not _ITEM_ID.fullmatch(value):
        raise BadRequestData(f"{value!r:.80} is not a {kind.value} id")
    return value


def report_notice(report: Report, what: str, update: Update | None) -> Notice:
    """What the followers of a report hear of a change: "Report 1a2b: fixed" and the public note."""
    if what == "merged":
        headline = f"duplicate of report {report.parent_id}"
    elif what == "comment":
        headline = "new comment"
    elif what == "linked":
        headline = "the city is working on it"
    else:
        headline = report.stage.value.replace("-", " ")
    body = update.description if update is not None and update.description else ""
    if not body:
        body = f"The report is now {report.stage.value.replace('-', ' ')}."
    title = f"Report {report.id}: {headline}"
    return Notice("report", report.id, title[:_TITLE_LENGTH], body, REPORT_PAGE.format(report_id=report.id))


def new_report_notice(report: Report) -> Notice:
    """What followers of a category or an area hear of a new public report."""
    where = f" ({report.address})" if report.address else ""
    title = f"New report {report.id}: {report.service_name}{where}"
    return Notice(
        "report",
        report.id,
        title[:_TITLE_LENGTH],
        report.description or report.service_name,
        REPORT_PAGE.format(report_id=report.id),
    )


def participation_notice(event: object) -> tuple[FollowKind, str, Notice] | None:
    """The notice of a participation event, told by its class name (None for any other event).

    Duck-typed on ``tenant`` and ``proposal_id``/``budget_id`` so this module needs no import of
    the participation package.
    """
    name = type(event).__name__
    if name in ("ProposalStateChanged", "ProposalAnswered"):
        proposal_id = str(getattr(event, "proposal_id", ""))
        link = PROPOSAL_PAGE.format(proposal_id=proposal_id)
        if name == "ProposalStateChanged":
            state = str(getattr(event, "state", "")).replace("-", " ")
            title, body = f"Proposal {proposal_id}: {state}", f"The proposal is now {state}."
        else:
            answer = str(getattr(event, "answer", "")).replace("-", " ")
            title, body = f"Proposal {proposal_id}: answered ({answer})", f"The city answered the proposal: {answer}."
        return FollowKind.PROPOSAL, proposal_id, Notice("proposal", proposal_id, title[:_TITLE_LENGTH], body, link)
    if name == "BudgetPhaseChanged":
        budget_id = str(getattr(event, "budget_id", ""))
        phase = str(getattr(event, "phase", "")).replace("-", " ")
        notice = Notice(
            "budget",
            budget_id,
            f"Budget {budget_id}: {phase}"[:_TITLE_LENGTH],
            f"The budget moved to its {phase} phase.",
            BUDGET_PAGE.format(budget_id=budget_id),
        )
        return FollowKind.BUDGET, budget_id, notice
    return None


# -- the service ---------------------------------------------------------------------------------


class ReportSource(Protocol):
    """What the notifier reads of reports (``urbis.citizens.service.ReportService``)."""

    def get(self, tenant: str, report_id: str) -> Report:
        """One report whatever its visibility; NotFound if absent."""
        ...

    def history(self, tenant: str, report_id: str, *, public: bool = True) -> list[Update]:
        """A report's history, oldest first."""
        ...

    def contact(self, tenant: str, report_id: str) -> Contact | None:
        """Who sent a report."""
        ...

    def category(self, tenant: str, code: str) -> Category:
        """One category; NotFound if there is none."""
        ...


#: Finds an account's e-mail address (None: no address, or no such account).
EmailOf = Callable[[str], str | None]


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _follow(row: Row[Any]) -> Follow:
    return Follow(
        id=row.follow_id,
        tenant=row.tenant,
        account=row.account,
        kind=FollowKind(row.kind),
        target=row.target,
        lat=row.lat,
        long=row.long,
        radius_m=row.radius_m,
        by_mail=row.by_mail,
        created_at=row.created_at,
    )


def _entry(row: Row[Any]) -> FeedEntry:
    return FeedEntry(
        id=row.entry_id,
        account=row.account,
        at=row.at,
        kind=row.kind,
        item_id=row.item_id,
        title=row.title,
        body=row.body,
        link=row.link,
        read_at=row.read_at,
    )


class Notifier:
    """Follows, the in-app feed, and the notifications that fill it (and the outbox)."""

    def __init__(
        self,
        db: Database,
        *,
        reports: ReportSource,
        email_of: EmailOf,
        mailer: MailQueue | None,
        base_url: str,
        clock: Clock | None = None,
    ) -> None:
        """``email_of`` looks up an account's address (kept a callable so this module needs no web or auth code)."""
        self.db = db
        self.reports = reports
        self.email_of = email_of
        self.mailer = mailer
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()

    # -- follows ---------------------------------------------------------------------------

    def follow(
        self,
        tenant: str,
        account: str,
        kind: FollowKind | str,
        *,
        target: str | None = None,
        lat: float | None = None,
        long: float | None = None,
        radius_m: float | None = None,
        by_mail: bool = False,
    ) -> tuple[Follow, bool]:
        """Follow something; the follow and whether it is new (following the same thing again changes ``by_mail`` only).

        A report must be one the account may see (public, or its own); a category must exist.
        """
        kind = kind if isinstance(kind, FollowKind) else parse_follow_kind(kind)
        if kind is FollowKind.AREA:
            lat, long, radius_m = check_area(lat, long, radius_m)
            target = None if target is None or not target.strip() else plain_text(target, TARGET_LENGTH, "label")
        else:
            if lat is not None or long is not None or radius_m is not None:
                raise BadRequestData(f"lat, long and radius belong to area follows, not to a {kind.value} follow")
            target = check_item_id(target, kind)
            self._check_target(tenant, account, kind, target)
        with self.db.write() as conn:
            existing = self._same(conn, tenant, account, kind, target, lat, long, radius_m)
            if existing is not None:
                if existing.by_mail != by_mail:
                    conn.execute(
                        update(follows)
                        .where(follows.c.tenant == tenant, follows.c.follow_id == existing.id)
                        .values(by_mail=by_mail)
                    )
                    existing = replace(existing, by_mail=by_mail)
                return existing, False
            count = conn.execute(
                select(func.count()).where(follows.c.tenant == tenant, follows.c.account == account)
            ).scalar_one()
            if int(count) >= MAX_FOLLOWS:
                raise Conflict(f"an account follows at most {MAX_FOLLOWS} things; stop following something first")
            created = Follow(_new_id(), tenant, account, kind, target, lat, long, radius_m, by_mail, self.clock.now())
            self._insert(conn, created)
        return created, True

    def _check_target(self, tenant: str, account: str, kind: FollowKind, target: str) -> None:
        if kind is FollowKind.REPORT:
            report = self.reports.get(tenant, target)
            if not report.public:
                contact = self.reports.contact(tenant, target)
                if contact is None or contact.account != account:
                    raise NotFound(f"there is no public report {target!r:.80}")
        elif kind is FollowKind.CATEGORY:
            self.reports.category(tenant, target)
        # Proposals and budgets live in the participation package, which this module does not import.

    def _same(
        self,
        conn: Connection,
        tenant: str,
        account: str,
        kind: FollowKind,
        target: str | None,
        lat: float | None,
        long: float | None,
        radius_m: float | None,
    ) -> Follow | None:
        query = select(follows).where(
            follows.c.tenant == tenant, follows.c.account == account, follows.c.kind == kind.value
        )
        for row in conn.execute(query):
            found = _follow(row)
            if kind is FollowKind.AREA:
                if (found.lat, found.long, found.radius_m) == (lat, long, radius_m):
                    return found
            elif found.target == target:
                return found
        return None

    @staticmethod
    def _insert(conn: Connection, follow: Follow) -> None:
        conn.execute(
            insert(follows).values(
                tenant=follow.tenant,
                follow_id=follow.id,
                account=follow.account,
                kind=follow.kind.value,
                target=follow.target,
                lat=follow.lat,
                long=follow.long,
                radius_m=follow.radius_m,
                by_mail=follow.by_mail,
                created_at=follow.created_at,
            )
        )

    def unfollow(self, tenant: str, account: str, follow_id: str) -> None:
        """Stop following; NotFound unless the follow is the account's own."""
        with self.db.write() as conn:
            gone = conn.execute(
                delete(follows).where(
                    follows.c.tenant == tenant, follows.c.account == account, follows.c.follow_id == follow_id
                )
            )
        if not gone.rowcount:
            raise NotFound(f"you have no follow {follow_id!r:.80}")

    def follows_of(self, tenant: str, account: str) -> list[Follow]:
        """What an account follows, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(follows)
                .where(follows.c.tenant == tenant, follows.c.account == account)
                .order_by(follows.c.created_at.desc(), follows.c.follow_id)
            ).all()
        return [_follow(row) for row in rows]

    # -- the feed --------------------------------------------------------------------------

    def feed_of(self, tenant: str, account: str, *, limit: int = 50, offset: int = 0) -> Feed:
        """A page of an account's feed, newest first."""
        if not 1 <= limit <= FEED_PAGE_MAX or offset < 0:
            raise BadRequestData(f"limit is 1 to {FEED_PAGE_MAX}, offset 0 or more")
        mine = and_(feed.c.tenant == tenant, feed.c.account == account)
        with self.db.read() as conn:
            rows = conn.execute(
                select(feed).where(mine).order_by(feed.c.at.desc(), feed.c.entry_id).limit(limit).offset(offset)
            ).all()
            total = conn.execute(select(func.count()).where(mine)).scalar_one()
            unread = conn.execute(select(func.count()).where(mine, feed.c.read_at.is_(None))).scalar_one()
        return Feed([_entry(row) for row in rows], int(total), int(unread))

    def mark_read(self, tenant: str, account: str, ids: Sequence[str] | None = None) -> int:
        """Mark entries read (all of the account's when ``ids`` is None); how many were unread."""
        condition = and_(feed.c.tenant == tenant, feed.c.account == account, feed.c.read_at.is_(None))
        if ids is not None:
            if not ids:
                return 0
            condition = and_(condition, feed.c.entry_id.in_(list(ids)))
        with self.db.write() as conn:
            result = conn.execute(update(feed).where(condition).values(read_at=self.clock.now()))
        return int(result.rowcount)

    def erase(self, tenant: str, account: str) -> tuple[int, int]:
        """Forget an account's follows and feed (the resident deletes their data); how many of each."""
        with self.db.write() as conn:
            gone_follows = conn.execute(delete(follows).where(follows.c.tenant == tenant, follows.c.account == account))
            gone_entries = conn.execute(delete(feed).where(feed.c.tenant == tenant, feed.c.account == account))
        return int(gone_follows.rowcount), int(gone_entries.rowcount)

    # -- notifying -------------------------------------------------------------------------

    def on_report_changed(self, event: ReportChanged) -> None:
        """Tell the followers of a report, its category and its area what happened (a bus handler)."""
        if event.what in _REPORT_NEWS:
            if event.public:
                self._report_news(event)
        elif event.what in ("submitted", "confirmed"):
            self._new_report(event)
        elif event.what == "moderated" and event.public:
            # A moderator let a held report through (citizen_moderation_default "unmoderated"): it is new to the
            # public now, but news only to followers who have not heard of it (it may have been public before).
            self._new_report(event, only_unheard=True)

    def _report_news(self, event: ReportChanged) -> None:
        report = self.reports.get(event.tenant, event.report_id)
        update = self._update_of(event)
        if update is not None and update.moderation is not Moderation.PUBLIC:
            return  # a comment waiting for a moderator is not news yet
        wanted = and_(
            follows.c.tenant == event.tenant,
            follows.c.kind == FollowKind.REPORT.value,
            follows.c.target == report.id,
        )
        with self.db.read() as conn:
            followers = [_follow(row) for row in conn.execute(select(follows).where(wanted))]
        cause = None if update is None else update.by
        self._deliver(event.tenant, followers, report_notice(report, event.what, update), cause)
        if event.what == "merged" and report.parent_id is not None:
            self._carry_over(event.tenant, followers, report.parent_id)

    def _update_of(self, event: ReportChanged) -> Update | None:
        """The history entry a change wrote: the one named, else (reroute, links) the newest."""
        entries = self.reports.history(event.tenant, event.report_id, public=False)
        if event.update_id is not None:
            return next((e for e in entries if e.id == event.update_id), None)
        return entries[-1] if entries else None

    def _carry_over(self, tenant: str, followers: Sequence[Follow], original_id: str) -> None:
        """Followers of a duplicate follow the original from now on (updates go there)."""
        with self.db.write() as conn:
            already = {
                row.account
                for row in conn.execute(
                    select(follows.c.account).where(
                        follows.c.tenant == tenant,
                        follows.c.kind == FollowKind.REPORT.value,
                        follows.c.target == original_id,
                    )
                )
            }
            now = self.clock.now()
            for follower in followers:
                if follower.account not in already:
                    already.add(follower.account)
                    self._insert(conn, replace(follower, id=_new_id(), target=original_id, created_at=now))

    def _new_report(self, event: ReportChanged, *, only_unheard: bool = False) -> None:
        contact = self.reports.contact(event.tenant, event.report_id)
        sender = None if contact is None else contact.account
        if event.what == "submitted" and sender is not None:
            self._follow_own(event.tenant, sender, event.report_id)
        if not event.public:
            return
        report = self.reports.get(event.tenant, event.report_id)
        with self.db.read() as conn:
            candidates = [
                _follow(row)
                for row in conn.execute(
                    select(follows).where(
                        follows.c.tenant == event.tenant,
                        or_(
                            and_(
                                follows.c.kind == FollowKind.CATEGORY.value,
                                follows.c.target == report.service_code,
                            ),
                            follows.c.kind == FollowKind.AREA.value,
                        ),
                    )
                )
            ]
            heard: set[str] = set()
            if only_unheard:
                heard = {
                    row.account
                    for row in conn.execute(
                        select(feed.c.account).where(
                            feed.c.tenant == event.tenant, feed.c.kind == "report", feed.c.item_id == report.id
                        )
                    )
                }
        followers = [
            f
            for f in candidates
            if f.account not in heard
            and (
                f.kind is FollowKind.CATEGORY
                or (report.lat is not None and report.long is not None and f.covers(report.lat, report.long))
            )
        ]
        self._deliver(event.tenant, followers, new_report_notice(report), sender)

    def _follow_own(self, tenant: str, account: str, report_id: str) -> None:
        """A resident follows their own report, in the feed only (the report service mails them itself)."""
        with self.db.write() as conn:
            if self._same(conn, tenant, account, FollowKind.REPORT, report_id, None, None, None) is None:
                own = Follow(
                    _new_id(), tenant, account, FollowKind.REPORT, report_id, None, None, None, False, self.clock.now()
                )
                self._insert(conn, own)

    def on_participation_event(self, event: object) -> None:
        """Tell the followers of a proposal or budget what happened (a bus handler for participation events)."""
        found = participation_notice(event)
        tenant = getattr(event, "tenant", None)
        if found is None or not isinstance(tenant, str):
            return
        kind, target, notice = found
        with self.db.read() as conn:
            followers = [
                _follow(row)
                for row in conn.execute(
                    select(follows).where(
                        follows.c.tenant == tenant, follows.c.kind == kind.value, follows.c.target == target
                    )
                )
            ]
        self._deliver(tenant, followers, notice, None)

    def _deliver(self, tenant: str, followers: Iterable[Follow], notice: Notice, cause: str | None) -> int:
        """One feed entry per follower (never the one who caused the change) and a mail to those who asked; how many."""
        by_mail: dict[str, bool] = {}
        for follower in followers:
            if follower.account != cause:
                by_mail[follower.account] = by_mail.get(follower.account, False) or follower.by_mail
        if not by_mail:
            return 0
        # Addresses are looked up before the transaction: the accounts live elsewhere.
        addresses = {account: self.email_of(account) for account, wanted in by_mail.items() if wanted}
        now = self.clock.now()
        link = self.base_url + notice.link
        text = f"{notice.title}\n\n{notice.body}\n\n{link}\n\nYou get this mail because you follow this in Urbis.\n"
        with self.db.write() as conn:
            conn.execute(
                insert(feed),
                [
                    {
                        "tenant": tenant,
                        "entry_id": _new_id(),
                        "account": account,
                        "at": now,
                        "kind": notice.kind,
                        "item_id": notice.item_id,
                        "title": notice.title,
                        "body": notice.body,
                        "link": notice.link,
                        "read_at": None,
                    }
                    for account in sorted(by_mail)
                ],
            )
            if self.mailer is not None:
                for account, address in sorted(addresses.items()):
                    if address:
                        try:
                            self.mailer.queue(conn, tenant, address, notice.title, text)
                        except BadRequestData:  # an address the outbox refuses: the feed entry still counts
                            log.warning("account %s of %s has an unusable e-mail address", account, tenant)
        return len(by_mail)


class AccountLookup(Protocol):
    """Finds a user (``urbis.core.auth.service.AccountService``)."""

    def get_user(self, username: str, *, tenant: str | None = None) -> Any:
        """The user, with ``email``; NotFound when there is none."""
        ...


def account_emails(accounts: AccountLookup) -> EmailOf:
    """An :data:`EmailOf` over the accounts: a user's address, None for no address or no such user."""

    def email_of(username: str) -> str | None:
        try:
            email = accounts.get_user(username).email
        except NotFound:
            return None
        return email if isinstance(email, str) and email else None

    return email_of


def follow_json(follow: Follow) -> dict[str, Any]:
    """A follow as the API shows it."""
    return {
        "id": follow.id,
        "kind": follow.kind.value,
        "target": follow.target,
        "lat": follow.lat,
        "long": follow.long,
        "radius": follow.radius_m,
        "byMail": follow.by_mail,
        "createdAt": follow.created_at,
    }


def entry_json(entry: FeedEntry) -> dict[str, Any]:
    """A feed entry as the API shows it."""
    return {
        "id": entry.id,
        "at": entry.at,
        "kind": entry.kind,
        "itemId": entry.item_id,
        "title": entry.title,
        "body": entry.body,
        "link": entry.link,
        "read": entry.read,
        "readAt": entry.read_at,
    }
