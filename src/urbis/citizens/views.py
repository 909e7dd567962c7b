"""Read models of reports for pages and APIs: what the public sees, and what staff see besides.

The public view is built from the report's public fields only; personal data enters only the
staff view, and only through :class:`~urbis.citizens.store.Contact`.  Every HTML page and its JSON
twin use these same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from urbis.citizens.model import Report, Update
from urbis.citizens.moderation import Moderation
from urbis.citizens.service import REPORT_PAGE, photo_link
from urbis.citizens.store import Contact


def photo_url(base_url: str, tenant: str, photo_id: str) -> str:
    """The absolute URL of a report's photo."""
    return photo_link(base_url, tenant, photo_id)


def report_url(base_url: str, report_id: str) -> str:
    """The absolute URL of a report's page in the citizen app."""
    return base_url + REPORT_PAGE.format(report_id=report_id)


def update_view(entry: Update, *, staff: bool = False) -> dict[str, Any]:
    """One history entry; ``staff`` adds who wrote it and its moderation state."""
    view: dict[str, Any] = {
        "id": entry.id,
        "at": entry.at,
        "kind": entry.kind.value,
        "stage": None if entry.stage is None else entry.stage.value,
        "description": entry.description,
        "author": entry.author.value,
    }
    if staff:
        view["by"] = entry.by
        view["moderation"] = entry.moderation.value
    return view


def public_report_view(report: Report, base_url: str, updates: Sequence[Update] = ()) -> dict[str, Any]:
    """A report as anyone may see it: no sender, no e-mail, no phone, no device position."""
    return {
        "id": report.id,
        "serviceCode": report.service_code,
        "serviceName": report.service_name,
        "description": report.description,
        "status": report.status.value,
        "stage": report.stage.value,
        "statusNotes": report.status_notes,
        "department": report.department,
        "district": report.district,
        "address": report.address,
        "lat": report.lat,
        "long": report.long,
        "answers": dict(report.answers),
        "requestedAt": report.requested_at,
        "updatedAt": report.updated_at,
        "closedAt": report.closed_at,
        "expectedAt": report.expected_at,
        "photos": [photo_url(base_url, report.tenant, photo_id) for photo_id in report.photos],
        "duplicateOf": report.parent_id,
        "objectType": report.object_type,
        "objectId": report.object_id,
        "reportedBy": report.public_name,
        "url": report_url(base_url, report.id),
        "updates": [update_view(u) for u in updates if u.moderation is Moderation.PUBLIC],
    }


def contact_view(contact: Contact | None) -> dict[str, Any] | None:
    """Who sent a report (staff only)."""
    if contact is None:
        return None
    return {
        "account": contact.account,
        "email": contact.email,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "phone": contact.phone,
        "deviceId": contact.device_id,
        "devicePosition": None if contact.device_lat is None else [contact.device_long, contact.device_lat],
    }


def staff_report_view(
    report: Report,
    base_url: str,
    updates: Sequence[Update],
    contact: Contact | None,
    links: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """A report as staff see it: the public view plus its sender, moderation, channel and linked faults."""
    view = public_report_view(report, base_url, ())
    view.update(
        {
            "updates": [update_view(u, staff=True) for u in updates],
            "confirmed": report.confirmed,
            "moderation": report.moderation.value,
            "channel": report.channel.value,
            "public": report.public,
            "contact": contact_view(contact),
            "links": [{"kind": kind, "id": ticket_id} for kind, ticket_id in links],
        }
    )
    return view
