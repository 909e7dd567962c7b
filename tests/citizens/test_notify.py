"""Follows and notifications on both databases, inside a whole app: reports, areas, categories, participation, erasing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from conftest import make_settings
from urbis.app import create_app
from urbis.citizens.mail import outbox
from urbis.citizens.model import Stage
from urbis.citizens.moderation import Moderation
from urbis.citizens.notify import FollowKind, Notifier
from urbis.citizens.service import ReportService, Submission
from urbis.core.errors import BadRequestData, NotFound

PASSWORD = "correct horse battery staple 42"
#: Where the lamp report of these tests is (on Hauptstraße in the builders' small city).
LAMP_LAT, LAMP_LONG = 50.7355, 7.1010


def wire_notifier(app: FastAPI) -> Notifier:
    """The app's notifier (create_app builds it and subscribes it to the bus)."""
    notifier: Notifier = app.state.notifier
    return notifier


def resident(app: FastAPI, name: str, email: str | None = None, role: str = "citizen") -> str:
    """A real account (so it has an e-mail address); its username."""
    tenant = app.state.settings.default_tenant
    app.state.accounts.create_user(f"{name}-{tenant}", PASSWORD, tenant=tenant, roles=[role], email=email)
    return f"{name}-{tenant}"


def lamp_report(**changes: Any) -> Submission:
    values: dict[str, Any] = {
        "service_code": "streetlight",
        "description": "The lamp outside number 12 is dark every night.",
        "lat": LAMP_LAT,
        "long": LAMP_LONG,
        "answers": {"fault": ["dark"]},
        "trusted": True,
    }
    values.update(changes)
    return Submission(**values)


def mails_to(app: FastAPI, tenant: str, address: str) -> list[Any]:
    with app.state.db.read() as conn:
        query = select(outbox).where(outbox.c.tenant == tenant, outbox.c.recipient == address)
        return list(conn.execute(query).all())


@pytest.fixture
def notifier(app: FastAPI) -> Notifier:
    return wire_notifier(app)


@pytest.fixture
def reports(app: FastAPI) -> ReportService:
    service: ReportService = app.state.citizen_reports
    return service


