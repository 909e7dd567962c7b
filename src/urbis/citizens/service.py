"""The report service: residents report, staff triage, route, answer and close; faults close reports.

A report is checked against its category, placed (district, nearby street), routed to a
department, linked to the open faults of the asset it names, and stored with who sent it kept
apart.  A report from someone without an account waits for its e-mail confirmation when the city
asks for one (``citizen_confirm_anonymous``).  Public reports are mirrored into the context as
``ServiceRequest`` entities (public fields only), so the dashboard and the marketplace see them.

When a work order (or, without one, an alarm) a report is linked to closes, the report closes as
fixed with a public note: the city's own fault handling closes the citizen's loop.  The service
hears of it through ``EntityChanged`` of the ticket's mirror; a periodic sweep catches what a
process missed.

Every staff action goes to the audit trail in its own transaction; every change is published as
:class:`ReportChanged` after commit, for notifications.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from shapely.geometry import Point
from sqlalchemy import Connection

from urbis.citizens import moderation, store
from urbis.citizens.categories import DEFAULT_CATEGORIES
from urbis.citizens.model import (
    ADDRESS_LENGTH,
    DESCRIPTION_LENGTH,
    MAX_PHOTOS,
    NOTE_LENGTH,
    Author,
    Category,
    Channel,
    Report,
    Route,
    Stage,
    Update,
    UpdateKind,
    answer_questions,
    check_category,
    check_position,
    median_hours,
    merge,
    move,
    plain_text,
    route,
    tickets_closed,
)
from urbis.citizens.moderation import FlagReason, Moderation
from urbis.citizens.places import Places
from urbis.citizens.store import ApiKey, Contact, ReportFilter, StoredPhoto
from urbis.context.model import is_uri
from urbis.context.query.geo import distance_m
from urbis.context.service import ContextService, EntityChanged
from urbis.core import audit
from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound, PolicyDenied
from urbis.operations.model import RECOVERED, Alarm, Severity, TicketState, WorkOrder
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter

log = logging.getLogger(__name__)

#: The path of a report's page in the citizen app (links in mails and Open311 notices).
REPORT_PAGE = "/app/reports/{report_id}"
CONFIRM_PAGE = "/app/reports/{report_id}/confirm?code={code}"
#: Where a report's photo is served (Open311 ``media_url``).
PHOTO_PATH = "/media/reports/{photo_id}"


def photo_link(base_url: str, tenant: str, photo_id: str) -> str:
    """The absolute URL of a report's photo (the photo's city rides along)."""
    return f"{base_url}{PHOTO_PATH.format(photo_id=photo_id)}?tenant={quote(tenant, safe='')}"


#: Audit-trail names of staff actions (the target is the report's id, or the category's code).
REPORT_STATUS = "report.status"
REPORT_ROUTE = "report.route"
REPORT_MERGE = "report.merge"
REPORT_MODERATE = "report.moderate"
COMMENT_MODERATE = "report-comment.moderate"
REPORT_WORK_ORDER = "report.workorder"
CATEGORY_SAVE = "category.save"
ROUTE_ADD = "route.add"
ROUTE_DELETE = "route.delete"
API_KEY_CREATE = "open311key.create"
API_KEY_REVOKE = "open311key.revoke"

_ACTIVE = (TicketState.OPEN, TicketState.ACKNOWLEDGED)
_ALERT_PREFIX = "urn:ngsi-ld:Alert:"
_WORK_ORDER_PREFIX = "urn:ngsi-ld:WorkOrder:"


class MailQueue(Protocol):
    """Queues a mail inside the caller's transaction (``urbis.citizens.mail.Mailer``)."""

    def queue(self, conn: Connection, tenant: str, to: str, subject: str, text: str) -> str:
        """Queue one plain-text mail; its id."""
        ...


class PhotoProcessor(Protocol):
    """Checks and cleans an uploaded photo (``urbis.citizens.photos.process_photo``)."""

    def __call__(self, data: bytes, *, max_bytes: int, max_edge: int) -> Any:
        """A processed photo with ``content``, ``media_type``, ``width``, ``height``."""
        ...


@dataclass(frozen=True)
class ReportChanged:
    """Something happened to a report (published after commit)."""

    tenant: str
    report_id: str
    what: str  # "submitted" | "confirmed" | "status" | "comment" | "merged" | "moderated" | "linked"
    stage: Stage
    public: bool
    update_id: str | None = None


@dataclass(frozen=True)
class Submission:
    """A new report as it arrives, with the sender's details (which are never public)."""

    service_code: str
    description: str = ""
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    answers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    object_type: str | None = None
    object_id: str | None = None
    channel: Channel = Channel.APP
    photos: Sequence[bytes] = ()
    account: str | None = None  # the resident's username, when logged in
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    device_id: str | None = None
    device_lat: float | None = None
    device_long: float | None = None
    show_name: bool = False
    #: A trusted sender (a logged-in account, a staff member) needs no e-mail confirmation.
    trusted: bool = False


@dataclass(frozen=True)
class ReportFigures:
    """How the city handles reports: what is open now, what came in and was resolved in a window."""

    open_total: int
    open_by_stage: Mapping[str, int]
    received: int
    resolved: int
    median_resolution_hours: float | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Receipt:
    """What the sender learns: the report, and whether it waits for an e-mail confirmation."""

    report: Report
    awaiting_confirmation: bool
    notice: str