def test_report_followers_hear_of_a_new_stage_in_the_feed_and_by_mail_but_not_the_staff_member_who_set_it(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    fay = resident(app, "fay", "fay@example.org")
    quiet = resident(app, "quiet", "quiet@example.org")
    sam = resident(app, "sam", "sam@example.org", role="operator")
    report = reports.submit(tenant, lamp_report()).report
    notifier.follow(tenant, fay, "report", target=report.id, by_mail=True)
    notifier.follow(tenant, quiet, "report", target=report.id)  # feed only
    notifier.follow(tenant, sam, "report", target=report.id, by_mail=True)

    reports.set_stage(tenant, report.id, Stage.IN_PROGRESS, "A crew comes on Monday.", by=sam)

    (entry,) = notifier.feed_of(tenant, fay).entries
    assert entry.title == f"Report {report.id}: in progress"
    assert entry.body == "A crew comes on Monday."
    assert entry.link == f"/app/reports/{report.id}"
    assert (entry.kind, entry.item_id, entry.read) == ("report", report.id, False)
    (mail,) = mails_to(app, tenant, "fay@example.org")
    assert mail.subject == f"Report {report.id}: in progress"
    assert "A crew comes on Monday." in mail.body
    assert f"/app/reports/{report.id}" in mail.body
    assert len(notifier.feed_of(tenant, quiet).entries) == 1
    assert mails_to(app, tenant, "quiet@example.org") == []
    assert notifier.feed_of(tenant, sam).entries == []
    assert mails_to(app, tenant, "sam@example.org") == []


def test_an_area_follow_hears_of_new_public_reports_inside_its_circle_only(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    near = resident(app, "near")
    far = resident(app, "far")
    edge = resident(app, "edge")
    # 0.0005° of latitude north of the lamp is about 55.6 m away; 0.0045° is about 500 m.
    notifier.follow(tenant, near, "area", lat=LAMP_LAT + 0.0005, long=LAMP_LONG, radius_m=100)
    notifier.follow(tenant, edge, "area", lat=LAMP_LAT + 0.0005, long=LAMP_LONG, radius_m=50)
    notifier.follow(tenant, far, "area", lat=LAMP_LAT + 0.0045, long=LAMP_LONG, radius_m=300)

    report = reports.submit(tenant, lamp_report()).report

    (entry,) = notifier.feed_of(tenant, near).entries
    assert entry.item_id == report.id
    assert entry.title.startswith(f"New report {report.id}: Street light not working")
    assert notifier.feed_of(tenant, edge).entries == []
    assert notifier.feed_of(tenant, far).entries == []


def test_a_category_follow_hears_of_new_reports_of_that_category_once_they_are_public(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    cleaner = resident(app, "cleaner", "cleaner@example.org")
    notifier.follow(tenant, cleaner, "category", target="litter", by_mail=True)
    reports.submit(tenant, lamp_report())  # another category
    assert notifier.feed_of(tenant, cleaner).total == 0

    waiting = reports.submit(
        tenant,
        Submission(service_code="litter", description="Bags of rubbish", lat=50.72, long=7.10, email="x@example.org"),
    )
    assert waiting.awaiting_confirmation
    assert notifier.feed_of(tenant, cleaner).total == 0  # not public yet

    code = next(
        line.rsplit("code=", 1)[1]
        for line in mails_to(app, tenant, "x@example.org")[0].body.splitlines()
        if "code=" in line
    )
    reports.confirm(tenant, waiting.report.id, code)
    (entry,) = notifier.feed_of(tenant, cleaner).entries
    assert entry.item_id == waiting.report.id
    assert entry.body == "Bags of rubbish"
    assert [m.subject for m in mails_to(app, tenant, "cleaner@example.org")] == [entry.title]


def test_a_report_held_for_moderation_is_news_once_a_moderator_lets_it_through_and_only_once(
    db_url: str, tenant: str
) -> None:
    app = create_app(make_settings(db_url, tenant, citizen_moderation_default="unmoderated"))
    notifier = wire_notifier(app)
    reports: ReportService = app.state.citizen_reports
    cleaner = resident(app, "cleaner")
    notifier.follow(tenant, cleaner, "category", target="streetlight")
    report = reports.submit(tenant, lamp_report()).report
    assert not report.public
    assert notifier.feed_of(tenant, cleaner).total == 0

    reports.moderate(tenant, report.id, Moderation.PUBLIC, "fine", by="staff-bob")
    assert [e.item_id for e in notifier.feed_of(tenant, cleaner).entries] == [report.id]
    reports.moderate(tenant, report.id, Moderation.HIDDEN, "a face in the photo", by="staff-bob")
    reports.moderate(tenant, report.id, Moderation.PUBLIC, "face blurred", by="staff-bob")
    assert notifier.feed_of(tenant, cleaner).total == 1  # heard of it already


def test_a_resident_follows_their_own_report_and_is_not_told_of_it_as_news(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    ann = resident(app, "ann", "ann@example.org")
    notifier.follow(tenant, ann, "category", target="streetlight", by_mail=True)
    report = reports.submit(tenant, lamp_report(account=ann)).report

    follows = notifier.follows_of(tenant, ann)
    own = [f for f in follows if f.kind is FollowKind.REPORT]
    assert [(f.target, f.by_mail) for f in own] == [(report.id, False)]
    assert notifier.feed_of(tenant, ann).total == 0  # her own report is no news to her

    reports.set_stage(tenant, report.id, Stage.FIXED, "New lamp fitted.", by="staff-bob")
    (entry,) = notifier.feed_of(tenant, ann).entries
    assert entry.title == f"Report {report.id}: fixed"
    # The report service mails the sender itself; the follow is feed-only so she gets no second mail.
    assert mails_to(app, tenant, "ann@example.org") == []


def test_comments_reach_the_followers_but_not_their_writer(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    fay = resident(app, "fay")
    gus = resident(app, "gus")
    report = reports.submit(tenant, lamp_report()).report
    notifier.follow(tenant, fay, "report", target=report.id)
    notifier.follow(tenant, gus, "report", target=report.id)

    reports.comment(tenant, report.id, "Still dark tonight.", by=gus)

    (entry,) = notifier.feed_of(tenant, fay).entries
    assert (entry.title, entry.body) == (f"Report {report.id}: new comment", "Still dark tonight.")
    assert notifier.feed_of(tenant, gus).total == 0


def test_followers_of_a_duplicate_are_told_and_follow_the_original_from_then_on(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    fay = resident(app, "fay")
    original = reports.submit(tenant, lamp_report()).report
    duplicate = reports.submit(tenant, lamp_report(description="Lamp 12 is out")).report
    notifier.follow(tenant, fay, "report", target=duplicate.id)

    reports.merge(tenant, duplicate.id, original.id, by="staff-bob")

    (entry,) = notifier.feed_of(tenant, fay).entries
    assert entry.title == f"Report {duplicate.id}: duplicate of report {original.id}"
    targets = sorted(f.target or "" for f in notifier.follows_of(tenant, fay))
    assert targets == sorted([duplicate.id, original.id])
    reports.set_stage(tenant, original.id, Stage.FIXED, "Done.", by="staff-bob")
    assert notifier.feed_of(tenant, fay).entries[0].title == f"Report {original.id}: fixed"


@dataclass(frozen=True)
class ProposalAnswered:
    """Shaped like the participation package's event (the notifier reads it by name and attributes)."""

    tenant: str
    proposal_id: str
    answer: str


@dataclass(frozen=True)
class BudgetPhaseChanged:
    """Shaped like the participation package's event."""

    tenant: str
    budget_id: str
    phase: str


def test_participation_events_reach_the_followers_of_the_proposal_or_budget(
    app: FastAPI, notifier: Notifier, tenant: str
) -> None:
    fay = resident(app, "fay", "fay@example.org")
    gus = resident(app, "gus")
    notifier.follow(tenant, fay, "proposal", target="p-17", by_mail=True)
    notifier.follow(tenant, gus, "budget", target="b-2026")

    notifier.on_participation_event(ProposalAnswered(tenant, "p-17", "accepted"))
    notifier.on_participation_event(ProposalAnswered(tenant, "p-99", "rejected"))  # nobody follows it
    notifier.on_participation_event(BudgetPhaseChanged(tenant, "b-2026", "voting"))
    notifier.on_participation_event(object())  # any other event is ignored

    (entry,) = notifier.feed_of(tenant, fay).entries
    assert (entry.kind, entry.item_id, entry.link) == ("proposal", "p-17", "/app/participate/proposals/p-17")
    assert entry.title == "Proposal p-17: answered (accepted)"
    assert len(mails_to(app, tenant, "fay@example.org")) == 1
    (entry,) = notifier.feed_of(tenant, gus).entries
    assert (entry.title, entry.link) == ("Budget b-2026: voting", "/app/participate/budgets/b-2026")


def test_marking_entries_read(app: FastAPI, notifier: Notifier, tenant: str) -> None:
    fay = resident(app, "fay")
    notifier.follow(tenant, fay, "proposal", target="p-1")
    for state in ("accepted", "evaluating", "rejected"):
        notifier.on_participation_event(ProposalAnswered(tenant, "p-1", state))
    feed = notifier.feed_of(tenant, fay)
    assert (feed.total, feed.unread) == (3, 3)

    assert notifier.mark_read(tenant, fay, [feed.entries[0].id, "not-an-entry"]) == 1
    assert notifier.mark_read(tenant, fay, [feed.entries[0].id]) == 0  # already read
    after = notifier.feed_of(tenant, fay)
    assert after.unread == 2
    assert [e.read for e in after.entries] == [True, False, False]
    assert notifier.mark_read(tenant, fay) == 2
    assert notifier.feed_of(tenant, fay).unread == 0


def test_erasing_forgets_one_account_s_follows_and_feed_only(app: FastAPI, notifier: Notifier, tenant: str) -> None:
    fay = resident(app, "fay")
    gus = resident(app, "gus")
    for account in (fay, gus):
        notifier.follow(tenant, account, "proposal", target="p-1")
        notifier.follow(tenant, account, "area", lat=50.7, long=7.1, radius_m=200)
    notifier.on_participation_event(ProposalAnswered(tenant, "p-1", "accepted"))

    assert notifier.erase(tenant, fay) == (2, 1)

    assert notifier.follows_of(tenant, fay) == []
    assert notifier.feed_of(tenant, fay).total == 0
    assert len(notifier.follows_of(tenant, gus)) == 2
    assert notifier.feed_of(tenant, gus).total == 1


def test_following_checks_what_is_followed(
    app: FastAPI, notifier: Notifier, reports: ReportService, tenant: str
) -> None:
    fay = resident(app, "fay")
    with pytest.raises(BadRequestData, match="known: report, area, category, proposal, budget"):
        notifier.follow(tenant, fay, "street")
    with pytest.raises(BadRequestData, match="from 10 to 5000"):
        notifier.follow(tenant, fay, "area", lat=50.7, long=7.1, radius_m=5)
    with pytest.raises(BadRequestData, match="from 10 to 5000"):
        notifier.follow(tenant, fay, "area", lat=50.7, long=7.1, radius_m=5001)
    with pytest.raises(BadRequestData, match="needs lat and long"):
        notifier.follow(tenant, fay, "area", radius_m=100)
    with pytest.raises(BadRequestData, match="belong to area follows"):
        notifier.follow(tenant, fay, "category", target="litter", lat=50.7, long=7.1)
    with pytest.raises(NotFound):
        notifier.follow(tenant, fay, "category", target="unicorns")
    with pytest.raises(NotFound):
        notifier.follow(tenant, fay, "report", target="nope")
    waiting = reports.submit(tenant, lamp_report(trusted=False, email="x@example.org")).report
    with pytest.raises(NotFound):  # not public, and not hers
        notifier.follow(tenant, fay, "report", target=waiting.id)
    with pytest.raises(NotFound):
        notifier.unfollow(tenant, fay, "nope")

    first, created = notifier.follow(tenant, fay, "category", target="litter")
    again, created_again = notifier.follow(tenant, fay, "category", target="litter", by_mail=True)
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.by_mail
    assert [f.by_mail for f in notifier.follows_of(tenant, fay)] == [True]
    notifier.unfollow(tenant, fay, first.id)
    assert notifier.follows_of(tenant, fay) == []