@dataclass(frozen=True)
class Settings:
    """The report rules a city chooses (from ``urbis.core.settings.Settings``)."""

    confirm_anonymous: bool = True
    moderation_default: Moderation = Moderation.PUBLIC
    flags_to_hide: int = 3
    photo_max_bytes: int = 10 * 1024 * 1024
    photo_max_edge: int = 2048
    nearby_radius_m: float = 50.0
    base_url: str = "http://127.0.0.1:8000"


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _optional_text(value: str | None, limit: int, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    return plain_text(value, limit, what)


class ReportService:
    """Problem reports of every tenant."""

    def __init__(
        self,
        db: Database,
        context: ContextService | None,
        operations: OperationsService,
        places: Places | None,
        *,
        rules: Settings | None = None,
        mailer: MailQueue | None = None,
        process_photo: PhotoProcessor | None = None,
        bus: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``context`` receives the public mirror (``None``: no mirror); ``places`` locates reports."""
        self.db = db
        self.context = context
        self.operations = operations
        self.places = places
        self.rules = rules or Settings()
        self.mailer = mailer
        self.process_photo = process_photo
        self.bus = bus
        self.clock = clock or SystemClock()

    # -- categories and routing ------------------------------------------------------------

    def categories(self, tenant: str, *, include_inactive: bool = False) -> list[Category]:
        """The tenant's categories (the defaults until staff set up their own)."""
        with self.db.read() as conn:
            found = store.list_categories(conn, tenant) if store.has_categories(conn, tenant) else None
        if found is None:
            found = self._seed(tenant)
        return [c for c in found if include_inactive or c.active]

    def _seed(self, tenant: str) -> list[Category]:
        with self.db.write() as conn:
            if not store.has_categories(conn, tenant):
                now = self.clock.now()
                for category in DEFAULT_CATEGORIES:
                    store.save_category(conn, tenant, category, now)
            return store.list_categories(conn, tenant)

    def category(self, tenant: str, code: str) -> Category:
        """One category (inactive ones too); NotFound if there is none."""
        for category in self.categories(tenant, include_inactive=True):
            if category.code == code:
                return category
        raise NotFound(f"there is no service {code!r:.80}")

    def save_category(self, tenant: str, category: Category, *, by: str) -> bool:
        """Create or replace a category (staff); True if it was new."""
        check_category(category)
        self.categories(tenant)  # the defaults first, so a city's first own category does not hide them
        with self.db.write() as conn:
            now = self.clock.now()
            created = store.save_category(conn, tenant, category, now)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=CATEGORY_SAVE,
                target=category.code,
                at=now,
                detail={"created": created, "name": category.name, "active": category.active},
            )
        return created

    def routes(self, tenant: str) -> list[Route]:
        """The tenant's routing rules."""
        with self.db.read() as conn:
            return store.list_routes(conn, tenant)

    def add_route(
        self, tenant: str, department: str, *, service_code: str | None, district: str | None, by: str
    ) -> Route:
        """Send reports of a category and/or district to a department (staff)."""
        department = plain_text(department, 150, "department")
        if not department:
            raise BadRequestData("a routing rule needs a department")
        if service_code is None and district is None:
            raise BadRequestData("a routing rule names a category, a district or both")
        if service_code is not None:
            self.category(tenant, service_code)
        rule = Route(_new_id(), department, service_code, district)
        with self.db.write() as conn:
            store.insert_route(conn, tenant, rule)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=ROUTE_ADD,
                target=rule.id,
                at=self.clock.now(),
                detail={"department": department, "service_code": service_code, "district": district},
            )
        return rule

    def delete_route(self, tenant: str, route_id: str, *, by: str) -> None:
        """Remove a routing rule (staff)."""
        with self.db.write() as conn:
            if not store.delete_route(conn, tenant, route_id):
                raise NotFound(f"there is no routing rule {route_id!r:.80}")
            audit.record(conn, tenant, actor=by, action=ROUTE_DELETE, target=route_id, at=self.clock.now())

    # -- submitting ------------------------------------------------------------------------

    def submit(self, tenant: str, submission: Submission) -> Receipt:
        """File a new report; see the module's docstring for what happens to it."""
        category = self.category(tenant, submission.service_code)
        if not category.active:
            raise BadRequestData(f"service {category.code!r} no longer takes reports")
        answers = answer_questions(category, submission.answers)
        description = plain_text(submission.description, DESCRIPTION_LENGTH, "description")
        lat, long = self._position(tenant, submission)
        address = _optional_text(submission.address, ADDRESS_LENGTH, "address")
        object_type, object_id = self._asset(tenant, category, submission)
        if len(submission.photos) > MAX_PHOTOS:
            raise BadRequestData(f"a report takes at most {MAX_PHOTOS} photos (got {len(submission.photos)})")
        processed = [self._photo(data) for data in submission.photos]
        email = _check_email(submission.email)
        anonymous = submission.account is None and not submission.trusted
        if anonymous and self.rules.confirm_anonymous and email is None:
            raise BadRequestData(
                "without an account, give an e-mail address: the report goes public once you confirm it"
            )
        awaiting = anonymous and self.rules.confirm_anonymous
        places = None if self.places is None or lat is None or long is None else self.places.of(tenant)
        district = (
            places.district_at(long, lat) if places is not None and lat is not None and long is not None else None
        )
        if address is None and places is not None and lat is not None and long is not None:
            street = places.street_near(long, lat)
            address = None if street is None else f"near {street.name}"
        now = self.clock.now()
        report_id = _new_id()
        code = secrets.token_urlsafe(16) if awaiting else None
        with self.db.write() as conn:
            rules = store.list_routes(conn, tenant)
            department = route(rules, category.code, None if district is None else district.name, category.department)
            report = Report(
                id=report_id,
                tenant=tenant,
                service_code=category.code,
                service_name=category.name,
                description=description,
                stage=Stage.SUBMITTED,
                requested_at=now,
                updated_at=now,
                lat=lat,
                long=long,
                address=address,
                address_id=_optional_text(submission.address_id, 100, "address_id"),
                zipcode=_optional_text(submission.zipcode, 20, "zipcode"),
                answers=answers,
                department=department,
                district=None if district is None else district.name,
                confirmed=not awaiting,
                moderation=self.rules.moderation_default,
                object_type=object_type,
                object_id=object_id,
                channel=submission.channel,
                public_name=_public_name(submission) if submission.show_name else None,
                token=secrets.token_urlsafe(12) if awaiting else None,
                photos=tuple(_new_id() for _ in processed),
            )
            store.insert_report(conn, report)
            for position, (photo_id, photo) in enumerate(zip(report.photos, processed, strict=True)):
                stored = StoredPhoto(photo_id, report_id, photo.media_type, photo.width, photo.height, photo.content)
                store.insert_photo(conn, tenant, stored, position, now)
            store.insert_contact(
                conn,
                tenant,
                Contact(
                    report_id=report_id,
                    account=submission.account,
                    email=email,
                    first_name=_optional_text(submission.first_name, 100, "first name"),
                    last_name=_optional_text(submission.last_name, 100, "last name"),
                    phone=_optional_text(submission.phone, 40, "phone"),
                    device_id=_optional_text(submission.device_id, 200, "device id"),
                    device_lat=submission.device_lat,
                    device_long=submission.device_long,
                    confirm_hash=None if code is None else _hash(code),
                ),
                now,
            )
            linked = self._link_faults(conn, report, now)
            if awaiting and email is not None and code is not None:
                self._mail(conn, tenant, email, *self._confirmation_mail(report, code))
        self._after(report, "submitted")
        if linked:
            self._after(report, "linked")
        notice = f"Your report goes to {department}."
        if awaiting:
            notice += " It will be public once you confirm it with the link we sent to your e-mail address."
        return Receipt(report, awaiting, notice)

    def _position(self, tenant: str, submission: Submission) -> tuple[float | None, float | None]:
        if (submission.lat is None) != (submission.long is None):
            raise BadRequestData("give both lat and long, or neither")
        if submission.lat is not None and submission.long is not None:
            return check_position(submission.lat, submission.long)
        if not (submission.address or submission.address_id or submission.object_id):
            raise BadRequestData("a report needs a location: lat and long, address_string or address_id")
        if submission.address and self.places is not None:
            found = self.places.of(tenant).search(submission.address, limit=1)
            if found:
                return found[0].lat, found[0].long
        return None, None

    def _asset(self, tenant: str, category: Category, submission: Submission) -> tuple[str | None, str | None]:
        object_id, object_type = submission.object_id, submission.object_type
        if object_id is None and object_type is None:
            return None, None
        if object_id is None or object_type is None:
            raise BadRequestData("service_object_type and service_object_id go together")
        if not is_uri(object_id):
            raise BadRequestData(f"service_object_id must be the asset's entity id (a URI), got {object_id!r:.80}")
        if object_type not in category.object_types:
            allowed = ", ".join(category.object_types) or "none"
            raise BadRequestData(
                f"service {category.code!r} does not concern assets of type {object_type!r:.60} (allowed: {allowed})"
            )
        if self.context is not None:
            try:
                entity = self.context.get_entity(tenant, object_id)
            except NotFound:
                raise BadRequestData(f"there is no asset {object_id!r:.120} in this city") from None
            types = entity.get("type") or []
            if not any(_names_type(iri, object_type) for iri in (types if isinstance(types, list) else [types])):
                raise BadRequestData(f"asset {object_id!r:.120} is not a {object_type!r:.60}")
        return object_type, object_id

    def _photo(self, data: bytes) -> Any:
        if self.process_photo is None:
            raise BadRequestData("this server does not take photos")
        return self.process_photo(data, max_bytes=self.rules.photo_max_bytes, max_edge=self.rules.photo_max_edge)

    def _link_faults(self, conn: Connection, report: Report, at: datetime) -> bool:
        """Join the open alarms and work orders of the report's asset; whether any was joined."""
        if report.object_id is None:
            return False
        wanted = TicketFilter(states=_ACTIVE, source=report.object_id, limit=50)
        alarms, _ = self.operations.list_alarms(report.tenant, wanted)
        orders, _ = self.operations.list_work_orders(report.tenant, wanted)
        linked = False
        for alarm in alarms:
            linked |= store.add_link(conn, report.tenant, report.id, "alarm", alarm.id)
        for order in orders:
            linked |= store.add_link(conn, report.tenant, report.id, "work_order", order.id)
        if linked:
            text = "The city already knows about this fault: the asset reported it itself, and it is being handled."
            if orders:
                text += f" Work order: {orders[0].title}."
            self._history(conn, report, UpdateKind.SYSTEM, text, Author.SYSTEM, at)
        return linked

    # -- confirmation ----------------------------------------------------------------------

    def confirm(self, tenant: str, report_id: str, code: str) -> Report:
        """The sender confirmed their e-mail address: the report goes public."""
        with self.db.write() as conn:
            report = self._load(conn, tenant, report_id)
            if report.confirmed:
                return report
            contact = store.get_contact(conn, tenant, report_id)
            expected = None if contact is None else contact.confirm_hash
            if expected is None or not hmac.compare_digest(expected, _hash(code)):
                raise PolicyDenied("this confirmation link is not valid (it may have been used already)")
            report = replace(report, confirmed=True)
            store.save_report(conn, report)
            store.clear_confirmation(conn, tenant, report_id)
            self._history(
                conn, report, UpdateKind.SYSTEM, "The sender confirmed the report.", Author.SYSTEM, self.clock.now()
            )
        self._after(report, "confirmed")
        return report

    # -- reading ---------------------------------------------------------------------------

    def get(self, tenant: str, report_id: str) -> Report:
        """One report whatever its visibility (callers decide who may see it); NotFound if absent."""
        with self.db.read() as conn:
            return self._load(conn, tenant, report_id)

    def public_report(self, tenant: str, report_id: str) -> Report:
        """One report as the public may see it; NotFound for reports that are not public."""
        report = self.get(tenant, report_id)
        if not report.public:
            raise NotFound(f"there is no public report {report_id!r:.80}")
        return report

    def by_token(self, token: str) -> Report:
        """The report a token was handed out for; NotFound for an unknown token."""
        with self.db.read() as conn:
            report = store.report_by_token(conn, token)
        if report is None:
            raise NotFound(f"there is no token {token!r:.80}")
        return report

    def find(self, tenant: str, wanted: ReportFilter) -> tuple[list[Report], int]:
        """Reports matching ``wanted``, with their total count."""
        with self.db.read() as conn:
            return store.list_reports(conn, tenant, wanted)

    def around(
        self, tenant: str, wanted: ReportFilter, lat: float, long: float, radius_m: float
    ) -> tuple[list[Report], int]:
        """Reports within ``radius_m`` of a point (and matching ``wanted``), nearest first, paged by ``wanted``."""
        check_position(lat, long)
        if not 0 < radius_m <= 50_000:
            raise BadRequestData("radius is in metres, more than 0 and at most 50000")
        dlat = radius_m / 111_000 + 1e-6
        dlong = dlat / max(0.01, abs(math.cos(math.radians(lat))))
        candidates = replace(wanted, bbox=(long - dlong, lat - dlat, long + dlong, lat + dlat), limit=10_000, offset=0)
        with self.db.read() as conn:
            reports, _ = store.list_reports(conn, tenant, candidates)
        centre = Point(long, lat)
        scored = []
        for report in reports:
            if report.lat is None or report.long is None:
                continue
            distance = distance_m(Point(report.long, report.lat), centre)
            if distance <= radius_m:
                scored.append((distance, report))
        scored.sort(key=lambda item: item[0])
        page = [report for _, report in scored[wanted.offset : wanted.offset + wanted.limit]]
        return page, len(scored)

    def nearby(self, tenant: str, service_code: str, lat: float, long: float) -> list[Report]:
        """Open public reports of the same category near a point: offered before filing a new one."""
        wanted = ReportFilter(service_codes=(service_code,), statuses=("open",), public_only=True, limit=10)
        found, _ = self.around(tenant, wanted, lat, long, self.rules.nearby_radius_m)
        return found

    def history(self, tenant: str, report_id: str, *, public: bool = True) -> list[Update]:
        """A report's history, oldest first; ``public`` leaves out hidden comments and who wrote what."""
        with self.db.read() as conn:
            entries = store.report_updates(conn, tenant, report_id)
        if not public:
            return entries
        return [replace(e, by=None) for e in entries if e.moderation is Moderation.PUBLIC]

    def public_notes(self, tenant: str, report_ids: Sequence[str]) -> dict[str, list[Update]]:
        """The public status and system entries of many reports, oldest first (Open311 ``notes``); no authors."""
        with self.db.read() as conn:
            found = store.public_notes(conn, tenant, report_ids)
        return {report_id: [replace(e, by=None) for e in entries] for report_id, entries in found.items()}

    def categories_changed_at(self, tenant: str) -> datetime | None:
        """When the tenant's categories last changed (Open311 discovery's changeset)."""
        self.categories(tenant)  # the defaults are seeded on first use, so there is a time to tell
        with self.db.read() as conn:
            return store.categories_changed_at(conn, tenant)

    def updates_between(self, tenant: str, start: datetime, end: datetime) -> list[Update]:
        """Public status updates in a window (Open311 ``servicerequestupdates``)."""
        with self.db.read() as conn:
            return [replace(e, by=None) for e in store.updates_between(conn, tenant, start, end)]

    def photo(self, tenant: str, photo_id: str, *, staff: bool = False) -> StoredPhoto:
        """A report's photo: anyone's for a public report, staff's for any."""
        with self.db.read() as conn:
            photo = store.get_photo(conn, tenant, photo_id)
            report = None if photo is None else store.get_report(conn, tenant, photo.report_id)
        if photo is None or report is None or not (staff or report.public):
            raise NotFound(f"there is no photo {photo_id!r:.80}")
        return photo

    def links(self, tenant: str, report_id: str) -> list[tuple[str, str]]:
        """The (kind, id) of the alarms and work orders a report is linked to (staff)."""
        with self.db.read() as conn:
            return store.links_of(conn, tenant, report_id)

    def triage_marks(self, tenant: str, report_ids: Sequence[str]) -> tuple[dict[str, int], set[str]]:
        """For a page of the triage queue: how many people flagged each report, and which are linked to a fault."""
        with self.db.read() as conn:
            flagged = moderation.flag_counts(conn, tenant, "report", report_ids)
            linked = store.linked_reports(conn, tenant, report_ids)
        return flagged, linked

    def contact(self, tenant: str, report_id: str) -> Contact | None:
        """Who sent a report (staff only: personal data)."""
        with self.db.read() as conn:
            return store.get_contact(conn, tenant, report_id)

    def sender_is(self, tenant: str, report_id: str, account: str) -> bool:
        """Whether ``account`` sent the report."""
        contact = self.contact(tenant, report_id)
        return contact is not None and contact.account == account

    def figures(self, tenant: str, start: datetime, end: datetime) -> ReportFigures:
        """Open reports now, and the reports received and resolved in ``[start, end)`` (confirmed ones)."""
        with self.db.read() as conn:
            open_now = store.open_counts(conn, tenant)
            resolved = store.resolutions(conn, tenant, start, end)
            received = store.received_count(conn, tenant, start, end)
        return ReportFigures(
            open_total=sum(open_now.values()),
            open_by_stage={stage.value: count for stage, count in sorted(open_now.items())},
            received=received,
            resolved=len(resolved),
            median_resolution_hours=median_hours(resolved),
            start=start,
            end=end,
        )

    # -- what staff do ---------------------------------------------------------------------

    def set_stage(
        self,
        tenant: str,
        report_id: str,
        stage: Stage,
        note: str,
        *,
        by: str,
        expected_at: datetime | None = None,
    ) -> Report:
        """Move a report to ``stage`` with a public note (staff); the sender is told."""
        with self.db.write() as conn:
            current = self._load(conn, tenant, report_id, for_update=True)
            now = self.clock.now()
            report = move(current, stage, note, now)
            if expected_at is not None:
                report = replace(report, expected_at=expected_at, updated_at=now)
            if report == current:
                return current
            store.save_report(conn, report)
            entry = self._history(
                conn, report, UpdateKind.STATUS, report.status_notes or "", Author.STAFF, now, stage=stage, by=by
            )
            audit.record(
                conn,
                tenant,
                actor=by,
                action=REPORT_STATUS,
                target=report_id,
                at=now,
                detail={"before": current.stage.value, "after": stage.value, "note": note},
            )
            self._tell_sender(conn, report, f"Your report is now: {stage.value.replace('-', ' ')}", note)
        self._after(report, "status", entry.id)
        return report

    def reroute(self, tenant: str, report_id: str, department: str, *, by: str) -> Report:
        """Send a report to another department (staff)."""
        department = plain_text(department, 150, "department")
        if not department:
            raise BadRequestData("name the department")
        with self.db.write() as conn:
            current = self._load(conn, tenant, report_id, for_update=True)
            if current.department == department:
                return current
            now = self.clock.now()
            report = replace(current, department=department, updated_at=now)
            store.save_report(conn, report)
            entry = self._history(conn, report, UpdateKind.SYSTEM, f"Passed to {department}.", Author.STAFF, now, by=by)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=REPORT_ROUTE,
                target=report_id,
                at=now,
                detail={"before": current.department, "after": department},
            )
        self._after(report, "status", entry.id)
        return report

    def merge(self, tenant: str, duplicate_id: str, original_id: str, *, by: str) -> Report:
        """Close a report as a duplicate of another (staff); its sender follows the original."""
        with self.db.write() as conn:
            original = self._load(conn, tenant, original_id)
            current = self._load(conn, tenant, duplicate_id, for_update=True)
            now = self.clock.now()
            report = merge(current, original, now)
            store.save_report(conn, report)
            entry = self._history(
                conn, report, UpdateKind.STATUS, report.status_notes or "", Author.STAFF, now, stage=report.stage, by=by
            )
            audit.record(
                conn,
                tenant,
                actor=by,
                action=REPORT_MERGE,
                target=duplicate_id,
                at=now,
                detail={"original": original_id},
            )
            self._tell_sender(conn, report, "Your report joins another one", report.status_notes or "")
        self._after(report, "merged", entry.id)
        return report

    def moderate(self, tenant: str, report_id: str, state: Moderation, reason: str, *, by: str) -> Report:
        """Show, hold or hide a report (staff), with the reason recorded."""
        reason = moderation.check_reason(reason)
        with self.db.write() as conn:
            current = self._load(conn, tenant, report_id, for_update=True)
            if current.moderation is state:
                return current
            report = replace(current, moderation=state)
            store.save_report(conn, report)
            if state is Moderation.PUBLIC:
                moderation.clear_flags(conn, tenant, "report", report_id)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=REPORT_MODERATE,
                target=report_id,
                at=self.clock.now(),
                detail={"before": current.moderation.value, "after": state.value, "reason": reason},
            )
        self._after(report, "moderated")
        return report

    def open_work_order(self, tenant: str, report_id: str, *, by: str, severity: Severity = Severity.MEDIUM) -> str:
        """Open a work order for a report (staff) and link it: closing the order closes the report."""
        report = self.get(tenant, report_id)
        source = report.object_id or f"urn:ngsi-ld:ServiceRequest:{report.id}"
        order = self.operations.create_work_order(
            tenant,
            title=f"{report.service_name} (report {report.id})"[:200],
            description=report.description[:1000],
            source=source,
            severity=severity,
            by=by,
        )
        with self.db.write() as conn:
            store.add_link(conn, tenant, report_id, "work_order", order.id)
            now = self.clock.now()
            entry = self._history(conn, report, UpdateKind.SYSTEM, "A work order was opened.", Author.STAFF, now, by=by)
            audit.record(
                conn, tenant, actor=by, action=REPORT_WORK_ORDER, target=report_id, at=now, detail={"order": order.id}
            )
        self._after(report, "linked", entry.id)
        return order.id

    # -- what residents do -----------------------------------------------------------------

    def comment(self, tenant: str, report_id: str, text: str, *, by: str) -> Update:
        """A resident's comment on a public, unmerged report."""
        text = plain_text(text, NOTE_LENGTH, "comment")
        if not text:
            raise BadRequestData("the comment is empty")
        with self.db.write() as conn:
            report = self._load(conn, tenant, report_id)
            if not report.public:
                raise NotFound(f"there is no public report {report_id!r:.80}")
            if report.stage is Stage.DUPLICATE:
                raise Conflict(f"report {report_id} is a duplicate of {report.parent_id}; comment there")
            entry = self._history(
                conn,
                report,
                UpdateKind.COMMENT,
                text,
                Author.RESIDENT,
                self.clock.now(),
                by=by,
                state=self.rules.moderation_default,
            )
        self._after(report, "comment", entry.id)
        return entry

    def flag(self, tenant: str, kind: str, item_id: str, reason: FlagReason, *, flagger: str) -> Moderation:
        """A resident flags a public report (``kind`` "report") or comment ("report-comment"); its state after."""
        with self.db.write() as conn:
            now = self.clock.now()
            if kind == "report":
                report = self._load(conn, tenant, item_id, for_update=True)
                if not report.public:
                    raise NotFound(f"there is no public report {item_id!r:.80}")
                count = moderation.add_flag(conn, tenant, kind, item_id, flagger, reason, now)
                state = moderation.after_flag(report.moderation, count, self.rules.flags_to_hide)
                if state is not report.moderation:
                    report = replace(report, moderation=state)
                    store.save_report(conn, report)
                    changed: Report | None = report
                else:
                    changed = None
            elif kind == "report-comment":
                entry = store.get_update(conn, tenant, item_id)
                if entry is None or entry.kind is not UpdateKind.COMMENT or entry.moderation is not Moderation.PUBLIC:
                    raise NotFound(f"there is no public comment {item_id!r:.80}")
                count = moderation.add_flag(conn, tenant, kind, item_id, flagger, reason, now)
                state = moderation.after_flag(entry.moderation, count, self.rules.flags_to_hide)
                if state is not entry.moderation:
                    store.set_update_moderation(conn, tenant, item_id, state)
                changed = None
            else:
                raise BadRequestData(f"cannot flag a {kind!r:.40}")
        if changed is not None:
            self._after(changed, "moderated")
        return state

    def moderate_comment(self, tenant: str, update_id: str, state: Moderation, reason: str, *, by: str) -> Update:
        """Show or hide a comment (staff), with the reason recorded."""
        reason = moderation.check_reason(reason)
        with self.db.write() as conn:
            entry = store.get_update(conn, tenant, update_id)
            if entry is None or entry.kind is not UpdateKind.COMMENT:
                raise NotFound(f"there is no comment {update_id!r:.80}")
            store.set_update_moderation(conn, tenant, update_id, state)
            if state is Moderation.PUBLIC:
                moderation.clear_flags(conn, tenant, "report-comment", update_id)
            audit.record(
                conn,
                tenant,
                actor=by,
                action=COMMENT_MODERATE,
                target=update_id,
                at=self.clock.now(),
                detail={
                    "report": entry.report_id,
                    "before": entry.moderation.value,
                    "after": state.value,
                    "reason": reason,
                },
            )
        return replace(entry, moderation=state)

    def moderation_queue(self, tenant: str, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Reports and comments waiting for a moderator or hidden, with their flags (staff)."""
        wanted = ReportFilter(moderation=(Moderation.UNMODERATED, Moderation.HIDDEN), limit=limit, offset=offset)
        with self.db.read() as conn:
            reports, report_total = store.list_reports(conn, tenant, wanted)
            comments, comment_total = store.moderation_queue(conn, tenant, limit=limit, offset=offset)
            keys = [("report", r.id) for r in reports] + [("report-comment", c.id) for c in comments]
            reasons = moderation.flag_reasons_of(conn, tenant, keys)
            report_flags = {r.id: reasons.get(("report", r.id), {}) for r in reports}
            comment_flags = {c.id: reasons.get(("report-comment", c.id), {}) for c in comments}
        return {
            "reports": reports,
            "reportTotal": report_total,
            "reportFlags": report_flags,
            "comments": comments,
            "commentTotal": comment_total,
            "commentFlags": comment_flags,
        }

    # -- personal data ---------------------------------------------------------------------

    def reports_of(self, tenant: str, account: str) -> list[Report]:
        """The reports a resident sent (logged in), newest first."""
        with self.db.read() as conn:
            ids = [c.report_id for c in store.contacts_of(conn, tenant, account=account)]
            if not ids:
                return []
            found, _ = store.list_reports(conn, tenant, ReportFilter(ids=tuple(ids), limit=len(ids)))
        return found

    def personal_data(self, tenant: str, account: str, email: str | None = None) -> dict[str, Any]:
        """Everything the reports hold about a resident, for them to download."""
        with self.db.read() as conn:
            contacts = store.contacts_of(conn, tenant, account=account, email=email)
            out = []
            for contact in contacts:
                report = store.get_report(conn, tenant, contact.report_id)
                comments = [
                    {"at": _iso(u.at), "text": u.description}
                    for u in store.report_updates(conn, tenant, contact.report_id)
                    if u.kind is UpdateKind.COMMENT and u.by == account
                ]
                out.append(
                    {
                        "report": None if report is None else report.id,
                        "service": None if report is None else report.service_name,
                        "submitted": None if report is None else _iso(report.requested_at),
                        "description": None if report is None else report.description,
                        "contact": {
                            "email": contact.email,
                            "firstName": contact.first_name,
                            "lastName": contact.last_name,
                            "phone": contact.phone,
                            "deviceId": contact.device_id,
                            "devicePosition": None
                            if contact.device_lat is None
                            else [contact.device_long, contact.device_lat],
                        },
                        "comments": comments,
                    }
                )
        return {"reports": out}

    def erase_personal_data(self, tenant: str, account: str, email: str | None = None) -> int:
        """Forget who sent a resident's reports, and their comments' authorship; how many reports were concerned.

        The reports stay (they are about the city, not the person), without a name.
        """
        with self.db.write() as conn:
            contacts = store.contacts_of(conn, tenant, account=account, email=email)
            for contact in contacts:
                store.erase_contact(conn, tenant, contact.report_id)
                report = store.get_report(conn, tenant, contact.report_id)
                if report is not None and report.public_name is not None:
                    store.save_report(conn, replace(report, public_name=None))
            conn.execute(
                store.updates.update()
                .where(store.updates.c.tenant == tenant, store.updates.c.by == account)
                .values(by=None)
            )
        return len(contacts)

    # -- Open311 API keys ------------------------------------------------------------------

    def create_api_key(self, tenant: str, name: str, *, by: str) -> tuple[ApiKey, str]:
        """A new Open311 key for a client (staff); the key is shown only now."""
        name = plain_text(name, 150, "key name")
        if not name:
            raise BadRequestData("name the client the key is for")
        secret = secrets.token_urlsafe(24)
        key = ApiKey(_new_id(), tenant, name, by, self.clock.now(), None)
        with self.db.write() as conn:
            store.insert_api_key(conn, key, _hash(secret))
            audit.record(
                conn, tenant, actor=by, action=API_KEY_CREATE, target=key.id, at=key.created_at, detail={"name": name}
            )
        return key, secret

    def api_keys(self, tenant: str) -> list[ApiKey]:
        """A tenant's Open311 keys (never the keys themselves)."""
        with self.db.read() as conn:
            return store.list_api_keys(conn, tenant)

    def revoke_api_key(self, tenant: str, key_id: str, *, by: str) -> None:
        """Revoke a key (staff)."""
        with self.db.write() as conn:
            now = self.clock.now()
            if not store.revoke_api_key(conn, tenant, key_id, now):
                raise NotFound(f"there is no active key {key_id!r:.80}")
            audit.record(conn, tenant, actor=by, action=API_KEY_REVOKE, target=key_id, at=now)

    def check_api_key(self, tenant: str, secret: str | None) -> ApiKey | None:
        """The active key ``secret`` is, in ``tenant``; None for a missing, unknown, revoked or foreign key."""
        if not secret:
            return None
        with self.db.read() as conn:
            key = store.api_key_by_hash(conn, _hash(secret))
        if key is None or key.revoked_at is not None or key.tenant != tenant:
            return None
        return key

    # -- faults closing reports ------------------------------------------------------------

    def on_entity_changed(self, event: EntityChanged) -> None:
        """A ticket's mirror changed: link reports of its asset, or close the reports it settles."""
        entity_id = event.entity_id
        if entity_id.startswith(_WORK_ORDER_PREFIX):
            kind, ticket_id = "work_order", entity_id[len(_WORK_ORDER_PREFIX) :]
        elif entity_id.startswith(_ALERT_PREFIX):
            kind, ticket_id = "alarm", entity_id[len(_ALERT_PREFIX) :]
        else:
            return
        if event.operation == "delete":
            return
        self.ticket_changed(event.tenant, kind, ticket_id)

    def ticket_changed(self, tenant: str, kind: str, ticket_id: str) -> None:
        """Bring the reports concerned by one alarm or work order up to date."""
        try:
            ticket = (
                self.operations.get_work_order(tenant, ticket_id)
                if kind == "work_order"
                else self.operations.get_alarm(tenant, ticket_id)
            )
        except NotFound:
            return
        if ticket.active:
            self._link_open_reports(tenant, kind, ticket_id, ticket.source)
        with self.db.read() as conn:
            report_ids = store.reports_linked_to(conn, tenant, ticket_id)
        for report_id in report_ids:
            self.settle(tenant, report_id)

    def _link_open_reports(self, tenant: str, kind: str, ticket_id: str, source: str) -> None:
        wanted = ReportFilter(object_id=source, statuses=("open",), limit=100)
        changed: list[tuple[Report, str]] = []
        with self.db.write() as conn:
            reports, _ = store.list_reports(conn, tenant, wanted)
            now = self.clock.now()
            for report in reports:
                if store.add_link(conn, tenant, report.id, kind, ticket_id):
                    text = "The asset has now reported this fault itself; it is being handled."
                    entry = self._history(conn, report, UpdateKind.SYSTEM, text, Author.SYSTEM, now)
                    changed.append((report, entry.id))
        for report, update_id in changed:
            self._after(report, "linked", update_id)

    def settle(self, tenant: str, report_id: str) -> Report | None:
        """Close an open report as fixed once every fault it is linked to is closed; the report if it closed."""
        with self.db.read() as conn:
            report = store.get_report(conn, tenant, report_id)
            links = store.links_of(conn, tenant, report_id)
        if report is None or report.stage.status.value != "open" or not links:
            return None
        orders: list[WorkOrder] = []
        alarms: list[Alarm] = []
        for kind, ticket_id in links:
            try:
                if kind == "work_order":
                    orders.append(self.operations.get_work_order(tenant, ticket_id))
                else:
                    alarms.append(self.operations.get_alarm(tenant, ticket_id))
            except NotFound:
                continue
        if not tickets_closed([not o.active for o in orders], [not a.active for a in alarms]):
            return None
        tickets: list[Alarm | WorkOrder] = [*orders, *alarms]
        last = max(tickets, key=lambda t: t.closed_at or t.updated_at)
        if last.close_reason == RECOVERED:
            note = "Fixed: the asset reports working again."
        else:
            note = f"Fixed: the crew closed the job ({(last.close_reason or 'done')[:300]})."
        with self.db.write() as conn:
            current = self._load(conn, tenant, report_id, for_update=True)
            if current.stage.status.value != "open":
                return None
            now = self.clock.now()
            closed = move(current, Stage.FIXED, note, now)
            store.save_report(conn, closed)
            entry = self._history(conn, closed, UpdateKind.STATUS, note, Author.SYSTEM, now, stage=Stage.FIXED)
            self._tell_sender(conn, closed, "Your report is fixed", note)
        self._after(closed, "status", entry.id)
        return closed

    def sweep(self) -> int:
        """Settle every open linked report of every tenant (catches changes another process handled); how many closed."""
        with self.db.read() as conn:
            pending = store.open_linked_reports(conn)
        closed = 0
        for tenant, report_id in pending:
            try:
                closed += self.settle(tenant, report_id) is not None
            except Exception:  # one broken report must not stop the others
                log.exception("settling report %s of %s failed", report_id, tenant)
        return closed

    # -- helpers ---------------------------------------------------------------------------

    def _load(self, conn: Connection, tenant: str, report_id: str, *, for_update: bool = False) -> Report:
        report = store.get_report(conn, tenant, report_id, for_update=for_update)
        if report is None:
            raise NotFound(f"there is no report {report_id!r:.80}")
        return report

    def _history(
        self,
        conn: Connection,
        report: Report,
        kind: UpdateKind,
        text: str,
        author: Author,
        at: datetime,
        *,
        stage: Stage | None = None,
        by: str | None = None,
        state: Moderation = Moderation.PUBLIC,
    ) -> Update:
        entry = Update(_new_id(), report.id, at, kind, text, author, stage, state, by)
        store.insert_update(conn, report.tenant, entry)
        return entry

    def _mail(self, conn: Connection, tenant: str, to: str, subject: str, text: str) -> None:
        if self.mailer is not None:
            self.mailer.queue(conn, tenant, to, subject, text)

    def _tell_sender(self, conn: Connection, report: Report, subject: str, note: str) -> None:
        contact = store.get_contact(conn, report.tenant, report.id)
        if contact is None or contact.email is None or not report.confirmed:
            return
        link = self.rules.base_url + REPORT_PAGE.format(report_id=report.id)
        text = f"{subject}.\n\n{note}\n\nReport {report.id} ({report.service_name}): {link}\n"
        self._mail(conn, report.tenant, contact.email, f"{subject} — report {report.id}", text)

    def _confirmation_mail(self, report: Report, code: str) -> tuple[str, str]:
        link = self.rules.base_url + CONFIRM_PAGE.format(report_id=report.id, code=code)
        text = (
            f"Thank you for your report ({report.service_name}).\n\n"
            f"Please confirm it by opening this link; it goes public once you do:\n{link}\n\n"
            "If you did not send a report, ignore this mail.\n"
        )
        return f"Please confirm your report {report.id}", text

    def _after(self, report: Report, what: str, update_id: str | None = None) -> None:
        self._mirror(report)
        if self.bus is not None:
            self.bus.publish(ReportChanged(report.tenant, report.id, what, report.stage, report.public, update_id))

    def _mirror(self, report: Report) -> None:
        if self.context is None:
            return
        entity_id = report_entity_id(report.id)
        try:
            if report.public:
                result = self.context.upsert_documents(report.tenant, [report_document(report, self.rules.base_url)])
                for failed, error in result.errors:
                    log.error("report entity %s not mirrored: %s", failed, error.detail)
            else:
                self.context.batch_delete(report.tenant, [entity_id])  # a missing entity is fine
        except Exception:  # the tables hold the truth; the next change mirrors again
            log.exception("mirroring report %s of %s failed", report.id, report.tenant)


def _names_type(iri: str, short: str) -> bool:
    """Whether an expanded entity type is the type a client named by its short name (or in full)."""
    return iri == short or iri.endswith(("/" + short, "#" + short, ":" + short))


def _check_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    email = value.strip()
    local, _, domain = email.partition("@")
    if len(email) > 320 or not local or "." not in domain or any(c.isspace() for c in email) or email.count("@") != 1:
        raise BadRequestData(f"{email!r:.80} is not an e-mail address")
    return email


def _public_name(submission: Submission) -> str | None:
    name = " ".join(p for p in (submission.first_name, submission.last_name) if p and p.strip()).strip()
    return (name or submission.account or None) and plain_text(name or submission.account or "", 100, "name")


def report_entity_id(report_id: str) -> str:
    """The NGSI-LD id of a report's public mirror."""
    return f"urn:ngsi-ld:ServiceRequest:{report_id}"


def _datetime(moment: datetime) -> dict[str, Any]:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": _iso(moment)}}


def report_document(report: Report, base_url: str) -> dict[str, Any]:
    """A public report as a Smart Data Models ``ServiceRequest`` (IssueTracking) entity: no personal data."""
    document: dict[str, Any] = {
        "id": report_entity_id(report.id),
        "type": "ServiceRequest",
        "service_request_id": {"type": "Property", "value": report.id},
        "service_code": {"type": "Property", "value": report.service_code},
        "service_name": {"type": "Property", "value": report.service_name},
        "status": {"type": "Property", "value": report.status.value},
        "detailedStatus": {"type": "Property", "value": report.stage.value},
        "requested_datetime": _datetime(report.requested_at),
        "updated_datetime": _datetime(report.updated_at),
    }
    optional: dict[str, Any] = {
        "description": report.description or None,
        "status_notes": report.status_notes,
        "agency_responsible": report.department,
        "address_string": report.address,
        "zipcode": report.zipcode,
        "areaServed": report.district,
    }
    for name, value in optional.items():
        if value:
            document[name] = {"type": "Property", "value": value}
    if report.expected_at is not None:
        document["expected_datetime"] = _datetime(report.expected_at)
    if report.lat is not None and report.long is not None:
        document["location"] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [report.long, report.lat]},
        }
    if report.photos:
        document["media_url"] = {"type": "Property", "value": photo_link(base_url, report.tenant, report.photos[0])}
    if report.object_id is not None:
        document["refAsset"] = {"type": "Relationship", "object": report.object_id}
    if report.parent_id is not None:
        document["refParentServiceRequest"] = {"type": "Relationship", "object": report_entity_id(report.parent_id)}
    return document


#: Builds the service's rules from the app's settings (kept here so the web layer stays thin).
def rules_from(settings: Any) -> Settings:
    """The report rules of ``urbis.core.settings.Settings``."""
    return Settings(
        confirm_anonymous=settings.citizen_confirm_anonymous,
        moderation_default=Moderation(settings.citizen_moderation_default),
        flags_to_hide=settings.citizen_flags_to_hide,
        photo_max_bytes=settings.citizen_photo_max_bytes,
        photo_max_edge=settings.citizen_photo_max_edge,
        nearby_radius_m=settings.citizen_report_radius_m,
        base_url=settings.effective_base_url,
    )
